//! Okamoto–Uchiyama (T. Okamoto, S. Uchiyama, "A new public-key cryptosystem as secure as
//! factoring", EUROCRYPT 1998) with the faster decryption of Coron, Naccache and Paillier
//! ("Accelerating Okamoto-Uchiyama's public-key cryptosystem", Electronics Letters 35(4), 1999).
//!
//! Keys: `n = p²q` with `|p| = ⌈|n|/3⌉` bits; `p - 1 = t·u` with `t` a prime of 224 bits
//! (`|n| = 2048`) or 256 bits (`|n| = 3072`); `g` random with `g_p = g^(p-1) mod p²` of order `p`;
//! public `G = g^u mod n`, `H = g'^(n·u) mod n` for another random `g'`.
//!
//! - encryption: `c = G^m · H^r mod n`, `r` uniform of 2λ bits (λ = 112 or 128), both powers
//!   from fixed-base tables (`G⁻¹` for negative `m`);
//! - decryption: `m = L(c^t mod p²) · L(G^t mod p²)⁻¹ mod p` with `L(x) = (x - 1)/p`
//!   (`H^t ≡ 1 mod p²` since `t·u·n` is a multiple of `p(p-1)`), centred in `(-p/2, p/2)`;
//! - addition is one Montgomery multiplication modulo `n`: ciphertexts are kept in Montgomery
//!   form and converted only when encoded or decoded.
//!
//! Security and parameter choices are in docs/protocols/he.md.

use std::sync::{Arc, OnceLock};

use crypto_bigint::modular::{FixedMontyForm, FixedMontyParams};
use crypto_bigint::{Odd, RandomBits, RandomMod, Uint};
use crypto_primes::{Flavor, is_prime, random_prime};
use rand_chacha::ChaCha20Rng;
use rand_core::{CryptoRng, SeedableRng};
use rayon::prelude::*;
use zeroize::{Zeroize, Zeroizing};

use super::common::{
    CoreOps, CoreParams, FixedBaseTable, KeyKind, PubCore, Reader, SecretPowers, decode_key, digit,
    l_function, magnitude_le, mont_mul, mul_exact, non_zero, odd, os_rng, plaintext_from_uint,
    random_exponent, read_be, uint_from_words, write_be, write_key_header,
};
use super::mont_ifma::{LANES, Mont52, MontMul8};
use super::sized::{OTHER_SIZE, Sized2, SizedCt, SizedPublic, SizedSecret};
use super::{HePublicKey, HeScheme, HeSecretKey, Plaintext};
use crate::Error;

const SCHEME: &str = "OU";
const PUBLIC: KeyKind = KeyKind {
    scheme: SCHEME,
    tag: *b"OU1",
    other_tag: "not an OU public key",
    trailing: "trailing bytes after the public key",
};
const SECRET: KeyKind = KeyKind {
    scheme: SCHEME,
    tag: *b"Ou1",
    other_tag: "not an OU secret key",
    trailing: "trailing bytes after the secret key",
};

/// Window of the `G` and `G⁻¹` tables: 8 bits (a 681-bit plaintext is 86 rows of 255
/// residues, 5.6 MB per table for OU-2048; a 40-bit message costs 5 multiplications).
const G_WINDOW: u32 = 8;
/// Window of the `H` table: 12 bits (a 224-bit `r` costs 19 multiplications; 19 rows of 4095
/// residues, 20 MB for OU-2048, 34 MB for OU-3072).
const H_WINDOW: u32 = 12;

fn bad(reason: &'static str) -> Error {
    super::common::bad(SCHEME, reason)
}

/// Bits of the prime `t | p - 1` (Coron–Naccache–Paillier): a subgroup as large as NIST's DSA
/// subgroup for the same security (SP 800-57 Part 1 Rev. 5, Table 2: 224 bits for 112-bit
/// security, 256 for 128).
fn t_bits(modulus_bits: u32) -> u32 {
    if modulus_bits >= 3072 { 256 } else { 224 }
}

/// Bits of the encryption randomness `r`: 2λ, so that Pollard's kangaroo (λ-method) on the short
/// exponent costs `2^λ` (λ = 112 for 2048, 128 for 3072).
fn r_bits(modulus_bits: u32) -> u32 {
    if modulus_bits >= 3072 { 256 } else { 224 }
}

/// The public part, generic over the limb count `N` of `n`.
struct OuPub<const N: usize> {
    /// Ciphertexts modulo `n` and the pool of precomputed `H^r`.
    core: PubCore<N>,
    r_bits: u32,
    /// `G`, `H` as integers (for encoding) and in Montgomery form.
    g: Uint<N>,
    h: Uint<N>,
    g_m: Uint<N>,
    g_inv_m: Uint<N>,
    h_m: Uint<N>,
    tables: OnceLock<OuTables<N>>,
    /// The AVX-512 IFMA context for `n`, built on the first [`HePublicKey::bucket_sums`]
    /// (`None`: no IFMA on this CPU, `UNSEEN_NO_SIMD`, or a 3072-bit key).
    ifma: OnceLock<Option<MontMul8>>,
    /// The fixed-base tables in the IFMA domain, built on the first IFMA
    /// [`HePublicKey::encrypt_batch`] (`None` without an IFMA context).
    ifma_tables: OnceLock<Option<IfmaTables>>,
}

/// Copies of [`OuTables`] as [`Mont52`] (same layout: row `i`, digit `d ≥ 1` at
/// `i · (2^w - 1) + d - 1`), 384 bytes per entry: 8.4 MB for each of `G`, `G⁻¹` and 30 MB for
/// `H` (OU-2048).
struct IfmaTables {
    g: Vec<Mont52>,
    g_inv: Vec<Mont52>,
    h: Vec<Mont52>,
    g_rows: usize,
    h_rows: usize,
}

