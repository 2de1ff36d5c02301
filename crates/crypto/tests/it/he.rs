//! Paillier and Okamoto–Uchiyama: round trips, homomorphism against plaintext arithmetic,
//! encodings, rejection of malformed input with the exact error, and a known-answer test against
//! an independent Python computation (`he_ref.py`).

use std::sync::OnceLock;

use rand_chacha::ChaCha20Rng;
use rand_core::{Rng, SeedableRng};
use unseen_crypto::Error;
use unseen_crypto::he::{
    HePublicKey, HeScheme, HeSecretKey, OuPublicKey, OuSecretKey, PaillierPublicKey,
    PaillierSecretKey, Plaintext, linear_combination, sum,
};

fn ou() -> &'static OuSecretKey {
    static K: OnceLock<OuSecretKey> = OnceLock::new();
    K.get_or_init(|| OuSecretKey::generate_from_seed(2048, [7; 32]).unwrap())
}

fn paillier() -> &'static PaillierSecretKey {
    static K: OnceLock<PaillierSecretKey> = OnceLock::new();
    K.get_or_init(|| PaillierSecretKey::generate_from_seed(2048, [9; 32]).unwrap())
}

fn rng(seed: u8) -> ChaCha20Rng {
    ChaCha20Rng::from_seed([seed; 32])
}

fn random_i64(r: &mut ChaCha20Rng) -> i64 {
    i64::from_le_bytes(r.next_u64().to_le_bytes()) >> 2
}

/// 2^bits - 1 as a plaintext of the given sign.
fn max_value(bits: u32, negative: bool) -> Plaintext {
    let full = (bits / 64) as usize;
    let rest = bits % 64;
    let mut limbs = vec![u64::MAX; full];
    if rest > 0 {
        limbs.push((1u64 << rest) - 1);
    }
    Plaintext::from_limbs(negative, limbs)
}

fn round_trip<K: HeSecretKey>(sk: &K) {
    let pk = sk.public();
    let mut r = rng(1);
    let mut values: Vec<Plaintext> = [0i128, 1, -1, 2, -2, i128::from(i64::MAX), i128::MIN + 1]
        .iter()
        .map(|&v| Plaintext::from_i128(v))
        .collect();
    values.extend((0..8).map(|_| Plaintext::from_i128(i128::from(random_i64(&mut r)))));
    values.push(max_value(pk.plaintext_bits(), false));
    values.push(max_value(pk.plaintext_bits(), true));
    let mut cts = Vec::new();
    for m in &values {
        let c = pk.encrypt(m).unwrap();
        assert_eq!(&sk.decrypt(&c), m);
        cts.push(c);
    }
    // Batch decryption (OU-2048 and Paillier-2048 on AVX-512 IFMA: eight powers per kernel
    // call) gives the messages, and on the identity and arbitrary values below the modulus
    // exactly what one-at-a-time decryption gives.
    let ifma = unseen_crypto::he::mont_ifma::backend_name() == "avx512ifma-8x";
    let name = format!("he::round_trip ({:?}) batch decryption", pk.scheme());
    unseen_crypto::simd_test_gate(&name, ifma);
    assert_eq!(sk.decrypt_batch(&cts), values);
    cts.push(pk.zero());
    for _ in 0..10 {
        let mut b = vec![0u8; pk.ciphertext_len()];
        r.fill_bytes(&mut b[1..]);
        cts.push(pk.read_ciphertext(&b).unwrap());
    }
    let one_by_one: Vec<Plaintext> = cts.iter().map(|c| sk.decrypt(c)).collect();
    assert_eq!(sk.decrypt_batch(&cts), one_by_one);
    // Two encryptions of the same value differ (randomised).
    let m = Plaintext::from_i128(42);
    assert_ne!(pk.encrypt(&m).unwrap(), pk.encrypt(&m).unwrap());
    // One bit past the capacity is refused.
    let over = max_value(pk.plaintext_bits() + 1, false);
    assert!(matches!(pk.encrypt(&over), Err(Error::InvalidArgument(_))));
    assert!(matches!(
        pk.mul_plain(&pk.zero(), &over),
        Err(Error::InvalidArgument(_))
    ));
    // The zero ciphertext decrypts to zero.
    assert_eq!(sk.decrypt(&pk.zero()), Plaintext::default());
}

