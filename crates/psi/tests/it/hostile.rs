//! A hostile follower (or leader) per message: each gives the exact typed error, no panic, no
//! large allocation.

use unseen_channel::{ChannelError, Tamper};
use unseen_crypto::Ristretto255;
use unseen_psi::msgs::{Hello, ResultHeader, header, step};
use unseen_psi::{Params, PsiError, PsiOutput, Reveal, run_follower, run_leader};
use unseen_testkit::{on_step, overlapping, raw_frame, rng, run_pair};

type Hook = unseen_channel::TamperHook;

/// Honest leader vs tampered follower; returns the leader's result.
fn leader_vs(hook: Hook, reveal: Reveal) -> Result<PsiOutput, PsiError> {
    let (a, b, _) = overlapping(7, 40, 30, 20);
    let mut p = Params::new(reveal, crate::keys());
    p.chunk = 16;
    run_pair(
        |ch| run_leader::<Ristretto255, _, _, _>(ch, &a, p, &mut rng(1), &|_| {}),
        |ch| {
            let _ = run_follower::<Ristretto255, _, _, _>(ch, &b, p, &mut rng(2), &|_| {});
        },
        Some(hook),
    )
    .0
}

/// Honest follower vs tampered leader; returns the follower's result.
fn follower_vs(hook: Hook, reveal: Reveal) -> Result<PsiOutput, PsiError> {
    let (a, b, _) = overlapping(8, 40, 30, 20);
    let mut p = Params::new(reveal, crate::keys());
    p.chunk = 16;
    run_pair(
        |ch| run_follower::<Ristretto255, _, _, _>(ch, &b, p, &mut rng(3), &|_| {}),
        |ch| {
            let _ = run_leader::<Ristretto255, _, _, _>(ch, &a, p, &mut rng(4), &|_| {});
        },
        Some(hook),
    )
    .0
}

#[test]
fn truncated_frame() {
    let hook = on_step(step::FOLLOWER_POINTS, |h, p| {
        let mut raw = raw_frame(h, p.len() as u32, p);
        raw.truncate(8 + p.len() / 2);
        Tamper::RawThenClose(raw)
    });
    let e = leader_vs(hook, Reveal::Both).unwrap_err();
    assert!(
        matches!(e, PsiError::Channel(ChannelError::Truncated { .. })),
        "{e:?}"
    );
}

#[test]
fn oversized_length_is_refused_before_allocation() {
    // 2^32 − 1 bytes announced for a point chunk: refused from the header alone.
    let hook = on_step(step::FOLLOWER_POINTS, |h, _| {
        Tamper::Raw(raw_frame(h, u32::MAX, &[]))
    });
    let e = leader_vs(hook, Reveal::Both).unwrap_err();
    match e {
        PsiError::Channel(ChannelError::FrameTooLarge { len, max, .. }) => {
            assert_eq!(len, u64::from(u32::MAX));
            assert_eq!(max, 16 * 32);
        }
        e => panic!("{e:?}"),
    }
}

#[test]
fn wrong_step() {
    let hook = on_step(step::TAGS, |_, p| {
        Tamper::Replace(header(step::RESULT), p.to_vec())
    });
    let e = leader_vs(hook, Reveal::Both).unwrap_err();
    match e {
        PsiError::Channel(ChannelError::UnexpectedFrame { expected, received }) => {
            assert_eq!(expected, header(step::TAGS));
            assert_eq!(received, header(step::RESULT));
        }
        e => panic!("{e:?}"),
    }
}

#[test]
fn invalid_point_encoding() {
    let hook = on_step(step::FOLLOWER_POINTS, |h, p| {
        let mut p = p.to_vec();
        // Point 3 of the chunk becomes a non-canonical field element (all 0xff).
        p[3 * 32..4 * 32].fill(0xff);
        Tamper::Replace(h, p)
    });
    let e = leader_vs(hook, Reveal::Both).unwrap_err();
    assert!(
        matches!(e, PsiError::InvalidPoint { index: 3, .. }),
        "{e:?}"
    );
    // The identity is refused too.
    let hook = on_step(step::FOLLOWER_POINTS, |h, p| {
        let mut p = p.to_vec();
        p[..32].fill(0);
        Tamper::Replace(h, p)
    });
    let e = leader_vs(hook, Reveal::Both).unwrap_err();
    assert!(
        matches!(e, PsiError::InvalidPoint { index: 0, .. }),
        "{e:?}"
    );
}

#[test]
fn trailing_bytes() {
    // The follower's last point chunk holds 60 − 48 = 12 points: one extra byte is within the
    // step's maximum, so the decoder (not the channel) must refuse it.
    let mut seen = 0;
    let hook: Hook = Box::new(move |_, h, p| {
        if h.step == step::FOLLOWER_POINTS {
            seen += 1;
            if seen == 4 {
                let mut p = p.to_vec();
                p.push(0);
                return Tamper::Replace(h, p);
            }
        }
        Tamper::Pass
    });
    let e = leader_vs(hook, Reveal::Both).unwrap_err();
    assert!(
        matches!(
            e,
            PsiError::BadLength {
                what: "point chunk",
                len: 385,
                expected: 384
            }
        ),
        "{e:?}"
    );
    // A hello with a trailing byte: longer than its key label says.
    let hook = on_step(step::HELLO, |h, p| {
        let mut p = p.to_vec();
        p.push(0);
        Tamper::Replace(h, p)
    });
    let e = leader_vs(hook, Reveal::Both).unwrap_err();
    assert!(
        matches!(
            e,
            PsiError::BadLength {
                what: "hello",
                len: 31,
                expected: 30
            }
        ),
        "{e:?}"
    );
    // Longer than any hello: refused from the frame header.
    let hook = on_step(step::HELLO, |h, p| {
        let mut p = p.to_vec();
        p.resize(Hello::MAX_LEN + 1, b'a');
        Tamper::Replace(h, p)
    });
    let e = leader_vs(hook, Reveal::Both).unwrap_err();
    assert!(
        matches!(
            e,
            PsiError::Channel(ChannelError::FrameTooLarge {
                len: 57,
                max: 56,
                ..
            })
        ),
        "{e:?}"
    );
}

