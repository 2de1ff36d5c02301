//! Keyword PIR with a hostile peer, one test per message: truncated, oversized, invalid point,
//! wrong step, trailing bytes, each with the exact typed error and no panic.

use unseen_channel::{ChannelError, Tamper};
use unseen_crypto::aead::AeadAlg;
use unseen_crypto::{Ristretto255, Sm2};
use unseen_pir::PirError;
use unseen_pir::keyword::msgs::{Setup, header, max_blinded_len, step};
use unseen_pir::keyword::{
    ClientConfig, ClientOutput, HintCache, KeywordServer, LookupMode, MAX_KEYS, ServerLimits,
    ServerReport, TableConfig, run_client, run_server,
};
use unseen_testkit::{on_step, raw_frame, rng, run_pair};

use crate::keyword::{build, entries};

type Hook = unseen_channel::TamperHook;

fn server() -> KeywordServer<Ristretto255> {
    build::<Ristretto255>(
        &entries(40, 50, 12),
        TableConfig::new(AeadAlg::Aes256Gcm, 12),
        41,
    )
}

fn keys() -> Vec<String> {
    entries(40, 3, 12).into_iter().map(|(k, _)| k).collect()
}

/// Honest server vs tampered client in `mode`; the server's result.
fn server_vs_in(mode: LookupMode, hook: Hook) -> Result<ServerReport, PirError> {
    let server = server();
    let keys = keys();
    let keys: Vec<&[u8]> = keys.iter().map(String::as_bytes).collect();
    run_pair(
        |ch| run_server(ch, &server, &ServerLimits::default()),
        |ch| {
            let _ = run_client::<Ristretto255, _, _>(
                ch,
                ClientConfig::new(AeadAlg::Aes256Gcm),
                mode,
                None,
                &keys,
                &mut rng(1),
            );
        },
        Some(hook),
    )
    .0
}

fn server_vs(hook: Hook) -> Result<ServerReport, PirError> {
    server_vs_in(LookupMode::Private, hook)
}

/// Honest client (in `mode`, with `cache`) vs tampered `server`; the client's result.
fn client_vs_with(
    server: &KeywordServer<Ristretto255>,
    mode: LookupMode,
    cache: Option<HintCache>,
    hook: Hook,
) -> Result<ClientOutput, PirError> {
    let keys = keys();
    let keys: Vec<&[u8]> = keys.iter().map(String::as_bytes).collect();
    run_pair(
        |ch| {
            run_client::<Ristretto255, _, _>(
                ch,
                ClientConfig::new(AeadAlg::Aes256Gcm),
                mode,
                cache,
                &keys,
                &mut rng(2),
            )
        },
        |ch| {
            let _ = run_server(ch, server, &ServerLimits::default());
        },
        Some(hook),
    )
    .0
}

fn client_vs(hook: Hook) -> Result<ClientOutput, PirError> {
    client_vs_with(&server(), LookupMode::Private, None, hook)
}

fn replace(s: u8, f: impl Fn(&mut Vec<u8>) + Send + 'static) -> Hook {
    on_step(s, move |h, p| {
        let mut p = p.to_vec();
        f(&mut p);
        Tamper::Replace(h, p)
    })
}

fn truncate(s: u8) -> Hook {
    on_step(s, |h, p| {
        let mut raw = raw_frame(h, p.len() as u32, p);
        raw.truncate(8 + p.len() / 2);
        Tamper::RawThenClose(raw)
    })
}

fn oversize(s: u8) -> Hook {
    on_step(s, |h, _| Tamper::Raw(raw_frame(h, u32::MAX, &[])))
}

fn is_truncated(e: &PirError) -> bool {
    matches!(e, PirError::Channel(ChannelError::Truncated { .. }))
}

fn too_large(e: &PirError) -> Option<u64> {
    match e {
        PirError::Channel(ChannelError::FrameTooLarge { len, max, .. }) => {
            assert_eq!(*len, u64::from(u32::MAX));
            Some(*max)
        }
        _ => None,
    }
}

// --- a hostile client, every message the server receives ---

