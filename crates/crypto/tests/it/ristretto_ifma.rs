//! The ristretto255 batch methods (`hash_mul_encode_batch`, `decode_mul_encode_batch`) against
//! curve25519-dalek directly and against the forced portable path, plus RFC 9496 Appendix A
//! through the batch entry points.
//!
//! On a CPU with AVX-512 IFMA the batch methods run the eight-lane backend; elsewhere they run
//! the portable path, which these tests then check instead (the skip is reported and counted by
//! `unseen_crypto::simd_test_gate`, and fails them under `UNSEEN_REQUIRE_SIMD=1`).

use curve25519_dalek::{RistrettoPoint, Scalar, ristretto::CompressedRistretto};
use sha2::Sha512;
use unseen_crypto::{
    CurveId, Error, PsiGroup, Ristretto255, SecretScalar,
    expand::expand_message_xmd,
    ristretto::{
        backend_name, portable_decode_mul_encode_batch, portable_hash_mul_encode_batch,
        uniform_mul_encode_batch,
    },
    simd_test_gate,
};

use crate::ristretto_vectors::{A1_MULTIPLES, A2_INVALID, A3_ONE_WAY_MAP};

const DST: &[u8] = b"unseen-crypto-ristretto-ifma-test-v1";
const LENGTHS: [usize; 10] = [0, 1, 7, 8, 9, 15, 16, 17, 256, 257];

/// SplitMix64: a fixed-seed generator for test data (not for secrets).
struct TestRng(u64);

impl TestRng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn bytes<const N: usize>(&mut self) -> [u8; N] {
        let mut out = [0u8; N];
        for chunk in out.chunks_mut(8) {
            let w = self.next().to_le_bytes();
            chunk.copy_from_slice(&w[..chunk.len()]);
        }
        out
    }
}

/// The SIMD gate of test `name` (`unseen_crypto::simd_test_gate`): without the eight-lane
/// backend the skip is reported, and the test goes on checking the portable path.
fn gate(name: &str) {
    let ifma = backend_name() == "avx512ifma-8x";
    simd_test_gate(&format!("ristretto_ifma::{name}"), ifma);
}

/// 1, 2, ℓ - 1 and a random scalar.
fn scalars(rng: &mut TestRng) -> Vec<Scalar> {
    vec![
        Scalar::ONE,
        Scalar::from(2u8),
        Scalar::ZERO - Scalar::ONE,
        Scalar::from_bytes_mod_order_wide(&rng.bytes::<64>()),
    ]
}

fn secret(k: Scalar) -> SecretScalar<Ristretto255> {
    SecretScalar::dangerous_from_scalar(k)
}

fn dalek_hash_mul(msg: &[u8], k: &Scalar) -> [u8; 32] {
    let mut uniform = [0u8; 64];
    expand_message_xmd::<Sha512>(msg, DST, &mut uniform).unwrap();
    (RistrettoPoint::from_uniform_bytes(&uniform) * k)
        .compress()
        .to_bytes()
}

#[test]
fn hash_mul_encode_batch_matches_dalek_and_portable() {
    gate("hash_mul_encode_batch_matches_dalek_and_portable");
    let mut rng = TestRng(1);
    let mut items = 0;
    for k in scalars(&mut rng) {
        for n in LENGTHS {
            let msgs: Vec<Vec<u8>> = (0..n)
                .map(|i| {
                    let len = usize::try_from(rng.next() % 40).unwrap();
                    (0..len).map(|j| (i * 31 + j).to_le_bytes()[0]).collect()
                })
                .collect();
            let refs: Vec<&[u8]> = msgs.iter().map(Vec::as_slice).collect();
            let mut fast = vec![0u8; 32 * n];
            let mut portable = vec![0u8; 32 * n];
            Ristretto255::hash_mul_encode_batch(DST, &refs, &secret(k), &mut fast).unwrap();
            portable_hash_mul_encode_batch(DST, &refs, &secret(k), &mut portable).unwrap();
            assert_eq!(fast, portable, "n = {n}");
            for (i, m) in refs.iter().enumerate() {
                assert_eq!(
                    fast[32 * i..32 * i + 32],
                    dalek_hash_mul(m, &k),
                    "item {i} of {n}"
                );
            }
            items += n;
        }
    }
    assert!(items >= 2000);
}

#[test]
fn decode_mul_encode_batch_matches_dalek_and_portable() {
    gate("decode_mul_encode_batch_matches_dalek_and_portable");
    let mut rng = TestRng(2);
    let mut items = 0;
    for k in scalars(&mut rng) {
        for n in LENGTHS {
            let points: Vec<RistrettoPoint> = (0..n)
                .map(|_| RistrettoPoint::from_uniform_bytes(&rng.bytes::<64>()))
                .collect();
            let enc: Vec<u8> = points
                .iter()
                .flat_map(|p| p.compress().to_bytes())
                .collect();
            let mut fast = vec![0u8; 32 * n];
            let mut portable = vec![0u8; 32 * n];
            Ristretto255::decode_mul_encode_batch(&enc, &secret(k), &mut fast).unwrap();
            portable_decode_mul_encode_batch(&enc, &secret(k), &mut portable).unwrap();
            assert_eq!(fast, portable, "n = {n}");
            for (i, p) in points.iter().enumerate() {
                assert_eq!(
                    fast[32 * i..32 * i + 32],
                    (p * k).compress().to_bytes(),
                    "item {i} of {n}"
                );
            }
            items += n;
        }
    }
    assert!(items >= 2000);
}

