//! The server's table on disk (so a node reloads it on restart and patches it in place) and the
//! client's cached hint (so the one-time download happens once per table version).
//!
//! Both are little-endian binary files written to `<path>.tmp` and renamed into place, so a
//! crash never leaves a half-written file; the table file holds the OPRF key and is created with
//! mode 0600. Readers check every count against the crate's limits and the file's actual size
//! before allocating, so a corrupt file gives [`PirError::Storage`], never a panic or a huge
//! allocation.
//!
//! Table file (`UNSEEN-KWPIR-T`, version 2): suite, AEAD, duplicates (1 byte each, then 1 zero
//! byte); max record length, buckets `m`, bucket capacity `C`, next seal counter (u32 each);
//! salt (32), seed of `A` (32), table id (16), epoch (u64) — the first [`HEADER_LEN`] bytes,
//! read alone by [`stored_version`] — then the OPRF key (u32 length, bytes), the metadata (u32
//! length, bytes), the stash (u32 count, entries, one used-flag byte each), the `T` slots, one
//! used-flag byte per slot, the key count of each bucket (u32), the epoch of each hint row
//! (u64), the hint (`ℓ·n` u32), and the index (u64 count; per key: 16-byte index key, 16-byte
//! digest, bucket u32, slot count u8, slots u32).
//!
//! Hint cache (`UNSEEN-KWPIR-H`, version 2): suite (1 byte, 3 zero bytes), table id (16),
//! epoch (u64), seed (32), records (u64), record length (u32), columns (u32), then the hint.

use std::collections::HashMap;
use std::fs::File;
use std::io::{BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use unseen_crypto::CurveId;
use unseen_crypto::oprf::{OprfSuite, ServerKey};

use super::msgs::{aead_code, aead_from_code};
use super::server::{IndexEntry, KeywordServer, TableConfig};
use super::table::Layout;
use super::{MAX_DUPLICATES, MAX_METADATA, MAX_RECORD_LEN, MAX_SLOTS, MAX_STASH, Salt, entry_len};
use crate::params::{LWE_N, MAX_COLS};
use crate::{Database, Hint, Params, PirError, Seed};

const TABLE_MAGIC: &[u8; 16] = b"UNSEEN-KWPIR-T\x00\x02";
const HINT_MAGIC: &[u8; 16] = b"UNSEEN-KWPIR-H\x00\x02";
/// Bytes of the table file's fixed header.
pub(crate) const HEADER_LEN: usize = 16 + 4 + 16 + 32 + 32 + 16 + 8;

fn storage(path: &Path, what: &str, e: impl std::fmt::Display) -> PirError {
    PirError::Storage(format!("{}: {what}: {e}", path.display()))
}

/// The version of a stored table, read from its header alone.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StoredVersion {
    /// OPRF suite of the table.
    pub suite: CurveId,
    /// The table's id (new for every build).
    pub table_id: [u8; 16],
    /// The table's epoch (incremented by every update).
    pub epoch: u64,
}

/// Reads only the header of a stored table: which suite it uses (to load it with the right
/// type) and its version (to tell whether a loaded copy is current).
///
/// # Errors
///
/// [`PirError::Storage`].
pub fn stored_version(path: &Path) -> Result<StoredVersion, PirError> {
    let mut f = File::open(path).map_err(|e| storage(path, "cannot open", e))?;
    let mut h = [0u8; HEADER_LEN];
    f.read_exact(&mut h)
        .map_err(|e| storage(path, "header", e))?;
    if &h[..16] != TABLE_MAGIC {
        return Err(storage(
            path,
            "header",
            "not a keyword-PIR table of version 2",
        ));
    }
    let suite =
        CurveId::from_code(h[16]).ok_or_else(|| storage(path, "header", "unknown suite"))?;
    let mut table_id = [0u8; 16];
    table_id.copy_from_slice(&h[100..116]);
    let mut e = [0u8; 8];
    e.copy_from_slice(&h[116..124]);
    Ok(StoredVersion {
        suite,
        table_id,
        epoch: u64::from_le_bytes(e),
    })
}

