//! Per-operation cost of the homomorphic operations SecureBoost uses, one thread, OU-2048:
//! `cargo run --release -p unseen-fl --example sb_he_ops`. Prints one JSON line.
#![allow(clippy::unwrap_used, clippy::cast_precision_loss)] // a measuring program

use std::time::Instant;

use unseen_crypto::he::{HePublicKey, HeSecretKey, OuSecretKey, Plaintext};

fn main() {
    let sk = OuSecretKey::generate(2048).unwrap();
    let pk = sk.public();
    let n = 2000usize;
    let pts: Vec<Plaintext> = (0..n)
        .map(|i| Plaintext::from_i128(((i as i128 - 1000) << 103) + (i as i128) * 12_345_678))
        .collect();
    let t = Instant::now();
    let cts: Vec<_> = pts.iter().map(|p| pk.encrypt(p).unwrap()).collect();
    let enc = t.elapsed().as_secs_f64() / n as f64;
    let t = Instant::now();
    let mut acc = pk.zero();
    for _ in 0..10 {
        for c in &cts {
            pk.add_assign(&mut acc, c);
        }
    }
    let add = t.elapsed().as_secs_f64() / (10 * n) as f64;
    let shift = Plaintext::from_limbs(false, vec![0, 0, 1]);
    let t = Instant::now();
    for c in cts.iter().take(500) {
        std::hint::black_box(pk.mul_plain(c, &shift).unwrap());
    }
    let mul = t.elapsed().as_secs_f64() / 500.0;
    let t = Instant::now();
    for c in cts.iter().take(500) {
        let mut a = c.clone();
        for _ in 0..128 {
            a = pk.add(&a, &a);
        }
        std::hint::black_box(a);
    }
    let dbl = t.elapsed().as_secs_f64() / 500.0;
    let t = Instant::now();
    for c in cts.iter().take(500) {
        std::hint::black_box(sk.decrypt(c));
    }
    let dec = t.elapsed().as_secs_f64() / 500.0;
    println!(
        "{{\"scheme\":\"OU-2048\",\"plaintext_bits\":{},\"encrypt_us\":{:.1},\"add_us\":{:.2},\"mul_2_128_us\":{:.1},\"double_128_times_us\":{:.1},\"decrypt_us\":{:.1}}}",
        pk.plaintext_bits(),
        enc * 1e6,
        add * 1e6,
        mul * 1e6,
        dbl * 1e6,
        dec * 1e6
    );
}
