//! RFC 9497 OPRF (mode 0x00): the official ristretto255-SHA512 vectors, then properties of both
//! suites (ristretto255-SHA512 and the non-standard SM2-SM3).
//!
//! Vector source: RFC 9497 Appendix A.1.1 ("ristretto255-SHA512", "OPRF Mode"), values copied
//! from the RFC source `draft-irtf-cfrg-voprf.md` (section "Test Vectors" → "ristretto255-SHA512"
//! → "OPRF Mode") of github.com/cfrg/draft-irtf-cfrg-voprf at commit 43da59f, and checked equal
//! to the same entries of that repository's `poc/vectors/allVectors.json` (identifier
//! "ristretto255-SHA512", mode 0). Only the values were copied, no code.

use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;
use unseen_crypto::oprf::{
    self, Blind, BlindedElement, EvaluatedElement, OprfError, OprfSuite, ServerKey,
};
use unseen_crypto::{Ristretto255, Sm2};

/// RFC 9497 A.1.1: `Seed`.
const SEED: &str = "a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3";
/// RFC 9497 A.1.1: `KeyInfo` ("test key").
const KEY_INFO: &str = "74657374206b6579";
/// RFC 9497 A.1.1: `skSm`.
const SK_SM: &str = "5ebcea5ee37023ccb9fc2d2019f9d7737be85591ae8652ffa9ef0f4d37063b0e";

/// One test vector of RFC 9497 A.1.1.
struct Vector {
    input: &'static str,
    blind: &'static str,
    blinded_element: &'static str,
    evaluation_element: &'static str,
    output: &'static str,
}

/// RFC 9497 A.1.1, Test Vector 1 and Test Vector 2 (both of batch size 1): all of OPRF mode.
const VECTORS: [Vector; 2] = [
    Vector {
        input: "00",
        blind: "64d37aed22a27f5191de1c1d69fadb899d8862b58eb4220029e036ec4c1f6706",
        blinded_element: "609a0ae68c15a3cf6903766461307e5c8bb2f95e7e6550e1ffa2dc99e412803c",
        evaluation_element: "7ec6578ae5120958eb2db1745758ff379e77cb64fe77b0b2d8cc917ea0869c7e",
        output: "527759c3d9366f277d8c6020418d96bb393ba2afb20ff90df23fb7708264e2f3\
                 ab9135e3bd69955851de4b1f9fe8a0973396719b7912ba9ee8aa7d0b5e24bcf6",
    },
    Vector {
        input: "5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a",
        blind: "64d37aed22a27f5191de1c1d69fadb899d8862b58eb4220029e036ec4c1f6706",
        blinded_element: "da27ef466870f5f15296299850aa088629945a17d1f5b7f5ff043f76b3c06418",
        evaluation_element: "b4cbf5a4f1eeda5a63ce7b77c7d23f461db3fcab0dd28e4e17cecb5c90d02c25",
        output: "f4a74c9c592497375e796aa837e907b1a045d34306a749db9f34221f7e750cb4\
                 f2a6413a6bf6fa5e19ba6348eb673934a722a7ede2e7621306d18951e7cf2c73",
    },
];

fn h(s: &str) -> Vec<u8> {
    hex::decode(s).unwrap()
}

fn vector_key() -> ServerKey<Ristretto255> {
    ServerKey::derive(&h(SEED), &h(KEY_INFO)).unwrap()
}

/// The vectors' `groupDST` ("HashToGroup-" || contextString) from `allVectors.json`.
#[test]
fn rfc9497_context_string() {
    let mut dst = b"HashToGroup-".to_vec();
    dst.extend(oprf::context_string::<Ristretto255>());
    assert_eq!(
        hex::encode(dst),
        "48617368546f47726f75702d4f50524656312d002d72697374726574746f3235352d534841353132"
    );
    assert_eq!(oprf::context_string::<Sm2>(), b"OPRFV1-\x00-SM2-SM3");
    const { assert!(Ristretto255::IS_STANDARD) };
    const { assert!(!Sm2::IS_STANDARD) };
}

