//! `unseen init`: creates a node directory with its identity, database and API token.

use std::io::Write;
use std::net::SocketAddr;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::Path;

use unseen_store::AuditEvent;
use unseen_transport::{Fingerprint, Identity};
use zeroize::Zeroizing;

use crate::NodeError;
use crate::dir::{Config, NodeDir, PirConfig, ScoreConfig, Timeouts};

/// What `init` created.
#[derive(Debug)]
pub struct Initialised {
    /// The node's name.
    pub name: String,
    /// Its certificate's fingerprint (partners pin it).
    pub fingerprint: Fingerprint,
}

/// Creates the node directory `dir` for a node called `name`.
///
/// Refuses a directory that already holds a node. On failure nothing usable is left behind: the
/// configuration file, written last, is what makes a directory a node.
pub fn init(
    dir: &NodeDir,
    name: &str,
    listen: SocketAddr,
    api: SocketAddr,
) -> Result<Initialised, NodeError> {
    unseen_store::validate_name("node", name)?;
    if !api.ip().is_loopback() {
        return Err(NodeError::Invalid(format!(
            "--api {api}: the local API must listen on a loopback address (127.0.0.1 or ::1); \
             it is for users of this machine, partners use --listen"
        )));
    }
    if listen == api {
        return Err(NodeError::Invalid(format!(
            "--listen and --api are both {listen}; they must differ"
        )));
    }
    if dir.config().exists() {
        return Err(NodeError::AlreadyANode(dir.root().to_path_buf()));
    }
    for sub in [
        dir.root().to_path_buf(),
        dir.root().join("identity"),
        dir.outputs(),
        dir.root().join("logs"),
    ] {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&sub)
            .map_err(|e| NodeError::io(&sub, e))?;
    }

    let identity = Identity::generate(name)?;
    write_file(&dir.cert(), identity.cert_pem().as_bytes(), 0o644)?;
    write_file(&dir.key(), identity.key_pem().as_bytes(), 0o600)?;

    let mut raw = Zeroizing::new([0u8; 32]);
    getrandom::fill(raw.as_mut_slice()).map_err(|e| {
        NodeError::Internal(format!("operating system randomness unavailable: {e}"))
    })?;
    let token = Zeroizing::new(hex::encode(raw.as_slice()));
    write_file(&dir.token(), token.as_bytes(), 0o600)?;

    crate::audit_key::create(dir)?;
    crate::digest_key::load_or_create(dir)?;
    let mut store = crate::audit_key::open_store(dir)?;
    let config = Config {
        name: name.to_owned(),
        listen,
        api,
        timeouts: Timeouts::default(),
        pir: PirConfig::default(),
        score: ScoreConfig::default(),
        api_tls: false,
        data: crate::dir::DataConfig::default(),
    };
    let mut event = AuditEvent::new("operator", "node.init", "ok");
    event.params = serde_json::json!({
        "name": name,
        "listen": listen.to_string(),
        "api": api.to_string(),
        "fingerprint": identity.fingerprint().to_string(),
    });
    store.audit_append(&event)?;

    let text = toml::to_string(&config)
        .map_err(|e| NodeError::Internal(format!("cannot encode node.toml: {e}")))?;
    write_file(&dir.config(), text.as_bytes(), 0o644)?;
    Ok(Initialised {
        name: name.to_owned(),
        fingerprint: identity.fingerprint(),
    })
}

/// Writes `bytes` to `path` with `mode`, through a temporary file renamed into place.
pub(crate) fn write_file(path: &Path, bytes: &[u8], mode: u32) -> Result<(), NodeError> {
    let tmp = path.with_extension("tmp");
    let result = (|| {
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(mode)
            .open(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    result.map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        NodeError::io(path, e)
    })
}

/// Loads the node's identity from its directory.
pub fn load_identity(dir: &NodeDir) -> Result<Identity, NodeError> {
    // Regular files of bounded size: a FIFO or device in their place must not block the start.
    let cert = unseen_data::read_small_text(&dir.cert(), 65_536)?;
    let key = Zeroizing::new(unseen_data::read_small_text(&dir.key(), 65_536)?);
    Ok(Identity::from_pem(&cert, &key)?)
}

/// Loads the API token.
pub fn load_token(dir: &NodeDir) -> Result<Zeroizing<String>, NodeError> {
    // A regular file of at most 4 KiB (the token is 64 hex digits), never echoed in an error.
    let t = Zeroizing::new(unseen_data::read_small_text(&dir.token(), 4096)?);
    Ok(Zeroizing::new(t.trim().to_owned()))
}

/// The text of a small file of the node's own (a key, a public key), or `None` if it does not
/// exist: a regular file of at most 4 KiB, never echoed in an error.
pub(crate) fn read_optional(
    path: &std::path::Path,
) -> Result<Option<Zeroizing<String>>, NodeError> {
    match unseen_data::read_small_text(path, 4096) {
        Ok(text) => Ok(Some(Zeroizing::new(text))),
        Err(unseen_data::DataError::Io { source, .. })
            if source.kind() == std::io::ErrorKind::NotFound =>
        {
            Ok(None)
        }
        Err(e) => Err(e.into()),
    }
}
