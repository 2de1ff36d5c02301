//! SM2 and SM3 against their standards, and the SM2 hash-to-curve against the independent Python
//! reference (`tests/it/sm2_sswu_ref.py` → `tests/it/vectors/sm2_sswu.txt`).

use group::{Group, GroupEncoding, ff::PrimeField};
use sm2::{
    AffinePoint, FieldBytes, ProjectivePoint, Scalar,
    elliptic_curve::{Curve, point::AffineCoordinates, sec1::ToSec1Point},
};
use unseen_crypto::{PsiGroup, Sm2, sm2_group::SUITE_ID, sm3_util::sm3};

/// GB/T 32918.5-2017 §3 (= GM/T 0003.5-2012 §3) recommended curve parameters (a and b are in
/// `src/sm2_group.rs` and `sm2_sswu_ref.py`).
const P: &str = "fffffffeffffffffffffffffffffffffffffffff00000000ffffffffffffffff";
const N: &str = "fffffffeffffffffffffffffffffffff7203df6b21c6052b53bbf40939d54123";
const GX: &str = "32c4ae2c1f1981195f9904466a39c9948fe30bbff2660be1715a4589334c74c7";
const GY: &str = "bc3736a2f4f6779c59bdcee36b692153d0a9877cc62a474002df32e52139f0a0";

fn scalar(hex_str: &str) -> Scalar {
    let bytes = FieldBytes::try_from(hex::decode(hex_str).unwrap().as_slice()).unwrap();
    Option::from(Scalar::from_repr(bytes)).unwrap()
}

fn uncompressed(p: &ProjectivePoint) -> String {
    hex::encode(p.to_affine().to_sec1_point(false).as_bytes())
}

#[test]
fn gbt32918_5_curve_parameters() {
    // Gx, Gy: sm2's generator.
    assert_eq!(
        uncompressed(&ProjectivePoint::generator()),
        format!("04{GX}{GY}")
    );
    // n: sm2's group order, and (n - 1)·G = -G.
    assert_eq!(hex::encode(sm2::Sm2::ORDER.to_be_bytes()), N);
    let n_minus_1 = scalar("fffffffeffffffffffffffffffffffff7203df6b21c6052b53bbf40939d54122");
    assert_eq!(
        ProjectivePoint::generator() * n_minus_1,
        -ProjectivePoint::generator()
    );
    // p, a, b: sm2 accepts the points of the Python reference, which were computed with the
    // standard's p, a, b (the script also checks G against them): `from_coordinates` checks the
    // curve equation. (The unit test `generator_satisfies_gbt32918_5_equation_in_our_field`
    // checks G against this crate's own p, a, b.)
    for (x, y) in python_points() {
        let point = AffinePoint::from_coordinates(
            &FieldBytes::try_from(hex::decode(&x).unwrap().as_slice()).unwrap(),
            &FieldBytes::try_from(hex::decode(&y).unwrap().as_slice()).unwrap(),
        );
        assert!(bool::from(point.is_some()), "sm2 rejects ({x}, {y})");
    }
    // The field modulus: x = p is not a canonical coordinate.
    let mut at_p = [0u8; 33];
    at_p[0] = 0x02;
    at_p[1..].copy_from_slice(&hex::decode(P).unwrap());
    assert!(Sm2::decode(&at_p).is_err());
}

/// GM/T 0003.5-2012 Annex A.2 (= GB/T 32918.5-2017 Annex A.2), the digital-signature example on
/// the recommended curve: private key d_A and public key P_A = [d_A]G.
#[test]
fn gmt0003_5_annex_a2_public_key() {
    let d_a = scalar("3945208f7b2144b13f36e38ac6d39f95889393692860b51a42fb81ef4df7c5b8");
    let p_a = ProjectivePoint::generator() * d_a;
    assert_eq!(
        uncompressed(&p_a),
        "04\
         09f9df311e5421a150dd7d161e4bc5c672179fad1833fc076bb08ff356f35020\
         ccea490ce26775a52dc6ea718cc1aa600aed05fbf35e084a6632f6072da9ad13"
    );
    // The same through the PsiGroup API (compressed encoding, decode, mul).
    let k = unseen_crypto::SecretScalar::<Sm2>::dangerous_from_scalar(d_a);
    let g = Sm2::decode(&ProjectivePoint::generator().to_bytes()).unwrap();
    assert_eq!(Sm2::mul(&g, &k), p_a);
}

