//! AVX-512 and AVX2 kernels for the products of [`super`], chosen at run time.
//!
//! Three instruction sets, each a module compiled from the same source (the macro `kernels!`):
//! [`avx512vnni`] (AVX-512 F, BW and VNNI), [`avx512`] (F and BW) and [`avx2`]. VNNI's
//! `vpdpwssd` is `vpmaddwd` and the addition in one instruction; on the AMD Zen 4 we measure
//! on, it makes the `i16` products 1.2–1.3× faster than F+BW (whose 512-bit instructions
//! Zen 4 runs as two 256-bit halves, so that F+BW is no faster than AVX2 there).
//!
//! Two shapes of work:
//!
//! * **Few vectors** (`M·[v_1 … v_K]` with small `K`, and [`super::dot`]): the portable loop
//!   bodies of [`super::tile_dots`] and [`super::portable_dot`], unchanged, compiled inside
//!   `#[target_feature]` functions, so that LLVM emits 32-bit SIMD multiplies (`vpmulld` on
//!   `ymm`/`zmm`) that the baseline x86-64 target lacks. No intrinsics.
//! * **Many vectors or a matrix** (`D·[qu_1 … qu_64]`, `A·[s_1 … s_64]`, `H·[s…]`, the hint
//!   `H = D·A`): a blocked matrix product `M·B` whose micro-kernel keeps an `R × L` block of
//!   the result in registers, so every loaded entry of `M` is used for `L` columns of `B` and
//!   every loaded vector of `B` for `R` rows of `M`. `B` is first copied into panels of `L`
//!   columns, and each block of `R` rows of `M` into an `R`-interleaved buffer, in the order
//!   the micro-kernel reads them (so its loop has no bounds checks).
//!
//! **`i16` entries** (`D`). Every word `b` of `B` is split as `b = lo + 2^16·hi (mod 2^32)` with
//! `lo`, `hi` read as signed 16-bit values (`lo` the sign-extended low half, `hi` the high half
//! after the borrow). Then `d·b ≡ d·lo + 2^16·(d·hi) (mod 2^32)`, and `vpmaddwd` computes
//! `d_j·lo_j + d_{j+1}·lo_{j+1}` for 16 (or 8) columns at once, exactly modulo 2^32: each
//! product of two `i16` fits `i32`, and the only sum that overflows (`2·(−2^15)^2 = 2^31`)
//! wraps to the right residue (`vpdpwssd` wraps the same way; it is `vpdpwssds` that
//! saturates). The micro-kernel broadcasts a pair `(d_{i,j}, d_{i,j+1})` of a row and
//! multiplies it with the packed pairs `(lo, lo)` and `(hi, hi)` of rows `j, j+1` of `B`; the
//! two accumulators are combined as `acc_lo + (acc_hi << 16)` when stored. An odd last column
//! is paired with a zero. Any `i16` works, not only the centred `|d| ≤ 2^14` of the database.
//!
//! **`u32` entries** (`A`, `H`). Broadcast `m_{i,j}`, `vpmulld` by `L` columns of row `j` of
//! `B`, add.
//!
//! Results are identical to the portable path (all arithmetic is exact modulo 2^32), which the
//! tests at the bottom check on awkward shapes.
//!
//! # Safety
//!
//! This is the only module of the crate that allows `unsafe`. The invariant:
//!
//! * every `#[target_feature]` function of [`avx512vnni`] (`avx512f,avx512bw,avx512vnni`),
//!   [`avx512`] (`avx512f,avx512bw`) and [`avx2`] (`avx2`) is reached only through the token
//!   [`Simd`], whose only constructors [`Simd::avx512vnni`], [`Simd::avx512`] and
//!   [`Simd::avx2`] check those features with `std::is_x86_feature_detected!` (which also
//!   checks that the OS saves the registers). The three arms of the macro `dispatch!` are the only
//!   `unsafe` calls of target-feature code;
//! * the only raw-pointer operations are the unaligned vector loads and stores of each
//!   instruction set's `load` and `store`, on `[u32; LANES]` arrays borrowed for exactly the
//!   bytes they touch.
//!
//! All other intrinsics are value operations, safe to call inside a `#[target_feature]` function
//! (Rust ≥ 1.87); slices are indexed with the usual bounds checks.
#![allow(unsafe_code)]

use rayon::prelude::*;

use super::{Entry, Right};

/// Rows of `M` per parallel task of the blocked product: the task's result rows stay in L2.
const ROW_TILE: usize = 48;
/// Column pairs of `D` per block of the `i16` product: a panel's block of `B` (`2·L` words
/// per pair) and the tile's block of `D` stay in L1/L2 while every row block of the tile
/// reads them.
const PAIR_BLOCK: usize = 128;
/// Columns of `M` per block of the `u32` product (same reason).
const COL_BLOCK: usize = 256;

/// Proof that the CPU supports one of the instruction sets of this module; see the module's
/// `# Safety`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Simd(Isa);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Isa {
    Avx512Vnni,
    Avx512,
    Avx2,
}

