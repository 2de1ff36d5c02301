//! The `train` job kind (联合建模): the rows are aligned by PSI (both nodes learn which of their
//! rows are common), then the initiator (guest: labels and its features) and the responder
//! (host: its features) train one model; each keeps its own part under `DIR/models/MODEL_ID/`
//! once both confirmed (docs/protocols/secureboost.md, logistic-regression.md).

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use unseen_channel::Channel;
use unseen_crypto::he::{HeSecretKey, OuPublicKey, OuSecretKey};
use unseen_fl::{ModelId, lr, secureboost as sb};
use unseen_store::Dataset;

use super::{Admission, Ctx, Kind, Produced, Receivers, Refusal};
use crate::align::{self, Aligned, Columns};
use crate::fl_job::{self, ModelMeta, Side};
use crate::job_error::JobError;
use crate::node::Node;

/// Bounds a partner's training proposal must respect (a node never trains a 10^9-tree model
/// because a partner asked).
pub const MAX_TREES: u32 = 1000;
/// Most epochs of logistic regression a proposal may ask for.
pub const MAX_EPOCHS: u32 = 1000;
/// Deepest tree a proposal may ask for.
pub const MAX_DEPTH: u32 = 12;
/// Most bins per feature a proposal may ask for (bin indexes are one byte).
pub const MAX_BINS: u32 = 256;
/// The lowest `rows` minimum a request may set.
pub const MIN_TRAIN_ROWS: u32 = 2;

/// A training job's parameters: the algorithm and its own parameters
/// (`{"kind": "train", "algorithm": "secureboost", "trees": …}`).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "algorithm", rename_all = "lowercase")]
pub enum TrainSpec {
    /// Vertical SecureBoost (gradient-boosted trees).
    Secureboost(SecureBoostSpec),
    /// Vertical logistic regression.
    Lr(LrSpec),
}

/// SecureBoost's parameters.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SecureBoostSpec {
    /// Trees.
    pub trees: u32,
    /// Maximum depth.
    pub depth: u32,
    /// Bins per feature.
    pub bins: u32,
    /// Learning rate.
    pub learning_rate: f64,
    /// The two datasets are already aligned (same keys in the same order, e.g. the outputs of
    /// an earlier PSI job): no PSI; the nodes only compare the row count and an SM3 digest of
    /// their key columns, and refuse to go on if they differ.
    #[serde(default)]
    pub aligned: bool,
    /// Regularisation and sampling (defaults when absent).
    #[serde(default)]
    pub tuning: Tuning,
    /// The smallest training set either node accepts (defaults when absent).
    #[serde(default)]
    pub minimums: Minimums,
}

/// Logistic regression's parameters.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LrSpec {
    /// Epochs.
    pub epochs: u32,
    /// Learning rate.
    pub learning_rate: f64,
    /// As for SecureBoost: the datasets are already aligned.
    #[serde(default)]
    pub aligned: bool,
    /// The smallest training set either node accepts (defaults when absent).
    #[serde(default)]
    pub minimums: Minimums,
}

impl TrainSpec {
    /// The algorithm.
    pub fn algorithm(&self) -> Algorithm {
        match self {
            Self::Secureboost(_) => Algorithm::Secureboost,
            Self::Lr(_) => Algorithm::Lr,
        }
    }

    /// Whether the datasets are taken as already aligned (no PSI).
    pub fn aligned(&self) -> bool {
        match self {
            Self::Secureboost(s) => s.aligned,
            Self::Lr(s) => s.aligned,
        }
    }

    /// The training minimums.
    pub fn minimums(&self) -> Minimums {
        match self {
            Self::Secureboost(s) => s.minimums,
            Self::Lr(s) => s.minimums,
        }
    }

