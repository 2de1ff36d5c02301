//! Registry operations shared by the CLI (which opens the node directory directly) and the HTTP
//! API: each validates its input, changes the store and appends an audit record.

use std::net::{SocketAddr, ToSocketAddrs};
use std::path::{Path, PathBuf};

use serde::Deserialize;
use unseen_data::{Encoding, KeyType, ReadOptions, ReadSummary};
use unseen_store::{
    AuditEvent, Dataset, FileStamp, NewDataset, NewPartner, NewPolicy, Partner, Policy, Receivers,
    Store,
};
use unseen_transport::{Certificate, Fingerprint};

use crate::{NodeDir, NodeError};

/// A partner to register.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PartnerInput {
    /// The name this node knows the partner by.
    pub name: String,
    /// Where the partner's node listens (host:port).
    pub address: String,
    /// The partner's certificate, PEM (from its `unseen node export-cert`).
    pub cert_pem: String,
}

/// Registers a partner, pinning its certificate.
pub fn add_partner(
    store: &mut Store,
    actor: &str,
    own: &Fingerprint,
    p: &PartnerInput,
) -> Result<Partner, NodeError> {
    unseen_store::validate_name("partner", &p.name)?;
    resolve(&p.address)?;
    let cert = Certificate::from_pem(&p.cert_pem)?;
    let fp = cert.fingerprint();
    if fp == *own {
        return Err(NodeError::Invalid(
            "this is this node's own certificate; add the partner's (from its `unseen node export-cert`)"
                .into(),
        ));
    }
    let partner = store.add_partner(&NewPartner {
        name: p.name.clone(),
        address: p.address.clone(),
        cert_pem: cert.to_pem(),
        fingerprint: fp.to_string(),
    })?;
    let mut e = AuditEvent::new(actor, "partner.added", "ok");
    e.partner = Some(p.name.clone());
    e.params = serde_json::json!({ "address": p.address, "fingerprint": fp.to_string() });
    store.audit_append(&e)?;
    Ok(partner)
}

/// Resolves a partner address (`host:port`) to its first socket address.
pub fn resolve(address: &str) -> Result<SocketAddr, NodeError> {
    let bad = |why: String| NodeError::Invalid(format!("address {address:?}: {why}"));
    let mut addrs = address
        .to_socket_addrs()
        .map_err(|e| bad(format!("not a host:port address ({e})")))?;
    addrs
        .next()
        .ok_or_else(|| bad("resolves to no address".into()))
}

/// Removes a partner and its policies.
pub fn remove_partner(store: &mut Store, actor: &str, name: &str) -> Result<(), NodeError> {
    store.remove_partner(name)?;
    let mut e = AuditEvent::new(actor, "partner.removed", "ok");
    e.partner = Some(name.to_owned());
    store.audit_append(&e)?;
    Ok(())
}

/// A dataset to register.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatasetInput {
    /// The dataset's name (partners name it in jobs).
    pub name: String,
    /// The CSV file.
    pub path: PathBuf,
    /// The key column.
    pub key: String,
    /// How keys are normalised: `id-card`, `phone` or `string`.
    pub key_type: String,
    /// Character encoding: `auto`, `utf-8`, `gbk` or `gb18030`.
    #[serde(default = "default_encoding")]
    pub encoding: String,
    /// Skip rows whose key is invalid instead of refusing the file.
    #[serde(default)]
    pub skip_invalid: bool,
}

fn default_encoding() -> String {
    "auto".into()
}

/// Read options for a registered dataset.
pub fn read_options(d: &Dataset) -> Result<ReadOptions, NodeError> {
    let key_type: KeyType = d
        .key_type
        .parse()
        .map_err(|e| NodeError::Invalid(format!("dataset {}: {e}", d.name)))?;
    let encoding: Encoding = d
        .encoding
        .parse()
        .map_err(|e| NodeError::Invalid(format!("dataset {}: {e}", d.name)))?;
    let mut o = ReadOptions::new(d.key_column.clone(), key_type);
    o.encoding = encoding;
    o.skip_invalid = d.skip_invalid;
    Ok(o)
}

