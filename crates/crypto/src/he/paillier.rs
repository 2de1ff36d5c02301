//! Paillier (P. Paillier, "Public-key cryptosystems based on composite degree residuosity
//! classes", EUROCRYPT 1999) with `g = n + 1` and the encryption randomness of Damgård, Jurik and
//! Nielsen (I. Damgård, M. Jurik, J. B. Nielsen, "A generalization of Paillier's public-key
//! system with applications to electronic voting", Int. J. Inf. Secur. 9(6), 2010, §4 with
//! `s = 1`): `h = -x² mod n`, `h_s = h^n mod n²`, and
//!
//! - encryption: `c = (1 + m·n) · h_s^α mod n²` with `α` uniform of `⌈|n|/2⌉` bits (DJN's
//!   choice, security under the DCR assumption plus the hardness of the short-exponent variant
//!   they state), `h_s^α` from a fixed-base table;
//! - decryption with the CRT: `m_p = L_p(c^(p-1) mod p²) · h_p mod p` with
//!   `h_p = L_p((1+n)^(p-1) mod p²)⁻¹`, the same modulo `q`, recombined (Paillier §7), centred in
//!   `(-n/2, n/2)`;
//! - ciphertexts are kept in Montgomery form modulo `n²`, so addition is one multiplication.

use std::sync::{Arc, Mutex, OnceLock};

use crypto_bigint::modular::{FixedMontyForm, FixedMontyParams};
use crypto_bigint::{Odd, RandomMod, Uint};
use crypto_primes::{Flavor, is_prime, random_prime};
use rand_chacha::ChaCha20Rng;
use rand_core::{CryptoRng, SeedableRng};
use rayon::prelude::*;
use zeroize::{Zeroize, Zeroizing};

use super::common::{
    FixedBaseTable, Reader, SecretPowers, l_function, magnitude_le, mont_mul, mul_exact, non_zero,
    odd, os_rng, plaintext_from_uint, random_exponent, read_be, uint_from_le, write_be,
};
use super::{HePublicKey, HeScheme, HeSecretKey, Plaintext};
use crate::Error;

const SCHEME: &str = "Paillier";
const PK_TAG: [u8; 3] = *b"PA1";
const SK_TAG: [u8; 3] = *b"Pa1";

/// Window of the `h_s` table: 8 bits (a 1024-bit `α` costs 128 multiplications modulo `n²`;
/// 128 rows of 255 residues, 16.7 MB for Paillier-2048, 37.6 MB for Paillier-3072).
const HS_WINDOW: u32 = 8;

fn bad(reason: &'static str) -> Error {
    Error::InvalidCiphertext {
        scheme: SCHEME,
        reason,
    }
}

/// The public part, generic over the limb counts of `n` and `n²`.
struct PaPub<const N: usize, const N2: usize> {
    bits: u32,
    pt_bits: u32,
    alpha_bits: u32,
    n: Odd<Uint<N>>,
    n_wide: Uint<N2>,
    n2: Odd<Uint<N2>>,
    params: FixedMontyParams<N2>,
    hs: Uint<N2>,
    hs_m: Uint<N2>,
    table: OnceLock<FixedBaseTable<N2>>,
    /// Precomputed `h_s^α` (Montgomery form), each used once.
    pool: Mutex<Vec<Uint<N2>>>,
}

impl<const N: usize, const N2: usize> PaPub<N, N2> {
    fn new(bits: u32, n: Odd<Uint<N>>, hs: Uint<N2>) -> Result<Self, Error> {
        let n_wide: Uint<N2> = n.get().resize();
        let n2 = mul_exact(&n_wide, &n_wide).ok_or(bad("modulus too large"))?;
        let n2 = odd(n2).ok_or(bad("modulus is even"))?;
        if hs == Uint::ZERO || hs >= *n2.as_ref() {
            return Err(bad("h_s must lie in [1, n²)"));
        }
        let params = FixedMontyParams::new_vartime(n2);
        let hs_m = *FixedMontyForm::new(&hs, &params).as_montgomery();
        Ok(PaPub {
            bits,
            pt_bits: bits - 2,
            alpha_bits: bits.div_ceil(2),
            n,
            n_wide,
            n2,
            params,
            hs,
            hs_m,
            table: OnceLock::new(),
            pool: Mutex::new(Vec::new()),
        })
    }

