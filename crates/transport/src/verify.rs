//! Certificate verifiers that trust pins, not authorities.
//!
//! Both replace WebPKI path building entirely: there is no root store. What remains of WebPKI is
//! the handshake signature check (`CertificateVerify`), which proves that the peer holds the
//! private key of the certificate it presented; without it, anyone could replay a partner's
//! (public) certificate.

use std::sync::mpsc::{Receiver, SyncSender};
use std::sync::{Arc, Mutex};

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{WebPkiSupportedAlgorithms, verify_tls13_signature};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::{CertificateError, DigitallySignedStruct, DistinguishedName, Error, SignatureScheme};

use crate::Fingerprint;
use crate::duplex::lock;

/// The error our verifiers return for a certificate that is well-formed but not pinned; rustls
/// answers it with an `access_denied` alert.
pub(crate) fn not_pinned() -> Error {
    Error::InvalidCertificate(CertificateError::ApplicationVerificationFailure)
}

fn no_tls12() -> Error {
    // Unreachable: only TLS 1.3 is enabled on every configuration this crate builds.
    Error::General("TLS 1.2 is not supported".into())
}

/// Client side: the server's end-entity certificate must be exactly the pinned one.
#[derive(Debug)]
pub(crate) struct PinnedServer {
    pin: Fingerprint,
    algs: WebPkiSupportedAlgorithms,
    /// What the server presented, for the error report.
    presented: Mutex<Option<Fingerprint>>,
}

impl PinnedServer {
    pub(crate) fn new(pin: Fingerprint, algs: WebPkiSupportedAlgorithms) -> Self {
        Self {
            pin,
            algs,
            presented: Mutex::new(None),
        }
    }

    pub(crate) fn presented(&self) -> Option<Fingerprint> {
        *lock(&self.presented)
    }
}

impl ServerCertVerifier for PinnedServer {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, Error> {
        let fp = Fingerprint::of_der(end_entity);
        *lock(&self.presented) = Some(fp);
        if fp == self.pin {
            Ok(ServerCertVerified::assertion())
        } else {
            Err(not_pinned())
        }
    }

    fn verify_tls12_signature(
        &self,
        _message: &[u8],
        _cert: &CertificateDer<'_>,
        _dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        Err(no_tls12())
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        verify_tls13_signature(message, cert, dss, &self.algs)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algs.supported_schemes()
    }
}

/// What the handshake thread of [`crate::Acceptor::accept`] tells the accepting thread.
pub(crate) enum Event {
    /// A client proved possession of the key of this certificate: is it pinned? Answered on the
    /// verifier's answer channel.
    Ask(Fingerprint),
    /// The handshake thread is done.
    Done(Box<crate::handshake::ServerOutcome>),
}

/// Server side: a client certificate is mandatory, and its fingerprint must satisfy the caller's
/// pin predicate.
///
/// The predicate is a plain `&dyn Fn` borrowed by `accept`, which rustls cannot hold (verifiers
/// are `'static + Send + Sync`). So the handshake runs on a helper thread, and this verifier asks
/// the accepting thread, which owns the predicate, over a channel, then waits for the answer.
/// It asks only after the handshake signature has been verified, so a refusal names a
/// certificate whose key the client really holds (what the node audits), and never a copy of a
/// partner's public certificate replayed by someone else.
pub(crate) struct PinnedClient {
    algs: WebPkiSupportedAlgorithms,
    asker: Mutex<Option<(SyncSender<Event>, Receiver<bool>)>>,
}

impl PinnedClient {
    pub(crate) fn new(
        algs: WebPkiSupportedAlgorithms,
        events: SyncSender<Event>,
        answers: Receiver<bool>,
    ) -> Arc<Self> {
        Arc::new(Self {
            algs,
            asker: Mutex::new(Some((events, answers))),
        })
    }
}

impl core::fmt::Debug for PinnedClient {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("PinnedClient").finish_non_exhaustive()
    }
}

impl ClientCertVerifier for PinnedClient {
    fn offer_client_auth(&self) -> bool {
        true
    }

    fn client_auth_mandatory(&self) -> bool {
        true
    }

    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        &[]
    }

    fn verify_client_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _now: UnixTime,
    ) -> Result<ClientCertVerified, Error> {
        // Deferred to `verify_tls13_signature`, which TLS 1.3 always reaches for a non-empty
        // client certificate (CertificateVerify is mandatory); `accept` checks afterwards that
        // the question was asked and answered yes for the certificate the session reports.
        Ok(ClientCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        _message: &[u8],
        _cert: &CertificateDer<'_>,
        _dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        Err(no_tls12())
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        let valid = verify_tls13_signature(message, cert, dss, &self.algs)?;
        let Some((events, answers)) = lock(&self.asker).take() else {
            return Err(Error::General(
                "client certificate verified twice on one connection".into(),
            ));
        };
        if events.send(Event::Ask(Fingerprint::of_der(cert))).is_err() {
            return Err(not_pinned());
        }
        match answers.recv() {
            Ok(true) => Ok(valid),
            _ => Err(not_pinned()),
        }
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algs.supported_schemes()
    }
}
