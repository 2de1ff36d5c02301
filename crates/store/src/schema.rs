//! The schema, as an ordered list of migrations.
//!
//! `PRAGMA user_version` holds how many steps of [`MIGRATIONS`] a database has had. Steps are
//! only ever appended: a released step is never edited, because databases in the field already
//! ran it.

/// Migration steps; step `i` takes a database from version `i` to version `i + 1`.
pub(crate) const MIGRATIONS: &[&str] = &[V1, V2, V3, V4, V5, V6, V7];

/// Version 1: registries, policies, jobs and the audit chain.
///
/// Tables are `STRICT` so that SQLite refuses a value of the wrong type; `CHECK`s repeat the
/// Rust-side validation so that a writer other than this crate cannot store what the readers
/// would call corrupt.
const V1: &str = r#"
CREATE TABLE partners (
    name        TEXT NOT NULL PRIMARY KEY,
    address     TEXT NOT NULL,
    cert_pem    TEXT NOT NULL,
    fingerprint TEXT NOT NULL UNIQUE,
    added_ms    INTEGER NOT NULL
) STRICT;

CREATE TABLE datasets (
    name         TEXT NOT NULL PRIMARY KEY,
    path         TEXT NOT NULL,
    key_column   TEXT NOT NULL,
    key_type     TEXT NOT NULL,
    columns      TEXT NOT NULL,                 -- JSON array of strings
    encoding     TEXT NOT NULL,
    skip_invalid INTEGER NOT NULL CHECK (skip_invalid IN (0, 1)),
    added_ms     INTEGER NOT NULL
) STRICT;

CREATE TABLE policies (
    dataset   TEXT NOT NULL REFERENCES datasets (name) ON DELETE CASCADE,
    partner   TEXT NOT NULL REFERENCES partners (name) ON DELETE CASCADE,
    job_kind  TEXT NOT NULL,
    receivers TEXT NOT NULL CHECK (receivers IN ('any', 'both', 'owner', 'partner', 'none')),
    added_ms  INTEGER NOT NULL,
    PRIMARY KEY (dataset, partner, job_kind)
) STRICT;
CREATE INDEX policies_partner ON policies (partner);

-- Jobs keep the partner's and dataset's names as text, without foreign keys: the history of a
-- job outlives the removal of its partner or dataset. `seq` orders jobs by insertion.
CREATE TABLE jobs (
    seq            INTEGER PRIMARY KEY,
    id             TEXT NOT NULL UNIQUE,
    kind           TEXT NOT NULL,
    role           TEXT NOT NULL CHECK (role IN ('initiator', 'responder')),
    partner        TEXT NOT NULL,
    dataset        TEXT NOT NULL,
    peer_dataset   TEXT NOT NULL,
    params         TEXT NOT NULL,               -- JSON
    state          TEXT NOT NULL CHECK (state IN ('proposed', 'accepted', 'rejected', 'running',
                                                   'succeeded', 'failed', 'cancelled')),
    reason         TEXT,
    progress_done  INTEGER NOT NULL DEFAULT 0 CHECK (progress_done >= 0),
    progress_total INTEGER NOT NULL DEFAULT 0 CHECK (progress_total >= 0),
    output         TEXT,
    output_digest  TEXT,
    bytes_sent     INTEGER NOT NULL DEFAULT 0 CHECK (bytes_sent >= 0),
    bytes_received INTEGER NOT NULL DEFAULT 0 CHECK (bytes_received >= 0),
    result         TEXT NOT NULL DEFAULT 'null', -- JSON
    rerun_of       TEXT,
    created_ms     INTEGER NOT NULL,
    started_ms     INTEGER,
    finished_ms    INTEGER
) STRICT;
CREATE INDEX jobs_state ON jobs (state);

-- The audit log: see docs/audit.md for the hash chain.
CREATE TABLE audit (
    seq            INTEGER PRIMARY KEY CHECK (seq >= 1),
    time_ms        INTEGER NOT NULL,
    actor          TEXT NOT NULL,
    action         TEXT NOT NULL,
    job_id         TEXT,
    job_kind       TEXT,
    datasets       TEXT NOT NULL,               -- JSON array of strings
    partner        TEXT,
    params         TEXT NOT NULL,               -- canonical JSON, hashed as stored
    outcome        TEXT NOT NULL,
    bytes_sent     INTEGER NOT NULL CHECK (bytes_sent >= 0),
    bytes_received INTEGER NOT NULL CHECK (bytes_received >= 0),
    output_digest  TEXT,
    prev_hash      TEXT NOT NULL,               -- hex SM3
    hash           TEXT NOT NULL                -- hex SM3
) STRICT;
CREATE INDEX audit_job ON audit (job_id);

-- The newest record's seq and hash; seq 0 and 32 zero bytes while the log is empty.
CREATE TABLE audit_head (
    id   INTEGER PRIMARY KEY CHECK (id = 1),
    seq  INTEGER NOT NULL CHECK (seq >= 0),
    hash TEXT NOT NULL
) STRICT;
INSERT INTO audit_head (id, seq, hash)
    VALUES (1, 0, '0000000000000000000000000000000000000000000000000000000000000000');

