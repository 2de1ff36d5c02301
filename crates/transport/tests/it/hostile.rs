//! Strangers, broken peers and stalls: typed errors within the time bounds, never a panic.

use std::io::Write;
use std::net::TcpStream;
use std::time::{Duration, Instant};

use unseen_channel::{Channel, ChannelError, Header, MAX_FRAME_LEN, Tamper};
use unseen_transport::TransportError;
use unseen_transport::loopback::LoopbackServer;

use crate::{
    ClientAuth, H, H2, Rng, accept_with, certified_key, ids, opts, pair, raw_client, raw_handshake,
    raw_read,
};

/// Runs `accept` against a client that writes `bytes` (then closes if `close`, else stays
/// silent) and checks it fails within the 1 s handshake timeout (plus scheduling slack).
fn accept_garbage(bytes: Vec<u8>, close: bool) -> TransportError {
    let (_, server_id) = ids();
    let server = LoopbackServer::bind(&server_id, opts()).unwrap();
    let (result, took, ()) = accept_with(&server, &|_| true, move |addr| {
        let mut tcp = TcpStream::connect(addr).unwrap();
        let _ = tcp.write_all(&bytes);
        if close {
            drop(tcp);
            return (None, ());
        }
        (Some(tcp), ())
    });
    assert!(took < Duration::from_millis(2_500), "accept took {took:?}");
    match result {
        Ok(ch) => panic!("a stranger got a channel: {ch:?}"),
        Err(e) => e,
    }
}

#[test]
fn random_bytes_before_handshake() {
    for seed in 0..4 {
        let e = accept_garbage(Rng::new(seed).bytes(4096), false);
        assert!(
            matches!(
                e,
                TransportError::Handshake(_) | TransportError::Timeout { .. }
            ),
            "seed {seed}: {e:?}"
        );
    }
}

#[test]
fn http_request_before_handshake() {
    let e = accept_garbage(
        b"GET / HTTP/1.1\r\nHost: unseen-node\r\n\r\n".to_vec(),
        false,
    );
    assert!(matches!(e, TransportError::Handshake(_)), "{e:?}");
}

#[test]
fn truncated_client_hello_then_close() {
    let mut hello = Vec::new();
    let mut conn = raw_client(ClientAuth::None);
    conn.write_tls(&mut hello).unwrap();
    assert!(
        hello.len() > 100 && hello[0] == 0x16,
        "a TLS handshake record"
    );
    hello.truncate(hello.len() / 2);
    let e = accept_garbage(hello, true);
    assert!(matches!(e, TransportError::Closed), "{e:?}");
}

#[test]
fn silent_connection_times_out() {
    let start = Instant::now();
    let e = accept_garbage(Vec::new(), false);
    assert!(start.elapsed() >= Duration::from_millis(900));
    assert!(
        matches!(
            e,
            TransportError::Timeout {
                what: "client hello",
                seconds: 1
            }
        ),
        "{e:?}"
    );
}

#[test]
fn oversized_handshake_message_is_refused_without_buffering_it() {
    // A handshake record announcing a 16 MiB ClientHello, then a stream of filler: rustls caps
    // handshake messages at 64 KiB, so this fails at once instead of buffering.
    let mut bytes = vec![0x16, 0x03, 0x01, 0x40, 0x00, 0x01, 0xff, 0xff, 0xff];
    bytes.resize(5 + 0x4000, 0);
    for _ in 0..8 {
        bytes.extend_from_slice(&[0x16, 0x03, 0x03, 0x40, 0x00]);
        bytes.resize(bytes.len() + 0x4000, 0);
    }
    let e = accept_garbage(bytes, false);
    assert!(matches!(e, TransportError::Handshake(_)), "{e:?}");
}

fn prefix(len: u32, h: Header) -> Vec<u8> {
    let mut p = len.to_le_bytes().to_vec();
    p.extend_from_slice(&h.protocol.to_le_bytes());
    p.extend_from_slice(&[h.version, h.step]);
    p
}

#[test]
fn random_plaintext_after_handshake_is_a_typed_error() {
    let (client, mut server) = pair(opts());
    let junk = Rng::new(7).bytes(64);
    let raw = junk.clone();
    let mut client = client.with_tamper(Box::new(move |_, _, _| Tamper::Raw(raw.clone())));
    client.send(H, b"ignored".to_vec()).unwrap();
    client.flush().unwrap();
    let received = Header::new(u16::from_le_bytes([junk[4], junk[5]]), junk[6], junk[7]);
    let e = server.recv(H, 1 << 20).unwrap_err();
    assert!(
        matches!(e, ChannelError::UnexpectedFrame { expected: H, received: r } if r == received),
        "{e:?}"
    );
}