struct OuTables<const N: usize> {
    g: FixedBaseTable<N>,
    g_inv: FixedBaseTable<N>,
    h: FixedBaseTable<N>,
}

impl<const N: usize> OuPub<N> {
    fn new(bits: u32, p_bits: u32, n: Odd<Uint<N>>, g: Uint<N>, h: Uint<N>) -> Result<Self, Error> {
        let zero = Uint::<N>::ZERO;
        if g == zero || h == zero || g >= *n.as_ref() || h >= *n.as_ref() {
            return Err(bad("G and H must lie in [1, n)"));
        }
        let core = PubCore::new(
            CoreParams {
                scheme: SCHEME,
                bits,
                plaintext_bits: p_bits - 2,
                len: (bits as usize) / 8,
                out_of_range: "ciphertext out of range (0, n)",
                not_invertible: "ciphertext not invertible modulo n",
            },
            n,
        );
        let g_m = core.to_mont(&g);
        let g_inv_m = core
            .invert(&g_m)
            .map_err(|_| bad("G is not invertible modulo n"))?;
        Ok(OuPub {
            r_bits: r_bits(bits),
            g,
            h,
            g_m,
            g_inv_m,
            h_m: core.to_mont(&h),
            core,
            tables: OnceLock::new(),
            ifma: OnceLock::new(),
            ifma_tables: OnceLock::new(),
        })
    }

    fn tables(&self) -> &OuTables<N> {
        // Not rayon: a worker blocked in `get_or_init` could steal a task that waits on the same
        // cell (deadlock); plain scoped threads cannot.
        self.tables.get_or_init(|| {
            let (params, pt_bits) = (self.core.params(), self.core.plaintext_bits());
            std::thread::scope(|s| {
                let g_inv =
                    s.spawn(|| FixedBaseTable::new(&self.g_inv_m, params, pt_bits, G_WINDOW));
                let h = s.spawn(|| FixedBaseTable::new(&self.h_m, params, self.r_bits, H_WINDOW));
                let g = FixedBaseTable::new(&self.g_m, params, pt_bits, G_WINDOW);
                let g_inv = g_inv.join();
                let h = h.join();
                match (g_inv, h) {
                    (Ok(g_inv), Ok(h)) => OuTables { g, g_inv, h },
                    // A table thread cannot panic (no panicking operation inside); rebuild inline
                    // if it somehow did rather than propagate a panic.
                    _ => OuTables {
                        g_inv: FixedBaseTable::new(&self.g_inv_m, params, pt_bits, G_WINDOW),
                        h: FixedBaseTable::new(&self.h_m, params, self.r_bits, H_WINDOW),
                        g,
                    },
                }
            })
        })
    }

    /// The IFMA context of `n` (`None`: no IFMA, `UNSEEN_NO_SIMD`, or a 3072-bit key).
    fn ifma(&self) -> Option<&MontMul8> {
        self.ifma
            .get_or_init(|| MontMul8::new(self.core.modulus().as_words()))
            .as_ref()
    }

    /// The IFMA context and the tables in its domain (built on first use, on this thread only:
    /// see [`OuPub::tables`] for why not rayon).
    fn ifma_parts(&self) -> Option<(&MontMul8, &IfmaTables)> {
        let ctx = self.ifma()?;
        let t = self
            .ifma_tables
            .get_or_init(|| {
                let t = self.tables();
                let conv = |tab: &FixedBaseTable<N>| {
                    let words: Vec<&[u64]> =
                        tab.entries().iter().map(|e| &e.as_words()[..]).collect();
                    ctx.from_r64_montgomery_serial(&words).ok()
                };
                let ok = t.g.window() == G_WINDOW
                    && t.g_inv.window() == G_WINDOW
                    && t.h.window() == H_WINDOW
                    && t.g.rows() == t.g_inv.rows();
                if !ok {
                    return None;
                }
                Some(IfmaTables {
                    g: conv(&t.g)?,
                    g_inv: conv(&t.g_inv)?,
                    h: conv(&t.h)?,
                    g_rows: t.g.rows(),
                    h_rows: t.h.rows(),
                })
            })
            .as_ref()?;
        Some((ctx, t))
    }

