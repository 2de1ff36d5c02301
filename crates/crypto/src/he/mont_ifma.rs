//! Montgomery multiplication modulo one public odd modulus of up to 2080 bits, eight at a time
//! with AVX-512 IFMA, for the homomorphic additions of SecureBoost's histograms
//! (Okamoto–Uchiyama ciphertexts are added by multiplying them modulo `n`).
//!
//! # The arithmetic
//!
//! * **Radix 2^52.** A value is `L = ⌈(bits(n) + 2) / 52⌉` limbs of 52 bits, each kept in a
//!   64-bit word (at most [`MAX_LIMBS`] = 41). `vpmadd52luq`/`vpmadd52huq` multiply the low 52
//!   bits of two words and add the low or high 52 bits of the 104-bit product to a 64-bit
//!   accumulator. This radix with IFMA is the technique of S. Gueron and V. Krasnov,
//!   *Accelerating Big Integer Arithmetic Using Intel IFMA Extensions*, ARITH 2016.
//! * **Word-serial Montgomery multiplication** (the CIOS method of Ç. K. Koç, T. Acar,
//!   B. S. Kaliski, *Analyzing and Comparing Montgomery Multiplication Algorithms*, IEEE Micro
//!   1996), with the multiply and reduce loops fused and the one-limb shift folded into the
//!   stores. `R = 2^(52·L)`, `n' = −n⁻¹ mod 2^52`. Per outer step `i`:
//!   `t ← (t + a·b_i + m·n) / 2^52` with `m = (t_0 + a_0·b_i)·n' mod 2^52`.
//! * **Lazy carries.** Only the lowest word's carry is propagated in each step (it must be exact
//!   for the division by 2^52); every other word only accumulates: at most four terms below 2^52
//!   per step for at most `L + 1` steps, so below `4·42·2^52 < 2^60` — the 12 spare bits of a
//!   64-bit word never overflow. One carry chain at the end normalises every limb below 2^52
//!   (the multiplier reads only 52 bits of each word, so every stored [`Mont52`] is normalised).
//! * **Almost Montgomery.** No conditional subtraction per product: with inputs below `2n` and
//!   `4n ≤ R` (hence the `+ 2` bits in `L`), the output `(a·b + m·n)/R` is again below `2n`
//!   (the non-reduced representation of D. Page and N. P. Smart, *Parallel Cryptographic
//!   Arithmetic Using a Redundant Montgomery Representation*, IEEE Trans. Computers 2004; the
//!   "almost Montgomery multiplication" of S. Gueron, *Efficient Software Implementations of
//!   Modular Exponentiation*, J. Cryptographic Engineering 2012, which N. Drucker and S. Gueron,
//!   *Fast Modular Squaring with AVX512IFMA*, IACR ePrint 2018/335, build on with IFMA).
//!   [`MontCtx::from_mont`] reduces fully. A [`Mont52`] is therefore *not* canonical: compare
//!   values through `from_mont`.
//! * **Multi-buffer.** Each `__m512i` holds the same limb of eight independent products (one per
//!   64-bit lane), as Page and Smart run several exponentiations in parallel SIMD lanes.
//!   [`bucket_products`] puts eight *features* in the eight lanes: one row step multiplies eight
//!   different histogram bins by the same ciphertext (broadcast).
//!
//! The portable path ([`MontCtx::mul`], [`bucket_products_portable`]) computes the same
//! Montgomery product `(a·b + m·n)/R` in radix 2^64 with `u128` products; `m` is unique, so both
//! paths return the same integers.
//!
//! The eight-lane multiplication is branch-free and its memory accesses do not depend on the
//! operands; so are the powers ([`MontMul8::pow_many`]: masked table reads) and the final
//! reduction, since OU's batch decryption runs them modulo the secret `p²` with the secret
//! exponent `t`. The histogram kernels and the portable multiplication are not constant time:
//! their operands are public ciphertexts. A context is wiped when dropped.
//!
//! # Safety
//!
//! The `unsafe` code is confined to the private module `avx512` below, the only part of this
//! file that allows it. The invariant:
//!
//! * every function carrying `#[target_feature(enable = "avx512f,avx512ifma")]` is reached only
//!   through the zero-sized token `avx512::Ifma`, whose only constructor `Ifma::detect` checks at
//!   run time (`is_x86_feature_detected!`) that the CPU has `avx512f` and `avx512ifma`; so the
//!   dispatch calls in `impl Ifma` never execute an unsupported instruction;
//! * the only raw-pointer operations are the unaligned 64-byte loads and stores of `load` and
//!   `store`, on `[u64; 8]` arrays borrowed for exactly the 64 bytes they touch. Every other
//!   memory access is an indexed (bounds-checked) slice or array access.
//!
//! All other intrinsics are value operations, safe inside a `#[target_feature]` function.

use rayon::prelude::*;

use crate::Error;

/// Most limbs of 52 bits a value may have (`52 · 41 = 2132 ≥ 2080 + 2`).
pub const MAX_LIMBS: usize = 41;
/// Stored words per value: [`MAX_LIMBS`] rounded up to whole blocks of eight (the eight-lane code
/// transposes 8 × 8 blocks of words); the words from `L` on are zero.
const PADDED: usize = MAX_LIMBS.next_multiple_of(LANES);
/// 64-bit words of a value of up to `52 · MAX_LIMBS` bits (the portable path).
const WORDS64: usize = (52 * MAX_LIMBS).div_ceil(64);
/// Largest supported modulus, in bits.
pub const MAX_MODULUS_BITS: u32 = 2080;
/// Lanes of one [`MontMul8::mul8`].
pub const LANES: usize = 8;

const MASK52: u64 = (1 << 52) - 1;

/// The low 64 bits (truncation intended: limbs are split by hand).
#[allow(clippy::cast_possible_truncation)]
const fn low64(v: u128) -> u64 {
    v as u64
}

/// A residue in a context's Montgomery domain: `x·R mod n`, stored as 52-bit limbs, value below
/// `2n` (not canonical: two `Mont52` of the same residue may differ by `n`).
#[derive(Clone, Copy)]
pub struct Mont52 {
    /// Little-endian 52-bit limbs; the words from the context's `L` on are zero.
    limbs: [u64; PADDED],
}

impl Mont52 {
    /// The stored words: 52-bit limbs, little-endian, zero from the context's `L` on. The same
    /// residue may be stored as two different values (`x` and `x + n`): [`MontMul8::mul8`] and
    /// [`MontCtx::mul`] store the same one for the same inputs, but [`bucket_products`] and
    /// [`bucket_products_portable`] multiply in different orders, so compare their results with
    /// [`MontCtx::from_mont`]. A `Mont52` is only meaningful in the context that made it.
    pub fn raw_limbs(&self) -> &[u64] {
        &self.limbs
    }
}

impl zeroize::Zeroize for Mont52 {
    fn zeroize(&mut self) {
        self.limbs.zeroize();
    }
}

impl core::fmt::Debug for Mont52 {
    // Public ciphertext material, but 41 words are useless in a log: print nothing of the value.
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("Mont52(..)")
    }
}

