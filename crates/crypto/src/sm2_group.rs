//! The SM2 curve (GB/T 32918.5-2017 / GM/T 0003.5-2012 recommended parameters) as a
//! [`PsiGroup`], over RustCrypto `sm2`, with an RFC 9380 hash-to-curve suite over SM3.
//!
//! * **Group**: `E: y^2 = x^3 + a·x + b` over GF(p), `a = p - 3`, prime order `n`, cofactor 1
//!   (GB/T 32918.5-2017 §3). Scalars are `sm2::Scalar`.
//! * **Encoding**: SEC1 compressed point, 33 bytes (`0x02`/`0x03 || x`), GB/T 32918.1-2016 §4.2.9
//!   compressed form. **Decoding** accepts only the tags `0x02`/`0x03` (the `sec1` crate would also
//!   take the "compact" tag `0x05`, a second encoding of the same point), then goes through
//!   `sm2`'s `CtOption` APIs, which check that `x < p` and that `x^3 + a·x + b` is a square; the
//!   identity is rejected on top.
//! * **Digest**: SM3 (GB/T 32905-2016), so the 国密 profile uses only SM algorithms.
//! * **Scalar multiplication** (`mul`, `mul_encode_batch`): the crate's own constant-time
//!   fixed-window arithmetic in `fast` (Jacobian coordinates, a field specialised to `p`),
//!   differentially tested against `sm2`'s `ProjectivePoint * Scalar`; see that module's docs.
//!
//! # Hash to curve: `SM2_XMD:SM3_SSWU_RO_`
//!
//! RFC 9380 defines no suite for SM2, so we define one the way §8 defines the NIST suites, with
//! the suite ID [`SUITE_ID`] = `SM2_XMD:SM3_SSWU_RO_` (§8.10 naming: curve `SM2`, expander
//! `XMD:SM3`, mapping `SSWU`, encoding `RO_`):
//!
//! * `encoding type`: `hash_to_curve` (§3, random-oracle variant)
//! * `E`, `p`, `m = 1`: the SM2 curve above
//! * `k = 128`, `expand_message`: `expand_message_xmd` (§5.3.1) with `H = SM3`
//!   (`b_in_bytes = 32`, `s_in_bytes = 64`)
//! * `L = ceil((ceil(log2(p)) + k) / 8) = 48` (§5)
//! * `f`: simplified SWU (§6.6.2), applied to `E` directly. It needs `A·B != 0`; SM2 has
//!   `a = -3` and `b != 0`, so unlike secp256k1 no isogeny is needed (exactly as for P-256 in §8.2)
//! * `Z = -9`, see below
//! * `h_eff = 1` (cofactor 1, so `clear_cofactor` is the identity map)
//!
//! `hash_to_curve(msg)` (§3):
//!
//! 1. `u = hash_to_field(msg, 2)` — §5.2, each element `OS2IP(48 bytes) mod p`
//! 2. `Q0 = map_to_curve(u[0])`
//! 3. `Q1 = map_to_curve(u[1])`
//! 4. `R = Q0 + Q1`
//! 5. `P = clear_cofactor(R)` (= `R`)
//! 6. return `P`
//!
//! `map_to_curve` is the straight-line simplified SWU of Appendix F.2 with the `sqrt_ratio` of
//! Appendix F.2.1.2 (`q ≡ 3 mod 4`); the step numbers in the code are the RFC's. The resulting
//! coordinates are handed to `sm2` as affine coordinates, which re-checks the curve equation.
//!
//! ## Z
//!
//! `Z = -9` (i.e. `p - 9`), found by the `find_z_sswu` procedure of RFC 9380 Appendix H.2 run
//! with Python big integers (`crates/crypto/tests/it/sm2_sswu_ref.py`, function `find_z_sswu`):
//! candidates are tried in the order `1, -1, 2, -2, …`; the first that is (1) a non-square in
//! GF(p), (2) not `-1`, (3) such that `g(x) - Z` is irreducible over GF(p) (tested as "has no
//! root", i.e. `gcd(x^p - x, g(x) - Z) = 1`), and (4) such that `g(B / (Z·A))` is a square, is
//! `-9`. (For comparison, P-256's `Z` is `-10`.) `tests::z_is_the_first_valid_candidate`
//! re-derives it in Rust.
//!
//! ## Test vectors
//!
//! `tests/it/vectors/sm2_sswu.txt` was produced by the independent pure-Python implementation
//! `tests/it/sm2_sswu_ref.py` (straightforward §6.6.2 map, OpenSSL's SM3, textbook affine
//! addition), not by this code.

