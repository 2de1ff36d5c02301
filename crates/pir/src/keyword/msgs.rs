//! Wire messages of keyword PIR (protocol [`PROTOCOL_ID`], version [`VERSION`]) and their
//! bounded decoders.
//!
//! | step | direction | payload |
//! |---|---|---|
//! | [`step::SETUP`] | S → C | [`Setup`]: parameters, seed of `A`, salt, stash |
//! | [`step::HINT`] | S → C | rows of the hint `H`, [`HINT_CHUNK_ROWS`] per message (`4·n` bytes a row) |
//! | [`step::BLINDED`] | C → S | `count: u32 LE` then `count · Ne` bytes; `count = 0` ends the session |
//! | [`step::EVALUATED`] | S → C | `count · Ne` bytes |
//! | [`step::QUERY`] | C → S | SimplePIR queries, `4·m` bytes each, [`per_message`] per message |
//! | [`step::ANSWER`] | S → C | SimplePIR answers, `4·ℓ` bytes each, [`per_message`] per message |
//!
//! The receiver knows every length from the setup and the batch's `count` before it reads a
//! payload, and passes it to the channel as the step's maximum; the decoders then check the exact
//! length (so trailing bytes are refused) before allocating.

use unseen_channel::Header;
use unseen_crypto::CurveId;
use unseen_crypto::aead::AeadAlg;
use unseen_crypto::oprf::{BlindedElement, EvaluatedElement};

use super::cuckoo::MAX_STASH;
use super::{HASHES, MAX_DUPLICATES, MAX_KEYS, MAX_RECORD_LEN, Salt, entry_len};
use crate::params::{LWE_N, MAX_COLS};
use crate::{Answer, Params, PirError, Query, Seed};

/// Protocol identifier of keyword PIR in frame headers (ECDH-PSI is `0x0001`).
pub const PROTOCOL_ID: u16 = 0x0002;
/// Version of the message formats.
pub const VERSION: u8 = 1;

/// `h` on the wire.
const HASHES_CODE: u8 = 3;
const _: () = assert!(HASHES_CODE as usize == HASHES);

/// Hint rows per [`step::HINT`] message: 1024 rows of `n = 1024` words, 4 MiB.
pub const HINT_CHUNK_ROWS: usize = 1024;

/// Largest payload of a [`step::QUERY`] or [`step::ANSWER`] message (several queries or answers
/// share a message up to this size; one alone may be larger, up to the channel's 64 MiB).
pub const BATCH_MESSAGE_BYTES: usize = 4 << 20;

/// Step numbers.
pub mod step {
    /// Server → client: [`super::Setup`].
    pub const SETUP: u8 = 0x01;
    /// Server → client: rows of the hint.
    pub const HINT: u8 = 0x02;
    /// Client → server: blinded OPRF elements of a batch of keys.
    pub const BLINDED: u8 = 0x03;
    /// Server → client: evaluated OPRF elements.
    pub const EVALUATED: u8 = 0x04;
    /// Client → server: SimplePIR queries.
    pub const QUERY: u8 = 0x05;
    /// Server → client: SimplePIR answers.
    pub const ANSWER: u8 = 0x06;
}

/// The frame header of `step`.
pub const fn header(step: u8) -> Header {
    Header::new(PROTOCOL_ID, VERSION, step)
}

/// Wire code of an AEAD.
pub const fn aead_code(a: AeadAlg) -> u8 {
    match a {
        AeadAlg::Aes256Gcm => 0x01,
        AeadAlg::Sm4Gcm => 0x02,
    }
}

/// Inverse of [`aead_code`].
pub const fn aead_from_code(c: u8) -> Option<AeadAlg> {
    match c {
        0x01 => Some(AeadAlg::Aes256Gcm),
        0x02 => Some(AeadAlg::Sm4Gcm),
        _ => None,
    }
}

