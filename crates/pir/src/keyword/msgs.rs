//! Wire messages of keyword PIR (protocol [`PROTOCOL_ID`], version [`VERSION`]) and their
//! bounded decoders.
//!
//! | step | direction | payload |
//! |---|---|---|
//! | [`step::HELLO`] | C → S | [`Hello`]: mode, the version of the hint the client holds |
//! | [`step::SETUP`] | S → C | [`Setup`]: parameters, seed of `A`, salt, table id and epoch, metadata, stash, which hint follows |
//! | [`step::HINT`] | S → C | rows of the hint `H`, [`HINT_CHUNK_ROWS`] per message (`4·n` bytes a row) |
//! | [`step::HINT_ROWS`] | S → C | changed rows: `row: u32 LE ‖ 4·n bytes` each, [`HINT_CHUNK_ROWS`] per message, increasing |
//! | [`step::BLINDED`] | C → S | `count: u32 LE` then `count · Ne` bytes; `count = 0` ends the session |
//! | [`step::EVALUATED`] | S → C | `count · Ne` bytes |
//! | [`step::QUERY`] | C → S | SimplePIR queries, `4·m` bytes each, [`per_message`] per message |
//! | [`step::ANSWER`] | S → C | SimplePIR answers, `4·ℓ` bytes each, [`per_message`] per message |
//! | [`step::BUCKETS`] | C → S | bucket-revealing mode: `count: u32 LE` then `count` groups of buckets, `u32 LE` each |
//! | [`step::BUCKET`] | S → C | bucket-revealing mode: one group's `m/g` buckets of `C` sealed slots |
//!
//! The receiver knows every length from the setup and the batch's `count` before it reads a
//! payload, and passes it to the channel as the step's maximum; the decoders then read through
//! [`unseen_channel::codec::Reader`], which checks the exact length (so trailing bytes are
//! refused) before anything is allocated.

use unseen_channel::Header;
use unseen_channel::codec::{Reader, Writer};
use unseen_crypto::CurveId;
use unseen_crypto::aead::AeadAlg;
use unseen_crypto::oprf::{BlindedElement, EvaluatedElement};

use super::{
    MAX_DUPLICATES, MAX_KEYS, MAX_METADATA, MAX_RECORD_LEN, MAX_SLOTS, MAX_STASH, Salt, entry_len,
};
use crate::params::{LWE_N, MAX_COLS};
use crate::{Answer, Params, PirError, Query, Seed};

/// Protocol identifier of keyword PIR in frame headers (ECDH-PSI is `0x0001`).
pub const PROTOCOL_ID: u16 = 0x0002;
/// Version of the message formats (2: buckets as columns, hello, hint versions).
pub const VERSION: u8 = 2;

/// Hint rows per [`step::HINT`] or [`step::HINT_ROWS`] message: 1024 rows of `n = 1024` words,
/// 4 MiB.
pub const HINT_CHUNK_ROWS: usize = 1024;

/// Largest payload of a [`step::QUERY`] or [`step::ANSWER`] message (several queries or answers
/// share a message up to this size; one alone may be larger, up to the channel's 64 MiB).
pub const BATCH_MESSAGE_BYTES: usize = 4 << 20;

/// Step numbers.
pub mod step {
    /// Client → server: [`super::Hello`].
    pub const HELLO: u8 = 0x01;
    /// Server → client: [`super::Setup`].
    pub const SETUP: u8 = 0x02;
    /// Server → client: rows of the hint, all of them.
    pub const HINT: u8 = 0x03;
    /// Server → client: the rows of the hint that changed since the client's version.
    pub const HINT_ROWS: u8 = 0x04;
    /// Client → server: blinded OPRF elements of a batch of keys.
    pub const BLINDED: u8 = 0x05;
    /// Server → client: evaluated OPRF elements.
    pub const EVALUATED: u8 = 0x06;
    /// Client → server: SimplePIR queries.
    pub const QUERY: u8 = 0x07;
    /// Server → client: SimplePIR answers.
    pub const ANSWER: u8 = 0x08;
    /// Client → server: the buckets of a batch, in the clear (bucket-revealing mode).
    pub const BUCKETS: u8 = 0x09;
    /// Server → client: one bucket's sealed slots (bucket-revealing mode).
    pub const BUCKET: u8 = 0x0a;
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

/// The client's first message. Public: it names no key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Hello {
    /// Whether the client will reveal its keys' buckets (no hint then).
    pub reveal_bucket: bool,
    /// In the bucket-revealing mode, the fewest keys a revealed group of buckets must hold.
    pub min_keys: u32,
    /// The table id and epoch of the hint the client holds, if any.
    pub cached: Option<([u8; 16], u64)>,
}