mod fast;
mod field;

use group::{Group, GroupEncoding, ff::Field};
use rand_core::CryptoRng;
use sm2::{
    AffinePoint, CompressedPoint, ProjectivePoint, Scalar,
    elliptic_curve::{bigint::U256, point::AffineCoordinates},
};
use sm3::Sm3;
use subtle::{Choice, ConditionallySelectable, ConstantTimeEq};

use self::field::Fe;
use crate::{CurveId, Error, PsiGroup, SecretScalar, expand::expand_message_xmd, sm3_util};

/// The SM2 curve with the `SM2_XMD:SM3_SSWU_RO_` hash-to-curve suite; the 国密 profile's group.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Sm2;

/// RFC 9380 suite ID of the SM2 hash-to-curve defined in this module (see the module docs).
/// Applications put it at the end of their domain-separation tags, as RFC 9380 §3.1 recommends.
pub const SUITE_ID: &str = "SM2_XMD:SM3_SSWU_RO_";

/// `L` of RFC 9380 §5: bytes per field element in `hash_to_field` (`ceil((256 + 128) / 8)`).
const L: usize = 48;

/// Curve coefficient `a = p - 3` (GB/T 32918.5-2017 §3).
const A: Fe = Fe::from_be_hex("fffffffeffffffffffffffffffffffffffffffff00000000fffffffffffffffc");
/// Curve coefficient `b` (GB/T 32918.5-2017 §3).
const B: Fe = Fe::from_be_hex("28e9fa9e9d9f5e344d5a9e4bcf6509a7f39789f515ab8f92ddbcbd414d940e93");
/// The SSWU constant `Z = -9` (RFC 9380 Appendix H.2, see the module docs).
const Z: Fe = Fe::from_be_hex("fffffffeffffffffffffffffffffffffffffffff00000000fffffffffffffff6");
/// `c1 = (p - 3) / 4` of `sqrt_ratio_3mod4` (RFC 9380 Appendix F.2.1.2).
const SQRT_RATIO_C1: U256 =
    U256::from_be_hex("3fffffffbfffffffffffffffffffffffffffffffc00000003fffffffffffffff");
/// `c2 = sqrt(-Z) = sqrt(9) = 3` of `sqrt_ratio_3mod4` (either root works; we take 3).
const SQRT_RATIO_C2: Fe =
    Fe::from_be_hex("0000000000000000000000000000000000000000000000000000000000000003");

impl PsiGroup for Sm2 {
    type Point = ProjectivePoint;
    type Scalar = Scalar;

    const ID: CurveId = CurveId::Sm2;
    const ENCODED_LEN: usize = 33;

    fn hash_to_group(dst: &[u8], msg: &[u8]) -> Result<ProjectivePoint, Error> {
        hash_to_curve(dst, msg)
    }

    fn random_scalar<R: CryptoRng + ?Sized>(rng: &mut R) -> SecretScalar<Self> {
        // `Field::random` is rejection sampling over 256-bit strings, so uniform in [0, n);
        // zero is rejected so that the exponent is invertible.
        loop {
            let k = Scalar::random(rng);
            if !bool::from(k.is_zero()) {
                return SecretScalar(k);
            }
        }
    }

    fn mul(point: &ProjectivePoint, k: &SecretScalar<Self>) -> ProjectivePoint {
        // `fast` returns `None` only if its result fails `sm2`'s curve check, i.e. on a bug in
        // `fast`; `sm2`'s own multiplication is then the safe answer.
        fast::mul(point, k.expose()).unwrap_or_else(|| point * k.expose())
    }

    fn encode(point: &ProjectivePoint, out: &mut [u8]) -> Result<(), Error> {
        if out.len() != Self::ENCODED_LEN {
            return Err(Error::InvalidArgument(
                "sm2 encoding needs a 33-byte buffer",
            ));
        }
        out.copy_from_slice(&point.to_bytes());
        Ok(())
    }

