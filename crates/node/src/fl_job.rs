//! Joint modeling in the node (`train`, `predict`, `score`): each party's model part under
//! `DIR/models/MODEL_ID/`, federated prediction over aligned rows ([`crate::align`]), the
//! scores and the model report. Nothing of a dataset leaves its node except what the training
//! or prediction protocol documents (docs/protocols/secureboost.md).

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use unseen_channel::Channel;
use unseen_fl::{ModelId, lr, secureboost as sb};
use unseen_store::Dataset;

use crate::align::Aligned;
use crate::job_error::JobError;
use crate::kinds::train::{Algorithm, TrainSpec};
use crate::{NodeDir, NodeError};

/// Which side of a model a node holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Side {
    /// The party with the labels (the job's initiator).
    Guest,
    /// The party with the other features (the job's responder).
    Host,
}

/// What a node records about its part of a model (`models/MODEL_ID/meta.json`).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelMeta {
    /// The model (both parts share it).
    #[serde(with = "crate::kinds::model_id_hex")]
    pub model_id: ModelId,
    /// The algorithm.
    pub algorithm: Algorithm,
    /// This node's side.
    pub side: Side,
    /// The partner holding the other part.
    pub partner: String,
    /// This node's training dataset.
    pub dataset: String,
    /// The partner's training dataset.
    pub peer_dataset: String,
    /// The training job.
    pub job_id: String,
    /// When it was trained, ms since the Unix epoch.
    pub created_ms: i64,
    /// This node's features, in the model's order.
    pub features: Vec<String>,
    /// The label column (guest only).
    pub label: Option<String>,
    /// Rows trained on (the common rows).
    pub rows: usize,
    /// The training parameters.
    #[serde(with = "crate::kinds::train::recorded")]
    pub spec: TrainSpec,
    /// SM3 of the part file, checked when it is loaded.
    pub part_sm3: String,
}

const META: &str = "meta.json";
const PART: &str = "part.bin";

/// A model part as stored: what the node knows about it and the bytes `unseen-fl` reads.
pub struct StoredModel {
    /// The metadata.
    pub meta: ModelMeta,
    /// The part, as written by `unseen-fl`.
    pub part: Vec<u8>,
    /// Scores on the training rows (guest only), for the report's population stability.
    pub train_scores: Option<Vec<f64>>,
}

/// Writes a model part: a temporary directory renamed into place, so a model is there whole
/// or not at all. Mode 0700: a host part holds the thresholds of the host's features.
pub fn save_model(
    dir: &NodeDir,
    meta: &ModelMeta,
    part: &[u8],
    train_scores: Option<&[f64]>,
) -> Result<PathBuf, NodeError> {
    let root = dir.models();
    std::fs::create_dir_all(&root).map_err(|e| NodeError::io(&root, e))?;
    let id = meta.model_id.to_string();
    let tmp = root.join(format!(".{id}.tmp"));
    let _ = std::fs::remove_dir_all(&tmp);
    std::fs::create_dir(&tmp).map_err(|e| NodeError::io(&tmp, e))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o700))
            .map_err(|e| NodeError::io(&tmp, e))?;
    }
    let write = |name: &str, bytes: &[u8]| {
        let p = tmp.join(name);
        std::fs::write(&p, bytes).map_err(|e| NodeError::io(&p, e))
    };
    write(PART, part)?;
    if let Some(s) = train_scores {
        let bytes: Vec<u8> = s.iter().flat_map(|v| v.to_le_bytes()).collect();
        write("train_scores.f64", &bytes)?;
    }
    let json = serde_json::to_vec_pretty(meta).map_err(|e| NodeError::Internal(e.to_string()))?;
    write(META, &json)?;
    let fin = dir.model(&id);
    std::fs::rename(&tmp, &fin).map_err(|e| NodeError::io(&fin, e))?;
    Ok(fin)
}