/// Context for one odd modulus `n` of at most [`MAX_MODULUS_BITS`] bits (public): the portable
/// Montgomery arithmetic and the conversions.
#[derive(Clone)]
pub struct MontCtx {
    /// `n` in 52-bit limbs.
    n: [u64; PADDED],
    /// `L`, the number of 52-bit limbs.
    limbs: usize,
    /// `−n⁻¹ mod 2^52` (read only by the eight-lane code).
    #[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
    n_prime: u64,
    /// `−n⁻¹ mod 2^64` (the portable path works in radix 2^64).
    n_prime64: u64,
    /// `R² mod n` (plain integer, 52-bit limbs), to enter the domain.
    r2: [u64; PADDED],
    /// `R mod n`, the Montgomery form of 1.
    one: Mont52,
    /// `R² · R64⁻¹ mod n` (plain, 52-bit limbs), with `R64 = 2^(64·k)` for the `k` u64 limbs of
    /// `n`: enters the domain from crypto-bigint's Montgomery form.
    from_r64: [u64; PADDED],
    /// `R64 mod n` (plain, 52-bit limbs): leaves the domain into crypto-bigint's Montgomery form.
    to_r64: [u64; PADDED],
    /// `n` as little-endian u64 limbs, without high zero limbs.
    n_u64: Vec<u64>,
    /// Length of the u64 limb vectors [`MontCtx::from_mont`] returns (that of the caller's `n`).
    out_len: usize,
}

// A context may be built for a secret modulus (OU's p²): wiped on drop.
impl Drop for MontCtx {
    fn drop(&mut self) {
        use zeroize::Zeroize;
        self.n.zeroize();
        self.r2.zeroize();
        self.one.zeroize();
        self.from_r64.zeroize();
        self.to_r64.zeroize();
        self.n_u64.zeroize();
        self.n_prime.zeroize();
        self.n_prime64.zeroize();
    }
}

impl core::fmt::Debug for MontCtx {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "MontCtx({} limbs of 52 bits)", self.limbs)
    }
}

/// Repacks little-endian limbs of `src_bits` bits into limbs of `dst_bits` bits (≤ 64 each).
/// Bits that do not fit `dst` are dropped (callers check sizes first).
fn repack(src: &[u64], src_bits: u32, dst: &mut [u64], dst_bits: u32) {
    let mask = if dst_bits == 64 {
        u128::from(u64::MAX)
    } else {
        (1u128 << dst_bits) - 1
    };
    let mut acc: u128 = 0;
    let mut have = 0u32;
    let mut out = dst.iter_mut();
    for &w in src {
        acc |= u128::from(w) << have;
        have += src_bits;
        while have >= dst_bits {
            match out.next() {
                Some(d) => *d = low64(acc & mask),
                None => return,
            }
            acc >>= dst_bits;
            have -= dst_bits;
        }
    }
    if let Some(d) = out.next() {
        *d = low64(acc & mask);
    }
    for d in out {
        *d = 0;
    }
}

/// `a ≥ b` for equal-length little-endian limb slices.
fn geq(a: &[u64], b: &[u64]) -> bool {
    for (x, y) in a.iter().rev().zip(b.iter().rev()) {
        if x != y {
            return x > y;
        }
    }
    true
}

/// `a ← a − b mod 2^(52·len)` in radix 2^52; returns the final borrow (1 iff `a < b`).
/// Branch-free.
fn sub52(a: &mut [u64], b: &[u64]) -> u64 {
    let mut borrow = 0u64;
    for (x, &y) in a.iter_mut().zip(b) {
        let d = x.wrapping_sub(y).wrapping_sub(borrow);
        borrow = d >> 63;
        *x = d & MASK52;
    }
    borrow
}

/// `x ← x · 2^(−times) mod n` for `x < n` in radix 2^52 (`x/2 = (x + n)/2` for odd `x`),
/// branch-free.
fn halve(x: &mut [u64], n: &[u64], times: usize) {
    for _ in 0..times {
        let odd_mask = (x[0] & 1).wrapping_neg();
        let mut carry = 0u64;
        for (w, &nw) in x.iter_mut().zip(n) {
            let v = *w + (nw & odd_mask) + carry;
            *w = v & MASK52;
            carry = v >> 52;
        }
        // x + n < 2n < 2^(52·L): no carry out.
        for j in 0..x.len() {
            let hi = x.get(j + 1).map_or(0, |&w| w & 1);
            x[j] = (x[j] >> 1) | (hi << 51);
        }
    }
}

/// Bits of one exponent window of [`MontCtx::pow`] and [`MontMul8::pow_many`].
pub const POW_WINDOW: u32 = 4;
/// Entries of a window table (`x^0 … x^15`).
const POW_TABLE: usize = 1 << POW_WINDOW;

/// The exponent windows of up to eight exponents (little-endian bytes, each below
/// `2^bits`), most significant first: `out[w][k]` is lane `k`'s window `w`; missing lanes are 0.
/// Error if an exponent has a bit set at or above `bits` (checked by length and top byte only,
/// not by the value's bit length, so the time does not depend on the value).
fn windows(exps: &[&[u8]], bits: u32) -> Result<zeroize::Zeroizing<Vec<[u8; LANES]>>, Error> {
    let count = bits.div_ceil(POW_WINDOW) as usize;
    let bytes = bits.div_ceil(8) as usize;
    let top_mask = if bits.is_multiple_of(8) {
        0
    } else {
        0xffu8 << (bits % 8)
    };
    let mut out = zeroize::Zeroizing::new(vec![[0u8; LANES]; count]);
    for (k, e) in exps.iter().enumerate().take(LANES) {
        let over = e.iter().skip(bytes).fold(0u8, |a, &b| a | b)
            | e.get(bytes.wrapping_sub(1)).map_or(0, |&b| b & top_mask);
        if over != 0 {
            return Err(Error::InvalidArgument("exponent wider than its bound"));
        }
        for (w, win) in out.iter_mut().enumerate() {
            let at = (count - 1 - w) * POW_WINDOW as usize;
            // A window value is below 16.
            #[allow(clippy::cast_possible_truncation)]
            {
                win[k] = super::common::digit(e, at, POW_WINDOW as usize) as u8;
            }
        }
    }
    Ok(out)
}

impl MontCtx {
    /// `None` if `n` is even, below 3 or wider than [`MAX_MODULUS_BITS`].
    pub fn new(n_le_u64: &[u64]) -> Option<Self> {
        let used = n_le_u64.iter().rposition(|&w| w != 0)? + 1;
        let n_u64 = n_le_u64[..used].to_vec();
        let top = n_u64[used - 1];
        let bits = 64 * u32::try_from(used).ok()? - top.leading_zeros();
        if bits > MAX_MODULUS_BITS || n_u64[0] & 1 == 0 || (used == 1 && top < 3) {
            return None;
        }
        let limbs = usize::try_from((bits + 2).div_ceil(52)).ok()?;
        let mut n = [0u64; PADDED];
        repack(&n_u64, 64, &mut n[..limbs], 52);
        // n⁻¹ mod 2^64 by Newton's iteration (n·n ≡ 1 mod 8; each step doubles the bits).
        let mut inv = n_u64[0];
        for _ in 0..5 {
            inv = inv.wrapping_mul(2u64.wrapping_sub(n_u64[0].wrapping_mul(inv)));
        }
        let n_prime64 = inv.wrapping_neg();
        let n_prime = n_prime64 & MASK52;
        // R mod n and R² mod n by doubling 1 (52·L then 104·L times), subtracting n when needed.
        let mut x = [0u64; PADDED];
        x[0] = 1;
        let mut one = [0u64; PADDED];
        let mut to_r64 = [0u64; PADDED];
        let r64_bits = 64 * used;
        let nl = &n[..limbs];
        // 64·k < bits(n) + 64 ≤ 2·52·L, so R64 mod n is met on the way.
        for step in 1..=2 * 52 * limbs {
            let mut carry = 0u64;
            for w in &mut x[..limbs] {
                let v = (*w << 1) | carry;
                carry = v >> 52;
                *w = v & MASK52;
            }
            // x < n ≤ 2^(52L − 2), so 2x never carries out of L limbs.
            if geq(&x[..limbs], nl) {
                sub52(&mut x[..limbs], nl);
            }
            if step == 52 * limbs {
                one = x;
            }
            if step == r64_bits {
                to_r64 = x;
            }
        }
        // R² / R64 mod n.
        let mut from_r64 = x;
        halve(&mut from_r64[..limbs], nl, r64_bits);
        Some(Self {
            n,
            limbs,
            n_prime,
            n_prime64,
            r2: x,
            one: Mont52 { limbs: one },
            from_r64,
            to_r64,
            n_u64,
            out_len: n_le_u64.len(),
        })
    }

