//! Uniform random permutations from a cryptographic RNG (Fisher–Yates, Knuth vol. 2 §3.4.2).

use rand_core::CryptoRng;

/// Uniform integer in `0..bound` (bound > 0) by rejection sampling (no modulo bias).
fn below<R: CryptoRng + ?Sized>(rng: &mut R, bound: u64) -> u64 {
    let zone = u64::MAX - (u64::MAX % bound);
    loop {
        let v = rng.next_u64();
        if v < zone {
            return v % bound;
        }
    }
}

/// Shuffles `v` in place uniformly at random.
pub(crate) fn shuffle<T, R: CryptoRng + ?Sized>(rng: &mut R, v: &mut [T]) {
    for i in (1..v.len()).rev() {
        // `below(i + 1) <= i < v.len()` fits in usize.
        let j = usize::try_from(below(rng, i as u64 + 1)).unwrap_or(i);
        v.swap(i, j);
    }
}

/// A uniformly random permutation of `0..n` as `u32` positions.
pub(crate) fn permutation<R: CryptoRng + ?Sized>(rng: &mut R, n: usize) -> Vec<u32> {
    // Callers check `n <= u32::MAX` first.
    let mut p: Vec<u32> = (0..u32::try_from(n).unwrap_or(u32::MAX)).collect();
    shuffle(rng, &mut p);
    p
}
