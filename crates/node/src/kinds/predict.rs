//! The `predict` job kind: federated prediction with a trained model. The rows are aligned by
//! PSI (or checked aligned by digest), then each node evaluates its own part of the model;
//! only the initiator (the model's guest) gets the scores, or the model report.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use unseen_channel::Channel;
use unseen_fl::ModelId;
use unseen_store::Dataset;

use super::{Admission, Ctx, Kind, Produced, Receivers, Refusal};
use crate::align::{self, Columns};
use crate::fl_job::{self, Side, StoredModel};
use crate::job_error::JobError;
use crate::node::Node;

/// A prediction's parameters.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PredictSpec {
    /// The model, which both nodes hold a part of.
    #[serde(with = "super::model_id_hex")]
    pub model: ModelId,
    /// The datasets are already aligned, checked by digest instead of PSI.
    #[serde(default)]
    pub aligned: bool,
}

/// The `predict` kind.
pub struct Predict;

/// What the guest of a prediction brings: its model part, its dataset, the output.
pub struct PredictInput {
    /// The guest part of the model.
    pub model: StoredModel,
    /// The dataset to score (the model's guest features by name; the label for a report).
    pub dataset: Dataset,
    /// Where the scores (CSV) or the report (HTML) go.
    pub output: PathBuf,
    /// `Some(threshold)`: write the model report for this classification threshold instead of
    /// the scores (the dataset must hold the model's label column).
    pub report: Option<f64>,
    /// The dataset and the partner's are already aligned (no PSI; checked by digest).
    pub aligned: bool,
}

/// What a node brings to a prediction.
pub enum PredictPart {
    /// The guest (initiator).
    Guest(Box<PredictInput>),
    /// The host (responder): its dataset and its part of the model.
    Host {
        /// The dataset (the model's features by name).
        dataset: Dataset,
        /// The host part.
        model: Box<StoredModel>,
    },
}

/// What one side of a prediction produced.
#[derive(Debug, Serialize)]
pub struct PredictResult {
    /// The model.
    #[serde(with = "super::model_id_hex")]
    pub model_id: ModelId,
    /// Rows of this node's dataset.
    pub items: usize,
    /// Common rows scored.
    pub common_rows: usize,
    /// The report's headline metrics (a report only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub report: Option<Value>,
}

impl Kind for Predict {
    type Spec = PredictSpec;
    type Part = PredictPart;
    type Output = PredictResult;
    const NAME: &'static str = "predict";

    fn check(_: &PredictSpec) -> Result<(), String> {
        Ok(())
    }

    fn receivers(_: &PredictSpec) -> Receivers {
        // Alignment by PSI in mode `both`.
        Receivers {
            initiator: true,
            responder: true,
        }
    }

    fn aligns(spec: &PredictSpec) -> bool {
        !spec.aligned
    }

    fn admit(a: Admission<'_>, spec: &PredictSpec) -> Result<PredictPart, Refusal> {
        let model = spec.model;
        let stored = host_part(a.node, &a.partner.name, model)?;
        Ok(PredictPart::Host {
            dataset: a.dataset,
            model: Box::new(stored),
        })
    }

    fn dataset(part: &PredictPart) -> Option<&Dataset> {
        match part {
            PredictPart::Guest(p) => Some(&p.dataset),
            PredictPart::Host { dataset, .. } => Some(dataset),
        }
    }

    fn output(part: &PredictPart) -> Option<&Path> {
        match part {
            PredictPart::Guest(p) => Some(&p.output),
            PredictPart::Host { .. } => None,
        }
    }

    fn run<C: Channel>(
        ctx: &mut Ctx<'_, C>,
        spec: &PredictSpec,
        part: &PredictPart,
    ) -> Result<Produced<PredictResult>, JobError> {
        match (part, ctx.initiator) {
            (PredictPart::Guest(p), true) => guest(ctx, p),
            (PredictPart::Host { dataset, model }, false) => {
                host(ctx, dataset, model, spec.aligned)
            }
            _ => Err(JobError::internal(
                "a prediction's part does not match this node's role; please report",
            )),
        }
    }

