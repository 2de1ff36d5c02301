//! Properties that every [`PsiGroup`] must have, run for both groups with a fixed-seed RNG.

use group::{Group, ff::PrimeField};
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;
use unseen_crypto::{CurveId, Error, PsiGroup, Ristretto255, SecretScalar, Sm2};

const DST: &[u8] = b"unseen-crypto-properties-v1";

fn rng() -> ChaCha20Rng {
    ChaCha20Rng::seed_from_u64(0x5eed)
}

fn points<G: PsiGroup>(n: u32) -> Vec<G::Point> {
    (0..n)
        .map(|i| G::hash_to_group(DST, &i.to_le_bytes()).unwrap())
        .collect()
}

fn encode<G: PsiGroup>(p: &G::Point) -> Vec<u8> {
    let mut out = vec![0u8; G::ENCODED_LEN];
    G::encode(p, &mut out).unwrap();
    out
}

fn assert_invalid_point<G: PsiGroup>(bytes: &[u8], what: &str) {
    match G::decode(bytes) {
        Err(Error::InvalidPoint { curve, .. }) => assert_eq!(curve, G::ID, "{what}"),
        other => panic!("{}: {what} gave {other:?}", G::ID),
    }
}

fn roundtrip<G: PsiGroup>() {
    for p in points::<G>(32) {
        let bytes = encode::<G>(&p);
        assert_eq!(bytes.len(), G::ENCODED_LEN);
        assert_eq!(G::decode(&bytes).unwrap(), p);
    }
}

fn homomorphism<G: PsiGroup>() {
    let mut rng = rng();
    for p in points::<G>(8) {
        let a = G::random_scalar(&mut rng);
        let b = G::random_scalar(&mut rng);
        assert_eq!(G::mul(&G::mul(&p, &a), &b), G::mul(&G::mul(&p, &b), &a));
        // And mul agrees with the group's own scalar multiplication and product of scalars.
        let ab = SecretScalar::<G>::dangerous_from_scalar(*a.expose() * b.expose());
        assert_eq!(G::mul(&G::mul(&p, &a), &b), G::mul(&p, &ab));
    }
}

fn batch_matches_single<G: PsiGroup>() {
    let mut rng = rng();
    let k = G::random_scalar(&mut rng);
    for n in [0u32, 1, 2, 7, 33] {
        let mut pts = points::<G>(n);
        if n == 7 {
            pts[3] = G::Point::identity();
        }
        let mut batch = vec![0u8; pts.len() * G::ENCODED_LEN];
        G::mul_encode_batch(&pts, &k, &mut batch).unwrap();
        let single: Vec<u8> = pts
            .iter()
            .flat_map(|p| encode::<G>(&G::mul(p, &k)))
            .collect();
        assert_eq!(batch, single, "{} batch of {n}", G::ID);
    }
    let pts = points::<G>(2);
    let mut short = vec![0u8; G::ENCODED_LEN];
    assert!(matches!(
        G::mul_encode_batch(&pts, &k, &mut short),
        Err(Error::InvalidArgument(_))
    ));
}

fn decode_rejects<G: PsiGroup>() {
    let good = encode::<G>(&points::<G>(1)[0]);
    assert_invalid_point::<G>(&[], "empty input");
    assert_invalid_point::<G>(&good[..G::ENCODED_LEN - 1], "truncated encoding");
    let mut extended = good.clone();
    extended.push(0);
    assert_invalid_point::<G>(&extended, "extended encoding");
    assert_invalid_point::<G>(&vec![0xff; G::ENCODED_LEN], "all-0xff garbage");
    assert_invalid_point::<G>(&encode::<G>(&G::Point::identity()), "identity");
    assert_invalid_point::<G>(&vec![0; G::ENCODED_LEN], "all-zero bytes");
    let mut buf = vec![0u8; G::ENCODED_LEN + 1];
    assert!(matches!(
        G::encode(&points::<G>(1)[0], &mut buf),
        Err(Error::InvalidArgument(_))
    ));
}

fn hash_to_group_contract<G: PsiGroup>() {
    let p = G::hash_to_group(DST, b"x").unwrap();
    assert_eq!(p, G::hash_to_group(DST, b"x").unwrap());
    assert_ne!(p, G::hash_to_group(b"another-dst", b"x").unwrap());
    assert_ne!(p, G::hash_to_group(DST, b"y").unwrap());
    assert!(matches!(
        G::hash_to_group(&[b'd'; 256], b"x"),
        Err(Error::InvalidArgument(_))
    ));
    assert!(matches!(
        G::hash_to_group(b"", b"x"),
        Err(Error::InvalidArgument(_))
    ));
    assert!(G::hash_to_group(&[b'd'; 255], b"x").is_ok());
}

fn random_scalars_differ<G: PsiGroup>() {
    let mut rng = rng();
    let a = G::random_scalar(&mut rng);
    let b = G::random_scalar(&mut rng);
    assert!(!bool::from(group::ff::Field::is_zero(a.expose())));
    assert_ne!(a.expose(), b.expose());
}

/// The scalar's bytes (in both byte orders) and its own `Debug` text are absent from `{:?}`.
fn assert_redacted<G: PsiGroup>(secret: &SecretScalar<G>, repr: &[u8])
where
    G::Scalar: core::fmt::Debug,
{
    let shown = format!("{secret:?} {secret:#?}");
    assert!(shown.contains("redacted"));
    let mut reversed = repr.to_vec();
    reversed.reverse();
    for bytes in [repr.to_vec(), reversed] {
        assert!(!shown.to_lowercase().contains(&hex::encode(&bytes)));
        assert!(!shown.contains(&format!("{bytes:?}")));
    }
    assert!(!shown.contains(&format!("{:?}", secret.expose())));
}

macro_rules! group_tests {
    ($module:ident, $group:ty) => {
        mod $module {
            use super::*;

            #[test]
            fn decode_encode_roundtrip() {
                roundtrip::<$group>();
            }

            #[test]
            fn mul_is_homomorphic() {
                homomorphism::<$group>();
            }

            #[test]
            fn mul_encode_batch_equals_single() {
                batch_matches_single::<$group>();
            }

            #[test]
            fn decode_rejects_bad_input() {
                decode_rejects::<$group>();
            }

            #[test]
            fn hash_to_group_is_deterministic_and_separated() {
                hash_to_group_contract::<$group>();
            }

            #[test]
            fn random_scalars_are_nonzero_and_distinct() {
                random_scalars_differ::<$group>();
            }
        }
    };
}

group_tests!(ristretto255, Ristretto255);
group_tests!(sm2, Sm2);

#[test]
fn secret_debug_is_redacted() {
    let mut rng = rng();
    let k = Ristretto255::random_scalar(&mut rng);
    assert_redacted(&k, &k.expose().to_bytes());
    let k = Sm2::random_scalar(&mut rng);
    assert_redacted(&k, &k.expose().to_repr());
}

#[test]
fn digests() {
    use sha2::Digest;
    let full = sha2::Sha512::digest(b"abc");
    assert_eq!(Ristretto255::digest(b"abc")[..], full[..32]);
    assert_eq!(Sm2::digest(b"abc"), unseen_crypto::sm3_util::sm3(b"abc"));
    assert_ne!(Ristretto255::digest(b"abc"), Sm2::digest(b"abc"));
}

#[test]
fn curve_ids() {
    assert_eq!(Ristretto255::ID, CurveId::Ristretto255);
    assert_eq!(Sm2::ID, CurveId::Sm2);
    assert_eq!((Ristretto255::ENCODED_LEN, Sm2::ENCODED_LEN), (32, 33));
}