impl Hello {
    /// Encoded length: mode, has-cache flag, table id, epoch, fewest keys.
    pub const LEN: usize = 30;

    /// Encodes.
    pub fn encode(&self) -> Vec<u8> {
        let (id, epoch) = self.cached.unwrap_or(([0; 16], 0));
        let mut w = Writer::with_capacity(Self::LEN);
        w.u8(u8::from(self.reveal_bucket))
            .u8(u8::from(self.cached.is_some()))
            .bytes(&id)
            .u64(epoch)
            .u32(self.min_keys);
        w.into_vec()
    }

    /// Decodes.
    ///
    /// # Errors
    ///
    /// [`PirError::BadMessage`] for a wrong length, [`PirError::BadHello`] for a flag out of
    /// range.
    pub fn decode(b: &[u8]) -> Result<Self, PirError> {
        let (reveal, cache, id, epoch, min_keys) = Reader::read_all(b, "hello", |r| {
            // The whole fixed length first: a short hello is reported against all 30 bytes.
            let mut r = r.sub(Self::LEN, "hello")?;
            Ok::<_, PirError>((r.u8()?, r.u8()?, r.array::<16>()?, r.u64()?, r.u32()?))
        })?;
        let flag = |x: u8| match x {
            0 => Ok(false),
            1 => Ok(true),
            _ => Err(PirError::BadHello("flag other than 0 or 1")),
        };
        let reveal_bucket = flag(reveal)?;
        let has_cache = flag(cache)?;
        Ok(Self {
            reveal_bucket,
            min_keys,
            cached: has_cache.then_some((id, epoch)),
        })
    }
}

/// Which hint follows the setup.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HintPlan {
    /// None: the client's copy is current, or it reveals buckets and needs no hint.
    None,
    /// The whole hint, [`hint_messages`] messages of [`step::HINT`].
    Full,
    /// This many changed rows, in [`step::HINT_ROWS`] messages.
    Rows(usize),
}

/// The server's setup: everything the client needs besides the hint. Public.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Setup {
    /// OPRF suite (its group).
    pub suite: CurveId,
    /// AEAD of the records.
    pub aead: AeadAlg,
    /// Records per key, `1..=`[`MAX_DUPLICATES`].
    pub duplicates: u8,
    /// Which hint follows.
    pub hint: HintPlan,
    /// Records are padded to this length.
    pub max_record_len: usize,
    /// Buckets `m` (SimplePIR columns).
    pub buckets: usize,
    /// Slots per bucket `C`.
    pub bucket_capacity: usize,
    /// Seed of SimplePIR's `A`.
    pub seed: Seed,
    /// The table's salt.
    pub salt: Salt,
    /// The table's id (new for every build).
    pub table_id: [u8; 16],
    /// The table's version.
    pub epoch: u64,
    /// Groups the buckets form in the bucket-revealing mode (`g` divides `m`; bucket `b` is in
    /// group `b mod g`); `m` in the private mode.
    pub reveal_groups: usize,
    /// Fewest keys in a group (what the bucket-revealing mode hides a key among).
    pub min_group_keys: u32,
    /// Public metadata (e.g. the record's column names), at most [`MAX_METADATA`] bytes.
    pub metadata: Vec<u8>,
    /// Sealed stash entries, each [`entry_len`] bytes.
    pub stash: Vec<Vec<u8>>,
}

impl Setup {
    /// Bytes before the metadata and the stash: suite, aead, duplicates, hint kind (1 each),
    /// max record length, buckets, bucket capacity, changed hint rows (u32 each), seed (32),
    /// salt (32), table id (16), epoch (u64), groups, smallest group (u32 each), metadata length
    /// (u32), stash count (u32), all little-endian.
    pub const FIXED_LEN: usize = 124;

