//! Helpers shared by Paillier and OU: Montgomery products on bare residues, a fixed-base
//! exponentiation table, randomness, fixed-length big-endian encoding and conversions between
//! [`Plaintext`] and fixed-size integers.

use crypto_bigint::modular::{FixedMontyForm, FixedMontyParams};
use crypto_bigint::{NonZero, Odd, Uint};
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;
use rayon::prelude::*;
use zeroize::{Zeroize, Zeroizing};

use super::Plaintext;
use super::mont_ifma::{Mont52, MontMul8};
use crate::Error;

/// `a · b · R⁻¹ mod m` on Montgomery residues (one Montgomery multiplication; the copies of the
/// parameters it makes are a few dozen nanoseconds against the microseconds of the product).
#[inline]
pub(crate) fn mont_mul<const L: usize>(
    a: &Uint<L>,
    b: &Uint<L>,
    params: &FixedMontyParams<L>,
) -> Uint<L> {
    let x = FixedMontyForm::from_montgomery(*a, params);
    let y = FixedMontyForm::from_montgomery(*b, params);
    *x.mul(&y).as_montgomery()
}

/// `base^e mod m` for exponents below `2^max_bits`, by a table of `base^(d · 2^(w·i))` for every
/// window position `i` and digit `d ∈ 1..2^w`: an exponentiation is one multiplication per
/// non-zero `w`-bit digit of the exponent and no squaring (the fixed-base windowed method of
/// Brickell, Gordon, McCurley and Wilson, "Fast exponentiation with precomputation",
/// EUROCRYPT '92, with base `2^w`). The table holds `⌈max_bits/w⌉ · (2^w - 1)` residues.
///
/// Variable time: which entry is read depends on the exponent (a cache-timing observer on the
/// same machine could learn about it); see docs/protocols/he.md § constant time.
pub(crate) struct FixedBaseTable<const L: usize> {
    window: u32,
    rows: usize,
    /// Row `i`, digit `d` at `i · (2^w - 1) + d - 1`, in Montgomery form.
    entries: Vec<Uint<L>>,
}

impl<const L: usize> FixedBaseTable<L> {
    /// Builds the table of `base` (Montgomery form) for exponents of at most `max_bits` bits,
    /// with windows of `window ∈ 1..=16` bits.
    pub(crate) fn new(
        base: &Uint<L>,
        params: &FixedMontyParams<L>,
        max_bits: u32,
        window: u32,
    ) -> Self {
        let window = window.clamp(1, 16);
        let digits = (1usize << window) - 1;
        let rows = (max_bits as usize).div_ceil(window as usize);
        let mut entries = Vec::with_capacity(rows * digits);
        let mut row_base = FixedMontyForm::from_montgomery(*base, params);
        for _ in 0..rows {
            let mut acc = row_base;
            entries.push(*acc.as_montgomery());
            for _ in 1..digits {
                acc = acc.mul(&row_base);
                entries.push(*acc.as_montgomery());
            }
            // base^(2^w · 2^(w·i)) = base^((2^w - 1) · 2^(w·i)) · base^(2^(w·i)).
            row_base = acc.mul(&row_base);
        }
        FixedBaseTable {
            window,
            rows,
            entries,
        }
    }

    /// The window width in bits.
    pub(crate) fn window(&self) -> u32 {
        self.window
    }

    /// The rows (windows of the exponent) the table covers.
    pub(crate) fn rows(&self) -> usize {
        self.rows
    }

    /// The entries: row `i`, digit `d ≥ 1` at `i · (2^w - 1) + d - 1`, Montgomery form.
    pub(crate) fn entries(&self) -> &[Uint<L>] {
        &self.entries
    }

    /// `base^e` in Montgomery form for the little-endian exponent bytes `e`; `None` if `e` is
    /// wider than the table.
    pub(crate) fn pow(&self, e: &[u8], params: &FixedMontyParams<L>) -> Option<Uint<L>> {
        let w = self.window as usize;
        let digits = (1usize << w) - 1;
        let bits = e.len() * 8;
        if bits.div_ceil(w) > self.rows {
            // Wider than the table unless the extra top bits are zero.
            let used = e
                .iter()
                .rposition(|&b| b != 0)
                .map_or(0, |i| i * 8 + 8 - e[i].leading_zeros() as usize);
            if used.div_ceil(w) > self.rows {
                return None;
            }
        }
        let mut acc: Option<FixedMontyForm<L>> = None;
        for i in 0..bits.div_ceil(w).min(self.rows) {
            let d = digit(e, i * w, w);
            if d == 0 {
                continue;
            }
            let y = FixedMontyForm::from_montgomery(self.entries[i * digits + d - 1], params);
            acc = Some(match acc {
                None => y,
                Some(a) => a.mul(&y),
            });
        }
        Some(match acc {
            None => *params.one(),
            Some(a) => *a.as_montgomery(),
        })
    }
}

