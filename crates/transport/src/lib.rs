//! unseen's [`Channel`](unseen_channel::Channel) over the network: mutual TLS 1.3 with pinned
//! certificates between nodes, and plain TCP ([`tcp`]) for loopback use. The only crate of the
//! workspace that opens sockets for protocols (STYLE.md §1.4). Benchmarks and tests get a
//! mutual-TLS connection on 127.0.0.1 from [`loopback`].
//!
//! # Trust model: pins, not authorities
//!
//! Each node has an [`Identity`]: a self-signed certificate and its private key
//! ([`Identity::generate`]). Partners exchange certificate [`Fingerprint`]s (SHA-256 of the DER,
//! written `sha256:<64 hex>`) out of band, and each node pins the fingerprints of its partners.
//! There is no certificate authority and no root store: a peer is trusted exactly when the
//! certificate it presents has a pinned fingerprint, and it proves it holds that certificate's
//! key by the TLS 1.3 `CertificateVerify` signature, which is still verified. Names and validity
//! dates are not checked (the pin replaces both; the client always asks for the fixed server name
//! `unseen-node`); revoking a partner means removing its pin. Session resumption is disabled, so
//! every connection is checked against the pins in force when it is made.
//!
//! * [`connect`] pins exactly one fingerprint, the partner it dials; any other server certificate
//!   fails with [`TransportError::PeerNotPinned`] naming what was presented.
//! * [`Acceptor::accept`] requires a client certificate and asks the node's pin predicate about
//!   it after the client has proven possession of the key. A refusal aborts the handshake with an
//!   `access_denied` alert and returns [`TransportError::PeerNotPinned`], for the node to audit.
//!   Since the client finishes a TLS 1.3 handshake before the server has judged its certificate,
//!   the server then sends an 8-byte acceptance marker (`unseen/1`) as its first application
//!   data, and `connect` returns only once it has arrived: a refused client learns it from
//!   `connect`, not from its first `recv`.
//!
//! Only TLS 1.3 is compiled in (rustls without `tls12`), with the *ring* provider; handshakes are
//! bounded in time ([`Options::handshake_timeout`]) and rustls bounds handshake messages to
//! 64 KiB, so a stranger sending garbage costs a bounded amount of memory and time.
//!
//! # A full-duplex blocking TLS stream
//!
//! A [`TlsChannel`] is the frame codec of `unseen-channel`
//! ([`StreamChannel::threaded`](unseen_channel::StreamChannel::threaded)) over a TLS session: the
//! caller's thread reads frames while a writer thread writes queued frames, at the same time. A
//! rustls connection is one state machine, so both halves share it behind one mutex, and the
//! design rests on three rules:
//!
//! 1. **No socket I/O under the lock.** The read half reads ciphertext from the socket into its
//!    own buffer without the lock, then locks, hands the bytes to rustls (`read_tls`,
//!    `process_new_packets`) and takes the plaintext. The write half locks, encrypts one chunk
//!    (`writer().write`) and drains the records (`write_tls`) into its own buffer, unlocks, and
//!    only then writes them to the socket. Either half blocking on the network (a full send
//!    buffer, an idle peer) never holds up the other, so two nodes that both send much before
//!    reading cannot deadlock, exactly as with plain TCP.
//! 2. **One writer to the socket.** Only the write half drains rustls's outgoing records and
//!    writes to the socket (it is one object, used by one thread), so records reach the wire in
//!    the order rustls sealed them, which their sequence numbers require. The read half never
//!    needs to write: rustls keeps its answer to a peer's key update until our next outgoing
//!    record and seals it first (TLS 1.3 asks for it before our next application data, no
//!    sooner), and the only other thing reading can queue is the alert of a fatal error, after
//!    which the read half shuts the socket down anyway.
//! 3. **Bounded buffers.** The read half feeds rustls only once its plaintext buffer is empty,
//!    so that buffer stays within about one record; incoming ciphertext is held in one fixed
//!    256 KiB buffer; outgoing records are capped by `set_buffer_limit` and drained on every
//!    write. A peer can make us buffer at most these amounts.
//!
//! Lock holds are short and bounded (at most 256 KiB encrypted or 128 KiB decrypted per hold),
//! so under traffic both ways the halves interleave. A `close_notify` or TCP end of stream reads
//! as end of stream; the frame codec's lengths turn a cut-off message into
//! [`ChannelError::Truncated`](unseen_channel::ChannelError::Truncated). Any TLS error is fatal:
//! the read half reports it and shuts the socket down so the writer stops too.
//! [`Options::read_timeout`] is a deadline per frame, not per `read`: a whole frame must arrive
//! within it (plus its length at [`unseen_channel::MIN_FRAME_RATE`]) from when `recv` began to
//! wait, and every socket read, including the repeated reads of a TLS record arriving byte by
//! byte, is bounded by the time left. A stalled peer is a
//! [`ChannelError::Timeout`](unseen_channel::ChannelError::Timeout), one that trickles a frame
//! in is a [`ChannelError::SlowFrame`](unseen_channel::ChannelError::SlowFrame), and a
//! [`ShutdownHandle`] cancels a channel from any thread by shutting the socket down.

