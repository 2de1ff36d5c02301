//! Fixed-point encoding, standardization, mini-batches and the weight update: everything the
//! federated run and the plaintext reference ([`super::reference`]) must compute identically.
//!
//! # Encoding
//!
//! - Features are standardized by each party on its own rows (`z = (x − mean)/std`, population
//!   std, a constant column gets `std = 1`), clipped to `|z| ≤ 2^7` ([`MAX_ABS_Z`]) and encoded
//!   as `X = round(z·2^f)` with `f =` [`FRAC_BITS`]` = 20` (the codec [`CODEC`], an
//!   [`unseen_crypto::he::FixedPoint`]), so `|X| ≤ 2^27`. The intercept is a
//!   column of ones (`X = 2^f`).
//! - A party's linear term `u = Σ_j w_j·X_j/2^f` is computed in `f64` and encoded as
//!   `U = round(u·2^f)`; `|u| < 2^13` ([`MAX_ABS_LINEAR`], else [`LrError::Diverged`]), so
//!   `|U| < 2^33`.
//! - The guest's term `T_A = U_A − 2·y'·2^f`, the host's `T_B = U_B`; their sum
//!   `D = 4·2^f·(¼u − ½y')` has `|D| < 2^35`.
//! - The gradient `G_j = Σ_{i∈B} D_i·X_ij` carries scale `4·2^{2f}`; with `|B| ≤ 2^16`,
//!   `|G_j| < 2^78` ([`GRADIENT_BITS`]). No product of two scaled values is ever rescaled under
//!   encryption: `G_j` is decrypted (masked) and divided by `4·2^{2f}·|B|` in `f64`.
//! - Masks are `R = 2^78 + r` with `r` uniform on `[0, 2^118)` ([`MASK_BITS`] = 78 + 40): the
//!   masked value `0 < G + R < 2^119` is within `2^−40` statistical distance of a value that
//!   does not depend on `G`.
//! - Masked gradients are packed, [`SLOT_BITS`]` = 120` bits each, as many as the receiving
//!   key's plaintext holds ([`slots`]: 17 for Paillier-2048), so the key owner decrypts one
//!   ciphertext per 17 weights; a key needs [`REQUIRED_PLAINTEXT_BITS`]` = 121` bits of
//!   plaintext (Paillier-2048 and OU-2048 have far more).

use rand_chacha::ChaCha20Rng;
use rand_core::{Rng, SeedableRng};
use unseen_crypto::he::FixedPoint;

use super::LrError;

/// Fraction bits `f` of features and linear terms.
pub const FRAC_BITS: u32 = 20;
/// The fixed-point codec of features and linear terms (`f =` [`FRAC_BITS`]).
pub const CODEC: FixedPoint = FixedPoint::new(FRAC_BITS);
/// `2^f` as a float.
pub const SCALE: f64 = CODEC.scale();
/// Standardized features are clipped to this magnitude.
pub const MAX_ABS_Z: f64 = 128.0;
/// A party's linear term must stay below this magnitude.
pub const MAX_ABS_LINEAR: f64 = 8192.0;
/// Bound on `|G_j|` in bits.
pub const GRADIENT_BITS: u32 = 78;
/// Bits of a gradient mask (`GRADIENT_BITS + 40`): `R = 2^78 + r`, `r` uniform on
/// `[0, 2^118)`, so that `G + R` is positive.
pub const MASK_BITS: u32 = GRADIENT_BITS + 40;
/// Bound on a masked gradient `0 < G + R < 2^119` in bits.
pub const MASKED_BITS: u32 = MASK_BITS + 1;
/// Width of one masked gradient in a packed plaintext (one bit of headroom).
pub const SLOT_BITS: u32 = MASKED_BITS + 1;
/// Plaintext bits a key must offer (one slot and the sign).
pub const REQUIRED_PLAINTEXT_BITS: u32 = SLOT_BITS + 1;

/// Masked gradients one plaintext of a key with `plaintext_bits` holds.
pub fn slots(plaintext_bits: u32) -> usize {
    (plaintext_bits.saturating_sub(1) / SLOT_BITS).max(1) as usize
}

/// Packed ciphertexts that carry `features` masked gradients under a key with
/// `plaintext_bits`.
pub fn packed_count(features: usize, plaintext_bits: u32) -> usize {
    features.div_ceil(slots(plaintext_bits))
}

/// Per-column standardization: means and standard deviations (statistics of a party's private
/// features: not printed by `Debug`).
#[derive(Clone, PartialEq)]
pub struct Standardizer {
    /// Column means.
    pub means: Vec<f64>,
    /// Column standard deviations (`1` for a constant column).
    pub stds: Vec<f64>,
}

impl core::fmt::Debug for Standardizer {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "Standardizer({} columns)", self.means.len())
    }
}