/// Writes through a temporary file renamed into place.
struct AtomicFile {
    tmp: PathBuf,
    path: PathBuf,
    w: BufWriter<File>,
}

impl AtomicFile {
    fn create(path: &Path) -> Result<Self, PirError> {
        let mut name = path.as_os_str().to_owned();
        name.push(".tmp");
        let tmp = PathBuf::from(name);
        let mut o = std::fs::OpenOptions::new();
        o.write(true).create(true).truncate(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            o.mode(0o600);
        }
        let f = o
            .open(&tmp)
            .map_err(|e| storage(&tmp, "cannot create", e))?;
        Ok(Self {
            tmp,
            path: path.to_owned(),
            w: BufWriter::with_capacity(1 << 20, f),
        })
    }

    fn put(&mut self, b: &[u8]) -> Result<(), PirError> {
        self.w
            .write_all(b)
            .map_err(|e| storage(&self.tmp, "write", e))
    }

    fn u32(&mut self, x: usize) -> Result<(), PirError> {
        let x = u32::try_from(x).map_err(|_| PirError::Internal("stored count beyond u32"))?;
        self.put(&x.to_le_bytes())
    }

    fn words(&mut self, words: &[u32]) -> Result<(), PirError> {
        let mut buf = Vec::with_capacity(1 << 16);
        for chunk in words.chunks(1 << 14) {
            buf.clear();
            for w in chunk {
                buf.extend_from_slice(&w.to_le_bytes());
            }
            self.put(&buf)?;
        }
        Ok(())
    }

    fn commit(self) -> Result<(), PirError> {
        let f = self
            .w
            .into_inner()
            .map_err(|e| storage(&self.tmp, "write", e.error()))?;
        f.sync_all().map_err(|e| storage(&self.tmp, "sync", e))?;
        drop(f);
        std::fs::rename(&self.tmp, &self.path).map_err(|e| storage(&self.path, "rename", e))
    }
}

/// Reads a file whose every count is checked against what is left of it.
struct Reader<'p> {
    path: &'p Path,
    r: BufReader<File>,
    left: u64,
}

impl<'p> Reader<'p> {
    fn open(path: &'p Path) -> Result<Self, PirError> {
        let f = File::open(path).map_err(|e| storage(path, "cannot open", e))?;
        let left = f
            .metadata()
            .map_err(|e| storage(path, "cannot stat", e))?
            .len();
        Ok(Self {
            path,
            r: BufReader::with_capacity(1 << 20, f),
            left,
        })
    }

    fn bytes(&mut self, n: usize, what: &str) -> Result<Vec<u8>, PirError> {
        if n as u64 > self.left {
            return Err(storage(
                self.path,
                what,
                "file is shorter than it announces",
            ));
        }
        let mut v = vec![0u8; n];
        self.r
            .read_exact(&mut v)
            .map_err(|e| storage(self.path, what, e))?;
        self.left -= n as u64;
        Ok(v)
    }

    fn array<const N: usize>(&mut self, what: &str) -> Result<[u8; N], PirError> {
        let v = self.bytes(N, what)?;
        let mut a = [0u8; N];
        a.copy_from_slice(&v);
        Ok(a)
    }

    fn u32(&mut self, what: &str) -> Result<usize, PirError> {
        Ok(u32::from_le_bytes(self.array(what)?) as usize)
    }

    fn u64(&mut self, what: &str) -> Result<u64, PirError> {
        Ok(u64::from_le_bytes(self.array(what)?))
    }

    fn words(&mut self, n: usize, what: &str) -> Result<Vec<u32>, PirError> {
        let b = self.bytes(
            n.checked_mul(4)
                .ok_or_else(|| storage(self.path, what, "size"))?,
            what,
        )?;
        Ok(b.chunks_exact(4)
            .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect())
    }

