//! unseen-fl: SecureBoost against its plaintext oracle, federated prediction, model files,
//! hostile peers; logistic regression against its fixed-point reference.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::cast_possible_truncation,
    clippy::cast_precision_loss,
    unreachable_pub
)] // tests

mod lr;
mod mock_he;
mod secureboost;