    fn len(&self) -> usize {
        (self.bits as usize) / 4
    }

    fn table(&self) -> &FixedBaseTable<N2> {
        self.table.get_or_init(|| {
            FixedBaseTable::new(&self.hs_m, &self.params, self.alpha_bits, HS_WINDOW)
        })
    }

    /// `h_s^α` for a fresh `α` (Montgomery form).
    fn random_part(&self) -> Result<Uint<N2>, Error> {
        if let Some(x) = self.pool.lock().ok().and_then(|mut p| p.pop()) {
            return Ok(x);
        }
        self.fresh_random_part()
    }

    fn precompute(&self, count: usize) -> Result<(), Error> {
        let fresh: Vec<Uint<N2>> = (0..count)
            .into_par_iter()
            .map(|_| self.fresh_random_part())
            .collect::<Result<_, _>>()?;
        let mut pool = self
            .pool
            .lock()
            .map_err(|_| Error::Internal("randomness pool poisoned"))?;
        pool.extend(fresh);
        Ok(())
    }

    fn pooled(&self) -> usize {
        self.pool.lock().map_or(0, |p| p.len())
    }

    fn fresh_random_part(&self) -> Result<Uint<N2>, Error> {
        let mut a = random_exponent(self.alpha_bits)?;
        let r = self.table().pow(&a, &self.params);
        a.zeroize();
        r.ok_or(Error::Internal("Paillier randomness wider than its table"))
    }

    fn encrypt(&self, m: &Plaintext) -> Result<Uint<N2>, Error> {
        let mut mag = magnitude_le(m, self.pt_bits)?;
        let mut x: Uint<N> = uint_from_le(&mag);
        mag.zeroize();
        if m.is_negative() {
            x = self.n.get().wrapping_sub(&x);
        }
        // (1 + n)^m = 1 + m·n mod n² (binomial theorem), m < n so no reduction is needed.
        let mut gm = x
            .resize::<N2>()
            .wrapping_mul(&self.n_wide)
            .wrapping_add(&Uint::ONE);
        x.zeroize();
        let gm_m = FixedMontyForm::new(&gm, &self.params);
        gm.zeroize();
        Ok(mont_mul(
            gm_m.as_montgomery(),
            &self.random_part()?,
            &self.params,
        ))
    }

    fn mul_plain(&self, a: &Uint<N2>, k: &Plaintext) -> Result<Uint<N2>, Error> {
        let mut mag = magnitude_le(k, self.pt_bits)?;
        let e: Uint<N> = uint_from_le(&mag);
        mag.zeroize();
        let y = FixedMontyForm::from_montgomery(*a, &self.params).pow_bounded_exp(&e, k.bits());
        let y = if k.is_negative() {
            y.invert_vartime()
                .into_option()
                .ok_or(bad("ciphertext not invertible modulo n²"))?
        } else {
            y
        };
        Ok(*y.as_montgomery())
    }

    fn read(&self, bytes: &[u8]) -> Result<Uint<N2>, Error> {
        if bytes.len() != self.len() {
            return Err(bad("ciphertext has the wrong length"));
        }
        let c: Uint<N2> = read_be(bytes).ok_or(bad("ciphertext has the wrong length"))?;
        if c == Uint::ZERO || c >= *self.n2.as_ref() {
            return Err(bad("ciphertext out of range (0, n²)"));
        }
        Ok(*FixedMontyForm::new(&c, &self.params).as_montgomery())
    }

    fn write(&self, c: &Uint<N2>, out: &mut Vec<u8>) {
        let x = FixedMontyForm::from_montgomery(*c, &self.params).retrieve();
        write_be(&x, self.len(), out);
    }

    fn to_bytes(&self) -> Vec<u8> {
        let nl = self.len() / 2;
        let mut out = Vec::with_capacity(5 + 3 * nl);
        out.extend_from_slice(&PK_TAG);
        out.extend_from_slice(&u16::try_from(self.bits).unwrap_or(0).to_be_bytes());
        write_be(self.n.as_ref(), nl, &mut out);
        write_be(&self.hs, 2 * nl, &mut out);
        out
    }

