//! Eight-lane ristretto255 over AVX-512 IFMA: every `__m512i` holds the same quantity for eight
//! independent items (multi-buffer), so eight decodings, hash-to-group maps, scalar
//! multiplications and encodings run at once.
//!
//! * **Field** (RFC 7748 §4.1, `p = 2^255 - 19`): radix 2^52, five limbs, one `__m512i` per limb.
//!   Products use `vpmadd52luq`/`vpmadd52huq` (52×52 → 104-bit, low and high halves), the columns
//!   above 2^260 are folded back with `2^260 ≡ 608 (mod p)`, and a carry chain leaves every limb
//!   below 2^52 (the multiplier only reads 52 bits of each operand, so this is the invariant every
//!   [`Fe`] keeps; see [`Fe::carry`]). Inversion and square roots use the usual `pow22501` chain.
//! * **Curve**: edwards25519 (`a = -1`, `d = -121665/121666`) in extended coordinates
//!   `(X:Y:Z:T)`, with the complete unified addition "add-2008-hwcd-3" and the doubling
//!   "dbl-2008-hwcd" of Hisil, Wong, Carter, Dawson, *Twisted Edwards Curves Revisited*,
//!   ASIACRYPT 2008 (as listed in the Explicit-Formulas Database).
//! * **ristretto255** (RFC 9496): §4.2 `SQRT_RATIO_M1`, §4.3.1 `DECODE`, §4.3.2 `ENCODE`,
//!   §4.3.4 element derivation (`MAP` twice, then one addition).
//! * **Scalar multiplication**: one secret scalar for all eight lanes, recoded once into 64
//!   signed radix-16 digits in `[-8, 8)`; per lane a table of `1·P..8·P`; for each digit from
//!   the top, four doublings and one addition of the entry chosen by masked blends over the whole
//!   table (no secret-dependent branch or address), negated for negative digits.
//!
//! Deviation from the portable path: none in results (tested differentially against it).
//!
//! # Safety
//!
//! This is the only module of the crate that allows `unsafe`. The invariant:
//!
//! * every function carrying `#[target_feature(enable = "avx512f,avx512ifma,avx512vl")]` is
//!   reached only through [`Ifma`], whose only constructor [`Ifma::detect`] checks at run time
//!   that the CPU has `avx512f`, `avx512ifma` and `avx512vl`; so the dispatch calls in `impl Ifma`
//!   never execute an unsupported instruction;
//! * the only raw-pointer operations are the unaligned loads and stores of [`load`] and
//!   [`store`], on `[u64; 8]` arrays borrowed for exactly the 64 bytes they touch.
//!
//! All other intrinsics are value operations, safe to call inside a `#[target_feature]` function
//! (Rust ≥ 1.87).
#![allow(unsafe_code)]

use core::arch::x86_64::{
    __m512i, __mmask8, _mm512_add_epi64, _mm512_and_si512, _mm512_loadu_si512,
    _mm512_madd52hi_epu64, _mm512_madd52lo_epu64, _mm512_mask_blend_epi64, _mm512_or_si512,
    _mm512_set1_epi64, _mm512_setzero_si512, _mm512_slli_epi64, _mm512_srli_epi64,
    _mm512_storeu_si512, _mm512_sub_epi64, _mm512_test_epi64_mask, _mm512_testn_epi64_mask,
};

use subtle::ConstantTimeEq;

/// Number of items processed per call.
pub(super) const LANES: usize = 8;

/// Proof that the CPU supports the instructions of this module; see the module's `# Safety`.
#[derive(Clone, Copy, Debug)]
pub(super) struct Ifma(());

impl Ifma {
    /// `Some` iff the running CPU has `avx512f`, `avx512ifma` and `avx512vl`.
    pub(super) fn detect() -> Option<Self> {
        let ok = std::is_x86_feature_detected!("avx512f")
            && std::is_x86_feature_detected!("avx512ifma")
            && std::is_x86_feature_detected!("avx512vl");
        ok.then_some(Self(()))
    }

    /// For each lane `i`: `ENCODE(digits · (MAP(u_i[..32]) + MAP(u_i[32..])))`, RFC 9496 §4.3.4
    /// then §4.3.2, where `digits` is a [`recode`]d scalar.
    pub(super) fn map_mul_encode(
        self,
        uniform: &[[u8; 64]; LANES],
        digits: &[i8; 64],
    ) -> [[u8; 32]; LANES] {
        // SAFETY: `self` exists only if `detect` found avx512f+avx512ifma+avx512vl.
        unsafe { map_mul_encode(uniform, digits) }
    }

    /// For each lane: `DECODE` (RFC 9496 §4.3.1, identity rejected too), multiply by `digits`,
    /// `ENCODE`. Returns the encodings and the mask of valid lanes (bit `i` set iff lane `i`
    /// decoded); if any lane is invalid, nothing is multiplied and the encodings are zero.
    pub(super) fn decode_mul_encode(
        self,
        enc: &[[u8; 32]; LANES],
        digits: &[i8; 64],
    ) -> ([[u8; 32]; LANES], u8) {
        // SAFETY: `self` exists only if `detect` found avx512f+avx512ifma+avx512vl.
        unsafe { decode_mul_encode(enc, digits) }
    }
}

/// Signed radix-16 recoding of a canonical scalar (`< 2^255`): `k = Σ d_i 16^i`, `d_i ∈ [-8, 8)`.
pub(super) fn recode(k: &[u8; 32]) -> [i8; 64] {
    let mut d = [0i8; 64];
    for (i, b) in k.iter().enumerate() {
        d[2 * i] = (b & 15).cast_signed();
        d[2 * i + 1] = (b >> 4).cast_signed();
    }
    // Carry: each digit in [0, 16) (+1 carry) becomes [-8, 8); the top digit stays ≤ 8 - 1
    // because canonical scalars are below 2^253.
    for i in 0..63 {
        let carry = (d[i] + 8) >> 4;
        d[i] -= carry << 4;
        d[i + 1] += carry;
    }
    d
}

// ---------------------------------------------------------------------------------------------
// Field arithmetic mod p = 2^255 - 19, eight lanes.