#[test]
fn blinded_truncated_oversized_trailing() {
    let e = server_vs(truncate(step::BLINDED)).unwrap_err();
    assert!(is_truncated(&e), "{e:?}");
    let e = server_vs(oversize(step::BLINDED)).unwrap_err();
    assert_eq!(too_large(&e), Some(max_blinded_len(32) as u64), "{e:?}");
    let e = server_vs(replace(step::BLINDED, |p| p.push(0))).unwrap_err();
    assert!(
        matches!(
            e,
            PirError::BadMessage {
                what: "blinded elements",
                len: 97,
                expected: 96
            }
        ),
        "{e:?}"
    );
    // A count above the limit (the channel allows the bytes; the decoder refuses the count).
    let e = server_vs(replace(step::BLINDED, |p| {
        p[..4].copy_from_slice(&(MAX_KEYS as u32 + 1).to_le_bytes());
    }))
    .unwrap_err();
    assert!(
        matches!(e, PirError::TooManyKeys { got: 65, max: 64 }),
        "{e:?}"
    );
    // Fewer than four bytes.
    let e = server_vs(replace(step::BLINDED, |p| p.truncate(3))).unwrap_err();
    assert!(
        matches!(
            e,
            PirError::BadMessage {
                what: "blinded batch",
                len: 3,
                ..
            }
        ),
        "{e:?}"
    );
}

#[test]
fn blinded_invalid_point() {
    // Element 1 becomes a non-canonical encoding, then the identity.
    let e = server_vs(replace(step::BLINDED, |p| p[4 + 32..4 + 64].fill(0xff))).unwrap_err();
    assert!(
        matches!(e, PirError::InvalidElement { index: 1, .. }),
        "{e:?}"
    );
    let e = server_vs(replace(step::BLINDED, |p| p[4 + 64..4 + 96].fill(0))).unwrap_err();
    assert!(
        matches!(e, PirError::InvalidElement { index: 2, .. }),
        "{e:?}"
    );
}

#[test]
fn query_truncated_oversized_short_wrong_step() {
    let s = server();
    let qb = s.params().query_bytes();
    // 3 keys, one query each, in one message.
    let e = server_vs(truncate(step::QUERY)).unwrap_err();
    assert!(is_truncated(&e), "{e:?}");
    let e = server_vs(oversize(step::QUERY)).unwrap_err();
    assert_eq!(too_large(&e), Some(3 * qb as u64), "{e:?}");
    let e = server_vs(replace(step::QUERY, |p| {
        p.pop();
    }))
    .unwrap_err();
    assert!(
        matches!(e, PirError::BadMessage { what: "query chunk", len, expected } if len + 1 == expected && expected == 3 * qb),
        "{e:?}"
    );
    let e = server_vs(on_step(step::QUERY, |_, p| {
        Tamper::Replace(header(step::ANSWER), p.to_vec())
    }))
    .unwrap_err();
    assert!(
        matches!(
            e,
            PirError::Channel(ChannelError::UnexpectedFrame { expected, received })
                if expected == header(step::QUERY) && received == header(step::ANSWER)
        ),
        "{e:?}"
    );
}

#[test]
fn blinded_wrong_step_and_client_gone() {
    let e = server_vs(on_step(step::BLINDED, |_, p| {
        Tamper::Replace(header(step::EVALUATED), p.to_vec())
    }))
    .unwrap_err();
    assert!(
        matches!(e, PirError::Channel(ChannelError::UnexpectedFrame { .. })),
        "{e:?}"
    );
    // The client closes instead of ending the session.
    let e = server_vs(on_step(step::BLINDED, |_, _| Tamper::RawThenClose(vec![]))).unwrap_err();
    assert!(
        matches!(e, PirError::Channel(ChannelError::Closed { .. })),
        "{e:?}"
    );
}

// --- a hostile server, every message the client receives ---

