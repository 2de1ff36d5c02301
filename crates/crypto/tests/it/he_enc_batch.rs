//! OU-2048's batch operations on the eight-lane AVX-512 IFMA path against the scalar path and
//! the plaintext: `encrypt_batch` (decryptions, equal ciphertexts for the same `(m, r)`, the
//! pool), `decrypt_batch`, `mul_plain_batch` and `add_many` (equal to the one-at-a-time
//! operations, ciphertext for ciphertext), and the `UNSEEN_NO_SIMD` switch (in a child process).
//! Without the IFMA path the comparisons run scalar against scalar: each test passes
//! `unseen_crypto::simd_test_gate`, which reports and counts that (and fails it under
//! `UNSEEN_REQUIRE_SIMD=1`).

use std::sync::OnceLock;

use rand_chacha::ChaCha20Rng;
use rand_core::{Rng, SeedableRng};
use unseen_crypto::he::mont_ifma::MontMul8;
use unseen_crypto::he::{HePublicKey, HeSecretKey, OuSecretKey, Plaintext};
use unseen_crypto::simd_test_gate;

fn key() -> &'static OuSecretKey {
    static K: OnceLock<OuSecretKey> = OnceLock::new();
    K.get_or_init(|| OuSecretKey::generate_from_seed(2048, [7; 32]).unwrap())
}

/// 2^bits - 1 as a plaintext of the given sign.
fn max_value(bits: u32, negative: bool) -> Plaintext {
    let mut limbs = vec![u64::MAX; (bits / 64) as usize];
    if !bits.is_multiple_of(64) {
        limbs.push((1u64 << (bits % 64)) - 1);
    }
    Plaintext::from_limbs(negative, limbs)
}

/// `len` messages: zero, ±1, the capacity of both signs, then random values of mixed sign and
/// width (from 1 to 120 bits).
fn messages(len: usize, seed: u8) -> Vec<Plaintext> {
    let bits = key().public().plaintext_bits();
    let mut r = ChaCha20Rng::from_seed([seed; 32]);
    let fixed = [
        Plaintext::from_i128(0),
        max_value(bits, false),
        Plaintext::from_i128(-1),
        max_value(bits, true),
        Plaintext::from_i128(1),
    ];
    (0..len)
        .map(|i| {
            fixed.get(i).cloned().unwrap_or_else(|| {
                let w = 1 + r.next_u32() % 120;
                let v = (i128::from(r.next_u64()) << 64 | i128::from(r.next_u64())) >> (128 - w);
                Plaintext::from_i128(if r.next_u32() % 2 == 0 { v } else { -v })
            })
        })
        .collect()
}

/// Whether this process has the IFMA path (CPU support, no `UNSEEN_NO_SIMD`).
fn has_ifma() -> bool {
    let n = key().public().to_bytes();
    // The modulus, big-endian after the 5-byte header, as little-endian u64 words.
    let words: Vec<u64> = n[5..5 + 256]
        .rchunks(8)
        .map(|c| u64::from_be_bytes(c.try_into().unwrap()))
        .collect();
    MontMul8::new(&words).is_some()
}

/// The SIMD gate of test `name`: whether OU-2048's batch operations run on IFMA here.
fn gate(name: &str) -> bool {
    simd_test_gate(&format!("he_enc_batch::{name}"), has_ifma())
}

