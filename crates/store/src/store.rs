//! Opening the database, the partner and dataset registries and the policy rules.

use std::path::Path;
use std::time::Duration;

use rusqlite::types::FromSql;
use rusqlite::{Connection, OptionalExtension, Row, TransactionBehavior, params};

use crate::check::{self, MAX_COLUMNS, MAX_LINE, MAX_PATH, MAX_PEM};
use crate::error::{StoreError, bounded, corrupt};
use crate::schema::MIGRATIONS;
use crate::{
    Dataset, FileStamp, NewDataset, NewPartner, NewPolicy, Partner, Policy, Receivers, now_ms,
    validate_name,
};

/// How long a writer waits for another process's write lock before giving up.
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// A node's persistent state: one SQLite database file, opened by one connection.
///
/// Several `Store`s (in one process or several: the daemon and the CLI) may use the same file;
/// every read-modify-write runs in a `BEGIN IMMEDIATE` transaction, so they do not race.
pub struct Store {
    pub(crate) conn: Connection,
    pub(crate) signer: Option<Box<dyn crate::audit::AuditSigner>>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("path", &self.conn.path())
            .finish_non_exhaustive()
    }
}

impl Store {
    /// Opens the database at `path`, creating it if missing, and brings its schema up to date.
    ///
    /// The connection uses write-ahead logging (readers do not block the writer), waits up to
    /// 10 s for a lock held by another connection, and enforces foreign keys. A database whose
    /// schema is newer than this build is refused with [`StoreError::TooNew`] and left untouched.
    pub fn open(path: &Path) -> Result<Store, StoreError> {
        let conn = Connection::open(path).map_err(|source| StoreError::Open {
            path: path.to_owned(),
            source,
        })?;
        conn.busy_timeout(BUSY_TIMEOUT)?;
        conn.pragma_update(None, "foreign_keys", true)?;
        let mut store = Store { conn, signer: None };
        // Check before switching the journal mode, so that a too-new file is not modified.
        retry_busy(|| store.check_version())?;
        // The answer is the mode in force: "wal", or "memory" for an in-memory database, which
        // cannot use a log file. Either is fine.
        let _mode: String = retry_busy(|| {
            Ok(store
                .conn
                .pragma_update_and_check(None, "journal_mode", "wal", |row| {
                    row.get::<_, String>(0)
                })?)
        })?;
        retry_busy(|| store.migrate())?;
        Ok(store)
    }

    /// The schema version of the database (`PRAGMA user_version`).
    pub fn schema_version(&self) -> Result<u32, StoreError> {
        user_version(&self.conn)
    }

    /// The newest schema version this build can use.
    pub fn supported_schema_version() -> u32 {
        supported_version()
    }

    fn check_version(&self) -> Result<u32, StoreError> {
        let found = user_version(&self.conn)?;
        let supported = supported_version();
        if found > supported {
            return Err(StoreError::TooNew { found, supported });
        }
        Ok(found)
    }

    /// Applies the missing migration steps in one transaction. Two processes opening a new file
    /// at once are serialised by `BEGIN IMMEDIATE`; the second sees the first's version.
    fn migrate(&mut self) -> Result<(), StoreError> {
        if self.check_version()? == supported_version() {
            return Ok(());
        }
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let found = user_version(&tx)?;
        let supported = supported_version();
        if found > supported {
            return Err(StoreError::TooNew { found, supported });
        }
        for (done, step) in MIGRATIONS.iter().enumerate().skip(usize_from(found)) {
            tx.execute_batch(step)?;
            let version = u32::try_from(done + 1).unwrap_or(u32::MAX);
            tx.pragma_update(None, "user_version", version)?;
        }
        tx.commit()?;
        Ok(())
    }

    // --- Partners ---

