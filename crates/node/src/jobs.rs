//! Jobs between nodes: submit, serve a partner's proposal, run, finish, cancel, rerun.
//!
//! Each job runs on its own thread over its own mutually authenticated TLS connection (see
//! [`crate::control`] for the messages). The job's state lives in the store on both nodes; the
//! worker thread moves it proposed → accepted → running → succeeded | failed | cancelled (or
//! proposed → rejected), and every step is audited.

use std::net::TcpStream;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::Deserialize;
use unseen_channel::{AbortCategory, Channel};
use unseen_psi::Progress;
use unseen_store::{
    AuditEvent, Dataset, Finish, Job, JobState, NewJob, Partner, PirGrant, Role, StoreError,
};
use unseen_transport::{Acceptor, Fingerprint, Handshaken, TlsChannel, TransportError};

use crate::control::{
    self, Algorithm, Curve, Decision, Done, JobSpec, Minimums, Propose, PsiMode, Tuning,
};
use crate::fl_job::{self, Columns, ModelMeta, Side, StoredModel};
use crate::node::Node;
use crate::{NodeError, ops, pir_job, policy, psi_job};

/// A job to submit (the HTTP API's `POST /v1/jobs` body).
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SubmitRequest {
    /// Job kind: `psi`.
    pub kind: String,
    /// The partner to run it with.
    pub partner: String,
    /// This node's dataset.
    pub dataset: String,
    /// The partner's dataset.
    pub peer_dataset: String,
    /// PSI: who learns the rows (default `both`).
    #[serde(default)]
    pub mode: Option<PsiMode>,
    /// PSI: the group (default `ristretto255`).
    #[serde(default)]
    pub curve: Option<Curve>,
    /// Train: the algorithm (default `secureboost`).
    #[serde(default)]
    pub algorithm: Option<Algorithm>,
    /// Train: the label column of this node's dataset (0/1; required for `train`).
    #[serde(default)]
    pub label: Option<String>,
    /// Train: trees (SecureBoost) or epochs (logistic regression); default 100.
    #[serde(default)]
    pub trees: Option<u32>,
    /// Train: maximum tree depth (default 5).
    #[serde(default)]
    pub depth: Option<u32>,
    /// Train: bins per feature (default 32).
    #[serde(default)]
    pub bins: Option<u32>,
    /// Train: learning rate (default 0.1).
    #[serde(default)]
    pub learning_rate: Option<f64>,
    /// Train: the datasets are already aligned (same keys in the same order); no PSI, the
    /// nodes compare an SM3 digest of their key columns instead (default false).
    #[serde(default)]
    pub aligned: bool,
    /// Train (SecureBoost): regularisation and sampling (defaults: lambda 1, min child weight
    /// 1, gamma 0, row and column sample 1).
    #[serde(default)]
    pub tuning: Option<Tuning>,
    /// Train: the fewest common rows to train on (default 10, at least 2).
    #[serde(default)]
    pub min_rows: Option<u32>,
    /// Train: the fewest rows of each label class among them (default 2, at least 1).
    #[serde(default)]
    pub min_class_rows: Option<u32>,
}

impl SubmitRequest {
    fn spec(&self) -> Result<JobSpec, NodeError> {
        match self.kind.as_str() {
            "psi" => Ok(JobSpec::Psi {
                mode: self.mode.unwrap_or(PsiMode::Both),
                curve: self.curve.unwrap_or(Curve::Ristretto255),
            }),
            "train" => {
                let spec = JobSpec::Train {
                    algorithm: self.algorithm.unwrap_or(Algorithm::Secureboost),
                    trees: self.trees.unwrap_or(100),
                    depth: self.depth.unwrap_or(5),
                    bins: self.bins.unwrap_or(32),
                    learning_rate: self.learning_rate.unwrap_or(0.1),
                    aligned: self.aligned,
                    tuning: self.tuning.unwrap_or_default(),
                    minimums: Minimums {
                        rows: self.min_rows.unwrap_or(Minimums::default().rows),
                        per_class: self.min_class_rows.unwrap_or(Minimums::default().per_class),
                    },
                };
                if let JobSpec::Train {
                    trees,
                    depth,
                    bins,
                    learning_rate,
                    tuning,
                    minimums,
                    ..
                } = spec
                {
                    control::check_train(trees, depth, bins, learning_rate)
                        .and_then(|()| tuning.check())
                        .and_then(|()| minimums.check())
                        .map_err(NodeError::Invalid)?;
                }
                if self.label.as_deref().is_none_or(|l| l.trim().is_empty()) {
                    return Err(NodeError::Invalid(
                        "a train job needs the label column of this node's dataset (--label)"
                            .into(),
                    ));
                }
                Ok(spec)
            }
            "predict" => Err(NodeError::Invalid(
                "predict jobs are run with `unseen predict` or `unseen report` on the node \
                 directory, which write the scores or the report themselves"
                    .into(),
            )),
            "pir" => Err(NodeError::Invalid(
                "pir jobs (hidden queries) are run with `unseen query` on the node directory, \
                 which reads the keys file itself: the keys never pass through the API"
                    .into(),
            )),
            other => Err(NodeError::Invalid(format!(
                "unknown job kind {other:?} (known: {})",
                control::JOB_KINDS.join(", ")
            ))),
        }
    }
}

fn not_found(what: &'static str, name: &str) -> NodeError {
    NodeError::Store(StoreError::NotFound {
        what,
        name: name.to_owned(),
    })
}

fn new_job_id() -> Result<String, NodeError> {
    let mut b = [0u8; 16];
    getrandom::fill(&mut b).map_err(|e| {
        NodeError::Internal(format!("operating system randomness unavailable: {e}"))
    })?;
    Ok(hex::encode(b))
}

fn job_event(actor: &str, action: &str, outcome: &str, job: &Job) -> AuditEvent {
    let mut e = AuditEvent::new(actor, action, outcome);
    e.job_id = Some(job.id.clone());
    e.job_kind = Some(job.kind.clone());
    e.datasets = vec![
        job.dataset.clone(),
        format!("{}:{}", job.partner, job.peer_dataset),
    ];
    e.partner = Some(job.partner.clone());
    e.params = job.params.clone();
    e
}

/// [`job_event`] for a job that ended short of success: its parameters and the reason.
fn ended_event(actor: &str, action: &str, outcome: &str, job: &Job, reason: &str) -> AuditEvent {
    let mut e = job_event(actor, action, outcome, job);
    e.params = serde_json::json!({ "spec": job.params, "reason": reason });
    e
}