/// Random 32-byte strings (top bit cleared, so about half are canonical field elements): the
/// batch rejects at the first string dalek does not decompress (or decompresses to the
/// identity), exactly as the portable path.
#[test]
fn decode_validity_matches_dalek_on_random_bytes() {
    gate("decode_validity_matches_dalek_on_random_bytes");
    let mut rng = TestRng(3);
    let k = secret(Scalar::from(7u8));
    for _ in 0..400 {
        let mut enc = Vec::new();
        let mut first_bad = None;
        for i in 0..8 {
            let mut b = rng.bytes::<32>();
            // Mostly random encodings; sometimes a valid one so that later lanes matter.
            if rng.next().is_multiple_of(2) {
                b = RistrettoPoint::from_uniform_bytes(&rng.bytes::<64>())
                    .compress()
                    .to_bytes();
            } else if rng.next().is_multiple_of(2) {
                b[31] &= 0x7f;
            }
            let valid = CompressedRistretto(b)
                .decompress()
                .is_some_and(|p| p != RistrettoPoint::default());
            if !valid && first_bad.is_none() {
                first_bad = Some(i);
            }
            enc.extend_from_slice(&b);
        }
        let mut out = vec![0u8; enc.len()];
        let mut out_portable = vec![0u8; enc.len()];
        let got = Ristretto255::decode_mul_encode_batch(&enc, &k, &mut out);
        let want = portable_decode_mul_encode_batch(&enc, &k, &mut out_portable);
        match first_bad {
            None => {
                assert!(got.is_ok() && want.is_ok());
                assert_eq!(out, out_portable);
            }
            Some(i) => {
                assert!(matches!(got, Err((j, Error::InvalidPoint { .. })) if j == i));
                assert_eq!(got, want);
            }
        }
    }
}

/// RFC 9496 Appendix A.2 (invalid encodings) and the identity (which we also reject), each
/// placed at every lane position 0..7 of the first and second group of eight.
#[test]
fn rfc9496_a2_invalid_at_every_lane() {
    gate("rfc9496_a2_invalid_at_every_lane");
    let k = secret(Scalar::from(3u8));
    let valid = RistrettoPoint::from_uniform_bytes(&[7u8; 64])
        .compress()
        .to_bytes();
    let mut bad: Vec<[u8; 32]> = A2_INVALID
        .iter()
        .map(|h| hex::decode(h).unwrap().try_into().unwrap())
        .collect();
    bad.push([0u8; 32]);
    for b in &bad {
        for pos in 0..16 {
            let mut enc = Vec::new();
            for i in 0..17 {
                enc.extend_from_slice(if i == pos { b } else { &valid });
            }
            let mut out = vec![0u8; enc.len()];
            let got = Ristretto255::decode_mul_encode_batch(&enc, &k, &mut out);
            assert!(
                matches!(
                    got,
                    Err((
                        i,
                        Error::InvalidPoint {
                            curve: CurveId::Ristretto255,
                            ..
                        }
                    )) if i == pos
                ),
                "{} at {pos}: {got:?}",
                hex::encode(b)
            );
        }
    }
}

/// RFC 9496 Appendix A.1: the encodings of `i·B`, `i = 1..16`, decode and re-encode exactly
/// (k = 1), in one batch (two groups of eight, the second padded).
#[test]
fn rfc9496_a1_decode_encode_roundtrip() {
    gate("rfc9496_a1_decode_encode_roundtrip");
    let enc: Vec<u8> = A1_MULTIPLES[1..]
        .iter()
        .flat_map(|h| hex::decode(h).unwrap())
        .collect();
    let mut out = vec![0u8; enc.len()];
    Ristretto255::decode_mul_encode_batch(&enc, &secret(Scalar::ONE), &mut out).unwrap();
    assert_eq!(out, enc);
    // And k = 2 maps i·B to 2i·B (i = 1..7, so 2i stays in the table).
    let first7: Vec<u8> = enc[..7 * 32].to_vec();
    let mut doubled = vec![0u8; first7.len()];
    Ristretto255::decode_mul_encode_batch(&first7, &secret(Scalar::from(2u8)), &mut doubled)
        .unwrap();
    for i in 0..7 {
        assert_eq!(
            hex::encode(&doubled[32 * i..32 * i + 32]),
            A1_MULTIPLES[2 * (i + 1)]
        );
    }
}

/// RFC 9496 Appendix A.3: the one-way map through the batch's hash-to-group with k = 1.
#[test]
fn rfc9496_a3_one_way_map_in_batch() {
    gate("rfc9496_a3_one_way_map_in_batch");
    let uniform: Vec<[u8; 64]> = A3_ONE_WAY_MAP
        .iter()
        .map(|(i, _)| hex::decode(i).unwrap().try_into().unwrap())
        .collect();
    let mut out = vec![0u8; 32 * uniform.len()];
    uniform_mul_encode_batch(&uniform, &secret(Scalar::ONE), &mut out).unwrap();
    for (i, (_, want)) in A3_ONE_WAY_MAP.iter().enumerate() {
        assert_eq!(hex::encode(&out[32 * i..32 * i + 32]), *want, "vector {i}");
    }
}

#[test]
fn batch_length_errors() {
    let k = secret(Scalar::ONE);
    let mut out = vec![0u8; 64];
    assert!(matches!(
        Ristretto255::decode_mul_encode_batch(&[0u8; 63], &k, &mut out),
        Err((0, Error::InvalidArgument(_)))
    ));
    assert!(matches!(
        Ristretto255::decode_mul_encode_batch(&[0u8; 32], &k, &mut out),
        Err((0, Error::InvalidArgument(_)))
    ));
    assert!(matches!(
        Ristretto255::hash_mul_encode_batch(DST, &[b"a"], &k, &mut out),
        Err(Error::InvalidArgument(_))
    ));
    assert!(matches!(
        Ristretto255::hash_mul_encode_batch(&[0u8; 256], &[b"a"], &k, &mut out[..32]),
        Err(Error::InvalidArgument(_))
    ));
}