    /// Registers a partner. Fails with [`StoreError::Duplicate`] if its name or its fingerprint
    /// is already registered.
    pub fn add_partner(&mut self, p: &NewPartner) -> Result<Partner, StoreError> {
        validate_name("partner", &p.name)?;
        check::line("partner address", &p.address, MAX_LINE)?;
        check::text("partner certificate", &p.cert_pem, MAX_PEM)?;
        check::line("partner fingerprint", &p.fingerprint, MAX_LINE)?;
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        if exists(&tx, "SELECT 1 FROM partners WHERE name = ?1", &p.name)? {
            return Err(duplicate("partner", &p.name));
        }
        let fp = "SELECT 1 FROM partners WHERE fingerprint = ?1";
        if exists(&tx, fp, &p.fingerprint)? {
            return Err(duplicate("partner fingerprint", &p.fingerprint));
        }
        let partner = Partner {
            name: p.name.clone(),
            address: p.address.clone(),
            cert_pem: p.cert_pem.clone(),
            fingerprint: p.fingerprint.clone(),
            added_ms: now_ms(),
        };
        tx.execute(
            "INSERT INTO partners (name, address, cert_pem, fingerprint, added_ms)
             VALUES (?1, ?2, ?3, ?4, ?5)",
            params![
                partner.name,
                partner.address,
                partner.cert_pem,
                partner.fingerprint,
                partner.added_ms
            ],
        )?;
        tx.commit()?;
        Ok(partner)
    }

    /// Every partner, by name.
    pub fn partners(&self) -> Result<Vec<Partner>, StoreError> {
        self.select(&format!("{PARTNER} ORDER BY name"), [], partner_from_row)
    }

    /// The partner called `name`, if registered.
    pub fn partner(&self, name: &str) -> Result<Option<Partner>, StoreError> {
        let sql = format!("{PARTNER} WHERE name = ?1");
        self.select_one(&sql, [name], partner_from_row)
    }

    /// The partner whose certificate fingerprint is exactly `fp`, if registered.
    pub fn partner_by_fingerprint(&self, fp: &str) -> Result<Option<Partner>, StoreError> {
        let sql = format!("{PARTNER} WHERE fingerprint = ?1");
        self.select_one(&sql, [fp], partner_from_row)
    }

    /// Removes a partner and every policy rule naming it. Its jobs and audit records stay.
    pub fn remove_partner(&mut self, name: &str) -> Result<(), StoreError> {
        // Policies go by `ON DELETE CASCADE`.
        let n = self
            .conn
            .execute("DELETE FROM partners WHERE name = ?1", [name])?;
        if n == 0 {
            return Err(not_found("partner", name));
        }
        Ok(())
    }

    // --- Datasets ---

    /// Registers a dataset. Fails with [`StoreError::Duplicate`] if the name is taken.
    pub fn add_dataset(&mut self, d: &NewDataset) -> Result<Dataset, StoreError> {
        validate_name("dataset", &d.name)?;
        check::text("dataset path", &d.path, MAX_PATH)?;
        check::line("dataset key column", &d.key_column, MAX_LINE)?;
        check::line("dataset key type", &d.key_type, MAX_LINE)?;
        check::line("dataset encoding", &d.encoding, MAX_LINE)?;
        if d.columns.len() > MAX_COLUMNS {
            return Err(StoreError::Invalid {
                field: "dataset columns",
                reason: format!(
                    "at most {MAX_COLUMNS} columns allowed, found {}",
                    d.columns.len()
                ),
            });
        }
        for c in &d.columns {
            check::line("dataset column", c, MAX_LINE)?;
        }
        let columns = serde_json::to_string(&d.columns)
            .map_err(|e| corrupt(format!("cannot encode dataset columns: {e}")))?;
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        if exists(&tx, "SELECT 1 FROM datasets WHERE name = ?1", &d.name)? {
            return Err(duplicate("dataset", &d.name));
        }
        let dataset = Dataset {
            name: d.name.clone(),
            path: d.path.clone(),
            key_column: d.key_column.clone(),
            key_type: d.key_type.clone(),
            columns: d.columns.clone(),
            encoding: d.encoding.clone(),
            skip_invalid: d.skip_invalid,
            added_ms: now_ms(),
            stamp: d.stamp.clone(),
        };
        if let Some(st) = &d.stamp {
            check_stamp(st)?;
        }
        let (size, mtime, sm3) = stamp_columns(d.stamp.as_ref());
        tx.execute(
            "INSERT INTO datasets
                 (name, path, key_column, key_type, columns, encoding, skip_invalid, added_ms,
                  file_size, file_mtime_ns, file_sm3)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
            params![
                dataset.name,
                dataset.path,
                dataset.key_column,
                dataset.key_type,
                columns,
                dataset.encoding,
                dataset.skip_invalid,
                dataset.added_ms,
                size,
                mtime,
                sm3
            ],
        )?;
        tx.commit()?;
        Ok(dataset)
    }

