//! Rough timings of modular multiplication modulo a random 2048-bit odd modulus, for profiling
//! SecureBoost's histogram additions (not a benchmark suite).
//!
//! `cargo run --release -p unseen-crypto --example mont_speed [rows [features]]`
//!
//! Prints ns per multiplication of crypto-bigint's `FixedMontyForm<32>`, of the portable path
//! (`MontCtx::mul`) and of `MontMul8::mul8` (per multiplication, i.e. per lane); the conversions
//! in and out of the Montgomery domain; then ns per (row, feature) of `bucket_products` for
//! `rows` (default 70 000) × `features` (default 20) × 32 bins on one and on two rayon threads,
//! and of `bucket_products_portable` on two threads. Every measurement runs five times (the
//! portable histograms once); the fastest and the median are printed, with the process's CPU
//! time in the fastest run (on a shared machine, CPU time ≈ wall time on two threads means the
//! second core was busy elsewhere). The IFMA histograms are compared with the portable ones.

// A measuring tool: a failed setup step may abort it.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::hint::black_box;
use std::time::Instant;

use crypto_bigint::{
    Odd, U2048,
    modular::{FixedMontyForm, FixedMontyParams},
};
use rand_chacha::ChaCha20Rng;
use rand_core::{Rng, SeedableRng};
use unseen_crypto::he::mont_ifma::{
    Mont52, MontCtx, MontMul8, backend_name, bucket_products, bucket_products_portable,
};

const BINS: usize = 32;
/// Repetitions of every measurement.
const REPS: usize = 5;

fn main() {
    let rows: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(70_000);
    let features: usize = std::env::args()
        .nth(2)
        .and_then(|a| a.parse().ok())
        .unwrap_or(20);
    let mut rng = ChaCha20Rng::seed_from_u64(1);
    let mut n: Vec<u64> = (0..32).map(|_| rng.next_u64()).collect();
    n[0] |= 1;
    n[31] |= 1 << 63;
    let ctx = MontCtx::new(&n).expect("odd 2048-bit modulus");
    let random_below = |rng: &mut ChaCha20Rng| -> Vec<u64> {
        let mut x: Vec<u64> = (0..32).map(|_| rng.next_u64()).collect();
        x[31] &= n[31] >> 1;
        x
    };
    println!(
        "2048-bit modulus, {} limbs of 52 bits; backend {}; load average {}",
        ctx.limbs(),
        backend_name(),
        std::fs::read_to_string("/proc/loadavg")
            .unwrap_or_default()
            .trim()
    );

    // crypto-bigint FixedMontyForm<32>.
    let params = FixedMontyParams::new_vartime(Odd::new(U2048::from_words(n_arr(&n))).unwrap());
    let x = FixedMontyForm::new(&U2048::from_words(n_arr(&random_below(&mut rng))), &params);
    let mut acc = FixedMontyForm::new(&U2048::from_words(n_arr(&random_below(&mut rng))), &params);
    let iters = 20_000;
    report("crypto-bigint FixedMontyForm<32> mul", iters, || {
        for _ in 0..iters {
            acc *= black_box(&x);
        }
    });
    black_box(&acc);

    // Portable radix 2^52 domain (radix-2^64 arithmetic).
    let xm = ctx.to_mont(&random_below(&mut rng)).expect("below n");
    let mut am = ctx.to_mont(&random_below(&mut rng)).expect("below n");
    report("portable MontCtx::mul", iters, || {
        for _ in 0..iters {
            ctx.mul(&mut am, black_box(&xm));
        }
    });
    report("MontCtx::to_mont (portable)", iters / 10, || {
        for _ in 0..iters / 10 {
            black_box(ctx.to_mont(black_box(&n[..31])).expect("below n"));
        }
    });
    report("MontCtx::from_mont (portable)", iters / 10, || {
        for _ in 0..iters / 10 {
            black_box(ctx.from_mont(black_box(&am)));
        }
    });

    let Some(m8) = MontMul8::new(&n) else {
        println!("no AVX-512 IFMA (or UNSEEN_NO_SIMD set): eight-lane rows skipped");
        return;
    };
    let mut lanes: Vec<Mont52> = (0..8)
        .map(|_| ctx.to_mont(&random_below(&mut rng)).expect("below n"))
        .collect();
    let ops: Vec<Mont52> = (0..8)
        .map(|_| ctx.to_mont(&random_below(&mut rng)).expect("below n"))
        .collect();
    report("MontMul8::mul8 (per lane)", iters / 8 * 8, || {
        for _ in 0..iters / 8 {
            let [a0, a1, a2, a3, a4, a5, a6, a7] = &mut lanes[..] else {
                unreachable!()
            };
            m8.mul8(
                [a0, a1, a2, a3, a4, a5, a6, a7],
                core::array::from_fn(|k| &ops[k]),
            );
        }
    });
    black_box(&lanes);

    let cts_plain: Vec<Vec<u64>> = (0..rows).map(|_| random_below(&mut rng)).collect();
    let refs: Vec<&[u64]> = cts_plain.iter().map(Vec::as_slice).collect();
    let mut cts = Vec::new();
    report("MontMul8::to_mont_batch (per value, rayon)", rows, || {
        cts = m8.to_mont_batch(&refs).expect("below n");
    });
    let r64: Vec<Vec<u64>> = m8.to_r64_montgomery_batch(&cts);
    let r64_refs: Vec<&[u64]> = r64.iter().map(Vec::as_slice).collect();
    report(
        "MontMul8::from_r64_montgomery_batch (per value)",
        rows,
        || {
            black_box(m8.from_r64_montgomery_batch(&r64_refs).expect("below n"));
        },
    );
    report(
        "MontMul8::to_r64_montgomery_batch (per value)",
        rows,
        || {
            black_box(m8.to_r64_montgomery_batch(&cts));
        },
    );
    report("MontMul8::from_mont_batch (per value, rayon)", rows, || {
        black_box(m8.from_mont_batch(&cts));
    });
    report(
        "MontMul8::from_mont (per value, portable)",
        rows / 10,
        || {
            for c in &cts[..rows / 10] {
                black_box(m8.from_mont(c));
            }
        },
    );

    let bins: Vec<Vec<u8>> = (0..features)
        .map(|_| {
            (0..rows)
                .map(|_| u8::try_from(rng.next_u64() % BINS as u64).expect("< 32"))
                .collect()
        })
        .collect();
    let cols: Vec<&[u8]> = bins.iter().map(Vec::as_slice).collect();
    let all: Vec<u32> = (0..u32::try_from(rows).expect("rows fit u32")).collect();
    let per = rows * features;
    println!("bucket_products, {rows} rows × {features} features × {BINS} bins:");
    let mut fast = Vec::new();
    for threads in [1, 2] {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .expect("thread pool");
        report(
            &format!("  ifma, {threads} thread(s), per row·feature"),
            per,
            || {
                fast = pool
                    .install(|| bucket_products(&m8, &cts, &cols, &all, BINS))
                    .expect("valid arguments");
            },
        );
    }
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(2)
        .build()
        .expect("thread pool");
    let mut slow = Vec::new();
    report_n("  portable, 2 threads, per row·feature", per, 1, || {
        slow = pool
            .install(|| bucket_products_portable(&ctx, &cts, &cols, &all, BINS))
            .expect("valid arguments");
    });
    let same = fast
        .iter()
        .flatten()
        .zip(slow.iter().flatten())
        .all(|(a, b)| ctx.from_mont(a) == ctx.from_mont(b));
    println!("  ifma result equals portable: {same}");
    println!(
        "load average at the end: {}",
        std::fs::read_to_string("/proc/loadavg")
            .unwrap_or_default()
            .trim()
    );
}

