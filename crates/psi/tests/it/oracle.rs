use unseen_crypto::{PsiGroup, Ristretto255, Sm2};
use unseen_psi::{Params, PsiOutput, Reveal, run_follower, run_leader};
use unseen_testkit::{overlapping, plain_intersection, rng, run_pair};

fn run<G: PsiGroup>(
    a: &[String],
    b: &[String],
    reveal: Reveal,
    chunk: u32,
    seed: u64,
) -> (PsiOutput, PsiOutput) {
    let mut pa = Params::new(reveal, crate::keys());
    pa.chunk = chunk;
    let mut pb = pa;
    // Different chunk sizes on both sides exercise the announced-chunk logic.
    pb.chunk = chunk + 3;
    run_pair(
        |ch| run_leader::<G, _, _, _>(ch, a, pa, &mut rng(seed), &|_| {}).unwrap(),
        |ch| run_follower::<G, _, _, _>(ch, b, pb, &mut rng(seed + 1), &|_| {}).unwrap(),
        None,
    )
}

fn rows(items: &[String], idx: &[usize]) -> Vec<String> {
    idx.iter().map(|&i| items[i].clone()).collect()
}

/// Checks both outputs in full against the plaintext intersection.
fn check<G: PsiGroup>(a: &[String], b: &[String], reveal: Reveal, chunk: u32, seed: u64) {
    let want = plain_intersection(a, b);
    let (la, fb) = run::<G>(a, b, reveal, chunk, seed);
    assert_eq!(la.peer_items, b.len() as u64);
    assert_eq!(fb.peer_items, a.len() as u64);
    match reveal {
        Reveal::Both => {
            let l = rows(a, la.intersection.as_ref().unwrap());
            let f = rows(b, fb.intersection.as_ref().unwrap());
            assert_eq!(l, want, "leader rows");
            // Aligned: row i of both outputs is the same customer.
            assert_eq!(f, want, "follower rows (aligned with the leader's)");
            assert_eq!(la.cardinality, Some(want.len() as u64));
            assert_eq!(fb.cardinality, Some(want.len() as u64));
        }
        Reveal::LeaderOnly => {
            assert_eq!(rows(a, la.intersection.as_ref().unwrap()), want);
            assert_eq!(fb.intersection, None);
            assert_eq!(fb.cardinality, None);
        }
        Reveal::Cardinality => {
            assert_eq!(la.intersection, None);
            assert_eq!(fb.intersection, None);
            assert_eq!(la.cardinality, Some(want.len() as u64));
            assert_eq!(fb.cardinality, Some(want.len() as u64));
        }
    }
    // Both sides counted the same traffic.
    assert_eq!(la.stats.bytes_sent, fb.stats.bytes_received);
    assert_eq!(la.stats.bytes_received, fb.stats.bytes_sent);
}

const MODES: [Reveal; 3] = [Reveal::Both, Reveal::LeaderOnly, Reveal::Cardinality];

#[test]
fn ristretto_all_modes_multi_chunk() {
    for (i, mode) in MODES.into_iter().enumerate() {
        // Leader has more chunks than the follower, then fewer.
        let (a, b, _) = overlapping(10 + i as u64, 300, 200, 50);
        check::<Ristretto255>(&a, &b, mode, 37, 1);
        let (a, b, _) = overlapping(20 + i as u64, 120, 10, 400);
        check::<Ristretto255>(&a, &b, mode, 64, 2);
    }
}

#[test]
fn sm2_all_modes_multi_chunk() {
    for (i, mode) in MODES.into_iter().enumerate() {
        let (a, b, _) = overlapping(30 + i as u64, 90, 40, 25);
        check::<Sm2>(&a, &b, mode, 16, 3);
    }
}

#[test]
fn edge_cases() {
    for mode in MODES {
        // Empty on either side, disjoint, identical, single items.
        let (a, b, _) = overlapping(40, 0, 0, 20);
        check::<Ristretto255>(&a, &b, mode, 8, 4);
        check::<Ristretto255>(&b, &a, mode, 8, 4);
        let (a, b, _) = overlapping(41, 0, 30, 30);
        check::<Ristretto255>(&a, &b, mode, 8, 5);
        let (a, b, _) = overlapping(42, 50, 0, 0);
        check::<Ristretto255>(&a, &b, mode, 8, 6);
        let (a, b, _) = overlapping(43, 1, 0, 0);
        check::<Sm2>(&a, &b, mode, 1, 7);
        let (a, b, _) = overlapping(44, 0, 0, 0);
        check::<Sm2>(&a, &b, mode, 1, 8);
    }
}

/// The leader's first point chunk (`a·H(x)` in its random order) of one run with `seed`, and the
/// leader's output.
fn leader_points(a: &[String], b: &[String], seed: u64) -> (Vec<u8>, PsiOutput) {
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let rec = std::sync::Arc::clone(&seen);
    let hook = unseen_testkit::on_step(unseen_psi::msgs::step::LEADER_POINTS, move |_, p| {
        *rec.lock().unwrap() = p.to_vec();
        unseen_channel::Tamper::Pass
    });
    let p = Params::new(Reveal::Both, crate::keys());
    // The leader runs on the recorded side of the pair.
    let (_, out) = run_pair(
        |ch| run_follower::<Ristretto255, _, _, _>(ch, b, p, &mut rng(seed + 1), &|_| {}).unwrap(),
        |ch| run_leader::<Ristretto255, _, _, _>(ch, a, p, &mut rng(seed), &|_| {}).unwrap(),
        Some(hook),
    );
    let bytes = seen.lock().unwrap().clone();
    (bytes, out)
}

#[test]
fn two_runs_use_fresh_keys() {
    // Same inputs, different seeds: every point on the wire differs, the result does not.
    let (a, b, mut want) = overlapping(50, 10, 5, 5);
    want.sort();
    let (p1, l1) = leader_points(&a, &b, 100);
    let (p2, l2) = leader_points(&a, &b, 200);
    assert_eq!(p1.len(), a.len() * 32);
    assert_eq!(p2.len(), p1.len());
    let set1: std::collections::HashSet<&[u8]> = p1.chunks(32).collect();
    assert!(
        p2.chunks(32).all(|q| !set1.contains(q)),
        "a point repeated across runs"
    );
    assert_eq!(rows(&a, l1.intersection.as_ref().unwrap()), want);
    assert_eq!(l1.intersection, l2.intersection);
}

#[test]
fn tag_length_keeps_false_matches_below_2_pow_minus_40() {
    use unseen_psi::tag_len;
    assert_eq!(tag_len(0, 0), 8);
    assert_eq!(tag_len(1 << 20, 1 << 20), 10); // 40 + 20 + 20 = 80 bits
    assert_eq!(tag_len((1 << 20) + 1, 1 << 20), 11); // 81 bits → 11 bytes
    assert_eq!(tag_len(u64::from(u32::MAX), u64::from(u32::MAX)), 13); // 104 bits
    for (na, nb) in [
        (1u64, 1u64),
        (1000, 5000),
        (1 << 16, 1 << 18),
        (3_000_000, 7),
    ] {
        let l = tag_len(na, nb) as f64;
        let p = (na as f64).log2() + (nb as f64).log2() - 8.0 * l;
        assert!(p <= -40.0, "{na}×{nb}: log2 false-match bound {p}");
    }
}