const MASK52: u64 = (1 << 52) - 1;
const MASK47: u64 = (1 << 47) - 1;

/// `d = -121665/121666` (RFC 7748 §4.1, RFC 9496 §4.1).
const D: [u64; 5] = [
    0xb4dca135978a3,
    0x4d4141d8ab75e,
    0x779e89800700a,
    0xfe738cc740797,
    0x052036cee2b6f,
];
/// `2·d`.
const D2: [u64; 5] = [
    0x69b9426b2f159,
    0x9a8283b156ebd,
    0xef3d13000e014,
    0xfce7198e80f2e,
    0x02406d9dc56df,
];
/// `SQRT_M1`, RFC 9496 §4.1.
const SQRT_M1: [u64; 5] = [
    0xe1b274a0ea0b0,
    0x06ad2fe478c4e,
    0xdfbd7a72f4318,
    0xdf0b2b4d00993,
    0x02b8324804fc1,
];
/// `SQRT_AD_MINUS_ONE`, RFC 9496 §4.1.
const SQRT_AD_MINUS_ONE: [u64; 5] = [
    0x7f6a0497b2e1b,
    0x0c1b7854bd7e9,
    0x1f5d1fdaf9d8e,
    0x48ac0f3cfcc93,
    0x0376931bf2b83,
];
/// `INVSQRT_A_MINUS_D`, RFC 9496 §4.1.
const INVSQRT_A_MINUS_D: [u64; 5] = [
    0x8fdaa805d40ea,
    0x175a4172be99c,
    0xe01d8409d2f16,
    0xfca216c27b91f,
    0x0786c8905cfaf,
];
/// `ONE_MINUS_D_SQ`, RFC 9496 §4.1.
const ONE_MINUS_D_SQ: [u64; 5] = [
    0xc09c1945fc176,
    0x38cd5e350fe27,
    0xe70dfe42c81a1,
    0xe0d79994abddb,
    0x0029072a8b2b3,
];
/// `D_MINUS_ONE_SQ`, RFC 9496 §4.1.
const D_MINUS_ONE_SQ: [u64; 5] = [
    0xd5aaa44ed4d20,
    0x2cb01e199931a,
    0x29b4eebd29e4a,
    0x22414cdcd32f5,
    0x05968b37af66c,
];
/// `16·p = 2^259 - 304` with every limb at least 2^52 (limb 4 at least 2^48), added before a
/// subtraction so that no limb goes negative.
const SIXTEEN_P: [u64; 5] = [
    (1 << 53) - 304,
    (1 << 53) - 2,
    (1 << 53) - 2,
    (1 << 53) - 2,
    (1 << 51) - 2,
];

/// Unaligned load of eight u64.
#[inline]
#[target_feature(enable = "avx512f,avx512ifma,avx512vl")]
fn load(a: &[u64; 8]) -> __m512i {
    // SAFETY: `a` is 64 readable bytes, exactly what the unaligned load reads.
    unsafe { _mm512_loadu_si512(a.as_ptr().cast()) }
}

/// Unaligned store of eight u64.
#[inline]
#[target_feature(enable = "avx512f,avx512ifma,avx512vl")]
fn store(v: __m512i) -> [u64; 8] {
    let mut a = [0u64; 8];
    // SAFETY: `a` is 64 writable bytes, exactly what the unaligned store writes.
    unsafe { _mm512_storeu_si512(a.as_mut_ptr().cast(), v) };
    a
}

#[inline]
#[target_feature(enable = "avx512f,avx512ifma,avx512vl")]
fn splat(x: u64) -> __m512i {
    _mm512_set1_epi64(x.cast_signed())
}

/// Eight field elements. Invariant: limbs 0..4 below 2^52, limb 4 below 2^47 + 2^12, so the
/// value is below 2^255 + 2^220 < 2p (weakly reduced).
#[derive(Clone, Copy)]
struct Fe([__m512i; 5]);

impl Fe {
    #[inline]
    #[target_feature(enable = "avx512f,avx512ifma,avx512vl")]
    fn constant(l: &[u64; 5]) -> Fe {
        Fe([
            splat(l[0]),
            splat(l[1]),
            splat(l[2]),
            splat(l[3]),
            splat(l[4]),
        ])
    }

    #[inline]
    #[target_feature(enable = "avx512f,avx512ifma,avx512vl")]
    fn zero() -> Fe {
        Fe([_mm512_setzero_si512(); 5])
    }

    #[inline]
    #[target_feature(enable = "avx512f,avx512ifma,avx512vl")]
    fn one() -> Fe {
        Fe::constant(&[1, 0, 0, 0, 0])
    }

    /// Weak reduction of limbs below 2^63: fold the bits at and above 2^255 (limb 4 bit 47)
    /// with `2^255 ≡ 19`, then one sequential carry chain. Afterwards limbs 0..4 < 2^52 and limb
    /// 4 < 2^47 + 2^11 (the last carry is not folded, which the invariant allows).
    #[inline]
    #[target_feature(enable = "avx512f,avx512ifma,avx512vl")]
    fn carry(z: [__m512i; 5]) -> Fe {
        let m52 = splat(MASK52);
        let [mut z0, mut z1, mut z2, mut z3, mut z4] = z;
        let c = _mm512_srli_epi64::<47>(z4);
        z4 = _mm512_and_si512(z4, splat(MASK47));
        // c < 2^17, so 19·c is exact in the 52-bit low half.
        z0 = _mm512_madd52lo_epu64(z0, c, splat(19));
        z1 = _mm512_add_epi64(z1, _mm512_srli_epi64::<52>(z0));
        z0 = _mm512_and_si512(z0, m52);
        z2 = _mm512_add_epi64(z2, _mm512_srli_epi64::<52>(z1));
        z1 = _mm512_and_si512(z1, m52);
        z3 = _mm512_add_epi64(z3, _mm512_srli_epi64::<52>(z2));
        z2 = _mm512_and_si512(z2, m52);
        z4 = _mm512_add_epi64(z4, _mm512_srli_epi64::<52>(z3));
        z3 = _mm512_and_si512(z3, m52);
        Fe([z0, z1, z2, z3, z4])
    }

