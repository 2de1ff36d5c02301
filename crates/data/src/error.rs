//! The crate's error types.

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};

use crate::{FileKind, Format, KeyError};

/// Everything that can go wrong reading or writing a dataset. Each message is one line:
/// `file:line: reason` for problems inside a CSV file, `file: row N: reason` inside a Parquet
/// file, `file: reason` for the file as a whole.
///
/// Values from the file are only ever shown masked and capped (see
/// [`mask_key`](crate::mask_key)); header names from the file are not shown at all, except one
/// that differs from the requested column only in case or spacing; other names (the requested
/// column, Parquet schema names) are capped at [`MAX_SHOWN_CHARS`] characters.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DataError {
    // --- The input file is malformed (the user's to fix). ---
    /// A key that could not be normalised.
    #[error("{}: column {}: {reason}{}", At(path, *format, *line), Name(column), Masked(value))]
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
        "{}: column {}: duplicate key, first seen {} {first_line}",
        At(path, *format, *line),
        Name(column),
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
        /// What is wrong, in unseen's words: never the CSV parser's own text, which may quote
        /// the file.
        reason: String,
    },
    /// A quoted field still open at the end of the file: an unterminated quote, which would
    /// otherwise swallow every line after it into one field.
    #[error(
        "{}:{line}: a quoted field opened on this line is never closed (the file ends inside \
         it); add the closing quote or remove the opening one",
        path.display()
    )]
    UnterminatedQuote {
        /// The file.
        path: PathBuf,
        /// 1-based physical line where the quote opened.
        line: u64,
    },
    /// A record (in practice a quoted field) running over more lines than allowed: most likely a
    /// quote opened by mistake and closed only by another stray quote much further down.
    #[error(
        "{}:{line}: a quoted field opened on this line runs over more than {max_lines} lines; \
         probably a missing closing quote",
        path.display()
    )]
    QuoteTooLong {
        /// The file.
        path: PathBuf,
        /// 1-based physical line where the quote opened (where the record starts if no quote is
        /// involved).
        line: u64,
        /// The limit, [`ReadLimits::max_record_lines`](crate::ReadLimits).
        max_lines: u64,
    },
    /// A record (the header included, on line 1) longer than allowed, in bytes as in the file.
    #[error(
        "{}:{line}: {} of {bytes} bytes, more than the limit of {max}",
        path.display(),
        if *line == 1 { "header line" } else { "record" }
    )]
    RecordTooLong {
        /// The file.
        path: PathBuf,
        /// 1-based physical line where the record starts.
        line: u64,
        /// Its length in bytes (at least; the reader may stop counting past the limit).
        bytes: u64,
        /// The limit, [`ReadLimits::max_record_bytes`](crate::ReadLimits).
        max: u64,
    },
    /// More header columns than allowed.
    #[error("{}: {found} columns, more than the limit of {max}", Header(path, *format))]
    TooManyColumns {
        /// The file.
        path: PathBuf,
        /// CSV (the header is line 1) or Parquet (the schema).
        format: Format,
        /// Columns found.
        found: u64,
        /// The limit, [`ReadLimits::max_columns`](crate::ReadLimits).
        max: u64,
    },
    /// A header name longer than allowed (the name itself is not shown).
    #[error(
        "{}: the name of column {column} is {bytes} bytes, more than the limit of {max}",
        Header(path, *format)
    )]
    ColumnNameTooLong {
        /// The file.
        path: PathBuf,
        /// CSV (the header is line 1) or Parquet (the schema).
        format: Format,
        /// 1-based index of the column.
        column: u64,
        /// Length of its name in bytes.
        bytes: u64,
        /// The limit, [`ReadLimits::max_column_name_bytes`](crate::ReadLimits).
        max: u64,
    },
    /// A file with no header row (empty, only a byte order mark, or only blank lines), hence no
    /// key column.
    #[error("{}: the file is empty: no header row, so no column {}", path.display(), Name(column))]
    NoHeader {
        /// The file.
        path: PathBuf,
        /// The requested key column.
        column: String,
    },
    /// A file with no rows to use. Never returned by the readers (a header-only file is a valid
    /// table with no rows); raised by callers through [`Table::require_rows`](crate::Table),
    /// before a partner is contacted, unless the user allowed an empty input.
    #[error(
        "{}: no rows to use ({}); nothing to match",
        path.display(),
        if *rows_read == 0 {
            "the file has a header but no records".to_owned()
        } else {
            format!("all {rows_read} records were skipped")
        }
    )]
    Empty {
        /// The file.
        path: PathBuf,
        /// Records read (all skipped if not 0).
        rows_read: u64,
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
    /// The key column is not in the header. The header's names are not part of the error: a
    /// file that is not a dataset (a key, a token) has its first line there.
    #[error(
        "{}: no column {} in the header ({columns} column{}){}",
        Header(path, *format),
        Name(column),
        if *columns == 1 { "" } else { "s" },
        Similar(similar.as_deref())
    )]
    MissingColumn {
        /// The input file.
        path: PathBuf,
        /// CSV (the header is line 1) or Parquet (the schema).
        format: Format,
        /// The requested column.
        column: String,
        /// How many columns the header has.
        columns: u64,
        /// A header name equal to `column` but for ASCII case, surrounding whitespace or a
        /// byte order mark (a likely typo): the only header name ever shown.
        similar: Option<String>,
    },
    /// The key column name appears more than once in the header.
    #[error(
        "{}: column {} appears twice in the header (columns {first} and {second})",
        path.display(),
        Name(column)
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
    #[error("{}: column {}: {reason}", path.display(), Name(column))]
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
    #[error("{}: row {row}: column {}: {reason}", path.display(), Name(column))]
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

    // --- The input is not something unseen reads (the caller's to fix). ---
    /// The path names a FIFO, a device, a directory or a socket: only regular files are read
    /// (a FIFO would block the reader, a device such as `/dev/zero` never ends).
    #[error("{}: {}; unseen reads only regular files", path.display(), kind.description())]
    NotRegularFile {
        /// The path given.
        path: PathBuf,
        /// What it is instead.
        kind: FileKind,
    },
    /// A file larger than the reader allows (see [`ReadLimits::max_file_bytes`](crate::ReadLimits)).
    #[error("{}: the file is {size} bytes, more than the limit of {max}", path.display())]
    TooLarge {
        /// The file.
        path: PathBuf,
        /// Its size in bytes (at least: reading stops past the limit).
        size: u64,
        /// The limit.
        max: u64,
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

/// Formats where the header is: `file:1` for CSV, `file: schema` for Parquet.
struct Header<'a>(&'a Path, Format);

impl fmt::Display for Header<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.1 {
            Format::Csv => write!(f, "{}:1", self.0.display()),
            Format::Parquet => write!(f, "{}: schema", self.0.display()),
        }
    }
}

/// Most characters of a name (a column, say) shown in a message.
pub const MAX_SHOWN_CHARS: usize = 32;

/// Formats a name quoted and escaped like `{:?}`, cut after [`MAX_SHOWN_CHARS`] characters with
/// `…(N bytes)` saying how long it was.
pub(crate) struct Name<'a>(pub(crate) &'a str);

impl fmt::Display for Name<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = self.0;
        match s.char_indices().nth(MAX_SHOWN_CHARS) {
            None => write!(f, "{s:?}"),
            Some((cut, _)) => write!(f, "{:?}…({} bytes)", &s[..cut], s.len()),
        }
    }
}

/// Formats `; did you mean "ID"?` for a near miss.
struct Similar<'a>(Option<&'a str>);

impl fmt::Display for Similar<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(name) => write!(f, "; did you mean {}?", Name(name)),
            None => Ok(()),
        }
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
