//! Constant-time variable-base scalar multiplication on the SM2 curve, about 2× faster than
//! `sm2`'s generic `ProjectivePoint * Scalar` (`examples/group_speed.rs` times both; a single
//! `mul` gains less because converting its input costs one `sm2` field inversion, ~13 µs).
//!
//! `sm2` 0.14 multiplies with `primeorder`'s complete Renes–Costello–Batina formulas (homogeneous
//! coordinates, ~14 field multiplications per doubling) over fiat-crypto's generic Montgomery
//! field. This module computes the same `k·P` with:
//!
//! * **GF(p)**, `p = 2^256 - 2^224 - 2^96 + 2^64 - 1` (GB/T 32918.5-2017 §3): four 64-bit limbs in
//!   Montgomery form with `R = 2^256`. Because `p ≡ -1 (mod 2^64)`, the per-limb Montgomery
//!   factor `-p^-1 mod 2^64` is 1, and `m·(p + 1) / 2^64 = m·(2^192 - 2^160 - 2^32 + 1)`, so each
//!   reduction round is shifts, additions and subtractions (no multiplication). Elements are kept
//!   fully reduced in `[0, p)`; every operation is straight-line code without secret-dependent
//!   branches or indices.
//! * **Jacobian coordinates** `(X : Y : Z) ↦ (X/Z^2, Y/Z^3)`, identity `Z = 0`, with the
//!   `a = -3` formulas of the Explicit-Formulas Database (Bernstein–Lange,
//!   <https://hyperelliptic.org/EFD/g1p/auto-shortw-jacobian-3.html>): doubling `dbl-2001-b`
//!   (3M + 5S) and addition `add-2007-bl` (11M + 5S).
//! * **Fixed-window scalar multiplication**, width 5, signed digits: `k = Σ d_i·32^i` with
//!   `d_i ∈ [-16, 16)` (52 digits, recoded without branches), a per-point table `[P, 2P, …, 16P]`,
//!   and for each digit five doublings, a lookup that reads *every* table entry (constant-time
//!   select on `|d_i|`), a conditional negation, and one addition. The sequence of operations and
//!   memory accesses is the same for every `k`.
//!
//! # Exceptional cases of `add-2007-bl`
//!
//! The incomplete addition formula is wrong when an input is the identity and when both inputs
//! are equal. The identity cases are fixed up by constant-time selection in every addition. The
//! doubling case cannot occur before the last addition: after digits `d_51 … d_{i+1}` the
//! accumulator is `M·P` with `|32·M| ≤ k/32^i + 17 < n - 16` for `i ≥ 1`, so `32·M ≡ ±d_i (mod
//! n)` forces `32·M = ±d_i` as integers, hence `M = d_i = 0` (both identities). The last
//! addition (`i = 0`) can meet it (e.g. `k = n - 6`), so it also computes the doubling and
//! selects it when `H = r = 0` ([`Jacobian::add_complete`]).
//!
//! # Conversions
//!
//! Points enter through `sm2`'s affine coordinates (`to_affine`, or one shared inversion with
//! `batch_normalize`) and leave through [`AffinePoint::from_coordinates`], which re-checks the
//! curve equation; the batch path checks the curve equation itself before encoding. A failed
//! check, which would be a bug here, falls back to `sm2`'s own multiplication.

use sm2::{
    AffinePoint, ProjectivePoint, Scalar,
    elliptic_curve::{BatchNormalize, ff::PrimeField, point::AffineCoordinates},
};
use subtle::{Choice, ConditionallySelectable, ConstantTimeEq};
use zeroize::Zeroize;

/// Encoded length of a compressed SM2 point (`0x02`/`0x03 || x`).
const COMPRESSED_LEN: usize = 33;

/// Window width of the signed fixed-window recoding.
const WINDOW: usize = 5;

/// Number of signed radix-`2^WINDOW` digits of a 256-bit scalar (`ceil(256 / 5)`).
const DIGITS: usize = 52;

/// Table size: multiples `1·P ..= 16·P` (`2^(WINDOW - 1)` entries).
const TABLE: usize = 16;

