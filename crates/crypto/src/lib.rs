//! Cryptographic floor of unseen: prime-order groups behind one trait, hash-to-group, the RFC 9497
//! OPRF ([`oprf`]), AEAD for records ([`aead`]: AES-256-GCM, SM4-GCM), SM3 helpers.
//!
//! Pure computation, no I/O. Protocol crates (`unseen-psi`, …) are generic over [`PsiGroup`] so the
//! same protocol code runs on Ristretto255 (default) and SM2 (国密 profile).
//!
//! (API contract written first so that protocol crates can be built against it; see each item.)

pub mod aead;
pub mod expand;
mod group_trait;
pub mod he;
pub mod oprf;
pub mod ristretto;
mod secret;
mod simd_gate;
pub mod sm2_group;
pub mod sm2_sign;
pub mod sm3_util;

pub use aead::{AeadAlg, AeadError};
pub use group_trait::{CurveId, PsiGroup};
pub use ristretto::Ristretto255;
pub use secret::SecretScalar;
pub use simd_gate::{cpu_has_avx512ifma, simd_test_counts, simd_test_gate};
pub use sm2_group::Sm2;
pub use sm2_sign::{SM2_DEFAULT_DISTID, Sm2Signer, sm2_verify};

/// Errors of this crate, sorted by whose fault they are.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    /// Bytes that should encode a group element do not (wrong length, not canonical, not on the
    /// curve, or the identity, which no honest party ever sends).
    #[error("invalid {curve} point encoding: {reason}")]
    InvalidPoint {
        /// Which curve was expected.
        curve: CurveId,
        /// Why the bytes were rejected.
        reason: &'static str,
    },
    /// A caller passed arguments that violate the API contract (e.g. an output buffer of the
    /// wrong length, a domain-separation tag longer than 255 bytes).
    #[error("invalid argument: {0}")]
    InvalidArgument(&'static str),
    /// Bytes that should encode a homomorphic ciphertext or public key do not (wrong length,
    /// out of range, unsupported key size).
    #[error("invalid {scheme} encoding: {reason}")]
    InvalidCiphertext {
        /// Which scheme was expected (`"Paillier"`, `"OU"`).
        scheme: &'static str,
        /// Why the bytes were rejected.
        reason: &'static str,
    },
    /// A state that the code's invariants rule out (e.g. a hash-to-curve output off the curve).
    #[error("internal error: {0} (this is a bug, please report it)")]
    Internal(&'static str),
}
