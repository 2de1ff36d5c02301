//! Hidden query (隐匿查询, keyword PIR) in the node: publishing a dataset as a table
//! (`unseen pir publish`), serving queries from it (the responder of a `pir` job), and asking
//! them (`unseen query`, the initiator). Protocol: `docs/protocols/keyword-pir.md`; the job
//! around it: `docs/protocols/node-jobs.md`.
//!
//! Every call into `unseen-pir` is in this module, most of them in [`engine`].
//!
//! **Records.** Each row of a published dataset becomes one record: the values of the dataset's
//! released columns (those registered with `dataset add`, without the key column, which the
//! querier already has) as a compact JSON array of strings, e.g. `["Zhang San","3000"]`
//! ([`encode_record`]). The table's public metadata names the columns, the key type and this
//! format ([`TableMeta`]), so the querier can label what it receives. A key with several rows
//! (`--duplicates K`) has several records, in file order.

use std::collections::HashMap;
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};
use unseen_channel::Channel;
use unseen_data::{DuplicatePolicy, Format, Table};
use unseen_store::{AuditEvent, Dataset, Store};

use crate::job_error::JobError;
use crate::{NodeDir, NodeError, ops};
use unseen_crypto::CurveId as Curve;

pub use engine::{MAX_DUPLICATES, MAX_RECORD_LEN};

/// The record format named in a table's metadata.
pub const RECORD_FORMAT: &str = "unseen-pir-record/1";

/// The job record's dataset on the querier's side: a query's keys file is not a registered
/// dataset (it never leaves the querier), so the job names this instead.
pub const QUERY_DATASET: &str = "query";

/// Most columns a table's metadata may name (as many as a dataset may register).
const MAX_COLUMNS: usize = 4096;

/// A table's public metadata, sent to every querier with the setup (JSON).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TableMeta {
    /// [`RECORD_FORMAT`].
    pub format: String,
    /// How keys were normalised (`id-card`, `phone`, `string`); the querier must use the same.
    pub key_type: String,
    /// The record's columns, in order.
    pub columns: Vec<String>,
}

/// Encodes one record: the values as a JSON array of strings (UTF-8, no spaces).
pub fn encode_record<'a>(values: impl IntoIterator<Item = &'a str>) -> Vec<u8> {
    let v: Vec<&str> = values.into_iter().collect();
    // Serialising a list of strings cannot fail.
    serde_json::to_vec(&v).unwrap_or_default()
}

/// Decodes a record of a table with `columns` columns.
pub fn decode_record(bytes: &[u8], columns: usize) -> Option<Vec<String>> {
    let v: Vec<String> = serde_json::from_slice(bytes).ok()?;
    (v.len() == columns).then_some(v)
}

// --- Publishing -------------------------------------------------------------------------------

/// What `pir publish` is asked to do.
#[derive(Clone, Debug, Default)]
pub struct PublishRequest {
    /// The registered dataset.
    pub dataset: String,
    /// The OPRF group (and so the AEAD); `None`: the existing table's, else ristretto255.
    pub curve: Option<Curve>,
    /// Longest record; `None`: the longest encoded row (or the existing table's, if longer).
    pub max_record_bytes: Option<usize>,
    /// Records per key; `None`: the existing table's, else 1.
    pub duplicates: Option<u8>,
    /// Build a fresh table even if one exists.
    pub rebuild: bool,
}