/// `k·P` for one point, or `None` if the result failed the curve check (a bug, never expected).
pub(super) fn mul(point: &ProjectivePoint, k: &Scalar) -> Option<ProjectivePoint> {
    let digits = Digits::new(k);
    let p = Jacobian::from_affine(&point.to_affine());
    Option::from(p.mul(&digits).to_projective())
}

/// `k·P_i` for every point, compressed encodings written back to back into `out`
/// (`out.len() == points.len() * 33`, checked by the caller). The scalar is recoded once, the
/// inputs share one `sm2` inversion and the outputs one inversion here. Returns the indices whose
/// result failed the curve check (a bug, never expected), so the caller can recompute them.
pub(super) fn mul_encode_batch(
    points: &[ProjectivePoint],
    k: &Scalar,
    out: &mut [u8],
) -> Vec<usize> {
    let digits = Digits::new(k);
    let affine: Vec<AffinePoint> = ProjectivePoint::batch_normalize(points);
    let products: Vec<Jacobian> = affine
        .iter()
        .map(|a| Jacobian::from_affine(a).mul(&digits))
        .collect();
    let z_inverses = batch_invert(products.iter().map(|p| p.z));
    let mut failed = Vec::new();
    for (i, ((p, z_inv), o)) in products
        .iter()
        .zip(&z_inverses)
        .zip(out.chunks_exact_mut(COMPRESSED_LEN))
        .enumerate()
    {
        let (encoding, ok) = p.encode_compressed(z_inv);
        o.copy_from_slice(&encoding);
        // Branching on `ok` leaks nothing: it is true for every input unless this module has a bug.
        if !bool::from(ok) {
            failed.push(i);
        }
    }
    failed
}

/// Inverses of `zs` by Montgomery's trick (one field inversion); zero maps to zero.
fn batch_invert(zs: impl ExactSizeIterator<Item = Fp>) -> Vec<Fp> {
    // prefix[i] = z'_0 · … · z'_{i-1}, where z' replaces 0 by 1 so one identity does not
    // poison the whole product.
    let mut nonzero = Vec::with_capacity(zs.len());
    let mut prefix = Vec::with_capacity(zs.len());
    let mut acc = Fp::ONE;
    for z in zs {
        let z_is_zero = z.is_zero();
        let z = Fp::conditional_select(&z, &Fp::ONE, z_is_zero);
        prefix.push(acc);
        acc = acc.mul(&z);
        nonzero.push((z, z_is_zero));
    }
    let mut inv = acc.invert();
    let mut out = vec![Fp::ZERO; prefix.len()];
    for ((o, pre), (z, z_is_zero)) in out.iter_mut().zip(&prefix).zip(&nonzero).rev() {
        *o = Fp::conditional_select(&inv.mul(pre), &Fp::ZERO, *z_is_zero);
        inv = inv.mul(z);
    }
    out
}

// ---------------------------------------------------------------------------------------------
// GF(p)
// ---------------------------------------------------------------------------------------------

/// `p` as little-endian 64-bit limbs.
const P: [u64; 4] = [
    0xffff_ffff_ffff_ffff,
    0xffff_ffff_0000_0000,
    0xffff_ffff_ffff_ffff,
    0xffff_fffe_ffff_ffff,
];

/// `R^2 mod p` with `R = 2^256`, to enter Montgomery form.
const R2: [u64; 4] = [
    0x0000_0002_0000_0003,
    0x0000_0002_ffff_ffff,
    0x0000_0001_0000_0001,
    0x0000_0004_0000_0002,
];

/// Low 64 bits of `t`.
#[allow(clippy::cast_possible_truncation)] // splitting a u128 into limbs truncates by design
#[inline(always)]
const fn lo(t: u128) -> u64 {
    t as u64
}

/// High 64 bits of `t`.
#[allow(clippy::cast_possible_truncation)] // the shift leaves 64 bits, nothing is lost
#[inline(always)]
const fn hi(t: u128) -> u64 {
    (t >> 64) as u64
}