fn homomorphism<K: HeSecretKey>(sk: &K) {
    let pk = sk.public();
    let mut r = rng(2);
    let xs: Vec<i128> = (0..100).map(|_| i128::from(random_i64(&mut r))).collect();
    let cts = pk
        .encrypt_batch(
            &xs.iter()
                .map(|&v| Plaintext::from_i128(v))
                .collect::<Vec<_>>(),
        )
        .unwrap();
    let mut acc = pk.zero();
    for c in &cts {
        pk.add_assign(&mut acc, c);
    }
    assert_eq!(sk.decrypt(&acc).to_i128(), Some(xs.iter().sum::<i128>()));
    assert_eq!(
        sk.decrypt(&pk.add(&cts[0], &cts[1])).to_i128(),
        Some(xs[0] + xs[1])
    );
    // Batch decryption matches one-by-one.
    let dec = sk.decrypt_batch(&cts);
    assert_eq!(
        dec.iter().map(|p| p.to_i128().unwrap()).collect::<Vec<_>>(),
        xs
    );
    // Multiplication by positive, negative and zero plaintexts.
    for (i, k) in [3i128, -5, 0, 1, -1, 1 << 40, -(1 << 62) + 7]
        .iter()
        .enumerate()
    {
        let c = pk.mul_plain(&cts[i], &Plaintext::from_i128(*k)).unwrap();
        assert_eq!(sk.decrypt(&c).to_i128(), Some(xs[i] * k), "k = {k}");
    }
    // Re-randomisation changes the ciphertext, not the value.
    let mut c = cts[0].clone();
    pk.rerandomize(&mut c).unwrap();
    assert_ne!(c, cts[0]);
    assert_eq!(sk.decrypt(&c).to_i128(), Some(xs[0]));
    // Precomputed randomness: each pooled factor is used once, the values stay correct, and
    // encryptions from the pool are still distinct.
    pk.precompute_randomness(3).unwrap();
    assert_eq!(pk.precomputed_randomness(), 3);
    let m = Plaintext::from_i128(-77);
    let (e1, e2) = (pk.encrypt(&m).unwrap(), pk.encrypt(&m).unwrap());
    assert_eq!(pk.precomputed_randomness(), 1);
    assert_ne!(e1, e2);
    assert_eq!(sk.decrypt(&e1), m);
    assert_eq!(sk.decrypt(&e2), m);
    let mut e3 = e1.clone();
    pk.rerandomize(&mut e3).unwrap();
    assert_eq!(pk.precomputed_randomness(), 0);
    assert_ne!(e3, e1);
    assert_eq!(sk.decrypt(&e3), m);
    // Packed slots add slot-wise.
    let slot = 48;
    let rows: Vec<[u128; 3]> = (0..50)
        .map(|_| {
            [
                u128::from(r.next_u32()),
                u128::from(r.next_u32()),
                u128::from(r.next_u32() >> 8),
            ]
        })
        .collect();
    let packed: Vec<Plaintext> = rows
        .iter()
        .map(|v| Plaintext::pack(v, slot).unwrap())
        .collect();
    let pc = pk.encrypt_batch(&packed).unwrap();
    let mut sum = pk.zero();
    for c in &pc {
        pk.add_assign(&mut sum, c);
    }
    let expect: Vec<u128> = (0..3).map(|j| rows.iter().map(|v| v[j]).sum()).collect();
    assert_eq!(sk.decrypt(&sum).unpack(slot, 3).unwrap(), expect);
}

