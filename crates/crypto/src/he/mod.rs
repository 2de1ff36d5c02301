//! Additively homomorphic encryption: Paillier and Okamoto–Uchiyama (OU) behind one pair of
//! traits, [`HePublicKey`] (what the evaluator holds) and [`HeSecretKey`] (what the key owner
//! holds). Protocol crates (`unseen-fl`) are generic over these traits.
//!
//! API contract, written first so that SecureBoost and logistic regression can be built against
//! it while the schemes are implemented:
//! - messages are signed integers ([`Plaintext`]); every value the caller encrypts *and every sum
//!   or product it forms* must satisfy `|m| < 2^plaintext_bits()`, otherwise decryption wraps;
//! - [`Plaintext::pack`] puts several non-negative fixed-point slots into one plaintext, so one
//!   ciphertext carries e.g. a gradient, a hessian and a count; sums of packed plaintexts are
//!   packed sums as long as no slot overflows its width (the caller sizes the slots);
//! - ciphertexts read from a peer go through [`HePublicKey::read_ciphertext`], which checks the
//!   exact length and the range before anything is computed with them;
//! - reals enter plaintexts through a fixed-point codec ([`FixedPoint`]), and sums and weighted
//!   sums of many ciphertexts have a kernel of their own ([`linear_combination`], [`sum`]).

use crate::Error;

mod common;
pub mod fixed;
pub mod lincomb;
pub mod mont_ifma;
mod ou;
mod paillier;
mod sized;

pub use fixed::FixedPoint;
pub use lincomb::{linear_combination, sum};
pub use ou::{OuCiphertext, OuPublicKey, OuSecretKey};
pub use paillier::{PaillierCiphertext, PaillierPublicKey, PaillierSecretKey};

/// The low 64 bits (truncation intended: limbs are split by hand).
#[allow(clippy::cast_possible_truncation)]
fn low64(v: u128) -> u64 {
    v as u64
}

/// Which additively homomorphic scheme a key belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum HeScheme {
    /// Paillier (EUROCRYPT 1999) with `g = n + 1`; ciphertexts live modulo `n²`.
    Paillier,
    /// Okamoto–Uchiyama (EUROCRYPT 1998), `n = p²q`; ciphertexts live modulo `n`.
    OkamotoUchiyama,
}

/// A signed integer message: sign and little-endian 64-bit limbs of the magnitude, normalised
/// (no high zero limbs, zero is never negative).
#[derive(Clone, PartialEq, Eq, Default)]
pub struct Plaintext {
    negative: bool,
    limbs: Vec<u64>,
}

impl core::fmt::Debug for Plaintext {
    // Plaintexts are secrets (gradients, features): never print the value.
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "Plaintext({} bits)", self.bits())
    }
}

impl Plaintext {
    /// From little-endian magnitude limbs and a sign.
    pub fn from_limbs(negative: bool, limbs: Vec<u64>) -> Self {
        let mut p = Plaintext { negative, limbs };
        p.normalise();
        p
    }

    fn normalise(&mut self) {
        while self.limbs.last() == Some(&0) {
            self.limbs.pop();
        }
        if self.limbs.is_empty() {
            self.negative = false;
        }
    }

    /// From a signed 128-bit integer.
    pub fn from_i128(v: i128) -> Self {
        let mag = v.unsigned_abs();
        Self::from_limbs(v < 0, vec![low64(mag), low64(mag >> 64)])
    }

    /// From an unsigned 128-bit integer.
    pub fn from_u128(v: u128) -> Self {
        Self::from_limbs(false, vec![low64(v), low64(v >> 64)])
    }

    /// The value as `i128`, or `None` if it does not fit.
    pub fn to_i128(&self) -> Option<i128> {
        if self.limbs.len() > 2 {
            return None;
        }
        let lo = u128::from(self.limbs.first().copied().unwrap_or(0));
        let hi = u128::from(self.limbs.get(1).copied().unwrap_or(0));
        let mag = lo | (hi << 64);
        if self.negative {
            if mag <= i128::MAX as u128 + 1 {
                Some(mag.cast_signed().wrapping_neg())
            } else {
                None
            }
        } else {
            i128::try_from(mag).ok()
        }
    }