    fn decode(bytes: &[u8]) -> Result<ProjectivePoint, Error> {
        let invalid = |reason| Error::InvalidPoint {
            curve: Self::ID,
            reason,
        };
        if bytes.len() != Self::ENCODED_LEN {
            return Err(invalid("expected 33 bytes (SEC1 compressed point)"));
        }
        // `sec1` also parses tag 0x05 ("compact", x only) at this length, a second encoding of
        // the same point; only the SEC1 compressed tags are canonical.
        if bytes.iter().all(|b| *b == 0) {
            return Err(invalid("the identity element"));
        }
        if !matches!(bytes[0], 0x02 | 0x03) {
            return Err(invalid("not a SEC1 compressed point tag (0x02 or 0x03)"));
        }
        let mut repr = CompressedPoint::default();
        repr.copy_from_slice(bytes);
        let Some(point) = Option::<ProjectivePoint>::from(ProjectivePoint::from_bytes(&repr))
        else {
            return Err(invalid("not a compressed point on the SM2 curve"));
        };
        if bool::from(point.is_identity()) {
            return Err(invalid("the identity element"));
        }
        Ok(point)
    }

    fn mul_encode_batch(
        points: &[ProjectivePoint],
        k: &SecretScalar<Self>,
        out: &mut [u8],
    ) -> Result<(), Error> {
        if Some(out.len()) != points.len().checked_mul(Self::ENCODED_LEN) {
            return Err(Error::InvalidArgument(crate::group_trait::OUT_LEN_MSG));
        }
        // `fast` shares one inversion across the inputs and one across the outputs (Montgomery's
        // trick). It lists the points whose result failed its curve check, which only a bug in
        // `fast` causes; those are recomputed with `sm2`.
        let failed = fast::mul_encode_batch(points, k.expose(), out);
        for i in failed {
            let (Some(point), Some(o)) = (
                points.get(i),
                out.chunks_exact_mut(Self::ENCODED_LEN).nth(i),
            ) else {
                return Err(Error::Internal("sm2 batch index out of range"));
            };
            o.copy_from_slice(&(point * k.expose()).to_bytes());
        }
        Ok(())
    }

    fn digest(bytes: &[u8]) -> [u8; 32] {
        sm3_util::sm3(bytes)
    }
}

/// RFC 9380 §3 `hash_to_curve` for `SM2_XMD:SM3_SSWU_RO_`.
fn hash_to_curve(dst: &[u8], msg: &[u8]) -> Result<ProjectivePoint, Error> {
    // 1. u = hash_to_field(msg, 2)
    let [u0, u1] = hash_to_field(dst, msg)?;
    // 2.–3. Q0 = map_to_curve(u[0]), Q1 = map_to_curve(u[1])
    let q0 = to_affine(map_to_curve_simple_swu(&u0))?;
    let q1 = to_affine(map_to_curve_simple_swu(&u1))?;
    // 4. R = Q0 + Q1; 5. P = clear_cofactor(R) = R since h_eff = 1.
    Ok(ProjectivePoint::from(q0) + q1)
}

/// RFC 9380 §5.2 `hash_to_field(msg, 2)` with `expand_message_xmd` over SM3 and `L = 48`.
fn hash_to_field(dst: &[u8], msg: &[u8]) -> Result<[Fe; 2], Error> {
    // 1. len_in_bytes = count * m * L; 2. uniform_bytes = expand_message(msg, DST, len_in_bytes)
    let mut uniform = [0u8; 2 * L];
    expand_message_xmd::<Sm3>(msg, dst, &mut uniform)?;
    // 3.–8. e_j = OS2IP(substr(uniform_bytes, L * i, L)) mod p
    let mut tv0 = [0u8; L];
    tv0.copy_from_slice(&uniform[..L]);
    let mut tv1 = [0u8; L];
    tv1.copy_from_slice(&uniform[L..]);
    Ok([Fe::from_be_bytes_wide(&tv0), Fe::from_be_bytes_wide(&tv1)])
}

