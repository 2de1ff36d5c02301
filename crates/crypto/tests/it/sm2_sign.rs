//! SM2 signatures (GB/T 32918.2) through `Sm2Signer` / `sm2_verify`.

use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;
use unseen_crypto::{SM2_DEFAULT_DISTID, Sm2Signer, sm2_verify};

/// GM/T 0003.5-2012 Annex A.2 (= GB/T 32918.5-2017 Annex A.2): the signature of
/// "message digest" by the example key with the default identifier, (r, s) as printed there.
#[test]
fn gmt0003_5_annex_a2_signature_verifies() {
    let public = hex::decode(
        "04\
         09f9df311e5421a150dd7d161e4bc5c672179fad1833fc076bb08ff356f35020\
         ccea490ce26775a52dc6ea718cc1aa600aed05fbf35e084a6632f6072da9ad13",
    )
    .unwrap();
    let sig = hex::decode(
        "f5a03b0648d2c4630eeac513e1bb81a15944da3827d5b74143ac7eaceee720b3\
         b1b6aa29df212fd8763182bc0d421ca1bb9038fd1f7f42d4840b69c485bbc1aa",
    )
    .unwrap();
    assert!(sm2_verify(
        &public,
        SM2_DEFAULT_DISTID,
        b"message digest",
        &sig
    ));
    // One bit off anywhere fails.
    assert!(!sm2_verify(
        &public,
        SM2_DEFAULT_DISTID,
        b"message digesT",
        &sig
    ));
    assert!(!sm2_verify(
        &public,
        "1234567812345679",
        b"message digest",
        &sig
    ));
    let mut bad = sig.clone();
    bad[63] ^= 1;
    assert!(!sm2_verify(
        &public,
        SM2_DEFAULT_DISTID,
        b"message digest",
        &bad
    ));
    // And the example's secret key gives the example's public key.
    let signer = Sm2Signer::from_bytes(
        &hex::decode("3945208f7b2144b13f36e38ac6d39f95889393692860b51a42fb81ef4df7c5b8").unwrap(),
    )
    .unwrap();
    assert_eq!(signer.public_key(), public);
}

#[test]
fn sign_verify_round_trip_and_key_encoding() {
    let mut rng = ChaCha20Rng::seed_from_u64(32_918);
    let signer = Sm2Signer::generate(&mut rng);
    let msg = b"audit record hash";
    let sig = signer.sign(msg);
    assert!(sm2_verify(
        &signer.public_key(),
        SM2_DEFAULT_DISTID,
        msg,
        &sig
    ));
    let other = Sm2Signer::generate(&mut rng);
    assert!(!sm2_verify(
        &other.public_key(),
        SM2_DEFAULT_DISTID,
        msg,
        &sig
    ));
    let again = Sm2Signer::from_bytes(signer.to_bytes().as_slice()).unwrap();
    assert_eq!(again.public_key(), signer.public_key());
    // Malformed inputs are a `false` or an error, never a panic.
    assert!(!sm2_verify(&[4u8; 65], SM2_DEFAULT_DISTID, msg, &sig));
    assert!(!sm2_verify(
        &signer.public_key(),
        SM2_DEFAULT_DISTID,
        msg,
        &sig[..63]
    ));
    assert!(Sm2Signer::from_bytes(&[0u8; 32]).is_err());
    assert!(Sm2Signer::from_bytes(&[0xff; 32]).is_err());
    assert!(Sm2Signer::from_bytes(&[1u8; 31]).is_err());
    assert!(!format!("{signer:?}").contains(&hex::encode(signer.to_bytes().as_slice())));
}