/// Who registers a dataset, which decides where its file may be ([`check_dataset_path`]).
#[derive(Clone, Copy, Debug)]
pub enum DataAccess<'a> {
    /// The operator on the node's machine (the CLI), who can read the files anyway: any regular
    /// file outside the node directory.
    Operator,
    /// A client of the HTTP API: a regular file under one of these roots (`[data] roots` of
    /// `node.toml`; none configured: nothing), outside the node directory.
    Api {
        /// The configured data roots.
        roots: &'a [PathBuf],
    },
}

/// Checks where a dataset file is and returns its canonical path (symbolic links and `..`
/// resolved): it must be a regular file (not a FIFO, device or directory), never inside the node
/// directory `node_root` (its keys, token, database), and for [`DataAccess::Api`] under a data
/// root. Checked at registration and again each time a job opens the file
/// ([`dataset_file`]), so a link swapped after registration cannot point into the node's secrets.
pub fn check_dataset_path(
    node_root: &Path,
    path: &Path,
    access: DataAccess<'_>,
) -> Result<PathBuf, NodeError> {
    let shown = path.display();
    if let DataAccess::Api { roots } = access
        && roots.is_empty()
    {
        return Err(NodeError::Refused(
            "no data roots are configured, so the API cannot register datasets: list the \
             directories that hold datasets in node.toml (`[data]` with `roots = [\"/srv/data\"]`) \
             and restart the node, or register with `unseen dataset add`"
                .into(),
        ));
    }
    let canonical = path
        .canonicalize()
        .map_err(|e| NodeError::Invalid(format!("dataset file {shown}: {e}")))?;
    let meta = std::fs::metadata(&canonical)
        .map_err(|e| NodeError::Invalid(format!("dataset file {shown}: {e}")))?;
    if !meta.is_file() {
        return Err(NodeError::Invalid(format!(
            "dataset file {shown}: not a regular file (FIFOs, devices and directories are refused)"
        )));
    }
    let node = node_root
        .canonicalize()
        .map_err(|e| NodeError::io(node_root, e))?;
    if canonical.starts_with(&node) {
        return Err(NodeError::Refused(format!(
            "dataset file {shown} is inside the node directory {} (its keys, token and \
             database); keep data files elsewhere",
            node.display()
        )));
    }
    if let DataAccess::Api { roots } = access {
        let under = roots.iter().any(|r| {
            r.canonicalize()
                .is_ok_and(|root| canonical.starts_with(&root))
        });
        if !under {
            let list: Vec<String> = roots.iter().map(|r| r.display().to_string()).collect();
            return Err(NodeError::Refused(format!(
                "dataset file {shown} is not under a data root of node.toml ({}); the API \
                 registers files under these directories only",
                list.join(", ")
            )));
        }
    }
    Ok(canonical)
}

/// The file of a registered dataset as a job opens it: checked again by [`check_dataset_path`]
/// (the operator's rule: a regular file outside the node directory), since the path or a link
/// on it may have changed since registration.
pub fn dataset_file(dir: &NodeDir, d: &Dataset) -> Result<PathBuf, NodeError> {
    check_dataset_path(dir.root(), Path::new(&d.path), DataAccess::Operator)
        .map_err(|e| NodeError::Invalid(format!("dataset {}: {e}", d.name)))
}

/// A registered dataset about to be read by a job, with its path replaced by the checked
/// canonical one ([`dataset_file`]).
pub fn checked_dataset(dir: &NodeDir, mut d: Dataset) -> Result<Dataset, NodeError> {
    d.path = dataset_file(dir, &d)?.display().to_string();
    Ok(d)
}

/// What a partner is told when one of this node's datasets fails [`checked_dataset`]: no local
/// path (the detail goes to this node's log).
pub fn unusable_dataset_reason(name: &str) -> String {
    format!(
        "dataset {name:?} cannot be used: its file is not a regular file outside the node \
         directory; the partner's operator must check and re-register it"
    )
}