#[test]
fn peer_announcing_2_pow_40_items() {
    let hook = on_step(step::HELLO, |h, p| {
        let mut hello = Hello::decode(p).unwrap();
        hello.items = 1 << 40;
        Tamper::Replace(h, hello.encode())
    });
    let e = leader_vs(hook, Reveal::Both).unwrap_err();
    assert!(
        matches!(
            e,
            PsiError::TooManyItems {
                announced: 1_099_511_627_776,
                max: 134_217_728
            }
        ),
        "{e:?}"
    );
}

#[test]
fn mismatched_parameters() {
    let hook = on_step(step::HELLO, |h, p| {
        let mut hello = Hello::decode(p).unwrap();
        hello.curve = unseen_crypto::CurveId::Sm2;
        Tamper::Replace(h, hello.encode())
    });
    let e = leader_vs(hook, Reveal::Both).unwrap_err();
    assert!(
        matches!(e, PsiError::Mismatch { what: "curve", .. }),
        "{e:?}"
    );
    let hook = on_step(step::HELLO, |h, p| {
        let mut hello = Hello::decode(p).unwrap();
        hello.leader = true;
        Tamper::Replace(h, hello.encode())
    });
    let e = leader_vs(hook, Reveal::Both).unwrap_err();
    assert!(
        matches!(e, PsiError::Mismatch { what: "role", .. }),
        "{e:?}"
    );
    let hook = on_step(step::HELLO, |h, p| {
        let mut p = p.to_vec();
        p[3..7].copy_from_slice(&0u32.to_le_bytes());
        Tamper::Replace(h, p)
    });
    let e = leader_vs(hook, Reveal::Both).unwrap_err();
    assert!(matches!(e, PsiError::BadHello(_)), "{e:?}");
}

#[test]
fn wrong_tag_count() {
    let hook = on_step(step::TAGS, |h, p| {
        Tamper::Replace(h, p[..p.len() - 10].to_vec())
    });
    let e = leader_vs(hook, Reveal::Both).unwrap_err();
    assert!(
        matches!(
            e,
            PsiError::BadLength {
                what: "tag chunk",
                ..
            }
        ),
        "{e:?}"
    );
}

#[test]
fn hostile_leader_results() {
    // Intersection larger than the smaller set.
    let hook = on_step(step::RESULT, |h, _| {
        Tamper::Replace(h, ResultHeader { count: 1 << 40 }.encode())
    });
    let e = follower_vs(hook, Reveal::Both).unwrap_err();
    assert!(matches!(e, PsiError::BadResult(_)), "{e:?}");
    let hook = on_step(step::RESULT, |h, _| {
        Tamper::Replace(h, ResultHeader { count: 61 }.encode())
    });
    let e = follower_vs(hook, Reveal::Cardinality).unwrap_err();
    assert!(matches!(e, PsiError::BadResult(_)), "{e:?}");
    // A position beyond our items.
    let hook = on_step(step::INDICES, |h, p| {
        let mut p = p.to_vec();
        let n = p.len();
        p[n - 4..].copy_from_slice(&1000u32.to_le_bytes());
        Tamper::Replace(h, p)
    });
    let e = follower_vs(hook, Reveal::Both).unwrap_err();
    assert!(
        matches!(e, PsiError::BadResult(ref m) if m.contains("out of range")),
        "{e:?}"
    );
    // Repeated positions.
    let hook = on_step(step::INDICES, |h, p| {
        let mut p = p.to_vec();
        let first: [u8; 4] = p[..4].try_into().unwrap();
        p[4..8].copy_from_slice(&first);
        Tamper::Replace(h, p)
    });
    let e = follower_vs(hook, Reveal::Both).unwrap_err();
    assert!(
        matches!(e, PsiError::BadResult(ref m) if m.contains("ascending")),
        "{e:?}"
    );
    // Invalid point from the leader.
    let hook = on_step(step::LEADER_POINTS, |h, p| {
        let mut p = p.to_vec();
        p[32..64].fill(0xee);
        Tamper::Replace(h, p)
    });
    let e = follower_vs(hook, Reveal::Both).unwrap_err();
    assert!(
        matches!(e, PsiError::InvalidPoint { index: 1, .. }),
        "{e:?}"
    );
}

#[test]
fn fuzz_entry_point_survives_garbage() {
    let mut r = rng(9);
    use rand_core::Rng;
    for len in 0..300 {
        let mut v = vec![0u8; len];
        r.fill_bytes(&mut v);
        for sel in 0..6u8 {
            if let Some(b) = v.first_mut() {
                *b = sel;
            }
            unseen_psi::msgs::fuzz_decode(&v);
        }
    }
}