    /// Largest setup a client with record limit `max_record_len` accepts.
    pub fn max_len(max_record_len: usize) -> usize {
        Self::FIXED_LEN + MAX_METADATA + MAX_STASH * entry_len(max_record_len.min(MAX_RECORD_LEN))
    }

    /// Slots `T = m·C`.
    pub fn slots(&self) -> usize {
        self.buckets * self.bucket_capacity
    }

    /// The SimplePIR parameters the setup describes.
    ///
    /// # Errors
    ///
    /// [`PirError::BadSetup`] if no valid matrix has this shape.
    pub fn params(&self) -> Result<Params, PirError> {
        Params::with_columns(self.slots(), entry_len(self.max_record_len), self.buckets)
            .map_err(|_| PirError::BadSetup("no SimplePIR matrix has the announced shape"))
    }

    /// Encodes.
    pub fn encode(&self) -> Vec<u8> {
        let elen = entry_len(self.max_record_len);
        let mut w =
            Writer::with_capacity(Self::FIXED_LEN + self.metadata.len() + self.stash.len() * elen);
        // Every length is bounded by MAX_RECORD_LEN, MAX_COLS, MAX_SLOTS, MAX_METADATA and
        // MAX_STASH, so u32 holds it.
        let (kind, rows) = match self.hint {
            HintPlan::None => (0u8, 0),
            HintPlan::Full => (1, 0),
            HintPlan::Rows(n) => (2, n),
        };
        w.u8(self.suite.code())
            .u8(aead_code(self.aead))
            .u8(self.duplicates)
            .u8(kind)
            .len_u32(self.max_record_len)
            .len_u32(self.buckets)
            .len_u32(self.bucket_capacity)
            .len_u32(rows)
            .bytes(&self.seed.0)
            .bytes(&self.salt.0)
            .bytes(&self.table_id)
            .u64(self.epoch)
            .len_u32(self.reveal_groups)
            .u32(self.min_group_keys)
            .len_u32(self.metadata.len())
            .len_u32(self.stash.len())
            .bytes(&self.metadata);
        for e in &self.stash {
            w.bytes(e);
        }
        w.into_vec()
    }