    /// Up to [`LANES`] encryptions `G^m · H^r` (Montgomery form modulo `n`, R = 2^(64·N)) with
    /// the given `r` (little-endian bytes, at most `r_bits` bits), one eight-lane IFMA
    /// multiplication per window: the same table entries and products as [`OuPub::encrypt`].
    fn encrypt_lanes(
        &self,
        ctx: &MontMul8,
        t: &IfmaTables,
        ms: &[Plaintext],
        rs: &[Vec<u8>],
    ) -> Result<Vec<Uint<N>>, Error> {
        if ms.len() > LANES || rs.len() != ms.len() {
            return Err(Error::Internal("OU: bad lane count"));
        }
        let gd = (1usize << G_WINDOW) - 1;
        let hd = (1usize << H_WINDOW) - 1;
        // Per lane: the table indices the windows select (zero windows skipped, as the scalar
        // path does), wiped after use.
        let mut g_idx: [Vec<usize>; LANES] = Default::default();
        let mut h_idx: [Vec<usize>; LANES] = Default::default();
        let mut neg = [false; LANES];
        let wiped = |g: &mut [Vec<usize>; LANES], h: &mut [Vec<usize>; LANES]| {
            g.iter_mut().chain(h.iter_mut()).for_each(Zeroize::zeroize);
        };
        for (k, (m, r)) in ms.iter().zip(rs).enumerate() {
            let mut mag = Zeroizing::new(magnitude_le(m, self.core.plaintext_bits())?);
            neg[k] = m.is_negative();
            let w = G_WINDOW as usize;
            let rows = (mag.len() * 8).div_ceil(w);
            for i in 0..rows {
                let d = digit(&mag, i * w, w);
                if d == 0 {
                    continue;
                }
                if i >= t.g_rows {
                    wiped(&mut g_idx, &mut h_idx);
                    return Err(Error::Internal("OU plaintext wider than its table"));
                }
                g_idx[k].push(i * gd + d - 1);
            }
            mag.zeroize();
            let w = H_WINDOW as usize;
            if r.len() * 8 > t.h_rows * w {
                wiped(&mut g_idx, &mut h_idx);
                return Err(Error::Internal("OU randomness wider than its table"));
            }
            for i in 0..t.h_rows {
                let d = digit(r, i * w, w);
                if d != 0 {
                    h_idx[k].push(i * hd + d - 1);
                }
            }
        }
        let one = ctx.ctx().one();
        let entry = |k: usize, j: usize| -> &Mont52 {
            let gl = g_idx[k].len();
            let gt = if neg[k] { &t.g_inv } else { &t.g };
            if j < gl {
                &gt[g_idx[k][j]]
            } else {
                h_idx[k].get(j - gl).map_or(&one, |&i| &t.h[i])
            }
        };
        let steps = (0..ms.len())
            .map(|k| g_idx[k].len() + h_idx[k].len())
            .max()
            .unwrap_or(0);
        let mut acc: [Mont52; LANES] =
            core::array::from_fn(|k| if k < ms.len() { *entry(k, 0) } else { one });
        for j in 1..steps {
            let [a0, a1, a2, a3, a4, a5, a6, a7] = &mut acc;
            ctx.mul8(
                [a0, a1, a2, a3, a4, a5, a6, a7],
                core::array::from_fn(|k| if k < ms.len() { entry(k, j) } else { &one }),
            );
        }
        wiped(&mut g_idx, &mut h_idx);
        let out = ctx
            .to_r64_montgomery_batch(&acc[..ms.len()])
            .iter()
            .map(|w| uint_from_words(w))
            .collect();
        Ok(out)
    }

    /// [`HePublicKey::encrypt_batch`] on the IFMA path, fresh `r` per message; `None` if there
    /// is no IFMA context for this key. Pooled factors are used first (scalar path).
    fn encrypt_batch_ifma(&self, ms: &[Plaintext]) -> Result<Option<Vec<Uint<N>>>, Error> {
        let Some((ctx, t)) = self.ifma_parts() else {
            return Ok(None);
        };
        let head = self.core.pooled().min(ms.len());
        let (pooled, fresh) = ms.split_at(head);
        let mut out: Vec<Uint<N>> = pooled
            .par_iter()
            .map(|m| self.encrypt(m))
            .collect::<Result<_, _>>()?;
        let tail: Vec<Vec<Uint<N>>> = fresh
            .par_chunks(LANES)
            .map(|chunk| {
                // Wiped on every exit, including a failed draw.
                let mut rs: Zeroizing<Vec<Vec<u8>>> = Zeroizing::new(Vec::with_capacity(LANES));
                for _ in chunk {
                    rs.push(random_exponent(self.r_bits)?);
                }
                self.encrypt_lanes(ctx, t, chunk, &rs)
            })
            .collect::<Result<_, _>>()?;
        out.extend(tail.into_iter().flatten());
        Ok(Some(out))
    }

    /// `G^m` (Montgomery form) from the fixed-base tables of `G` and `G⁻¹`.
    fn g_power(&self, m: &Plaintext) -> Result<Uint<N>, Error> {
        let mut mag = magnitude_le(m, self.core.plaintext_bits())?;
        let t = self.tables();
        let table = if m.is_negative() { &t.g_inv } else { &t.g };
        let gm = table.pow(&mag, self.core.params());
        mag.zeroize();
        gm.ok_or(Error::Internal("OU plaintext wider than its table"))
    }

    /// `H^r` (Montgomery form) from the fixed-base table of `H`.
    fn h_power(&self, r: &[u8]) -> Result<Uint<N>, Error> {
        self.tables()
            .h
            .pow(r, self.core.params())
            .ok_or(Error::Internal("OU randomness wider than its table"))
    }

    /// `G^m · H^r` on the scalar path with the given `r`.
    fn encrypt_with_r(&self, m: &Plaintext, r: &[u8]) -> Result<Uint<N>, Error> {
        let gm = self.g_power(m)?;
        Ok(mont_mul(&gm, &self.h_power(r)?, self.core.params()))
    }

    /// `H^r` for a fresh `r` (Montgomery form).
    fn fresh_random_part(&self) -> Result<Uint<N>, Error> {
        let mut r = random_exponent(self.r_bits)?;
        let hr = self.h_power(&r);
        r.zeroize();
        hr
    }

    fn from_fields(bits: u32, r: &mut Reader<'_>) -> Result<Self, Error> {
        let len = (bits as usize) / 8;
        let mut next = || -> Result<Uint<N>, Error> {
            r.take(len)
                .and_then(read_be::<N>)
                .ok_or(bad("public key has the wrong length"))
        };
        let n = next()?;
        let g = next()?;
        let h = next()?;
        if n.bit_width_vartime() != bits {
            return Err(bad("modulus has the wrong size"));
        }
        let n = odd(n).ok_or(bad("modulus is even"))?;
        OuPub::new(bits, bits.div_ceil(3), n, g, h)
    }
}

impl<const N: usize> SizedPublic for OuPub<N> {
    type Core = PubCore<N>;

    fn core(&self) -> &PubCore<N> {
        &self.core
    }

    fn prepare(&self) {
        self.tables();
    }