/// `a + b + carry` as (sum, carry out); exact for any `carry` (the carry out is then ≤ 2).
#[inline(always)]
const fn adc(a: u64, b: u64, carry: u64) -> (u64, u64) {
    let t = a as u128 + b as u128 + carry as u128;
    (lo(t), hi(t))
}

/// `a - b - borrow` (`borrow` ∈ {0, 1}) as (difference, borrow out ∈ {0, 1}).
#[inline(always)]
const fn sbb(a: u64, b: u64, borrow: u64) -> (u64, u64) {
    let t = (a as u128).wrapping_sub(b as u128 + borrow as u128);
    (lo(t), hi(t) >> 63)
}

/// `a + b·c + carry` as (low, high); cannot overflow 128 bits.
#[inline(always)]
const fn mac(a: u64, b: u64, c: u64, carry: u64) -> (u64, u64) {
    let t = a as u128 + (b as u128) * (c as u128) + carry as u128;
    (lo(t), hi(t))
}

/// An element of GF(p) in Montgomery form (`x·2^256 mod p`), little-endian limbs, always in
/// `[0, p)`.
#[derive(Clone, Copy, Debug)]
pub(super) struct Fp([u64; 4]);

impl Fp {
    /// 0.
    pub(super) const ZERO: Self = Self([0; 4]);
    /// 1, i.e. `R mod p = 2^224 + 2^96 - 2^64 + 1`.
    pub(super) const ONE: Self = Self([
        0x0000_0000_0000_0001,
        0x0000_0000_ffff_ffff,
        0x0000_0000_0000_0000,
        0x0000_0001_0000_0000,
    ]);
    /// The curve coefficient `b` (GB/T 32918.5-2017 §3), Montgomery form.
    const B: Self = Self([
        0x90d2_3063_2bc0_dd42,
        0x71cf_379a_e9b5_37ab,
        0x5279_8150_5ea5_1c3c,
        0x240f_e188_ba20_e2c8,
    ]);

    /// `OS2IP(bytes) mod p` (any 256-bit value).
    pub(super) fn from_be_bytes(bytes: &[u8; 32]) -> Self {
        let mut limbs = [0u64; 4];
        for (limb, chunk) in limbs.iter_mut().zip(bytes.rchunks_exact(8)) {
            let mut be = [0u8; 8];
            be.copy_from_slice(chunk);
            *limb = u64::from_be_bytes(be);
        }
        // a·R^2·R^-1 with a < 2^256 and R^2 mod p < p stays below 2p before the final
        // subtraction, so even a ≥ p comes out reduced.
        Self(mont_mul(&limbs, &R2))
    }

    /// Canonical big-endian encoding of the integer in `[0, p)`.
    pub(super) fn to_be_bytes(self) -> [u8; 32] {
        let [a0, a1, a2, a3] = self.0;
        let limbs = mont_reduce([a0, a1, a2, a3, 0, 0, 0, 0]);
        let mut out = [0u8; 32];
        for (chunk, limb) in out.rchunks_exact_mut(8).zip(limbs) {
            chunk.copy_from_slice(&limb.to_be_bytes());
        }
        out
    }

    pub(super) fn add(&self, rhs: &Self) -> Self {
        let a = &self.0;
        let b = &rhs.0;
        let (d0, c) = adc(a[0], b[0], 0);
        let (d1, c) = adc(a[1], b[1], c);
        let (d2, c) = adc(a[2], b[2], c);
        let (d3, c) = adc(a[3], b[3], c);
        Self(sub_p_if_needed([d0, d1, d2, d3], c))
    }

    pub(super) fn double(&self) -> Self {
        self.add(self)
    }

    pub(super) fn sub(&self, rhs: &Self) -> Self {
        let a = &self.0;
        let b = &rhs.0;
        let (d0, w) = sbb(a[0], b[0], 0);
        let (d1, w) = sbb(a[1], b[1], w);
        let (d2, w) = sbb(a[2], b[2], w);
        let (d3, w) = sbb(a[3], b[3], w);
        // On borrow, add p back (mask is all ones then, zero otherwise).
        let mask = 0u64.wrapping_sub(w);
        let (d0, c) = adc(d0, P[0] & mask, 0);
        let (d1, c) = adc(d1, P[1] & mask, c);
        let (d2, c) = adc(d2, P[2] & mask, c);
        let (d3, _) = adc(d3, P[3] & mask, c);
        Self([d0, d1, d2, d3])
    }