    fn flags(&mut self, n: usize, what: &str) -> Result<Vec<bool>, PirError> {
        self.bytes(n, what)?
            .into_iter()
            .map(|b| match b {
                0 => Ok(false),
                1 => Ok(true),
                _ => Err(storage(self.path, what, "flag other than 0 or 1")),
            })
            .collect()
    }

    fn bad(&self, what: &str, why: &str) -> PirError {
        storage(self.path, what, why)
    }

    fn end(self) -> Result<(), PirError> {
        if self.left != 0 {
            return Err(storage(self.path, "end", "trailing bytes"));
        }
        Ok(())
    }
}

impl<S: OprfSuite> KeywordServer<S> {
    /// Saves the table (with its OPRF key: the file is created with mode 0600) to `path`,
    /// atomically.
    ///
    /// # Errors
    ///
    /// [`PirError::Storage`].
    pub fn save(&self, path: &Path) -> Result<(), PirError> {
        let mut f = AtomicFile::create(path)?;
        f.put(TABLE_MAGIC)?;
        f.put(&[
            S::ID.code(),
            aead_code(self.config.aead),
            self.config.duplicates,
            0,
        ])?;
        f.u32(self.config.max_record_len)?;
        f.u32(self.layout.buckets)?;
        f.u32(self.layout.capacity)?;
        f.put(&self.counter.to_le_bytes())?;
        f.put(&self.salt.0)?;
        f.put(&self.seed.0)?;
        f.put(&self.table_id)?;
        f.put(&self.epoch.to_le_bytes())?;
        let key = self.key.to_secret_bytes();
        f.u32(key.len())?;
        f.put(&key)?;
        f.u32(self.metadata.len())?;
        f.put(&self.metadata)?;
        f.u32(self.stash_used.len())?;
        f.put(&self.stash)?;
        f.put(
            &self
                .stash_used
                .iter()
                .map(|&u| u8::from(u))
                .collect::<Vec<_>>(),
        )?;
        f.put(&self.entries)?;
        f.put(&self.used.iter().map(|&u| u8::from(u)).collect::<Vec<_>>())?;
        f.words(&self.bucket_keys)?;
        let mut buf = Vec::with_capacity(self.row_epoch.len() * 8);
        for e in &self.row_epoch {
            buf.extend_from_slice(&e.to_le_bytes());
        }
        f.put(&buf)?;
        f.words(self.hint.words())?;
        f.put(&(self.index.len() as u64).to_le_bytes())?;
        let mut buf = Vec::with_capacity(1 << 16);
        for (ik, e) in &self.index {
            buf.extend_from_slice(ik);
            buf.extend_from_slice(&e.digest);
            buf.extend_from_slice(&e.bucket.to_le_bytes());
            // At most MAX_DUPLICATES slots per key.
            buf.push(u8::try_from(e.slots.len()).unwrap_or(u8::MAX));
            for s in &e.slots {
                buf.extend_from_slice(&s.to_le_bytes());
            }
            if buf.len() >= 1 << 16 {
                f.put(&buf)?;
                buf.clear();
            }
        }
        f.put(&buf)?;
        f.commit()
    }

