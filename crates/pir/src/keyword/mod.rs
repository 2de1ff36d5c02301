//! Keyword PIR (DESIGN.md §4.3): a client looks up records by key in a server's table without
//! the server learning which keys it asked for, and cannot open records whose key it did not
//! look up. `docs/protocols/keyword-pir.md` has the design with its sources, sizes and
//! measurements.
//!
//! Keyword PIR from index PIR by cuckoo hashing (Chor–Gilboa–Naor 1997; Ali et al., USENIX
//! Security 2021), with an RFC 9497 OPRF in front (as Google's Password Checkup, USENIX
//! Security 2019) and SimplePIR (Henzinger et al., USENIX Security 2023) as the index PIR.
//!
//! 0. **Offline, server** ([`KeywordServer::build`]): `y = OPRF.Evaluate(skS, key)` per key;
//!    record `d` of a key is the cuckoo item `(y, d)`, with record key, nonce and `h` =
//!    [`HASHES`] positions derived from `(salt, y, d)` ([`mod@derive`]); items are placed in
//!    `⌈1.3·N⌉` slots with a stash ([`cuckoo`]); every slot holds
//!    `AEAD.Seal(key, nonce, aad = slot, len ‖ record ‖ padding)` or random bytes of the same
//!    length; the slots are a SimplePIR database.
//! 1. **Setup** (S → C, once): parameters, seed of `A`, salt, stash, then the hint
//!    ([`msgs::Setup`], [`receive_setup`]).
//! 2. **Blind** (C → S): `blind · HashToGroup(key)` per key, at most [`MAX_KEYS`] per batch
//!    ([`KeywordSession::blind`]).
//! 3. **BlindEvaluate** (S → C): `skS · blindedElement` ([`KeywordServer::blind_evaluate`]).
//! 4. **Finalize and query** (C → S): `y`, the positions of `(y, d)` for every `d <
//!    duplicates`, one SimplePIR query each: always `K · h · duplicates` queries
//!    ([`KeywordSession::query`]).
//! 5. **Answer** (S → C): SimplePIR answers ([`KeywordServer::answer`]).
//! 6. **Recover and open** (C): each fetched slot and every stash entry is tried with the key
//!    and nonce of `(y, d)`; the one that opens is record `d`, none means absent
//!    ([`KeywordSession::recover`]).
//!
//! **What each party learns** (semi-honest). The server: how many keys each batch holds, nothing
//! else — blinded elements are uniform, SimplePIR queries pseudorandom under LWE, and every
//! message size depends only on the batch size and public parameters, for hits and misses alike.
//! The client: the records of the keys it looked up, and the table's public shape (slots, record
//! length, duplicates, stash size); every other entry is an AEAD ciphertext under a key derived
//! from an OPRF output it does not have, and empty slots are random. Each OPRF evaluation lets
//! the client test one key: with low-entropy keys (ID numbers) the number of lookups must be
//! limited by policy.
//!
//! **Deviations.** The stash goes to the client with the setup instead of through PIR (it would
//! be fetched whole anyway). Keys are normalised by the caller.

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
