//! The ristretto255 batch methods (`hash_mul_encode_batch`, `decode_mul_encode_batch`) against
//! curve25519-dalek directly and against the forced portable path, plus RFC 9496 Appendix A
//! through the batch entry points.
//!
//! On a CPU with AVX-512 IFMA the batch methods run the eight-lane backend; elsewhere they run
//! the portable path, which these tests then check instead (a note is printed).

use curve25519_dalek::{RistrettoPoint, Scalar, ristretto::CompressedRistretto};
use sha2::Sha512;
use unseen_crypto::{
    CurveId, Error, PsiGroup, Ristretto255, SecretScalar,
    expand::expand_message_xmd,
    ristretto::{
        backend_name, portable_decode_mul_encode_batch, portable_hash_mul_encode_batch,
        uniform_mul_encode_batch,
    },
};

// RFC 9496 Appendix A, as in `ristretto_vectors.rs` (copied, so that module stays as it is).

/// RFC 9496 Appendix A.1: encodings of `i·B` for `i = 0..16` (B the generator).
const A1_MULTIPLES: [&str; 16] = [
    "0000000000000000000000000000000000000000000000000000000000000000",
    "e2f2ae0a6abc4e71a884a961c500515f58e30b6aa582dd8db6a65945e08d2d76",
    "6a493210f7499cd17fecb510ae0cea23a110e8d5b901f8acadd3095c73a3b919",
    "94741f5d5d52755ece4f23f044ee27d5d1ea1e2bd196b462166b16152a9d0259",
    "da80862773358b466ffadfe0b3293ab3d9fd53c5ea6c955358f568322daf6a57",
    "e882b131016b52c1d3337080187cf768423efccbb517bb495ab812c4160ff44e",
    "f64746d3c92b13050ed8d80236a7f0007c3b3f962f5ba793d19a601ebb1df403",
    "44f53520926ec81fbd5a387845beb7df85a96a24ece18738bdcfa6a7822a176d",
    "903293d8f2287ebe10e2374dc1a53e0bc887e592699f02d077d5263cdd55601c",
    "02622ace8f7303a31cafc63f8fc48fdc16e1c8c8d234b2f0d6685282a9076031",
    "20706fd788b2720a1ed2a5dad4952b01f413bcf0e7564de8cdc816689e2db95f",
    "bce83f8ba5dd2fa572864c24ba1810f9522bc6004afe95877ac73241cafdab42",
    "e4549ee16b9aa03099ca208c67adafcafa4c3f3e4e5303de6026e3ca8ff84460",
    "aa52e000df2e16f55fb1032fc33bc42742dad6bd5a8fc0be0167436c5948501f",
    "46376b80f409b29dc2b5f6f0c52591990896e5716f41477cd30085ab7f10301e",
    "e0c418f7c8d9c4cdd7395b93ea124f3ad99021bb681dfc3302a9d99a2e53e64e",
];

/// RFC 9496 Appendix A.2: invalid encodings, which `decode` must reject.
const A2_INVALID: [&str; 29] = [
    // Non-canonical field encodings.
    "00ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",
    "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
    "f3ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
    "edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
    // Negative field elements.
    "0100000000000000000000000000000000000000000000000000000000000000",
    "01ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
    "ed57ffd8c914fb201471d1c3d245ce3c746fcbe63a3679d51b6a516ebebe0e20",
    "c34c4e1826e5d403b78e246e88aa051c36ccf0aafebffe137d148a2bf9104562",
    "c940e5a4404157cfb1628b108db051a8d439e1a421394ec4ebccb9ec92a8ac78",
    "47cfc5497c53dc8e61c91d17fd626ffb1c49e2bca94eed052281b510b1117a24",
    "f1c6165d33367351b0da8f6e4511010c68174a03b6581212c71c0e1d026c3c72",
    "87260f7a2f12495118360f02c26a470f450dadf34a413d21042b43b9d93e1309",
    // Non-square x^2.
    "26948d35ca62e643e26a83177332e6b6afeb9d08e4268b650f1f5bbd8d81d371",
    "4eac077a713c57b4f4397629a4145982c661f48044dd3f96427d40b147d9742f",
    "de6a7b00deadc788eb6b6c8d20c0ae96c2f2019078fa604fee5b87d6e989ad7b",
    "bcab477be20861e01e4a0e295284146a510150d9817763caf1a6f4b422d67042",
    "2a292df7e32cababbd9de088d1d1abec9fc0440f637ed2fba145094dc14bea08",
    "f4a9e534fc0d216c44b218fa0c42d99635a0127ee2e53c712f70609649fdff22",
    "8268436f8c4126196cf64b3c7ddbda90746a378625f9813dd9b8457077256731",
    "2810e5cbc2cc4d4eece54f61c6f69758e289aa7ab440b3cbeaa21995c2f4232b",
    // Negative xy value.
    "3eb858e78f5a7254d8c9731174a94f76755fd3941c0ac93735c07ba14579630e",
    "a45fdc55c76448c049a1ab33f17023edfb2be3581e9c7aade8a6125215e04220",
    "d483fe813c6ba647ebbfd3ec41adca1c6130c2beeee9d9bf065c8d151c5f396e",
    "8a2e1d30050198c65a54483123960ccc38aef6848e1ec8f5f780e8523769ba32",
    "32888462f8b486c68ad7dd9610be5192bbeaf3b443951ac1a8118419d9fa097b",
    "227142501b9d4355ccba290404bde41575b037693cef1f438c47f8fbf35d1165",
    "5c37cc491da847cfeb9281d407efc41e15144c876e0170b499a96a22ed31e01e",
    "445425117cb8c90edcbc7c1cc0e74f747f2c1efa5630a967c64f287792a48a4b",
    // s = -1, which causes y = 0.
    "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
];

