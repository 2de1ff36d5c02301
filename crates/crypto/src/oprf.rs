//! Oblivious pseudorandom function of RFC 9497, mode `0x00` (OPRF, base mode only).
//!
//! A server holds a key `skS`; a client holds an input. After one round trip the client knows
//! `F(skS, input)` and the server learned nothing about `input` or the output (RFC 9497 §3.3.1).
//! The server can also compute `F(skS, x)` directly for inputs it knows ([`ServerKey::evaluate`]),
//! which is what a keyword-PIR server does offline for every key of its table.
//!
//! # Suites
//!
//! * [`Ristretto255`] is **`ristretto255-SHA512`** of RFC 9497 §4.1, exactly as standardised and
//!   checked against all RFC 9497 Appendix A.1.1 vectors (`tests/it/oprf.rs`).
//! * [`Sm2`] is **`SM2-SM3`**, a *non-standard* suite of the 国密 profile: the same RFC 9497
//!   construction over the SM2 curve with SM3, modelled on the RFC's `P256-SHA256` suite (§4.3).
//!   No RFC, GM/T standard or registry defines it and no third-party vectors exist; it
//!   interoperates only with this implementation. See the impl on [`Sm2`] for its parameters.
//!
//! # Steps (RFC 9497 §3, names as there)
//!
//! `contextString = "OPRFV1-" || I2OSP(0x00, 1) || "-" || identifier` (§3.1), and the suite's
//! `HashToGroup`, `HashToScalar` use the DSTs `"HashToGroup-" || contextString` and
//! `"HashToScalar-" || contextString` (§4).
//!
//! * `DeriveKeyPair(seed, info)` (§3.2.1), [`ServerKey::derive`]:
//!   `deriveInput = seed || I2OSP(len(info), 2) || info`; for `counter` in `0..=255`:
//!   `skS = HashToScalar(deriveInput || I2OSP(counter, 1), DST = "DeriveKeyPair" ||
//!   contextString)` until `skS != 0`; else `DeriveKeyPairError`.
//! * Client `Blind(input)` (§3.3.1), [`blind`]: `blind = RandomScalar()`,
//!   `inputElement = HashToGroup(input)`, `InvalidInputError` if it is the identity,
//!   `blindedElement = blind * inputElement`. The client keeps `blind` and sends
//!   `blindedElement`.
//! * Server `BlindEvaluate(skS, blindedElement)`, [`ServerKey::blind_evaluate`]:
//!   `evaluatedElement = skS * blindedElement`, sent back.
//! * Client `Finalize(input, blind, evaluatedElement)`, [`finalize`]:
//!   `N = ScalarInverse(blind) * evaluatedElement`, `unblindedElement = SerializeElement(N)`,
//!   output `Hash(I2OSP(len(input), 2) || input || I2OSP(len(unblindedElement), 2) ||
//!   unblindedElement || "Finalize")`.
//! * Server `Evaluate(skS, input)`, [`ServerKey::evaluate`]: the same output computed directly,
//!   `Hash(… || SerializeElement(skS * HashToGroup(input)) || "Finalize")`.
//!
//! # What each party learns
//!
//! * **Server**: `blindedElement`, a uniformly random group element independent of `input`
//!   (the blind is uniform and non-zero in a prime-order group); it learns nothing about the
//!   input or the output. It does learn how many elements the client sent.
//! * **Client**: `F(skS, input)` for each of its inputs and nothing about `skS` beyond these
//!   values (under one-more-Gap-DH, RFC 9497 §7.2). OPRF mode gives the client no proof that the
//!   server used a particular key (that is VOPRF mode, not implemented here).
//!
//! # Wire format and errors
//!
//! Elements travel as `SerializeElement` encodings (`Ne` = [`PsiGroup::ENCODED_LEN`] bytes); the
//! batch functions take and give these encodings back to back, as one message carries them.
//! Decoding is `DeserializeElement`: a wrong length, a non-canonical encoding, a point off the
//! curve and the identity are all [`OprfError::Deserialize`] (RFC 9497 `DeserializeError`, §3.3);
//! an input that hashes to the identity is [`OprfError::InvalidInput`] (`InvalidInputError`);
//! inputs longer than 2^16 − 1 bytes are [`OprfError::InputTooLong`] (§1.1: inputs are
//! length-prefixed with two bytes). Nothing reachable from partner bytes panics.
//!
//! # Deviations and implementation notes
//!
//! * `DeriveKeyPair` requires a seed of exactly `Ns` = 32 bytes, as the RFC's signature says.
//! * `RandomScalar` never returns zero (RFC 9497 §2.1: "a non-zero element"), and
//!   [`Blind::dangerous_from_bytes`] / [`ServerKey::from_bytes`] reject a zero scalar, so the
//!   blind is always invertible and `skS * P` is the identity only if `P` is.
//! * [`ServerKey::evaluate_batch`] and [`ServerKey::blind_evaluate_batch`] go through
//!   [`PsiGroup::hash_mul_encode_batch`] and [`PsiGroup::decode_mul_encode_batch`], which compute
//!   exactly `SerializeElement(skS * HashToGroup(x))` and
//!   `SerializeElement(skS * DeserializeElement(e))`, on ristretto255 eight at a time in AVX-512
//!   IFMA lanes where the CPU has them. The identity check of `Evaluate` is then done on the
//!   encoding (`skS != 0`, so `skS * P` encodes as the identity exactly when `P` is the identity).
//! * All batch functions are single-threaded: this crate does not depend on rayon; callers
//!   split large batches across threads.