#[test]
fn setup_truncated_oversized_malformed() {
    let e = client_vs(truncate(step::SETUP)).unwrap_err();
    assert!(is_truncated(&e), "{e:?}");
    let e = client_vs(oversize(step::SETUP)).unwrap_err();
    assert_eq!(too_large(&e), Some(Setup::max_len(0xffff) as u64), "{e:?}");
    let e = client_vs(replace(step::SETUP, |p| p.truncate(123))).unwrap_err();
    assert!(
        matches!(
            e,
            PirError::BadMessage {
                what: "setup",
                len: 123,
                expected: 124
            }
        ),
        "{e:?}"
    );
    let e = client_vs(replace(step::SETUP, |p| p.push(0))).unwrap_err();
    assert!(
        matches!(e, PirError::BadMessage { what: "setup", .. }),
        "{e:?}"
    );
    // Out-of-range fields.
    for (at, byte, what) in [
        (0usize, 0x07u8, "unknown OPRF suite"),
        (1, 0x09, "unknown AEAD"),
        (2, 17, "records per key outside 1..=16"),
        (3, 3, "unknown hint kind"),
        (16, 1, "changed rows announced without a row update"),
        (118, 2, "metadata longer than 64 KiB"),
        (121, 2, "stash larger than 256 entries"),
        (108, 0, "groups do not divide the buckets"),
        (10, 0x40, "bucket count outside 1..=2^21"),
    ] {
        let e = client_vs(replace(step::SETUP, move |p| p[at] = byte)).unwrap_err();
        assert!(
            matches!(e, PirError::BadSetup(w) if w == what),
            "{at}: {e:?}"
        );
    }
    // A table of 2^21 · 2^20 slots: refused before anything is allocated.
    let e = client_vs(replace(step::SETUP, |p| {
        p[8..12].copy_from_slice(&(1u32 << 21).to_le_bytes());
        p[12..16].copy_from_slice(&(1u32 << 20).to_le_bytes());
    }))
    .unwrap_err();
    assert!(
        matches!(e, PirError::BadSetup("slot count outside 1..=2^28")),
        "{e:?}"
    );
    // Changed rows, or no hint, for a client that holds none.
    for (kind, rows) in [(2u8, 1u32), (0, 0)] {
        let e = client_vs(replace(step::SETUP, move |p| {
            p[3] = kind;
            p[16..20].copy_from_slice(&rows.to_le_bytes());
        }))
        .unwrap_err();
        assert!(matches!(e, PirError::NoHintToUpdate), "{e:?}");
    }
    // Another suite.
    let e = client_vs(replace(step::SETUP, |p| p[0] = 0x02)).unwrap_err();
    assert!(
        matches!(
            e,
            PirError::Mismatch {
                what: "OPRF suite",
                ..
            }
        ),
        "{e:?}"
    );
}

#[test]
fn hint_truncated_oversized_short_wrong_step() {
    let e = client_vs(truncate(step::HINT)).unwrap_err();
    assert!(is_truncated(&e), "{e:?}");
    let s = server();
    let e = client_vs(oversize(step::HINT)).unwrap_err();
    assert_eq!(too_large(&e), Some(s.params().hint_bytes() as u64), "{e:?}");
    let e = client_vs(replace(step::HINT, |p| p.truncate(p.len() - 4))).unwrap_err();
    assert!(
        matches!(
            e,
            PirError::BadMessage {
                what: "hint chunk",
                ..
            }
        ),
        "{e:?}"
    );
    let e = client_vs(on_step(step::HINT, |_, p| {
        Tamper::Replace(header(step::EVALUATED), p.to_vec())
    }))
    .unwrap_err();
    assert!(
        matches!(e, PirError::Channel(ChannelError::UnexpectedFrame { .. })),
        "{e:?}"
    );
}

#[test]
fn evaluated_invalid_point_truncated_oversized_short() {
    let e = client_vs(replace(step::EVALUATED, |p| p[32..64].fill(0xff))).unwrap_err();
    assert!(
        matches!(e, PirError::InvalidElement { index: 1, .. }),
        "{e:?}"
    );
    let e = client_vs(replace(step::EVALUATED, |p| p[..32].fill(0))).unwrap_err();
    assert!(
        matches!(e, PirError::InvalidElement { index: 0, .. }),
        "{e:?}"
    );
    let e = client_vs(truncate(step::EVALUATED)).unwrap_err();
    assert!(is_truncated(&e), "{e:?}");
    let e = client_vs(oversize(step::EVALUATED)).unwrap_err();
    assert_eq!(too_large(&e), Some(3 * 32), "{e:?}");
    let e = client_vs(replace(step::EVALUATED, |p| {
        p.pop();
    }))
    .unwrap_err();
    assert!(
        matches!(
            e,
            PirError::BadMessage {
                what: "evaluated elements",
                len: 95,
                expected: 96
            }
        ),
        "{e:?}"
    );
}

#[test]
fn answer_truncated_oversized_short_wrong_step() {
    let s = server();
    let ab = s.params().answer_bytes();
    let e = client_vs(truncate(step::ANSWER)).unwrap_err();
    assert!(is_truncated(&e), "{e:?}");
    let e = client_vs(oversize(step::ANSWER)).unwrap_err();
    assert_eq!(too_large(&e), Some(3 * ab as u64), "{e:?}");
    let e = client_vs(replace(step::ANSWER, |p| p.truncate(p.len() - 4))).unwrap_err();
    assert!(
        matches!(e, PirError::BadMessage { what: "answer chunk", len, expected } if len + 4 == expected),
        "{e:?}"
    );
    let e = client_vs(on_step(step::ANSWER, |_, p| {
        Tamper::Replace(header(step::HINT), p.to_vec())
    }))
    .unwrap_err();
    assert!(
        matches!(e, PirError::Channel(ChannelError::UnexpectedFrame { .. })),
        "{e:?}"
    );
}