    pub(super) fn neg(&self) -> Self {
        Self::ZERO.sub(self)
    }

    pub(super) fn mul(&self, rhs: &Self) -> Self {
        Self(mont_mul(&self.0, &rhs.0))
    }

    pub(super) fn square(&self) -> Self {
        let a = &self.0;
        // Off-diagonal products a_i·a_j (i < j), once.
        let (t1, c) = mac(0, a[0], a[1], 0);
        let (t2, c) = mac(0, a[0], a[2], c);
        let (t3, c) = mac(0, a[0], a[3], c);
        let t4 = c;
        let (t3, c) = mac(t3, a[1], a[2], 0);
        let (t4, c) = mac(t4, a[1], a[3], c);
        let t5 = c;
        let (t5, c) = mac(t5, a[2], a[3], 0);
        let t6 = c;
        // Doubled.
        let t7 = t6 >> 63;
        let t6 = (t6 << 1) | (t5 >> 63);
        let t5 = (t5 << 1) | (t4 >> 63);
        let t4 = (t4 << 1) | (t3 >> 63);
        let t3 = (t3 << 1) | (t2 >> 63);
        let t2 = (t2 << 1) | (t1 >> 63);
        let t1 = t1 << 1;
        // Plus the squares a_i^2 on the diagonal.
        let (t0, c) = mac(0, a[0], a[0], 0);
        let (t1, c) = adc(t1, 0, c);
        let (t2, c) = mac(t2, a[1], a[1], c);
        let (t3, c) = adc(t3, 0, c);
        let (t4, c) = mac(t4, a[2], a[2], c);
        let (t5, c) = adc(t5, 0, c);
        let (t6, c) = mac(t6, a[3], a[3], c);
        let (t7, _) = adc(t7, 0, c);
        Self(mont_reduce([t0, t1, t2, t3, t4, t5, t6, t7]))
    }

    /// `self` squared `n` times.
    fn square_n(&self, n: u32) -> Self {
        let mut x = *self;
        for _ in 0..n {
            x = x.square();
        }
        x
    }

    /// `self^(p-2)`: the inverse, and 0 for 0 (Fermat, constant time).
    ///
    /// `p - 2` in binary is `1^31 0 1^128 0^32 1^32 1^30 0 1` (`1^k`: k ones), so the chain builds
    /// `x_k = self^(2^k - 1)` for k = 1, 2, 3, 6, 12, 24, 30, 31, 32 and then walks the runs:
    /// 255 squarings and 16 multiplications.
    pub(super) fn invert(&self) -> Self {
        let x1 = *self;
        let x2 = x1.square().mul(&x1);
        let x3 = x2.square().mul(&x1);
        let x6 = x3.square_n(3).mul(&x3);
        let x12 = x6.square_n(6).mul(&x6);
        let x24 = x12.square_n(12).mul(&x12);
        let x30 = x24.square_n(6).mul(&x6);
        let x31 = x30.square().mul(&x1);
        let x32 = x31.square().mul(&x1);
        // 1^31 0
        let mut t = x31.square();
        // 1^128
        for _ in 0..4 {
            t = t.square_n(32).mul(&x32);
        }
        // 0^32 1^32
        t = t.square_n(64).mul(&x32);
        // 1^30
        t = t.square_n(30).mul(&x30);
        // 0 1
        t.square_n(2).mul(&x1)
    }

    pub(super) fn is_zero(&self) -> Choice {
        let [a0, a1, a2, a3] = self.0;
        (a0 | a1 | a2 | a3).ct_eq(&0)
    }
}

impl ConstantTimeEq for Fp {
    fn ct_eq(&self, other: &Self) -> Choice {
        // Both sides are fully reduced, so equal elements have equal limbs.
        self.0[0].ct_eq(&other.0[0])
            & self.0[1].ct_eq(&other.0[1])
            & self.0[2].ct_eq(&other.0[2])
            & self.0[3].ct_eq(&other.0[3])
    }
}

