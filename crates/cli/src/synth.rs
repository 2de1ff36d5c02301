//! Seeded synthetic data for the demo and benchmarks: resident ID numbers with valid GB 11643
//! check digits, names and amounts. Not personal data of anyone.

use rand_chacha::ChaCha20Rng;
use rand_core::{Rng, SeedableRng};

/// The GB 11643 check character of a 17-digit body (ISO 7064 MOD 11-2).
fn check_char(body: &[u8; 17]) -> char {
    const W: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
    const C: [char; 11] = ['1', '0', 'X', '9', '8', '7', '6', '5', '4', '3', '2'];
    let s: u32 = body
        .iter()
        .zip(W)
        .map(|(b, w)| u32::from(b - b'0') * w)
        .sum();
    C[(s % 11) as usize]
}

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
        let mut b = [0u8; 17];
        b.copy_from_slice(body.as_bytes());
        let id = format!("{body}{}", check_char(&b));
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
