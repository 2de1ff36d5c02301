//! Wire messages of ECDH-PSI and their bounded decoders.
//!
//! Every decoder reads through [`unseen_channel::codec::Reader`]: lengths are checked against what
//! the current step allows before anything is allocated, and trailing bytes are refused; the
//! channel has already refused frames longer than the step's maximum.

use rayon::prelude::*;
use unseen_channel::Header;
use unseen_channel::codec::{Reader, Writer};
use unseen_crypto::{CurveId, PsiGroup};

use crate::{KeyLabel, MAX_CHUNK, MAX_KEY_LABEL, PROTOCOL_ID, PsiError, Reveal, VERSION};

/// Step numbers.
pub mod step {
    /// [`super::Hello`], both directions.
    pub const HELLO: u8 = 0x01;
    /// Leader → follower: a chunk of `a·H(x)`.
    pub const LEADER_POINTS: u8 = 0x02;
    /// Follower → leader: a chunk of tags `T(b·a·H(x))`.
    pub const TAGS: u8 = 0x03;
    /// Follower → leader: a chunk of `b·H(y)`.
    pub const FOLLOWER_POINTS: u8 = 0x04;
    /// Leader → follower: [`super::ResultHeader`].
    pub const RESULT: u8 = 0x05;
    /// Leader → follower: a chunk of the follower's matching positions (`u32` LE, ascending).
    pub const INDICES: u8 = 0x06;
}

/// The frame header of `step`.
pub const fn header(step: u8) -> Header {
    Header::new(PROTOCOL_ID, VERSION, step)
}

/// First message of each party.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Hello {
    /// Group.
    pub curve: CurveId,
    /// Who learns what.
    pub reveal: Reveal,
    /// Whether the sender is the leader.
    pub leader: bool,
    /// Items per message the sender will send.
    pub chunk: u32,
    /// The sender's item count.
    pub items: u64,
    /// The most items the sender accepts from its peer.
    pub max_peer_items: u64,
    /// How the sender normalised its items.
    pub keys: KeyLabel,
}

impl Hello {
    /// Length without the key label's bytes.
    pub const FIXED_LEN: usize = 24;
    /// Longest encoding (the channel's maximum for the hello frame).
    pub const MAX_LEN: usize = Self::FIXED_LEN + MAX_KEY_LABEL;

    /// Encodes: curve (1), reveal (1), leader (1), chunk (u32 LE), items (u64 LE),
    /// max peer items (u64 LE), key label length n (1), key label (n bytes).
    pub fn encode(&self) -> Vec<u8> {
        let label = self.keys.as_bytes();
        let mut w = Writer::with_capacity(Self::FIXED_LEN + label.len());
        w.u8(self.curve.code())
            .u8(self.reveal.code())
            .u8(u8::from(self.leader))
            .u32(self.chunk)
            .u64(self.items)
            .u64(self.max_peer_items)
            // A label has at most MAX_KEY_LABEL = 32 bytes (KeyLabel's invariant).
            .len_u8(label.len())
            .bytes(label);
        w.into_vec()
    }

    /// Decodes and checks ranges (not the agreement with our own hello: see the roles). The
    /// length is checked first, then the fields.
    pub fn decode(b: &[u8]) -> Result<Self, PsiError> {
        let (curve, reveal, leader, chunk, items, max_peer_items, label) =
            Reader::read_all(b, "hello", |r| {
                let fixed = (r.u8()?, r.u8()?, r.u8()?, r.u32()?, r.u64()?, r.u64()?);
                // The label's length is bounded by its byte; KeyLabel checks it is 1..=32.
                let n = r.u8()?;
                let label = r.take(usize::from(n))?;
                Ok::<_, PsiError>((fixed.0, fixed.1, fixed.2, fixed.3, fixed.4, fixed.5, label))
            })?;
        let curve = CurveId::from_code(curve).ok_or(PsiError::BadHello("unknown curve"))?;
        let reveal = Reveal::from_code(reveal).ok_or(PsiError::BadHello("unknown reveal mode"))?;
        let leader = match leader {
            0 => false,
            1 => true,
            _ => return Err(PsiError::BadHello("role byte is neither 0 nor 1")),
        };
        if chunk == 0 || chunk > MAX_CHUNK {
            return Err(PsiError::BadHello("chunk size outside 1..=65536"));
        }
        let keys = KeyLabel::from_bytes(label).ok_or(PsiError::BadHello(
            "key type is not 1..=32 bytes of a-z 0-9 - _ . :",
        ))?;
        Ok(Self {
            curve,
            reveal,
            leader,
            chunk,
            items,
            max_peer_items,
            keys,
        })
    }
}

/// Leader → follower at the end: how many results follow (or the cardinality).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ResultHeader {
    /// `|X ∩ Y|`.
    pub count: u64,
}

