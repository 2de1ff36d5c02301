//! Unit tests of the SM2 hash-to-curve internals (Z, sqrt_ratio, the map, hash_to_field).

use sm2::elliptic_curve::sec1::ToSec1Point;

use super::*;

/// Parses `tests/it/vectors/sm2_sswu.txt` (made by `tests/it/sm2_sswu_ref.py`) into blocks of
/// `key = value` lines.
fn vector_blocks() -> Vec<Vec<(String, String)>> {
    include_str!("../../tests/it/vectors/sm2_sswu.txt")
        .split("\n\n")
        .map(|block| {
            block
                .lines()
                .filter(|l| !l.starts_with('#') && !l.is_empty())
                .filter_map(|l| l.split_once('='))
                .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
                .collect::<Vec<_>>()
        })
        .filter(|b| !b.is_empty())
        .collect()
}

fn field(block: &[(String, String)], key: &str) -> String {
    block
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.clone())
        .unwrap()
}

fn fe(hex_str: &str) -> Fe {
    Fe::from_be_bytes(&hex::decode(hex_str).unwrap().try_into().unwrap())
}

fn fe_hex(x: &Fe) -> String {
    hex::encode(x.to_be_bytes())
}

fn sub(a: &Fe, b: &Fe) -> Fe {
    a.add(&b.neg())
}

fn eq(a: &Fe, b: &Fe) -> bool {
    bool::from(a.ct_eq(b))
}

/// g(x) = x^3 + A x + B.
fn g(x: &Fe) -> Fe {
    x.square().mul(x).add(&A.mul(x)).add(&B)
}

// ---- polynomials over GF(p), coefficients lowest degree first, for Appendix H.2's test 3 ----

fn trim(mut f: Vec<Fe>) -> Vec<Fe> {
    while f.last().is_some_and(|c| bool::from(c.is_zero())) {
        f.pop();
    }
    f
}

fn poly_mul(f: &[Fe], h: &[Fe]) -> Vec<Fe> {
    let mut out = vec![Fe::ZERO; (f.len() + h.len()).saturating_sub(1)];
    for (i, a) in f.iter().enumerate() {
        for (j, b) in h.iter().enumerate() {
            out[i + j] = out[i + j].add(&a.mul(b));
        }
    }
    out
}

fn poly_rem(f: &[Fe], m: &[Fe]) -> Vec<Fe> {
    let m = trim(m.to_vec());
    let lead_inv = m.last().unwrap().inv0();
    let mut f = trim(f.to_vec());
    while f.len() >= m.len() {
        let q = f.last().unwrap().mul(&lead_inv);
        let shift = f.len() - m.len();
        for (i, c) in m.iter().enumerate() {
            f[shift + i] = sub(&f[shift + i], &q.mul(c));
        }
        f = trim(f);
    }
    f
}

fn poly_gcd(f: &[Fe], h: &[Fe]) -> Vec<Fe> {
    let (mut a, mut b) = (trim(f.to_vec()), trim(h.to_vec()));
    while !b.is_empty() {
        let r = poly_rem(&a, &b);
        a = b;
        b = r;
    }
    a
}

/// Whether `f` has a root in GF(p): `gcd(x^p - x, f)` is not a constant.
fn has_root(f: &[Fe]) -> bool {
    let p =
        hex::decode("fffffffeffffffffffffffffffffffffffffffff00000000ffffffffffffffff").unwrap();
    let mut acc = vec![Fe::ONE];
    for byte in p {
        for bit in (0..8).rev() {
            acc = poly_rem(&poly_mul(&acc, &acc), f);
            if (byte >> bit) & 1 == 1 {
                acc = poly_rem(&poly_mul(&acc, &[Fe::ZERO, Fe::ONE]), f);
            }
        }
    }
    acc.resize(acc.len().max(2), Fe::ZERO);
    acc[1] = sub(&acc[1], &Fe::ONE);
    poly_gcd(f, &acc).len() > 1
}

/// The four criteria of RFC 9380 Appendix H.2 `find_z_sswu`.
fn is_good_z(z: &Fe) -> bool {
    let minus_one = Fe::ONE.neg();
    !bool::from(z.is_square())
        && !eq(z, &minus_one)
        && !has_root(&[sub(&B, z), A, Fe::ZERO, Fe::ONE])
        && bool::from(g(&B.mul(&z.mul(&A).inv0())).is_square())
}

