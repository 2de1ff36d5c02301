//! Admission of authenticated clients: the hello deadline and the "busy" answer.

use std::net::TcpStream;
use std::time::{Duration, Instant};

use unseen_channel::Channel;
use unseen_transport::TransportError;
use unseen_transport::loopback::LoopbackServer;

use crate::{H, accept_with, ids, opts};

/// A connection that never sends its ClientHello is dropped at the short hello deadline, not
/// after the whole handshake timeout (before: it held its slot for all 10 s).
#[test]
fn silent_connection_is_dropped_at_the_hello_deadline() {
    let (_, server_id) = ids();
    let mut o = opts();
    o.handshake_timeout = Duration::from_secs(10);
    o.hello_timeout = Duration::from_secs(1);
    let server = LoopbackServer::bind(&server_id, o).unwrap();
    let (result, took, ()) = accept_with(&server, &|_| true, |addr| {
        (Some(TcpStream::connect(addr).unwrap()), ())
    });
    assert!(
        matches!(
            result,
            Err(TransportError::Timeout {
                what: "client hello",
                seconds: 1
            })
        ),
        "{result:?}"
    );
    assert!(took < Duration::from_secs(6), "{took:?}");
}

/// A server without room answers "busy" over TLS after authenticating the client; the client's
/// `connect` reports `Busy` (retryable) instead of a reset, and a later attempt is served.
#[test]
fn busy_server_answers_busy_over_tls_and_a_retry_is_served() {
    let (client_id, server_id) = ids();
    let client_fp = client_id.fingerprint();
    let lb = LoopbackServer::bind(&server_id, opts()).unwrap();
    let addr = lb.addr();
    let server = std::thread::spawn(move || {
        let (listener, acceptor) = (lb.listener(), lb.acceptor());
        let (tcp, _) = listener.accept().unwrap();
        let pending = acceptor.handshake(tcp, &|fp| *fp == client_fp).unwrap();
        assert_eq!(pending.peer(), client_fp);
        pending.refuse_busy().unwrap();
        let (tcp, _) = listener.accept().unwrap();
        let mut ch = acceptor
            .handshake(tcp, &|fp| *fp == client_fp)
            .unwrap()
            .admit()
            .unwrap();
        ch.recv(H, 16).unwrap()
    });
    let server_fp = server_id.fingerprint();
    let start = Instant::now();
    let e = unseen_transport::connect(addr, &client_id, &server_fp, &opts()).unwrap_err();
    assert!(matches!(e, TransportError::Busy), "{e:?}");
    assert!(start.elapsed() < Duration::from_secs(5));
    let mut ch = unseen_transport::connect(addr, &client_id, &server_fp, &opts()).unwrap();
    ch.send(H, b"hello".to_vec()).unwrap();
    ch.flush().unwrap();
    assert_eq!(server.join().unwrap(), b"hello");
}
