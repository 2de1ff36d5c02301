//! Unit tests of the fast SM2 arithmetic: GF(p) against crypto-bigint's `ConstMontyForm` (the
//! `field::Fe` oracle), points and scalar multiplication against `sm2`.

use group::{Group, GroupEncoding, ff::Field};
use rand_chacha::ChaCha20Rng;
use rand_core::{Rng, SeedableRng};
use sm2::{ProjectivePoint, Scalar};

use super::*;
use crate::sm2_group::field::Fe;

/// `p` big-endian.
const P_HEX: &str = "fffffffeffffffffffffffffffffffffffffffff00000000ffffffffffffffff";

fn be(hex_str: &str) -> [u8; 32] {
    hex::decode(hex_str).unwrap().try_into().unwrap()
}

/// `p + delta` for small signed `delta`, as 32 big-endian bytes (wrapping mod 2^256).
fn p_plus(delta: i64) -> [u8; 32] {
    let mut x = be(P_HEX);
    let mut carry = delta;
    for byte in x.iter_mut().rev() {
        let v = i64::from(*byte) + carry;
        *byte = u8::try_from(v.rem_euclid(256)).unwrap();
        carry = v.div_euclid(256);
    }
    x
}

/// Inputs for the field tests: edge values near 0, near p, above p, and random bytes.
fn field_inputs() -> Vec<[u8; 32]> {
    let mut v = vec![[0u8; 32], [0xff; 32]];
    let mut one = [0u8; 32];
    one[31] = 1;
    v.push(one);
    for delta in [-3, -2, -1, 0, 1, 2, 3] {
        v.push(p_plus(delta));
    }
    // Limb-boundary shapes of p's structure.
    v.push(be(
        "00000000ffffffffffffffffffffffffffffffff00000000ffffffffffffffff",
    ));
    v.push(be(
        "fffffffe00000000000000000000000000000000000000000000000000000000",
    ));
    v.push(be(
        "ffffffff00000000ffffffff00000000ffffffff00000000ffffffff00000000",
    ));
    v.push(be(
        "00000000ffffffff00000000ffffffff00000000ffffffff00000000ffffffff",
    ));
    let mut rng = ChaCha20Rng::seed_from_u64(0x5332_f1e1d);
    for _ in 0..200 {
        let mut x = [0u8; 32];
        rng.fill_bytes(&mut x);
        v.push(x);
    }
    v
}

fn check(what: &str, a: &[u8; 32], b: &[u8; 32], fast: Fp, oracle: Fe) {
    assert_eq!(
        hex::encode(fast.to_be_bytes()),
        hex::encode(oracle.to_be_bytes()),
        "{what}({}, {})",
        hex::encode(a),
        hex::encode(b)
    );
}

#[test]
fn field_ops_match_crypto_bigint() {
    let inputs = field_inputs();
    for a in &inputs {
        let (fa, oa) = (Fp::from_be_bytes(a), Fe::from_be_bytes(a));
        check("from_bytes", a, a, fa, oa);
        check("square", a, a, fa.square(), oa.square());
        check("neg", a, a, fa.neg(), oa.neg());
        check("double", a, a, fa.double(), oa.add(&oa));
        check("invert", a, a, fa.invert(), oa.inv0());
        assert_eq!(bool::from(fa.is_zero()), bool::from(oa.is_zero()));
        for b in inputs.iter().step_by(7) {
            let (fb, ob) = (Fp::from_be_bytes(b), Fe::from_be_bytes(b));
            check("add", a, b, fa.add(&fb), oa.add(&ob));
            check("sub", a, b, fa.sub(&fb), oa.add(&ob.neg()));
            check("mul", a, b, fa.mul(&fb), oa.mul(&ob));
            assert_eq!(bool::from(fa.ct_eq(&fb)), bool::from(oa.ct_eq(&ob)));
        }
    }
}

#[test]
fn field_constants() {
    assert!(bool::from(Fp::from_be_bytes(&be(P_HEX)).is_zero()));
    let mut one = [0u8; 32];
    one[31] = 1;
    assert!(bool::from(Fp::from_be_bytes(&one).ct_eq(&Fp::ONE)));
    assert_eq!(Fp::ONE.to_be_bytes(), one);
    let b = be("28e9fa9e9d9f5e344d5a9e4bcf6509a7f39789f515ab8f92ddbcbd414d940e93");
    assert!(bool::from(Fp::from_be_bytes(&b).ct_eq(&Fp::B)));
    // Fermat on the inverse chain: x·x^-1 = 1, 0^-1 = 0.
    let x = Fp::from_be_bytes(&be(
        "32c4ae2c1f1981195f9904466a39c9948fe30bbff2660be1715a4589334c74c7",
    ));
    assert!(bool::from(x.mul(&x.invert()).ct_eq(&Fp::ONE)));
    assert!(bool::from(Fp::ZERO.invert().is_zero()));
}