impl ResultHeader {
    /// Encoded length.
    pub const LEN: usize = 8;

    /// Encodes as u64 LE.
    pub fn encode(&self) -> Vec<u8> {
        self.count.to_le_bytes().to_vec()
    }

    /// Decodes and checks `count <= max`.
    pub fn decode(b: &[u8], max: u64) -> Result<Self, PsiError> {
        let count = Reader::read_all(b, "result header", |r| r.u64())?;
        if count > max {
            return Err(PsiError::BadResult(format!(
                "intersection of {count} announced, but the smaller set has {max} items"
            )));
        }
        Ok(Self { count })
    }
}

/// Number of items in chunk `r` of `n` items split into chunks of `chunk`.
pub(crate) fn chunk_len(n: u64, chunk: u32, r: usize) -> usize {
    let start = r as u64 * u64::from(chunk);
    // The result is at most `chunk <= MAX_CHUNK`.
    usize::try_from(n.saturating_sub(start).min(u64::from(chunk))).unwrap_or(usize::MAX)
}

/// Number of chunks for `n` items.
pub(crate) fn chunk_count(n: u64, chunk: u32) -> usize {
    // n <= u32::MAX is enforced before any chunking.
    usize::try_from(n.div_ceil(u64::from(chunk))).unwrap_or(usize::MAX)
}

/// Decodes exactly `count` points of group `G`; `first` is the position of the first one in the
/// peer's sequence (for error messages). Decoding runs in parallel.
pub fn decode_points<G: PsiGroup>(
    b: &[u8],
    count: usize,
    first: u64,
) -> Result<Vec<G::Point>, PsiError> {
    let b = exact_items(b, "point chunk", count, G::ENCODED_LEN)?;
    b.par_chunks_exact(G::ENCODED_LEN)
        .enumerate()
        .map(|(i, enc)| {
            G::decode(enc).map_err(|source| PsiError::InvalidPoint {
                index: first + i as u64,
                source,
            })
        })
        .collect()
}

/// All of `b`, which must be exactly `count` items of `size` bytes ([`PsiError::BadLength`]
/// otherwise, checked before anything is allocated for them).
pub(crate) fn exact_items<'a>(
    b: &'a [u8],
    what: &'static str,
    count: usize,
    size: usize,
) -> Result<&'a [u8], PsiError> {
    Reader::read_all(b, what, |r| {
        r.take_items(count, size).map_err(PsiError::from)
    })
}

/// Decodes exactly `count` tags of `tag_len` bytes into `u128`s.
pub fn decode_tags(b: &[u8], count: usize, tag_len: usize) -> Result<Vec<u128>, PsiError> {
    let b = exact_items(b, "tag chunk", count, tag_len)?;
    Ok(b.chunks_exact(tag_len).map(tag_from_bytes).collect())
}

/// A tag's integer form (little endian, zero-padded to 16 bytes).
pub(crate) fn tag_from_bytes(t: &[u8]) -> u128 {
    let mut w = [0u8; 16];
    let n = t.len().min(16);
    w[..n].copy_from_slice(&t[..n]);
    u128::from_le_bytes(w)
}

/// Decodes exactly `count` positions, each `< n_peer` and strictly ascending after `prev`.
pub fn decode_indices(
    b: &[u8],
    count: usize,
    bound: u64,
    mut prev: Option<u32>,
) -> Result<Vec<u32>, PsiError> {
    let mut r = Reader::new(exact_items(b, "index chunk", count, 4)?, "index chunk");
    let mut out = Vec::with_capacity(count);
    while r.any_left() {
        let i = r.u32()?;
        if u64::from(i) >= bound {
            return Err(PsiError::BadResult(format!(
                "position {i} out of range, we have {bound} items"
            )));
        }
        if prev.is_some_and(|p| i <= p) {
            return Err(PsiError::BadResult(format!(
                "positions not strictly ascending at {i}"
            )));
        }
        prev = Some(i);
        out.push(i);
    }
    Ok(out)
}

/// Fuzzing entry point: runs every decoder on `data` (first byte selects the decoder). Must never
/// panic.
#[doc(hidden)]
pub fn fuzz_decode(data: &[u8]) {
    let Some((&sel, rest)) = data.split_first() else {
        return;
    };
    match sel % 6 {
        0 => drop(Hello::decode(rest)),
        1 => drop(ResultHeader::decode(rest, 1 << 20)),
        2 => drop(decode_points::<unseen_crypto::Ristretto255>(
            rest,
            rest.len() / 32,
            0,
        )),
        3 => drop(decode_points::<unseen_crypto::Sm2>(
            rest,
            rest.len() / 33,
            0,
        )),
        4 => drop(decode_tags(rest, rest.len() / 10, 10)),
        _ => drop(decode_indices(rest, rest.len() / 4, 1 << 16, None)),
    }
}