fn encodings<K: HeSecretKey>(sk: &K, scheme: &'static str) {
    let pk = sk.public();
    let m = Plaintext::from_i128(-123_456_789);
    let c = pk.encrypt(&m).unwrap();
    let mut bytes = Vec::new();
    pk.write_ciphertext(&c, &mut bytes).unwrap();
    assert_eq!(bytes.len(), pk.ciphertext_len());
    let c2 = pk.read_ciphertext(&bytes).unwrap();
    assert_eq!(c2, c);
    // Public key round trip: the restored key encrypts for the same secret key.
    let pk_bytes = pk.to_bytes();
    let pk2 = K::Public::from_bytes(&pk_bytes).unwrap();
    assert_eq!(pk2.to_bytes(), pk_bytes);
    assert_eq!(sk.decrypt(&pk2.encrypt(&m).unwrap()), m);
    // Secret key round trip.
    let sk_bytes = sk.to_bytes();
    let sk2 = K::from_bytes(&sk_bytes).unwrap();
    assert_eq!(sk2.decrypt(&c), m);
    assert_eq!(sk2.public().to_bytes(), pk_bytes);

    let err = |reason: &'static str| Error::InvalidCiphertext { scheme, reason };
    // Tampering: a modified ciphertext does not decrypt to the original.
    let mut t = bytes.clone();
    t[bytes.len() / 2] ^= 1;
    let ct = pk.read_ciphertext(&t).unwrap();
    assert_ne!(sk.decrypt(&ct), m);
    // Wrong length, zero, out of range (the modulus itself, all ones).
    let wrong_len = || err("ciphertext has the wrong length");
    assert_eq!(pk.read_ciphertext(&bytes[1..]), Err(wrong_len()));
    let mut long = bytes.clone();
    long.push(0);
    assert_eq!(pk.read_ciphertext(&long), Err(wrong_len()));
    let zero = vec![0u8; bytes.len()];
    let ones = vec![0xffu8; bytes.len()];
    let range = || {
        if scheme == "OU" {
            err("ciphertext out of range (0, n)")
        } else {
            err("ciphertext out of range (0, n²)")
        }
    };
    assert_eq!(pk.read_ciphertext(&zero), Err(range()));
    assert_eq!(pk.read_ciphertext(&ones), Err(range()));

    // Bad public keys.
    let n_len = (pk.modulus_bits() / 8) as usize;
    let mut bad_tag = pk_bytes.clone();
    bad_tag[0] ^= 1;
    assert!(matches!(
        K::Public::from_bytes(&bad_tag),
        Err(Error::InvalidCiphertext { .. })
    ));
    let mut bad_size = pk_bytes.clone();
    bad_size[3..5].copy_from_slice(&1024u16.to_be_bytes());
    assert_eq!(
        K::Public::from_bytes(&bad_size).unwrap_err(),
        err("unsupported modulus size (2048 or 3072 bits)")
    );
    let mut trailing = pk_bytes.clone();
    trailing.push(0);
    assert_eq!(
        K::Public::from_bytes(&trailing).unwrap_err(),
        err("trailing bytes after the public key")
    );
    assert_eq!(
        K::Public::from_bytes(&pk_bytes[..pk_bytes.len() - 1]).unwrap_err(),
        err("public key has the wrong length")
    );
    let mut even = pk_bytes.clone();
    even[5 + n_len - 1] &= 0xfe;
    assert_eq!(
        K::Public::from_bytes(&even).unwrap_err(),
        err("modulus is even")
    );
    let mut short_n = pk_bytes.clone();
    short_n[5] = 0;
    assert_eq!(
        K::Public::from_bytes(&short_n).unwrap_err(),
        err("modulus has the wrong size")
    );
    // Bad secret keys: a flipped bit in p is caught (p no longer prime, or the wrong size).
    let mut bad_p = sk_bytes.to_vec();
    bad_p[5 + 3] ^= 0x10;
    assert!(matches!(
        K::from_bytes(&bad_p),
        Err(Error::InvalidCiphertext { .. })
    ));
    assert!(matches!(
        K::from_bytes(&sk_bytes[..sk_bytes.len() - 1]),
        Err(Error::InvalidCiphertext { .. })
    ));
}

#[test]
fn ou_round_trip() {
    let sk = ou();
    assert_eq!(sk.public().scheme(), HeScheme::OkamotoUchiyama);
    assert_eq!(sk.public().modulus_bits(), 2048);
    assert_eq!(sk.public().plaintext_bits(), 681);
    round_trip(sk);
}

#[test]
fn paillier_round_trip() {
    let sk = paillier();
    assert_eq!(sk.public().scheme(), HeScheme::Paillier);
    assert_eq!(sk.public().plaintext_bits(), 2046);
    round_trip(sk);
}

#[test]
fn ou_homomorphism() {
    homomorphism(ou());
}

#[test]
fn paillier_homomorphism() {
    homomorphism(paillier());
}

#[test]
fn ou_encodings_and_rejections() {
    encodings(ou(), "OU");
}

