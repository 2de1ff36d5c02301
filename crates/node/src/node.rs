//! [`Node`]: a running node's shared state (configuration, identity, store, running jobs).

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use subtle::ConstantTimeEq;
use unseen_store::{AuditEvent, Store, TokenRole};
use unseen_transport::{Fingerprint, Identity, ShutdownHandle};
use zeroize::Zeroizing;

use crate::NodeError;
use crate::dir::{Config, NodeDir};
use crate::init::{load_identity, load_token};

/// A node's shared state; one per daemon process.
pub struct Node {
    /// Its directory.
    pub dir: NodeDir,
    /// `node.toml`.
    pub config: Config,
    identity: Identity,
    token: Zeroizing<String>,
    store: Mutex<Store>,
    running: Mutex<HashMap<String, RunningJob>>,
    /// Event counters for `/metrics`.
    pub counters: Counters,
    /// Hidden-query tables loaded for serving, by dataset.
    pub pir_tables: crate::pir_job::TableCache,
    /// Dataset rows indexed by key for score sessions (as the host).
    pub score_rows: crate::kinds::score::RowCache,
    /// This node's sessions with each partner as the initiator, and the queue before them.
    pub(crate) outgoing: crate::admission::Outgoing,
    /// Refusals (unpinned certificates, API requests without a valid token) being aggregated
    /// for the audit log.
    refusals: crate::refusals::Refusals,
    /// The secret of the keyed digests this node stores of customer keys (never printed).
    pub digest_key: crate::digest_key::DigestKey,
}

impl std::fmt::Debug for Node {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Node")
            .field("name", &self.config.name)
            .finish_non_exhaustive()
    }
}

/// The holder of a valid API token.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Caller {
    /// The token's name (`api.token` for the file's).
    pub name: String,
    /// What it may do.
    pub role: TokenRole,
}

/// Counters of events that are not jobs.
#[derive(Debug, Default)]
pub struct Counters {
    /// API requests refused for a missing or wrong token.
    pub api_unauthorized: AtomicU64,
    /// Partner connections refused because their certificate is not pinned.
    pub tls_refused: AtomicU64,
    /// Partner connections that failed before or during the handshake for another reason.
    pub handshake_failed: AtomicU64,
    /// Partner connections accepted.
    pub connections: AtomicU64,
    /// Pending handshakes closed to make room for newer connections (handshake pool full).
    pub handshakes_shed: AtomicU64,
    /// Authenticated partners told "busy" because every session was taken.
    pub busy: AtomicU64,
    /// Applicants scored as a model's guest (successful score sessions).
    pub scored: AtomicU64,
    /// Score sessions served as a model's host (successful).
    pub scores_served: AtomicU64,
}

/// A job with a thread working on it.
#[derive(Clone)]
pub(crate) struct RunningJob {
    pub(crate) cancel: Arc<AtomicBool>,
    pub(crate) shutdown: Option<ShutdownHandle>,
}

impl Node {
    /// Opens the node in `dir` (configuration, identity, token, database).
    pub fn open(dir: &NodeDir) -> Result<Arc<Self>, NodeError> {
        let config = Config::load(dir)?;
        // Absolute, so output paths recorded in jobs do not depend on the daemon's cwd.
        let root = dir
            .root()
            .canonicalize()
            .map_err(|e| NodeError::io(dir.root(), e))?;
        let dir = &NodeDir::new(root);
        let identity = load_identity(dir)?;
        let token = load_token(dir)?;
        let store = crate::audit_key::open_store(dir)?;
        let digest_key = crate::digest_key::load_or_create(dir)?;
        Ok(Arc::new(Self {
            dir: dir.clone(),
            config,
            identity,
            token,
            store: Mutex::new(store),
            running: Mutex::new(HashMap::new()),
            counters: Counters::default(),
            pir_tables: crate::pir_job::TableCache::default(),
            score_rows: crate::kinds::score::RowCache::default(),
            outgoing: crate::admission::Outgoing::default(),
            refusals: crate::refusals::Refusals::default(),
            digest_key,
        }))
    }