#[test]
fn rfc9497_a11_derive_key_pair() {
    assert_eq!(
        hex::encode(vector_key().to_secret_bytes().as_slice()),
        SK_SM
    );
}

/// Runs `vectors` through every single-item API of suite `S` with the key of `key`.
fn check_vectors<S: OprfSuite>(key: &ServerKey<S>, vectors: &[Vector]) {
    for (n, v) in vectors.iter().enumerate() {
        let input = h(v.input);
        let blind = Blind::<S>::dangerous_from_bytes(&h(v.blind)).unwrap();

        let blinded = oprf::dangerous_blind_with(&input, &blind).unwrap();
        assert_eq!(
            hex::encode(blinded.to_bytes()),
            v.blinded_element,
            "vector {n}"
        );

        let received = BlindedElement::<S>::from_bytes(&h(v.blinded_element)).unwrap();
        let evaluated = key.blind_evaluate(&received);
        assert_eq!(
            hex::encode(evaluated.to_bytes()),
            v.evaluation_element,
            "vector {n}"
        );

        let returned = EvaluatedElement::<S>::from_bytes(&h(v.evaluation_element)).unwrap();
        let output = oprf::finalize(&input, &blind, &returned).unwrap();
        assert_eq!(hex::encode(output), v.output, "vector {n}");

        assert_eq!(
            hex::encode(key.evaluate(&input).unwrap()),
            v.output,
            "vector {n}"
        );
    }
}

#[test]
fn rfc9497_a11_oprf_vectors() {
    check_vectors(&vector_key(), &VECTORS);
}

/// Cross-check values for the non-standard SM2-SM3 suite, printed by the independent Python
/// implementation `tests/it/oprf_sm2_sm3_ref.py` (big integers, textbook affine arithmetic,
/// OpenSSL's SM3) with the A.1.1 seed, key info, inputs and blind. Not a standard's vectors:
/// no standard defines this suite.
const SM2_SM3_SK_SM: &str = "e90936edb3954bd50a18a828a3eb603461a975d1aa06131c0aa422f37b8773b2";

/// See [`SM2_SM3_SK_SM`].
const SM2_SM3_VECTORS: [Vector; 2] = [
    Vector {
        input: "00",
        blind: "64d37aed22a27f5191de1c1d69fadb899d8862b58eb4220029e036ec4c1f6706",
        blinded_element: "02e98a3f048ccdc4e10d734685072f26eca3657b8270d1183aabb2b5c02a43ceef",
        evaluation_element: "02805b5d3f53d052e42dd84170e10b6c09e4b321a417ec5e8c56f2d259fbc088ea",
        output: "318d3561a4cbddc2de4e1172b6b1f86f45bc60eda84a2214d1901ec0f71ece08",
    },
    Vector {
        input: "5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a",
        blind: "64d37aed22a27f5191de1c1d69fadb899d8862b58eb4220029e036ec4c1f6706",
        blinded_element: "03f17cca2bcbe8f428ea0d8852a14cc17cbe7cdcee51d90866bcc7a8f6fd4bf0c9",
        evaluation_element: "0344320d904c4429cfa3cdc5b24f21e316684e262ab9935ddd40bb6f1f90dbfacf",
        output: "0e6feb16488de3df141f92640aa39aec7a26573693f90182df438531c512ff43",
    },
];

#[test]
fn sm2_sm3_matches_python_reference() {
    let key = ServerKey::<Sm2>::derive(&h(SEED), &h(KEY_INFO)).unwrap();
    assert_eq!(hex::encode(key.to_secret_bytes().as_slice()), SM2_SM3_SK_SM);
    check_vectors(&key, &SM2_SM3_VECTORS);
}