fn check_batches() {
    let sk = key();
    let pk = sk.public();
    for (len, seed) in [(1, 1), (7, 2), (8, 3), (9, 4), (100, 5)] {
        let ms = messages(len, seed);
        let cs = pk.encrypt_batch(&ms).unwrap();
        assert_eq!(cs.len(), len);
        assert_eq!(sk.decrypt_batch(&cs), ms, "batch of {len}");
    }
    // Two batch encryptions of the same messages differ (fresh randomness).
    let ms = messages(9, 6);
    assert_ne!(
        pk.encrypt_batch(&ms).unwrap(),
        pk.encrypt_batch(&ms).unwrap()
    );
    // Over capacity: an error, not a wrong ciphertext.
    let mut big = messages(9, 7);
    big[8] = max_value(pk.plaintext_bits() + 1, false);
    assert!(pk.encrypt_batch(&big).is_err());

    // Products and sums against the plaintext (messages below 2^80, factors below 2^40).
    let mut r = ChaCha20Rng::from_seed([12; 32]);
    let mut signed = |bits: u32| {
        let v = i128::from(r.next_u64()) << 16 | i128::from(r.next_u64() >> 48);
        let v = v >> (80 - bits);
        if r.next_u32() % 2 == 0 { v } else { -v }
    };
    let ms: Vec<i128> = (0..21).map(|_| signed(80)).collect();
    let mut ks: Vec<i128> = (0..21).map(|_| signed(40)).collect();
    ks[..4].copy_from_slice(&[0, 1, -1, 1 << 39]);
    let pts: Vec<Plaintext> = ms.iter().map(|&m| Plaintext::from_i128(m)).collect();
    let kps: Vec<Plaintext> = ks.iter().map(|&k| Plaintext::from_i128(k)).collect();
    let cs = pk.encrypt_batch(&pts).unwrap();
    let prod = pk.mul_plain_batch(&cs, &kps).unwrap();
    let want: Vec<Plaintext> = ms
        .iter()
        .zip(&ks)
        .map(|(m, k)| Plaintext::from_i128(m * k))
        .collect();
    assert_eq!(sk.decrypt_batch(&prod), want, "mul_plain_batch");
    assert!(
        pk.mul_plain_batch(&cs, &kps[1..]).is_err(),
        "lengths differ"
    );
    let mut wide = kps.clone();
    wide[3] = max_value(pk.plaintext_bits() + 1, true);
    assert!(pk.mul_plain_batch(&cs, &wide).is_err(), "k over capacity");
    let mut sums = cs.clone();
    pk.add_many(&mut sums, &prod).unwrap();
    let want: Vec<Plaintext> = ms
        .iter()
        .zip(&ks)
        .map(|(m, k)| Plaintext::from_i128(m + m * k))
        .collect();
    assert_eq!(sk.decrypt_batch(&sums), want, "add_many");
    assert!(
        pk.add_many(&mut sums, &prod[1..]).is_err(),
        "lengths differ"
    );
}

/// `len` valid ciphertext values that are not encryptions made here: uniform below `2^2040`
/// (so below `n`), decoded as a peer's would be.
fn foreign_ciphertexts(len: usize, seed: u8) -> Vec<unseen_crypto::he::OuCiphertext> {
    let pk = key().public();
    let mut r = ChaCha20Rng::from_seed([seed; 32]);
    (0..len)
        .map(|_| {
            let mut b = vec![0u8; pk.ciphertext_len()];
            r.fill_bytes(&mut b[1..]);
            pk.read_ciphertext(&b).unwrap()
        })
        .collect()
}

/// The batch operations give exactly what the one-at-a-time ones give, on encryptions, on the
/// identity and on arbitrary values below `n` (whose "plaintexts" are meaningless, but both
/// paths must agree on them).
#[test]
fn ifma_batch_operations_equal_the_scalar_ones() {
    gate("ifma_batch_operations_equal_the_scalar_ones");
    let sk = key();
    let pk = sk.public();
    let mut cs = pk.encrypt_batch(&messages(30, 13)).unwrap();
    cs.push(pk.zero());
    cs.extend(foreign_ciphertexts(18, 14));
    let one_by_one: Vec<Plaintext> = cs.iter().map(|c| sk.decrypt(c)).collect();
    assert_eq!(sk.decrypt_batch(&cs), one_by_one, "decrypt_batch");
    for len in [1, 7, 8, 9] {
        assert_eq!(sk.decrypt_batch(&cs[..len]), one_by_one[..len]);
    }
    assert!(sk.decrypt_batch(&[]).is_empty());

    let mut r = ChaCha20Rng::from_seed([15; 32]);
    let ks: Vec<Plaintext> = (0..cs.len())
        .map(|i| match i {
            0 => Plaintext::from_i128(0),
            1 => Plaintext::from_i128(-1),
            2 => max_value(pk.plaintext_bits(), false),
            3 => max_value(pk.plaintext_bits(), true),
            _ => {
                let w = 1 + r.next_u32() % 127;
                let v = (i128::from(r.next_u64()) << 64 | i128::from(r.next_u64())) >> (128 - w);
                Plaintext::from_i128(if r.next_u32() % 2 == 0 { v } else { -v })
            }
        })
        .collect();
    let batch = pk.mul_plain_batch(&cs, &ks).unwrap();
    for (i, ((c, k), b)) in cs.iter().zip(&ks).zip(&batch).enumerate() {
        assert_eq!(&pk.mul_plain(c, k).unwrap(), b, "mul_plain_batch {i}");
    }
    // Narrow factors only (the window count follows the widest).
    let small: Vec<Plaintext> = (0..cs.len())
        .map(|i| Plaintext::from_i128(i128::try_from(i).unwrap() - 5))
        .collect();
    let batch = pk.mul_plain_batch(&cs, &small).unwrap();
    for ((c, k), b) in cs.iter().zip(&small).zip(&batch) {
        assert_eq!(&pk.mul_plain(c, k).unwrap(), b);
    }

    let xs: Vec<_> = cs.iter().rev().cloned().collect();
    let mut many = cs.clone();
    pk.add_many(&mut many, &xs).unwrap();
    let mut shifted = cs.clone();
    pk.shift_add_many(&mut shifted, 0, &xs).unwrap();
    for ((c, x), (m, s)) in cs.iter().zip(&xs).zip(many.iter().zip(&shifted)) {
        let want = pk.add(c, x);
        assert_eq!(m, &want, "add_many");
        assert_eq!(s, &want, "shift_add_many by 0");
    }
}

