//! Real-time scoring of one applicant (`POST /v1/models/{model_id}/score`, `unseen score`).
//!
//! The guest (the model's holder of the labels) gets the applicant's key and its own features
//! from its caller, opens a mutual-TLS connection to the model's partner and proposes a score
//! session (kind `score`, the key in [`Propose::key`]). The host checks its `predict`
//! policy and its model part, looks the key up in its dataset, and the two run the model's
//! prediction protocol on that single row (the same `run_guest_predict` / `run_host_predict`
//! as batch prediction, so the host-table digest and the row count are checked the same way).
//! No PSI: the key is sent in clear over the TLS channel, as in the online prediction of FATE
//! and SecretFlow where the host looks its features up by id (docs/protocols/secureboost.md).
//!
//! Each node appends one audit record per session (`model.scored` on the guest,
//! `model.score_served` on the host) with the model, the partner, the outcome and the SM3
//! digest of the key (never the key).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use unseen_channel::Channel;
use unseen_fl::ModelId;
use unseen_store::{AuditEvent, Dataset, Partner, PirGrant, StoreError};
use unseen_transport::{Fingerprint, ShutdownHandle, TlsChannel};

use super::{Admission, Ctx, Kind, Produced, Receivers, Refusal};
use crate::align::Aligned;
use crate::control::{self, Decision, Propose};
use crate::fl_job::{self, Side, StoredModel};
use crate::job_error::JobError;
use crate::node::Node;
use crate::{NodeError, ops, policy};

/// A score session's parameters (the key travels in [`Propose::key`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScoreSpec {
    /// The model, which both nodes hold a part of.
    #[serde(with = "super::model_id_hex")]
    pub model: ModelId,
}

/// The `score` kind: a session answered at once, not a recorded job; allowed by the
/// responder's `predict` policy (it is a prediction of one row).
pub struct Score;

impl Kind for Score {
    type Spec = ScoreSpec;
    type Part = ();
    type Output = ();
    const NAME: &'static str = "score";
    const POLICY: &'static str = "predict";
    const KEYED: bool = true;

    fn check(_: &ScoreSpec) -> Result<(), String> {
        Ok(())
    }

    fn receivers(_: &ScoreSpec) -> Receivers {
        // Under the `predict` rule: the partner learns the applicant's key, the guest learns
        // nothing of the partner's rows but the score.
        Receivers {
            initiator: true,
            responder: true,
        }
    }

    fn admit(_: Admission<'_>, _: &ScoreSpec) -> Result<(), Refusal> {
        Err(Refusal::from(NodeError::Internal(
            "a score session proposed as a job".into(),
        )))
    }

    fn dataset(_: &()) -> Option<&Dataset> {
        None
    }

    fn run<C: Channel>(
        _: &mut Ctx<'_, C>,
        _: &ScoreSpec,
        _: &(),
    ) -> Result<Produced<()>, JobError> {
        Err(JobError::internal(
            "a score session run as a job; please report",
        ))
    }

    fn serve<C: Channel>(
        node: &Arc<Node>,
        partner: &Partner,
        ch: &mut C,
        _: Option<ShutdownHandle>,
        p: &Propose,
        spec: &ScoreSpec,
    ) {
        // One applicant, answered at once: a session with one audit record, not a job.
        serve(node, partner, ch, p, spec.model);
    }
}

/// The domain of the keyed digest of a score session's key in the audit (`params.key_hmac`).
pub const SCORE_KEY_DOMAIN: &str = "unseen score key v1";

/// The reason a host gives when it has no row for the key (the guest's API answers 404).
pub const NO_ROW: &str = "the partner has no row for this key";

/// The body of `POST /v1/models/{model_id}/score`.
#[derive(Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ScoreRequest {
    /// The applicant's key, as in the datasets' key column.
    pub key: String,
    /// Every guest feature of the model by name; numbers only.
    pub features: serde_json::Map<String, Value>,
    /// The partner's dataset to look the key up in (default: the model's training dataset on
    /// the partner's node).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub peer_dataset: Option<String>,
}

impl std::fmt::Debug for ScoreRequest {
    // The key and the features are personal data: counts only.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ScoreRequest")
            .field("features", &self.features.len())
            .field("peer_dataset", &self.peer_dataset)
            .finish_non_exhaustive()
    }
}

