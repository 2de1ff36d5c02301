//! Parameters both parties must agree on (key type) and limits each sets for the other: a
//! disagreement fails *both* honest parties at the hello, each naming both values.

use unseen_channel::Tamper;
use unseen_crypto::{CurveId, PsiGroup, Ristretto255, Sm2};
use unseen_psi::msgs::{Hello, step};
use unseen_psi::{
    KeyLabel, Params, PsiError, PsiOutput, Reveal, hash_dst, run_follower, run_leader,
};
use unseen_testkit::{on_step, overlapping, rng, run_pair};

fn label(s: &str) -> KeyLabel {
    KeyLabel::new(s).unwrap()
}

/// Both honest roles with their own parameters; returns (leader, follower) results.
fn pair(
    a: &[String],
    b: &[String],
    pa: Params,
    pb: Params,
) -> (Result<PsiOutput, PsiError>, Result<PsiOutput, PsiError>) {
    run_pair(
        |ch| run_leader::<Ristretto255, _, _, _>(ch, a, pa, &mut rng(11), &|_| {}),
        |ch| run_follower::<Ristretto255, _, _, _>(ch, b, pb, &mut rng(12), &|_| {}),
        None,
    )
}

#[test]
fn different_key_types_fail_both_sides_naming_both() {
    // Issue 13 item 14: id-card on one side, string on the other used to match a subset.
    let (a, b, _) = overlapping(21, 30, 5, 5);
    for reveal in [Reveal::Both, Reveal::LeaderOnly, Reveal::Cardinality] {
        let pa = Params::new(reveal, label("id-card"));
        let pb = Params::new(reveal, label("string"));
        let (l, f) = pair(&a, &b, pa, pb);
        let l = l.unwrap_err();
        let f = f.unwrap_err();
        match (&l, &f) {
            (
                PsiError::KeyTypeMismatch {
                    ours: lo,
                    theirs: lt,
                },
                PsiError::KeyTypeMismatch {
                    ours: fo,
                    theirs: ft,
                },
            ) => {
                assert_eq!((lo.as_str(), lt.as_str()), ("id-card", "string"));
                assert_eq!((fo.as_str(), ft.as_str()), ("string", "id-card"));
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(
            f.to_string(),
            "key type mismatch: the partner reads keys as id-card, this side as string; both \
             sides must use the same key type"
        );
    }
}

#[test]
fn peer_over_the_limit_fails_both_sides_before_any_point() {
    // Issue 13 item 12: the limit is checked when the hello is decoded, on both sides.
    let (a, b, _) = overlapping(22, 6, 4, 5); // 10 and 11 items
    let mut pa = Params::new(Reveal::Both, crate::keys());
    pa.max_peer_items = 10;
    let pb = Params::new(Reveal::Both, crate::keys());
    let (l, f) = pair(&a, &b, pa, pb);
    assert!(
        matches!(
            l,
            Err(PsiError::TooManyItems {
                announced: 11,
                max: 10
            })
        ),
        "{l:?}"
    );
    let f = f.unwrap_err();
    assert!(
        matches!(f, PsiError::TooManyForPeer { items: 11, max: 10 }),
        "{f:?}"
    );
    assert_eq!(
        f.to_string(),
        "this side has 11 items, the partner accepts at most 10"
    );
    // Exactly at the limit is fine.
    pa.max_peer_items = 11;
    let (l, f) = pair(&a, &b, pa, pb);
    assert_eq!(l.unwrap().cardinality, Some(6));
    assert_eq!(f.unwrap().cardinality, Some(6));
}

#[test]
fn the_default_peer_limit_is_2_pow_27() {
    let p = Params::new(Reveal::Both, crate::keys());
    assert_eq!(p.max_peer_items, 1 << 27);
    // A limit beyond what the protocol supports is a local error.
    let (a, b, _) = overlapping(23, 2, 1, 1);
    let mut pa = p;
    pa.max_peer_items = 1 << 40;
    let (l, _) = pair(&a, &b, pa, p);
    assert!(matches!(l, Err(PsiError::Local(_))), "{l:?}");
}

#[test]
fn a_peer_claiming_our_key_type_still_matches_nothing() {
    // A follower that hashes under `string` but announces `id-card` passes the leader's hello
    // check; the hash domain still keeps its points from matching (and the follower's own
    // check, seeing the leader's `id-card`, fails it).
    let (a, b, _) = overlapping(24, 20, 3, 3);
    let pa = Params::new(Reveal::Both, label("id-card"));
    let pb = Params::new(Reveal::Both, label("string"));
    let hook = on_step(step::HELLO, |h, p| {
        let mut hello = Hello::decode(p).unwrap();
        hello.keys = KeyLabel::new("id-card").unwrap();
        Tamper::Replace(h, hello.encode())
    });
    let (l, f) = run_pair(
        |ch| run_leader::<Ristretto255, _, _, _>(ch, &a, pa, &mut rng(13), &|_| {}),
        |ch| run_follower::<Ristretto255, _, _, _>(ch, &b, pb, &mut rng(14), &|_| {}),
        Some(hook),
    );
    assert!(matches!(f, Err(PsiError::KeyTypeMismatch { .. })), "{f:?}");
    // The leader either sees the follower's connection end or, had it run on, no match: it
    // must never report common items.
    if let Ok(out) = l {
        assert_eq!(out.intersection, Some(vec![]));
    }
}

#[test]
fn hash_domain_holds_curve_mode_and_key_type() {
    let d = hash_dst(CurveId::Ristretto255, Reveal::Both, &label("id-card"));
    assert_eq!(
        d,
        b"UNSEEN-V02-ECDH-PSI-ristretto255_XMD:SHA-512_R255MAP_RO_-both-id-card"
    );
    let s = hash_dst(CurveId::Sm2, Reveal::Cardinality, &label("phone"));
    assert_eq!(
        s,
        b"UNSEEN-V02-ECDH-PSI-SM2_XMD:SM3_SSWU_RO_-cardinality-phone"
    );
    let x = b"11010119900101123X";
    let other = hash_dst(CurveId::Ristretto255, Reveal::Both, &label("string"));
    let enc = |dst: &[u8]| {
        let mut o = [0u8; 32];
        Ristretto255::encode(&Ristretto255::hash_to_group(dst, x).unwrap(), &mut o).unwrap();
        o
    };
    assert_ne!(enc(&d), enc(&other));
    let mode = hash_dst(CurveId::Ristretto255, Reveal::LeaderOnly, &label("id-card"));
    assert_ne!(enc(&d), enc(&mode));
    // SM2 under both labels as well.
    let sd = hash_dst(CurveId::Sm2, Reveal::Both, &label("id-card"));
    let so = hash_dst(CurveId::Sm2, Reveal::Both, &label("string"));
    let p1 = Sm2::hash_to_group(&sd, x).unwrap();
    let p2 = Sm2::hash_to_group(&so, x).unwrap();
    let (mut e1, mut e2) = ([0u8; 33], [0u8; 33]);
    Sm2::encode(&p1, &mut e1).unwrap();
    Sm2::encode(&p2, &mut e2).unwrap();
    assert_ne!(e1, e2);
}

#[test]
fn hello_round_trips_and_refuses_bad_labels() {
    let h = Hello {
        curve: CurveId::Sm2,
        reveal: Reveal::Cardinality,
        leader: true,
        chunk: 8192,
        items: 1_000_000,
        max_peer_items: 1 << 27,
        keys: label("id-card"),
    };
    let enc = h.encode();
    assert_eq!(enc.len(), Hello::FIXED_LEN + 7);
    assert_eq!(Hello::decode(&enc).unwrap(), h);
    // Label bytes outside the alphabet.
    let mut bad = enc.clone();
    bad[Hello::FIXED_LEN] = b'I';
    assert!(matches!(Hello::decode(&bad), Err(PsiError::BadHello(_))));
    // An empty label.
    let mut empty = enc[..Hello::FIXED_LEN].to_vec();
    empty[Hello::FIXED_LEN - 1] = 0;
    assert!(matches!(Hello::decode(&empty), Err(PsiError::BadHello(_))));
    // A length byte promising more than is there.
    let mut short = enc.clone();
    short[Hello::FIXED_LEN - 1] = 9;
    assert!(matches!(
        Hello::decode(&short),
        Err(PsiError::BadLength {
            what: "hello",
            len: 31,
            expected: 33
        })
    ));
    assert!(matches!(
        Hello::decode(&enc[..10]),
        Err(PsiError::BadLength { what: "hello", .. })
    ));
}
