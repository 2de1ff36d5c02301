//! SimplePIR speed on a random database: prints one JSON line for the whole protocol, then one
//! per matrix kernel set.
//!
//! `cargo run --release -p unseen-pir --example pir_speed -- [log2 records] [record bytes]
//! [columns]` (defaults: 2^20 records of 32 bytes, the default shape). Every recovered record is
//! checked against the plaintext. The protocol line runs on the kernels this process dispatches
//! to (`"kernel"`; `UNSEEN_NO_SIMD=1` forces the portable ones).
//!
//! The kernel lines time the products alone, on every kernel set this CPU has (portable, avx2,
//! avx512, avx512vnni), in the same run, on random matrices of the keyword-PIR target size
//! (`ℓ × m = 9310 × 8192`): `D·[qu_1 … qu_K]` for `K = 1` and `64` over an `i16` `D` (entries
//! of 9 bits, centred), the client's `A·[s_1 … s_64]` (`A` 8192 × 1024) and `H·[s_1 … s_64]`
//! (`H` 9310 × 1024), and the hint `H = D·A`; each is the fastest of a few runs (the hint: one
//! run), and every result is compared with the portable one. `"dispatched"` marks the set this
//! process uses by default. `pir_speed kernels` prints only these lines.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // a benchmark program

use std::time::{Duration, Instant};

use rand_chacha::ChaCha20Rng;
use rand_core::{Rng, SeedableRng};
use unseen_pir::bench::{self, Kernel};
use unseen_pir::{Client, Database, Params, PublicMatrix, Seed, Server};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) != Some("kernels") {
        protocol(&args);
    }
    kernels();
}

/// The whole protocol at the size given on the command line.
fn protocol(args: &[String]) {
    let log_records: u32 = args.get(1).map_or(20, |a| a.parse().expect("log2 records"));
    let record_len: usize = args.get(2).map_or(32, |a| a.parse().expect("record bytes"));
    let cols: Option<usize> = args.get(3).map(|a| a.parse().expect("columns"));
    let records = 1usize << log_records;
    let mut rng = ChaCha20Rng::from_seed([7; 32]);
    let mut data = vec![0u8; records * record_len];
    rng.fill_bytes(&mut data);
    let rows: Vec<&[u8]> = data.chunks_exact(record_len).collect();
    let seed = Seed([42; 32]);
    let params = match cols {
        Some(c) => Params::with_columns(records, record_len, c).unwrap(),
        None => Params::new(records, record_len).unwrap(),
    };

    let t = Instant::now();
    let (db, hint) = Database::build_with(params.clone(), &seed, &rows).unwrap();
    let build = t.elapsed();

    let t = Instant::now();
    let client = Client::new(&params, &seed);
    let client_setup = t.elapsed();

    let mut figures = Vec::new();
    for k in [1usize, 64] {
        let indices: Vec<usize> = (0..k)
            .map(|_| usize::try_from(rng.next_u64() % records as u64).unwrap())
            .collect();
        let t = Instant::now();
        let (state, queries) = client.query(&indices, &mut rng).unwrap();
        let query = t.elapsed();
        let t = Instant::now();
        let answers = Server::answer(&db, &queries).unwrap();
        let answer = t.elapsed();
        let t = Instant::now();
        let got = client.recover(state, &hint, &answers).unwrap();
        let recover = t.elapsed();
        for (i, r) in indices.iter().zip(&got) {
            assert_eq!(r.as_slice(), rows[*i], "record {i} recovered wrongly");
        }
        figures.push((k, query, answer, recover));
    }
    let ms = |d: std::time::Duration| d.as_secs_f64() * 1e3;
    let mut line = format!(
        "{{\"rows\":{},\"record_bytes\":{},\"matrix_rows\":{},\"matrix_cols\":{},\"log_p\":{},\
         \"threads\":{},\"kernel\":\"{}\",\"build_hint_ms\":{:.0},\"client_expand_a_ms\":{:.1}",
        records,
        record_len,
        params.rows(),
        params.cols(),
        params.log_p(),
        rayon::current_num_threads(),
        unseen_pir::kernel_name(),
        ms(build),
        ms(client_setup),
    );
    for (k, q, a, r) in &figures {
        line.push_str(&format!(
            ",\"k{k}_query_ms\":{:.1},\"k{k}_answer_ms\":{:.1},\"k{k}_recover_ms\":{:.2}",
            ms(*q),
            ms(*a),
            ms(*r)
        ));
    }
    line.push_str(&format!(
        ",\"K\":[1,64],\"hint_bytes\":{},\"query_bytes\":{},\"answer_bytes\":{},\"correct\":true}}",
        params.hint_bytes(),
        params.query_bytes(),
        params.answer_bytes()
    ));
    println!("{line}");
}