    /// `L`, the number of 52-bit limbs (`R = 2^(52·L)`).
    pub fn limbs(&self) -> usize {
        self.limbs
    }

    /// The Montgomery form of 1 (`R mod n`).
    pub fn one(&self) -> Mont52 {
        self.one
    }

    /// Repacks a value `< n` into 52-bit limbs; error if it is not below `n`.
    fn plain52(&self, x: &[u64]) -> Result<[u64; PADDED], Error> {
        let used = x.iter().rposition(|&w| w != 0).map_or(0, |i| i + 1);
        let len = self.n_u64.len();
        if used > len || (used == len && geq(&x[..len], &self.n_u64)) {
            return Err(Error::InvalidArgument(
                "value to convert is not below the modulus",
            ));
        }
        let mut out = [0u64; PADDED];
        repack(&x[..used], 64, &mut out[..self.limbs], 52);
        Ok(out)
    }

    /// Converts `x < n` (little-endian u64 limbs, any length) into the Montgomery domain
    /// (`x·R mod n`). Error if `x ≥ n`. Costs one portable Montgomery multiplication.
    pub fn to_mont(&self, x: &[u64]) -> Result<Mont52, Error> {
        let mut m = Mont52 {
            limbs: self.plain52(x)?,
        };
        self.mul(&mut m, &Mont52 { limbs: self.r2 });
        Ok(m)
    }

    /// Leaves the Montgomery domain: `x·R⁻¹ mod n`, fully reduced, as little-endian u64 limbs
    /// (as many as the caller's `n` had). Costs one portable Montgomery multiplication.
    pub fn from_mont(&self, x: &Mont52) -> Vec<u64> {
        let mut plain = [0u64; PADDED];
        plain[0] = 1;
        let mut v = *x;
        self.mul(&mut v, &Mont52 { limbs: plain });
        self.finish(&v.limbs)
    }

    /// Enters the domain from crypto-bigint's Montgomery form: `xr = x·R64 mod n` with
    /// `R64 = 2^(64·k)`, `k` the number of u64 limbs of `n` (what `FixedMontyForm<k>` stores,
    /// e.g. `as_montgomery()` of a 2048-bit modulus's `FixedMontyForm<32>`), gives the
    /// [`Mont52`] of `x`. Error if `xr ≥ n`. One multiplication, no round trip through the plain
    /// value.
    pub fn from_r64_montgomery(&self, xr: &[u64]) -> Result<Mont52, Error> {
        let mut m = Mont52 {
            limbs: self.plain52(xr)?,
        };
        self.mul(
            &mut m,
            &Mont52 {
                limbs: self.from_r64,
            },
        );
        Ok(m)
    }

    /// Leaves the domain into crypto-bigint's Montgomery form: `x·R64 mod n`, fully reduced,
    /// as u64 limbs (the inverse of [`MontCtx::from_r64_montgomery`]). One multiplication.
    pub fn to_r64_montgomery(&self, x: &Mont52) -> Vec<u64> {
        let mut v = *x;
        self.mul(&mut v, &Mont52 { limbs: self.to_r64 });
        self.finish(&v.limbs)
    }

    /// Fully reduces a value below `2n` given in 52-bit limbs and repacks it into u64 limbs.
    /// Branch-free: `x − n` is computed always and kept by a mask when it did not borrow (the
    /// value may derive from a secret exponent or a secret modulus).
    fn finish(&self, v: &[u64; PADDED]) -> Vec<u64> {
        let l = self.limbs;
        let mut v = *v;
        // Every stored value is below 2n (see the module's notes): one subtraction suffices.
        let mut d = v;
        let borrow = sub52(&mut d[..l], &self.n[..l]);
        let keep_d = borrow.wrapping_sub(1); // all ones iff x ≥ n
        for (x, y) in v[..l].iter_mut().zip(&d[..l]) {
            *x = (*y & keep_d) | (*x & !keep_d);
        }
        debug_assert!(!geq(&v[..l], &self.n[..l]), "value was not below 2n");
        let mut out = vec![0u64; self.out_len];
        repack(&v[..l], 52, &mut out, 64);
        out
    }

    /// The factor that enters the domain from a Montgomery form of radix `2^shift` (another
    /// library's, or a larger modulus's reduced modulo this one): `R² · 2^(−shift) mod n`.
    /// Multiplying `x·2^shift mod n` by it (one Montgomery product, e.g.
    /// [`MontMul8::enter_batch_with`]) gives the [`Mont52`] of `x`.
    pub fn radix_factor(&self, shift: u32) -> Mont52 {
        let mut f = self.r2;
        halve(&mut f[..self.limbs], &self.n[..self.limbs], shift as usize);
        Mont52 { limbs: f }
    }

    /// The table `x^0 … x^15` (Montgomery domain) of one base.
    fn pow_table(&self, x: &Mont52) -> [Mont52; POW_TABLE] {
        let mut t = [self.one; POW_TABLE];
        t[1] = *x;
        for e in 2..POW_TABLE {
            let mut v = t[e - 1];
            self.mul(&mut v, x);
            t[e] = v;
        }
        t
    }

    /// `base ← base^e` in the Montgomery domain, portable; `e` given as its 4-bit windows, most
    /// significant first (what [`MontMul8::pow_many`] computes from bytes). Fixed windows: the
    /// table `x^0 … x^15`, then per window four squarings and one multiplication by the entry
    /// the window selects. The same multiplications in the same order as the eight-lane
    /// kernel, so the same integers. Every entry of the table is read, masked, for every
    /// window; the portable multiplication itself is not branch-free (this is the reference
    /// for the kernel, whose multiplication is).
    pub fn pow(&self, base: &mut Mont52, windows: &[u8]) {
        let l = self.limbs;
        let table = self.pow_table(base);
        let select = |d: u8| {
            let mut out = [0u64; PADDED];
            for (e, entry) in table.iter().enumerate() {
                // All ones iff e == d, without a branch on d.
                let diff = u64::from(d) ^ e as u64;
                let mask = ((diff | diff.wrapping_neg()) >> 63).wrapping_sub(1);
                for (o, &w) in out[..l].iter_mut().zip(&entry.limbs[..l]) {
                    *o |= w & mask;
                }
            }
            Mont52 { limbs: out }
        };
        let Some((&first, rest)) = windows.split_first() else {
            *base = self.one;
            return;
        };
        let mut acc = select(first);
        for &d in rest {
            for _ in 0..POW_WINDOW {
                let sq = acc;
                self.mul(&mut acc, &sq);
            }
            self.mul(&mut acc, &select(d));
        }
        *base = acc;
    }