    fn from_fields(bits: u32, r: &mut Reader<'_>) -> Result<Self, Error> {
        let nl = (bits as usize) / 8;
        let n = r
            .take(nl)
            .and_then(read_be::<N>)
            .ok_or(bad("public key has the wrong length"))?;
        let hs = r
            .take(2 * nl)
            .and_then(read_be::<N2>)
            .ok_or(bad("public key has the wrong length"))?;
        if n.bit_width_vartime() != bits {
            return Err(bad("modulus has the wrong size"));
        }
        let n = odd(n).ok_or(bad("modulus is even"))?;
        PaPub::new(bits, n, hs)
    }
}

/// One CRT half: the prime, its square's Montgomery parameters and `h_p`.
struct Half<const N: usize, const H: usize> {
    p: Uint<H>,
    p_minus_1: Uint<H>,
    p_bits: u32,
    p2: Uint<N>,
    p_params: FixedMontyParams<H>,
    p2_params: FixedMontyParams<N>,
    /// `L_p((1 + n)^(p-1) mod p²)⁻¹ mod p`, Montgomery form modulo `p`.
    hp_m: Uint<H>,
    /// `c^(p-1) mod p²` in batches on AVX-512 IFMA, built on the first batch decryption
    /// (`None`: no IFMA, `UNSEEN_NO_SIMD`, or `p²` wider than the kernel's 2080 bits).
    ifma: OnceLock<Option<SecretPowers<N>>>,
}

impl<const N: usize, const H: usize> Half<N, H> {
    fn new(p: Uint<H>, n: &Uint<N>) -> Option<Self> {
        let p_odd = odd(p)?;
        let pw: Uint<N> = p.resize();
        let p2 = mul_exact(&pw, &pw)?;
        let p2_params = FixedMontyParams::new(odd(p2)?);
        let p_params = FixedMontyParams::new(p_odd);
        let p_minus_1 = p.wrapping_sub(&Uint::ONE);
        let p_bits = p.bit_width_vartime();
        let g = n.wrapping_add(&Uint::ONE).rem(&non_zero(p2)?);
        let x = FixedMontyForm::new(&g, &p2_params)
            .pow_bounded_exp(&p_minus_1, p_bits)
            .retrieve();
        let l = l_function(&x, &p)?;
        let hp = FixedMontyForm::new(&l, &p_params).invert().into_option()?;
        Some(Half {
            p,
            p_minus_1,
            p_bits,
            p2,
            p_params,
            p2_params,
            hp_m: *hp.as_montgomery(),
            ifma: OnceLock::new(),
        })
    }

    /// `m mod p` in Montgomery form modulo `p` (constant time).
    fn decrypt<const N2: usize>(&self, c: &Uint<N2>) -> Option<FixedMontyForm<H>> {
        let cp = c.rem(&non_zero(self.p2)?);
        let x = FixedMontyForm::new(&cp, &self.p2_params)
            .pow_bounded_exp(&self.p_minus_1, self.p_bits)
            .retrieve();
        self.finish(&x)
    }

    /// `L_p(x)·h_p mod p` from `x = c^(p-1) mod p²`.
    fn finish(&self, x: &Uint<N>) -> Option<FixedMontyForm<H>> {
        let l = l_function(x, &self.p)?;
        Some(
            FixedMontyForm::new(&l, &self.p_params)
                .mul(&FixedMontyForm::from_montgomery(self.hp_m, &self.p_params)),
        )
    }

    /// [`Half::decrypt`] of a batch on the eight-lane IFMA path: each ciphertext's Montgomery
    /// form modulo `n²` (`c·2^(64·N2)`), reduced modulo `p²`, enters `p²`'s domain as `c` in one
    /// product; then `c^(p-1) mod p²` eight at a time (masked table reads) and the same
    /// [`Half::finish`]. `None` without IFMA.
    fn decrypt_batch_ifma<const N2: usize>(
        &self,
        cms: &[&Uint<N2>],
    ) -> Option<Vec<Option<FixedMontyForm<H>>>> {
        self.ifma
            .get_or_init(|| {
                let shift = u32::try_from(64 * N2).ok()?;
                SecretPowers::new(self.p2, shift, &self.p_minus_1.resize(), self.p_bits)
            })
            .as_ref()?
            .run(cms, |x| self.finish(x))
    }
}

