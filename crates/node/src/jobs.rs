//! Jobs between nodes, whatever their kind: submit, serve a partner's proposal, run, confirm,
//! finish, cancel, rerun, recover after a crash.
//!
//! Each job runs on its own thread over its own mutually authenticated TLS connection (see
//! [`crate::control`] for the messages). The job's state lives in the store on both nodes; the
//! worker thread moves it proposed → accepted → running → succeeded | failed | cancelled (or
//! proposed → rejected), and every step is audited. What a kind does is in its module under
//! [`crate::kinds`]; this module runs any [`Kind`] over any [`Channel`], so the lifecycle is
//! tested in one process over an in-memory channel as well as over TLS.

use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use unseen_channel::{Channel, Stats};
use unseen_crypto::CurveId;
use unseen_store::{AuditEvent, Dataset, Finish, Job, JobState, NewJob, Partner, Role, StoreError};
use unseen_transport::{
    Acceptor, Fingerprint, Handshaken, ShutdownHandle, TlsChannel, TransportError,
};

use crate::control::{self, Decision, Done, JobSpec, Propose};
use crate::job_error::{Ending, JobError};
use crate::kinds::pir::{Pir, PirPart};
use crate::kinds::predict::{Predict, PredictPart, PredictSpec};
use crate::kinds::psi::{Psi, PsiMode, PsiPart, PsiSpec};
use crate::kinds::train::{Algorithm, Train, Tuning};
use crate::kinds::{self, Admission, Ctx, Kind, Refusal, Visit};
use crate::node::Node;
use crate::{NodeError, ops, pir_job, policy};

pub use crate::kinds::predict::PredictInput;

