//! A node's persistent state in one SQLite file: the partners it trusts, the datasets it offers,
//! the policy rules between them, the jobs it ran, and an append-only audit log chained by SM3.
//!
//! ```no_run
//! use std::path::Path;
//! use unseen_store::{AuditEvent, Store};
//!
//! let mut store = Store::open(Path::new("state.db"))?;
//! store.audit_append(&AuditEvent::new("cli", "node.start", "ok"))?;
//! assert!(matches!(store.audit_verify()?, unseen_store::AuditReport::Intact { .. }));
//! # Ok::<(), unseen_store::StoreError>(())
//! ```
//!
//! Policies are default-deny: a partner may run a kind of job on a dataset only if
//! [`Store::policy`] finds a rule. Jobs follow the state machine of [`JobState`]; the store
//! refuses any other transition. The audit chain's format and what it does and does not protect
//! against are in `docs/audit.md`.
//!
//! Several processes may open the same file (the daemon and the CLI): every read-modify-write
//! runs in a `BEGIN IMMEDIATE` transaction and waits up to 10 s for another writer.

mod audit;
mod check;
mod error;
mod jobs;
mod model;
mod pir;
mod schema;
mod store;
mod time;
mod tokens;

pub use crate::audit::{AUDIT_DOMAIN, AuditEvent, AuditRecord, AuditReport, AuditSigner};
pub use crate::check::{MAX_NAME_LEN, validate_name};
pub use crate::error::StoreError;
pub use crate::model::{
    Dataset, FileStamp, Finish, Job, JobMetrics, JobState, NewDataset, NewJob, NewPartner,
    NewPolicy, ParseNameError, Partner, Policy, Receivers, Role,
};
pub use crate::pir::{PirGrant, utc_day};
pub use crate::store::Store;
pub use crate::time::{format_time, now_ms};
pub use crate::tokens::{ApiToken, TokenDigest, TokenRole};

pub(crate) use crate::audit::canonical_json;
