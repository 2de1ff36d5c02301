//! Vertical federated learning between a guest (holds the labels and some features) and a host
//! (holds other features for the same, already aligned, rows): SecureBoost, logistic regression,
//! federated prediction. Each protocol is a sans-I/O role per party plus a `run_*` driver over an
//! [`unseen_channel::Channel`]; homomorphic encryption comes from [`unseen_crypto::he`].

mod error;
pub mod lr;
pub mod secureboost;

pub use error::FlError;
pub use lr::ModelId;