    fn encrypt(&self, m: &Plaintext) -> Result<Uint<N>, Error> {
        let gm = self.g_power(m)?;
        Ok(mont_mul(&gm, &self.random_part()?, self.core.params()))
    }

    fn random_part(&self) -> Result<Uint<N>, Error> {
        self.core.random_part(|| self.fresh_random_part())
    }

    fn precompute(&self, count: usize) -> Result<(), Error> {
        self.core.precompute(count, || self.fresh_random_part())
    }

    fn to_bytes(&self) -> Vec<u8> {
        let len = self.core.ciphertext_len();
        let mut out = Vec::with_capacity(5 + 3 * len);
        write_key_header(PUBLIC.tag, self.core.bits(), &mut out);
        write_be(self.core.modulus(), len, &mut out);
        write_be(&self.g, len, &mut out);
        write_be(&self.h, len, &mut out);
        out
    }
}

/// The secret part, generic over the limb counts of `n`, `p`, `p²` and `q`.
struct OuSec<const N: usize, const P: usize, const P2: usize, const Q: usize> {
    p: Uint<P>,
    q: Uint<Q>,
    t: Uint<P>,
    t_bits: u32,
    p_half: Uint<P>,
    p2: Uint<P2>,
    p_params: FixedMontyParams<P>,
    p2_params: FixedMontyParams<P2>,
    /// `L(G^t mod p²)⁻¹ mod p`, Montgomery form modulo `p`.
    lg_inv: Uint<P>,
    /// `c^t mod p²` in batches on AVX-512 IFMA, built on the first batch decryption (`None`:
    /// no IFMA on this CPU or `UNSEEN_NO_SIMD`).
    ifma: OnceLock<Option<SecretPowers<P2>>>,
}

impl<const N: usize, const P: usize, const P2: usize, const Q: usize> Drop for OuSec<N, P, P2, Q> {
    fn drop(&mut self) {
        self.p.zeroize();
        self.q.zeroize();
        self.t.zeroize();
        self.p_half.zeroize();
        self.p2.zeroize();
        self.p_params.zeroize();
        self.p2_params.zeroize();
        self.lg_inv.zeroize();
    }
}

impl<const N: usize, const P: usize, const P2: usize, const Q: usize> OuSec<N, P, P2, Q> {
    /// Derives the decryption constants from `p`, `q`, `t` and `G`; checks what a corrupted or
    /// forged key would violate.
    fn from_parts(p: Uint<P>, q: Uint<Q>, t: Uint<P>, g: &Uint<N>) -> Result<Self, Error> {
        let p_odd = odd(p).ok_or(bad("secret key: p is even"))?;
        let p_wide: Uint<P2> = p.resize();
        let p2 = p_wide.wrapping_mul(&p_wide);
        let p2_odd = odd(p2).ok_or(bad("secret key: p is even"))?;
        let p_params = FixedMontyParams::new(p_odd);
        let p2_params = FixedMontyParams::new(p2_odd);
        let t_bits = t.bit_width_vartime();
        // G^t mod p² must be 1 + L·p with L invertible mod p.
        let p2_nz = non_zero(p2_odd.get()).ok_or(bad("secret key: p is zero"))?;
        let g_p2 = g.rem(&p2_nz);
        let gt = FixedMontyForm::new(&g_p2, &p2_params)
            .pow_bounded_exp(&t, t_bits)
            .retrieve();
        let l = l_function(&gt, &p).ok_or(bad("secret key: p is zero"))?;
        let lg_inv = FixedMontyForm::new(&l, &p_params)
            .invert()
            .into_option()
            .ok_or(bad("secret key: G^t has the wrong order modulo p²"))?;
        let p_half = p.shr_vartime(1);
        Ok(OuSec {
            p,
            q,
            t,
            t_bits,
            p_half,
            p2,
            p_params,
            p2_params,
            lg_inv: *lg_inv.as_montgomery(),
            ifma: OnceLock::new(),
        })
    }

    fn decrypt_with(&self, c_mont: &Uint<N>, params: &FixedMontyParams<N>) -> Plaintext {
        let c = FixedMontyForm::from_montgomery(*c_mont, params).retrieve();
        // p² is odd, so non-zero (checked at construction).
        let Some(p2) = non_zero(self.p2) else {
            return Plaintext::default();
        };
        let cp = c.rem(&p2);
        let x = FixedMontyForm::new(&cp, &self.p2_params)
            .pow_bounded_exp(&self.t, self.t_bits)
            .retrieve();
        self.finish(&x)
    }

    /// Batch decryption on the eight-lane IFMA path: `c·2^(64·N) mod n` (a ciphertext's
    /// Montgomery form) reduced modulo `p²` enters `p²`'s domain as `c` in one product; then
    /// `c^t mod p²` eight at a time (fixed windows, masked table reads) and the same
    /// [`OuSec::finish`] as [`OuSec::decrypt_with`]. `None` without IFMA.
    fn batch_ifma(&self, cs: &[&Uint<N>]) -> Option<Vec<Plaintext>> {
        self.ifma
            .get_or_init(|| {
                let shift = u32::try_from(64 * N).ok()?;
                SecretPowers::new(self.p2, shift, &self.t.resize(), self.t_bits)
            })
            .as_ref()?
            .run(cs, |x| self.finish(x))
    }

    /// `m = L(x) · L(G^t)⁻¹ mod p`, centred, from `x = c^t mod p²`.
    fn finish(&self, x: &Uint<P2>) -> Plaintext {
        let Some(l) = l_function(x, &self.p) else {
            return Plaintext::default();
        };
        let m = FixedMontyForm::new(&l, &self.p_params)
            .mul(&FixedMontyForm::from_montgomery(
                self.lg_inv,
                &self.p_params,
            ))
            .retrieve();
        if m > self.p_half {
            plaintext_from_uint(true, &self.p.wrapping_sub(&m))
        } else {
            plaintext_from_uint(false, &m)
        }
    }
}