impl ConditionallySelectable for Fp {
    fn conditional_select(a: &Self, b: &Self, choice: Choice) -> Self {
        Self([
            u64::conditional_select(&a.0[0], &b.0[0], choice),
            u64::conditional_select(&a.0[1], &b.0[1], choice),
            u64::conditional_select(&a.0[2], &b.0[2], choice),
            u64::conditional_select(&a.0[3], &b.0[3], choice),
        ])
    }
}

/// `a·b·2^-256 mod p` for `a·b < 2^256·p` (in particular `a < 2^256`, `b < p`).
#[inline(always)]
fn mont_mul(a: &[u64; 4], b: &[u64; 4]) -> [u64; 4] {
    let mut t = [0u64; 8];
    for i in 0..4 {
        let mut carry = 0;
        for j in 0..4 {
            (t[i + j], carry) = mac(t[i + j], a[i], b[j], carry);
        }
        t[i + 4] = carry;
    }
    mont_reduce(t)
}

/// Montgomery reduction `t·2^-256 mod p` for `t < 2^256·p`, result in `[0, p)`.
///
/// Round i adds `m_i·p·2^(64i)`, where `m_i` is limb i at that point (`-p^-1 ≡ 1 mod 2^64`),
/// which clears limb i. Splitting `m·p = m·(p + 1) - m`: the `-m` is what clears limb i, and
/// `m·(p + 1)/2^64 = m·(2^192 - 2^160 - 2^32 + 1)` is added from limb `i + 1` on. With
/// `m·2^32 = lo + hi·2^64` (`lo = m << 32`, `hi = m >> 32`) that is the signed limbs
/// `[m - lo, -hi, -lo, m - hi]`. Instead of four carry chains, each column `j` is summed once in
/// an `i128` with a signed carry; `m_j` is the column's low word once columns `< j` are done.
#[inline(always)]
fn mont_reduce(t: [u64; 8]) -> [u64; 4] {
    let w = i128::from;
    // The low word of a signed column, as two's complement.
    let low = |c: i128| lo(c.cast_unsigned());
    let m0 = t[0];
    let (lo0, hi0) = (w(m0 << 32), w(m0 >> 32));
    // Column 0 is t_0 - m_0 = 0, no carry.
    let c = w(t[1]) + w(m0) - lo0;
    let m1 = low(c);
    let (lo1, hi1) = (w(m1 << 32), w(m1 >> 32));
    let c = w(t[2]) + (c >> 64) - hi0 + w(m1) - lo1;
    let m2 = low(c);
    let (lo2, hi2) = (w(m2 << 32), w(m2 >> 32));
    let c = w(t[3]) + (c >> 64) - lo0 - hi1 + w(m2) - lo2;
    let m3 = low(c);
    let (lo3, hi3) = (w(m3 << 32), w(m3 >> 32));
    let c = w(t[4]) + (c >> 64) + w(m0) - hi0 - lo1 - hi2 + w(m3) - lo3;
    let r0 = low(c);
    let c = w(t[5]) + (c >> 64) + w(m1) - hi1 - lo2 - hi3;
    let r1 = low(c);
    let c = w(t[6]) + (c >> 64) + w(m2) - hi2 - lo3;
    let r2 = low(c);
    let c = w(t[7]) + (c >> 64) + w(m3) - hi3;
    let r3 = low(c);
    // (t + M·p)/2^256 < (2^256·p + 2^256·p)/2^256 = 2p, so the carry is 0 or 1 and one
    // conditional subtraction finishes.
    sub_p_if_needed([r0, r1, r2, r3], low(c >> 64))
}