/// Submits a job to a partner: checks this node's own policy, records the job as proposed and
/// starts a worker that proposes it to the partner and runs it.
pub fn submit(
    node: &Arc<Node>,
    actor: &str,
    req: &SubmitRequest,
    rerun_of: Option<String>,
) -> Result<Job, NodeError> {
    let spec = req.spec()?;
    // A PSI-aligned job on a dataset with no rows is refused here, before the partner hears of
    // it; the keys read now are the ones the PSI runs on (no second read) and their count goes
    // into the proposal, so the partner caps what this node may announce.
    let keys = if matches!(
        spec,
        JobSpec::Psi { .. } | JobSpec::Train { aligned: false, .. }
    ) {
        let d = node
            .store()
            .dataset(&req.dataset)?
            .ok_or_else(|| not_found("dataset", &req.dataset))?;
        Some(dataset_keys(&d).map_err(|(_, r)| NodeError::Invalid(r))?)
    } else {
        None
    };
    let rows = keys.as_ref().map(|t| t.keys.len() as u64);
    let (partner, dataset, job) = {
        let mut store = node.store();
        let partner = store
            .partner(&req.partner)?
            .ok_or_else(|| not_found("partner", &req.partner))?;
        let dataset = store
            .dataset(&req.dataset)?
            .ok_or_else(|| not_found("dataset", &req.dataset))?;
        let dataset = crate::ops::checked_dataset(&node.dir, dataset)?;
        unseen_store::validate_name("dataset", &req.peer_dataset)?;
        if let Err(reason) = policy::check(&store, &req.dataset, &req.partner, &spec, true)? {
            let mut e = AuditEvent::new(actor, "job.refused", "refused");
            e.job_kind = Some(spec.kind().to_owned());
            e.datasets = vec![req.dataset.clone()];
            e.partner = Some(req.partner.clone());
            e.params = serde_json::json!({ "reason": reason });
            store.audit_append(&e)?;
            return Err(NodeError::Refused(reason));
        }
        let job = store.insert_job(&NewJob {
            id: new_job_id()?,
            kind: spec.kind().to_owned(),
            role: Role::Initiator,
            partner: req.partner.clone(),
            dataset: req.dataset.clone(),
            peer_dataset: req.peer_dataset.clone(),
            params: serde_json::to_value(spec).map_err(|e| NodeError::Internal(e.to_string()))?,
            state: JobState::Proposed,
            rerun_of,
        })?;
        store.audit_append(&job_event(actor, "job.proposed", "proposed", &job))?;
        (partner, dataset, job)
    };
    tracing::info!(job = %job.id, partner = %partner.name, kind = %job.kind, "job proposed");
    let cancel = node.start_job(&job.id);
    let worker_node = Arc::clone(node);
    let worker_job = job.clone();
    let label = req.label.clone();
    let spawned = std::thread::Builder::new()
        .name(format!("job-{}", &job.id[..8]))
        .spawn(move || {
            let work = match (spec, keys) {
                (JobSpec::Train { .. }, _) => Work::TrainGuest {
                    dataset,
                    label: label.unwrap_or_default(),
                },
                // A PSI spec always has its keys (read above).
                (_, keys) => Work::Psi(dataset, Box::new(keys.unwrap_or_default())),
            };
            let result = initiate(
                &worker_node,
                &worker_job,
                &partner,
                &work,
                (spec, rows),
                &cancel,
            );
            finish(&worker_node, &worker_job, result, &cancel);
        });
    if let Err(e) = spawned {
        node.end_job(&job.id);
        return Err(NodeError::Internal(format!(
            "cannot start a job thread: {e}"
        )));
    }
    Ok(job)
}

/// Asks a hidden query from this process (`unseen query`, no daemon needed): records the job
/// (initiator, kind `pir`), proposes it to the partner over mutual TLS, runs the keyword-PIR
/// client on `input`'s keys and writes `input.output` when both nodes confirm; returns the job
/// as it ended (`succeeded`, `rejected` by the partner, or `failed`).
///
/// Only the partner's policy applies: the keys file is not a registered dataset and nothing of
/// it leaves this node but the number of distinct keys.
pub fn query(
    node: &Arc<Node>,
    actor: &str,
    partner: &str,
    dataset: &str,
    curve: Curve,
    reveal_bucket: Option<u32>,
    input: pir_job::QueryInput,
) -> Result<Job, NodeError> {
    let distinct = input.distinct_keys().0.len();
    if distinct == 0 {
        return Err(NodeError::Invalid(format!(
            "{}: no keys to look up",
            input.input.display()
        )));
    }
    let keys = u32::try_from(distinct).map_err(|_| {
        NodeError::Invalid(format!(
            "{}: {distinct} distinct keys, at most {} in one query",
            input.input.display(),
            u32::MAX
        ))
    })?;
    if reveal_bucket == Some(0) {
        return Err(NodeError::Invalid(
            "--reveal-bucket-k-anonymity must be at least 1".into(),
        ));
    }
    let spec = JobSpec::Pir {
        curve,
        keys,
        reveal_bucket,
    };
    let (partner, job) = {
        let mut store = node.store();
        let partner = store
            .partner(partner)?
            .ok_or_else(|| not_found("partner", partner))?;
        unseen_store::validate_name("dataset", dataset)?;
        let job = store.insert_job(&NewJob {
            id: new_job_id()?,
            kind: spec.kind().to_owned(),
            role: Role::Initiator,
            partner: partner.name.clone(),
            dataset: pir_job::QUERY_DATASET.to_owned(),
            peer_dataset: dataset.to_owned(),
            params: serde_json::to_value(spec).map_err(|e| NodeError::Internal(e.to_string()))?,
            state: JobState::Proposed,
            rerun_of: None,
        })?;
        store.audit_append(&job_event(actor, "job.proposed", "proposed", &job))?;
        (partner, job)
    };
    run_here(
        node,
        &job,
        &partner,
        &Work::PirQuery(Box::new(input)),
        (spec, None),
    )
}

/// Scores a dataset with a trained model from this process (`unseen predict`, `unseen
/// report`; no daemon needed): records the job (initiator, kind `predict`), proposes it to the
/// model's partner, aligns the rows by PSI, runs the federated prediction and writes
/// `input.output` (the scores, or the report) when both nodes confirm.
pub fn predict(
    node: &Arc<Node>,
    actor: &str,
    peer_dataset: &str,
    input: PredictInput,
) -> Result<Job, NodeError> {
    let meta = &input.model.meta;
    if meta.side != Side::Guest {
        return Err(NodeError::Invalid(format!(
            "model {} is held here as the host's part (features of partner {}'s model); only \
             the guest ({}) scores with it",
            meta.model_id, meta.partner, meta.partner
        )));
    }
    let spec = JobSpec::Predict {
        model: meta.model_id,
        aligned: input.aligned,
    };
    let rows = if input.aligned {
        None
    } else {
        Some(
            dataset_keys(&input.dataset)
                .map_err(|(_, r)| NodeError::Invalid(r))?
                .keys
                .len() as u64,
        )
    };
    let (partner, job) = {
        let mut store = node.store();
        let partner = store
            .partner(&meta.partner)?
            .ok_or_else(|| not_found("partner", &meta.partner))?;
        unseen_store::validate_name("dataset", peer_dataset)?;
        if let Err(reason) = policy::check(&store, &input.dataset.name, &partner.name, &spec, true)?
        {
            return Err(NodeError::Refused(reason));
        }
        let job = store.insert_job(&NewJob {
            id: new_job_id()?,
            kind: spec.kind().to_owned(),
            role: Role::Initiator,
            partner: partner.name.clone(),
            dataset: input.dataset.name.clone(),
            peer_dataset: peer_dataset.to_owned(),
            params: serde_json::to_value(spec).map_err(|e| NodeError::Internal(e.to_string()))?,
            state: JobState::Proposed,
            rerun_of: None,
        })?;
        store.audit_append(&job_event(actor, "job.proposed", "proposed", &job))?;
        (partner, job)
    };
    run_here(
        node,
        &job,
        &partner,
        &Work::PredictGuest(Box::new(input)),
        (spec, rows),
    )
}

/// Runs a job this process recorded (`unseen query`, `predict`, `report`) to its end, here
/// rather than on a daemon's worker; a usage error of the local part becomes
/// [`NodeError::Invalid`], any other end is the returned job's state.
fn run_here(
    node: &Arc<Node>,
    job: &Job,
    partner: &Partner,
    work: &Work,
    spec: (JobSpec, Option<u64>),
) -> Result<Job, NodeError> {
    tracing::info!(job = %job.id, partner = %partner.name, kind = %job.kind, "job proposed");
    let cancel = node.start_job(&job.id);
    let result = initiate(node, job, partner, work, spec, &cancel);
    let usage = match &result {
        Err((End::Usage(r), _)) => Some(r.clone()),
        _ => None,
    };
    finish(node, job, result, &cancel);
    if let Some(r) = usage {
        return Err(NodeError::Invalid(format!("job {}: {r}", job.id)));
    }
    node.store()
        .job(&job.id)?
        .ok_or_else(|| not_found("job", &job.id))
}

