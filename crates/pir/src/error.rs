//! Errors of the PIR core and of keyword PIR, sorted by whose fault they are.

use unseen_channel::codec::CodecError;
use unseen_channel::{ChannelError, Fault};
use unseen_crypto::oprf::OprfError;

/// Why a PIR operation failed.
///
/// Whose fault each is ([`PirError::fault`]):
/// - partner: a malformed, truncated, over-long or out-of-range message or element, a batch
///   beyond the limits, a quota exceeded, a malformed sealed record, and the channel's partner
///   errors. This includes [`IndexOutOfRange`], [`TooManyQueries`] and [`TooManyKeys`]: the
///   SimplePIR core also returns them for a local caller's bad index or batch, but in a
///   keyword-PIR run they only come from the peer's requests (the client role derives buckets
///   in range and batches its keys);
/// - config: the two sides disagree ([`Mismatch`]: suite or AEAD; [`AnonymityTooLow`]: the
///   k-anonymity asked for and the table's grouping), or a stored table or hint cache cannot be
///   read or written ([`Storage`]);
/// - input: a local record, key or shape is unusable ([`Oprf`], [`RecordLength`],
///   [`Config`](PirError::Config));
/// - network: the channel's connection errors ([`ChannelError::fault`]);
/// - internal: an invariant of this crate failed ([`Internal`]).
///
/// [`IndexOutOfRange`]: PirError::IndexOutOfRange
/// [`TooManyQueries`]: PirError::TooManyQueries
/// [`TooManyKeys`]: PirError::TooManyKeys
/// [`Mismatch`]: PirError::Mismatch
/// [`AnonymityTooLow`]: PirError::AnonymityTooLow
/// [`Storage`]: PirError::Storage
/// [`Oprf`]: PirError::Oprf
/// [`RecordLength`]: PirError::RecordLength
/// [`Internal`]: PirError::Internal
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PirError {
    // --- the peer misbehaved (or a bug on its side) ---
    /// A query, answer or hint does not have the length the parameters fix.
    #[error("{what}: {len} words, expected exactly {expected}")]
    BadLength {
        /// Which object.
        what: &'static str,
        /// Its length in 32-bit words.
        len: usize,
        /// The length the parameters require.
        expected: usize,
    },
    /// A batch holds a different number of items than the step requires.
    #[error("{what}: {got} items, expected {expected}")]
    CountMismatch {
        /// Which batch.
        what: &'static str,
        /// Items received.
        got: usize,
        /// Items expected.
        expected: usize,
    },
    /// A batch of queries is larger than we answer.
    #[error("batch of {got} queries, at most {max} allowed")]
    TooManyQueries {
        /// Queries in the batch.
        got: usize,
        /// Our limit.
        max: usize,
    },

    /// The channel failed: framing, wrong step, oversized or truncated message, I/O, timeout.
    #[error(transparent)]
    Channel(#[from] ChannelError),
    /// A keyword-PIR message does not have the length this step requires.
    #[error("{what}: {len} bytes, expected exactly {expected}")]
    BadMessage {
        /// Which message.
        what: &'static str,
        /// Received length in bytes.
        len: usize,
        /// Required length in bytes.
        expected: usize,
    },
    /// A keyword-PIR message is malformed in another way than its length (e.g. a length it
    /// announces is above the step's maximum). Truncated messages and trailing bytes are
    /// [`PirError::BadMessage`].
    #[error("malformed message from peer: {0}")]
    Decode(CodecError),
    /// The server's setup is malformed or beyond our limits.
    #[error("unusable setup from server: {0}")]
    BadSetup(&'static str),
    /// The peer runs with another suite or AEAD.
    #[error("parameter mismatch: we use {what} {ours}, the peer uses {theirs}")]
    Mismatch {
        /// Which parameter.
        what: &'static str,
        /// Ours.
        ours: String,
        /// Theirs.
        theirs: String,
    },
    /// A batch of keys is larger than allowed.
    #[error("batch of {got} keys, at most {max} allowed")]
    TooManyKeys {
        /// Keys in the batch.
        got: usize,
        /// The limit.
        max: usize,
    },
    /// An OPRF element from the peer does not decode (RFC 9497 `DeserializeError`:
    /// non-canonical, off the curve, the identity).
    #[error("peer sent an invalid group element at position {index}: {reason}")]
    InvalidElement {
        /// Position in the batch.
        index: usize,
        /// Why it was rejected.
        reason: &'static str,
    },
    /// The client's hello is malformed.
    #[error("malformed hello from client: {0}")]
    BadHello(&'static str),
    /// A changed hint row is out of range or out of order.
    #[error("hint row {row} out of range or out of order")]
    BadHintRow {
        /// The row index received.
        row: usize,
    },
    /// The server sent a row update for a hint the client does not hold.
    #[error("server sent changed hint rows, but we hold no hint of table version it was made for")]
    NoHintToUpdate,
    /// The client asked for more keys than its quota allows.
    #[error("lookup quota exceeded: {used} keys already, at most {allowed} allowed")]
    QuotaExceeded {
        /// Keys looked up in this session, including the refused batch.
        used: u64,
        /// The limit.
        allowed: u64,
    },
    /// The bucket-revealing mode was asked for k-anonymity the table does not give: even the
    /// coarsest grouping of its buckets (the whole table) holds fewer keys.
    #[error(
        "the table's smallest group of buckets holds {min_group_keys} keys, fewer than the {required} asked for"
    )]
    AnonymityTooLow {
        /// Fewest keys in a group of buckets, as the server announced.
        min_group_keys: u32,
        /// What the client required.
        required: u32,
    },
    /// An entry authenticated under our record key but its content is malformed.
    #[error("server sealed a malformed record: {0}")]
    BadRecord(&'static str),

    // --- local misuse or configuration ---
    /// The OPRF refused a local input (e.g. a key over 65535 bytes).
    #[error("oprf: {0}")]
    Oprf(#[from] OprfError),
    /// A record does not have the database's record length.
    #[error("record {index} is {len} bytes, every record must be {expected}")]
    RecordLength {
        /// Position of the record.
        index: usize,
        /// Its length.
        len: usize,
        /// The database's record length.
        expected: usize,
    },
    /// A requested record does not exist.
    #[error("index {index} out of range: the database has {records} records")]
    IndexOutOfRange {
        /// The requested index.
        index: usize,
        /// Number of records.
        records: usize,
    },
    /// A stored table or hint cache cannot be read or written.
    #[error("storage: {0}")]
    Storage(String),
    /// The requested shape or sizes are not supported.
    #[error("invalid parameters: {0}")]
    Config(String),

    // --- impossible states ---
    /// An invariant of this crate failed.
    #[error("internal error: {0}; please report")]
    Internal(&'static str),
}

impl From<CodecError> for PirError {
    /// A truncated message or trailing bytes are [`PirError::BadMessage`] (what the decoders
    /// always reported), anything else [`PirError::Decode`].
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

impl PirError {
    /// Whose fault this is (see [`PirError`]'s documentation for the mapping).
    pub fn fault(&self) -> Fault {
        match self {
            Self::Channel(e) => e.fault(),
            Self::BadLength { .. }
            | Self::CountMismatch { .. }
            | Self::TooManyQueries { .. }
            | Self::BadMessage { .. }
            | Self::Decode(_)
            | Self::BadSetup(_)
            | Self::TooManyKeys { .. }
            | Self::InvalidElement { .. }
            | Self::BadHello(_)
            | Self::BadHintRow { .. }
            | Self::NoHintToUpdate
            | Self::QuotaExceeded { .. }
            | Self::BadRecord(_)
            | Self::IndexOutOfRange { .. } => Fault::Partner,
            Self::Mismatch { .. } | Self::AnonymityTooLow { .. } | Self::Storage(_) => {
                Fault::Config
            }
            Self::Oprf(_) | Self::RecordLength { .. } | Self::Config(_) => Fault::Input,
            Self::Internal(_) => Fault::Internal,
        }
    }
}

#[cfg(test)]
mod tests {
    use unseen_channel::Header;
    use unseen_channel::codec::Reader;

    use super::*;

    #[test]
    fn faults_of_each_class() {
        let h = Header::new(2, 2, 5);
        for e in [
            PirError::from(Reader::new(&[0; 3], "blinded batch").u32().unwrap_err()),
            PirError::from(
                Reader::new(&[0xff; 4], "setup")
                    .len_u32("metadata", 1)
                    .unwrap_err(),
            ),
            PirError::BadSetup("unknown AEAD"),
            PirError::InvalidElement {
                index: 0,
                reason: "identity",
            },
            PirError::IndexOutOfRange {
                index: 9,
                records: 4,
            },
            PirError::QuotaExceeded {
                used: 11,
                allowed: 10,
            },
            PirError::Channel(ChannelError::FrameTooLarge {
                header: h,
                len: 1 << 40,
                max: 1,
            }),
        ] {
            assert_eq!(e.fault(), Fault::Partner, "{e:?}");
        }
        for e in [
            PirError::Mismatch {
                what: "OPRF suite",
                ours: "sm2".into(),
                theirs: "ristretto255".into(),
            },
            PirError::AnonymityTooLow {
                min_group_keys: 1,
                required: 5,
            },
            PirError::Storage("table.bin: header: not a keyword-PIR table".into()),
        ] {
            assert_eq!(e.fault(), Fault::Config, "{e:?}");
        }
        for e in [
            PirError::Config("record length 0".into()),
            PirError::RecordLength {
                index: 1,
                len: 3,
                expected: 4,
            },
        ] {
            assert_eq!(e.fault(), Fault::Input, "{e:?}");
        }
        assert_eq!(
            PirError::Channel(ChannelError::Timeout { seconds: 300 }).fault(),
            Fault::Network
        );
        assert_eq!(PirError::Internal("shape").fault(), Fault::Internal);
    }

    #[test]
    fn codec_errors_keep_the_length_variant() {
        let e = PirError::from(Reader::new(&[0; 29], "hello").take(30).unwrap_err());
        assert!(
            matches!(
                e,
                PirError::BadMessage {
                    what: "hello",
                    len: 29,
                    expected: 30
                }
            ),
            "{e:?}"
        );
        let e = PirError::from(
            Reader::new(&[0xff; 4], "setup")
                .len_u32("metadata", 1)
                .unwrap_err(),
        );
        assert!(
            matches!(e, PirError::Decode(CodecError::TooLong { .. })),
            "{e:?}"
        );
    }
}