/// What `pir publish` did.
#[derive(Clone, Debug, Serialize)]
pub struct PublishReport {
    /// The dataset.
    pub dataset: String,
    /// The table file.
    pub path: PathBuf,
    /// Rows read from the dataset (records published).
    pub rows: usize,
    /// Rows skipped for an invalid key (the dataset's `skip_invalid`).
    pub skipped_invalid: u64,
    /// Distinct keys.
    pub keys: usize,
    /// The OPRF group.
    #[serde(with = "crate::kinds::curve_name")]
    pub curve: Curve,
    /// The table's id (hex), new for every fresh build.
    pub table_id: String,
    /// The table's epoch, incremented by every update that changed something.
    pub epoch: u64,
    /// Records are padded to this many bytes.
    pub max_record_len: usize,
    /// Most records per key.
    pub duplicates: u8,
    /// Bytes of the hint a querier downloads once per table version.
    pub hint_bytes: usize,
    /// Why a fresh table was built; `None` if an existing one was updated.
    pub fresh: Option<String>,
    /// Whether the update rebuilt the table anyway (too many changes, no room).
    pub rebuilt: bool,
    /// Keys added (all of them for a fresh build).
    pub inserted: usize,
    /// Keys whose records changed.
    pub updated: usize,
    /// Keys removed.
    pub deleted: usize,
    /// Keys left as they were.
    pub unchanged: usize,
}

/// Where a position in a dataset file is, as `unseen-data` names it.
fn at(path: &Path, format: Format, line: u64) -> String {
    match format {
        Format::Parquet => format!("{}: row {line}", path.display()),
        _ => format!("{}:{line}", path.display()),
    }
}

fn position_name(format: Format) -> &'static str {
    match format {
        Format::Parquet => "row",
        _ => "line",
    }
}

/// Reads a registered dataset with every row (repeated keys kept) and all fields.
fn read_all(d: &Dataset) -> Result<Table, NodeError> {
    let mut opts = ops::read_options(d)?;
    opts.duplicates = DuplicatePolicy::KeepAll;
    opts.keep_fields = true;
    Ok(unseen_data::read_table(Path::new(&d.path), &opts)?)
}

/// Fails on a key with more than `max` rows, naming the first such row and the earlier ones.
fn check_duplicates(path: &Path, t: &Table, max: usize) -> Result<(), NodeError> {
    let format = t.summary.format;
    let mut seen: HashMap<&str, Vec<u64>> = HashMap::with_capacity(t.keys.len());
    for (key, row) in t.keys.iter().zip(&t.rows) {
        let lines = seen.entry(key.as_str()).or_default();
        if lines.len() < max {
            lines.push(row.line());
            continue;
        }
        let pos = position_name(format);
        let here = at(path, format, row.line());
        return Err(NodeError::Invalid(if max == 1 {
            format!(
                "{here}: duplicate key, first seen on {pos} {}; publish several records per key \
                 with --duplicates K (at most {MAX_DUPLICATES})",
                lines[0]
            )
        } else {
            let earlier: Vec<String> = lines.iter().map(u64::to_string).collect();
            format!(
                "{here}: the key has more than {max} rows (also on {pos}s {}); at most {max} \
                 records per key (--duplicates, at most {MAX_DUPLICATES})",
                earlier.join(", ")
            )
        }));
    }
    Ok(())
}