#[test]
fn paillier_encodings_and_rejections() {
    encodings(paillier(), "Paillier");
}

#[test]
fn keys_are_reproducible_from_a_seed_and_redacted() {
    let a = OuSecretKey::generate_from_seed(2048, [7; 32]).unwrap();
    assert_eq!(a.public().to_bytes(), ou().public().to_bytes());
    assert_eq!(format!("{a:?}"), "OuSecretKey(2048 bits, redacted)");
    assert_eq!(
        format!("{:?}", paillier()),
        "PaillierSecretKey(2048 bits, redacted)"
    );
    assert!(matches!(
        OuSecretKey::generate(1024),
        Err(Error::InvalidArgument(_))
    ));
    assert!(matches!(
        PaillierSecretKey::generate(4096),
        Err(Error::InvalidArgument(_))
    ));
}

#[test]
fn keys_of_different_schemes_do_not_decode_as_each_other() {
    let ou_pk = ou().public().to_bytes();
    let pa_pk = paillier().public().to_bytes();
    assert!(PaillierPublicKey::from_bytes(&ou_pk).is_err());
    assert!(OuPublicKey::from_bytes(&pa_pk).is_err());
}

/// Known answers computed by `he_ref.py` (independent Python, textbook formulas, Paillier
/// decryption without the CRT, OU cross-checked with the original exponent `p - 1`).
fn kat(name: &str) -> &'static str {
    include_str!("vectors/he_kat.txt")
        .lines()
        .filter_map(|l| l.split_once(" = "))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
        .unwrap()
}

fn kat_plaintext(name: &str) -> Plaintext {
    let v = kat(name);
    let (negative, digits) = v.strip_prefix('-').map_or((false, v), |d| (true, d));
    let limbs = digits
        .as_bytes()
        .rchunks(16)
        .map(|c| u64::from_str_radix(std::str::from_utf8(c).unwrap(), 16).unwrap())
        .collect();
    Plaintext::from_limbs(negative, limbs)
}

fn known_answers<K: HeSecretKey>(prefix: &str) {
    let h = |s: &str| hex::decode(kat(&format!("{prefix}_{s}"))).unwrap();
    let sk = K::from_bytes(&h("sk")).unwrap();
    let pk = sk.public();
    assert_eq!(pk.to_bytes(), h("pk"));
    assert_eq!(sk.to_bytes().to_vec(), h("sk"));
    let c1 = pk.read_ciphertext(&h("c1")).unwrap();
    let c2 = pk.read_ciphertext(&h("c2")).unwrap();
    let m1 = kat_plaintext(&format!("{prefix}_m1"));
    let m2 = kat_plaintext(&format!("{prefix}_m2"));
    let k = kat_plaintext(&format!("{prefix}_k"));
    assert_eq!(sk.decrypt(&c1), m1);
    assert_eq!(sk.decrypt(&c2), m2);
    let bytes = |c: &<K::Public as HePublicKey>::Ciphertext| {
        let mut out = Vec::new();
        pk.write_ciphertext(c, &mut out).unwrap();
        out
    };
    assert_eq!(bytes(&c1), h("c1"));
    assert_eq!(bytes(&pk.add(&c1, &c2)), h("sum"));
    assert_eq!(bytes(&pk.mul_plain(&c1, &k).unwrap()), h("c1_times_k"));
    let minus_k = Plaintext::from_limbs(true, k.magnitude_limbs().to_vec());
    assert_eq!(
        bytes(&pk.mul_plain(&c1, &minus_k).unwrap()),
        h("c1_times_minus_k")
    );
}

#[test]
fn ou_known_answers() {
    known_answers::<OuSecretKey>("ou");
}

#[test]
fn paillier_known_answers() {
    known_answers::<PaillierSecretKey>("pa");
}

/// The bucket-method linear combination decrypts to `Σ k_i·m_i` for signed messages and
/// coefficients up to 64 bits (window sizes from 1 to the largest), and the plain sum to
/// `Σ m_i`; empty sums and all-zero coefficients give the identity.
#[test]
fn linear_combination_equals_scalar_multiplications() {
    check_linear_combination(paillier());
    check_linear_combination(ou());
}

