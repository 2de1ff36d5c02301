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
//! * **Batch hash/decode-multiply-encode** (`hash_mul_encode_batch`, `decode_mul_encode_batch`):
//!   on CPUs with AVX-512 IFMA (and unless `UNSEEN_NO_SIMD` is set) eight items at a time in the
//!   lanes of `ifma` (our own RFC 9496 arithmetic, tested differentially against the portable
//!   path); `expand_message_xmd` stays scalar. Elsewhere the portable path above.
//! * **Digest**: the first 32 bytes of SHA-512.

use curve25519_dalek::{
    RistrettoPoint, Scalar, ristretto::CompressedRistretto, traits::IsIdentity,
};
use rand_core::CryptoRng;
use sha2::{Digest, Sha512};
use zeroize::Zeroize;

use crate::group_trait::{ENC_LEN_MSG, OUT_LEN_MSG};
use crate::{CurveId, Error, PsiGroup, SecretScalar, expand::expand_message_xmd};

#[cfg(target_arch = "x86_64")]
mod ifma;

/// ristretto255 (RFC 9496) with the RFC 9380 Appendix B hash-to-group; the default group.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Ristretto255;

/// Length of the uniform string that the RFC 9496 §4.3.4 one-way map takes.
const UNIFORM_LEN: usize = 64;

/// Which implementation the batch methods use on this machine: `"avx512ifma-8x"` or
/// `"portable"` (for benchmark reports).
pub fn backend_name() -> &'static str {
    #[cfg(target_arch = "x86_64")]
    if simd().is_some() {
        return "avx512ifma-8x";
    }
    "portable"
}

/// The eight-lane backend if the CPU has AVX-512 IFMA and `UNSEEN_NO_SIMD` is unset; decided
/// once per process.
#[cfg(target_arch = "x86_64")]
fn simd() -> Option<ifma::Ifma> {
    static BACKEND: std::sync::OnceLock<Option<ifma::Ifma>> = std::sync::OnceLock::new();
    *BACKEND.get_or_init(|| {
        if std::env::var_os("UNSEEN_NO_SIMD").is_some() {
            None
        } else {
            ifma::Ifma::detect()
        }
    })
}

/// `hash_mul_encode_batch` on the portable path whatever the CPU, for differential tests and
/// benchmarks.
#[doc(hidden)]
pub fn portable_hash_mul_encode_batch(
    dst: &[u8],
    msgs: &[&[u8]],
    k: &SecretScalar<Ristretto255>,
    out: &mut [u8],
) -> Result<(), Error> {
    let mut uniform = Vec::with_capacity(msgs.len());
    for m in msgs {
        let mut u = [0u8; UNIFORM_LEN];
        expand_message_xmd::<Sha512>(m, dst, &mut u)?;
        uniform.push(u);
    }
    portable_uniform_mul_encode_batch(&uniform, k, out)
}

/// `decode_mul_encode_batch` on the portable path whatever the CPU.
#[doc(hidden)]
pub fn portable_decode_mul_encode_batch(
    enc: &[u8],
    k: &SecretScalar<Ristretto255>,
    out: &mut [u8],
) -> Result<(), (usize, Error)> {
    crate::group_trait::decode_each_then_mul_encode::<Ristretto255>(enc, k, out)
}

/// `ENCODE(k · from_uniform_bytes(u_i))` (RFC 9496 §4.3.4) on the portable path: the
/// hash-to-group of `hash_mul_encode_batch` after its `expand_message_xmd`.
#[doc(hidden)]
pub fn portable_uniform_mul_encode_batch(
    uniform: &[[u8; UNIFORM_LEN]],
    k: &SecretScalar<Ristretto255>,
    out: &mut [u8],
) -> Result<(), Error> {
    let points: Vec<RistrettoPoint> = uniform
        .iter()
        .map(RistrettoPoint::from_uniform_bytes)
        .collect();
    Ristretto255::mul_encode_batch(&points, k, out)
}

/// `ENCODE(k · from_uniform_bytes(u_i))` on the backend of [`backend_name`]; exposes the RFC
/// 9496 §4.3.4 map of the fast path to the A.3 vectors.
#[doc(hidden)]
pub fn uniform_mul_encode_batch(
    uniform: &[[u8; UNIFORM_LEN]],
    k: &SecretScalar<Ristretto255>,
    out: &mut [u8],
) -> Result<(), Error> {
    #[cfg(target_arch = "x86_64")]
    if let Some(backend) = simd() {
        return ifma_uniform_mul_encode(backend, uniform, k, out);
    }
    portable_uniform_mul_encode_batch(uniform, k, out)
}

/// The recoded digits of `k`, wiped on drop.
#[cfg(target_arch = "x86_64")]
fn digits(k: &SecretScalar<Ristretto255>) -> zeroize::Zeroizing<[i8; 64]> {
    let mut bytes = k.expose().to_bytes();
    let d = zeroize::Zeroizing::new(ifma::recode(&bytes));
    bytes.zeroize();
    d
}