/// Generates the primes and generators (Okamoto–Uchiyama §3 with Coron–Naccache–Paillier's
/// `p - 1 = t·u`), then the key.
#[allow(clippy::type_complexity)]
fn keygen<
    const N: usize,
    const P: usize,
    const P2: usize,
    const Q: usize,
    R: CryptoRng + ?Sized,
>(
    bits: u32,
    rng: &mut R,
) -> Result<(OuPub<N>, OuSec<N, P, P2, Q>), Error> {
    let p_bits = bits.div_ceil(3);
    let tb = t_bits(bits);
    // p = t·u + 1 with |p| = p_bits.
    let (p, t) = loop {
        let t: Uint<P> = random_prime(rng, Flavor::Any, tb);
        let mut found = None;
        for _ in 0..10_000 {
            let mut u = Uint::<P>::random_bits(rng, p_bits - tb);
            u = u.bitor(&Uint::ONE.shl_vartime(p_bits - tb - 1));
            u = u.bitand(&Uint::ONE.not()); // even, so that p is odd
            let p = t.wrapping_mul(&u).wrapping_add(&Uint::ONE);
            if p.bit_width_vartime() == p_bits && is_prime(Flavor::Any, &p) {
                found = Some(p);
                break;
            }
        }
        if let Some(p) = found {
            break (p, t);
        }
    };
    let p_n: Uint<N> = p.resize();
    let p2_n = p_n.wrapping_mul(&p_n);
    let q_bits = bits + 1 - p2_n.bit_width_vartime();
    let (n, q) = loop {
        let q: Uint<Q> = random_prime(rng, Flavor::Any, q_bits);
        let Some(n) = mul_exact(&p2_n, &q.resize::<N>()) else {
            continue;
        };
        if n.bit_width_vartime() == bits && q.resize::<N>() != p_n {
            break (n, q);
        }
    };
    let n_odd = odd(n).ok_or(Error::Internal("OU modulus is even"))?;
    let n_nz = non_zero(n).ok_or(Error::Internal("OU modulus is zero"))?;
    let params = FixedMontyParams::new(n_odd);
    let p_nz = non_zero(p).ok_or(Error::Internal("OU prime is zero"))?;
    let u = p
        .wrapping_sub(&Uint::ONE)
        .div_rem(&non_zero(t).ok_or(Error::Internal("t is zero"))?)
        .0;
    // g with g^(p-1) of order p modulo p²: checked by from_parts (L(G^t) invertible); G = g^u.
    let (g_big, sec) = loop {
        let g = Uint::<N>::random_mod_vartime(rng, &n_nz);
        if g.rem(&p_nz) == Uint::ZERO {
            continue;
        }
        let g_big = FixedMontyForm::new(&g, &params).pow(&u).retrieve();
        if let Ok(sec) = OuSec::<N, P, P2, Q>::from_parts(p, q, t, &g_big) {
            break (g_big, sec);
        }
    };
    let h_big = loop {
        let g2 = Uint::<N>::random_mod_vartime(rng, &n_nz);
        if g2.rem(&p_nz) == Uint::ZERO {
            continue;
        }
        // H = (g'^u)^n: the secret exponent u in constant time, the public n in variable time.
        let h = FixedMontyForm::new(&g2, &params)
            .pow(&u)
            .pow_vartime(&n)
            .retrieve();
        if h != Uint::ZERO {
            break h;
        }
    };
    let public = OuPub::new(bits, p_bits, n_odd, g_big, h_big)?;
    Ok((public, sec))
}

impl<const N: usize, const P: usize, const P2: usize, const Q: usize> SizedSecret<OuPub<N>>
    for OuSec<N, P, P2, Q>
{
    fn decrypt(&self, public: &OuPub<N>, c: &Uint<N>) -> Plaintext {
        self.decrypt_with(c, public.core.params())
    }

    fn decrypt_batch_ifma(&self, cs: &[&Uint<N>]) -> Option<Vec<Plaintext>> {
        self.batch_ifma(cs)
    }

    fn to_bytes(&self, public: &OuPub<N>) -> Zeroizing<Vec<u8>> {
        let len = public.core.ciphertext_len();
        let mut out = Zeroizing::new(Vec::with_capacity(5 + 5 * len));
        write_key_header(SECRET.tag, public.core.bits(), &mut out);
        write_be(&self.p.resize::<N>(), len, &mut out);
        write_be(&self.q.resize::<N>(), len, &mut out);
        write_be(&self.t.resize::<N>(), len, &mut out);
        write_be(&public.g, len, &mut out);
        write_be(&public.h, len, &mut out);
        out
    }
}

// ---------------------------------------------------------------------------------------------
// The public types: the two sizes behind one type (see `super::sized`).

type Pub2048 = OuPub<32>;
type Pub3072 = OuPub<48>;
type PubInner = Sized2<Pub2048, Pub3072>;
type SecInner = Sized2<OuSec<32, 11, 22, 11>, OuSec<48, 16, 32, 17>>;

/// An Okamoto–Uchiyama public key (2048- or 3072-bit `n`). Cloning shares the fixed-base tables,
/// which are built on first encryption.
#[derive(Clone)]
pub struct OuPublicKey(Arc<PubInner>);

/// An Okamoto–Uchiyama ciphertext (kept in Montgomery form modulo `n`).
#[derive(Clone, PartialEq, Eq)]
pub struct OuCiphertext(SizedCt<Pub2048, Pub3072>);

