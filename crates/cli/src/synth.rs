//! Seeded synthetic data for the demo and benchmarks: resident ID numbers with valid GB 11643
//! check digits, names and amounts. Not personal data of anyone.

use rand_chacha::ChaCha20Rng;
use rand_core::{Rng, SeedableRng};

/// `n` distinct ID numbers from `seed`.
pub(crate) fn id_cards(seed: u64, n: usize) -> Vec<String> {
    let mut r = ChaCha20Rng::seed_from_u64(seed);
    let mut seen = std::collections::HashSet::with_capacity(n);
    let mut out = Vec::with_capacity(n);
    while out.len() < n {
        let body = format!(
            "{:06}{:04}{:02}{:02}{:03}",
            110_000 + r.next_u32() % 550_000,
            1950 + r.next_u32() % 56,
            1 + r.next_u32() % 12,
            1 + r.next_u32() % 28,
            r.next_u32() % 1000
        );
        // `body` is 17 ASCII digits by construction.
        let id = format!(
            "{body}{}",
            unseen_data::id_card_check_char(&body).unwrap_or('0')
        );
        if seen.insert(id.clone()) {
            out.push(id);
        }
    }
    out
}

/// Two lists: `a_n` and `b_n` items sharing exactly `common`, in shuffled order.
pub(crate) fn overlapping(
    seed: u64,
    a_n: usize,
    b_n: usize,
    common: usize,
) -> (Vec<String>, Vec<String>) {
    let all = id_cards(seed, a_n + b_n - common);
    let a: Vec<String> = all[..a_n].to_vec();
    let mut b: Vec<String> = all[..common].to_vec();
    b.extend_from_slice(&all[a_n..]);
    let mut r = ChaCha20Rng::seed_from_u64(seed ^ 0xb0b);
    for i in (1..b.len()).rev() {
        let j = usize::try_from(r.next_u64() % (i as u64 + 1)).unwrap_or(i);
        b.swap(i, j);
    }
    (a, b)
}