/// Reads a model part and checks its digest.
pub fn load_model(dir: &NodeDir, id: ModelId) -> Result<StoredModel, NodeError> {
    let d = dir.model(&id.to_string());
    let meta_path = d.join(META);
    let json = match std::fs::read(&meta_path) {
        Ok(j) => j,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(NodeError::Invalid(format!(
                "no model {id} on this node (models are in {})",
                dir.models().display()
            )));
        }
        Err(e) => return Err(NodeError::io(&meta_path, e)),
    };
    let meta: ModelMeta = serde_json::from_slice(&json)
        .map_err(|e| NodeError::Invalid(format!("{}: {e}", meta_path.display())))?;
    if meta.model_id != id {
        return Err(NodeError::Invalid(format!(
            "{}: holds model {}, not {id}",
            meta_path.display(),
            meta.model_id
        )));
    }
    let part_path = d.join(PART);
    let part = std::fs::read(&part_path).map_err(|e| NodeError::io(&part_path, e))?;
    if sm3_hex(&part) != meta.part_sm3 {
        return Err(NodeError::Invalid(format!(
            "{}: the model part does not match its recorded SM3 digest (changed or damaged)",
            part_path.display()
        )));
    }
    let scores_path = d.join("train_scores.f64");
    let train_scores = match std::fs::read(&scores_path) {
        Ok(b) if b.len() % 8 == 0 => Some(
            b.chunks_exact(8)
                .map(|c| f64::from_le_bytes(c.try_into().unwrap_or([0; 8])))
                .collect(),
        ),
        Ok(_) => {
            return Err(NodeError::Invalid(format!(
                "{}: not a whole number of scores (damaged)",
                scores_path.display()
            )));
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => return Err(NodeError::io(&scores_path, e)),
    };
    Ok(StoredModel {
        meta,
        part,
        train_scores,
    })
}

/// Lists the model parts on this node, newest first (unreadable entries are skipped).
pub fn list_models(dir: &NodeDir) -> Vec<ModelMeta> {
    let mut out: Vec<ModelMeta> = std::fs::read_dir(dir.models())
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| std::fs::read(e.path().join(META)).ok())
        .filter_map(|j| serde_json::from_slice(&j).ok())
        .collect();
    out.sort_by_key(|m| std::cmp::Reverse(m.created_ms));
    out
}

/// SM3 of bytes, lowercase hex.
pub fn sm3_hex(bytes: &[u8]) -> String {
    use sm3::Digest;
    hex::encode(sm3::Sm3::digest(bytes))
}

/// Row-major copy of column-major features (logistic regression takes rows).
pub(crate) fn rows_of(columns: &[Vec<f64>]) -> Vec<Vec<f64>> {
    let n = columns.first().map_or(0, Vec::len);
    (0..n)
        .map(|i| columns.iter().map(|c| c[i]).collect())
        .collect()
}

/// Runs one side of the federated prediction; the guest gets the scores.
pub fn predict<C: Channel>(
    ch: &mut C,
    model: &StoredModel,
    data: &Aligned,
) -> Result<Option<Vec<f64>>, JobError> {
    let bad =
        |e: &dyn std::fmt::Display| JobError::config(format!("model {}: {e}", model.meta.model_id));
    let fl = |e: unseen_fl::FlError| JobError::caused(e.fault(), "", e);
    let lr = |e: lr::LrError| JobError::caused(e.fault(), "", e);
    match (model.meta.algorithm, model.meta.side) {
        (Algorithm::Secureboost, Side::Guest) => {
            let m = sb::GuestModel::from_bytes(&model.part).map_err(|e| bad(&e))?;
            let p = sb::run_guest_predict(ch, &m, &data.columns).map_err(fl)?;
            Ok(Some(p.scores))
        }
        (Algorithm::Secureboost, Side::Host) => {
            let m = sb::HostModel::from_bytes(&model.part).map_err(|e| bad(&e))?;
            sb::run_host_predict(ch, &m, &data.columns).map_err(fl)?;
            Ok(None)
        }
        (Algorithm::Lr, Side::Guest) => {
            let m = lr::LrGuestModel::from_bytes(&model.part).map_err(|e| bad(&e))?;
            let s = lr::run_predict_guest(ch, &m, &rows_of(&data.columns)).map_err(lr)?;
            Ok(Some(s))
        }
        (Algorithm::Lr, Side::Host) => {
            let m = lr::LrHostModel::from_bytes(&model.part).map_err(|e| bad(&e))?;
            lr::run_predict_host(ch, &m, &rows_of(&data.columns)).map_err(lr)?;
            Ok(None)
        }
    }
}