/// What this node brings to a job.
enum Work {
    /// A registered dataset to run a PSI on (either role), with its keys as read when the job
    /// was submitted or accepted (checked not empty).
    Psi(Dataset, Box<unseen_data::Table>),
    /// A published table to answer a hidden query from, and the keys granted against the
    /// partner's quota on UTC `day`.
    PirServe {
        dataset: String,
        table: pir_job::SharedTable,
        granted: u64,
        day: i64,
    },
    /// A hidden query to ask.
    PirQuery(Box<pir_job::QueryInput>),
    /// Training as the guest: this node's dataset with its label column.
    TrainGuest {
        /// The dataset (features and label).
        dataset: Dataset,
        /// The label column.
        label: String,
    },
    /// Training as the host: this node's dataset (features).
    TrainHost(Dataset),
    /// Scoring as the guest: the model, the dataset, where the scores or the report go.
    PredictGuest(Box<PredictInput>),
    /// Scoring as the host: this node's part of the model and its dataset.
    PredictHost {
        /// The dataset (the model's features by name).
        dataset: Dataset,
        /// The host part.
        model: Box<StoredModel>,
    },
}

impl Work {
    /// The registered dataset this node computes on, if any (checked against its registration
    /// before the job reads it).
    fn dataset(&self) -> Option<&Dataset> {
        match self {
            Self::Psi(d, _) | Self::TrainHost(d) => Some(d),
            Self::TrainGuest { dataset, .. } | Self::PredictHost { dataset, .. } => Some(dataset),
            Self::PredictGuest(p) => Some(&p.dataset),
            Self::PirServe { .. } | Self::PirQuery(_) => None,
        }
    }
}

/// What the guest of a prediction brings: its model part, its dataset, the output.
pub struct PredictInput {
    /// The guest part of the model.
    pub model: StoredModel,
    /// The dataset to score (the model's guest features by name; the label for a report).
    pub dataset: Dataset,
    /// Where the scores (CSV) or the report (HTML) go.
    pub output: std::path::PathBuf,
    /// `Some(threshold)`: write the model report for this classification threshold instead of
    /// the scores (the dataset must hold the model's label column).
    pub report: Option<f64>,
    /// The dataset and the partner's are already aligned (no PSI; checked by digest).
    pub aligned: bool,
}

impl PredictInput {
    /// The output before both nodes confirm: a hidden file beside it.
    fn pending(&self, job_id: &str) -> std::path::PathBuf {
        let name = self
            .output
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        self.output
            .with_file_name(format!(".{name}.{}.pending", &job_id[..8]))
    }
}

/// What the local part of a job produced.
struct Produced {
    /// Whether the pending output was written.
    wrote: bool,
    /// Kind-specific result fields (a JSON object).
    result: serde_json::Value,
    /// A model part to keep once both nodes confirm.
    model: Option<NewModel>,
}

/// A trained model part, saved only after both nodes confirmed the run.
struct NewModel {
    meta: ModelMeta,
    part: Vec<u8>,
    train_scores: Option<Vec<f64>>,
}

/// Deletes a pending output however the job ends (after a successful rename it is gone).
struct PendingFile(std::path::PathBuf);

impl Drop for PendingFile {
    fn drop(&mut self) {
        if self.0.exists() {
            let _ = std::fs::remove_file(&self.0);
        }
    }
}

/// How a job ended, short of success, sorted by whose fault.
enum End {
    Rejected(String),
    /// An internal error, or the connection failed.
    Failed(String),
    /// Failed because this node's user gave input that does not fit (recorded as failed; the
    /// command that ran the job reports it as a usage error).
    Usage(String),
    /// This node's own data did not fit (a dataset, a value in it, too few rows).
    Input(String),
    /// The protocol with the partner failed: its messages were wrong.
    Protocol(String),
    /// The partner gave up and said so with an abort frame: its category, never its data.
    PartnerFailed(AbortCategory),
}

impl End {
    /// What this node tells the partner when it gives up (an abort frame's category).
    fn category(&self) -> AbortCategory {
        match self {
            Self::Rejected(_) => AbortCategory::Policy,
            Self::Usage(_) | Self::Input(_) => AbortCategory::Input,
            Self::Protocol(_) => AbortCategory::Protocol,
            Self::Failed(_) | Self::PartnerFailed(_) => AbortCategory::Internal,
        }
    }
}

impl From<fl_job::FlError> for End {
    fn from(e: fl_job::FlError) -> Self {
        match e {
            fl_job::FlError::Input(m) => Self::Input(m),
            fl_job::FlError::Protocol(m) => Self::Protocol(m),
        }
    }
}

/// What a successful run produced.
struct Outcome {
    output: Option<String>,
    digest: Option<String>,
    bytes_sent: u64,
    bytes_received: u64,
    result: serde_json::Value,
}

/// `(spec, rows)`: the job and, for a job aligned by PSI, the number of keys this node brings
/// (sent in the proposal).
fn initiate(
    node: &Arc<Node>,
    job: &Job,
    partner: &Partner,
    work: &Work,
    (spec, rows): (JobSpec, Option<u64>),
    cancel: &AtomicBool,
) -> Result<Outcome, (End, Option<unseen_channel::Stats>)> {
    let fail = |m: String| (End::Failed(m), None);
    let addr = ops::resolve(&partner.address).map_err(|e| fail(e.to_string()))?;
    let pin: Fingerprint = partner.fingerprint.parse().map_err(|_| {
        fail(format!(
            "partner {}: stored fingerprint does not parse",
            partner.name
        ))
    })?;
    let opts = node.config.transport_options();
    // At most MAX_OUTGOING_PER_PARTNER of our jobs talk to one partner at once; the rest wait
    // here (still `proposed`, cancellable), held until this job ends.
    let _session = node
        .outgoing
        .acquire(&partner.name, cancel)
        .map_err(|reason| fail(format!("partner {}: {reason}", partner.name)))?;
    let mut ch = connect_patiently(node, &job.id, addr, &pin, &opts, cancel).map_err(|e| {
        fail(format!(
            "cannot open a mutual TLS connection to partner {} at {addr}: {e}",
            partner.name
        ))
    })?;
    node.set_shutdown(&job.id, ch.shutdown_handle());
    if cancel.load(Ordering::SeqCst) {
        return Err(fail("cancelled before the partner was asked".into()));
    }
    let propose = Propose {
        job_id: job.id.clone(),
        dataset: job.peer_dataset.clone(),
        initiator_dataset: job.dataset.clone(),
        spec,
        key: None,
        rows,
    };
    let lost = |ch: &TlsChannel, e: &dyn std::fmt::Display| {
        (
            End::Failed(format!("partner {}: {e}", partner.name)),
            Some(ch.stats()),
        )
    };
    control::send_propose(&mut ch, &propose).map_err(|e| lost(&ch, &e))?;
    let decision = control::recv_decision(&mut ch).map_err(|e| lost(&ch, &e))?;
    if !decision.accepted {
        let reason = decision.reason.unwrap_or_else(|| "no reason given".into());
        return Err((
            End::Rejected(format!(
                "partner {} rejected the job: {reason}",
                partner.name
            )),
            Some(ch.stats()),
        ));
    }
    {
        let mut store = node.store();
        store
            .transition(&job.id, JobState::Accepted, None)
            .map_err(|e| fail(e.to_string()))?;
        store
            .audit_append(&job_event(&partner.name, "job.accepted", "accepted", job))
            .map_err(|e| fail(e.to_string()))?;
    }
    let peer = (partner.name.as_str(), decision.rows);
    execute(node, job, &mut ch, work, spec, true, peer)
}

