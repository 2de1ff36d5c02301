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

use std::sync::{Arc, Mutex, OnceLock};

use crypto_bigint::modular::{FixedMontyForm, FixedMontyParams};
use crypto_bigint::{Odd, RandomBits, RandomMod, Uint};
use crypto_primes::{Flavor, is_prime, random_prime};
use rand_chacha::ChaCha20Rng;
use rand_core::{CryptoRng, SeedableRng};
use rayon::prelude::*;
use zeroize::{Zeroize, Zeroizing};

use super::common::SecretPowers;
use super::common::{
    FixedBaseTable, Reader, digit, l_function, magnitude_le, mont_mul, mul_exact, non_zero, odd,
    os_rng, plaintext_from_uint, random_exponent, read_be, uint_from_le, write_be,
};
use super::mont_ifma::{LANES, Mont52, MontMul8};
use super::{HePublicKey, HeScheme, HeSecretKey, Plaintext};
use crate::Error;

const SCHEME: &str = "OU";
const PK_TAG: [u8; 3] = *b"OU1";
const SK_TAG: [u8; 3] = *b"Ou1";

/// Window of the `G` and `G⁻¹` tables: 8 bits (a 681-bit plaintext is 86 rows of 255
/// residues, 5.6 MB per table for OU-2048; a 40-bit message costs 5 multiplications).
const G_WINDOW: u32 = 8;
/// Window of the `H` table: 12 bits (a 224-bit `r` costs 19 multiplications; 19 rows of 4095
/// residues, 20 MB for OU-2048, 34 MB for OU-3072).
const H_WINDOW: u32 = 12;

