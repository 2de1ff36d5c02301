//! Rough per-operation timings of both groups, for profiling (not a benchmark suite).
//!
//! `cargo run --release -p unseen-crypto --example group_speed [iterations]`
//!
//! Prints µs per `hash_to_group`, `mul`, `encode`, `decode`, and per point of
//! `mul_encode_batch` (batches of 1024), single-threaded. The `sm2 (crate)` row times the
//! `sm2` crate's own `ProjectivePoint * Scalar` (and `batch_normalize` for the batch), which
//! `Sm2` used before its fixed-window arithmetic, so the ratio is measured in the same run.

use std::hint::black_box;
use std::time::Instant;

use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;
use sm2::{AffinePoint, ProjectivePoint, elliptic_curve::BatchNormalize};
use unseen_crypto::{PsiGroup, Ristretto255, Sm2};

const BATCH: usize = 1024;

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
