//! SM2 digital signatures (GB/T 32918.2), used to sign a node's audit records.
//!
//! A thin wrapper over RustCrypto's `sm2::dsa` (deterministic nonces per RFC 6979 with SM3): the
//! signer's identity digest `Z_A` uses the default distinguishing identifier of GB/T 35276
//! (`1234567812345678`), signatures are the 64-byte `r || s`, public keys SEC1 uncompressed
//! (65 bytes).

use rand_core::CryptoRng;
use sm2::dsa::signature::{Signer, Verifier};
use sm2::dsa::{Signature, SigningKey, VerifyingKey};
use zeroize::Zeroizing;

/// The distinguishing identifier used when none is agreed (GB/T 35276-2017 §5.3).
pub const SM2_DEFAULT_DISTID: &str = "1234567812345678";

/// Length of an SM2 signature, `r || s`.
pub const SM2_SIGNATURE_LEN: usize = 64;

/// An SM2 signing key.
pub struct Sm2Signer {
    key: SigningKey,
}

impl core::fmt::Debug for Sm2Signer {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Sm2Signer")
            .field("public", &hex_short(&self.public_key()))
            .field("secret", &"<redacted>")
            .finish()
    }
}

fn hex_short(b: &[u8]) -> String {
    b.iter()
        .take(8)
        .map(|x| format!("{x:02x}"))
        .collect::<String>()
        + "…"
}

/// An SM2 key or signature failed to parse.
#[derive(Debug, thiserror::Error)]
#[error("invalid SM2 {0}")]
pub struct Sm2SignError(&'static str);

impl Sm2Signer {
    /// A fresh key from `rng`.
    pub fn generate<R: CryptoRng + ?Sized>(rng: &mut R) -> Self {
        loop {
            let mut bytes = Zeroizing::new([0u8; 32]);
            rng.fill_bytes(bytes.as_mut_slice());
            // Rejection sampling: a 256-bit string is a valid secret (1 ≤ d < n) with
            // probability ≈ 1 − 2^-32; try again otherwise.
            if let Ok(key) = SigningKey::from_slice(SM2_DEFAULT_DISTID, bytes.as_slice()) {
                return Self { key };
            }
        }
    }

    /// The key from its 32-byte big-endian secret.
    pub fn from_bytes(secret: &[u8]) -> Result<Self, Sm2SignError> {
        if secret.len() != 32 {
            return Err(Sm2SignError("secret key length"));
        }
        SigningKey::from_slice(SM2_DEFAULT_DISTID, secret)
            .map(|key| Self { key })
            .map_err(|_| Sm2SignError("secret key"))
    }

    /// The 32-byte secret (keep it secret; wiped on drop).
    pub fn to_bytes(&self) -> Zeroizing<[u8; 32]> {
        let mut out = Zeroizing::new([0u8; 32]);
        out.copy_from_slice(&self.key.to_bytes());
        out
    }

    /// The public key, SEC1 uncompressed (65 bytes).
    pub fn public_key(&self) -> Vec<u8> {
        self.key.verifying_key().to_sec1_bytes().into_vec()
    }

    /// Signs `msg` (`Z_A || msg` is hashed with SM3 inside, per GB/T 32918.2 §6.1).
    pub fn sign(&self, msg: &[u8]) -> [u8; SM2_SIGNATURE_LEN] {
        let sig: Signature = self.key.sign(msg);
        sig.to_bytes().into()
    }
}

/// Whether `sig` (`r || s`) is a valid SM2 signature of `msg` by the SEC1 public key `public`,
/// with distinguishing identifier `distid`.
pub fn sm2_verify(public: &[u8], distid: &str, msg: &[u8], sig: &[u8]) -> bool {
    let Ok(key) = VerifyingKey::from_sec1_bytes(distid, public) else {
        return false;
    };
    let Ok(sig) = Signature::from_slice(sig) else {
        return false;
    };
    key.verify(msg, &sig).is_ok()
}