use group::{Group, GroupEncoding, ff::Field, ff::PrimeField};
use rand_core::CryptoRng;
use sha2::Sha512;
use sha2::digest::{Digest, Output, common::BlockSizeUser};
use sm3::Sm3;
use zeroize::Zeroizing;

use crate::{Error, PsiGroup, Ristretto255, SecretScalar, Sm2, expand::expand_message_xmd};

/// RFC 9497 §3.1 `modeOPRF`.
pub const MODE_OPRF: u8 = 0x00;

/// Longest `PrivateInput` / `PublicInput` (RFC 9497 §1.1): lengths are encoded in two bytes.
pub const MAX_INPUT_LEN: usize = 0xffff;

/// Errors of the OPRF, named after RFC 9497's (§3.3, §3.2.1, §5.3).
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum OprfError {
    /// RFC 9497 `DeserializeError`: bytes that should encode an element (or a scalar) do not.
    /// Covers wrong lengths, non-canonical encodings, points off the curve and the identity.
    /// `index` is the position in a batch (0 for a single element).
    #[error("deserialize error at item {index}: {reason}")]
    Deserialize {
        /// Position of the offending item in the batch.
        index: usize,
        /// Why the bytes were rejected.
        reason: &'static str,
    },
    /// RFC 9497 `InvalidInputError`: the input hashes to the identity element.
    #[error("invalid input at item {index}: it hashes to the identity element")]
    InvalidInput {
        /// Position of the offending input in the batch.
        index: usize,
    },
    /// An input (or `info`) longer than 2^16 − 1 bytes, which RFC 9497 §1.1 rules out.
    #[error("input {index} is {len} bytes, at most 65535 allowed")]
    InputTooLong {
        /// Position of the offending input in the batch.
        index: usize,
        /// Its length in bytes.
        len: usize,
    },
    /// RFC 9497 `DeriveKeyPairError`: 256 counters all gave a zero scalar.
    #[error("DeriveKeyPair found no non-zero scalar in 256 tries")]
    DeriveKeyPair,
    /// The caller broke the API contract (seed length, batch lengths that disagree).
    #[error("invalid argument: {0}")]
    InvalidArgument(&'static str),
    /// A state that the code's invariants rule out.
    #[error("internal error: {0} (this is a bug, please report it)")]
    Internal(&'static str),
}

/// A ciphersuite of RFC 9497: a [`PsiGroup`] plus the hash and scalar encoding the RFC fixes.
///
/// Implemented for [`Ristretto255`] (`ristretto255-SHA512`, RFC 9497 §4.1) and [`Sm2`]
/// (`SM2-SM3`, non-standard, see the module docs).
pub trait OprfSuite: PsiGroup {
    /// The suite's `identifier` in `contextString`.
    const IDENTIFIER: &'static str;
    /// Whether RFC 9497 defines this suite (`false` for the non-standard `SM2-SM3`).
    const IS_STANDARD: bool;
    /// `Ns`, bytes of a serialized scalar.
    const SCALAR_LEN: usize;

    /// `Hash` of the suite (`Nh` = its output size): `Finalize` and `Evaluate` output.
    type Hash: Digest + BlockSizeUser;

    /// `HashToScalar(msg)` under `dst`.
    ///
    /// # Errors
    ///
    /// Only those of [`expand_message_xmd`] (a DST of 0 or more than 255 bytes).
    fn hash_to_scalar(dst: &[u8], msg: &[u8]) -> Result<Self::Scalar, Error>;

    /// `SerializeScalar(s)`, `Ns` bytes.
    fn serialize_scalar(s: &Self::Scalar) -> Zeroizing<Vec<u8>>;

    /// `DeserializeScalar(bytes)`: `None` unless `bytes` is `Ns` bytes encoding a scalar in
    /// `[0, Order() - 1]`.
    fn deserialize_scalar(bytes: &[u8]) -> Option<Self::Scalar>;
}

/// RFC 9497 §4.1 `ristretto255-SHA512`.
///
/// `HashToGroup` is RFC 9380 `hash_to_ristretto255` (`expand_message_xmd` with SHA-512, then
/// the RFC 9496 §4.3.4 one-way map, [`PsiGroup::hash_to_group`]); `HashToScalar` expands 64 bytes
/// and reduces them as a little-endian integer mod ℓ; scalars are 32 little-endian bytes;
/// `Hash` = SHA-512, `Nh` = 64.
impl OprfSuite for Ristretto255 {
    const IDENTIFIER: &'static str = "ristretto255-SHA512";
    const IS_STANDARD: bool = true;
    const SCALAR_LEN: usize = 32;

    type Hash = Sha512;

    fn hash_to_scalar(dst: &[u8], msg: &[u8]) -> Result<Self::Scalar, Error> {
        let mut uniform = Zeroizing::new([0u8; 64]);
        expand_message_xmd::<Sha512>(msg, dst, uniform.as_mut_slice())?;
        Ok(curve25519_dalek::Scalar::from_bytes_mod_order_wide(
            &uniform,
        ))
    }

    fn serialize_scalar(s: &Self::Scalar) -> Zeroizing<Vec<u8>> {
        Zeroizing::new(s.to_bytes().to_vec())
    }

    fn deserialize_scalar(bytes: &[u8]) -> Option<Self::Scalar> {
        let bytes: [u8; 32] = bytes.try_into().ok()?;
        Option::from(curve25519_dalek::Scalar::from_canonical_bytes(bytes))
    }
}

/// **Non-standard** suite `SM2-SM3` of the 国密 profile, modelled on RFC 9497 §4.3
/// `P256-SHA256` with SM2 for P-256 and SM3 for SHA-256. No standard defines it.
///
/// * `HashToGroup`: `hash_to_curve` with this crate's `SM2_XMD:SM3_SSWU_RO_` suite
///   ([`crate::sm2_group`]), DST `"HashToGroup-" || contextString`.
/// * `HashToScalar`: RFC 9380 §5.2 `hash_to_field` with `L = 48`, `expand_message_xmd` over SM3,
///   DST `"HashToScalar-" || contextString`, modulus the group order `n`.
/// * `SerializeElement`: SEC1 compressed point, `Ne` = 33; `DeserializeElement` rejects
///   non-canonical `x`, off-curve points and the identity ([`PsiGroup::decode`]).
/// * `SerializeScalar`: 32 big-endian bytes (SEC1 Field-Element-to-Octet-String), `Ns` = 32.
/// * `Hash`: SM3 (GB/T 32905-2016), `Nh` = 32.
impl OprfSuite for Sm2 {
    const IDENTIFIER: &'static str = "SM2-SM3";
    const IS_STANDARD: bool = false;
    const SCALAR_LEN: usize = 32;

    type Hash = Sm3;

    fn hash_to_scalar(dst: &[u8], msg: &[u8]) -> Result<Self::Scalar, Error> {
        const L: usize = 48;
        let mut uniform = Zeroizing::new([0u8; L]);
        expand_message_xmd::<Sm3>(msg, dst, uniform.as_mut_slice())?;
        // OS2IP(uniform) mod n: the 384-bit integer as three 128-bit big-endian limbs
        // a·2^256 + b·2^128 + c, each below n, combined by Horner's rule in the scalar field.
        let two_128 = sm2::Scalar::from_u128(u128::MAX) + sm2::Scalar::ONE;
        let mut acc = sm2::Scalar::ZERO;
        for limb in uniform.chunks_exact(16) {
            let mut word = [0u8; 16];
            word.copy_from_slice(limb);
            let mut v = u128::from_be_bytes(word);
            acc = acc * two_128 + sm2::Scalar::from_u128(v);
            zeroize::Zeroize::zeroize(&mut word);
            zeroize::Zeroize::zeroize(&mut v);
        }
        Ok(acc)
    }

    fn serialize_scalar(s: &Self::Scalar) -> Zeroizing<Vec<u8>> {
        Zeroizing::new(s.to_repr().to_vec())
    }

    fn deserialize_scalar(bytes: &[u8]) -> Option<Self::Scalar> {
        if bytes.len() != 32 {
            return None;
        }
        let mut repr = sm2::FieldBytes::default();
        repr.copy_from_slice(bytes);
        Option::from(sm2::Scalar::from_repr(repr))
    }
}

/// `contextString` of RFC 9497 §3.1 for mode OPRF and suite `S`.
pub fn context_string<S: OprfSuite>() -> Vec<u8> {
    let mut ctx = b"OPRFV1-".to_vec();
    ctx.push(MODE_OPRF);
    ctx.push(b'-');
    ctx.extend_from_slice(S::IDENTIFIER.as_bytes());
    ctx
}

/// `prefix || contextString`.
fn dst<S: OprfSuite>(prefix: &[u8]) -> Vec<u8> {
    let mut dst = prefix.to_vec();
    dst.extend_from_slice(&context_string::<S>());
    dst
}

const HASH_TO_GROUP: &[u8] = b"HashToGroup-";
const DERIVE_KEY_PAIR: &[u8] = b"DeriveKeyPair";

/// `I2OSP(len(input), 2)`, or [`OprfError::InputTooLong`].
fn input_len(input: &[u8], index: usize) -> Result<[u8; 2], OprfError> {
    match u16::try_from(input.len()) {
        Ok(len) => Ok(len.to_be_bytes()),
        Err(_) => Err(OprfError::InputTooLong {
            index,
            len: input.len(),
        }),
    }
}

/// Maps an error of the group layer about item `index` to the RFC's error.
fn from_group(err: Error, index: usize) -> OprfError {
    match err {
        Error::InvalidPoint { reason, .. } => OprfError::Deserialize { index, reason },
        Error::InvalidArgument(m) => OprfError::InvalidArgument(m),
        Error::Internal(m) => OprfError::Internal(m),
        Error::InvalidCiphertext { .. } => OprfError::Internal("homomorphic error in the OPRF"),
    }
}

/// `Hash(I2OSP(len(input), 2) || input || I2OSP(len(element), 2) || element || "Finalize")`,
/// the last step of both `Finalize` and `Evaluate`.
fn finalize_hash<S: OprfSuite>(
    input: &[u8],
    element: &[u8],
    index: usize,
) -> Result<Output<S::Hash>, OprfError> {
    let input_len = input_len(input, index)?;
    let Ok(element_len) = u16::try_from(element.len()) else {
        return Err(OprfError::Internal(
            "element encoding longer than 65535 bytes",
        ));
    };
    Ok(S::Hash::new()
        .chain_update(input_len)
        .chain_update(input)
        .chain_update(element_len.to_be_bytes())
        .chain_update(element)
        .chain_update(b"Finalize")
        .finalize())
}

/// A non-zero scalar from `SerializeScalar` bytes.
fn nonzero_scalar<S: OprfSuite>(bytes: &[u8]) -> Result<SecretScalar<S>, OprfError> {
    let Some(s) = S::deserialize_scalar(bytes) else {
        return Err(OprfError::Deserialize {
            index: 0,
            reason: "not a canonical scalar encoding",
        });
    };
    let s = SecretScalar::<S>(s);
    if bool::from(s.expose().is_zero()) {
        return Err(OprfError::Deserialize {
            index: 0,
            reason: "the zero scalar",
        });
    }
    Ok(s)
}

/// The server's private key `skS`. Wiped on drop; `Debug` is redacted.
pub struct ServerKey<S: OprfSuite>(SecretScalar<S>);

impl<S: OprfSuite> core::fmt::Debug for ServerKey<S> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "ServerKey<{}>(<redacted>)", S::IDENTIFIER)
    }
}

