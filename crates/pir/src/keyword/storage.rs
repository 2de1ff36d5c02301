//! The server's table on disk (so a node reloads it on restart and patches it in place) and the
//! client's cached hint (so the one-time download happens once per table version).
//!
//! Both are little-endian binary formats. They are written to any [`std::io::Write`]
//! ([`KeywordServer::write_to`], [`HintCache::write_to`]) and read from any [`std::io::Read`]
//! ([`KeywordServer::read_from`], [`HintCache::read_from`]); the path wrappers
//! ([`KeywordServer::save`], [`HintCache::save`]) write to `<path>.tmp` and rename it into
//! place, so a crash never leaves a half-written file, and create the table file, which holds
//! the OPRF key, with mode 0600.
//!
//! Reading goes section by section (a table is too large to hold twice in memory): each
//! section's length is checked against the crate's limits, then against the bytes left in the
//! file (or, for a stream of unknown length, read incrementally so that memory follows the bytes
//! that actually arrive), and its fields are decoded with [`unseen_channel::codec::Reader`]; bytes
//! after the end are refused. A corrupt file gives [`PirError::Storage`], never a panic or a huge
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

use unseen_channel::codec::{CodecError, Reader, Writer};
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
/// Bytes of the hint cache's fixed header.
const HINT_HEADER_LEN: usize = 16 + 4 + 16 + 8 + 32 + 8 + 4 + 4;
/// Bytes of the table file's fixed header.
pub(crate) const HEADER_LEN: usize = 16 + 4 + 16 + 32 + 32 + 16 + 8;
/// Bytes of an index entry without its slots: index key, digest, bucket, slot count.
const INDEX_ENTRY_MIN: usize = 16 + 16 + 4 + 1;
/// Longest stored OPRF key (a scalar).
const MAX_KEY_LEN: usize = 64;
/// Bytes buffered between the encoder and the writer, or the reader and the decoder.
const IO_BUFFER: usize = 1 << 20;

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
    let mut r = Reader::new(&h, "header");
    let header = (|| {
        let magic = r.array::<16>()?;
        let suite = r.u8()?;
        // The other codes, the shape and the counter (19 bytes), the salt and the seed are not
        // needed for the version.
        r.take(3 + 16 + 64)?;
        Ok::<_, CodecError>((magic, suite, r.array::<16>()?, r.u64()?))
    })();
    let (magic, suite, table_id, epoch) = header.map_err(|e| storage(path, "header", e))?;
    if &magic != TABLE_MAGIC {
        return Err(storage(
            path,
            "header",
            "not a keyword-PIR table of version 2",
        ));
    }
    let suite =
        CurveId::from_code(suite).ok_or_else(|| storage(path, "header", "unknown suite"))?;
    Ok(StoredVersion {
        suite,
        table_id,
        epoch,
    })
}

/// Writes through a temporary file (mode 0600) renamed into place by [`AtomicFile::commit`].
struct AtomicFile {
    tmp: PathBuf,
    path: PathBuf,
    file: File,
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
        let file = o
            .open(&tmp)
            .map_err(|e| storage(&tmp, "cannot create", e))?;
        Ok(Self {
            tmp,
            path: path.to_owned(),
            file,
        })
    }

    /// Runs `write` on the temporary file; on success syncs it and renames it into place, on
    /// failure removes it.
    fn write(
        path: &Path,
        write: impl FnOnce(&mut File) -> Result<(), PirError>,
    ) -> Result<(), PirError> {
        let mut f = Self::create(path)?;
        let done = write(&mut f.file).map_err(|e| match e {
            PirError::Storage(m) => PirError::Storage(format!("{}: {m}", f.tmp.display())),
            e => e,
        });
        match done {
            Ok(()) => f.commit(),
            Err(e) => {
                drop(f.file);
                // The write already failed; a temporary file left behind is harmless.
                let _ = std::fs::remove_file(&f.tmp);
                Err(e)
            }
        }
    }

    fn commit(self) -> Result<(), PirError> {
        self.file
            .sync_all()
            .map_err(|e| storage(&self.tmp, "sync", e))?;
        drop(self.file);
        std::fs::rename(&self.tmp, &self.path).map_err(|e| storage(&self.path, "rename", e))
    }
}