    /// Whether the value is negative.
    pub fn is_negative(&self) -> bool {
        self.negative
    }

    /// Little-endian limbs of the magnitude.
    pub fn magnitude_limbs(&self) -> &[u64] {
        &self.limbs
    }

    /// Bit length of the magnitude (0 for zero).
    pub fn bits(&self) -> u32 {
        match self.limbs.last() {
            None => 0,
            Some(&top) => {
                let n = u32::try_from(self.limbs.len()).unwrap_or(u32::MAX);
                64 * (n - 1) + (64 - top.leading_zeros())
            }
        }
    }

    /// Packs non-negative `values` into one plaintext, value `i` at bits
    /// `[i·slot_bits, (i+1)·slot_bits)`. Fails if a value does not fit its slot or
    /// `slot_bits` is not in `1..=128`.
    pub fn pack(values: &[u128], slot_bits: u32) -> Result<Self, Error> {
        if !(1..=128).contains(&slot_bits) {
            return Err(Error::InvalidArgument("slot width must be 1..=128 bits"));
        }
        let total = (slot_bits as usize) * values.len();
        let mut limbs = vec![0u64; total.div_ceil(64) + 1];
        for (i, &v) in values.iter().enumerate() {
            if slot_bits < 128 && v >> slot_bits != 0 {
                return Err(Error::InvalidArgument("packed value wider than its slot"));
            }
            let bit = i * slot_bits as usize;
            let (limb, shift) = (bit / 64, bit % 64);
            // Spread v << shift over up to three limbs.
            let lo = low64(v << shift);
            let mid = low64((v << shift) >> 64);
            let hi = if shift == 0 {
                0
            } else {
                low64(v >> (128 - shift))
            };
            limbs[limb] |= lo;
            if let Some(l) = limbs.get_mut(limb + 1) {
                *l |= mid;
            }
            if let Some(l) = limbs.get_mut(limb + 2) {
                *l |= hi;
            }
        }
        Ok(Self::from_limbs(false, limbs))
    }

    /// Reads `count` slots of `slot_bits` each (the inverse of [`Plaintext::pack`]). Fails on a
    /// negative value or an invalid slot width; bits above the last slot are ignored.
    pub fn unpack(&self, slot_bits: u32, count: usize) -> Result<Vec<u128>, Error> {
        if !(1..=128).contains(&slot_bits) {
            return Err(Error::InvalidArgument("slot width must be 1..=128 bits"));
        }
        if self.negative {
            return Err(Error::InvalidArgument(
                "a packed plaintext is never negative",
            ));
        }
        let limb = |i: usize| u128::from(self.limbs.get(i).copied().unwrap_or(0));
        let mask = if slot_bits == 128 {
            u128::MAX
        } else {
            (1u128 << slot_bits) - 1
        };
        Ok((0..count)
            .map(|i| {
                let bit = i * slot_bits as usize;
                let (l, shift) = (bit / 64, bit % 64);
                let lo = (limb(l) | (limb(l + 1) << 64)) >> shift;
                let hi = if shift == 0 {
                    0
                } else {
                    limb(l + 2) << (128 - shift)
                };
                (lo | hi) & mask
            })
            .collect())
    }
}

