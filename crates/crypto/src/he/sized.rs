//! The two supported key sizes (2048 and 3072 bits) behind one key type per scheme.
//!
//! Each scheme implements its arithmetic once, generic over the limb counts, and names its two
//! instances in a [`Sized2`]. The key, its secret part and its ciphertexts are each a
//! [`Sized2`]; the dispatch below pairs them, so every operation of both schemes handles a
//! ciphertext of another key size the same way: an [`Error::InvalidArgument`] where the
//! operation can fail, and nothing else (it is a caller's bug: ciphertexts belong to the key that
//! made or read them).

use rayon::prelude::*;
use zeroize::Zeroizing;

use super::Plaintext;
use super::common::CoreOps;
use crate::Error;

/// One value per key size. Keys and secret parts are `Sized2<A, B>` of the scheme's two
/// instances; ciphertexts are [`SizedCt`], inline (no allocation; a 2048-bit key's ciphertexts
/// carry the unused tail of the 3072-bit variant).
#[allow(clippy::large_enum_variant)] // keys are behind an Arc or a Box; ciphertexts inline
#[derive(Clone, PartialEq, Eq)]
pub(crate) enum Sized2<A, B> {
    /// A 2048-bit modulus.
    B2048(A),
    /// A 3072-bit modulus.
    B3072(B),
}

/// A ciphertext of a key `Sized2<A, B>`.
pub(crate) type SizedCt<A, B> = Sized2<Res<A>, Res<B>>;

/// The residue type of a public key's ciphertexts.
pub(crate) type Res<P> = <<P as SizedPublic>::Core as CoreOps>::Res;

/// The error for a ciphertext of another key size.
pub(crate) const OTHER_SIZE: Error = Error::InvalidArgument("ciphertext of another key size");

/// Applies the same expression to whichever size `$self` is.
macro_rules! on_size {
    ($self:expr, $k:ident => $e:expr) => {
        match $self {
            Sized2::B2048($k) => $e,
            Sized2::B3072($k) => $e,
        }
    };
}

impl<A, B> Sized2<A, B> {
    /// `a(2048, ctx)` or `b(3072, ctx)` for a supported size, else `unsupported`; `ctx` (a
    /// random number generator, a reader) goes to whichever runs.
    pub(crate) fn by_size<C: ?Sized>(
        bits: u32,
        ctx: &mut C,
        a: impl FnOnce(u32, &mut C) -> Result<A, Error>,
        b: impl FnOnce(u32, &mut C) -> Result<B, Error>,
        unsupported: Error,
    ) -> Result<Self, Error> {
        match bits {
            2048 => a(2048, ctx).map(Sized2::B2048),
            3072 => b(3072, ctx).map(Sized2::B3072),
            _ => Err(unsupported),
        }
    }
}

impl<A1, A2, B1, B2> Sized2<(A1, A2), (B1, B2)> {
    /// A pair of one size into a pair of values of that size (a key pair into its parts).
    pub(crate) fn unzip(self) -> (Sized2<A1, B1>, Sized2<A2, B2>) {
        match self {
            Sized2::B2048((a, b)) => (Sized2::B2048(a), Sized2::B2048(b)),
            Sized2::B3072((a, b)) => (Sized2::B3072(a), Sized2::B3072(b)),
        }
    }
}

/// One size of one scheme's public key: its ciphertext group ([`CoreOps`]) and what only the
/// scheme knows (encryption, its randomness, its key encoding).
pub(crate) trait SizedPublic: Send + Sync + 'static {
    /// The ciphertext group.
    type Core: CoreOps;
    fn core(&self) -> &Self::Core;
    /// Builds what encryption needs (fixed-base tables) on this thread, before a parallel
    /// section: a rayon worker blocked in a `OnceLock` could otherwise steal a task that waits
    /// on the same cell.
    fn prepare(&self);
    /// `Enc(m)` with a pooled or fresh random factor.
    fn encrypt(&self, m: &Plaintext) -> Result<Res<Self>, Error>;
    /// A pooled random factor, or a fresh one.
    fn random_part(&self) -> Result<Res<Self>, Error>;
    /// Adds `count` fresh random factors to the pool.
    fn precompute(&self, count: usize) -> Result<(), Error>;
    /// The public key's encoding.
    fn to_bytes(&self) -> Vec<u8>;
}

/// One size of one scheme's secret part, for its public part `P`.
pub(crate) trait SizedSecret<P: SizedPublic>: Send + Sync {
    /// Decrypts one ciphertext of `public`.
    fn decrypt(&self, public: &P, c: &Res<P>) -> Plaintext;
    /// Batch decryption on the eight-lane AVX-512 IFMA path, `None` without it.
    fn decrypt_batch_ifma(&self, cs: &[&Res<P>]) -> Option<Vec<Plaintext>>;
    /// The secret key's encoding.
    fn to_bytes(&self, public: &P) -> Zeroizing<Vec<u8>>;
}

impl<A: SizedPublic, B: SizedPublic> Sized2<A, B> {
    pub(crate) fn bits(&self) -> u32 {
        on_size!(self, k => k.core().bits())
    }

    pub(crate) fn plaintext_bits(&self) -> u32 {
        on_size!(self, k => k.core().plaintext_bits())
    }

    pub(crate) fn ciphertext_len(&self) -> usize {
        on_size!(self, k => k.core().ciphertext_len())
    }

    pub(crate) fn prepare(&self) {
        on_size!(self, k => k.prepare());
    }

    pub(crate) fn encrypt(&self, m: &Plaintext) -> Result<SizedCt<A, B>, Error> {
        match self {
            Sized2::B2048(k) => k.encrypt(m).map(Sized2::B2048),
            Sized2::B3072(k) => k.encrypt(m).map(Sized2::B3072),
        }
    }