    /// Checks every range (a partner's proposal and this node's own request alike).
    ///
    /// # Errors
    ///
    /// A message naming the first value out of range.
    pub fn check(&self) -> Result<(), String> {
        match self {
            Self::Secureboost(s) => {
                if !(1..=MAX_TREES).contains(&s.trees) {
                    return Err(format!("{} trees: must be 1..={MAX_TREES}", s.trees));
                }
                if !(1..=MAX_DEPTH).contains(&s.depth) {
                    return Err(format!("depth {}: must be 1..={MAX_DEPTH}", s.depth));
                }
                if !(2..=MAX_BINS).contains(&s.bins) {
                    return Err(format!("{} bins: must be 2..={MAX_BINS}", s.bins));
                }
                check_rate(s.learning_rate)?;
                s.tuning.check()?;
                s.minimums.check()
            }
            Self::Lr(s) => {
                if !(1..=MAX_EPOCHS).contains(&s.epochs) {
                    return Err(format!("{} epochs: must be 1..={MAX_EPOCHS}", s.epochs));
                }
                check_rate(s.learning_rate)?;
                s.minimums.check()
            }
        }
    }

    /// The parameters a model report lists.
    pub fn describe(&self) -> Vec<(String, String)> {
        match self {
            Self::Secureboost(s) => vec![
                ("trees".into(), s.trees.to_string()),
                ("max depth".into(), s.depth.to_string()),
                ("bins".into(), s.bins.to_string()),
                ("learning rate".into(), s.learning_rate.to_string()),
            ],
            Self::Lr(s) => vec![
                ("epochs".into(), s.epochs.to_string()),
                ("learning rate".into(), s.learning_rate.to_string()),
            ],
        }
    }
}

fn check_rate(learning_rate: f64) -> Result<(), String> {
    if learning_rate.is_finite() && learning_rate > 0.0 && learning_rate <= 1.0 {
        Ok(())
    } else {
        Err(format!("learning rate {learning_rate}: must be in (0, 1]"))
    }
}

/// A joint-modeling algorithm.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Algorithm {
    /// Vertical SecureBoost (gradient-boosted trees).
    Secureboost,
    /// Vertical logistic regression.
    Lr,
}

impl Algorithm {
    /// The name used in flags and JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Secureboost => "secureboost",
            Self::Lr => "lr",
        }
    }
}

/// SecureBoost's regularisation and sampling, as XGBoost names them. Both nodes check them;
/// the host samples its own features with `col_sample`.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Tuning {
    /// L2 regularisation of leaf weights (`lambda`, ≥ 0).
    pub lambda: f64,
    /// Smallest hessian sum of a child (≥ 0).
    pub min_child_weight: f64,
    /// Smallest gain of a split (`gamma`, ≥ 0).
    pub gamma: f64,
    /// Fraction of rows per tree, in (0, 1].
    pub row_sample: f64,
    /// Fraction of each party's features per tree, in (0, 1].
    pub col_sample: f64,
}

impl Default for Tuning {
    fn default() -> Self {
        Self {
            lambda: 1.0,
            min_child_weight: 1.0,
            gamma: 0.0,
            row_sample: 1.0,
            col_sample: 1.0,
        }
    }
}

impl Tuning {
    /// Checks the ranges.
    ///
    /// # Errors
    ///
    /// A message naming the first value out of range.
    pub fn check(&self) -> Result<(), String> {
        for (name, v) in [
            ("lambda", self.lambda),
            ("min child weight", self.min_child_weight),
            ("gamma", self.gamma),
        ] {
            if !(v.is_finite() && v >= 0.0) {
                return Err(format!("{name} {v}: must be a finite number ≥ 0"));
            }
        }
        for (name, v) in [
            ("row sample", self.row_sample),
            ("column sample", self.col_sample),
        ] {
            if !(v.is_finite() && v > 0.0 && v <= 1.0) {
                return Err(format!("{name} {v}: must be in (0, 1]"));
            }
        }
        Ok(())
    }
}

/// The smallest training set a node accepts: a model trained on one row, or on a label of one
/// class, predicts nothing and must not be served. Both nodes check the rows (before and after
/// the alignment); the guest also the rows of each class.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Minimums {
    /// Fewest rows (common rows, after the alignment), at least [`MIN_TRAIN_ROWS`].
    pub rows: u32,
    /// Fewest rows of each label class on the guest, at least 1.
    pub per_class: u32,
}

impl Default for Minimums {
    fn default() -> Self {
        Self {
            rows: 10,
            per_class: 2,
        }
    }
}