/// Bits `[at, at + w)` of the little-endian byte string `e` (zeros past its end), `w ≤ 16`.
pub(crate) fn digit(e: &[u8], at: usize, w: usize) -> usize {
    let byte = at / 8;
    let mut v: u32 = 0;
    for k in 0..3 {
        if let Some(&b) = e.get(byte + k) {
            v |= u32::from(b) << (8 * k);
        }
    }
    ((v >> (at % 8)) & ((1u32 << w) - 1)) as usize
}

/// A key-generation RNG seeded from the operating system.
pub(crate) fn os_rng() -> Result<ChaCha20Rng, Error> {
    let mut seed = [0u8; 32];
    getrandom::fill(&mut seed)
        .map_err(|_| Error::Internal("the operating system's random number generator failed"))?;
    let rng = ChaCha20Rng::from_seed(seed);
    seed.zeroize();
    Ok(rng)
}

/// `bits` uniformly random bits from the operating system, little-endian bytes (the top byte
/// masked). The caller zeroises the buffer after use.
pub(crate) fn random_exponent(bits: u32) -> Result<Vec<u8>, Error> {
    let mut e = vec![0u8; (bits as usize).div_ceil(8)];
    getrandom::fill(&mut e)
        .map_err(|_| Error::Internal("the operating system's random number generator failed"))?;
    let extra = e.len() * 8 - bits as usize;
    if let Some(top) = e.last_mut() {
        *top &= 0xff >> extra;
    }
    Ok(e)
}

/// Little-endian bytes of a plaintext's magnitude, checked to have at most `max_bits` bits.
pub(crate) fn magnitude_le(m: &Plaintext, max_bits: u32) -> Result<Vec<u8>, Error> {
    if m.bits() > max_bits {
        return Err(Error::InvalidArgument(
            "plaintext exceeds the capacity of the key (see plaintext_bits)",
        ));
    }
    let mut out: Vec<u8> = m
        .magnitude_limbs()
        .iter()
        .flat_map(|l| l.to_le_bytes())
        .collect();
    while out.last() == Some(&0) {
        out.pop();
    }
    Ok(out)
}

/// A fixed-size integer from little-endian bytes (at most `L` limbs' worth; the callers check).
pub(crate) fn uint_from_le<const L: usize>(bytes: &[u8]) -> Uint<L> {
    let mut buf = vec![0u8; Uint::<L>::BYTES];
    let n = bytes.len().min(buf.len());
    buf[..n].copy_from_slice(&bytes[..n]);
    let x = Uint::from_le_slice(&buf);
    buf.zeroize();
    x
}

/// A signed plaintext from a magnitude.
pub(crate) fn plaintext_from_uint<const L: usize>(negative: bool, mag: &Uint<L>) -> Plaintext {
    let mut bytes = mag.to_le_bytes();
    let limbs = bytes
        .as_ref()
        .chunks(8)
        .map(|c| {
            let mut w = [0u8; 8];
            w[..c.len()].copy_from_slice(c);
            u64::from_le_bytes(w)
        })
        .collect();
    bytes.as_mut().zeroize();
    Plaintext::from_limbs(negative, limbs)
}

/// Appends the `len`-byte big-endian encoding of `x` (`x < 2^(8·len)` by the callers' invariant).
pub(crate) fn write_be<const L: usize>(x: &Uint<L>, len: usize, out: &mut Vec<u8>) {
    let bytes = x.to_be_bytes();
    let b = bytes.as_ref();
    out.extend_from_slice(&b[b.len().saturating_sub(len)..]);
}

/// Reads a big-endian integer of exactly `len ≤ L·8` bytes.
pub(crate) fn read_be<const L: usize>(bytes: &[u8]) -> Option<Uint<L>> {
    if bytes.len() > Uint::<L>::BYTES {
        return None;
    }
    let mut buf = vec![0u8; Uint::<L>::BYTES];
    let off = buf.len() - bytes.len();
    buf[off..].copy_from_slice(bytes);
    let x = Uint::from_be_slice(&buf);
    buf.zeroize();
    Some(x)
}

/// `L(x) = (x - 1) / p`, reduced modulo `p` (Paillier, EUROCRYPT 1999, §3; Okamoto–Uchiyama
/// §3). Constant time for a fixed `p`. `None` only for `p = 0`.
pub(crate) fn l_function<const P: usize, const W: usize>(
    x: &Uint<W>,
    p: &Uint<P>,
) -> Option<Uint<P>> {
    let p_nz = non_zero(*p)?;
    let (quo, _rem) = x.wrapping_sub(&Uint::ONE).div_rem(&p_nz);
    Some(quo.resize::<P>().rem(&p_nz))
}