/// Connects to the partner, retrying with exponential backoff (250 ms doubling to 5 s, with
/// jitter) for up to [`crate::admission::CONNECT_RETRY_FOR`] while the failure is transient:
/// the partner answered "busy", or closed or reset the connection during the handshake (a
/// responder shedding load). Nothing was proposed yet, so a retry cannot run a job twice.
fn connect_patiently(
    node: &Node,
    job_id: &str,
    addr: std::net::SocketAddr,
    pin: &Fingerprint,
    opts: &unseen_transport::Options,
    cancel: &AtomicBool,
) -> Result<TlsChannel, TransportError> {
    let give_up = Instant::now() + crate::admission::CONNECT_RETRY_FOR;
    // Jitter from the job id (random), so jobs refused together do not retry together.
    let seed = u64::from_str_radix(job_id.get(..8).unwrap_or("0"), 16).unwrap_or(0);
    let mut delay = Duration::from_millis(250);
    for attempt in 0u64.. {
        let e = match unseen_transport::connect(addr, node.identity(), pin, opts) {
            Ok(ch) => return Ok(ch),
            Err(e) => e,
        };
        let jitter = delay.mul_f64(0.5 * (((seed >> (attempt % 56)) & 0xff) as f64 / 255.0));
        let wait = delay + jitter;
        if !e.is_transient() || Instant::now() + wait >= give_up || cancel.load(Ordering::SeqCst) {
            return Err(e);
        }
        tracing::info!(job = %job_id, attempt = attempt + 1, error = %e, "partner connection failed transiently; retrying");
        let until = Instant::now() + wait;
        while Instant::now() < until && !cancel.load(Ordering::SeqCst) {
            std::thread::sleep(Duration::from_millis(50));
        }
        delay = (delay * 2).min(Duration::from_secs(5));
    }
    Err(TransportError::Internal("retry loop ended".into()))
}

/// Runs the accepted job's protocol on `ch`, writes the output (pending until both nodes report
/// success) and returns what it produced. `(partner, peer_rows)`: the partner's name and the
/// number of keys it said its dataset holds, the most its PSI may announce.
fn execute(
    node: &Arc<Node>,
    job: &Job,
    ch: &mut TlsChannel,
    work: &Work,
    spec: JobSpec,
    initiator: bool,
    (partner, peer_rows): (&str, Option<u64>),
) -> Result<Outcome, (End, Option<unseen_channel::Stats>)> {
    // No slack: the count is of the same read of the same file the partner's PSI announces
    // (PSI jobs), or of a read moments before it (training, prediction); a file that grew in
    // between is a changed dataset and fails the job.
    let peer_limit = peer_rows.unwrap_or(unseen_psi::DEFAULT_MAX_PEER_ITEMS);
    node.store()
        .transition(&job.id, JobState::Running, None)
        .map_err(|e| (End::Failed(e.to_string()), None))?;
    tracing::info!(job = %job.id, partner = %partner, "job running");
    let (pending, fin) = match work {
        Work::PirQuery(q) => (q.pending(&job.id), q.output.clone()),
        Work::PredictGuest(p) => (p.pending(&job.id), p.output.clone()),
        _ => (node.dir.pending_output(&job.id), node.dir.output(&job.id)),
    };
    let _pending = PendingFile(pending.clone());
    // The dataset must still be the file that was registered: a replaced file fails the job
    // (on both nodes: the partner is told) until the operator re-registers it.
    let dataset_sm3 = match work.dataset().map(ops::check_dataset_file).transpose() {
        Ok(d) => d,
        Err(e) => {
            let end = End::Input(e.to_string());
            let _ = ch.abort(end.category());
            return Err((end, Some(ch.stats())));
        }
    };
    // Local work that can fail tells the partner (an abort frame) so it fails fast too.
    let local: Result<Produced, End> = match (spec, work) {
        (JobSpec::Psi { mode, curve }, Work::Psi(dataset, keys)) => run_psi(
            node,
            job,
            ch,
            (dataset, &**keys),
            mode,
            curve,
            initiator,
            (partner, peer_limit),
            &pending,
        ),
        (
            JobSpec::Pir { reveal_bucket, .. },
            Work::PirServe {
                dataset,
                table,
                granted,
                day,
            },
        ) if !initiator => serve_pir(
            node,
            job,
            ch,
            partner,
            dataset,
            table,
            (*granted, *day),
            reveal_bucket,
        )
        .map_err(End::Protocol),
        (
            JobSpec::Pir {
                curve,
                reveal_bucket,
                ..
            },
            Work::PirQuery(q),
        ) if initiator => ask_pir(node, job, ch, partner, q, curve, reveal_bucket, &pending),
        (JobSpec::Train { .. }, Work::TrainGuest { dataset, label }) if initiator => train(
            node,
            job,
            ch,
            spec,
            dataset,
            Some(label),
            (partner, peer_limit),
        ),
        (JobSpec::Train { .. }, Work::TrainHost(dataset)) if !initiator => {
            train(node, job, ch, spec, dataset, None, (partner, peer_limit))
        }
        (JobSpec::Predict { .. }, Work::PredictGuest(p)) if initiator => {
            predict_guest(node, job, ch, p, (partner, peer_limit), &pending)
        }
        (JobSpec::Predict { aligned, .. }, Work::PredictHost { dataset, model }) if !initiator => {
            predict_host(
                node,
                job,
                ch,
                dataset,
                model,
                (partner, peer_limit),
                aligned,
            )
        }
        _ => Err(End::Failed(
            "internal error: the job's kind does not match this node's part; please report"
                .to_owned(),
        )),
    };
    // Whatever this node was doing when the partner gave up, the partner's abort is the cause
    // (its category, never its data), not the message this node then failed to read.
    let partner_gave_up = |ch: &TlsChannel, end: End| match ch.peer_aborted() {
        Some(category) => End::PartnerFailed(category),
        None => end,
    };
    let stats_now = |ch: &TlsChannel| Some(ch.stats());
    let produced = match local.map_err(|end| partner_gave_up(ch, end)) {
        Ok(v) => v,
        Err(end) => {
            // Tell the partner, whatever protocol step it waits in, that this node gave up and
            // in which category (one byte: no reason text, so no data of ours can leave).
            if !matches!(end, End::PartnerFailed(_)) {
                let _ = ch.abort(end.category());
            }
            return Err((end, stats_now(ch)));
        }
    };
    let own_head = node
        .store()
        .audit_head()
        .ok()
        .map(|(seq, hash)| control::AuditAnchor { seq, hash });
    let report = Done {
        ok: true,
        reason: None,
        audit_head: own_head,
    };
    let partner_head = control::send_done(ch, &report)
        .and_then(|()| control::recv_done(ch))
        .map_err(|e| {
            let end = End::Failed(format!(
                "partner {partner}: {e} (while confirming the result; nothing was kept)"
            ));
            (partner_gave_up(ch, end), stats_now(ch))
        })
        .and_then(|peer| {
            if peer.ok {
                Ok(peer.audit_head)
            } else {
                Err((
                    End::Failed(format!(
                        "partner {partner} reported a failure: {}",
                        peer.reason.unwrap_or_default()
                    )),
                    stats_now(ch),
                ))
            }
        })?;
    if let Some(m) = &produced.model {
        fl_job::save_model(&node.dir, &m.meta, &m.part, m.train_scores.as_deref()).map_err(
            |e| {
                (
                    End::Failed(format!("cannot save the model part: {e}")),
                    stats_now(ch),
                )
            },
        )?;
    }
    let (output, digest) = if produced.wrote {
        std::fs::rename(&pending, &fin).map_err(|e| {
            (
                End::Failed(format!("cannot move the output into place: {e}")),
                stats_now(ch),
            )
        })?;
        let digest = sm3_file(&fin).map_err(|e| {
            (
                End::Failed(format!("cannot read back the output: {e}")),
                stats_now(ch),
            )
        })?;
        (Some(fin.display().to_string()), Some(digest))
    } else {
        (None, None)
    };
    let st = ch.stats();
    let mut result = produced.result;
    if let Some(r) = result.as_object_mut() {
        r.insert("rounds".into(), st.rounds.into());
        if let Some(d) = dataset_sm3 {
            // The digest of the dataset file the job read (the registered one, checked above).
            r.insert("dataset_sm3".into(), d.into());
        }
        r.insert(
            "partner_audit_head".into(),
            serde_json::to_value(partner_head).unwrap_or_default(),
        );
    }
    Ok(Outcome {
        output,
        digest,
        bytes_sent: st.bytes_sent,
        bytes_received: st.bytes_received,
        result,
    })
}

