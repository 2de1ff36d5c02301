//! What both parties derive from a key's OPRF output `y`: the record key, the nonce and the
//! cuckoo positions of each of the key's (up to [`MAX_DUPLICATES`](super::MAX_DUPLICATES))
//! records.
//!
//! Every value is one call of the OPRF suite's hash `Hash` (SHA-512 for `ristretto255-SHA512`,
//! SM3 for the 国密 `SM2-SM3` suite) over a length-prefixed, domain-separated input:
//!
//! ```text
//! Hash(I2OSP(len(label), 1) ‖ label ‖ salt ‖ I2OSP(d, 1) ‖ I2OSP(j, 1) ‖ I2OSP(len(y), 2) ‖ y)
//! ```
//!
//! with `label` one of [`LABEL_KEY`], [`LABEL_NONCE`], [`LABEL_POSITION`], `salt` the table's
//! 32-byte salt (fresh for every build, so a rebuilt table never reuses a key–nonce pair), `d`
//! the duplicate index and `j` the hash-function index (0 except for positions). The record key
//! is the first `key_len` bytes (32 for AES-256-GCM, 16 for SM4-GCM), the nonce the first 12, a
//! position the first 8 read as a little-endian integer reduced mod the number of slots `T`
//! (bias at most `T / 2^64 ≤ 2^-32`).

use sha2::digest::Digest;
use zeroize::Zeroizing;

use super::{HASHES, Salt};

/// Label of the record key.
pub const LABEL_KEY: &[u8] = b"unseen-kwpir-v1 record key";
/// Label of the AEAD nonce.
pub const LABEL_NONCE: &[u8] = b"unseen-kwpir-v1 nonce";
/// Label of a cuckoo position.
pub const LABEL_POSITION: &[u8] = b"unseen-kwpir-v1 position";

/// Length of an AEAD nonce (96 bits, as GCM wants).
pub const NONCE_LEN: usize = 12;

/// The values derived for record `d` of one key. The record key is wiped on drop and never
/// printed.
pub struct Derived {
    /// AEAD key of the record.
    pub key: Zeroizing<Vec<u8>>,
    /// AEAD nonce of the record.
    pub nonce: [u8; NONCE_LEN],
    /// The `h` candidate slots, each `< T`.
    pub positions: [u64; HASHES],
}

impl Drop for Derived {
    fn drop(&mut self) {
        // Which slots a key maps to is as private as the key; the key wipes itself.
        zeroize::Zeroize::zeroize(&mut self.positions);
        zeroize::Zeroize::zeroize(&mut self.nonce);
    }
}

impl std::fmt::Debug for Derived {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The positions say where a (possibly private) key's record sits: redacted as well.
        f.write_str("Derived(<redacted>)")
    }
}

/// `Hash(label ‖ salt ‖ d ‖ j ‖ y)` in the framing of the module docs.
fn labelled<H: Digest>(label: &[u8], salt: &Salt, d: u8, j: u8, y: &[u8]) -> Zeroizing<Vec<u8>> {
    // Labels are constants below 256 bytes and y is an OPRF output (32 or 64 bytes).
    let label_len = u8::try_from(label.len()).unwrap_or(u8::MAX);
    let y_len = u16::try_from(y.len()).unwrap_or(u16::MAX);
    let out = H::new()
        .chain_update([label_len])
        .chain_update(label)
        .chain_update(salt.0)
        .chain_update([d, j])
        .chain_update(y_len.to_be_bytes())
        .chain_update(y)
        .finalize();
    Zeroizing::new(out.to_vec())
}

/// Derives the record key (`key_len` bytes, at most the hash's output), the nonce and the `h`
/// positions in a table of `slots` slots for record `d` of the key whose OPRF output is `y`.
///
/// `slots` must be positive and `key_len` at most the hash output (32 bytes for SM3): both are
/// checked by the callers ([`super::TableConfig`], `Setup::decode`), and this returns shorter keys or position 0
/// rather than panic if they are not.
pub fn derive<H: Digest>(y: &[u8], d: u8, salt: &Salt, slots: u64, key_len: usize) -> Derived {
    let k = labelled::<H>(LABEL_KEY, salt, d, 0, y);
    let key = Zeroizing::new(k[..key_len.min(k.len())].to_vec());
    let n = labelled::<H>(LABEL_NONCE, salt, d, 0, y);
    let mut nonce = [0u8; NONCE_LEN];
    nonce.copy_from_slice(&n[..NONCE_LEN]);
    let mut positions = [0u64; HASHES];
    for (j, pos) in (0u8..).zip(positions.iter_mut()) {
        let h = labelled::<H>(LABEL_POSITION, salt, d, j, y);
        let mut w = [0u8; 8];
        w.copy_from_slice(&h[..8]);
        *pos = u64::from_le_bytes(w).checked_rem(slots).unwrap_or(0);
    }
    Derived {
        key,
        nonce,
        positions,
    }
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
        let a = derive::<Sha512>(&y, 0, &salt, 1000, 32);
        let b = derive::<Sha512>(&y, 0, &salt, 1000, 32);
        assert_eq!(
            (&a.key, a.nonce, a.positions),
            (&b.key, b.nonce, b.positions)
        );
        assert_eq!(a.key.len(), 32);
        assert!(a.positions.iter().all(|&p| p < 1000));
        // Another duplicate index, salt or y changes everything.
        for other in [
            derive::<Sha512>(&y, 1, &salt, 1000, 32),
            derive::<Sha512>(&y, 0, &Salt([8; 32]), 1000, 32),
            derive::<Sha512>(&[43u8; 64], 0, &salt, 1000, 32),
        ] {
            assert_ne!(a.key, other.key);
            assert_ne!(a.nonce, other.nonce);
        }
        // The key and the nonce are not prefixes of one another (distinct labels).
        assert_ne!(&a.key[..12], &a.nonce[..]);
        // SM3: 16-byte keys for SM4.
        let s = derive::<Sm3>(&y[..32], 0, &salt, 7, 16);
        assert_eq!(s.key.len(), 16);
        assert!(s.positions.iter().all(|&p| p < 7));
        assert_eq!(format!("{s:?}"), "Derived(<redacted>)");
    }

    #[test]
    fn positions_are_spread_evenly() {
        // 3·20 000 positions in 100 slots: every slot gets 600 ± 6·√600 (≈ 147).
        let salt = Salt([1; 32]);
        let mut counts = [0u32; 100];
        for i in 0u32..20_000 {
            let d = derive::<Sha512>(&i.to_le_bytes(), 0, &salt, 100, 32);
            for p in d.positions {
                counts[usize::try_from(p).unwrap()] += 1;
            }
        }
        assert!(
            counts.iter().all(|&c| (453..=747).contains(&c)),
            "{counts:?}"
        );
    }
}
