//! Keyword PIR (DESIGN.md §4.3): a client looks up records by key in a server's table without
//! the server learning which keys it asked for, and cannot open records whose key it did not
//! look up. `docs/protocols/keyword-pir.md` has the design with its sources, sizes and
//! measurements.
//!
//! Keyword PIR from index PIR by hashing into buckets (Chor–Gilboa–Naor 1997; Ali et al., USENIX
//! Security 2021), with an RFC 9497 OPRF in front (as Google's Password Checkup, USENIX Security
//! 2019) and SimplePIR (Henzinger et al., USENIX Security 2023) as the index PIR. A bucket is a
//! whole SimplePIR column, which one query returns entirely, so a key costs **one** PIR query
//! whatever its number of records.
//!
//! 0. **Offline, server** ([`KeywordServer::build`]): `y = OPRF.Evaluate(skS, key)` per key; the
//!    record key and the bucket `b(y) < m` are derived from `(salt, y)` ([`mod@derive`]); each
//!    record `d` of the key is sealed, `AEAD.Seal(key, nonce = counter, aad = slot, d ‖ len ‖
//!    record ‖ padding)`, into a free slot of bucket `b(y)` (a column of `C` slots), or into the
//!    stash if the bucket is full; free slots hold random bytes; the slots are a SimplePIR
//!    database whose columns are the buckets.
//! 1. **Hello** (C → S): the mode, and the version of the hint the client already holds.
//! 2. **Setup** (S → C): parameters, seed of `A`, salt, table id and epoch, metadata, stash, then
//!    the hint: all of it, only the rows changed since the client's version, or none.
//! 3. **Blind** (C → S): `blind · HashToGroup(key)` per key, at most [`MAX_KEYS`] per batch.
//! 4. **BlindEvaluate** (S → C): `skS · blindedElement`.
//! 5. **Finalize and query** (C → S): `y`, then one SimplePIR query for column `b(y)` per key.
//! 6. **Answer** (S → C): SimplePIR answers.
//! 7. **Recover and open** (C): the whole column; every slot of it and every stash entry is
//!    tried with the key's record key; those that open are its records, none means absent.
//!
//! The opt-in [`LookupMode::RevealBucket`] replaces steps 5–6 by sending `b(y)` in the clear and
//! receiving the bucket's sealed slots: cheaper (no hint, no PIR), and it **reveals the bucket**,
//! so the server learns that the key is one of the keys of that bucket or absent
//! (k-anonymity with `k` the bucket's number of keys).
//!
//! **What each party learns** (semi-honest). The server: the number of keys in each batch, and
//! nothing else in the private mode — blinded elements are uniform, SimplePIR queries
//! pseudorandom under LWE, and every message size depends only on the batch size and public
//! parameters, for hits and misses alike. The client: the records of the keys it looked up, and
//! the table's public shape (buckets, bucket size, record length, duplicates, stash size, which
//! slots changed between versions); every other entry is an AEAD ciphertext under a key derived
//! from an OPRF output it does not have, and free slots are random. Each OPRF evaluation lets
//! the client test one key: with low-entropy keys (ID numbers) the number of lookups must be
//! limited by policy ([`ServerLimits`]).

pub mod derive;
mod driver;
pub mod msgs;
mod server;
mod session;
mod storage;
mod suite;
mod table;

pub use driver::{
    ClientOutput, HintSent, LookupMode, ServerLimits, ServerReport, lookup, receive_setup,
    run_client, run_server,
};
pub use server::{KeywordServer, SyncReport, TableConfig, TableInfo};
pub use session::{BlindState, ClientConfig, KeywordClient, KeywordSession, PirState};
pub use storage::{HintCache, StoredVersion, stored_version};
pub use suite::{AnyQuery, AnyServer, Stop, aead_for, query_any, run_any_server};

use unseen_crypto::aead::{self, AeadAlg};

/// Most records one key may have (the duplicate index travels in one byte inside the sealed
/// entry; all records of a key share its bucket, so they cost no extra query).
pub const MAX_DUPLICATES: usize = 16;

/// Most keys in one batch (one SimplePIR query each, within [`crate::MAX_BATCH`]).
pub const MAX_KEYS: usize = 64;

/// Longest record (its length travels in two bytes inside the sealed entry).
pub const MAX_RECORD_LEN: usize = 0xffff;

/// Most slots a table may have (2^28: far above the ≈ 1.5·2^20 of the target size).
pub const MAX_SLOTS: usize = 1 << 28;

/// Most stash entries (records whose bucket was full); the stash is sent with every setup.
pub const MAX_STASH: usize = 256;

/// Largest public metadata of a table (e.g. the names of the record's columns).
pub const MAX_METADATA: usize = 64 * 1024;

/// Bytes of an entry's seal counter, sent in the clear before the ciphertext.
pub const COUNTER_LEN: usize = 4;

/// The table's 32-byte salt: fresh for every build, public (sent in the setup), mixed into every
/// derivation so that a rebuilt table uses fresh record keys and buckets.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Salt(pub [u8; 32]);

/// Bytes of one sealed entry for records of up to `max_record_len` bytes: the seal counter, then
/// the AEAD ciphertext of the duplicate index (1 byte), the length (2 bytes) and the padded
/// record, then the tag.
pub const fn entry_len(max_record_len: usize) -> usize {
    COUNTER_LEN + 3 + max_record_len + aead::TAG_LEN
}