impl<const N: usize, const H: usize> Drop for Half<N, H> {
    fn drop(&mut self) {
        self.p.zeroize();
        self.p_minus_1.zeroize();
        self.p2.zeroize();
        self.p_params.zeroize();
        self.p2_params.zeroize();
        self.hp_m.zeroize();
    }
}

/// The secret part: both CRT halves and `q⁻¹ mod p`.
struct PaSec<const N: usize, const H: usize> {
    p: Half<N, H>,
    q: Half<N, H>,
    /// `q⁻¹ mod p`, Montgomery form modulo `p`.
    q_inv_m: Uint<H>,
    n: Uint<N>,
    n_half: Uint<N>,
}

impl<const N: usize, const H: usize> Drop for PaSec<N, H> {
    fn drop(&mut self) {
        self.q_inv_m.zeroize();
    }
}

impl<const N: usize, const H: usize> PaSec<N, H> {
    fn from_primes(p: Uint<H>, q: Uint<H>) -> Option<Self> {
        let n = mul_exact(&p.resize::<N>(), &q.resize::<N>())?;
        let hp = Half::new(p, &n)?;
        let hq = Half::new(q, &n)?;
        let q_mod_p = q.rem(&non_zero(p)?);
        let q_inv = FixedMontyForm::new(&q_mod_p, &hp.p_params)
            .invert()
            .into_option()?;
        Some(PaSec {
            q_inv_m: *q_inv.as_montgomery(),
            p: hp,
            q: hq,
            n,
            n_half: n.shr_vartime(1),
        })
    }

    fn decrypt<const N2: usize>(&self, c_m: &Uint<N2>, params: &FixedMontyParams<N2>) -> Plaintext {
        let c = FixedMontyForm::from_montgomery(*c_m, params).retrieve();
        self.combine(self.p.decrypt(&c), self.q.decrypt(&c))
    }

    /// Batch decryption with both CRT halves on the IFMA path (`None` without IFMA).
    fn decrypt_batch_ifma<const N2: usize>(&self, cms: &[&Uint<N2>]) -> Option<Vec<Plaintext>> {
        let mps = self.p.decrypt_batch_ifma(cms)?;
        let mqs = self.q.decrypt_batch_ifma(cms)?;
        Some(
            mps.into_par_iter()
                .zip(mqs)
                .map(|(mp, mq)| self.combine(mp, mq))
                .collect(),
        )
    }

    /// The message from `m mod p` and `m mod q` (Garner), centred in `(-n/2, n/2]`.
    fn combine(&self, mp: Option<FixedMontyForm<H>>, mq: Option<FixedMontyForm<H>>) -> Plaintext {
        let (Some(mp), Some(mq)) = (mp, mq) else {
            return Plaintext::default();
        };
        let Some(p_nz) = non_zero(self.p.p) else {
            return Plaintext::default();
        };
        // Garner: m = m_q + q · ((m_p - m_q) · q⁻¹ mod p).
        let mq = mq.retrieve();
        let mq_p = FixedMontyForm::new(&mq.rem(&p_nz), &self.p.p_params);
        let t = mp
            .sub(&mq_p)
            .mul(&FixedMontyForm::from_montgomery(
                self.q_inv_m,
                &self.p.p_params,
            ))
            .retrieve();
        let m = self
            .q
            .p
            .resize::<N>()
            .wrapping_mul(&t.resize::<N>())
            .wrapping_add(&mq.resize::<N>());
        if m > self.n_half {
            plaintext_from_uint(true, &self.n.wrapping_sub(&m))
        } else {
            plaintext_from_uint(false, &m)
        }
    }
}

