//! The crate's error types.

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};

use crate::{Format, KeyError};

/// Everything that can go wrong reading or writing a dataset. Each message is one line:
/// `file:line: reason` for problems inside a CSV file, `file: row N: reason` inside a Parquet
/// file, `file: reason` for the file as a whole.
///
/// Values from the file are only ever shown masked (see [`mask_key`](crate::mask_key)).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DataError {
    // --- The input file is malformed (the user's to fix). ---
    /// A key that could not be normalised.
    #[error("{}: column {column:?}: {reason}{}", At(path, *format, *line), Masked(value))]
    Invalid {
        /// The input file.
        path: PathBuf,
        /// Whether `line` counts lines (CSV) or rows (Parquet).
        format: Format,
        /// Where the record is: see [`Row::line`](crate::Row::line).
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
        "{}: column {column:?}: duplicate key, first seen {} {first_line}",
        At(path, *format, *line),
        format.position_name()
    )]
    Duplicate {
        /// The input file.
        path: PathBuf,
        /// Whether the positions count lines (CSV) or rows (Parquet).
        format: Format,
        /// Line (or row) of the second occurrence.
        line: u64,
        /// Line (or row) of the first occurrence.
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

    // --- Parquet input the reader cannot use (the user's to fix, or to re-export). ---
    /// Not a readable Parquet file: no `PAR1` magic, a truncated or corrupt footer or page, an
    /// encrypted file, or a compression codec this build does not include.
    #[error("{}: cannot read as Parquet: {reason}", path.display())]
    Parquet {
        /// The input file.
        path: PathBuf,
        /// What is wrong, with the row group and column where known.
        reason: String,
    },
    /// A Parquet column of a kind this reader does not take: a nested (list, map or struct)
    /// column, or a key column that is neither a string nor an integer.
    #[error("{}: column {column:?}: {reason}", path.display())]
    ParquetColumn {
        /// The input file.
        path: PathBuf,
        /// The column's name.
        column: String,
        /// Why it cannot be read.
        reason: String,
    },
    /// A Parquet value that cannot become text, e.g. bytes that are not UTF-8 in a string
    /// column. The value itself is not shown.
    #[error("{}: row {row}: column {column:?}: {reason}", path.display())]
    ParquetValue {
        /// The input file.
        path: PathBuf,
        /// 1-based row number (the header is not counted).
        row: u64,
        /// The column's name.
        column: String,
        /// What is wrong.
        reason: String,
    },

    /// The file changed between two reads of one run (a row fetched again no longer matches).
    #[error(
        "{}: the file changed while unseen was running; run again",
        At(path, *format, *line)
    )]
    Changed {
        /// The input file.
        path: PathBuf,
        /// Whether `line` counts lines (CSV) or rows (Parquet).
        format: Format,
        /// The line (or row) that no longer matches.
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

/// Formats a position in a file: `file:line` for CSV, `file: row N` for Parquet.
struct At<'a>(&'a Path, Format, u64);

impl fmt::Display for At<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.1 {
            Format::Csv => write!(f, "{}:{}", self.0.display(), self.2),
            Format::Parquet => write!(f, "{}: row {}", self.0.display(), self.2),
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