    #[inline]
    #[target_feature(enable = "avx512f,avx512ifma,avx512vl")]
    fn add(&self, b: &Fe) -> Fe {
        let (a, b) = (&self.0, &b.0);
        Fe::carry(core::array::from_fn(|i| _mm512_add_epi64(a[i], b[i])))
    }

    #[inline]
    #[target_feature(enable = "avx512f,avx512ifma,avx512vl")]
    fn sub(&self, b: &Fe) -> Fe {
        let (a, b) = (&self.0, &b.0);
        Fe::carry(core::array::from_fn(|i| {
            _mm512_sub_epi64(_mm512_add_epi64(a[i], splat(SIXTEEN_P[i])), b[i])
        }))
    }

    #[inline]
    #[target_feature(enable = "avx512f,avx512ifma,avx512vl")]
    fn neg(&self) -> Fe {
        Fe::zero().sub(self)
    }

    /// Folds the product columns `z[5..10]` (weight 2^260 · 2^(52(k-5))) into `z[0..5]`.
    ///
    /// Bounds: inputs below 2^255 + 2^220 make the product below 2^510.01, so after the carry
    /// chain over the high columns `z[9] < 2^42.02` and `608·z[9] < 2^52`: its high half is 0.
    #[inline]
    #[target_feature(enable = "avx512f,avx512ifma,avx512vl")]
    fn reduce_wide(mut z: [__m512i; 10]) -> Fe {
        let m52 = splat(MASK52);
        for k in 5..9 {
            z[k + 1] = _mm512_add_epi64(z[k + 1], _mm512_srli_epi64::<52>(z[k]));
            z[k] = _mm512_and_si512(z[k], m52);
        }
        let c608 = splat(608);
        let mut lo = [z[0], z[1], z[2], z[3], z[4]];
        for k in 5..10 {
            lo[k - 5] = _mm512_madd52lo_epu64(lo[k - 5], z[k], c608);
        }
        for k in 5..9 {
            lo[k - 4] = _mm512_madd52hi_epu64(lo[k - 4], z[k], c608);
        }
        Fe::carry(lo)
    }

    #[inline]
    #[target_feature(enable = "avx512f,avx512ifma,avx512vl")]
    fn mul(&self, b: &Fe) -> Fe {
        let (a, b) = (&self.0, &b.0);
        let zero = _mm512_setzero_si512();
        // Separate accumulators for low and high halves shorten the dependency chains.
        let mut lo = [zero; 10];
        let mut hi = [zero; 10];
        for i in 0..5 {
            for j in 0..5 {
                lo[i + j] = _mm512_madd52lo_epu64(lo[i + j], a[i], b[j]);
                hi[i + j + 1] = _mm512_madd52hi_epu64(hi[i + j + 1], a[i], b[j]);
            }
        }
        // Column k: at most 5 low + 5 high halves, each < 2^52: below 2^56.
        Fe::reduce_wide(core::array::from_fn(|k| _mm512_add_epi64(lo[k], hi[k])))
    }

    #[inline]
    #[target_feature(enable = "avx512f,avx512ifma,avx512vl")]
    fn square(&self) -> Fe {
        let a = &self.0;
        let zero = _mm512_setzero_si512();
        let mut diag = [zero; 10];
        let mut cross = [zero; 10];
        for i in 0..5 {
            diag[2 * i] = _mm512_madd52lo_epu64(diag[2 * i], a[i], a[i]);
            diag[2 * i + 1] = _mm512_madd52hi_epu64(diag[2 * i + 1], a[i], a[i]);
            for j in i + 1..5 {
                cross[i + j] = _mm512_madd52lo_epu64(cross[i + j], a[i], a[j]);
                cross[i + j + 1] = _mm512_madd52hi_epu64(cross[i + j + 1], a[i], a[j]);
            }
        }
        // Column k: 2·(≤ 4 halves) + 2 halves, each < 2^52: below 2^56.
        Fe::reduce_wide(core::array::from_fn(|k| {
            _mm512_add_epi64(_mm512_slli_epi64::<1>(cross[k]), diag[k])
        }))
    }

    /// `self^(2^k)`, k ≥ 1.
    #[inline]
    #[target_feature(enable = "avx512f,avx512ifma,avx512vl")]
    fn pow2k(&self, k: u32) -> Fe {
        let mut r = self.square();
        for _ in 1..k {
            r = r.square();
        }
        r
    }

    /// `(self^(2^250 - 1), self^11)`.
    #[target_feature(enable = "avx512f,avx512ifma,avx512vl")]
    fn pow22501(&self) -> (Fe, Fe) {
        let t0 = self.square(); // 2
        let t1 = t0.pow2k(2); // 8
        let t2 = self.mul(&t1); // 9
        let t3 = t0.mul(&t2); // 11
        let t4 = t3.square(); // 22
        let t5 = t2.mul(&t4); // 31 = 2^5 - 1
        let t7 = t5.pow2k(5).mul(&t5); // 2^10 - 1
        let t9 = t7.pow2k(10).mul(&t7); // 2^20 - 1
        let t11 = t9.pow2k(20).mul(&t9); // 2^40 - 1
        let t13 = t11.pow2k(10).mul(&t7); // 2^50 - 1
        let t15 = t13.pow2k(50).mul(&t13); // 2^100 - 1
        let t17 = t15.pow2k(100).mul(&t15); // 2^200 - 1
        let t19 = t17.pow2k(50).mul(&t13); // 2^250 - 1
        (t19, t3)
    }

    /// `self^(p-2) = 1/self` (0 for 0).
    #[cfg(test)]
    #[target_feature(enable = "avx512f,avx512ifma,avx512vl")]
    fn invert(&self) -> Fe {
        let (t19, t3) = self.pow22501();
        t19.pow2k(5).mul(&t3) // 2^255 - 32 + 11 = p - 2
    }

    /// `self^((p-5)/8) = self^(2^252 - 3)`.
    #[target_feature(enable = "avx512f,avx512ifma,avx512vl")]
    fn pow_p58(&self) -> Fe {
        let (t19, _) = self.pow22501();
        t19.pow2k(2).mul(self)
    }

