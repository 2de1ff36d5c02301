//! LWE parameters (SimplePIR §4 / the artifact's `params.csv`) and the database shape.

use crate::PirError;

/// LWE secret dimension `n` (SimplePIR §4: `n = 2^10`).
pub const LWE_N: usize = 1024;
/// `log2 q`: the ciphertext modulus is `q = 2^32`, so arithmetic is wrapping `u32` (§4).
pub const LOG_Q: u32 = 32;
/// Standard deviation `σ` of the discrete Gaussian error (§4: `σ = 6.4`).
pub const SIGMA: f64 = 6.4;
/// `-log2 δ`: the per-entry correctness failure probability the plaintext modulus is chosen
/// for (`δ = 2^-40`, as in the paper).
pub const FAILURE_LOG2: u32 = 40;
/// Largest number of matrix columns (LWE samples per query): the largest `m` for which the
/// paper's artifact lists parameters (`params.csv`, `log m ≤ 21`).
pub const MAX_COLS: usize = 1 << 21;
/// Largest `log2 p` we use: entries are stored centred in `i16`.
pub const MAX_LOG_P: u32 = 15;

/// Largest `k` such that the plaintext modulus `p = 2^k` keeps the failure probability of one
/// recovered entry at most `2^-40` when the matrix has `cols` columns, or `None` if no `k ≥ 1`
/// does.
///
/// The answer row minus `H·s` is `Δ·d + ⟨D_i, e⟩` with centred entries `|D_ij| ≤ p/2` and
/// `e_j` Gaussian of parameter `σ`, so the noise is subgaussian with parameter at most
/// `σ·(p/2)·√m`; rounding is correct while it stays below `Δ/2 = q/(2p)`. The Gaussian tail bound
/// `2·exp(−t²/(2σ'²)) ≤ δ` gives the condition of SimplePIR's correctness analysis (§4 and its
/// appendix):
///
/// ```text
/// p² · σ · √m · √(2 ln(2/δ)) ≤ q,   i.e.   p⁴ · m · σ² · 2 ln(2/δ) ≤ q².
/// ```
///
/// The largest integer `p` it allows reproduces the paper's `params.csv` exactly for
/// `m = 2^13 … 2^21` (991, 833, 701, 589, 495, 416, 350, 294, 247); we take the largest power of
/// two below it, so that `Δ = q/p` is exact and an entry is a whole number of bits.
pub fn max_log_p(cols: usize) -> Option<u32> {
    let ln_2_over_delta = f64::from(FAILURE_LOG2 + 1) * std::f64::consts::LN_2;
    // m as f64 is exact: cols ≤ 2^21 in every caller, and rounding would only move the bound by
    // far less than one power of two anyway.
    let lhs_without_p = cols as f64 * SIGMA * SIGMA * 2.0 * ln_2_over_delta;
    let q_squared = 2f64.powi(2 * 32);
    (1..=MAX_LOG_P)
        .rev()
        .find(|&k| 2f64.powi(4 * i32::try_from(k).unwrap_or(i32::MAX)) * lhs_without_p <= q_squared)
}

/// Public parameters of one database: its size and the shape of its matrix.
///
/// The database is an `ℓ × m` matrix `D` over `Z_p` ([`Params::rows`] × [`Params::cols`]). Record
/// `i` lives in column `i mod m`, in the `chunks` consecutive rows starting at
/// `(i div m)·chunks`, where `chunks = ⌈8·record_len / log p⌉` ([`Params::chunks_per_record`]).
/// Both parties derive the same `Params` from `(records, record_len)` (and the column count, if
/// chosen explicitly).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Params {
    records: usize,
    record_len: usize,
    rows: usize,
    cols: usize,
    log_p: u32,
    chunks: usize,
}