/// Feature importance of a guest's model part: its own features by name (total split gain for
/// SecureBoost, |weight| of the standardised feature for logistic regression), the partner's
/// by number only.
pub fn importance(model: &StoredModel) -> Result<Vec<unseen_report::FeatureImportance>, String> {
    use unseen_report::{FeatureImportance, FeatureLabel};
    let bad = |e: &dyn std::fmt::Display| format!("model {}: {e}", model.meta.model_id);
    let own = "this node".to_owned();
    let partner = model.meta.partner.clone();
    match model.meta.algorithm {
        Algorithm::Secureboost => {
            let m = sb::GuestModel::from_bytes(&model.part).map_err(|e| bad(&e))?;
            let imp = m.importance();
            let mut out: Vec<FeatureImportance> = imp
                .features
                .into_iter()
                .map(|(name, _, gain)| FeatureImportance {
                    party: own.clone(),
                    feature: FeatureLabel::Named(name),
                    importance: gain,
                })
                .collect();
            // The partner's features by index only (their names stay on its node).
            out.extend(
                imp.host_features
                    .into_iter()
                    .map(|(f, _, gain)| FeatureImportance {
                        party: partner.clone(),
                        feature: FeatureLabel::Opaque(u32::from(f) + 1),
                        importance: gain,
                    }),
            );
            Ok(out)
        }
        Algorithm::Lr => {
            let m = lr::LrGuestModel::from_bytes(&model.part).map_err(|e| bad(&e))?;
            Ok(model
                .meta
                .features
                .iter()
                .zip(&m.weights)
                .map(|(name, w)| FeatureImportance {
                    party: own.clone(),
                    feature: FeatureLabel::Named(name.clone()),
                    importance: w.abs(),
                })
                .collect())
        }
    }
}

/// Writes the scores: the key column (normalised keys) and `score` (the shortest decimal that
/// reads back as the same `f64`), one row per common row.
pub fn write_scores(
    out: &Path,
    dataset: &Dataset,
    data: &Aligned,
    scores: &[f64],
) -> Result<(), String> {
    if scores.len() != data.keys.len() {
        return Err(format!(
            "{} scores for {} rows (internal error)",
            scores.len(),
            data.keys.len()
        ));
    }
    let headers = vec![dataset.key_column.clone(), "score".to_owned()];
    let rows: Vec<[String; 2]> = data
        .keys
        .iter()
        .zip(scores)
        .map(|(k, s)| [k.clone(), format!("{s}")])
        .collect();
    unseen_data::write_csv_atomic(
        out,
        &headers,
        rows.iter().map(|r| r.iter().map(String::as_str)),
    )
    .map_err(|e| format!("writing the scores: {e}"))
}

/// Writes the model report (HTML) of scored, labelled rows; returns its headline metrics.
/// `importance`: this node's features by name, the partner's by number.
pub fn write_report(
    out: &Path,
    model: &StoredModel,
    dataset: &Dataset,
    data: &Aligned,
    scores: &[f64],
    threshold: f64,
    importance: Vec<unseen_report::FeatureImportance>,
) -> Result<serde_json::Value, String> {
    let labels = data
        .labels
        .as_deref()
        .ok_or_else(|| "no labels read for the report (internal error)".to_owned())?;
    let m = &model.meta;
    let mut meta = unseen_report::ModelMeta::new(
        m.model_id.to_string(),
        match m.algorithm {
            Algorithm::Secureboost => "SecureBoost (vertical, Cheng et al. 2021)",
            Algorithm::Lr => "logistic regression (vertical, homomorphic)",
        },
    );
    meta.date = utc_date(unseen_store::now_ms());
    meta.viewer = "this node (guest)".to_owned();
    meta.parties = vec![
        unseen_report::Party {
            name: "this node".to_owned(),
            role: format!(
                "guest: labels ({}) and {} features",
                m.label.as_deref().unwrap_or("?"),
                m.features.len()
            ),
        },
        unseen_report::Party {
            name: m.partner.clone(),
            role: "host: the partner's features (names not shared)".to_owned(),
        },
    ];
    meta.train_rows = m.rows as u64;
    meta.test_rows = scores.len() as u64;
    let mut hp = vec![
        (
            "training dataset".to_owned(),
            format!("{} (partner: {})", m.dataset, m.peer_dataset),
        ),
        ("holdout dataset".to_owned(), dataset.name.clone()),
    ];
    hp.extend(m.spec.describe());
    hp.push(("threshold".to_owned(), threshold.to_string()));
    meta.hyper_parameters = hp;
    let report = unseen_report::ModelReport::build(
        meta,
        scores,
        labels,
        model.train_scores.as_deref(),
        importance,
        threshold,
    )
    .map_err(|e| format!("the report: {e}"))?;
    let html = unseen_report::html::render(&report);
    unseen_data::write_lines_atomic(out, std::iter::once(html))
        .map_err(|e| format!("writing the report: {e}"))?;
    let mt = &report.metrics;
    Ok(serde_json::json!({
        "rows": mt.n,
        "bads": mt.bads,
        "auc": mt.auc,
        "ks": mt.ks.ks,
        "gini": mt.gini,
        "psi": mt.psi.as_ref().map(|p| p.value),
    }))
}

/// `YYYY-MM-DD` (UTC) of a time in ms since the Unix epoch (civil-from-days, Hinnant).
fn utc_date(ms: i64) -> String {
    let z = ms.div_euclid(86_400_000) + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02}")
}