impl<S: OprfSuite> ServerKey<S> {
    /// `GenerateKeyPair` (RFC 9497 §3.2): `skS = RandomScalar()`.
    pub fn generate<R: CryptoRng + ?Sized>(rng: &mut R) -> Self {
        Self(S::random_scalar(rng))
    }

    /// `DeriveKeyPair(seed, info)` (RFC 9497 §3.2.1); `seed` must be `Ns` = 32 secret bytes.
    ///
    /// # Errors
    ///
    /// [`OprfError::InvalidArgument`] for a seed of another length, [`OprfError::InputTooLong`]
    /// for an `info` over 65535 bytes, [`OprfError::DeriveKeyPair`] if all 256 counters give 0.
    pub fn derive(seed: &[u8], info: &[u8]) -> Result<Self, OprfError> {
        if seed.len() != S::SCALAR_LEN {
            return Err(OprfError::InvalidArgument(
                "DeriveKeyPair seed must be Ns = 32 bytes",
            ));
        }
        // deriveInput = seed || I2OSP(len(info), 2) || info, then || I2OSP(counter, 1).
        let mut derive_input = Zeroizing::new(Vec::with_capacity(seed.len() + 3 + info.len()));
        derive_input.extend_from_slice(seed);
        derive_input.extend_from_slice(&input_len(info, 0)?);
        derive_input.extend_from_slice(info);
        let dst = dst::<S>(DERIVE_KEY_PAIR);
        for counter in 0..=u8::MAX {
            derive_input.push(counter);
            let sk_s = SecretScalar::<S>(
                S::hash_to_scalar(&dst, &derive_input).map_err(|e| from_group(e, 0))?,
            );
            derive_input.pop();
            if !bool::from(sk_s.expose().is_zero()) {
                return Ok(Self(sk_s));
            }
        }
        Err(OprfError::DeriveKeyPair)
    }