#[test]
fn z_meets_appendix_h2_criteria() {
    // 1. Z is non-square in GF(p).
    assert!(!bool::from(Z.is_square()));
    // 2. Z != -1.
    assert!(!eq(&Z, &Fe::ONE.neg()));
    // 3. g(x) - Z is irreducible over GF(p): a cubic is iff it has no root.
    assert!(!has_root(&[sub(&B, &Z), A, Fe::ZERO, Fe::ONE]));
    // 4. g(B / (Z * A)) is square in GF(p).
    assert!(bool::from(g(&B.mul(&Z.mul(&A).inv0())).is_square()));
    // And Z really is -9, and c2 = sqrt(-Z) of sqrt_ratio_3mod4.
    let nine = Fe::from_be_hex("0000000000000000000000000000000000000000000000000000000000000009");
    assert!(eq(&Z, &nine.neg()));
    assert!(eq(&SQRT_RATIO_C2.square(), &Z.neg()));
    // Sanity of the root test itself: (x - 5)(x^2 + 1) has a root, x^2 + 1 has none (p ≡ 3 mod 4).
    let five = Fe::from_be_hex("0000000000000000000000000000000000000000000000000000000000000005");
    let x2p1 = [Fe::ONE, Fe::ZERO, Fe::ONE];
    assert!(has_root(&poly_mul(&[five.neg(), Fe::ONE], &x2p1)));
    assert!(!has_root(&x2p1));
}

#[test]
fn z_is_the_first_valid_candidate() {
    // Appendix H.2 tries 1, -1, 2, -2, ...; the first good one must be our Z.
    let mut ctr = Fe::ONE;
    let found = loop {
        if is_good_z(&ctr) {
            break ctr;
        }
        if is_good_z(&ctr.neg()) {
            break ctr.neg();
        }
        ctr = ctr.add(&Fe::ONE);
    };
    assert_eq!(fe_hex(&found), fe_hex(&Z));
}

#[test]
fn sqrt_ratio_contract() {
    let vs = [
        Fe::ONE,
        Z,
        A,
        B,
        fe("32c4ae2c1f1981195f9904466a39c9948fe30bbff2660be1715a4589334c74c7"),
    ];
    for u in &vs {
        for v in &vs {
            let (is_qr, y) = sqrt_ratio_3mod4(u, v);
            let y2v = y.square().mul(v);
            if bool::from(is_qr) {
                assert!(eq(&y2v, u));
                assert!(bool::from(u.mul(&v.inv0()).is_square()));
            } else {
                assert!(eq(&y2v, &Z.mul(u)));
            }
        }
    }
}

#[test]
fn map_matches_python_reference() {
    let mut checked = 0;
    for block in vector_blocks().iter().filter(|b| b[0].0 == "u") {
        let (x, y) = map_to_curve_simple_swu(&fe(&field(block, "u")));
        assert_eq!(fe_hex(&x), field(block, "Q.x"));
        assert_eq!(fe_hex(&y), field(block, "Q.y"));
        assert!(eq(&y.square(), &g(&x)));
        checked += 1;
    }
    assert_eq!(checked, 9);
}

#[test]
fn hash_to_curve_matches_python_reference() {
    let mut checked = 0;
    for block in vector_blocks().iter().filter(|b| b[0].0 == "dst") {
        let (dst, msg) = (field(block, "dst"), field(block, "msg"));
        let [u0, u1] = hash_to_field(dst.as_bytes(), msg.as_bytes()).unwrap();
        assert_eq!(fe_hex(&u0), field(block, "u0"));
        assert_eq!(fe_hex(&u1), field(block, "u1"));
        for (u, q) in [(u0, "Q0"), (u1, "Q1")] {
            let (x, y) = map_to_curve_simple_swu(&u);
            assert_eq!(fe_hex(&x), field(block, &format!("{q}.x")));
            assert_eq!(fe_hex(&y), field(block, &format!("{q}.y")));
        }
        let p = hash_to_curve(dst.as_bytes(), msg.as_bytes())
            .unwrap()
            .to_affine();
        let uncompressed = p.to_sec1_point(false);
        let expected = format!("04{}{}", field(block, "P.x"), field(block, "P.y"));
        assert_eq!(hex::encode(uncompressed.as_bytes()), expected);
        checked += 1;
    }
    assert_eq!(checked, 6);
}

#[test]
fn generator_satisfies_gbt32918_5_equation_in_our_field() {
    // GB/T 32918.5-2017 §3: Gx, Gy of the recommended curve.
    let gx = "32c4ae2c1f1981195f9904466a39c9948fe30bbff2660be1715a4589334c74c7";
    let gy = "bc3736a2f4f6779c59bdcee36b692153d0a9877cc62a474002df32e52139f0a0";
    let generator = AffinePoint::GENERATOR;
    assert_eq!(hex::encode(generator.x()), gx);
    assert_eq!(hex::encode(generator.y()), gy);
    // Our p, a, b (used by SSWU) agree with sm2's generator.
    assert!(eq(&fe(gy).square(), &g(&fe(gx))));
}

/// The `sec1` crate parses a 33-byte string with the "compact" tag 0x05 as the point with that
/// x; `decode` must reject it so that every point has one encoding.
#[test]
fn decode_rejects_compact_tag() {
    let mut enc = [0u8; 33];
    Sm2::encode(&ProjectivePoint::GENERATOR, &mut enc).unwrap();
    assert!(Sm2::decode(&enc).is_ok());
    for tag in [0x00, 0x01, 0x04, 0x05, 0x06, 0xff] {
        enc[0] = tag;
        assert!(
            matches!(Sm2::decode(&enc), Err(Error::InvalidPoint { .. })),
            "tag {tag:#04x}"
        );
    }
}
