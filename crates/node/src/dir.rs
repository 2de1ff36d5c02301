//! The node directory: where each file lives, and `node.toml`.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::NodeError;

/// The files and folders of one node directory (`unseen init` creates them).
#[derive(Clone, Debug)]
pub struct NodeDir {
    root: PathBuf,
}

impl NodeDir {
    /// The node directory at `root` (not checked).
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    /// The directory itself.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// `node.toml`: name, addresses, timeouts.
    pub fn config(&self) -> PathBuf {
        self.root.join("node.toml")
    }

    /// The SQLite database: registries, policies, jobs, audit.
    pub fn db(&self) -> PathBuf {
        self.root.join("node.db")
    }

    /// The node's certificate (public; handed to partners).
    pub fn cert(&self) -> PathBuf {
        self.root.join("identity").join("cert.pem")
    }

    /// The node's private key (mode 0600).
    pub fn key(&self) -> PathBuf {
        self.root.join("identity").join("key.pem")
    }

    /// The SM2 key that signs audit records (mode 0600).
    pub fn audit_key(&self) -> PathBuf {
        self.root.join("identity").join("audit-sm2.key")
    }

    /// Its public key (SEC1 uncompressed, hex): hand it to whoever checks the audit log.
    pub fn audit_public_key(&self) -> PathBuf {
        self.root.join("identity").join("audit-sm2.pub")
    }

    /// The local API's bearer token (mode 0600).
    pub fn token(&self) -> PathBuf {
        self.root.join("api.token")
    }

    /// Where job results go: `outputs/JOB_ID.csv`.
    pub fn outputs(&self) -> PathBuf {
        self.root.join("outputs")
    }

    /// The result file of a job.
    pub fn output(&self, job_id: &str) -> PathBuf {
        self.outputs().join(format!("{job_id}.csv"))
    }

    /// A job's result before both nodes have confirmed the run (renamed to [`Self::output`]
    /// on success, deleted otherwise and at start-up).
    pub fn pending_output(&self, job_id: &str) -> PathBuf {
        self.outputs().join(format!(".{job_id}.csv.pending"))
    }

    /// Where published hidden-query tables live: `pir/DATASET.kwpir` (mode 0600: each holds its
    /// OPRF key).
    pub fn pir_tables(&self) -> PathBuf {
        self.root.join("pir")
    }

    /// The published hidden-query table of a dataset (`unseen pir publish`).
    pub fn pir_table(&self, dataset: &str) -> PathBuf {
        self.pir_tables().join(format!("{dataset}.kwpir"))
    }

    /// The querier's cache of a partner's table hint (the large one-time download), one file
    /// per partner and dataset: `pir-cache/PARTNER/DATASET.hint`.
    pub fn pir_hint_cache(&self, partner: &str, dataset: &str) -> PathBuf {
        self.root
            .join("pir-cache")
            .join(partner)
            .join(format!("{dataset}.hint"))
    }

    /// Where this node's parts of joint models live: `models/MODEL_ID/` (mode 0700), each with
    /// `meta.json` and the part itself.
    pub fn models(&self) -> PathBuf {
        self.root.join("models")
    }

    /// The directory of one model part.
    pub fn model(&self, model_id: &str) -> PathBuf {
        self.models().join(model_id)
    }

    /// The daemon's log file.
    pub fn log(&self) -> PathBuf {
        self.root.join("logs").join("node.log")
    }

    /// Checks that this is an initialised node directory.
    pub fn check(&self) -> Result<(), NodeError> {
        if !self.config().is_file() {
            return Err(NodeError::NotANode(self.root.clone()));
        }
        Ok(())
    }
}

/// The largest `node.toml` read (a real one is about 1 KiB).
const MAX_CONFIG_BYTES: u64 = 1 << 20;

/// `node.toml`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The node's name (its certificate's common name; partners know it by another name).
    pub name: String,
    /// Where partners connect (mutual TLS).
    pub listen: SocketAddr,
    /// The local HTTP API (bearer tokens). On loopback by default; any other address needs
    /// [`Config::api_tls`].
    pub api: SocketAddr,
    /// Serve the API over TLS with the node's own certificate and key (required for an `api`
    /// address that is not loopback; clients pin `identity/cert.pem`).
    #[serde(default)]
    pub api_tls: bool,
    /// Network timeouts.
    #[serde(default)]
    pub timeouts: Timeouts,
    /// Hidden-query (keyword PIR) limits.
    #[serde(default)]
    pub pir: PirConfig,
    /// Single-scoring limits.
    #[serde(default)]
    pub score: ScoreConfig,
    /// Where datasets registered through the API may live.
    #[serde(default)]
    pub data: DataConfig,
}

