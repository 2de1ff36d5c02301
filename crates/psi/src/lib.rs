//! ECDH private set intersection (DDH-based PSI), semi-honest.
//!
//! The protocol of Meadows (IEEE S&P 1986) and Huberman–Franklin–Hogg (ACM EC 1999), in the
//! streaming form used by SecretFlow's ECDH-PSI and DESIGN.md §4.1. The *leader* (L) is the party
//! that compares and therefore learns the intersection; the *follower* (F) learns it only if the
//! leader sends it back ([`Reveal::Both`]).
//!
//! With `H` the hash-to-group map of the chosen group ([`unseen_crypto::PsiGroup::hash_to_group`])
//! and secret scalars `a` (L) and `b` (F):
//!
//! 0. **Hello.** Both send `{curve, reveal, role, chunk size, item count, the most items it
//!    accepts from the peer, key type}` and check the peer's (same curve, reveal and
//!    [`KeyLabel`], opposite roles, the peer's item count at most our
//!    [`Params::max_peer_items`], our item count at most the peer's limit). Every check is made
//!    on both sides, so a disagreement fails both parties at the hello, each naming both values.
//!    The key type, reveal mode and curve are also part of the hash-to-group domain
//!    ([`hash_dst`]).
//! 1. **L → F** (chunked): `a·H(x)` for every `x ∈ X`, in a random order `π_L`.
//! 2. **F → L** (chunked): `T(b·a·H(x))`, per chunk in the order received, where `T` is the
//!    [`tag_len`]-byte truncation of the group's digest of the encoded point. In
//!    [`Reveal::Cardinality`] F collects all of them and sends them shuffled at the end instead,
//!    so L cannot map them back to its items.
//! 3. **F → L** (chunked, interleaved with 2): `b·H(y)` for every `y ∈ Y`, in a random order `π_F`.
//! 4. L computes `T(a·b·H(y))` and matches them against the tags of step 2.
//! 5. **L → F**: in [`Reveal::Both`], F's matching positions (in `π_F` order, sorted); in
//!    [`Reveal::Cardinality`], the count.
//!
//! Both parties output their matching rows sorted by item (the normalised key), so the outputs of
//! [`Reveal::Both`] are aligned row by row without revealing either party's row order.
//!
//! **What each party learns** (semi-honest, DDH in the random-oracle model): both learn the other
//! set's size; L learns `X ∩ Y` (only `|X ∩ Y|` in `Cardinality`); F learns `X ∩ Y` in `Both`,
//! `|X ∩ Y|` in `Cardinality`, nothing else in `LeaderOnly`.
//!
//! **False matches.** Tags are `ℓ = tag_len(n_L, n_F)` bytes, chosen so that the probability that
//! any of the `n_L·n_F` pairs of distinct items collides, at most `n_L·n_F·2^(-8ℓ)`, stays below
//! `2^-40`. See `docs/protocols/ecdh-psi.md`.
//!
//! Roles are sans-I/O values ([`Leader`], [`Follower`]); [`run_leader`] and [`run_follower`] drive
//! them over any [`unseen_channel::Channel`].

mod driver;
mod error;
mod label;
pub mod msgs;
mod roles;
mod shuffle;

pub use driver::{Progress, Side, run_follower, run_leader, run_on};
pub use error::PsiError;
pub use label::{KeyLabel, MAX_KEY_LABEL};
pub use roles::{Follower, FollowerSession, Leader, LeaderSession};

use unseen_channel::Stats;

/// Protocol identifier of ECDH-PSI in frame headers.
pub const PROTOCOL_ID: u16 = 0x0001;
/// Version of the message formats below (2: the hello carries the key type and the peer limit).
pub const VERSION: u8 = 2;
/// Largest chunk (points or tags per message) a peer may announce.
pub const MAX_CHUNK: u32 = 1 << 16;
/// Default number of items per message.
pub const DEFAULT_CHUNK: u32 = 8192;
/// Default cap on the peer's announced item count: 2^27 (134 217 728). The leader keeps about
/// 100 bytes per peer item (a tag and its position in a hash map), so the default bounds what a
/// peer can make it hold to about 13 GiB; `unseen psi --max-peer-items` and node jobs (the
/// partner's announced dataset size) set it per run.
pub const DEFAULT_MAX_PEER_ITEMS: u64 = 1 << 27;
/// The largest item count the protocol supports (positions travel as `u32`).
pub const MAX_ITEMS: u64 = u32::MAX as u64;