/// Rows `ℓ` and columns `m` of the kernel benchmark's `D`.
const BENCH_ROWS: usize = 9310;
const BENCH_COLS: usize = 8192;

/// The products alone, per kernel set, on random matrices of the keyword-PIR target size.
fn kernels() {
    let n = unseen_pir::params::LWE_N;
    let mut rng = ChaCha20Rng::from_seed([9; 32]);
    // 9-bit entries, centred: [−256, 256).
    let d: Vec<i16> = (0..BENCH_ROWS * BENCH_COLS)
        .map(|_| i16::try_from(rng.next_u32() % 512).unwrap() - 256)
        .collect();
    let words = |len: usize, rng: &mut ChaCha20Rng| -> Vec<u32> {
        (0..len).map(|_| rng.next_u32()).collect()
    };
    let qs: Vec<Vec<u32>> = (0..64).map(|_| words(BENCH_COLS, &mut rng)).collect();
    let ss: Vec<Vec<u32>> = (0..64).map(|_| words(n, &mut rng)).collect();
    let a_words = words(BENCH_COLS * n, &mut rng);
    let h_words = words(BENCH_ROWS * n, &mut rng);
    let a = PublicMatrix::expand(&Seed([3; 32]), BENCH_COLS);
    let q1: Vec<&[u32]> = qs[..1].iter().map(Vec::as_slice).collect();
    let q64: Vec<&[u32]> = qs.iter().map(Vec::as_slice).collect();
    let s64: Vec<&[u32]> = ss.iter().map(Vec::as_slice).collect();

    let mut expected: Option<[Vec<Vec<u32>>; 4]> = None;
    let mut expected_hint: Option<Vec<u32>> = None;
    for kernel in Kernel::available() {
        let (dq1, t_dq1) = best_of(5, || bench::mul_vectors_i16(kernel, &d, BENCH_COLS, &q1));
        let (dq64, t_dq64) = best_of(3, || bench::mul_vectors_i16(kernel, &d, BENCH_COLS, &q64));
        let (as64, t_as64) = best_of(3, || bench::mul_vectors_u32(kernel, &a_words, n, &s64));
        let (hs64, t_hs64) = best_of(3, || bench::mul_vectors_u32(kernel, &h_words, n, &s64));
        let (h, t_hint) = best_of(1, || bench::hint(kernel, &d, BENCH_COLS, &a));
        let got = [dq1, dq64, as64, hs64];
        match &expected {
            None => expected = Some(got),
            Some(e) => assert!(*e == got, "{} differs from portable", kernel.name()),
        }
        match &expected_hint {
            None => expected_hint = Some(h),
            Some(e) => assert!(*e == h, "{} hint differs from portable", kernel.name()),
        }
        let ms = |d: Duration| d.as_secs_f64() * 1e3;
        println!(
            "{{\"kernel\":\"{}\",\"dispatched\":{},\"threads\":{},\"d_rows\":{BENCH_ROWS},\
             \"d_cols\":{BENCH_COLS},\"n\":{n},\"dq_k1_ms\":{:.2},\"dq_k64_ms\":{:.1},\"as_k64_ms\":{:.1},\
             \"hs_k64_ms\":{:.1},\"hint_ms\":{:.0},\"same_as_portable\":true}}",
            kernel.name(),
            kernel.name() == unseen_pir::kernel_name(),
            rayon::current_num_threads(),
            ms(t_dq1),
            ms(t_dq64),
            ms(t_as64),
            ms(t_hs64),
            ms(t_hint),
        );
    }
}

/// Runs `f` `reps` times; its (last) result and the shortest time.
fn best_of<T>(reps: usize, mut f: impl FnMut() -> Option<T>) -> (T, Duration) {
    let mut best = Duration::MAX;
    let mut out = None;
    for _ in 0..reps {
        let t = Instant::now();
        let r = f().expect("kernel available");
        best = best.min(t.elapsed());
        out = Some(r);
    }
    (out.expect("at least one run"), best)
}