mod api_tls;
mod bench;
mod duplex;
mod handshake;
mod identity;
pub mod loopback;
pub mod tcp;
mod verify;

use std::time::Duration;

pub use api_tls::{api_client_config, api_server_config};
pub use bench::{BenchReport, bench_loopback};
pub use duplex::{ShutdownHandle, TlsChannel};
pub(crate) use handshake::provider;
pub use handshake::{Acceptor, Handshaken, connect};
pub use identity::{Certificate, Fingerprint, Identity, NODE_SERVER_NAME};

/// Timeouts and keep-alive of a connection.
#[derive(Clone, Copy, Debug)]
pub struct Options {
    /// How long one TCP connection attempt may take (default 10 s).
    pub connect_timeout: Duration,
    /// How long the TLS handshake, including the partner's acceptance, may take (default 10 s).
    pub handshake_timeout: Duration,
    /// Server side: how long a new connection may stay silent before its first bytes (the
    /// ClientHello) arrive (default 3 s, at most `handshake_timeout`; zero: no separate wait).
    pub hello_timeout: Duration,
    /// How long a `recv` may take to receive one whole frame (plus the frame's length at
    /// [`unseen_channel::MIN_FRAME_RATE`]), counted from when it began to wait, and how long a
    /// socket write may wait for the peer to read (default 300 s).
    pub read_timeout: Duration,
    /// Idle time before TCP keep-alive probes, and the interval between them (default 30 s).
    pub keepalive: Duration,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            connect_timeout: Duration::from_secs(10),
            handshake_timeout: Duration::from_secs(10),
            hello_timeout: Duration::from_secs(3),
            read_timeout: Duration::from_secs(300),
            keepalive: Duration::from_secs(30),
        }
    }
}