    /// `a ← a·b·R⁻¹ mod n` (almost Montgomery, result below `2n`), portable.
    ///
    /// Computed in radix 2^64 (fewer word products than radix 2^52 on a scalar CPU): the
    /// schoolbook product, then Montgomery reduction by `R = 2^(52·L)` word by word and one
    /// partial word when `52·L` is not a multiple of 64. `(a·b + m·n)/R` with `0 ≤ m < R` is
    /// unique, so this is the same integer as the eight-lane result.
    pub fn mul(&self, a: &mut Mont52, b: &Mont52) {
        let l = self.limbs;
        let bits = 52 * l;
        let w = bits.div_ceil(64);
        let (mut a64, mut b64) = ([0u64; WORDS64], [0u64; WORDS64]);
        repack(&a.limbs[..l], 52, &mut a64[..w], 64);
        repack(&b.limbs[..l], 52, &mut b64[..w], 64);
        let mut t = [0u64; 2 * WORDS64 + 2];
        for (i, &ai) in a64[..w].iter().enumerate() {
            let mut c = 0u64;
            for (tj, &bj) in t[i..i + w].iter_mut().zip(&b64[..w]) {
                let v = u128::from(ai) * u128::from(bj) + u128::from(*tj) + u128::from(c);
                *tj = low64(v);
                c = low64(v >> 64);
            }
            t[i + w] = c;
        }
        let (full, rem) = (bits / 64, bits % 64);
        let n = &self.n_u64;
        // Adds m·n at word `at`, carrying as far as needed (the sum stays below 2^(64·len(t))).
        let add_mn = |t: &mut [u64], m: u64, at: usize| {
            let mut c = 0u64;
            for (tj, &nj) in t[at..].iter_mut().zip(n) {
                let v = u128::from(m) * u128::from(nj) + u128::from(*tj) + u128::from(c);
                *tj = low64(v);
                c = low64(v >> 64);
            }
            for tj in &mut t[at + n.len()..] {
                if c == 0 {
                    break;
                }
                let (v, o) = tj.overflowing_add(c);
                *tj = v;
                c = u64::from(o);
            }
        };
        for i in 0..full {
            let m = t[i].wrapping_mul(self.n_prime64);
            add_mn(&mut t, m, i);
        }
        if rem > 0 {
            let m = t[full].wrapping_mul(self.n_prime64) & ((1u64 << rem) - 1);
            add_mn(&mut t, m, full);
        }
        // t / R: words from `full` on, shifted right by `rem` bits.
        let mut r64 = [0u64; WORDS64];
        for (i, r) in r64[..w].iter_mut().enumerate() {
            let lo = t[full + i];
            *r = if rem == 0 {
                lo
            } else {
                (lo >> rem) | (t[full + i + 1] << (64 - rem))
            };
        }
        repack(&r64[..w], 64, &mut a.limbs[..l], 52);
    }
}

/// Multi-buffer context: a [`MontCtx`] plus the proof that this CPU runs the eight-lane IFMA
/// code.
#[derive(Clone, Debug)]
pub struct MontMul8 {
    ctx: MontCtx,
    #[cfg(target_arch = "x86_64")]
    simd: avx512::Ifma,
}

/// The IFMA token if the CPU has AVX-512 IFMA and `UNSEEN_NO_SIMD` is unset; decided once per
/// process.
#[cfg(target_arch = "x86_64")]
fn simd() -> Option<avx512::Ifma> {
    static BACKEND: std::sync::OnceLock<Option<avx512::Ifma>> = std::sync::OnceLock::new();
    *BACKEND.get_or_init(|| {
        if std::env::var_os("UNSEEN_NO_SIMD").is_some() {
            None
        } else {
            avx512::Ifma::detect()
        }
    })
}

/// `"avx512ifma-8x"` if [`MontMul8::new`] can succeed on this machine, else `"portable"`.
pub fn backend_name() -> &'static str {
    #[cfg(target_arch = "x86_64")]
    if simd().is_some() {
        return "avx512ifma-8x";
    }
    "portable"
}

/// Checks the arguments of the bucket functions: bin count, row indices, bin indices.
fn check_bucket_args(
    cts: &[Mont52],
    bins: &[&[u8]],
    rows: &[u32],
    n_bins: usize,
) -> Result<(), Error> {
    if n_bins == 0 || n_bins > 256 {
        return Err(Error::InvalidArgument("bin count must be 1..=256"));
    }
    for &r in rows {
        let r = r as usize;
        if r >= cts.len() {
            return Err(Error::InvalidArgument("row index beyond the ciphertexts"));
        }
        for col in bins {
            match col.get(r) {
                Some(&b) if usize::from(b) < n_bins => {}
                Some(_) => return Err(Error::InvalidArgument("bin index not below the bin count")),
                None => return Err(Error::InvalidArgument("row index beyond a bin column")),
            }
        }
    }
    Ok(())
}

/// Portable reference of [`bucket_products`] (same results as integers modulo `n`; parallel
/// over features with rayon). For the fallback when [`MontMul8::new`] is `None`.
pub fn bucket_products_portable(
    ctx: &MontCtx,
    cts: &[Mont52],
    bins: &[&[u8]],
    rows: &[u32],
    n_bins: usize,
) -> Result<Vec<Vec<Mont52>>, Error> {
    check_bucket_args(cts, bins, rows, n_bins)?;
    Ok(bins
        .par_iter()
        .map(|col| {
            let mut hist = vec![ctx.one; n_bins];
            for &r in rows {
                let r = r as usize;
                ctx.mul(&mut hist[usize::from(col[r])], &cts[r]);
            }
            hist
        })
        .collect())
}

/// One lane of an eight-lane task: feature `feature` (bin column `col`) over `rows`.
#[derive(Clone, Copy)]
struct Lane<'a> {
    feature: usize,
    col: &'a [u8],
    rows: &'a [u32],
}

/// Splits the work into tasks of at most eight lanes. Full groups of eight features share their
/// rows (so the row's ciphertext is broadcast); the `r < 8` remaining features are repeated
/// `⌊8/r⌋` times over disjoint parts of the rows, so that few lanes idle. The rows are cut into
/// chunks so that rayon has about four equal tasks per thread.
fn plan<'a>(bins: &[&'a [u8]], rows: &'a [u32]) -> Vec<Vec<Lane<'a>>> {
    let threads = rayon::current_num_threads().max(1);
    let full = bins.len() / LANES;
    let rest = &bins[full * LANES..];
    let groups = full + usize::from(!rest.is_empty());
    // About four tasks per thread, their count a multiple of the thread count when possible
    // (equal tasks then finish together), and chunks of at least 512 rows.
    let mut chunks = (4 * threads).div_ceil(groups.max(1));
    let base = chunks;
    while !(groups * chunks).is_multiple_of(threads) && chunks < base + threads {
        chunks += 1;
    }
    let chunks = chunks.clamp(1, rows.len().div_ceil(512).max(1));
    let chunk_len = rows.len().div_ceil(chunks).max(1);
    let mut tasks = Vec::new();
    for (g, cols) in bins.chunks_exact(LANES).enumerate() {
        for rs in rows.chunks(chunk_len) {
            let lanes = cols
                .iter()
                .enumerate()
                .map(|(k, &col)| Lane {
                    feature: g * LANES + k,
                    col,
                    rows: rs,
                })
                .collect();
            tasks.push(lanes);
        }
    }
    if !rest.is_empty() {
        let split = LANES / rest.len();
        let piece = rows.len().div_ceil(chunks * split).max(1);
        let pieces: Vec<&[u32]> = rows.chunks(piece).collect();
        for ps in pieces.chunks(split) {
            let lanes = ps
                .iter()
                .flat_map(|&rs| {
                    rest.iter().enumerate().map(move |(k, &col)| Lane {
                        feature: full * LANES + k,
                        col,
                        rows: rs,
                    })
                })
                .collect();
            tasks.push(lanes);
        }
    }
    tasks
}

