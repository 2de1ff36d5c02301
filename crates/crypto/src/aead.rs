//! Authenticated encryption with associated data for keyword-PIR records: AES-256-GCM (default
//! profile) and SM4-GCM (国密 profile).
//!
//! Both are GCM of NIST SP 800-38D over a 128-bit block cipher, with a 96-bit nonce and a
//! 128-bit tag:
//!
//! * [`AeadAlg::Aes256Gcm`] is `AEAD_AES_256_GCM` (RFC 5116 §5.2): AES-256 (FIPS 197) in GCM.
//! * [`AeadAlg::Sm4Gcm`] is `AEAD_SM4_GCM` of RFC 8998: the same mode over SM4
//!   (GB/T 32907-2016), 128-bit key, checked against RFC 8998 Appendix A.1.
//!
//! Both run through one generic GCM, RustCrypto's `aes_gcm::AesGcm<Cipher, U12>`. GHASH uses
//! runtime-detected CLMUL/PMULL and AES runtime-detected AES-NI / ARMv8 AES, each with a
//! constant-time software fallback; no target-cpu flags are needed.
//!
//! **Deviation, stated:** the `sm4` crate computes the S-box by table lookup, so SM4-GCM is not
//! constant-time against a cache-timing attacker on the same hardware (the crate's README says
//! as much: not audited, not assessed for constant-time operation). AES-256-GCM has no such
//! caveat; prefer it wherever the 国密 profile is not required.
//!
//! # Steps (SP 800-38D §7.1 `GCM-AE_K(IV, P, A)`, names as there)
//!
//! 1. `H = CIPH_K(0^128)`.
//! 2. `J0 = IV || 0^31 || 1` (96-bit IV).
//! 3. `C = GCTR_K(inc32(J0), P)`.
//! 4. `S = GHASH_H(A || 0^v || C || 0^u || [len(A)]_64 || [len(C)]_64)`.
//! 5. `T = MSB_128(GCTR_K(J0, S))`; output `C || T`.
//!
//! `GCM-AD` (§7.2, [`open`]) recomputes `T'` from `C` and `A` and compares it with `T` in
//! constant time; only when they agree does it compute `P = GCTR_K(inc32(J0), C)`, so nothing
//! of an unauthentic ciphertext is ever decrypted or returned.
//!
//! # What each party learns
//!
//! Whoever holds `C || T` without the key learns `len(P)` (GCM does not hide lengths; pad records
//! to a common length where that matters) and nothing else. Whoever holds the key learns `P`
//! and that `(C, T, A, IV)` were produced by someone holding that key.
//!
//! GCM is not key-committing: whoever chooses the keys can build one `C || T` that opens under
//! two different keys. A successful [`open`] therefore proves knowledge of *a* key that opens it,
//! not of *the* only such key; a caller that reads "this record opened, so it is the one for my
//! keyword" from it against a dishonest sealer needs a key commitment inside the record.
//!
//! # Nonces
//!
//! A `(key, nonce)` pair must never seal two different messages: a repeat reveals the XOR of the
//! plaintexts and lets the holder forge tags. With random nonces, SP 800-38D §8.3 limits one key
//! to 2^32 messages. A key that seals exactly one message (e.g. a per-keyword key derived from an
//! OPRF output) may use a fixed nonce.
//!
//! # Errors
//!
//! A key of the wrong length is [`AeadError::KeyLength`]; a sealed input shorter than the tag is
//! [`AeadError::TooShort`]; every authentication failure in [`open`] is [`AeadError::Decrypt`],
//! with no detail (which byte was wrong is not something to tell a forger). Nothing here panics.

use aes_gcm::aead::Tag;
use aes_gcm::aead::consts::{U12, U16};
use aes_gcm::{AeadInOut, Aes256Gcm, AesGcm, KeyInit, Nonce};
use sm4::Sm4;

/// Length of a nonce (IV) in bytes: 96 bits, the length SP 800-38D §5.2.1.1 recommends.
pub const NONCE_LEN: usize = 12;

/// Length of the authentication tag in bytes (128 bits, the full tag).
pub const TAG_LEN: usize = 16;

/// GCM over SM4 with a 96-bit nonce and 128-bit tag (RFC 8998 `AEAD_SM4_GCM`).
type Sm4Gcm = AesGcm<Sm4, U12>;

/// An AEAD algorithm.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AeadAlg {
    /// AES-256-GCM (SP 800-38D, RFC 5116 `AEAD_AES_256_GCM`): the default profile.
    Aes256Gcm,
    /// SM4-GCM (RFC 8998 `AEAD_SM4_GCM`): the 国密 profile.
    Sm4Gcm,
}

impl AeadAlg {
    /// Length of a nonce in bytes, the same for both algorithms ([`NONCE_LEN`]).
    pub const NONCE_LEN: usize = NONCE_LEN;

    /// Length of the tag appended by [`seal`], the same for both algorithms ([`TAG_LEN`]).
    pub const TAG_LEN: usize = TAG_LEN;

    /// Length of the key in bytes: 32 for AES-256-GCM, 16 for SM4-GCM.
    pub const fn key_len(self) -> usize {
        match self {
            Self::Aes256Gcm => 32,
            Self::Sm4Gcm => 16,
        }
    }
}