/// The same vectors through the batch APIs (the IFMA backend where the CPU has it).
#[test]
fn rfc9497_a11_oprf_vectors_batched() {
    let key = vector_key();
    let inputs: Vec<Vec<u8>> = VECTORS.iter().map(|v| h(v.input)).collect();
    let inputs: Vec<&[u8]> = inputs.iter().map(Vec::as_slice).collect();
    let blinded: Vec<u8> = VECTORS.iter().flat_map(|v| h(v.blinded_element)).collect();
    let mut evaluated = vec![0u8; blinded.len()];
    key.blind_evaluate_batch(&blinded, &mut evaluated).unwrap();
    let expected: Vec<u8> = VECTORS
        .iter()
        .flat_map(|v| h(v.evaluation_element))
        .collect();
    assert_eq!(evaluated, expected);

    let blinds: Vec<_> = VECTORS
        .iter()
        .map(|v| Blind::<Ristretto255>::dangerous_from_bytes(&h(v.blind)).unwrap())
        .collect();
    let outputs = oprf::finalize_batch(&inputs, &blinds, &evaluated).unwrap();
    let direct = key.evaluate_batch(&inputs).unwrap();
    for ((v, out), dir) in VECTORS.iter().zip(&outputs).zip(&direct) {
        assert_eq!(hex::encode(out), v.output);
        assert_eq!(hex::encode(dir), v.output);
    }
}

fn rng(seed: u64) -> ChaCha20Rng {
    ChaCha20Rng::seed_from_u64(seed)
}

/// Inputs of varied lengths, including the empty one and the longest allowed.
fn inputs(n: usize) -> Vec<Vec<u8>> {
    let mut v: Vec<Vec<u8>> = (0..n)
        .map(|i| format!("customer-{i:05}").into_bytes())
        .collect();
    v.push(Vec::new());
    v.push(vec![0xa5; oprf::MAX_INPUT_LEN]);
    v
}

fn as_slices(v: &[Vec<u8>]) -> Vec<&[u8]> {
    v.iter().map(Vec::as_slice).collect()
}

fn key<S: OprfSuite>(seed: u8) -> ServerKey<S> {
    ServerKey::derive(&[seed; 32], b"unseen oprf tests").unwrap()
}

/// Finalize(BlindEvaluate(Blind(x))) = Evaluate(skS, x), single and batched.
fn protocol_equals_evaluate<S: OprfSuite>() {
    let key = key::<S>(1);
    let mut rng = rng(0x0bf1);
    let inputs = inputs(40);
    for input in &inputs {
        let (blind, blinded) = oprf::blind::<S, _>(input, &mut rng).unwrap();
        let wire = BlindedElement::<S>::from_bytes(&blinded.to_bytes()).unwrap();
        let evaluated = key.blind_evaluate(&wire);
        let wire = EvaluatedElement::<S>::from_bytes(&evaluated.to_bytes()).unwrap();
        let output = oprf::finalize(input, &blind, &wire).unwrap();
        assert_eq!(output, key.evaluate(input).unwrap(), "{}", S::IDENTIFIER);
        assert_eq!(
            output.len(),
            <S::Hash as sha2::digest::Digest>::output_size()
        );
    }
    let inputs = as_slices(&inputs);
    let (blinds, blinded) = oprf::blind_batch::<S, _>(&inputs, &mut rng).unwrap();
    let mut evaluated = vec![0u8; blinded.len()];
    key.blind_evaluate_batch(&blinded, &mut evaluated).unwrap();
    let outputs = oprf::finalize_batch(&inputs, &blinds, &evaluated).unwrap();
    assert_eq!(outputs, key.evaluate_batch(&inputs).unwrap());
}

/// Outputs differ across inputs and across keys; blinded elements of one input differ.
fn outputs_distinct<S: OprfSuite>() {
    let inputs = inputs(50);
    let inputs = as_slices(&inputs);
    let a = key::<S>(1).evaluate_batch(&inputs).unwrap();
    let b = key::<S>(2).evaluate_batch(&inputs).unwrap();
    let mut all: Vec<_> = a.iter().chain(&b).collect();
    all.sort();
    all.dedup();
    assert_eq!(all.len(), 2 * inputs.len());
    let info_key = ServerKey::<S>::derive(&[1; 32], b"other info").unwrap();
    assert_ne!(
        info_key.evaluate(b"x").unwrap(),
        key::<S>(1).evaluate(b"x").unwrap()
    );
    let mut rng = rng(7);
    let (_, p) = oprf::blind::<S, _>(b"same", &mut rng).unwrap();
    let (_, q) = oprf::blind::<S, _>(b"same", &mut rng).unwrap();
    assert_ne!(p, q);
}