/// A job to submit (the HTTP API's `POST /v1/jobs` body, which the CLI sends too).
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SubmitRequest {
    /// Job kind: `psi` or `train`.
    pub kind: String,
    /// The partner to run it with.
    pub partner: String,
    /// This node's dataset.
    pub dataset: String,
    /// The partner's dataset.
    pub peer_dataset: String,
    /// PSI: who learns the rows (default `both`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<PsiMode>,
    /// PSI: the group (default `ristretto255`).
    #[serde(
        default,
        with = "crate::kinds::curve_name::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub curve: Option<CurveId>,
    /// Train: the algorithm (default `secureboost`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub algorithm: Option<Algorithm>,
    /// Train: the label column of this node's dataset (0/1; required for `train`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    /// Train (SecureBoost): trees (default 100).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trees: Option<u32>,
    /// Train (logistic regression): epochs (default 100).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub epochs: Option<u32>,
    /// Train (SecureBoost): maximum tree depth (default 5).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub depth: Option<u32>,
    /// Train (SecureBoost): bins per feature (default 32).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bins: Option<u32>,
    /// Train: learning rate (default 0.1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub learning_rate: Option<f64>,
    /// Train: the datasets are already aligned (same keys in the same order); no PSI, the
    /// nodes compare an SM3 digest of their key columns instead (default false).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub aligned: bool,
    /// Train (SecureBoost): regularisation and sampling (defaults: lambda 1, min child weight
    /// 1, gamma 0, row and column sample 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tuning: Option<Tuning>,
    /// Train: the fewest common rows to train on (default 10, at least 2).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_rows: Option<u32>,
    /// Train: the fewest rows of each label class among them (default 2, at least 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_class_rows: Option<u32>,
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

/// [`job_event`] for a job that ended short of success: its parameters, the reason and whose
/// fault it was.
fn ended_event(
    actor: &str,
    action: &str,
    outcome: &str,
    job: &Job,
    reason: &str,
    fault: Option<&str>,
) -> AuditEvent {
    let mut e = job_event(actor, action, outcome, job);
    e.params = serde_json::json!({ "spec": job.params, "reason": reason });
    if let (Some(f), Some(p)) = (fault, e.params.as_object_mut()) {
        p.insert("fault".into(), f.into());
    }
    e
}

/// A registered dataset by name, its file checked against its registration.
pub(crate) fn registered(node: &Node, name: &str) -> Result<Dataset, NodeError> {
    let d = node
        .store()
        .dataset(name)?
        .ok_or_else(|| not_found("dataset", name))?;
    crate::ops::checked_dataset(&node.dir, d)
}

/// Submits a job to a partner (the API's `POST /v1/jobs`): checks this node's own policy,
/// records the job as proposed and starts a worker that proposes it to the partner and runs
/// it.
pub fn submit(
    node: &Arc<Node>,
    actor: &str,
    req: &SubmitRequest,
    rerun_of: Option<String>,
) -> Result<Job, NodeError> {
    let to = Start {
        actor,
        partner: &req.partner,
        dataset: &req.dataset,
        peer_dataset: &req.peer_dataset,
        rerun_of,
        own_policy: true,
    };
    match req.kind.as_str() {
        "psi" => {
            let spec = PsiSpec {
                mode: req.mode.unwrap_or(PsiMode::Both),
                curve: req.curve.unwrap_or(CurveId::Ristretto255),
            };
            let dataset = registered(node, &req.dataset)?;
            // A PSI job on a dataset with no rows is refused here, before the partner hears of
            // it; the keys read now are the ones the PSI runs on (no second read) and their
            // count goes into the proposal, so the partner caps what this node may announce.
            let keys = Box::new(dataset_keys(&dataset).map_err(NodeError::Invalid)?);
            let rows = Some(keys.keys.len() as u64);
            start::<Psi>(
                node,
                to,
                spec,
                PsiPart { dataset, keys },
                rows,
                Runner::Worker,
            )
        }
        "train" => {
            let spec = crate::kinds::train::spec_for(req).map_err(NodeError::Invalid)?;
            let dataset = registered(node, &req.dataset)?;
            let rows = if Train::aligns(&spec) {
                Some(
                    dataset_keys(&dataset)
                        .map_err(NodeError::Invalid)?
                        .keys
                        .len() as u64,
                )
            } else {
                None
            };
            let part = crate::kinds::train::guest_part(dataset, req.label.as_deref())
                .map_err(NodeError::Invalid)?;
            start::<Train>(node, to, spec, part, rows, Runner::Worker)
        }
        "predict" => Err(NodeError::Invalid(
            "predict jobs are submitted with `POST /v1/predictions` (or `unseen predict`, \
             `unseen report`), which name the model and where the scores go"
                .into(),
        )),
        "pir" => Err(NodeError::Invalid(
            "hidden queries are submitted with `POST /v1/queries` (or `unseen query`), which \
             name the keys file on this node: the keys never pass through the API"
                .into(),
        )),
        other => Err(NodeError::Invalid(format!(
            "unknown job kind {other:?} (submitted here: psi, train)"
        ))),
    }
}

/// Asks a hidden query from this process (`unseen query`; no daemon needed): records the job
/// (initiator, kind `pir`), proposes it to the partner over mutual TLS, runs the keyword-PIR
/// client on `input`'s keys and writes `input.output` when both nodes confirm; returns the job
/// as it ended (`succeeded`, `rejected` by the partner, or `failed`, with whose fault).
///
/// Only the partner's policy applies: the keys file is not a registered dataset and nothing of
/// it leaves this node but the number of distinct keys.
pub fn query(
    node: &Arc<Node>,
    actor: &str,
    partner: &str,
    dataset: &str,
    lookup: pir_job::Lookup,
    input: pir_job::QueryInput,
) -> Result<Job, NodeError> {
    query_on(node, actor, (partner, dataset), lookup, input, Runner::Here)
}

fn query_on(
    node: &Arc<Node>,
    actor: &str,
    (partner, dataset): (&str, &str),
    lookup: pir_job::Lookup,
    input: pir_job::QueryInput,
    runner: Runner,
) -> Result<Job, NodeError> {
    let spec = crate::kinds::pir::spec_for(&input, lookup.curve, lookup.reveal_bucket)
        .map_err(|e| NodeError::Invalid(e.message().to_owned()))?;
    let to = Start {
        actor,
        partner,
        dataset: pir_job::QUERY_DATASET,
        peer_dataset: dataset,
        rerun_of: None,
        own_policy: false,
    };
    let part = PirPart::Query(Box::new(input));
    start::<Pir>(node, to, spec, part, None, runner)
}

/// Scores a dataset with a trained model from this process (`unseen predict`, `unseen
/// report`; no daemon needed): records the job (initiator, kind `predict`), proposes it to the
/// model's partner, aligns the rows by PSI, runs the federated prediction and writes
/// `input.output` (the scores, or the report) when both nodes confirm; returns the job as it
/// ended.
pub fn predict(
    node: &Arc<Node>,
    actor: &str,
    peer_dataset: &str,
    input: PredictInput,
) -> Result<Job, NodeError> {
    predict_on(node, actor, peer_dataset, input, Runner::Here)
}

fn predict_on(
    node: &Arc<Node>,
    actor: &str,
    peer_dataset: &str,
    input: PredictInput,
    runner: Runner,
) -> Result<Job, NodeError> {
    let meta = &input.model.meta;
    if meta.side != crate::fl_job::Side::Guest {
        return Err(NodeError::Invalid(format!(
            "model {} is held here as the host's part (features of partner {}'s model); only \
             the guest ({}) scores with it",
            meta.model_id, meta.partner, meta.partner
        )));
    }
    let spec = PredictSpec {
        model: meta.model_id,
        aligned: input.aligned,
    };
    let rows = if input.aligned {
        None
    } else {
        Some(
            dataset_keys(&input.dataset)
                .map_err(NodeError::Invalid)?
                .keys
                .len() as u64,
        )
    };
    let (partner, dataset) = (meta.partner.clone(), input.dataset.name.clone());
    let to = Start {
        actor,
        partner: &partner,
        dataset: &dataset,
        peer_dataset,
        rerun_of: None,
        own_policy: true,
    };
    start::<Predict>(
        node,
        to,
        spec,
        PredictPart::Guest(Box::new(input)),
        rows,
        runner,
    )
}

/// A hidden query asked through the API (`POST /v1/queries`): the keys file is on this node,
/// under a data root of `node.toml` (the keys never pass through the API), and the records go
/// to `DIR/outputs/query-….csv` (the job's `output`).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QueryRequest {
    /// The partner whose table is queried.
    pub partner: String,
    /// The partner's dataset (its published table).
    pub dataset: String,
    /// The keys file (CSV) on this node, under a data root.
    pub keys: PathBuf,
    /// Its key column (default `id`).
    #[serde(default = "default_key_column")]
    pub key: String,
    /// How its keys are normalised: `id-card`, `phone` or `string` (default); the table's.
    #[serde(default = "default_key_type")]
    pub key_type: String,
    /// Its encoding (default `auto`).
    #[serde(default = "default_encoding")]
    pub encoding: String,
    /// Skip rows with an invalid key instead of refusing the file.
    #[serde(default)]
    pub skip_invalid: bool,
    /// The OPRF group, the table's (default `ristretto255`).
    #[serde(
        default,
        with = "crate::kinds::curve_name::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub curve: Option<CurveId>,
    /// The opt-in lookup that reveals each key's bucket, with this k-anonymity.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reveal_bucket: Option<u32>,
}