#[allow(clippy::type_complexity)]
fn keygen<const N: usize, const N2: usize, const H: usize, R: CryptoRng + ?Sized>(
    bits: u32,
    rng: &mut R,
) -> Result<(PaPub<N, N2>, PaSec<N, H>), Error> {
    // |p| = |q| = |n|/2 and n of exactly |n| bits; then gcd(n, φ(n)) = 1 (checked anyway).
    let (p, q, n) = loop {
        let p: Uint<H> = random_prime(rng, Flavor::Any, bits / 2);
        let q: Uint<H> = random_prime(rng, Flavor::Any, bits / 2);
        if p == q {
            continue;
        }
        let Some(n) = mul_exact(&p.resize::<N>(), &q.resize::<N>()) else {
            continue;
        };
        if n.bit_width_vartime() != bits {
            continue;
        }
        let phi = p
            .wrapping_sub(&Uint::ONE)
            .resize::<N>()
            .wrapping_mul(&q.wrapping_sub(&Uint::ONE).resize::<N>());
        if n.gcd(&phi) != Uint::ONE {
            continue;
        }
        break (p, q, n);
    };
    let n_odd = odd(n).ok_or(Error::Internal("Paillier modulus is even"))?;
    let n_nz = non_zero(n).ok_or(Error::Internal("Paillier modulus is zero"))?;
    let params_n = FixedMontyParams::new(n_odd);
    // DJN 2010 §4: h = -x² mod n for random x ∈ Z_n*, h_s = h^n mod n².
    let h = loop {
        let x = Uint::<N>::random_mod_vartime(rng, &n_nz);
        if x.gcd(&n) != Uint::ONE {
            continue;
        }
        let x2 = FixedMontyForm::new(&x, &params_n).square().retrieve();
        break n.wrapping_sub(&x2);
    };
    let n_wide: Uint<N2> = n.resize();
    let n2 = mul_exact(&n_wide, &n_wide).ok_or(Error::Internal("n² overflows"))?;
    let params2 = FixedMontyParams::new_vartime(odd(n2).ok_or(Error::Internal("n² is even"))?);
    let hs = FixedMontyForm::new(&h.resize::<N2>(), &params2)
        .pow_vartime(&n)
        .retrieve();
    let public = PaPub::new(bits, n_odd, hs)?;
    let sec = PaSec::from_primes(p, q).ok_or(Error::Internal("Paillier CRT constants"))?;
    Ok((public, sec))
}

impl<const N: usize, const N2: usize> Drop for PaPub<N, N2> {
    fn drop(&mut self) {
        if let Ok(p) = self.pool.get_mut() {
            p.zeroize();
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Size dispatch.

// Behind an Arc: one allocation per key, the size difference is irrelevant.
#[allow(clippy::large_enum_variant)]
enum PubInner {
    B2048(PaPub<32, 64>),
    B3072(PaPub<48, 96>),
}

// Behind a Box, one per key.
#[allow(clippy::large_enum_variant)]
enum SecInner {
    B2048(PaSec<32, 16>),
    B3072(PaSec<48, 24>),
}

/// A Paillier public key (2048- or 3072-bit `n`). Cloning shares the fixed-base table, which is
/// built on first encryption.
#[derive(Clone)]
pub struct PaillierPublicKey(Arc<PubInner>);

/// A Paillier ciphertext (kept in Montgomery form modulo `n²`).
#[derive(Clone, PartialEq, Eq)]
pub struct PaillierCiphertext(Ct);

// Inline, so that a ciphertext costs no allocation; a 2048-bit key's ciphertexts carry the
// unused tail of the 3072-bit variant.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, PartialEq, Eq)]
enum Ct {
    B2048(Uint<64>),
    B3072(Uint<96>),
}

impl core::fmt::Debug for PaillierCiphertext {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("PaillierCiphertext(..)")
    }
}

impl core::fmt::Debug for PaillierPublicKey {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "PaillierPublicKey({} bits)", self.modulus_bits())
    }
}

/// A Paillier secret key: `p`, `q` and the CRT constants, zeroised on drop, never printed.
pub struct PaillierSecretKey {
    public: PaillierPublicKey,
    inner: Box<SecInner>,
}

impl core::fmt::Debug for PaillierSecretKey {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(
            f,
            "PaillierSecretKey({} bits, redacted)",
            self.public.modulus_bits()
        )
    }
}