    /// The canonical limbs (value in `[0, p)`).
    #[inline]
    #[target_feature(enable = "avx512f,avx512ifma,avx512vl")]
    fn canonical(&self) -> [__m512i; 5] {
        let m52 = splat(MASK52);
        let [z0, z1, z2, z3, z4] = self.0;
        // q = 1 iff value ≥ p iff value + 19 ≥ 2^255 (value < 2p by the invariant).
        let mut c = _mm512_srli_epi64::<52>(_mm512_add_epi64(z0, splat(19)));
        c = _mm512_srli_epi64::<52>(_mm512_add_epi64(z1, c));
        c = _mm512_srli_epi64::<52>(_mm512_add_epi64(z2, c));
        c = _mm512_srli_epi64::<52>(_mm512_add_epi64(z3, c));
        let q = _mm512_srli_epi64::<47>(_mm512_add_epi64(z4, c));
        // value + 19q - 2^255 q.
        let mut r0 = _mm512_madd52lo_epu64(z0, q, splat(19));
        let mut r1 = _mm512_add_epi64(z1, _mm512_srli_epi64::<52>(r0));
        r0 = _mm512_and_si512(r0, m52);
        let mut r2 = _mm512_add_epi64(z2, _mm512_srli_epi64::<52>(r1));
        r1 = _mm512_and_si512(r1, m52);
        let mut r3 = _mm512_add_epi64(z3, _mm512_srli_epi64::<52>(r2));
        r2 = _mm512_and_si512(r2, m52);
        let r4 = _mm512_add_epi64(z4, _mm512_srli_epi64::<52>(r3));
        r3 = _mm512_and_si512(r3, m52);
        [r0, r1, r2, r3, _mm512_and_si512(r4, splat(MASK47))]
    }

    /// Lanes whose value is 0 mod p.
    #[inline]
    #[target_feature(enable = "avx512f,avx512ifma,avx512vl")]
    fn is_zero(&self) -> __mmask8 {
        let c = self.canonical();
        let or = _mm512_or_si512(
            _mm512_or_si512(_mm512_or_si512(c[0], c[1]), _mm512_or_si512(c[2], c[3])),
            c[4],
        );
        _mm512_testn_epi64_mask(or, or)
    }

    /// Lanes where `self == b` mod p.
    #[inline]
    #[target_feature(enable = "avx512f,avx512ifma,avx512vl")]
    fn ct_eq(&self, b: &Fe) -> __mmask8 {
        self.sub(b).is_zero()
    }

    /// RFC 9496 §4.1 `IS_NEGATIVE`: the low bit of the canonical encoding.
    #[inline]
    #[target_feature(enable = "avx512f,avx512ifma,avx512vl")]
    fn is_negative(&self) -> __mmask8 {
        _mm512_test_epi64_mask(self.canonical()[0], splat(1))
    }

    /// `b` in the lanes of `mask`, `self` elsewhere.
    #[inline]
    #[target_feature(enable = "avx512f,avx512ifma,avx512vl")]
    fn select(&self, b: &Fe, mask: __mmask8) -> Fe {
        Fe(core::array::from_fn(|i| {
            _mm512_mask_blend_epi64(mask, self.0[i], b.0[i])
        }))
    }

    /// `-self` in the lanes of `mask`.
    #[inline]
    #[target_feature(enable = "avx512f,avx512ifma,avx512vl")]
    fn cneg(&self, mask: __mmask8) -> Fe {
        self.select(&self.neg(), mask)
    }

    /// RFC 9496 §4.1 `CT_ABS`.
    #[inline]
    #[target_feature(enable = "avx512f,avx512ifma,avx512vl")]
    fn abs(&self) -> Fe {
        self.cneg(self.is_negative())
    }

    /// Eight little-endian encodings, bit 255 ignored (RFC 9496 §4.3.1 and §4.3.4 both mask or
    /// separately check it). Non-canonical values are accepted and reduced by later arithmetic.
    #[target_feature(enable = "avx512f,avx512ifma,avx512vl")]
    fn from_bytes(b: &[[u8; 32]; LANES]) -> Fe {
        let mut l = [[0u64; 8]; 5];
        for (lane, bytes) in b.iter().enumerate() {
            let w: [u64; 4] = core::array::from_fn(|i| {
                let mut word = [0u8; 8];
                word.copy_from_slice(&bytes[8 * i..8 * i + 8]);
                u64::from_le_bytes(word)
            });
            l[0][lane] = w[0] & MASK52;
            l[1][lane] = ((w[0] >> 52) | (w[1] << 12)) & MASK52;
            l[2][lane] = ((w[1] >> 40) | (w[2] << 24)) & MASK52;
            l[3][lane] = ((w[2] >> 28) | (w[3] << 36)) & MASK52;
            l[4][lane] = (w[3] >> 16) & MASK47;
        }
        Fe(core::array::from_fn(|i| load(&l[i])))
    }

    /// Eight canonical little-endian encodings.
    #[target_feature(enable = "avx512f,avx512ifma,avx512vl")]
    fn to_bytes(self) -> [[u8; 32]; LANES] {
        let c = self.canonical();
        let l: [[u64; 8]; 5] = core::array::from_fn(|i| store(c[i]));
        core::array::from_fn(|lane| {
            let w = [
                l[0][lane] | (l[1][lane] << 52),
                (l[1][lane] >> 12) | (l[2][lane] << 40),
                (l[2][lane] >> 24) | (l[3][lane] << 28),
                (l[3][lane] >> 36) | (l[4][lane] << 16),
            ];
            let mut out = [0u8; 32];
            for (o, w) in out.chunks_exact_mut(8).zip(w) {
                o.copy_from_slice(&w.to_le_bytes());
            }
            out
        })
    }
}

