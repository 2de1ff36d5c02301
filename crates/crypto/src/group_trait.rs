//! One trait over the prime-order groups the protocols use.

use rand_core::CryptoRng;

use crate::{Error, SecretScalar};

/// Identifies a group (and the hash-to-group suite bound to it) on the wire and in the CLI.
///
/// The one curve type of the workspace (the node's jobs, the CLI and the protocols share it).
/// Deliberately not `#[non_exhaustive]`: every crate that dispatches on it is in this
/// workspace, so a new group must fail to compile at each `match` until it is handled there,
/// rather than fall into a wildcard arm that runs another group.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CurveId {
    /// ristretto255 (RFC 9496) over curve25519-dalek.
    Ristretto255,
    /// The SM2 curve of GB/T 32918 (RustCrypto `sm2`).
    Sm2,
}

impl CurveId {
    /// Stable one-byte code used in protocol headers.
    pub const fn code(self) -> u8 {
        match self {
            Self::Ristretto255 => 0x01,
            Self::Sm2 => 0x02,
        }
    }

    /// Inverse of [`CurveId::code`].
    pub const fn from_code(code: u8) -> Option<Self> {
        match code {
            0x01 => Some(Self::Ristretto255),
            0x02 => Some(Self::Sm2),
            _ => None,
        }
    }

    /// Lowercase name as used by the CLI (`ristretto255`, `sm2`).
    pub const fn name(self) -> &'static str {
        match self {
            Self::Ristretto255 => "ristretto255",
            Self::Sm2 => "sm2",
        }
    }

    /// Every group, in code order.
    pub const ALL: [Self; 2] = [Self::Ristretto255, Self::Sm2];

    /// Inverse of [`CurveId::name`].
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.name() == name)
    }
}

impl core::fmt::Display for CurveId {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.name())
    }
}

/// A prime-order group with a hash-to-group map, as ECDH-style protocols need it.
///
/// Implemented by zero-sized marker types ([`crate::Ristretto255`], [`crate::Sm2`]); protocol code
/// is generic over `G: PsiGroup`.
pub trait PsiGroup: Send + Sync + 'static {
    /// Group element. `group::Group + GroupEncoding` from the `group` crate.
    type Point: group::Group + group::GroupEncoding + Copy + Send + Sync;
    /// Scalar field element (the secret exponents).
    type Scalar: group::ff::Field + zeroize::Zeroize + Send + Sync;

    /// Which group this is.
    const ID: CurveId;
    /// Length in bytes of [`PsiGroup::encode`]'s output (32 for ristretto255, 33 for SM2).
    const ENCODED_LEN: usize;

    /// Hashes `msg` to a group element under domain-separation tag `dst` (1..=255 bytes).
    ///
    /// ristretto255: RFC 9380 `expand_message_xmd` with SHA-512 to 64 bytes, then the RFC 9496
    /// §4.3.4 one-way map. SM2: RFC 9380 §6.6.2 simplified SWU, `hash_to_curve` (random-oracle
    /// variant, two field elements, L = 48) with `expand_message_xmd` over SM3.
    fn hash_to_group(dst: &[u8], msg: &[u8]) -> Result<Self::Point, Error>;

    /// A uniformly random non-zero secret scalar.
    fn random_scalar<R: CryptoRng + ?Sized>(rng: &mut R) -> SecretScalar<Self>;

    /// `k·P` in constant time with respect to `k`.
    fn mul(point: &Self::Point, k: &SecretScalar<Self>) -> Self::Point;

    /// Canonical encoding of `point` into `out` (`out.len() == ENCODED_LEN`, else
    /// [`Error::InvalidArgument`]).
    fn encode(point: &Self::Point, out: &mut [u8]) -> Result<(), Error>;

    /// Decodes and validates a point a partner sent: wrong length, non-canonical, off-curve and
    /// the identity are all [`Error::InvalidPoint`]. Never panics.
    fn decode(bytes: &[u8]) -> Result<Self::Point, Error>;

    /// Computes `k·P_i` for every point and writes the encodings back to back into `out`
    /// (`out.len() == points.len() * ENCODED_LEN`). Implementations may batch the encoding
    /// (ristretto255 shares one inversion across the batch). Single-threaded; callers parallelise.
    fn mul_encode_batch(
        points: &[Self::Point],
        k: &SecretScalar<Self>,
        out: &mut [u8],
    ) -> Result<(), Error> {
        if out.len() != points.len() * Self::ENCODED_LEN {
            return Err(Error::InvalidArgument(OUT_LEN_MSG));
        }
        for (p, o) in points.iter().zip(out.chunks_exact_mut(Self::ENCODED_LEN)) {
            Self::encode(&Self::mul(p, k), o)?;
        }
        Ok(())
    }

    /// `k·H(msg_i)` for every message (hash under `dst` as [`PsiGroup::hash_to_group`]), the
    /// encodings back to back in `out` (`out.len() == msgs.len() * ENCODED_LEN`).
    /// Implementations may compute several items at once (SIMD lanes); single-threaded.
    fn hash_mul_encode_batch(
        dst: &[u8],
        msgs: &[&[u8]],
        k: &SecretScalar<Self>,
        out: &mut [u8],
    ) -> Result<(), Error> {
        let points = msgs
            .iter()
            .map(|m| Self::hash_to_group(dst, m))
            .collect::<Result<Vec<_>, _>>()?;
        Self::mul_encode_batch(&points, k, out)
    }

    /// Decodes every `ENCODED_LEN`-byte point of `enc` (validated as [`PsiGroup::decode`]),
    /// multiplies it by `k` and writes the encodings back to back in `out` (same length as
    /// `enc`). An invalid point gives its index and the decoding error; `out` is then
    /// unspecified. Single-threaded.
    fn decode_mul_encode_batch(
        enc: &[u8],
        k: &SecretScalar<Self>,
        out: &mut [u8],
    ) -> Result<(), (usize, Error)> {
        decode_each_then_mul_encode::<Self>(enc, k, out)
    }

    /// Collision-resistant 32-byte digest used to compare final values (SHA-512/256-truncated
    /// SHA-512 for ristretto255, SM3 for SM2 so the 国密 profile uses only SM algorithms).
    fn digest(bytes: &[u8]) -> [u8; 32];
}

/// Error text for a batch output whose length is not points × encoded length.
pub(crate) const OUT_LEN_MSG: &str = "output length is not points × encoded length";

/// Error text for batch inputs and outputs of mismatched lengths.
pub(crate) const ENC_LEN_MSG: &str =
    "input or output length is not a multiple of the encoded length";

/// The generic [`PsiGroup::decode_mul_encode_batch`]: decode every point, then
/// [`PsiGroup::mul_encode_batch`]. Also the portable path of groups that override the method.
pub(crate) fn decode_each_then_mul_encode<G: PsiGroup + ?Sized>(
    enc: &[u8],
    k: &SecretScalar<G>,
    out: &mut [u8],
) -> Result<(), (usize, Error)> {
    if !enc.len().is_multiple_of(G::ENCODED_LEN) || out.len() != enc.len() {
        return Err((0, Error::InvalidArgument(ENC_LEN_MSG)));
    }
    let points = enc
        .chunks_exact(G::ENCODED_LEN)
        .enumerate()
        .map(|(i, e)| G::decode(e).map_err(|err| (i, err)))
        .collect::<Result<Vec<_>, _>>()?;
    G::mul_encode_batch(&points, k, out).map_err(|e| (0, e))
}
