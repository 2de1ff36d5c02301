//! Keyword-PIR sizes and speed: builds a table of `2^k` random keys with 32-byte records, runs
//! the roles over the in-memory channel for 1 and 64 keys (half present, half absent), checks
//! every result against the plaintext and prints one JSON line.
//!
//! `cargo run --release -p unseen-pir --example kwpir_speed -- [log2 keys] [record bytes]`
//! (defaults: 2^20 keys, 32 bytes).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // a benchmark program

use std::time::Instant;

use rand_chacha::ChaCha20Rng;
use rand_core::{Rng, SeedableRng};
use unseen_crypto::Ristretto255;
use unseen_crypto::aead::AeadAlg;
use unseen_crypto::oprf::ServerKey;
use unseen_pir::keyword::{
    ClientConfig, KeywordServer, LookupMode, ServerLimits, TableConfig, lookup, receive_setup,
    run_server,
};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let log_keys: u32 = args.get(1).map_or(20, |a| a.parse().expect("log2 keys"));
    let record_len: usize = args.get(2).map_or(32, |a| a.parse().expect("record bytes"));
    let n = 1usize << log_keys;
    let mut rng = ChaCha20Rng::from_seed([7; 32]);
    let keys: Vec<String> = (0..n).map(|i| format!("key-{i:09}")).collect();
    let mut records = vec![0u8; n * record_len];
    rng.fill_bytes(&mut records);
    let pairs: Vec<(&[u8], &[u8])> = keys
        .iter()
        .zip(records.chunks_exact(record_len))
        .map(|(k, r)| (k.as_bytes(), r))
        .collect();

    let t = Instant::now();
    let key = ServerKey::<Ristretto255>::generate(&mut rng);
    let config = TableConfig::new(AeadAlg::Aes256Gcm, record_len);
    let server = KeywordServer::build(key, &pairs, config, &mut rng).unwrap();
    let build = t.elapsed();
    let p = server.params().clone();

    let mut line = format!(
        "{{\"keys\":{n},\"record_bytes\":{record_len},\"slots\":{},\"entry_bytes\":{},\
         \"stash\":{},\"matrix_rows\":{},\"matrix_cols\":{},\"threads\":{},\"build_ms\":{:.0},\
         \"setup_bytes\":{},\"hint_bytes\":{}",
        p.records(),
        p.record_len(),
        server.info().stash,
        p.rows(),
        p.cols(),
        rayon::current_num_threads(),
        build.as_secs_f64() * 1e3,
        unseen_pir::keyword::msgs::Setup::FIXED_LEN
            + server.info().stash * unseen_pir::keyword::entry_len(record_len),
        p.hint_bytes(),
    );
    for k in [1usize, 64] {
        // Half present, half absent (k = 1: one present key).
        let mut look: Vec<String> = (0..k.div_ceil(2))
            .map(|_| keys[usize::try_from(rng.next_u64() % n as u64).unwrap()].clone())
            .collect();
        look.extend((0..k / 2).map(|i| format!("absent-{i}")));
        let refs: Vec<&[u8]> = look.iter().map(String::as_bytes).collect();
        let (ca, cb) = unseen_channel::duplex();
        let (mut ca, mut cb) = (ca, cb);
        let mut crng = ChaCha20Rng::from_seed([9; 32]);
        let (report, (setup_ms, online_ms, out, setup_stats, end_stats)) =
            std::thread::scope(|s| {
                let srv =
                    s.spawn(|| run_server(&mut ca, &server, &ServerLimits::default()).unwrap());
                let t = Instant::now();
                let session = receive_setup::<Ristretto255, _>(
                    &mut cb,
                    ClientConfig::new(AeadAlg::Aes256Gcm),
                    LookupMode::Private,
                    None,
                )
                .unwrap();
                let setup_ms = t.elapsed().as_secs_f64() * 1e3;
                let setup_stats = unseen_channel::Channel::stats(&cb);
                let t = Instant::now();
                let out = lookup(&mut cb, &session, &refs, &mut crng).unwrap();
                let online_ms = t.elapsed().as_secs_f64() * 1e3;
                let end_stats = unseen_channel::Channel::stats(&cb);
                drop(cb);
                (
                    srv.join().unwrap(),
                    (setup_ms, online_ms, out, setup_stats, end_stats),
                )
            });
        for (i, (key, got)) in look.iter().zip(&out).enumerate() {
            let expected: Vec<Vec<u8>> = keys
                .binary_search(key)
                .ok()
                .map(|j| vec![records[j * record_len..(j + 1) * record_len].to_vec()])
                .unwrap_or_default();
            assert_eq!(got, &expected, "key {i}");
        }
        assert_eq!(report.keys, k as u64);
        line.push_str(&format!(
            ",\"k{k}_client_setup_ms\":{setup_ms:.0},\"k{k}_online_ms\":{online_ms:.1},\
             \"k{k}_up_bytes\":{},\"k{k}_down_bytes\":{}",
            end_stats.bytes_sent - setup_stats.bytes_sent,
            end_stats.bytes_received - setup_stats.bytes_received,
        ));
    }
    // The same 64-key batch through the sans-I/O roles, each step timed alone.
    let session = {
        let (mut ca, mut cb) = unseen_channel::duplex();
        std::thread::scope(|s| {
            let srv = s.spawn(|| {
                let _ = run_server(&mut ca, &server, &ServerLimits::default());
            });
            let session = receive_setup::<Ristretto255, _>(
                &mut cb,
                ClientConfig::new(AeadAlg::Aes256Gcm),
                LookupMode::Private,
                None,
            )
            .unwrap();
            drop(cb);
            srv.join().unwrap();
            session
        })
    };
    let look: Vec<String> = (0..64).map(|i| keys[(i * 7919) % n].clone()).collect();
    let refs: Vec<&[u8]> = look.iter().map(String::as_bytes).collect();
    let mut crng = ChaCha20Rng::from_seed([10; 32]);
    let ms = |t: Instant| t.elapsed().as_secs_f64() * 1e3;
    let t = Instant::now();
    let (state, blinded) = session.blind(&refs, &mut crng).unwrap();
    let blind_ms = ms(t);
    let t = Instant::now();
    let evaluated = server.blind_evaluate(refs.len(), &blinded).unwrap();
    let evaluate_ms = ms(t);
    let t = Instant::now();
    let (state, queries) = session.query(state, &evaluated, &mut crng).unwrap();
    let query_ms = ms(t);
    let t = Instant::now();
    let answers = server.answer(&queries).unwrap();
    let answer_ms = ms(t);
    let t = Instant::now();
    let got = session.recover(state, &answers).unwrap();
    let recover_ms = ms(t);
    assert!(got.iter().all(|r| r.len() == 1));
    line.push_str(&format!(
        ",\"k64_steps_ms\":{{\"blind\":{blind_ms:.1},\"blind_evaluate\":{evaluate_ms:.1},\
         \"finalize_and_query\":{query_ms:.1},\"answer\":{answer_ms:.1},\"recover_and_open\":{recover_ms:.1}}}"
    ));
    line.push('}');
    println!("{line}");
}