#[test]
fn truncated_frame_after_handshake() {
    let (client, mut server) = pair(opts());
    let mut client = client.with_tamper(Box::new(|_, h, p| {
        let mut raw = prefix(u32::try_from(p.len()).unwrap(), h);
        raw.extend_from_slice(&p[..p.len() / 2]);
        Tamper::RawThenClose(raw)
    }));
    client.send(H, vec![3; 1000]).unwrap();
    let e = server.recv(H, 1 << 20).unwrap_err();
    assert!(
        matches!(
            e,
            ChannelError::Truncated {
                received: 508,
                expected: 1008
            }
        ),
        "{e:?}"
    );
}

#[test]
fn oversize_length_prefix_after_handshake() {
    let (client, mut server) = pair(opts());
    let mut client = client.with_tamper(Box::new(|_, h, _| Tamper::Raw(prefix(u32::MAX, h))));
    client.send(H, Vec::new()).unwrap();
    client.flush().unwrap();
    let e = server.recv(H, 1 << 20).unwrap_err();
    assert!(
        matches!(
            e,
            ChannelError::FrameTooLarge {
                len: 4_294_967_295,
                max: 1_048_576,
                ..
            }
        ),
        "{e:?}"
    );
    // Within the absolute maximum, but above this step's.
    let (client, mut server) = pair(opts());
    let mut client = client.with_tamper(Box::new(|_, h, _| {
        Tamper::Raw(prefix(u32::try_from(MAX_FRAME_LEN).unwrap(), h))
    }));
    client.send(H, Vec::new()).unwrap();
    let e = server.recv(H, 100).unwrap_err();
    assert!(
        matches!(e, ChannelError::FrameTooLarge { max: 100, .. }),
        "{e:?}"
    );
    // A wrong step, in a well-formed frame.
    let (client, mut server) = pair(opts());
    let mut client = client.with_tamper(Box::new(|_, _, p| Tamper::Replace(H2, p.to_vec())));
    client.send(H, vec![1, 2, 3]).unwrap();
    let e = server.recv(H, 100).unwrap_err();
    assert!(
        matches!(
            e,
            ChannelError::UnexpectedFrame {
                expected: H,
                received: H2
            }
        ),
        "{e:?}"
    );
}

#[test]
fn garbage_records_after_handshake_are_a_tls_error() {
    // A pinned peer that writes non-TLS bytes on the socket after a good handshake: the receiver
    // gets an i/o error of kind InvalidData from the TLS layer (bad record), not a panic.
    for (seed, bytes) in [
        (1, Rng::new(1).bytes(10_000)),
        // A well-formed application-data record header with a ciphertext that cannot decrypt.
        (2, {
            let mut b = vec![0x17, 0x03, 0x03, 0x01, 0x00];
            b.extend(Rng::new(2).bytes(256));
            b
        }),
        // A record longer than TLS allows.
        (3, vec![0x17, 0x03, 0x03, 0xff, 0xff]),
    ] {
        let (client_id, server_id) = ids();
        let client_fp = client_id.fingerprint();
        let lb = LoopbackServer::bind(&server_id, opts()).unwrap();
        let ck = certified_key(&client_id, &client_id);
        let (result, _, ()) = accept_with(&lb, &|fp| *fp == client_fp, move |addr| {
            let mut tcp = TcpStream::connect(addr).unwrap();
            let mut conn = raw_client(ClientAuth::As(ck));
            raw_handshake(&mut conn, &mut tcp).unwrap();
            raw_read(&mut conn, &mut tcp, 8).unwrap();
            tcp.write_all(&bytes).unwrap();
            (Some(tcp), ())
        });
        let mut server = result.unwrap();
        let e = server.recv(H, 1 << 20).unwrap_err();
        assert!(
            matches!(&e, ChannelError::Io(io) if io.kind() == std::io::ErrorKind::InvalidData),
            "case {seed}: {e:?}"
        );
        // The session is dead for good.
        assert!(server.recv(H, 1 << 20).is_err());
    }
}

#[test]
fn stalled_peer_times_out() {
    let mut o = opts();
    o.read_timeout = Duration::from_secs(1);
    let (client, mut server) = pair(o);
    let start = Instant::now();
    let e = server.recv(H, 100).unwrap_err();
    let took = start.elapsed();
    assert!(matches!(e, ChannelError::Timeout { seconds: 1 }), "{e:?}");
    assert!(
        took >= Duration::from_millis(900) && took < Duration::from_secs(3),
        "{took:?}"
    );
    drop(client);
}