impl Minimums {
    /// Checks the floors (a request cannot switch the check off).
    ///
    /// # Errors
    ///
    /// A message naming the value out of range.
    pub fn check(&self) -> Result<(), String> {
        if self.rows < MIN_TRAIN_ROWS {
            return Err(format!(
                "minimum rows {}: must be at least {MIN_TRAIN_ROWS}",
                self.rows
            ));
        }
        if self.per_class < 1 {
            return Err("minimum rows per class 0: must be at least 1".into());
        }
        Ok(())
    }
}

/// `serde(with)` for the training spec recorded in a model part's `meta.json`: written as the
/// job's spec (`{"kind": "train", …}`); read also in the shape of unseen before 0.15, where
/// logistic regression's epochs were `trees` beside unused tree parameters.
pub mod recorded {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};
    use serde_json::Value;

    use super::TrainSpec;
    use crate::kinds::JobSpec;

    /// Writes the spec as a job spec.
    pub fn serialize<S: Serializer>(spec: &TrainSpec, s: S) -> Result<S::Ok, S::Error> {
        JobSpec::from(*spec).serialize(s)
    }

    /// Reads a job spec of kind `train`, in the current or the earlier shape.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<TrainSpec, D::Error> {
        let mut v = Value::deserialize(d)?;
        let Some(o) = v.as_object_mut() else {
            return Err(serde::de::Error::custom("a model's spec is not an object"));
        };
        if o.remove("kind")
            .and_then(|k| k.as_str().map(str::to_owned))
            .as_deref()
            != Some("train")
        {
            return Err(serde::de::Error::custom(
                "a model's spec is not of kind train",
            ));
        }
        if o.get("algorithm").and_then(Value::as_str) == Some("lr") && o.contains_key("trees") {
            // The earlier shape: epochs were `trees`; depth, bins and tuning were ignored.
            let epochs = o.remove("trees").unwrap_or(Value::Null);
            o.insert("epochs".into(), epochs);
            for unused in ["depth", "bins", "tuning"] {
                o.remove(unused);
            }
        }
        serde_json::from_value(v).map_err(serde::de::Error::custom)
    }
}

/// The `train` kind.
pub struct Train;

/// What a node brings to training: its dataset and, on the guest, the label column.
pub struct TrainPart {
    /// The dataset (features, and the label on the guest).
    pub dataset: Dataset,
    /// The label column (the guest only).
    pub label: Option<String>,
}

/// What one side of a training job produced.
#[derive(Serialize)]
pub struct TrainResult {
    /// The model (both parts share its id).
    #[serde(with = "super::model_id_hex")]
    pub model_id: ModelId,
    /// Rows of this node's dataset.
    pub items: usize,
    /// Common rows trained on.
    pub common_rows: usize,
    /// This node's features.
    pub features: usize,
    /// Trees built (SecureBoost, guest) or epochs run (logistic regression).
    pub iterations: u32,
    /// The model part, saved once both nodes confirmed the run.
    #[serde(skip)]
    part: Option<NewModel>,
}

/// A trained model part, saved only after both nodes confirmed the run.
struct NewModel {
    meta: ModelMeta,
    part: Vec<u8>,
    train_scores: Option<Vec<f64>>,
}

impl Kind for Train {
    type Spec = TrainSpec;
    type Part = TrainPart;
    type Output = TrainResult;
    const NAME: &'static str = "train";

    fn check(spec: &TrainSpec) -> Result<(), String> {
        spec.check()
    }

    fn receivers(_: &TrainSpec) -> Receivers {
        // Alignment by PSI in mode `both`.
        Receivers {
            initiator: true,
            responder: true,
        }
    }

    fn aligns(spec: &TrainSpec) -> bool {
        !spec.aligned()
    }

    fn admit(a: Admission<'_>, _: &TrainSpec) -> Result<TrainPart, Refusal> {
        Ok(TrainPart {
            dataset: a.dataset,
            label: None,
        })
    }

    fn dataset(part: &TrainPart) -> Option<&Dataset> {
        Some(&part.dataset)
    }