    fn audit(out: &PredictResult) -> Vec<(&'static str, Value)> {
        vec![
            ("model_id", out.model_id.to_string().into()),
            ("common_rows", out.common_rows.into()),
        ]
    }

    fn rerun(
        _: &Arc<Node>,
        job: &unseen_store::Job,
        _: &PredictSpec,
    ) -> Result<(PredictPart, Option<u64>), crate::NodeError> {
        Err(crate::NodeError::Conflict(format!(
            "job {} is a joint-modeling job; run `unseen predict` or `unseen report` again",
            job.id
        )))
    }
}

/// This node's host part of `model`, trained with `partner` (a refusal names only the model).
pub(crate) fn host_part(
    node: &Node,
    partner: &str,
    model: ModelId,
) -> Result<StoredModel, Refusal> {
    let stored = match fl_job::load_model(&node.dir, model) {
        Ok(m) => m,
        Err(e) => {
            tracing::warn!(model = %model, error = %e, "cannot load a model part");
            return Err(Refusal::config(format!(
                "model {model} cannot be used on the partner's node"
            )));
        }
    };
    if stored.meta.side != Side::Host || stored.meta.partner != partner {
        return Err(Refusal::config(format!(
            "model {model} was not trained with partner {partner:?}"
        )));
    }
    Ok(stored)
}

/// The guest of a prediction: aligns, scores, writes the scores or the report.
fn guest<C: Channel>(
    ctx: &mut Ctx<'_, C>,
    p: &PredictInput,
) -> Result<Produced<PredictResult>, JobError> {
    let label = match p.report {
        Some(_) => Some(p.model.meta.label.clone().ok_or_else(|| {
            JobError::input("the model part records no label column; cannot report")
        })?),
        None => None,
    };
    let columns = Columns::Named {
        features: p.model.meta.features.clone(),
        label,
    };
    let data = align::align(ctx, &p.dataset, &columns, p.aligned, None)?;
    let partner = ctx.partner;
    let scores = fl_job::predict(ctx.ch, &p.model, &data)
        .map_err(|e| e.context(format!("partner {partner}")))?
        .unwrap_or_default();
    let report = match p.report {
        None => {
            fl_job::write_scores(ctx.pending, &p.dataset, &data, &scores)
                .map_err(JobError::internal)?;
            None
        }
        Some(threshold) => {
            let importance = fl_job::importance(&p.model).map_err(JobError::config)?;
            Some(
                fl_job::write_report(
                    ctx.pending,
                    &p.model,
                    &p.dataset,
                    &data,
                    &scores,
                    threshold,
                    importance,
                )
                .map_err(JobError::input)?,
            )
        }
    };
    ctx.set_progress(scores.len() as u64, scores.len() as u64);
    Ok(Produced {
        wrote: true,
        output: PredictResult {
            model_id: p.model.meta.model_id,
            items: data.rows,
            common_rows: data.keys.len(),
            report,
        },
    })
}

/// The host of a prediction: aligns, evaluates its part of the model for the guest.
fn host<C: Channel>(
    ctx: &mut Ctx<'_, C>,
    dataset: &Dataset,
    model: &StoredModel,
    aligned: bool,
) -> Result<Produced<PredictResult>, JobError> {
    let columns = Columns::Named {
        features: model.meta.features.clone(),
        label: None,
    };
    let data = align::align(ctx, dataset, &columns, aligned, None)?;
    let partner = ctx.partner;
    fl_job::predict(ctx.ch, model, &data).map_err(|e| e.context(format!("partner {partner}")))?;
    Ok(Produced {
        wrote: false,
        output: PredictResult {
            model_id: model.meta.model_id,
            items: data.rows,
            common_rows: data.keys.len(),
            report: None,
        },
    })
}
