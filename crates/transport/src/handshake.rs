//! Connection set-up: TCP, the TLS 1.3 handshake with pinned certificates on both sides, and the
//! acceptance marker.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::sync::mpsc::{RecvTimeoutError, sync_channel};
use std::time::{Duration, Instant};

use rustls::client::Resumption;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::ServerName;
use rustls::server::NoServerSessionStorage;
use rustls::sign::{CertifiedKey, SingleCertAndKey};
use rustls::{
    AlertDescription, ClientConfig, ClientConnection, Connection, ConnectionCommon, ServerConfig,
    ServerConnection,
};
use socket2::{SockRef, TcpKeepalive};

use crate::verify::{Event, PinnedClient, PinnedServer};
use crate::{Fingerprint, Identity, NODE_SERVER_NAME, Options, TlsChannel, TransportError};

/// Sent by the server as the first application data once it has accepted the client, so that
/// `connect` fails (rather than the first `recv`) when the partner refuses our certificate: in
/// TLS 1.3 the client finishes its handshake before the server has judged its certificate.
/// Also names the transport version.
pub(crate) const ACCEPTED: [u8; 8] = *b"unseen/1";

/// Sent instead of [`ACCEPTED`] by a server that authenticated the client but has no room for
/// another session now ([`Handshaken::refuse_busy`]): nothing was proposed yet, so the client
/// may retry later ([`TransportError::Busy`]).
pub(crate) const BUSY: [u8; 8] = *b"unseen/b";

const HANDSHAKE: &str = "tls handshake";
const CLIENT_HELLO: &str = "client hello";

/// Connects to a partner at `addr` whose certificate has fingerprint `peer`, authenticating with
/// `identity`.
///
/// One TCP connection attempt, bounded by `opts.connect_timeout`; then the TLS 1.3 handshake and
/// the partner's acceptance, bounded together by `opts.handshake_timeout`. Fails with
/// [`TransportError::PeerNotPinned`] when the server presents another certificate, and with
/// [`TransportError::Handshake`] when the partner refuses ours.
pub fn connect(
    addr: SocketAddr,
    identity: &Identity,
    peer: &Fingerprint,
    opts: &Options,
) -> Result<TlsChannel, TransportError> {
    let tcp = TcpStream::connect_timeout(&addr, opts.connect_timeout).map_err(|e| {
        if is_timeout(&e) {
            TransportError::Timeout {
                what: "tcp connect",
                seconds: opts.connect_timeout.as_secs(),
            }
        } else {
            TransportError::Io(e)
        }
    })?;
    configure(&tcp, opts)?;
    let deadline = Instant::now() + opts.handshake_timeout;

    let provider = crate::provider();
    let verifier = Arc::new(PinnedServer::new(
        *peer,
        provider.signature_verification_algorithms,
    ));
    let mut config = ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13])
        .map_err(internal)?
        .dangerous()
        .with_custom_certificate_verifier(Arc::clone(&verifier) as _)
        .with_client_cert_resolver(Arc::new(SingleCertAndKey::from(identity.certified_key())));
    // Resumption would skip certificate verification on later connections, and with it the pin
    // check against the then-current pin list.
    config.resumption = Resumption::disabled();
    // The pin replaces the name; do not advertise one.
    config.enable_sni = false;
    let name = ServerName::try_from(NODE_SERVER_NAME).map_err(internal)?;
    let mut conn = ClientConnection::new(Arc::new(config), name).map_err(internal)?;

    let outcome = drive_handshake(&mut conn, &tcp, deadline)
        .and_then(|()| read_accepted(&mut conn, &tcp, deadline));
    if let Err(e) = outcome {
        return Err(match e {
            Failure::Tls(rustls::Error::InvalidCertificate(_))
                if verifier_rejected(&verifier, peer) =>
            {
                TransportError::PeerNotPinned {
                    presented: verifier.presented().unwrap_or(*peer),
                }
            }
            Failure::Tls(rustls::Error::AlertReceived(AlertDescription::AccessDenied)) => {
                TransportError::Handshake(format!(
                    "the partner refused our certificate {}: it is not pinned there (send them \
                     our fingerprint out of band)",
                    identity.fingerprint()
                ))
            }
            Failure::Busy => TransportError::Busy,
            // Closed after the handshake with no answer (neither accepted nor busy): a server
            // shedding connections under load does this, and nothing was proposed yet, so it
            // is as safe to retry as a close during the handshake.
            Failure::Closed if !conn.is_handshaking() => TransportError::Closed,
            other => other.into_error(opts),
        });
    }
    Ok(TlsChannel::new(Connection::Client(conn), tcp, *peer, opts)?)
}

