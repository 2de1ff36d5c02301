//! unseen-pir: the SimplePIR core, keyword PIR against a plaintext oracle, hostile peers.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::cast_possible_truncation
)] // tests

mod keyword;
mod keyword_hostile;
mod simplepir;