macro_rules! on_pub {
    ($self:expr, $k:ident => $e:expr) => {
        match &*$self.0 {
            PubInner::B2048($k) => $e,
            PubInner::B3072($k) => $e,
        }
    };
}

impl HePublicKey for PaillierPublicKey {
    type Ciphertext = PaillierCiphertext;

    fn scheme(&self) -> HeScheme {
        HeScheme::Paillier
    }

    fn modulus_bits(&self) -> u32 {
        on_pub!(self, k => k.bits)
    }

    fn plaintext_bits(&self) -> u32 {
        on_pub!(self, k => k.pt_bits)
    }

    fn encrypt(&self, m: &Plaintext) -> Result<PaillierCiphertext, Error> {
        Ok(PaillierCiphertext(match &*self.0 {
            PubInner::B2048(k) => Ct::B2048(k.encrypt(m)?),
            PubInner::B3072(k) => Ct::B3072(k.encrypt(m)?),
        }))
    }

    fn encrypt_batch(&self, ms: &[Plaintext]) -> Result<Vec<PaillierCiphertext>, Error> {
        // Build the table before the parallel section (see OuPub::tables on why).
        on_pub!(self, k => { k.table(); });
        ms.par_iter().map(|m| self.encrypt(m)).collect()
    }

    fn add(&self, a: &PaillierCiphertext, b: &PaillierCiphertext) -> PaillierCiphertext {
        let mut c = a.clone();
        self.add_assign(&mut c, b);
        c
    }

    fn add_assign(&self, a: &mut PaillierCiphertext, b: &PaillierCiphertext) {
        // A ciphertext of another key size is a caller bug; it leaves `a` unchanged.
        match (&*self.0, &mut a.0, &b.0) {
            (PubInner::B2048(k), Ct::B2048(x), Ct::B2048(y)) => *x = mont_mul(x, y, &k.params),
            (PubInner::B3072(k), Ct::B3072(x), Ct::B3072(y)) => *x = mont_mul(x, y, &k.params),
            _ => debug_assert!(false, "Paillier ciphertexts of different key sizes"),
        }
    }

    fn mul_plain(
        &self,
        a: &PaillierCiphertext,
        k: &Plaintext,
    ) -> Result<PaillierCiphertext, Error> {
        Ok(PaillierCiphertext(match (&*self.0, &a.0) {
            (PubInner::B2048(pk), Ct::B2048(x)) => Ct::B2048(pk.mul_plain(x, k)?),
            (PubInner::B3072(pk), Ct::B3072(x)) => Ct::B3072(pk.mul_plain(x, k)?),
            _ => return Err(Error::InvalidArgument("ciphertext of another key size")),
        }))
    }

    fn zero(&self) -> PaillierCiphertext {
        PaillierCiphertext(match &*self.0 {
            PubInner::B2048(k) => Ct::B2048(*k.params.one()),
            PubInner::B3072(k) => Ct::B3072(*k.params.one()),
        })
    }

    fn rerandomize(&self, a: &mut PaillierCiphertext) -> Result<(), Error> {
        match (&*self.0, &mut a.0) {
            (PubInner::B2048(k), Ct::B2048(x)) => *x = mont_mul(x, &k.random_part()?, &k.params),
            (PubInner::B3072(k), Ct::B3072(x)) => *x = mont_mul(x, &k.random_part()?, &k.params),
            _ => return Err(Error::InvalidArgument("ciphertext of another key size")),
        }
        Ok(())
    }

    fn precompute_randomness(&self, count: usize) -> Result<(), Error> {
        // Tables first, outside the parallel section (see OuPub::tables in ou.rs).
        on_pub!(self, k => {
            k.table();
            k.precompute(count)
        })
    }

    fn precomputed_randomness(&self) -> usize {
        on_pub!(self, k => k.pooled())
    }

    fn ciphertext_len(&self) -> usize {
        on_pub!(self, k => k.len())
    }