fn verifier_rejected(verifier: &PinnedServer, peer: &Fingerprint) -> bool {
    verifier.presented().is_some_and(|p| p != *peer)
}

/// Accepts TLS connections from partners; holds our identity and options.
#[derive(Clone)]
pub struct Acceptor {
    key: Arc<CertifiedKey>,
    fingerprint: Fingerprint,
    opts: Options,
}

impl core::fmt::Debug for Acceptor {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Acceptor")
            .field("identity", &self.fingerprint)
            .field("opts", &self.opts)
            .finish()
    }
}

/// What the handshake thread hands back to `accept`.
pub(crate) type ServerOutcome = Result<ServerConnection, Failure>;

impl Acceptor {
    /// An acceptor presenting `identity`.
    pub fn new(identity: &Identity, opts: Options) -> Result<Acceptor, TransportError> {
        Ok(Acceptor {
            key: identity.certified_key(),
            fingerprint: identity.fingerprint(),
            opts,
        })
    }

    /// Runs the server side of the handshake on an accepted socket, bounded by
    /// `opts.handshake_timeout`.
    ///
    /// The client must present a certificate, prove it holds its key, and the certificate's
    /// fingerprint must satisfy `is_pinned`; otherwise the handshake fails with an
    /// `access_denied` alert to the client and [`TransportError::PeerNotPinned`] naming the
    /// presented certificate. Anything that is not a TLS 1.3 client gives
    /// [`TransportError::Handshake`] or [`TransportError::Timeout`].
    pub fn accept(
        &self,
        tcp: TcpStream,
        is_pinned: &dyn Fn(&Fingerprint) -> bool,
    ) -> Result<TlsChannel, TransportError> {
        self.handshake(tcp, is_pinned)?.admit()
    }

    /// Waits at most `opts.hello_timeout` for a new connection's first bytes (its
    /// ClientHello), without consuming them. [`Acceptor::handshake`] does this first; a server
    /// that ranks pending connections (those that sent nothing yet go first when room is
    /// needed) may call it itself before, to learn when the client spoke.
    pub fn await_hello(&self, tcp: &TcpStream) -> Result<(), TransportError> {
        await_hello(tcp, &self.opts)
    }

