//! Integration tests of unseen-store: one binary, one module per area.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

mod audit;
mod jobs;
mod migrate;
mod pir;
mod policy;
mod registry;
mod time;
mod tokens;

use std::path::{Path, PathBuf};

use serde_json::json;
use tempfile::TempDir;
use unseen_store::{JobState, NewDataset, NewJob, NewPartner, NewPolicy, Receivers, Role, Store};

/// A fresh database in its own directory; the directory lives as long as the returned guard.
pub struct Db {
    pub dir: TempDir,
    pub path: PathBuf,
}

impl Db {
    pub fn temp() -> Db {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.db");
        Db { dir, path }
    }

    pub fn open(&self) -> Store {
        Store::open(&self.path).unwrap()
    }

    /// A plain connection, as someone editing the file by hand would have.
    pub fn raw(&self) -> rusqlite::Connection {
        raw(&self.path)
    }
}

pub fn raw(path: &Path) -> rusqlite::Connection {
    let conn = rusqlite::Connection::open(path).unwrap();
    conn.busy_timeout(std::time::Duration::from_secs(10))
        .unwrap();
    conn
}

pub fn new_partner(name: &str, fingerprint: &str) -> NewPartner {
    NewPartner {
        name: name.into(),
        address: format!("{name}.example:7443"),
        cert_pem: "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n".into(),
        fingerprint: fingerprint.into(),
    }
}

pub fn new_dataset(name: &str) -> NewDataset {
    NewDataset {
        name: name.into(),
        path: format!("/data/{name}.csv"),
        key_column: "phone".into(),
        key_type: "phone".into(),
        columns: vec!["phone".into(), "name".into(), "城市".into()],
        encoding: "utf-8".into(),
        skip_invalid: true,
        stamp: None,
    }
}

pub fn new_policy(dataset: &str, partner: &str, kind: &str, receivers: Receivers) -> NewPolicy {
    NewPolicy {
        dataset: dataset.into(),
        partner: partner.into(),
        job_kind: kind.into(),
        receivers,
    }
}

pub fn new_job(id: &str, state: JobState) -> NewJob {
    NewJob {
        id: id.into(),
        kind: "psi".into(),
        role: Role::Initiator,
        partner: "bank-b".into(),
        dataset: "customers".into(),
        peer_dataset: "clients".into(),
        params: json!({"receivers": "both", "columns": ["name"], "ratio": 0.5}),
        state,
        rerun_of: None,
    }
}
