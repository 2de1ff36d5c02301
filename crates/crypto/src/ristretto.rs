//! ristretto255 (RFC 9496) as a [`PsiGroup`], over curve25519-dalek.
//!
//! * **Group**: the prime-order group of RFC 9496 §4, order
//!   `ℓ = 2^252 + 27742317777372353535851937790883648493`; scalars are `curve25519_dalek::Scalar`.
//! * **Encoding**: RFC 9496 §4.3.2 `ENCODE`, 32 bytes. **Decoding**: §4.3.1 `DECODE`, which
//!   rejects non-canonical field encodings, negative `s`, non-square `x^2`, negative `t` and
//!   `y = 0`; on top of that we reject the identity (all-zero bytes), which no honest party sends.
//! * **Hash to group**: RFC 9380 Appendix B `hash_to_ristretto255`:
//!   `uniform_bytes = expand_message_xmd(msg, DST, 64)` with SHA-512 (RFC 9380 §5.3.1), then the
//!   RFC 9496 §4.3.4 one-way map (`RistrettoPoint::from_uniform_bytes`), which applies the
//!   Elligator-based `MAP` to each 32-byte half and adds the results.
//! * **Batch multiply-and-encode**: `ENCODE(k·P) = ENCODE(2·((k/2)·P))`, and dalek's
//!   `double_and_compress_batch` encodes `2·Q_i` for a whole batch with a single field inversion,
//!   so we multiply by `k·2^{-1} mod ℓ` and let it do the doubling.
//! * **Digest**: the first 32 bytes of SHA-512.

use curve25519_dalek::{
    RistrettoPoint, Scalar, ristretto::CompressedRistretto, traits::IsIdentity,
};
use rand_core::CryptoRng;
use sha2::{Digest, Sha512};
use zeroize::Zeroize;

use crate::{CurveId, Error, PsiGroup, SecretScalar, expand::expand_message_xmd};

/// ristretto255 (RFC 9496) with the RFC 9380 Appendix B hash-to-group; the default group.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Ristretto255;

/// Length of the uniform string that the RFC 9496 §4.3.4 one-way map takes.
const UNIFORM_LEN: usize = 64;

impl PsiGroup for Ristretto255 {
    type Point = RistrettoPoint;
    type Scalar = Scalar;

    const ID: CurveId = CurveId::Ristretto255;
    const ENCODED_LEN: usize = 32;

    fn hash_to_group(dst: &[u8], msg: &[u8]) -> Result<RistrettoPoint, Error> {
        let mut uniform = [0u8; UNIFORM_LEN];
        expand_message_xmd::<Sha512>(msg, dst, &mut uniform)?;
        Ok(RistrettoPoint::from_uniform_bytes(&uniform))
    }

    fn random_scalar<R: CryptoRng + ?Sized>(rng: &mut R) -> SecretScalar<Self> {
        // 512 bits reduced mod ℓ: statistically uniform (bias < 2^-259). Zero is rejected so
        // that the exponent is invertible (a zero key would map every point to the identity).
        let mut wide = [0u8; 64];
        loop {
            rng.fill_bytes(&mut wide);
            let k = Scalar::from_bytes_mod_order_wide(&wide);
            if k != Scalar::ZERO {
                wide.zeroize();
                return SecretScalar(k);
            }
        }
    }

    fn mul(point: &RistrettoPoint, k: &SecretScalar<Self>) -> RistrettoPoint {
        point * k.expose()
    }

    fn encode(point: &RistrettoPoint, out: &mut [u8]) -> Result<(), Error> {
        if out.len() != Self::ENCODED_LEN {
            return Err(Error::InvalidArgument(
                "ristretto255 encoding needs a 32-byte buffer",
            ));
        }
        out.copy_from_slice(point.compress().as_bytes());
        Ok(())
    }

    fn decode(bytes: &[u8]) -> Result<RistrettoPoint, Error> {
        let invalid = |reason| Error::InvalidPoint {
            curve: Self::ID,
            reason,
        };
        let Ok(compressed) = CompressedRistretto::from_slice(bytes) else {
            return Err(invalid("expected 32 bytes"));
        };
        let Some(point) = compressed.decompress() else {
            return Err(invalid(
                "not a canonical ristretto255 encoding (RFC 9496 §4.3.1)",
            ));
        };
        if point.is_identity() {
            return Err(invalid("the identity element"));
        }
        Ok(point)
    }

    fn mul_encode_batch(
        points: &[RistrettoPoint],
        k: &SecretScalar<Self>,
        out: &mut [u8],
    ) -> Result<(), Error> {
        if Some(out.len()) != points.len().checked_mul(Self::ENCODED_LEN) {
            return Err(Error::InvalidArgument(
                "output length is not points × encoded length",
            ));
        }
        // k/2 mod ℓ, so that the batch doubling lands on k·P_i; wiped on drop like k itself.
        let half_k: SecretScalar<Self> = SecretScalar(k.expose() * Scalar::from(2u8).invert());
        let halves: Vec<RistrettoPoint> = points.iter().map(|p| p * half_k.expose()).collect();
        let encoded = RistrettoPoint::double_and_compress_batch(&halves);
        for (c, o) in encoded.iter().zip(out.chunks_exact_mut(Self::ENCODED_LEN)) {
            o.copy_from_slice(c.as_bytes());
        }
        Ok(())
    }

    fn digest(bytes: &[u8]) -> [u8; 32] {
        let full = Sha512::digest(bytes);
        let mut out = [0u8; 32];
        out.copy_from_slice(&full[..32]);
        out
    }
}

#[cfg(test)]
mod tests {
    use curve25519_dalek::traits::Identity;

    use super::*;

    #[test]
    fn half_scalar_doubles_back() {
        let two = Scalar::from(2u8);
        let k = Scalar::from(12_345u64);
        assert_eq!(k * two.invert() * two, k);
    }

    #[test]
    fn batch_rejects_wrong_output_length() {
        let k = SecretScalar::<Ristretto255>::dangerous_from_scalar(Scalar::ONE);
        let points = [RistrettoPoint::identity(); 2];
        let mut out = [0u8; 63];
        assert!(matches!(
            Ristretto255::mul_encode_batch(&points, &k, &mut out),
            Err(Error::InvalidArgument(_))
        ));
    }
}