    /// The handshake of [`Acceptor::accept`] without the answer: the client is authenticated
    /// and pinned, and waits to learn whether it is served ([`Handshaken::admit`]) or the node
    /// is busy ([`Handshaken::refuse_busy`]).
    ///
    /// The client's first bytes (its ClientHello) must come within `opts.hello_timeout`, and
    /// the whole handshake within `opts.handshake_timeout`; a connection that sends nothing
    /// fails with [`TransportError::Timeout`] naming `client hello`.
    pub fn handshake(
        &self,
        tcp: TcpStream,
        is_pinned: &dyn Fn(&Fingerprint) -> bool,
    ) -> Result<Handshaken, TransportError> {
        let opts = self.opts;
        configure(&tcp, &opts)?;
        let deadline = Instant::now() + opts.handshake_timeout;
        await_hello(&tcp, &opts)?;

        let (events_tx, events) = sync_channel::<Event>(2);
        let (answer, answers_rx) = sync_channel::<bool>(1);
        let provider = crate::provider();
        let verifier = PinnedClient::new(
            provider.signature_verification_algorithms,
            events_tx.clone(),
            answers_rx,
        );
        let mut config = ServerConfig::builder_with_provider(provider)
            .with_protocol_versions(&[&rustls::version::TLS13])
            .map_err(internal)?
            .with_client_cert_verifier(verifier)
            .with_cert_resolver(Arc::new(SingleCertAndKey::from(Arc::clone(&self.key))));
        // No resumption: every connection is verified against the current pins.
        config.session_storage = Arc::new(NoServerSessionStorage {});
        config.send_tls13_tickets = 0;
        let conn = ServerConnection::new(Arc::new(config)).map_err(internal)?;

        // The handshake runs on a helper thread so that the verifier, which rustls requires to
        // be 'static, can ask this thread about the borrowed `is_pinned` (see `PinnedClient`).
        // This thread enforces the deadline: past it, it shuts the socket down, which ends the
        // helper's blocking I/O at once.
        let mut asked: Option<(Fingerprint, bool)> = None;
        let mut timed_out = false;
        let outcome = std::thread::scope(|scope| {
            // Owned by this closure, so that if `is_pinned` panics the answer channel closes
            // during unwinding and the helper (which the scope then joins) is not left waiting.
            let answer = answer;
            let helper = std::thread::Builder::new()
                .name("unseen-tls-accept".into())
                .spawn_scoped(scope, || {
                    let mut conn = conn;
                    let outcome = drive_handshake(&mut conn, &tcp, deadline).map(|()| conn);
                    let _ = events_tx.send(Event::Done(Box::new(outcome)));
                })?;
            let outcome = loop {
                let event = if timed_out {
                    events.recv().map_err(|_| RecvTimeoutError::Disconnected)
                } else {
                    events.recv_timeout(deadline.saturating_duration_since(Instant::now()))
                };
                match event {
                    Ok(Event::Ask(fp)) => {
                        let ok = !timed_out && is_pinned(&fp);
                        asked = Some((fp, ok));
                        let _ = answer.send(ok);
                    }
                    Ok(Event::Done(outcome)) => break Ok(*outcome),
                    Err(RecvTimeoutError::Timeout) => {
                        timed_out = true;
                        let _ = tcp.shutdown(std::net::Shutdown::Both);
                    }
                    Err(RecvTimeoutError::Disconnected) => {
                        break Err(TransportError::Internal(
                            "the handshake thread stopped without an outcome".into(),
                        ));
                    }
                }
            };
            if helper.join().is_err() {
                return Err(TransportError::Internal(
                    "the handshake thread panicked".into(),
                ));
            }
            outcome
        })?;

        if timed_out {
            // Whatever the helper saw after we shut its socket down, the cause is the deadline.
            return Err(Failure::Timeout.into_error(&opts));
        }
        let conn = match outcome {
            Ok(conn) => conn,
            Err(Failure::Tls(rustls::Error::InvalidCertificate(_)))
                if matches!(asked, Some((_, false))) =>
            {
                let presented = asked.map(|(fp, _)| fp).unwrap_or(self.fingerprint);
                return Err(TransportError::PeerNotPinned { presented });
            }
            Err(Failure::Tls(rustls::Error::AlertReceived(AlertDescription::AccessDenied))) => {
                return Err(TransportError::Handshake(format!(
                    "the client refused our certificate {}: it has another fingerprint pinned \
                     for us",
                    self.fingerprint
                )));
            }
            Err(Failure::Tls(rustls::Error::NoCertificatesPresented)) => {
                return Err(TransportError::Handshake(
                    "the peer presented no client certificate (every partner authenticates with \
                     its pinned certificate)"
                        .into(),
                ));
            }
            Err(e) => return Err(e.into_error(&opts)),
        };

        // Defence in depth: the session's client certificate is the one we were asked about,
        // and the answer was yes.
        let peer = conn
            .peer_certificates()
            .and_then(|c| c.first())
            .map(|c| Fingerprint::of_der(c));
        let peer = match (peer, asked) {
            (Some(p), Some((a, true))) if p == a => p,
            _ => {
                return Err(TransportError::Internal(
                    "handshake completed without the pin check on the client certificate".into(),
                ));
            }
        };

        Ok(Handshaken {
            conn,
            tcp,
            peer,
            opts,
            deadline,
        })
    }
}