    fn write_ciphertext(&self, c: &PaillierCiphertext, out: &mut Vec<u8>) {
        match (&*self.0, &c.0) {
            (PubInner::B2048(k), Ct::B2048(x)) => k.write(x, out),
            (PubInner::B3072(k), Ct::B3072(x)) => k.write(x, out),
            // A caller bug: write zeros of the right length so that framing stays intact.
            _ => out.extend(std::iter::repeat_n(0u8, self.ciphertext_len())),
        }
    }

    fn read_ciphertext(&self, bytes: &[u8]) -> Result<PaillierCiphertext, Error> {
        Ok(PaillierCiphertext(match &*self.0 {
            PubInner::B2048(k) => Ct::B2048(k.read(bytes)?),
            PubInner::B3072(k) => Ct::B3072(k.read(bytes)?),
        }))
    }

    fn to_bytes(&self) -> Vec<u8> {
        on_pub!(self, k => k.to_bytes())
    }

    fn from_bytes(bytes: &[u8]) -> Result<Self, Error> {
        let mut r = Reader::new(bytes);
        if r.take(3) != Some(&PK_TAG[..]) {
            return Err(bad("not a Paillier public key"));
        }
        let bits = read_bits(&mut r)?;
        let inner = match bits {
            2048 => PubInner::B2048(PaPub::from_fields(bits, &mut r)?),
            3072 => PubInner::B3072(PaPub::from_fields(bits, &mut r)?),
            _ => return Err(bad("unsupported modulus size (2048 or 3072 bits)")),
        };
        if !r.is_empty() {
            return Err(bad("trailing bytes after the public key"));
        }
        Ok(PaillierPublicKey(Arc::new(inner)))
    }
}

fn read_bits(r: &mut Reader<'_>) -> Result<u32, Error> {
    let b = r.take(2).ok_or(bad("key too short"))?;
    Ok(u32::from(u16::from_be_bytes([b[0], b[1]])))
}

impl PaillierSecretKey {
    /// Generates a key pair from `rng` (reproducible keys for tests; use
    /// [`HeSecretKey::generate`] otherwise).
    pub fn generate_with_rng<R: CryptoRng + ?Sized>(
        modulus_bits: u32,
        rng: &mut R,
    ) -> Result<Self, Error> {
        let (public, inner) = match modulus_bits {
            2048 => {
                let (p, s) = keygen::<32, 64, 16, R>(2048, rng)?;
                (PubInner::B2048(p), SecInner::B2048(s))
            }
            3072 => {
                let (p, s) = keygen::<48, 96, 24, R>(3072, rng)?;
                (PubInner::B3072(p), SecInner::B3072(s))
            }
            _ => {
                return Err(Error::InvalidArgument(
                    "Paillier modulus must be 2048 or 3072 bits",
                ));
            }
        };
        Ok(PaillierSecretKey {
            public: PaillierPublicKey(Arc::new(public)),
            inner: Box::new(inner),
        })
    }

    fn from_fields<const N: usize, const N2: usize, const H: usize>(
        bits: u32,
        r: &mut Reader<'_>,
    ) -> Result<(PaPub<N, N2>, PaSec<N, H>), Error> {
        let hl = (bits as usize) / 16;
        let mut half = || -> Result<Uint<H>, Error> {
            r.take(hl)
                .and_then(read_be::<H>)
                .ok_or(bad("secret key has the wrong length"))
        };
        let p = half()?;
        let q = half()?;
        let hs = r
            .take(hl * 4)
            .and_then(read_be::<N2>)
            .ok_or(bad("secret key has the wrong length"))?;
        if p.bit_width_vartime() != bits / 2 || q.bit_width_vartime() != bits / 2 || p == q {
            return Err(bad("secret key: prime of the wrong size"));
        }
        if !is_prime(Flavor::Any, &p) || !is_prime(Flavor::Any, &q) {
            return Err(bad("secret key: p or q is not prime"));
        }
        let n = mul_exact(&p.resize::<N>(), &q.resize::<N>())
            .ok_or(bad("secret key: modulus has the wrong size"))?;
        if n.bit_width_vartime() != bits {
            return Err(bad("secret key: modulus has the wrong size"));
        }
        let n_odd = odd(n).ok_or(bad("secret key: modulus is even"))?;
        let public = PaPub::new(bits, n_odd, hs)?;
        let sec = PaSec::from_primes(p, q).ok_or(bad("secret key: CRT constants do not exist"))?;
        Ok((public, sec))
    }
}

