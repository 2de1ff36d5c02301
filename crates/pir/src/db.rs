//! The server side: records to the matrix `D`, the hint `H = D·A`, and batched answers.

use crate::matrix::{self, PublicMatrix, Seed};
use crate::params::LWE_N;
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

    /// Row `r` (`n` words), if `r < ℓ`.
    pub fn row(&self, r: usize) -> Option<&[u32]> {
        self.words.get(r * LWE_N..(r + 1) * LWE_N)
    }

    /// Overwrites row `r` with `words` (`n` of them): how a client applies the rows of a hint
    /// that changed since its copy.
    pub fn set_row(&mut self, r: usize, words: &[u32]) -> Result<(), PirError> {
        if words.len() != LWE_N {
            return Err(PirError::BadLength {
                what: "hint row",
                len: words.len(),
                expected: LWE_N,
            });
        }
        let Some(row) = self.words.get_mut(r * LWE_N..(r + 1) * LWE_N) else {
            return Err(PirError::IndexOutOfRange {
                index: r,
                records: self.rows,
            });
        };
        row.copy_from_slice(words);
        Ok(())
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
        let db = Self::from_records(params, seed, records)?;
        let a = PublicMatrix::expand(seed, db.params.cols());
        let words = matrix::hint(&db.entries, db.params.cols(), &a);
        let hint = Hint {
            rows: db.params.rows(),
            words,
        };
        Ok((db, hint))
    }

    /// Lays out `records` without computing the hint (for a database reloaded together with its
    /// stored hint).
    pub fn from_records(params: Params, seed: &Seed, records: &[&[u8]]) -> Result<Self, PirError> {
        if records.len() != params.records() {
            return Err(PirError::CountMismatch {
                what: "records",
                got: records.len(),
                expected: params.records(),
            });
        }
        let entries = encode(&params, records)?;
        Ok(Self {
            params,
            seed: *seed,
            entries,
        })
    }

    /// Replaces record `index` by `record` in place and keeps `hint` equal to `D·A`: each of the
    /// record's rows `r` changes by `δ_r` in column `j` only, so `H_r += δ_r·A_j` (`n` words per
    /// row instead of a new `D·A`). Returns the range of rows that changed.
    ///
    /// `a` must be the matrix expanded from this database's seed.
    pub fn replace(
        &mut self,
        hint: &mut Hint,
        a: &PublicMatrix,
        index: usize,
        record: &[u8],
    ) -> Result<std::ops::Range<usize>, PirError> {
        let p = &self.params;
        if index >= p.records() {
            return Err(PirError::IndexOutOfRange {
                index,
                records: p.records(),
            });
        }
        if record.len() != p.record_len() {
            return Err(PirError::RecordLength {
                index,
                len: record.len(),
                expected: p.record_len(),
            });
        }
        if hint.rows != p.rows() || a.rows() != p.cols() {
            return Err(PirError::Config(
                "hint or public matrix of another database".to_owned(),
            ));
        }
        let half = i32::try_from(p.plaintext_modulus() / 2)
            .map_err(|_| PirError::Internal("plaintext modulus exceeds i32"))?;
        let mut chunks = vec![0u32; p.chunks_per_record()];
        split_bits(record, p.log_p(), &mut chunks);
        let (col, row0) = p.position(index);
        let m = p.cols();
        let a_row = a
            .row(col)
            .ok_or(PirError::Internal("column beyond the public matrix"))?;
        for (t, &v) in chunks.iter().enumerate() {
            let v = i32::try_from(v).map_err(|_| PirError::Internal("chunk exceeds i32"))?;
            let new = i16::try_from(v - half)
                .map_err(|_| PirError::Internal("centred entry exceeds i16"))?;
            let r = row0 + t;
            let cell = &mut self.entries[r * m + col];
            let delta = i32::from(new)
                .wrapping_sub(i32::from(*cell))
                .cast_unsigned();
            *cell = new;
            if delta != 0 {
                let h_row = &mut hint.words[r * LWE_N..(r + 1) * LWE_N];
                for (h, &x) in h_row.iter_mut().zip(a_row) {
                    *h = h.wrapping_add(delta.wrapping_mul(x));
                }
            }
        }
        Ok(row0..row0 + chunks.len())
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
