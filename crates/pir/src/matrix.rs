//! The public matrix `A` and the products of SimplePIR: `H = D·A`, `D·qu`, `A·s` and `H·s`.
//!
//! All arithmetic is modulo `q = 2^32`, i.e. wrapping `u32`. The portable kernels are plain
//! multiply-add folds over two contiguous slices, which LLVM vectorises for the baseline target
//! (SSE2, which has no 32-bit lane multiply). On x86-64 CPUs with AVX-512 (F, BW) or AVX2, the
//! [`simd`] kernels are used instead, chosen once per process ([`kernel_name`] reports which);
//! setting `UNSEEN_NO_SIMD` (any value) forces the portable ones. Both give identical results.

use std::sync::OnceLock;

use rand_chacha::ChaCha20Rng;
use rand_core::{Rng, SeedableRng};
use rayon::prelude::*;

use crate::params::LWE_N;

#[cfg(target_arch = "x86_64")]
mod simd;

#[cfg(target_arch = "x86_64")]
use simd::Simd;

/// No SIMD kernels on this architecture: the type has no values, so the portable path is the
/// only one.
#[cfg(not(target_arch = "x86_64"))]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Simd {}

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

/// The SIMD kernels this process uses: the widest the CPU supports, or none if it supports
/// none or `UNSEEN_NO_SIMD` is set. Decided once.
fn simd() -> Option<Simd> {
    static CHOICE: OnceLock<Option<Simd>> = OnceLock::new();
    *CHOICE.get_or_init(|| choose(std::env::var_os("UNSEEN_NO_SIMD").is_some()))
}

fn choose(no_simd: bool) -> Option<Simd> {
    if no_simd {
        return None;
    }
    #[cfg(target_arch = "x86_64")]
    return Simd::detect();
    #[cfg(not(target_arch = "x86_64"))]
    None
}

/// Which kernels the matrix products use in this process: `"avx512vnni"`, `"avx512"`, `"avx2"`
/// or `"portable"` (for benchmark reports).
pub fn kernel_name() -> &'static str {
    simd().map_or("portable", Simd::name)
}

/// A matrix entry that widens to `Z_q`.
pub(crate) trait Entry: Copy + Send + Sync {
    fn widen(self) -> u32;

    /// `out = M·B` on the blocked SIMD kernel for this entry type (see [`Simd::mul_i16`]).
    fn simd_mul(simd: Simd, m: &[Self], width: usize, b: Right<'_>, out: &mut [u32]);

    /// The number of vectors from which [`mul_vectors`] uses [`Entry::simd_mul`].
    fn blocked_from(simd: Simd) -> usize;
}

impl Entry for u32 {
    #[inline(always)]
    fn widen(self) -> u32 {
        self
    }

    fn simd_mul(simd: Simd, m: &[Self], width: usize, b: Right<'_>, out: &mut [u32]) {
        simd.mul_u32(m, width, b, out);
    }

    fn blocked_from(simd: Simd) -> usize {
        simd.blocked_from_u32()
    }
}

impl Entry for i16 {
    #[inline(always)]
    fn widen(self) -> u32 {
        // A centred entry d ∈ [−p/2, p/2) is d mod 2^32.
        i32::from(self).cast_unsigned()
    }

    fn simd_mul(simd: Simd, m: &[Self], width: usize, b: Right<'_>, out: &mut [u32]) {
        simd.mul_i16(m, width, b, out);
    }

    fn blocked_from(simd: Simd) -> usize {
        simd.blocked_from_i16()
    }
}

/// The right-hand factor `B` (`width × n`) of a product `M·B`.
#[derive(Clone, Copy)]
pub(crate) enum Right<'a> {
    /// `B[j][c] = vs[c][j]`: the columns of `B` are the vectors (each at least `width` long).
    Columns(&'a [&'a [u32]]),
    /// `B` row-major with `n` columns.
    Rows { words: &'a [u32], n: usize },
}

impl Right<'_> {
    /// Number of columns `n`.
    #[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
    fn n(&self) -> usize {
        match self {
            Self::Columns(vs) => vs.len(),
            Self::Rows { n, .. } => *n,
        }
    }

    /// `B[j][c]`.
    #[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
    #[inline(always)]
    fn at(&self, j: usize, c: usize) -> u32 {
        match self {
            Self::Columns(vs) => vs[c][j],
            Self::Rows { words, n } => words[j * n + c],
        }
    }
}

