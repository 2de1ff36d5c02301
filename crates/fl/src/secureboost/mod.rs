//! Vertical SecureBoost (Cheng, Fan, Jin, Liu, Chen, Papadopoulos, Yang: "SecureBoost: A
//! Lossless Federated Learning Framework", IEEE Intelligent Systems 36(6), 2021), between a
//! guest (the paper's *active party*: labels and some features) and a host (the *passive
//! party*: other features of the same, aligned rows).
//!
//! See `docs/protocols/secureboost.md` for the protocol, each step's source in the paper, every
//! deviation, and what each party learns.
//!
//! - [`bins`]: each party's local quantile bins;
//! - [`plain`]: the plaintext oracle (centralised GBDT with the same integers);
//! - [`msgs`]: wire messages and bounded decoders;
//! - [`train`]: the sans-I/O roles ([`GuestRole`], [`HostRole`]: frames in, frames out) and
//!   the `run_guest` / `run_host` drivers that move their frames over a channel;
//! - [`model`]: the two model parts, federated prediction, feature importance.

pub mod bins;
mod core;
pub mod model;
pub mod msgs;
pub mod plain;
pub mod train;

pub use bins::BinCuts;
pub use core::{
    FRAC_BITS, G_OFFSET, GH, H_BITS, MAX_DEPTH, MAX_ROWS, MIN_GAIN, Node, Rule, SLOT_BITS, Tree,
    TreeParams, sample_columns, sample_rows,
};
pub use model::{GuestModel, GuestSplit, HostModel, Importance};
pub use model::{Prediction, run_guest_predict, run_host_predict};
pub use plain::{Binned, ColSample, PlainModel, PlainValid};
pub use train::{
    GuestConfig, GuestOutput, GuestReport, GuestRole, HostConfig, HostOutput, HostRole, run_guest,
    run_host, slots,
};