    /// Records what a dataset's file is now (after the operator re-read it: `dataset refresh`),
    /// with the columns it has now. Fails with [`StoreError::NotFound`] if it is not registered.
    pub fn restamp_dataset(
        &mut self,
        name: &str,
        columns: &[String],
        stamp: &FileStamp,
    ) -> Result<Dataset, StoreError> {
        check_stamp(stamp)?;
        if columns.len() > MAX_COLUMNS {
            return Err(StoreError::Invalid {
                field: "dataset columns",
                reason: format!(
                    "at most {MAX_COLUMNS} columns allowed, found {}",
                    columns.len()
                ),
            });
        }
        for c in columns {
            check::line("dataset column", c, MAX_LINE)?;
        }
        let columns = serde_json::to_string(columns)
            .map_err(|e| corrupt(format!("cannot encode dataset columns: {e}")))?;
        let (size, mtime, sm3) = stamp_columns(Some(stamp));
        let n = self.conn.execute(
            "UPDATE datasets SET columns = ?2, file_size = ?3, file_mtime_ns = ?4, file_sm3 = ?5
             WHERE name = ?1",
            params![name, columns, size, mtime, sm3],
        )?;
        if n == 0 {
            return Err(not_found("dataset", name));
        }
        self.dataset(name)?
            .ok_or_else(|| not_found("dataset", name))
    }

    /// Every dataset, by name.
    pub fn datasets(&self) -> Result<Vec<Dataset>, StoreError> {
        self.select(&format!("{DATASET} ORDER BY name"), [], dataset_from_row)
    }

    /// The dataset called `name`, if registered.
    pub fn dataset(&self, name: &str) -> Result<Option<Dataset>, StoreError> {
        let sql = format!("{DATASET} WHERE name = ?1");
        self.select_one(&sql, [name], dataset_from_row)
    }

    /// Removes a dataset and every policy rule naming it. Its jobs and audit records stay.
    pub fn remove_dataset(&mut self, name: &str) -> Result<(), StoreError> {
        let n = self
            .conn
            .execute("DELETE FROM datasets WHERE name = ?1", [name])?;
        if n == 0 {
            return Err(not_found("dataset", name));
        }
        Ok(())
    }

    // --- Policies ---