impl core::fmt::Debug for OuCiphertext {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("OuCiphertext(..)")
    }
}

impl core::fmt::Debug for OuPublicKey {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "OuPublicKey({} bits)", self.modulus_bits())
    }
}

/// An Okamoto–Uchiyama secret key: `p`, `q`, `t` and derived constants, zeroised on drop, never
/// printed.
pub struct OuSecretKey {
    public: OuPublicKey,
    inner: Box<SecInner>,
}

impl core::fmt::Debug for OuSecretKey {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(
            f,
            "OuSecretKey({} bits, redacted)",
            self.public.modulus_bits()
        )
    }
}

impl OuPublicKey {
    /// The AVX-512 IFMA context of a 2048-bit key (built on first use), or `None` (3072-bit
    /// key, no IFMA, `UNSEEN_NO_SIMD`): then the caller takes the portable path.
    fn ifma2048(&self) -> Option<&super::mont_ifma::MontMul8> {
        match &*self.0 {
            Sized2::B2048(k) => k.ifma(),
            Sized2::B3072(_) => None,
        }
    }

    /// Ciphertexts (crypto-bigint Montgomery form) into the IFMA domain, one multiplication
    /// each.
    fn enter_ifma<'a>(
        ctx: &super::mont_ifma::MontMul8,
        cs: impl Iterator<Item = &'a OuCiphertext>,
    ) -> Result<Vec<super::mont_ifma::Mont52>, Error> {
        let words: Vec<&[u64]> = cs
            .map(|c| match &c.0 {
                Sized2::B2048(x) => Ok(&x.as_words()[..]),
                Sized2::B3072(_) => Err(OTHER_SIZE),
            })
            .collect::<Result<_, _>>()?;
        ctx.from_r64_montgomery_batch(&words)
    }

    /// IFMA-domain values back into ciphertexts.
    fn leave_ifma(
        ctx: &super::mont_ifma::MontMul8,
        xs: &[super::mont_ifma::Mont52],
    ) -> impl Iterator<Item = OuCiphertext> {
        ctx.to_r64_montgomery_batch(xs)
            .into_iter()
            .map(|w| OuCiphertext(Sized2::B2048(uint_from_words(&w))))
    }
}

impl HePublicKey for OuPublicKey {
    type Ciphertext = OuCiphertext;

    fn mul_plain_batch(
        &self,
        cts: &[OuCiphertext],
        ks: &[Plaintext],
    ) -> Result<Vec<OuCiphertext>, Error> {
        let (Some(ctx), Sized2::B2048(pk)) = (self.ifma2048(), &*self.0) else {
            return super::mul_plain_batch_default(self, cts, ks);
        };
        if cts.len() != ks.len() {
            return Err(Error::InvalidArgument(
                "mul_plain_batch: slices of different lengths",
            ));
        }
        // Magnitudes as little-endian bytes (capacity checked), wiped after use; the window
        // count follows the widest k, as the scalar path's bounded power follows each k's.
        let mags: Zeroizing<Vec<Zeroizing<Vec<u8>>>> = Zeroizing::new(
            ks.iter()
                .map(|k| magnitude_le(k, pk.core.plaintext_bits()).map(Zeroizing::new))
                .collect::<Result<_, _>>()?,
        );
        let bits = ks.iter().map(Plaintext::bits).max().unwrap_or(0);
        let mut xs = Self::enter_ifma(ctx, cts.iter())?;
        let refs: Vec<&[u8]> = mags.iter().map(|m| m.as_slice()).collect();
        ctx.pow_many(&mut xs, &refs, bits)?;
        Self::leave_ifma(ctx, &xs)
            .zip(ks)
            .map(|(c, k)| {
                if !k.is_negative() {
                    return Ok(c);
                }
                // Inverting a (public) ciphertext, as the scalar path does: variable time.
                let Sized2::B2048(x) = c.0 else {
                    return Err(Error::Internal("OU: key size changed"));
                };
                Ok(OuCiphertext(Sized2::B2048(pk.core.invert(&x)?)))
            })
            .collect()
    }

    fn add_many(&self, accs: &mut [OuCiphertext], xs: &[OuCiphertext]) -> Result<(), Error> {
        let Some(ctx) = self.ifma2048() else {
            return super::add_many_default(self, accs, xs);
        };
        if accs.len() != xs.len() {
            return Err(Error::InvalidArgument(
                "add_many: slices of different lengths",
            ));
        }
        let words = |cs: &[OuCiphertext]| -> Result<Vec<[u64; 32]>, Error> {
            cs.iter()
                .map(|c| match &c.0 {
                    Sized2::B2048(x) => Ok(*x.as_words()),
                    Sized2::B3072(_) => Err(OTHER_SIZE),
                })
                .collect()
        };
        let (a, b) = (words(accs)?, words(xs)?);
        let ar: Vec<&[u64]> = a.iter().map(|w| &w[..]).collect();
        let br: Vec<&[u64]> = b.iter().map(|w| &w[..]).collect();
        // (x·R64)(y·R64)·R64⁻¹ = x·y·R64: the sum's ciphertext, straight in crypto-bigint's form.
        for (c, w) in accs.iter_mut().zip(ctx.mul_r64_many(&ar, &br)?) {
            *c = OuCiphertext(Sized2::B2048(uint_from_words(&w)));
        }
        Ok(())
    }

