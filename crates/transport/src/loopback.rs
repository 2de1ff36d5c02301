//! Mutual-TLS connections on 127.0.0.1 for benchmarks and tests: the one place that makes two
//! identities, pins each to the other, listens on a free loopback port, connects and accepts.
//!
//! * [`pair`]: both ends of one connection, for a test that only needs a channel.
//! * [`Loopback`]: the identities and a listening server, for callers that connect more than
//!   once, time the connection, or run the server end on a thread of their own.
//! * [`LoopbackServer`]: a listener on a free loopback port with an [`Acceptor`] for an identity
//!   the caller already has (a node's), and its parts for a caller that serves many connections.
//!
//! Nothing here is meant for two machines: the listener is bound to 127.0.0.1 only, and
//! [`Loopback`]'s identities are fresh, self-signed and pinned only to each other.

use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};

use crate::{Acceptor, Fingerprint, Identity, Options, TlsChannel, TransportError, connect};

/// Common name of [`Loopback`]'s server identity.
pub const SERVER_NAME: &str = "loopback-server";
/// Common name of [`Loopback`]'s client identity.
pub const CLIENT_NAME: &str = "loopback-client";

/// Both ends of one mutual-TLS connection on 127.0.0.1, `(client, server)`, between two fresh
/// identities pinned to each other.
pub fn pair(opts: Options) -> Result<(TlsChannel, TlsChannel), TransportError> {
    Loopback::new(opts)?.pair()
}

/// A listener on a free port of 127.0.0.1 and an [`Acceptor`] presenting an identity.
#[derive(Debug)]
pub struct LoopbackServer {
    listener: TcpListener,
    addr: SocketAddr,
    acceptor: Acceptor,
}

impl LoopbackServer {
    /// Binds 127.0.0.1 on a port the system picks, to serve as `identity` with `opts`.
    pub fn bind(identity: &Identity, opts: Options) -> Result<LoopbackServer, TransportError> {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?;
        let addr = listener.local_addr()?;
        Ok(LoopbackServer {
            listener,
            addr,
            acceptor: Acceptor::new(identity, opts)?,
        })
    }

    /// The address to connect to.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The listening socket (to accept connections and drive [`Acceptor::handshake`] by hand).
    pub fn listener(&self) -> &TcpListener {
        &self.listener
    }

    /// The acceptor presenting the server's identity.
    pub fn acceptor(&self) -> &Acceptor {
        &self.acceptor
    }

    /// The listener and the acceptor, for a server loop that outlives this value (a node's
    /// partner listener in a test).
    pub fn into_parts(self) -> (TcpListener, Acceptor) {
        (self.listener, self.acceptor)
    }

    /// Waits for the next connection and runs [`Acceptor::accept`] on it: a channel to a client
    /// whose certificate `is_pinned` approves.
    pub fn accept(
        &self,
        is_pinned: &dyn Fn(&Fingerprint) -> bool,
    ) -> Result<TlsChannel, TransportError> {
        let (tcp, _) = self.listener.accept()?;
        self.acceptor.accept(tcp, is_pinned)
    }
}

/// Two fresh identities ([`SERVER_NAME`], [`CLIENT_NAME`]), each pinning only the other, and a
/// [`LoopbackServer`] for the server identity. [`Loopback::accept`] and [`Loopback::connect`]
/// each block until the other end is there: call them on two threads (or use
/// [`Loopback::pair`]).
#[derive(Debug)]
pub struct Loopback {
    server: LoopbackServer,
    server_id: Identity,
    client_id: Identity,
    opts: Options,
}

impl Loopback {
    /// Generates the two identities and binds the server.
    pub fn new(opts: Options) -> Result<Loopback, TransportError> {
        let server_id = Identity::generate(SERVER_NAME)?;
        let client_id = Identity::generate(CLIENT_NAME)?;
        Ok(Loopback {
            server: LoopbackServer::bind(&server_id, opts)?,
            server_id,
            client_id,
            opts,
        })
    }

    /// The server's address.
    pub fn addr(&self) -> SocketAddr {
        self.server.addr()
    }

    /// The server's identity.
    pub fn server_identity(&self) -> &Identity {
        &self.server_id
    }

    /// The client's identity.
    pub fn client_identity(&self) -> &Identity {
        &self.client_id
    }

    /// The listening server.
    pub fn server(&self) -> &LoopbackServer {
        &self.server
    }

    /// The server end of the next connection; only the client identity is admitted.
    pub fn accept(&self) -> Result<TlsChannel, TransportError> {
        let client = self.client_id.fingerprint();
        self.server.accept(&|fp| *fp == client)
    }

    /// The client end of a new connection to the server, pinning the server identity.
    pub fn connect(&self) -> Result<TlsChannel, TransportError> {
        connect(
            self.addr(),
            &self.client_id,
            &self.server_id.fingerprint(),
            &self.opts,
        )
    }

    /// Both ends of a new connection, `(client, server)`: accepts on a thread of its own while
    /// this one connects.
    pub fn pair(&self) -> Result<(TlsChannel, TlsChannel), TransportError> {
        std::thread::scope(|s| {
            let server = s.spawn(|| self.accept());
            let client = self.connect();
            if client.is_err() {
                // A connect that failed before reaching the listener leaves the accepting
                // thread waiting: a connection that closes at once ends its handshake.
                drop(TcpStream::connect(self.addr()));
            }
            let server = server.join().map_err(|_| {
                TransportError::Internal("the loopback accepting thread panicked".into())
            })?;
            Ok((client?, server?))
        })
    }
}

#[cfg(test)]
mod tests {
    use unseen_channel::{Channel, Header};

    use super::*;

    const H: Header = Header::new(0x7e57, 1, 1);

    #[test]
    fn pair_is_pinned_both_ways_and_carries_frames() {
        let lb = Loopback::new(Options::default()).unwrap();
        let (mut client, mut server) = lb.pair().unwrap();
        assert_eq!(client.peer(), lb.server_identity().fingerprint());
        assert_eq!(server.peer(), lb.client_identity().fingerprint());
        assert!(lb.addr().ip().is_loopback());
        client.send(H, b"ping".to_vec()).unwrap();
        client.flush().unwrap();
        assert_eq!(server.recv(H, 4).unwrap(), b"ping");
        // The same harness serves a second connection.
        let (mut c2, mut s2) = lb.pair().unwrap();
        s2.send(H, vec![7]).unwrap();
        s2.flush().unwrap();
        assert_eq!(c2.recv(H, 1).unwrap(), [7]);
    }

    #[test]
    fn a_stranger_is_refused_by_the_harness_server() {
        let lb = Loopback::new(Options::default()).unwrap();
        let stranger = Identity::generate("stranger").unwrap();
        let (server, client) = std::thread::scope(|s| {
            let server = s.spawn(|| lb.accept());
            let client = connect(
                lb.addr(),
                &stranger,
                &lb.server_identity().fingerprint(),
                &Options::default(),
            );
            (server.join().unwrap(), client)
        });
        assert!(
            matches!(server, Err(TransportError::PeerNotPinned { presented }) if presented == stranger.fingerprint()),
            "{server:?}"
        );
        assert!(client.is_err());
    }
}