fn bad(reason: &'static str) -> Error {
    Error::InvalidCiphertext {
        scheme: SCHEME,
        reason,
    }
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
    bits: u32,
    pt_bits: u32,
    r_bits: u32,
    n: Odd<Uint<N>>,
    params: FixedMontyParams<N>,
    /// `G`, `H` as integers (for encoding) and in Montgomery form.
    g: Uint<N>,
    h: Uint<N>,
    g_m: Uint<N>,
    g_inv_m: Uint<N>,
    h_m: Uint<N>,
    tables: OnceLock<OuTables<N>>,
    /// Precomputed `H^r` (Montgomery form), each used once.
    pool: Mutex<Vec<Uint<N>>>,
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
        let params = FixedMontyParams::new_vartime(n);
        let zero = Uint::<N>::ZERO;
        if g == zero || h == zero || g >= *n.as_ref() || h >= *n.as_ref() {
            return Err(bad("G and H must lie in [1, n)"));
        }
        let gm = FixedMontyForm::new(&g, &params);
        let g_inv = gm
            .invert_vartime()
            .into_option()
            .ok_or(bad("G is not invertible modulo n"))?;
        let hm = FixedMontyForm::new(&h, &params);
        Ok(OuPub {
            bits,
            pt_bits: p_bits - 2,
            r_bits: r_bits(bits),
            n,
            params,
            g,
            h,
            g_m: *gm.as_montgomery(),
            g_inv_m: *g_inv.as_montgomery(),
            h_m: *hm.as_montgomery(),
            tables: OnceLock::new(),
            pool: Mutex::new(Vec::new()),
            ifma: OnceLock::new(),
            ifma_tables: OnceLock::new(),
        })
    }

    fn tables(&self) -> &OuTables<N> {
        // Not rayon: a worker blocked in `get_or_init` could steal a task that waits on the same
        // cell (deadlock); plain scoped threads cannot.
        self.tables.get_or_init(|| {
            std::thread::scope(|s| {
                let g_inv = s.spawn(|| {
                    FixedBaseTable::new(&self.g_inv_m, &self.params, self.pt_bits, G_WINDOW)
                });
                let h =
                    s.spawn(|| FixedBaseTable::new(&self.h_m, &self.params, self.r_bits, H_WINDOW));
                let g = FixedBaseTable::new(&self.g_m, &self.params, self.pt_bits, G_WINDOW);
                let g_inv = g_inv.join();
                let h = h.join();
                match (g_inv, h) {
                    (Ok(g_inv), Ok(h)) => OuTables { g, g_inv, h },
                    // A table thread cannot panic (no panicking operation inside); rebuild inline
                    // if it somehow did rather than propagate a panic.
                    _ => OuTables {
                        g_inv: FixedBaseTable::new(
                            &self.g_inv_m,
                            &self.params,
                            self.pt_bits,
                            G_WINDOW,
                        ),
                        h: FixedBaseTable::new(&self.h_m, &self.params, self.r_bits, H_WINDOW),
                        g,
                    },
                }
            })
        })
    }

    /// The IFMA context of `n` (`None`: no IFMA, `UNSEEN_NO_SIMD`, or a 3072-bit key).
    fn ifma(&self) -> Option<&MontMul8> {
        self.ifma
            .get_or_init(|| MontMul8::new(self.n.as_ref().as_words()))
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
            let mut mag = Zeroizing::new(magnitude_le(m, self.pt_bits)?);
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
            .into_iter()
            .map(|w| {
                let mut a = [0u64; N];
                let len = w.len().min(N);
                a[..len].copy_from_slice(&w[..len]);
                Uint::from_words(a)
            })
            .collect();
        Ok(out)
    }

    /// [`HePublicKey::encrypt_batch`] on the IFMA path, fresh `r` per message; `None` if there
    /// is no IFMA context for this key. Pooled factors are used first (scalar path).
    fn encrypt_batch_ifma(&self, ms: &[Plaintext]) -> Result<Option<Vec<Uint<N>>>, Error> {
        let Some((ctx, t)) = self.ifma_parts() else {
            return Ok(None);
        };
        let head = self.pooled().min(ms.len());
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

    /// `G^m · H^r` on the scalar path with the given `r`.
    fn encrypt_with_r(&self, m: &Plaintext, r: &[u8]) -> Result<Uint<N>, Error> {
        let mut mag = magnitude_le(m, self.pt_bits)?;
        let t = self.tables();
        let table = if m.is_negative() { &t.g_inv } else { &t.g };
        let gm = table.pow(&mag, &self.params);
        mag.zeroize();
        let gm = gm.ok_or(Error::Internal("OU plaintext wider than its table"))?;
        let hr =
            t.h.pow(r, &self.params)
                .ok_or(Error::Internal("OU randomness wider than its table"))?;
        Ok(mont_mul(&gm, &hr, &self.params))
    }

    fn len(&self) -> usize {
        (self.bits as usize) / 8
    }

    /// `H^r` for a fresh `r` (Montgomery form).
    fn random_part(&self) -> Result<Uint<N>, Error> {
        if let Some(x) = self.pool.lock().ok().and_then(|mut p| p.pop()) {
            return Ok(x);
        }
        self.fresh_random_part()
    }

    fn precompute(&self, count: usize) -> Result<(), Error> {
        let fresh: Vec<Uint<N>> = (0..count)
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

    fn fresh_random_part(&self) -> Result<Uint<N>, Error> {
        let mut r = random_exponent(self.r_bits)?;
        let hr = self.tables().h.pow(&r, &self.params);
        r.zeroize();
        hr.ok_or(Error::Internal("OU randomness wider than its table"))
    }

    fn encrypt(&self, m: &Plaintext) -> Result<Uint<N>, Error> {
        let mut mag = magnitude_le(m, self.pt_bits)?;
        let t = self.tables();
        let table = if m.is_negative() { &t.g_inv } else { &t.g };
        let gm = table.pow(&mag, &self.params);
        mag.zeroize();
        let gm = gm.ok_or(Error::Internal("OU plaintext wider than its table"))?;
        Ok(mont_mul(&gm, &self.random_part()?, &self.params))
    }

    fn mul_plain(&self, a: &Uint<N>, k: &Plaintext) -> Result<Uint<N>, Error> {
        let mut mag = magnitude_le(k, self.pt_bits)?;
        let e: Uint<N> = uint_from_le(&mag);
        mag.zeroize();
        let x = FixedMontyForm::from_montgomery(*a, &self.params);
        // Constant time in the value of k up to its bit length (crypto-bigint's bounded pow).
        let y = x.pow_bounded_exp(&e, k.bits());
        let y = if k.is_negative() {
            // Inverting a ciphertext (public) value: variable time is fine.
            y.invert_vartime()
                .into_option()
                .ok_or(bad("ciphertext not invertible modulo n"))?
        } else {
            y
        };
        Ok(*y.as_montgomery())
    }

    fn read(&self, bytes: &[u8]) -> Result<Uint<N>, Error> {
        if bytes.len() != self.len() {
            return Err(bad("ciphertext has the wrong length"));
        }
        let c: Uint<N> = read_be(bytes).ok_or(bad("ciphertext has the wrong length"))?;
        if c == Uint::ZERO || c >= *self.n.as_ref() {
            return Err(bad("ciphertext out of range (0, n)"));
        }
        Ok(*FixedMontyForm::new(&c, &self.params).as_montgomery())
    }

    fn write(&self, c: &Uint<N>, out: &mut Vec<u8>) {
        let x = FixedMontyForm::from_montgomery(*c, &self.params).retrieve();
        write_be(&x, self.len(), out);
    }

    fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(5 + 3 * self.len());
        out.extend_from_slice(&PK_TAG);
        out.extend_from_slice(&u16::try_from(self.bits).unwrap_or(0).to_be_bytes());
        write_be(self.n.as_ref(), self.len(), &mut out);
        write_be(&self.g, self.len(), &mut out);
        write_be(&self.h, self.len(), &mut out);
        out
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

    fn decrypt(&self, c_mont: &Uint<N>, params: &FixedMontyParams<N>) -> Plaintext {
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
    /// [`OuSec::finish`] as [`OuSec::decrypt`]. `None` without IFMA.
    fn decrypt_batch_ifma(&self, cs: &[&Uint<N>]) -> Option<Vec<Plaintext>> {
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

impl<const N: usize> Drop for OuPub<N> {
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
    B2048(OuPub<32>),
    B3072(OuPub<48>),
}

// Behind a Box, one per key.
#[allow(clippy::large_enum_variant)]
enum SecInner {
    B2048(OuSec<32, 11, 22, 11>),
    B3072(OuSec<48, 16, 32, 17>),
}

/// An Okamoto–Uchiyama public key (2048- or 3072-bit `n`). Cloning shares the fixed-base tables,
/// which are built on first encryption.
#[derive(Clone)]
pub struct OuPublicKey(Arc<PubInner>);

/// An Okamoto–Uchiyama ciphertext (kept in Montgomery form modulo `n`).
#[derive(Clone, PartialEq, Eq)]
pub struct OuCiphertext(Ct);

// Inline, so that a ciphertext costs no allocation; a 2048-bit key's ciphertexts carry the
// unused tail of the 3072-bit variant.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, PartialEq, Eq)]
enum Ct {
    B2048(Uint<32>),
    B3072(Uint<48>),
}

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

macro_rules! on_pub {
    ($self:expr, $k:ident => $e:expr) => {
        match &*$self.0 {
            PubInner::B2048($k) => $e,
            PubInner::B3072($k) => $e,
        }
    };
}

impl OuPublicKey {
    /// The AVX-512 IFMA context of a 2048-bit key (built on first use), or `None` (3072-bit
    /// key, no IFMA, `UNSEEN_NO_SIMD`): then the caller takes the portable path.
    fn ifma2048(&self) -> Option<&super::mont_ifma::MontMul8> {
        match &*self.0 {
            PubInner::B2048(k) => k.ifma(),
            PubInner::B3072(_) => None,
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
                Ct::B2048(x) => Ok(&x.as_words()[..]),
                Ct::B3072(_) => Err(Error::InvalidArgument("a ciphertext of another key size")),
            })
            .collect::<Result<_, _>>()?;
        ctx.from_r64_montgomery_batch(&words)
    }

    /// IFMA-domain values back into ciphertexts.
    fn leave_ifma(
        ctx: &super::mont_ifma::MontMul8,
        xs: &[super::mont_ifma::Mont52],
    ) -> impl Iterator<Item = OuCiphertext> {
        ctx.to_r64_montgomery_batch(xs).into_iter().map(|w| {
            let mut a = [0u64; 32];
            a.copy_from_slice(&w[..32]);
            OuCiphertext(Ct::B2048(Uint::from_words(a)))
        })
    }
}

impl HePublicKey for OuPublicKey {
    type Ciphertext = OuCiphertext;

    fn mul_plain_batch(
        &self,
        cts: &[OuCiphertext],
        ks: &[Plaintext],
    ) -> Result<Vec<OuCiphertext>, Error> {
        let (Some(ctx), PubInner::B2048(pk)) = (self.ifma2048(), &*self.0) else {
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
                .map(|k| magnitude_le(k, pk.pt_bits).map(Zeroizing::new))
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
                let Ct::B2048(x) = c.0 else {
                    return Err(Error::Internal("OU: key size changed"));
                };
                let inv = FixedMontyForm::from_montgomery(x, &pk.params)
                    .invert_vartime()
                    .into_option()
                    .ok_or(bad("ciphertext not invertible modulo n"))?;
                Ok(OuCiphertext(Ct::B2048(*inv.as_montgomery())))
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
                    Ct::B2048(x) => Ok(*x.as_words()),
                    Ct::B3072(_) => Err(Error::InvalidArgument("a ciphertext of another key size")),
                })
                .collect()
        };
        let (a, b) = (words(accs)?, words(xs)?);
        let ar: Vec<&[u64]> = a.iter().map(|w| &w[..]).collect();
        let br: Vec<&[u64]> = b.iter().map(|w| &w[..]).collect();
        // (x·R64)(y·R64)·R64⁻¹ = x·y·R64: the sum's ciphertext, straight in crypto-bigint's form.
        for (c, w) in accs.iter_mut().zip(ctx.mul_r64_many(&ar, &br)?) {
            let mut v = [0u64; 32];
            v.copy_from_slice(&w[..32]);
            *c = OuCiphertext(Ct::B2048(Uint::from_words(v)));
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
        on_pub!(self, k => k.bits)
    }

    fn plaintext_bits(&self) -> u32 {
        on_pub!(self, k => k.pt_bits)
    }

    fn encrypt(&self, m: &Plaintext) -> Result<OuCiphertext, Error> {
        Ok(OuCiphertext(match &*self.0 {
            PubInner::B2048(k) => Ct::B2048(k.encrypt(m)?),
            PubInner::B3072(k) => Ct::B3072(k.encrypt(m)?),
        }))
    }

    fn encrypt_batch(&self, ms: &[Plaintext]) -> Result<Vec<OuCiphertext>, Error> {
        on_pub!(self, k => { k.tables(); });
        if let PubInner::B2048(k) = &*self.0
            && let Some(cs) = k.encrypt_batch_ifma(ms)?
        {
            return Ok(cs.into_iter().map(|c| OuCiphertext(Ct::B2048(c))).collect());
        }
        ms.par_iter().map(|m| self.encrypt(m)).collect()
    }

    fn add(&self, a: &OuCiphertext, b: &OuCiphertext) -> OuCiphertext {
        let mut c = a.clone();
        self.add_assign(&mut c, b);
        c
    }

    fn add_assign(&self, a: &mut OuCiphertext, b: &OuCiphertext) {
        // A ciphertext of another key size is a caller bug; it leaves `a` unchanged.
        match (&*self.0, &mut a.0, &b.0) {
            (PubInner::B2048(k), Ct::B2048(x), Ct::B2048(y)) => *x = mont_mul(x, y, &k.params),
            (PubInner::B3072(k), Ct::B3072(x), Ct::B3072(y)) => *x = mont_mul(x, y, &k.params),
            _ => debug_assert!(false, "OU ciphertexts of different key sizes"),
        }
    }

    fn mul_plain(&self, a: &OuCiphertext, k: &Plaintext) -> Result<OuCiphertext, Error> {
        Ok(OuCiphertext(match (&*self.0, &a.0) {
            (PubInner::B2048(pk), Ct::B2048(x)) => Ct::B2048(pk.mul_plain(x, k)?),
            (PubInner::B3072(pk), Ct::B3072(x)) => Ct::B3072(pk.mul_plain(x, k)?),
            _ => return Err(Error::InvalidArgument("ciphertext of another key size")),
        }))
    }

    fn zero(&self) -> OuCiphertext {
        OuCiphertext(match &*self.0 {
            PubInner::B2048(k) => Ct::B2048(*k.params.one()),
            PubInner::B3072(k) => Ct::B3072(*k.params.one()),
        })
    }

    fn rerandomize(&self, a: &mut OuCiphertext) -> Result<(), Error> {
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
            k.tables();
            k.precompute(count)
        })
    }

    fn precomputed_randomness(&self) -> usize {
        on_pub!(self, k => k.pooled())
    }

    fn ciphertext_len(&self) -> usize {
        on_pub!(self, k => k.len())
    }

    fn write_ciphertext(&self, c: &OuCiphertext, out: &mut Vec<u8>) {
        match (&*self.0, &c.0) {
            (PubInner::B2048(k), Ct::B2048(x)) => k.write(x, out),
            (PubInner::B3072(k), Ct::B3072(x)) => k.write(x, out),
            // A caller bug: write zeros of the right length so that framing stays intact.
            _ => out.extend(std::iter::repeat_n(0u8, self.ciphertext_len())),
        }
    }

    fn read_ciphertext(&self, bytes: &[u8]) -> Result<OuCiphertext, Error> {
        Ok(OuCiphertext(match &*self.0 {
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
            return Err(bad("not an OU public key"));
        }
        let bits = read_bits(&mut r)?;
        let inner = match bits {
            2048 => PubInner::B2048(OuPub::from_fields(bits, &mut r)?),
            3072 => PubInner::B3072(OuPub::from_fields(bits, &mut r)?),
            _ => return Err(bad("unsupported modulus size (2048 or 3072 bits)")),
        };
        if !r.is_empty() {
            return Err(bad("trailing bytes after the public key"));
        }
        Ok(OuPublicKey(Arc::new(inner)))
    }
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
            PubInner::B2048(k) => go(k, ms, rs, simd)?
                .map(|v| v.into_iter().map(|c| OuCiphertext(Ct::B2048(c))).collect()),
            PubInner::B3072(k) => go(k, ms, rs, simd)?
                .map(|v| v.into_iter().map(|c| OuCiphertext(Ct::B3072(c))).collect()),
        })
    }
}