/// Registers a dataset after reading it once: the key column must exist and every key must be
/// valid (or `skip_invalid` set), so a bad file is found now rather than in a partner's job.
/// Where the file may be depends on `access` ([`check_dataset_path`]).
pub fn add_dataset(
    dir: &NodeDir,
    store: &mut Store,
    actor: &str,
    d: &DatasetInput,
    access: DataAccess<'_>,
) -> Result<(Dataset, ReadSummary), NodeError> {
    unseen_store::validate_name("dataset", &d.name)?;
    if store.dataset(&d.name)?.is_some() {
        return Err(NodeError::Conflict(format!(
            "a dataset named {:?} exists; remove it first",
            d.name
        )));
    }
    // CSV or Parquet (told apart by the file's first bytes): read_table checks either.
    let path = check_dataset_path(dir.root(), &d.path, access)?;
    let draft = Dataset {
        name: d.name.clone(),
        path: path.display().to_string(),
        key_column: d.key.clone(),
        key_type: d.key_type.clone(),
        columns: Vec::new(),
        encoding: d.encoding.clone(),
        skip_invalid: d.skip_invalid,
        added_ms: 0,
        stamp: None,
    };
    let opts = crate::kinds::psi::key_pass(read_options(&draft)?, false);
    let stamp = file_stamp(&path)?;
    let table = unseen_data::read_table(&path, &opts)?;
    let dataset = store.add_dataset(&NewDataset {
        name: d.name.clone(),
        path: draft.path.clone(),
        key_column: d.key.clone(),
        key_type: d.key_type.clone(),
        columns: table.headers.clone(),
        encoding: d.encoding.clone(),
        skip_invalid: d.skip_invalid,
        stamp: Some(stamp.clone()),
    })?;
    let mut e = AuditEvent::new(actor, "dataset.added", "ok");
    e.datasets = vec![d.name.clone()];
    e.params = serde_json::json!({
        "path": dataset.path,
        "key": d.key,
        "key_type": d.key_type,
        "columns": table.headers,
        "rows": table.keys.len(),
        "size": stamp.size,
        "sm3": stamp.sm3,
    });
    store.audit_append(&e)?;
    Ok((dataset, table.summary))
}

/// Re-registers a dataset whose file changed on purpose (`unseen dataset refresh NAME`): reads
/// the file again as registration does (key column, every key valid), then records its size,
/// modification time and SM3 digest and its columns, keeping the name, policies and key
/// settings. Audited as `dataset.refreshed` with the old and new digests.
pub fn refresh_dataset(
    store: &mut Store,
    actor: &str,
    name: &str,
) -> Result<(Dataset, ReadSummary), NodeError> {
    let old = store.dataset(name)?.ok_or_else(|| {
        NodeError::Store(unseen_store::StoreError::NotFound {
            what: "dataset",
            name: name.to_owned(),
        })
    })?;
    let path = PathBuf::from(&old.path);
    let opts = crate::kinds::psi::key_pass(read_options(&old)?, false);
    let stamp = file_stamp(&path)?;
    let table = unseen_data::read_table(&path, &opts)?;
    let dataset = store.restamp_dataset(name, &table.headers, &stamp)?;
    let mut e = AuditEvent::new(actor, "dataset.refreshed", "ok");
    e.datasets = vec![name.to_owned()];
    e.params = serde_json::json!({
        "path": dataset.path,
        "columns": table.headers,
        "rows": table.keys.len(),
        "size": stamp.size,
        "sm3": stamp.sm3,
        "previous_sm3": old.stamp.map(|s| s.sm3),
    });
    store.audit_append(&e)?;
    Ok((dataset, table.summary))
}

/// The size, modification time and SM3 digest (streamed) of a dataset's file.
pub fn file_stamp(path: &Path) -> Result<FileStamp, NodeError> {
    use std::io::Read;

    use sm3::Digest;
    let io = |e| NodeError::io(path, e);
    // Regular files only, opened without blocking (a FIFO in its place is refused).
    let mut f = unseen_data::open_input(path)?;
    let meta = f.metadata().map_err(io)?;
    let mut h = sm3::Sm3::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = f.read(&mut buf).map_err(io)?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(FileStamp {
        size: meta.len(),
        mtime_ns: mtime_ns(&meta),
        sm3: hex::encode(h.finalize()),
    })
}