/// A buffered writer whose errors are [`PirError::Storage`].
struct Sink<W: Write> {
    w: BufWriter<W>,
}

impl<W: Write> Sink<W> {
    fn new(w: W) -> Self {
        Self {
            w: BufWriter::with_capacity(IO_BUFFER, w),
        }
    }

    fn put(&mut self, b: &[u8]) -> Result<(), PirError> {
        self.w
            .write_all(b)
            .map_err(|e| PirError::Storage(format!("write: {e}")))
    }

    /// Little-endian words, a chunk at a time.
    fn words(&mut self, words: &[u32]) -> Result<(), PirError> {
        let mut buf = Writer::with_capacity(1 << 16);
        for chunk in words.chunks(1 << 14) {
            buf.clear();
            for &w in chunk {
                buf.u32(w);
            }
            self.put(buf.as_slice())?;
        }
        Ok(())
    }

    fn finish(mut self) -> Result<(), PirError> {
        self.w
            .flush()
            .map_err(|e| PirError::Storage(format!("write: {e}")))
    }
}

/// A count as the `u32` the formats store (every stored count is bounded far below).
fn len32(x: usize) -> Result<u32, PirError> {
    u32::try_from(x).map_err(|_| PirError::Internal("stored count beyond u32"))
}

/// A stored file read section by section: every section's length is checked against the bytes
/// left before it is read, and the sections are decoded with [`Reader`].
struct Source<R: Read> {
    name: String,
    r: BufReader<R>,
    /// Bytes read so far.
    at: u64,
    /// The file's length, when known (a file); a stream is read incrementally instead.
    len: Option<u64>,
}

impl Source<File> {
    fn open(path: &Path) -> Result<Self, PirError> {
        let f = File::open(path).map_err(|e| storage(path, "cannot open", e))?;
        let len = f
            .metadata()
            .map_err(|e| storage(path, "cannot stat", e))?
            .len();
        Ok(Source::new(f, path.display().to_string(), Some(len)))
    }
}

impl<R: Read> Source<R> {
    fn new(r: R, name: String, len: Option<u64>) -> Self {
        Self {
            name,
            r: BufReader::with_capacity(IO_BUFFER, r),
            at: 0,
            len,
        }
    }

    fn bad(&self, what: &str, why: impl std::fmt::Display) -> PirError {
        PirError::Storage(format!("{}: {what}: {why}", self.name))
    }

    fn codec(&self, e: CodecError) -> PirError {
        PirError::Storage(format!("{}: {e}", self.name))
    }

    fn truncated(&self, what: &'static str, len: u64, end: u64) -> PirError {
        let n = |x: u64| usize::try_from(x).unwrap_or(usize::MAX);
        self.codec(CodecError::Truncated {
            what,
            len: n(len),
            expected: n(end),
        })
    }

    /// The next `n` bytes, which hold `what`. Memory is allocated only for bytes the file has:
    /// checked against its length, or grown as a stream's bytes arrive.
    fn section(&mut self, n: usize, what: &'static str) -> Result<Vec<u8>, PirError> {
        let end = self.at.saturating_add(n as u64);
        if let Some(len) = self.len
            && end > len
        {
            return Err(self.truncated(what, len, end));
        }
        let mut v = Vec::with_capacity(if self.len.is_some() {
            n
        } else {
            n.min(IO_BUFFER)
        });
        let got = (&mut self.r)
            .take(n as u64)
            .read_to_end(&mut v)
            .map_err(|e| self.bad(what, e))?;
        if got != n {
            return Err(self.truncated(what, self.at + got as u64, end));
        }
        self.at = end;
        Ok(v)
    }