/// The evaluator's side of a key: encrypt, add, multiply by a plaintext, (de)serialise.
pub trait HePublicKey: Clone + Send + Sync + core::fmt::Debug + 'static {
    /// A ciphertext of this scheme.
    type Ciphertext: Clone + Send + Sync + PartialEq + core::fmt::Debug + 'static;

    /// The scheme.
    fn scheme(&self) -> HeScheme;
    /// Bits of the public modulus `n` (2048 or 3072).
    fn modulus_bits(&self) -> u32;
    /// Messages and every sum or product formed from them must satisfy `|m| < 2^plaintext_bits`.
    fn plaintext_bits(&self) -> u32;
    /// Encrypts one message (randomness from a precomputed pool or fixed-base tables, fresh
    /// from the OS random number generator).
    fn encrypt(&self, m: &Plaintext) -> Result<Self::Ciphertext, Error>;
    /// Encrypts a batch in parallel (rayon).
    fn encrypt_batch(&self, ms: &[Plaintext]) -> Result<Vec<Self::Ciphertext>, Error>;
    /// `Enc(a + b)`.
    fn add(&self, a: &Self::Ciphertext, b: &Self::Ciphertext) -> Self::Ciphertext;
    /// `a ← Enc(a + b)`.
    fn add_assign(&self, a: &mut Self::Ciphertext, b: &Self::Ciphertext);
    /// `Enc(a · k)`.
    fn mul_plain(&self, a: &Self::Ciphertext, k: &Plaintext) -> Result<Self::Ciphertext, Error>;
    /// `Enc(a_i · k_i)` for each `i`, in parallel (rayon). The default calls
    /// [`HePublicKey::mul_plain`]; OU-2048 with AVX-512 IFMA computes eight powers per kernel
    /// call. Errors if the lengths differ or as [`HePublicKey::mul_plain`].
    fn mul_plain_batch(
        &self,
        cts: &[Self::Ciphertext],
        ks: &[Plaintext],
    ) -> Result<Vec<Self::Ciphertext>, Error> {
        mul_plain_batch_default(self, cts, ks)
    }
    /// `accs[i] ← Enc(m(accs[i]) + m(xs[i]))` for each `i`, in parallel (rayon). The default
    /// calls [`HePublicKey::add_assign`]; OU-2048 with AVX-512 IFMA multiplies eight pairs per
    /// kernel call. Errors if the lengths differ.
    fn add_many(
        &self,
        accs: &mut [Self::Ciphertext],
        xs: &[Self::Ciphertext],
    ) -> Result<(), Error> {
        add_many_default(self, accs, xs)
    }
    /// The deterministic encryption of zero without randomness (the identity): a neutral start
    /// for sums; re-randomise before sending a sum that may have no real term.
    fn zero(&self) -> Self::Ciphertext;
    /// Multiplies in a fresh encryption of zero.
    fn rerandomize(&self, a: &mut Self::Ciphertext) -> Result<(), Error>;
    /// Computes `count` random factors (the expensive, message-independent part of an
    /// encryption: `H^r` for OU, `h_s^α` for Paillier) in parallel and keeps them in a pool of
    /// this key (shared by its clones); [`HePublicKey::encrypt`] and
    /// [`HePublicKey::rerandomize`] use each pooled factor once, and compute a fresh one when
    /// the pool is empty. Call it while waiting for a peer to move the cost off the critical
    /// path. The pool is secret (it is the encryption randomness) and is wiped when the key is
    /// dropped. The default keeps no pool (every encryption draws fresh randomness).
    fn precompute_randomness(&self, count: usize) -> Result<(), Error> {
        let _ = count;
        Ok(())
    }
    /// Random factors left in the pool.
    fn precomputed_randomness(&self) -> usize {
        0
    }
    /// Exact byte length of an encoded ciphertext.
    fn ciphertext_len(&self) -> usize;
    /// Appends the fixed-length encoding of `c` to `out`. A ciphertext of another key size (a
    /// caller's bug) is [`Error::InvalidArgument`] and writes nothing.
    fn write_ciphertext(&self, c: &Self::Ciphertext, out: &mut Vec<u8>) -> Result<(), Error>;
    /// Decodes a peer's ciphertext: exact length, `0 < c < modulus`, else
    /// [`Error::InvalidCiphertext`].
    fn read_ciphertext(&self, bytes: &[u8]) -> Result<Self::Ciphertext, Error>;
    /// Canonical encoding of the public key.
    fn to_bytes(&self) -> Vec<u8>;
    /// Decodes a peer's public key with bounded checks (supported sizes only).
    fn from_bytes(bytes: &[u8]) -> Result<Self, Error>;

    /// Histogram sums, the evaluator's hot loop in SecureBoost: for each node (a list of row
    /// indices), each feature (a column of `bins`: one bin index per row, the same indexing as
    /// `cts`) and each bin `b < n_bins`, the homomorphic sum of the ciphertexts of the node's
    /// rows whose bin is `b`; `out[node][feature][bin]`, [`HePublicKey::zero`] for an empty bin.
    ///
    /// The default adds one ciphertext at a time, parallel over (node, feature); a scheme may
    /// override it with a faster kernel (OU: eight features per AVX-512 IFMA multiplication).
    /// Errors if `n_bins` is not in `1..=256`, or a row or bin index is out of range.
    fn bucket_sums(
        &self,
        cts: &[Self::Ciphertext],
        bins: &[&[u8]],
        nodes: &[&[u32]],
        n_bins: usize,
    ) -> Result<Vec<Vec<Vec<Self::Ciphertext>>>, Error> {
        bucket_sums_default(self, cts, bins, nodes, n_bins)
    }

    /// For each `i`: `accs[i] ← Enc(2^shift · m(accs[i]) + m(addends[i]))`, the step that packs
    /// several sums into one ciphertext (Horner). The default doubles `shift` times and adds,
    /// in parallel; a scheme may override it (OU: eight squarings per AVX-512 IFMA
    /// multiplication). Errors if the slices' lengths differ.
    fn shift_add_many(
        &self,
        accs: &mut [Self::Ciphertext],
        shift: u32,
        addends: &[Self::Ciphertext],
    ) -> Result<(), Error> {
        shift_add_default(self, accs, shift, addends)
    }
}

