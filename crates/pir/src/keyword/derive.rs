//! What both parties derive from a key's OPRF output `y`: the record key and the bucket.
//!
//! Every value is one call of the OPRF suite's hash `Hash` (SHA-512 for `ristretto255-SHA512`,
//! SM3 for the 国密 `SM2-SM3` suite) over a length-prefixed, domain-separated input:
//!
//! ```text
//! Hash(I2OSP(len(label), 1) ‖ label ‖ salt ‖ I2OSP(len(y), 2) ‖ y)
//! ```
//!
//! with `label` [`LABEL_KEY`] or [`LABEL_BUCKET`] and `salt` the table's 32-byte salt (fresh for
//! every build, so a rebuilt table never reuses a record key). The record key is the first
//! `key_len` bytes (32 for AES-256-GCM, 16 for SM4-GCM); the bucket is the first 8 bytes read as
//! a little-endian integer reduced mod the number of buckets `m` (bias at most `m / 2^64 ≤
//! 2^-43`). All records of one key share its record key and bucket; each seal has its own nonce
//! (the table's seal counter, see [`super::nonce`]).

use sha2::digest::Digest;
use zeroize::Zeroizing;

use super::Salt;

/// Label of the record key.
pub const LABEL_KEY: &[u8] = b"unseen-kwpir-v2 record key";
/// Label of the bucket.
pub const LABEL_BUCKET: &[u8] = b"unseen-kwpir-v2 bucket";

/// The values derived for one key. The record key is wiped on drop and never printed.
pub struct Derived {
    /// AEAD key of the key's records.
    pub key: Zeroizing<Vec<u8>>,
    /// The bucket (SimplePIR column) holding the key's records, `< m`.
    pub bucket: usize,
}

impl Drop for Derived {
    fn drop(&mut self) {
        // Which bucket a key maps to is as private as the key; the key wipes itself.
        zeroize::Zeroize::zeroize(&mut self.bucket);
    }
}

impl std::fmt::Debug for Derived {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Derived(<redacted>)")
    }
}

/// `Hash(label ‖ salt ‖ y)` in the framing of the module docs.
fn labelled<H: Digest>(label: &[u8], salt: &Salt, y: &[u8]) -> Zeroizing<Vec<u8>> {
    // Labels are constants below 256 bytes and y is an OPRF output (32 or 64 bytes).
    let label_len = u8::try_from(label.len()).unwrap_or(u8::MAX);
    let y_len = u16::try_from(y.len()).unwrap_or(u16::MAX);
    let out = H::new()
        .chain_update([label_len])
        .chain_update(label)
        .chain_update(salt.0)
        .chain_update(y_len.to_be_bytes())
        .chain_update(y)
        .finalize();
    Zeroizing::new(out.to_vec())
}

/// Derives the record key (`key_len` bytes, at most the hash's output) and the bucket among
/// `buckets` for the key whose OPRF output is `y`.
///
/// `buckets` must be positive and `key_len` at most the hash output (32 bytes for SM3): both are
/// checked by the callers (the table's configuration, `Setup::decode`); this returns a shorter
/// key or bucket 0 rather than panic if they are not.
pub fn derive<H: Digest>(y: &[u8], salt: &Salt, buckets: usize, key_len: usize) -> Derived {
    Derived {
        key: record_key::<H>(y, salt, key_len),
        bucket: bucket::<H>(y, salt, buckets),
    }
}

/// The record key alone (see [`derive`]).
pub fn record_key<H: Digest>(y: &[u8], salt: &Salt, key_len: usize) -> Zeroizing<Vec<u8>> {
    let k = labelled::<H>(LABEL_KEY, salt, y);
    Zeroizing::new(k[..key_len.min(k.len())].to_vec())
}

/// The bucket alone (see [`derive`]).
pub fn bucket<H: Digest>(y: &[u8], salt: &Salt, buckets: usize) -> usize {
    let b = labelled::<H>(LABEL_BUCKET, salt, y);
    let mut w = [0u8; 8];
    w.copy_from_slice(&b[..8]);
    u64::from_le_bytes(w)
        .checked_rem(buckets as u64)
        .and_then(|b| usize::try_from(b).ok())
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)] // tests

    use sha2::Sha512;
    use sm3_shim::Sm3;

    use super::*;

    /// SM3 through the crypto crate's re-export is not public; the OPRF suite's hash is.
    mod sm3_shim {
        pub(super) type Sm3 = <unseen_crypto::Sm2 as unseen_crypto::oprf::OprfSuite>::Hash;
    }

    #[test]
    fn deterministic_separated_and_in_range() {
        let salt = Salt([7; 32]);
        let y = [42u8; 64];
        let a = derive::<Sha512>(&y, &salt, 1000, 32);
        let b = derive::<Sha512>(&y, &salt, 1000, 32);
        assert_eq!((&a.key, a.bucket), (&b.key, b.bucket));
        assert_eq!(a.key.len(), 32);
        assert!(a.bucket < 1000);
        // Another salt or y changes the key.
        for other in [
            derive::<Sha512>(&y, &Salt([8; 32]), 1000, 32),
            derive::<Sha512>(&[43u8; 64], &salt, 1000, 32),
        ] {
            assert_ne!(a.key, other.key);
        }
        // SM3: 16-byte keys for SM4.
        let s = derive::<Sm3>(&y[..32], &salt, 7, 16);
        assert_eq!(s.key.len(), 16);
        assert!(s.bucket < 7);
        assert_eq!(format!("{s:?}"), "Derived(<redacted>)");
    }

    #[test]
    fn buckets_are_spread_evenly() {
        // 60 000 keys in 100 buckets: every bucket gets 600 ± 6·√600 (≈ 147).
        let salt = Salt([1; 32]);
        let mut counts = [0u32; 100];
        for i in 0u32..60_000 {
            let d = derive::<Sha512>(&i.to_le_bytes(), &salt, 100, 32);
            counts[d.bucket] += 1;
        }
        assert!(
            counts.iter().all(|&c| (453..=747).contains(&c)),
            "{counts:?}"
        );
    }
}