    /// Bytes left in a file (`None` for a stream).
    fn left(&self) -> Option<u64> {
        self.len.map(|len| len - self.at)
    }

    /// The next `N` bytes.
    fn array<const N: usize>(&mut self, what: &'static str) -> Result<[u8; N], PirError> {
        let mut a = [0u8; N];
        a.copy_from_slice(&self.section(N, what)?);
        Ok(a)
    }

    /// A `u32` length or count, at most `max`.
    fn len_u32(&mut self, what: &'static str, max: usize) -> Result<usize, PirError> {
        let b = self.array::<4>(what)?;
        Reader::new(&b, what)
            .len_u32(what, max)
            .map_err(|e| self.codec(e))
    }

    /// `n` little-endian `u32`s.
    fn words(&mut self, n: usize, what: &'static str) -> Result<Vec<u32>, PirError> {
        let b = self.section(
            n.checked_mul(4).ok_or_else(|| self.bad(what, "size"))?,
            what,
        )?;
        Ok(b.chunks_exact(4)
            .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect())
    }

    /// `n` flag bytes, each 0 or 1.
    fn flags(&mut self, n: usize, what: &'static str) -> Result<Vec<bool>, PirError> {
        self.section(n, what)?
            .into_iter()
            .map(|b| match b {
                0 => Ok(false),
                1 => Ok(true),
                _ => Err(self.bad(what, "flag other than 0 or 1")),
            })
            .collect()
    }

    /// Refuses bytes after the end.
    fn end(mut self, what: &'static str) -> Result<(), PirError> {
        // A file's length is known; a stream's trailing bytes are counted (without keeping them).
        let len = match self.len {
            Some(len) => len,
            None => {
                let extra = std::io::copy(&mut self.r, &mut std::io::sink())
                    .map_err(|e| self.bad(what, e))?;
                self.at.saturating_add(extra)
            }
        };
        if len != self.at {
            let n = |x: u64| usize::try_from(x).unwrap_or(usize::MAX);
            return Err(self.codec(CodecError::Trailing {
                what,
                len: n(len),
                expected: n(self.at),
            }));
        }
        Ok(())
    }
}

impl<S: OprfSuite> KeywordServer<S> {
    /// Saves the table (with its OPRF key: the file is created with mode 0600) to `path`,
    /// atomically ([`KeywordServer::write_to`] on a temporary file renamed into place).
    ///
    /// # Errors
    ///
    /// [`PirError::Storage`].
    pub fn save(&self, path: &Path) -> Result<(), PirError> {
        AtomicFile::write(path, |f| self.write_to(f))
    }

    /// Writes the table in the table file format to `w` (buffered here). The bytes hold the
    /// OPRF key: the caller keeps them private (see [`KeywordServer::save`]).
    ///
    /// # Errors
    ///
    /// [`PirError::Storage`] if `w` fails.
    pub fn write_to(&self, w: impl Write) -> Result<(), PirError> {
        let mut f = Sink::new(w);
        let mut h = Writer::with_capacity(HEADER_LEN);
        h.bytes(TABLE_MAGIC)
            .u8(S::ID.code())
            .u8(aead_code(self.config.aead))
            .u8(self.config.duplicates)
            .u8(0)
            .u32(len32(self.config.max_record_len)?)
            .u32(len32(self.layout.buckets)?)
            .u32(len32(self.layout.capacity)?)
            .u32(self.counter)
            .bytes(&self.salt.0)
            .bytes(&self.seed.0)
            .bytes(&self.table_id)
            .u64(self.epoch);
        f.put(h.as_slice())?;
        let key = self.key.to_secret_bytes();
        f.put(&len32(key.len())?.to_le_bytes())?;
        f.put(&key)?;
        f.put(&len32(self.metadata.len())?.to_le_bytes())?;
        f.put(&self.metadata)?;
        f.put(&len32(self.stash_used.len())?.to_le_bytes())?;
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
        let mut buf = Writer::with_capacity(self.row_epoch.len() * 8);
        for &e in &self.row_epoch {
            buf.u64(e);
        }
        f.put(buf.as_slice())?;
        f.words(self.hint.words())?;
        f.put(&(self.index.len() as u64).to_le_bytes())?;
        let mut buf = Writer::with_capacity(1 << 16);
        for (ik, e) in &self.index {
            // At most MAX_DUPLICATES slots per key.
            buf.bytes(ik)
                .bytes(&e.digest)
                .u32(e.bucket)
                .len_u8(e.slots.len());
            for &s in &e.slots {
                buf.u32(s);
            }
            if buf.len() >= 1 << 16 {
                f.put(buf.as_slice())?;
                buf.clear();
            }
        }
        f.put(buf.as_slice())?;
        f.finish()
    }