/// A client that finished the TLS handshake with a pinned certificate and waits for the
/// server's answer: served ([`Handshaken::admit`]) or busy ([`Handshaken::refuse_busy`]).
/// Dropping it closes the connection, which the client reports as a refusal.
pub struct Handshaken {
    conn: ServerConnection,
    tcp: TcpStream,
    peer: Fingerprint,
    opts: Options,
    deadline: Instant,
}

impl core::fmt::Debug for Handshaken {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Handshaken")
            .field("peer", &self.peer)
            .finish_non_exhaustive()
    }
}

impl Handshaken {
    /// The fingerprint of the client's (pinned, proven) certificate.
    pub fn peer(&self) -> Fingerprint {
        self.peer
    }

    /// Serves the client: sends the acceptance marker and returns the channel.
    pub fn admit(self) -> Result<TlsChannel, TransportError> {
        let Self {
            mut conn,
            tcp,
            peer,
            opts,
            deadline,
        } = self;
        conn.writer().write_all(&ACCEPTED)?;
        flush_tls(&mut conn, &tcp, deadline).map_err(|e| e.into_error(&opts))?;
        Ok(TlsChannel::new(Connection::Server(conn), tcp, peer, &opts)?)
    }

    /// Tells the client that we have no room for its session now, over TLS, and closes the
    /// connection cleanly; its `connect` fails with [`TransportError::Busy`] and it may retry.
    pub fn refuse_busy(self) -> Result<(), TransportError> {
        let Self {
            mut conn,
            tcp,
            opts,
            deadline,
            ..
        } = self;
        conn.writer().write_all(&BUSY)?;
        conn.send_close_notify();
        flush_tls(&mut conn, &tcp, deadline).map_err(|e| e.into_error(&opts))?;
        let _ = tcp.shutdown(std::net::Shutdown::Write);
        Ok(())
    }
}

/// Waits at most `opts.hello_timeout` for the client's first bytes, so that a connection that
/// sends nothing (a port scan, a flood of idle sockets) is dropped long before the handshake
/// deadline. Real clients send their ClientHello at once.
fn await_hello(tcp: &TcpStream, opts: &Options) -> Result<(), TransportError> {
    let wait = opts.hello_timeout.min(opts.handshake_timeout);
    if wait.is_zero() {
        return Ok(());
    }
    tcp.set_nonblocking(false)?;
    tcp.set_read_timeout(Some(wait))?;
    let mut first = [0u8; 1];
    let peeked = loop {
        match tcp.peek(&mut first) {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            other => break other,
        }
    };
    match peeked {
        Ok(0) => Err(TransportError::Handshake(
            "the peer closed the connection before sending a ClientHello".into(),
        )),
        Ok(_) => Ok(()),
        Err(e) if is_timeout(&e) => Err(TransportError::Timeout {
            what: CLIENT_HELLO,
            seconds: wait.as_secs(),
        }),
        Err(e) => Err(TransportError::Io(e)),
    }
}

/// Why a handshake step failed, before it is turned into a [`TransportError`] with context.
#[derive(Debug)]
pub(crate) enum Failure {
    Io(io::Error),
    Timeout,
    /// The peer closed the connection.
    Closed,
    /// The server authenticated us but is busy ([`BUSY`]).
    Busy,
    Tls(rustls::Error),
}

impl Failure {
    fn into_error(self, opts: &Options) -> TransportError {
        match self {
            Failure::Io(e) if e.kind() == io::ErrorKind::InvalidData => {
                // rustls reports oversized or malformed records from `read_tls` this way.
                TransportError::Handshake(e.to_string())
            }
            Failure::Io(e) => TransportError::Io(e),
            Failure::Timeout => TransportError::Timeout {
                what: HANDSHAKE,
                seconds: opts.handshake_timeout.as_secs(),
            },
            Failure::Closed => TransportError::Closed,
            Failure::Busy => TransportError::Busy,
            Failure::Tls(e) => TransportError::Handshake(e.to_string()),
        }
    }
}

fn is_timeout(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
    )
}

fn io_failure(e: io::Error) -> Failure {
    if is_timeout(&e) {
        Failure::Timeout
    } else {
        Failure::Io(e)
    }
}