fn default_key_column() -> String {
    "id".into()
}

fn default_key_type() -> String {
    "string".into()
}

fn default_encoding() -> String {
    "auto".into()
}

/// A prediction or a model report asked through the API (`POST /v1/predictions`); the scores
/// (CSV) or the report (HTML) go to `DIR/outputs/` (the job's `output`).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PredictRequest {
    /// The model (32 lowercase hex digits); this node must hold its guest part.
    pub model: String,
    /// This node's dataset to score.
    pub dataset: String,
    /// The partner's dataset.
    pub peer_dataset: String,
    /// The datasets are already aligned (no PSI; checked by digest).
    #[serde(default)]
    pub aligned: bool,
    /// Write the model report at this classification threshold (in [0, 1]) instead of the
    /// scores; the dataset must hold the model's label column.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub report_threshold: Option<f64>,
}

/// A fresh output file in the node's outputs directory: `KIND-RANDOM.EXT`.
fn api_output(node: &Node, kind: &str, ext: &str) -> Result<PathBuf, NodeError> {
    let dir = node.dir.outputs();
    std::fs::create_dir_all(&dir).map_err(|e| NodeError::io(&dir, e))?;
    let id = new_job_id()?;
    Ok(dir.join(format!("{kind}-{}.{ext}", &id[..16])))
}

/// Starts a hidden query for an API caller ([`QueryRequest`]) on a worker; returns the job as
/// proposed.
pub fn query_request(node: &Arc<Node>, actor: &str, r: &QueryRequest) -> Result<Job, NodeError> {
    let roots = &node.config.data.roots;
    let keys = ops::check_dataset_path(node.dir.root(), &r.keys, ops::DataAccess::Api { roots })?;
    let key_type: unseen_data::KeyType = r
        .key_type
        .parse()
        .map_err(|e| NodeError::Invalid(format!("key_type: {e}")))?;
    let mut opts = unseen_data::ReadOptions::new(r.key.clone(), key_type);
    opts.encoding = r
        .encoding
        .parse()
        .map_err(|e| NodeError::Invalid(format!("encoding: {e}")))?;
    opts.skip_invalid = r.skip_invalid;
    // Every row gets output rows; a repeated key is looked up once.
    opts.duplicates = unseen_data::DuplicatePolicy::KeepAll;
    let table = unseen_data::read_table(&keys, &opts)?;
    let input = pir_job::QueryInput {
        input: keys,
        table,
        key_type: key_type.name().to_owned(),
        output: api_output(node, "query", "csv")?,
    };
    let lookup = pir_job::Lookup {
        curve: r.curve.unwrap_or(CurveId::Ristretto255),
        reveal_bucket: r.reveal_bucket,
    };
    query_on(
        node,
        actor,
        (&r.partner, &r.dataset),
        lookup,
        input,
        Runner::Worker,
    )
}

/// Starts a prediction or a report for an API caller ([`PredictRequest`]) on a worker; returns
/// the job as proposed.
pub fn predict_request(
    node: &Arc<Node>,
    actor: &str,
    r: &PredictRequest,
) -> Result<Job, NodeError> {
    let id = crate::kinds::parse_model_id(&r.model).map_err(NodeError::Invalid)?;
    if let Some(t) = r.report_threshold
        && !(0.0..=1.0).contains(&t)
    {
        return Err(NodeError::Invalid(format!(
            "report_threshold {t}: must be in [0, 1]"
        )));
    }
    let dataset = registered(node, &r.dataset)?;
    let model = crate::fl_job::load_model(&node.dir, id)?;
    let output = match r.report_threshold {
        None => api_output(node, "predict", "csv")?,
        Some(_) => api_output(node, "report", "html")?,
    };
    let input = PredictInput {
        model,
        dataset,
        output,
        report: r.report_threshold,
        aligned: r.aligned,
    };
    predict_on(node, actor, &r.peer_dataset, input, Runner::Worker)
}

/// Who proposes a job and on what.
pub(crate) struct Start<'a> {
    /// Who asked (audit actor).
    pub(crate) actor: &'a str,
    /// The partner's name.
    pub(crate) partner: &'a str,
    /// This node's dataset as the job record names it.
    pub(crate) dataset: &'a str,
    /// The partner's dataset.
    pub(crate) peer_dataset: &'a str,
    /// The job this one repeats.
    pub(crate) rerun_of: Option<String>,
    /// Whether this node's own policy must allow the job on `dataset` (a registered dataset).
    pub(crate) own_policy: bool,
}