/// For each feature `f` (one column of `bins`, one bin index per row) and each bin `b <
/// n_bins`: the product over the rows `r` of `rows` with `bins[f][r] == b` of `cts[r]`, in the
/// Montgomery domain; an empty bin holds the Montgomery form of 1. Result indexed
/// `[feature][bin]`.
///
/// Eight features share one multiplication (lane `k` = feature `8j + k`, the row's ciphertext
/// broadcast to all lanes); the `r` features left over after the groups of eight fill the lanes
/// `⌊8/r⌋` times over disjoint parts of the rows. Groups and chunks of rows run in parallel with
/// rayon; the partial histograms of one feature are multiplied together at the end.
///
/// Errors if `n_bins` is not in `1..=256`, a row index is beyond `cts` or a column, or a bin
/// index is not below `n_bins`.
pub fn bucket_products(
    ctx: &MontMul8,
    cts: &[Mont52],
    bins: &[&[u8]],
    rows: &[u32],
    n_bins: usize,
) -> Result<Vec<Vec<Mont52>>, Error> {
    let c = &ctx.ctx;
    check_bucket_args(cts, bins, rows, n_bins)?;
    let tasks = plan(bins, rows);
    let partials: Vec<Vec<Mont52>> = tasks
        .par_iter()
        .map(|lanes| ctx.lanes_hist(cts, lanes, n_bins))
        .collect::<Result<_, Error>>()?;
    // Lane k of a task holds `n_bins` values at [k·n_bins..]; multiply them into its feature.
    let mut per_feature: Vec<Vec<&[Mont52]>> = vec![Vec::new(); bins.len()];
    for (lanes, part) in tasks.iter().zip(&partials) {
        for (lane, hist) in lanes.iter().zip(part.chunks_exact(n_bins)) {
            per_feature[lane.feature].push(hist);
        }
    }
    let out = per_feature
        .par_iter()
        .map(|parts| {
            let mut acc = vec![c.one; n_bins];
            if let Some((first, rest)) = parts.split_first() {
                acc.copy_from_slice(first);
                for p in rest {
                    ctx.mul_zip(&mut acc, p);
                }
            }
            acc
        })
        .collect();
    Ok(out)
}

impl MontMul8 {
    /// `None` if the CPU lacks AVX-512 IFMA, `UNSEEN_NO_SIMD` is set, or `n` is even, below 3
    /// or wider than [`MAX_MODULUS_BITS`].
    pub fn new(n_le_u64: &[u64]) -> Option<Self> {
        #[cfg(target_arch = "x86_64")]
        {
            let simd = simd()?;
            Some(Self {
                ctx: MontCtx::new(n_le_u64)?,
                simd,
            })
        }
        #[cfg(not(target_arch = "x86_64"))]
        {
            let _ = n_le_u64;
            None
        }
    }

    /// The portable context (conversions, single multiplications).
    pub fn ctx(&self) -> &MontCtx {
        &self.ctx
    }

    /// See [`MontCtx::to_mont`].
    pub fn to_mont(&self, x: &[u64]) -> Result<Mont52, Error> {
        self.ctx.to_mont(x)
    }

    /// See [`MontCtx::from_mont`].
    pub fn from_mont(&self, x: &Mont52) -> Vec<u64> {
        self.ctx.from_mont(x)
    }

    /// [`MontCtx::to_mont`] of many values, eight per IFMA multiplication, parallel with rayon.
    pub fn to_mont_batch(&self, xs: &[&[u64]]) -> Result<Vec<Mont52>, Error> {
        self.enter_batch(xs, self.ctx.r2)
    }

    /// [`MontCtx::from_r64_montgomery`] of many values, eight per IFMA multiplication.
    pub fn from_r64_montgomery_batch(&self, xrs: &[&[u64]]) -> Result<Vec<Mont52>, Error> {
        self.enter_batch(xrs, self.ctx.from_r64)
    }

    /// [`MontMul8::from_r64_montgomery_batch`] on the calling thread only (no rayon: safe inside
    /// a `OnceLock` initialiser that a rayon worker may run).
    pub fn from_r64_montgomery_serial(&self, xrs: &[&[u64]]) -> Result<Vec<Mont52>, Error> {
        let c = &self.ctx;
        let mut out = xrs
            .iter()
            .map(|x| {
                Ok(Mont52 {
                    limbs: c.plain52(x)?,
                })
            })
            .collect::<Result<Vec<_>, Error>>()?;
        let k = Mont52 {
            limbs: self.ctx.from_r64,
        };
        for chunk in out.chunks_mut(LANES) {
            self.mul8_const(chunk, &k);
        }
        Ok(out)
    }

    /// Up to eight values multiplied by `k` (the missing lanes computed on `one` and dropped).
    fn mul8_const(&self, chunk: &mut [Mont52], k: &Mont52) {
        let mut lanes = [self.ctx.one; LANES];
        lanes[..chunk.len()].copy_from_slice(chunk);
        let [a0, a1, a2, a3, a4, a5, a6, a7] = &mut lanes;
        self.mul8([a0, a1, a2, a3, a4, a5, a6, a7], [k; LANES]);
        chunk.copy_from_slice(&lanes[..chunk.len()]);
    }

    /// [`MontCtx::from_mont`] of many values, eight per IFMA multiplication, parallel with rayon.
    pub fn from_mont_batch(&self, xs: &[Mont52]) -> Vec<Vec<u64>> {
        let mut plain_one = [0u64; PADDED];
        plain_one[0] = 1;
        self.leave_batch(xs, plain_one)
    }

    /// [`MontCtx::to_r64_montgomery`] of many values, eight per IFMA multiplication.
    pub fn to_r64_montgomery_batch(&self, xs: &[Mont52]) -> Vec<Vec<u64>> {
        self.leave_batch(xs, self.ctx.to_r64)
    }

    /// Each value `< n`, multiplied by the plain constant `k` (Montgomery product).
    fn enter_batch(&self, xs: &[&[u64]], k: [u64; PADDED]) -> Result<Vec<Mont52>, Error> {
        let c = &self.ctx;
        let mut out = xs
            .iter()
            .map(|x| {
                Ok(Mont52 {
                    limbs: c.plain52(x)?,
                })
            })
            .collect::<Result<Vec<_>, Error>>()?;
        let k = Mont52 { limbs: k };
        out.par_chunks_mut(LANES).for_each(|chunk| {
            let mut lanes = [c.one; LANES];
            lanes[..chunk.len()].copy_from_slice(chunk);
            let [a0, a1, a2, a3, a4, a5, a6, a7] = &mut lanes;
            self.mul8([a0, a1, a2, a3, a4, a5, a6, a7], [&k; LANES]);
            chunk.copy_from_slice(&lanes[..chunk.len()]);
        });
        Ok(out)
    }

    /// Each value multiplied by the plain constant `k` (Montgomery product), fully reduced, as
    /// u64 limbs.
    fn leave_batch(&self, xs: &[Mont52], k: [u64; PADDED]) -> Vec<Vec<u64>> {
        let c = &self.ctx;
        let k = Mont52 { limbs: k };
        xs.par_chunks(LANES)
            .flat_map_iter(|chunk| {
                let mut lanes = [c.one; LANES];
                lanes[..chunk.len()].copy_from_slice(chunk);
                let [a0, a1, a2, a3, a4, a5, a6, a7] = &mut lanes;
                self.mul8([a0, a1, a2, a3, a4, a5, a6, a7], [&k; LANES]);
                lanes
                    .into_iter()
                    .take(chunk.len())
                    .map(|v| c.finish(&v.limbs))
            })
            .collect()
    }

    /// Each value `x < n` (u64 limbs) multiplied by `k` (Montgomery product), eight per IFMA
    /// multiplication, in parallel: with `k = `[`MontCtx::radix_factor`]`(s)` this enters the
    /// domain from a Montgomery form of radix `2^s`. Error if a value is not below `n`.
    pub fn enter_batch_with(&self, xs: &[&[u64]], k: &Mont52) -> Result<Vec<Mont52>, Error> {
        self.enter_batch(xs, k.limbs)
    }