    fn shift_add_many(
        &self,
        accs: &mut [OuCiphertext],
        shift: u32,
        addends: &[OuCiphertext],
    ) -> Result<(), Error> {
        use super::mont_ifma::Mont52;
        if shift == 0 {
            return self.add_many(accs, addends);
        }
        let Some(ctx) = self.ifma2048() else {
            return super::shift_add_default(self, accs, shift, addends);
        };
        if accs.len() != addends.len() {
            return Err(Error::InvalidArgument(
                "shift-add: slices of different lengths",
            ));
        }
        let mut a = Self::enter_ifma(ctx, accs.iter())?;
        let b = Self::enter_ifma(ctx, addends.iter())?;
        // Groups of 64 values (eight IFMA multiplications per step) in parallel.
        a.par_chunks_mut(64)
            .zip(b.par_chunks(64))
            .try_for_each(|(a, b)| -> Result<(), Error> {
                for _ in 0..shift {
                    let sq: Vec<Mont52> = a.to_vec();
                    ctx.mul_many(a, &sq)?;
                }
                ctx.mul_many(a, b)
            })?;
        for (c, x) in accs.iter_mut().zip(Self::leave_ifma(ctx, &a)) {
            *c = x;
        }
        Ok(())
    }

    fn bucket_sums(
        &self,
        cts: &[OuCiphertext],
        bins: &[&[u8]],
        nodes: &[&[u32]],
        n_bins: usize,
    ) -> Result<Vec<Vec<Vec<OuCiphertext>>>, Error> {
        use super::mont_ifma::{Mont52, bucket_products};
        let Some(ctx) = self.ifma2048() else {
            return super::bucket_sums_default(self, cts, bins, nodes, n_bins);
        };
        super::check_bucket_args(cts.len(), bins, nodes, n_bins)?;
        // Only the rows some node uses enter the IFMA domain (one multiplication each).
        let mut used = vec![false; cts.len()];
        for rows in nodes {
            for &r in *rows {
                used[r as usize] = true;
            }
        }
        let idx: Vec<usize> = (0..cts.len()).filter(|&i| used[i]).collect();
        let entered = Self::enter_ifma(ctx, idx.iter().map(|&i| &cts[i]))?;
        let mut conv: Vec<Mont52> = vec![ctx.ctx().one(); cts.len()];
        for (&i, m) in idx.iter().zip(entered) {
            conv[i] = m;
        }
        let mut out = Vec::with_capacity(nodes.len());
        for rows in nodes {
            let per_feature = bucket_products(ctx, &conv, bins, rows, n_bins)?;
            let flat: Vec<Mont52> = per_feature.into_iter().flatten().collect();
            let mut left = Self::leave_ifma(ctx, &flat);
            out.push(
                (0..bins.len())
                    .map(|_| left.by_ref().take(n_bins).collect())
                    .collect(),
            );
        }
        Ok(out)
    }

    fn scheme(&self) -> HeScheme {
        HeScheme::OkamotoUchiyama
    }

    fn modulus_bits(&self) -> u32 {
        self.0.bits()
    }

    fn plaintext_bits(&self) -> u32 {
        self.0.plaintext_bits()
    }

    fn encrypt(&self, m: &Plaintext) -> Result<OuCiphertext, Error> {
        self.0.encrypt(m).map(OuCiphertext)
    }

    fn encrypt_batch(&self, ms: &[Plaintext]) -> Result<Vec<OuCiphertext>, Error> {
        if let Sized2::B2048(k) = &*self.0 {
            k.prepare();
            if let Some(cs) = k.encrypt_batch_ifma(ms)? {
                return Ok(cs
                    .into_iter()
                    .map(|c| OuCiphertext(Sized2::B2048(c)))
                    .collect());
            }
        }
        Ok(wrap(self.0.encrypt_batch(ms)?))
    }

    fn add(&self, a: &OuCiphertext, b: &OuCiphertext) -> OuCiphertext {
        let mut c = a.clone();
        self.add_assign(&mut c, b);
        c
    }

    fn add_assign(&self, a: &mut OuCiphertext, b: &OuCiphertext) {
        self.0.add_assign(&mut a.0, &b.0);
    }

    fn mul_plain(&self, a: &OuCiphertext, k: &Plaintext) -> Result<OuCiphertext, Error> {
        self.0.mul_plain(&a.0, k).map(OuCiphertext)
    }

    fn zero(&self) -> OuCiphertext {
        OuCiphertext(self.0.zero())
    }

