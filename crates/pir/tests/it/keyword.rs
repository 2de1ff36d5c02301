//! Keyword PIR: both roles over the in-memory channel against a plaintext lookup, fixed seeds;
//! present, absent and duplicate keys, empty and one-record tables, both profiles; the server's
//! view of a hit and a miss.

use std::collections::HashMap;

use unseen_channel::{Header, Tamper};
use unseen_crypto::aead::AeadAlg;
use unseen_crypto::oprf::{OprfSuite, ServerKey};
use unseen_crypto::{Ristretto255, Sm2};
use unseen_pir::PirError;
use unseen_pir::keyword::msgs::{Setup, hint_messages, step};
use unseen_pir::keyword::{
    ClientConfig, ClientOutput, KeywordServer, MAX_KEYS, ServerReport, TableConfig, run_client,
    run_server,
};
use unseen_testkit::{id_cards, rng, run_pair};

/// `(key, record)` pairs: `n` distinct ID-card keys, records of 0..=max bytes derived from the
/// key.
pub(crate) fn entries(seed: u64, n: usize, max: usize) -> Vec<(String, Vec<u8>)> {
    id_cards(seed, n)
        .into_iter()
        .enumerate()
        .map(|(i, k)| {
            let len = i % (max + 1);
            let rec = k.bytes().cycle().take(len).map(|b| b ^ 0x5a).collect();
            (k, rec)
        })
        .collect()
}

pub(crate) fn build<S: OprfSuite>(
    data: &[(String, Vec<u8>)],
    config: TableConfig,
    seed: u64,
) -> KeywordServer<S> {
    let mut r = rng(seed);
    let key = ServerKey::<S>::generate(&mut r);
    let pairs: Vec<(&[u8], &[u8])> = data
        .iter()
        .map(|(k, v)| (k.as_bytes(), v.as_slice()))
        .collect();
    KeywordServer::build(key, &pairs, config, &mut r).unwrap()
}

/// Runs a session; returns the server's report and the client's output.
pub(crate) fn session<S: OprfSuite>(
    server: &KeywordServer<S>,
    aead: AeadAlg,
    keys: &[String],
    seed: u64,
) -> (ServerReport, ClientOutput) {
    let keys: Vec<&[u8]> = keys.iter().map(String::as_bytes).collect();
    let (s, c) = run_pair(
        |ch| run_server(ch, server),
        |ch| run_client::<S, _, _>(ch, ClientConfig::new(aead), &keys, &mut rng(seed)),
        None,
    );
    (s.unwrap(), c.unwrap())
}

/// The plaintext lookup: every record of each key, in table order.
fn oracle(data: &[(String, Vec<u8>)], keys: &[String]) -> Vec<Vec<Vec<u8>>> {
    let mut map: HashMap<&str, Vec<Vec<u8>>> = HashMap::new();
    for (k, v) in data {
        map.entry(k).or_default().push(v.clone());
    }
    keys.iter()
        .map(|k| map.get(k.as_str()).cloned().unwrap_or_default())
        .collect()
}

fn check<S: OprfSuite>(
    data: &[(String, Vec<u8>)],
    config: TableConfig,
    keys: &[String],
    seed: u64,
) -> (ServerReport, ClientOutput) {
    let server = build::<S>(data, config, seed);
    let (report, out) = session(&server, config.aead, keys, seed + 1);
    assert_eq!(out.records, oracle(data, keys));
    assert_eq!(report.keys, keys.len() as u64);
    (report, out)
}

#[test]
fn present_and_absent_keys() {
    let data = entries(1, 300, 40);
    let absent = id_cards(2, 40);
    // Present keys, absent keys and a repeated key, interleaved.
    let mut keys: Vec<String> = data.iter().step_by(7).map(|(k, _)| k.clone()).collect();
    keys.extend(absent.iter().cloned());
    keys.push(data[3].0.clone());
    keys.push(data[3].0.clone());
    assert!(
        keys.iter()
            .filter(|k| data.iter().any(|(d, _)| d == *k))
            .count()
            > 40
    );
    let (report, _) =
        check::<Ristretto255>(&data, TableConfig::new(AeadAlg::Aes256Gcm, 40), &keys, 3);
    // 85 keys: two batches.
    assert!(keys.len() > MAX_KEYS);
    assert_eq!(report.batches, 2);
}