    /// Loads a table saved by [`KeywordServer::save`]; `D` is laid out again from the stored
    /// slots, the hint is read as stored.
    ///
    /// # Errors
    ///
    /// [`PirError::Storage`] for a missing, truncated or corrupt file or one of another suite.
    pub fn load(path: &Path) -> Result<Self, PirError> {
        let mut r = Reader::open(path)?;
        if &r.array::<16>("header")? != TABLE_MAGIC {
            return Err(r.bad("header", "not a keyword-PIR table of version 2"));
        }
        let [suite, aead, duplicates, _] = r.array::<4>("header")?;
        if suite != S::ID.code() {
            return Err(r.bad("header", "the table uses another OPRF suite"));
        }
        let aead = aead_from_code(aead).ok_or_else(|| r.bad("header", "unknown AEAD"))?;
        if duplicates == 0 || usize::from(duplicates) > MAX_DUPLICATES {
            return Err(r.bad("header", "records per key out of range"));
        }
        let max_record_len = r.u32("header")?;
        let buckets = r.u32("header")?;
        let capacity = r.u32("header")?;
        if max_record_len > MAX_RECORD_LEN
            || buckets == 0
            || buckets > MAX_COLS
            || capacity == 0
            || buckets.saturating_mul(capacity) > MAX_SLOTS
        {
            return Err(r.bad("header", "shape out of range"));
        }
        let counter = u32::from_le_bytes(r.array("header")?);
        let salt = Salt(r.array("header")?);
        let seed = Seed(r.array("header")?);
        let table_id = r.array::<16>("header")?;
        let epoch = r.u64("header")?;
        let key_len = r.u32("key")?;
        if key_len > 64 {
            return Err(r.bad("key", "longer than a scalar"));
        }
        let key_bytes = zeroize::Zeroizing::new(r.bytes(key_len, "key")?);
        let key =
            ServerKey::<S>::from_bytes(&key_bytes).map_err(|e| r.bad("key", &e.to_string()))?;
        let meta_len = r.u32("metadata")?;
        if meta_len > MAX_METADATA {
            return Err(r.bad("metadata", "longer than 64 KiB"));
        }
        let metadata = r.bytes(meta_len, "metadata")?;
        let config = TableConfig {
            aead,
            max_record_len,
            duplicates,
        };
        let layout = Layout { buckets, capacity };
        let params = layout
            .params(max_record_len)
            .map_err(|e| r.bad("header", &e.to_string()))?;
        let elen = entry_len(max_record_len);
        let stash_count = r.u32("stash")?;
        if stash_count > MAX_STASH {
            return Err(r.bad("stash", "more than 256 entries"));
        }
        let stash = r.bytes(stash_count * elen, "stash")?;
        let stash_used = r.flags(stash_count, "stash")?;
        let slots = layout.slots();
        let entries = r.bytes(slots * elen, "slots")?;
        let used = r.flags(slots, "slots")?;
        let bucket_keys = r.words(buckets, "buckets")?;
        let rows = params.rows();
        let row_epoch: Vec<u64> = r
            .bytes(rows * 8, "row epochs")?
            .chunks_exact(8)
            .map(|c| u64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]))
            .collect();
        let hint = Hint::from_words(&params, r.words(params.hint_len(), "hint")?)?;
        let count = r.u64("index")?;
        if count > (slots + stash_count) as u64 {
            return Err(r.bad("index", "more keys than slots"));
        }
        // count ≤ slots + stash, a usize.
        let mut index = HashMap::with_capacity(usize::try_from(count).unwrap_or(0));
        for _ in 0..count {
            let ik = r.array::<16>("index")?;
            let digest = r.array::<16>("index")?;
            let bucket = u32::from_le_bytes(r.array("index")?);
            let [n] = r.array::<1>("index")?;
            if usize::from(n) > usize::from(duplicates) || bucket as usize >= buckets {
                return Err(r.bad("index", "entry out of range"));
            }
            let slots_of_key = (0..n)
                .map(|_| {
                    let s = u32::from_le_bytes(r.array("index")?);
                    if s as usize >= slots + stash_count {
                        return Err(r.bad("index", "slot out of range"));
                    }
                    Ok(s)
                })
                .collect::<Result<Vec<_>, _>>()?;
            index.insert(
                ik,
                IndexEntry {
                    digest,
                    bucket,
                    slots: slots_of_key,
                },
            );
        }
        r.end()?;
        let refs: Vec<&[u8]> = entries.chunks_exact(elen).collect();
        let db = Database::from_records(params, &seed, &refs)?;
        drop(refs);
        Ok(Self {
            key,
            config,
            layout,
            salt,
            seed,
            table_id,
            epoch,
            counter,
            metadata,
            entries,
            used,
            stash,
            stash_used,
            bucket_keys,
            index,
            db,
            hint,
            row_epoch,
        })
    }
}