    /// The Montgomery product of crypto-bigint's Montgomery forms: for each `i`,
    /// `a[i]·b[i]·R64⁻¹ mod n` (`R64 = 2^(64·k)`, `k` the u64 limbs of `n`), fully reduced, as
    /// u64 limbs: for `a = x·R64`, `b = y·R64` that is `x·y·R64`, the product in the same form.
    /// Two eight-lane products per eight pairs, no conversion in or out:
    /// `(a·b·R⁻¹)·(R²·R64⁻¹)·R⁻¹ = x·y·R64`. Parallel with rayon. Error if the lengths differ or
    /// a value is not below `n`.
    pub fn mul_r64_many(&self, a: &[&[u64]], b: &[&[u64]]) -> Result<Vec<Vec<u64>>, Error> {
        if a.len() != b.len() {
            return Err(Error::InvalidArgument(
                "operand slices of different lengths",
            ));
        }
        let c = &self.ctx;
        let k = Mont52 { limbs: c.from_r64 };
        let parts: Vec<Vec<Vec<u64>>> = a
            .par_chunks(LANES)
            .zip(b.par_chunks(LANES))
            .map(|(xa, xb)| {
                let mut x = [c.one; LANES];
                let mut y = [c.one; LANES];
                for (k, (u, v)) in xa.iter().zip(xb).enumerate() {
                    x[k].limbs = c.plain52(u)?;
                    y[k].limbs = c.plain52(v)?;
                }
                let [a0, a1, a2, a3, a4, a5, a6, a7] = &mut x;
                self.mul8(
                    [a0, a1, a2, a3, a4, a5, a6, a7],
                    core::array::from_fn(|k| &y[k]),
                );
                let [a0, a1, a2, a3, a4, a5, a6, a7] = &mut x;
                self.mul8([a0, a1, a2, a3, a4, a5, a6, a7], [&k; LANES]);
                Ok(x[..xa.len()].iter().map(|v| c.finish(&v.limbs)).collect())
            })
            .collect::<Result<_, Error>>()?;
        Ok(parts.into_iter().flatten().collect())
    }

    /// `bases[i] ← bases[i]^e_i` in the Montgomery domain, `e_i = exps[i]` (little-endian bytes,
    /// below `2^bits`), eight per kernel call (the same fixed-window method and the same
    /// products as [`MontCtx::pow`]), in parallel with rayon. Branch-free and with the same
    /// memory accesses whatever the exponents' values, for a given `bits`: every table entry is
    /// read, masked, for every window. Errors if the lengths differ or an exponent has a bit
    /// set at or above `bits`.
    pub fn pow_many(&self, bases: &mut [Mont52], exps: &[&[u8]], bits: u32) -> Result<(), Error> {
        if bases.len() != exps.len() {
            return Err(Error::InvalidArgument(
                "operand slices of different lengths",
            ));
        }
        bases
            .par_chunks_mut(LANES)
            .zip(exps.par_chunks(LANES))
            .try_for_each(|(b, e)| {
                let w = windows(e, bits)?;
                self.pow_chunk(b, &w);
                Ok(())
            })
    }

    /// [`MontMul8::pow_many`] with one exponent for every base (a secret key's, in decryption):
    /// its windows are computed once and wiped after use.
    pub fn pow_many_same(&self, bases: &mut [Mont52], exp: &[u8], bits: u32) -> Result<(), Error> {
        let one = windows(&[exp], bits)?;
        let w = zeroize::Zeroizing::new(one.iter().map(|x| [x[0]; LANES]).collect::<Vec<_>>());
        bases
            .par_chunks_mut(LANES)
            .for_each(|b| self.pow_chunk(b, &w));
        Ok(())
    }

    /// Up to eight bases raised to the exponents whose windows are `w` (missing lanes computed
    /// on `one` and dropped).
    fn pow_chunk(&self, chunk: &mut [Mont52], w: &[[u8; LANES]]) {
        let mut lanes = [self.ctx.one; LANES];
        lanes[..chunk.len()].copy_from_slice(chunk);
        let [a0, a1, a2, a3, a4, a5, a6, a7] = &mut lanes;
        let bases = [a0, a1, a2, a3, a4, a5, a6, a7];
        #[cfg(target_arch = "x86_64")]
        self.simd.pow8(&self.ctx, bases, w);
        #[cfg(not(target_arch = "x86_64"))]
        for (k, b) in bases.into_iter().enumerate() {
            let lane: Vec<u8> = w.iter().map(|x| x[k]).collect();
            self.ctx.pow(b, &lane);
        }
        chunk.copy_from_slice(&lanes[..chunk.len()]);
    }

    /// `acc[k] ← acc[k] · x[k] · R⁻¹ mod n` for the eight lanes `k` (almost Montgomery: results
    /// below `2n`).
    pub fn mul8(&self, acc: [&mut Mont52; LANES], x: [&Mont52; LANES]) {
        #[cfg(target_arch = "x86_64")]
        self.simd.mul8(&self.ctx, acc, x);
        #[cfg(not(target_arch = "x86_64"))]
        for (a, b) in acc.into_iter().zip(x) {
            self.ctx.mul(a, b);
        }
    }

    /// `acc[i] ← acc[i] · x[i] · R⁻¹ mod n` for every `i` (eight at a time); error if the
    /// lengths differ.
    pub fn mul_many(&self, acc: &mut [Mont52], x: &[Mont52]) -> Result<(), Error> {
        if acc.len() != x.len() {
            return Err(Error::InvalidArgument(
                "operand slices of different lengths",
            ));
        }
        self.mul_zip(acc, x);
        Ok(())
    }

    /// `acc[i] ← acc[i] · x[i] · R⁻¹ mod n` over the common length.
    fn mul_zip(&self, acc: &mut [Mont52], x: &[Mont52]) {
        let (acc8, acc_rest) = acc.as_chunks_mut::<LANES>();
        let (x8, x_rest) = x.as_chunks::<LANES>();
        for (a, b) in acc8.iter_mut().zip(x8) {
            let [a0, a1, a2, a3, a4, a5, a6, a7] = a;
            self.mul8(
                [a0, a1, a2, a3, a4, a5, a6, a7],
                core::array::from_fn(|k| &b[k]),
            );
        }
        for (a, b) in acc_rest.iter_mut().zip(x_rest) {
            self.ctx.mul(a, b);
        }
    }

    /// The histograms of up to eight lanes: `lanes.len() · n_bins` values, lane-major.
    /// Arguments checked by the caller.
    fn lanes_hist(
        &self,
        cts: &[Mont52],
        lanes: &[Lane<'_>],
        n_bins: usize,
    ) -> Result<Vec<Mont52>, Error> {
        #[cfg(target_arch = "x86_64")]
        {
            self.simd.lanes_hist(&self.ctx, cts, lanes, n_bins)
        }
        #[cfg(not(target_arch = "x86_64"))]
        {
            let mut h = vec![self.ctx.one; lanes.len() * n_bins];
            for (k, lane) in lanes.iter().enumerate() {
                for &r in lane.rows {
                    let r = r as usize;
                    self.ctx
                        .mul(&mut h[k * n_bins + usize::from(lane.col[r])], &cts[r]);
                }
            }
            Ok(h)
        }
    }
}

#[cfg(target_arch = "x86_64")]
#[allow(unsafe_code)]
mod avx512 {
    //! The eight-lane kernels; see the parent module's `# Safety`.

    use core::arch::x86_64::{
        __m512i, _mm512_add_epi64, _mm512_and_si512, _mm512_cmpeq_epi64_mask, _mm512_loadu_si512,
        _mm512_madd52hi_epu64, _mm512_madd52lo_epu64, _mm512_mask_mov_epi64, _mm512_set1_epi64,
        _mm512_setzero_si512, _mm512_shuffle_i64x2, _mm512_srli_epi64, _mm512_storeu_si512,
        _mm512_unpackhi_epi64, _mm512_unpacklo_epi64,
    };

