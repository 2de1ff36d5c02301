//! Integration tests of `unseen-data`: key normalisation (GB 11643 vectors), reading (encodings,
//! CSV syntax, line numbers, invalid keys, duplicates; Parquet against the same data as CSV)
//! and atomic writing.
//!
//! One test binary for the crate (STYLE.md §6): each file below is a module of it.

// Tests may unwrap (STYLE.md §8); clippy's allow-*-in-tests covers only #[test] bodies, not the
// helpers in `util` and the modules.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod hostile;
mod keys;
mod read;
mod read_parquet;
mod util;
mod write;