/// Where a submitted job runs.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Runner {
    /// On a worker thread (the daemon): the job is returned as proposed.
    Worker,
    /// In the caller's thread (a CLI command without a daemon): the job is returned as it
    /// ended.
    Here,
}

/// Records a job of kind `K` and runs it as the initiator: checks the spec and this node's
/// policy, records the job as proposed, then proposes it to the partner and runs it.
pub(crate) fn start<K: Kind>(
    node: &Arc<Node>,
    s: Start<'_>,
    spec: K::Spec,
    part: K::Part,
    rows: Option<u64>,
    runner: Runner,
) -> Result<Job, NodeError>
where
    JobSpec: From<K::Spec>,
{
    let (partner, job) = record::<K>(node, s, &spec)?;
    tracing::info!(job = %job.id, partner = %partner.name, kind = %job.kind, "job proposed");
    let cancel = node.start_job(&job.id);
    if runner == Runner::Here {
        let result = initiate::<K>(node, &job, &partner, (spec, part, rows), &cancel);
        finish(node, &job, result, &cancel);
        return node
            .store()
            .job(&job.id)?
            .ok_or_else(|| not_found("job", &job.id));
    }
    let worker_node = Arc::clone(node);
    let worker_job = job.clone();
    let spawned = std::thread::Builder::new()
        .name(format!("job-{}", &job.id[..8]))
        .spawn(move || {
            let result = initiate::<K>(
                &worker_node,
                &worker_job,
                &partner,
                (spec, part, rows),
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

/// Checks a job of kind `K` and this node's policy, and records the job as proposed.
pub(crate) fn record<K: Kind>(
    node: &Node,
    s: Start<'_>,
    spec: &K::Spec,
) -> Result<(Partner, Job), NodeError>
where
    JobSpec: From<K::Spec>,
{
    K::check(spec).map_err(NodeError::Invalid)?;
    let wire: JobSpec = spec.clone().into();
    let params = serde_json::to_value(&wire).map_err(|e| NodeError::Internal(e.to_string()))?;
    let (partner, job) = {
        let mut store = node.store();
        let partner = store
            .partner(s.partner)?
            .ok_or_else(|| not_found("partner", s.partner))?;
        unseen_store::validate_name("dataset", s.peer_dataset)?;
        if s.own_policy
            && let Err(reason) = policy::check::<K>(&store, s.dataset, s.partner, spec, true)?
        {
            let mut e = AuditEvent::new(s.actor, "job.refused", "refused");
            e.job_kind = Some(K::NAME.to_owned());
            e.datasets = vec![s.dataset.to_owned()];
            e.partner = Some(s.partner.to_owned());
            e.params = serde_json::json!({ "reason": reason });
            store.audit_append(&e)?;
            return Err(NodeError::Refused(reason));
        }
        let job = store.insert_job(&NewJob {
            id: new_job_id()?,
            kind: K::NAME.to_owned(),
            role: Role::Initiator,
            partner: s.partner.to_owned(),
            dataset: s.dataset.to_owned(),
            peer_dataset: s.peer_dataset.to_owned(),
            params,
            state: JobState::Proposed,
            rerun_of: s.rerun_of,
        })?;
        store.audit_append(&job_event(s.actor, "job.proposed", "proposed", &job))?;
        (partner, job)
    };
    Ok((partner, job))
}

/// What a successful run produced.
pub(crate) struct Outcome {
    output: Option<String>,
    digest: Option<String>,
    stats: Stats,
    result: Value,
    /// The result's fields for the audit record.
    audit: Map<String, Value>,
}

/// How a job ended short of success, and the traffic until then.
pub(crate) type Failure = (JobError, Stats);

/// The initiator: connects to the partner, proposes the job, and runs it if accepted.
/// `rows`: for a job aligned by PSI, the number of keys this node brings (in the proposal).
fn initiate<K: Kind>(
    node: &Arc<Node>,
    job: &Job,
    partner: &Partner,
    (spec, part, rows): (K::Spec, K::Part, Option<u64>),
    cancel: &AtomicBool,
) -> Result<Outcome, Failure>
where
    JobSpec: From<K::Spec>,
{
    let fail = |e: JobError| (e, Stats::default());
    let addr = ops::resolve(&partner.address).map_err(|e| fail(JobError::config(e.to_string())))?;
    let pin: Fingerprint = partner.fingerprint.parse().map_err(|_| {
        fail(JobError::internal(format!(
            "partner {}: stored fingerprint does not parse",
            partner.name
        )))
    })?;
    let opts = node.config.transport_options();
    // At most MAX_OUTGOING_PER_PARTNER of our jobs talk to one partner at once; the rest wait
    // here (still `proposed`, cancellable), held until this job ends.
    let _session = node
        .outgoing
        .acquire(&partner.name, cancel)
        .map_err(|reason| {
            fail(JobError::internal(format!(
                "partner {}: {reason}",
                partner.name
            )))
        })?;
    let mut ch = connect_patiently(node, &job.id, addr, &pin, &opts, cancel).map_err(|e| {
        let context = format!(
            "cannot open a mutual TLS connection to partner {} at {addr}",
            partner.name
        );
        fail(JobError::caused(e.fault(), context, e))
    })?;
    node.set_shutdown(&job.id, ch.shutdown_handle());
    if cancel.load(Ordering::SeqCst) {
        return Err(fail(JobError::internal(
            "cancelled before the partner was asked",
        )));
    }
    run_initiator::<K, _>(node, job, &partner.name, &mut ch, (spec, part, rows))
}

/// The initiator's side on an open channel: propose, read the decision, run.
pub(crate) fn run_initiator<K: Kind, C: Channel>(
    node: &Arc<Node>,
    job: &Job,
    partner: &str,
    ch: &mut C,
    (spec, part, rows): (K::Spec, K::Part, Option<u64>),
) -> Result<Outcome, Failure>
where
    JobSpec: From<K::Spec>,
{
    let propose = Propose {
        job_id: job.id.clone(),
        dataset: job.peer_dataset.clone(),
        initiator_dataset: job.dataset.clone(),
        spec: spec.clone().into(),
        key: None,
        rows,
    };
    let lost = |ch: &C, e: control::ControlError| {
        (
            JobError::caused(e.fault(), format!("partner {partner}"), e),
            ch.stats(),
        )
    };
    control::send_propose(ch, &propose).map_err(|e| lost(ch, e))?;
    let decision = control::recv_decision(ch).map_err(|e| lost(ch, e))?;
    if !decision.accepted {
        let reason = decision.reason.unwrap_or_else(|| "no reason given".into());
        return Err((
            JobError::rejected(format!("partner {partner} rejected the job: {reason}")),
            ch.stats(),
        ));
    }
    {
        let mut store = node.store();
        let stored = store
            .transition(&job.id, JobState::Accepted, None)
            .and_then(|_| store.audit_append(&job_event(partner, "job.accepted", "accepted", job)));
        if let Err(e) = stored {
            return Err((JobError::internal(e.to_string()), ch.stats()));
        }
    }
    execute::<K, C>(
        node,
        job,
        ch,
        (&spec, &part),
        true,
        (partner, decision.rows),
    )
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

/// Deletes a pending output however the job ends (after a successful rename it is gone).
struct PendingFile(PathBuf);

impl Drop for PendingFile {
    fn drop(&mut self) {
        if self.0.exists() {
            let _ = std::fs::remove_file(&self.0);
        }
    }
}

/// Where a job's output waits until both nodes confirm: beside the chosen output, or in the
/// node's outputs directory.
fn pending_beside(output: &Path, job_id: &str) -> PathBuf {
    let name = output
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    output.with_file_name(format!(
        ".{name}.{}.pending",
        &job_id[..job_id.len().min(8)]
    ))
}

/// Runs the accepted job's protocol on `ch`, writes the output (pending until both nodes report
/// success) and returns what it produced. `(partner, peer_rows)`: the partner's name and the
/// number of keys it said its dataset holds, the most its PSI may announce.
fn execute<K: Kind, C: Channel>(
    node: &Arc<Node>,
    job: &Job,
    ch: &mut C,
    (spec, part): (&K::Spec, &K::Part),
    initiator: bool,
    (partner, peer_rows): (&str, Option<u64>),
) -> Result<Outcome, Failure> {
    // No slack: the count is of the same read of the same file the partner's PSI announces
    // (PSI jobs), or of a read moments before it (training, prediction); a file that grew in
    // between is a changed dataset and fails the job.
    let peer_limit = peer_rows.unwrap_or(unseen_psi::DEFAULT_MAX_PEER_ITEMS);
    if let Err(e) = node.store().transition(&job.id, JobState::Running, None) {
        return Err((JobError::internal(e.to_string()), ch.stats()));
    }
    tracing::info!(job = %job.id, partner = %partner, "job running");
    let (pending, fin) = match K::output(part) {
        Some(out) => (pending_beside(out, &job.id), out.to_path_buf()),
        None => (node.dir.pending_output(&job.id), node.dir.output(&job.id)),
    };
    let _pending = PendingFile(pending.clone());
    // Whatever this node was doing when the partner gave up, the partner's abort is the cause
    // (its category, never its data), not the message this node then failed to read.
    let give_up = |ch: &mut C, e: JobError| -> Failure {
        let e = blame_abort(ch, partner, e);
        // Tell the partner, whatever protocol step it waits in, that this node gave up and in
        // which category (one byte: no reason text, so no data of ours can leave).
        if !matches!(e.ending(), Ending::PartnerAborted(_)) {
            let _ = ch.abort(e.abort_category());
        }
        (e, ch.stats())
    };
    // The dataset must still be the file that was registered: a replaced file fails the job
    // (on both nodes: the partner is told) until the operator re-registers it.
    let dataset_sm3 = match K::dataset(part).map(ops::check_dataset_file).transpose() {
        Ok(d) => d,
        Err(e) => return Err(give_up(ch, JobError::input(e.to_string()))),
    };
    let produced = {
        let mut ctx = Ctx {
            node,
            job,
            ch: &mut *ch,
            initiator,
            partner,
            peer_limit,
            pending: &pending,
        };
        K::run(&mut ctx, spec, part)
    };
    let produced = match produced {
        Ok(p) => p,
        Err(e) => return Err(give_up(ch, e)),
    };
    // The result as the job records it, before either node keeps anything.
    let recorded = match serde_json::to_value(&produced.output) {
        Ok(v) => v,
        Err(e) => {
            let e = JobError::internal(format!("cannot record the job's result: {e}"));
            return Err(give_up(ch, e));
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
    let confirmed = control::send_done(ch, &report).and_then(|()| control::recv_done(ch));
    let peer = match confirmed {
        Ok(peer) => peer,
        Err(e) => {
            let e = JobError::caused(
                e.fault(),
                format!("partner {partner} (while confirming the result; nothing was kept)"),
                e,
            );
            return Err((blame_abort(ch, partner, e), ch.stats()));
        }
    };
    if !peer.ok {
        return Err((
            JobError::partner(format!(
                "partner {partner} reported a failure: {}",
                peer.reason.unwrap_or_default()
            )),
            ch.stats(),
        ));
    }
    K::commit(node, &produced.output).map_err(|e| (e, ch.stats()))?;
    let (output, digest) = if produced.wrote {
        std::fs::rename(&pending, &fin).map_err(|e| {
            (
                JobError::internal(format!("cannot move the output into place: {e}")),
                ch.stats(),
            )
        })?;
        let digest = sm3_file(&fin).map_err(|e| {
            (
                JobError::internal(format!("cannot read back the output: {e}")),
                ch.stats(),
            )
        })?;
        (Some(fin.display().to_string()), Some(digest))
    } else {
        (None, None)
    };
    let stats = ch.stats();
    let mut result = match recorded {
        Value::Object(m) => m,
        _ => Map::new(),
    };
    result.insert("rounds".into(), stats.rounds.into());
    let mut audit: Map<String, Value> = K::audit(&produced.output)
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
    if let Some(d) = dataset_sm3 {
        // The digest of the dataset file the job read (the registered one, checked above).
        result.insert("dataset_sm3".into(), d.clone().into());
        audit.insert("dataset_sm3".into(), d.into());
    }
    // The partner's audit head, kept here where the partner cannot rewrite it.
    let head = serde_json::to_value(peer.audit_head).unwrap_or_default();
    result.insert("partner_audit_head".into(), head.clone());
    audit.insert("partner_audit_head".into(), head);
    Ok(Outcome {
        output,
        digest,
        stats,
        result: Value::Object(result),
        audit,
    })
}

/// The partner's abort, if it sent one, is the cause of whatever this node then failed on
/// (its category, never its data), not the message this node failed to read.
fn blame_abort<C: Channel>(ch: &C, partner: &str, e: JobError) -> JobError {
    match ch.peer_aborted() {
        Some(category) => JobError::partner_aborted(partner, category),
        None => e,
    }
}

/// The keys of `dataset` as a job aligned by PSI reads them (keys only, first row of a repeated
/// key kept), refused when there are none: a job on an empty dataset would tell the partner
/// this node's size and nobody anything.
pub(crate) fn dataset_keys(dataset: &Dataset) -> Result<unseen_data::Table, String> {
    read_keys(dataset).map_err(|(_, reason)| reason)
}

/// [`dataset_keys`], telling an empty dataset (`true`: a reason the partner may be told) from
/// one that cannot be read (whose reason names this node's file and stays here).
fn read_keys(dataset: &Dataset) -> Result<unseen_data::Table, (bool, String)> {
    let opts = crate::kinds::psi::key_pass(
        ops::read_options(dataset).map_err(|e| (false, e.to_string()))?,
        false,
    );
    let table = unseen_data::read_table(Path::new(&dataset.path), &opts)
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

fn sm3_file(path: &Path) -> std::io::Result<String> {
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

pub(crate) fn finish(
    node: &Arc<Node>,
    job: &Job,
    result: Result<Outcome, Failure>,
    cancel: &AtomicBool,
) {
    let pending = node.dir.pending_output(&job.id);
    if pending.exists() {
        let _ = std::fs::remove_file(&pending);
    }
    let (action, f, audit) = match result {
        Ok(o) => (
            "job.succeeded",
            Finish {
                state: JobState::Succeeded,
                reason: None,
                output: o.output,
                output_digest: o.digest,
                bytes_sent: o.stats.bytes_sent,
                bytes_received: o.stats.bytes_received,
                result: o.result,
                fault: None,
            },
            Some(o.audit),
        ),
        Err((e, st)) => {
            let (state, action, reason, fault) = match e.ending() {
                Ending::Rejected => (
                    JobState::Rejected,
                    "job.rejected",
                    e.message().to_owned(),
                    Some(e.fault()),
                ),
                // A cancel closes the connection, so whatever step was running fails: an
                // operator's cancel, not the step's error, is why the job ended.
                _ if cancel.load(Ordering::SeqCst) => (
                    JobState::Cancelled,
                    "job.cancelled",
                    format!("cancelled ({})", e.message()),
                    None,
                ),
                Ending::Failed | Ending::PartnerAborted(_) => (
                    JobState::Failed,
                    "job.failed",
                    e.message().to_owned(),
                    Some(e.fault()),
                ),
            };
            (
                action,
                Finish {
                    state,
                    reason: Some(reason),
                    output: None,
                    output_digest: None,
                    bytes_sent: st.bytes_sent,
                    bytes_received: st.bytes_received,
                    result: Value::Null,
                    fault: fault.map(|f| f.as_str().to_owned()),
                },
                None,
            )
        }
    };
    {
        let mut store = node.store();
        match store.finish_job(&job.id, &f) {
            Ok(done) => {
                let mut e = match &f.reason {
                    Some(r) => ended_event(
                        "node",
                        action,
                        f.state.as_str(),
                        &done,
                        r,
                        f.fault.as_deref(),
                    ),
                    None => job_event("node", action, f.state.as_str(), &done),
                };
                e.bytes_sent = f.bytes_sent;
                e.bytes_received = f.bytes_received;
                e.output_digest = f.output_digest.clone();
                if let Some(fields) = audit {
                    // The kind's audit fields (counts and ids, never data), the digest of the
                    // dataset file read and the partner's audit head.
                    let mut params = Map::new();
                    params.insert("spec".into(), done.params.clone());
                    params.extend(fields);
                    e.params = Value::Object(params);
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
        Some(r) => {
            let fault = f.fault.as_deref().unwrap_or("-");
            tracing::warn!(job = %job.id, state, fault, reason = %r, "job finished");
        }
    }
    node.end_job(&job.id);
}

/// The responder's decision on a proposal.
enum Verdict<K: Kind> {
    /// Run it with this part; for a job aligned by PSI, the number of keys this node brings.
    Accept(Job, K::Part, Option<u64>),
    /// Refuse it (the job record, if one was made, and why).
    Reject(Option<Job>, Refusal),
}

/// Decides on a proposal of kind `K`: the job id is new, the policy allows it, the dataset
/// exists and is unchanged; for a job aligned by PSI the keys are read (and an empty dataset
/// refused); then the kind's own admission.
fn decide<K: Kind>(
    node: &Arc<Node>,
    partner: &Partner,
    p: &Propose,
    spec: &K::Spec,
) -> Result<Verdict<K>, NodeError> {
    let (job, dataset) = {
        let mut store = node.store();
        if store.job(&p.job_id)?.is_some() {
            return Ok(Verdict::Reject(
                None,
                Refusal::config("job id already used on this node"),
            ));
        }
        let verdict = policy::check::<K>(&store, &p.dataset, &partner.name, spec, false)?;
        let job = store.insert_job(&NewJob {
            id: p.job_id.clone(),
            kind: K::NAME.to_owned(),
            role: Role::Responder,
            partner: partner.name.clone(),
            dataset: p.dataset.clone(),
            peer_dataset: p.initiator_dataset.clone(),
            params: serde_json::to_value(&p.spec)
                .map_err(|e| NodeError::Internal(e.to_string()))?,
            state: JobState::Proposed,
            rerun_of: None,
        })?;
        store.audit_append(&job_event(&partner.name, "job.proposed", "proposed", &job))?;
        if let Err(reason) = verdict {
            return Ok(Verdict::Reject(Some(job), Refusal::config(reason)));
        }
        let Some(dataset) = store.dataset(&p.dataset)? else {
            return Ok(Verdict::Reject(
                Some(job),
                Refusal::config(format!("no dataset named {:?}", p.dataset)),
            ));
        };
        let dataset = match crate::ops::checked_dataset(&node.dir, dataset) {
            Ok(d) => d,
            Err(e) => {
                tracing::warn!(job = %job.id, error = %e, "a dataset file failed its check");
                let reason = crate::ops::unusable_dataset_reason(&p.dataset);
                return Ok(Verdict::Reject(Some(job), Refusal::input(reason)));
            }
        };
        (job, dataset)
    };
    // Jobs aligned by PSI: refuse an empty dataset on either side now, with a reason, and read
    // the keys whose count the decision announces (a PSI job runs on this very read).
    let mut rows = None;
    let mut keys = None;
    if K::aligns(spec) {
        if p.rows == Some(0) {
            return Ok(Verdict::Reject(
                Some(job),
                Refusal::input("the initiator's dataset has no rows; nothing to align"),
            ));
        }
        match read_keys(&dataset) {
            Ok(t) => {
                rows = Some(t.keys.len() as u64);
                keys = Some(Box::new(t));
            }
            Err((true, reason)) => return Ok(Verdict::Reject(Some(job), Refusal::input(reason))),
            Err((false, reason)) => {
                tracing::warn!(job = %job.id, reason = %reason, "cannot read a job's dataset");
                return Ok(Verdict::Reject(
                    Some(job),
                    Refusal::input(format!(
                        "dataset {:?} cannot be read on the partner's node",
                        dataset.name
                    )),
                ));
            }
        }
    }
    let admission = Admission {
        node,
        partner,
        proposal: p,
        job: &job,
        dataset,
        keys,
    };
    let part = match K::admit(admission, spec) {
        Ok(part) => part,
        Err(r) => return Ok(Verdict::Reject(Some(job), r)),
    };
    let mut store = node.store();
    let job = store.transition(&job.id, JobState::Accepted, None)?;
    store.audit_append(&job_event("node", "job.accepted", "accepted", &job))?;
    Ok(Verdict::Accept(job, part, rows))
}

/// The responder of a proposal of kind `K` on an authenticated channel: decide, answer, run,
/// finish. `shutdown` closes the connection when the operator cancels the job.
pub(crate) fn respond<K: Kind, C: Channel>(
    node: &Arc<Node>,
    partner: &Partner,
    ch: &mut C,
    shutdown: Option<ShutdownHandle>,
    p: &Propose,
    spec: &K::Spec,
) {
    let refuse = |ch: &mut C, reason: String| {
        let _ = control::send_decision(
            ch,
            &Decision {
                accepted: false,
                reason: Some(reason),
                no_row: false,
                rows: None,
            },
        );
    };
    match decide::<K>(node, partner, p, spec) {
        Ok(Verdict::Accept(job, part, rows)) => {
            tracing::info!(job = %job.id, partner = %partner.name, "accepted a job");
            let cancel = node.start_job(&job.id);
            if let Some(h) = shutdown {
                node.set_shutdown(&job.id, h);
            }
            let accepted = Decision {
                accepted: true,
                reason: None,
                no_row: false,
                rows,
            };
            let peer = (partner.name.as_str(), p.rows);
            let result = match control::send_decision(ch, &accepted) {
                Ok(()) => execute::<K, C>(node, &job, ch, (spec, &part), false, peer),
                Err(e) => Err((
                    JobError::caused(e.fault(), format!("partner {}", partner.name), e),
                    ch.stats(),
                )),
            };
            finish(node, &job, result, &cancel);
        }
        Ok(Verdict::Reject(job, refusal)) => {
            let reason = refusal.reason;
            tracing::warn!(job = %p.job_id, partner = %partner.name, reason = %reason, "rejected a job");
            if let Some(job) = job {
                let mut store = node.store();
                let fault = refusal.fault.as_str();
                let rejected = Finish {
                    state: JobState::Rejected,
                    reason: Some(reason.clone()),
                    output: None,
                    output_digest: None,
                    bytes_sent: 0,
                    bytes_received: 0,
                    result: Value::Null,
                    fault: Some(fault.to_owned()),
                };
                match store.finish_job(&job.id, &rejected) {
                    Ok(j) => {
                        let e = ended_event(
                            "node",
                            "job.rejected",
                            "rejected",
                            &j,
                            &reason,
                            Some(fault),
                        );
                        if let Err(err) = store.audit_append(&e) {
                            tracing::error!(error = %err, "cannot append to the audit log");
                        }
                    }
                    Err(err) => tracing::error!(error = %err, "cannot record a rejection"),
                }
            }
            refuse(ch, reason);
        }
        Err(err) => {
            tracing::error!(job = %p.job_id, error = %err, "cannot decide on a proposal");
            refuse(ch, "the partner's node failed to record the job".into());
        }
    }
}

/// Serves a proposal received from an authenticated partner on `ch`: the kind of its spec
/// serves it ([`Kind::serve`]: a job's lifecycle, or a session).
pub(crate) fn serve_proposal<C: Channel>(
    node: &Arc<Node>,
    partner: &Partner,
    ch: &mut C,
    shutdown: Option<ShutdownHandle>,
    p: &Propose,
) {
    struct Serve<'a, C> {
        node: &'a Arc<Node>,
        partner: &'a Partner,
        ch: &'a mut C,
        shutdown: Option<ShutdownHandle>,
        p: &'a Propose,
    }
    impl<C: Channel> Visit for Serve<'_, C> {
        type Out = ();
        fn visit<K: Kind>(self, spec: &K::Spec) {
            K::serve(
                self.node,
                self.partner,
                self.ch,
                self.shutdown,
                self.p,
                spec,
            );
        }
    }
    kinds::dispatch(
        &p.spec,
        Serve {
            node,
            partner,
            ch,
            shutdown,
            p,
        },
    );
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
    struct Rerun<'a> {
        node: &'a Arc<Node>,
        actor: &'a str,
        job: &'a Job,
    }
    impl Visit for Rerun<'_> {
        type Out = Result<Job, NodeError>;
        fn visit<K: Kind>(self, spec: &K::Spec) -> Result<Job, NodeError>
        where
            JobSpec: From<K::Spec>,
        {
            let (part, rows) = K::rerun(self.node, self.job, spec)?;
            let to = Start {
                actor: self.actor,
                partner: &self.job.partner,
                dataset: &self.job.dataset,
                peer_dataset: &self.job.peer_dataset,
                rerun_of: Some(self.job.id.clone()),
                own_policy: true,
            };
            start::<K>(self.node, to, spec.clone(), part, rows, Runner::Worker)
        }
    }
    kinds::dispatch(
        &spec,
        Rerun {
            node,
            actor,
            job: &job,
        },
    )
}

/// Marks jobs left unfinished by a previous run of the daemon failed and removes their pending
/// outputs (called at start-up, before anything else runs).
pub fn recover(node: &Arc<Node>) -> Result<Vec<Job>, NodeError> {
    let failed = node
        .store()
        .fail_interrupted("interrupted: the node stopped while the job was unfinished; rerun it")?;
    for j in &failed {
        let reason = j.reason.as_deref().unwrap_or("interrupted");
        node.audit(&ended_event(
            "node",
            "job.failed",
            "failed",
            j,
            reason,
            j.fault.as_deref(),
        ));
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
    let shutdown = ch.shutdown_handle();
    serve_proposal(node, &partner, &mut ch, Some(shutdown), &propose);
}

#[cfg(test)]
mod tests;
