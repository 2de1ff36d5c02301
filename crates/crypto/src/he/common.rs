//! What Paillier and OU share: the ciphertext group of a public key ([`PubCore`]: decoding,
//! encoding, addition, multiplication by a plaintext, the pool of precomputed randomness), the
//! layout of key encodings, Montgomery products on bare residues, a fixed-base exponentiation
//! table, randomness, fixed-length big-endian encoding and conversions between [`Plaintext`]
//! and fixed-size integers.

use std::sync::Mutex;

use crypto_bigint::modular::{FixedMontyForm, FixedMontyParams};
use crypto_bigint::{NonZero, Odd, Uint};
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;
use rayon::prelude::*;
use zeroize::{Zeroize, Zeroizing};

use super::Plaintext;
use super::mont_ifma::{Mont52, MontMul8};
use super::sized::Sized2;
use crate::Error;

/// [`Error::InvalidCiphertext`] of `scheme` (`"OU"`, `"Paillier"`).
pub(crate) fn bad(scheme: &'static str, reason: &'static str) -> Error {
    Error::InvalidCiphertext { scheme, reason }
}

/// What differs between the ciphertext groups of the schemes, for [`PubCore::new`].
pub(crate) struct CoreParams {
    /// `"OU"` or `"Paillier"`, for errors.
    pub(crate) scheme: &'static str,
    /// Bits of the public modulus `n`.
    pub(crate) bits: u32,
    /// Plaintext capacity (see [`super::HePublicKey::plaintext_bits`]).
    pub(crate) plaintext_bits: u32,
    /// Bytes of an encoded ciphertext.
    pub(crate) len: usize,
    /// Why a decoded ciphertext outside `(0, m)` is refused (names the modulus).
    pub(crate) out_of_range: &'static str,
    /// Why a ciphertext without an inverse modulo `m` cannot be multiplied by a negative value.
    pub(crate) not_invertible: &'static str,
}

/// The ciphertext group of one public key: residues modulo `m` (OU: `n`; Paillier: `n²`) of `L`
/// limbs, kept in Montgomery form so that addition is one Montgomery multiplication, encoded as
/// fixed-length big-endian integers in `(0, m)`; and the pool of precomputed random factors.
pub(crate) struct PubCore<const L: usize> {
    p: CoreParams,
    m: Odd<Uint<L>>,
    params: FixedMontyParams<L>,
    /// Precomputed random factors (`H^r`, `h_s^α`, Montgomery form), each used once: they are
    /// encryption randomness, so secret, and wiped on drop.
    pool: Mutex<Vec<Uint<L>>>,
}

impl<const L: usize> Drop for PubCore<L> {
    fn drop(&mut self) {
        if let Ok(p) = self.pool.get_mut() {
            p.zeroize();
        }
    }
}

impl<const L: usize> PubCore<L> {
    pub(crate) fn new(p: CoreParams, m: Odd<Uint<L>>) -> Self {
        PubCore {
            params: FixedMontyParams::new_vartime(m),
            m,
            p,
            pool: Mutex::new(Vec::new()),
        }
    }

    pub(crate) fn params(&self) -> &FixedMontyParams<L> {
        &self.params
    }

    pub(crate) fn modulus(&self) -> &Uint<L> {
        self.m.as_ref()
    }

    /// The Montgomery form of `x < m`.
    pub(crate) fn to_mont(&self, x: &Uint<L>) -> Uint<L> {
        *FixedMontyForm::new(x, &self.params).as_montgomery()
    }

    /// `a⁻¹` of a ciphertext (public: variable time is fine).
    pub(crate) fn invert(&self, a: &Uint<L>) -> Result<Uint<L>, Error> {
        let y = FixedMontyForm::from_montgomery(*a, &self.params)
            .invert_vartime()
            .into_option()
            .ok_or(bad(self.p.scheme, self.p.not_invertible))?;
        Ok(*y.as_montgomery())
    }

    /// A pooled random factor, else `fresh()`.
    pub(crate) fn random_part(
        &self,
        fresh: impl FnOnce() -> Result<Uint<L>, Error>,
    ) -> Result<Uint<L>, Error> {
        if let Some(x) = self.pool.lock().ok().and_then(|mut p| p.pop()) {
            return Ok(x);
        }
        fresh()
    }

    /// Adds `count` fresh random factors to the pool, computed in parallel.
    pub(crate) fn precompute(
        &self,
        count: usize,
        fresh: impl Fn() -> Result<Uint<L>, Error> + Sync + Send,
    ) -> Result<(), Error> {
        let fresh: Vec<Uint<L>> = (0..count)
            .into_par_iter()
            .map(|_| fresh())
            .collect::<Result<_, _>>()?;
        let mut pool = self
            .pool
            .lock()
            .map_err(|_| Error::Internal("randomness pool poisoned"))?;
        pool.extend(fresh);
        Ok(())
    }
}

