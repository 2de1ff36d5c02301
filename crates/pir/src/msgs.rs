//! What travels between client and server: queries and answers, with their fixed lengths.
//!
//! No framing here (the keyword-PIR protocol frames these in [`crate::keyword::msgs`]); the byte
//! forms are little-endian 32-bit words, and decoding checks the exact length the [`Params`] fix
//! through [`unseen_channel::codec::Reader`] before allocating.

use unseen_channel::codec::Reader;

use crate::{Params, PirError};

/// A SimplePIR query `qu = A·s + e + Δ·u_j ∈ Z_q^m` (length `m` = [`Params::query_len`]).
#[derive(Clone, PartialEq, Eq)]
pub struct Query(pub(crate) Vec<u32>);

/// The answer to one query, `ans = D·qu ∈ Z_q^ℓ` (length `ℓ` = [`Params::answer_len`]).
#[derive(Clone, PartialEq, Eq)]
pub struct Answer(pub(crate) Vec<u32>);

/// The answers to a batch of queries, in the order of the queries.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Answers(pub(crate) Vec<Answer>);

impl std::fmt::Debug for Query {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Query({} words)", self.0.len())
    }
}

impl std::fmt::Debug for Answer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Answer({} words)", self.0.len())
    }
}

impl Query {
    /// The words.
    pub fn words(&self) -> &[u32] {
        &self.0
    }

    /// Little-endian bytes (`4·m`).
    pub fn to_bytes(&self) -> Vec<u8> {
        words_to_bytes(&self.0)
    }

    /// Decodes a query for `params`, rejecting any length other than `4·m` before allocating.
    pub fn from_bytes(params: &Params, bytes: &[u8]) -> Result<Self, PirError> {
        words_from_bytes("query", bytes, params.query_len()).map(Self)
    }
}

impl Answer {
    /// The words.
    pub fn words(&self) -> &[u32] {
        &self.0
    }

    /// Little-endian bytes (`4·ℓ`).
    pub fn to_bytes(&self) -> Vec<u8> {
        words_to_bytes(&self.0)
    }

    /// Decodes an answer for `params`, rejecting any length other than `4·ℓ` before allocating.
    pub fn from_bytes(params: &Params, bytes: &[u8]) -> Result<Self, PirError> {
        words_from_bytes("answer", bytes, params.answer_len()).map(Self)
    }
}

impl Answers {
    /// Wraps decoded answers.
    pub fn new(answers: Vec<Answer>) -> Self {
        Self(answers)
    }

    /// The answers, in query order.
    pub fn as_slice(&self) -> &[Answer] {
        &self.0
    }

    /// Number of answers.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

fn words_to_bytes(words: &[u32]) -> Vec<u8> {
    words.iter().flat_map(|w| w.to_le_bytes()).collect()
}

fn words_from_bytes(what: &'static str, bytes: &[u8], words: usize) -> Result<Vec<u32>, PirError> {
    // Lengths of these objects are counted in words, not bytes.
    let b = Reader::read_all(bytes, what, |r| r.take_items(words, 4)).map_err(|_| {
        PirError::BadLength {
            what,
            len: bytes.len() / 4,
            expected: words,
        }
    })?;
    Ok(b.chunks_exact(4)
        .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect())
}