    /// The database (one connection shared by the daemon's threads; hold it briefly).
    pub fn store(&self) -> MutexGuard<'_, Store> {
        lock(&self.store)
    }

    /// The node's identity.
    pub fn identity(&self) -> &Identity {
        &self.identity
    }

    /// The node's certificate fingerprint.
    pub fn fingerprint(&self) -> Fingerprint {
        self.identity.fingerprint()
    }

    /// Whether `presented` is the API token of the file `api.token` (constant time).
    pub fn token_matches(&self, presented: &str) -> bool {
        let a = presented.as_bytes();
        let b = self.token.as_bytes();
        a.len() == b.len() && bool::from(a.ct_eq(b))
    }

    /// Who presents `presented`: the `api.token` file's token (admin) or a token created by
    /// `unseen token create` (its name and role, looked up by the SM3 digest of the secret,
    /// compared in constant time with every registered digest). `None` for an unknown token.
    /// Reads the database, so a revoked token is refused from the next request on.
    pub fn authenticate(&self, presented: &str) -> Result<Option<Caller>, NodeError> {
        if self.token_matches(presented) {
            return Ok(Some(Caller {
                name: "api.token".into(),
                role: TokenRole::Admin,
            }));
        }
        let digest = crate::ops::token_digest(presented);
        let mut found = None;
        // Every digest is compared (no early exit), so timing does not tell which matched.
        for (token, stored) in self.store().api_token_digests()? {
            if bool::from(stored.ct_eq(&digest)) {
                found = Some(Caller {
                    name: token.name,
                    role: token.role,
                });
            }
        }
        Ok(found)
    }

    /// Appends an audit record; a failure to audit is logged loudly (the job's own state is in
    /// the same database, so this only fails when the database does).
    pub fn audit(&self, e: &AuditEvent) {
        if let Err(err) = self.store().audit_append(e) {
            tracing::error!(action = %e.action, error = %err, "cannot append to the audit log");
        }
    }

    /// Audits a refusal of `action` from `source` at a bounded rate: the first from a source
    /// in an interval at once, the rest as one record with their count when the interval has
    /// passed ([`crate::refusals`]). `detail` is a JSON object of short strings.
    pub fn audit_refusal(
        &self,
        actor: &'static str,
        action: &'static str,
        source: &str,
        detail: serde_json::Value,
    ) {
        for e in self.refusals.note(actor, action, source, detail) {
            self.audit(&e);
        }
    }

    /// Writes the aggregated refusal counts whose interval has passed, or all of them with
    /// `all` (at shutdown), so no count is lost.
    pub fn flush_refusals(&self, all: bool) {
        for e in self.refusals.take_due(all) {
            self.audit(&e);
        }
    }

    pub(crate) fn running(&self) -> MutexGuard<'_, HashMap<String, RunningJob>> {
        lock(&self.running)
    }

    /// Registers a job's worker; returns its cancel flag.
    pub(crate) fn start_job(&self, id: &str) -> Arc<AtomicBool> {
        let cancel = Arc::new(AtomicBool::new(false));
        self.running().insert(
            id.to_owned(),
            RunningJob {
                cancel: Arc::clone(&cancel),
                shutdown: None,
            },
        );
        cancel
    }

    /// Records the connection of a running job (so `cancel` can close it).
    pub(crate) fn set_shutdown(&self, id: &str, handle: ShutdownHandle) {
        if let Some(r) = self.running().get_mut(id) {
            if r.cancel.load(Ordering::SeqCst) {
                handle.shutdown();
            }
            r.shutdown = Some(handle);
        }
    }

    pub(crate) fn end_job(&self, id: &str) {
        self.running().remove(id);
    }

    /// Closes every running job's connection (shutdown); their workers then fail them.
    pub fn stop_all_jobs(&self) {
        for r in self.running().values() {
            if let Some(h) = &r.shutdown {
                h.shutdown();
            }
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A worker that panicked while holding the lock leaves the store usable: SQLite rolled back
    // whatever statement was in flight.
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}