/// `Σ a_t·b_t mod 2^32`.
#[inline(always)]
pub(crate) fn dot<T: Entry>(a: &[T], b: &[u32]) -> u32 {
    match simd() {
        Some(s) => s.dot(a, b),
        None => portable_dot(a, b),
    }
}

/// [`dot`] on the portable path; also the loop body the SIMD kernels compile with more
/// instructions enabled.
#[inline(always)]
fn portable_dot<T: Entry>(a: &[T], b: &[u32]) -> u32 {
    a.iter().zip(b).fold(0u32, |acc, (&x, &y)| {
        acc.wrapping_add(x.widen().wrapping_mul(y))
    })
}

/// `M·[v_1 … v_K]` for a row-major `M` with `width` columns, as K vectors of `M`'s height.
///
/// Portable: one pass over `M`; tasks take tiles of [`ROW_TILE`] rows and, while the tile is in
/// cache, multiply it by every `v_k` (each `v_k` is read once per tile). With SIMD, the same for
/// a few vectors, and a blocked product (`simd::Simd::mul_i16`) from [`Entry::blocked_from`]
/// vectors on. This is the batched answer of the paper's batched queries, and the client's
/// `A·s` (and `H·s`) for K secrets.
pub(crate) fn mul_vectors<T: Entry>(m: &[T], width: usize, vs: &[&[u32]]) -> Vec<Vec<u32>> {
    mul_vectors_with(simd(), m, width, vs)
}

/// [`mul_vectors`] on the given kernels (`None`: portable).
fn mul_vectors_with<T: Entry>(
    simd: Option<Simd>,
    m: &[T],
    width: usize,
    vs: &[&[u32]],
) -> Vec<Vec<u32>> {
    let k = vs.len();
    if k == 0 || width == 0 {
        return vec![vec![0; m.len().checked_div(width).unwrap_or(0)]; k];
    }
    let height = m.len() / width;
    // Row-major height × K, so that tiles own disjoint chunks; transposed at the end.
    let mut out = vec![0u32; height * k];
    // The SIMD kernels read `width` entries of every vector; shorter ones (never passed by this
    // crate) keep the portable semantics of a dot product over the shorter length.
    let simd = simd.filter(|_| height > 0 && vs.iter().all(|v| v.len() >= width));
    match simd {
        Some(s) if k >= T::blocked_from(s) => {
            T::simd_mul(s, &m[..height * width], width, Right::Columns(vs), &mut out);
        }
        Some(s) => out
            .par_chunks_mut(ROW_TILE * k)
            .zip(m.par_chunks(ROW_TILE * width))
            .for_each(|(o, tile)| s.tile_dots(tile, width, vs, o)),
        None => out
            .par_chunks_mut(ROW_TILE * k)
            .zip(m.par_chunks(ROW_TILE * width))
            .for_each(|(o, tile)| tile_dots(tile, width, vs, o)),
    }
    let mut res = vec![Vec::with_capacity(height); k];
    for row in out.chunks_exact(k) {
        for (r, &x) in res.iter_mut().zip(row) {
            r.push(x);
        }
    }
    res
}

/// `o[r·K + k] = ⟨tile row r, v_k⟩` for the rows of one tile: the loop body of [`mul_vectors`].
#[inline(always)]
fn tile_dots<T: Entry>(tile: &[T], width: usize, vs: &[&[u32]], o: &mut [u32]) {
    let k = vs.len();
    for (qi, v) in vs.iter().enumerate() {
        for (r, row) in tile.chunks_exact(width).enumerate() {
            o[r * k + qi] = portable_dot(row, v);
        }
    }
}

/// The hint `H = D·A` (`ℓ × n`, row-major) for a row-major `D` with `m` columns.
///
/// Portable: tasks take tiles of [`ROW_TILE`] rows of `D`; for each row `j` of `A` (contiguous,
/// 4 KiB) they add `D[i][j]·A[j]` into the tile's `H` rows (an axpy over `n` words), so `H`'s
/// tile stays in cache while `A` streams. With SIMD, the blocked product
/// `simd::Simd::mul_i16`.
pub(crate) fn hint(d: &[i16], m: usize, a: &PublicMatrix) -> Vec<u32> {
    hint_with(simd(), d, m, a)
}