fn mtime_ns(meta: &std::fs::Metadata) -> i64 {
    let Ok(t) = meta.modified() else { return 0 };
    match t.duration_since(std::time::UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_nanos()).unwrap_or(i64::MAX),
        Err(e) => i64::try_from(e.duration().as_nanos()).map_or(i64::MIN, |n| -n),
    }
}

/// The registered dataset's file is not the one that was registered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DatasetChanged {
    /// The dataset.
    pub dataset: String,
    /// What differs (`size`, `mtime`, `digest`), as the operator reads it.
    pub what: String,
}

impl std::fmt::Display for DatasetChanged {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "dataset {:?} changed since it was registered ({}); if the change is intended, \
             re-register it with `unseen dataset refresh {}`",
            self.dataset, self.what, self.dataset
        )
    }
}

/// Checks a dataset's file against its registration stamp, before a job reads it: the size
/// and modification time first (a `stat`), then always the SM3 digest of the file, which the
/// job records. A file with the same bytes but a new modification time (touched, copied back)
/// passes. A dataset registered before stamps were recorded is not checked (its digest is
/// still returned). `Ok` holds the file's digest now.
pub fn check_dataset_file(d: &Dataset) -> Result<String, CheckError> {
    let path = Path::new(&d.path);
    let now = file_stamp(path).map_err(|e| CheckError::Unreadable(e.to_string()))?;
    let Some(reg) = &d.stamp else {
        return Ok(now.sm3);
    };
    if now.sm3 == reg.sm3 {
        return Ok(now.sm3);
    }
    let mut what = Vec::new();
    if now.size != reg.size {
        what.push(format!("size {} → {} bytes", reg.size, now.size));
    }
    if now.mtime_ns != reg.mtime_ns {
        what.push("modification time".to_owned());
    }
    what.push(format!("SM3 {}… → {}…", &reg.sm3[..12], &now.sm3[..12]));
    Err(CheckError::Changed(DatasetChanged {
        dataset: d.name.clone(),
        what: what.join(", "),
    }))
}

/// Why [`check_dataset_file`] refused a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CheckError {
    /// It cannot be opened or read.
    Unreadable(String),
    /// It is not the file that was registered.
    Changed(DatasetChanged),
}

impl std::fmt::Display for CheckError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Unreadable(m) => f.write_str(m),
            Self::Changed(c) => c.fmt(f),
        }
    }
}

/// Removes a dataset, its policies and its published hidden-query table (the data file itself
/// is untouched).
pub fn remove_dataset(
    dir: &NodeDir,
    store: &mut Store,
    actor: &str,
    name: &str,
) -> Result<(), NodeError> {
    store.remove_dataset(name)?;
    let table = crate::pir_job::remove_table(dir, name)?;
    let mut e = AuditEvent::new(actor, "dataset.removed", "ok");
    e.datasets = vec![name.to_owned()];
    e.params = serde_json::json!({ "pir_table_removed": table });
    store.audit_append(&e)?;
    Ok(())
}

/// A policy rule.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyInput {
    /// This node's dataset.
    pub dataset: String,
    /// The partner allowed.
    pub partner: String,
    /// The job kind allowed (`psi`, `pir`).
    pub job: String,
    /// Who may receive rows: `any`, `both`, `owner`, `partner`, `none`.
    #[serde(default = "default_receivers")]
    pub receivers: String,
}

fn default_receivers() -> String {
    "any".into()
}

fn check_kind(kind: &str) -> Result<(), NodeError> {
    let kinds = crate::kinds::policy_kinds();
    if kinds.contains(&kind) {
        Ok(())
    } else {
        Err(NodeError::Invalid(format!(
            "unknown job kind {kind:?} (known: {})",
            kinds.join(", ")
        )))
    }
}