/// The server's first message: everything the client needs besides the hint. Public.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Setup {
    /// OPRF suite (its group).
    pub suite: CurveId,
    /// AEAD of the records.
    pub aead: AeadAlg,
    /// Records are padded to this length.
    pub max_record_len: usize,
    /// Records per key, `1..=`[`MAX_DUPLICATES`].
    pub duplicates: u8,
    /// Cuckoo slots `T` (= SimplePIR records).
    pub slots: usize,
    /// SimplePIR columns `m`.
    pub cols: usize,
    /// Seed of SimplePIR's `A`.
    pub seed: Seed,
    /// The table's salt.
    pub salt: Salt,
    /// Sealed stash entries, each [`entry_len`] bytes.
    pub stash: Vec<Vec<u8>>,
}

impl Setup {
    /// Bytes before the stash: suite, aead, duplicates, h (1 each), max record length (u32),
    /// slots (u64), columns (u32), seed (32), salt (32), stash count (u32), all little-endian.
    pub const FIXED_LEN: usize = 88;

    /// Largest setup a client with record limit `max_record_len` accepts.
    pub fn max_len(max_record_len: usize) -> usize {
        Self::FIXED_LEN + MAX_STASH * entry_len(max_record_len.min(MAX_RECORD_LEN))
    }

    /// The SimplePIR parameters the setup describes.
    ///
    /// # Errors
    ///
    /// [`PirError::BadSetup`] if no valid matrix has this shape.
    pub fn params(&self) -> Result<Params, PirError> {
        Params::with_columns(self.slots, entry_len(self.max_record_len), self.cols)
            .map_err(|_| PirError::BadSetup("no SimplePIR matrix has the announced shape"))
    }

    /// Encodes.
    pub fn encode(&self) -> Vec<u8> {
        let mut v = Vec::with_capacity(Self::FIXED_LEN + self.stash.len() * 64);
        v.push(self.suite.code());
        v.push(aead_code(self.aead));
        v.push(self.duplicates);
        v.push(HASHES_CODE);
        // Lengths are bounded by MAX_RECORD_LEN, MAX_SLOTS, MAX_COLS and MAX_STASH.
        v.extend_from_slice(
            &u32::try_from(self.max_record_len)
                .unwrap_or(0)
                .to_le_bytes(),
        );
        v.extend_from_slice(&(self.slots as u64).to_le_bytes());
        v.extend_from_slice(&u32::try_from(self.cols).unwrap_or(0).to_le_bytes());
        v.extend_from_slice(&self.seed.0);
        v.extend_from_slice(&self.salt.0);
        v.extend_from_slice(&u32::try_from(self.stash.len()).unwrap_or(0).to_le_bytes());
        for e in &self.stash {
            v.extend_from_slice(e);
        }
        v
    }

