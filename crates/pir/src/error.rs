//! Errors of the PIR core, sorted by whose fault they are.

/// Why a PIR operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PirError {
    // --- the peer misbehaved (or a bug on its side) ---
    /// A query, answer or hint does not have the length the parameters fix.
    #[error("{what}: {len} words, expected exactly {expected}")]
    BadLength {
        /// Which object.
        what: &'static str,
        /// Its length in 32-bit words.
        len: usize,
        /// The length the parameters require.
        expected: usize,
    },
    /// A batch holds a different number of items than the step requires.
    #[error("{what}: {got} items, expected {expected}")]
    CountMismatch {
        /// Which batch.
        what: &'static str,
        /// Items received.
        got: usize,
        /// Items expected.
        expected: usize,
    },
    /// A batch of queries is larger than we answer.
    #[error("batch of {got} queries, at most {max} allowed")]
    TooManyQueries {
        /// Queries in the batch.
        got: usize,
        /// Our limit.
        max: usize,
    },

    // --- local misuse or configuration ---
    /// A record does not have the database's record length.
    #[error("record {index} is {len} bytes, every record must be {expected}")]
    RecordLength {
        /// Position of the record.
        index: usize,
        /// Its length.
        len: usize,
        /// The database's record length.
        expected: usize,
    },
    /// A requested record does not exist.
    #[error("index {index} out of range: the database has {records} records")]
    IndexOutOfRange {
        /// The requested index.
        index: usize,
        /// Number of records.
        records: usize,
    },
    /// The requested shape or sizes are not supported.
    #[error("invalid parameters: {0}")]
    Config(String),

    // --- impossible states ---
    /// An invariant of this crate failed.
    #[error("internal error: {0}; please report")]
    Internal(&'static str),
}
