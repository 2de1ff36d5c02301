//! Only pinned certificates get a channel, on both sides.

use std::cell::RefCell;
use std::net::TcpStream;

use unseen_transport::loopback::LoopbackServer;
use unseen_transport::{Fingerprint, Identity, TransportError, connect};

use crate::{
    ClientAuth, accept_with, certified_key, ids, opts, raw_client, raw_handshake, raw_read,
};

#[test]
fn unpinned_client_is_refused_and_named() {
    let (client_id, server_id) = ids();
    let other = Identity::generate("someone-else").unwrap().fingerprint();
    let server = LoopbackServer::bind(&server_id, opts()).unwrap();
    let server_fp = server_id.fingerprint();
    let client_fp = client_id.fingerprint();
    // A predicate that is neither Send nor Sync, as a node's registry lookup may be.
    let asked = RefCell::new(Vec::new());
    let is_pinned = |fp: &Fingerprint| {
        asked.borrow_mut().push(*fp);
        *fp == other
    };
    let (result, _, client_result) = accept_with(&server, &is_pinned, move |addr| {
        (None, connect(addr, &client_id, &server_fp, &opts()))
    });
    match result {
        Err(TransportError::PeerNotPinned { presented }) => assert_eq!(presented, client_fp),
        other => panic!("expected PeerNotPinned, got {other:?}"),
    }
    assert_eq!(*asked.borrow(), vec![client_fp]);
    // The client learns it from `connect`, with a message saying the partner refused us.
    match client_result {
        Err(TransportError::Handshake(msg)) => {
            assert!(msg.contains("refused our certificate"), "{msg}");
            assert!(msg.contains(&client_fp.to_string()), "{msg}");
        }
        other => panic!("expected a handshake error, got {other:?}"),
    }
    let text = TransportError::PeerNotPinned {
        presented: client_fp,
    }
    .to_string();
    assert!(
        text.contains(&client_fp.to_string()) && text.contains("not pinned"),
        "{text}"
    );
}

#[test]
fn server_with_another_certificate_is_refused() {
    let (client_id, server_id) = ids();
    let expected = Identity::generate("the-real-partner")
        .unwrap()
        .fingerprint();
    let lb = LoopbackServer::bind(&server_id, opts()).unwrap();
    let addr = lb.addr();
    let server = std::thread::spawn(move || lb.accept(&|_| true));
    let e = connect(addr, &client_id, &expected, &opts()).unwrap_err();
    match e {
        TransportError::PeerNotPinned { presented } => {
            assert_eq!(presented, server_id.fingerprint());
        }
        other => panic!("expected PeerNotPinned, got {other:?}"),
    }
    // The server sees the client's alert, not a channel.
    match server.join().unwrap() {
        Err(TransportError::Handshake(msg)) => assert!(msg.contains("refused our"), "{msg}"),
        other => panic!("expected a handshake error, got {other:?}"),
    }
}

#[test]
fn client_without_certificate_is_refused() {
    let (_, server_id) = ids();
    let server = LoopbackServer::bind(&server_id, opts()).unwrap();
    let called = RefCell::new(false);
    let (result, took, client_saw) = accept_with(
        &server,
        &|_| {
            *called.borrow_mut() = true;
            true
        },
        |addr| {
            let mut tcp = TcpStream::connect(addr).unwrap();
            let mut conn = raw_client(ClientAuth::None);
            // The client's view of the handshake may complete (TLS 1.3 clients finish first);
            // the refusal then arrives as an alert on its first read.
            let outcome = raw_handshake(&mut conn, &mut tcp)
                .and_then(|()| raw_read(&mut conn, &mut tcp, 8).map(|_| ()));
            (Some(tcp), outcome)
        },
    );
    match result {
        Err(TransportError::Handshake(msg)) => {
            assert!(msg.contains("no client certificate"), "{msg}")
        }
        other => panic!("expected a handshake error, got {other:?}"),
    }
    assert!(took.as_secs() < 1, "{took:?}");
    assert!(
        !*called.borrow(),
        "the pin predicate must not see a client without a certificate"
    );
    assert!(
        client_saw.is_err(),
        "the client must not get application data"
    );
}

#[test]
fn pinned_certificate_without_its_key_is_refused_before_the_pin_check() {
    // Someone replays a partner's (public) certificate but signs with another key.
    let (client_id, server_id) = ids();
    let thief = Identity::generate("thief").unwrap();
    let server = LoopbackServer::bind(&server_id, opts()).unwrap();
    let called = RefCell::new(false);
    let forged = certified_key(&client_id, &thief);
    let (result, _, client_saw) = accept_with(
        &server,
        &|_| {
            *called.borrow_mut() = true;
            true
        },
        move |addr| {
            let mut tcp = TcpStream::connect(addr).unwrap();
            let mut conn = raw_client(ClientAuth::As(forged));
            let outcome = raw_handshake(&mut conn, &mut tcp)
                .and_then(|()| raw_read(&mut conn, &mut tcp, 8).map(|_| ()));
            (Some(tcp), outcome)
        },
    );
    assert!(
        matches!(result, Err(TransportError::Handshake(_))),
        "{result:?}"
    );
    assert!(
        !*called.borrow(),
        "the pin predicate only sees proven certificates"
    );
    assert!(client_saw.is_err());
}

#[test]
fn raw_client_with_pinned_identity_gets_the_acceptance_marker() {
    // The wire contract `connect` relies on: after accepting, the server's first application
    // data is the 8-byte marker.
    let (client_id, server_id) = ids();
    let server = LoopbackServer::bind(&server_id, opts()).unwrap();
    let ck = certified_key(&client_id, &client_id);
    let client_fp = client_id.fingerprint();
    let (result, _, marker) = accept_with(&server, &|fp| *fp == client_fp, move |addr| {
        let mut tcp = TcpStream::connect(addr).unwrap();
        let mut conn = raw_client(ClientAuth::As(ck));
        raw_handshake(&mut conn, &mut tcp).unwrap();
        let marker = raw_read(&mut conn, &mut tcp, 8).unwrap();
        (Some(tcp), marker)
    });
    assert_eq!(result.unwrap().peer(), client_fp);
    assert_eq!(marker, b"unseen/1");
}

#[test]
fn panicking_pin_predicate_does_not_hang_accept() {
    let (client_id, server_id) = ids();
    let lb = LoopbackServer::bind(&server_id, opts()).unwrap();
    let addr = lb.addr();
    let server_fp = server_id.fingerprint();
    let client = std::thread::spawn(move || connect(addr, &client_id, &server_fp, &opts()));
    // On a thread of its own, so that a regression fails the test instead of hanging it.
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            lb.accept(&|_| panic!("registry lookup failed"))
        }));
        tx.send(outcome.is_err()).unwrap();
    });
    let panicked = rx
        .recv_timeout(std::time::Duration::from_secs(5))
        .expect("accept hung after the pin predicate panicked");
    assert!(panicked, "the predicate's panic propagates to the caller");
    assert!(client.join().unwrap().is_err());
}
