//! The crate's error type.

use std::path::PathBuf;

use crate::JobState;

/// Everything that can go wrong reading or writing a node's state. Messages are one line.
///
/// Names and values supplied by callers are echoed back bounded (at most 64 characters), because
/// they may come from a partner and these messages end up in logs.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    // --- The caller asked for something invalid (the user's or the node's to fix). ---
    /// A partner, dataset, job id or job kind name outside the allowed alphabet or length
    /// (see [`validate_name`](crate::validate_name)).
    #[error("invalid {kind} name {name:?}: {reason}")]
    InvalidName {
        /// What was being named, e.g. `partner`.
        kind: String,
        /// The rejected name, bounded.
        name: String,
        /// Why it was rejected.
        reason: String,
    },
    /// A value other than a name that cannot be stored (empty, too long, control characters,
    /// a number above 2^63 - 1 or a job finished in a non-terminal state).
    #[error("invalid {field}: {reason}")]
    Invalid {
        /// The field, e.g. `dataset path`.
        field: &'static str,
        /// Why it was rejected.
        reason: String,
    },
    /// A partner, dataset or job that already exists.
    #[error("{what} {name:?} already exists")]
    Duplicate {
        /// What kind of record, e.g. `partner` or `partner fingerprint`.
        what: &'static str,
        /// Its name (or fingerprint, or id), bounded.
        name: String,
    },
    /// A partner, dataset or job that does not exist.
    #[error("no {what} {name:?}")]
    NotFound {
        /// What kind of record, e.g. `dataset`.
        what: &'static str,
        /// The name asked for, bounded.
        name: String,
    },
    /// A job state change that the state machine does not allow (see
    /// [`JobState::can_become`](crate::JobState::can_become)).
    #[error("job {id:?} cannot go from {from} to {to}")]
    InvalidTransition {
        /// The job.
        id: String,
        /// Its current state.
        from: JobState,
        /// The state asked for.
        to: JobState,
    },

    // --- The database is not one this build can use. ---
    /// The database was written by a newer build of unseen (its schema version is higher).
    #[error(
        "the database has schema version {found} but this build supports at most {supported}; \
         upgrade unseen"
    )]
    TooNew {
        /// `PRAGMA user_version` of the file.
        found: u32,
        /// The newest schema version this build knows.
        supported: u32,
    },
    /// A stored value that does not parse (an unknown job state, malformed JSON, a negative
    /// count): the file was edited outside unseen or is damaged.
    #[error("the database is corrupt: {0}")]
    Corrupt(String),

    // --- SQLite or the operating system refused. ---
    /// The database file could not be opened or created.
    #[error("{}: cannot open the database: {source}", path.display())]
    Open {
        /// The file.
        path: PathBuf,
        /// SQLite's reason.
        source: rusqlite::Error,
    },
    /// Any other SQLite error (a full disk, a lock held for longer than the busy timeout).
    #[error("database error: {0}")]
    Sql(#[from] rusqlite::Error),
}

/// Bounds a caller-supplied string before it goes into an error message.
pub(crate) fn bounded(s: &str) -> String {
    const SHOWN: usize = 64;
    let mut chars = s.chars();
    let mut out: String = chars.by_ref().take(SHOWN).collect();
    if chars.next().is_some() {
        out.push('…');
    }
    out
}

/// Builds a [`StoreError::Corrupt`].
pub(crate) fn corrupt(what: impl Into<String>) -> StoreError {
    StoreError::Corrupt(what.into())
}