/// RFC 9496 Appendix A.3: the one-way map (§4.3.4) on 64-byte inputs.
const A3_ONE_WAY_MAP: [(&str, &str); 11] = [
    (
        "5d1be09e3d0c82fc538112490e35701979d99e06ca3e2b5b54bffe8b4dc772c1\
         4d98b696a1bbfb5ca32c436cc61c16563790306c79eaca7705668b47dffe5bb6",
        "3066f82a1a747d45120d1740f14358531a8f04bbffe6a819f86dfe50f44a0a46",
    ),
    (
        "f116b34b8f17ceb56e8732a60d913dd10cce47a6d53bee9204be8b44f6678b27\
         0102a56902e2488c46120e9276cfe54638286b9e4b3cdb470b542d46c2068d38",
        "f26e5b6f7d362d2d2a94c5d0e7602cb4773c95a2e5c31a64f133189fa76ed61b",
    ),
    (
        "8422e1bbdaab52938b81fd602effb6f89110e1e57208ad12d9ad767e2e25510c\
         27140775f9337088b982d83d7fcf0b2fa1edffe51952cbe7365e95c86eaf325c",
        "006ccd2a9e6867e6a2c5cea83d3302cc9de128dd2a9a57dd8ee7b9d7ffe02826",
    ),
    (
        "ac22415129b61427bf464e17baee8db65940c233b98afce8d17c57beeb7876c2\
         150d15af1cb1fb824bbd14955f2b57d08d388aab431a391cfc33d5bafb5dbbaf",
        "f8f0c87cf237953c5890aec3998169005dae3eca1fbb04548c635953c817f92a",
    ),
    (
        "165d697a1ef3d5cf3c38565beefcf88c0f282b8e7dbd28544c483432f1cec767\
         5debea8ebb4e5fe7d6f6e5db15f15587ac4d4d4a1de7191e0c1ca6664abcc413",
        "ae81e7dedf20a497e10c304a765c1767a42d6e06029758d2d7e8ef7cc4c41179",
    ),
    (
        "a836e6c9a9ca9f1e8d486273ad56a78c70cf18f0ce10abb1c7172ddd605d7fd2\
         979854f47ae1ccf204a33102095b4200e5befc0465accc263175485f0e17ea5c",
        "e2705652ff9f5e44d3e841bf1c251cf7dddb77d140870d1ab2ed64f1a9ce8628",
    ),
    (
        "2cdc11eaeb95daf01189417cdddbf95952993aa9cb9c640eb5058d09702c7462\
         2c9965a697a3b345ec24ee56335b556e677b30e6f90ac77d781064f866a3c982",
        "80bd07262511cdde4863f8a7434cef696750681cb9510eea557088f76d9e5065",
    ),
    // The RFC's four inputs that all map to the same element.
    (
        "edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff\
         1200000000000000000000000000000000000000000000000000000000000000",
        "304282791023b73128d277bdcb5c7746ef2eac08dde9f2983379cb8e5ef0517f",
    ),
    (
        "edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f\
         ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",
        "304282791023b73128d277bdcb5c7746ef2eac08dde9f2983379cb8e5ef0517f",
    ),
    (
        "0000000000000000000000000000000000000000000000000000000000000080\
         ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
        "304282791023b73128d277bdcb5c7746ef2eac08dde9f2983379cb8e5ef0517f",
    ),
    (
        "0000000000000000000000000000000000000000000000000000000000000000\
         1200000000000000000000000000000000000000000000000000000000000080",
        "304282791023b73128d277bdcb5c7746ef2eac08dde9f2983379cb8e5ef0517f",
    ),
];

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

fn note_backend() {
    if backend_name() != "avx512ifma-8x" {
        eprintln!("note: no avx512ifma here; the batch methods tested are the portable path");
    }
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
    note_backend();
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
    note_backend();
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
    note_backend();
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
    note_backend();
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
    note_backend();
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
    note_backend();
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