#[test]
fn duplicate_keys() {
    // Keys with 1, 2, 3 and 4 records.
    let base = entries(4, 40, 16);
    let mut data = Vec::new();
    for (i, (k, v)) in base.iter().enumerate() {
        for d in 0..=(i % 4) {
            let mut v = v.clone();
            v.push(d as u8);
            data.push((k.clone(), v));
        }
    }
    let mut config = TableConfig::new(AeadAlg::Aes256Gcm, 17);
    config.duplicates = 4;
    let mut keys: Vec<String> = base.iter().map(|(k, _)| k.clone()).collect();
    keys.extend(id_cards(5, 5));
    let (_, out) = check::<Ristretto255>(&data, config, &keys, 6);
    assert_eq!(out.records[3].len(), 4);
    assert_eq!(out.records[3][2].last(), Some(&2));
    // A fifth record for one key is refused at build time.
    let mut too_many = data.clone();
    too_many.push((base[3].0.clone(), vec![9]));
    let pairs: Vec<(&[u8], &[u8])> = too_many
        .iter()
        .map(|(k, v)| (k.as_bytes(), v.as_slice()))
        .collect();
    let key = ServerKey::<Ristretto255>::generate(&mut rng(7));
    let e = KeywordServer::build(key, &pairs, config, &mut rng(7)).unwrap_err();
    assert!(matches!(e, PirError::Config(_)), "{e:?}");
}

#[test]
fn empty_database() {
    let keys = id_cards(8, 5);
    let (report, out) =
        check::<Ristretto255>(&[], TableConfig::new(AeadAlg::Aes256Gcm, 8), &keys, 9);
    assert!(out.records.iter().all(Vec::is_empty));
    assert_eq!(report.batches, 1);
}

#[test]
fn one_record() {
    let data = entries(10, 1, 32);
    let mut keys = vec![data[0].0.clone()];
    keys.extend(id_cards(11, 3));
    let (_, out) =
        check::<Ristretto255>(&data, TableConfig::new(AeadAlg::Aes256Gcm, 32), &keys, 12);
    assert_eq!(out.records[0], vec![data[0].1.clone()]);
    assert!(out.records[1..].iter().all(Vec::is_empty));
}

#[test]
fn no_keys_and_empty_records() {
    let data = vec![("k".to_owned(), vec![]), ("l".to_owned(), vec![1])];
    check::<Ristretto255>(&data, TableConfig::new(AeadAlg::Aes256Gcm, 1), &[], 13);
    let keys = vec!["k".to_owned(), "l".to_owned(), "m".to_owned()];
    let (_, out) = check::<Ristretto255>(&data, TableConfig::new(AeadAlg::Aes256Gcm, 1), &keys, 14);
    // An empty record is found (one empty record), unlike an absent key (no record).
    assert_eq!(out.records, vec![vec![vec![]], vec![vec![1]], vec![]]);
}

#[test]
fn guomi_profile_sm2_sm3_sm4() {
    let data = entries(15, 100, 20);
    let mut keys: Vec<String> = data.iter().step_by(9).map(|(k, _)| k.clone()).collect();
    keys.extend(id_cards(16, 10));
    check::<Sm2>(&data, TableConfig::new(AeadAlg::Sm4Gcm, 20), &keys, 17);
}

