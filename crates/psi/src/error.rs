//! Errors of ECDH-PSI, sorted by whose fault they are.

use unseen_channel::codec::CodecError;
use unseen_channel::{ChannelError, Fault};

/// Why a PSI run failed.
///
/// Whose fault each is ([`PsiError::fault`]):
/// - partner: a malformed, truncated, over-long or out-of-range message ([`BadHello`],
///   [`BadLength`], [`Decode`], [`InvalidPoint`], [`BadResult`]), and the channel's
///   partner errors;
/// - config: the two sides' agreed parameters differ ([`Mismatch`], [`KeyTypeMismatch`]) or
///   one side has more items than the other's limit ([`TooManyItems`], [`TooManyForPeer`]);
/// - input: our own items or parameters are unusable ([`Local`]);
/// - network: the channel's connection errors ([`ChannelError::fault`]);
/// - internal: randomness or a crypto call failed in a way inputs cannot cause ([`Internal`]).
///
/// [`BadHello`]: PsiError::BadHello
/// [`BadLength`]: PsiError::BadLength
/// [`Decode`]: PsiError::Decode
/// [`InvalidPoint`]: PsiError::InvalidPoint
/// [`BadResult`]: PsiError::BadResult
/// [`Mismatch`]: PsiError::Mismatch
/// [`KeyTypeMismatch`]: PsiError::KeyTypeMismatch
/// [`TooManyItems`]: PsiError::TooManyItems
/// [`TooManyForPeer`]: PsiError::TooManyForPeer
/// [`Local`]: PsiError::Local
/// [`Internal`]: PsiError::Internal
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
    /// A message is malformed in another way than its length (e.g. a length it announces is
    /// above the step's maximum). Truncated and trailing bytes are [`PsiError::BadLength`].
    #[error("malformed message from peer: {0}")]
    Decode(CodecError),
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

impl From<CodecError> for PsiError {
    /// A truncated message or trailing bytes are [`PsiError::BadLength`] (what the decoders
    /// always reported), anything else [`PsiError::Decode`].
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
            } => Self::BadLength {
                what,
                len,
                expected,
            },
            e => Self::Decode(e),
        }
    }
}

impl PsiError {
    /// Whose fault this is (see [`PsiError`]'s documentation for the mapping).
    pub fn fault(&self) -> Fault {
        match self {
            Self::Channel(e) => e.fault(),
            Self::BadHello(_)
            | Self::BadLength { .. }
            | Self::Decode(_)
            | Self::InvalidPoint { .. }
            | Self::BadResult(_) => Fault::Partner,
            Self::Mismatch { .. }
            | Self::KeyTypeMismatch { .. }
            | Self::TooManyItems { .. }
            | Self::TooManyForPeer { .. } => Fault::Config,
            Self::Local(_) => Fault::Input,
            Self::Internal(_) => Fault::Internal,
        }
    }
}

#[cfg(test)]
mod tests {
    use unseen_channel::{Header, codec::Reader};

    use super::*;

    #[test]
    fn faults_of_each_class() {
        let h = Header::new(1, 2, 3);
        let peer = [
            PsiError::BadHello("unknown curve"),
            PsiError::from(Reader::new(&[1], "hello").expect_empty().unwrap_err()),
            PsiError::from(Reader::new(&[9], "m").len_u8("label", 1).unwrap_err()),
            PsiError::BadResult("position out of range".into()),
            PsiError::Channel(ChannelError::UnexpectedFrame {
                expected: h,
                received: h,
            }),
        ];
        for e in peer {
            assert_eq!(e.fault(), Fault::Partner, "{e:?}");
        }
        let config = [
            PsiError::Mismatch {
                what: "curve",
                ours: "ristretto255".into(),
                theirs: "sm2".into(),
            },
            PsiError::TooManyItems {
                announced: 1 << 40,
                max: 1 << 27,
            },
            PsiError::TooManyForPeer { items: 11, max: 10 },
        ];
        for e in config {
            assert_eq!(e.fault(), Fault::Config, "{e:?}");
        }
        assert_eq!(PsiError::Local("no items".into()).fault(), Fault::Input);
        assert_eq!(
            PsiError::Channel(ChannelError::Closed { expected: h }).fault(),
            Fault::Network
        );
        assert_eq!(PsiError::Internal("rng".into()).fault(), Fault::Internal);
    }

    #[test]
    fn codec_errors_keep_the_length_variant() {
        let e = PsiError::from(Reader::new(&[0; 31], "hello").take(33).unwrap_err());
        assert!(
            matches!(
                e,
                PsiError::BadLength {
                    what: "hello",
                    len: 31,
                    expected: 33
                }
            ),
            "{e:?}"
        );
        let e = PsiError::from(
            Reader::new(&[0xff; 9], "result header")
                .len_u64("count", 8)
                .unwrap_err(),
        );
        assert!(
            matches!(e, PsiError::Decode(CodecError::TooLong { .. })),
            "{e:?}"
        );
    }
}
