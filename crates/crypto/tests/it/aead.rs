//! AEAD (`unseen_crypto::aead`): official vectors of both algorithms, then properties.
//!
//! Vector sources (only the values were copied, no code):
//!
//! * AES-256-GCM: McGrew & Viega, "The Galois/Counter Mode of Operation (GCM)" (revised 2005),
//!   test cases 13, 14, 15 and 16 (the 256-bit-key cases with 96-bit IVs; 16 has associated
//!   data). The same values appear in NIST's GCM validation examples; they were checked equal
//!   across several independent public test suites that quote the spec.
//! * AES-256-GCM: NIST CAVP `gcmEncryptExtIV256.rsp`, section `[Keylen = 256] [IVlen = 96]
//!   [PTlen = 128] [AADlen = 128] [Taglen = 128]`, `Count = 0`, as carried in RustCrypto/AEADs
//!   `aes-gcm/tests/aes256gcm.rs` ("NIST CAVS vectors … From: gcmEncryptExtIV256.rsp") and
//!   checked equal to other public copies of that file's entry.
//! * SM4-GCM: RFC 8998 Appendix A.1 ("SM4-GCM Test Vectors"), as carried in pyca/cryptography
//!   `vectors/cryptography_vectors/ciphers/SM4/rfc8998.txt` and checked equal to the copies in
//!   nettle `testsuite/gcm-test.c` and GmSSL's SM4-GCM test.

use unseen_crypto::aead::{self, AeadAlg, AeadError, NONCE_LEN, TAG_LEN};

/// One known-answer vector: all fields hex, `ct` without the tag.
struct Vector {
    name: &'static str,
    alg: AeadAlg,
    key: &'static str,
    iv: &'static str,
    aad: &'static str,
    pt: &'static str,
    ct: &'static str,
    tag: &'static str,
}

const VECTORS: &[Vector] = &[
    Vector {
        name: "GCM spec test case 13 (AES-256, empty P and A)",
        alg: AeadAlg::Aes256Gcm,
        key: "0000000000000000000000000000000000000000000000000000000000000000",
        iv: "000000000000000000000000",
        aad: "",
        pt: "",
        ct: "",
        tag: "530f8afbc74536b9a963b4f1c4cb738b",
    },
    Vector {
        name: "GCM spec test case 14 (AES-256, one zero block)",
        alg: AeadAlg::Aes256Gcm,
        key: "0000000000000000000000000000000000000000000000000000000000000000",
        iv: "000000000000000000000000",
        aad: "",
        pt: "00000000000000000000000000000000",
        ct: "cea7403d4d606b6e074ec5d3baf39d18",
        tag: "d0d1c8a799996bf0265b98b5d48ab919",
    },
    Vector {
        name: "GCM spec test case 15 (AES-256, 64-byte P)",
        alg: AeadAlg::Aes256Gcm,
        key: "feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308",
        iv: "cafebabefacedbaddecaf888",
        aad: "",
        pt: "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a72\
             1c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b391aafd255",
        ct: "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa\
             8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662898015ad",
        tag: "b094dac5d93471bdec1a502270e3cc6c",
    },
    Vector {
        name: "GCM spec test case 16 (AES-256, 60-byte P, 20-byte A)",
        alg: AeadAlg::Aes256Gcm,
        key: "feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308",
        iv: "cafebabefacedbaddecaf888",
        aad: "feedfacedeadbeeffeedfacedeadbeefabaddad2",
        pt: "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a72\
             1c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b39",
        ct: "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa\
             8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662",
        tag: "76fc6ece0f4e1768cddf8853bb2d551b",
    },
    Vector {
        name: "CAVP gcmEncryptExtIV256.rsp PTlen=128 AADlen=128 Count=0",
        alg: AeadAlg::Aes256Gcm,
        key: "92e11dcdaa866f5ce790fd24501f92509aacf4cb8b1339d50c9c1240935dd08b",
        iv: "ac93a1a6145299bde902f21a",
        aad: "1e0889016f67601c8ebea4943bc23ad6",
        pt: "2d71bcfa914e4ac045b2aa60955fad24",
        ct: "8995ae2e6df3dbf96fac7b7137bae67f",
        tag: "eca5aa77d51d4a0a14d9c51e1da474ab",
    },
    Vector {
        name: "RFC 8998 A.1 (SM4-GCM)",
        alg: AeadAlg::Sm4Gcm,
        key: "0123456789abcdeffedcba9876543210",
        iv: "00001234567800000000abcd",
        aad: "feedfacedeadbeeffeedfacedeadbeefabaddad2",
        pt: "aaaaaaaaaaaaaaaabbbbbbbbbbbbbbbbccccccccccccccccdddddddddddddddd\
             eeeeeeeeeeeeeeeeffffffffffffffffeeeeeeeeeeeeeeeeaaaaaaaaaaaaaaaa",
        ct: "17f399f08c67d5ee19d0dc9969c4bb7d5fd46fd3756489069157b282bb200735\
             d82710ca5c22f0ccfa7cbf93d496ac15a56834cbcf98c397b4024a2691233b8d",
        tag: "83de3541e4c2b58177e065a9bf7b62ec",
    },
];

