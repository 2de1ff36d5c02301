//! `HePublicKey::bucket_sums`: OU's kernel (AVX-512 IFMA where the CPU has it) against the
//! one-addition-at-a-time default, and both against the plaintext sums.

use rand_chacha::ChaCha20Rng;
use rand_core::{Rng, SeedableRng};
use unseen_crypto::he::{
    HePublicKey, HeSecretKey, OuSecretKey, PaillierSecretKey, Plaintext, bucket_sums_default,
};

fn check<K: HeSecretKey>(sk: &K, seed: u64) {
    let pk = sk.public();
    let mut r = ChaCha20Rng::seed_from_u64(seed);
    let rows: u32 = 300;
    let n_bins = 7usize;
    let features = 11usize; // one group of eight lanes and three left over
    let values: Vec<u64> = (0..rows).map(|_| r.next_u64() >> 24).collect();
    let cts = pk
        .encrypt_batch(
            &values
                .iter()
                .map(|&v| Plaintext::from_u128(u128::from(v)))
                .collect::<Vec<_>>(),
        )
        .unwrap();
    let cols: Vec<Vec<u8>> = (0..features)
        .map(|f| {
            (0..rows)
                .map(|_| {
                    // Feature 3 leaves bins 5 and 6 empty.
                    let m = if f == 3 { 5 } else { 7 };
                    u8::try_from(r.next_u32() % m).unwrap()
                })
                .collect()
        })
        .collect();
    let bins: Vec<&[u8]> = cols.iter().map(Vec::as_slice).collect();
    let node_a: Vec<u32> = (0..rows).filter(|i| i % 3 != 0).collect();
    let node_b: Vec<u32> = (0..rows).filter(|i| i % 3 == 0).collect();
    let empty: Vec<u32> = Vec::new();
    let nodes: Vec<&[u32]> = vec![&node_a, &node_b, &empty];
    let fast = pk.bucket_sums(&cts, &bins, &nodes, n_bins).unwrap();
    let slow = bucket_sums_default(pk, &cts, &bins, &nodes, n_bins).unwrap();
    assert_eq!(fast.len(), 3);
    for (n, rows_n) in nodes.iter().enumerate() {
        assert_eq!(fast[n].len(), features);
        for f in 0..features {
            assert_eq!(fast[n][f].len(), n_bins);
            for b in 0..n_bins {
                let want: u128 = rows_n
                    .iter()
                    .filter(|&&i| usize::from(cols[f][i as usize]) == b)
                    .map(|&i| u128::from(values[i as usize]))
                    .sum();
                let got = sk.decrypt(&fast[n][f][b]).to_i128().unwrap();
                assert_eq!(
                    got,
                    i128::try_from(want).unwrap(),
                    "node {n} feature {f} bin {b}"
                );
                // The same group element, whichever kernel.
                assert_eq!(fast[n][f][b], slow[n][f][b], "node {n} feature {f} bin {b}");
            }
        }
    }
    // Bad arguments are refused before anything is computed.
    let bad_row: Vec<u32> = vec![rows];
    assert!(pk.bucket_sums(&cts, &bins, &[&bad_row], n_bins).is_err());
    assert!(pk.bucket_sums(&cts, &bins, &nodes, 3).is_err()); // bin 6 ≥ 3
    assert!(pk.bucket_sums(&cts, &bins, &nodes, 0).is_err());
    let short = &cols[0][..10];
    assert!(pk.bucket_sums(&cts, &[short], &nodes, n_bins).is_err());
}

/// Whether OU-2048's kernels run on AVX-512 IFMA here (otherwise the "fast" side is the
/// default too; `simd_test_gate` reports that).
fn gate(name: &str) {
    let ifma = unseen_crypto::he::mont_ifma::backend_name() == "avx512ifma-8x";
    unseen_crypto::simd_test_gate(&format!("he_buckets::{name}"), ifma);
}

#[test]
fn ou_bucket_sums_equal_the_default_and_the_plaintext_sums() {
    gate("ou_bucket_sums_equal_the_default_and_the_plaintext_sums");
    let sk = OuSecretKey::generate_from_seed(2048, [7; 32]).unwrap();
    check(&sk, 1);
}

#[test]
fn paillier_bucket_sums_use_the_default() {
    let sk = PaillierSecretKey::generate_from_seed(2048, [8; 32]).unwrap();
    check(&sk, 2);
}

/// `shift_add_many` packs as Horner does: `acc·2^shift + addend`, the kernel equal to the
/// default, both equal to the plaintext.
fn check_shift<K: HeSecretKey>(sk: &K, seed: u64) {
    let pk = sk.public();
    let mut r = ChaCha20Rng::seed_from_u64(seed);
    for len in [1usize, 7, 8, 9, 70] {
        let a: Vec<u64> = (0..len).map(|_| r.next_u64() >> 4).collect();
        let b: Vec<u64> = (0..len).map(|_| r.next_u64() >> 4).collect();
        let enc = |v: &[u64]| {
            pk.encrypt_batch(
                &v.iter()
                    .map(|&x| Plaintext::from_u128(u128::from(x)))
                    .collect::<Vec<_>>(),
            )
            .unwrap()
        };
        let (ca, cb) = (enc(&a), enc(&b));
        let mut fast = ca.clone();
        pk.shift_add_many(&mut fast, 64, &cb).unwrap();
        let mut slow = ca.clone();
        unseen_crypto::he::shift_add_default(pk, &mut slow, 64, &cb).unwrap();
        for i in 0..len {
            let want = (u128::from(a[i]) << 64) + u128::from(b[i]);
            assert_eq!(fast[i], slow[i], "len {len} item {i}");
            let got = sk.decrypt(&fast[i]).unpack(128, 1).unwrap()[0];
            assert_eq!(got, want, "len {len} item {i}");
        }
        assert!(pk.shift_add_many(&mut fast, 1, &cb[..len - 1]).is_err());
    }
}

#[test]
fn shift_add_many_packs_like_horner() {
    gate("shift_add_many_packs_like_horner");
    check_shift(&OuSecretKey::generate_from_seed(2048, [9; 32]).unwrap(), 3);
    check_shift(
        &PaillierSecretKey::generate_from_seed(2048, [10; 32]).unwrap(),
        4,
    );
}