fn read_bits(r: &mut Reader<'_>) -> Result<u32, Error> {
    let b = r.take(2).ok_or(bad("key too short"))?;
    Ok(u32::from(u16::from_be_bytes([b[0], b[1]])))
}

impl OuSecretKey {
    /// Generates a key pair from `rng` (reproducible keys for tests; use
    /// [`HeSecretKey::generate`] otherwise).
    pub fn generate_with_rng<R: CryptoRng + ?Sized>(
        modulus_bits: u32,
        rng: &mut R,
    ) -> Result<Self, Error> {
        let (public, inner) = match modulus_bits {
            2048 => {
                let (p, s) = keygen::<32, 11, 22, 11, R>(2048, rng)?;
                (PubInner::B2048(p), SecInner::B2048(s))
            }
            3072 => {
                let (p, s) = keygen::<48, 16, 32, 17, R>(3072, rng)?;
                (PubInner::B3072(p), SecInner::B3072(s))
            }
            _ => {
                return Err(Error::InvalidArgument(
                    "OU modulus must be 2048 or 3072 bits",
                ));
            }
        };
        Ok(OuSecretKey {
            public: OuPublicKey(Arc::new(public)),
            inner: Box::new(inner),
        })
    }

    fn from_fields<const N: usize, const P: usize, const P2: usize, const Q: usize>(
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
        if !is_prime(Flavor::Any, &p_s)
            || !is_prime(Flavor::Any, &q_s)
            || !is_prime(Flavor::Any, &t_s)
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
        match (&*self.public.0, &*self.inner, &c.0) {
            (PubInner::B2048(k), SecInner::B2048(s), Ct::B2048(x)) => s.decrypt(x, &k.params),
            (PubInner::B3072(k), SecInner::B3072(s), Ct::B3072(x)) => s.decrypt(x, &k.params),
            // A ciphertext of another key size is a caller bug.
            _ => Plaintext::default(),
        }
    }

