//! Errors of the federated-learning protocols, sorted by whose fault they are.

use unseen_channel::codec::CodecError;
use unseen_channel::{ChannelError, Fault};

/// Why a federated-learning operation failed.
///
/// Whose fault each is ([`FlError::fault`]):
/// - partner: a malformed, truncated or out-of-range message, ciphertext, split request or
///   histogram ([`BadMessage`], [`Decode`], [`BadField`], [`CountMismatch`],
///   [`InvalidCiphertext`], [`UnknownSplit`], [`BadHistogram`]), and the channel's partner
///   errors;
/// - config: the model parts or the peer's model do not belong together ([`ModelMismatch`]),
///   or a saved model does not decode ([`BadModel`], [`ModelFile`]);
/// - input: a local argument violates the API contract ([`InvalidInput`]);
/// - network: the channel's connection errors ([`ChannelError::fault`]);
/// - internal: the homomorphic-encryption layer refused a local operation ([`Crypto`]: key
///   generation, randomness) or an invariant failed ([`Internal`]).
///
/// [`BadMessage`]: FlError::BadMessage
/// [`Decode`]: FlError::Decode
/// [`BadField`]: FlError::BadField
/// [`CountMismatch`]: FlError::CountMismatch
/// [`InvalidCiphertext`]: FlError::InvalidCiphertext
/// [`UnknownSplit`]: FlError::UnknownSplit
/// [`BadHistogram`]: FlError::BadHistogram
/// [`ModelMismatch`]: FlError::ModelMismatch
/// [`BadModel`]: FlError::BadModel
/// [`ModelFile`]: FlError::ModelFile
/// [`InvalidInput`]: FlError::InvalidInput
/// [`Crypto`]: FlError::Crypto
/// [`Internal`]: FlError::Internal
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
    /// A peer's message is malformed in another way than its length (e.g. a length it
    /// announces is above the step's maximum). Truncated messages and trailing bytes are
    /// [`FlError::BadMessage`].
    #[error("malformed message from peer: {0}")]
    Decode(CodecError),
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
    /// A saved model's layout does not decode (truncated inside, a count beyond the file,
    /// trailing bytes) although its digest matched.
    #[error("malformed model file: {0}")]
    ModelFile(CodecError),
    /// The homomorphic-encryption layer refused a local operation.
    #[error("homomorphic encryption: {0}")]
    Crypto(unseen_crypto::Error),
    /// A state ruled out by the code's invariants.
    #[error("internal error: {0} (this is a bug, please report it)")]
    Internal(&'static str),
}

impl From<CodecError> for FlError {
    /// For partner messages: a truncated message or trailing bytes are
    /// [`FlError::BadMessage`] (what the decoders always reported), anything else
    /// [`FlError::Decode`]. Model files map theirs to [`FlError::ModelFile`] instead.
    fn from(e: CodecError) -> Self {
        match e {
            CodecError::Truncated {
                what,
                len,
                expected,
            }
            | CodecError::Trailing {
                what,
                len,
                expected,
            } => Self::BadMessage {
                what,
                len,
                expected,
            },
            e => Self::Decode(e),
        }
    }
}

impl FlError {
    /// Whose fault this is (see [`FlError`]'s documentation for the mapping).
    pub fn fault(&self) -> Fault {
        match self {
            Self::Channel(e) => e.fault(),
            Self::BadMessage { .. }
            | Self::Decode(_)
            | Self::BadField(_)
            | Self::CountMismatch { .. }
            | Self::InvalidCiphertext { .. }
            | Self::UnknownSplit { .. }
            | Self::BadHistogram { .. } => Fault::Partner,
            Self::ModelMismatch(_) | Self::BadModel(_) | Self::ModelFile(_) => Fault::Config,
            Self::InvalidInput(_) => Fault::Input,
            Self::Crypto(_) | Self::Internal(_) => Fault::Internal,
        }
    }
}

#[cfg(test)]
mod tests {
    use unseen_channel::Header;
    use unseen_channel::codec::Reader;

    use super::*;
    use crate::lr::LrError;

    #[test]
    fn fl_faults_of_each_class() {
        let h = Header::new(3, 1, 7);
        for e in [
            FlError::from(Reader::new(&[0; 2], "level").u32().unwrap_err()),
            FlError::from(
                Reader::new(&[0xff; 2], "hello")
                    .len_u16("public key", 4096)
                    .unwrap_err(),
            ),
            FlError::BadField("row assignment"),
            FlError::UnknownSplit {
                node: 0,
                feature: 3,
                bin: 7,
            },
            FlError::Channel(ChannelError::UnexpectedFrame {
                expected: h,
                received: h,
            }),
        ] {
            assert_eq!(e.fault(), Fault::Partner, "{e:?}");
        }
        assert!(matches!(
            FlError::from(Reader::new(&[0; 2], "level").u32().unwrap_err()),
            FlError::BadMessage {
                what: "level",
                len: 2,
                expected: 4
            }
        ));
        for e in [
            FlError::ModelMismatch("model ids differ"),
            FlError::BadModel("digest mismatch (truncated or corrupted)"),
            FlError::ModelFile(Reader::new(&[1], "model part").expect_empty().unwrap_err()),
        ] {
            assert_eq!(e.fault(), Fault::Config, "{e:?}");
        }
        assert_eq!(
            FlError::InvalidInput("labels of another length".into()).fault(),
            Fault::Input
        );
        assert_eq!(
            FlError::Channel(ChannelError::Closed { expected: h }).fault(),
            Fault::Network
        );
        assert_eq!(
            FlError::Internal("zero ciphertext length").fault(),
            Fault::Internal
        );
    }

    #[test]
    fn lr_faults_of_each_class() {
        for e in [
            LrError::from(Reader::new(&[0; 5], "host hello").take(8).unwrap_err()),
            LrError::BadHello("feature count outside 1..=4096"),
            LrError::PeerValueOutOfRange("masked gradient"),
            LrError::WeakPeerKey {
                modulus_bits: 512,
                plaintext_bits: 511,
            },
        ] {
            assert_eq!(e.fault(), Fault::Partner, "{e:?}");
        }
        for e in [
            LrError::ConfigMismatch("l2"),
            LrError::RowCountMismatch {
                ours: 39,
                theirs: 40,
            },
            LrError::BatchTooSmall {
                rows: 4,
                features: 4,
            },
        ] {
            assert_eq!(e.fault(), Fault::Config, "{e:?}");
        }
        for e in [
            LrError::InvalidInput("model part has the wrong length"),
            LrError::InvalidConfig("learning rate"),
            LrError::Diverged {
                epoch: 3,
                limit: 1e9,
            },
        ] {
            assert_eq!(e.fault(), Fault::Input, "{e:?}");
        }
        assert_eq!(
            LrError::Channel(ChannelError::Timeout { seconds: 1 }).fault(),
            Fault::Network
        );
        assert_eq!(
            LrError::OutOfOrder("terms before hello").fault(),
            Fault::Internal
        );
    }
}
