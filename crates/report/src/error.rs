//! The crate's one error type.

/// Why a report or a metric could not be computed.
///
/// Every variant is the caller's input fault except [`ReportError::Plot`], which would mean the
/// in-memory SVG backend failed (an internal error: please report).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum ReportError {
    /// An input slice is empty.
    #[error("{what} is empty")]
    Empty {
        /// Which input ("scores", "labels", "training scores").
        what: &'static str,
    },
    /// Scores and labels have different lengths.
    #[error("{scores} scores but {labels} labels")]
    LengthMismatch {
        /// Number of scores.
        scores: usize,
        /// Number of labels.
        labels: usize,
    },
    /// A label is neither 0 (good) nor 1 (bad).
    #[error("label {value} at row {index} is neither 0 (good) nor 1 (bad)")]
    InvalidLabel {
        /// Row (0-based).
        index: usize,
        /// The offending value.
        value: u8,
    },
    /// A score is NaN or infinite.
    #[error("{what}: score at row {index} is not a finite number")]
    NonFiniteScore {
        /// Which input ("scores", "training scores").
        what: &'static str,
        /// Row (0-based).
        index: usize,
    },
    /// Only one class is present, so rank metrics (AUC, KS, ROC) are undefined.
    #[error("all {count} labels are {class}: both goods (0) and bads (1) are needed")]
    SingleClass {
        /// The class every row has.
        class: u8,
        /// Number of rows.
        count: u64,
    },
    /// The decision threshold is NaN.
    #[error("the decision threshold is NaN")]
    InvalidThreshold,
    /// The SVG backend failed while drawing into memory (internal, please report).
    #[error("plot {plot} could not be drawn: {reason} (internal error, please report)")]
    Plot {
        /// Which plot.
        plot: &'static str,
        /// The backend's message.
        reason: String,
    },
}