/// `$module::$call` for the instruction set of the token `$simd`: the only calls of
/// target-feature code.
macro_rules! dispatch {
    ($simd:expr, $($call:tt)*) => {
        match $simd.0 {
            // SAFETY: a `Simd(Isa::Avx512Vnni)` exists only if `Simd::avx512vnni` found
            // avx512f, avx512bw and avx512vnni.
            Isa::Avx512Vnni => unsafe { avx512vnni::$($call)* },
            // SAFETY: a `Simd(Isa::Avx512)` exists only if `Simd::avx512` found avx512f and
            // avx512bw.
            Isa::Avx512 => unsafe { avx512::$($call)* },
            // SAFETY: a `Simd(Isa::Avx2)` exists only if `Simd::avx2` found avx2.
            Isa::Avx2 => unsafe { avx2::$($call)* },
        }
    };
}

impl Simd {
    /// The widest instruction set this CPU supports, if any.
    pub(crate) fn detect() -> Option<Self> {
        Self::avx512vnni().or_else(Self::avx512).or_else(Self::avx2)
    }

    /// `Some` iff the running CPU has `avx512f`, `avx512bw` and `avx512vnni`.
    pub(crate) fn avx512vnni() -> Option<Self> {
        let ok = Self::avx512().is_some() && std::is_x86_feature_detected!("avx512vnni");
        ok.then_some(Self(Isa::Avx512Vnni))
    }

    /// `Some` iff the running CPU has `avx512f` and `avx512bw`.
    pub(crate) fn avx512() -> Option<Self> {
        let ok =
            std::is_x86_feature_detected!("avx512f") && std::is_x86_feature_detected!("avx512bw");
        ok.then_some(Self(Isa::Avx512))
    }

    /// `Some` iff the running CPU has `avx2`.
    pub(crate) fn avx2() -> Option<Self> {
        std::is_x86_feature_detected!("avx2").then_some(Self(Isa::Avx2))
    }

    /// `"avx512vnni"`, `"avx512"` or `"avx2"`.
    pub(crate) fn name(self) -> &'static str {
        match self.0 {
            Isa::Avx512Vnni => "avx512vnni",
            Isa::Avx512 => "avx512",
            Isa::Avx2 => "avx2",
        }
    }

    /// The number of vectors from which [`Self::mul_i16`] beats per-row dot products (below
    /// it, the blocked kernel mostly multiplies the padding of its panels). Measured on
    /// 2000 × 8192 entries, see `docs/protocols/simplepir.md`.
    pub(crate) fn blocked_from_i16(self) -> usize {
        match self.0 {
            Isa::Avx512Vnni => 8,
            Isa::Avx512 => 10,
            Isa::Avx2 => 6,
        }
    }

    /// As [`Self::blocked_from_i16`] for [`Self::mul_u32`] (whose `vpmulld` is slower than
    /// `vpmaddwd`, so it needs more vectors to win). Measured on 9310 × 1024 entries.
    pub(crate) fn blocked_from_u32(self) -> usize {
        28
    }

    /// [`super::portable_dot`] compiled for this instruction set.
    pub(crate) fn dot<T: Entry>(self, a: &[T], b: &[u32]) -> u32 {
        dispatch!(self, dot(a, b))
    }

    /// [`super::tile_dots`] compiled for this instruction set.
    pub(crate) fn tile_dots<T: Entry>(
        self,
        tile: &[T],
        width: usize,
        vs: &[&[u32]],
        o: &mut [u32],
    ) {
        dispatch!(self, tile_dots(tile, width, vs, o));
    }

    /// `out = M·B` (row-major, `height × n`) for a row-major `M` of `i16` with `width ≥ 1`
    /// columns and `height = out.len() / n ≥ 1` rows, where `B` is `width × n` (`n ≥ 1`).
    pub(crate) fn mul_i16(self, m: &[i16], width: usize, b: Right<'_>, out: &mut [u32]) {
        let lanes = match self.0 {
            Isa::Avx512Vnni => avx512vnni::L_I16,
            Isa::Avx512 => avx512::L_I16,
            Isa::Avx2 => avx2::L_I16,
        };
        let pack = pack_pairs(b, width, lanes);
        self.blocked(m, width, b.n(), lanes, out, |d, tile| {
            dispatch!(self, tile_i16(d, width, &pack, tile));
        });
    }

    /// As [`Self::mul_i16`] for `u32` entries.
    pub(crate) fn mul_u32(self, m: &[u32], width: usize, b: Right<'_>, out: &mut [u32]) {
        let lanes = match self.0 {
            Isa::Avx512Vnni => avx512vnni::L_U32,
            Isa::Avx512 => avx512::L_U32,
            Isa::Avx2 => avx2::L_U32,
        };
        let pack = pack_words(b, width, lanes);
        self.blocked(m, width, b.n(), lanes, out, |a, tile| {
            dispatch!(self, tile_u32(a, width, &pack, tile));
        });
    }

    /// The parallel part of the blocked product: tasks of [`ROW_TILE`] rows, each computing its
    /// rows into a tile whose rows are padded to whole panels (`stride` words), then copying the
    /// `n` real columns out.
    fn blocked<T: Sync>(
        self,
        m: &[T],
        width: usize,
        n: usize,
        lanes: usize,
        out: &mut [u32],
        tile_fn: impl Fn(&[T], &mut [u32]) + Sync,
    ) {
        let stride = n.div_ceil(lanes) * lanes;
        out.par_chunks_mut(ROW_TILE * n)
            .zip(m.par_chunks(ROW_TILE * width))
            .for_each(|(o, m_tile)| {
                let rows = o.len() / n;
                let mut tile = vec![0u32; rows * stride];
                tile_fn(&m_tile[..rows * width], &mut tile);
                for (o_row, t_row) in o.chunks_exact_mut(n).zip(tile.chunks_exact(stride)) {
                    o_row.copy_from_slice(&t_row[..n]);
                }
            });
    }
}