    /// `DeserializeScalar` of a stored key.
    ///
    /// # Errors
    ///
    /// [`OprfError::Deserialize`] unless `bytes` is a canonical non-zero scalar.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, OprfError> {
        nonzero_scalar(bytes).map(Self)
    }

    /// `SerializeScalar(skS)`, for storing the key. Secret: wiped when dropped.
    pub fn to_secret_bytes(&self) -> Zeroizing<Vec<u8>> {
        S::serialize_scalar(self.0.expose())
    }

    /// `BlindEvaluate(skS, blindedElement)`: `evaluatedElement = skS * blindedElement`.
    pub fn blind_evaluate(&self, blinded: &BlindedElement<S>) -> EvaluatedElement<S> {
        EvaluatedElement(S::mul(&blinded.0, &self.0))
    }

    /// `BlindEvaluate` over a batch in the wire format: `blinded` holds `n` encodings of `Ne`
    /// bytes back to back, each `DeserializeElement`-ed, and `out` (same length) receives the
    /// `n` evaluated elements' encodings. On ristretto255 with AVX-512 IFMA, eight at a time.
    ///
    /// # Errors
    ///
    /// [`OprfError::Deserialize`] with the index of the first invalid element (then `out` is
    /// unspecified); [`OprfError::InvalidArgument`] if the lengths are not `n · Ne` and equal.
    pub fn blind_evaluate_batch(&self, blinded: &[u8], out: &mut [u8]) -> Result<(), OprfError> {
        S::decode_mul_encode_batch(blinded, &self.0, out).map_err(|(i, e)| from_group(e, i))
    }

    /// `Evaluate(skS, input)` (RFC 9497 §3.3.1): the PRF output computed directly.
    ///
    /// # Errors
    ///
    /// [`OprfError::InputTooLong`], or [`OprfError::InvalidInput`] if `input` hashes to the
    /// identity.
    pub fn evaluate(&self, input: &[u8]) -> Result<Output<S::Hash>, OprfError> {
        input_len(input, 0)?;
        let input_element = hash_to_group::<S>(&dst::<S>(HASH_TO_GROUP), input, 0)?;
        let evaluated = S::mul(&input_element, &self.0);
        finalize_hash::<S>(input, evaluated.to_bytes().as_ref(), 0)
    }

    /// `Evaluate` for every input, outputs in input order. Uses
    /// [`PsiGroup::hash_mul_encode_batch`] (on ristretto255 with AVX-512 IFMA, eight at a time).
    ///
    /// # Errors
    ///
    /// As [`ServerKey::evaluate`], with the index of the first offending input.
    pub fn evaluate_batch(&self, inputs: &[&[u8]]) -> Result<Vec<Output<S::Hash>>, OprfError> {
        for (i, input) in inputs.iter().enumerate() {
            input_len(input, i)?;
        }
        let ne = S::ENCODED_LEN;
        let Some(len) = inputs.len().checked_mul(ne) else {
            return Err(OprfError::InvalidArgument("batch too large"));
        };
        let mut issued = vec![0u8; len];
        S::hash_mul_encode_batch(&dst::<S>(HASH_TO_GROUP), inputs, &self.0, &mut issued)
            .map_err(|e| from_group(e, 0))?;
        // skS != 0, so skS * inputElement is the identity exactly when inputElement is.
        let identity = S::Point::identity().to_bytes();
        inputs
            .iter()
            .zip(issued.chunks_exact(ne))
            .enumerate()
            .map(|(i, (input, issued_element))| {
                if issued_element == identity.as_ref() {
                    return Err(OprfError::InvalidInput { index: i });
                }
                finalize_hash::<S>(input, issued_element, i)
            })
            .collect()
    }
}