impl Standardizer {
    /// Fits on `rows` (each of `cols` finite values).
    ///
    /// # Errors
    ///
    /// [`LrError::InvalidInput`] if the rows are ragged, empty or not finite.
    pub fn fit(rows: &[Vec<f64>], cols: usize) -> Result<Self, LrError> {
        check_rows(rows, cols)?;
        // Row counts are at most MAX_ROWS (2^28), exact in f64.
        #[allow(clippy::cast_precision_loss)]
        let n = rows.len() as f64;
        let mut means = vec![0.0; cols];
        for r in rows {
            for (m, v) in means.iter_mut().zip(r) {
                *m += v;
            }
        }
        for m in &mut means {
            *m /= n;
        }
        let mut vars = vec![0.0; cols];
        for r in rows {
            for ((s, v), m) in vars.iter_mut().zip(r).zip(&means) {
                *s += (v - m) * (v - m);
            }
        }
        let stds = vars
            .into_iter()
            .map(|s| {
                let sd = (s / n).sqrt();
                if sd.is_finite() && sd > 1e-12 {
                    sd
                } else {
                    1.0
                }
            })
            .collect();
        Ok(Self { means, stds })
    }

    /// The standardized, clipped value of column `j`.
    pub fn z(&self, j: usize, x: f64) -> f64 {
        ((x - self.means[j]) / self.stds[j]).clamp(-MAX_ABS_Z, MAX_ABS_Z)
    }
}

/// Checks that `rows` is a non-empty `rows × cols` matrix of finite values.
///
/// # Errors
///
/// [`LrError::InvalidInput`].
pub fn check_rows(rows: &[Vec<f64>], cols: usize) -> Result<(), LrError> {
    if rows.is_empty() || rows.len() > super::MAX_ROWS {
        return Err(LrError::InvalidInput("row count must be in 1..=2^28"));
    }
    if rows.iter().any(|r| r.len() != cols) {
        return Err(LrError::InvalidInput("rows have different lengths"));
    }
    if rows.iter().flatten().any(|v| !v.is_finite()) {
        return Err(LrError::InvalidInput("a feature value is not finite"));
    }
    Ok(())
}

/// Encodes a standardized value, clipped to `|z| ≤ 2^7` (so `|X| ≤ 2^27`).
pub fn encode(z: f64) -> i64 {
    CODEC.encode_clamped(z, MAX_ABS_Z)
}

/// The fixed-point design matrix (row-major, `cols` per row) of `rows` standardized by `st`,
/// with a trailing column of ones if `intercept`.
pub fn design(rows: &[Vec<f64>], st: &Standardizer, intercept: bool) -> Vec<i64> {
    let cols = st.means.len() + usize::from(intercept);
    let mut out = Vec::with_capacity(rows.len() * cols);
    for r in rows {
        out.extend(r.iter().enumerate().map(|(j, &x)| encode(st.z(j, x))));
        if intercept {
            out.push(encode(1.0));
        }
    }
    out
}

/// A party's linear term of one fixed-point row, `Σ_j w_j·X_j/2^f` (always in this order;
/// `|X| ≤ 2^27` decodes exactly).
pub fn linear(w: &[f64], x: &[i64]) -> f64 {
    w.iter()
        .zip(x)
        .map(|(w, &x)| w * CODEC.decode(i128::from(x)))
        .sum()
}

/// Encodes a linear term, or [`LrError::Diverged`] if it is out of range.
///
/// # Errors
///
/// [`LrError::Diverged`].
pub fn encode_linear(u: f64, epoch: u32) -> Result<i64, LrError> {
    // |u·2^f| < 2^33 when it succeeds.
    CODEC
        .encode_within(u, MAX_ABS_LINEAR)
        .ok_or(LrError::Diverged {
            epoch,
            limit: MAX_ABS_LINEAR,
        })
}

/// The guest's label term `−2·y'·2^f` (`y' = 1` for a positive row, `−1` otherwise).
pub fn label_term(positive: bool) -> i64 {
    let two_f = 2i64 << FRAC_BITS;
    if positive { -two_f } else { two_f }
}

/// Bounds of the `k`-th of `count` mini-batches over `n` rows (sizes differ by at most one).
pub fn batch_bounds(n: usize, count: usize, k: usize) -> (usize, usize) {
    (k * n / count, (k + 1) * n / count)
}

/// Number of mini-batches for `n` rows.
pub fn batch_count(n: usize, batch_size: u32) -> usize {
    let b = batch_size as usize;
    if b == 0 || b >= n { 1 } else { n / b }
}

/// Rows of the smallest mini-batch.
pub fn smallest_batch(n: usize, batch_size: u32) -> usize {
    n / batch_count(n, batch_size)
}

