//! SimplePIR speed on a random database: prints one JSON line.
//!
//! `cargo run --release -p unseen-pir --example pir_speed -- [log2 records] [record bytes]`
//! (defaults: 2^20 records of 32 bytes). Every recovered record is checked against the plaintext.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // a benchmark program

use std::time::Instant;

use rand_chacha::ChaCha20Rng;
use rand_core::{Rng, SeedableRng};
use unseen_pir::{Client, Database, Params, Seed, Server};

fn main() {
    let args: Vec<String> = std::env::args().collect();
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
         \"threads\":{},\"build_hint_ms\":{:.0},\"client_expand_a_ms\":{:.1}",
        records,
        record_len,
        params.rows(),
        params.cols(),
        params.log_p(),
        rayon::current_num_threads(),
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
