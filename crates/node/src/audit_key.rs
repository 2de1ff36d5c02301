//! The node's SM2 audit key: every audit record's hash is signed with it (GB/T 32918.2), so a
//! record altered and re-hashed by someone who can write the database but not read the key is
//! caught by `audit verify` (docs/audit.md).

use unseen_crypto::{SM2_DEFAULT_DISTID, Sm2Signer, sm2_verify};
use unseen_store::{AuditReport, AuditSigner, Store};
use zeroize::Zeroizing;

use crate::NodeError;
use crate::dir::NodeDir;

/// Signs audit records with the node's SM2 key.
struct Signer(Sm2Signer);

impl AuditSigner for Signer {
    fn sign(&self, hash: &[u8; 32]) -> Vec<u8> {
        self.0.sign(hash).to_vec()
    }
}

/// Creates the audit key pair (`identity/audit-sm2.key`, mode 0600, and `.pub`).
pub(crate) fn create(dir: &NodeDir) -> Result<(), NodeError> {
    let mut rng = crate::kinds::psi::os_rng().map_err(NodeError::Internal)?;
    let key = Sm2Signer::generate(&mut rng);
    let secret = Zeroizing::new(hex::encode(key.to_bytes().as_slice()));
    crate::init::write_file(&dir.audit_key(), secret.as_bytes(), 0o600)?;
    crate::init::write_file(
        &dir.audit_public_key(),
        hex::encode(key.public_key()).as_bytes(),
        0o644,
    )
}

/// The audit public key (SEC1 uncompressed, hex), if the node has one.
pub fn public_key_hex(dir: &NodeDir) -> Result<Option<String>, NodeError> {
    Ok(crate::init::read_optional(&dir.audit_public_key())?.map(|s| s.trim().to_owned()))
}

/// Opens the node's store with the audit signer installed (when the node has a key).
pub fn open_store(dir: &NodeDir) -> Result<Store, NodeError> {
    let mut store = Store::open(&dir.db())?;
    let path = dir.audit_key();
    let Some(hex_secret) = crate::init::read_optional(&path)? else {
        return Ok(store);
    };
    let secret = Zeroizing::new(
        hex::decode(hex_secret.trim()).map_err(|_| NodeError::Config {
            path: path.clone(),
            reason: "not a hex SM2 secret key".into(),
        })?,
    );
    let key = Sm2Signer::from_bytes(&secret).map_err(|e| NodeError::Config {
        path,
        reason: e.to_string(),
    })?;
    store.set_audit_signer(Box::new(Signer(key)));
    Ok(store)
}

/// Checks the audit chain and, when the node has an audit key, every record's SM2 signature.
pub fn verify(dir: &NodeDir, store: &Store) -> Result<AuditReport, NodeError> {
    let Some(public) = public_key_hex(dir)? else {
        return Ok(store.audit_verify()?);
    };
    let public = hex::decode(&public).map_err(|_| NodeError::Config {
        path: dir.audit_public_key(),
        reason: "not a hex SM2 public key".into(),
    })?;
    let check = |hash: &[u8; 32], sig: &[u8]| sm2_verify(&public, SM2_DEFAULT_DISTID, hash, sig);
    Ok(store.audit_verify_signed(&check)?)
}