/// A client's copy of a table's hint, kept between sessions: with it, a session downloads only
/// the hint rows that changed since (or nothing).
#[derive(Clone, PartialEq, Eq)]
pub struct HintCache {
    pub(crate) suite: CurveId,
    pub(crate) table_id: [u8; 16],
    pub(crate) epoch: u64,
    pub(crate) seed: Seed,
    pub(crate) params: Params,
    pub(crate) hint: Hint,
}

impl std::fmt::Debug for HintCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HintCache")
            .field("suite", &self.suite)
            .field("table_id", &hex_id(&self.table_id))
            .field("epoch", &self.epoch)
            .finish_non_exhaustive()
    }
}

fn hex_id(id: &[u8; 16]) -> String {
    id.iter().map(|b| format!("{b:02x}")).collect()
}

impl HintCache {
    /// The table version this hint belongs to.
    pub fn version(&self) -> ([u8; 16], u64) {
        (self.table_id, self.epoch)
    }

    /// Bytes of the hint.
    pub fn hint_bytes(&self) -> usize {
        self.hint.words().len() * 4
    }

    /// Saves the cache to `path`, atomically.
    ///
    /// # Errors
    ///
    /// [`PirError::Storage`].
    pub fn save(&self, path: &Path) -> Result<(), PirError> {
        let mut f = AtomicFile::create(path)?;
        f.put(HINT_MAGIC)?;
        f.put(&[self.suite.code(), 0, 0, 0])?;
        f.put(&self.table_id)?;
        f.put(&self.epoch.to_le_bytes())?;
        f.put(&self.seed.0)?;
        f.put(&(self.params.records() as u64).to_le_bytes())?;
        f.u32(self.params.record_len())?;
        f.u32(self.params.cols())?;
        f.words(self.hint.words())?;
        f.commit()
    }

    /// Loads a cache saved by [`HintCache::save`]; `Ok(None)` if there is no file.
    ///
    /// # Errors
    ///
    /// [`PirError::Storage`] for an unreadable or corrupt file (the caller may delete it and go
    /// on without a cache).
    pub fn load(path: &Path) -> Result<Option<Self>, PirError> {
        if !path.exists() {
            return Ok(None);
        }
        let mut r = Reader::open(path)?;
        if &r.array::<16>("header")? != HINT_MAGIC {
            return Err(r.bad("header", "not a keyword-PIR hint cache of version 2"));
        }
        let [suite, ..] = r.array::<4>("header")?;
        let suite = CurveId::from_code(suite).ok_or_else(|| r.bad("header", "unknown suite"))?;
        let table_id = r.array::<16>("header")?;
        let epoch = r.u64("header")?;
        let seed = Seed(r.array("header")?);
        let records = usize::try_from(r.u64("header")?)
            .ok()
            .filter(|&n| n <= MAX_SLOTS)
            .ok_or_else(|| r.bad("header", "record count out of range"))?;
        let record_len = r.u32("header")?;
        let cols = r.u32("header")?;
        if record_len > entry_len(MAX_RECORD_LEN) {
            return Err(r.bad("header", "record length out of range"));
        }
        let params = Params::with_columns(records, record_len, cols)
            .map_err(|e| r.bad("header", &e.to_string()))?;
        if params.hint_len() as u64 * 4 != r.left {
            return Err(r.bad("hint", "size does not match the parameters"));
        }
        let hint = Hint::from_words(&params, r.words(params.hint_len(), "hint")?)?;
        r.end()?;
        debug_assert_eq!(hint.words().len(), params.rows() * LWE_N);
        Ok(Some(Self {
            suite,
            table_id,
            epoch,
            seed,
            params,
            hint,
        }))
    }
}