#[cfg(target_arch = "x86_64")]
fn ifma_uniform_mul_encode(
    backend: ifma::Ifma,
    uniform: &[[u8; UNIFORM_LEN]],
    k: &SecretScalar<Ristretto255>,
    out: &mut [u8],
) -> Result<(), Error> {
    const L: usize = ifma::LANES;
    if Some(out.len()) != uniform.len().checked_mul(Ristretto255::ENCODED_LEN) {
        return Err(Error::InvalidArgument(OUT_LEN_MSG));
    }
    let digits = digits(k);
    for (u, o) in uniform
        .chunks(L)
        .zip(out.chunks_mut(L * Ristretto255::ENCODED_LEN))
    {
        // A short last chunk is padded with zero strings (a valid input of the map).
        let mut lanes = [[0u8; UNIFORM_LEN]; L];
        lanes[..u.len()].copy_from_slice(u);
        let enc = backend.map_mul_encode(&lanes, &digits);
        for (e, o) in enc
            .iter()
            .zip(o.chunks_exact_mut(Ristretto255::ENCODED_LEN))
        {
            o.copy_from_slice(e);
        }
    }
    Ok(())
}

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
            return Err(Error::InvalidArgument(OUT_LEN_MSG));
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

    fn hash_mul_encode_batch(
        dst: &[u8],
        msgs: &[&[u8]],
        k: &SecretScalar<Self>,
        out: &mut [u8],
    ) -> Result<(), Error> {
        #[cfg(target_arch = "x86_64")]
        if let Some(backend) = simd() {
            let mut uniform = Vec::with_capacity(msgs.len());
            for m in msgs {
                let mut u = [0u8; UNIFORM_LEN];
                expand_message_xmd::<Sha512>(m, dst, &mut u)?;
                uniform.push(u);
            }
            return ifma_uniform_mul_encode(backend, &uniform, k, out);
        }
        portable_hash_mul_encode_batch(dst, msgs, k, out)
    }

    fn decode_mul_encode_batch(
        enc: &[u8],
        k: &SecretScalar<Self>,
        out: &mut [u8],
    ) -> Result<(), (usize, Error)> {
        #[cfg(target_arch = "x86_64")]
        if let Some(backend) = simd() {
            const L: usize = ifma::LANES;
            const N: usize = Ristretto255::ENCODED_LEN;
            if !enc.len().is_multiple_of(N) || out.len() != enc.len() {
                return Err((0, Error::InvalidArgument(ENC_LEN_MSG)));
            }
            let digits = digits(k);
            for (chunk, (e, o)) in enc.chunks(L * N).zip(out.chunks_mut(L * N)).enumerate() {
                // A short last chunk is padded with the generator's encoding (RFC 9496 A.1).
                let mut lanes = [GENERATOR_ENCODING; L];
                for (lane, item) in lanes.iter_mut().zip(e.chunks_exact(N)) {
                    lane.copy_from_slice(item);
                }
                let (encoded, ok) = backend.decode_mul_encode(&lanes, &digits);
                if ok != 0xff {
                    // Lowest rejected lane; earlier chunks were all valid, so this is the first
                    // invalid point of the batch, as on the portable path.
                    let lane = ok.trailing_ones() as usize;
                    let reason = if lanes[lane] == [0u8; N] {
                        "the identity element"
                    } else {
                        "not a canonical ristretto255 encoding (RFC 9496 §4.3.1)"
                    };
                    let err = Error::InvalidPoint {
                        curve: Self::ID,
                        reason,
                    };
                    return Err((chunk * L + lane, err));
                }
                for (x, o) in encoded.iter().zip(o.chunks_exact_mut(N)) {
                    o.copy_from_slice(x);
                }
            }
            return Ok(());
        }
        portable_decode_mul_encode_batch(enc, k, out)
    }

    fn digest(bytes: &[u8]) -> [u8; 32] {
        let full = Sha512::digest(bytes);
        let mut out = [0u8; 32];
        out.copy_from_slice(&full[..32]);
        out
    }
}

/// RFC 9496 A.1 encoding of the generator, a valid filler for padded lanes.
#[cfg(target_arch = "x86_64")]
const GENERATOR_ENCODING: [u8; 32] = [
    0xe2, 0xf2, 0xae, 0x0a, 0x6a, 0xbc, 0x4e, 0x71, 0xa8, 0x84, 0xa9, 0x61, 0xc5, 0x00, 0x51, 0x5f,
    0x58, 0xe3, 0x0b, 0x6a, 0xa5, 0x82, 0xdd, 0x8d, 0xb6, 0xa6, 0x59, 0x45, 0xe0, 0x8d, 0x2d, 0x76,
];

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