impl ScoreRequest {
    /// Parses a request body: a JSON object of the documented shape (400 otherwise).
    pub fn parse(body: &[u8]) -> Result<Self, NodeError> {
        serde_json::from_slice(body).map_err(|e| {
            NodeError::Invalid(format!(
                "the body must be {{\"key\": \"…\", \"features\": {{\"name\": number, …}}}}: {e}"
            ))
        })
    }
}

/// The model's guest features in the model's order, from the request (400 naming every
/// missing, unknown or non-numeric feature).
fn feature_row(
    names: &[String],
    given: &serde_json::Map<String, Value>,
) -> Result<Vec<f64>, NodeError> {
    let missing: Vec<&str> = names
        .iter()
        .filter(|n| !given.contains_key(n.as_str()))
        .map(String::as_str)
        .collect();
    let mut unknown: Vec<&str> = given
        .keys()
        .filter(|k| !names.iter().any(|n| n == *k))
        .map(String::as_str)
        .collect();
    unknown.sort_unstable();
    let not_numbers: Vec<&str> = names
        .iter()
        .filter(|n| {
            given
                .get(n.as_str())
                .is_some_and(|v| v.as_f64().is_none_or(|x| !x.is_finite()))
        })
        .map(String::as_str)
        .collect();
    let mut problems = Vec::new();
    let list = |v: &[&str]| {
        v.iter()
            .map(|n| format!("{n:?}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    if !missing.is_empty() {
        problems.push(format!("missing features: {}", list(&missing)));
    }
    if !unknown.is_empty() {
        problems.push(format!(
            "unknown features (not in the model): {}",
            list(&unknown)
        ));
    }
    if !not_numbers.is_empty() {
        problems.push(format!(
            "features that are not finite numbers: {}",
            list(&not_numbers)
        ));
    }
    if !problems.is_empty() {
        return Err(NodeError::Invalid(format!(
            "{} (the model's features: {})",
            problems.join("; "),
            names.join(", ")
        )));
    }
    Ok(names
        .iter()
        .filter_map(|n| given.get(n.as_str()).and_then(Value::as_f64))
        .collect())
}

/// One row as the prediction drivers take it (column-major, one value per column).
fn one_row(key: &str, names: &[String], row: &[f64]) -> Aligned {
    Aligned {
        keys: vec![key.to_owned()],
        names: names.to_vec(),
        columns: row.iter().map(|&v| vec![v]).collect(),
        labels: None,
        rows: 1,
    }
}

fn new_session_id() -> Result<String, NodeError> {
    let mut b = [0u8; 16];
    getrandom::fill(&mut b).map_err(|e| {
        NodeError::Internal(format!("operating system randomness unavailable: {e}"))
    })?;
    Ok(hex::encode(b))
}

/// One audit record of a score session.
fn score_event(
    node: &Node,
    actor: &str,
    action: &str,
    outcome: &str,
    (partner, datasets): (&str, Vec<String>),
    (model, session, key): (ModelId, &str, &str),
    reason: Option<&str>,
) -> AuditEvent {
    let mut e = AuditEvent::new(actor, action, outcome);
    e.job_kind = Some("score".to_owned());
    e.partner = Some(partner.to_owned());
    e.datasets = datasets;
    let mut params = serde_json::json!({
        "model_id": model.to_string(),
        "session": session,
        // Not the key, nor its plain SM3 (an ID number is found from that by trying every
        // candidate): a keyed digest under this node's secret, so that this node's records of
        // one applicant can be matched with each other. The two nodes' records of one session
        // are matched by `session`.
        "key_hmac": node.digest_key.digest(SCORE_KEY_DOMAIN, key.as_bytes()),
    });
    if let (Some(r), Some(p)) = (reason, params.as_object_mut()) {
        p.insert("reason".into(), r.into());
    }
    e.params = params;
    e
}

/// Scores one applicant as the model's guest: validates the request, runs a score session
/// with the model's partner, audits it; returns `{"model", "key", "score", "partner"}`.
pub fn score(
    node: &Arc<Node>,
    actor: &str,
    model: &str,
    req: &ScoreRequest,
) -> Result<Value, NodeError> {
    let id = super::parse_model_id(model).map_err(NodeError::Invalid)?;
    let key = req.key.trim();
    control::check_score_key(key).map_err(|e| NodeError::Invalid(format!("key: {e}")))?;
    if !node.dir.model(&id.to_string()).join("meta.json").exists() {
        return Err(NodeError::Store(StoreError::NotFound {
            what: "model",
            name: id.to_string(),
        }));
    }
    let stored = fl_job::load_model(&node.dir, id)?;
    let meta = &stored.meta;
    if meta.side != Side::Guest {
        return Err(NodeError::Invalid(format!(
            "model {id} is held here as the host's part (features of partner {}'s model); only \
             the guest ({}) scores with it",
            meta.partner, meta.partner
        )));
    }
    // Both algorithms score one row with their batch drivers (SecureBoost: the host's
    // decisions; logistic regression: the host's u_B).
    let row = feature_row(&meta.features, &req.features)?;
    let peer_dataset = req.peer_dataset.as_deref().unwrap_or(&meta.peer_dataset);
    unseen_store::validate_name("dataset", peer_dataset)?;
    let partner = node.store().partner(&meta.partner)?.ok_or_else(|| {
        NodeError::Store(StoreError::NotFound {
            what: "partner",
            name: meta.partner.clone(),
        })
    })?;
    let session = new_session_id()?;
    let result = run_guest(node, &partner, &stored, &session, key, peer_dataset, &row);
    let (outcome, reason) = match &result {
        Ok(_) => ("ok", None),
        Err(NodeError::Store(StoreError::NotFound { .. })) => ("no_row", Some(NO_ROW.to_owned())),
        Err(NodeError::Refused(r)) => ("refused", Some(r.clone())),
        Err(e) => ("failed", Some(e.to_string())),
    };
    let event = score_event(
        node,
        actor,
        "model.scored",
        outcome,
        (
            &partner.name,
            vec![
                meta.dataset.clone(),
                format!("{}:{peer_dataset}", partner.name),
            ],
        ),
        (id, &session, key),
        reason.as_deref(),
    );
    // Fail closed: a score whose record cannot be written is not returned.
    if let Err(e) = node.store().audit_append(&event) {
        tracing::error!(action = "model.scored", error = %e, "cannot append to the audit log");
        result?;
        return Err(NodeError::Internal(format!(
            "the score could not be audited, so it is not returned: {e}"
        )));
    }
    let score = result?;
    node.counters
        .scored
        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    tracing::info!(model = %id, partner = %partner.name, "scored one applicant");
    Ok(serde_json::json!({
        "model": id.to_string(),
        "key": key,
        "score": score,
        "partner": partner.name,
    }))
}

/// The guest's side of a session: connect, propose, run the prediction on one row.
fn run_guest(
    node: &Node,
    partner: &Partner,
    stored: &StoredModel,
    session: &str,
    key: &str,
    peer_dataset: &str,
    row: &[f64],
) -> Result<f64, NodeError> {
    let fail = |m: String| NodeError::Partner(format!("partner {}: {m}", partner.name));
    let addr = ops::resolve(&partner.address)?;
    let pin: Fingerprint = partner.fingerprint.parse().map_err(|_| {
        NodeError::Internal("the partner's stored fingerprint does not parse".into())
    })?;
    let opts = node.config.transport_options();
    let mut ch: TlsChannel = unseen_transport::connect(addr, node.identity(), &pin, &opts)
        .map_err(|e| {
            fail(format!(
                "cannot open a mutual TLS connection to {addr}: {e}"
            ))
        })?;
    let propose = Propose {
        job_id: session.to_owned(),
        dataset: peer_dataset.to_owned(),
        initiator_dataset: stored.meta.dataset.clone(),
        spec: ScoreSpec {
            model: stored.meta.model_id,
        }
        .into(),
        key: Some(key.to_owned()),
        rows: None,
    };
    control::send_propose(&mut ch, &propose).map_err(|e| fail(e.to_string()))?;
    let decision = control::recv_decision(&mut ch).map_err(|e| fail(e.to_string()))?;
    if !decision.accepted {
        if decision.no_row {
            return Err(NodeError::Store(StoreError::NotFound {
                what: "row",
                name: NO_ROW.to_owned(),
            }));
        }
        let reason = decision.reason.unwrap_or_else(|| "no reason given".into());
        return Err(NodeError::Refused(format!(
            "partner {} refused: {reason}",
            partner.name
        )));
    }
    let data = one_row(key, &stored.meta.features, row);
    let scores = fl_job::predict(&mut ch, stored, &data)
        .map_err(|e| fail(e.to_string()))?
        .unwrap_or_default();
    match scores.as_slice() {
        [s] => Ok(*s),
        _ => Err(NodeError::Internal(format!(
            "{} scores for one row (internal error)",
            scores.len()
        ))),
    }
}

/// What the host decided on a score proposal.
enum HostVerdict {
    /// Run the prediction on this row.
    Accept(Box<StoredModel>, Vec<f64>),
    /// Refuse (the reason sent; `no_row` when the key is not in the dataset).
    Reject { reason: String, no_row: bool },
}

fn reject(reason: impl Into<String>) -> HostVerdict {
    HostVerdict::Reject {
        reason: reason.into(),
        no_row: false,
    }
}

/// Decides on a score proposal: the policy, the model part, the row.
fn host_decide(
    node: &Node,
    partner: &Partner,
    p: &Propose,
    model: ModelId,
    key: &str,
) -> Result<HostVerdict, NodeError> {
    let dataset = {
        let store = node.store();
        let spec = ScoreSpec { model };
        if let Err(reason) =
            policy::check::<Score>(&store, &p.dataset, &partner.name, &spec, false)?
        {
            return Ok(reject(reason));
        }
        let Some(d) = store.dataset(&p.dataset)? else {
            return Ok(reject(format!("no dataset named {:?}", p.dataset)));
        };
        match crate::ops::checked_dataset(&node.dir, d) {
            Ok(d) => d,
            Err(e) => {
                tracing::warn!(error = %e, "a dataset file failed its check");
                return Ok(reject(crate::ops::unusable_dataset_reason(&p.dataset)));
            }
        }
    };
    let stored = match super::predict::host_part(node, &partner.name, model) {
        Ok(m) => m,
        Err(r) => return Ok(reject(r.reason)),
    };
    // The daily quota, counted before the lookup (a score that finds no row still told the
    // partner that this node lacks the key).
    let limit = node.config.score.max_per_day;
    let day = unseen_store::utc_day(unseen_store::now_ms());
    let grant = node
        .store()
        .score_grant(&partner.name, &p.dataset, day, limit)?;
    if let PirGrant::Refused { used } = grant {
        return Ok(reject(format!(
            "quota: partner {:?} may score {limit} applicants per UTC day on dataset {:?} \
             ({used} today; [score] max_per_day in the partner's node.toml)",
            partner.name, p.dataset
        )));
    }
    match node.score_rows.row(&dataset, key, &stored.meta.features) {
        Ok(Some(row)) => Ok(HostVerdict::Accept(Box::new(stored), row)),
        Ok(None) => Ok(HostVerdict::Reject {
            reason: NO_ROW.to_owned(),
            no_row: true,
        }),
        Err(e) => {
            tracing::warn!(dataset = %dataset.name, error = %e, "cannot read a row to score");
            Ok(reject(format!(
                "dataset {:?} cannot be read for scoring on the partner's node",
                p.dataset
            )))
        }
    }
}

/// The host's side of a score session (called on the connection that proposed it).
fn serve<C: Channel>(node: &Arc<Node>, partner: &Partner, ch: &mut C, p: &Propose, model: ModelId) {
    let key = p.key.as_deref().unwrap_or_default();
    let datasets = vec![
        p.dataset.clone(),
        format!("{}:{}", partner.name, p.initiator_dataset),
    ];
    let verdict = host_decide(node, partner, p, model, key).unwrap_or_else(|e| {
        tracing::error!(error = %e, "cannot decide on a score session");
        reject("the partner's node failed to decide")
    });
    let (outcome, reason) = match verdict {
        HostVerdict::Reject { reason, no_row } => {
            let _ = control::send_decision(
                ch,
                &Decision {
                    accepted: false,
                    reason: Some(reason.clone()),
                    no_row,
                    rows: None,
                },
            );
            (if no_row { "no_row" } else { "refused" }, Some(reason))
        }
        HostVerdict::Accept(stored, row) => {
            let accepted = Decision {
                accepted: true,
                reason: None,
                no_row: false,
                rows: None,
            };
            let run = control::send_decision(ch, &accepted)
                .map_err(|e| e.to_string())
                .and_then(|()| {
                    fl_job::predict(ch, &stored, &one_row(key, &stored.meta.features, &row))
                        .map_err(|e| e.to_string())
                });
            match run {
                Ok(_) => {
                    node.counters
                        .scores_served
                        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    ("ok", None)
                }
                Err(e) => ("failed", Some(e)),
            }
        }
    };
    if let Some(r) = &reason {
        tracing::warn!(partner = %partner.name, model = %model, reason = %r, "score session ended short");
    }
    node.audit(&score_event(
        node,
        &partner.name,
        "model.score_served",
        outcome,
        (&partner.name, datasets),
        (model, &p.job_id, key),
        reason.as_deref(),
    ));
}

/// Row lookup for score sessions: per dataset file (and the way it is read: key column, key
/// type, encoding), its key index and rows, reloaded when the file's modification time or
/// length changes.
#[derive(Default)]
pub struct RowCache {
    inner: Mutex<HashMap<CacheKey, Arc<Indexed>>>,
}

/// A file and how it is read (a dataset re-registered with another key type is re-read).
type CacheKey = (PathBuf, String, String, String, bool);

impl std::fmt::Debug for RowCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RowCache").finish_non_exhaustive()
    }
}