const ALGS: [AeadAlg; 2] = [AeadAlg::Aes256Gcm, AeadAlg::Sm4Gcm];

fn h(s: &str) -> Vec<u8> {
    hex::decode(s).unwrap()
}

fn nonce_of(v: &Vector) -> [u8; NONCE_LEN] {
    h(v.iv).try_into().unwrap()
}

/// A key of the right length for `alg`, distinct per `seed`.
fn key(alg: AeadAlg, seed: u8) -> Vec<u8> {
    (0..alg.key_len())
        .map(|i| seed ^ u8::try_from(i).unwrap().wrapping_mul(37))
        .collect()
}

const NONCE: [u8; NONCE_LEN] = *b"record-00042";
const AAD: &[u8] = b"unseen/kwpir/v1 table=7";
const RECORD: &[u8] = b"account 6222 0000 1111 2222: risk=high, last=2026-11-25";

fn sealed_record(alg: AeadAlg) -> Vec<u8> {
    aead::seal(alg, &key(alg, 1), &NONCE, AAD, RECORD).unwrap()
}

#[test]
fn official_vectors_seal() {
    for v in VECTORS {
        let sealed = aead::seal(v.alg, &h(v.key), &nonce_of(v), &h(v.aad), &h(v.pt)).unwrap();
        let want = [h(v.ct), h(v.tag)].concat();
        assert_eq!(hex::encode(&sealed), hex::encode(&want), "{}", v.name);
    }
}

#[test]
fn official_vectors_open() {
    for v in VECTORS {
        let sealed = [h(v.ct), h(v.tag)].concat();
        let opened = aead::open(v.alg, &h(v.key), &nonce_of(v), &h(v.aad), &sealed).unwrap();
        assert_eq!(opened, h(v.pt), "{}", v.name);
        // The official tag with one bit off is refused.
        let mut bad = sealed.clone();
        let last = bad.len() - 1;
        bad[last] ^= 0x01;
        assert!(
            matches!(
                aead::open(v.alg, &h(v.key), &nonce_of(v), &h(v.aad), &bad),
                Err(AeadError::Decrypt)
            ),
            "{}",
            v.name
        );
    }
}

#[test]
fn lengths() {
    assert_eq!(AeadAlg::Aes256Gcm.key_len(), 32);
    assert_eq!(AeadAlg::Sm4Gcm.key_len(), 16);
    assert_eq!((AeadAlg::NONCE_LEN, NONCE_LEN), (12, 12));
    assert_eq!((AeadAlg::TAG_LEN, TAG_LEN), (16, 16));
    for alg in ALGS {
        assert_eq!(sealed_record(alg).len(), RECORD.len() + TAG_LEN, "{alg:?}");
    }
}

#[test]
fn round_trips() {
    for alg in ALGS {
        for len in [0, 1, 15, 16, 17, 64, 1000] {
            let pt: Vec<u8> = (0..len).map(|i| u8::try_from(i % 251).unwrap()).collect();
            for aad in [&b""[..], b"x", AAD] {
                let sealed = aead::seal(alg, &key(alg, 2), &NONCE, aad, &pt).unwrap();
                assert_eq!(sealed.len(), len + TAG_LEN);
                if len > 0 {
                    assert_ne!(
                        &sealed[..len],
                        &pt[..],
                        "{alg:?}: ciphertext equals plaintext"
                    );
                }
                let opened = aead::open(alg, &key(alg, 2), &NONCE, aad, &sealed).unwrap();
                assert_eq!(opened, pt, "{alg:?} len {len}");
            }
        }
    }
}

#[test]
fn empty_plaintext() {
    for alg in ALGS {
        let sealed = aead::seal(alg, &key(alg, 3), &NONCE, AAD, b"").unwrap();
        assert_eq!(sealed.len(), TAG_LEN);
        let opened = aead::open(alg, &key(alg, 3), &NONCE, AAD, &sealed).unwrap();
        assert!(opened.is_empty());
        // The tag alone still authenticates the associated data.
        assert!(matches!(
            aead::open(alg, &key(alg, 3), &NONCE, b"other", &sealed),
            Err(AeadError::Decrypt)
        ));
    }
}