#[test]
fn garbage_answers_give_not_found_not_a_panic() {
    // A server that answers with random words: nothing authenticates, every key is "absent".
    let out = client_vs(replace(step::ANSWER, |p| {
        for (i, b) in p.iter_mut().enumerate() {
            *b = (i as u8).wrapping_mul(31).wrapping_add(7);
        }
    }))
    .unwrap();
    assert!(out.records.iter().all(Vec::is_empty));
}

#[test]
fn fuzz_decode_never_panics() {
    let mut r = rng(50);
    for len in [0usize, 1, 3, 4, 5, 37, 88, 89, 100, 200, 2000] {
        for sel in 0u8..11 {
            let mut data = vec![sel; len + 1];
            rand_core::Rng::fill_bytes(&mut r, &mut data[1..]);
            unseen_pir::keyword::msgs::fuzz_decode(&data);
        }
    }
}

#[test]
fn setup_and_evaluated_wrong_step_hint_trailing_byte() {
    let e = client_vs(on_step(step::SETUP, |_, p| {
        Tamper::Replace(header(step::HINT), p.to_vec())
    }))
    .unwrap_err();
    assert!(
        matches!(
            e,
            PirError::Channel(ChannelError::UnexpectedFrame { expected, received })
                if expected == header(step::SETUP) && received == header(step::HINT)
        ),
        "{e:?}"
    );
    let e = client_vs(on_step(step::EVALUATED, |_, p| {
        Tamper::Replace(header(step::ANSWER), p.to_vec())
    }))
    .unwrap_err();
    assert!(
        matches!(
            e,
            PirError::Channel(ChannelError::UnexpectedFrame { expected, received })
                if expected == header(step::EVALUATED) && received == header(step::ANSWER)
        ),
        "{e:?}"
    );
    // One byte more than the hint message may carry: refused from the frame header.
    let s = server();
    let e = client_vs(replace(step::HINT, |p| p.push(0))).unwrap_err();
    assert!(
        matches!(
            e,
            PirError::Channel(ChannelError::FrameTooLarge { len, max, .. })
                if max == s.params().hint_bytes() as u64 && len == max + 1
        ),
        "{e:?}"
    );
    // A protocol id of another protocol (ECDH-PSI's 0x0001) at the setup.
    let e = client_vs(on_step(step::SETUP, |h, p| {
        Tamper::Replace(
            unseen_channel::Header::new(0x0001, h.version, h.step),
            p.to_vec(),
        )
    }))
    .unwrap_err();
    assert!(
        matches!(e, PirError::Channel(ChannelError::UnexpectedFrame { .. })),
        "{e:?}"
    );
}

#[test]
fn sm2_blinded_invalid_point() {
    // The 国密 profile: 33-byte SEC1 points; a point off the curve, then a bad tag byte.
    let server = build::<Sm2>(
        &entries(42, 20, 8),
        TableConfig::new(AeadAlg::Sm4Gcm, 8),
        43,
    );
    let keys = keys();
    let keys: Vec<&[u8]> = keys.iter().map(String::as_bytes).collect();
    for (at, f) in [
        (
            1usize,
            (|p: &mut Vec<u8>| p[4 + 33 + 1..4 + 66].fill(0xff)) as fn(&mut Vec<u8>),
        ),
        (2, |p: &mut Vec<u8>| p[4 + 66] = 0x05),
    ] {
        let (s, _) = run_pair(
            |ch| run_server(ch, &server, &ServerLimits::default()),
            |ch| {
                let _ = run_client::<Sm2, _, _>(
                    ch,
                    ClientConfig::new(AeadAlg::Sm4Gcm),
                    LookupMode::Private,
                    None,
                    &keys,
                    &mut rng(3),
                );
            },
            Some(replace(step::BLINDED, f)),
        );
        let e = s.unwrap_err();
        assert!(
            matches!(e, PirError::InvalidElement { index, .. } if index == at),
            "{e:?}"
        );
    }
}

