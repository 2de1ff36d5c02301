//! TLS for the node's local HTTP API when it is served beyond loopback (`api_tls = true`).
//!
//! The server presents the node's own certificate and asks for no client certificate: API
//! callers authenticate with bearer tokens, which TLS keeps off the wire. Clients pin the node's
//! certificate (the node's CLI through [`api_client_config`], curl with `--cacert`). TLS 1.3
//! only, *ring* provider, no session resumption on the client (every connection checks the pin).

use std::sync::Arc;

use rustls::client::Resumption;
use rustls::sign::SingleCertAndKey;
use rustls::{ClientConfig, ServerConfig};

use crate::verify::PinnedServer;
use crate::{Fingerprint, Identity, TransportError};

/// The server configuration of the API over TLS: the node's certificate and key, HTTP/1.1.
pub fn api_server_config(identity: &Identity) -> Result<Arc<ServerConfig>, TransportError> {
    let mut config = ServerConfig::builder_with_provider(crate::provider())
        .with_protocol_versions(&[&rustls::version::TLS13])
        .map_err(internal)?
        .with_no_client_auth()
        .with_cert_resolver(Arc::new(SingleCertAndKey::from(identity.certified_key())));
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// A client configuration that accepts exactly the certificate with fingerprint `pin` (the
/// node's own, from `identity/cert.pem`) and presents none.
pub fn api_client_config(pin: Fingerprint) -> Result<Arc<ClientConfig>, TransportError> {
    let provider = crate::provider();
    let verifier = Arc::new(PinnedServer::new(
        pin,
        provider.signature_verification_algorithms,
    ));
    let mut config = ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13])
        .map_err(internal)?
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_no_client_auth();
    config.resumption = Resumption::disabled();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

fn internal(e: impl core::fmt::Display) -> TransportError {
    TransportError::Internal(format!("tls configuration: {e}"))
}