/// `B` (`width × n`) in panels of `lanes` columns for the `i16` kernel: panel after panel; in a
/// panel, for each pair of rows `j = 2p, 2p + 1` of `B`, `lanes` words `lo_{j} | lo_{j+1} << 16`
/// then `lanes` words `hi_{j} | hi_{j+1} << 16` (see the module doc). Columns past `n` and the
/// row past an odd `width` are zero.
fn pack_pairs(b: Right<'_>, width: usize, lanes: usize) -> Vec<u32> {
    let n = b.n();
    let panel_words = width.div_ceil(2) * 2 * lanes;
    let mut pack = vec![0u32; n.div_ceil(lanes) * panel_words];
    pack.par_chunks_mut(panel_words)
        .enumerate()
        .for_each(|(panel, words)| {
            for (p, step) in words.chunks_exact_mut(2 * lanes).enumerate() {
                let (lo, hi) = step.split_at_mut(lanes);
                let cols = (panel * lanes..n).take(lanes);
                for ((l, h), c) in lo.iter_mut().zip(hi.iter_mut()).zip(cols) {
                    let (l0, h0) = split(b.at(2 * p, c));
                    let (l1, h1) = if 2 * p + 1 < width {
                        split(b.at(2 * p + 1, c))
                    } else {
                        (0, 0)
                    };
                    *l = l0 | l1 << 16;
                    *h = h0 | h1 << 16;
                }
            }
        });
    pack
}

/// `x = lo + 2^16·hi (mod 2^32)` with `lo`, `hi` read as `i16`: returns their 16-bit patterns.
fn split(x: u32) -> (u32, u32) {
    let [b0, b1, _, _] = x.to_le_bytes();
    let lo = i16::from_le_bytes([b0, b1]);
    let hi = x.wrapping_sub(i32::from(lo).cast_unsigned()) >> 16;
    (u32::from(lo.cast_unsigned()), hi)
}

/// `B` (`width × n`) in panels of `lanes` columns for the `u32` kernel: panel after panel; in a
/// panel, row after row of `B`, `lanes` words each. Columns past `n` are zero.
fn pack_words(b: Right<'_>, width: usize, lanes: usize) -> Vec<u32> {
    let n = b.n();
    let panel_words = width * lanes;
    let mut pack = vec![0u32; n.div_ceil(lanes) * panel_words];
    pack.par_chunks_mut(panel_words)
        .enumerate()
        .for_each(|(panel, words)| {
            for (j, row) in words.chunks_exact_mut(lanes).enumerate() {
                for (w, c) in row.iter_mut().zip((panel * lanes..n).take(lanes)) {
                    *w = b.at(j, c);
                }
            }
        });
    pack
}

/// Copies the block of columns `c0 .. c0 + 2·np` of the rows of `d` (`width` columns each)
/// into `a`, `R` rows at a time in the order the `i16` micro-kernel reads them: for each row
/// block, for each column pair, the `R` rows' [`pair`]s. An odd last column is paired with 0;
/// rows past the end are 0.
fn pack_row_pairs<const R: usize>(
    d: &[i16],
    width: usize,
    c0: usize,
    np: usize,
    a: &mut [[i32; R]],
) {
    let rows = d.len() / width;
    let c1 = (c0 + 2 * np).min(width);
    for (blk, a_blk) in a.chunks_exact_mut(np).enumerate() {
        for r in 0..R {
            let row = blk * R + r;
            if row >= rows {
                a_blk.iter_mut().for_each(|x| x[r] = 0);
                continue;
            }
            let cols = &d[row * width + c0..row * width + c1];
            for (x, dd) in a_blk.iter_mut().zip(cols.chunks(2)) {
                x[r] = pair(dd[0], dd.get(1).copied().unwrap_or(0));
            }
        }
    }
}

/// The 32-bit word whose low half is `d0` and high half `d1` (the lane order of `vpmaddwd`).
fn pair(d0: i16, d1: i16) -> i32 {
    (u32::from(d0.cast_unsigned()) | u32::from(d1.cast_unsigned()) << 16).cast_signed()
}

