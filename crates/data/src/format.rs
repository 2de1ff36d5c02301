//! Which kind of file an input is: CSV or Parquet.

use std::fmt;
use std::io::Read;
use std::path::Path;

use crate::DataError;

/// The 4 bytes every Parquet file starts (and ends) with.
pub(crate) const PARQUET_MAGIC: &[u8; 4] = b"PAR1";
/// The magic of a Parquet file with an encrypted footer (not supported, but recognised).
pub(crate) const PARQUET_ENCRYPTED_MAGIC: &[u8; 4] = b"PARE";

/// The kind of an input file, found by [`Format::detect`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum Format {
    /// Comma-separated text with a header row (UTF-8 or GBK/GB18030).
    #[default]
    Csv,
    /// Apache Parquet.
    Parquet,
}

impl Format {
    /// `csv` or `parquet`.
    pub const fn name(self) -> &'static str {
        match self {
            Format::Csv => "csv",
            Format::Parquet => "parquet",
        }
    }

    /// What a position inside such a file is called in messages, with its preposition:
    /// `on line` (CSV) or `in row` (Parquet).
    pub const fn position_name(self) -> &'static str {
        match self {
            Format::Csv => "on line",
            Format::Parquet => "in row",
        }
    }

    /// Parquet if the file starts with the `PAR1` magic (or `PARE`, an encrypted Parquet file)
    /// or its name ends in `.parquet` or `.parq` (so that a damaged Parquet file is reported as
    /// such, not parsed as CSV); CSV otherwise. Reads at most 4 bytes, and only from a regular
    /// file ([`open_input`](crate::open_input)).
    pub fn detect(path: &Path) -> Result<Format, DataError> {
        let by_name = path
            .extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| e.eq_ignore_ascii_case("parquet") || e.eq_ignore_ascii_case("parq"));
        let mut head = Vec::with_capacity(PARQUET_MAGIC.len());
        crate::open_input(path)?
            .take(4)
            .read_to_end(&mut head)
            .map_err(|source| DataError::Io {
                path: path.to_owned(),
                action: "cannot read",
                source,
            })?;
        if by_name || head == PARQUET_MAGIC || head == PARQUET_ENCRYPTED_MAGIC {
            Ok(Format::Parquet)
        } else {
            Ok(Format::Csv)
        }
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}