    fn decrypt_batch(&self, cs: &[OuCiphertext]) -> Vec<Plaintext> {
        // OU-2048 with AVX-512 IFMA: eight powers modulo p² per kernel call.
        if let (PubInner::B2048(_), SecInner::B2048(s)) = (&*self.public.0, &*self.inner) {
            let xs: Option<Vec<&Uint<32>>> = cs
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
        fn enc<const N: usize, const P: usize, const P2: usize, const Q: usize>(
            k: &OuPub<N>,
            s: &OuSec<N, P, P2, Q>,
        ) -> Zeroizing<Vec<u8>> {
            let len = k.len();
            let mut out = Zeroizing::new(Vec::with_capacity(5 + 5 * len));
            out.extend_from_slice(&SK_TAG);
            out.extend_from_slice(&u16::try_from(k.bits).unwrap_or(0).to_be_bytes());
            write_be(&s.p.resize::<N>(), len, &mut out);
            write_be(&s.q.resize::<N>(), len, &mut out);
            write_be(&s.t.resize::<N>(), len, &mut out);
            write_be(&k.g, len, &mut out);
            write_be(&k.h, len, &mut out);
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
            return Err(bad("not an OU secret key"));
        }
        let bits = read_bits(&mut r)?;
        let (public, inner) = match bits {
            2048 => {
                let (p, s) = Self::from_fields::<32, 11, 22, 11>(bits, &mut r)?;
                (PubInner::B2048(p), SecInner::B2048(s))
            }
            3072 => {
                let (p, s) = Self::from_fields::<48, 16, 32, 17>(bits, &mut r)?;
                (PubInner::B3072(p), SecInner::B3072(s))
            }
            _ => return Err(bad("unsupported modulus size (2048 or 3072 bits)")),
        };
        if !r.is_empty() {
            return Err(bad("trailing bytes after the secret key"));
        }
        Ok(OuSecretKey {
            public: OuPublicKey(Arc::new(public)),
            inner: Box::new(inner),
        })
    }
}
