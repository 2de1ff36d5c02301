//! Fixed-point encoding of real numbers as the signed integers that [`Plaintext`] carries:
//! `x ↦ X = round(x·2^f)` with `f` fraction bits, and back `X ↦ X/2^f`.
//!
//! The schemes are additive, so a sum of encodings is the encoding of the sum (`Σ X_i` has the
//! same `2^f` scale) and an encoding times an integer `k` encodes `k·x`. A product of two
//! encodings carries the scale `2^{2f}`; nothing here rescales under encryption: the key owner
//! decrypts and divides by the accumulated scale in `f64` (see [`FixedPoint::scale`]).
//!
//! Rounding is `f64::round` (half away from zero) of `x·2^f`, which is exact because `2^f` is a
//! power of two: both parties of a protocol (and its plaintext oracle) get the same integers
//! from the same floats, which is what makes federated results bit-identical to plaintext ones.
//! Every value and every sum or product formed from the encodings must stay below
//! `2^plaintext_bits()` of the key ([`super::HePublicKey::plaintext_bits`]); the caller sizes
//! `f` and its bounds so that they do.
//!
//! [`Plaintext`]: super::Plaintext

/// A fixed-point codec with `f` fraction bits (`0..=62`, so that the encoding of `1.0` fits
/// an `i64`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct FixedPoint {
    frac_bits: u32,
}

impl FixedPoint {
    /// Most fraction bits a codec may have.
    pub const MAX_FRAC_BITS: u32 = 62;

    /// The codec with `frac_bits` fraction bits.
    ///
    /// # Panics
    ///
    /// If `frac_bits > 62` ([`FixedPoint::MAX_FRAC_BITS`]); in a `const` the build fails instead.
    pub const fn new(frac_bits: u32) -> Self {
        assert!(
            frac_bits <= Self::MAX_FRAC_BITS,
            "a fixed-point codec has at most 62 fraction bits"
        );
        Self { frac_bits }
    }

    /// The fraction bits `f`.
    pub const fn frac_bits(self) -> u32 {
        self.frac_bits
    }

    /// `2^f` as a float (exact: a power of two with an 11-bit exponent).
    pub const fn scale(self) -> f64 {
        // The biased exponent 1023 + f (f ≤ 62) with a zero mantissa is exactly 2^f.
        f64::from_bits((1023 + self.frac_bits as u64) << 52)
    }

    /// `round(clamp(x, −bound, bound)·2^f)`: values beyond `±bound` encode as `±bound`.
    ///
    /// A NaN `x` encodes as 0; a negative or NaN `bound` counts as 0. The conversion saturates
    /// at the `i64` range, so choose `bound·2^f ≤ 2^63`.
    // The float-to-integer `as` cast is the intended saturating conversion (documented above).
    #[allow(clippy::cast_possible_truncation)]
    pub fn encode_clamped(self, x: f64, bound: f64) -> i64 {
        let bound = if bound >= 0.0 { bound } else { 0.0 };
        (x.clamp(-bound, bound) * self.scale()).round() as i64
    }

    /// `round(x·2^f)` if `x` is finite and `|x| < bound`, else `None` (the caller reports an
    /// out-of-range value in its own terms). Choose `bound·2^f ≤ 2^63`.
    // |x·2^f| < bound·2^f ≤ 2^63 after the check: the cast is exact or saturates at the edge.
    #[allow(clippy::cast_possible_truncation)]
    pub fn encode_within(self, x: f64, bound: f64) -> Option<i64> {
        (x.is_finite() && x.abs() < bound).then(|| (x * self.scale()).round() as i64)
    }

    /// `X/2^f`: the real that an encoding, or a sum of encodings, stands for (rounded to the
    /// nearest `f64` when `X` has more than 53 significant bits).
    // Rounding a wide sum to f64 is the intended decoding.
    #[allow(clippy::cast_precision_loss)]
    pub fn decode(self, v: i128) -> f64 {
        v as f64 / self.scale()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scale_is_the_exact_power_of_two() {
        for f in 0..=FixedPoint::MAX_FRAC_BITS {
            let want = (0..f).fold(1.0f64, |a, _| a * 2.0);
            assert_eq!(
                FixedPoint::new(f).scale().to_bits(),
                want.to_bits(),
                "f = {f}"
            );
        }
        // The forms the protocols used before the codec existed.
        assert_eq!(FixedPoint::new(20).scale(), (1u64 << 20) as f64);
        assert_eq!(
            FixedPoint::new(40).scale(),
            f64::from(1u32 << 20) * f64::from(1u32 << 20)
        );
    }

    #[test]
    fn encodings_round_clamp_and_decode() {
        let c = FixedPoint::new(20);
        assert_eq!(c.encode_clamped(1.0, 128.0), 1 << 20);
        assert_eq!(c.encode_clamped(-1e9, 128.0), -(128 << 20));
        assert_eq!(c.encode_clamped(1e9, 128.0), 128 << 20);
        assert_eq!(c.encode_clamped(f64::NAN, 128.0), 0);
        assert_eq!(c.encode_clamped(f64::INFINITY, 1.0), 1 << 20);
        assert_eq!(c.encode_clamped(5.0, -1.0), 0);
        assert_eq!(c.encode_clamped(5.0, f64::NAN), 0);
        // Half away from zero, on both signs.
        let half = 0.5 / c.scale();
        assert_eq!(c.encode_clamped(half, 1.0), 1);
        assert_eq!(c.encode_clamped(-half, 1.0), -1);
        assert_eq!(c.encode_clamped(half * 0.99, 1.0), 0);
        // Saturation at the i64 range rather than wrapping.
        assert_eq!(FixedPoint::new(62).encode_clamped(1e30, 1e30), i64::MAX);

        assert_eq!(
            c.encode_within(-8191.5, 8192.0),
            Some(-8191 * (1 << 20) - (1 << 19))
        );
        assert_eq!(c.encode_within(8192.0, 8192.0), None);
        assert_eq!(c.encode_within(-8192.0, 8192.0), None);
        assert_eq!(c.encode_within(f64::NAN, 8192.0), None);
        assert_eq!(c.encode_within(f64::NEG_INFINITY, f64::INFINITY), None);

        for x in [0.0, 1.0, -1.0, 0.25, -3.75, 127.999_999] {
            let e = c.encode_clamped(x, 128.0);
            assert!((c.decode(e.into()) - x).abs() <= 0.5 / c.scale());
        }
        // Sums of encodings decode to sums.
        let s: i128 = [1.5, -0.25, 2.0]
            .iter()
            .map(|&x| i128::from(c.encode_clamped(x, 8.0)))
            .sum();
        assert_eq!(c.decode(s), 3.25);
    }
}