/// Why [`seal`] or [`open`] refused.
#[derive(Debug, thiserror::Error)]
pub enum AeadError {
    /// The key does not have the algorithm's length (a local misuse).
    #[error("aead key is {got} bytes, the algorithm takes {expected}")]
    KeyLength {
        /// The algorithm's key length.
        expected: usize,
        /// The length of the key given.
        got: usize,
    },
    /// The sealed input is shorter than the 16-byte tag, so it cannot be a sealed message.
    #[error("sealed input is shorter than the {TAG_LEN}-byte tag")]
    TooShort,
    /// The tag did not verify: wrong key, nonce or associated data, or tampered bytes. Also
    /// returned by [`seal`] for inputs beyond GCM's limits (a plaintext over 2^36 − 32 bytes),
    /// which no record comes near.
    #[error("aead decryption failed")]
    Decrypt,
}

/// Encrypts and authenticates `plaintext`, authenticates `aad`, and returns `ciphertext || tag`
/// (`plaintext.len() + TAG_LEN` bytes).
///
/// `(key, nonce)` must never be used for two different messages (see the module doc).
pub fn seal(
    alg: AeadAlg,
    key: &[u8],
    nonce: &[u8; NONCE_LEN],
    aad: &[u8],
    plaintext: &[u8],
) -> Result<Vec<u8>, AeadError> {
    check_key(alg, key)?;
    match alg {
        AeadAlg::Aes256Gcm => seal_with::<Aes256Gcm>(key, nonce, aad, plaintext),
        AeadAlg::Sm4Gcm => seal_with::<Sm4Gcm>(key, nonce, aad, plaintext),
    }
}

/// Verifies `sealed = ciphertext || tag` against `aad` and returns the plaintext.
///
/// Any mismatch (key, nonce, aad, ciphertext or tag) is [`AeadError::Decrypt`] and nothing is
/// decrypted.
pub fn open(
    alg: AeadAlg,
    key: &[u8],
    nonce: &[u8; NONCE_LEN],
    aad: &[u8],
    sealed: &[u8],
) -> Result<Vec<u8>, AeadError> {
    check_key(alg, key)?;
    let Some(ct_len) = sealed.len().checked_sub(TAG_LEN) else {
        return Err(AeadError::TooShort);
    };
    let (ciphertext, tag) = sealed.split_at(ct_len);
    match alg {
        AeadAlg::Aes256Gcm => open_with::<Aes256Gcm>(key, nonce, aad, ciphertext, tag),
        AeadAlg::Sm4Gcm => open_with::<Sm4Gcm>(key, nonce, aad, ciphertext, tag),
    }
}

fn check_key(alg: AeadAlg, key: &[u8]) -> Result<(), AeadError> {
    let expected = alg.key_len();
    if key.len() != expected {
        return Err(AeadError::KeyLength {
            expected,
            got: key.len(),
        });
    }
    Ok(())
}

/// A GCM instance with a 96-bit nonce and 128-bit tag, whichever the block cipher.
trait Gcm: KeyInit + AeadInOut<NonceSize = U12, TagSize = U16> {}

impl<C: KeyInit + AeadInOut<NonceSize = U12, TagSize = U16>> Gcm for C {}

/// The key schedule and the GHASH key are wiped when the cipher value drops (the `zeroize`
/// features of `aes-gcm` and `sm4`).
fn cipher<C: Gcm>(key: &[u8]) -> Result<C, AeadError> {
    C::new_from_slice(key).map_err(|_| AeadError::KeyLength {
        expected: C::key_size(),
        got: key.len(),
    })
}

fn seal_with<C: Gcm>(
    key: &[u8],
    nonce: &[u8; NONCE_LEN],
    aad: &[u8],
    plaintext: &[u8],
) -> Result<Vec<u8>, AeadError> {
    let gcm = cipher::<C>(key)?;
    let mut out = Vec::with_capacity(plaintext.len() + TAG_LEN);
    out.extend_from_slice(plaintext);
    let nonce: &Nonce<U12> = nonce.into();
    // Fails only past P_MAX / A_MAX (SP 800-38D §5.2.1.1).
    let tag = gcm
        .encrypt_inout_detached(nonce, aad, out.as_mut_slice().into())
        .map_err(|_| AeadError::Decrypt)?;
    out.extend_from_slice(&tag);
    Ok(out)
}

fn open_with<C: Gcm>(
    key: &[u8],
    nonce: &[u8; NONCE_LEN],
    aad: &[u8],
    ciphertext: &[u8],
    tag: &[u8],
) -> Result<Vec<u8>, AeadError> {
    let gcm = cipher::<C>(key)?;
    let Ok(tag) = Tag::<C>::try_from(tag) else {
        // Unreachable: `open` splits off exactly TAG_LEN = 16 bytes, the size `Gcm` requires.
        return Err(AeadError::Decrypt);
    };
    let mut out = ciphertext.to_vec();
    let nonce: &Nonce<U12> = nonce.into();
    gcm.decrypt_inout_detached(nonce, aad, out.as_mut_slice().into(), &tag)
        .map_err(|_| AeadError::Decrypt)?;
    Ok(out)
}