/// As [`pack_row_pairs`] for the `u32` micro-kernel: for each row block, for each column of
/// `c0 .. c0 + cols`, the `R` rows' entries.
fn pack_rows<const R: usize>(m: &[u32], width: usize, c0: usize, cols: usize, a: &mut [[u32; R]]) {
    let rows = m.len() / width;
    for (blk, a_blk) in a.chunks_exact_mut(cols).enumerate() {
        for r in 0..R {
            let row = blk * R + r;
            if row >= rows {
                a_blk.iter_mut().for_each(|x| x[r] = 0);
                continue;
            }
            let src = &m[row * width + c0..row * width + c0 + cols];
            for (x, &w) in a_blk.iter_mut().zip(src) {
                x[r] = w;
            }
        }
    }
}

/// The kernels of one instruction set, written once. The invoking module defines `LANES` (32-bit
/// lanes per vector), `V` (the vector type), `zero`, `splat`, `load`, `store`, `add`, `shl16`,
/// `madd_add` (`acc + vpmaddwd(a, b)`) and `mullo_add` (`acc + a·b` lane-wise), each
/// `#[target_feature(enable = $feat)]`, and the block shape: `VI16` vectors × `R_I16` rows for
/// the `i16` kernel, `VU32` × `R_U32` for the `u32` kernel (accumulators: `2·VI16·R_I16` and
/// `VU32·R_U32`, to fit the register file).
macro_rules! kernels {
    ($feat:literal) => {
        /// Columns of `B` per panel of the `i16` kernel.
        pub(super) const L_I16: usize = VI16 * LANES;
        /// Columns of `B` per panel of the `u32` kernel.
        pub(super) const L_U32: usize = VU32 * LANES;
        /// Words of one pair step of an `i16` panel: `L_I16` low pairs, `L_I16` high pairs.
        const STEP_I16: usize = 2 * L_I16;

        #[target_feature(enable = $feat)]
        pub(super) fn dot<T: Entry>(a: &[T], b: &[u32]) -> u32 {
            super::super::portable_dot(a, b)
        }

        #[target_feature(enable = $feat)]
        pub(super) fn tile_dots<T: Entry>(tile: &[T], width: usize, vs: &[&[u32]], o: &mut [u32]) {
            super::super::tile_dots(tile, width, vs, o)
        }

        /// `out = d·B` for the rows of `d` (`width` columns each), `B` packed by
        /// [`super::pack_pairs`] with `L_I16` lanes; `out` rows are whole panels wide.
        #[target_feature(enable = $feat)]
        pub(super) fn tile_i16(d: &[i16], width: usize, pack: &[u32], out: &mut [u32]) {
            let pairs = width.div_ceil(2);
            let panel_words = pairs * STEP_I16;
            let stride = pack.len() / panel_words * L_I16;
            let rows = d.len() / width;
            let blocks = rows.div_ceil(R_I16);
            let mut a = vec![[0i32; R_I16]; blocks * super::PAIR_BLOCK.min(pairs)];
            for p0 in (0..pairs).step_by(super::PAIR_BLOCK) {
                let np = (pairs - p0).min(super::PAIR_BLOCK);
                let a = &mut a[..blocks * np];
                super::pack_row_pairs(d, width, 2 * p0, np, a);
                for (panel, words) in pack.chunks_exact(panel_words).enumerate() {
                    let steps = &words.as_chunks::<STEP_I16>().0[p0..p0 + np];
                    for (blk, a_blk) in a.chunks_exact(np).enumerate() {
                        let r0 = blk * R_I16;
                        let valid = (rows - r0).min(R_I16);
                        let at = r0 * stride + panel * L_I16;
                        micro_i16(a_blk, steps, &mut out[at..], stride, valid);
                    }
                }
            }
        }

        /// `out[r][0..L_I16] += Σ_p (row r's pair p)·(B's pair step p)` for `r < valid` (row
        /// `r` at `r·stride`).
        #[target_feature(enable = $feat)]
        #[inline]
        fn micro_i16(
            a: &[[i32; R_I16]],
            steps: &[[u32; STEP_I16]],
            out: &mut [u32],
            stride: usize,
            valid: usize,
        ) {
            let mut lo = [[zero(); VI16]; R_I16];
            let mut hi = [[zero(); VI16]; R_I16];
            for (r, acc) in lo.iter_mut().enumerate().take(valid) {
                let o = out[r * stride..][..L_I16].as_chunks::<LANES>().0;
                for (l, w) in acc.iter_mut().zip(o) {
                    *l = load(w);
                }
            }
            for (ds, step) in a.iter().zip(steps) {
                let q = step.as_chunks::<LANES>().0;
                let mut b_lo = [zero(); VI16];
                let mut b_hi = [zero(); VI16];
                for v in 0..VI16 {
                    b_lo[v] = load(&q[v]);
                    b_hi[v] = load(&q[VI16 + v]);
                }
                for ((&d, l), h) in ds.iter().zip(&mut lo).zip(&mut hi) {
                    let x = splat(d);
                    for v in 0..VI16 {
                        l[v] = madd_add(l[v], x, b_lo[v]);
                        h[v] = madd_add(h[v], x, b_hi[v]);
                    }
                }
            }
            for (r, (l, h)) in lo.iter().zip(&hi).enumerate().take(valid) {
                let o = out[r * stride..][..L_I16].as_chunks_mut::<LANES>().0;
                for v in 0..VI16 {
                    store(&mut o[v], add(l[v], shl16(h[v])));
                }
            }
        }

        /// `out = m·B` for the rows of `m` (`width` columns each), `B` packed by
        /// [`super::pack_words`] with `L_U32` lanes; `out` rows are whole panels wide.
        #[target_feature(enable = $feat)]
        pub(super) fn tile_u32(m: &[u32], width: usize, pack: &[u32], out: &mut [u32]) {
            let panel_words = width * L_U32;
            let stride = pack.len() / panel_words * L_U32;
            let rows = m.len() / width;
            let blocks = rows.div_ceil(R_U32);
            let mut a = vec![[0u32; R_U32]; blocks * super::COL_BLOCK.min(width)];
            for c0 in (0..width).step_by(super::COL_BLOCK) {
                let cols = (width - c0).min(super::COL_BLOCK);
                let a = &mut a[..blocks * cols];
                super::pack_rows(m, width, c0, cols, a);
                for (panel, words) in pack.chunks_exact(panel_words).enumerate() {
                    let steps = &words.as_chunks::<L_U32>().0[c0..c0 + cols];
                    for (blk, a_blk) in a.chunks_exact(cols).enumerate() {
                        let r0 = blk * R_U32;
                        let valid = (rows - r0).min(R_U32);
                        let at = r0 * stride + panel * L_U32;
                        micro_u32(a_blk, steps, &mut out[at..], stride, valid);
                    }
                }
            }
        }

        /// `out[r][0..L_U32] += Σ_j (row r's entry j)·(B's row j)` for `r < valid` (row `r`
        /// at `r·stride`).
        #[target_feature(enable = $feat)]
        #[inline]
        fn micro_u32(
            a: &[[u32; R_U32]],
            steps: &[[u32; L_U32]],
            out: &mut [u32],
            stride: usize,
            valid: usize,
        ) {
            let mut acc = [[zero(); VU32]; R_U32];
            for (r, acc) in acc.iter_mut().enumerate().take(valid) {
                let o = out[r * stride..][..L_U32].as_chunks::<LANES>().0;
                for (x, w) in acc.iter_mut().zip(o) {
                    *x = load(w);
                }
            }
            for (ms, step) in a.iter().zip(steps) {
                let q = step.as_chunks::<LANES>().0;
                let mut b = [zero(); VU32];
                for (bv, w) in b.iter_mut().zip(q) {
                    *bv = load(w);
                }
                for (&m, acc) in ms.iter().zip(&mut acc) {
                    let x = splat(m.cast_signed());
                    for (x_acc, &bv) in acc.iter_mut().zip(&b) {
                        *x_acc = mullo_add(*x_acc, x, bv);
                    }
                }
            }
            for (r, acc) in acc.iter().enumerate().take(valid) {
                let o = out[r * stride..][..L_U32].as_chunks_mut::<LANES>().0;
                for (w, &x) in o.iter_mut().zip(acc) {
                    store(w, x);
                }
            }
        }
    };
}