/// One party of a PSI job: reads the dataset's keys, runs its role, writes its rows (or the
/// cardinality) to `pending`.
#[allow(clippy::too_many_arguments)] // one call site; a struct would only rename them
fn run_psi(
    node: &Node,
    job: &Job,
    ch: &mut TlsChannel,
    (dataset, table): (&Dataset, &unseen_data::Table),
    mode: PsiMode,
    curve: Curve,
    initiator: bool,
    (partner, peer_limit): (&str, u64),
    pending: &std::path::Path,
) -> Result<Produced, End> {
    let (leader, reveal) = psi_job::role(mode, initiator);
    let opts = psi_job::key_pass(
        ops::read_options(dataset).map_err(|e| End::Input(e.to_string()))?,
        false,
    );
    let path = std::path::Path::new(&dataset.path);
    let progress = progress_sink(node, &job.id);
    let params = psi_job::params(reveal, opts.key_type, peer_limit)
        .map_err(|e| End::Input(e.to_string()))?;
    let out = psi_job::run_role(ch, curve, leader, &table.keys, params, &progress)
        .map_err(|e| End::Protocol(format!("partner {partner}: {e}")))?;
    let (rows, wrote) = match (&out.intersection, out.cardinality) {
        (Some(idx), _) if psi_job::learns_rows(leader, reveal) => {
            let n = psi_job::write_rows(pending, path, &opts, table, idx)
                .map_err(|e| End::Failed(format!("writing the output: {e}")))?;
            (Some(n), true)
        }
        (None, Some(c)) => {
            psi_job::write_cardinality(pending, c)
                .map_err(|e| End::Failed(format!("writing the output: {e}")))?;
            (None, true)
        }
        _ => (None, false),
    };
    Ok(Produced {
        wrote,
        model: None,
        result: serde_json::json!({
            "items": table.keys.len(),
            "peer_items": out.peer_items,
            "intersection": out.intersection.as_ref().map(Vec::len),
            "cardinality": out.cardinality,
            "rows_written": rows,
        }),
    })
}

/// The keys of `dataset` as a job aligned by PSI reads them (keys only, first row of a repeated
/// key kept), refused when there are none: a job on an empty dataset would tell the partner
/// this node's size and nobody anything.
///
/// `Err((empty, reason))`: `empty` tells an empty dataset (a reason the partner may be told)
/// from one that cannot be read (whose reason names this node's file and stays here).
fn dataset_keys(dataset: &Dataset) -> Result<unseen_data::Table, (bool, String)> {
    let opts = psi_job::key_pass(
        ops::read_options(dataset).map_err(|e| (false, e.to_string()))?,
        false,
    );
    let table = unseen_data::read_table(std::path::Path::new(&dataset.path), &opts)
        .map_err(|e| (false, format!("dataset {}: {e}", dataset.name)))?;
    if table.keys.is_empty() {
        let s = &table.summary;
        return Err((
            true,
            format!(
                "dataset {} has no rows ({} read, {} skipped as invalid); a job on it would find \
             nothing",
                dataset.name, s.rows_read, s.skipped_invalid
            ),
        ));
    }
    Ok(table)
}

/// The responder of a hidden query: answers from the published table, at most the keys
/// granted; gives back to the quota what a successful session did not use (a failed one keeps
/// the whole grant: the partner may have had evaluations before it failed).
#[allow(clippy::too_many_arguments)] // one call site
fn serve_pir(
    node: &Node,
    job: &Job,
    ch: &mut TlsChannel,
    partner: &str,
    dataset: &str,
    table: &pir_job::SharedTable,
    (granted, day): (u64, i64),
    reveal_bucket: Option<u32>,
) -> Result<Produced, String> {
    let served =
        pir_job::serve(ch, table, granted).map_err(|e| format!("partner {partner}: {e}"))?;
    let unused = granted.saturating_sub(served.keys);
    if unused > 0
        && let Err(e) = node.store().pir_release(partner, dataset, day, unused)
    {
        tracing::warn!(job = %job.id, error = %e, "cannot give unused hidden-query keys back");
    }
    if served.reveal_bucket != reveal_bucket {
        return Err(format!(
            "partner {partner} looked keys up in another mode than the one it proposed"
        ));
    }
    if let Err(e) = node.store().set_progress(&job.id, served.keys, served.keys) {
        tracing::warn!(job = %job.id, error = %e, "cannot record progress");
    }
    let info = table.info();
    Ok(Produced {
        wrote: false,
        model: None,
        result: serde_json::json!({
            "keys": served.keys,
            "batches": served.batches,
            "lookup": if served.reveal_bucket.is_some() { "reveal-bucket" } else { "private" },
            "hint": served.hint,
            "table_id": hex::encode(info.table_id),
            "epoch": info.epoch,
        }),
    })
}

/// The initiator of a hidden query: runs the client, writes the rows with their records.
#[allow(clippy::too_many_arguments)] // one call site
fn ask_pir(
    node: &Node,
    job: &Job,
    ch: &mut TlsChannel,
    partner: &str,
    q: &pir_job::QueryInput,
    curve: Curve,
    reveal_bucket: Option<u32>,
    pending: &std::path::Path,
) -> Result<Produced, End> {
    let lookup = pir_job::Lookup {
        curve,
        reveal_bucket,
    };
    let r = pir_job::query(
        ch,
        &node.dir,
        (partner, &job.peer_dataset),
        q,
        lookup,
        pending,
    )
    .map_err(|e| match e {
        pir_job::QueryError::Usage(m) => End::Usage(m),
        pir_job::QueryError::Failed(m) => End::Failed(m),
    })?;
    let keys = r.keys as u64;
    if let Err(e) = node.store().set_progress(&job.id, keys, keys) {
        tracing::warn!(job = %job.id, error = %e, "cannot record progress");
    }
    Ok(Produced {
        wrote: true,
        model: None,
        result: serde_json::to_value(&r).map_err(|e| End::Failed(e.to_string()))?,
    })
}

/// One party of a training job: aligns the rows, trains, returns the model part to keep.
fn train(
    node: &Node,
    job: &Job,
    ch: &mut TlsChannel,
    spec: JobSpec,
    dataset: &Dataset,
    label: Option<&String>,
    (partner, peer_limit): (&str, u64),
) -> Result<Produced, End> {
    let JobSpec::Train {
        algorithm,
        minimums,
        ..
    } = spec
    else {
        return Err(End::Failed("internal error: not a train job".into()));
    };
    let guest = label.is_some();
    let progress = progress_sink(node, &job.id);
    let columns = Columns::AllBut {
        label: label.cloned(),
    };
    let data = fl_job::align(
        ch,
        dataset,
        &columns,
        (guest, peer_limit),
        spec.aligned(),
        Some(minimums),
        &progress,
    )?;
    let trained = fl_job::train(ch, spec, &data)
        .map_err(|e| End::Protocol(format!("partner {partner}: {e}")))?;
    let meta = ModelMeta {
        model_id: trained.model_id,
        algorithm,
        side: if guest { Side::Guest } else { Side::Host },
        partner: partner.to_owned(),
        dataset: dataset.name.clone(),
        peer_dataset: job.peer_dataset.clone(),
        job_id: job.id.clone(),
        created_ms: unseen_store::now_ms(),
        features: data.names.clone(),
        label: label.cloned(),
        rows: data.keys.len(),
        spec,
        part_sm3: fl_job::sm3_hex(&trained.part),
    };
    Ok(Produced {
        wrote: false,
        result: serde_json::json!({
            "model_id": trained.model_id.to_string(),
            "items": data.rows,
            "common_rows": data.keys.len(),
            "features": data.names.len(),
            "rounds": trained.rounds,
        }),
        model: Some(NewModel {
            meta,
            part: trained.part,
            train_scores: trained.train_scores,
        }),
    })
}