/// GM/T 0003.5-2012 Annex A.2: the signature nonce k gives (x1, y1) = [k]G, and
/// r = (e + x1) mod n for the example's message digest e.
#[test]
fn gmt0003_5_annex_a2_signature_r() {
    let k = scalar("59276e27d506861a16680f3ad9c02dccef3cc1fa3cdbe4ce6d54b80deac1bc21");
    let x1y1 = (ProjectivePoint::generator() * k).to_affine();
    assert_eq!(
        hex::encode(x1y1.x()),
        "04ebfc718e8d1798620432268e77feb6415e2ede0e073c0f4f640ecd2e149a73"
    );
    assert_eq!(
        hex::encode(x1y1.y()),
        "e858f9d81e5430a57b36daab8f950a3c64e6ee6a63094d99283aff767e124df0"
    );
    let e = scalar("f0b43e94ba45accaace692ed534382eb17e6ab5a19ce7b31f4486fdfc0d28640");
    let x1 = scalar(&hex::encode(x1y1.x()));
    assert_eq!(
        hex::encode((e + x1).to_repr()),
        "f5a03b0648d2c4630eeac513e1bb81a15944da3827d5b74143ac7eaceee720b3"
    );
}

/// GB/T 32905-2016 Appendix A examples 1 and 2, through `Sm2::digest`.
#[test]
fn gbt32905_sm3_examples() {
    assert_eq!(
        hex::encode(Sm2::digest(b"abc")),
        "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0"
    );
    assert_eq!(
        hex::encode(sm3(&b"abcd".repeat(16))),
        "debe9ff92275b8a138604889c18e5a4d6fdb70e5387e5765293dcba39c0c5732"
    );
}

#[test]
fn hash_to_group_matches_python_reference() {
    let vectors = h2c_vectors();
    assert_eq!(vectors.len(), 6);
    for (dst, msg, px, py) in vectors {
        assert!(dst.ends_with(SUITE_ID));
        let p = Sm2::hash_to_group(dst.as_bytes(), msg.as_bytes()).unwrap();
        assert_eq!(
            uncompressed(&p),
            format!("04{px}{py}"),
            "dst {dst:?}, msg {msg:?}"
        );
    }
}

#[test]
fn hash_to_group_properties() {
    let dst = format!("unseen-test-{SUITE_ID}");
    let p = Sm2::hash_to_group(dst.as_bytes(), b"alice").unwrap();
    // Deterministic.
    assert_eq!(p, Sm2::hash_to_group(dst.as_bytes(), b"alice").unwrap());
    // On the curve (decode re-validates) and not the identity.
    assert_eq!(Sm2::decode(&p.to_bytes()).unwrap(), p);
    assert!(!bool::from(p.is_identity()));
    // Different DSTs and different messages give different points.
    let other_dst = format!("unseen-other-{SUITE_ID}");
    assert_ne!(
        p,
        Sm2::hash_to_group(other_dst.as_bytes(), b"alice").unwrap()
    );
    assert_ne!(p, Sm2::hash_to_group(dst.as_bytes(), b"bob").unwrap());
    // Many messages: all valid points.
    for i in 0..64u32 {
        let q = Sm2::hash_to_group(dst.as_bytes(), &i.to_be_bytes()).unwrap();
        assert_eq!(Sm2::decode(&q.to_bytes()).unwrap(), q);
    }
}

// ---- the Python vector file ----

fn blocks() -> Vec<Vec<(String, String)>> {
    include_str!("vectors/sm2_sswu.txt")
        .split("\n\n")
        .map(|block| {
            block
                .lines()
                .filter(|l| !l.starts_with('#'))
                .filter_map(|l| l.split_once('='))
                .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
                .collect::<Vec<_>>()
        })
        .filter(|b| !b.is_empty())
        .collect()
}

fn get(block: &[(String, String)], key: &str) -> String {
    block
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.clone())
        .unwrap()
}

/// (dst, msg, P.x, P.y) of each hash_to_curve vector.
fn h2c_vectors() -> Vec<(String, String, String, String)> {
    blocks()
        .iter()
        .filter(|b| b[0].0 == "dst")
        .map(|b| (get(b, "dst"), get(b, "msg"), get(b, "P.x"), get(b, "P.y")))
        .collect()
}

/// Every affine point of the vector file.
fn python_points() -> Vec<(String, String)> {
    let mut points = Vec::new();
    for b in blocks() {
        for prefix in ["Q0", "Q1", "P", "Q"] {
            if b.iter().any(|(k, _)| *k == format!("{prefix}.x")) {
                points.push((
                    get(&b, &format!("{prefix}.x")),
                    get(&b, &format!("{prefix}.y")),
                ));
            }
        }
    }
    points
}