#[test]
fn shutdown_unblocks_a_blocked_recv() {
    let (mut client, mut server) = pair(opts());
    let handle = server.shutdown_handle();
    let (tx, rx) = std::sync::mpsc::channel();
    let t = std::thread::spawn(move || {
        let start = Instant::now();
        let r = server.recv(H, 100);
        tx.send((r.map(|_| ()), start.elapsed())).unwrap();
    });
    std::thread::sleep(Duration::from_millis(200));
    let handle2 = handle.clone();
    std::thread::spawn(move || handle2.shutdown())
        .join()
        .unwrap();
    let (r, took) = rx
        .recv_timeout(Duration::from_secs(5))
        .expect("recv still blocked");
    let e = r.unwrap_err();
    assert!(
        matches!(&e, ChannelError::Io(io) if io.kind() == std::io::ErrorKind::ConnectionAborted),
        "{e:?}"
    );
    assert!(took < Duration::from_secs(2), "{took:?}");
    t.join().unwrap();
    handle.shutdown();
    // The peer sees the connection end instead of hanging.
    let e = client.recv(H, 100).unwrap_err();
    assert!(
        matches!(e, ChannelError::Closed { .. } | ChannelError::Io(_)),
        "{e:?}"
    );
}

#[test]
fn shutdown_unblocks_a_blocked_send_and_flush() {
    // The server never reads, so the client's writer blocks on a full socket and its queue
    // fills up; cancelling must release the sender.
    let (client, server) = pair(opts());
    let handle = client.shutdown_handle();
    let (tx, rx) = std::sync::mpsc::channel();
    let t = std::thread::spawn(move || {
        let mut client = client;
        let mut sent = 0;
        let mut result = Ok(());
        for _ in 0..1_000 {
            if let Err(e) = client.send(H, vec![0; 1 << 20]) {
                result = Err(e);
                break;
            }
            sent += 1;
        }
        let flushed = client.flush();
        tx.send((sent, result, flushed)).unwrap();
    });
    std::thread::sleep(Duration::from_millis(500));
    handle.shutdown();
    let (sent, result, flushed) = rx
        .recv_timeout(Duration::from_secs(5))
        .expect("still blocked");
    assert!(
        sent < 1_000,
        "all sends went through to a peer that never reads"
    );
    assert!(result.is_err() || flushed.is_err());
    assert!(flushed.is_err());
    t.join().unwrap();
    drop(server);
}

/// A pinned partner that sends one frame as a trickle: the first 18 bytes at once, then the
/// rest of the TLS record one ciphertext byte every 300 ms, each well inside the 2 s read
/// timeout. Before deadlines per frame, every `read` made progress and `recv` waited for the
/// whole trickle (here about 12 s; a 2 MiB frame would take months); now the frame's deadline
/// (2 s, as the frame is small) cuts it off with `SlowFrame`.
#[test]
fn dripping_peer_is_cut_off_per_frame_not_per_read() {
    let (client_id, server_id) = ids();
    let client_fp = client_id.fingerprint();
    let mut o = opts();
    o.read_timeout = Duration::from_secs(2);
    let lb = LoopbackServer::bind(&server_id, o).unwrap();
    let addr = lb.addr();
    let (stop_tx, stop_rx) = std::sync::mpsc::channel::<()>();
    let dripper = std::thread::spawn(move || {
        let mut tcp = TcpStream::connect(addr).unwrap();
        let mut conn = raw_client(ClientAuth::As(certified_key(&client_id, &client_id)));
        raw_handshake(&mut conn, &mut tcp).unwrap();
        assert_eq!(raw_read(&mut conn, &mut tcp, 8).unwrap(), b"unseen/1");
        // Frame: 40-byte payload. The header and 10 payload bytes in one record, sent whole.
        let mut head = prefix(40, H);
        head.extend_from_slice(&[7; 10]);
        conn.writer().write_all(&head).unwrap();
        while conn.wants_write() {
            conn.write_tls(&mut tcp).unwrap();
        }
        // The other 30 payload bytes in a second record, written one byte at a time.
        conn.writer().write_all(&[7; 30]).unwrap();
        let mut record = Vec::new();
        while conn.wants_write() {
            conn.write_tls(&mut record).unwrap();
        }
        for b in record {
            if stop_rx.try_recv().is_ok() || tcp.write_all(&[b]).is_err() {
                return;
            }
            std::thread::sleep(Duration::from_millis(300));
        }
    });
    let mut server = lb.accept(&|fp| *fp == client_fp).unwrap();
    let start = Instant::now();
    let e = server.recv(H, 100).unwrap_err();
    let took = start.elapsed();
    let _ = stop_tx.send(());
    assert!(
        matches!(
            e,
            ChannelError::SlowFrame {
                seconds: 2,
                received: 18,
                expected: 48
            }
        ),
        "{e:?}"
    );
    // 2 s deadline; generous slack for a loaded machine, well below the 12 s trickle.
    assert!(took < Duration::from_secs(8), "{took:?}");
    drop(server);
    dripper.join().unwrap();
}
