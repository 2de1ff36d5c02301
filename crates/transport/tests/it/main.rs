//! Integration tests of unseen-transport: real sockets on 127.0.0.1, real TLS.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod admission;
mod bench;
mod hostile;
mod identity;
mod pinning;
mod roundtrip;

use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{ClientConfig, ClientConnection, DigitallySignedStruct, SignatureScheme};
use unseen_channel::Header;
use unseen_transport::loopback::{self, LoopbackServer};
use unseen_transport::{Fingerprint, Identity, Options, TlsChannel, TransportError};

/// The header of test frames.
pub const H: Header = Header::new(0x7e57, 1, 1);
/// Another step, for replies and wrong-step tests.
pub const H2: Header = Header::new(0x7e57, 1, 2);

/// Options for tests: short handshake, generous read timeout unless a test wants a stall.
pub fn opts() -> Options {
    Options {
        connect_timeout: Duration::from_secs(5),
        handshake_timeout: Duration::from_secs(1),
        read_timeout: Duration::from_secs(30),
        ..Options::default()
    }
}

/// Fresh (client, server) identities.
pub fn ids() -> (Identity, Identity) {
    (
        Identity::generate("client.test").unwrap(),
        Identity::generate("server.test").unwrap(),
    )
}

/// A connected pair (client, server), pinned to each other.
pub fn pair(opts: Options) -> (TlsChannel, TlsChannel) {
    loopback::pair(opts).unwrap()
}

/// Runs `server.accept` on a connection whose client side `client` drives on another thread.
/// The client keeps its socket open until `accept` has returned. Returns the outcome, how long
/// `accept` took (waiting for the connection included), and whatever the client closure returned.
pub fn accept_with<T: Send + 'static>(
    server: &LoopbackServer,
    is_pinned: &dyn Fn(&Fingerprint) -> bool,
    client: impl FnOnce(SocketAddr) -> (Option<TcpStream>, T) + Send + 'static,
) -> (Result<TlsChannel, TransportError>, Duration, T) {
    let addr = server.addr();
    let (done_tx, done_rx) = std::sync::mpsc::channel::<()>();
    let t = std::thread::spawn(move || {
        let (keep, out) = client(addr);
        let _ = done_rx.recv_timeout(Duration::from_secs(20));
        drop(keep);
        out
    });
    let start = Instant::now();
    let result = server.accept(is_pinned);
    let took = start.elapsed();
    done_tx.send(()).unwrap();
    (result, took, t.join().unwrap())
}

/// Deterministic test bytes (SplitMix64).
pub struct Rng(u64);

impl Rng {
    /// A generator from `seed`.
    pub fn new(seed: u64) -> Self {
        Rng(seed)
    }
    /// The next 64 bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    /// `n` bytes.
    pub fn bytes(&mut self, n: usize) -> Vec<u8> {
        let mut v = Vec::with_capacity(n + 8);
        while v.len() < n {
            v.extend_from_slice(&self.next_u64().to_le_bytes());
        }
        v.truncate(n);
        v
    }
}

/// A server verifier for raw test clients that accepts any certificate (the tests are about
/// what the *server* does with such clients).
#[derive(Debug)]
struct AnyServer(rustls::crypto::WebPkiSupportedAlgorithms);

impl ServerCertVerifier for AnyServer {
    fn verify_server_cert(
        &self,
        _: &CertificateDer<'_>,
        _: &[CertificateDer<'_>],
        _: &ServerName<'_>,
        _: &[u8],
        _: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }
    fn verify_tls12_signature(
        &self,
        _: &[u8],
        _: &CertificateDer<'_>,
        _: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        Err(rustls::Error::General("tls 1.2".into()))
    }
    fn verify_tls13_signature(
        &self,
        m: &[u8],
        c: &CertificateDer<'_>,
        d: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(m, c, d, &self.0)
    }
    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_schemes()
    }
}

/// How a raw test client authenticates.
pub enum ClientAuth {
    /// No client certificate.
    None,
    /// Certificate and key of an identity.
    As(Arc<rustls::sign::CertifiedKey>),
}

/// `cert_of`'s certificate with `key_of`'s key (mismatched on purpose when they differ).
pub fn certified_key(cert_of: &Identity, key_of: &Identity) -> Arc<rustls::sign::CertifiedKey> {
    let provider = rustls::crypto::ring::default_provider();
    let key = PrivateKeyDer::from_pem_slice(key_of.key_pem().as_bytes()).unwrap();
    let signer = provider.key_provider.load_private_key(key).unwrap();
    Arc::new(rustls::sign::CertifiedKey::new(
        vec![CertificateDer::from(cert_of.certificate().der().to_vec())],
        signer,
    ))
}

/// A plain rustls TLS 1.3 client, for playing peers that `connect` would never be.
pub fn raw_client(auth: ClientAuth) -> ClientConnection {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let algs = provider.signature_verification_algorithms;
    let builder = ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13])
        .unwrap()
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(AnyServer(algs)));
    let config = match auth {
        ClientAuth::None => builder.with_no_client_auth(),
        ClientAuth::As(ck) => {
            builder.with_client_cert_resolver(Arc::new(rustls::sign::SingleCertAndKey::from(ck)))
        }
    };
    ClientConnection::new(
        Arc::new(config),
        ServerName::try_from("unseen-node").unwrap(),
    )
    .unwrap()
}

/// Drives a raw client's handshake to completion on `tcp` (or to its first error).
pub fn raw_handshake(conn: &mut ClientConnection, tcp: &mut TcpStream) -> std::io::Result<()> {
    while conn.is_handshaking() {
        conn.complete_io(tcp)?;
    }
    while conn.wants_write() {
        conn.write_tls(tcp)?;
    }
    Ok(())
}

/// Reads from a raw client until `n` plaintext bytes arrived or the session fails.
pub fn raw_read(
    conn: &mut ClientConnection,
    tcp: &mut TcpStream,
    n: usize,
) -> std::io::Result<Vec<u8>> {
    use std::io::Read;
    let mut out = vec![0u8; n];
    let mut got = 0;
    while got < n {
        match conn.reader().read(&mut out[got..]) {
            Ok(0) => return Err(std::io::ErrorKind::UnexpectedEof.into()),
            Ok(k) => got += k,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                conn.complete_io(tcp)?;
            }
            Err(e) => return Err(e),
        }
    }
    Ok(out)
}