#[test]
fn batch_invert_matches_single_and_keeps_zeros() {
    let inputs: Vec<Fp> = field_inputs()
        .iter()
        .take(40)
        .map(Fp::from_be_bytes)
        .collect();
    let inverses = batch_invert(inputs.iter().copied());
    for (x, inv) in inputs.iter().zip(&inverses) {
        assert!(bool::from(x.invert().ct_eq(inv)));
    }
    assert!(batch_invert(core::iter::empty()).is_empty());
}

fn jacobian(p: &ProjectivePoint) -> Jacobian {
    Jacobian::from_affine(&p.to_affine())
}

fn back(p: &Jacobian) -> ProjectivePoint {
    p.to_projective().unwrap()
}

#[test]
fn point_formulas_match_sm2() {
    let mut rng = ChaCha20Rng::seed_from_u64(7);
    let g = ProjectivePoint::GENERATOR;
    let id = ProjectivePoint::IDENTITY;
    for _ in 0..20 {
        let p = g * Scalar::random(&mut rng);
        let q = g * Scalar::random(&mut rng);
        let (jp, jq) = (jacobian(&p), jacobian(&q));
        assert_eq!(back(&jp), p);
        assert_eq!(back(&jp.double()), p.double());
        assert_eq!(back(&jp.add(&jq)), p + q);
        assert_eq!(back(&jp.add_complete(&jq)), p + q);
        // Non-normalised Z on both sides.
        assert_eq!(
            back(&jp.double().add(&jq.double())),
            p.double() + q.double()
        );
        // Exceptional cases.
        assert_eq!(back(&jp.add_complete(&jp)), p.double());
        // The same point with another Z: P + Q - Q.
        let jp_other = jp.add(&jq).add(&jq.neg());
        assert_eq!(back(&jp_other), p);
        assert_eq!(back(&jp.add_complete(&jp_other)), p.double());
        assert_eq!(back(&jp.add(&jp.neg())), id);
        assert_eq!(back(&jp.add(&Jacobian::IDENTITY)), p);
        assert_eq!(back(&Jacobian::IDENTITY.add(&jp)), p);
    }
    assert_eq!(back(&Jacobian::IDENTITY), id);
    assert_eq!(back(&Jacobian::IDENTITY.double()), id);
    assert_eq!(
        back(&Jacobian::IDENTITY.add_complete(&Jacobian::IDENTITY)),
        id
    );
    assert_eq!(back(&jacobian(&id)), id);
}

#[test]
fn recoding_reconstructs_the_scalar() {
    let mut rng = ChaCha20Rng::seed_from_u64(3);
    let mut scalars = vec![Scalar::ZERO, Scalar::ONE, -Scalar::ONE, -Scalar::from(2u64)];
    scalars.extend((0..100).map(|_| Scalar::random(&mut rng)));
    let thirty_two = Scalar::from(32u64);
    for k in scalars {
        let d = Digits::new(&k);
        // Horner: Σ d_i·32^i mod n.
        let mut acc = Scalar::ZERO;
        for &digit in d.0.iter().rev() {
            let abs = Scalar::from(u64::from(digit.unsigned_abs()));
            acc = acc * thirty_two + if digit < 0 { -abs } else { abs };
        }
        assert_eq!(acc, k);
        assert!(d.0.iter().all(|&x| (-16..16).contains(&x)));
    }
}

#[test]
fn table_select_gives_every_signed_multiple() {
    let p = ProjectivePoint::GENERATOR * Scalar::from(12_345u64);
    let table = Table::new(&jacobian(&p));
    for d in -16i8..=16 {
        let abs = Scalar::from(u64::from(d.unsigned_abs()));
        let expected = p * if d < 0 { -abs } else { abs };
        assert_eq!(back(&table.select(d)), expected, "digit {d}");
    }
}

#[test]
fn mul_and_batch_match_sm2_on_edge_scalars() {
    let g = ProjectivePoint::GENERATOR;
    let mut scalars = vec![];
    for j in 0..=40u64 {
        scalars.push(Scalar::from(j));
        scalars.push(-Scalar::from(j));
    }
    // 2^k for k = 0..=255 (reduced mod n from k = 256 on, so this stops there).
    let mut power = Scalar::ONE;
    for _ in 0..256 {
        scalars.push(power);
        power = power.double();
    }
    let points = [
        g,
        -g,
        g * Scalar::from(0xdead_beefu64),
        ProjectivePoint::IDENTITY,
    ];
    let mut out = vec![0u8; points.len() * 33];
    for k in &scalars {
        for p in &points {
            assert_eq!(mul(p, k).unwrap(), p * k, "k = {k:?}");
        }
        assert!(mul_encode_batch(&points, k, &mut out).is_empty());
        for (p, o) in points.iter().zip(out.chunks_exact(33)) {
            assert_eq!(o, (p * k).to_bytes().as_slice(), "k = {k:?}");
        }
    }
}
