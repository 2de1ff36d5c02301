//! Errors of the federated-learning protocols, sorted by whose fault they are.

use unseen_channel::ChannelError;

/// Why a federated-learning operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FlError {
    // --- the peer misbehaved (or a bug on its side) ---
    /// The channel failed: framing, wrong step, oversized or truncated message, I/O, timeout.
    #[error(transparent)]
    Channel(#[from] ChannelError),
    /// A message does not have the exact length this step requires.
    #[error("{what}: {len} bytes, expected exactly {expected}")]
    BadMessage {
        /// Which message.
        what: &'static str,
        /// Received length.
        len: usize,
        /// Required length.
        expected: usize,
    },
    /// A field of a peer's message is out of range or inconsistent with the session.
    #[error("peer sent an invalid {0}")]
    BadField(&'static str),
    /// A peer's count disagrees with what the session fixes.
    #[error("{what}: peer says {got}, expected {expected}")]
    CountMismatch {
        /// Which count.
        what: &'static str,
        /// What the peer sent.
        got: u64,
        /// What the session requires.
        expected: u64,
    },
    /// A ciphertext from the peer does not decode (wrong length, not below the modulus).
    #[error("peer sent an invalid ciphertext at position {index}: {source}")]
    InvalidCiphertext {
        /// Position in its message.
        index: usize,
        /// The scheme's reason.
        source: unseen_crypto::Error,
    },
    /// The guest asked the host to split on a candidate it never offered in this level.
    #[error("unknown split candidate: node {node}, feature {feature}, bin {bin}")]
    UnknownSplit {
        /// Node index within the level.
        node: u32,
        /// Host feature index.
        feature: u32,
        /// Bin index.
        bin: u32,
    },
    /// A decrypted histogram is out of the range honest sums can take.
    #[error("peer's histogram decrypts out of range (node {node}, feature {feature})")]
    BadHistogram {
        /// Node index within the level.
        node: u32,
        /// Host feature index.
        feature: u32,
    },
    /// The two parts of a model, or a model and the peer, do not belong together.
    #[error("model mismatch: {0}")]
    ModelMismatch(&'static str),

    // --- malformed local input or misuse ---
    /// A local argument violates the API contract (e.g. labels of another length than rows).
    #[error("invalid input: {0}")]
    InvalidInput(String),
    /// A saved model does not decode.
    #[error("malformed model file: {0}")]
    BadModel(&'static str),
    /// The homomorphic-encryption layer refused a local operation.
    #[error("homomorphic encryption: {0}")]
    Crypto(unseen_crypto::Error),
    /// A state ruled out by the code's invariants.
    #[error("internal error: {0} (this is a bug, please report it)")]
    Internal(&'static str),
}