/// The client's blinding scalar `blind` for one input. Wiped on drop; `Debug` is redacted.
pub struct Blind<S: OprfSuite>(SecretScalar<S>);

impl<S: OprfSuite> core::fmt::Debug for Blind<S> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "Blind<{}>(<redacted>)", S::IDENTIFIER)
    }
}

impl<S: OprfSuite> Blind<S> {
    /// A blind from `SerializeScalar` bytes. Hazardous: a blind must be fresh and uniformly
    /// random for every input, or the server can link inputs; for test vectors only.
    ///
    /// # Errors
    ///
    /// [`OprfError::Deserialize`] unless `bytes` is a canonical non-zero scalar.
    pub fn dangerous_from_bytes(bytes: &[u8]) -> Result<Self, OprfError> {
        nonzero_scalar(bytes).map(Self)
    }

    /// `RandomScalar()`, uniform and non-zero.
    pub fn random<R: CryptoRng + ?Sized>(rng: &mut R) -> Self {
        Self(S::random_scalar(rng))
    }
}

/// `blindedElement`, the client's message: a validated, non-identity element.
pub struct BlindedElement<S: OprfSuite>(S::Point);

/// `evaluatedElement`, the server's reply: a validated, non-identity element.
pub struct EvaluatedElement<S: OprfSuite>(S::Point);