fn check_linear_combination<S: HeSecretKey>(sk: &S) {
    let pk = sk.public();
    let mut r = rng(77);
    for (terms, bits) in [(0usize, 27u32), (1, 1), (5, 3), (37, 27), (90, 20), (3, 64)] {
        let ms: Vec<i128> = (0..terms)
            .map(|_| i128::from(r.next_u64() >> 30) - (1 << 33))
            .collect();
        let ks: Vec<u64> = (0..terms).map(|_| r.next_u64() >> (64 - bits)).collect();
        let cts: Vec<_> = ms
            .iter()
            .map(|&m| pk.encrypt(&Plaintext::from_i128(m)).unwrap())
            .collect();
        let got = sk.decrypt(&linear_combination(pk, &cts, &ks));
        let want: i128 = ms.iter().zip(&ks).map(|(m, &k)| m * i128::from(k)).sum();
        assert_eq!(got.to_i128(), Some(want), "{terms} terms of {bits} bits");
        let total = sk.decrypt(&sum(pk, &cts));
        assert_eq!(
            total.to_i128(),
            Some(ms.iter().sum()),
            "sum of {terms} terms"
        );
        if terms > 1 {
            // Extra items of the longer slice are ignored.
            let short = sk.decrypt(&linear_combination(pk, &cts, &ks[..1]));
            assert_eq!(short.to_i128(), Some(ms[0] * i128::from(ks[0])));
        }
    }
    assert_eq!(linear_combination(pk, &[], &[]), pk.zero());
    let c = pk.encrypt(&Plaintext::from_i128(5)).unwrap();
    assert_eq!(linear_combination(pk, &[c.clone(), c], &[0, 0]), pk.zero());
}

fn ou3072() -> &'static OuSecretKey {
    static K: OnceLock<OuSecretKey> = OnceLock::new();
    K.get_or_init(|| OuSecretKey::generate_from_seed(3072, [11; 32]).unwrap())
}

fn paillier3072() -> &'static PaillierSecretKey {
    static K: OnceLock<PaillierSecretKey> = OnceLock::new();
    K.get_or_init(|| PaillierSecretKey::generate_from_seed(3072, [13; 32]).unwrap())
}

/// A ciphertext of a 3072-bit key written with a 2048-bit key (and the other way round) is a
/// caller's bug: an error, and nothing written, instead of a ciphertext's length of zeros that
/// the peer would decode as a valid frame (what the code before this test did). The other
/// operations that take a ciphertext refuse it the same way, and the 3072-bit keys work.
fn write_refuses_other_key_size<K: HeSecretKey>(small: &K, large: &K) {
    let (a, b) = (small.public(), large.public());
    let m = Plaintext::from_i128(-3);
    let ca = a.encrypt(&m).unwrap();
    let cb = b.encrypt(&m).unwrap();
    let other = Err(Error::InvalidArgument("ciphertext of another key size"));
    for (pk, c, own) in [(a, &cb, &ca), (b, &ca, &cb)] {
        let mut out = vec![0xaa];
        assert_eq!(pk.write_ciphertext(c, &mut out), other);
        assert_eq!(out, [0xaa], "{} bits: bytes written", pk.modulus_bits());
        assert_eq!(pk.mul_plain(c, &m).map(|_| ()), other);
        assert_eq!(pk.rerandomize(&mut c.clone()), other);
        pk.write_ciphertext(own, &mut out).unwrap();
        assert_eq!(out.len(), 1 + pk.ciphertext_len());
        assert_eq!(&pk.read_ciphertext(&out[1..]).unwrap(), own);
    }
    assert_eq!(b.modulus_bits(), 3072);
    assert_eq!(large.decrypt(&cb), m);
    assert_eq!(
        large.decrypt_batch(&[cb.clone(), b.zero()]),
        [m, Plaintext::default()]
    );
    let sk = K::from_bytes(&large.to_bytes()).unwrap();
    assert_eq!(sk.public().to_bytes(), b.to_bytes());
    assert_eq!(
        K::Public::from_bytes(&b.to_bytes()).unwrap().to_bytes(),
        b.to_bytes()
    );
}

#[test]
fn write_ciphertext_refuses_a_ciphertext_of_another_key_size() {
    write_refuses_other_key_size(ou(), ou3072());
    write_refuses_other_key_size(paillier(), paillier3072());
}