    use super::{LANES, Lane, MASK52, Mont52, MontCtx, PADDED, POW_TABLE, POW_WINDOW};
    use crate::Error;

    /// Proof that the CPU has `avx512f` and `avx512ifma`; see the parent module's `# Safety`.
    #[derive(Clone, Copy, Debug)]
    pub(super) struct Ifma(());

    impl Ifma {
        /// `Some` iff the running CPU has `avx512f` and `avx512ifma`.
        pub(super) fn detect() -> Option<Self> {
            let ok = std::is_x86_feature_detected!("avx512f")
                && std::is_x86_feature_detected!("avx512ifma");
            ok.then_some(Self(()))
        }

        /// See [`super::MontMul8::mul8`].
        pub(super) fn mul8(self, ctx: &MontCtx, acc: [&mut Mont52; LANES], x: [&Mont52; LANES]) {
            // SAFETY: `self` exists only if `detect` found avx512f+avx512ifma.
            unsafe { mul8(ctx, acc, x) }
        }

        /// See [`super::MontMul8::pow_many`].
        pub(super) fn pow8(
            self,
            ctx: &MontCtx,
            bases: [&mut Mont52; LANES],
            windows: &[[u8; LANES]],
        ) {
            // SAFETY: `self` exists only if `detect` found avx512f+avx512ifma.
            unsafe { pow8(ctx, bases, windows) }
        }

        /// See [`super::MontMul8::lanes_hist`].
        pub(super) fn lanes_hist(
            self,
            ctx: &MontCtx,
            cts: &[Mont52],
            lanes: &[Lane<'_>],
            n_bins: usize,
        ) -> Result<Vec<Mont52>, Error> {
            // SAFETY: `self` exists only if `detect` found avx512f+avx512ifma.
            unsafe { lanes_hist(ctx, cts, lanes, n_bins) }
        }
    }

    /// Unaligned load of eight u64.
    #[inline]
    #[target_feature(enable = "avx512f,avx512ifma")]
    fn load(a: &[u64; 8]) -> __m512i {
        // SAFETY: `a` is 64 readable bytes, exactly what the unaligned load reads.
        unsafe { _mm512_loadu_si512(a.as_ptr().cast()) }
    }

    /// Unaligned store of eight u64.
    #[inline]
    #[target_feature(enable = "avx512f,avx512ifma")]
    fn store(v: __m512i) -> [u64; 8] {
        let mut a = [0u64; 8];
        // SAFETY: `a` is 64 writable bytes, exactly what the unaligned store writes.
        unsafe { _mm512_storeu_si512(a.as_mut_ptr().cast(), v) };
        a
    }

    /// Broadcast of one word (bit pattern reinterpreted, not converted).
    #[inline]
    #[target_feature(enable = "avx512f,avx512ifma")]
    fn splat(x: u64) -> __m512i {
        _mm512_set1_epi64(x.cast_signed())
    }

    /// `out ← a·b·R⁻¹ mod n` in each lane, limbs normalised below 2^52 (see the parent module
    /// for the algorithm and the headroom argument). `a`, `b`, `out` hold `L = n.len()` limbs.
    #[inline]
    #[target_feature(enable = "avx512f,avx512ifma")]
    fn mont_mul(a: &[__m512i], b: &[__m512i], n: &[u64], n_prime: u64, out: &mut [__m512i]) {
        let l = n.len();
        let (a, b, out) = (&a[..l], &b[..l], &mut out[..l]);
        let zero = _mm512_setzero_si512();
        let np = splat(n_prime);
        let mut t = [zero; PADDED];
        let t = &mut t[..l];
        for &bi in b {
            let t0 = _mm512_madd52lo_epu64(t[0], a[0], bi);
            let m = _mm512_madd52lo_epu64(zero, t0, np);
            let n0 = splat(n[0]);
            let carry = _mm512_srli_epi64::<52>(_mm512_madd52lo_epu64(t0, m, n0));
            let mut last = zero;
            if l > 1 {
                t[1] = _mm512_add_epi64(t[1], carry);
            } else {
                last = carry;
            }
            let (mut pa, mut pn) = (a[0], n0);
            for j in 1..l {
                let (aj, nj) = (a[j], splat(n[j]));
                let mut x = _mm512_madd52lo_epu64(t[j], aj, bi);
                x = _mm512_madd52hi_epu64(x, pa, bi);
                x = _mm512_madd52lo_epu64(x, m, nj);
                x = _mm512_madd52hi_epu64(x, m, pn);
                t[j - 1] = x;
                (pa, pn) = (aj, nj);
            }
            last = _mm512_madd52hi_epu64(last, pa, bi);
            t[l - 1] = _mm512_madd52hi_epu64(last, m, pn);
        }
        let mask = splat(MASK52);
        let mut c = zero;
        for (o, &w) in out.iter_mut().zip(t.iter()) {
            let v = _mm512_add_epi64(w, c);
            *o = _mm512_and_si512(v, mask);
            c = _mm512_srli_epi64::<52>(v);
        }
    }

    /// Transposes an 8 × 8 block of words: `out[j]` lane `k` = `rows[k]` word `j` (and back:
    /// the transpose is its own inverse).
    #[inline]
    #[target_feature(enable = "avx512f,avx512ifma")]
    fn transpose(r: [__m512i; 8]) -> [__m512i; 8] {
        // Pairs of rows interleaved: t0 = (r0[0], r1[0], r0[2], r1[2], …), t1 = odd words.
        let t0 = _mm512_unpacklo_epi64(r[0], r[1]);
        let t1 = _mm512_unpackhi_epi64(r[0], r[1]);
        let t2 = _mm512_unpacklo_epi64(r[2], r[3]);
        let t3 = _mm512_unpackhi_epi64(r[2], r[3]);
        let t4 = _mm512_unpacklo_epi64(r[4], r[5]);
        let t5 = _mm512_unpackhi_epi64(r[4], r[5]);
        let t6 = _mm512_unpacklo_epi64(r[6], r[7]);
        let t7 = _mm512_unpackhi_epi64(r[6], r[7]);
        // 128-bit blocks: 0x88 takes blocks (a0, a2, b0, b2), 0xdd takes (a1, a3, b1, b3).
        let u0 = _mm512_shuffle_i64x2::<0x88>(t0, t2); // words 0, 4 of rows 0–3
        let u1 = _mm512_shuffle_i64x2::<0xdd>(t0, t2); // words 2, 6
        let u2 = _mm512_shuffle_i64x2::<0x88>(t1, t3); // words 1, 5
        let u3 = _mm512_shuffle_i64x2::<0xdd>(t1, t3); // words 3, 7
        let u4 = _mm512_shuffle_i64x2::<0x88>(t4, t6); // the same for rows 4–7
        let u5 = _mm512_shuffle_i64x2::<0xdd>(t4, t6);
        let u6 = _mm512_shuffle_i64x2::<0x88>(t5, t7);
        let u7 = _mm512_shuffle_i64x2::<0xdd>(t5, t7);
        [
            _mm512_shuffle_i64x2::<0x88>(u0, u4),
            _mm512_shuffle_i64x2::<0x88>(u2, u6),
            _mm512_shuffle_i64x2::<0x88>(u1, u5),
            _mm512_shuffle_i64x2::<0x88>(u3, u7),
            _mm512_shuffle_i64x2::<0xdd>(u0, u4),
            _mm512_shuffle_i64x2::<0xdd>(u2, u6),
            _mm512_shuffle_i64x2::<0xdd>(u1, u5),
            _mm512_shuffle_i64x2::<0xdd>(u3, u7),
        ]
    }