// Hand-written so that they hold for every suite without bounds on the marker type `S`.
macro_rules! element_codec {
    ($ty:ident) => {
        impl<S: OprfSuite> Clone for $ty<S> {
            fn clone(&self) -> Self {
                *self
            }
        }

        impl<S: OprfSuite> Copy for $ty<S> {}

        impl<S: OprfSuite> PartialEq for $ty<S> {
            fn eq(&self, other: &Self) -> bool {
                self.0 == other.0
            }
        }

        impl<S: OprfSuite> Eq for $ty<S> {}

        impl<S: OprfSuite> core::fmt::Debug for $ty<S> {
            fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
                // Public protocol messages: the encoding is shown.
                let mut hex = String::with_capacity(2 * S::ENCODED_LEN);
                for b in self.0.to_bytes().as_ref() {
                    hex.push_str(&format!("{b:02x}"));
                }
                write!(f, "{}<{}>({hex})", stringify!($ty), S::IDENTIFIER)
            }
        }

        impl<S: OprfSuite> $ty<S> {
            /// `DeserializeElement(bytes)`: `Ne` bytes, canonical, on the curve, not the identity.
            ///
            /// # Errors
            ///
            /// [`OprfError::Deserialize`] (index 0) otherwise.
            pub fn from_bytes(bytes: &[u8]) -> Result<Self, OprfError> {
                S::decode(bytes).map(Self).map_err(|e| from_group(e, 0))
            }

            /// `SerializeElement`, `Ne` bytes.
            pub fn to_bytes(&self) -> Vec<u8> {
                self.0.to_bytes().as_ref().to_vec()
            }
        }
    };
}