/// `a · b` if it fits in `L` limbs.
pub(crate) fn mul_exact<const L: usize>(a: &Uint<L>, b: &Uint<L>) -> Option<Uint<L>> {
    let (lo, hi) = a.widening_mul(b);
    (hi == Uint::ZERO).then_some(lo)
}

/// `Odd` from an integer, if it is odd.
pub(crate) fn odd<const L: usize>(x: Uint<L>) -> Option<Odd<Uint<L>>> {
    Odd::new(x).into_option()
}

/// `NonZero` from an integer, if it is not zero.
pub(crate) fn non_zero<const L: usize>(x: Uint<L>) -> Option<NonZero<Uint<L>>> {
    NonZero::new(x).into_option()
}

/// A byte reader for the fixed layouts of keys.
pub(crate) struct Reader<'a> {
    bytes: &'a [u8],
}

impl<'a> Reader<'a> {
    pub(crate) fn new(bytes: &'a [u8]) -> Self {
        Reader { bytes }
    }

    pub(crate) fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if self.bytes.len() < n {
            return None;
        }
        let (a, b) = self.bytes.split_at(n);
        self.bytes = b;
        Some(a)
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }
}

/// Batch powers by a secret exponent modulo a secret modulus `m` (`p²` in OU's and Paillier's
/// decryption) on the eight-lane AVX-512 IFMA kernel ([`MontMul8::pow_many_same`]): the context
/// modulo `m`, the factor that enters it from a ciphertext's Montgomery form of radix `2^shift`
/// reduced modulo `m`, and the exponent. All derive from the secret key and are wiped on drop
/// (the context wipes itself).
pub(crate) struct SecretPowers<const L: usize> {
    m: Uint<L>,
    ctx: MontMul8,
    enter: Mont52,
    exp: Zeroizing<Vec<u8>>,
    bits: u32,
}

impl<const L: usize> Drop for SecretPowers<L> {
    fn drop(&mut self) {
        self.m.zeroize();
        self.enter.zeroize();
    }
}

impl<const L: usize> SecretPowers<L> {
    /// `None` without IFMA (CPU, `UNSEEN_NO_SIMD`) or for a modulus the kernel does not take.
    /// `exp` has at most `bits` bits.
    pub(crate) fn new(m: Uint<L>, shift: u32, exp: &Uint<L>, bits: u32) -> Option<Self> {
        let ctx = MontMul8::new(m.as_words())?;
        let enter = ctx.ctx().radix_factor(shift);
        let exp = Zeroizing::new(
            exp.as_words()
                .iter()
                .flat_map(|w| w.to_le_bytes())
                .take(bits.div_ceil(8) as usize)
                .collect(),
        );
        Some(Self {
            m,
            ctx,
            enter,
            exp,
            bits,
        })
    }

    /// For each ciphertext in Montgomery form (`c·2^shift` modulo a multiple of `m`):
    /// `finish(c^exp mod m)`. The reduction modulo `m` is crypto-bigint's constant-time `rem`,
    /// the power reads its table under masks; every intermediate is wiped. `None` if the
    /// kernel refuses an input (not expected: every reduced value is below `m`).
    pub(crate) fn run<const W: usize, T: Send>(
        &self,
        cms: &[&Uint<W>],
        finish: impl Fn(&Uint<L>) -> T + Sync,
    ) -> Option<Vec<T>> {
        let m = non_zero(self.m)?;
        let mut reduced: Vec<Uint<L>> = cms.par_iter().map(|c| c.rem(&m)).collect();
        let refs: Vec<&[u64]> = reduced.iter().map(|x| &x.as_words()[..]).collect();
        let entered = self.ctx.enter_batch_with(&refs, &self.enter);
        reduced.zeroize();
        let mut xs = entered.ok()?;
        let powered = self.ctx.pow_many_same(&mut xs, &self.exp, self.bits);
        let plain = powered.ok().map(|()| self.ctx.from_mont_batch(&xs));
        xs.iter_mut().for_each(Zeroize::zeroize);
        let mut plain = plain?;
        let out = plain
            .par_iter()
            .map(|w| {
                let mut a = [0u64; L];
                let len = w.len().min(L);
                a[..len].copy_from_slice(&w[..len]);
                let mut x = Uint::<L>::from_words(a);
                let r = finish(&x);
                x.zeroize();
                a.zeroize();
                r
            })
            .collect();
        plain.iter_mut().for_each(Zeroize::zeroize);
        Some(out)
    }
}