/// The AVX-512 primitives (16 lanes, 32 registers) for the features `$feat`, except
/// `madd_add`.
macro_rules! avx512_primitives {
    ($feat:literal) => {
        use core::arch::x86_64::{
            __m512i, _mm512_add_epi32, _mm512_loadu_si512, _mm512_mullo_epi32, _mm512_set1_epi32,
            _mm512_setzero_si512, _mm512_slli_epi32, _mm512_storeu_si512,
        };

        use super::super::Entry;

        const LANES: usize = 16;
        /// 2·1·12 = 24 accumulators + 2 loaded vectors of `B` + 1 broadcast ≤ 32 registers
        /// (as fast as 2 × 6 at 64 vectors, and half the padding for fewer).
        const VI16: usize = 1;
        const R_I16: usize = 12;
        /// 2·12 = 24 accumulators + 2 + 1.
        const VU32: usize = 2;
        const R_U32: usize = 12;

        type V = __m512i;

        #[target_feature(enable = $feat)]
        #[inline]
        fn zero() -> V {
            _mm512_setzero_si512()
        }

        #[target_feature(enable = $feat)]
        #[inline]
        fn splat(x: i32) -> V {
            _mm512_set1_epi32(x)
        }

        #[target_feature(enable = $feat)]
        #[inline]
        fn load(a: &[u32; LANES]) -> V {
            // SAFETY: `a` is 64 readable bytes, exactly what the unaligned load reads.
            unsafe { _mm512_loadu_si512(a.as_ptr().cast()) }
        }

        #[target_feature(enable = $feat)]
        #[inline]
        fn store(a: &mut [u32; LANES], v: V) {
            // SAFETY: `a` is 64 writable bytes, exactly what the unaligned store writes.
            unsafe { _mm512_storeu_si512(a.as_mut_ptr().cast(), v) }
        }

        #[target_feature(enable = $feat)]
        #[inline]
        fn add(a: V, b: V) -> V {
            _mm512_add_epi32(a, b)
        }

        #[target_feature(enable = $feat)]
        #[inline]
        fn shl16(a: V) -> V {
            _mm512_slli_epi32::<16>(a)
        }

        #[target_feature(enable = $feat)]
        #[inline]
        fn mullo_add(acc: V, a: V, b: V) -> V {
            _mm512_add_epi32(acc, _mm512_mullo_epi32(a, b))
        }
    };
}

