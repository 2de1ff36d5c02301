#![allow(clippy::cast_possible_truncation, clippy::missing_panics_doc)] // test-only helpers over small, bounded numbers
//! Dev-only test harness for unseen's protocols: run both roles in two threads over the in-memory
//! channel, tamper with one side's messages, and generate seeded data (ID numbers from
//! [`unseen_data::synth`]).

use rand_chacha::ChaCha20Rng;
use rand_core::{Rng, SeedableRng};
use unseen_channel::{StreamChannel, Tamper, TamperHook, duplex};

pub use unseen_channel::Header;

/// A deterministic RNG for tests.
pub fn rng(seed: u64) -> ChaCha20Rng {
    ChaCha20Rng::seed_from_u64(seed)
}

/// Runs `a` and `b` on the two ends of an in-memory duplex in two threads and returns both
/// results. `b_tamper`, if given, rewrites what `b` sends.
pub fn run_pair<RA, RB, FA, FB>(a: FA, b: FB, b_tamper: Option<TamperHook>) -> (RA, RB)
where
    FA: FnOnce(&mut StreamChannel) -> RA + Send,
    FB: FnOnce(&mut StreamChannel) -> RB + Send,
    RA: Send,
    RB: Send,
{
    let (ca, cb) = duplex();
    let mut cb = match b_tamper {
        Some(h) => cb.with_tamper(h),
        None => cb,
    };
    let mut ca = ca;
    std::thread::scope(|s| {
        let ta = s.spawn(move || {
            let r = a(&mut ca);
            drop(ca);
            r
        });
        let tb = s.spawn(move || {
            let r = b(&mut cb);
            drop(cb);
            r
        });
        let rb = match tb.join() {
            Ok(r) => r,
            Err(e) => std::panic::resume_unwind(e),
        };
        let ra = match ta.join() {
            Ok(r) => r,
            Err(e) => std::panic::resume_unwind(e),
        };
        (ra, rb)
    })
}

/// The raw bytes of a frame, as the codec would write them.
pub fn raw_frame(h: Header, announced_len: u32, payload: &[u8]) -> Vec<u8> {
    let mut v = announced_len.to_le_bytes().to_vec();
    v.extend_from_slice(&h.protocol.to_le_bytes());
    v.push(h.version);
    v.push(h.step);
    v.extend_from_slice(payload);
    v
}

/// A tamper hook that applies `f` to the first message with `step`, passing all others.
pub fn on_step(
    step: u8,
    mut f: impl FnMut(Header, &[u8]) -> Tamper + Send + 'static,
) -> TamperHook {
    let mut done = false;
    Box::new(move |_, h, p| {
        if !done && h.step == step {
            done = true;
            f(h, p)
        } else {
            Tamper::Pass
        }
    })
}

/// `n` distinct resident ID numbers (valid GB 11643 check characters) from `seed`, born in
/// 1940–2005: [`unseen_data::synth`]'s generator with the birth years the protocol tests have
/// always drawn from (pir's in-place update test bounds the hint rows a change touches, which
/// depends on the exact keys).
pub fn id_cards(seed: u64, n: usize) -> Vec<String> {
    unseen_data::synth::id_cards_born_in(seed, n, 1940..=2005)
}

/// Two sets with a known intersection: `common` shared items, then `a_only` and `b_only` items.
/// Returns `(a, b, intersection)`; `a` and `b` are shuffled deterministically.
pub fn overlapping(
    seed: u64,
    common: usize,
    a_only: usize,
    b_only: usize,
) -> (Vec<String>, Vec<String>, Vec<String>) {
    let all = id_cards(seed, common + a_only + b_only);
    let inter = all[..common].to_vec();
    let mut a: Vec<String> = all[..common + a_only].to_vec();
    let mut b: Vec<String> = all[..common]
        .iter()
        .chain(&all[common + a_only..])
        .cloned()
        .collect();
    let mut r = rng(seed ^ 0x5eed);
    for v in [&mut a, &mut b] {
        for i in (1..v.len()).rev() {
            let j = (r.next_u64() % (i as u64 + 1)) as usize;
            v.swap(i, j);
        }
    }
    (a, b, inter)
}

/// Plaintext oracle: the items of `a` that are in `b`, sorted.
pub fn plain_intersection(a: &[String], b: &[String]) -> Vec<String> {
    let set: std::collections::HashSet<&String> = b.iter().collect();
    let mut v: Vec<String> = a.iter().filter(|x| set.contains(x)).cloned().collect();
    v.sort();
    v
}
