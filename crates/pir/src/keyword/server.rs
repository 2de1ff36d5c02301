//! The server: the table's build, its incremental updates and the online steps.
//!
//! Offline ([`KeywordServer::build`]):
//!
//! 1. `y = OPRF.Evaluate(skS, key)` for every distinct key (RFC 9497 §3.3.1), in parallel.
//! 2. With a fresh [`Salt`], the key's bucket `b(y)` and record key ([`derive`]); the `d`-th
//!    record of a key goes to the next free slot of its bucket, or to the stash if the bucket is
//!    full; a stash overflow retries with a new salt, then with larger buckets ([`Layout`]).
//! 3. Each record is sealed with the next value of the table's seal counter as its nonce
//!    ([`super::seal_entry`]); free slots hold random bytes of the same length.
//! 4. The slots are the records of a SimplePIR database with a fresh seed; the hint `H = D·A`.
//!
//! Updates ([`KeywordServer::sync`]): the server keeps, per key, a digest of its records and the
//! slots holding them. A changed key's old slots are overwritten with random bytes and its new
//! records sealed (new counter values) into free slots of its bucket; each changed slot changes
//! `chunks` rows of `D` in one column, and `H` is patched row by row
//! ([`crate::Database::replace`]). Every changed row is stamped with the table's new epoch, so a
//! client holding an older hint downloads only those rows. Large changes rebuild the table.
//!
//! Online: `evaluatedElement = skS · blindedElement` for each key of a batch
//! ([`KeywordServer::blind_evaluate`]), then SimplePIR answers ([`KeywordServer::answer`]) or, in
//! the bucket-revealing mode, a bucket's sealed slots ([`KeywordServer::bucket`]).

use std::collections::HashMap;

use rand_core::CryptoRng;
use rayon::prelude::*;
use sha2::{Digest, Sha256};
use unseen_crypto::aead::AeadAlg;
use unseen_crypto::oprf::{OprfError, OprfSuite, ServerKey};
use zeroize::{Zeroize, Zeroizing};

use super::derive::{bucket, derive, record_key};
use super::table::Layout;
use super::{
    MAX_DUPLICATES, MAX_KEYS, MAX_METADATA, MAX_RECORD_LEN, MAX_STASH, Salt, entry_len, seal_entry,
};
use crate::matrix::PublicMatrix;
use crate::{Answers, Database, Hint, PirError, Query, Seed, Server};

/// Placements tried (each with a fresh salt) before the buckets grow.
const BUILD_ATTEMPTS: usize = 4;
/// Times the buckets grow by 12.5 % before the build gives up.
const GROWTHS: usize = 8;
/// Keys per parallel OPRF task.
const OPRF_TASK: usize = 256;

/// What the server chooses for its table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TableConfig {
    /// AEAD sealing each record (AES-256-GCM by default, SM4-GCM in the 国密 profile).
    pub aead: AeadAlg,
    /// Longest record; every record is padded to it (public).
    pub max_record_len: usize,
    /// Most records per key, `1..=`[`MAX_DUPLICATES`] (public).
    pub duplicates: u8,
}

impl TableConfig {
    /// Unique keys, records up to `max_record_len` bytes, sealed with `aead`.
    pub const fn new(aead: AeadAlg, max_record_len: usize) -> Self {
        Self {
            aead,
            max_record_len,
            duplicates: 1,
        }
    }
}

/// Public facts about a table (what a client sees, plus counts the server's operator wants).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TableInfo {
    /// Random id of this build; a rebuild gets a new one.
    pub table_id: [u8; 16],
    /// Incremented by every [`KeywordServer::sync`] that changed something.
    pub epoch: u64,
    /// Distinct keys.
    pub keys: usize,
    /// Records (a key may have several).
    pub items: usize,
    /// Buckets `m` (SimplePIR columns).
    pub buckets: usize,
    /// Slots per bucket `C`.
    pub bucket_capacity: usize,
    /// Fewest keys in a bucket (the `k` of the bucket-revealing mode).
    pub min_bucket_keys: usize,
    /// Records in the stash.
    pub stash: usize,
    /// Records are padded to this length.
    pub max_record_len: usize,
    /// Most records per key.
    pub duplicates: u8,
    /// AEAD of the records.
    pub aead: AeadAlg,
    /// Bytes of the hint a client downloads once per table version.
    pub hint_bytes: usize,
}