/// AVX-512 F (32-bit lanes) and BW (`vpmaddwd` on `zmm`).
mod avx512 {
    use core::arch::x86_64::_mm512_madd_epi16;

    avx512_primitives!("avx512f,avx512bw");

    #[target_feature(enable = "avx512f,avx512bw")]
    #[inline]
    fn madd_add(acc: V, a: V, b: V) -> V {
        _mm512_add_epi32(acc, _mm512_madd_epi16(a, b))
    }

    kernels!("avx512f,avx512bw");
}

/// AVX-512 F, BW and VNNI: `vpdpwssd` fuses `vpmaddwd` and the addition (it wraps, it does not
/// saturate).
mod avx512vnni {
    use core::arch::x86_64::_mm512_dpwssd_epi32;

    avx512_primitives!("avx512f,avx512bw,avx512vnni");

    #[target_feature(enable = "avx512f,avx512bw,avx512vnni")]
    #[inline]
    fn madd_add(acc: V, a: V, b: V) -> V {
        _mm512_dpwssd_epi32(acc, a, b)
    }

    kernels!("avx512f,avx512bw,avx512vnni");
}

/// AVX2: 8 lanes, 16 registers.
mod avx2 {
    use core::arch::x86_64::{
        __m256i, _mm256_add_epi32, _mm256_loadu_si256, _mm256_madd_epi16, _mm256_mullo_epi32,
        _mm256_set1_epi32, _mm256_setzero_si256, _mm256_slli_epi32, _mm256_storeu_si256,
    };

    use super::super::Entry;

    const LANES: usize = 8;
    /// 2·1·6 = 12 accumulators + 2 loaded vectors of `B` + 1 broadcast ≤ 16 registers.
    const VI16: usize = 1;
    const R_I16: usize = 6;
    /// 2·6 = 12 accumulators + 2 + 1.
    const VU32: usize = 2;
    const R_U32: usize = 6;

    type V = __m256i;

    #[target_feature(enable = "avx2")]
    #[inline]
    fn zero() -> V {
        _mm256_setzero_si256()
    }

    #[target_feature(enable = "avx2")]
    #[inline]
    fn splat(x: i32) -> V {
        _mm256_set1_epi32(x)
    }

    #[target_feature(enable = "avx2")]
    #[inline]
    fn load(a: &[u32; LANES]) -> V {
        // SAFETY: `a` is 32 readable bytes, exactly what the unaligned load reads.
        unsafe { _mm256_loadu_si256(a.as_ptr().cast()) }
    }

    #[target_feature(enable = "avx2")]
    #[inline]
    fn store(a: &mut [u32; LANES], v: V) {
        // SAFETY: `a` is 32 writable bytes, exactly what the unaligned store writes.
        unsafe { _mm256_storeu_si256(a.as_mut_ptr().cast(), v) }
    }

    #[target_feature(enable = "avx2")]
    #[inline]
    fn add(a: V, b: V) -> V {
        _mm256_add_epi32(a, b)
    }

    #[target_feature(enable = "avx2")]
    #[inline]
    fn shl16(a: V) -> V {
        _mm256_slli_epi32::<16>(a)
    }

    #[target_feature(enable = "avx2")]
    #[inline]
    fn madd_add(acc: V, a: V, b: V) -> V {
        _mm256_add_epi32(acc, _mm256_madd_epi16(a, b))
    }

    #[target_feature(enable = "avx2")]
    #[inline]
    fn mullo_add(acc: V, a: V, b: V) -> V {
        _mm256_add_epi32(acc, _mm256_mullo_epi32(a, b))
    }

    kernels!("avx2");
}

#[cfg(test)]
mod tests {
    //! Every instruction set against the portable path, exactly, on shapes chosen to cross every
    //! boundary of the kernels: micro-kernel rows (`R` = 6, 12), panel widths (8, 16, 32
    //! lanes), the `ROW_TILE` of 48 rows, the `PAIR_BLOCK` / `COL_BLOCK` of 256 columns, odd
    //! widths (the zero-paired last column), and the thresholds between per-row dot products
    //! and the blocked kernels (6, 8, 10 and 28 vectors).
    #![allow(clippy::unwrap_used, clippy::cast_possible_truncation)] // tests

    use rand_chacha::ChaCha20Rng;
    use rand_core::{Rng, SeedableRng};

    use super::super::{PublicMatrix, Seed, choose, dot, hint_with, mul_vectors_with};
    use super::Simd;
    use crate::params::LWE_N;

