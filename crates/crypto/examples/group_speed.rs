//! Rough per-operation timings of both groups, for profiling (not a benchmark suite).
//!
//! `cargo run --release -p unseen-crypto --example group_speed [iterations]`
//!
//! Prints µs per `hash_to_group`, `mul`, `encode`, `decode`, and per point of
//! `mul_encode_batch` (batches of 1024), single-threaded. The `sm2 (crate)` row times the
//! `sm2` crate's own `ProjectivePoint * Scalar` (and `batch_normalize` for the batch), which
//! `Sm2` used before its fixed-window arithmetic, so the ratio is measured in the same run.
//!
//! Then µs per item of ristretto255's `hash_mul_encode_batch` and `decode_mul_encode_batch`
//! (batches of 256, as the PSI crate calls them) on the backend this CPU selects
//! (`ristretto::backend_name()`) and on the forced portable path, in the same run.

use std::hint::black_box;
use std::time::Instant;

use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;
use sm2::{AffinePoint, ProjectivePoint, elliptic_curve::BatchNormalize};
use unseen_crypto::{
    PsiGroup, Ristretto255, Sm2,
    ristretto::{backend_name, portable_decode_mul_encode_batch, portable_hash_mul_encode_batch},
};

const BATCH: usize = 1024;
/// Batch length of the PSI crate's calls to the batch methods.
const PSI_BATCH: usize = 256;

fn main() {
    let iterations: u32 = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(2_000);
    println!("{iterations} iterations per operation, batch of {BATCH}; µs per operation/point");
    println!(
        "{:<14} {:>9} {:>9} {:>9} {:>9} {:>12}",
        "group", "hash", "mul", "encode", "decode", "batch/point"
    );
    run::<Ristretto255>(iterations);
    run::<Sm2>(iterations);
    run_sm2_crate(iterations);
    run_ristretto_batches(iterations);
}

/// µs per item of the two ristretto255 batch methods, selected backend against portable.
fn run_ristretto_batches(iterations: u32) {
    let mut rng = ChaCha20Rng::seed_from_u64(1);
    let k = Ristretto255::random_scalar(&mut rng);
    let dst = b"unseen-group-speed";
    let msgs: Vec<Vec<u8>> = (0..PSI_BATCH)
        .map(|i| format!("user-{i:08}@example.com").into_bytes())
        .collect();
    let refs: Vec<&[u8]> = msgs.iter().map(Vec::as_slice).collect();
    let mut enc = vec![0u8; PSI_BATCH * Ristretto255::ENCODED_LEN];
    if portable_hash_mul_encode_batch(dst, &refs, &k, &mut enc).is_err() {
        eprintln!("hash_mul_encode_batch failed");
        return;
    }
    let mut out = vec![0u8; enc.len()];
    let rounds = (iterations / 64).max(1);
    let per_item = |f: &mut dyn FnMut()| time(rounds, |_| f()) / PSI_BATCH as f64;

    let hash_fast = per_item(&mut || {
        black_box(Ristretto255::hash_mul_encode_batch(dst, &refs, &k, &mut out).ok());
    });
    let hash_portable = per_item(&mut || {
        black_box(portable_hash_mul_encode_batch(dst, &refs, &k, &mut out).ok());
    });
    let dec_fast = per_item(&mut || {
        black_box(Ristretto255::decode_mul_encode_batch(&enc, &k, &mut out).ok());
    });
    let dec_portable = per_item(&mut || {
        black_box(portable_decode_mul_encode_batch(&enc, &k, &mut out).ok());
    });
    println!();
    println!("ristretto255 batch methods, batches of {PSI_BATCH}; µs per item");
    println!(
        "{:<26} {:>14} {:>10} {:>8}",
        "method",
        backend_name(),
        "portable",
        "speedup"
    );
    for (name, fast, portable) in [
        ("hash_mul_encode_batch", hash_fast, hash_portable),
        ("decode_mul_encode_batch", dec_fast, dec_portable),
    ] {
        println!(
            "{name:<26} {fast:>14.2} {portable:>10.2} {:>7.2}x",
            portable / fast
        );
    }
}

/// `mul` and batch columns of the `sm2` crate's own scalar multiplication.
fn run_sm2_crate(iterations: u32) {
    let mut rng = ChaCha20Rng::seed_from_u64(1);
    let k = Sm2::random_scalar(&mut rng);
    let k = *k.expose();
    let dst = b"unseen-group-speed";
    let Ok(p) = Sm2::hash_to_group(dst, b"p") else {
        eprintln!("hash_to_group failed");
        return;
    };
    let mul = time(iterations, |_| {
        black_box(black_box(&p) * &k);
    });
    let points: Vec<ProjectivePoint> = (0..BATCH)
        .filter_map(|i| Sm2::hash_to_group(dst, &i.to_le_bytes()).ok())
        .collect();
    let mut out = vec![0u8; points.len() * Sm2::ENCODED_LEN];
    let rounds = (iterations / 64).max(1);
    let batch = time(rounds, |_| {
        let products: Vec<ProjectivePoint> = points.iter().map(|q| q * &k).collect();
        let affine: Vec<AffinePoint> = ProjectivePoint::batch_normalize(products.as_slice());
        for (a, o) in affine.iter().zip(out.chunks_exact_mut(Sm2::ENCODED_LEN)) {
            o.copy_from_slice(&group::GroupEncoding::to_bytes(a));
        }
        black_box(&out);
    }) / points.len() as f64;
    println!(
        "{:<14} {:>9} {mul:>9.2} {:>9} {:>9} {batch:>12.2}",
        "sm2 (crate)", "", "", ""
    );
}

fn run<G: PsiGroup>(iterations: u32) {
    let mut rng = ChaCha20Rng::seed_from_u64(1);
    let k = G::random_scalar(&mut rng);
    let dst = b"unseen-group-speed";

    let hash = time(iterations, |i| {
        black_box(G::hash_to_group(dst, &i.to_le_bytes()).ok());
    });
    let Ok(p) = G::hash_to_group(dst, b"p") else {
        eprintln!("hash_to_group failed");
        return;
    };
    let mul = time(iterations, |_| {
        black_box(G::mul(black_box(&p), &k));
    });
    let mut buf = vec![0u8; G::ENCODED_LEN];
    let encode = time(iterations, |_| {
        black_box(G::encode(black_box(&p), &mut buf).ok());
    });
    let decode = time(iterations, |_| {
        black_box(G::decode(black_box(&buf)).ok());
    });

    let points: Vec<G::Point> = (0..BATCH)
        .filter_map(|i| G::hash_to_group(dst, &i.to_le_bytes()).ok())
        .collect();
    let mut out = vec![0u8; points.len() * G::ENCODED_LEN];
    let rounds = (iterations / 64).max(1);
    let batch = time(rounds, |_| {
        black_box(G::mul_encode_batch(black_box(&points), &k, &mut out).ok());
    }) / points.len() as f64;

    println!(
        "{:<14} {hash:>9.2} {mul:>9.2} {encode:>9.2} {decode:>9.2} {batch:>12.2}",
        G::ID.name()
    );
}

/// Mean µs per call of `f` over `iterations` calls.
fn time(iterations: u32, mut f: impl FnMut(u32)) -> f64 {
    let start = Instant::now();
    for i in 0..iterations {
        f(i);
    }
    start.elapsed().as_secs_f64() * 1e6 / f64::from(iterations)
}
