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

use std::sync::{Arc, OnceLock};

use crypto_bigint::modular::{FixedMontyForm, FixedMontyParams};
use crypto_bigint::{Odd, RandomMod, Uint};
use crypto_primes::{Flavor, is_prime, random_prime};
use rand_chacha::ChaCha20Rng;
use rand_core::{CryptoRng, SeedableRng};
use rayon::prelude::*;
use zeroize::{Zeroize, Zeroizing};

use super::common::{
    CoreOps, CoreParams, FixedBaseTable, KeyKind, PubCore, Reader, SecretPowers, decode_key,
    l_function, magnitude_le, mont_mul, mul_exact, non_zero, odd, os_rng, plaintext_from_uint,
    random_exponent, read_be, uint_from_le, write_be, write_key_header,
};
use super::sized::{Sized2, SizedCt, SizedPublic, SizedSecret};
use super::{HePublicKey, HeScheme, HeSecretKey, Plaintext};
use crate::Error;

const SCHEME: &str = "Paillier";
const PUBLIC: KeyKind = KeyKind {
    scheme: SCHEME,
    tag: *b"PA1",
    other_tag: "not a Paillier public key",
    trailing: "trailing bytes after the public key",
};
const SECRET: KeyKind = KeyKind {
    scheme: SCHEME,
    tag: *b"Pa1",
    other_tag: "not a Paillier secret key",
    trailing: "trailing bytes after the secret key",
};

/// Window of the `h_s` table: 8 bits (a 1024-bit `α` costs 128 multiplications modulo `n²`;
/// 128 rows of 255 residues, 16.7 MB for Paillier-2048, 37.6 MB for Paillier-3072).
const HS_WINDOW: u32 = 8;

fn bad(reason: &'static str) -> Error {
    super::common::bad(SCHEME, reason)
}

/// The public part, generic over the limb counts of `n` and `n²`.
struct PaPub<const N: usize, const N2: usize> {
    /// Ciphertexts modulo `n²` and the pool of precomputed `h_s^α`.
    core: PubCore<N2>,
    alpha_bits: u32,
    n: Odd<Uint<N>>,
    n_wide: Uint<N2>,
    hs: Uint<N2>,
    hs_m: Uint<N2>,
    table: OnceLock<FixedBaseTable<N2>>,
}

impl<const N: usize, const N2: usize> PaPub<N, N2> {
    fn new(bits: u32, n: Odd<Uint<N>>, hs: Uint<N2>) -> Result<Self, Error> {
        let n_wide: Uint<N2> = n.get().resize();
        let n2 = mul_exact(&n_wide, &n_wide).ok_or(bad("modulus too large"))?;
        let n2 = odd(n2).ok_or(bad("modulus is even"))?;
        if hs == Uint::ZERO || hs >= *n2.as_ref() {
            return Err(bad("h_s must lie in [1, n²)"));
        }
        let core = PubCore::new(
            CoreParams {
                scheme: SCHEME,
                bits,
                plaintext_bits: bits - 2,
                len: (bits as usize) / 4,
                out_of_range: "ciphertext out of range (0, n²)",
                not_invertible: "ciphertext not invertible modulo n²",
            },
            n2,
        );
        Ok(PaPub {
            hs_m: core.to_mont(&hs),
            core,
            alpha_bits: bits.div_ceil(2),
            n,
            n_wide,
            hs,
            table: OnceLock::new(),
        })
    }

    fn table(&self) -> &FixedBaseTable<N2> {
        self.table.get_or_init(|| {
            FixedBaseTable::new(&self.hs_m, self.core.params(), self.alpha_bits, HS_WINDOW)
        })
    }