/// What [`KeywordServer::sync`] did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SyncReport {
    /// Keys added.
    pub inserted: usize,
    /// Keys whose records changed.
    pub updated: usize,
    /// Keys removed.
    pub deleted: usize,
    /// Keys left as they were.
    pub unchanged: usize,
    /// Whether the table was rebuilt (new salt, table id and hint) instead of patched.
    pub rebuilt: bool,
    /// Hint rows that changed (all of them after a rebuild).
    pub hint_rows_changed: usize,
}

/// Per key: a digest of its records (to see changes) and the table indices holding them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct IndexEntry {
    pub(crate) digest: [u8; 16],
    /// The key's bucket (its records may all sit in the stash).
    pub(crate) bucket: u32,
    pub(crate) slots: Vec<u32>,
}

/// The keyword-PIR server: the OPRF key and the sealed table as a SimplePIR database with its
/// hint. Nothing secret is printed.
pub struct KeywordServer<S: OprfSuite> {
    pub(crate) key: ServerKey<S>,
    pub(crate) config: TableConfig,
    pub(crate) layout: Layout,
    pub(crate) salt: Salt,
    pub(crate) seed: Seed,
    pub(crate) table_id: [u8; 16],
    pub(crate) epoch: u64,
    /// Next seal counter (the nonce of the next seal).
    pub(crate) counter: u32,
    pub(crate) metadata: Vec<u8>,
    /// `T·E` bytes: slot `i` at `[i·E, (i+1)·E)`.
    pub(crate) entries: Vec<u8>,
    pub(crate) used: Vec<bool>,
    /// Stash entries, `E` bytes each; free ones hold random bytes.
    pub(crate) stash: Vec<u8>,
    pub(crate) stash_used: Vec<bool>,
    /// Distinct keys per bucket.
    pub(crate) bucket_keys: Vec<u32>,
    /// Keyed by [`index_key`].
    pub(crate) index: HashMap<[u8; 16], IndexEntry>,
    pub(crate) db: Database,
    pub(crate) hint: Hint,
    /// The epoch at which each hint row last changed.
    pub(crate) row_epoch: Vec<u64>,
}

impl<S: OprfSuite> std::fmt::Debug for KeywordServer<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeywordServer")
            .field("suite", &S::IDENTIFIER)
            .field("params", self.db.params())
            .field("epoch", &self.epoch)
            .finish_non_exhaustive()
    }
}

/// The input grouped by key: its records in input order.
struct Group<'a> {
    key: &'a [u8],
    records: Vec<&'a [u8]>,
}

/// Where the index finds a key: `SHA-256("unseen-kwpir-v2 index" ‖ key)[..16]` (the stored
/// table holds no key in the clear).
pub(crate) fn index_key(key: &[u8]) -> [u8; 16] {
    let h = Sha256::new()
        .chain_update(b"unseen-kwpir-v2 index")
        .chain_update(key)
        .finalize();
    let mut out = [0u8; 16];
    out.copy_from_slice(&h[..16]);
    out
}

/// Digest of a key's records, length-prefixed, in order.
fn records_digest(records: &[&[u8]]) -> [u8; 16] {
    let mut h = Sha256::new().chain_update(b"unseen-kwpir-v2 records");
    for r in records {
        h.update((r.len() as u64).to_le_bytes());
        h.update(r);
    }
    let d = h.finalize();
    let mut out = [0u8; 16];
    out.copy_from_slice(&d[..16]);
    out
}