    /// The instruction sets this CPU has, with a note for each it lacks.
    /// Every kernel this CPU runs. A kernel the CPU lacks is reported as skipped; under
    /// `UNSEEN_REQUIRE_SIMD=1` (CI on a CPU with AVX-512) a kernel whose features the CPU has
    /// but that did not come up fails the test, so these differential tests cannot silently
    /// test no SIMD code at all.
    fn kernels() -> Vec<Simd> {
        let has = |f: &[&str]| {
            f.iter().all(|f| match *f {
                "avx512f" => std::is_x86_feature_detected!("avx512f"),
                "avx512bw" => std::is_x86_feature_detected!("avx512bw"),
                "avx512vnni" => std::is_x86_feature_detected!("avx512vnni"),
                _ => std::is_x86_feature_detected!("avx2"),
            })
        };
        let all = [
            (
                "avx512vnni",
                Simd::avx512vnni(),
                has(&["avx512f", "avx512bw", "avx512vnni"]),
            ),
            ("avx512", Simd::avx512(), has(&["avx512f", "avx512bw"])),
            ("avx2", Simd::avx2(), has(&["avx2"])),
        ];
        let required = std::env::var_os("UNSEEN_REQUIRE_SIMD").is_some_and(|v| v == "1");
        let mut have = Vec::new();
        for (name, k, cpu_has) in all {
            match k {
                Some(k) => have.push(k),
                None if required && cpu_has => panic!(
                    "UNSEEN_REQUIRE_SIMD=1, but the {name} kernels did not come up although \
                     this CPU has their features"
                ),
                None => eprintln!("skipped the {name} kernels: this CPU lacks them"),
            }
        }
        have
    }

    /// Matrix entries: mostly uniform in `[−2^14, 2^14]`, with the extremes (and the `i16`
    /// ends, which the kernels also handle exactly) planted often.
    fn entries_i16(len: usize, rng: &mut ChaCha20Rng) -> Vec<i16> {
        const EDGES: [i16; 8] = [-16_384, 16_384, -16_383, 16_383, 0, -1, i16::MIN, i16::MAX];
        (0..len)
            .map(|_| {
                let r = rng.next_u32();
                if r.is_multiple_of(4) {
                    EDGES[(r >> 8) as usize % EDGES.len()]
                } else {
                    (((r >> 8) % 32_769).cast_signed() - 16_384) as i16
                }
            })
            .collect()
    }

    /// Words: uniform, with the edges of the 16-bit split planted often.
    fn words(len: usize, rng: &mut ChaCha20Rng) -> Vec<u32> {
        const EDGES: [u32; 10] = [
            0,
            1,
            u32::MAX,
            0x7fff,
            0x8000,
            0xffff,
            0x1_0000,
            0x8000_0000,
            0xffff_8000,
            0x7fff_8000,
        ];
        (0..len)
            .map(|_| {
                let r = rng.next_u32();
                if r.is_multiple_of(4) {
                    EDGES[(r >> 8) as usize % EDGES.len()]
                } else {
                    rng.next_u32()
                }
            })
            .collect()
    }

    fn schoolbook<T: Copy + Into<i64>>(m: &[T], width: usize, vs: &[Vec<u32>]) -> Vec<Vec<u32>> {
        let height = m.len() / width;
        vs.iter()
            .map(|v| {
                (0..height)
                    .map(|i| {
                        let mut acc = 0u32;
                        for j in 0..width {
                            let x: i64 = m[i * width + j].into();
                            let x = u32::try_from(x.rem_euclid(1 << 32)).unwrap();
                            acc = acc.wrapping_add(x.wrapping_mul(v[j]));
                        }
                        acc
                    })
                    .collect()
            })
            .collect()
    }

    const HEIGHTS: [usize; 6] = [1, 5, 7, 13, 49, 61];
    const WIDTHS: [usize; 8] = [1, 2, 3, 31, 33, 256, 257, 515];
    const KS: [usize; 16] = [1, 3, 5, 6, 7, 8, 9, 10, 11, 13, 17, 27, 28, 29, 33, 65];

    /// The oracle itself: the portable path against a schoolbook product.
    #[test]
    fn portable_matches_schoolbook() {
        let mut rng = ChaCha20Rng::from_seed([1; 32]);
        for (height, width, k) in [(7, 33, 3), (13, 257, 1), (1, 1, 65)] {
            let d = entries_i16(height * width, &mut rng);
            let u = words(height * width, &mut rng);
            let vs: Vec<Vec<u32>> = (0..k).map(|_| words(width, &mut rng)).collect();
            let refs: Vec<&[u32]> = vs.iter().map(Vec::as_slice).collect();
            assert_eq!(
                mul_vectors_with(None, &d, width, &refs),
                schoolbook(&d, width, &vs)
            );
            assert_eq!(
                mul_vectors_with(None, &u, width, &refs),
                schoolbook(&u, width, &vs)
            );
        }
        let (rows, m) = (5, 9);
        let d = entries_i16(rows * m, &mut rng);
        let a = PublicMatrix::expand(&Seed([2; 32]), m);
        let cols: Vec<Vec<u32>> = (0..LWE_N)
            .map(|t| (0..m).map(|j| a.row(j).unwrap()[t]).collect())
            .collect();
        let by_column = schoolbook(&d, m, &cols);
        let h = hint_with(None, &d, m, &a);
        for (i, h_row) in h.chunks_exact(LWE_N).enumerate() {
            for (t, &x) in h_row.iter().enumerate() {
                assert_eq!(x, by_column[t][i], "H[{i}][{t}]");
            }
        }
    }