/// [`HePublicKey::mul_plain_batch`] one [`HePublicKey::mul_plain`] at a time, in parallel (the
/// default and the fallback).
pub fn mul_plain_batch_default<K: HePublicKey>(
    pk: &K,
    cts: &[K::Ciphertext],
    ks: &[Plaintext],
) -> Result<Vec<K::Ciphertext>, Error> {
    use rayon::prelude::*;
    if cts.len() != ks.len() {
        return Err(Error::InvalidArgument(
            "mul_plain_batch: slices of different lengths",
        ));
    }
    cts.par_iter()
        .zip(ks)
        .map(|(c, k)| pk.mul_plain(c, k))
        .collect()
}

/// [`HePublicKey::add_many`] one [`HePublicKey::add_assign`] at a time, in parallel (the
/// default and the fallback).
pub fn add_many_default<K: HePublicKey>(
    pk: &K,
    accs: &mut [K::Ciphertext],
    xs: &[K::Ciphertext],
) -> Result<(), Error> {
    use rayon::prelude::*;
    if accs.len() != xs.len() {
        return Err(Error::InvalidArgument(
            "add_many: slices of different lengths",
        ));
    }
    accs.par_iter_mut()
        .zip(xs)
        .for_each(|(a, x)| pk.add_assign(a, x));
    Ok(())
}

/// [`HePublicKey::shift_add_many`] one doubling at a time (the default and the fallback).
pub fn shift_add_default<K: HePublicKey>(
    pk: &K,
    accs: &mut [K::Ciphertext],
    shift: u32,
    addends: &[K::Ciphertext],
) -> Result<(), Error> {
    use rayon::prelude::*;
    if accs.len() != addends.len() {
        return Err(Error::InvalidArgument(
            "shift-add: slices of different lengths",
        ));
    }
    accs.par_iter_mut().zip(addends).for_each(|(a, b)| {
        for _ in 0..shift {
            let d = a.clone();
            pk.add_assign(a, &d);
        }
        pk.add_assign(a, b);
    });
    Ok(())
}