/// The operations of [`PubCore`] that the size dispatch ([`Sized2`]) calls, with the residue as
/// an associated type (a dispatch over two const-generic widths cannot name them otherwise).
pub(crate) trait CoreOps: Send + Sync {
    /// A ciphertext: a residue in Montgomery form.
    type Res: Clone + PartialEq + Eq + Send + Sync + 'static;
    fn bits(&self) -> u32;
    fn plaintext_bits(&self) -> u32;
    fn ciphertext_len(&self) -> usize;
    /// The identity (the encryption of zero without randomness).
    fn one(&self) -> Self::Res;
    /// `a ← a·b mod m`: the ciphertext of the sum.
    fn add(&self, a: &mut Self::Res, b: &Self::Res);
    /// `a^k mod m` (inverted for a negative `k`): the ciphertext of the product. Constant time
    /// in the value of `k` up to its bit length (crypto-bigint's bounded power).
    fn mul_plain(&self, a: &Self::Res, k: &Plaintext) -> Result<Self::Res, Error>;
    /// Random factors left in the pool.
    fn pooled(&self) -> usize;
    /// Appends the fixed-length encoding.
    fn write(&self, c: &Self::Res, out: &mut Vec<u8>);
    /// Decodes a peer's ciphertext: exact length, `0 < c < m`.
    fn read(&self, bytes: &[u8]) -> Result<Self::Res, Error>;
}

impl<const L: usize> CoreOps for PubCore<L> {
    type Res = Uint<L>;

    fn bits(&self) -> u32 {
        self.p.bits
    }

    fn plaintext_bits(&self) -> u32 {
        self.p.plaintext_bits
    }

    fn ciphertext_len(&self) -> usize {
        self.p.len
    }

    fn one(&self) -> Uint<L> {
        *self.params.one()
    }

    fn add(&self, a: &mut Uint<L>, b: &Uint<L>) {
        *a = mont_mul(a, b, &self.params);
    }

    fn mul_plain(&self, a: &Uint<L>, k: &Plaintext) -> Result<Uint<L>, Error> {
        let mut mag = magnitude_le(k, self.p.plaintext_bits)?;
        let e: Uint<L> = uint_from_le(&mag);
        mag.zeroize();
        let y = FixedMontyForm::from_montgomery(*a, &self.params).pow_bounded_exp(&e, k.bits());
        if k.is_negative() {
            self.invert(y.as_montgomery())
        } else {
            Ok(*y.as_montgomery())
        }
    }

    fn pooled(&self) -> usize {
        self.pool.lock().map_or(0, |p| p.len())
    }

    fn write(&self, c: &Uint<L>, out: &mut Vec<u8>) {
        let x = FixedMontyForm::from_montgomery(*c, &self.params).retrieve();
        write_be(&x, self.p.len, out);
    }

    fn read(&self, bytes: &[u8]) -> Result<Uint<L>, Error> {
        let wrong_len = bad(self.p.scheme, "ciphertext has the wrong length");
        if bytes.len() != self.p.len {
            return Err(wrong_len);
        }
        let c: Uint<L> = read_be(bytes).ok_or(wrong_len)?;
        if c == Uint::ZERO || c >= *self.m.as_ref() {
            return Err(bad(self.p.scheme, self.p.out_of_range));
        }
        Ok(self.to_mont(&c))
    }
}

/// What a key encoding is, for [`decode_key`]'s errors.
pub(crate) struct KeyKind {
    /// `"OU"` or `"Paillier"`.
    pub(crate) scheme: &'static str,
    /// The three tag bytes the encoding starts with.
    pub(crate) tag: [u8; 3],
    /// The error for another tag (`"not an OU public key"`).
    pub(crate) other_tag: &'static str,
    /// The error for bytes after the key (`"trailing bytes after the public key"`).
    pub(crate) trailing: &'static str,
}

/// Appends a key encoding's header: the tag and the modulus size in bits (`u16`, big-endian).
pub(crate) fn write_key_header(tag: [u8; 3], bits: u32, out: &mut Vec<u8>) {
    out.extend_from_slice(&tag);
    // 2048 or 3072: fits u16.
    out.extend_from_slice(&u16::try_from(bits).unwrap_or(0).to_be_bytes());
}

/// Decodes a key: the header (tag, then the size), the fields of its size (`b2048` or `b3072`,
/// given the size in bits and a reader positioned after the header), and no trailing bytes.
pub(crate) fn decode_key<A, B>(
    kind: &KeyKind,
    bytes: &[u8],
    b2048: impl FnOnce(u32, &mut Reader<'_>) -> Result<A, Error>,
    b3072: impl FnOnce(u32, &mut Reader<'_>) -> Result<B, Error>,
) -> Result<Sized2<A, B>, Error> {
    let mut r = Reader::new(bytes);
    if r.take(3) != Some(&kind.tag[..]) {
        return Err(bad(kind.scheme, kind.other_tag));
    }
    let b = r.take(2).ok_or(bad(kind.scheme, "key too short"))?;
    let bits = u32::from(u16::from_be_bytes([b[0], b[1]]));
    let key = Sized2::by_size(
        bits,
        &mut r,
        b2048,
        b3072,
        bad(kind.scheme, "unsupported modulus size (2048 or 3072 bits)"),
    )?;
    if !r.is_empty() {
        return Err(bad(kind.scheme, kind.trailing));
    }
    Ok(key)
}

/// A fixed-size integer from little-endian words (zero-extended, or truncated to `L` words).
pub(crate) fn uint_from_words<const L: usize>(w: &[u64]) -> Uint<L> {
    let mut a = [0u64; L];
    let len = w.len().min(L);
    a[..len].copy_from_slice(&w[..len]);
    let x = Uint::from_words(a);
    a.zeroize();
    x
}

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
                let mut x = uint_from_words::<L>(w);
                let r = finish(&x);
                x.zeroize();
                r
            })
            .collect();
        plain.iter_mut().for_each(Zeroize::zeroize);
        Some(out)
    }
}