/// The row order of `epoch`: a Fisher–Yates shuffle driven by ChaCha20 keyed with the shared
/// seed, stream `epoch`.
pub fn permutation(seed: &[u8; 32], epoch: u32, n: usize) -> Vec<usize> {
    let mut rng = ChaCha20Rng::from_seed(*seed);
    rng.set_stream(u64::from(epoch));
    let mut p: Vec<usize> = (0..n).collect();
    for i in (1..n).rev() {
        let j = uniform_below(&mut rng, i as u64 + 1);
        p.swap(i, j);
    }
    p
}

/// Uniform in `[0, bound)` by rejection (no modulo bias).
#[allow(clippy::cast_possible_truncation)] // the result is below bound ≤ n, a usize
fn uniform_below(rng: &mut ChaCha20Rng, bound: u64) -> usize {
    let zone = u64::MAX - u64::MAX % bound;
    loop {
        let v = rng.next_u64();
        if v < zone {
            return (v % bound) as usize;
        }
    }
}

/// The gradient of one weight from its fixed-point sum: `G/(4·2^{2f}·rows)`.
#[allow(clippy::cast_precision_loss)] // |G| < 2^78: rounding to f64 is the intended decode
pub fn gradient(g: i128, rows: usize) -> f64 {
    g as f64 / (4.0 * SCALE * SCALE * rows as f64)
}

/// One gradient step on `w` with decoded gradients `g`; `λ` does not apply to the last weight if
/// it is the intercept.
pub fn update(w: &mut [f64], g: &[f64], cfg: &super::LrConfig, intercept_last: bool) {
    let n = w.len();
    for (j, (w, g)) in w.iter_mut().zip(g).enumerate() {
        let l2 = if intercept_last && j + 1 == n {
            0.0
        } else {
            cfg.l2
        };
        *w -= cfg.learning_rate * (g + l2 * *w);
    }
}

/// Whether no weight moved by `tol` or more since `start`.
pub fn converged(start: &[f64], now: &[f64], tol: f64) -> bool {
    start.iter().zip(now).all(|(a, b)| (a - b).abs() < tol)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)] // tests

    use super::*;

    #[test]
    fn permutation_is_a_seeded_permutation() {
        let seed = [7u8; 32];
        let p = permutation(&seed, 3, 1000);
        let mut sorted = p.clone();
        sorted.sort_unstable();
        assert_eq!(sorted, (0..1000).collect::<Vec<_>>());
        assert_eq!(p, permutation(&seed, 3, 1000));
        assert_ne!(p, permutation(&seed, 4, 1000));
        assert_ne!(p, (0..1000).collect::<Vec<_>>());
    }

    #[test]
    fn batches_cover_all_rows_and_none_is_smaller_than_asked() {
        for (n, b) in [(300, 64), (10, 3), (7, 0), (5, 9), (1000, 1000), (1001, 10)] {
            let count = batch_count(n, b);
            let mut next = 0;
            for k in 0..count {
                let (lo, hi) = batch_bounds(n, count, k);
                assert_eq!(lo, next);
                assert!(hi - lo >= (b as usize).min(n));
                assert!(hi - lo >= smallest_batch(n, b));
                next = hi;
            }
            assert_eq!(next, n);
        }
    }

    #[test]
    fn encodings_stay_within_their_bounds() {
        assert_eq!(encode(1.0), 1 << FRAC_BITS);
        assert_eq!(encode(-1e9), -(128 << FRAC_BITS));
        assert_eq!(label_term(true), -(2 << FRAC_BITS));
        assert!(encode_linear(MAX_ABS_LINEAR, 2).is_err());
        assert!(encode_linear(f64::NAN, 2).is_err());
        let u = encode_linear(-8191.99, 0).unwrap();
        assert!(u.unsigned_abs() < 1 << 33);
        // The largest D times the largest X over the largest batch stays below 2^78.
        let g = (1i128 << 35) * (128i128 << FRAC_BITS) * (1 << 16);
        assert_eq!((g - 1) >> GRADIENT_BITS, 0);
        const { assert!(REQUIRED_PLAINTEXT_BITS > MASKED_BITS) };
    }

    #[test]
    fn standardizer_handles_constant_columns() {
        let rows = vec![vec![1.0, 5.0], vec![3.0, 5.0]];
        let st = Standardizer::fit(&rows, 2).unwrap();
        assert_eq!(st.means, vec![2.0, 5.0]);
        assert_eq!(st.stds, vec![1.0, 1.0]);
        assert_eq!(st.z(0, 3.0), 1.0);
        assert_eq!(st.z(1, 5.0), 0.0);
        assert!(Standardizer::fit(&[vec![1.0], vec![f64::NAN]], 1).is_err());
        assert!(Standardizer::fit(&[vec![1.0], vec![]], 1).is_err());
    }
}