fn n_arr(x: &[u64]) -> [u64; 32] {
    let mut a = [0u64; 32];
    a.copy_from_slice(&x[..32]);
    a
}

/// Runs `f` [`REPS`] times and prints the fastest run per operation (the machine may be shared;
/// the minimum is the least disturbed run), and the median.
fn report(what: &str, count: usize, f: impl FnMut()) {
    report_n(what, count, REPS, f);
}

/// [`report`] with `reps` runs.
fn report_n(what: &str, count: usize, reps: usize, mut f: impl FnMut()) {
    // (wall seconds, CPU seconds of the whole process)
    let mut runs: Vec<(f64, f64)> = (0..reps.max(1))
        .map(|_| {
            let (t, c) = (Instant::now(), cpu_seconds());
            f();
            (t.elapsed().as_secs_f64(), cpu_seconds() - c)
        })
        .collect();
    runs.sort_by(|a, b| a.0.total_cmp(&b.0));
    let per = |s: f64| s * 1e9 / count.max(1) as f64;
    println!(
        "{what:<46} {:>9.1} ns  (median {:>9.1} ns; {count} ops, best {:.3} s wall, {:.2} s CPU)",
        per(runs[0].0),
        per(runs[runs.len() / 2].0),
        runs[0].0,
        runs[0].1
    );
}

/// User + system CPU time of this process so far (all threads), from `/proc/self/stat`
/// (clock ticks of 10 ms); 0 where unavailable.
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let ticks: f64 = rest
        .split_whitespace()
        .skip(11)
        .take(2)
        .filter_map(|v| v.parse::<f64>().ok())
        .sum();
    ticks / 100.0
}
