//! Authenticated channels carry frames both ways, intact and counted.

use unseen_channel::{Channel, FRAME_HEADER_LEN};

use crate::{H, H2, Rng, opts, pair};

fn sizes() -> Vec<usize> {
    vec![
        0,
        1,
        7,
        8,
        100,
        16_383,
        16_384,
        16_385,
        65_536,
        1 << 20,
        (3 << 20) + 7,
        8 << 20,
        5,
    ]
}

fn frames(seed: u64) -> Vec<Vec<u8>> {
    let mut rng = Rng::new(seed);
    sizes().into_iter().map(|n| rng.bytes(n)).collect()
}

#[test]
fn round_trip_both_directions_at_once() {
    let (mut client, mut server) = pair(opts());
    let from_client = frames(1);
    let from_server = frames(2);

    let expect_at_server = from_client.clone();
    let to_client = from_server.clone();
    let server_side = std::thread::spawn(move || {
        // Send everything first, then read: both directions are in flight together.
        for f in to_client {
            server.send(H2, f).unwrap();
        }
        for (i, want) in expect_at_server.iter().enumerate() {
            let got = server.recv(H, 8 << 20).unwrap();
            assert!(
                got == *want,
                "server: frame {i} differs ({} bytes)",
                got.len()
            );
        }
        server.flush().unwrap();
        server.stats()
    });
    for f in from_client.iter().cloned() {
        client.send(H, f).unwrap();
    }
    for (i, want) in from_server.iter().enumerate() {
        let got = client.recv(H2, 8 << 20).unwrap();
        assert!(
            got == *want,
            "client: frame {i} differs ({} bytes)",
            got.len()
        );
    }
    client.flush().unwrap();
    let server_stats = server_side.join().unwrap();
    let client_stats = client.stats();

    let wire = |fs: &[Vec<u8>]| fs.iter().map(|f| (f.len() + FRAME_HEADER_LEN) as u64).sum();
    let n = sizes().len() as u64;
    assert_eq!(client_stats.bytes_sent, wire(&from_client));
    assert_eq!(client_stats.bytes_received, wire(&from_server));
    assert_eq!(client_stats.messages_sent, n);
    assert_eq!(client_stats.messages_received, n);
    assert_eq!(server_stats.bytes_received, client_stats.bytes_sent);
    assert_eq!(server_stats.bytes_sent, client_stats.bytes_received);
    assert_eq!(server_stats.messages_received, n);
    assert_eq!((client_stats.rounds, server_stats.rounds), (2, 2));
}

#[test]
fn both_sides_queue_many_mebibytes_before_reading() {
    // Each side queues 64 MiB before reading anything. The writer threads block on full socket
    // buffers; the readers must still get the TLS session's lock and drain, or this deadlocks.
    let (mut client, mut server) = pair(opts());
    let server_side = std::thread::spawn(move || {
        for i in 0..16u8 {
            server.send(H2, vec![i; 4 << 20]).unwrap();
        }
        for i in 0..16u8 {
            let got = server.recv(H, 4 << 20).unwrap();
            assert!(got.len() == 4 << 20 && got.iter().all(|&b| b == i));
        }
        server.flush().unwrap();
    });
    for i in 0..16u8 {
        client.send(H, vec![i; 4 << 20]).unwrap();
    }
    for i in 0..16u8 {
        let got = client.recv(H2, 4 << 20).unwrap();
        assert!(got.len() == 4 << 20 && got.iter().all(|&b| b == i));
    }
    client.flush().unwrap();
    server_side.join().unwrap();
}

#[test]
fn request_response_rounds_and_clean_close() {
    let (mut client, mut server) = pair(opts());
    let server_side = std::thread::spawn(move || {
        for _ in 0..50 {
            let q = server.recv(H, 64).unwrap();
            server.send(H2, q.iter().rev().copied().collect()).unwrap();
        }
        // The client dropped its channel: a clean close_notify reads as Closed.
        let e = server.recv(H, 64).unwrap_err();
        assert!(
            matches!(e, unseen_channel::ChannelError::Closed { .. }),
            "{e}"
        );
        server.stats()
    });
    for i in 0..50u8 {
        client.send(H, vec![i, i + 1, i + 2]).unwrap();
        assert_eq!(client.recv(H2, 64).unwrap(), vec![i + 2, i + 1, i]);
    }
    assert_eq!(client.stats().rounds, 100);
    drop(client);
    assert_eq!(server_side.join().unwrap().rounds, 100);
}

#[test]
fn peer_key_update_is_answered_before_our_next_data() {
    // The peer (a raw rustls client) rotates its keys and asks us to rotate ours. Our read half
    // processes the request; our write half must send the key-update answer before the next
    // record sealed under the new key, or the peer cannot decrypt our reply.
    use std::io::Write;
    use std::net::TcpStream;

    use unseen_transport::loopback::LoopbackServer;

    use crate::{ClientAuth, certified_key, ids, raw_client, raw_handshake, raw_read};

    let (client_id, server_id) = ids();
    let client_fp = client_id.fingerprint();
    let lb = LoopbackServer::bind(&server_id, opts()).unwrap();
    let addr = lb.addr();
    let ck = certified_key(&client_id, &client_id);
    let peer = std::thread::spawn(move || {
        let mut tcp = TcpStream::connect(addr).unwrap();
        let mut conn = raw_client(ClientAuth::As(ck));
        raw_handshake(&mut conn, &mut tcp).unwrap();
        assert_eq!(raw_read(&mut conn, &mut tcp, 8).unwrap(), b"unseen/1");
        let mut replies = Vec::new();
        for round in 0..3u8 {
            conn.refresh_traffic_keys().unwrap();
            let mut frame = vec![3, 0, 0, 0, 0x57, 0x7e, 1, 1];
            frame.extend_from_slice(&[round; 3]);
            conn.writer().write_all(&frame).unwrap();
            while conn.wants_write() {
                conn.write_tls(&mut tcp).unwrap();
            }
            replies.push(raw_read(&mut conn, &mut tcp, 8 + 5).unwrap());
        }
        replies
    });
    let mut server = lb.accept(&|fp| *fp == client_fp).unwrap();
    for round in 0..3u8 {
        assert_eq!(server.recv(H, 3).unwrap(), vec![round; 3]);
        server.send(H2, vec![round + 10; 5]).unwrap();
        server.flush().unwrap();
    }
    let replies = peer.join().unwrap();
    for (round, reply) in (0..3u8).zip(&replies) {
        assert_eq!(&reply[..8], &[5, 0, 0, 0, 0x57, 0x7e, 1, 2]);
        assert_eq!(&reply[8..], &[round + 10; 5]);
    }
}