/// The guest of a prediction: aligns, scores, writes the scores or the report.
fn predict_guest(
    node: &Node,
    job: &Job,
    ch: &mut TlsChannel,
    p: &PredictInput,
    (partner, peer_limit): (&str, u64),
    pending: &std::path::Path,
) -> Result<Produced, End> {
    let progress = progress_sink(node, &job.id);
    let label = match p.report {
        Some(_) => Some(p.model.meta.label.clone().ok_or_else(|| {
            End::Usage("the model part records no label column; cannot report".into())
        })?),
        None => None,
    };
    let columns = Columns::Named {
        features: p.model.meta.features.clone(),
        label,
    };
    let data = fl_job::align(
        ch,
        &p.dataset,
        &columns,
        (true, peer_limit),
        p.aligned,
        None,
        &progress,
    )?;
    let scores = fl_job::predict(ch, &p.model, &data)
        .map_err(|e| End::Protocol(format!("partner {partner}: {e}")))?
        .unwrap_or_default();
    let mut result = serde_json::json!({
        "model_id": p.model.meta.model_id.to_string(),
        "items": data.rows,
        "common_rows": data.keys.len(),
    });
    match p.report {
        None => fl_job::write_scores(pending, &p.dataset, &data, &scores).map_err(End::Failed)?,
        Some(threshold) => {
            let importance = fl_job::importance(&p.model).map_err(End::Failed)?;
            let summary = fl_job::write_report(
                pending, &p.model, &p.dataset, &data, &scores, threshold, importance,
            )
            .map_err(End::Failed)?;
            if let Some(r) = result.as_object_mut() {
                r.insert("report".into(), summary);
            }
        }
    }
    if let Err(e) = node
        .store()
        .set_progress(&job.id, scores.len() as u64, scores.len() as u64)
    {
        tracing::warn!(job = %job.id, error = %e, "cannot record progress");
    }
    Ok(Produced {
        wrote: true,
        result,
        model: None,
    })
}

/// The host of a prediction: aligns, evaluates its part of the model for the guest.
fn predict_host(
    node: &Node,
    job: &Job,
    ch: &mut TlsChannel,
    dataset: &Dataset,
    model: &StoredModel,
    (partner, peer_limit): (&str, u64),
    aligned: bool,
) -> Result<Produced, End> {
    let progress = progress_sink(node, &job.id);
    let columns = Columns::Named {
        features: model.meta.features.clone(),
        label: None,
    };
    let data = fl_job::align(
        ch,
        dataset,
        &columns,
        (false, peer_limit),
        aligned,
        None,
        &progress,
    )?;
    fl_job::predict(ch, model, &data)
        .map_err(|e| End::Protocol(format!("partner {partner}: {e}")))?;
    Ok(Produced {
        wrote: false,
        result: serde_json::json!({
            "model_id": model.meta.model_id.to_string(),
            "items": data.rows,
            "common_rows": data.keys.len(),
        }),
        model: None,
    })
}

fn sm3_file(path: &std::path::Path) -> std::io::Result<String> {
    use std::io::Read;

    use sm3::Digest;
    let mut h = sm3::Sm3::new();
    let mut f = std::fs::File::open(path)?;
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(hex::encode(h.finalize()))
}

/// A progress callback that records progress in the store at most every 250 ms.
fn progress_sink<'a>(node: &'a Node, id: &'a str) -> impl Fn(Progress) + Sync + 'a {
    let last = Mutex::new(None::<Instant>);
    move |p: Progress| {
        let mut l = last
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let due = l.is_none_or(|t| t.elapsed() >= Duration::from_millis(250)) || p.done == p.total;
        if due {
            *l = Some(Instant::now());
            drop(l);
            if let Err(e) = node.store().set_progress(id, p.done, p.total) {
                tracing::warn!(job = %id, error = %e, "cannot record progress");
            }
        }
    }
}

fn finish(
    node: &Arc<Node>,
    job: &Job,
    result: Result<Outcome, (End, Option<unseen_channel::Stats>)>,
    cancel: &AtomicBool,
) {
    let pending = node.dir.pending_output(&job.id);
    if pending.exists() {
        let _ = std::fs::remove_file(&pending);
    }
    let (action, f) = match result {
        Ok(o) => (
            "job.succeeded",
            Finish {
                state: JobState::Succeeded,
                reason: None,
                output: o.output,
                output_digest: o.digest,
                bytes_sent: o.bytes_sent,
                bytes_received: o.bytes_received,
                result: o.result,
            },
        ),
        Err((end, stats)) => {
            let (state, action, reason) = match end {
                End::Rejected(r) => (JobState::Rejected, "job.rejected", r),
                // A cancel closes the connection, so whatever step was running fails: an
                // operator's cancel, not the step's error, is why the job ended.
                End::Failed(r) | End::Usage(r) | End::Input(r) | End::Protocol(r)
                    if cancel.load(Ordering::SeqCst) =>
                {
                    (
                        JobState::Cancelled,
                        "job.cancelled",
                        format!("cancelled ({r})"),
                    )
                }
                End::PartnerFailed(c) => (
                    JobState::Failed,
                    "job.failed",
                    format!(
                        "partner {}: the partner's node failed the job: {c}",
                        job.partner
                    ),
                ),
                End::Failed(r) | End::Usage(r) | End::Input(r) | End::Protocol(r) => {
                    (JobState::Failed, "job.failed", r)
                }
            };
            let st = stats.unwrap_or_default();
            (
                action,
                Finish {
                    state,
                    reason: Some(reason),
                    output: None,
                    output_digest: None,
                    bytes_sent: st.bytes_sent,
                    bytes_received: st.bytes_received,
                    result: serde_json::Value::Null,
                },
            )
        }
    };
    {
        let mut store = node.store();
        match store.finish_job(&job.id, &f) {
            Ok(done) => {
                let mut e = match &f.reason {
                    Some(r) => ended_event("node", action, f.state.as_str(), &done, r),
                    None => job_event("node", action, f.state.as_str(), &done),
                };
                e.bytes_sent = f.bytes_sent;
                e.bytes_received = f.bytes_received;
                e.output_digest = f.output_digest.clone();
                if let Some(anchor) = f.result.get("partner_audit_head") {
                    // The partner's audit head, kept here where the partner cannot rewrite it.
                    e.params = serde_json::json!({
                        "spec": done.params,
                        "partner_audit_head": anchor,
                    });
                    // A hidden query: how many keys were looked up (never which).
                    if let (Some(keys), Some(p)) = (f.result.get("keys"), e.params.as_object_mut())
                    {
                        p.insert("keys".into(), keys.clone());
                    }
                    // Joint modeling: which model, on how many common rows (never which rows);
                    // and the digest of the dataset file the job read.
                    for k in ["model_id", "common_rows", "dataset_sm3"] {
                        if let (Some(v), Some(p)) = (f.result.get(k), e.params.as_object_mut()) {
                            p.insert(k.into(), v.clone());
                        }
                    }
                }
                if let Err(err) = store.audit_append(&e) {
                    tracing::error!(job = %job.id, error = %err, "cannot append to the audit log");
                }
            }
            Err(err) => {
                tracing::warn!(job = %job.id, error = %err, "job ended after its state was settled")
            }
        }
    }
    let state = f.state.as_str();
    match &f.reason {
        None => tracing::info!(job = %job.id, state, "job finished"),
        Some(r) => tracing::warn!(job = %job.id, state, reason = %r, "job finished"),
    }
    node.end_job(&job.id);
}