#[test]
fn flipped_bit_in_ciphertext_or_tag_is_refused() {
    for alg in ALGS {
        let sealed = sealed_record(alg);
        // Every byte of ciphertext and tag, each of its bits in turn.
        for i in 0..sealed.len() {
            for bit in 0..8 {
                let mut bad = sealed.clone();
                bad[i] ^= 1 << bit;
                let got = aead::open(alg, &key(alg, 1), &NONCE, AAD, &bad);
                assert!(
                    matches!(got, Err(AeadError::Decrypt)),
                    "{alg:?}: byte {i} bit {bit} accepted"
                );
            }
        }
    }
}

#[test]
fn flipped_bit_in_aad_or_nonce_is_refused() {
    for alg in ALGS {
        let sealed = sealed_record(alg);
        for i in 0..AAD.len() {
            let mut aad = AAD.to_vec();
            aad[i] ^= 0x80;
            let got = aead::open(alg, &key(alg, 1), &NONCE, &aad, &sealed);
            assert!(
                matches!(got, Err(AeadError::Decrypt)),
                "{alg:?}: aad byte {i}"
            );
        }
        for i in 0..NONCE_LEN {
            let mut nonce = NONCE;
            nonce[i] ^= 0x01;
            let got = aead::open(alg, &key(alg, 1), &nonce, AAD, &sealed);
            assert!(
                matches!(got, Err(AeadError::Decrypt)),
                "{alg:?}: nonce byte {i}"
            );
        }
        // Associated data longer or shorter by one byte.
        let longer = [AAD, b"\0"].concat();
        assert!(matches!(
            aead::open(alg, &key(alg, 1), &NONCE, &longer, &sealed),
            Err(AeadError::Decrypt)
        ));
        assert!(matches!(
            aead::open(alg, &key(alg, 1), &NONCE, &AAD[..AAD.len() - 1], &sealed),
            Err(AeadError::Decrypt)
        ));
    }
}

#[test]
fn wrong_key_truncation_or_extension_is_refused() {
    for alg in ALGS {
        let sealed = sealed_record(alg);
        assert!(matches!(
            aead::open(alg, &key(alg, 9), &NONCE, AAD, &sealed),
            Err(AeadError::Decrypt)
        ));
        assert!(matches!(
            aead::open(alg, &key(alg, 1), &NONCE, AAD, &sealed[..sealed.len() - 1]),
            Err(AeadError::Decrypt)
        ));
        assert!(matches!(
            aead::open(alg, &key(alg, 1), &NONCE, AAD, &sealed[1..]),
            Err(AeadError::Decrypt)
        ));
        let extended = [&sealed[..], b"\0"].concat();
        assert!(matches!(
            aead::open(alg, &key(alg, 1), &NONCE, AAD, &extended),
            Err(AeadError::Decrypt)
        ));
    }
}

#[test]
fn algorithms_are_not_interchangeable() {
    // The first 16 bytes of the AES key as the SM4 key: same bytes, different cipher.
    let aes_key = key(AeadAlg::Aes256Gcm, 1);
    let sealed = aead::seal(AeadAlg::Aes256Gcm, &aes_key, &NONCE, AAD, RECORD).unwrap();
    assert!(matches!(
        aead::open(AeadAlg::Sm4Gcm, &aes_key[..16], &NONCE, AAD, &sealed),
        Err(AeadError::Decrypt)
    ));
}

#[test]
fn wrong_key_length() {
    for alg in ALGS {
        let expected = alg.key_len();
        for got in [0, 1, 15, 16, 24, 31, 32, 33, 64] {
            if got == expected {
                continue;
            }
            let k = vec![7u8; got];
            let err = aead::seal(alg, &k, &NONCE, AAD, RECORD).unwrap_err();
            assert!(
                matches!(err, AeadError::KeyLength { expected: e, got: g } if e == expected && g == got),
                "{alg:?} seal with {got}-byte key: {err:?}"
            );
            let err = aead::open(alg, &k, &NONCE, AAD, &sealed_record(alg)).unwrap_err();
            assert!(
                matches!(err, AeadError::KeyLength { expected: e, got: g } if e == expected && g == got),
                "{alg:?} open with {got}-byte key: {err:?}"
            );
        }
    }
}

#[test]
fn shorter_than_tag() {
    for alg in ALGS {
        let sealed = sealed_record(alg);
        for len in 0..TAG_LEN {
            let got = aead::open(alg, &key(alg, 1), &NONCE, AAD, &sealed[..len]);
            assert!(matches!(got, Err(AeadError::TooShort)), "{alg:?} len {len}");
        }
        // Exactly a tag's length is a well-formed (empty) message, just not this one.
        let got = aead::open(alg, &key(alg, 1), &NONCE, AAD, &sealed[..TAG_LEN]);
        assert!(matches!(got, Err(AeadError::Decrypt)), "{alg:?}");
    }
}