/// `[data]`: where the files of datasets registered through the HTTP API may be.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DataConfig {
    /// Absolute directories; a dataset registered through the API must be a regular file under
    /// one of them (after resolving symbolic links and `..`). Empty (the default): the API
    /// cannot register datasets; the CLI (`unseen dataset add`) can, anywhere outside the node
    /// directory.
    #[serde(default)]
    pub roots: Vec<std::path::PathBuf>,
}

/// A numeric key of `node.toml` and the values it may take; [`RANGES`] lists every one.
#[derive(Clone, Copy, Debug)]
pub struct KeyRange {
    /// Its dotted path, e.g. `timeouts.read_s`.
    pub key: &'static str,
    /// The least value allowed.
    pub min: u64,
    /// The greatest value allowed.
    pub max: u64,
    /// What it counts, for messages and docs/config.md.
    pub unit: &'static str,
}

/// The longest timeout `node.toml` accepts: one day.
pub const MAX_TIMEOUT_S: u64 = 86_400;

/// The largest daily quota `node.toml` accepts.
pub const MAX_QUOTA: u64 = 1_000_000_000;

/// Every numeric key of `node.toml` with its range, checked by [`Config::load`] at every start
/// (docs/config.md lists the same, a test checks both agree). A new numeric key is one line
/// here.
pub const RANGES: &[KeyRange] = &[
    KeyRange {
        key: "timeouts.connect_s",
        min: 1,
        max: MAX_TIMEOUT_S,
        unit: "seconds",
    },
    KeyRange {
        key: "timeouts.handshake_s",
        min: 1,
        max: MAX_TIMEOUT_S,
        unit: "seconds",
    },
    KeyRange {
        key: "timeouts.read_s",
        min: 1,
        max: MAX_TIMEOUT_S,
        unit: "seconds",
    },
    KeyRange {
        key: "pir.max_keys_per_day",
        min: 0,
        max: MAX_QUOTA,
        unit: "keys per partner, dataset and day",
    },
    KeyRange {
        key: "score.max_per_day",
        min: 0,
        max: MAX_QUOTA,
        unit: "scores per partner, dataset and day",
    },
];

/// `[score]`: limits on single scores (real-time prediction of one applicant) this node serves
/// as a model's host.
#[derive(Clone, Copy, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScoreConfig {
    /// Scores one partner may ask for on one dataset per UTC day. Each names a key of the
    /// partner's choice and tells it whether this node holds the key and its split decisions
    /// on the row, so with enumerable keys this bounds what a partner can learn, as
    /// [`PirConfig::max_keys_per_day`] does for hidden queries. 0 refuses every score.
    #[serde(default = "default_max_scores_per_day")]
    pub max_per_day: u64,
}

/// The default of [`ScoreConfig::max_per_day`].
pub const DEFAULT_MAX_SCORES_PER_DAY: u64 = 100_000;

fn default_max_scores_per_day() -> u64 {
    DEFAULT_MAX_SCORES_PER_DAY
}

impl Default for ScoreConfig {
    fn default() -> Self {
        Self {
            max_per_day: DEFAULT_MAX_SCORES_PER_DAY,
        }
    }
}

/// `[pir]`: limits on hidden queries this node serves.
#[derive(Clone, Copy, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PirConfig {
    /// Keys (OPRF evaluations) one partner may look up in one dataset per UTC day; each lets
    /// the partner test one key of its choice, so with enumerable keys (ID-card, phone numbers)
    /// this is what bounds how much of a table a partner can learn. 0 refuses every query.
    #[serde(default = "default_max_keys_per_day")]
    pub max_keys_per_day: u64,
}

/// The default of [`PirConfig::max_keys_per_day`].
pub const DEFAULT_MAX_KEYS_PER_DAY: u64 = 100_000;

fn default_max_keys_per_day() -> u64 {
    DEFAULT_MAX_KEYS_PER_DAY
}

impl Default for PirConfig {
    fn default() -> Self {
        Self {
            max_keys_per_day: DEFAULT_MAX_KEYS_PER_DAY,
        }
    }
}

/// Network timeouts, in seconds.
#[derive(Clone, Copy, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Timeouts {
    /// Connecting to a partner.
    pub connect_s: u64,
    /// Completing the TLS handshake.
    pub handshake_s: u64,
    /// Waiting for the partner's next message during a job; a stalled partner fails the job
    /// after this long.
    pub read_s: u64,
}