/// Serves one partner connection: TLS handshake (pinned), proposal, policy decision, run.
/// (The daemon runs the same steps through its admission pools, [`crate::daemon::serve_partners`].)
pub fn serve_connection(node: &Arc<Node>, acceptor: &Acceptor, tcp: TcpStream) {
    let Some(pending) = authenticate(node, acceptor, tcp) else {
        return;
    };
    match pending.admit() {
        Ok(ch) => serve_session(node, ch),
        Err(err) => {
            node.counters
                .handshake_failed
                .fetch_add(1, Ordering::Relaxed);
            tracing::warn!(error = %err, "a partner connection failed at its acceptance");
        }
    }
}

/// The TLS handshake of a partner connection (pinned certificate), its failure counted and a
/// refusal audited; `None` when it failed.
pub(crate) fn authenticate(
    node: &Arc<Node>,
    acceptor: &Acceptor,
    tcp: TcpStream,
) -> Option<Handshaken> {
    let peer = tcp.peer_addr().ok();
    let remote = peer.map_or_else(|| "unknown".to_owned(), |a| a.to_string());
    let pinned = |fp: &Fingerprint| {
        matches!(
            node.store().partner_by_fingerprint(&fp.to_string()),
            Ok(Some(_))
        )
    };
    match acceptor.handshake(tcp, &pinned) {
        Ok(pending) => Some(pending),
        Err(TransportError::PeerNotPinned { presented }) => {
            node.counters.tls_refused.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(%remote, fingerprint = %presented, "refused a connection: certificate not pinned for any partner");
            // Rate-limited: one record per source and interval, with a count.
            let source = peer.map_or_else(
                || "unknown".to_owned(),
                |a| crate::admission::Source::of(a.ip()).to_string(),
            );
            node.audit_refusal(
                "network",
                "tls.refused",
                &source,
                serde_json::json!({ "remote": remote, "fingerprint": presented.to_string() }),
            );
            None
        }
        Err(err) => {
            node.counters
                .handshake_failed
                .fetch_add(1, Ordering::Relaxed);
            tracing::warn!(%remote, error = %err, "a connection failed before the TLS handshake completed");
            None
        }
    }
}

/// Serves an admitted session with an authenticated partner: proposal, policy decision, run.
pub(crate) fn serve_session(node: &Arc<Node>, mut ch: TlsChannel) {
    node.counters.connections.fetch_add(1, Ordering::Relaxed);
    let partner = match node.store().partner_by_fingerprint(&ch.peer().to_string()) {
        Ok(Some(p)) => p,
        _ => return,
    };
    let propose = match control::recv_propose(&mut ch) {
        Ok(p) => p,
        Err(err) => {
            tracing::warn!(partner = %partner.name, error = %err, "bad proposal from a partner");
            let mut e = AuditEvent::new(&partner.name, "partner.protocol_error", "refused");
            e.partner = Some(partner.name.clone());
            e.params = serde_json::json!({ "error": err.to_string() });
            node.audit(&e);
            return;
        }
    };
    if let JobSpec::Score { model } = propose.spec {
        // One applicant, answered at once: a session with one audit record, not a job.
        crate::score::serve(node, &partner, &mut ch, &propose, model);
        return;
    }
    respond(node, &partner, &mut ch, &propose);
}

/// The responder's decision on a proposal.
enum Verdict {
    /// Run it with this part; for a job aligned by PSI, the number of keys this node brings.
    Accept(Job, Box<Work>, Option<u64>),
    /// Refuse it (the job record, if one was made, and the reason sent to the partner).
    Reject(Option<Job>, String),
}

/// Decides on a proposal: the job id is new, the policy allows it, the dataset exists; for a
/// hidden query also a published table of the proposed curve and enough quota left today, whose
/// grant is recorded here.
fn decide(node: &Arc<Node>, partner: &Partner, p: &Propose) -> Result<Verdict, NodeError> {
    let (job, dataset) = {
        let mut store = node.store();
        if store.job(&p.job_id)?.is_some() {
            return Ok(Verdict::Reject(
                None,
                "job id already used on this node".into(),
            ));
        }
        let verdict = policy::check(&store, &p.dataset, &partner.name, &p.spec, false)?;
        let job = store.insert_job(&NewJob {
            id: p.job_id.clone(),
            kind: p.spec.kind().to_owned(),
            role: Role::Responder,
            partner: partner.name.clone(),
            dataset: p.dataset.clone(),
            peer_dataset: p.initiator_dataset.clone(),
            params: serde_json::to_value(p.spec).map_err(|e| NodeError::Internal(e.to_string()))?,
            state: JobState::Proposed,
            rerun_of: None,
        })?;
        store.audit_append(&job_event(&partner.name, "job.proposed", "proposed", &job))?;
        if let Err(reason) = verdict {
            return Ok(Verdict::Reject(Some(job), reason));
        }
        let Some(dataset) = store.dataset(&p.dataset)? else {
            return Ok(Verdict::Reject(
                Some(job),
                format!("no dataset named {:?}", p.dataset),
            ));
        };
        let dataset = match crate::ops::checked_dataset(&node.dir, dataset) {
            Ok(d) => d,
            Err(e) => {
                tracing::warn!(job = %job.id, error = %e, "a dataset file failed its check");
                let reason = crate::ops::unusable_dataset_reason(&p.dataset);
                return Ok(Verdict::Reject(Some(job), reason));
            }
        };
        (job, dataset)
    };
    // Jobs aligned by PSI: refuse an empty dataset on either side now, with a reason, and read
    // the keys whose count the decision announces (a PSI job runs on this very read).
    let mut rows = None;
    let mut keys = None;
    if matches!(
        p.spec,
        JobSpec::Psi { .. }
            | JobSpec::Train { aligned: false, .. }
            | JobSpec::Predict { aligned: false, .. }
    ) {
        if p.rows == Some(0) {
            return Ok(Verdict::Reject(
                Some(job),
                "the initiator's dataset has no rows; nothing to align".into(),
            ));
        }
        match dataset_keys(&dataset) {
            Ok(t) => {
                rows = Some(t.keys.len() as u64);
                keys = Some(Box::new(t));
            }
            Err((true, reason)) => return Ok(Verdict::Reject(Some(job), reason)),
            Err((false, reason)) => {
                tracing::warn!(job = %job.id, reason = %reason, "cannot read a job's dataset");
                return Ok(Verdict::Reject(
                    Some(job),
                    format!(
                        "dataset {:?} cannot be read on the partner's node",
                        dataset.name
                    ),
                ));
            }
        }
    }
    let work = match p.spec {
        // A PSI spec always has its keys (read above).
        JobSpec::Psi { .. } => Work::Psi(dataset, keys.unwrap_or_default()),
        JobSpec::Train { .. } => Work::TrainHost(dataset),
        JobSpec::Score { .. } => {
            return Ok(Verdict::Reject(
                Some(job),
                "internal error: a score session proposed as a job".into(),
            ));
        }
        JobSpec::Predict { model, .. } => {
            let stored = match fl_job::load_model(&node.dir, model) {
                Ok(m) => m,
                Err(e) => {
                    tracing::warn!(job = %job.id, error = %e, "cannot load a model part");
                    return Ok(Verdict::Reject(
                        Some(job),
                        format!("model {model} cannot be used on the partner's node"),
                    ));
                }
            };
            if stored.meta.side != Side::Host || stored.meta.partner != partner.name {
                return Ok(Verdict::Reject(
                    Some(job),
                    format!(
                        "model {model} was not trained with partner {:?}",
                        partner.name
                    ),
                ));
            }
            Work::PredictHost {
                dataset,
                model: Box::new(stored),
            }
        }
        JobSpec::Pir {
            curve,
            keys,
            reveal_bucket,
        } => {
            // Without the store: loading a table takes seconds.
            let table = match node.pir_tables.get(&node.dir, &p.dataset) {
                Ok(Some(t)) => t,
                Ok(None) => {
                    return Ok(Verdict::Reject(
                        Some(job),
                        format!(
                            "dataset {:?} has no published hidden-query table (its owner \
                             publishes one with `unseen pir publish`)",
                            p.dataset
                        ),
                    ));
                }
                Err(e) => {
                    tracing::error!(job = %job.id, error = %e, "cannot load a hidden-query table");
                    return Ok(Verdict::Reject(
                        Some(job),
                        format!(
                            "the hidden-query table of dataset {:?} cannot be loaded on the \
                             partner's node",
                            p.dataset
                        ),
                    ));
                }
            };
            if let Err(reason) = pir_job::check_proposal(&table, &p.dataset, curve, reveal_bucket) {
                return Ok(Verdict::Reject(Some(job), reason));
            }
            let day = unseen_store::utc_day(unseen_store::now_ms());
            let limit = node.config.pir.max_keys_per_day;
            let keys = u64::from(keys);
            let grant = node
                .store()
                .pir_grant(&partner.name, &p.dataset, day, keys, limit)?;
            if let PirGrant::Refused { used } = grant {
                return Ok(Verdict::Reject(
                    Some(job),
                    format!(
                        "quota: partner {:?} may look up {limit} keys per UTC day in dataset \
                         {:?}; {used} used today, this query announces {keys}",
                        partner.name, p.dataset
                    ),
                ));
            }
            Work::PirServe {
                dataset: p.dataset.clone(),
                table,
                granted: keys,
                day,
            }
        }
    };
    let mut store = node.store();
    let job = store.transition(&job.id, JobState::Accepted, None)?;
    store.audit_append(&job_event("node", "job.accepted", "accepted", &job))?;
    Ok(Verdict::Accept(job, Box::new(work), rows))
}