/// Allows a partner a job kind on a dataset (replacing an earlier rule for the same triple).
pub fn allow(store: &mut Store, actor: &str, p: &PolicyInput) -> Result<Policy, NodeError> {
    check_kind(&p.job)?;
    let receivers: Receivers = p.receivers.parse().map_err(|_| {
        NodeError::Invalid(format!(
            "receivers {:?}: expected any, both, owner, partner or none",
            p.receivers
        ))
    })?;
    // A hidden query gives records to the querier (the partner) and nothing to this node: any
    // other receivers would allow nothing.
    if p.job == "pir" && !matches!(receivers, Receivers::Any | Receivers::Partner) {
        return Err(NodeError::Invalid(format!(
            "receivers {}: a pir job gives records to the partner that queries and nothing to \
             this node, so its rule must be --receivers partner (or any)",
            receivers.as_str()
        )));
    }
    // Joint modeling aligns the rows by PSI in mode `both`: both nodes learn the common rows.
    if matches!(p.job.as_str(), "train" | "predict")
        && !matches!(receivers, Receivers::Any | Receivers::Both)
    {
        return Err(NodeError::Invalid(format!(
            "receivers {}: a {} job aligns the rows by PSI, so both nodes learn which customers \
             are common; its rule must be --receivers both (or any)",
            receivers.as_str(),
            p.job
        )));
    }
    let policy = store.allow(&NewPolicy {
        dataset: p.dataset.clone(),
        partner: p.partner.clone(),
        job_kind: p.job.clone(),
        receivers,
    })?;
    let mut e = AuditEvent::new(actor, "policy.allowed", "ok");
    e.datasets = vec![p.dataset.clone()];
    e.partner = Some(p.partner.clone());
    e.job_kind = Some(p.job.clone());
    e.params = serde_json::json!({ "receivers": receivers.as_str() });
    store.audit_append(&e)?;
    Ok(policy)
}

/// Removes the rule for a triple (default deny applies again).
pub fn deny(
    store: &mut Store,
    actor: &str,
    dataset: &str,
    partner: &str,
    job: &str,
) -> Result<bool, NodeError> {
    check_kind(job)?;
    let removed = store.deny(dataset, partner, job)?;
    let mut e = AuditEvent::new(
        actor,
        "policy.denied",
        if removed { "ok" } else { "no rule" },
    );
    e.datasets = vec![dataset.to_owned()];
    e.partner = Some(partner.to_owned());
    e.job_kind = Some(job.to_owned());
    store.audit_append(&e)?;
    Ok(removed)
}

/// Tokens of the local API: the digest stored for a secret (SM3; the secret is 256 random bits,
/// so no salt or stretching is needed).
pub fn token_digest(secret: &str) -> unseen_store::TokenDigest {
    use sm3::Digest;
    sm3::Sm3::digest(secret.as_bytes()).into()
}

/// Creates an API token with a role: stores its digest, audits `token.created` (name and role,
/// never the secret) and returns the secret (64 hex digits), which is shown once.
pub fn create_token(
    store: &mut Store,
    actor: &str,
    name: &str,
    role: unseen_store::TokenRole,
) -> Result<(unseen_store::ApiToken, zeroize::Zeroizing<String>), NodeError> {
    let mut raw = zeroize::Zeroizing::new([0u8; 32]);
    getrandom::fill(raw.as_mut_slice()).map_err(|e| {
        NodeError::Internal(format!("operating system randomness unavailable: {e}"))
    })?;
    let secret = zeroize::Zeroizing::new(hex::encode(raw.as_slice()));
    let token = store.add_api_token(name, role, &token_digest(&secret))?;
    let mut e = AuditEvent::new(actor, "token.created", "ok");
    e.params = serde_json::json!({ "name": name, "role": role.as_str() });
    store.audit_append(&e)?;
    Ok((token, secret))
}

/// Revokes an API token (the daemon refuses it from the next request on); audits
/// `token.revoked`.
pub fn revoke_token(store: &mut Store, actor: &str, name: &str) -> Result<(), NodeError> {
    store.revoke_api_token(name)?;
    let mut e = AuditEvent::new(actor, "token.revoked", "ok");
    e.params = serde_json::json!({ "name": name });
    store.audit_append(&e)?;
    Ok(())
}
