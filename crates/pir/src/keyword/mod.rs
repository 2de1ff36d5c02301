//! Keyword PIR (DESIGN.md §4.3): a client looks up records by key in a server's table without
//! the server learning which keys it asked for, and learns nothing about records whose key it
//! does not hold. `docs/protocols/keyword-pir.md` has the design with its sources.
//!
//! Offline the server computes `y = OPRF.Evaluate(skS, key)` (RFC 9497) for every key, derives
//! from `y` a record key, a nonce and `h` = [`HASHES`] cuckoo positions ([`derive`]), places the
//! records in a cuckoo table with a stash ([`cuckoo`]) and seals each with an AEAD; the table is
//! a SimplePIR database. Online the client obtains `y` for its keys by a blinded OPRF evaluation,
//! fetches the `h` candidate slots (per duplicate) with SimplePIR and opens them with the keys
//! derived from `y`.

mod client;
pub mod cuckoo;
pub mod derive;
mod driver;
pub mod msgs;
mod server;

pub use client::{BlindState, ClientConfig, HintReceiver, KeywordClient, KeywordSession, PirState};
pub use driver::{ClientOutput, ServerReport, lookup, receive_setup, run_client, run_server};
pub use server::{BUILD_ATTEMPTS, KeywordServer, TableConfig};

/// Cuckoo hash functions `h`: every record may sit in one of 3 slots.
pub const HASHES: usize = 3;

/// Most records one key may have. Record `d` of a key is its own cuckoo item, derived with the
/// duplicate index `d`; a client fetches `h · duplicates` slots per key, where `duplicates ≤ 4`
/// is the table's announced maximum.
pub const MAX_DUPLICATES: usize = 4;

/// The table's 32-byte salt: fresh for every build, public (sent in the setup), mixed into every
/// derivation so that a rebuilt table uses fresh record keys, nonces and positions.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Salt(pub [u8; 32]);

/// Most keys in one batch: `64 · h · MAX_DUPLICATES = 768` SimplePIR queries, within
/// [`crate::MAX_BATCH`].
pub const MAX_KEYS: usize = 64;

/// Longest record (its length travels in two bytes inside the sealed entry).
pub const MAX_RECORD_LEN: usize = 0xffff;

/// Most cuckoo slots a table may have (2^28: far above the 1.3·2^20 of the target size).
pub const MAX_SLOTS: usize = 1 << 28;

/// Bytes of one sealed entry for records of up to `max_record_len` bytes: the two-byte length,
/// the padded record and the AEAD tag.
pub fn entry_len(max_record_len: usize) -> usize {
    2 + max_record_len + unseen_crypto::aead::TAG_LEN
}

/// `I2OSP(len(record), 2) ‖ record ‖ 0…0`, `2 + max_record_len` bytes; the caller has checked
/// `record.len() ≤ max_record_len ≤ 65535`.
pub(crate) fn pad_record(record: &[u8], max_record_len: usize) -> zeroize::Zeroizing<Vec<u8>> {
    let mut pt = zeroize::Zeroizing::new(vec![0u8; 2 + max_record_len]);
    let len = u16::try_from(record.len()).unwrap_or(u16::MAX);
    pt[..2].copy_from_slice(&len.to_be_bytes());
    pt[2..2 + record.len()].copy_from_slice(record);
    pt
}

/// Inverse of [`pad_record`], for an entry that authenticated: the length must fit and the
/// padding be zero, or the server sealed something malformed.
pub(crate) fn unpad_record(pt: &[u8], max_record_len: usize) -> Result<Vec<u8>, crate::PirError> {
    let Some((len, rest)) = pt.split_first_chunk::<2>() else {
        return Err(crate::PirError::BadRecord(
            "entry shorter than its length field",
        ));
    };
    let len = usize::from(u16::from_be_bytes(*len));
    if len > max_record_len || rest.len() != max_record_len {
        return Err(crate::PirError::BadRecord(
            "record length beyond the announced maximum",
        ));
    }
    if rest[len..].iter().any(|&b| b != 0) {
        return Err(crate::PirError::BadRecord("non-zero padding"));
    }
    Ok(rest[..len].to_vec())
}

/// Associated data of the entry at table index `index` (slots `0..T`, then the stash `T..`):
/// binds each entry to where it was placed.
pub(crate) fn slot_aad(index: u64) -> [u8; 28] {
    let mut aad = [0u8; 28];
    aad[..20].copy_from_slice(b"unseen-kwpir-v1 slot");
    aad[20..].copy_from_slice(&index.to_le_bytes());
    aad
}