    fn rerandomize(&self, a: &mut OuCiphertext) -> Result<(), Error> {
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

    fn write_ciphertext(&self, c: &OuCiphertext, out: &mut Vec<u8>) -> Result<(), Error> {
        self.0.write(&c.0, out)
    }

    fn read_ciphertext(&self, bytes: &[u8]) -> Result<OuCiphertext, Error> {
        self.0.read(bytes).map(OuCiphertext)
    }

    fn to_bytes(&self) -> Vec<u8> {
        self.0.to_bytes()
    }

    fn from_bytes(bytes: &[u8]) -> Result<Self, Error> {
        let inner = decode_key(&PUBLIC, bytes, Pub2048::from_fields, Pub3072::from_fields)?;
        Ok(OuPublicKey(Arc::new(inner)))
    }
}

fn wrap(cs: Vec<SizedCt<Pub2048, Pub3072>>) -> Vec<OuCiphertext> {
    cs.into_iter().map(OuCiphertext).collect()
}

impl OuPublicKey {
    /// Test hook, not an API: encrypts `ms[i]` with the given randomness `rs[i]` (little-endian
    /// bytes of at most the key's `r` width), on the eight-lane IFMA path if `simd` (`None` if
    /// this key has none: no IFMA, `UNSEEN_NO_SIMD`, or a 3072-bit key), else on the scalar
    /// path. Reusing or choosing `r` breaks semantic security: only tests comparing the two
    /// paths call it.
    #[doc(hidden)]
    pub fn encrypt_with_randomness_for_tests(
        &self,
        ms: &[Plaintext],
        rs: &[Vec<u8>],
        simd: bool,
    ) -> Result<Option<Vec<OuCiphertext>>, Error> {
        if ms.len() != rs.len() {
            return Err(Error::InvalidArgument("one r per message"));
        }
        fn go<const N: usize>(
            k: &OuPub<N>,
            ms: &[Plaintext],
            rs: &[Vec<u8>],
            simd: bool,
        ) -> Result<Option<Vec<Uint<N>>>, Error> {
            if rs.iter().any(|r| r.len() * 8 > k.r_bits as usize) {
                return Err(Error::InvalidArgument("r wider than the key's r"));
            }
            if !simd {
                return ms
                    .iter()
                    .zip(rs)
                    .map(|(m, r)| k.encrypt_with_r(m, r))
                    .collect::<Result<_, _>>()
                    .map(Some);
            }
            let Some((ctx, t)) = k.ifma_parts() else {
                return Ok(None);
            };
            let mut out = Vec::with_capacity(ms.len());
            for (m8, r8) in ms.chunks(LANES).zip(rs.chunks(LANES)) {
                out.extend(k.encrypt_lanes(ctx, t, m8, r8)?);
            }
            Ok(Some(out))
        }
        Ok(match &*self.0 {
            Sized2::B2048(k) => go(k, ms, rs, simd)?.map(|v| {
                v.into_iter()
                    .map(|c| OuCiphertext(Sized2::B2048(c)))
                    .collect()
            }),
            Sized2::B3072(k) => go(k, ms, rs, simd)?.map(|v| {
                v.into_iter()
                    .map(|c| OuCiphertext(Sized2::B3072(c)))
                    .collect()
            }),
        })
    }
}

impl OuSecretKey {
    /// Generates a key pair from `rng` (reproducible keys for tests; use
    /// [`HeSecretKey::generate`] otherwise).
    pub fn generate_with_rng<R: CryptoRng + ?Sized>(
        modulus_bits: u32,
        rng: &mut R,
    ) -> Result<Self, Error> {
        let (public, inner) = Sized2::by_size(
            modulus_bits,
            rng,
            keygen::<32, 11, 22, 11, R>,
            keygen::<48, 16, 32, 17, R>,
            Error::InvalidArgument("OU modulus must be 2048 or 3072 bits"),
        )?
        .unzip();
        Ok(OuSecretKey {
            public: OuPublicKey(Arc::new(public)),
            inner: Box::new(inner),
        })
    }
}

/// Reads a secret key's fields (after the header) and re-derives and checks everything from
/// them.
fn secret_from_fields<const N: usize, const P: usize, const P2: usize, const Q: usize>(
    bits: u32,
    r: &mut Reader<'_>,
) -> Result<(OuPub<N>, OuSec<N, P, P2, Q>), Error> {
    let len = (bits as usize) / 8;
    let mut next = || -> Result<Uint<N>, Error> {
        r.take(len)
            .and_then(read_be::<N>)
            .ok_or(bad("secret key has the wrong length"))
    };
    let p = next()?;
    let q = next()?;
    let t = next()?;
    let g = next()?;
    let h = next()?;
    let p_bits = bits.div_ceil(3);
    if p.bit_width_vartime() != p_bits
        || q.bit_width_vartime() > Uint::<Q>::BITS
        || t.bit_width_vartime() != t_bits(bits)
    {
        return Err(bad("secret key: prime of the wrong size"));
    }
    let (p_s, q_s, t_s): (Uint<P>, Uint<Q>, Uint<P>) = (p.resize(), q.resize(), t.resize());
    if !is_prime(Flavor::Any, &p_s) || !is_prime(Flavor::Any, &q_s) || !is_prime(Flavor::Any, &t_s)
    {
        return Err(bad("secret key: p, q or t is not prime"));
    }
    let t_nz = non_zero(t).ok_or(bad("secret key: t is zero"))?;
    if p.wrapping_sub(&Uint::ONE).rem(&t_nz) != Uint::ZERO {
        return Err(bad("secret key: t does not divide p - 1"));
    }
    let n = mul_exact(&mul_exact(&p, &p).unwrap_or(Uint::ZERO), &q).unwrap_or(Uint::ZERO);
    if n.bit_width_vartime() != bits {
        return Err(bad("secret key: modulus has the wrong size"));
    }
    let n = odd(n).ok_or(bad("secret key: modulus is even"))?;
    let public = OuPub::new(bits, p_bits, n, g, h)?;
    let sec = OuSec::from_parts(p_s, q_s, t_s, &g)?;
    Ok((public, sec))
}

impl HeSecretKey for OuSecretKey {
    type Public = OuPublicKey;

    fn generate(modulus_bits: u32) -> Result<Self, Error> {
        let mut rng = os_rng()?;
        Self::generate_with_rng(modulus_bits, &mut rng)
    }

    fn generate_from_seed(modulus_bits: u32, seed: [u8; 32]) -> Result<Self, Error> {
        let mut rng = ChaCha20Rng::from_seed(seed);
        Self::generate_with_rng(modulus_bits, &mut rng)
    }

    fn public(&self) -> &OuPublicKey {
        &self.public
    }

    fn decrypt(&self, c: &OuCiphertext) -> Plaintext {
        self.public.0.decrypt(&self.inner, &c.0)
    }

    fn decrypt_batch(&self, cs: &[OuCiphertext]) -> Vec<Plaintext> {
        // OU-2048 with AVX-512 IFMA: eight powers modulo p² per kernel call.
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
            secret_from_fields::<32, 11, 22, 11>,
            secret_from_fields::<48, 16, 32, 17>,
        )?
        .unzip();
        Ok(OuSecretKey {
            public: OuPublicKey(Arc::new(public)),
            inner: Box::new(inner),
        })
    }
}
