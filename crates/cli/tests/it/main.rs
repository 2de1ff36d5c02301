//! End-to-end tests of the `unseen` binary: two real processes over loopback TCP, real CSV files.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::cast_possible_truncation
)] // tests

mod node;
mod nodes;
mod psi;
mod query;
mod train;
mod util;