#[test]
fn mismatched_profile_is_refused() {
    let data = entries(18, 10, 4);
    let server = build::<Ristretto255>(&data, TableConfig::new(AeadAlg::Aes256Gcm, 4), 19);
    let keys: Vec<&[u8]> = vec![b"x"];
    let (_, c) = run_pair(
        |ch| drop(run_server(ch, &server)),
        |ch| {
            run_client::<Ristretto255, _, _>(
                ch,
                ClientConfig::new(AeadAlg::Sm4Gcm),
                &keys,
                &mut rng(1),
            )
        },
        None,
    );
    assert!(
        matches!(c, Err(PirError::Mismatch { what: "AEAD", .. })),
        "{c:?}"
    );
    let (_, c) = run_pair(
        |ch| drop(run_server(ch, &server)),
        |ch| {
            run_client::<Sm2, _, _>(
                ch,
                ClientConfig::new(AeadAlg::Aes256Gcm),
                &keys,
                &mut rng(1),
            )
        },
        None,
    );
    assert!(
        matches!(
            c,
            Err(PirError::Mismatch {
                what: "OPRF suite",
                ..
            })
        ),
        "{c:?}"
    );
}

/// The frames the server receives (step and length, in order) for a client looking up `key`.
fn server_view(
    server: &KeywordServer<Ristretto255>,
    key: &str,
    seed: u64,
) -> (Vec<(Header, usize)>, ServerReport) {
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let log = seen.clone();
    let hook: unseen_channel::TamperHook = Box::new(move |_, h, p| {
        log.lock().unwrap().push((h, p.len()));
        Tamper::Pass
    });
    let keys: Vec<&[u8]> = vec![key.as_bytes()];
    let (s, c) = run_pair(
        |ch| run_server(ch, server),
        |ch| {
            run_client::<Ristretto255, _, _>(
                ch,
                ClientConfig::new(AeadAlg::Aes256Gcm),
                &keys,
                &mut rng(seed),
            )
        },
        Some(hook),
    );
    c.unwrap();
    let view = seen.lock().unwrap().clone();
    (view, s.unwrap())
}

#[test]
fn server_cannot_tell_a_hit_from_a_miss() {
    let data = entries(20, 200, 24);
    let server = build::<Ristretto255>(&data, TableConfig::new(AeadAlg::Aes256Gcm, 24), 21);
    let (hit, hit_report) = server_view(&server, &data[17].0, 22);
    let (miss, miss_report) = server_view(&server, &id_cards(23, 1)[0], 24);
    // Same messages, same steps, same lengths, same traffic both ways.
    assert_eq!(hit, miss);
    assert_eq!(hit_report, miss_report);
    let steps: Vec<u8> = hit.iter().map(|(h, _)| h.step).collect();
    let p = server.params();
    // BLINDED, QUERY (3 queries in one message), BLINDED(0).
    assert_eq!(steps, vec![step::BLINDED, step::QUERY, step::BLINDED]);
    assert_eq!(hit[0].1, 4 + 32);
    assert_eq!(hit[1].1, 3 * p.query_bytes());
    assert_eq!(hit[2].1, 4);
}

#[test]
fn sizes_of_setup_and_hint() {
    let data = entries(25, 1000, 32);
    let server = build::<Ristretto255>(&data, TableConfig::new(AeadAlg::Aes256Gcm, 32), 26);
    let p = server.params();
    // 1.3·1000 slots of 2 + 32 + 16 bytes.
    assert_eq!(p.records(), 1300);
    assert_eq!(p.record_len(), 50);
    let setup = server.setup().encode();
    assert_eq!(
        setup.len(),
        Setup::FIXED_LEN + server.setup().stash.len() * 50
    );
    assert_eq!(Setup::decode(&setup).unwrap(), *server.setup());
    let keys = vec![data[0].0.clone()];
    let (report, out) = session(&server, AeadAlg::Aes256Gcm, &keys, 27);
    // Setup, hint messages, evaluated element, one message of 3 answers; 8 header bytes each.
    let frames = 1 + hint_messages(p) + 1 + 1;
    let expected_down = setup.len() + p.hint_bytes() + 32 + 3 * p.answer_bytes() + 8 * frames;
    assert_eq!(report.stats.bytes_sent, expected_down as u64);
    assert_eq!(out.stats.bytes_received, report.stats.bytes_sent);
    // Debug output holds no record or key.
    let dbg = format!("{server:?}");
    assert!(!dbg.contains(&data[0].0) && dbg.len() < 400, "{dbg}");
}