    /// Lane-interleaves the first `l` (rounded up to 8) words of eight values: `dst[j]` lane `k`
    /// = `vals[k][j]`.
    #[inline]
    #[target_feature(enable = "avx512f,avx512ifma")]
    fn interleave(vals: [&[u64; PADDED]; LANES], l: usize, dst: &mut [__m512i; PADDED]) {
        for q in 0..l.div_ceil(8) {
            let rows = core::array::from_fn(|k| load(&vals[k].as_chunks::<8>().0[q]));
            dst[8 * q..8 * q + 8].copy_from_slice(&transpose(rows));
        }
    }

    /// The inverse of [`interleave`]: `vals[k][j]` = `src[j]` lane `k`, for the first `l`
    /// (rounded up to 8) words.
    #[inline]
    #[target_feature(enable = "avx512f,avx512ifma")]
    fn deinterleave(src: &[__m512i; PADDED], l: usize, vals: [&mut [u64; PADDED]; LANES]) {
        let mut vals = vals;
        for q in 0..l.div_ceil(8) {
            let mut block = [src[0]; 8];
            block.copy_from_slice(&src[8 * q..8 * q + 8]);
            for (v, row) in vals.iter_mut().zip(transpose(block)) {
                v.as_chunks_mut::<8>().0[q] = store(row);
            }
        }
    }

    #[target_feature(enable = "avx512f,avx512ifma")]
    fn mul8(ctx: &MontCtx, acc: [&mut Mont52; LANES], x: [&Mont52; LANES]) {
        let l = ctx.limbs;
        let zero = _mm512_setzero_si512();
        let (mut a, mut b, mut r) = ([zero; PADDED], [zero; PADDED], [zero; PADDED]);
        interleave(core::array::from_fn(|k| &acc[k].limbs), l, &mut a);
        interleave(core::array::from_fn(|k| &x[k].limbs), l, &mut b);
        mont_mul(&a[..l], &b[..l], &ctx.n[..l], ctx.n_prime, &mut r[..l]);
        deinterleave(&r, l, acc.map(|m| &mut m.limbs));
    }

    /// `out ←` the table entry each lane's window selects: every entry is read and kept by a
    /// lane mask (no branch or address depends on the windows).
    #[inline]
    #[target_feature(enable = "avx512f,avx512ifma")]
    fn select(
        table: &[[__m512i; PADDED]; POW_TABLE],
        window: &[u8; LANES],
        l: usize,
        out: &mut [__m512i; PADDED],
    ) {
        let d = load(&window.map(u64::from));
        let zero = _mm512_setzero_si512();
        out[..l].fill(zero);
        for (e, entry) in (0u64..).zip(table) {
            let m = _mm512_cmpeq_epi64_mask(d, splat(e));
            for (o, &w) in out[..l].iter_mut().zip(&entry[..l]) {
                *o = _mm512_mask_mov_epi64(*o, m, w);
            }
        }
    }

    /// Eight fixed-window powers, lane `k`'s exponent given by `windows[·][k]` (most
    /// significant window first); the same products in the same order as
    /// [`MontCtx::pow`](super::MontCtx::pow).
    #[target_feature(enable = "avx512f,avx512ifma")]
    fn pow8(ctx: &MontCtx, bases: [&mut Mont52; LANES], windows: &[[u8; LANES]]) {
        let l = ctx.limbs;
        let (n, np) = (&ctx.n[..l], ctx.n_prime);
        let zero = _mm512_setzero_si512();
        let mut table = [[zero; PADDED]; POW_TABLE];
        for (t, &w) in table[0][..l].iter_mut().zip(&ctx.one.limbs[..l]) {
            *t = splat(w);
        }
        interleave(core::array::from_fn(|k| &bases[k].limbs), l, &mut table[1]);
        for e in 2..POW_TABLE {
            let (done, rest) = table.split_at_mut(e);
            mont_mul(&done[e - 1][..l], &done[1][..l], n, np, &mut rest[0][..l]);
        }
        let (mut acc, mut tmp, mut sel) = ([zero; PADDED], [zero; PADDED], [zero; PADDED]);
        let Some((first, rest)) = windows.split_first() else {
            for b in bases {
                *b = ctx.one;
            }
            return;
        };
        select(&table, first, l, &mut acc);
        for w in rest {
            for _ in 0..POW_WINDOW {
                mont_mul(&acc[..l], &acc[..l], n, np, &mut tmp[..l]);
                core::mem::swap(&mut acc, &mut tmp);
            }
            select(&table, w, l, &mut sel);
            mont_mul(&acc[..l], &sel[..l], n, np, &mut tmp[..l]);
            core::mem::swap(&mut acc, &mut tmp);
        }
        deinterleave(&acc, l, bases.map(|m| &mut m.limbs));
    }

    #[target_feature(enable = "avx512f,avx512ifma")]
    fn lanes_hist(
        ctx: &MontCtx,
        cts: &[Mont52],
        lanes: &[Lane<'_>],
        n_bins: usize,
    ) -> Result<Vec<Mont52>, Error> {
        let l = ctx.limbs;
        let n = &ctx.n[..l];
        let Some(first) = lanes.first() else {
            return Ok(Vec::new());
        };
        // Per lane k, one histogram of n_bins values; lanes beyond `lanes` are filler.
        let mut acc = vec![ctx.one; LANES * n_bins];
        // All lanes on the same rows: the row's ciphertext is broadcast (filler lanes follow
        // lane 0's column). Otherwise each lane has its own rows and a lane whose rows are
        // exhausted multiplies bin 0 by 1.
        let shared = lanes
            .iter()
            .all(|ln| ln.rows.as_ptr() == first.rows.as_ptr() && ln.rows.len() == first.rows.len());
        let lane = |k: usize| {
            lanes.get(k).copied().unwrap_or(Lane {
                feature: 0,
                col: first.col,
                rows: if shared { first.rows } else { &[] },
            })
        };
        let lane_of: [Lane<'_>; LANES] = core::array::from_fn(lane);
        let steps = lanes.iter().map(|ln| ln.rows.len()).max().unwrap_or(0);
        let zero = _mm512_setzero_si512();
        let (mut a, mut b, mut r) = ([zero; PADDED], [zero; PADDED], [zero; PADDED]);
        for step in 0..steps {
            let row: [Option<usize>; LANES] =
                core::array::from_fn(|k| lane_of[k].rows.get(step).map(|&r| r as usize));
            if shared {
                // Same row in every lane (step < steps = the common length).
                let ct = row[0].map_or(&ctx.one, |r| &cts[r]);
                for (bj, &w) in b[..l].iter_mut().zip(&ct.limbs[..l]) {
                    *bj = splat(w);
                }
            } else {
                let src = core::array::from_fn(|k| &row[k].map_or(&ctx.one, |r| &cts[r]).limbs);
                interleave(src, l, &mut b);
            }
            let idx: [usize; LANES] = core::array::from_fn(|k| {
                k * n_bins + row[k].map_or(0, |r| usize::from(lane_of[k].col[r]))
            });
            interleave(core::array::from_fn(|k| &acc[idx[k]].limbs), l, &mut a);
            mont_mul(&a[..l], &b[..l], n, ctx.n_prime, &mut r[..l]);
            // The eight indices differ (k·n_bins + bin with bin < n_bins) and are in bounds.
            let dst = acc
                .get_disjoint_mut(idx)
                .map_err(|_| Error::Internal("histogram lanes overlap"))?;
            deinterleave(&r, l, dst.map(|m| &mut m.limbs));
        }
        acc.truncate(lanes.len() * n_bins);
        Ok(acc)
    }
}
