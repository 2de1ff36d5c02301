//! Dataset I/O for unseen: CSV and Parquet in, CSV out, key normalisation, atomic output.
//!
//! `unseen psi --input FILE --key COLUMN --key-type id-card` reads a bank export with
//! [`read_table`], which tells CSV from Parquet ([`Format::detect`]), decodes a CSV file
//! ([`Encoding`]: UTF-8 with or without BOM, GBK/GB18030) and parses it, or streams a Parquet
//! file's row groups, normalises the key column ([`normalize_key`], rules in [`key`]) and drops
//! duplicate keys ([`DuplicatePolicy`]). The PSI runs on [`Table::keys`]; the intersecting
//! [`Table::rows`] are written back with [`write_csv_atomic`], which leaves either the complete
//! file or nothing.
//!
//! ```no_run
//! use std::path::Path;
//! use unseen_data::{read_table, write_csv_atomic, KeyType, ReadOptions};
//!
//! let mut opts = ReadOptions::new("id_no", KeyType::IdCard);
//! opts.skip_invalid = true;
//! let table = read_table(Path::new("customers.csv"), &opts)?;
//! let wanted = [0usize, 2]; // indices the PSI found in the intersection
//! write_csv_atomic(Path::new("out.csv"), &table.headers, wanted.iter().map(|&i| &table.rows[i]))?;
//! # Ok::<(), unseen_data::DataError>(())
//! ```
//!
//! Errors ([`DataError`]) are one line, `file:line: column "id": reason` (Parquet:
//! `file: row N: column "id": reason`), and show key values only masked and capped
//! ([`mask_key`]) and header names not at all, because such lines end up in logs and API
//! answers (and a "dataset" may be a key file).
//!
//! # Untrusted files
//!
//! Only regular files are read ([`open_input`]: a FIFO or `/dev/zero` is refused before any
//! byte is read), and reading is bounded ([`ReadLimits`]: file size for CSV, which is decoded
//! in memory; record length and lines; header columns and name length). An unterminated quote
//! is an error naming the line where it opened, never a field that silently swallows the rest
//! of the file. Other files given by path (certificates, tokens) are read with
//! [`read_small_file`].
//!
//! # Parquet
//!
//! A file starting with the `PAR1` magic (or named `*.parquet`) is read as Parquet, with the
//! same options and results as CSV: [`Table::headers`] are the schema's column names,
//! [`Row::line`] is the 1-based row number (there is no header row), and every other column's
//! values become text for the CSV output (nulls empty; the exact forms of numbers, decimals,
//! dates and timestamps are listed in `docs/data.md`). The key column must hold strings or
//! integers (an integer becomes its decimal digits). Only flat tables are read: a list, map or
//! struct column is refused with an error naming it. Row groups are decoded one batch of rows
//! at a time, so memory holds the kept rows (or only keys) plus one batch. Codecs: none,
//! snappy, gzip, lz4 (zstd and brotli files are refused with a message saying so).

pub mod key;
pub mod synth;

mod encoding;
mod error;
mod format;
mod input;
mod parquet_read;
mod parquet_text;
mod read;
#[doc(hidden)]
pub mod testing;
mod write;

pub use crate::encoding::Encoding;
pub use crate::error::{DataError, MAX_SHOWN_CHARS, ParseNameError};
pub use crate::format::Format;
pub use crate::input::{FileKind, open_input, read_small_file, read_small_text};
pub use crate::key::{KeyError, KeyType, MAX_MASKED_CHARS, mask_key, normalize_key};
pub use crate::read::{
    DuplicatePolicy, MAX_EXAMPLES, ReadLimits, ReadOptions, ReadSummary, Row, Table, read_rows_at,
    read_table,
};
pub use crate::synth::id_card_check_char;
pub use crate::write::{AtomicFile, write_csv_atomic, write_lines_atomic};