impl Params {
    /// Parameters for `records` records of `record_len` bytes, with the number of columns `m`
    /// (a power of two) chosen to minimise the online traffic per query, `ℓ + m` words (the
    /// square-ish shape of SimplePIR §4; ties go to the wider matrix, whose hint is smaller).
    pub fn new(records: usize, record_len: usize) -> Result<Self, PirError> {
        let mut best: Option<Self> = None;
        let mut cols = 1usize;
        while cols <= MAX_COLS {
            if let Ok(p) = Self::with_columns(records, record_len, cols) {
                let cost = p.rows.saturating_add(p.cols);
                if best
                    .as_ref()
                    .is_none_or(|b| cost <= b.rows.saturating_add(b.cols))
                {
                    best = Some(p);
                }
            }
            // Beyond the next power of two above `records`, columns would only be empty.
            if cols >= records {
                break;
            }
            cols <<= 1;
        }
        best.ok_or_else(|| {
            PirError::Config(format!(
                "no matrix shape holds {records} records of {record_len} bytes"
            ))
        })
    }

    /// Parameters with exactly `cols` columns (`1 ≤ cols ≤ 2^21`).
    pub fn with_columns(records: usize, record_len: usize, cols: usize) -> Result<Self, PirError> {
        if records == 0 || record_len == 0 {
            return Err(PirError::Config(format!(
                "{records} records of {record_len} bytes: both must be positive"
            )));
        }
        if cols == 0 || cols > MAX_COLS {
            return Err(PirError::Config(format!(
                "{cols} columns, must be between 1 and {MAX_COLS}"
            )));
        }
        let log_p = max_log_p(cols).ok_or_else(|| {
            PirError::Config(format!(
                "no plaintext modulus is correct with {cols} columns"
            ))
        })?;
        let too_big = || {
            PirError::Config(format!(
                "{records} records of {record_len} bytes in {cols} columns overflow"
            ))
        };
        let bits = record_len.checked_mul(8).ok_or_else(too_big)?;
        let chunks = bits.div_ceil(log_p as usize);
        let rows = records
            .div_ceil(cols)
            .checked_mul(chunks)
            .ok_or_else(too_big)?;
        // Every size a caller will allocate must fit: D (ℓ·m) and the hint (ℓ·n words, bytes).
        rows.checked_mul(cols).ok_or_else(too_big)?;
        rows.checked_mul(LWE_N)
            .and_then(|w| w.checked_mul(4))
            .ok_or_else(too_big)?;
        Ok(Self {
            records,
            record_len,
            rows,
            cols,
            log_p,
            chunks,
        })
    }

    /// Number of records.
    pub fn records(&self) -> usize {
        self.records
    }

    /// Bytes per record.
    pub fn record_len(&self) -> usize {
        self.record_len
    }

    /// `ℓ`: rows of the matrix, which is also the length of an answer.
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// `m`: columns of the matrix, which is also the length of a query.
    pub fn cols(&self) -> usize {
        self.cols
    }

    /// `log2 p`: bits per matrix entry.
    pub fn log_p(&self) -> u32 {
        self.log_p
    }

    /// The plaintext modulus `p = 2^log_p`.
    pub fn plaintext_modulus(&self) -> u32 {
        1 << self.log_p
    }

    /// `Δ = ⌊q/p⌋ = 2^(32 − log p)`.
    pub fn delta(&self) -> u32 {
        1 << (LOG_Q - self.log_p)
    }

    /// Matrix rows one record spans: `⌈8·record_len / log p⌉`.
    pub fn chunks_per_record(&self) -> usize {
        self.chunks
    }

    /// Words in a query (`m`).
    pub fn query_len(&self) -> usize {
        self.cols
    }

    /// Words in an answer (`ℓ`).
    pub fn answer_len(&self) -> usize {
        self.rows
    }

    /// Words in the hint (`ℓ·n`).
    pub fn hint_len(&self) -> usize {
        self.rows * LWE_N
    }

    /// Bytes of one query on the wire (4 per word).
    pub fn query_bytes(&self) -> usize {
        self.cols * 4
    }

    /// Bytes of one answer on the wire.
    pub fn answer_bytes(&self) -> usize {
        self.rows * 4
    }

    /// Bytes of the hint.
    pub fn hint_bytes(&self) -> usize {
        self.hint_len() * 4
    }

    /// `(column, first row)` of record `index`.
    pub(crate) fn position(&self, index: usize) -> (usize, usize) {
        (index % self.cols, (index / self.cols) * self.chunks)
    }
}
