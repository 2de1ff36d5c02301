//! ECDH-PSI: both roles against the plaintext oracle, every mode, both curves; hostile peers.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::cast_possible_truncation
)] // tests

mod hostile;
mod oracle;