/// A dataset read for scoring.
struct Indexed {
    stamp: (SystemTime, u64),
    table: unseen_data::Table,
    by_key: HashMap<String, usize>,
}

/// Most datasets kept indexed at once (older entries are dropped).
const MAX_CACHED: usize = 8;

fn stamp(path: &Path) -> Result<(SystemTime, u64), String> {
    let m = std::fs::metadata(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let t = m
        .modified()
        .map_err(|e| format!("{}: {e}", path.display()))?;
    Ok((t, m.len()))
}

impl RowCache {
    /// The model's `features` of the row with `key` (normalised as the dataset's keys are) in
    /// `dataset`, `None` if it has no such row.
    pub fn row(
        &self,
        dataset: &Dataset,
        key: &str,
        features: &[String],
    ) -> Result<Option<Vec<f64>>, String> {
        let mut opts = ops::read_options(dataset).map_err(|e| e.to_string())?;
        // As batch prediction reads it: whole rows, unique keys.
        opts.duplicates = unseen_data::DuplicatePolicy::Error;
        let Ok(norm) = unseen_data::normalize_key(opts.key_type, key) else {
            // A key that cannot be one of the dataset's keys is simply absent.
            return Ok(None);
        };
        let path = PathBuf::from(&dataset.path);
        let now = stamp(&path)?;
        let ck: CacheKey = (
            path.clone(),
            dataset.key_column.clone(),
            dataset.key_type.clone(),
            dataset.encoding.clone(),
            dataset.skip_invalid,
        );
        let cached = {
            let map = self
                .inner
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            map.get(&ck).filter(|i| i.stamp == now).cloned()
        };
        let idx = match cached {
            Some(i) => i,
            None => {
                // (Re)loading: the file must still be the one registered.
                ops::check_dataset_file(dataset).map_err(|e| e.to_string())?;
                let table = unseen_data::read_table(&path, &opts)
                    .map_err(|e| format!("dataset {}: {e}", dataset.name))?;
                let by_key = table
                    .keys
                    .iter()
                    .enumerate()
                    .map(|(i, k)| (k.clone(), i))
                    .collect();
                let i = Arc::new(Indexed {
                    stamp: now,
                    table,
                    by_key,
                });
                let mut map = self
                    .inner
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                if map.len() >= MAX_CACHED && !map.contains_key(&ck) {
                    map.clear();
                }
                map.insert(ck, Arc::clone(&i));
                i
            }
        };
        let Some(&i) = idx.by_key.get(&norm) else {
            return Ok(None);
        };
        crate::align::row_features(&idx.table, &path, i, features).map(Some)
    }
}