fn group<'a>(
    entries: &[(&'a [u8], &'a [u8])],
    c: &TableConfig,
) -> Result<Vec<Group<'a>>, PirError> {
    let mut at = HashMap::<&[u8], usize>::with_capacity(entries.len());
    let mut groups: Vec<Group<'a>> = Vec::new();
    for (i, (k, r)) in entries.iter().enumerate() {
        if r.len() > c.max_record_len {
            return Err(PirError::Config(format!(
                "record {i} is {} bytes, at most {} allowed",
                r.len(),
                c.max_record_len
            )));
        }
        let g = *at.entry(k).or_insert_with(|| {
            groups.push(Group {
                key: k,
                records: Vec::new(),
            });
            groups.len() - 1
        });
        if groups[g].records.len() >= usize::from(c.duplicates) {
            return Err(PirError::Config(format!(
                "key of entry {i} occurs more than {} times",
                c.duplicates
            )));
        }
        groups[g].records.push(r);
    }
    Ok(groups)
}

fn check_config(c: &TableConfig) -> Result<(), PirError> {
    if c.max_record_len > MAX_RECORD_LEN {
        return Err(PirError::Config(format!(
            "records of up to {} bytes, at most {MAX_RECORD_LEN} supported",
            c.max_record_len
        )));
    }
    if c.duplicates == 0 || usize::from(c.duplicates) > MAX_DUPLICATES {
        return Err(PirError::Config(format!(
            "{} records per key, must be 1..={MAX_DUPLICATES}",
            c.duplicates
        )));
    }
    Ok(())
}

/// `y = Evaluate(skS, key)` for every key, in parallel; wiped when dropped.
fn evaluate_all<S: OprfSuite>(
    key: &ServerKey<S>,
    keys: &[&[u8]],
) -> Result<Vec<Zeroizing<Vec<u8>>>, PirError> {
    Ok(keys
        .par_chunks(OPRF_TASK)
        .enumerate()
        .map(|(t, chunk)| {
            key.evaluate_batch(chunk)
                .map(|v| {
                    v.into_iter()
                        .map(|mut y| {
                            let out = Zeroizing::new(y.to_vec());
                            y.as_mut_slice().zeroize();
                            out
                        })
                        .collect::<Vec<_>>()
                })
                .map_err(|e| shift_index(e, t * OPRF_TASK))
        })
        .collect::<Result<Vec<_>, _>>()?
        .into_iter()
        .flatten()
        .collect())
}

fn random_id<R: CryptoRng + ?Sized>(rng: &mut R) -> [u8; 16] {
    let mut id = [0u8; 16];
    rng.fill_bytes(&mut id);
    id
}

/// Index of a table slot as stored (`< T + MAX_STASH ≤ 2^28 + 256`).
fn slot_u32(i: usize) -> Result<u32, PirError> {
    u32::try_from(i).map_err(|_| PirError::Internal("slot index beyond u32"))
}

impl<S: OprfSuite> KeywordServer<S> {
    /// Builds the table of `entries` (`(normalised key, record)` pairs; a key may repeat up to
    /// `config.duplicates` times, its records then come back in input order). `entries` may be
    /// empty.
    ///
    /// # Errors
    ///
    /// [`PirError::Config`] for a record longer than the maximum, a key repeated too often, an
    /// unsupported configuration; [`PirError::Oprf`] for a key the OPRF refuses (over 65535
    /// bytes); [`PirError::Internal`] if no placement fits the stash.
    pub fn build<R: CryptoRng + ?Sized>(
        key: ServerKey<S>,
        entries: &[(&[u8], &[u8])],
        config: TableConfig,
        rng: &mut R,
    ) -> Result<Self, PirError> {
        check_config(&config)?;
        let groups = group(entries, &config)?;
        let layout = Layout::choose(entries.len(), config.max_record_len)?;
        Self::build_groups(key, &groups, config, layout, Vec::new(), rng)
    }

