//! ECDH-PSI: both roles against the plaintext oracle, every mode, both curves; hostile peers.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::cast_possible_truncation
)] // tests

mod hostile;
mod oracle;
mod params;

/// The key type of the tests' items (generated strings).
pub fn keys() -> unseen_psi::KeyLabel {
    unseen_psi::KeyLabel::new("string").unwrap()
}