/// [`HePublicKey::bucket_sums`] one addition at a time (the default, and the fallback of faster
/// kernels).
pub fn bucket_sums_default<K: HePublicKey>(
    pk: &K,
    cts: &[K::Ciphertext],
    bins: &[&[u8]],
    nodes: &[&[u32]],
    n_bins: usize,
) -> Result<Vec<Vec<Vec<K::Ciphertext>>>, Error> {
    use rayon::prelude::*;
    check_bucket_args(cts.len(), bins, nodes, n_bins)?;
    let jobs: Vec<(usize, usize)> = (0..nodes.len())
        .flat_map(|n| (0..bins.len()).map(move |f| (n, f)))
        .collect();
    let sums: Vec<Vec<K::Ciphertext>> = jobs
        .par_iter()
        .map(|&(n, f)| {
            let col = bins[f];
            let mut hist = vec![pk.zero(); n_bins];
            for &r in nodes[n] {
                let r = r as usize;
                pk.add_assign(&mut hist[usize::from(col[r])], &cts[r]);
            }
            hist
        })
        .collect();
    let mut it = sums.into_iter();
    Ok((0..nodes.len())
        .map(|_| it.by_ref().take(bins.len()).collect())
        .collect())
}

/// Checks [`HePublicKey::bucket_sums`]'s arguments before anything is computed.
pub(crate) fn check_bucket_args(
    cts: usize,
    bins: &[&[u8]],
    nodes: &[&[u32]],
    n_bins: usize,
) -> Result<(), Error> {
    if !(1..=256).contains(&n_bins) {
        return Err(Error::InvalidArgument("bucket sums: bins must be 1..=256"));
    }
    if bins.iter().any(|c| c.len() != cts) {
        return Err(Error::InvalidArgument(
            "bucket sums: a bin column's length differs from the ciphertexts'",
        ));
    }
    if nodes
        .iter()
        .any(|rows| rows.iter().any(|&r| r as usize >= cts))
    {
        return Err(Error::InvalidArgument(
            "bucket sums: a row index is out of range",
        ));
    }
    if bins
        .iter()
        .any(|c| c.iter().any(|&b| usize::from(b) >= n_bins))
    {
        return Err(Error::InvalidArgument(
            "bucket sums: a bin index is out of range",
        ));
    }
    Ok(())
}

/// The key owner's side: decryption. Secrets are zeroised on drop and never printed.
pub trait HeSecretKey: Send + Sync + core::fmt::Debug {
    /// The matching public key type.
    type Public: HePublicKey;
    /// Generates a key pair with a modulus of `modulus_bits` (2048 or 3072).
    fn generate(modulus_bits: u32) -> Result<Self, Error>
    where
        Self: Sized;
    /// Generates a key pair deterministically from a 32-byte seed (ChaCha20): reproducible keys
    /// for tests and known-answer checks. Production keys come from [`HeSecretKey::generate`].
    fn generate_from_seed(modulus_bits: u32, seed: [u8; 32]) -> Result<Self, Error>
    where
        Self: Sized;
    /// The public key.
    fn public(&self) -> &Self::Public;
    /// Decrypts one ciphertext (a signed value; see [`HePublicKey::plaintext_bits`]).
    fn decrypt(&self, c: &<Self::Public as HePublicKey>::Ciphertext) -> Plaintext;
    /// Decrypts a batch in parallel (rayon).
    fn decrypt_batch(&self, cs: &[<Self::Public as HePublicKey>::Ciphertext]) -> Vec<Plaintext>;
    /// Encoding of the secret key (scheme tag, size, primes and the public generators), for the
    /// key owner to store; wiped when dropped.
    fn to_bytes(&self) -> zeroize::Zeroizing<Vec<u8>>;
    /// Decodes a stored secret key, re-deriving and checking everything derived (primality of
    /// the primes, sizes, the generator's order); [`Error::InvalidCiphertext`] when it does not
    /// hold.
    fn from_bytes(bytes: &[u8]) -> Result<Self, Error>
    where
        Self: Sized;
}
