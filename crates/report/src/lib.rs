//! Model and decision reports: binary-classification metrics (AUC, KS, Gini, confusion matrix,
//! lift/gain by decile, population stability) and ROC/KS plots assembled into one self-contained
//! HTML file.
//!
//! ```
//! use unseen_report::{ModelMeta, ModelReport, html};
//! let scores = [0.9, 0.8, 0.7, 0.3, 0.2, 0.1];
//! let labels = [1, 1, 0, 1, 0, 0];
//! let meta = ModelMeta::new("m-1", "logistic regression");
//! let report = ModelReport::build(meta, &scores, &labels, None, Vec::new(), 0.5)?;
//! assert!((report.metrics.auc - 8.0 / 9.0).abs() < 1e-12);
//! let page = html::render(&report);
//! assert!(page.contains("<svg"));
//! # Ok::<(), unseen_report::ReportError>(())
//! ```

mod error;
pub mod html;
pub mod metrics;
mod model;
pub mod plot;

pub use error::ReportError;
pub use model::{
    FeatureImportance, FeatureLabel, HISTOGRAM_BINS, MAX_CURVE_POINTS, ModelMeta, ModelReport,
    Party,
};