#[test]
fn batch_encryptions_decrypt_to_the_messages() {
    gate("batch_encryptions_decrypt_to_the_messages");
    check_batches();
}

#[test]
fn batch_uses_the_pool_first_then_fresh_randomness() {
    gate("batch_uses_the_pool_first_then_fresh_randomness");
    let sk = OuSecretKey::generate_from_seed(2048, [7; 32]).unwrap();
    let pk = sk.public();
    pk.precompute_randomness(5).unwrap();
    let ms = messages(19, 8);
    let cs = pk.encrypt_batch(&ms).unwrap();
    assert_eq!(pk.precomputed_randomness(), 0);
    assert_eq!(sk.decrypt_batch(&cs), ms);
}

/// The same `(m, r)` gives the same ciphertext on both paths.
#[test]
fn ifma_and_scalar_ciphertexts_are_equal_for_the_same_randomness() {
    let sk = key();
    let pk = sk.public();
    let ms = messages(17, 9);
    let mut r = ChaCha20Rng::from_seed([10; 32]);
    let mut rs: Vec<Vec<u8>> = (0..ms.len())
        .map(|_| {
            let mut b = vec![0u8; 28];
            r.fill_bytes(&mut b);
            b
        })
        .collect();
    rs[1] = vec![0u8; 28]; // r = 0: H^0 = 1
    rs[2] = vec![0xff; 28]; // every window at its largest digit
    let scalar = pk
        .encrypt_with_randomness_for_tests(&ms, &rs, false)
        .unwrap()
        .unwrap();
    assert_eq!(sk.decrypt_batch(&scalar), ms);
    // r wider than the key's 224 bits is refused.
    assert!(
        pk.encrypt_with_randomness_for_tests(&ms[..1], &[vec![1u8; 29]], false)
            .is_err()
    );
    let simd = pk
        .encrypt_with_randomness_for_tests(&ms, &rs, true)
        .unwrap();
    assert_eq!(simd.is_some(), has_ifma());
    if gate("ifma_and_scalar_ciphertexts_are_equal_for_the_same_randomness") {
        assert_eq!(simd, Some(scalar));
    }
}

/// With `UNSEEN_NO_SIMD` (child process: the choice is made once per process) the scalar path
/// runs, and its batches decrypt as well.
#[test]
fn batch_without_simd_uses_the_scalar_path() {
    if std::env::var_os("UNSEEN_ENC_CHILD").is_some() {
        assert!(!has_ifma());
        let ms = messages(3, 11);
        let rs = vec![vec![3u8; 28]; 3];
        assert!(
            key()
                .public()
                .encrypt_with_randomness_for_tests(&ms, &rs, true)
                .unwrap()
                .is_none()
        );
        check_batches();
        return;
    }
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "he_enc_batch::batch_without_simd_uses_the_scalar_path",
            "--test-threads=1",
        ])
        .env("UNSEEN_ENC_CHILD", "1")
        .env("UNSEEN_NO_SIMD", "1")
        .env_remove("UNSEEN_REQUIRE_SIMD")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "child failed: {stdout}");
    assert!(stdout.contains("1 passed"), "child ran no test: {stdout}");
}