/// `(carry·2^256 + d) mod p` for a value below `2p`.
///
/// With `c = 2^256 - p = 2^224 + 2^96 - 2^64 + 1`, the value is at least `p` exactly when
/// `d + c` carries out of 256 bits or `carry` is set, and then `(d + c) mod 2^256` is the
/// reduced value. Adding `c` (three non-zero limbs) is cheaper than subtracting `p`.
#[inline(always)]
fn sub_p_if_needed(d: [u64; 4], carry: u64) -> [u64; 4] {
    let (s0, k) = adc(d[0], 1, 0);
    let (s1, k) = adc(d[1], 0xffff_ffff, k);
    let (s2, k) = adc(d[2], 0, k);
    let (s3, k) = adc(d[3], 0x1_0000_0000, k);
    // Mask all ones iff the value is ≥ p: take d + c then.
    let take = 0u64.wrapping_sub(k | carry);
    [
        (s0 & take) | (d[0] & !take),
        (s1 & take) | (d[1] & !take),
        (s2 & take) | (d[2] & !take),
        (s3 & take) | (d[3] & !take),
    ]
}

// ---------------------------------------------------------------------------------------------
// Points
// ---------------------------------------------------------------------------------------------

/// A point in Jacobian coordinates; the identity has `Z = 0`.
#[derive(Clone, Copy, Debug)]
pub(super) struct Jacobian {
    x: Fp,
    y: Fp,
    z: Fp,
}

impl Jacobian {
    /// The identity `(1 : 1 : 0)`.
    pub(super) const IDENTITY: Self = Self {
        x: Fp::ONE,
        y: Fp::ONE,
        z: Fp::ZERO,
    };

    /// From `sm2`'s affine point (identity included, selected in constant time).
    pub(super) fn from_affine(a: &AffinePoint) -> Self {
        let mut x = [0u8; 32];
        x.copy_from_slice(&a.x());
        let mut y = [0u8; 32];
        y.copy_from_slice(&a.y());
        let p = Self {
            x: Fp::from_be_bytes(&x),
            y: Fp::from_be_bytes(&y),
            z: Fp::ONE,
        };
        Self::conditional_select(&p, &Self::IDENTITY, a.is_identity())
    }

    /// Affine coordinates given `z_inv = 1/Z` (garbage for the identity; callers select).
    fn affine_coordinates(&self, z_inv: &Fp) -> (Fp, Fp) {
        let z_inv2 = z_inv.square();
        let x = self.x.mul(&z_inv2);
        let y = self.y.mul(&z_inv2.mul(z_inv));
        (x, y)
    }

    /// Back into `sm2` (one inversion; `sm2` re-checks the curve equation). `None` only if the
    /// point is off the curve, which would be a bug in this module.
    pub(super) fn to_projective(self) -> subtle::CtOption<ProjectivePoint> {
        let is_identity = self.z.is_zero();
        let (x, y) = self.affine_coordinates(&self.z.invert());
        let affine =
            AffinePoint::from_coordinates(&x.to_be_bytes().into(), &y.to_be_bytes().into());
        let ok = affine.is_some() | is_identity;
        let point = ProjectivePoint::from(affine.unwrap_or(AffinePoint::IDENTITY));
        let point =
            ProjectivePoint::conditional_select(&point, &ProjectivePoint::IDENTITY, is_identity);
        subtle::CtOption::new(point, ok)
    }

    /// SEC1 compressed encoding given `z_inv = 1/Z` (33 zero bytes for the identity, as `sm2`
    /// encodes it), and whether the affine point satisfies `y^2 = x^3 - 3x + b`.
    fn encode_compressed(&self, z_inv: &Fp) -> ([u8; COMPRESSED_LEN], Choice) {
        let is_identity = self.z.is_zero();
        let (x, y) = self.affine_coordinates(z_inv);
        let rhs = x
            .square()
            .sub(&Fp::ONE.double().add(&Fp::ONE))
            .mul(&x)
            .add(&Fp::B);
        let on_curve = y.square().ct_eq(&rhs);
        let y_bytes = y.to_be_bytes();
        let mut out = [0u8; COMPRESSED_LEN];
        out[0] = 0x02 | (y_bytes[31] & 1);
        out[1..].copy_from_slice(&x.to_be_bytes());
        for byte in &mut out {
            byte.conditional_assign(&0, is_identity);
        }
        (out, on_curve | is_identity)
    }

