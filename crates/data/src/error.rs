//! The crate's error types.

use std::fmt;
use std::io;
use std::path::PathBuf;

use crate::KeyError;

/// Everything that can go wrong reading or writing a dataset. Each message is one line:
/// `file:line: reason` for problems inside a file, `file: reason` for the file as a whole.
///
/// Values from the file are only ever shown masked (see [`mask_key`](crate::mask_key)).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DataError {
    // --- The input file is malformed (the user's to fix). ---
    /// A key that could not be normalised.
    #[error("{}:{line}: column {column:?}: {reason}{}", path.display(), Masked(value))]
    Invalid {
        /// The input file.
        path: PathBuf,
        /// 1-based physical line where the record starts (the header is line 1).
        line: u64,
        /// The key column's header name.
        column: String,
        /// The offending value, masked.
        value: String,
        /// Why the key is invalid.
        reason: KeyError,
    },
    /// A normalised key seen twice, under [`DuplicatePolicy::Error`](crate::DuplicatePolicy).
    #[error(
        "{}:{line}: column {column:?}: duplicate key, first seen on line {first_line}",
        path.display()
    )]
    Duplicate {
        /// The input file.
        path: PathBuf,
        /// Line of the second occurrence.
        line: u64,
        /// Line of the first occurrence.
        first_line: u64,
        /// The key column's header name.
        column: String,
    },
    /// A record whose field count differs from the header's.
    #[error(
        "{}:{line}: expected {expected} fields (as in the header), found {found}",
        path.display()
    )]
    FieldCount {
        /// The file.
        path: PathBuf,
        /// 1-based physical line where the record starts.
        line: u64,
        /// Number of header fields.
        expected: u64,
        /// Number of fields in this record.
        found: u64,
    },
    /// Any other CSV syntax problem.
    #[error("{}:{line}: {reason}", path.display())]
    Csv {
        /// The file.
        path: PathBuf,
        /// 1-based physical line (0 if unknown).
        line: u64,
        /// What the CSV parser or writer reported.
        reason: String,
    },
    /// Bytes that are not valid in the file's encoding.
    #[error("{}:{line}: bytes are not valid {encoding}", path.display())]
    Encoding {
        /// The input file.
        path: PathBuf,
        /// 1-based line of the first invalid byte.
        line: u64,
        /// The encoding(s) tried, e.g. `utf-8`, `gb18030` or `utf-8 or gb18030`.
        encoding: &'static str,
    },
    /// The key column is not in the header.
    #[error(
        "{}: no column {column:?} in the header; available: {}",
        path.display(),
        Available(available)
    )]
    MissingColumn {
        /// The input file.
        path: PathBuf,
        /// The requested column.
        column: String,
        /// The header names found.
        available: Vec<String>,
    },
    /// The key column name appears more than once in the header.
    #[error(
        "{}: column {column:?} appears twice in the header (columns {first} and {second})",
        path.display()
    )]
    AmbiguousColumn {
        /// The input file.
        path: PathBuf,
        /// The requested column.
        column: String,
        /// 1-based index of the first match.
        first: usize,
        /// 1-based index of the second match.
        second: usize,
    },

    /// The file changed between two reads of one run (a row fetched again no longer matches).
    #[error("{}:{line}: the file changed while unseen was running; run again", path.display())]
    Changed {
        /// The input file.
        path: PathBuf,
        /// The line that no longer matches.
        line: u64,
    },

    // --- The operating system refused (permissions, missing file, full disk). ---
    /// An I/O error on `path`.
    #[error("{}: {action}: {source}", path.display())]
    Io {
        /// The file concerned (for output: the final path, not the temporary file).
        path: PathBuf,
        /// What was being done, e.g. `cannot read`.
        action: &'static str,
        /// The operating system's reason.
        source: io::Error,
    },
}

/// Formats ` (value …)` unless the masked value is empty.
struct Masked<'a>(&'a str);

impl fmt::Display for Masked<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            Ok(())
        } else {
            write!(f, " (value {})", self.0)
        }
    }
}

/// Formats a bounded list of header names.
struct Available<'a>(&'a [String]);

impl fmt::Display for Available<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const SHOWN: usize = 20;
        if self.0.is_empty() {
            return f.write_str("none");
        }
        for (i, name) in self.0.iter().take(SHOWN).enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{name:?}")?;
        }
        if self.0.len() > SHOWN {
            write!(f, " and {} more", self.0.len() - SHOWN)?;
        }
        Ok(())
    }
}

/// An unknown name for a [`KeyType`](crate::KeyType), [`Encoding`](crate::Encoding) or
/// [`DuplicatePolicy`](crate::DuplicatePolicy).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {what} {found:?}, expected one of: {}", expected.join(", "))]
pub struct ParseNameError {
    what: &'static str,
    found: String,
    expected: &'static [&'static str],
}

impl ParseNameError {
    pub(crate) fn new(what: &'static str, found: &str, expected: &'static [&'static str]) -> Self {
        // Bounded: this text is echoed back to the user.
        let found = found.chars().take(64).collect();
        ParseNameError {
            what,
            found,
            expected,
        }
    }
}