    /// `h_s^α` for a fresh `α` (Montgomery form).
    fn fresh_random_part(&self) -> Result<Uint<N2>, Error> {
        let mut a = random_exponent(self.alpha_bits)?;
        let r = self.table().pow(&a, self.core.params());
        a.zeroize();
        r.ok_or(Error::Internal("Paillier randomness wider than its table"))
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

impl<const N: usize, const N2: usize> SizedPublic for PaPub<N, N2> {
    type Core = PubCore<N2>;

    fn core(&self) -> &PubCore<N2> {
        &self.core
    }

    fn prepare(&self) {
        self.table();
    }

    fn encrypt(&self, m: &Plaintext) -> Result<Uint<N2>, Error> {
        let mut mag = magnitude_le(m, self.core.plaintext_bits())?;
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
        let gm_m = FixedMontyForm::new(&gm, self.core.params());
        gm.zeroize();
        Ok(mont_mul(
            gm_m.as_montgomery(),
            &self.random_part()?,
            self.core.params(),
        ))
    }

    fn random_part(&self) -> Result<Uint<N2>, Error> {
        self.core.random_part(|| self.fresh_random_part())
    }

    fn precompute(&self, count: usize) -> Result<(), Error> {
        self.core.precompute(count, || self.fresh_random_part())
    }

    fn to_bytes(&self) -> Vec<u8> {
        let nl = self.core.ciphertext_len() / 2;
        let mut out = Vec::with_capacity(5 + 3 * nl);
        write_key_header(PUBLIC.tag, self.core.bits(), &mut out);
        write_be(self.n.as_ref(), nl, &mut out);
        write_be(&self.hs, 2 * nl, &mut out);
        out
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

    fn decrypt_with<const N2: usize>(
        &self,
        c_m: &Uint<N2>,
        params: &FixedMontyParams<N2>,
    ) -> Plaintext {
        let c = FixedMontyForm::from_montgomery(*c_m, params).retrieve();
        self.combine(self.p.decrypt(&c), self.q.decrypt(&c))
    }

    /// Batch decryption with both CRT halves on the IFMA path (`None` without IFMA).
    fn batch_ifma<const N2: usize>(&self, cms: &[&Uint<N2>]) -> Option<Vec<Plaintext>> {
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

impl<const N: usize, const N2: usize, const H: usize> SizedSecret<PaPub<N, N2>> for PaSec<N, H> {
    fn decrypt(&self, public: &PaPub<N, N2>, c: &Uint<N2>) -> Plaintext {
        self.decrypt_with(c, public.core.params())
    }

    fn decrypt_batch_ifma(&self, cs: &[&Uint<N2>]) -> Option<Vec<Plaintext>> {
        self.batch_ifma(cs)
    }

    fn to_bytes(&self, public: &PaPub<N, N2>) -> Zeroizing<Vec<u8>> {
        let hl = public.core.ciphertext_len() / 4;
        let mut out = Zeroizing::new(Vec::with_capacity(5 + 6 * hl));
        write_key_header(SECRET.tag, public.core.bits(), &mut out);
        write_be(&self.p.p, hl, &mut out);
        write_be(&self.q.p, hl, &mut out);
        write_be(&public.hs, 4 * hl, &mut out);
        out
    }
}

/// Reads a secret key's fields (after the header) and re-derives everything from them.
#[allow(clippy::type_complexity)]
fn secret_from_fields<const N: usize, const N2: usize, const H: usize>(
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

// ---------------------------------------------------------------------------------------------
// The public types: the two sizes behind one type (see `super::sized`).

type Pub2048 = PaPub<32, 64>;
type Pub3072 = PaPub<48, 96>;
type PubInner = Sized2<Pub2048, Pub3072>;
type SecInner = Sized2<PaSec<32, 16>, PaSec<48, 24>>;

/// A Paillier public key (2048- or 3072-bit `n`). Cloning shares the fixed-base table, which is
/// built on first encryption.
#[derive(Clone)]
pub struct PaillierPublicKey(Arc<PubInner>);

/// A Paillier ciphertext (kept in Montgomery form modulo `n²`).
#[derive(Clone, PartialEq, Eq)]
pub struct PaillierCiphertext(SizedCt<Pub2048, Pub3072>);

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

impl HePublicKey for PaillierPublicKey {
    type Ciphertext = PaillierCiphertext;

    fn scheme(&self) -> HeScheme {
        HeScheme::Paillier
    }

    fn modulus_bits(&self) -> u32 {
        self.0.bits()
    }

    fn plaintext_bits(&self) -> u32 {
        self.0.plaintext_bits()
    }

    fn encrypt(&self, m: &Plaintext) -> Result<PaillierCiphertext, Error> {
        self.0.encrypt(m).map(PaillierCiphertext)
    }

    fn encrypt_batch(&self, ms: &[Plaintext]) -> Result<Vec<PaillierCiphertext>, Error> {
        Ok(wrap(self.0.encrypt_batch(ms)?))
    }

    fn add(&self, a: &PaillierCiphertext, b: &PaillierCiphertext) -> PaillierCiphertext {
        let mut c = a.clone();
        self.add_assign(&mut c, b);
        c
    }

    fn add_assign(&self, a: &mut PaillierCiphertext, b: &PaillierCiphertext) {
        self.0.add_assign(&mut a.0, &b.0);
    }

    fn mul_plain(
        &self,
        a: &PaillierCiphertext,
        k: &Plaintext,
    ) -> Result<PaillierCiphertext, Error> {
        self.0.mul_plain(&a.0, k).map(PaillierCiphertext)
    }

    fn zero(&self) -> PaillierCiphertext {
        PaillierCiphertext(self.0.zero())
    }

    fn rerandomize(&self, a: &mut PaillierCiphertext) -> Result<(), Error> {
        self.0.rerandomize(&mut a.0)
    }

    fn precompute_randomness(&self, count: usize) -> Result<(), Error> {
        self.0.precompute(count)
    }

    fn precomputed_randomness(&self) -> usize {
        self.0.pooled()
    }

    fn ciphertext_len(&self) -> usize {
        self.0.ciphertext_len()
    }

    fn write_ciphertext(&self, c: &PaillierCiphertext, out: &mut Vec<u8>) -> Result<(), Error> {
        self.0.write(&c.0, out)
    }

    fn read_ciphertext(&self, bytes: &[u8]) -> Result<PaillierCiphertext, Error> {
        self.0.read(bytes).map(PaillierCiphertext)
    }

    fn to_bytes(&self) -> Vec<u8> {
        self.0.to_bytes()
    }

    fn from_bytes(bytes: &[u8]) -> Result<Self, Error> {
        let inner = decode_key(&PUBLIC, bytes, Pub2048::from_fields, Pub3072::from_fields)?;
        Ok(PaillierPublicKey(Arc::new(inner)))
    }
}

fn wrap(cs: Vec<SizedCt<Pub2048, Pub3072>>) -> Vec<PaillierCiphertext> {
    cs.into_iter().map(PaillierCiphertext).collect()
}

impl PaillierSecretKey {
    /// Generates a key pair from `rng` (reproducible keys for tests; use
    /// [`HeSecretKey::generate`] otherwise).
    pub fn generate_with_rng<R: CryptoRng + ?Sized>(
        modulus_bits: u32,
        rng: &mut R,
    ) -> Result<Self, Error> {
        let (public, inner) = Sized2::by_size(
            modulus_bits,
            rng,
            keygen::<32, 64, 16, R>,
            keygen::<48, 96, 24, R>,
            Error::InvalidArgument("Paillier modulus must be 2048 or 3072 bits"),
        )?
        .unzip();
        Ok(PaillierSecretKey {
            public: PaillierPublicKey(Arc::new(public)),
            inner: Box::new(inner),
        })
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
        self.public.0.decrypt(&self.inner, &c.0)
    }

    fn decrypt_batch(&self, cs: &[PaillierCiphertext]) -> Vec<Plaintext> {
        // Paillier-2048 with AVX-512 IFMA: eight powers modulo p² (and q²) per kernel call.
        let cs: Vec<_> = cs.iter().map(|c| &c.0).collect();
        self.public.0.decrypt_batch(&self.inner, &cs)
    }

    fn to_bytes(&self) -> Zeroizing<Vec<u8>> {
        self.public.0.secret_to_bytes(&self.inner)
    }

    fn from_bytes(bytes: &[u8]) -> Result<Self, Error> {
        let (public, inner) = decode_key(
            &SECRET,
            bytes,
            secret_from_fields::<32, 64, 16>,
            secret_from_fields::<48, 96, 24>,
        )?
        .unzip();
        Ok(PaillierSecretKey {
            public: PaillierPublicKey(Arc::new(public)),
            inner: Box::new(inner),
        })
    }
}
