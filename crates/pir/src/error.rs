//! Errors of the PIR core and of keyword PIR, sorted by whose fault they are.

use unseen_channel::ChannelError;
use unseen_crypto::oprf::OprfError;

/// Why a PIR operation failed.
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
