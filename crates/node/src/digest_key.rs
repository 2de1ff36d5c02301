//! The node's digest key: a 256-bit secret (`identity/digest.key`, mode 0600) under which the
//! node stores keyed digests (HMAC-SM3, RFC 2104 over GB/T 32905 SM3, as in GM/T 0042-2015) of
//! values that identify a customer, instead of plain SM3 digests.
//!
//! Why: an ID-card number has about 30 bits of entropy (region, birth date, sequence, check
//! digit), so a plain SM3 digest of one is reversed by trying every candidate in well under a
//! second. An HMAC under a secret that never leaves the node cannot be reversed without the
//! secret: a reader of the audit log (or of a copied database) learns only whether two records
//! name the same key. Whoever holds the node directory (and so the secret) can still test
//! candidates, as it can read the data files anyway.
//!
//! The secret is created by `unseen init`, or on first use by a node initialised before it
//! existed; it is never logged, printed or sent. A digest both nodes must compare (the
//! `--aligned` check of two key columns) cannot use it: see docs/audit.md.

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;

use hmac::{KeyInit, Mac};
use zeroize::Zeroizing;

use crate::NodeError;
use crate::dir::NodeDir;

/// Length of the secret in bytes.
const KEY_LEN: usize = 32;

/// The node's digest key. Its `Debug` never shows the secret; it is wiped when dropped.
pub struct DigestKey(Zeroizing<[u8; KEY_LEN]>);

impl std::fmt::Debug for DigestKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DigestKey(<redacted>)")
    }
}

/// Where the key lives: `identity/digest.key` (64 hex digits, mode 0600).
pub fn path(dir: &NodeDir) -> std::path::PathBuf {
    dir.root().join("identity").join("digest.key")
}

/// HMAC-SM3 of `msg` under `key` (RFC 2104 with SM3: 64-byte blocks, 32-byte output).
pub fn hmac_sm3(key: &[u8], msg: &[u8]) -> [u8; 32] {
    // HMAC accepts keys of any length (longer ones are hashed first, RFC 2104 §2).
    let Ok(mut mac) = hmac::Hmac::<sm3::Sm3>::new_from_slice(key) else {
        unreachable!("HMAC takes keys of any length")
    };
    mac.update(msg);
    mac.finalize().into_bytes().into()
}

impl DigestKey {
    /// A key from its bytes (tests).
    pub fn from_bytes(bytes: [u8; KEY_LEN]) -> Self {
        Self(Zeroizing::new(bytes))
    }

    /// The keyed digest of `value` for one use (`domain`, e.g. `"score-key"`), as lowercase
    /// hex: `HMAC-SM3(key, domain || 0x00 || value)`. The domain keeps digests made for one
    /// purpose from being matched against digests made for another.
    pub fn digest(&self, domain: &str, value: &[u8]) -> String {
        let mut msg = Vec::with_capacity(domain.len() + 1 + value.len());
        msg.extend_from_slice(domain.as_bytes());
        msg.push(0);
        msg.extend_from_slice(value);
        hex::encode(hmac_sm3(self.0.as_slice(), &msg))
    }
}

/// Loads the node's digest key, creating it first if the node has none (nodes initialised
/// before it existed). Creation is atomic and never replaces an existing key: a daemon and a
/// CLI process starting at once end up with the same one.
pub fn load_or_create(dir: &NodeDir) -> Result<DigestKey, NodeError> {
    let path = path(dir);
    if let Some(text) = crate::init::read_optional(&path)? {
        return parse(&path, &text);
    }
    let mut raw = Zeroizing::new([0u8; KEY_LEN]);
    getrandom::fill(raw.as_mut_slice()).map_err(|e| {
        NodeError::Internal(format!("operating system randomness unavailable: {e}"))
    })?;
    let text = Zeroizing::new(hex::encode(raw.as_slice()));
    let mut tmp_name = path.as_os_str().to_owned();
    tmp_name.push(format!(".{}.tmp", std::process::id()));
    let tmp = std::path::PathBuf::from(tmp_name);
    let written = (|| {
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)?;
        f.write_all(text.as_bytes())?;
        f.sync_all()?;
        // A hard link fails if the key appeared meanwhile: the first writer wins.
        std::fs::hard_link(&tmp, &path)
    })();
    let _ = std::fs::remove_file(&tmp);
    match written {
        Ok(()) => Ok(DigestKey(raw)),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            let text = crate::init::read_optional(&path)?.unwrap_or_default();
            parse(&path, &text)
        }
        Err(e) => Err(NodeError::io(&path, e)),
    }
}

fn parse(path: &std::path::Path, text: &str) -> Result<DigestKey, NodeError> {
    let mut raw = Zeroizing::new([0u8; KEY_LEN]);
    hex::decode_to_slice(text.trim(), raw.as_mut_slice()).map_err(|_| NodeError::Config {
        path: path.to_path_buf(),
        reason: format!("not a digest key ({} hex digits expected)", 2 * KEY_LEN),
    })?;
    Ok(DigestKey(raw))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    /// GM/T 0042-2015 Appendix D.3 (as carried in OpenSSL's
    /// `test/recipes/30-test_evp_data/evpmac_sm3.txt`, "HMAC-SM3 from GM/T 0042-2015 Appendix
    /// D.3", counts 1 and 2).
    #[test]
    fn hmac_sm3_matches_gmt_0042_appendix_d3() {
        let key: Vec<u8> = (1..=0x20).collect();
        let msg = b"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq\
abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
        assert_eq!(
            hex::encode(hmac_sm3(&key, msg)),
            "ca05e144ed05d1857840d1f318a4a8669e559fc8391f414485bfdf7bb408963a"
        );
        let key: Vec<u8> = (1..=0x25).collect();
        assert_eq!(
            hex::encode(hmac_sm3(&key, &[0xcd; 50])),
            "220bf579ded555393f0159f66c99877822a3ecf610d1552154b41d44b94db3ae"
        );
    }

    #[test]
    fn the_digest_depends_on_the_key_and_the_domain_and_never_prints_it() {
        let a = DigestKey::from_bytes([7; KEY_LEN]);
        let b = DigestKey::from_bytes([8; KEY_LEN]);
        let v = b"11010519491231002X";
        assert_eq!(a.digest("score-key", v), a.digest("score-key", v));
        assert_ne!(a.digest("score-key", v), b.digest("score-key", v));
        assert_ne!(a.digest("score-key", v), a.digest("other", v));
        // Not the plain SM3 that could be brute-forced.
        assert_ne!(a.digest("score-key", v), crate::fl_job::sm3_hex(v));
        assert_eq!(format!("{a:?}"), "DigestKey(<redacted>)");
    }
}
