//! Dataset I/O for unseen: CSV in and out, key normalisation, atomic output.
//!
//! `unseen psi --input FILE --key COLUMN --key-type id-card` reads a bank export with
//! [`read_table`], which decodes it ([`Encoding`]: UTF-8 with or without BOM, GBK/GB18030),
//! parses the CSV, normalises the key column ([`normalize_key`], rules in [`key`]) and drops
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
//! Errors ([`DataError`]) are one line, `file:line: column "id": reason`, and show key values
//! only masked ([`mask_key`]), because such lines end up in logs.

pub mod key;

mod encoding;
mod error;
mod read;
mod write;

pub use crate::encoding::Encoding;
pub use crate::error::{DataError, ParseNameError};
pub use crate::key::{KeyError, KeyType, id_card_check_char, mask_key, normalize_key};
pub use crate::read::{
    DuplicatePolicy, MAX_EXAMPLES, ReadOptions, ReadSummary, Row, Table, read_rows_at, read_table,
};
pub use crate::write::{AtomicFile, write_csv_atomic, write_lines_atomic};
