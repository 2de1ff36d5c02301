//! The client side: queries for chosen records and recovery of their bytes.

use rand_core::CryptoRng;
use zeroize::Zeroize;

use crate::db::{Hint, join_bits};
use crate::matrix::{self, PublicMatrix, Seed};
use crate::params::LWE_N;
use crate::{Answers, MAX_BATCH, Params, PirError, Query, gauss};

/// A SimplePIR client for one database: holds the parameters and the expanded public matrix `A`
/// (`m·n` words, expanded once and reused by every query).
pub struct Client {
    params: Params,
    a: PublicMatrix,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("params", &self.params)
            .finish_non_exhaustive()
    }
}

/// What the client keeps between query and recovery: the indices and the LWE secrets `s_k`.
/// The secrets are wiped on drop and never printed.
pub struct QueryState {
    params: Params,
    indices: Vec<usize>,
    secrets: Vec<Vec<u32>>,
}

impl std::fmt::Debug for QueryState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("QueryState")
            .field("queries", &self.indices.len())
            .field("secrets", &"<redacted>")
            .finish_non_exhaustive()
    }
}

impl Drop for QueryState {
    fn drop(&mut self) {
        for s in &mut self.secrets {
            s.zeroize();
        }
        // Which records were asked for is private too.
        self.indices.zeroize();
    }
}

impl QueryState {
    /// Number of pending queries.
    pub fn len(&self) -> usize {
        self.indices.len()
    }

    /// Whether no query is pending.
    pub fn is_empty(&self) -> bool {
        self.indices.is_empty()
    }
}

impl Client {
    /// A client for the database described by `params`, whose public matrix comes from `seed`.
    pub fn new(params: &Params, seed: &Seed) -> Self {
        Self {
            params: params.clone(),
            a: PublicMatrix::expand(seed, params.cols()),
        }
    }

    /// The parameters.
    pub fn params(&self) -> &Params {
        &self.params
    }

    /// Queries for the records at `indices` (at most [`MAX_BATCH`]), one query each, each with a
    /// fresh secret (SimplePIR §4, `Query`; reusing `s` across queries would reveal `u_i − u_j`).
    ///
    /// For record `i` in column `j`: `s ← Z_q^n` uniform, `e ← χ^m` ([`gauss::sample`]),
    /// `qu = A·s + e + Δ·u_j`.
    pub fn query<R: CryptoRng + ?Sized>(
        &self,
        indices: &[usize],
        rng: &mut R,
    ) -> Result<(QueryState, Vec<Query>), PirError> {
        if indices.len() > MAX_BATCH {
            return Err(PirError::TooManyQueries {
                got: indices.len(),
                max: MAX_BATCH,
            });
        }
        if let Some(&index) = indices.iter().find(|&&i| i >= self.params.records()) {
            return Err(PirError::IndexOutOfRange {
                index,
                records: self.params.records(),
            });
        }
        // s_k ← Z_q^n.
        let secrets: Vec<Vec<u32>> = indices
            .iter()
            .map(|_| (0..LWE_N).map(|_| rng.next_u32()).collect())
            .collect();
        let state = QueryState {
            params: self.params.clone(),
            indices: indices.to_vec(),
            secrets,
        };
        // A·s_k for every k in one pass over A.
        let refs: Vec<&[u32]> = state.secrets.iter().map(Vec::as_slice).collect();
        let mut queries = matrix::mul_vectors(self.a.words(), LWE_N, &refs);
        let delta = self.params.delta();
        for (qu, &index) in queries.iter_mut().zip(indices) {
            // + e
            for x in qu.iter_mut() {
                *x = x.wrapping_add_signed(gauss::sample(rng));
            }
            // + Δ·u_j
            let (col, _) = self.params.position(index);
            qu[col] = qu[col].wrapping_add(delta);
        }
        Ok((state, queries.into_iter().map(Query).collect()))
    }

    /// Recovers the records asked for in `state` from the server's `answers` (SimplePIR §4
    /// `Recover`): for each row `r` the record spans, `d̂ = ans_r − ⟨H_r, s⟩`, rounded to the
    /// nearest multiple of `Δ` and divided by `Δ`, then un-centred (`+ p/2 mod p`); the rows'
    /// `log p`-bit values are joined into the record's bytes.
    pub fn recover(
        &self,
        state: QueryState,
        hint: &Hint,
        answers: &Answers,
    ) -> Result<Vec<Vec<u8>>, PirError> {
        self.check_recover(&state, hint, answers)?;
        let p = &self.params;
        let log_p = p.log_p();
        let mut values = vec![0u32; p.chunks_per_record()];
        let mut records = Vec::with_capacity(state.len());
        for ((&index, s), answer) in state
            .indices
            .iter()
            .zip(&state.secrets)
            .zip(answers.as_slice())
        {
            let (_, row0) = p.position(index);
            for (t, v) in values.iter_mut().enumerate() {
                let r = row0 + t;
                let h_row = &hint.words()[r * LWE_N..(r + 1) * LWE_N];
                *v = decode(p, answer.words()[r].wrapping_sub(matrix::dot(h_row, s)));
            }
            let mut record = vec![0u8; p.record_len()];
            join_bits(&values, log_p, &mut record);
            records.push(record);
        }
        values.zeroize();
        Ok(records)
    }

