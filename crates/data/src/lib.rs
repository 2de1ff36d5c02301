//! Dataset I/O for unseen: CSV in and out, key normalisation, atomic output.
//!
//! (API contract written first; the implementation fills it in.)
//!
//! ```text
//! pub enum KeyType { IdCard, Phone, String }            // FromStr: "id-card" | "phone" | "string"
//! pub fn normalize_key(kt: KeyType, raw: &str) -> Result<String, KeyError>;
//! pub enum Encoding { Auto, Utf8, Gb18030 }             // FromStr: "auto" | "utf-8" | "gbk" | "gb18030"
//! pub enum DuplicatePolicy { KeepFirst, Error }
//! pub struct ReadOptions { key_column: String, key_type: KeyType, skip_invalid: bool,
//!                          encoding: Encoding, duplicates: DuplicatePolicy }
//! pub struct Table { headers, rows, keys (normalised, one per row), line numbers, summary }
//! pub struct ReadSummary { rows_read, skipped_invalid, duplicates_dropped, first_duplicate_lines,
//!                          encoding_detected, .. }
//! pub fn read_csv(path: &Path, opts: &ReadOptions) -> Result<Table, DataError>;
//! pub fn write_csv_atomic(path: &Path, headers: &[String], rows: impl Iterator<Item=&Row>)
//!     -> Result<(), DataError>;
//! ```