/// Publishes `req.dataset` as a hidden-query table under `dir` (building it, or updating the
/// existing one in place), saves it and audits `pir.published`. `phase` is told what is being
/// done (for a progress display).
pub fn publish(
    dir: &NodeDir,
    store: &mut Store,
    actor: &str,
    req: &PublishRequest,
    phase: &dyn Fn(&'static str),
) -> Result<PublishReport, NodeError> {
    let d = store.dataset(&req.dataset)?.ok_or_else(|| {
        NodeError::Store(unseen_store::StoreError::NotFound {
            what: "dataset",
            name: req.dataset.clone(),
        })
    })?;
    let d = crate::ops::checked_dataset(dir, d)?;
    if let Some(n) = req.duplicates
        && (n == 0 || usize::from(n) > MAX_DUPLICATES)
    {
        return Err(NodeError::Invalid(format!(
            "--duplicates {n}: between 1 and {MAX_DUPLICATES}"
        )));
    }
    if let Some(n) = req.max_record_bytes
        && (n == 0 || n > MAX_RECORD_LEN)
    {
        return Err(NodeError::Invalid(format!(
            "--max-record-bytes {n}: between 1 and {MAX_RECORD_LEN}"
        )));
    }
    phase("reading");
    let path = PathBuf::from(&d.path);
    let table = read_all(&d)?;
    let key_index = table.key_index;
    // The released columns, without the key: found by name in the file as it is now.
    let released: Vec<(String, usize)> = d
        .columns
        .iter()
        .filter(|c| c.trim() != d.key_column.trim())
        .map(|c| {
            table
                .headers
                .iter()
                .position(|h| h.trim() == c.trim())
                .filter(|&i| Some(i) != key_index)
                .map(|i| (c.clone(), i))
                .ok_or_else(|| {
                    NodeError::Invalid(format!(
                        "{}: column {c:?}, registered with dataset {}, is not in the file any \
                         more; register the dataset again",
                        path.display(),
                        d.name
                    ))
                })
        })
        .collect::<Result<_, _>>()?;
    let records: Vec<Vec<u8>> = table
        .rows
        .iter()
        .map(|row| {
            encode_record(
                released
                    .iter()
                    .map(|(_, i)| row.get(*i).unwrap_or_default()),
            )
        })
        .collect();
    let columns: Vec<String> = released.into_iter().map(|(c, _)| c).collect();
    let too_long = |i: usize, limit: usize, what: &str| {
        NodeError::Invalid(format!(
            "{}: the row's released columns ({}) encode to {} bytes, more than {what} {limit}",
            at(&path, table.summary.format, table.rows[i].line()),
            columns.join(", "),
            records[i].len()
        ))
    };
    let longest = records.iter().map(Vec::len).max().unwrap_or(0);
    if let Some(limit) = req.max_record_bytes
        && let Some(i) = records.iter().position(|r| r.len() > limit)
    {
        return Err(too_long(i, limit, "--max-record-bytes"));
    }
    if let Some(i) = records.iter().position(|r| r.len() > MAX_RECORD_LEN) {
        return Err(too_long(i, MAX_RECORD_LEN, "the most a record may hold,"));
    }
    let meta = serde_json::to_vec(&TableMeta {
        format: RECORD_FORMAT.into(),
        key_type: d.key_type.clone(),
        columns: columns.clone(),
    })
    .map_err(|e| NodeError::Internal(format!("cannot encode the table's metadata: {e}")))?;

    let file = dir.pir_table(&d.name);
    let existing = if req.rebuild || !file.exists() {
        None
    } else {
        phase("loading");
        Some(engine::Table::load(&file)?)
    };
    // The parameters: asked for, else the existing table's, else defaults.
    let curve = req
        .curve
        .or(existing.as_ref().map(engine::Table::curve))
        .unwrap_or(Curve::Ristretto255);
    let info = existing.as_ref().map(engine::Table::info);
    let duplicates = req
        .duplicates
        .or(info.as_ref().map(|i| i.duplicates))
        .unwrap_or(1);
    // A record is never empty ("[]"), so at least 2 bytes.
    let max_record_len = req.max_record_bytes.unwrap_or_else(|| {
        let old = info.as_ref().map_or(0, |i| i.max_record_len);
        longest.max(old).max(2)
    });
    check_duplicates(&path, &table, usize::from(duplicates))?;
    let entries: Vec<(&[u8], &[u8])> = table
        .keys
        .iter()
        .zip(&records)
        .map(|(k, r)| (k.as_bytes(), r.as_slice()))
        .collect();

    let mut changes = Vec::new();
    if let (Some(t), Some(i)) = (&existing, &info) {
        if t.curve() != curve {
            changes.push(format!(
                "the curve changes from {} to {}",
                t.curve().name(),
                curve.name()
            ));
        }
        if i.duplicates != duplicates {
            changes.push(format!(
                "records per key change from {} to {duplicates}",
                i.duplicates
            ));
        }
        if i.max_record_len != max_record_len {
            changes.push(format!(
                "the record length changes from {} to {max_record_len} bytes",
                i.max_record_len
            ));
        }
    }
    let (built, fresh, synced) = match existing {
        Some(mut t) if changes.is_empty() => {
            phase("updating");
            t.set_metadata(meta)?;
            let r = t.sync(&entries)?;
            (t, None, Some(r))
        }
        other => {
            let why = if other.is_some() {
                changes.join("; ")
            } else if req.rebuild {
                "--rebuild".to_owned()
            } else {
                "no table yet".to_owned()
            };
            phase("building");
            let t = engine::Table::build(curve, &entries, max_record_len, duplicates, meta)?;
            (t, Some(why), None)
        }
    };
    phase("saving");
    let tables = dir.pir_tables();
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(&tables)
        .map_err(|e| NodeError::io(&tables, e))?;
    built.save(&file)?;
    let info = built.info();
    let report = PublishReport {
        dataset: d.name.clone(),
        path: file,
        rows: table.rows.len(),
        skipped_invalid: table.summary.skipped_invalid,
        keys: info.keys,
        curve,
        table_id: hex::encode(info.table_id),
        epoch: info.epoch,
        max_record_len: info.max_record_len,
        duplicates: info.duplicates,
        hint_bytes: info.hint_bytes,
        fresh,
        rebuilt: synced.is_some_and(|s| s.rebuilt),
        inserted: synced.map_or(info.keys, |s| s.inserted),
        updated: synced.map_or(0, |s| s.updated),
        deleted: synced.map_or(0, |s| s.deleted),
        unchanged: synced.map_or(0, |s| s.unchanged),
    };
    // Counts and versions only: never a key or a row.
    let mut e = AuditEvent::new(actor, "pir.published", "ok");
    e.datasets = vec![d.name.clone()];
    e.params = serde_json::json!({
        "rows": report.rows,
        "keys": report.keys,
        "curve": curve.name(),
        "table_id": report.table_id,
        "epoch": report.epoch,
        "max_record_len": report.max_record_len,
        "duplicates": report.duplicates,
        "fresh": report.fresh,
        "rebuilt": report.rebuilt,
        "inserted": report.inserted,
        "updated": report.updated,
        "deleted": report.deleted,
        "unchanged": report.unchanged,
    });
    store.audit_append(&e)?;
    Ok(report)
}

/// Removes a dataset's published table, if any (with `dataset remove`: the table holds the
/// dataset's rows and its OPRF key).
pub fn remove_table(dir: &NodeDir, dataset: &str) -> Result<bool, NodeError> {
    let file = dir.pir_table(dataset);
    match std::fs::remove_file(&file) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(NodeError::io(&file, e)),
    }
}