element_codec!(BlindedElement);
element_codec!(EvaluatedElement);

/// `HashToGroup(input)` with the identity check of `Blind` and `Evaluate`.
fn hash_to_group<S: OprfSuite>(
    dst: &[u8],
    input: &[u8],
    index: usize,
) -> Result<S::Point, OprfError> {
    let input_element = S::hash_to_group(dst, input).map_err(|e| from_group(e, index))?;
    if bool::from(input_element.is_identity()) {
        return Err(OprfError::InvalidInput { index });
    }
    Ok(input_element)
}

/// `Blind(input)` (RFC 9497 §3.3.1) with a fresh random blind: keep the [`Blind`], send the
/// [`BlindedElement`].
///
/// # Errors
///
/// [`OprfError::InputTooLong`], or [`OprfError::InvalidInput`] if `input` hashes to the identity.
pub fn blind<S: OprfSuite, R: CryptoRng + ?Sized>(
    input: &[u8],
    rng: &mut R,
) -> Result<(Blind<S>, BlindedElement<S>), OprfError> {
    let blind = Blind::random(rng);
    let blinded = dangerous_blind_with(input, &blind)?;
    Ok((blind, blinded))
}

/// `Blind(input)` with a given blind. Hazardous: reusing a blind links the inputs; for test
/// vectors and [`blind`].
///
/// # Errors
///
/// As [`blind`].
pub fn dangerous_blind_with<S: OprfSuite>(
    input: &[u8],
    blind: &Blind<S>,
) -> Result<BlindedElement<S>, OprfError> {
    input_len(input, 0)?;
    let input_element = hash_to_group::<S>(&dst::<S>(HASH_TO_GROUP), input, 0)?;
    Ok(BlindedElement(S::mul(&input_element, &blind.0)))
}