    /// Allows `p.partner` to run `p.job_kind` jobs on `p.dataset`, replacing the receivers of an
    /// existing rule for the same three. Fails with [`StoreError::NotFound`] if the dataset or
    /// the partner is not registered.
    pub fn allow(&mut self, p: &NewPolicy) -> Result<Policy, StoreError> {
        validate_name("dataset", &p.dataset)?;
        validate_name("partner", &p.partner)?;
        validate_name("job kind", &p.job_kind)?;
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        if !exists(&tx, "SELECT 1 FROM datasets WHERE name = ?1", &p.dataset)? {
            return Err(not_found("dataset", &p.dataset));
        }
        if !exists(&tx, "SELECT 1 FROM partners WHERE name = ?1", &p.partner)? {
            return Err(not_found("partner", &p.partner));
        }
        let policy = Policy {
            dataset: p.dataset.clone(),
            partner: p.partner.clone(),
            job_kind: p.job_kind.clone(),
            receivers: p.receivers,
            added_ms: now_ms(),
        };
        tx.execute(
            "INSERT INTO policies (dataset, partner, job_kind, receivers, added_ms)
             VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT (dataset, partner, job_kind)
             DO UPDATE SET receivers = excluded.receivers, added_ms = excluded.added_ms",
            params![
                policy.dataset,
                policy.partner,
                policy.job_kind,
                policy.receivers.as_str(),
                policy.added_ms
            ],
        )?;
        tx.commit()?;
        Ok(policy)
    }

    /// Removes the rule for (`dataset`, `partner`, `job_kind`), so such jobs are refused again.
    /// Returns whether there was a rule.
    pub fn deny(
        &mut self,
        dataset: &str,
        partner: &str,
        job_kind: &str,
    ) -> Result<bool, StoreError> {
        let n = self.conn.execute(
            "DELETE FROM policies WHERE dataset = ?1 AND partner = ?2 AND job_kind = ?3",
            [dataset, partner, job_kind],
        )?;
        Ok(n > 0)
    }

    /// Every rule, by dataset, partner and job kind.
    pub fn policies(&self) -> Result<Vec<Policy>, StoreError> {
        let sql = format!("{POLICY} ORDER BY dataset, partner, job_kind");
        self.select(&sql, [], policy_from_row)
    }

    /// The rule for (`dataset`, `partner`, `job_kind`); `None` means the job is not allowed.
    pub fn policy(
        &self,
        dataset: &str,
        partner: &str,
        job_kind: &str,
    ) -> Result<Option<Policy>, StoreError> {
        let sql = format!("{POLICY} WHERE dataset = ?1 AND partner = ?2 AND job_kind = ?3");
        self.select_one(&sql, [dataset, partner, job_kind], policy_from_row)
    }

    // --- Helpers shared with the other modules ---