-- Defence in depth: the log only grows, one record after the head at a time, and the head
-- only follows it. Anyone with write access to the file can drop these triggers; the hash chain
-- (checked by audit_verify) is what detects that.
CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit
BEGIN
    SELECT RAISE(ABORT, 'audit records are append-only');
END;
CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit
BEGIN
    SELECT RAISE(ABORT, 'audit records are append-only');
END;
CREATE TRIGGER audit_append_only_at_head BEFORE INSERT ON audit
WHEN NEW.seq IS NOT (SELECT seq + 1 FROM audit_head WHERE id = 1)
BEGIN
    SELECT RAISE(ABORT, 'audit records must be appended right after the head');
END;
CREATE TRIGGER audit_head_follows BEFORE UPDATE ON audit_head
WHEN NEW.id IS NOT 1
  OR NEW.seq IS NOT OLD.seq + 1
  OR NEW.hash IS NOT (SELECT hash FROM audit WHERE seq = NEW.seq)
BEGIN
    SELECT RAISE(ABORT, 'the audit head may only advance to the newest record');
END;
CREATE TRIGGER audit_head_no_delete BEFORE DELETE ON audit_head
BEGIN
    SELECT RAISE(ABORT, 'the audit head cannot be deleted');
END;
"#;

/// Version 2: signatures of audit records (docs/audit.md). A separate table, so that the hash
/// format of version 1 is untouched and a node without a signing key keeps working.
const V2: &str = r#"
CREATE TABLE audit_sig (
    seq       INTEGER PRIMARY KEY,                -- the audit record signed
    signature TEXT NOT NULL                     -- hex, the signer's format (SM2: r || s)
) STRICT;
CREATE TRIGGER audit_sig_no_update BEFORE UPDATE ON audit_sig
BEGIN
    SELECT RAISE(ABORT, 'audit signatures are append-only');
END;
CREATE TRIGGER audit_sig_no_delete BEFORE DELETE ON audit_sig
BEGIN
    SELECT RAISE(ABORT, 'audit signatures are append-only');
END;
"#;

/// Version 3: hidden-query (keyword PIR) usage, for the per-partner daily quota of OPRF
/// evaluations (docs/protocols/node-jobs.md). One row per partner, dataset and UTC day; like jobs,
/// no foreign keys, so that the count survives the removal and re-addition of a partner (a quota
/// must not be reset by re-registering).
const V3: &str = r#"
CREATE TABLE pir_usage (
    partner TEXT NOT NULL,
    dataset TEXT NOT NULL,
    day     INTEGER NOT NULL,                   -- days since 1970-01-01, UTC
    keys    INTEGER NOT NULL CHECK (keys >= 0), -- OPRF evaluations granted that day
    PRIMARY KEY (partner, dataset, day)
) STRICT;
"#;

/// Version 4: single-scoring usage (real-time federated prediction served to a partner), for
/// the per-partner daily quota of scores (docs/protocols/node-jobs.md): each score lets the
/// partner test one key of its choice against the dataset, as a hidden-query key does. Same
/// shape and the same reason for no foreign keys as `pir_usage`.
const V4: &str = r#"
CREATE TABLE score_usage (
    partner TEXT NOT NULL,
    dataset TEXT NOT NULL,
    day     INTEGER NOT NULL,                       -- days since 1970-01-01, UTC
    scores  INTEGER NOT NULL CHECK (scores >= 0),   -- scores granted that day
    PRIMARY KEY (partner, dataset, day)
) STRICT;
"#;

/// Version 5: what a dataset's file was when it was registered (its size, modification time
/// and SM3 digest), so that a job refuses a file replaced since (docs/protocols/node-jobs.md).
/// Datasets registered before this version have none until they are refreshed. The values are
/// checked by the store before they are written (and read back strictly), not by `CHECK`s, so
/// that the columns can be dropped again by a test that rebuilds an older schema.
const V5: &str = r#"
ALTER TABLE datasets ADD COLUMN file_size INTEGER;
ALTER TABLE datasets ADD COLUMN file_mtime_ns INTEGER;
ALTER TABLE datasets ADD COLUMN file_sm3 TEXT;
"#;

/// Version 6: tokens of the local HTTP API with roles (admin, operator, scorer), stored as the
/// SM3 digest of the secret, never the secret (docs/threat-model.md). The node's `api.token`
/// file stays an admin token outside this table.
const V6: &str = r#"
CREATE TABLE api_tokens (
    name       TEXT NOT NULL PRIMARY KEY,
    role       TEXT NOT NULL CHECK (role IN ('admin', 'operator', 'scorer')),
    digest     TEXT NOT NULL UNIQUE CHECK (length(digest) = 64),  -- hex SM3 of the secret
    created_ms INTEGER NOT NULL
) STRICT;
"#;

/// Version 7: whose fault a job's failure or rejection was (`input`, `config`, `partner`,
/// `network`, `internal`; docs/node-jobs.md), so that `job show` and the API answer it without
/// parsing the reason. Jobs ended before this version have none.
const V7: &str = r#"
ALTER TABLE jobs ADD COLUMN fault TEXT;
"#;