    fn run<C: Channel>(
        ctx: &mut Ctx<'_, C>,
        spec: &TrainSpec,
        part: &TrainPart,
    ) -> Result<Produced<TrainResult>, JobError> {
        let guest = part.label.is_some();
        let columns = Columns::AllBut {
            label: part.label.clone(),
        };
        let data = align::align(
            ctx,
            &part.dataset,
            &columns,
            spec.aligned(),
            Some(spec.minimums()),
        )?;
        let partner = ctx.partner;
        let trained =
            train(ctx.ch, spec, &data).map_err(|e| e.context(format!("partner {partner}")))?;
        let meta = ModelMeta {
            model_id: trained.model_id,
            algorithm: spec.algorithm(),
            side: if guest { Side::Guest } else { Side::Host },
            partner: partner.to_owned(),
            dataset: part.dataset.name.clone(),
            peer_dataset: ctx.job.peer_dataset.clone(),
            job_id: ctx.job.id.clone(),
            created_ms: unseen_store::now_ms(),
            features: data.names.clone(),
            label: part.label.clone(),
            rows: data.keys.len(),
            spec: *spec,
            part_sm3: fl_job::sm3_hex(&trained.part),
        };
        Ok(Produced {
            wrote: false,
            output: TrainResult {
                model_id: trained.model_id,
                items: data.rows,
                common_rows: data.keys.len(),
                features: data.names.len(),
                iterations: trained.rounds,
                part: Some(NewModel {
                    meta,
                    part: trained.part,
                    train_scores: trained.train_scores,
                }),
            },
        })
    }

    fn commit(node: &Node, out: &TrainResult) -> Result<(), JobError> {
        if let Some(m) = &out.part {
            fl_job::save_model(&node.dir, &m.meta, &m.part, m.train_scores.as_deref())
                .map_err(|e| JobError::internal(format!("cannot save the model part: {e}")))?;
        }
        Ok(())
    }

    fn audit(out: &TrainResult) -> Vec<(&'static str, Value)> {
        // Which model, on how many common rows (never which rows).
        vec![
            ("model_id", out.model_id.to_string().into()),
            ("common_rows", out.common_rows.into()),
        ]
    }

    fn rerun(
        _: &Arc<Node>,
        job: &unseen_store::Job,
        _: &TrainSpec,
    ) -> Result<(TrainPart, Option<u64>), crate::NodeError> {
        Err(crate::NodeError::Conflict(format!(
            "job {} is a joint-modeling job; run `unseen train` again",
            job.id
        )))
    }
}

/// What training produced on one side.
struct Trained {
    model_id: ModelId,
    part: Vec<u8>,
    train_scores: Option<Vec<f64>>,
    rounds: u32,
}

/// The key size of the homomorphic schemes the jobs use.
pub const HE_MODULUS_BITS: u32 = 2048;

fn he_key() -> Result<OuSecretKey, JobError> {
    OuSecretKey::generate(HE_MODULUS_BITS)
        .map_err(|e| JobError::internal(format!("generating the homomorphic key pair: {e}")))
}

fn fl_err(e: unseen_fl::FlError) -> JobError {
    JobError::caused(e.fault(), "", e)
}

fn lr_err(e: lr::LrError) -> JobError {
    JobError::caused(e.fault(), "", e)
}