    /// One encryption at a time in parallel, the tables built first (see
    /// [`SizedPublic::prepare`]).
    pub(crate) fn encrypt_batch(&self, ms: &[Plaintext]) -> Result<Vec<SizedCt<A, B>>, Error> {
        self.prepare();
        ms.par_iter().map(|m| self.encrypt(m)).collect()
    }

    /// A ciphertext of another key size leaves `a` unchanged (and fails a debug assertion).
    pub(crate) fn add_assign(&self, a: &mut SizedCt<A, B>, b: &SizedCt<A, B>) {
        match (self, a, b) {
            (Sized2::B2048(k), Sized2::B2048(x), Sized2::B2048(y)) => k.core().add(x, y),
            (Sized2::B3072(k), Sized2::B3072(x), Sized2::B3072(y)) => k.core().add(x, y),
            _ => debug_assert!(false, "ciphertexts of different key sizes"),
        }
    }

    pub(crate) fn mul_plain(
        &self,
        a: &SizedCt<A, B>,
        k: &Plaintext,
    ) -> Result<SizedCt<A, B>, Error> {
        match (self, a) {
            (Sized2::B2048(pk), Sized2::B2048(x)) => pk.core().mul_plain(x, k).map(Sized2::B2048),
            (Sized2::B3072(pk), Sized2::B3072(x)) => pk.core().mul_plain(x, k).map(Sized2::B3072),
            _ => Err(OTHER_SIZE),
        }
    }

    pub(crate) fn zero(&self) -> SizedCt<A, B> {
        match self {
            Sized2::B2048(k) => Sized2::B2048(k.core().one()),
            Sized2::B3072(k) => Sized2::B3072(k.core().one()),
        }
    }

    pub(crate) fn rerandomize(&self, a: &mut SizedCt<A, B>) -> Result<(), Error> {
        match (self, a) {
            (Sized2::B2048(k), Sized2::B2048(x)) => k.core().add(x, &k.random_part()?),
            (Sized2::B3072(k), Sized2::B3072(x)) => k.core().add(x, &k.random_part()?),
            _ => return Err(OTHER_SIZE),
        }
        Ok(())
    }

    pub(crate) fn precompute(&self, count: usize) -> Result<(), Error> {
        // Tables first, outside the parallel section (see SizedPublic::prepare).
        self.prepare();
        on_size!(self, k => k.precompute(count))
    }

    pub(crate) fn pooled(&self) -> usize {
        on_size!(self, k => k.core().pooled())
    }

    /// Appends `c`'s encoding; a ciphertext of another key size is refused and nothing is
    /// written.
    pub(crate) fn write(&self, c: &SizedCt<A, B>, out: &mut Vec<u8>) -> Result<(), Error> {
        match (self, c) {
            (Sized2::B2048(k), Sized2::B2048(x)) => k.core().write(x, out),
            (Sized2::B3072(k), Sized2::B3072(x)) => k.core().write(x, out),
            _ => return Err(OTHER_SIZE),
        }
        Ok(())
    }

    pub(crate) fn read(&self, bytes: &[u8]) -> Result<SizedCt<A, B>, Error> {
        match self {
            Sized2::B2048(k) => k.core().read(bytes).map(Sized2::B2048),
            Sized2::B3072(k) => k.core().read(bytes).map(Sized2::B3072),
        }
    }

    pub(crate) fn to_bytes(&self) -> Vec<u8> {
        on_size!(self, k => k.to_bytes())
    }

    /// Decrypts with the secret part `sec` of this key; a ciphertext of another key size
    /// decrypts to zero (a caller's bug).
    pub(crate) fn decrypt<SA: SizedSecret<A>, SB: SizedSecret<B>>(
        &self,
        sec: &Sized2<SA, SB>,
        c: &SizedCt<A, B>,
    ) -> Plaintext {
        match (self, sec, c) {
            (Sized2::B2048(k), Sized2::B2048(s), Sized2::B2048(x)) => s.decrypt(k, x),
            (Sized2::B3072(k), Sized2::B3072(s), Sized2::B3072(x)) => s.decrypt(k, x),
            _ => Plaintext::default(),
        }
    }

    /// Batch decryption: 2048-bit keys on the eight-lane IFMA path when there is one (and every
    /// ciphertext has this size), else one decryption at a time in parallel.
    pub(crate) fn decrypt_batch<SA: SizedSecret<A>, SB: SizedSecret<B>>(
        &self,
        sec: &Sized2<SA, SB>,
        cs: &[&SizedCt<A, B>],
    ) -> Vec<Plaintext> {
        if let (Sized2::B2048(_), Sized2::B2048(s)) = (self, sec) {
            let xs: Option<Vec<&Res<A>>> = cs
                .iter()
                .map(|c| match c {
                    Sized2::B2048(x) => Some(x),
                    Sized2::B3072(_) => None,
                })
                .collect();
            if let Some(out) = xs.and_then(|xs| s.decrypt_batch_ifma(&xs)) {
                return out;
            }
        }
        cs.par_iter().map(|c| self.decrypt(sec, c)).collect()
    }

    /// The secret key's encoding (empty if `sec` is of another size, which construction rules
    /// out).
    pub(crate) fn secret_to_bytes<SA: SizedSecret<A>, SB: SizedSecret<B>>(
        &self,
        sec: &Sized2<SA, SB>,
    ) -> Zeroizing<Vec<u8>> {
        match (self, sec) {
            (Sized2::B2048(k), Sized2::B2048(s)) => s.to_bytes(k),
            (Sized2::B3072(k), Sized2::B3072(s)) => s.to_bytes(k),
            _ => Zeroizing::new(Vec::new()),
        }
    }
}