fn respond(node: &Arc<Node>, partner: &Partner, ch: &mut TlsChannel, p: &Propose) {
    match decide(node, partner, p) {
        Ok(Verdict::Accept(job, work, rows)) => {
            tracing::info!(job = %job.id, partner = %partner.name, "accepted a job");
            let cancel = node.start_job(&job.id);
            node.set_shutdown(&job.id, ch.shutdown_handle());
            let accepted = Decision {
                accepted: true,
                reason: None,
                no_row: false,
                rows,
            };
            let peer = (partner.name.as_str(), p.rows);
            let result = match control::send_decision(ch, &accepted) {
                Ok(()) => execute(node, &job, ch, &work, p.spec, false, peer),
                Err(e) => Err((
                    End::Failed(format!("partner {}: {e}", partner.name)),
                    Some(ch.stats()),
                )),
            };
            finish(node, &job, result, &cancel);
        }
        Ok(Verdict::Reject(job, reason)) => {
            tracing::warn!(job = %p.job_id, partner = %partner.name, reason = %reason, "rejected a job");
            if let Some(job) = job {
                let mut store = node.store();
                match store.transition(&job.id, JobState::Rejected, Some(&reason)) {
                    Ok(j) => {
                        let e = ended_event("node", "job.rejected", "rejected", &j, &reason);
                        if let Err(err) = store.audit_append(&e) {
                            tracing::error!(error = %err, "cannot append to the audit log");
                        }
                    }
                    Err(err) => tracing::error!(error = %err, "cannot record a rejection"),
                }
            }
            let _ = control::send_decision(
                ch,
                &Decision {
                    accepted: false,
                    reason: Some(reason),
                    no_row: false,
                    rows: None,
                },
            );
        }
        Err(err) => {
            tracing::error!(job = %p.job_id, error = %err, "cannot decide on a proposal");
            let _ = control::send_decision(
                ch,
                &Decision {
                    accepted: false,
                    reason: Some("the partner's node failed to record the job".into()),
                    no_row: false,
                    rows: None,
                },
            );
        }
    }
}

/// Cancels a job: a running job's connection is closed (its worker then records `cancelled`);
/// a job with no worker is cancelled in place.
pub fn cancel(node: &Arc<Node>, actor: &str, id: &str) -> Result<Job, NodeError> {
    let job = node.store().job(id)?.ok_or_else(|| not_found("job", id))?;
    if job.state.is_terminal() {
        return Err(NodeError::Conflict(format!(
            "job {id} has already ended ({})",
            job.state.as_str()
        )));
    }
    let worker = node.running().get(id).cloned();
    node.audit(&job_event(actor, "job.cancel_requested", "requested", &job));
    if let Some(w) = worker {
        w.cancel.store(true, Ordering::SeqCst);
        if let Some(h) = &w.shutdown {
            h.shutdown();
        }
        // The worker records the end; give it a moment so the caller sees the final state.
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline && node.running().contains_key(id) {
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(node.store().job(id)?.unwrap_or(job))
    } else {
        let mut store = node.store();
        let j = store.transition(id, JobState::Cancelled, Some("cancelled by the operator"))?;
        store.audit_append(&job_event(actor, "job.cancelled", "cancelled", &j))?;
        Ok(j)
    }
}

/// Runs a finished job again under a new id (only the node that submitted it can).
pub fn rerun(node: &Arc<Node>, actor: &str, id: &str) -> Result<Job, NodeError> {
    let job = node.store().job(id)?.ok_or_else(|| not_found("job", id))?;
    if job.role != Role::Initiator {
        return Err(NodeError::Conflict(format!(
            "job {id} was submitted by partner {}; only the submitting node can rerun it",
            job.partner
        )));
    }
    if !job.state.is_terminal() {
        return Err(NodeError::Conflict(format!(
            "job {id} is still {}; cancel it or wait for it to end",
            job.state.as_str()
        )));
    }
    let spec: JobSpec = serde_json::from_value(job.params.clone())
        .map_err(|e| NodeError::Internal(format!("job {id}: stored parameters: {e}")))?;
    let (mode, curve) = match spec {
        JobSpec::Psi { mode, curve } => (mode, curve),
        JobSpec::Pir { .. } => {
            return Err(NodeError::Conflict(format!(
                "job {id} is a hidden query, whose keys file stays with the `unseen query` that \
                 ran it; run `unseen query` again"
            )));
        }
        JobSpec::Train { .. } | JobSpec::Predict { .. } | JobSpec::Score { .. } => {
            return Err(NodeError::Conflict(format!(
                "job {id} is a joint-modeling job; run `unseen train`, `unseen predict` or \
                 `unseen report` again"
            )));
        }
    };
    let req = SubmitRequest {
        kind: spec.kind().to_owned(),
        partner: job.partner.clone(),
        dataset: job.dataset.clone(),
        peer_dataset: job.peer_dataset.clone(),
        mode: Some(mode),
        curve: Some(curve),
        ..SubmitRequest::default()
    };
    submit(node, actor, &req, Some(id.to_owned()))
}

/// Marks jobs left unfinished by a previous run of the daemon failed and removes their pending
/// outputs (called at start-up, before anything else runs).
pub fn recover(node: &Arc<Node>) -> Result<Vec<Job>, NodeError> {
    let failed = node
        .store()
        .fail_interrupted("interrupted: the node stopped while the job was unfinished; rerun it")?;
    for j in &failed {
        let reason = j.reason.as_deref().unwrap_or("interrupted");
        node.audit(&ended_event("node", "job.failed", "failed", j, reason));
        tracing::warn!(job = %j.id, "marked an interrupted job failed");
    }
    let outputs = node.dir.outputs();
    if let Ok(entries) = std::fs::read_dir(&outputs) {
        for entry in entries.flatten() {
            let name = entry.file_name();
            let name = name.to_string_lossy();
            if name.starts_with('.') {
                let _ = std::fs::remove_file(entry.path());
            }
        }
    }
    Ok(failed)
}