/// RFC 9496 §4.2 `SQRT_RATIO_M1(u, v)`: `(was_square, r)` with `r = CT_ABS(sqrt(u/v))` if `u/v`
/// is square, else `CT_ABS(sqrt(i·u/v))`; `(false, 0)` for `v = 0, u ≠ 0`, `(true, 0)` for
/// `u = 0`.
#[target_feature(enable = "avx512f,avx512ifma,avx512vl")]
fn sqrt_ratio_m1(u: &Fe, v: &Fe) -> (__mmask8, Fe) {
    let sqrt_m1 = Fe::constant(&SQRT_M1);
    let v3 = v.square().mul(v);
    let v7 = v3.square().mul(v);
    let r = u.mul(&v3).mul(&u.mul(&v7).pow_p58());
    let check = v.mul(&r.square());
    let u_neg = u.neg();
    let correct_sign_sqrt = check.ct_eq(u);
    let flipped_sign_sqrt = check.ct_eq(&u_neg);
    let flipped_sign_sqrt_i = check.ct_eq(&u_neg.mul(&sqrt_m1));
    let r_prime = sqrt_m1.mul(&r);
    let r = r.select(&r_prime, flipped_sign_sqrt | flipped_sign_sqrt_i);
    (correct_sign_sqrt | flipped_sign_sqrt, r.abs())
}

// ---------------------------------------------------------------------------------------------
// edwards25519 points, eight lanes.

/// Extended coordinates: `x = X/Z`, `y = Y/Z`, `T = XY/Z`.
#[derive(Clone, Copy)]
struct Point {
    x: Fe,
    y: Fe,
    z: Fe,
    t: Fe,
}

/// A point prepared as the second operand of "add-2008-hwcd-3": `(Y+X, Y-X, 2Z, 2d·T)`.
#[derive(Clone, Copy)]
struct Cached {
    y_plus_x: Fe,
    y_minus_x: Fe,
    z2: Fe,
    t2d: Fe,
}

/// The `(E, F, G, H)` that both HWCD formulas end with: `X3 = E·F, Y3 = G·H, Z3 = F·G,
/// T3 = E·H`.
#[derive(Clone, Copy)]
struct Completed {
    e: Fe,
    f: Fe,
    g: Fe,
    h: Fe,
}

impl Completed {
    #[inline]
    #[target_feature(enable = "avx512f,avx512ifma,avx512vl")]
    fn to_extended(self) -> Point {
        Point {
            x: self.e.mul(&self.f),
            y: self.g.mul(&self.h),
            z: self.f.mul(&self.g),
            t: self.e.mul(&self.h),
        }
    }

    /// Without `T`, for a point that is only doubled next (doubling does not read `T`).
    #[inline]
    #[target_feature(enable = "avx512f,avx512ifma,avx512vl")]
    fn to_projective(self) -> Point {
        Point {
            x: self.e.mul(&self.f),
            y: self.g.mul(&self.h),
            z: self.f.mul(&self.g),
            t: Fe::zero(),
        }
    }
}

impl Cached {
    #[target_feature(enable = "avx512f,avx512ifma,avx512vl")]
    fn identity() -> Cached {
        Cached {
            y_plus_x: Fe::one(),
            y_minus_x: Fe::one(),
            z2: Fe::constant(&[2, 0, 0, 0, 0]),
            t2d: Fe::zero(),
        }
    }

    /// `b`'s fields in the lanes of `mask`.
    #[inline]
    #[target_feature(enable = "avx512f,avx512ifma,avx512vl")]
    fn select(&self, b: &Cached, mask: __mmask8) -> Cached {
        Cached {
            y_plus_x: self.y_plus_x.select(&b.y_plus_x, mask),
            y_minus_x: self.y_minus_x.select(&b.y_minus_x, mask),
            z2: self.z2.select(&b.z2, mask),
            t2d: self.t2d.select(&b.t2d, mask),
        }
    }

    /// `-P` in the lanes of `mask`: `-(X, Y, Z, T) = (-X, Y, Z, -T)`.
    #[inline]
    #[target_feature(enable = "avx512f,avx512ifma,avx512vl")]
    fn cneg(&self, mask: __mmask8) -> Cached {
        Cached {
            y_plus_x: self.y_plus_x.select(&self.y_minus_x, mask),
            y_minus_x: self.y_minus_x.select(&self.y_plus_x, mask),
            z2: self.z2,
            t2d: self.t2d.cneg(mask),
        }
    }
}

impl Point {
    #[target_feature(enable = "avx512f,avx512ifma,avx512vl")]
    fn to_cached(self) -> Cached {
        Cached {
            y_plus_x: self.y.add(&self.x),
            y_minus_x: self.y.sub(&self.x),
            z2: self.z.add(&self.z),
            t2d: self.t.mul(&Fe::constant(&D2)),
        }
    }

    /// "add-2008-hwcd-3" (a = -1), complete: `A = (Y1-X1)(Y2-X2)`, `B = (Y1+X1)(Y2+X2)`,
    /// `C = T1·2d·T2`, `D = Z1·2Z2`, `E = B-A`, `F = D-C`, `G = D+C`, `H = B+A`.
    #[inline]
    #[target_feature(enable = "avx512f,avx512ifma,avx512vl")]
    fn add(&self, q: &Cached) -> Completed {
        let a = self.y.sub(&self.x).mul(&q.y_minus_x);
        let b = self.y.add(&self.x).mul(&q.y_plus_x);
        let c = self.t.mul(&q.t2d);
        let d = self.z.mul(&q.z2);
        Completed {
            e: b.sub(&a),
            f: d.sub(&c),
            g: d.add(&c),
            h: b.add(&a),
        }
    }

    /// "dbl-2008-hwcd" with a = -1: `A = X1^2`, `B = Y1^2`, `C = 2Z1^2`, `D = -A`,
    /// `E = (X1+Y1)^2 - A - B`, `G = D + B`, `F = G - C`, `H = D - B`. We return the projectively
    /// equal `(E, -F, G, -H)` (all four output coordinates negated, `X3 = E·(-F)` etc.), which
    /// saves the negations: `-F = C - G`, `-H = A + B`. `T1` is not read.
    #[inline]
    #[target_feature(enable = "avx512f,avx512ifma,avx512vl")]
    fn double(&self) -> Completed {
        let a = self.x.square();
        let b = self.y.square();
        let zz = self.z.square();
        let xy2 = self.x.add(&self.y).square();
        let c = zz.add(&zz);
        let h_neg = a.add(&b);
        let g = b.sub(&a);
        Completed {
            e: xy2.sub(&h_neg),
            f: c.sub(&g),
            g,
            h: h_neg,
        }
    }