    /// Runs a query and converts every row.
    pub(crate) fn select<T, P: rusqlite::Params>(
        &self,
        sql: &str,
        params: P,
        convert: fn(&Row<'_>) -> Result<T, StoreError>,
    ) -> Result<Vec<T>, StoreError> {
        select(&self.conn, sql, params, convert)
    }

    /// Runs a query expected to return at most one row.
    pub(crate) fn select_one<T, P: rusqlite::Params>(
        &self,
        sql: &str,
        params: P,
        convert: fn(&Row<'_>) -> Result<T, StoreError>,
    ) -> Result<Option<T>, StoreError> {
        select_one(&self.conn, sql, params, convert)
    }
}

/// Runs a query and converts every row.
pub(crate) fn select<T, P: rusqlite::Params>(
    conn: &Connection,
    sql: &str,
    params: P,
    convert: fn(&Row<'_>) -> Result<T, StoreError>,
) -> Result<Vec<T>, StoreError> {
    let mut stmt = conn.prepare_cached(sql)?;
    let mut rows = stmt.query(params)?;
    let mut out = Vec::new();
    while let Some(row) = rows.next()? {
        out.push(convert(row)?);
    }
    Ok(out)
}

/// Runs a query expected to return at most one row.
pub(crate) fn select_one<T, P: rusqlite::Params>(
    conn: &Connection,
    sql: &str,
    params: P,
    convert: fn(&Row<'_>) -> Result<T, StoreError>,
) -> Result<Option<T>, StoreError> {
    let mut stmt = conn.prepare_cached(sql)?;
    let mut rows = stmt.query(params)?;
    match rows.next()? {
        Some(row) => Ok(Some(convert(row)?)),
        None => Ok(None),
    }
}

/// Reads column `idx` of a row; a value of the wrong type is [`StoreError::Corrupt`].
pub(crate) fn col<T: FromSql>(row: &Row<'_>, idx: usize, table: &str) -> Result<T, StoreError> {
    row.get(idx).map_err(|e| {
        let name = row.as_ref().column_name(idx).unwrap_or("?");
        corrupt(format!("{table}.{name}: {e}"))
    })
}

/// Reads a non-negative integer column as `u64`.
pub(crate) fn col_u64(row: &Row<'_>, idx: usize, table: &str) -> Result<u64, StoreError> {
    let v: i64 = col(row, idx, table)?;
    u64::try_from(v).map_err(|_| {
        let name = row.as_ref().column_name(idx).unwrap_or("?");
        corrupt(format!("{table}.{name}: negative count {v}"))
    })
}

/// Reads a JSON column.
pub(crate) fn col_json<T: serde::de::DeserializeOwned>(
    row: &Row<'_>,
    idx: usize,
    table: &str,
) -> Result<T, StoreError> {
    let text: String = col(row, idx, table)?;
    serde_json::from_str(&text).map_err(|e| {
        let name = row.as_ref().column_name(idx).unwrap_or("?");
        corrupt(format!("{table}.{name}: {e}"))
    })
}

/// Reads a column holding the name of a [`JobState`](crate::JobState), [`Role`](crate::Role)
/// or [`Receivers`].
pub(crate) fn col_parse<T>(row: &Row<'_>, idx: usize, table: &str) -> Result<T, StoreError>
where
    T: std::str::FromStr<Err = crate::model::ParseNameError>,
{
    let text: String = col(row, idx, table)?;
    text.parse().map_err(|e: crate::model::ParseNameError| {
        let name = row.as_ref().column_name(idx).unwrap_or("?");
        corrupt(format!("{table}.{name}: {e}"))
    })
}

/// Reads a column holding a name that parses with a [`StoreError`] (a value that does not parse
/// means the file was edited: [`StoreError::Corrupt`]).
pub(crate) fn col_parse_str<T>(row: &Row<'_>, idx: usize, table: &str) -> Result<T, StoreError>
where
    T: std::str::FromStr<Err = StoreError>,
{
    let text: String = col(row, idx, table)?;
    text.parse().map_err(|e: StoreError| {
        let name = row.as_ref().column_name(idx).unwrap_or("?");
        corrupt(format!("{table}.{name}: {e}"))
    })
}

pub(crate) fn exists(conn: &Connection, sql: &str, key: &str) -> Result<bool, StoreError> {
    Ok(conn.query_row(sql, [key], |_| Ok(())).optional()?.is_some())
}

pub(crate) fn duplicate(what: &'static str, name: &str) -> StoreError {
    StoreError::Duplicate {
        what,
        name: bounded(name),
    }
}

pub(crate) fn not_found(what: &'static str, name: &str) -> StoreError {
    StoreError::NotFound {
        what,
        name: bounded(name),
    }
}

fn user_version(conn: &Connection) -> Result<u32, StoreError> {
    let v: i64 = conn.pragma_query_value(None, "user_version", |row| row.get(0))?;
    u32::try_from(v).map_err(|_| corrupt(format!("negative schema version {v}")))
}

fn supported_version() -> u32 {
    // A handful of steps: cannot exceed u32.
    u32::try_from(MIGRATIONS.len()).unwrap_or(u32::MAX)
}

fn usize_from(v: u32) -> usize {
    usize::try_from(v).unwrap_or(usize::MAX)
}

const PARTNER: &str = "SELECT name, address, cert_pem, fingerprint, added_ms FROM partners";

fn partner_from_row(row: &Row<'_>) -> Result<Partner, StoreError> {
    const T: &str = "partners";
    Ok(Partner {
        name: col(row, 0, T)?,
        address: col(row, 1, T)?,
        cert_pem: col(row, 2, T)?,
        fingerprint: col(row, 3, T)?,
        added_ms: col(row, 4, T)?,
    })
}

const DATASET: &str = "SELECT name, path, key_column, key_type, columns, encoding, skip_invalid, \
                       added_ms, file_size, file_mtime_ns, file_sm3 FROM datasets";

fn check_stamp(st: &FileStamp) -> Result<(), StoreError> {
    let hex = st.sm3.len() == 64
        && st
            .sm3
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
    if !hex || i64::try_from(st.size).is_err() {
        return Err(StoreError::Invalid {
            field: "dataset file stamp",
            reason: "a size below 2^63 and an SM3 digest of 64 lowercase hex digits".into(),
        });
    }
    Ok(())
}

/// The stamp as the three nullable columns (a size below 2^63 was checked).
fn stamp_columns(st: Option<&FileStamp>) -> (Option<i64>, Option<i64>, Option<String>) {
    match st {
        Some(s) => (
            Some(i64::try_from(s.size).unwrap_or(i64::MAX)),
            Some(s.mtime_ns),
            Some(s.sm3.clone()),
        ),
        None => (None, None, None),
    }
}

fn dataset_from_row(row: &Row<'_>) -> Result<Dataset, StoreError> {
    const T: &str = "datasets";
    let skip: i64 = col(row, 6, T)?;
    let skip_invalid = match skip {
        0 => false,
        1 => true,
        other => return Err(corrupt(format!("{T}.skip_invalid: {other} is not 0 or 1"))),
    };
    Ok(Dataset {
        name: col(row, 0, T)?,
        path: col(row, 1, T)?,
        key_column: col(row, 2, T)?,
        key_type: col(row, 3, T)?,
        columns: col_json(row, 4, T)?,
        encoding: col(row, 5, T)?,
        skip_invalid,
        added_ms: col(row, 7, T)?,
        stamp: {
            let size: Option<i64> = col(row, 8, T)?;
            let mtime_ns: Option<i64> = col(row, 9, T)?;
            let sm3: Option<String> = col(row, 10, T)?;
            match (size, mtime_ns, sm3) {
                (Some(size), Some(mtime_ns), Some(sm3)) => Some(FileStamp {
                    size: u64::try_from(size)
                        .map_err(|_| corrupt(format!("{T}.file_size: {size} is negative")))?,
                    mtime_ns,
                    sm3,
                }),
                (None, None, None) => None,
                _ => return Err(corrupt(format!("{T}: a partial file stamp"))),
            }
        },
    })
}

const POLICY: &str = "SELECT dataset, partner, job_kind, receivers, added_ms FROM policies";

fn policy_from_row(row: &Row<'_>) -> Result<Policy, StoreError> {
    const T: &str = "policies";
    Ok(Policy {
        dataset: col(row, 0, T)?,
        partner: col(row, 1, T)?,
        job_kind: col(row, 2, T)?,
        receivers: col_parse::<Receivers>(row, 3, T)?,
        added_ms: col(row, 4, T)?,
    })
}

/// Runs `f` again while SQLite answers "database is locked" without waiting, for at most
/// [`BUSY_TIMEOUT`]. Opening a new file races another process creating it (the reader sees
/// the file mid-creation; switching to WAL needs a lock that the busy handler does not wait
/// for), so two processes starting at once, a daemon and a CLI command, must both succeed.
fn retry_busy<T>(mut f: impl FnMut() -> Result<T, StoreError>) -> Result<T, StoreError> {
    let deadline = std::time::Instant::now() + BUSY_TIMEOUT;
    loop {
        match f() {
            Err(StoreError::Sql(rusqlite::Error::SqliteFailure(e, _)))
                if e.code == rusqlite::ErrorCode::DatabaseBusy
                    && std::time::Instant::now() < deadline =>
            {
                std::thread::sleep(Duration::from_millis(10));
            }
            other => return other,
        }
    }
}
