//! The report's input (model metadata, feature importance) and its computed content.

use crate::ReportError;
use crate::metrics::{self, KsPoint, Metrics, RocPoint, ScoreHistogram};

/// Points kept on the ROC and KS curves for plotting.
pub const MAX_CURVE_POINTS: usize = 500;
/// Bins of the score histogram.
pub const HISTOGRAM_BINS: usize = 20;

/// A party of the joint model.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Party {
    /// Display name (e.g. "Bank A").
    pub name: String,
    /// Role in the model (e.g. "label holder", "feature provider").
    pub role: String,
}

/// Who built the model, how and on how much data. Free text is escaped when rendered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelMeta {
    /// Model identifier.
    pub model_id: String,
    /// Algorithm (e.g. "SecureBoost", "hetero logistic regression").
    pub algorithm: String,
    /// Report date as the caller wants it shown (e.g. "2026-12-04").
    pub date: String,
    /// The party this report is rendered for (its own features are shown by name).
    pub viewer: String,
    /// Parties of the model.
    pub parties: Vec<Party>,
    /// Training rows.
    pub train_rows: u64,
    /// Test (holdout) rows.
    pub test_rows: u64,
    /// Hyper-parameters as (name, value) pairs, in display order.
    pub hyper_parameters: Vec<(String, String)>,
}

impl ModelMeta {
    /// Metadata with an id and an algorithm; every other field empty or zero.
    pub fn new(model_id: impl Into<String>, algorithm: impl Into<String>) -> Self {
        Self {
            model_id: model_id.into(),
            algorithm: algorithm.into(),
            date: String::new(),
            viewer: String::new(),
            parties: Vec::new(),
            train_rows: 0,
            test_rows: 0,
            hyper_parameters: Vec::new(),
        }
    }
}

/// A feature's name as the viewing party may see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FeatureLabel {
    /// One of the viewer's own features: its real name (e.g. a CSV header).
    Named(String),
    /// A partner's feature: only its index is shown ("partner feature #3").
    Opaque(u32),
}

/// The importance of one feature of one party.
#[derive(Debug, Clone, PartialEq)]
pub struct FeatureImportance {
    /// The party holding the feature (matches a [`Party::name`]).
    pub party: String,
    /// The feature's label as the viewer may see it.
    pub feature: FeatureLabel,
    /// Importance (e.g. total split gain, |coefficient|); shown as given and as a share of the
    /// party's total.
    pub importance: f64,
}

/// Everything one report page shows: metadata, metrics, plot curves and feature importance.
///
/// It holds aggregates only, never the scores or labels it was built from.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelReport {
    /// Model metadata.
    pub meta: ModelMeta,
    /// Metrics on the test set.
    pub metrics: Metrics,
    /// ROC curve (at most [`MAX_CURVE_POINTS`] points).
    pub roc: Vec<RocPoint>,
    /// KS curve (at most [`MAX_CURVE_POINTS`] points).
    pub ks_curve: Vec<KsPoint>,
    /// Test score distribution by class.
    pub histogram: ScoreHistogram,
    /// Feature importance, grouped by party when rendered.
    pub importance: Vec<FeatureImportance>,
}

impl ModelReport {
    /// Computes every metric and curve of the report.
    ///
    /// `threshold`: rows with `score >= threshold` are predicted bad in the confusion matrix.
    /// `train_scores`: when given, PSI compares the test scores against them.
    pub fn build(
        meta: ModelMeta,
        test_scores: &[f64],
        test_labels: &[u8],
        train_scores: Option<&[f64]>,
        importance: Vec<FeatureImportance>,
        threshold: f64,
    ) -> Result<Self, ReportError> {
        let c = metrics::compute_all(
            test_scores,
            test_labels,
            train_scores,
            threshold,
            MAX_CURVE_POINTS,
        )?;
        let histogram = metrics::score_histogram(test_scores, test_labels, HISTOGRAM_BINS)?;
        Ok(Self {
            meta,
            metrics: c.metrics,
            roc: c.roc,
            ks_curve: c.ks_curve,
            histogram,
            importance,
        })
    }
}