    /// `k·self` for the recoded scalar `digits` (same for every lane), in constant time with
    /// respect to the digits.
    #[target_feature(enable = "avx512f,avx512ifma,avx512vl")]
    fn mul_digits(&self, digits: &[i8; 64]) -> Point {
        // table[j] = (j+1)·P.
        let p_cached = self.to_cached();
        let mut table = [p_cached; 8];
        let mut multiple = *self;
        for entry in table.iter_mut().skip(1) {
            multiple = multiple.add(&p_cached).to_extended();
            *entry = multiple.to_cached();
        }
        let mut q = Point {
            x: Fe::zero(),
            y: Fe::one(),
            z: Fe::one(),
            t: Fe::zero(),
        }
        .add(&select_entry(&table, digits[63]))
        .to_extended();
        for i in (0..63).rev() {
            q = q.double().to_projective();
            q = q.double().to_projective();
            q = q.double().to_projective();
            q = q.double().to_extended();
            let sum = q.add(&select_entry(&table, digits[i]));
            // Only the last sum needs T (for ENCODE); the others are doubled next. `i` is public.
            q = if i == 0 {
                sum.to_extended()
            } else {
                sum.to_projective()
            };
        }
        q
    }
}

/// `d·P` from `table[j] = (j+1)·P` by masked blends over the whole table, `d ∈ [-8, 8)`.
#[inline]
#[target_feature(enable = "avx512f,avx512ifma,avx512vl")]
fn select_entry(table: &[Cached; 8], d: i8) -> Cached {
    // |d| and its sign without branches.
    let neg = d.cast_unsigned() >> 7;
    let abs = (d.cast_unsigned() ^ 0u8.wrapping_sub(neg)).wrapping_add(neg);
    let mut r = Cached::identity();
    for (j, entry) in (1u8..).zip(table.iter()) {
        let hit = 0u8.wrapping_sub(abs.ct_eq(&j).unwrap_u8());
        r = r.select(entry, hit);
    }
    r.cneg(0u8.wrapping_sub(neg))
}

// ---------------------------------------------------------------------------------------------
// ristretto255, RFC 9496 §4.3.

/// §4.3.1 `DECODE`; returns the point and the lanes that decoded (identity excluded).
#[target_feature(enable = "avx512f,avx512ifma,avx512vl")]
fn decode(enc: &[[u8; 32]; LANES]) -> (Point, u8) {
    // 1. s must be canonical (re-encoding gives the same bytes, which also rejects bit 255).
    let s = Fe::from_bytes(enc);
    let canon = s.to_bytes();
    let mut ok = 0u8;
    for (lane, (c, e)) in canon.iter().zip(enc).enumerate() {
        let same = c.ct_eq(e) & !e.ct_eq(&[0u8; 32]);
        ok |= same.unwrap_u8() << lane;
    }
    // 2. s must be non-negative.
    ok &= !s.is_negative();
    // 3.
    let one = Fe::one();
    let ss = s.square();
    let u1 = one.sub(&ss);
    let u2 = one.add(&ss);
    let u2_sqr = u2.square();
    let v = Fe::constant(&D).mul(&u1.square()).neg().sub(&u2_sqr);
    let (was_square, invsqrt) = sqrt_ratio_m1(&one, &v.mul(&u2_sqr));
    let den_x = invsqrt.mul(&u2);
    let den_y = invsqrt.mul(&den_x).mul(&v);
    let x = s.add(&s).mul(&den_x).abs();
    let y = u1.mul(&den_y);
    let t = x.mul(&y);
    // 4. Reject if !was_square, IS_NEGATIVE(t) or y = 0.
    ok &= was_square & !t.is_negative() & !y.is_zero();
    (Point { x, y, z: one, t }, ok)
}

/// §4.3.2 `ENCODE`.
#[target_feature(enable = "avx512f,avx512ifma,avx512vl")]
fn encode(p: &Point) -> [[u8; 32]; LANES] {
    let sqrt_m1 = Fe::constant(&SQRT_M1);
    let u1 = p.z.add(&p.y).mul(&p.z.sub(&p.y));
    let u2 = p.x.mul(&p.y);
    let (_, invsqrt) = sqrt_ratio_m1(&Fe::one(), &u1.mul(&u2.square()));
    let den1 = invsqrt.mul(&u1);
    let den2 = invsqrt.mul(&u2);
    let z_inv = den1.mul(&den2).mul(&p.t);
    let ix0 = p.x.mul(&sqrt_m1);
    let iy0 = p.y.mul(&sqrt_m1);
    let enchanted_denominator = den1.mul(&Fe::constant(&INVSQRT_A_MINUS_D));
    let rotate = p.t.mul(&z_inv).is_negative();
    let x = p.x.select(&iy0, rotate);
    let y = p.y.select(&ix0, rotate);
    let den_inv = den2.select(&enchanted_denominator, rotate);
    let y = y.cneg(x.mul(&z_inv).is_negative());
    den_inv.mul(&p.z.sub(&y)).abs().to_bytes()
}

/// §4.3.4 `MAP(t)`.
#[target_feature(enable = "avx512f,avx512ifma,avx512vl")]
fn map(t: &Fe) -> Point {
    let one = Fe::one();
    let d = Fe::constant(&D);
    let r = Fe::constant(&SQRT_M1).mul(&t.square());
    let u = r.add(&one).mul(&Fe::constant(&ONE_MINUS_D_SQ));
    let v = one.neg().sub(&r.mul(&d)).mul(&r.add(&d));
    let (was_square, s) = sqrt_ratio_m1(&u, &v);
    let s_prime = s.mul(t).abs().neg();
    let s = s_prime.select(&s, was_square);
    let c = r.select(&one.neg(), was_square);
    let n = c
        .mul(&r.sub(&one))
        .mul(&Fe::constant(&D_MINUS_ONE_SQ))
        .sub(&v);
    let w0 = s.add(&s).mul(&v);
    let w1 = n.mul(&Fe::constant(&SQRT_AD_MINUS_ONE));
    let ss = s.square();
    let w2 = one.sub(&ss);
    let w3 = one.add(&ss);
    Point {
        x: w0.mul(&w3),
        y: w2.mul(&w1),
        z: w1.mul(&w3),
        t: w0.mul(&w2),
    }
}