/// Runs one side of the training protocol on aligned data (the guest holds the labels).
fn train<C: Channel>(ch: &mut C, spec: &TrainSpec, data: &Aligned) -> Result<Trained, JobError> {
    match (spec, data.labels.as_ref()) {
        (TrainSpec::Secureboost(s), Some(labels)) => {
            let params = sb::TreeParams {
                trees: s.trees,
                max_depth: u8::try_from(s.depth).map_err(|e| JobError::input(e.to_string()))?,
                learning_rate: s.learning_rate,
                lambda: s.tuning.lambda,
                min_child_weight: s.tuning.min_child_weight,
                gamma: s.tuning.gamma,
                row_sample: s.tuning.row_sample,
                col_sample: s.tuning.col_sample,
                ..sb::TreeParams::default()
            };
            let cfg = sb::GuestConfig::new(
                &data.columns,
                labels.clone(),
                None,
                s.bins as usize,
                data.names.clone(),
                params,
            )
            .map_err(|e| JobError::input(e.to_string()))?;
            let out = sb::run_guest(ch, &he_key()?, &cfg).map_err(fl_err)?;
            let rounds = u32::try_from(out.model.trees.len()).unwrap_or(u32::MAX);
            Ok(Trained {
                model_id: ModelId(out.model.model_id),
                part: out.model.to_bytes(),
                train_scores: out.train_scores,
                rounds,
            })
        }
        (TrainSpec::Secureboost(s), None) => {
            let cfg = sb::HostConfig::new(
                &data.columns,
                &[],
                s.bins as usize,
                data.names.clone(),
                sb::ColSample {
                    rate: s.tuning.col_sample,
                    ..sb::ColSample::default()
                },
            )
            .map_err(|e| JobError::input(e.to_string()))?;
            let out = sb::run_host::<OuPublicKey, C>(ch, &cfg).map_err(fl_err)?;
            Ok(Trained {
                model_id: ModelId(out.model.model_id),
                part: out.model.to_bytes(),
                train_scores: None,
                rounds: 0,
            })
        }
        (TrainSpec::Lr(s), labels) => {
            let config = lr::LrConfig {
                learning_rate: s.learning_rate,
                epochs: s.epochs,
                ..lr::LrConfig::default()
            };
            // OU: about 6× faster than Paillier here, the same weights (docs/protocols/logistic-regression.md).
            let sk = he_key()?;
            let mut rng = super::psi::os_rng().map_err(JobError::internal)?;
            let rows = fl_job::rows_of(&data.columns);
            match labels {
                Some(l) => {
                    let y: Vec<bool> = l.iter().map(|&v| v == 1).collect();
                    let out =
                        lr::run_guest(ch, config, &rows, &y, &sk, &mut rng).map_err(lr_err)?;
                    // The training scores need the host's partial scores: not kept (the
                    // report then shows no population stability).
                    Ok(Trained {
                        model_id: out.model.model_id,
                        part: out.model.to_bytes(),
                        train_scores: None,
                        rounds: out.report.epochs,
                    })
                }
                None => {
                    let out = lr::run_host(ch, config, &rows, &sk, &mut rng).map_err(lr_err)?;
                    Ok(Trained {
                        model_id: out.model.model_id,
                        part: out.model.to_bytes(),
                        train_scores: None,
                        rounds: out.report.epochs,
                    })
                }
            }
        }
    }
}

/// A training request's spec from the request's fields, with the defaults (100 trees or
/// epochs, depth 5, 32 bins, learning rate 0.1), refusing parameters of the other algorithm.
pub fn spec_for(r: &crate::jobs::SubmitRequest) -> Result<TrainSpec, String> {
    let minimums = Minimums {
        rows: r.min_rows.unwrap_or(Minimums::default().rows),
        per_class: r.min_class_rows.unwrap_or(Minimums::default().per_class),
    };
    let spec = match r.algorithm.unwrap_or(Algorithm::Secureboost) {
        Algorithm::Secureboost => {
            if r.epochs.is_some() {
                return Err(
                    "--epochs is for logistic regression; SecureBoost takes --trees".into(),
                );
            }
            TrainSpec::Secureboost(SecureBoostSpec {
                trees: r.trees.unwrap_or(100),
                depth: r.depth.unwrap_or(5),
                bins: r.bins.unwrap_or(32),
                learning_rate: r.learning_rate.unwrap_or(0.1),
                aligned: r.aligned,
                tuning: r.tuning.unwrap_or_default(),
                minimums,
            })
        }
        Algorithm::Lr => {
            let tree_flags: Vec<&str> = [
                ("--trees", r.trees.is_some()),
                ("--depth", r.depth.is_some()),
                ("--bins", r.bins.is_some()),
                ("tuning (--lambda, --gamma, …)", r.tuning.is_some()),
            ]
            .into_iter()
            .filter(|(_, given)| *given)
            .map(|(name, _)| name)
            .collect();
            if !tree_flags.is_empty() {
                return Err(format!(
                    "{} {} SecureBoost's; logistic regression takes --epochs and \
                     --learning-rate",
                    tree_flags.join(", "),
                    if tree_flags.len() == 1 { "is" } else { "are" }
                ));
            }
            TrainSpec::Lr(LrSpec {
                epochs: r.epochs.unwrap_or(100),
                learning_rate: r.learning_rate.unwrap_or(0.1),
                aligned: r.aligned,
                minimums,
            })
        }
    };
    spec.check()?;
    Ok(spec)
}

