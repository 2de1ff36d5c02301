//! The server side: records to the matrix `D`, the hint `H = D·A`, and batched answers.

use crate::matrix::{self, PublicMatrix, Seed};
use crate::{Answer, Answers, MAX_BATCH, Params, PirError, Query};

/// The server's database as the SimplePIR matrix `D ∈ Z_p^{ℓ×m}`.
///
/// Entries are stored centred, `d − p/2 ∈ [−p/2, p/2)`, as in the paper's artifact: this halves
/// the magnitude of the noise `⟨D_i, e⟩` the correctness bound is about (see
/// [`crate::params::max_log_p`]).
pub struct Database {
    params: Params,
    seed: Seed,
    entries: Vec<i16>,
}

impl std::fmt::Debug for Database {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The records are the server's private data: never printed.
        f.debug_struct("Database")
            .field("params", &self.params)
            .field("seed", &self.seed)
            .finish_non_exhaustive()
    }
}

/// The hint `H = D·A ∈ Z_q^{ℓ×n}`, downloaded once by each client (public to the client, but it
/// depends on the whole database).
#[derive(Clone, PartialEq, Eq)]
pub struct Hint {
    rows: usize,
    words: Vec<u32>,
}

impl std::fmt::Debug for Hint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Hint")
            .field("rows", &self.rows)
            .finish_non_exhaustive()
    }
}

impl Hint {
    /// Wraps hint words received from the server, checking the length `ℓ·n` of `params`.
    pub fn from_words(params: &Params, words: Vec<u32>) -> Result<Self, PirError> {
        if words.len() != params.hint_len() {
            return Err(PirError::BadLength {
                what: "hint",
                len: words.len(),
                expected: params.hint_len(),
            });
        }
        Ok(Self {
            rows: params.rows(),
            words,
        })
    }

    /// The words, row-major `ℓ × n`.
    pub fn words(&self) -> &[u32] {
        &self.words
    }

    /// Number of rows `ℓ`.
    pub fn rows(&self) -> usize {
        self.rows
    }
}

impl Database {
    /// Lays out `records` (each exactly `record_len` bytes) in a matrix of the default shape
    /// ([`Params::new`]) and computes the hint under the public matrix expanded from `seed`.
    pub fn build(
        seed: &Seed,
        records: &[&[u8]],
        record_len: usize,
    ) -> Result<(Self, Hint), PirError> {
        let params = Params::new(records.len(), record_len)?;
        Self::build_with(params, seed, records)
    }

    /// As [`Database::build`], with explicit parameters (e.g. [`Params::with_columns`]).
    pub fn build_with(
        params: Params,
        seed: &Seed,
        records: &[&[u8]],
    ) -> Result<(Self, Hint), PirError> {
        if records.len() != params.records() {
            return Err(PirError::CountMismatch {
                what: "records",
                got: records.len(),
                expected: params.records(),
            });
        }
        let entries = encode(&params, records)?;
        let a = PublicMatrix::expand(seed, params.cols());
        let words = matrix::hint(&entries, params.cols(), &a);
        let hint = Hint {
            rows: params.rows(),
            words,
        };
        let db = Self {
            params,
            seed: *seed,
            entries,
        };
        Ok((db, hint))
    }

    /// The public parameters.
    pub fn params(&self) -> &Params {
        &self.params
    }

    /// The seed of the public matrix.
    pub fn seed(&self) -> &Seed {
        &self.seed
    }
}

/// The SimplePIR server: stateless apart from the database.
#[derive(Debug)]
pub struct Server;

impl Server {
    /// Answers a batch of queries: `ans_k = D·qu_k` for every `k`, computed as one
    /// matrix–matrix product `D·[qu_1 … qu_K]` that reads `D` once.
    ///
    /// Every query must have length `m`; at most [`MAX_BATCH`] queries.
    pub fn answer(db: &Database, queries: &[Query]) -> Result<Answers, PirError> {
        if queries.len() > MAX_BATCH {
            return Err(PirError::TooManyQueries {
                got: queries.len(),
                max: MAX_BATCH,
            });
        }
        let m = db.params.cols();
        for q in queries {
            if q.words().len() != m {
                return Err(PirError::BadLength {
                    what: "query",
                    len: q.words().len(),
                    expected: m,
                });
            }
        }
        let vs: Vec<&[u32]> = queries.iter().map(Query::words).collect();
        let out = matrix::mul_vectors(&db.entries, m, &vs);
        Ok(Answers(out.into_iter().map(Answer).collect()))
    }
}

/// Places each record's bits, `log p` at a time (little-endian bit order), in consecutive rows of
/// its column; unused cells hold the value 0. Values are stored centred (`v − p/2`).
fn encode(params: &Params, records: &[&[u8]]) -> Result<Vec<i16>, PirError> {
    let half = i32::try_from(params.plaintext_modulus() / 2)
        .map_err(|_| PirError::Internal("plaintext modulus exceeds i32"))?;
    let zero = i16::try_from(-half).map_err(|_| PirError::Internal("p/2 exceeds i16"))?;
    let m = params.cols();
    let mut entries = vec![zero; params.rows() * m];
    let mut chunks = vec![0u32; params.chunks_per_record()];
    for (index, record) in records.iter().enumerate() {
        if record.len() != params.record_len() {
            return Err(PirError::RecordLength {
                index,
                len: record.len(),
                expected: params.record_len(),
            });
        }
        split_bits(record, params.log_p(), &mut chunks);
        let (col, row0) = params.position(index);
        for (t, &v) in chunks.iter().enumerate() {
            let v = i32::try_from(v).map_err(|_| PirError::Internal("chunk exceeds i32"))?;
            entries[(row0 + t) * m + col] = i16::try_from(v - half)
                .map_err(|_| PirError::Internal("centred entry exceeds i16"))?;
        }
    }
    Ok(entries)
}

/// Splits `bytes` into `out.len()` values of `bits` bits each, little-endian, zero-padded.
pub(crate) fn split_bits(bytes: &[u8], bits: u32, out: &mut [u32]) {
    let mask = (1u64 << bits) - 1;
    let mut acc = 0u64;
    let mut have = 0u32;
    let mut input = bytes.iter();
    for o in out.iter_mut() {
        while have < bits {
            let Some(&b) = input.next() else {
                break;
            };
            acc |= u64::from(b) << have;
            have += 8;
        }
        // The mask keeps `bits` ≤ 15 bits, so the value fits u32.
        *o = u32::try_from(acc & mask).unwrap_or(0);
        acc >>= bits;
        have = have.saturating_sub(bits);
    }
}

/// Inverse of [`split_bits`]: writes the first `out.len()` bytes of the bit string.
pub(crate) fn join_bits(values: &[u32], bits: u32, out: &mut [u8]) {
    let mut acc = 0u64;
    let mut have = 0u32;
    let mut values = values.iter();
    for o in out.iter_mut() {
        while have < 8 {
            let Some(&v) = values.next() else {
                break;
            };
            acc |= u64::from(v) << have;
            have += bits;
        }
        *o = (acc & 0xff).to_le_bytes()[0];
        acc >>= 8;
        have = have.saturating_sub(8);
    }
}
