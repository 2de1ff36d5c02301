//! Sums and weighted sums of ciphertexts from homomorphic additions only.
//!
//! [`linear_combination`] computes `Σ_i k_i·[[m_i]]` for many ciphertexts and small
//! non-negative integer coefficients with Pippenger's bucket method (N. Pippenger, "On the
//! evaluation of powers and monomials", SIAM J. Comput. 9(2), 1980), written in the additive
//! notation of the HE traits: per window of `w` coefficient bits (top window first), double the
//! accumulator `w` times, put each ciphertext in the bucket of its digit, and add
//! `Σ_d d·bucket_d` as a running sum from the top digit down.
//!
//! With `b` terms of at most `t`-bit coefficients, the cost is about
//! `⌈t/w⌉·(w + b + 2^{w+1})` ciphertext additions instead of `b` scalar multiplications of
//! `~1.5·t` additions each: for `b = 75`, `t = 27` about 780 additions instead of 3000. The
//! result is the same plaintext as `Σ mul_plain(c_i, k_i)` (not the same ciphertext), and it
//! carries no fresh randomness: re-randomise it (or add a fresh encryption) before it leaves
//! the party.

use super::HePublicKey;

/// `Σ_i [[m_i]]`: the homomorphic sum of `cts`, added in order onto [`HePublicKey::zero`]
/// (which is the result for no terms). Carries no fresh randomness.
pub fn sum<P: HePublicKey>(pk: &P, cts: &[P::Ciphertext]) -> P::Ciphertext {
    let mut total = pk.zero();
    for c in cts {
        pk.add_assign(&mut total, c);
    }
    total
}

/// `Σ_i coeffs[i]·cts[i]` under `pk` by the bucket method (module doc). The two slices should
/// have equal lengths; extra items of the longer one are ignored. Returns
/// [`HePublicKey::zero`] for an empty sum or all-zero coefficients. Carries no fresh
/// randomness.
///
/// Variable time in the coefficients (which bucket a ciphertext joins, how many windows run): a
/// timing observer on the same machine learns about them. In logistic regression they are the
/// evaluating party's own features, on its own machine.
pub fn linear_combination<P: HePublicKey>(
    pk: &P,
    cts: &[P::Ciphertext],
    coeffs: &[u64],
) -> P::Ciphertext {
    let bits = 64 - coeffs.iter().fold(0u64, |a, &k| a | k).leading_zeros();
    if bits == 0 {
        return pk.zero();
    }
    let w = window(bits, cts.len().min(coeffs.len()));
    let mask = (1u64 << w) - 1;
    let mut acc: Option<P::Ciphertext> = None;
    for win in (0..bits.div_ceil(w)).rev() {
        if let Some(a) = &mut acc {
            for _ in 0..w {
                let t = a.clone();
                pk.add_assign(a, &t);
            }
        }
        // `buckets[d − 1]` sums the ciphertexts whose digit in this window is `d`.
        let mut buckets: Vec<Option<P::Ciphertext>> = vec![None; (1usize << w) - 1];
        for (c, &k) in cts.iter().zip(coeffs) {
            // The digit is at most 2^w − 1 ≤ 2^16 − 1: it fits usize.
            let digit = usize::try_from((k >> (win * w)) & mask).unwrap_or(0);
            if digit != 0 {
                add_into(pk, &mut buckets[digit - 1], c);
            }
        }
        // Σ_d d·bucket_d as a running sum from the top digit down.
        let (mut running, mut sum): (Option<P::Ciphertext>, Option<P::Ciphertext>) = (None, None);
        for b in buckets.iter().rev() {
            if let Some(b) = b {
                add_into(pk, &mut running, b);
            }
            if let Some(r) = &running {
                add_into(pk, &mut sum, r);
            }
        }
        if let Some(s) = &sum {
            add_into(pk, &mut acc, s);
        }
    }
    acc.unwrap_or_else(|| pk.zero())
}

/// The window minimising `⌈bits/w⌉·(w + terms + 2^{w+1})`.
fn window(bits: u32, terms: usize) -> u32 {
    (1..=16u32)
        .min_by_key(|&w| bits.div_ceil(w) as usize * (w as usize + terms + (2usize << w)))
        .unwrap_or(4)
}

/// `acc ← acc + c`, starting from `c` itself (no addition of the identity).
fn add_into<P: HePublicKey>(pk: &P, acc: &mut Option<P::Ciphertext>, c: &P::Ciphertext) {
    match acc {
        Some(a) => pk.add_assign(a, c),
        None => *acc = Some(c.clone()),
    }
}