    /// Decodes and checks every range (not yet the agreement with the client's own suite, AEAD
    /// and limits: see the client role). The stash length is checked against the announced
    /// count before anything is allocated.
    ///
    /// # Errors
    ///
    /// [`PirError::BadMessage`] for a wrong length, [`PirError::BadSetup`] for a value out of
    /// range.
    pub fn decode(b: &[u8]) -> Result<Self, PirError> {
        if b.len() < Self::FIXED_LEN {
            return Err(PirError::BadMessage {
                what: "setup",
                len: b.len(),
                expected: Self::FIXED_LEN,
            });
        }
        let u32_at = |i: usize| u32::from_le_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]);
        let suite = CurveId::from_code(b[0]).ok_or(PirError::BadSetup("unknown OPRF suite"))?;
        let aead = aead_from_code(b[1]).ok_or(PirError::BadSetup("unknown AEAD"))?;
        let duplicates = b[2];
        if duplicates == 0 || usize::from(duplicates) > MAX_DUPLICATES {
            return Err(PirError::BadSetup("records per key outside 1..=4"));
        }
        if usize::from(b[3]) != HASHES {
            return Err(PirError::BadSetup(
                "number of cuckoo hash functions is not 3",
            ));
        }
        let max_record_len = u32_at(4) as usize;
        if max_record_len > MAX_RECORD_LEN {
            return Err(PirError::BadSetup("record length above 65535"));
        }
        let mut w = [0u8; 8];
        w.copy_from_slice(&b[8..16]);
        let slots = usize::try_from(u64::from_le_bytes(w))
            .ok()
            .filter(|&s| (4..=super::MAX_SLOTS).contains(&s))
            .ok_or(PirError::BadSetup("slot count outside 4..=2^28"))?;
        let cols = u32_at(16) as usize;
        if cols == 0 || cols > MAX_COLS || !cols.is_power_of_two() {
            return Err(PirError::BadSetup(
                "column count is not a power of two ≤ 2^21",
            ));
        }
        let mut seed = Seed([0; 32]);
        seed.0.copy_from_slice(&b[20..52]);
        let mut salt = Salt([0; 32]);
        salt.0.copy_from_slice(&b[52..84]);
        let stash_count = u32_at(84) as usize;
        if stash_count > MAX_STASH {
            return Err(PirError::BadSetup("stash larger than 16 entries"));
        }
        let elen = entry_len(max_record_len);
        let expected = Self::FIXED_LEN + stash_count * elen;
        if b.len() != expected {
            return Err(PirError::BadMessage {
                what: "setup",
                len: b.len(),
                expected,
            });
        }
        let stash = b[Self::FIXED_LEN..]
            .chunks_exact(elen)
            .map(<[u8]>::to_vec)
            .collect();
        Ok(Self {
            suite,
            aead,
            max_record_len,
            duplicates,
            slots,
            cols,
            seed,
            salt,
            stash,
        })
    }
}

/// Number of [`step::HINT`] messages for `params`.
pub fn hint_messages(params: &Params) -> usize {
    params.rows().div_ceil(HINT_CHUNK_ROWS)
}

/// Bytes of hint message `i` (`4·n` per row; the last message holds the remaining rows).
pub fn hint_message_len(params: &Params, i: usize) -> usize {
    let start = i * HINT_CHUNK_ROWS;
    params.rows().saturating_sub(start).min(HINT_CHUNK_ROWS) * LWE_N * 4
}

/// Encodes the hint rows of message `i`.
pub fn encode_hint_chunk(words: &[u32], i: usize) -> Vec<u8> {
    let row = LWE_N;
    let start = (i * HINT_CHUNK_ROWS * row).min(words.len());
    let end = ((i + 1) * HINT_CHUNK_ROWS * row).min(words.len());
    words[start..end]
        .iter()
        .flat_map(|w| w.to_le_bytes())
        .collect()
}

/// Decodes hint message `i` of `params` onto `out`, checking its exact length.
///
/// # Errors
///
/// [`PirError::BadMessage`].
pub fn decode_hint_chunk(
    params: &Params,
    i: usize,
    b: &[u8],
    out: &mut Vec<u32>,
) -> Result<(), PirError> {
    let expected = hint_message_len(params, i);
    if b.len() != expected {
        return Err(PirError::BadMessage {
            what: "hint chunk",
            len: b.len(),
            expected,
        });
    }
    out.extend(
        b.chunks_exact(4)
            .map(|w| u32::from_le_bytes([w[0], w[1], w[2], w[3]])),
    );
    Ok(())
}

/// Largest [`step::BLINDED`] payload for elements of `ne` bytes.
pub const fn max_blinded_len(ne: usize) -> usize {
    4 + MAX_KEYS * ne
}

/// Encodes a [`step::BLINDED`] payload.
pub fn encode_blinded(count: usize, elements: &[u8]) -> Vec<u8> {
    // count ≤ MAX_KEYS (checked by the client role).
    let mut v = u32::try_from(count).unwrap_or(0).to_le_bytes().to_vec();
    v.extend_from_slice(elements);
    v
}

