//! Differential tests of `Sm2::mul` and `Sm2::mul_encode_batch` (the crate's own fixed-window
//! arithmetic) against `sm2`'s `ProjectivePoint * Scalar`, the implementation they replaced.

use group::{Group, GroupEncoding, ff::Field};
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;
use sm2::{ProjectivePoint, Scalar};
use unseen_crypto::{PsiGroup, SecretScalar, Sm2};

fn secret(k: Scalar) -> SecretScalar<Sm2> {
    SecretScalar::dangerous_from_scalar(k)
}

/// `Sm2::mul` and `Sm2::mul_encode_batch` against `sm2` for every (point, scalar) pair.
fn assert_matches_sm2(points: &[ProjectivePoint], scalars: &[Scalar]) {
    let mut out = vec![0u8; points.len() * Sm2::ENCODED_LEN];
    for k in scalars {
        let sk = secret(*k);
        Sm2::mul_encode_batch(points, &sk, &mut out).unwrap();
        for (p, o) in points.iter().zip(out.chunks_exact(Sm2::ENCODED_LEN)) {
            let expected = p * k;
            assert_eq!(Sm2::mul(p, &sk), expected, "mul, k = {k:?}, P = {p:?}");
            assert_eq!(
                o,
                expected.to_bytes().as_slice(),
                "batch, k = {k:?}, P = {p:?}"
            );
        }
    }
}

#[test]
fn mul_matches_sm2_on_random_pairs() {
    let mut rng = ChaCha20Rng::seed_from_u64(0x0005_3332);
    // 256 independent (point, scalar) pairs; points from both `sm2` and our hash-to-curve, so
    // inputs arrive with Z = 1 and with Z ≠ 1.
    for i in 0..256u32 {
        let p = if i % 2 == 0 {
            ProjectivePoint::random(&mut rng)
        } else {
            Sm2::hash_to_group(b"unseen-sm2-fast-test", &i.to_le_bytes()).unwrap()
        };
        let k = Scalar::random(&mut rng);
        assert_matches_sm2(&[p], &[k]);
    }
}

#[test]
fn batch_matches_sm2_on_random_points() {
    let mut rng = ChaCha20Rng::seed_from_u64(0x0005_3333);
    let points: Vec<ProjectivePoint> = (0..64).map(|_| ProjectivePoint::random(&mut rng)).collect();
    let scalars: Vec<Scalar> = (0..4).map(|_| Scalar::random(&mut rng)).collect();
    assert_matches_sm2(&points, &scalars);
}

#[test]
fn mul_matches_sm2_on_edge_scalars_and_points() {
    let g = ProjectivePoint::GENERATOR;
    let mut rng = ChaCha20Rng::seed_from_u64(0x0005_3334);
    // Identity, G, -G, and a random point, in one batch so that the identity sits between
    // finite points in the shared inversion.
    let points = [
        g,
        ProjectivePoint::IDENTITY,
        -g,
        ProjectivePoint::random(&mut rng),
    ];
    // 0, 1, 2, …, 40 and n - 1, n - 2, …, n - 40 (n - 6 is the one scalar whose last window
    // addition is a doubling), then 2^k for k = 0..=255.
    let mut scalars = Vec::new();
    for j in 0..=40u64 {
        scalars.push(Scalar::from(j));
        scalars.push(-Scalar::from(j));
    }
    let mut power = Scalar::ONE;
    for _ in 0..256 {
        scalars.push(power);
        scalars.push(-power);
        power = power.double();
    }
    assert_matches_sm2(&points, &scalars);
}

#[test]
fn batch_of_nothing_and_wrong_buffer() {
    let k = secret(Scalar::ONE);
    Sm2::mul_encode_batch(&[], &k, &mut []).unwrap();
    let mut short = [0u8; 32];
    assert!(Sm2::mul_encode_batch(&[ProjectivePoint::GENERATOR], &k, &mut short).is_err());
}