/// [`hint`] on the given kernels (`None`: portable).
fn hint_with(simd: Option<Simd>, d: &[i16], m: usize, a: &PublicMatrix) -> Vec<u32> {
    let rows = d.len().checked_div(m).unwrap_or(0);
    let mut h = vec![0u32; rows * LWE_N];
    // The SIMD product needs `A` to have exactly one row per column of `D` (always so here).
    if let Some(s) = simd
        && rows > 0
        && a.rows() == m
    {
        let b = Right::Rows {
            words: a.words(),
            n: LWE_N,
        };
        i16::simd_mul(s, &d[..rows * m], m, b, &mut h);
        return h;
    }
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

#[cfg(not(target_arch = "x86_64"))]
impl Simd {
    fn name(self) -> &'static str {
        match self {}
    }
    fn blocked_from_i16(self) -> usize {
        match self {}
    }
    fn blocked_from_u32(self) -> usize {
        match self {}
    }
    fn dot<T: Entry>(self, _: &[T], _: &[u32]) -> u32 {
        match self {}
    }
    fn tile_dots<T: Entry>(self, _: &[T], _: usize, _: &[&[u32]], _: &mut [u32]) {
        match self {}
    }
    fn mul_i16(self, _: &[i16], _: usize, _: Right<'_>, _: &mut [u32]) {
        match self {}
    }
    fn mul_u32(self, _: &[u32], _: usize, _: Right<'_>, _: &mut [u32]) {
        match self {}
    }
}

/// The kernels one at a time, for benchmarks that compare them in one run.
#[doc(hidden)]
pub mod bench {
    use super::{PublicMatrix, Simd};

    /// A set of kernels.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub enum Kernel {
        /// The portable loops (baseline target).
        Portable,
        /// AVX2.
        Avx2,
        /// AVX-512 F and BW.
        Avx512,
        /// AVX-512 F, BW and VNNI.
        Avx512Vnni,
    }

    impl Kernel {
        /// `"portable"`, `"avx2"` or `"avx512"`, as [`crate::kernel_name`] reports them.
        pub fn name(self) -> &'static str {
            match self {
                Self::Portable => "portable",
                Self::Avx2 => "avx2",
                Self::Avx512 => "avx512",
                Self::Avx512Vnni => "avx512vnni",
            }
        }

        /// The kernels this CPU can run (whatever `UNSEEN_NO_SIMD` says), portable first.
        pub fn available() -> Vec<Self> {
            [Self::Portable, Self::Avx2, Self::Avx512, Self::Avx512Vnni]
                .into_iter()
                .filter(|k| k.simd().is_some())
                .collect()
        }

        /// `Some(None)` for portable, `Some(Some(s))` for a SIMD set this CPU has.
        fn simd(self) -> Option<Option<Simd>> {
            match self {
                Self::Portable => Some(None),
                #[cfg(target_arch = "x86_64")]
                Self::Avx2 => Simd::avx2().map(Some),
                #[cfg(target_arch = "x86_64")]
                Self::Avx512 => Simd::avx512().map(Some),
                #[cfg(target_arch = "x86_64")]
                Self::Avx512Vnni => Simd::avx512vnni().map(Some),
                #[cfg(not(target_arch = "x86_64"))]
                Self::Avx2 | Self::Avx512 | Self::Avx512Vnni => None,
            }
        }
    }

    /// `D·[v_1 … v_K]` (the server's batched answer) on `kernel`; `None` if this CPU lacks it.
    pub fn mul_vectors_i16(
        kernel: Kernel,
        m: &[i16],
        width: usize,
        vs: &[&[u32]],
    ) -> Option<Vec<Vec<u32>>> {
        Some(super::mul_vectors_with(kernel.simd()?, m, width, vs))
    }

    /// `M·[v_1 … v_K]` for `u32` entries (the client's `A·s` and `H·s`) on `kernel`.
    pub fn mul_vectors_u32(
        kernel: Kernel,
        m: &[u32],
        width: usize,
        vs: &[&[u32]],
    ) -> Option<Vec<Vec<u32>>> {
        Some(super::mul_vectors_with(kernel.simd()?, m, width, vs))
    }

    /// The hint `H = D·A` on `kernel`.
    pub fn hint(kernel: Kernel, d: &[i16], m: usize, a: &PublicMatrix) -> Option<Vec<u32>> {
        Some(super::hint_with(kernel.simd()?, d, m, a))
    }
}