    /// Builds with a given shape (tests force the stash with it).
    #[doc(hidden)]
    pub fn build_with_shape<R: CryptoRng + ?Sized>(
        key: ServerKey<S>,
        entries: &[(&[u8], &[u8])],
        config: TableConfig,
        buckets: usize,
        capacity: usize,
        rng: &mut R,
    ) -> Result<Self, PirError> {
        check_config(&config)?;
        let groups = group(entries, &config)?;
        let layout = Layout { buckets, capacity };
        layout.params(config.max_record_len)?;
        Self::build_groups(key, &groups, config, layout, Vec::new(), rng)
    }

    fn build_groups<R: CryptoRng + ?Sized>(
        key: ServerKey<S>,
        groups: &[Group<'_>],
        config: TableConfig,
        mut layout: Layout,
        metadata: Vec<u8>,
        rng: &mut R,
    ) -> Result<Self, PirError> {
        // 1. y = Evaluate(skS, key) per distinct key.
        let keys: Vec<&[u8]> = groups.iter().map(|g| g.key).collect();
        let ys = evaluate_all(&key, &keys)?;
        let key_len = config.aead.key_len();
        // 2. Place: the d-th record of a key in the next free slot of its bucket, else the
        //    stash; retry with a new salt, then with larger buckets.
        let mut placed = None;
        'grow: for _ in 0..=GROWTHS {
            for _ in 0..BUILD_ATTEMPTS {
                let mut salt = Salt([0; 32]);
                rng.fill_bytes(&mut salt.0);
                let m = layout.buckets;
                let buckets: Vec<usize> = ys
                    .par_iter()
                    .map(|y| bucket::<S::Hash>(y, &salt, m))
                    .collect();
                let mut fill = vec![0usize; layout.buckets];
                let mut stash = 0usize;
                // (group, d, table index) in seal order.
                let mut assigned = Vec::with_capacity(groups.iter().map(|g| g.records.len()).sum());
                for (g, (grp, &b)) in groups.iter().zip(&buckets).enumerate() {
                    for d in 0..grp.records.len() {
                        let index = if fill[b] < layout.capacity {
                            fill[b] += 1;
                            layout.index(b, fill[b] - 1)
                        } else {
                            stash += 1;
                            layout.slots() + stash - 1
                        };
                        assigned.push((g, d, index));
                    }
                }
                if stash <= MAX_STASH {
                    placed = Some((salt, buckets, assigned, stash));
                    break 'grow;
                }
            }
            layout = layout.grown();
            layout.params(config.max_record_len)?;
        }
        let Some((salt, buckets, assigned, stash_len)) = placed else {
            return Err(PirError::Internal(
                "no placement fits the stash, even with larger buckets",
            ));
        };
        let counter_end = u32::try_from(assigned.len())
            .map_err(|_| PirError::Config("more than 2^32 records".into()))?;
        // 3. Seal, counter = seal order.
        let elen = entry_len(config.max_record_len);
        let slots = layout.slots();
        let sealed: Vec<Vec<u8>> = assigned
            .par_iter()
            .enumerate()
            .map(|(counter, &(g, d, index))| {
                let key = record_key::<S::Hash>(&ys[g], &salt, key_len);
                // counter < counter_end ≤ u32::MAX, d < MAX_DUPLICATES.
                let counter = u32::try_from(counter).map_err(|_| PirError::Internal("counter"))?;
                let d8 = u8::try_from(d).map_err(|_| PirError::Internal("duplicate index"))?;
                seal_entry(
                    config.aead,
                    &key,
                    counter,
                    index as u64,
                    d8,
                    groups[g].records[d],
                    config.max_record_len,
                )
            })
            .collect::<Result<_, _>>()?;
        let mut entries = vec![0u8; slots * elen];
        rng.fill_bytes(&mut entries);
        let mut stash = vec![0u8; stash_len * elen];
        let mut used = vec![false; slots];
        let mut index: HashMap<[u8; 16], IndexEntry> = HashMap::with_capacity(groups.len());
        for (&(g, _, i), e) in assigned.iter().zip(&sealed) {
            if i < slots {
                entries[i * elen..(i + 1) * elen].copy_from_slice(e);
                used[i] = true;
            } else {
                let t = i - slots;
                stash[t * elen..(t + 1) * elen].copy_from_slice(e);
            }
            let grp = &groups[g];
            let bucket = slot_u32(buckets[g])?;
            index
                .entry(index_key(grp.key))
                .or_insert_with(|| IndexEntry {
                    digest: records_digest(&grp.records),
                    bucket,
                    slots: Vec::new(),
                })
                .slots
                .push(slot_u32(i)?);
        }
        drop(sealed);
        let mut bucket_keys = vec![0u32; layout.buckets];
        for &b in &buckets {
            bucket_keys[b] += 1;
        }
        // 4. The slots as a SimplePIR database with a fresh seed.
        let params = layout.params(config.max_record_len)?;
        let mut seed = Seed([0; 32]);
        rng.fill_bytes(&mut seed.0);
        let refs: Vec<&[u8]> = entries.chunks_exact(elen.max(1)).take(slots).collect();
        let (db, hint) = Database::build_with(params.clone(), &seed, &refs)?;
        drop(refs);
        Ok(Self {
            key,
            config,
            layout,
            salt,
            seed,
            table_id: random_id(rng),
            epoch: 0,
            counter: counter_end,
            metadata,
            entries,
            used,
            stash,
            stash_used: vec![true; stash_len],
            bucket_keys,
            index,
            db,
            hint,
            row_epoch: vec![0; params.rows()],
        })
    }