    /// `2·self`, EFD `dbl-2001-b` (a = -3): 3M + 5S. Maps the identity to itself (Z3 = 0).
    pub(super) fn double(&self) -> Self {
        let delta = self.z.square(); //                        delta = Z1^2
        let gamma = self.y.square(); //                        gamma = Y1^2
        let beta = self.x.mul(&gamma); //                      beta = X1·gamma
        let t = self.x.sub(&delta).mul(&self.x.add(&delta));
        let alpha = t.double().add(&t); //                     alpha = 3·(X1-delta)·(X1+delta)
        let beta4 = beta.double().double();
        let x3 = alpha.square().sub(&beta4.double()); //       X3 = alpha^2 - 8·beta
        let z3 = self.y.add(&self.z).square().sub(&gamma).sub(&delta); // Z3 = (Y1+Z1)^2-gamma-delta
        let gamma8 = gamma.square().double().double().double();
        let y3 = alpha.mul(&beta4.sub(&x3)).sub(&gamma8); //   Y3 = alpha·(4·beta-X3) - 8·gamma^2
        Self {
            x: x3,
            y: y3,
            z: z3,
        }
    }

    /// `self + rhs`, EFD `add-2007-bl`: 11M + 5S, identities fixed up by selection. Also returns
    /// whether `H = r = 0`, i.e. `self = rhs` (both finite) or both are the identity, the case
    /// where the formula is wrong and [`Jacobian::add_complete`] doubles instead.
    fn add_incomplete(&self, rhs: &Self) -> (Self, Choice) {
        let z1z1 = self.z.square(); //                         Z1Z1 = Z1^2
        let z2z2 = rhs.z.square(); //                          Z2Z2 = Z2^2
        let u1 = self.x.mul(&z2z2); //                         U1 = X1·Z2Z2
        let u2 = rhs.x.mul(&z1z1); //                          U2 = X2·Z1Z1
        let s1 = self.y.mul(&rhs.z).mul(&z2z2); //             S1 = Y1·Z2·Z2Z2
        let s2 = rhs.y.mul(&self.z).mul(&z1z1); //             S2 = Y2·Z1·Z1Z1
        let h = u2.sub(&u1); //                                H = U2-U1
        let i = h.double().square(); //                        I = (2·H)^2
        let j = h.mul(&i); //                                  J = H·I
        let r = s2.sub(&s1).double(); //                       r = 2·(S2-S1)
        let v = u1.mul(&i); //                                 V = U1·I
        let x3 = r.square().sub(&j).sub(&v.double()); //       X3 = r^2-J-2·V
        let y3 = r.mul(&v.sub(&x3)).sub(&s1.mul(&j).double()); // Y3 = r·(V-X3)-2·S1·J
        let z3 = self.z.add(&rhs.z).square().sub(&z1z1).sub(&z2z2).mul(&h); // Z3 = ((Z1+Z2)^2-Z1Z1-Z2Z2)·H
        let sum = Self {
            x: x3,
            y: y3,
            z: z3,
        };
        let sum = Self::conditional_select(&sum, rhs, self.z.is_zero());
        let sum = Self::conditional_select(&sum, self, rhs.z.is_zero());
        (sum, h.is_zero() & r.is_zero())
    }

    /// `self + rhs` when `self ≠ rhs` or either is the identity (see the module docs for why the
    /// main loop never adds a point to itself).
    pub(super) fn add(&self, rhs: &Self) -> Self {
        self.add_incomplete(rhs).0
    }

    /// `self + rhs` for all inputs: also computes `2·self` and selects it when the addition
    /// formula degenerates.
    pub(super) fn add_complete(&self, rhs: &Self) -> Self {
        let (sum, degenerate) = self.add_incomplete(rhs);
        let both_finite = !self.z.is_zero() & !rhs.z.is_zero();
        Self::conditional_select(&sum, &self.double(), degenerate & both_finite)
    }

    /// `-self`.
    fn neg(&self) -> Self {
        Self {
            x: self.x,
            y: self.y.neg(),
            z: self.z,
        }
    }