#[test]
fn hello_truncated_oversized_malformed() {
    let e = server_vs(truncate(step::HELLO)).unwrap_err();
    assert!(is_truncated(&e), "{e:?}");
    let e = server_vs(oversize(step::HELLO)).unwrap_err();
    assert_eq!(too_large(&e), Some(30), "{e:?}");
    let e = server_vs(replace(step::HELLO, |p| p.truncate(29))).unwrap_err();
    assert!(
        matches!(
            e,
            PirError::BadMessage {
                what: "hello",
                len: 29,
                expected: 30
            }
        ),
        "{e:?}"
    );
    for at in [0usize, 1] {
        let e = server_vs(replace(step::HELLO, move |p| p[at] = 2)).unwrap_err();
        assert!(matches!(e, PirError::BadHello(_)), "{e:?}");
    }
    let e = server_vs(on_step(step::HELLO, |_, p| {
        Tamper::Replace(header(step::BLINDED), p.to_vec())
    }))
    .unwrap_err();
    assert!(
        matches!(e, PirError::Channel(ChannelError::UnexpectedFrame { .. })),
        "{e:?}"
    );
}

/// A client with an old hint and a server that changed: the changed rows are checked (in range,
/// increasing), and a truncated or oversized row message is refused.
#[test]
fn hint_rows_out_of_order_truncated_oversized() {
    let data = entries(40, 50, 12);
    let mut server = server();
    let keys = keys();
    let (_, first) = crate::keyword::session(&server, AeadAlg::Aes256Gcm, &keys, 5);
    let mut changed = data.clone();
    changed[7].1 = b"changed".to_vec();
    let pairs: Vec<(&[u8], &[u8])> = changed
        .iter()
        .map(|(k, v)| (k.as_bytes(), v.as_slice()))
        .collect();
    let report = server.sync(&pairs, &mut rng(6)).unwrap();
    assert!(
        !report.rebuilt && report.hint_rows_changed >= 2,
        "{report:?}"
    );
    let cache = first.cache;
    let rows_len = report.hint_rows_changed * (4 + 4096);
    // Honest: works.
    let ok = client_vs_with(
        &server,
        LookupMode::Private,
        cache.clone(),
        Box::new(|_, _, _| Tamper::Pass),
    );
    assert!(ok.is_ok(), "{ok:?}");
    // Second row index equal to the first: out of order.
    let e = client_vs_with(
        &server,
        LookupMode::Private,
        cache.clone(),
        replace(step::HINT_ROWS, |p| {
            let first: [u8; 4] = p[..4].try_into().unwrap();
            p[4100..4104].copy_from_slice(&first);
        }),
    )
    .unwrap_err();
    assert!(matches!(e, PirError::BadHintRow { .. }), "{e:?}");
    // A row beyond the hint.
    let e = client_vs_with(
        &server,
        LookupMode::Private,
        cache.clone(),
        replace(step::HINT_ROWS, |p| {
            p[..4].copy_from_slice(&u32::MAX.to_le_bytes())
        }),
    )
    .unwrap_err();
    assert!(
        matches!(e, PirError::BadHintRow { row } if row == u32::MAX as usize),
        "{e:?}"
    );
    let e = client_vs_with(
        &server,
        LookupMode::Private,
        cache.clone(),
        truncate(step::HINT_ROWS),
    )
    .unwrap_err();
    assert!(is_truncated(&e), "{e:?}");
    let e = client_vs_with(
        &server,
        LookupMode::Private,
        cache,
        oversize(step::HINT_ROWS),
    )
    .unwrap_err();
    assert_eq!(too_large(&e), Some(rows_len as u64), "{e:?}");
}