    /// Public bytes sent to every client with the setup (e.g. the names of the record's
    /// columns), at most [`MAX_METADATA`].
    ///
    /// # Errors
    ///
    /// [`PirError::Config`] if longer.
    pub fn set_metadata(&mut self, meta: Vec<u8>) -> Result<(), PirError> {
        if meta.len() > MAX_METADATA {
            return Err(PirError::Config(format!(
                "metadata of {} bytes, at most {MAX_METADATA} allowed",
                meta.len()
            )));
        }
        self.metadata = meta;
        Ok(())
    }

    /// The public metadata.
    pub fn metadata(&self) -> &[u8] {
        &self.metadata
    }

    /// The table's configuration.
    pub fn config(&self) -> &TableConfig {
        &self.config
    }

    /// Public facts about the table.
    pub fn info(&self) -> TableInfo {
        TableInfo {
            table_id: self.table_id,
            epoch: self.epoch,
            keys: self.index.len(),
            items: self.index.values().map(|e| e.slots.len()).sum(),
            buckets: self.layout.buckets,
            bucket_capacity: self.layout.capacity,
            min_bucket_keys: self.min_bucket_keys(),
            stash: self.stash_used.iter().filter(|&&u| u).count(),
            max_record_len: self.config.max_record_len,
            duplicates: self.config.duplicates,
            aead: self.config.aead,
            hint_bytes: self.db.params().hint_bytes(),
        }
    }

    pub(crate) fn min_bucket_keys(&self) -> usize {
        self.bucket_keys.iter().copied().min().unwrap_or(0) as usize
    }

    /// The SimplePIR parameters of the table.
    pub fn params(&self) -> &crate::Params {
        self.db.params()
    }

    /// The SimplePIR hint.
    pub fn hint(&self) -> &Hint {
        &self.hint
    }

    /// Hint rows that changed after `epoch`, in increasing order.
    pub(crate) fn rows_changed_since(&self, epoch: u64) -> Vec<usize> {
        (0..self.row_epoch.len())
            .filter(|&r| self.row_epoch[r] > epoch)
            .collect()
    }

