//! AVX-512 and AVX2 builds of the portable kernels of [`super`], chosen at run time.
//!
//! The loop bodies of [`super::tile_dots`], [`super::portable_dot`] and [`super::hint_tile`],
//! unchanged, compiled inside `#[target_feature]` functions, so that LLVM emits the 32-bit SIMD
//! multiplies (`vpmulld` on `ymm`/`zmm`) that the baseline x86-64 target lacks. No intrinsics:
//! results are those of the portable path by construction (the same wrapping arithmetic), and
//! the tests at the bottom check it.
//!
//! # Safety
//!
//! This is the only module of the crate that allows `unsafe`. The invariant: every
//! `#[target_feature]` function of [`avx512`] (`avx512f,avx512bw`) and [`avx2`] (`avx2`) is
//! reached only through the token [`Simd`], whose only constructors [`Simd::avx512`] and
//! [`Simd::avx2`] check those features with `std::is_x86_feature_detected!` (which also checks
//! that the OS saves the registers). The arms of the macro `dispatch!` are the only `unsafe`
//! code.
#![allow(unsafe_code)]

use super::Entry;

/// Proof that the CPU supports one of the instruction sets of this module; see the module's
/// `# Safety`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Simd(Isa);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Isa {
    Avx512,
    Avx2,
}

/// `$module::$call` for the instruction set of the token `$simd`: the only calls of
/// target-feature code.
macro_rules! dispatch {
    ($simd:expr, $($call:tt)*) => {
        match $simd.0 {
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
        Self::avx512().or_else(Self::avx2)
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

    /// `"avx512"` or `"avx2"`.
    pub(crate) fn name(self) -> &'static str {
        match self.0 {
            Isa::Avx512 => "avx512",
            Isa::Avx2 => "avx2",
        }
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

    /// [`super::hint_tile`] compiled for this instruction set.
    pub(crate) fn hint_tile(self, h_tile: &mut [u32], d_tile: &[i16], m: usize, a: &[u32]) {
        dispatch!(self, hint_tile(h_tile, d_tile, m, a));
    }
}

/// The kernels of one instruction set, written once.
macro_rules! kernels {
    ($feat:literal) => {
        use super::super::Entry;

        #[target_feature(enable = $feat)]
        pub(super) fn dot<T: Entry>(a: &[T], b: &[u32]) -> u32 {
            super::super::portable_dot(a, b)
        }

        #[target_feature(enable = $feat)]
        pub(super) fn tile_dots<T: Entry>(tile: &[T], width: usize, vs: &[&[u32]], o: &mut [u32]) {
            super::super::tile_dots(tile, width, vs, o)
        }

        #[target_feature(enable = $feat)]
        pub(super) fn hint_tile(h_tile: &mut [u32], d_tile: &[i16], m: usize, a: &[u32]) {
            super::super::hint_tile(h_tile, d_tile, m, a)
        }
    };
}

/// AVX-512 F and BW.
mod avx512 {
    kernels!("avx512f,avx512bw");
}

/// AVX2.
mod avx2 {
    kernels!("avx2");
}

#[cfg(test)]
mod tests {
    //! Every instruction set against the portable path, exactly, on awkward shapes: widths
    //! that are not multiples of the vector widths, partial row tiles, one row, one column.
    #![allow(clippy::unwrap_used, clippy::cast_possible_truncation)] // tests

    use rand_chacha::ChaCha20Rng;
    use rand_core::{Rng, SeedableRng};

    use super::super::{PublicMatrix, Seed, choose, dot, hint_with, mul_vectors_with};
    use super::Simd;
    use crate::params::LWE_N;

    /// The instruction sets this CPU has, with a note for each it lacks.
    fn kernels() -> Vec<Simd> {
        let all = [("avx512", Simd::avx512()), ("avx2", Simd::avx2())];
        let mut have = Vec::new();
        for (name, k) in all {
            match k {
                Some(k) => have.push(k),
                None => eprintln!("note: this CPU lacks {name}; its kernels are not tested"),
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
    fn no_simd_forces_portable() {
        assert_eq!(choose(true), None);
        assert_eq!(choose(false), Simd::detect());
    }
}