/// Decodes a [`step::BLINDED`] payload into `(count, elements)`: `count ≤` [`MAX_KEYS`] and
/// exactly `count · ne` element bytes (the elements themselves are validated when evaluated).
///
/// # Errors
///
/// [`PirError::BadMessage`], [`PirError::TooManyKeys`].
pub fn decode_blinded(b: &[u8], ne: usize) -> Result<(usize, &[u8]), PirError> {
    let Some((count, rest)) = b.split_first_chunk::<4>() else {
        return Err(PirError::BadMessage {
            what: "blinded batch",
            len: b.len(),
            expected: 4,
        });
    };
    let count = u32::from_le_bytes(*count) as usize;
    if count > MAX_KEYS {
        return Err(PirError::TooManyKeys {
            got: count,
            max: MAX_KEYS,
        });
    }
    if rest.len() != count * ne {
        return Err(PirError::BadMessage {
            what: "blinded elements",
            len: rest.len(),
            expected: count * ne,
        });
    }
    Ok((count, rest))
}

/// Items of `item_bytes` each per [`step::QUERY`] / [`step::ANSWER`] message: as many as fit in
/// [`BATCH_MESSAGE_BYTES`], at least one.
pub fn per_message(item_bytes: usize) -> usize {
    (BATCH_MESSAGE_BYTES / item_bytes.max(1)).max(1)
}

/// Number of items in message `i` of `total` items, `per` per message.
pub fn items_in_message(total: usize, per: usize, i: usize) -> usize {
    total.saturating_sub(i * per).min(per)
}

/// Decodes a [`step::QUERY`] message of exactly `count` queries for `params`.
///
/// # Errors
///
/// [`PirError::BadMessage`].
pub fn decode_queries(params: &Params, count: usize, b: &[u8]) -> Result<Vec<Query>, PirError> {
    let qb = params.query_bytes();
    if b.len() != count * qb {
        return Err(PirError::BadMessage {
            what: "query chunk",
            len: b.len(),
            expected: count * qb,
        });
    }
    b.chunks_exact(qb)
        .map(|q| Query::from_bytes(params, q))
        .collect()
}

/// Decodes a [`step::ANSWER`] message of exactly `count` answers for `params`.
///
/// # Errors
///
/// [`PirError::BadMessage`].
pub fn decode_answers(params: &Params, count: usize, b: &[u8]) -> Result<Vec<Answer>, PirError> {
    let ab = params.answer_bytes();
    if b.len() != count * ab {
        return Err(PirError::BadMessage {
            what: "answer chunk",
            len: b.len(),
            expected: count * ab,
        });
    }
    b.chunks_exact(ab)
        .map(|a| Answer::from_bytes(params, a))
        .collect()
}

/// Fuzzing entry point: runs every decoder of partner bytes on `data` (the first byte selects
/// the decoder). Must never panic.
#[doc(hidden)]
pub fn fuzz_decode(data: &[u8]) {
    let Some((&sel, rest)) = data.split_first() else {
        return;
    };
    let Ok(params) = Params::with_columns(40, 20, 8) else {
        return;
    };
    match sel % 8 {
        0 => drop(Setup::decode(rest).and_then(|s| s.params())),
        1 => drop(decode_hint_chunk(&params, 0, rest, &mut Vec::new())),
        2 => drop(decode_blinded(rest, 32)),
        3 => drop(decode_blinded(rest, 33)),
        4 => drop(decode_queries(&params, rest.len() / 32, rest)),
        5 => drop(decode_answers(&params, 2, rest)),
        // Blinded and evaluated elements are decoded one by one as RFC 9497 DeserializeElement.
        6 => rest.chunks(32).for_each(|e| {
            drop(EvaluatedElement::<unseen_crypto::Ristretto255>::from_bytes(
                e,
            ));
        }),
        _ => rest.chunks(33).for_each(|e| {
            drop(BlindedElement::<unseen_crypto::Sm2>::from_bytes(e));
        }),
    }
}