/// Time left before `deadline`, or a timeout failure. Never zero (a zero socket timeout is an
/// error, not "no wait").
fn remaining(deadline: Instant) -> Result<Duration, Failure> {
    let left = deadline.saturating_duration_since(Instant::now());
    if left.is_zero() {
        return Err(Failure::Timeout);
    }
    Ok(left)
}

/// Writes everything rustls has queued.
fn flush_tls<D>(
    conn: &mut ConnectionCommon<D>,
    tcp: &TcpStream,
    deadline: Instant,
) -> Result<(), Failure> {
    let mut sock = tcp;
    while conn.wants_write() {
        tcp.set_write_timeout(Some(remaining(deadline)?))
            .map_err(Failure::Io)?;
        conn.write_tls(&mut sock).map_err(io_failure)?;
    }
    Ok(())
}

/// Reads once from the socket into rustls and processes what arrived. Each read waits at most
/// until `deadline`.
fn read_once<D>(
    conn: &mut ConnectionCommon<D>,
    tcp: &TcpStream,
    deadline: Instant,
) -> Result<(), Failure> {
    let mut sock = tcp;
    tcp.set_read_timeout(Some(remaining(deadline)?))
        .map_err(Failure::Io)?;
    match conn.read_tls(&mut sock) {
        Ok(0) => return Err(Failure::Closed),
        Ok(_) => {}
        Err(e) if e.kind() == io::ErrorKind::Interrupted => return Ok(()),
        Err(e) => return Err(io_failure(e)),
    }
    if let Err(e) = conn.process_new_packets() {
        // Send the alert describing the error if we can; the error itself is what matters.
        let _ = conn.write_tls(&mut sock);
        return Err(Failure::Tls(e));
    }
    Ok(())
}

fn drive_handshake<D>(
    conn: &mut ConnectionCommon<D>,
    tcp: &TcpStream,
    deadline: Instant,
) -> Result<(), Failure> {
    loop {
        flush_tls(conn, tcp, deadline)?;
        if !conn.is_handshaking() {
            return Ok(());
        }
        read_once(conn, tcp, deadline)?;
    }
}

/// Client: waits for the server's [`ACCEPTED`] marker.
fn read_accepted<D>(
    conn: &mut ConnectionCommon<D>,
    tcp: &TcpStream,
    deadline: Instant,
) -> Result<(), Failure> {
    let mut got = [0u8; ACCEPTED.len()];
    let mut n = 0;
    while n < got.len() {
        match conn.reader().read(&mut got[n..]) {
            Ok(0) => return Err(Failure::Closed),
            Ok(k) => {
                n += k;
                continue;
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Err(Failure::Closed),
            Err(e) => return Err(Failure::Io(e)),
        }
        read_once(conn, tcp, deadline)?;
        flush_tls(conn, tcp, deadline)?;
    }
    if got == BUSY {
        return Err(Failure::Busy);
    }
    if got != ACCEPTED {
        return Err(Failure::Tls(rustls::Error::General(
            "the partner does not speak unseen transport version 1".into(),
        )));
    }
    Ok(())
}

/// TCP options on both ends: no Nagle delay (frames are flushed deliberately), and keep-alive
/// probes so a vanished partner is noticed on an idle connection. The socket must block: a
/// stream converted from an async runtime may still be non-blocking.
fn configure(tcp: &TcpStream, opts: &Options) -> Result<(), TransportError> {
    tcp.set_nonblocking(false)?;
    tcp.set_nodelay(true)?;
    let keepalive = TcpKeepalive::new()
        .with_time(opts.keepalive)
        .with_interval(opts.keepalive);
    SockRef::from(tcp).set_tcp_keepalive(&keepalive)?;
    Ok(())
}

fn internal(e: impl core::fmt::Display) -> TransportError {
    TransportError::Internal(format!("tls configuration: {e}"))
}

/// The crypto provider of every configuration: *ring*, TLS 1.3 suites only (the crate is built
/// without rustls's `tls12` feature).
pub(crate) fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}
