//! The public matrix `A` and the three products of SimplePIR: `H = D·A`, `D·qu` and `A·s`.
//!
//! All arithmetic is modulo `q = 2^32`, i.e. wrapping `u32`. The inner loops are plain
//! multiply-add folds over two contiguous slices, which LLVM vectorises.

use rand_chacha::ChaCha20Rng;
use rand_core::{Rng, SeedableRng};
use rayon::prelude::*;

use crate::params::LWE_N;

/// Rows of `D` (or `A`) per parallel task: the tile stays in L2 while the other operand streams.
const ROW_TILE: usize = 16;
/// Rows of `A` expanded per task.
const EXPAND_TILE: usize = 256;

/// The 32-byte seed from which both parties expand the public LWE matrix `A`.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Seed(pub [u8; 32]);

impl std::fmt::Debug for Seed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Public, but 64 hex digits help nobody reading a log.
        write!(
            f,
            "Seed({:02x}{:02x}{:02x}{:02x}…)",
            self.0[0], self.0[1], self.0[2], self.0[3]
        )
    }
}

/// The public LWE matrix `A ∈ Z_q^{m×n}`, row-major.
///
/// `A[j][t]` is the `(j·n + t)`-th little-endian 32-bit word of the ChaCha20 keystream (stream 0,
/// from block 0) under the key [`Seed`]: a PRG expansion, so that `A` is never sent (the paper
/// suggests deriving `A` from a short seed, modelling the PRG as a random oracle).
pub struct PublicMatrix {
    cols: usize,
    words: Vec<u32>,
}

impl std::fmt::Debug for PublicMatrix {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PublicMatrix")
            .field("rows", &self.cols)
            .field("n", &LWE_N)
            .finish_non_exhaustive()
    }
}

impl PublicMatrix {
    /// Expands `A` with `m` rows (the database's column count) from `seed`.
    pub fn expand(seed: &Seed, m: usize) -> Self {
        let mut words = vec![0u32; m * LWE_N];
        words
            .par_chunks_mut(EXPAND_TILE * LWE_N)
            .enumerate()
            .for_each(|(tile, out)| {
                let mut rng = ChaCha20Rng::from_seed(seed.0);
                rng.set_stream(0);
                // Word offsets fit in u128 for any in-memory matrix.
                rng.set_word_pos((tile * EXPAND_TILE * LWE_N) as u128);
                let mut bytes = vec![0u8; out.len() * 4];
                rng.fill_bytes(&mut bytes);
                for (w, b) in out.iter_mut().zip(bytes.chunks_exact(4)) {
                    *w = u32::from_le_bytes([b[0], b[1], b[2], b[3]]);
                }
            });
        Self { cols: m, words }
    }

    /// Number of rows (`m`).
    pub fn rows(&self) -> usize {
        self.cols
    }

    /// Row `j` of `A` (`n` words), if `j < m`.
    pub fn row(&self, j: usize) -> Option<&[u32]> {
        self.words.chunks_exact(LWE_N).nth(j)
    }

    pub(crate) fn words(&self) -> &[u32] {
        &self.words
    }
}

/// A matrix entry that widens to `Z_q`.
pub(crate) trait Entry: Copy + Send + Sync {
    fn widen(self) -> u32;
}

impl Entry for u32 {
    #[inline(always)]
    fn widen(self) -> u32 {
        self
    }
}

impl Entry for i16 {
    #[inline(always)]
    fn widen(self) -> u32 {
        // A centred entry d ∈ [−p/2, p/2) is d mod 2^32.
        i32::from(self).cast_unsigned()
    }
}

/// `Σ a_t·b_t mod 2^32`.
#[inline(always)]
pub(crate) fn dot<T: Entry>(a: &[T], b: &[u32]) -> u32 {
    a.iter().zip(b).fold(0u32, |acc, (&x, &y)| {
        acc.wrapping_add(x.widen().wrapping_mul(y))
    })
}

/// `M·[v_1 … v_K]` for a row-major `M` with `width` columns, as K vectors of `M`'s height.
///
/// One pass over `M`: tasks take tiles of [`ROW_TILE`] rows and, while the tile is in cache,
/// multiply it by every `v_k` (each `v_k` is read once per tile). This is the batched answer of
/// paper's batched queries, and the client's `A·s` for K secrets.
pub(crate) fn mul_vectors<T: Entry>(m: &[T], width: usize, vs: &[&[u32]]) -> Vec<Vec<u32>> {
    let k = vs.len();
    if k == 0 || width == 0 {
        return vec![vec![0; m.len().checked_div(width).unwrap_or(0)]; k];
    }
    let height = m.len() / width;
    // Row-major height × K, so that tiles own disjoint chunks; transposed at the end.
    let mut out = vec![0u32; height * k];
    out.par_chunks_mut(ROW_TILE * k)
        .zip(m.par_chunks(ROW_TILE * width))
        .for_each(|(o, tile)| {
            for (qi, v) in vs.iter().enumerate() {
                for (r, row) in tile.chunks_exact(width).enumerate() {
                    o[r * k + qi] = dot(row, v);
                }
            }
        });
    let mut res = vec![Vec::with_capacity(height); k];
    for row in out.chunks_exact(k) {
        for (r, &x) in res.iter_mut().zip(row) {
            r.push(x);
        }
    }
    res
}

/// The hint `H = D·A` (`ℓ × n`, row-major) for a row-major `D` with `m` columns.
///
/// Tasks take tiles of [`ROW_TILE`] rows of `D`; for each row `j` of `A` (contiguous, 4 KiB) they
/// add `D[i][j]·A[j]` into the tile's `H` rows (an axpy over `n` words), so `H`'s tile stays in
/// cache while `A` streams.
pub(crate) fn hint(d: &[i16], m: usize, a: &PublicMatrix) -> Vec<u32> {
    let rows = d.len().checked_div(m).unwrap_or(0);
    let mut h = vec![0u32; rows * LWE_N];
    h.par_chunks_mut(ROW_TILE * LWE_N)
        .zip(d.par_chunks(ROW_TILE * m))
        .for_each(|(h_tile, d_tile)| {
            for (j, a_row) in a.words().chunks_exact(LWE_N).enumerate() {
                for (h_row, d_row) in h_tile.chunks_exact_mut(LWE_N).zip(d_tile.chunks_exact(m)) {
                    let x = d_row[j].widen();
                    for (hv, &av) in h_row.iter_mut().zip(a_row) {
                        *hv = hv.wrapping_add(x.wrapping_mul(av));
                    }
                }
            }
        });
    h
}