    /// `k·self` for the recoded scalar `k`, constant time in `k` (fixed window, see module docs).
    pub(super) fn mul(&self, k: &Digits) -> Self {
        let table = Table::new(self);
        let mut acc = table.select(k.0[DIGITS - 1]);
        for i in (0..DIGITS - 1).rev() {
            for _ in 0..WINDOW {
                acc = acc.double();
            }
            let q = table.select(k.0[i]);
            acc = if i == 0 {
                acc.add_complete(&q)
            } else {
                acc.add(&q)
            };
        }
        acc
    }
}

impl ConditionallySelectable for Jacobian {
    fn conditional_select(a: &Self, b: &Self, choice: Choice) -> Self {
        Self {
            x: Fp::conditional_select(&a.x, &b.x, choice),
            y: Fp::conditional_select(&a.y, &b.y, choice),
            z: Fp::conditional_select(&a.z, &b.z, choice),
        }
    }
}

/// `[1·P, 2·P, …, 16·P]`.
struct Table([Jacobian; TABLE]);

impl Table {
    fn new(p: &Jacobian) -> Self {
        let mut t = [*p; TABLE];
        for j in 1..TABLE {
            // t[j] = (j + 1)·P: double the half for even multiples, else add P to the previous.
            // (j·P + P with 2 ≤ j < n - 1 is never a doubling; P = identity is selected.)
            t[j] = if j % 2 == 1 {
                t[j / 2].double()
            } else {
                t[j - 1].add(p)
            };
        }
        Self(t)
    }

    /// `d·P` for a digit `d ∈ [-16, 16]`: reads every entry, selects `|d|`, negates if `d < 0`.
    fn select(&self, d: i8) -> Jacobian {
        let d = u8::from_ne_bytes(d.to_ne_bytes());
        let negative = d >> 7;
        // Two's-complement absolute value without a branch: (d ^ mask) - mask.
        let mask = 0u8.wrapping_sub(negative);
        let abs = (d ^ mask).wrapping_add(negative);
        let mut r = Jacobian::IDENTITY;
        let mut j = 0u8;
        for entry in &self.0 {
            j += 1;
            r.conditional_assign(entry, abs.ct_eq(&j));
        }
        Jacobian::conditional_select(&r, &r.neg(), Choice::from(negative))
    }
}

/// A scalar in signed radix 32: `k = Σ d_i·32^i`, `d_i ∈ [-16, 16)`. Secret; wiped on drop.
pub(super) struct Digits([i8; DIGITS]);

impl Digits {
    /// Recodes `k` (as curve25519-dalek's `Scalar::as_radix_2w`) without secret-dependent
    /// branches: each window plus the carry is mapped into `[-16, 16)` and the excess carried on.
    /// The last window holds bit 255 only, so it ends at most 2 and no carry is left over.
    #[allow(clippy::cast_possible_truncation, clippy::cast_possible_wrap)] // values are in [0, 32]
    pub(super) fn new(k: &Scalar) -> Self {
        let repr = k.to_repr();
        // Little-endian limbs plus a zero limb so the last window may read past bit 255.
        let mut limbs = [0u64; 5];
        for (limb, chunk) in limbs.iter_mut().zip(repr.rchunks_exact(8)) {
            let mut be = [0u8; 8];
            be.copy_from_slice(chunk);
            *limb = u64::from_be_bytes(be);
        }
        let mut digits = [0i8; DIGITS];
        let mut carry = 0u64;
        for (i, digit) in digits.iter_mut().enumerate() {
            let bit = i * WINDOW;
            let (idx, shift) = (bit / 64, bit % 64);
            // Branch on the public bit position only.
            let window = if shift <= 64 - WINDOW {
                limbs[idx] >> shift
            } else {
                (limbs[idx] >> shift) | (limbs[idx + 1] << (64 - shift))
            } & 31;
            let coef = carry + window;
            carry = (coef + 16) >> WINDOW;
            *digit = (coef as i8) - ((carry << WINDOW) as i8);
        }
        limbs.zeroize();
        Self(digits)
    }
}

impl Drop for Digits {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

#[cfg(test)]
mod tests;