    /// Brings the table to exactly `entries`, patching it in place when few keys changed:
    /// removed keys' slots become random bytes, changed and new keys' records are sealed anew
    /// (fresh nonces) into free slots of their bucket, and the hint rows those slots span are
    /// patched. Rebuilds (new salt, table id, hint) when a quarter of the records or more
    /// changed, when a bucket and the stash run out of room, or when the seal counter would
    /// wrap. The metadata is kept.
    ///
    /// # Errors
    ///
    /// As [`KeywordServer::build`]; the table is unchanged when this fails.
    pub fn sync<R: CryptoRng + ?Sized>(
        &mut self,
        entries: &[(&[u8], &[u8])],
        rng: &mut R,
    ) -> Result<SyncReport, PirError> {
        let groups = group(entries, &self.config)?;
        let mut report = SyncReport::default();
        // Classify every key of the new input.
        let mut changed: Vec<usize> = Vec::new(); // groups to (re)insert
        // Index keys whose current slots are freed: updated keys, then removed ones.
        let mut to_free: Vec<[u8; 16]> = Vec::new();
        let mut seen = std::collections::HashSet::with_capacity(groups.len());
        // Hashing every key and its records is most of an update's cost: in parallel.
        let hashed: Vec<([u8; 16], [u8; 16])> = groups
            .par_iter()
            .map(|grp| (index_key(grp.key), records_digest(&grp.records)))
            .collect();
        for (g, &(ik, digest)) in hashed.iter().enumerate() {
            seen.insert(ik);
            match self.index.get(&ik) {
                Some(e) if e.digest == digest => report.unchanged += 1,
                Some(_) => {
                    report.updated += 1;
                    changed.push(g);
                    to_free.push(ik);
                }
                None => {
                    report.inserted += 1;
                    changed.push(g);
                }
            }
        }
        let before = to_free.len();
        to_free.extend(self.index.keys().filter(|k| !seen.contains(*k)).copied());
        report.deleted = to_free.len() - before;
        if report.inserted + report.updated + report.deleted == 0 {
            return Ok(report);
        }
        let new_items: usize = changed.iter().map(|&g| groups[g].records.len()).sum();
        let old_items: usize = self.index.values().map(|e| e.slots.len()).sum();
        let freed_slots: Vec<u32> = to_free
            .iter()
            .filter_map(|k| self.index.get(k))
            .flat_map(|e| e.slots.iter().copied())
            .collect();
        let freed_items = freed_slots.len();
        let total_items: usize = groups.iter().map(|g| g.records.len()).sum();
        let big = (new_items + freed_items) * 4 > old_items.max(64);
        let too_full = total_items > self.layout.slots();
        let counter_ok = u32::try_from(new_items)
            .ok()
            .and_then(|n| self.counter.checked_add(n))
            .is_some();
        if big || too_full || !counter_ok {
            return self.rebuild(&groups, report, rng);
        }
        // OPRF outputs of the keys to (re)insert.
        let keys: Vec<&[u8]> = changed.iter().map(|&g| groups[g].key).collect();
        let ys = evaluate_all(&self.key, &keys)?;
        let key_len = self.config.aead.key_len();
        let m = self.layout.buckets;
        let derived: Vec<_> = ys
            .par_iter()
            .map(|y| derive::<S::Hash>(y, &self.salt, m, key_len))
            .collect();
        // Dry run: does every new record find room after the frees?
        let mut free_rows = vec![0usize; self.layout.buckets];
        for (i, &u) in self.used.iter().enumerate() {
            if !u {
                free_rows[self.layout.bucket_of(i)] += 1;
            }
        }
        let slots = self.layout.slots();
        let mut stash_free =
            self.stash_used.iter().filter(|&&u| !u).count() + (MAX_STASH - self.stash_used.len());
        for &s in &freed_slots {
            let s = s as usize;
            if s < slots {
                free_rows[self.layout.bucket_of(s)] += 1;
            } else {
                stash_free += 1;
            }
        }
        for (&g, der) in changed.iter().zip(&derived) {
            let b = der.bucket;
            for _ in &groups[g].records {
                if free_rows[b] > 0 {
                    free_rows[b] -= 1;
                } else if stash_free > 0 {
                    stash_free -= 1;
                } else {
                    return self.rebuild(&groups, report, rng);
                }
            }
        }
        // Apply.
        self.epoch += 1;
        let epoch = self.epoch;
        let a = PublicMatrix::expand(&self.seed, self.layout.buckets);
        let elen = entry_len(self.config.max_record_len);
        let mut rows_changed = std::collections::BTreeSet::new();
        let mut scratch = vec![0u8; elen];
        // Free the old slots of changed and removed keys.
        for ik in &to_free {
            let Some(e) = self.index.remove(ik) else {
                continue;
            };
            for s in e.slots {
                rng.fill_bytes(&mut scratch);
                self.write_slot(s as usize, &scratch, false, &a, epoch, &mut rows_changed)?;
            }
            let b = e.bucket as usize;
            self.bucket_keys[b] = self.bucket_keys[b].saturating_sub(1);
        }
        // Seal the new records into free slots of their bucket, else the stash.
        for (&g, der) in changed.iter().zip(&derived) {
            let grp = &groups[g];
            let b = der.bucket;
            let mut slots_of_key = Vec::with_capacity(grp.records.len());
            for (d, record) in grp.records.iter().enumerate() {
                let index = match (0..self.layout.capacity)
                    .map(|r| self.layout.index(b, r))
                    .find(|&i| !self.used[i])
                {
                    Some(i) => i,
                    None => match self.stash_used.iter().position(|&u| !u) {
                        Some(t) => slots + t,
                        None => {
                            self.stash.resize(self.stash.len() + elen, 0);
                            self.stash_used.push(false);
                            slots + self.stash_used.len() - 1
                        }
                    },
                };
                let counter = self.counter;
                self.counter += 1;
                let d = u8::try_from(d).map_err(|_| PirError::Internal("duplicate index"))?;
                let e = seal_entry(
                    self.config.aead,
                    &der.key,
                    counter,
                    index as u64,
                    d,
                    record,
                    self.config.max_record_len,
                )?;
                self.write_slot(index, &e, true, &a, epoch, &mut rows_changed)?;
                slots_of_key.push(slot_u32(index)?);
            }
            self.bucket_keys[b] += 1;
            self.index.insert(
                hashed[g].0,
                IndexEntry {
                    digest: hashed[g].1,
                    bucket: slot_u32(b)?,
                    slots: slots_of_key,
                },
            );
        }
        report.hint_rows_changed = rows_changed.len();
        Ok(report)
    }