    /// Decodes and checks every range (not yet the agreement with the client's own suite, AEAD
    /// and limits: see the client role). The metadata and stash lengths are checked against the
    /// announced counts before anything is allocated.
    ///
    /// # Errors
    ///
    /// [`PirError::BadMessage`] for a wrong length, [`PirError::BadSetup`] for a value out of
    /// range.
    pub fn decode(b: &[u8]) -> Result<Self, PirError> {
        let mut r = Reader::new(b, "setup");
        // The fixed part as a whole first: a short setup is reported against all of it.
        let mut f = r.sub(Self::FIXED_LEN, "setup")?;
        let (suite, aead, duplicates, kind) = (f.u8()?, f.u8()?, f.u8()?, f.u8()?);
        let max_record_len = f.u32()? as usize;
        let buckets = f.u32()? as usize;
        let bucket_capacity = f.u32()? as usize;
        let rows = f.u32()? as usize;
        let seed = Seed(f.array()?);
        let salt = Salt(f.array()?);
        let table_id = f.array::<16>()?;
        let epoch = f.u64()?;
        let reveal_groups = f.u32()? as usize;
        let min_group_keys = f.u32()?;
        let meta_len = f.u32()? as usize;
        let stash_count = f.u32()? as usize;
        f.expect_empty()?;
        let suite = CurveId::from_code(suite).ok_or(PirError::BadSetup("unknown OPRF suite"))?;
        let aead = aead_from_code(aead).ok_or(PirError::BadSetup("unknown AEAD"))?;
        if duplicates == 0 || usize::from(duplicates) > MAX_DUPLICATES {
            return Err(PirError::BadSetup("records per key outside 1..=16"));
        }
        let hint = match kind {
            0 => HintPlan::None,
            1 => HintPlan::Full,
            2 => HintPlan::Rows(rows),
            _ => return Err(PirError::BadSetup("unknown hint kind")),
        };
        if !matches!(hint, HintPlan::Rows(_)) && rows != 0 {
            return Err(PirError::BadSetup(
                "changed rows announced without a row update",
            ));
        }
        if max_record_len > MAX_RECORD_LEN {
            return Err(PirError::BadSetup("record length above 65535"));
        }
        if buckets == 0 || buckets > MAX_COLS {
            return Err(PirError::BadSetup("bucket count outside 1..=2^21"));
        }
        if bucket_capacity == 0 || buckets.saturating_mul(bucket_capacity) > MAX_SLOTS {
            return Err(PirError::BadSetup("slot count outside 1..=2^28"));
        }
        if reveal_groups == 0 || !buckets.is_multiple_of(reveal_groups) {
            return Err(PirError::BadSetup("groups do not divide the buckets"));
        }
        if meta_len > MAX_METADATA {
            return Err(PirError::BadSetup("metadata longer than 64 KiB"));
        }
        if stash_count > MAX_STASH {
            return Err(PirError::BadSetup("stash larger than 256 entries"));
        }
        let elen = entry_len(max_record_len);
        // Both counts are bounded above, so the variable part is at most
        // MAX_METADATA + MAX_STASH · entry_len(MAX_RECORD_LEN) bytes; taken as a whole, a wrong
        // length is reported against the whole setup.
        let mut v = r.sub(meta_len + stash_count * elen, "setup")?;
        r.expect_empty()?;
        let metadata = v.take(meta_len)?.to_vec();
        let stash = v
            .take_items(stash_count, elen)?
            .chunks_exact(elen)
            .map(<[u8]>::to_vec)
            .collect();
        Ok(Self {
            suite,
            aead,
            duplicates,
            hint,
            max_record_len,
            buckets,
            bucket_capacity,
            seed,
            salt,
            table_id,
            epoch,
            reveal_groups,
            min_group_keys,
            metadata,
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
    let b = Reader::read_all(b, "hint chunk", |r| r.take(expected))?;
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
    let mut w = Writer::with_capacity(4 + elements.len());
    w.u32(u32::try_from(count).unwrap_or(0)).bytes(elements);
    w.into_vec()
}

/// Decodes a [`step::BLINDED`] payload into `(count, elements)`: `count ≤` [`MAX_KEYS`] and
/// exactly `count · ne` element bytes (the elements themselves are validated when evaluated).
///
/// # Errors
///
/// [`PirError::BadMessage`], [`PirError::TooManyKeys`].
pub fn decode_blinded(b: &[u8], ne: usize) -> Result<(usize, &[u8]), PirError> {
    let mut r = Reader::new(b, "blinded batch");
    let count = r.u32()? as usize;
    if count > MAX_KEYS {
        return Err(PirError::TooManyKeys {
            got: count,
            max: MAX_KEYS,
        });
    }
    let elements = Reader::read_all(r.rest(), "blinded elements", |e| e.take_items(count, ne))?;
    Ok((count, elements))
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
    let b = Reader::read_all(b, "query chunk", |r| r.take_items(count, qb))?;
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
    let b = Reader::read_all(b, "answer chunk", |r| r.take_items(count, ab))?;
    b.chunks_exact(ab)
        .map(|a| Answer::from_bytes(params, a))
        .collect()
}

/// Number of [`step::HINT_ROWS`] messages for `rows` changed rows.
pub fn hint_rows_messages(rows: usize) -> usize {
    rows.div_ceil(HINT_CHUNK_ROWS)
}

/// Bytes of [`step::HINT_ROWS`] message `i` of `rows` changed rows.
pub fn hint_rows_message_len(rows: usize, i: usize) -> usize {
    rows.saturating_sub(i * HINT_CHUNK_ROWS)
        .min(HINT_CHUNK_ROWS)
        * (4 + LWE_N * 4)
}

/// Encodes message `i` of the changed `rows` (increasing) of the hint `words`.
pub fn encode_hint_rows(words: &[u32], rows: &[usize], i: usize) -> Vec<u8> {
    let start = (i * HINT_CHUNK_ROWS).min(rows.len());
    let end = ((i + 1) * HINT_CHUNK_ROWS).min(rows.len());
    let mut v = Writer::with_capacity((end - start) * (4 + LWE_N * 4));
    for &r in &rows[start..end] {
        // r < ℓ ≤ 2^28 rows.
        v.len_u32(r);
        for &w in &words[r * LWE_N..(r + 1) * LWE_N] {
            v.u32(w);
        }
    }
    v.into_vec()
}

/// Decodes a [`step::HINT_ROWS`] message: exactly `count` rows, each index `< rows_total`
/// and greater than `after` and than the previous one. Calls `apply(row, words)` per row;
/// returns the last row index.
///
/// # Errors
///
/// [`PirError::BadMessage`], [`PirError::BadHintRow`].
pub fn decode_hint_rows(
    b: &[u8],
    count: usize,
    rows_total: usize,
    after: Option<usize>,
    mut apply: impl FnMut(usize, &[u32]) -> Result<(), PirError>,
) -> Result<Option<usize>, PirError> {
    let item = 4 + LWE_N * 4;
    let b = Reader::read_all(b, "hint rows", |r| r.take_items(count, item))?;
    let mut last = after;
    let mut words = vec![0u32; LWE_N];
    let mut rd = Reader::new(b, "hint rows");
    while rd.any_left() {
        let r = rd.u32()? as usize;
        if r >= rows_total || last.is_some_and(|l| r <= l) {
            return Err(PirError::BadHintRow { row: r });
        }
        for (w, c) in words
            .iter_mut()
            .zip(rd.take_items(LWE_N, 4)?.chunks_exact(4))
        {
            *w = u32::from_le_bytes([c[0], c[1], c[2], c[3]]);
        }
        apply(r, &words)?;
        last = Some(r);
    }
    Ok(last)
}

/// Encodes a [`step::BUCKETS`] payload.
pub fn encode_buckets(buckets: &[u32]) -> Vec<u8> {
    // At most MAX_KEYS buckets.
    let mut w = Writer::with_capacity(4 + 4 * buckets.len());
    w.u32(u32::try_from(buckets.len()).unwrap_or(0));
    for &b in buckets {
        w.u32(b);
    }
    w.into_vec()
}

/// Largest [`step::BUCKETS`] payload.
pub const fn max_buckets_len() -> usize {
    4 + 4 * MAX_KEYS
}

/// Decodes a [`step::BUCKETS`] payload: exactly `count` groups, each `< buckets` (the number of
/// groups).
///
/// # Errors
///
/// [`PirError::BadMessage`], [`PirError::CountMismatch`], [`PirError::IndexOutOfRange`].
pub fn decode_buckets(b: &[u8], count: usize, buckets: usize) -> Result<Vec<usize>, PirError> {
    let groups = Reader::read_all(b, "buckets", |r| {
        let n = r.u32()? as usize;
        if n != count {
            return Err(PirError::CountMismatch {
                what: "buckets",
                got: n,
                expected: count,
            });
        }
        Ok(r.take_items(count, 4)?)
    })?;
    groups
        .chunks_exact(4)
        .map(|c| {
            let x = u32::from_le_bytes([c[0], c[1], c[2], c[3]]) as usize;
            if x < buckets {
                Ok(x)
            } else {
                Err(PirError::IndexOutOfRange {
                    index: x,
                    records: buckets,
                })
            }
        })
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
    match sel % 11 {
        0 => drop(Setup::decode(rest).and_then(|s| s.params())),
        1 => drop(decode_hint_chunk(&params, 0, rest, &mut Vec::new())),
        2 => drop(decode_blinded(rest, 32)),
        3 => drop(decode_blinded(rest, 33)),
        4 => drop(decode_queries(&params, rest.len() / 32, rest)),
        5 => drop(decode_answers(&params, 2, rest)),
        6 => drop(Hello::decode(rest)),
        7 => drop(decode_hint_rows(rest, 2, 10, None, |_, _| Ok(()))),
        8 => drop(decode_buckets(rest, rest.len().saturating_sub(4) / 4, 100)),
        // Blinded and evaluated elements are decoded one by one as RFC 9497 DeserializeElement.
        9 => rest.chunks(32).for_each(|e| {
            drop(EvaluatedElement::<unseen_crypto::Ristretto255>::from_bytes(
                e,
            ));
        }),
        _ => rest.chunks(33).for_each(|e| {
            drop(BlindedElement::<unseen_crypto::Sm2>::from_bytes(e));
        }),
    }
}