    /// Loads a table saved by [`KeywordServer::save`]; `D` is laid out again from the stored
    /// slots, the hint is read as stored.
    ///
    /// # Errors
    ///
    /// [`PirError::Storage`] for a missing, truncated or corrupt file or one of another suite.
    pub fn load(path: &Path) -> Result<Self, PirError> {
        Self::read(Source::open(path)?)
    }

    /// Reads a table written by [`KeywordServer::write_to`] from `r`, to its end (bytes after
    /// the table are refused).
    ///
    /// # Errors
    ///
    /// [`PirError::Storage`] for a truncated or corrupt table or one of another suite.
    pub fn read_from(r: impl Read) -> Result<Self, PirError> {
        Self::read(Source::new(r, "table".to_owned(), None))
    }

    fn read<R: Read>(mut src: Source<R>) -> Result<Self, PirError> {
        let h = src.section(HEADER_LEN, "header")?;
        let mut r = Reader::new(&h, "header");
        let header = (|| {
            Ok::<_, CodecError>((
                r.array::<16>()?,
                r.array::<4>()?,
                r.u32()? as usize,
                r.u32()? as usize,
                r.u32()? as usize,
                r.u32()?,
                Salt(r.array()?),
                Seed(r.array()?),
                r.array::<16>()?,
                r.u64()?,
            ))
        })();
        let (magic, codes, max_record_len, buckets, capacity, counter, salt, seed, table_id, epoch) =
            header.map_err(|e| src.codec(e))?;
        if &magic != TABLE_MAGIC {
            return Err(src.bad("header", "not a keyword-PIR table of version 2"));
        }
        let [suite, aead, duplicates, _] = codes;
        if suite != S::ID.code() {
            return Err(src.bad("header", "the table uses another OPRF suite"));
        }
        let aead = aead_from_code(aead).ok_or_else(|| src.bad("header", "unknown AEAD"))?;
        if duplicates == 0 || usize::from(duplicates) > MAX_DUPLICATES {
            return Err(src.bad("header", "records per key out of range"));
        }
        if max_record_len > MAX_RECORD_LEN
            || buckets == 0
            || buckets > MAX_COLS
            || capacity == 0
            || buckets.saturating_mul(capacity) > MAX_SLOTS
        {
            return Err(src.bad("header", "shape out of range"));
        }
        let key_len = src.len_u32("key", MAX_KEY_LEN)?;
        let key_bytes = zeroize::Zeroizing::new(src.section(key_len, "key")?);
        let key = ServerKey::<S>::from_bytes(&key_bytes).map_err(|e| src.bad("key", e))?;
        let meta_len = src.len_u32("metadata", MAX_METADATA)?;
        let metadata = src.section(meta_len, "metadata")?;
        let config = TableConfig {
            aead,
            max_record_len,
            duplicates,
        };
        let layout = Layout { buckets, capacity };
        let params = layout
            .params(max_record_len)
            .map_err(|e| src.bad("header", e))?;
        let elen = entry_len(max_record_len);
        let stash_count = src.len_u32("stash", MAX_STASH)?;
        let stash = src.section(stash_count * elen, "stash")?;
        let stash_used = src.flags(stash_count, "stash")?;
        let slots = layout.slots();
        let entries = src.section(slots * elen, "slots")?;
        let used = src.flags(slots, "slots")?;
        let bucket_keys = src.words(buckets, "buckets")?;
        let rows = params.rows();
        let row_epoch: Vec<u64> = src
            .section(rows * 8, "row epochs")?
            .chunks_exact(8)
            .map(|c| u64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]))
            .collect();
        let hint = Hint::from_words(&params, src.words(params.hint_len(), "hint")?)?;
        let count = Reader::new(&src.array::<8>("index")?, "index")
            .len_u64("index entries", slots + stash_count)
            .map_err(|e| src.codec(e))?;
        // Room for the entries the file can hold (37 bytes at least each), not merely for the
        // count it announces; a stream's index grows as its entries arrive.
        let room = src
            .left()
            .map_or(1 << 16, |left| left / INDEX_ENTRY_MIN as u64);
        let mut index = HashMap::with_capacity(count.min(usize::try_from(room).unwrap_or(count)));
        for _ in 0..count {
            let e = src.array::<INDEX_ENTRY_MIN>("index")?;
            let mut r = Reader::new(&e, "index");
            let entry =
                (|| Ok::<_, CodecError>((r.array::<16>()?, r.array::<16>()?, r.u32()?, r.u8()?)))();
            let (ik, digest, bucket, n) = entry.map_err(|e| src.codec(e))?;
            if usize::from(n) > usize::from(duplicates) || bucket as usize >= buckets {
                return Err(src.bad("index", "entry out of range"));
            }
            let b = src.section(4 * usize::from(n), "index")?;
            let slots_of_key = b
                .chunks_exact(4)
                .map(|c| {
                    let s = u32::from_le_bytes([c[0], c[1], c[2], c[3]]);
                    if s as usize >= slots + stash_count {
                        return Err(src.bad("index", "slot out of range"));
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
        src.end("table")?;
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

    /// Saves the cache to `path`, atomically ([`HintCache::write_to`] on a temporary file
    /// renamed into place).
    ///
    /// # Errors
    ///
    /// [`PirError::Storage`].
    pub fn save(&self, path: &Path) -> Result<(), PirError> {
        AtomicFile::write(path, |f| self.write_to(f))
    }

    /// Writes the cache in the hint cache format to `w` (buffered here).
    ///
    /// # Errors
    ///
    /// [`PirError::Storage`] if `w` fails.
    pub fn write_to(&self, w: impl Write) -> Result<(), PirError> {
        let mut f = Sink::new(w);
        let mut h = Writer::with_capacity(HINT_HEADER_LEN);
        h.bytes(HINT_MAGIC)
            .bytes(&[self.suite.code(), 0, 0, 0])
            .bytes(&self.table_id)
            .u64(self.epoch)
            .bytes(&self.seed.0)
            .len_u64(self.params.records())
            .u32(len32(self.params.record_len())?)
            .u32(len32(self.params.cols())?);
        f.put(h.as_slice())?;
        f.words(self.hint.words())?;
        f.finish()
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
        Self::read(Source::open(path)?).map(Some)
    }

    /// Reads a cache written by [`HintCache::write_to`] from `r`, to its end.
    ///
    /// # Errors
    ///
    /// [`PirError::Storage`] for a truncated or corrupt cache.
    pub fn read_from(r: impl Read) -> Result<Self, PirError> {
        Self::read(Source::new(r, "hint cache".to_owned(), None))
    }

    fn read<R: Read>(mut src: Source<R>) -> Result<Self, PirError> {
        let h = src.section(HINT_HEADER_LEN, "header")?;
        let mut r = Reader::new(&h, "header");
        let header = (|| {
            Ok::<_, CodecError>((
                r.array::<16>()?,
                r.array::<4>()?,
                r.array::<16>()?,
                r.u64()?,
                Seed(r.array()?),
                r.len_u64("records", MAX_SLOTS)?,
                r.u32()? as usize,
                r.u32()? as usize,
            ))
        })();
        let (magic, [suite, ..], table_id, epoch, seed, records, record_len, cols) =
            header.map_err(|e| src.codec(e))?;
        if &magic != HINT_MAGIC {
            return Err(src.bad("header", "not a keyword-PIR hint cache of version 2"));
        }
        let suite = CurveId::from_code(suite).ok_or_else(|| src.bad("header", "unknown suite"))?;
        if record_len > entry_len(MAX_RECORD_LEN) {
            return Err(src.bad("header", "record length out of range"));
        }
        let params =
            Params::with_columns(records, record_len, cols).map_err(|e| src.bad("header", e))?;
        let hint = Hint::from_words(&params, src.words(params.hint_len(), "hint")?)?;
        src.end("hint cache")?;
        debug_assert_eq!(hint.words().len(), params.rows() * LWE_N);
        Ok(Self {
            suite,
            table_id,
            epoch,
            seed,
            params,
            hint,
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)] // tests

    use rand_chacha::ChaCha20Rng;
    use rand_core::SeedableRng;
    use unseen_crypto::Ristretto255;
    use unseen_crypto::aead::AeadAlg;

    use super::*;

    /// Every field survives a write and a read, after an update too (row epochs, flags, index).
    #[test]
    fn every_field_round_trips() {
        let mut rng = ChaCha20Rng::seed_from_u64(5);
        let keys: Vec<String> = (0..60).map(|i| format!("key-{i}")).collect();
        let recs: Vec<Vec<u8>> = (0..60u8).map(|i| vec![i; usize::from(i % 9)]).collect();
        let mut pairs: Vec<(&[u8], &[u8])> = keys
            .iter()
            .zip(&recs)
            .map(|(k, r)| (k.as_bytes(), r.as_slice()))
            .collect();
        let key = ServerKey::<Ristretto255>::generate(&mut rng);
        let mut s =
            KeywordServer::build(key, &pairs, TableConfig::new(AeadAlg::Sm4Gcm, 9), &mut rng)
                .unwrap();
        pairs.truncate(50);
        pairs.push((b"new", b"record"));
        s.sync(&pairs, &mut rng).unwrap();
        let mut b = Vec::new();
        s.write_to(&mut b).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t");
        s.save(&path).unwrap();
        for t in [
            KeywordServer::<Ristretto255>::read_from(&b[..]).unwrap(),
            KeywordServer::<Ristretto255>::load(&path).unwrap(),
        ] {
            assert_eq!(*t.key.to_secret_bytes(), *s.key.to_secret_bytes());
            assert_eq!(
                (t.config, t.layout, t.salt.0, t.seed.0, t.table_id),
                (s.config, s.layout, s.salt.0, s.seed.0, s.table_id)
            );
            assert_eq!((t.epoch, t.counter), (s.epoch, s.counter));
            assert_eq!(
                (&t.metadata, &t.entries, &t.used),
                (&s.metadata, &s.entries, &s.used)
            );
            assert_eq!((&t.stash, &t.stash_used), (&s.stash, &s.stash_used));
            assert_eq!(
                (&t.bucket_keys, &t.row_epoch),
                (&s.bucket_keys, &s.row_epoch)
            );
            assert_eq!(t.index, s.index);
            assert!(t.hint == s.hint && t.db.params() == s.db.params());
        }
        assert!(s.row_epoch.contains(&1));
        let v = stored_version(&path).unwrap();
        assert_eq!(
            (v.suite, v.table_id, v.epoch),
            (CurveId::Ristretto255, s.table_id, 1)
        );
    }
}