/// The bucket-revealing mode: hostile bucket requests (count, range, length) and bucket replies.
#[test]
fn buckets_hostile_both_ways() {
    let reveal = LookupMode::RevealBucket { min_keys: 1 };
    let e = server_vs_in(
        reveal,
        replace(step::BUCKETS, |p| {
            p[4..8].copy_from_slice(&u32::MAX.to_le_bytes())
        }),
    )
    .unwrap_err();
    assert!(
        matches!(e, PirError::IndexOutOfRange { index, .. } if index == u32::MAX as usize),
        "{e:?}"
    );
    let e = server_vs_in(
        reveal,
        replace(step::BUCKETS, |p| {
            p[..4].copy_from_slice(&2u32.to_le_bytes())
        }),
    )
    .unwrap_err();
    assert!(
        matches!(
            e,
            PirError::CountMismatch {
                what: "buckets",
                got: 2,
                expected: 3
            }
        ),
        "{e:?}"
    );
    let e = server_vs_in(reveal, replace(step::BUCKETS, |p| p.push(0))).unwrap_err();
    assert!(
        matches!(
            e,
            PirError::BadMessage {
                what: "buckets",
                ..
            }
        ),
        "{e:?}"
    );
    let e = server_vs_in(reveal, oversize(step::BUCKETS)).unwrap_err();
    assert_eq!(too_large(&e), Some(4 + 4 * MAX_KEYS as u64), "{e:?}");
    // The client's side: a truncated, oversized, short or garbled bucket.
    let s = server();
    let info = s.info();
    // The honest session: the setup announces the grouping, each bucket message is one group of
    // m/g buckets of C slots.
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let log = seen.clone();
    let hook: Hook = Box::new(move |_, h, p| {
        log.lock().unwrap().push((h.step, p.to_vec()));
        Tamper::Pass
    });
    client_vs_with(&s, reveal, None, hook).unwrap();
    let seen = seen.lock().unwrap().clone();
    let setup = seen.iter().find(|(st, _)| *st == step::SETUP).unwrap();
    let setup = Setup::decode(&setup.1).unwrap();
    let bucket_len = info.buckets / setup.reveal_groups
        * info.bucket_capacity
        * unseen_pir::keyword::entry_len(info.max_record_len);
    let sent: Vec<usize> = seen
        .iter()
        .filter(|(st, _)| *st == step::BUCKET)
        .map(|(_, p)| p.len())
        .collect();
    assert_eq!(sent, vec![bucket_len; keys().len()]);
    let e = client_vs_with(&s, reveal, None, truncate(step::BUCKET)).unwrap_err();
    assert!(is_truncated(&e), "{e:?}");
    let e = client_vs_with(&s, reveal, None, oversize(step::BUCKET)).unwrap_err();
    assert_eq!(too_large(&e), Some(bucket_len as u64), "{e:?}");
    let e = client_vs_with(
        &s,
        reveal,
        None,
        replace(step::BUCKET, |p| {
            p.pop();
        }),
    )
    .unwrap_err();
    assert!(
        matches!(e, PirError::BadMessage { what: "bucket", len, expected } if len + 1 == expected),
        "{e:?}"
    );
    // The first key's group garbled: that key is not found (unless in the stash), the others are.
    let out = client_vs_with(&s, reveal, None, replace(step::BUCKET, |p| p.fill(0x33))).unwrap();
    assert_eq!(out.records[0].is_empty(), s.info().stash == 0);
    assert!(out.records[1..].iter().all(|r| r.len() == 1));
}

/// A message of the right size under another step, for the messages the other tests cover only
/// for length: changed hint rows, bucket requests and buckets.
#[test]
fn hint_rows_buckets_bucket_wrong_step() {
    let wrong =
        |s: u8, instead: u8| on_step(s, move |_, p| Tamper::Replace(header(instead), p.to_vec()));
    let unexpected = |e: &PirError, expected: u8, received: u8| {
        matches!(
            e,
            PirError::Channel(ChannelError::UnexpectedFrame { expected: x, received: r })
                if *x == header(expected) && *r == header(received)
        )
    };
    let reveal = LookupMode::RevealBucket { min_keys: 1 };
    let e = server_vs_in(reveal, wrong(step::BUCKETS, step::QUERY)).unwrap_err();
    assert!(unexpected(&e, step::BUCKETS, step::QUERY), "{e:?}");
    let s = server();
    let e = client_vs_with(&s, reveal, None, wrong(step::BUCKET, step::ANSWER)).unwrap_err();
    assert!(unexpected(&e, step::BUCKET, step::ANSWER), "{e:?}");
    // Changed hint rows sent as a full-hint message.
    let mut server = server();
    let keys = keys();
    let (_, first) = crate::keyword::session(&server, AeadAlg::Aes256Gcm, &keys, 7);
    let mut data = entries(40, 50, 12);
    data[3].1 = b"changed".to_vec();
    let pairs: Vec<(&[u8], &[u8])> = data
        .iter()
        .map(|(k, v)| (k.as_bytes(), v.as_slice()))
        .collect();
    server.sync(&pairs, &mut rng(8)).unwrap();
    let e = client_vs_with(
        &server,
        LookupMode::Private,
        first.cache,
        wrong(step::HINT_ROWS, step::HINT),
    )
    .unwrap_err();
    assert!(unexpected(&e, step::HINT_ROWS, step::HINT), "{e:?}");
}