#[target_feature(enable = "avx512f,avx512ifma,avx512vl")]
fn map_mul_encode(uniform: &[[u8; 64]; LANES], digits: &[i8; 64]) -> [[u8; 32]; LANES] {
    // §4.3.4: the top bit of each half is masked, which `from_bytes` does.
    let half = |off: usize| -> [[u8; 32]; LANES] {
        core::array::from_fn(|lane| {
            let mut h = [0u8; 32];
            h.copy_from_slice(&uniform[lane][off..off + 32]);
            h
        })
    };
    let p1 = map(&Fe::from_bytes(&half(0)));
    let p2 = map(&Fe::from_bytes(&half(32)));
    let p = p1.add(&p2.to_cached()).to_extended();
    encode(&p.mul_digits(digits))
}

#[target_feature(enable = "avx512f,avx512ifma,avx512vl")]
fn decode_mul_encode(enc: &[[u8; 32]; LANES], digits: &[i8; 64]) -> ([[u8; 32]; LANES], u8) {
    let (p, ok) = decode(enc);
    if ok != 0xff {
        return ([[0u8; 32]; LANES], ok);
    }
    (encode(&p.mul_digits(digits)), ok)
}

#[cfg(test)]
// The u128 reference keeps the low 64 bits of each column on purpose.
#[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
mod tests {
    //! Field operations against a u128 schoolbook reference mod p, on edge values.

    use super::*;

    type Bytes8 = [[u8; 32]; LANES];

    /// add, sub, mul, square, neg, invert and the canonical encoding of the inputs.
    #[target_feature(enable = "avx512f,avx512ifma,avx512vl")]
    fn field_ops(a: &Bytes8, b: &Bytes8) -> [Bytes8; 7] {
        let (x, y) = (Fe::from_bytes(a), Fe::from_bytes(b));
        [
            x.add(&y).to_bytes(),
            x.sub(&y).to_bytes(),
            x.mul(&y).to_bytes(),
            x.square().to_bytes(),
            x.neg().to_bytes(),
            x.invert().to_bytes(),
            x.to_bytes(),
        ]
    }

    /// The RFC 9496 §4.1 constants satisfy their defining equations.
    #[target_feature(enable = "avx512f,avx512ifma,avx512vl")]
    fn constants_hold() -> bool {
        let one = Fe::one();
        let d = Fe::constant(&D);
        let i = Fe::constant(&SQRT_M1);
        let m1 = one.neg();
        let ok = [
            i.square().ct_eq(&m1),
            d.add(&d).ct_eq(&Fe::constant(&D2)),
            // SQRT_AD_MINUS_ONE^2 = a·d - 1 = -d - 1.
            Fe::constant(&SQRT_AD_MINUS_ONE)
                .square()
                .ct_eq(&d.neg().sub(&one)),
            // INVSQRT_A_MINUS_D^2 · (a - d) = 1.
            Fe::constant(&INVSQRT_A_MINUS_D)
                .square()
                .mul(&m1.sub(&d))
                .ct_eq(&one),
            Fe::constant(&ONE_MINUS_D_SQ).ct_eq(&one.sub(&d.square())),
            Fe::constant(&D_MINUS_ONE_SQ).ct_eq(&d.sub(&one).square()),
            // d·121666 = -121665.
            d.mul(&Fe::constant(&[121_666, 0, 0, 0, 0]))
                .ct_eq(&Fe::constant(&[121_665, 0, 0, 0, 0]).neg()),
        ];
        ok.iter().all(|&m| m == 0xff)
    }

    const P: [u64; 4] = [
        0xffff_ffff_ffff_ffed,
        0xffff_ffff_ffff_ffff,
        0xffff_ffff_ffff_ffff,
        0x7fff_ffff_ffff_ffff,
    ];

    fn words(b: &[u8; 32]) -> [u64; 4] {
        core::array::from_fn(|i| u64::from_le_bytes(b[8 * i..8 * i + 8].try_into().unwrap()))
    }

    fn bytes(w: [u64; 4]) -> [u8; 32] {
        let mut out = [0u8; 32];
        for (o, w) in out.chunks_exact_mut(8).zip(w) {
            o.copy_from_slice(&w.to_le_bytes());
        }
        out
    }

    fn geq(a: &[u64; 4], b: &[u64; 4]) -> bool {
        for i in (0..4).rev() {
            if a[i] != b[i] {
                return a[i] > b[i];
            }
        }
        true
    }

    fn sub_p(a: &mut [u64; 4]) {
        let mut borrow = 0u128;
        for (x, p) in a.iter_mut().zip(P) {
            let d = u128::from(*x)
                .wrapping_sub(u128::from(p))
                .wrapping_sub(borrow);
            *x = d as u64;
            borrow = d >> 127;
        }
    }

    /// `w mod p` for a 512-bit little-endian `w`, using 2^256 ≡ 38.
    fn reduce(w: [u64; 8]) -> [u64; 4] {
        let mut r = [0u64; 5];
        let mut c = 0u128;
        for i in 0..4 {
            let t = u128::from(w[i]) + 38 * u128::from(w[i + 4]) + c;
            r[i] = t as u64;
            c = t >> 64;
        }
        r[4] = c as u64;
        // Fold the top word again (r[4] ≤ 38).
        let mut out = [0u64; 4];
        let mut c = 38 * u128::from(r[4]);
        for i in 0..4 {
            let t = u128::from(r[i]) + c;
            out[i] = t as u64;
            c = t >> 64;
        }
        if c != 0 {
            // Wrapped past 2^256 once more: add 38.
            let mut c2 = 38u128;
            for x in out.iter_mut() {
                let t = u128::from(*x) + c2;
                *x = t as u64;
                c2 = t >> 64;
            }
        }
        while geq(&out, &P) {
            sub_p(&mut out);
        }
        out
    }