impl HeSecretKey for PaillierSecretKey {
    type Public = PaillierPublicKey;

    fn generate(modulus_bits: u32) -> Result<Self, Error> {
        let mut rng = os_rng()?;
        Self::generate_with_rng(modulus_bits, &mut rng)
    }

    fn generate_from_seed(modulus_bits: u32, seed: [u8; 32]) -> Result<Self, Error> {
        let mut rng = ChaCha20Rng::from_seed(seed);
        Self::generate_with_rng(modulus_bits, &mut rng)
    }

    fn public(&self) -> &PaillierPublicKey {
        &self.public
    }

    fn decrypt(&self, c: &PaillierCiphertext) -> Plaintext {
        match (&*self.public.0, &*self.inner, &c.0) {
            (PubInner::B2048(k), SecInner::B2048(s), Ct::B2048(x)) => s.decrypt(x, &k.params),
            (PubInner::B3072(k), SecInner::B3072(s), Ct::B3072(x)) => s.decrypt(x, &k.params),
            // A ciphertext of another key size is a caller bug.
            _ => Plaintext::default(),
        }
    }

    fn decrypt_batch(&self, cs: &[PaillierCiphertext]) -> Vec<Plaintext> {
        // Paillier-2048 with AVX-512 IFMA: eight powers modulo p² (and q²) per kernel call.
        if let (PubInner::B2048(_), SecInner::B2048(s)) = (&*self.public.0, &*self.inner) {
            let xs: Option<Vec<&Uint<64>>> = cs
                .iter()
                .map(|c| match &c.0 {
                    Ct::B2048(x) => Some(x),
                    Ct::B3072(_) => None,
                })
                .collect();
            if let Some(out) = xs.and_then(|xs| s.decrypt_batch_ifma(&xs)) {
                return out;
            }
        }
        cs.par_iter().map(|c| self.decrypt(c)).collect()
    }

    fn to_bytes(&self) -> Zeroizing<Vec<u8>> {
        fn enc<const N: usize, const N2: usize, const H: usize>(
            k: &PaPub<N, N2>,
            s: &PaSec<N, H>,
        ) -> Zeroizing<Vec<u8>> {
            let hl = k.len() / 4;
            let mut out = Zeroizing::new(Vec::with_capacity(5 + 6 * hl));
            out.extend_from_slice(&SK_TAG);
            out.extend_from_slice(&u16::try_from(k.bits).unwrap_or(0).to_be_bytes());
            write_be(&s.p.p, hl, &mut out);
            write_be(&s.q.p, hl, &mut out);
            write_be(&k.hs, 4 * hl, &mut out);
            out
        }
        match (&*self.public.0, &*self.inner) {
            (PubInner::B2048(k), SecInner::B2048(s)) => enc(k, s),
            (PubInner::B3072(k), SecInner::B3072(s)) => enc(k, s),
            _ => Zeroizing::new(Vec::new()),
        }
    }

    fn from_bytes(bytes: &[u8]) -> Result<Self, Error> {
        let mut r = Reader::new(bytes);
        if r.take(3) != Some(&SK_TAG[..]) {
            return Err(bad("not a Paillier secret key"));
        }
        let bits = read_bits(&mut r)?;
        let (public, inner) = match bits {
            2048 => {
                let (p, s) = Self::from_fields::<32, 64, 16>(bits, &mut r)?;
                (PubInner::B2048(p), SecInner::B2048(s))
            }
            3072 => {
                let (p, s) = Self::from_fields::<48, 96, 24>(bits, &mut r)?;
                (PubInner::B3072(p), SecInner::B3072(s))
            }
            _ => return Err(bad("unsupported modulus size (2048 or 3072 bits)")),
        };
        if !r.is_empty() {
            return Err(bad("trailing bytes after the secret key"));
        }
        Ok(PaillierSecretKey {
            public: PaillierPublicKey(Arc::new(public)),
            inner: Box::new(inner),
        })
    }
}