/// Each batch function equals its single counterpart, item by item, for several sizes
/// (including sizes around the eight-lane width).
fn batch_equals_single<S: OprfSuite>() {
    let key = key::<S>(3);
    for n in [0usize, 1, 7, 8, 9, 17] {
        let inputs: Vec<Vec<u8>> = (0..n).map(|i| vec![u8::try_from(i).unwrap(); i]).collect();
        let inputs = as_slices(&inputs);
        let direct = key.evaluate_batch(&inputs).unwrap();
        let single: Vec<_> = inputs.iter().map(|x| key.evaluate(x).unwrap()).collect();
        assert_eq!(direct, single, "{} evaluate_batch of {n}", S::IDENTIFIER);

        // Same RNG seed for both: blind_batch draws one blind per input, as blind does.
        let (blinds, blinded) = oprf::blind_batch::<S, _>(&inputs, &mut rng(n as u64)).unwrap();
        let mut r = rng(n as u64);
        let mut single_blinded = Vec::new();
        let mut single_blinds = Vec::new();
        for x in &inputs {
            let (b, e) = oprf::blind::<S, _>(x, &mut r).unwrap();
            single_blinded.extend(e.to_bytes());
            single_blinds.push(b);
        }
        assert_eq!(
            blinded,
            single_blinded,
            "{} blind_batch of {n}",
            S::IDENTIFIER
        );

        let mut evaluated = vec![0u8; blinded.len()];
        key.blind_evaluate_batch(&blinded, &mut evaluated).unwrap();
        let single_evaluated: Vec<u8> = blinded
            .chunks_exact(S::ENCODED_LEN)
            .flat_map(|e| {
                key.blind_evaluate(&BlindedElement::from_bytes(e).unwrap())
                    .to_bytes()
            })
            .collect();
        assert_eq!(
            evaluated,
            single_evaluated,
            "{} blind_evaluate_batch",
            S::IDENTIFIER
        );

        let outputs = oprf::finalize_batch(&inputs, &blinds, &evaluated).unwrap();
        let single_outputs: Vec<_> = inputs
            .iter()
            .zip(&single_blinds)
            .zip(evaluated.chunks_exact(S::ENCODED_LEN))
            .map(|((x, b), e)| {
                oprf::finalize(x, b, &EvaluatedElement::from_bytes(e).unwrap()).unwrap()
            })
            .collect();
        assert_eq!(
            outputs,
            single_outputs,
            "{} finalize_batch of {n}",
            S::IDENTIFIER
        );
    }
}

fn assert_deserialize_error<T: core::fmt::Debug>(
    r: Result<T, OprfError>,
    index: usize,
    what: &str,
) {
    match r {
        Err(OprfError::Deserialize { index: i, .. }) => assert_eq!(i, index, "{what}"),
        other => panic!("{what}: expected Deserialize at {index}, got {other:?}"),
    }
}