/// `Blind` for every input with fresh blinds: the blinds in input order and the blinded
/// elements' encodings back to back (`inputs.len() · Ne` bytes, the wire format of
/// [`ServerKey::blind_evaluate_batch`]).
///
/// # Errors
///
/// As [`blind`], with the index of the first offending input.
pub fn blind_batch<S: OprfSuite, R: CryptoRng + ?Sized>(
    inputs: &[&[u8]],
    rng: &mut R,
) -> Result<(Vec<Blind<S>>, Vec<u8>), OprfError> {
    let dst = dst::<S>(HASH_TO_GROUP);
    let mut blinds = Vec::with_capacity(inputs.len());
    let mut encoded = Vec::with_capacity(inputs.len().saturating_mul(S::ENCODED_LEN));
    for (i, input) in inputs.iter().enumerate() {
        input_len(input, i)?;
        let input_element = hash_to_group::<S>(&dst, input, i)?;
        let blind = Blind::<S>::random(rng);
        let blinded = S::mul(&input_element, &blind.0);
        encoded.extend_from_slice(blinded.to_bytes().as_ref());
        blinds.push(blind);
    }
    Ok((blinds, encoded))
}

/// `Finalize(input, blind, evaluatedElement)` (RFC 9497 §3.3.1): the PRF output, `Nh` bytes.
///
/// # Errors
///
/// [`OprfError::InputTooLong`].
pub fn finalize<S: OprfSuite>(
    input: &[u8],
    blind: &Blind<S>,
    evaluated: &EvaluatedElement<S>,
) -> Result<Output<S::Hash>, OprfError> {
    input_len(input, 0)?;
    unblind_and_hash(input, blind, &evaluated.0, 0)
}

/// `Finalize` for every input, with `evaluated` in the wire format (`n · Ne` bytes back to back,
/// each `DeserializeElement`-ed); outputs in input order.
///
/// # Errors
///
/// [`OprfError::InvalidArgument`] if the three lengths disagree; [`OprfError::Deserialize`] or
/// [`OprfError::InputTooLong`] with the index of the first offending item.
pub fn finalize_batch<S: OprfSuite>(
    inputs: &[&[u8]],
    blinds: &[Blind<S>],
    evaluated: &[u8],
) -> Result<Vec<Output<S::Hash>>, OprfError> {
    let ne = S::ENCODED_LEN;
    if inputs.len() != blinds.len() || Some(evaluated.len()) != inputs.len().checked_mul(ne) {
        return Err(OprfError::InvalidArgument(
            "finalize_batch needs as many blinds as inputs and Ne bytes per evaluated element",
        ));
    }
    inputs
        .iter()
        .zip(blinds)
        .zip(evaluated.chunks_exact(ne))
        .enumerate()
        .map(|(i, ((input, blind), e))| {
            input_len(input, i)?;
            let point = S::decode(e).map_err(|err| from_group(err, i))?;
            unblind_and_hash(input, blind, &point, i)
        })
        .collect()
}

/// `N = ScalarInverse(blind) * evaluatedElement`, then the `Finalize` hash.
fn unblind_and_hash<S: OprfSuite>(
    input: &[u8],
    blind: &Blind<S>,
    evaluated: &S::Point,
    index: usize,
) -> Result<Output<S::Hash>, OprfError> {
    // Blinds are non-zero by construction (RandomScalar, dangerous_from_bytes).
    let Some(inverse) = Option::<S::Scalar>::from(blind.0.expose().invert()) else {
        return Err(OprfError::Internal("zero blind"));
    };
    let inverse = SecretScalar::<S>(inverse);
    let unblinded_element = S::mul(evaluated, &inverse).to_bytes();
    finalize_hash::<S>(input, unblinded_element.as_ref(), index)
}