/// Errors of the transport, sorted by cause.
///
/// Whose fault each is ([`TransportError::fault`]):
/// - partner: it presented a certificate that is not pinned ([`PeerNotPinned`]), refused us or
///   broke TLS ([`Handshake`]), or is busy ([`Busy`]), and the channel's partner errors;
/// - config: a certificate, fingerprint or private key given to us is malformed or does not
///   match ([`BadCertificate`], [`BadKey`]);
/// - network: the connection was refused, reset, closed during the handshake or timed out
///   ([`Io`], [`Closed`], [`Timeout`]), and the channel's connection errors;
/// - internal: an impossible state ([`Internal`]).
///
/// No transport error is the input's: the transport reads no user data.
///
/// [`PeerNotPinned`]: TransportError::PeerNotPinned
/// [`Handshake`]: TransportError::Handshake
/// [`Busy`]: TransportError::Busy
/// [`BadCertificate`]: TransportError::BadCertificate
/// [`BadKey`]: TransportError::BadKey
/// [`Io`]: TransportError::Io
/// [`Closed`]: TransportError::Closed
/// [`Timeout`]: TransportError::Timeout
/// [`Internal`]: TransportError::Internal
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TransportError {
    /// The peer presented a certificate that is not pinned (the node should audit this).
    #[error(
        "the peer presented certificate {presented}, which is not pinned for this partner \
         (pins are exchanged out of band; check the fingerprint with the partner)"
    )]
    PeerNotPinned {
        /// Fingerprint of the certificate the peer presented.
        presented: Fingerprint,
    },
    /// The TLS handshake failed: the peer is not a TLS 1.3 unseen node, refused us, or broke the
    /// protocol.
    #[error("tls handshake failed: {0}")]
    Handshake(String),
    /// The partner authenticated us but has no room for another session now (it answered
    /// "busy" over TLS before anything was proposed): retrying later is safe.
    #[error("the partner is busy (it serves as many sessions as it allows); retry later")]
    Busy,
    /// The peer closed the connection during the TLS handshake, or after it without accepting
    /// (an overloaded server sheds pending connections this way; retrying later is safe).
    #[error("the peer closed the connection during the tls handshake, before accepting it")]
    Closed,
    /// A connection step did not finish in time.
    #[error("{what} did not complete within {seconds} s")]
    Timeout {
        /// The step: `tcp connect`, `client hello` or `tls handshake`.
        what: &'static str,
        /// The timeout that expired.
        seconds: u64,
    },
    /// A certificate (or fingerprint) given to us is malformed.
    #[error("bad certificate: {0}")]
    BadCertificate(String),
    /// A private key given to us is malformed or does not match its certificate.
    #[error("bad private key: {0}")]
    BadKey(String),
    /// The established channel failed.
    #[error(transparent)]
    Channel(#[from] unseen_channel::ChannelError),
    /// Operating-system I/O error (connection refused, reset, …).
    #[error("i/o error: {0}")]
    Io(#[from] std::io::Error),
    /// An impossible state; please report it.
    #[error("internal error in unseen-transport (please report): {0}")]
    Internal(String),
}

impl TransportError {
    /// Whose fault this is (see [`TransportError`]'s documentation for the mapping).
    pub fn fault(&self) -> unseen_channel::Fault {
        use unseen_channel::Fault;
        match self {
            Self::PeerNotPinned { .. } | Self::Handshake(_) | Self::Busy => Fault::Partner,
            Self::BadCertificate(_) | Self::BadKey(_) => Fault::Config,
            Self::Closed | Self::Timeout { .. } | Self::Io(_) => Fault::Network,
            Self::Channel(e) => e.fault(),
            Self::Internal(_) => Fault::Internal,
        }
    }

    /// Whether [`connect`] failed in a way a later attempt may not: the partner said it is
    /// busy, or the connection was closed or reset before the session was established (a
    /// server shedding load). Such a failure happened before anything was sent over the
    /// session, so retrying cannot run anything twice. Refusals (pins), timeouts and a
    /// refused TCP connection are not transient.
    pub fn is_transient(&self) -> bool {
        match self {
            TransportError::Busy | TransportError::Closed => true,
            TransportError::Io(e) => matches!(
                e.kind(),
                std::io::ErrorKind::ConnectionReset
                    | std::io::ErrorKind::ConnectionAborted
                    | std::io::ErrorKind::BrokenPipe
                    | std::io::ErrorKind::UnexpectedEof
            ),
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)] // tests

    use unseen_channel::{ChannelError, Fault, Header};

    use super::*;

    #[test]
    fn faults_of_each_class() {
        let partner = [
            TransportError::PeerNotPinned {
                presented: Fingerprint::of_der(b"a stranger's certificate"),
            },
            TransportError::Handshake("received fatal alert: AccessDenied".into()),
            TransportError::Busy,
            TransportError::Channel(ChannelError::FrameTooLarge {
                header: Header::new(1, 1, 1),
                len: 1 << 40,
                max: 1,
            }),
        ];
        for e in partner {
            assert_eq!(e.fault(), Fault::Partner, "{e:?}");
        }
        let config = [
            Certificate::from_pem("not a certificate").unwrap_err(),
            Identity::from_pem("", "").unwrap_err(),
            TransportError::BadKey("does not match the certificate".into()),
        ];
        for e in config {
            assert_eq!(e.fault(), Fault::Config, "{e:?}");
        }
        // A port nobody listens on: connection refused.
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap();
        drop(l);
        let id = Identity::generate("client.test").unwrap();
        let refused = connect(addr, &id, &id.fingerprint(), &Options::default()).unwrap_err();
        let network = [
            refused,
            TransportError::Closed,
            TransportError::Timeout {
                what: "tls handshake",
                seconds: 10,
            },
            TransportError::Channel(ChannelError::Closed {
                expected: Header::new(1, 1, 1),
            }),
        ];
        for e in network {
            assert_eq!(e.fault(), Fault::Network, "{e:?}");
        }
        assert_eq!(
            TransportError::Internal("poisoned lock".into()).fault(),
            Fault::Internal
        );
    }
}
