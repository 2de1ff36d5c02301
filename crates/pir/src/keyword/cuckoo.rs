//! Cuckoo hashing with `h` = [`HASHES`] hash functions and a small stash.
//!
//! Pagh–Rodler (J. Algorithms 2004) cuckoo hashing, generalised to `h` choices by Fotakis, Pagh,
//! Sanders, Spirakis ("Space efficient hash tables with worst case constant access time", STACS
//! 2003 / ToCS 2005), with the stash of Kirsch, Mitzenmacher, Wieder ("More robust hashing:
//! cuckoo hashing with a stash", ESA 2008 / SICOMP 2009). Insertion is the *random walk* of
//! Frieze, Melsted, Mitzenmacher (RANDOM 2009): an item whose `h` slots are all taken evicts the
//! occupant of one of them chosen at random (never the slot it was just evicted from), which is
//! then re-inserted the same way; after [`MAX_KICKS`] evictions the homeless item goes to the
//! stash.
//!
//! Sizing follows the PSI literature: with `h = 3` a table of `1.27·N` slots (load 0.79) and no
//! stash fails with probability about `2^-40` in the experiments of Pinkas, Schneider,
//! Tkachenko, Yanai ("Efficient circuit-based PSI with linear communication", EUROCRYPT 2019),
//! which PSI and keyword-PIR works since use; we take `⌈1.3·N⌉` slots (load 0.77) *and* a stash of
//! up to [`MAX_STASH`] entries, and the caller rebuilds with a fresh salt if even that overflows,
//! so a build never fails for a reason a key could be chosen to cause (the salt is public but
//! fresh per build, after the keys are fixed).

use rand_core::Rng;

use super::HASHES;

/// Evictions before an item is sent to the stash (Kirsch–Mitzenmacher–Wieder use `O(log N)`;
/// a constant this large is far beyond what a 0.77 load needs and bounds the build time).
pub const MAX_KICKS: usize = 1000;

/// Largest stash. It is sent whole to every client with the hint and tried locally, so it costs
/// one AEAD opening per stash entry and key, and no PIR query.
pub const MAX_STASH: usize = 16;

/// Slots for `items` items: `⌈1.3·items⌉`, and at least 4 so that an empty or tiny database
/// still has a table (all of whose slots are then random).
pub fn slots_for(items: usize) -> Option<usize> {
    Some(items.checked_mul(13)?.div_ceil(10).max(4))
}

/// Where each item ended up: `slots[s]` is the item in slot `s`; `stash` the items that found no
/// slot.
#[derive(Debug, PartialEq, Eq)]
pub struct Placement {
    /// One entry per slot.
    pub slots: Vec<Option<u32>>,
    /// Items in the stash (at most [`MAX_STASH`]).
    pub stash: Vec<u32>,
}

/// Places the items whose candidate slots are `positions` (each `< slots`) in a table of
/// `slots` slots; `None` if more than [`MAX_STASH`] items find no slot (rebuild with another
/// salt). Deterministic in `rng`.
pub fn place<R: Rng + ?Sized>(
    positions: &[[u64; HASHES]],
    slots: usize,
    rng: &mut R,
) -> Option<Placement> {
    let mut table: Vec<Option<u32>> = vec![None; slots];
    let mut stash = Vec::new();
    let slot = |p: u64| usize::try_from(p).ok().filter(|&s| s < slots);
    for start in 0..positions.len() {
        let mut item = u32::try_from(start).ok()?;
        let mut came_from = None;
        let mut placed = false;
        for _ in 0..=MAX_KICKS {
            let cands = positions[item as usize];
            if let Some(free) = cands
                .iter()
                .filter_map(|&p| slot(p))
                .find(|&s| table[s].is_none())
            {
                table[free] = Some(item);
                placed = true;
                break;
            }
            // All taken: evict a random occupant other than the one we were just evicted from.
            let choices: Vec<usize> = cands
                .iter()
                .filter_map(|&p| slot(p))
                .filter(|&s| Some(s) != came_from)
                .collect();
            let Some(&victim_slot) = choices.get(rng.next_u32() as usize % choices.len().max(1))
            else {
                break;
            };
            let victim = table[victim_slot].replace(item)?;
            item = victim;
            came_from = Some(victim_slot);
        }
        if !placed {
            stash.push(item);
            if stash.len() > MAX_STASH {
                return None;
            }
        }
    }
    Some(Placement {
        slots: table,
        stash,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::cast_possible_truncation)] // tests

    use rand_chacha::ChaCha20Rng;
    use rand_core::SeedableRng;

    use super::*;

    fn random_positions(rng: &mut ChaCha20Rng, n: usize, slots: usize) -> Vec<[u64; HASHES]> {
        (0..n)
            .map(|_| std::array::from_fn(|_| rng.next_u64() % slots as u64))
            .collect()
    }

    fn check(p: &Placement, positions: &[[u64; HASHES]]) {
        let mut seen = vec![false; positions.len()];
        for (s, item) in p.slots.iter().enumerate() {
            if let Some(i) = item {
                assert!(positions[*i as usize].contains(&(s as u64)));
                assert!(!seen[*i as usize]);
                seen[*i as usize] = true;
            }
        }
        for &i in &p.stash {
            assert!(!seen[i as usize]);
            seen[i as usize] = true;
        }
        assert!(seen.iter().all(|&b| b), "every item placed exactly once");
    }

    #[test]
    fn places_every_item_at_load_0_77() {
        let mut rng = ChaCha20Rng::from_seed([1; 32]);
        for n in [0usize, 1, 2, 3, 10, 1000, 50_000] {
            let slots = slots_for(n).unwrap();
            let pos = random_positions(&mut rng, n, slots);
            let p = place(&pos, slots, &mut rng).unwrap();
            check(&p, &pos);
            assert_eq!(p.slots.len(), slots);
            // At this load the stash is essentially never needed.
            if n >= 1000 {
                assert!(p.stash.is_empty(), "n = {n}: stash {}", p.stash.len());
            }
        }
        assert_eq!(slots_for(0), Some(4));
        assert_eq!(slots_for(1_000_000), Some(1_300_000));
    }

    #[test]
    fn overflow_goes_to_the_stash_then_fails() {
        let mut rng = ChaCha20Rng::from_seed([2; 32]);
        // 3 + k items that all want slots {0, 1, 2}: k go to the stash.
        let pos = vec![[0, 1, 2]; 3 + MAX_STASH];
        let p = place(&pos, 10, &mut rng).unwrap();
        check(&p, &pos);
        assert_eq!(p.stash.len(), MAX_STASH);
        let pos = vec![[0, 1, 2]; 4 + MAX_STASH];
        assert!(place(&pos, 10, &mut rng).is_none());
    }
}