    /// Writes `entry` at table index `i` (a slot, patching `D` and the hint and stamping the
    /// changed rows, or a stash entry) and marks it used or free.
    fn write_slot(
        &mut self,
        i: usize,
        entry: &[u8],
        used: bool,
        a: &PublicMatrix,
        epoch: u64,
        rows_changed: &mut std::collections::BTreeSet<usize>,
    ) -> Result<(), PirError> {
        let elen = entry.len();
        let slots = self.layout.slots();
        if i < slots {
            self.entries[i * elen..(i + 1) * elen].copy_from_slice(entry);
            self.used[i] = used;
            let rows = self.db.replace(&mut self.hint, a, i, entry)?;
            for r in rows {
                self.row_epoch[r] = epoch;
                rows_changed.insert(r);
            }
        } else {
            let t = i - slots;
            self.stash
                .get_mut(t * elen..(t + 1) * elen)
                .ok_or(PirError::Internal("stash index out of range"))?
                .copy_from_slice(entry);
            self.stash_used[t] = used;
        }
        Ok(())
    }

    /// A fresh build of `groups` with the same OPRF key, configuration and metadata.
    fn rebuild<R: CryptoRng + ?Sized>(
        &mut self,
        groups: &[Group<'_>],
        mut report: SyncReport,
        rng: &mut R,
    ) -> Result<SyncReport, PirError> {
        let key = ServerKey::<S>::from_bytes(&self.key.to_secret_bytes())?;
        let items = groups.iter().map(|g| g.records.len()).sum();
        let layout = Layout::choose(items, self.config.max_record_len)?;
        let fresh =
            Self::build_groups(key, groups, self.config, layout, self.metadata.clone(), rng)?;
        *self = fresh;
        report.rebuilt = true;
        report.hint_rows_changed = self.row_epoch.len();
        Ok(report)
    }

    /// PIR queries per key: one (a bucket is one column).
    pub fn queries_per_key(&self) -> usize {
        1
    }

    /// `BlindEvaluate` for a batch of `count` blinded elements in the wire format (`count · Ne`
    /// bytes), `count ≤` [`MAX_KEYS`]; returns the evaluated elements in the same format.
    ///
    /// # Errors
    ///
    /// [`PirError::TooManyKeys`], [`PirError::BadMessage`], or [`PirError::InvalidElement`] for
    /// an element that does not decode (non-canonical, off the curve, the identity).
    pub fn blind_evaluate(&self, count: usize, blinded: &[u8]) -> Result<Vec<u8>, PirError> {
        if count > MAX_KEYS {
            return Err(PirError::TooManyKeys {
                got: count,
                max: MAX_KEYS,
            });
        }
        let expected = count * S::ENCODED_LEN;
        if blinded.len() != expected {
            return Err(PirError::BadMessage {
                what: "blinded elements",
                len: blinded.len(),
                expected,
            });
        }
        let mut out = vec![0u8; expected];
        self.key
            .blind_evaluate_batch(blinded, &mut out)
            .map_err(|e| match e {
                OprfError::Deserialize { index, reason } => {
                    PirError::InvalidElement { index, reason }
                }
                e => PirError::Oprf(e),
            })?;
        Ok(out)
    }

    /// SimplePIR answers for a batch of queries (one per key).
    ///
    /// # Errors
    ///
    /// As [`Server::answer`].
    pub fn answer(&self, queries: &[Query]) -> Result<Answers, PirError> {
        Server::answer(&self.db, queries)
    }

    /// The finest grouping for the bucket-revealing mode in which every group holds at least
    /// `min_keys` keys: `g` groups (bucket `b` in group `b mod g`; `g` is `m`, or `m` halved
    /// while it stays even, or 1), and the fewest keys in a group.
    pub(crate) fn reveal_groups(&self, min_keys: u32) -> (usize, usize) {
        let m = self.layout.buckets;
        let mut g = m;
        loop {
            let mut per = vec![0usize; g];
            for (b, &k) in self.bucket_keys.iter().enumerate() {
                per[b % g] += k as usize;
            }
            let min = per.iter().copied().min().unwrap_or(0);
            if min >= min_keys as usize || g == 1 {
                return (g, min);
            }
            g = if g.is_multiple_of(2) { g / 2 } else { 1 };
        }
    }

    /// The sealed slots of group `group` of `groups` (its `m/g` buckets in increasing order, `C`
    /// entries each, back to back), for the bucket-revealing mode.
    ///
    /// # Errors
    ///
    /// [`PirError::IndexOutOfRange`] for `group ≥ groups`, [`PirError::Config`] if `groups`
    /// does not divide `m`.
    pub fn group(&self, group: usize, groups: usize) -> Result<Vec<u8>, PirError> {
        let m = self.layout.buckets;
        if groups == 0 || !m.is_multiple_of(groups) {
            return Err(PirError::Config(format!("{groups} groups of {m} buckets")));
        }
        if group >= groups {
            return Err(PirError::IndexOutOfRange {
                index: group,
                records: groups,
            });
        }
        let elen = entry_len(self.config.max_record_len);
        let mut out = Vec::with_capacity(m / groups * self.layout.capacity * elen);
        for b in (group..m).step_by(groups) {
            for r in 0..self.layout.capacity {
                let i = self.layout.index(b, r);
                out.extend_from_slice(&self.entries[i * elen..(i + 1) * elen]);
            }
        }
        Ok(out)
    }
}

/// Moves the index of an OPRF error from a task's chunk to the whole batch.
fn shift_index(e: OprfError, by: usize) -> PirError {
    match e {
        OprfError::InputTooLong { index, len } => PirError::Oprf(OprfError::InputTooLong {
            index: index + by,
            len,
        }),
        OprfError::InvalidInput { index } => {
            PirError::Oprf(OprfError::InvalidInput { index: index + by })
        }
        e => PirError::Oprf(e),
    }
}