/// Identity, non-canonical, off-curve, truncated, extended and garbage elements are all
/// `DeserializeError`, in single and batch APIs, with the offending index.
fn rejects_bad_elements<S: OprfSuite>(non_canonical: &[&str]) {
    let key = key::<S>(4);
    let good = key.blind_evaluate(&oprf::blind::<S, _>(b"x", &mut rng(1)).unwrap().1);
    let good = good.to_bytes();
    let mut bad: Vec<(Vec<u8>, &str)> = vec![
        (vec![0; S::ENCODED_LEN], "identity"),
        (vec![0xff; S::ENCODED_LEN], "all-0xff"),
        (good[..S::ENCODED_LEN - 1].to_vec(), "truncated"),
        ([good.as_slice(), &[0]].concat(), "extended"),
        (Vec::new(), "empty"),
    ];
    bad.extend(non_canonical.iter().map(|s| (h(s), "non-canonical")));
    for (bytes, what) in &bad {
        assert_deserialize_error(BlindedElement::<S>::from_bytes(bytes), 0, what);
        assert_deserialize_error(EvaluatedElement::<S>::from_bytes(bytes), 0, what);
    }
    // Batches: the bad element at index 0, 3 and 9 (second lane group) of ten.
    let inputs: Vec<Vec<u8>> = (0..10u8).map(|i| vec![i]).collect();
    let inputs = as_slices(&inputs);
    for (bytes, what) in bad.iter().filter(|(b, _)| b.len() == S::ENCODED_LEN) {
        for index in [0usize, 3, 9] {
            let mut batch = good.repeat(10);
            batch[index * S::ENCODED_LEN..(index + 1) * S::ENCODED_LEN].copy_from_slice(bytes);
            let mut out = vec![0u8; batch.len()];
            assert_deserialize_error(key.blind_evaluate_batch(&batch, &mut out), index, what);
            let blinds: Vec<_> = (0..10).map(|_| Blind::<S>::random(&mut rng(2))).collect();
            assert_deserialize_error(oprf::finalize_batch(&inputs, &blinds, &batch), index, what);
        }
    }
    // A batch whose length is not a multiple of Ne, or whose output buffer differs.
    let mut out = vec![0u8; good.len() + 1];
    assert!(matches!(
        key.blind_evaluate_batch(&[good.as_slice(), &[0]].concat(), &mut out),
        Err(OprfError::InvalidArgument(_))
    ));
    let mut short = vec![0u8; good.len() - 1];
    assert!(matches!(
        key.blind_evaluate_batch(&good, &mut short),
        Err(OprfError::InvalidArgument(_))
    ));
    let blinds = vec![Blind::<S>::random(&mut rng(3))];
    assert!(matches!(
        oprf::finalize_batch(&inputs[..2], &blinds, &good),
        Err(OprfError::InvalidArgument(_))
    ));
}

fn too_long<T: core::fmt::Debug>(r: Result<T, OprfError>, index: usize) {
    match r {
        Err(OprfError::InputTooLong { index: i, len }) => {
            assert_eq!((i, len), (index, oprf::MAX_INPUT_LEN + 1));
        }
        other => panic!("expected InputTooLong at {index}, got {other:?}"),
    }
}

/// Inputs and `info` longer than 65535 bytes; wrong seed lengths; bad scalar encodings.
fn rejects_bad_arguments<S: OprfSuite>() {
    let key = key::<S>(5);
    let long = vec![0u8; oprf::MAX_INPUT_LEN + 1];
    too_long(key.evaluate(&long), 0);
    too_long(key.evaluate_batch(&[b"a", b"b", &long]).map(|_| ()), 2);
    too_long(oprf::blind::<S, _>(&long, &mut rng(1)).map(|_| ()), 0);
    too_long(
        oprf::blind_batch::<S, _>(&[b"a", &long], &mut rng(1)).map(|_| ()),
        1,
    );
    too_long(ServerKey::<S>::derive(&[0; 32], &long).map(|_| ()), 0);
    let (blind, blinded) = oprf::blind::<S, _>(b"a", &mut rng(1)).unwrap();
    let evaluated = key.blind_evaluate(&blinded);
    too_long(oprf::finalize(&long, &blind, &evaluated), 0);
    too_long(
        oprf::finalize_batch(&[&long], &[blind], &evaluated.to_bytes()),
        0,
    );

    for seed_len in [0usize, 31, 33] {
        assert!(matches!(
            ServerKey::<S>::derive(&vec![1; seed_len], b""),
            Err(OprfError::InvalidArgument(_))
        ));
    }
    assert!(ServerKey::<S>::derive(&[1; 32], b"").is_ok());

    assert_deserialize_error(ServerKey::<S>::from_bytes(&[0; 32]), 0, "zero key");
    assert_deserialize_error(ServerKey::<S>::from_bytes(&[0xff; 32]), 0, "key >= order");
    assert_deserialize_error(ServerKey::<S>::from_bytes(&[1; 31]), 0, "short key");
    assert_deserialize_error(Blind::<S>::dangerous_from_bytes(&[0; 32]), 0, "zero blind");
    assert_deserialize_error(
        Blind::<S>::dangerous_from_bytes(&[0xff; 32]),
        0,
        "blind >= order",
    );

    let restored = ServerKey::<S>::from_bytes(&key.to_secret_bytes()).unwrap();
    assert_eq!(
        restored.evaluate(b"k").unwrap(),
        key.evaluate(b"k").unwrap()
    );
    let generated = ServerKey::<S>::generate(&mut rng(9));
    assert_ne!(
        generated.evaluate(b"k").unwrap(),
        key.evaluate(b"k").unwrap()
    );
}