impl Default for Timeouts {
    fn default() -> Self {
        Self {
            connect_s: 10,
            handshake_s: 10,
            read_s: 120,
        }
    }
}

impl Config {
    /// Reads and checks `node.toml`: its syntax, every value's range ([`RANGES`]), the API's
    /// address against `api_tls`, and the data roots. Errors name the file and line.
    pub fn load(dir: &NodeDir) -> Result<Self, NodeError> {
        dir.check()?;
        let path = dir.config();
        // A regular file of at most 1 MiB (a FIFO or device in its place is refused, not read).
        let text = unseen_data::read_small_text(&path, MAX_CONFIG_BYTES)?;
        Self::parse(&path, &text)
    }

    /// Parses and checks the text of `node.toml` read from `path` (named in errors).
    pub fn parse(path: &Path, text: &str) -> Result<Self, NodeError> {
        let at = |key: Option<&str>, reason: String| NodeError::ConfigAt {
            path: path.to_path_buf(),
            line: key.and_then(|k| line_of(text, k)),
            reason,
        };
        let c: Config = toml::from_str(text).map_err(|e| NodeError::ConfigAt {
            path: path.to_path_buf(),
            line: e.span().map(|s| line_at(text, s.start)),
            reason: e.message().trim().to_owned(),
        })?;
        unseen_store::validate_name("node", &c.name)
            .map_err(|e| at(Some("name"), e.to_string()))?;
        // Through JSON, which holds every u64 (TOML integers stop at 2^63 - 1).
        let values = serde_json::to_value(&c)
            .map_err(|e| NodeError::Internal(format!("cannot encode node.toml: {e}")))?;
        for r in RANGES {
            let Some(v) = lookup(&values, r.key) else {
                continue;
            };
            let ok = v.as_u64().is_some_and(|n| (r.min..=r.max).contains(&n));
            if !ok {
                return Err(at(
                    Some(r.key),
                    format!(
                        "{} = {v} is out of range: {} to {} {} (see docs/config.md)",
                        r.key, r.min, r.max, r.unit
                    ),
                ));
            }
        }
        if !c.api.ip().is_loopback() && !c.api_tls {
            return Err(at(
                Some("api"),
                format!(
                    "api = \"{}\" is not a loopback address, and the API would send bearer \
                     tokens in clear text: bind it to 127.0.0.1 (or ::1), or set `api_tls = true` \
                     to serve it over TLS with the node's certificate (see docs/config.md)",
                    c.api
                ),
            ));
        }
        if c.listen == c.api {
            return Err(at(
                Some("api"),
                format!("listen and api are both {}; they must differ", c.api),
            ));
        }
        for root in &c.data.roots {
            let bad = |why: &str| {
                at(
                    Some("data.roots"),
                    format!("data root {}: {why}", root.display()),
                )
            };
            if !root.is_absolute() {
                return Err(bad("must be an absolute path"));
            }
            if !root.is_dir() {
                return Err(bad("is not an existing directory"));
            }
        }
        Ok(c)
    }

    /// The transport options these timeouts give.
    pub fn transport_options(&self) -> unseen_transport::Options {
        let s = std::time::Duration::from_secs;
        unseen_transport::Options {
            connect_timeout: s(self.timeouts.connect_s),
            handshake_timeout: s(self.timeouts.handshake_s),
            read_timeout: s(self.timeouts.read_s),
            ..unseen_transport::Options::default()
        }
    }
}

/// The value at a dotted path (`timeouts.read_s`) of the configuration as JSON.
fn lookup<'a>(v: &'a serde_json::Value, dotted: &str) -> Option<&'a serde_json::Value> {
    dotted.split('.').try_fold(v, |v, part| v.get(part))
}

/// The line (from 1) where the value of a dotted key is written, if it is.
fn line_of(text: &str, dotted: &str) -> Option<usize> {
    let doc = toml::de::DeTable::parse(text).ok()?;
    let mut table = doc.get_ref();
    let mut parts = dotted.split('.').peekable();
    while let Some(part) = parts.next() {
        let value = table.get(part)?;
        if parts.peek().is_none() {
            return Some(line_at(text, value.span().start));
        }
        match value.get_ref() {
            toml::de::DeValue::Table(t) => table = t,
            _ => return None,
        }
    }
    None
}

/// The line (from 1) of a byte offset.
fn line_at(text: &str, offset: usize) -> usize {
    let end = offset.min(text.len());
    text.as_bytes()[..end]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}