/// The AEAD nonce of the seal numbered `counter`: `I2OSP(counter, 12)`. The table's counter
/// never repeats under one salt (a rebuild draws a new salt, hence new record keys), so no
/// (key, nonce) pair is used twice, even when a record is updated in place.
pub(crate) fn nonce(counter: u32) -> [u8; aead::NONCE_LEN] {
    let mut n = [0u8; aead::NONCE_LEN];
    n[aead::NONCE_LEN - 4..].copy_from_slice(&counter.to_be_bytes());
    n
}

/// Associated data of the entry at table index `index` (slots `0..T`, then the stash `T..`):
/// binds each entry to where it was placed.
pub(crate) fn slot_aad(index: u64) -> [u8; 28] {
    let mut aad = [0u8; 28];
    aad[..20].copy_from_slice(b"unseen-kwpir-v2 slot");
    aad[20..].copy_from_slice(&index.to_le_bytes());
    aad
}

/// Seals record `d` of a key into the entry for table index `index`:
/// `counter ‖ AEAD.Seal(key, nonce(counter), slot_aad(index), d ‖ I2OSP(len, 2) ‖ record ‖ 0…0)`.
/// The caller has checked `record.len() ≤ max_record_len ≤ 65535`.
pub(crate) fn seal_entry(
    alg: AeadAlg,
    key: &[u8],
    counter: u32,
    index: u64,
    d: u8,
    record: &[u8],
    max_record_len: usize,
) -> Result<Vec<u8>, crate::PirError> {
    let mut pt = zeroize::Zeroizing::new(vec![0u8; 3 + max_record_len]);
    let len =
        u16::try_from(record.len()).map_err(|_| crate::PirError::Internal("record length"))?;
    pt[0] = d;
    pt[1..3].copy_from_slice(&len.to_be_bytes());
    pt[3..3 + record.len()].copy_from_slice(record);
    let ct = aead::seal(alg, key, &nonce(counter), &slot_aad(index), &pt)
        .map_err(|_| crate::PirError::Internal("aead seal failed"))?;
    let mut e = Vec::with_capacity(entry_len(max_record_len));
    e.extend_from_slice(&counter.to_le_bytes());
    e.extend_from_slice(&ct);
    Ok(e)
}

/// Tries to open the entry at table index `index` with a key's record key: `None` if it is not
/// one of the key's records (another key's, or random), else its duplicate index and record.
pub(crate) fn open_entry(
    alg: AeadAlg,
    key: &[u8],
    index: u64,
    entry: &[u8],
    max_record_len: usize,
) -> Option<Result<(u8, Vec<u8>), crate::PirError>> {
    let (counter, ct) = entry.split_first_chunk::<COUNTER_LEN>()?;
    let counter = u32::from_le_bytes(*counter);
    let pt = aead::open(alg, key, &nonce(counter), &slot_aad(index), ct).ok()?;
    let pt = zeroize::Zeroizing::new(pt);
    Some(unpad(&pt, max_record_len))
}

/// Inverse of the padding in [`seal_entry`], for an entry that authenticated: the length must
/// fit and the padding be zero, or the server sealed something malformed.
fn unpad(pt: &[u8], max_record_len: usize) -> Result<(u8, Vec<u8>), crate::PirError> {
    let Some((&[d, l0, l1], rest)) = pt.split_first_chunk::<3>() else {
        return Err(crate::PirError::BadRecord("entry shorter than its header"));
    };
    let len = usize::from(u16::from_be_bytes([l0, l1]));
    if len > max_record_len || rest.len() != max_record_len {
        return Err(crate::PirError::BadRecord(
            "record length beyond the announced maximum",
        ));
    }
    if rest[len..].iter().any(|&b| b != 0) {
        return Err(crate::PirError::BadRecord("non-zero padding"));
    }
    Ok((d, rest[..len].to_vec()))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)] // tests

    use super::*;

    #[test]
    fn entries_round_trip_and_bind_key_slot_and_counter() {
        let key = [3u8; 32];
        let e = seal_entry(AeadAlg::Aes256Gcm, &key, 7, 42, 2, b"abc", 5).unwrap();
        assert_eq!(e.len(), entry_len(5));
        let (d, r) = open_entry(AeadAlg::Aes256Gcm, &key, 42, &e, 5)
            .unwrap()
            .unwrap();
        assert_eq!((d, r.as_slice()), (2, &b"abc"[..]));
        // Another slot, another key, a changed counter or a flipped bit: not ours.
        assert!(open_entry(AeadAlg::Aes256Gcm, &key, 43, &e, 5).is_none());
        assert!(open_entry(AeadAlg::Aes256Gcm, &[4u8; 32], 42, &e, 5).is_none());
        let mut c = e.clone();
        c[0] ^= 1;
        assert!(open_entry(AeadAlg::Aes256Gcm, &key, 42, &c, 5).is_none());
        let mut c = e.clone();
        c[10] ^= 1;
        assert!(open_entry(AeadAlg::Aes256Gcm, &key, 42, &c, 5).is_none());
        // SM4-GCM, empty record.
        let k16 = [9u8; 16];
        let e = seal_entry(AeadAlg::Sm4Gcm, &k16, 0, 0, 0, b"", 0).unwrap();
        let (d, r) = open_entry(AeadAlg::Sm4Gcm, &k16, 0, &e, 0)
            .unwrap()
            .unwrap();
        assert_eq!((d, r.len()), (0, 0));
        assert_eq!(nonce(0x0102_0304)[8..], [1, 2, 3, 4]);
    }
}