/// Neither the key's nor a blind's bytes (either byte order) appear in `Debug`.
fn secrets_redacted<S: OprfSuite>() {
    let key = key::<S>(6);
    let bytes = key.to_secret_bytes().to_vec();
    let blind_bytes = [0x07u8; 32];
    let blind = Blind::<S>::dangerous_from_bytes(&blind_bytes).unwrap();
    for (shown, secret) in [
        (format!("{key:?} {key:#?}"), bytes.clone()),
        (format!("{blind:?} {blind:#?}"), blind_bytes.to_vec()),
    ] {
        assert!(shown.contains("redacted"), "{shown}");
        let mut reversed = secret.clone();
        reversed.reverse();
        for b in [secret, reversed] {
            assert!(!shown.to_lowercase().contains(&hex::encode(&b)));
            assert!(!shown.contains(&format!("{b:?}")));
        }
    }
}

macro_rules! suite_tests {
    ($module:ident, $suite:ty, $non_canonical:expr) => {
        mod $module {
            use super::*;

            #[test]
            fn protocol_equals_evaluate() {
                super::protocol_equals_evaluate::<$suite>();
            }

            #[test]
            fn outputs_distinct() {
                super::outputs_distinct::<$suite>();
            }

            #[test]
            fn batch_equals_single() {
                super::batch_equals_single::<$suite>();
            }

            #[test]
            fn rejects_bad_elements() {
                super::rejects_bad_elements::<$suite>($non_canonical);
            }

            #[test]
            fn rejects_bad_arguments() {
                super::rejects_bad_arguments::<$suite>();
            }

            #[test]
            fn secrets_redacted() {
                super::secrets_redacted::<$suite>();
            }
        }
    };
}

suite_tests!(
    ristretto255_sha512,
    Ristretto255,
    &[
        // s = p (non-canonical field encoding of 0), and s = p + 2: RFC 9496 §4.3.1 rejects
        // both, since s must be the canonical encoding of a field element.
        "edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
        "efffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
        // s negative (odd), from RFC 9496 A.2's list of bad encodings.
        "0100000000000000000000000000000000000000000000000000000000000000",
        // Top bit set.
        "0000000000000000000000000000000000000000000000000000000000000080",
    ]
);

suite_tests!(
    sm2_sm3_nonstandard,
    Sm2,
    &[
        // x = p: not reduced.
        "02fffffffeffffffffffffffffffffffffffffffff00000000ffffffffffffffff",
        // Uncompressed tag, and an unknown tag, on a 33-byte string.
        "0432c4ae2c1f1981195f9904466a39c9948fe30bbff2660be1715a4589334c74c7",
        "0532c4ae2c1f1981195f9904466a39c9948fe30bbff2660be1715a4589334c74c7",
        // x = 2: 2^3 + 2a + b is not a square mod p, so no point has x = 2 (checked with
        // Python big integers: pow(g, (p - 1) / 2, p) = p - 1).
        "020000000000000000000000000000000000000000000000000000000000000002",
    ]
);