/// The part this node brings as the guest of a training job it submits.
pub fn guest_part(dataset: Dataset, label: Option<&str>) -> Result<TrainPart, String> {
    match label {
        Some(l) if !l.trim().is_empty() => Ok(TrainPart {
            dataset,
            label: Some(l.to_owned()),
        }),
        _ => Err("a train job needs the label column of this node's dataset (--label)".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specs_keep_the_wire_shape_and_lr_has_epochs() {
        let sb: crate::kinds::JobSpec = serde_json::from_str(
            r#"{"kind":"train","algorithm":"secureboost","trees":3,"depth":3,"bins":8,"learning_rate":0.3}"#,
        )
        .unwrap();
        let crate::kinds::JobSpec::Train(TrainSpec::Secureboost(s)) = &sb else {
            panic!("a secureboost spec: {sb:?}")
        };
        assert_eq!((s.trees, s.tuning), (3, Tuning::default()));
        let lr =
            serde_json::json!({"kind":"train","algorithm":"lr","epochs":7,"learning_rate":0.5});
        let spec: crate::kinds::JobSpec = serde_json::from_value(lr.clone()).unwrap();
        let mut back = serde_json::to_value(&spec).unwrap();
        back.as_object_mut()
            .unwrap()
            .retain(|k, _| lr.get(k).is_some());
        assert_eq!(back, lr);
        // LR refuses tree parameters on the wire.
        assert!(
            serde_json::from_str::<crate::kinds::JobSpec>(
                r#"{"kind":"train","algorithm":"lr","epochs":7,"learning_rate":0.5,"depth":3}"#
            )
            .is_err()
        );
        // Unknown tuning fields are refused, not ignored.
        assert!(
            serde_json::from_str::<crate::kinds::JobSpec>(
                r#"{"kind":"train","algorithm":"secureboost","trees":3,"depth":3,"bins":8,"learning_rate":0.3,"tuning":{"eta":1}}"#
            )
            .is_err()
        );
    }

    #[test]
    fn a_model_recorded_before_epochs_still_reads() {
        #[derive(Deserialize)]
        struct M {
            #[serde(with = "recorded")]
            spec: TrainSpec,
        }
        let old = r#"{"spec":{"kind":"train","algorithm":"lr","trees":5,"depth":5,"bins":32,"learning_rate":0.1,"aligned":false,"tuning":{"lambda":1.0,"min_child_weight":1.0,"gamma":0.0,"row_sample":1.0,"col_sample":1.0},"minimums":{"rows":10,"per_class":2}}}"#;
        let m: M = serde_json::from_str(old).unwrap();
        assert_eq!(
            m.spec,
            TrainSpec::Lr(LrSpec {
                epochs: 5,
                learning_rate: 0.1,
                aligned: false,
                minimums: Minimums::default()
            })
        );
    }

    #[test]
    fn ranges_are_checked() {
        for (bad, why) in [
            (r#""row_sample":0"#, "row sample 0"),
            (r#""col_sample":1.5"#, "column sample 1.5"),
            (r#""lambda":-1"#, "lambda -1"),
        ] {
            let spec: TrainSpec = serde_json::from_str(&format!(
                r#"{{"algorithm":"secureboost","trees":3,"depth":3,"bins":8,"learning_rate":0.3,"tuning":{{{bad}}}}}"#
            ))
            .unwrap();
            let e = spec.check().unwrap_err();
            assert!(e.contains(why), "{e}");
        }
        let lr = TrainSpec::Lr(LrSpec {
            epochs: 0,
            learning_rate: 0.1,
            aligned: false,
            minimums: Minimums::default(),
        });
        assert!(lr.check().unwrap_err().contains("0 epochs"));
    }
}
