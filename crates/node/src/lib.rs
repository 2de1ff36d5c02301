//! The unseen node: each institution runs one beside its data.
//!
//! A node has an identity (a key pair and self-signed certificate), registries of partners
//! (pinned certificates), datasets and policies, a job table and an SM3-chained audit log (all
//! in SQLite through `unseen-store`). Jobs run between two nodes over mutually authenticated
//! TLS (`unseen-transport`); the protocol between nodes is in [`control`], the lifecycle in
//! [`jobs`] (any kind, any channel), each job kind in its module under [`kinds`], and whose
//! fault a failure was in [`job_error`]. Local users reach the node through the CLI (which
//! opens the directory directly for registries and audit) and the HTTP API ([`api`]) of the
//! daemon ([`daemon`]). docs/architecture.md draws it.

pub mod admission;
pub mod align;
pub mod api;
pub mod audit_key;
pub mod client;
pub mod control;
pub mod daemon;
pub mod digest_key;
pub mod dir;
mod error;
pub mod fl_job;
pub mod init;
pub mod job_error;
pub mod jobs;
pub mod kinds;
pub mod metrics;
pub mod node;
pub mod ops;
pub mod pir_job;
pub mod policy;
pub mod refusals;

pub use dir::{Config, NodeDir};
pub use error::NodeError;
pub use node::Node;

/// What `node info` and `GET /v1/node` report.
pub fn node_info(
    c: &Config,
    fp: &unseen_transport::Fingerprint,
    dir: &NodeDir,
) -> Result<serde_json::Value, NodeError> {
    Ok(serde_json::json!({
        "name": c.name,
        "fingerprint": fp.to_string(),
        "listen": c.listen.to_string(),
        "api": c.api.to_string(),
        "audit_public_key": audit_key::public_key_hex(dir)?,
        "version": env!("CARGO_PKG_VERSION"),
    }))
}

/// Installs the daemon's log subscriber: human-readable lines on stderr and in `logs/node.log`.
/// `UNSEEN_LOG` sets the filter (default `info`). Logs never hold keys, tokens or rows: the
/// code logs names, ids, counts and errors only.
pub fn init_logging(dir: &NodeDir) -> Result<(), NodeError> {
    use tracing_subscriber::fmt::writer::MakeWriterExt;
    let path = dir.log();
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(|e| NodeError::io(parent, e))?;
    }
    let file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .map_err(|e| NodeError::io(&path, e))?;
    let filter = tracing_subscriber::EnvFilter::try_from_env("UNSEEN_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let writer = std::io::stderr.and(std::sync::Mutex::new(file));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer)
        .with_ansi(false)
        .with_target(false)
        .try_init()
        .map_err(|e| NodeError::Internal(format!("cannot install the logger: {e}")))
}