/// Who learns what.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reveal {
    /// Both parties learn the intersection (aligned rows).
    Both,
    /// Only the leader learns the intersection; the follower learns nothing but `|X|`.
    LeaderOnly,
    /// Both learn only `|X ∩ Y|`.
    Cardinality,
}

impl Reveal {
    /// The name used in the hash-to-group domain and in messages.
    pub const fn name(self) -> &'static str {
        match self {
            Self::Both => "both",
            Self::LeaderOnly => "leader-only",
            Self::Cardinality => "cardinality",
        }
    }

    /// Wire code.
    pub const fn code(self) -> u8 {
        match self {
            Self::Both => 1,
            Self::LeaderOnly => 2,
            Self::Cardinality => 3,
        }
    }

    /// Inverse of [`Reveal::code`].
    pub const fn from_code(c: u8) -> Option<Self> {
        match c {
            1 => Some(Self::Both),
            2 => Some(Self::LeaderOnly),
            3 => Some(Self::Cardinality),
            _ => None,
        }
    }
}

/// Protocol parameters both parties must agree on (checked in the hello) plus local limits.
#[derive(Clone, Copy, Debug)]
pub struct Params {
    /// Who learns what.
    pub reveal: Reveal,
    /// Items per message this party sends (1..=[`MAX_CHUNK`]).
    pub chunk: u32,
    /// Refuse a peer that announces more items than this (checked when its hello is decoded,
    /// before anything is allocated for its items; sent in our hello so that the peer fails too).
    pub max_peer_items: u64,
    /// How the items were normalised (the key type); both parties must use the same.
    pub keys: KeyLabel,
}

impl Params {
    /// Parameters with defaults for chunking and limits.
    pub const fn new(reveal: Reveal, keys: KeyLabel) -> Self {
        Self {
            reveal,
            chunk: DEFAULT_CHUNK,
            max_peer_items: DEFAULT_MAX_PEER_ITEMS,
            keys,
        }
    }
}

/// What one party learned.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PsiOutput {
    /// Indices into this party's items that are in the intersection, sorted by item bytes (so
    /// both parties' lists are aligned); `None` when this party does not learn the intersection.
    pub intersection: Option<Vec<usize>>,
    /// `|X ∩ Y|` when this party learns it.
    pub cardinality: Option<u64>,
    /// The peer's item count.
    pub peer_items: u64,
    /// Traffic of this party.
    pub stats: Stats,
}

/// Tag length in bytes for `n_l` and `n_f` items: the smallest `ℓ` with
/// `n_l·n_f·2^(-8ℓ) ≤ 2^-40`, at least 8 and at most 16.
pub fn tag_len(n_l: u64, n_f: u64) -> usize {
    let bits = |n: u64| u64::from(64 - n.max(1).saturating_sub(1).leading_zeros());
    let need = 40 + bits(n_l) + bits(n_f);
    let bytes = need.div_ceil(8).clamp(8, 16);
    // clamp(8, 16) makes the cast lossless.
    bytes as usize
}

/// Domain-separation tag for hashing items to the group:
/// `UNSEEN-V02-ECDH-PSI-<suite>-<reveal>-<key type>`, e.g.
/// `UNSEEN-V02-ECDH-PSI-ristretto255_XMD:SHA-512_R255MAP_RO_-both-id-card`. Every parameter that
/// changes what a match means is in it, so items hashed under different key types never match
/// (even if a hello check were bypassed). At most 111 bytes (RFC 9380 allows 255); for the usual
/// key types and 18-byte keys it adds no hash block to `expand_message_xmd`.
pub fn hash_dst(curve: unseen_crypto::CurveId, reveal: Reveal, keys: &KeyLabel) -> Vec<u8> {
    let suite: &[u8] = match curve {
        unseen_crypto::CurveId::Sm2 => b"SM2_XMD:SM3_SSWU_RO_",
        unseen_crypto::CurveId::Ristretto255 => b"ristretto255_XMD:SHA-512_R255MAP_RO_",
    };
    let mut dst = b"UNSEEN-V02-ECDH-PSI-".to_vec();
    dst.extend_from_slice(suite);
    dst.push(b'-');
    dst.extend_from_slice(reveal.name().as_bytes());
    dst.push(b'-');
    dst.extend_from_slice(keys.as_str().as_bytes());
    dst
}
