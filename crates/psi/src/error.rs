//! Errors of ECDH-PSI, sorted by whose fault they are.

use unseen_channel::ChannelError;

/// Why a PSI run failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PsiError {
    // --- the peer misbehaved (or a bug on its side) ---
    /// The channel failed: framing, wrong step, oversized or truncated message, I/O, timeout.
    #[error(transparent)]
    Channel(#[from] ChannelError),
    /// The peer's hello is malformed.
    #[error("malformed hello from peer: {0}")]
    BadHello(&'static str),
    /// The peer runs with other parameters.
    #[error("parameter mismatch: the partner uses {what} {theirs}, this side {ours}")]
    Mismatch {
        /// Which parameter.
        what: &'static str,
        /// Ours.
        ours: String,
        /// Theirs.
        theirs: String,
    },
    /// The peer normalised its keys differently: the results would not be comparable.
    #[error(
        "key type mismatch: the partner reads keys as {theirs}, this side as {ours}; both sides \
         must use the same key type"
    )]
    KeyTypeMismatch {
        /// Ours.
        ours: crate::KeyLabel,
        /// Theirs.
        theirs: crate::KeyLabel,
    },
    /// The peer announced more items than we accept.
    #[error("peer announced {announced} items, at most {max} allowed")]
    TooManyItems {
        /// Announced count.
        announced: u64,
        /// Our limit.
        max: u64,
    },
    /// A message's length does not match what this step must carry.
    #[error("{what}: {len} bytes, expected exactly {expected}")]
    BadLength {
        /// Which message.
        what: &'static str,
        /// Received length.
        len: usize,
        /// Expected length.
        expected: usize,
    },
    /// A point the peer sent does not decode.
    #[error("peer sent an invalid point at position {index}: {source}")]
    InvalidPoint {
        /// Position within the peer's items.
        index: u64,
        /// Decoding error.
        source: unseen_crypto::Error,
    },
    /// The leader announced a result that cannot be right.
    #[error("peer sent an invalid result: {0}")]
    BadResult(String),

    // --- local misuse ---
    /// We have more items than the peer accepts (its limit, from its hello).
    #[error("this side has {items} items, the partner accepts at most {max}")]
    TooManyForPeer {
        /// Our item count.
        items: u64,
        /// The peer's limit.
        max: u64,
    },
    /// Our own inputs or parameters are unusable.
    #[error("invalid local input: {0}")]
    Local(String),
    /// Randomness could not be obtained or a crypto call failed in a way inputs cannot cause.
    #[error("internal error: {0} (please report)")]
    Internal(String),
}