    fn ref_mul(a: [u64; 4], b: [u64; 4]) -> [u64; 4] {
        let mut w = [0u64; 8];
        for i in 0..4 {
            let mut c = 0u128;
            for j in 0..4 {
                let t = u128::from(a[i]) * u128::from(b[j]) + u128::from(w[i + j]) + c;
                w[i + j] = t as u64;
                c = t >> 64;
            }
            w[i + 4] = c as u64;
        }
        reduce(w)
    }

    fn ref_add(a: [u64; 4], b: [u64; 4]) -> [u64; 4] {
        let mut w = [0u64; 8];
        let mut c = 0u128;
        for i in 0..4 {
            let t = u128::from(a[i]) + u128::from(b[i]) + c;
            w[i] = t as u64;
            c = t >> 64;
        }
        w[4] = c as u64;
        reduce(w)
    }

    fn ref_neg(a: [u64; 4]) -> [u64; 4] {
        let a = reduce([a[0], a[1], a[2], a[3], 0, 0, 0, 0]);
        if a == [0; 4] {
            return a;
        }
        let mut r = P;
        let mut borrow = 0u128;
        for (x, y) in r.iter_mut().zip(a) {
            let d = u128::from(*x)
                .wrapping_sub(u128::from(y))
                .wrapping_sub(borrow);
            *x = d as u64;
            borrow = d >> 127;
        }
        r
    }

    fn ref_pow(a: [u64; 4], e: [u64; 4]) -> [u64; 4] {
        let mut r = [1, 0, 0, 0];
        for i in (0..256).rev() {
            r = ref_mul(r, r);
            if (e[i / 64] >> (i % 64)) & 1 == 1 {
                r = ref_mul(r, a);
            }
        }
        r
    }

    fn edge_values() -> Vec<[u8; 32]> {
        let mut p_minus_1 = P;
        p_minus_1[0] -= 1;
        let mut p_plus_1 = P;
        p_plus_1[0] += 1;
        let mut v = vec![
            [0u64; 4],
            [1, 0, 0, 0],
            p_minus_1,
            P,
            p_plus_1,
            [u64::MAX, u64::MAX, u64::MAX, 0x7fff_ffff_ffff_ffff], // 2^255 - 1 = p + 18
            [
                0xffff_ffff_ffff_ffee,
                u64::MAX,
                u64::MAX,
                0x7fff_ffff_ffff_ffff,
            ], // p + 1
            [u64::MAX, u64::MAX, u64::MAX, u64::MAX],              // bit 255 is ignored: 2^255 - 1
            [u64::MAX, 0, u64::MAX, 0],
            [19, 0, 0, 0x4000_0000_0000_0000],
            [1 << 52, 1 << 40, 1 << 28, 1 << 16], // one bit at the base of each limb
            [(1 << 52) - 1, 0, 0, 0],
        ]
        .into_iter()
        .map(bytes)
        .collect::<Vec<_>>();
        // Deterministic pseudo-random values (xorshift).
        let mut s = 0x9e37_79b9_7f4a_7c15u64;
        for _ in 0..20 {
            v.push(bytes(core::array::from_fn(|_| {
                s ^= s << 13;
                s ^= s >> 7;
                s ^= s << 17;
                s
            })));
        }
        v
    }

    #[test]
    fn field_ops_match_reference() {
        let gate = "ristretto::ifma::tests::field_ops_match_reference";
        if !crate::simd_test_gate(gate, Ifma::detect().is_some()) {
            return;
        }
        let vals = edge_values();
        let pairs: Vec<([u8; 32], [u8; 32])> = vals
            .iter()
            .flat_map(|a| vals.iter().map(move |b| (*a, *b)))
            .collect();
        let mut p_minus_2 = P;
        p_minus_2[0] -= 2;
        for chunk in pairs.chunks(LANES) {
            let mut a = [[0u8; 32]; LANES];
            let mut b = [[0u8; 32]; LANES];
            for (i, (x, y)) in chunk.iter().enumerate() {
                a[i] = *x;
                b[i] = *y;
            }
            // SAFETY: `detect` returned Some: the gate passed only if it did.
            let got = unsafe { field_ops(&a, &b) };
            for lane in 0..chunk.len() {
                let mut x = words(&a[lane]);
                let mut y = words(&b[lane]);
                x[3] &= 0x7fff_ffff_ffff_ffff;
                y[3] &= 0x7fff_ffff_ffff_ffff;
                let want = [
                    ref_add(x, y),
                    ref_add(x, ref_neg(y)),
                    ref_mul(x, y),
                    ref_mul(x, x),
                    ref_neg(x),
                    ref_pow(x, p_minus_2),
                    ref_add(x, [0; 4]),
                ];
                for (op, (g, w)) in got.iter().zip(want).enumerate() {
                    assert_eq!(words(&g[lane]), w, "op {op} on {x:x?}, {y:x?}");
                }
            }
        }
    }

    #[test]
    fn rfc9496_constants() {
        let gate = "ristretto::ifma::tests::rfc9496_constants";
        if !crate::simd_test_gate(gate, Ifma::detect().is_some()) {
            return;
        }
        // SAFETY: `detect` returned Some: the gate passed only if it did.
        assert!(unsafe { constants_hold() });
    }

    #[test]
    fn recode_reconstructs_scalar() {
        // l - 1 and a few other canonical scalars.
        let l_minus_1: [u8; 32] = [
            0xec, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9,
            0xde, 0x14, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10,
        ];
        for k in [[0u8; 32], [0xff; 32].map(|_| 0x77), l_minus_1] {
            let d = recode(&k);
            assert!(d.iter().all(|&x| (-8..8).contains(&x)));
            // Σ d_i 16^i, evaluated little-endian with signed carries, equals k.
            let mut out = [0u8; 32];
            let mut carry = 0i32;
            for i in 0..32 {
                let v = i32::from(d[2 * i]) + 16 * i32::from(d[2 * i + 1]) + carry;
                out[i] = v.rem_euclid(256) as u8;
                carry = v.div_euclid(256);
            }
            assert_eq!(carry, 0);
            assert_eq!(out, k);
        }
    }
}