/// Simplified SWU, straight-line form of RFC 9380 Appendix F.2 (steps numbered as there).
fn map_to_curve_simple_swu(u: &Fe) -> (Fe, Fe) {
    let tv1 = u.square(); //                                  1. tv1 = u^2
    let tv1 = Z.mul(&tv1); //                                 2. tv1 = Z * tv1
    let tv2 = tv1.square(); //                                3. tv2 = tv1^2
    let tv2 = tv2.add(&tv1); //                               4. tv2 = tv2 + tv1
    let tv3 = tv2.add(&Fe::ONE); //                           5. tv3 = tv2 + 1
    let tv3 = B.mul(&tv3); //                                 6. tv3 = B * tv3
    let tv4 = Fe::conditional_select(&Z, &tv2.neg(), !tv2.is_zero()); // 7. CMOV(Z, -tv2, tv2 != 0)
    let tv4 = A.mul(&tv4); //                                 8. tv4 = A * tv4
    let tv2 = tv3.square(); //                                9. tv2 = tv3^2
    let tv6 = tv4.square(); //                               10. tv6 = tv4^2
    let tv5 = A.mul(&tv6); //                                11. tv5 = A * tv6
    let tv2 = tv2.add(&tv5); //                              12. tv2 = tv2 + tv5
    let tv2 = tv2.mul(&tv3); //                              13. tv2 = tv2 * tv3
    let tv6 = tv6.mul(&tv4); //                              14. tv6 = tv6 * tv4
    let tv5 = B.mul(&tv6); //                                15. tv5 = B * tv6
    let tv2 = tv2.add(&tv5); //                              16. tv2 = tv2 + tv5
    let x = tv1.mul(&tv3); //                                17. x = tv1 * tv3
    let (is_gx1_square, y1) = sqrt_ratio_3mod4(&tv2, &tv6); // 18. sqrt_ratio(tv2, tv6)
    let y = tv1.mul(u); //                                   19. y = tv1 * u
    let y = y.mul(&y1); //                                   20. y = y * y1
    let x = Fe::conditional_select(&x, &tv3, is_gx1_square); // 21. x = CMOV(x, tv3, is_gx1_square)
    let y = Fe::conditional_select(&y, &y1, is_gx1_square); //  22. y = CMOV(y, y1, is_gx1_square)
    let e1 = u.sgn0().ct_eq(&y.sgn0()); //                   23. e1 = sgn0(u) == sgn0(y)
    let y = Fe::conditional_select(&y.neg(), &y, e1); //     24. y = CMOV(-y, y, e1)
    let tv4 = tv4.inv0(); //                                 25. tv4 = inv0(tv4)
    let x = x.mul(&tv4); //                                  26. x = x * tv4
    (x, y) //                                                27. return (x, y)
}

/// `sqrt_ratio(u, v)` for `q ≡ 3 (mod 4)`, RFC 9380 Appendix F.2.1.2: returns
/// `(true, sqrt(u / v))` if `u / v` is square, else `(false, sqrt(Z · u / v))`.
fn sqrt_ratio_3mod4(u: &Fe, v: &Fe) -> (Choice, Fe) {
    let tv1 = v.square(); //                      1. tv1 = v^2
    let tv2 = u.mul(v); //                        2. tv2 = u * v
    let tv1 = tv1.mul(&tv2); //                   3. tv1 = tv1 * tv2
    let y1 = tv1.pow(&SQRT_RATIO_C1); //          4. y1 = tv1^c1
    let y1 = y1.mul(&tv2); //                     5. y1 = y1 * tv2
    let y2 = y1.mul(&SQRT_RATIO_C2); //           6. y2 = y1 * c2
    let tv3 = y1.square(); //                     7. tv3 = y1^2
    let tv3 = tv3.mul(v); //                      8. tv3 = tv3 * v
    let is_qr = tv3.ct_eq(u); //                  9. isQR = tv3 == u
    let y = Fe::conditional_select(&y2, &y1, is_qr); // 10. y = CMOV(y2, y1, isQR)
    (is_qr, y) //                                11. return (isQR, y)
}

/// Affine point from SSWU coordinates; `sm2` re-checks the curve equation.
fn to_affine((x, y): (Fe, Fe)) -> Result<AffinePoint, Error> {
    let point = AffinePoint::from_coordinates(&x.to_be_bytes().into(), &y.to_be_bytes().into());
    // The SSWU map always lands on the curve (RFC 9380 §6.6.2); failure is a bug here.
    Option::<AffinePoint>::from(point).ok_or(Error::Internal(
        "SM2 simplified SWU produced a point off the curve",
    ))
}

#[cfg(test)]
mod tests;