// --- Serving ----------------------------------------------------------------------------------

/// Published tables loaded by the daemon, by dataset, so that a query does not pay a full load
/// (about 200 MB at 2^20 rows). Before each job the file's header (table id, epoch) is read
/// again; a changed table is loaded anew, and jobs already running keep the copy they hold.
#[derive(Default)]
pub struct TableCache {
    tables: Mutex<HashMap<String, (engine::Version, SharedTable)>>,
}

impl std::fmt::Debug for TableCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TableCache").finish_non_exhaustive()
    }
}

/// A loaded table, shared by the jobs serving it.
pub type SharedTable = Arc<engine::Table>;

impl TableCache {
    /// The current table of `dataset`: `Ok(None)` if none is published.
    pub fn get(&self, dir: &NodeDir, dataset: &str) -> Result<Option<SharedTable>, String> {
        let file = dir.pir_table(dataset);
        if !file.exists() {
            self.lock().remove(dataset);
            return Ok(None);
        }
        let version = engine::stored_version(&file).map_err(|e| e.to_string())?;
        // Held while loading: two jobs arriving together load the table once.
        let mut tables = self.lock();
        if let Some((v, t)) = tables.get(dataset)
            && *v == version
        {
            return Ok(Some(Arc::clone(t)));
        }
        tables.remove(dataset);
        let t = Arc::new(engine::Table::load(&file).map_err(|e| e.to_string())?);
        // The version of what was loaded (the file may have been replaced since the header
        // was read; then the next job loads again).
        let loaded = t.version();
        tracing::info!(
            dataset,
            epoch = loaded.epoch(),
            "loaded a hidden-query table"
        );
        tables.insert(dataset.to_owned(), (loaded, Arc::clone(&t)));
        Ok(Some(t))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, (engine::Version, SharedTable)>> {
        self.tables
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// Checks a proposal against the table before anything is granted: the curve must be the
/// table's, and the bucket-revealing mode needs a table of at least `k` keys (the server then
/// groups buckets so that each group holds at least `k`). `Err(reason)` is sent to the partner.
pub fn check_proposal(
    table: &engine::Table,
    dataset: &str,
    curve: Curve,
    reveal_bucket: Option<u32>,
) -> Result<(), String> {
    if table.curve() != curve {
        return Err(format!(
            "the hidden-query table of dataset {dataset:?} uses {}, the query asked for {}; \
             query with --curve {}",
            table.curve().name(),
            curve.name(),
            table.curve().name()
        ));
    }
    if let Some(k) = reveal_bucket {
        let keys = table.info().keys;
        if keys < k as usize {
            return Err(format!(
                "the hidden-query table of dataset {dataset:?} holds {keys} keys, fewer than \
                 the bucket k-anonymity of {k} asked for"
            ));
        }
    }
    Ok(())
}

/// What the responder saw of a query.
#[derive(Clone, Copy, Debug)]
pub struct Served {
    /// Keys looked up (OPRF evaluations).
    pub keys: u64,
    /// Batches.
    pub batches: u64,
    /// `Some(k)` if the querier revealed buckets with k-anonymity `k`.
    pub reveal_bucket: Option<u32>,
    /// Whether the whole hint was sent, rows of it, or nothing.
    pub hint: &'static str,
}

/// Serves one query on `ch` from `table`, allowing at most `max_keys` keys.
pub fn serve<C: Channel>(
    ch: &mut C,
    table: &engine::Table,
    max_keys: u64,
) -> Result<Served, unseen_pir::PirError> {
    engine::serve(ch, table, max_keys)
}

// --- Querying ---------------------------------------------------------------------------------

/// A query's input: the keys file, read with every row kept, and where the result goes.
#[derive(Debug)]
pub struct QueryInput {
    /// The keys file.
    pub input: PathBuf,
    /// Its rows and normalised keys (repeated keys kept: every row gets output rows).
    pub table: Table,
    /// The key type the keys were normalised with (checked against the table's).
    pub key_type: String,
    /// The output CSV (written atomically when the job succeeds).
    pub output: PathBuf,
}

impl QueryInput {
    /// The distinct keys in first-seen order, and for each row the index of its key among them.
    pub fn distinct_keys(&self) -> (Vec<&str>, Vec<usize>) {
        let mut index: HashMap<&str, usize> = HashMap::with_capacity(self.table.keys.len());
        let mut keys = Vec::new();
        let of_row = self
            .table
            .keys
            .iter()
            .map(|k| {
                *index.entry(k.as_str()).or_insert_with(|| {
                    keys.push(k.as_str());
                    keys.len() - 1
                })
            })
            .collect();
        (keys, of_row)
    }
}

/// What the querier learned.
#[derive(Clone, Debug, Serialize)]
pub struct QueryResult {
    /// Distinct keys looked up.
    pub keys: usize,
    /// Keys found.
    pub found: usize,
    /// Records received.
    pub records: usize,
    /// Rows written (one per input row and record, one for an input row without a record).
    pub rows_written: usize,
    /// Input rows.
    pub input_rows: usize,
    /// The hint: `full` (downloaded whole), `rows` (the rows changed since the cached copy),
    /// `cached` (the cached copy was current) or `none` (bucket-revealing mode).
    pub hint: &'static str,
    /// Why the hint could not be cached, if it could not (the query itself succeeded).
    pub hint_cache_error: Option<String>,
}

/// How a query looks its keys up.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Lookup {
    /// The OPRF group (the table's).
    pub curve: Curve,
    /// `Some(k)`: reveal each key's bucket group (of at least `k` keys); `None`: private.
    pub reveal_bucket: Option<u32>,
}

/// Checks a table's metadata before any key is looked up: the record format, and that the
/// keys were normalised as the table's.
fn check_meta(
    bytes: &[u8],
    partner: &str,
    peer_dataset: &str,
    key_type: &str,
) -> Result<TableMeta, JobError> {
    let meta: TableMeta = serde_json::from_slice(bytes)
        .ok()
        .filter(|m: &TableMeta| m.format == RECORD_FORMAT && m.columns.len() <= MAX_COLUMNS)
        .ok_or_else(|| {
            JobError::partner(format!(
                "partner {partner}: the table of dataset {peer_dataset:?} does not describe its \
                 records as {RECORD_FORMAT} (published by another version of unseen?)"
            ))
        })?;
    if meta.key_type != key_type {
        return Err(JobError::input(format!(
            "the partner's table is keyed by {} but the keys were read as {key_type}; query \
             again with --key-type {} (nothing was looked up)",
            meta.key_type, meta.key_type
        )));
    }
    Ok(meta)
}

/// Runs the query on `ch` (the job accepted) against `partner`'s `peer_dataset` and writes its
/// output to `pending`.
pub fn query<C: Channel>(
    ch: &mut C,
    dir: &NodeDir,
    (partner, peer_dataset): (&str, &str),
    q: &QueryInput,
    lookup: Lookup,
    pending: &Path,
) -> Result<QueryResult, JobError> {
    let Lookup {
        curve,
        reveal_bucket,
    } = lookup;
    let failed = JobError::internal;
    let (keys, of_row) = q.distinct_keys();
    let cache = dir.pir_hint_cache(partner, peer_dataset);
    if let Some(parent) = cache.parent() {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(parent)
            .map_err(|e| failed(format!("{}: {e}", parent.display())))?;
    }
    let key_bytes: Vec<&[u8]> = keys.iter().map(|k| k.as_bytes()).collect();
    let check = |m: &[u8]| check_meta(m, partner, peer_dataset, &q.key_type);
    let (out, meta) = engine::query(ch, curve, reveal_bucket, &cache, &key_bytes, &check).map_err(
        |e| match e {
            engine::Stop::Pir(e) => JobError::caused(e.fault(), format!("partner {partner}"), e),
            engine::Stop::Check(e) => e,
        },
    )?;
    if out.records.len() != keys.len() {
        return Err(failed(format!(
            "internal error: {} answers for {} keys; please report",
            out.records.len(),
            keys.len()
        )));
    }
    let mut decoded: Vec<Vec<Vec<String>>> = Vec::with_capacity(out.records.len());
    for recs in &out.records {
        let mut v = Vec::with_capacity(recs.len());
        for r in recs {
            v.push(decode_record(r, meta.columns.len()).ok_or_else(|| {
                JobError::partner(format!(
                    "partner {partner} sent a record that is not a JSON list of {} strings",
                    meta.columns.len()
                ))
            })?);
        }
        decoded.push(v);
    }
    let mut headers = q.table.headers.clone();
    headers.extend(meta.columns.iter().cloned());
    headers.push("found".into());
    let blank = vec![String::new(); meta.columns.len()];
    let mut rows: Vec<Vec<&str>> = Vec::with_capacity(q.table.rows.len());
    for (row, &k) in q.table.rows.iter().zip(&of_row) {
        let recs = &decoded[k];
        if recs.is_empty() {
            let mut r: Vec<&str> = row.iter().collect();
            r.extend(blank.iter().map(String::as_str));
            r.push("false");
            rows.push(r);
        }
        for rec in recs {
            let mut r: Vec<&str> = row.iter().collect();
            r.extend(rec.iter().map(String::as_str));
            r.push("true");
            rows.push(r);
        }
    }
    unseen_data::write_csv_atomic(pending, &headers, rows.iter())
        .map_err(|e| failed(format!("writing the output: {e}")))?;
    Ok(QueryResult {
        keys: keys.len(),
        found: decoded.iter().filter(|r| !r.is_empty()).count(),
        records: decoded.iter().map(Vec::len).sum(),
        rows_written: rows.len(),
        input_rows: q.table.rows.len(),
        hint: out.hint,
        hint_cache_error: out.cache_error,
    })
}

/// The one place that calls `unseen-pir`: a table in either suite (the suite dispatch is the
/// pir crate's [`AnyServer`](unseen_pir::keyword::AnyServer)), its file, the drivers.
pub mod engine {
    use std::path::Path;

    use unseen_channel::Channel;
    use unseen_crypto::CurveId;
    use unseen_pir::PirError;
    use unseen_pir::keyword::{
        AnyServer, HintCache, HintSent, LookupMode, ServerLimits, SyncReport, TableInfo,
    };

    use super::Served;
    use crate::NodeError;

    /// Most records per key (`unseen_pir::keyword::MAX_DUPLICATES`).
    pub const MAX_DUPLICATES: usize = unseen_pir::keyword::MAX_DUPLICATES;
    /// Longest record (`unseen_pir::keyword::MAX_RECORD_LEN`).
    pub const MAX_RECORD_LEN: usize = unseen_pir::keyword::MAX_RECORD_LEN;

    /// A published table in its suite.
    pub struct Table(AnyServer);

    /// A table's version: its suite, id and epoch (from the file's header alone).
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub struct Version {
        curve: CurveId,
        table_id: [u8; 16],
        epoch: u64,
    }

    impl Version {
        /// The table's epoch.
        pub fn epoch(&self) -> u64 {
            self.epoch
        }
    }

    /// A publishing error for the user: bad parameters (exit 2) or a failure (exit 1).
    fn node_error(e: PirError) -> NodeError {
        match e {
            PirError::Config(_) | PirError::Oprf(_) => NodeError::Invalid(e.to_string()),
            other => NodeError::Internal(format!("hidden-query table: {other}")),
        }
    }

    fn rng() -> Result<rand_chacha::ChaCha20Rng, NodeError> {
        crate::kinds::psi::os_rng().map_err(NodeError::Internal)
    }

    /// Reads the version of the table in `path` from its header.
    pub fn stored_version(path: &Path) -> Result<Version, PirError> {
        let v = unseen_pir::keyword::stored_version(path)?;
        Ok(Version {
            curve: v.suite,
            table_id: v.table_id,
            epoch: v.epoch,
        })
    }

    impl Table {
        /// Builds a fresh table with a new OPRF key.
        pub fn build(
            curve: CurveId,
            entries: &[(&[u8], &[u8])],
            max_record_len: usize,
            duplicates: u8,
            metadata: Vec<u8>,
        ) -> Result<Self, NodeError> {
            let shape = (max_record_len, duplicates);
            AnyServer::build(curve, entries, shape, metadata, &mut rng()?)
                .map(Self)
                .map_err(node_error)
        }

        /// Loads the table saved in `path`, in whichever suite it uses.
        pub fn load(path: &Path) -> Result<Self, NodeError> {
            AnyServer::load(path).map(Self).map_err(node_error)
        }

        /// Saves the table (atomically, mode 0600).
        pub fn save(&self, path: &Path) -> Result<(), NodeError> {
            self.0.save(path).map_err(node_error)
        }

        /// Replaces the public metadata.
        pub fn set_metadata(&mut self, meta: Vec<u8>) -> Result<(), NodeError> {
            self.0.set_metadata(meta).map_err(node_error)
        }

        /// Brings the table to exactly `entries`, in place when it can.
        pub fn sync(&mut self, entries: &[(&[u8], &[u8])]) -> Result<SyncReport, NodeError> {
            self.0.sync(entries, &mut rng()?).map_err(node_error)
        }

        /// Public facts about the table.
        pub fn info(&self) -> TableInfo {
            self.0.info()
        }

        /// The table's OPRF group.
        pub fn curve(&self) -> CurveId {
            self.0.curve()
        }

        /// The table's version, to compare with [`stored_version`].
        pub fn version(&self) -> Version {
            let i = self.info();
            Version {
                curve: self.curve(),
                table_id: i.table_id,
                epoch: i.epoch,
            }
        }
    }

    fn hint_name(h: HintSent) -> &'static str {
        match h {
            HintSent::None => "none",
            HintSent::Full => "full",
            HintSent::Rows(_) => "rows",
        }
    }

    /// Serves one session.
    pub fn serve<C: Channel>(ch: &mut C, table: &Table, max_keys: u64) -> Result<Served, PirError> {
        let r = unseen_pir::keyword::run_any_server(ch, &table.0, &ServerLimits { max_keys })?;
        Ok(Served {
            keys: r.keys,
            batches: r.batches,
            reveal_bucket: match r.mode {
                LookupMode::Private => None,
                LookupMode::RevealBucket { min_keys } => Some(min_keys),
            },
            hint: hint_name(r.hint),
        })
    }

    /// What a query received.
    pub struct Queried {
        /// Per key, its records (empty: not found).
        pub records: Vec<Vec<Vec<u8>>>,
        /// Which hint came.
        pub hint: &'static str,
        /// Why the hint could not be saved, if it could not.
        pub cache_error: Option<String>,
    }

    pub use unseen_pir::keyword::Stop;

    /// Runs one query session with the hint cached in `cache`; `check` sees the table's
    /// metadata before any key is looked up, and its refusal ends the session with none.
    pub fn query<C: Channel, T, E>(
        ch: &mut C,
        curve: CurveId,
        reveal_bucket: Option<u32>,
        cache: &Path,
        keys: &[&[u8]],
        check: &dyn Fn(&[u8]) -> Result<T, E>,
    ) -> Result<(Queried, T), Stop<E>> {
        let mut rng = crate::kinds::psi::os_rng()
            .map_err(|_| PirError::Internal("operating system randomness unavailable"))?;
        let mode = match reveal_bucket {
            None => LookupMode::Private,
            Some(min_keys) => LookupMode::RevealBucket { min_keys },
        };
        let held = match mode {
            LookupMode::Private => match HintCache::load(cache) {
                Ok(c) => c,
                Err(e) => {
                    // A damaged cache costs a full download, not the query.
                    tracing::warn!(error = %e, "ignoring a damaged hint cache");
                    let _ = std::fs::remove_file(cache);
                    None
                }
            },
            LookupMode::RevealBucket { .. } => None,
        };
        let (got, checked) =
            unseen_pir::keyword::query_any(ch, curve, (mode, held), keys, check, &mut rng)?;
        let cache_error = match (got.hint, got.hint_cache) {
            (HintSent::Full | HintSent::Rows(_), Some(c)) => {
                c.save(cache).err().map(|e| e.to_string())
            }
            _ => None,
        };
        let queried = Queried {
            records: got.records,
            hint: match (mode, got.hint) {
                (LookupMode::Private, HintSent::None) => "cached",
                (_, h) => hint_name(h),
            },
            cache_error,
        };
        Ok((queried, checked))
    }
}