    /// Recovers whole columns: for each query, every record of the column it asked for (the
    /// `ℓ / chunks` records stacked in that column, top to bottom, each `record_len` bytes, back
    /// to back). SimplePIR's answer already carries the whole column; this computes
    /// `ans − H·s` for all `ℓ` rows (one product `H·[s_1 … s_K]`) instead of the rows of one
    /// record.
    pub fn recover_columns(
        &self,
        state: QueryState,
        hint: &Hint,
        answers: &Answers,
    ) -> Result<Vec<Vec<u8>>, PirError> {
        self.check_recover(&state, hint, answers)?;
        let p = &self.params;
        let refs: Vec<&[u32]> = state.secrets.iter().map(Vec::as_slice).collect();
        let mut hs = matrix::mul_vectors(hint.words(), LWE_N, &refs);
        let log_p = p.log_p();
        let chunks = p.chunks_per_record();
        let per_column = p.rows() / chunks.max(1);
        let mut out = Vec::with_capacity(state.len());
        for (h_s, answer) in hs.iter_mut().zip(answers.as_slice()) {
            for (v, &a) in h_s.iter_mut().zip(answer.words()) {
                *v = decode(p, a.wrapping_sub(*v));
            }
            let mut column = vec![0u8; per_column * p.record_len()];
            for (values, bytes) in h_s
                .chunks_exact(chunks)
                .zip(column.chunks_exact_mut(p.record_len()))
            {
                join_bits(values, log_p, bytes);
            }
            h_s.zeroize();
            out.push(column);
        }
        Ok(out)
    }

    fn check_recover(
        &self,
        state: &QueryState,
        hint: &Hint,
        answers: &Answers,
    ) -> Result<(), PirError> {
        let p = &self.params;
        if state.params != *p {
            return Err(PirError::Config(
                "query state was made for other parameters".to_owned(),
            ));
        }
        if hint.rows() != p.rows() || hint.words().len() != p.hint_len() {
            return Err(PirError::BadLength {
                what: "hint",
                len: hint.words().len(),
                expected: p.hint_len(),
            });
        }
        if answers.len() != state.len() {
            return Err(PirError::CountMismatch {
                what: "answers",
                got: answers.len(),
                expected: state.len(),
            });
        }
        if let Some(a) = answers
            .as_slice()
            .iter()
            .find(|a| a.words().len() != p.rows())
        {
            return Err(PirError::BadLength {
                what: "answer",
                len: a.words().len(),
                expected: p.rows(),
            });
        }
        Ok(())
    }
}

/// `d̂ = Δ·d + noise` rounded to the nearest multiple of `Δ`, divided by `Δ` and un-centred
/// (`+ p/2 mod p`): the stored value `d` (SimplePIR §4 `Recover`).
#[inline]
fn decode(p: &Params, noisy: u32) -> u32 {
    let rounded = noisy.wrapping_add(p.delta() / 2) >> (32 - p.log_p());
    rounded.wrapping_add(p.plaintext_modulus() / 2) & (p.plaintext_modulus() - 1)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::cast_possible_truncation)] // tests

    use rand_chacha::ChaCha20Rng;
    use rand_core::SeedableRng;

    use super::*;
    use crate::{Database, Server};

    /// With every entry at the worst magnitude `−p/2`, the noise `ans_r − ⟨H_r, s⟩ − Δ·d` is
    /// `−(p/2)·Σ_j e_j`: present, a multiple of `p/2`, and well inside `Δ/2` (σ' = σ·(p/2)·√m).
    #[test]
    fn noise_matches_the_analysis() {
        let m = 4096;
        let params = Params::with_columns(m, 2, m).unwrap();
        assert_eq!((params.log_p(), params.rows()), (10, 2));
        let records = vec![[0u8; 2]; m];
        let rows: Vec<&[u8]> = records.iter().map(|r| r.as_slice()).collect();
        let seed = Seed([1; 32]);
        let (db, hint) = Database::build_with(params.clone(), &seed, &rows).unwrap();
        let client = Client::new(&params, &seed);
        let mut rng = ChaCha20Rng::from_seed([2; 32]);
        let (state, queries) = client.query(&[5, 77, 4000], &mut rng).unwrap();
        let answers = Server::answer(&db, &queries).unwrap();
        let half_p = params.plaintext_modulus() / 2;
        let sigma_prime = 6.4 * f64::from(half_p) * (m as f64).sqrt();
        for (s, ans) in state.secrets.iter().zip(answers.as_slice()) {
            for r in 0..params.rows() {
                let h_row = &hint.words()[r * LWE_N..(r + 1) * LWE_N];
                let signal = params.delta().wrapping_mul(half_p).wrapping_neg();
                let noise = ans.words()[r]
                    .wrapping_sub(matrix::dot(h_row, s))
                    .wrapping_sub(signal)
                    .cast_signed();
                assert_ne!(noise, 0);
                assert_eq!(noise.rem_euclid(half_p.cast_signed()), 0);
                assert!(f64::from(noise).abs() < 7.0 * sigma_prime, "noise {noise}");
                assert!(7.0 * sigma_prime < f64::from(params.delta() / 2));
            }
        }
    }
}