    #[test]
    fn mul_vectors_i16_matches_portable() {
        let mut rng = ChaCha20Rng::from_seed([3; 32]);
        let kernels = kernels();
        for height in HEIGHTS {
            for width in WIDTHS {
                let d = entries_i16(height * width, &mut rng);
                let vs: Vec<Vec<u32>> = (0..65).map(|_| words(width, &mut rng)).collect();
                for k in KS {
                    let refs: Vec<&[u32]> = vs[..k].iter().map(Vec::as_slice).collect();
                    let want = mul_vectors_with(None, &d, width, &refs);
                    for &s in &kernels {
                        let got = mul_vectors_with(Some(s), &d, width, &refs);
                        assert!(got == want, "{} {height}×{width}, K = {k}", s.name());
                    }
                }
            }
        }
    }

    #[test]
    fn mul_vectors_u32_matches_portable() {
        let mut rng = ChaCha20Rng::from_seed([4; 32]);
        let kernels = kernels();
        for height in HEIGHTS {
            for width in WIDTHS {
                let m = words(height * width, &mut rng);
                let vs: Vec<Vec<u32>> = (0..65).map(|_| words(width, &mut rng)).collect();
                for k in KS {
                    let refs: Vec<&[u32]> = vs[..k].iter().map(Vec::as_slice).collect();
                    let want = mul_vectors_with(None, &m, width, &refs);
                    for &s in &kernels {
                        let got = mul_vectors_with(Some(s), &m, width, &refs);
                        assert!(got == want, "{} {height}×{width}, K = {k}", s.name());
                    }
                }
            }
        }
    }

    /// A matrix with a partial last row, and vectors longer than the width: the SIMD path
    /// ignores the same entries as the portable one.
    #[test]
    fn ragged_inputs_match_portable() {
        let mut rng = ChaCha20Rng::from_seed([5; 32]);
        let (height, width) = (13, 37);
        let d = entries_i16(height * width + 5, &mut rng);
        let vs: Vec<Vec<u32>> = (0..64).map(|_| words(width + 3, &mut rng)).collect();
        let refs: Vec<&[u32]> = vs.iter().map(Vec::as_slice).collect();
        for s in kernels() {
            for k in [1, 64] {
                assert_eq!(
                    mul_vectors_with(Some(s), &d, width, &refs[..k]),
                    mul_vectors_with(None, &d, width, &refs[..k]),
                    "{}",
                    s.name()
                );
            }
        }
    }

    #[test]
    fn hint_matches_portable() {
        let mut rng = ChaCha20Rng::from_seed([6; 32]);
        let kernels = kernels();
        for m in [1, 2, 3, 257, 300] {
            let a = PublicMatrix::expand(&Seed([7; 32]), m);
            for rows in [1, 7, 49] {
                let d = entries_i16(rows * m, &mut rng);
                let want = hint_with(None, &d, m, &a);
                for &s in &kernels {
                    let got = hint_with(Some(s), &d, m, &a);
                    assert!(got == want, "{} hint {rows}×{m}", s.name());
                }
            }
        }
    }

    #[test]
    fn dot_matches_portable() {
        let mut rng = ChaCha20Rng::from_seed([8; 32]);
        let kernels = kernels();
        for len in (0..=70).chain([255, 1024, 1031]) {
            let d = entries_i16(len, &mut rng);
            let u = words(len, &mut rng);
            let b = words(len, &mut rng);
            let want_d = super::super::portable_dot(&d, &b);
            let want_u = super::super::portable_dot(&u, &b);
            for &s in &kernels {
                assert_eq!(s.dot(&d, &b), want_d, "{} i16 dot, length {len}", s.name());
                assert_eq!(s.dot(&u, &b), want_u, "{} u32 dot, length {len}", s.name());
            }
            assert_eq!(dot(&d, &b), want_d);
        }
    }

    #[test]
    fn split_recombines() {
        for x in [
            0,
            1,
            0x7fff,
            0x8000,
            0xffff,
            0x1_8000,
            u32::MAX,
            0x8000_0000,
        ] {
            let (lo, hi) = super::split(x);
            assert!(lo <= 0xffff && hi <= 0xffff);
            let lo = i32::from((lo as u16).cast_signed()).cast_unsigned();
            assert_eq!(lo.wrapping_add(hi << 16), x, "{x:#x}");
        }
    }

    #[test]
    fn no_simd_forces_portable() {
        assert_eq!(choose(true), None);
        assert_eq!(choose(false), Simd::detect());
    }
}
