//! Keyword PIR: both roles over the in-memory channel against a plaintext lookup, fixed seeds;
//! present, absent and duplicate keys, empty and one-record tables, both profiles, the stash,
//! incremental updates, persistence, hint caches, the bucket-revealing mode; the server's view
//! of a hit and a miss.

use std::collections::HashMap;

use unseen_channel::{Header, Tamper};
use unseen_crypto::aead::AeadAlg;
use unseen_crypto::oprf::{OprfSuite, ServerKey};
use unseen_crypto::{Ristretto255, Sm2};
use unseen_pir::PirError;
use unseen_pir::keyword::msgs::{Setup, hint_messages, step};
use unseen_pir::keyword::{
    ClientConfig, ClientOutput, HintCache, HintSent, KeywordServer, LookupMode, MAX_KEYS,
    ServerLimits, ServerReport, TableConfig, run_client, run_server, stored_version,
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

fn pairs(data: &[(String, Vec<u8>)]) -> Vec<(&[u8], &[u8])> {
    data.iter()
        .map(|(k, v)| (k.as_bytes(), v.as_slice()))
        .collect()
}

pub(crate) fn build<S: OprfSuite>(
    data: &[(String, Vec<u8>)],
    config: TableConfig,
    seed: u64,
) -> KeywordServer<S> {
    let mut r = rng(seed);
    let key = ServerKey::<S>::generate(&mut r);
    KeywordServer::build(key, &pairs(data), config, &mut r).unwrap()
}

/// Runs a session in `mode` with `cache`; returns the server's report and the client's output.
pub(crate) fn session_with<S: OprfSuite>(
    server: &KeywordServer<S>,
    aead: AeadAlg,
    mode: LookupMode,
    cache: Option<HintCache>,
    keys: &[String],
    seed: u64,
) -> (
    Result<ServerReport, PirError>,
    Result<ClientOutput, PirError>,
) {
    let keys: Vec<&[u8]> = keys.iter().map(String::as_bytes).collect();
    run_pair(
        |ch| run_server(ch, server, &ServerLimits::default()),
        |ch| {
            run_client::<S, _, _>(
                ch,
                ClientConfig::new(aead),
                mode,
                cache,
                &keys,
                &mut rng(seed),
            )
        },
        None,
    )
}

/// A private-mode session without a cached hint.
pub(crate) fn session<S: OprfSuite>(
    server: &KeywordServer<S>,
    aead: AeadAlg,
    keys: &[String],
    seed: u64,
) -> (ServerReport, ClientOutput) {
    let (s, c) = session_with(server, aead, LookupMode::Private, None, keys, seed);
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
    // A fifth record for one key is refused at build time (this table allows 4).
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
    let keys = vec!["x".to_owned()];
    let (_, c) = session_with(
        &server,
        AeadAlg::Sm4Gcm,
        LookupMode::Private,
        None,
        &keys,
        1,
    );
    assert!(
        matches!(c, Err(PirError::Mismatch { what: "AEAD", .. })),
        "{c:?}"
    );
    let k: Vec<&[u8]> = vec![b"x"];
    let (_, c) = run_pair(
        |ch| drop(run_server(ch, &server, &ServerLimits::default())),
        |ch| {
            run_client::<Sm2, _, _>(
                ch,
                ClientConfig::new(AeadAlg::Aes256Gcm),
                LookupMode::Private,
                None,
                &k,
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

/// 300 records forced into 4 buckets of 60 slots: at least 60 land in the stash, which the
/// client opens locally; every lookup still matches the plaintext.
#[test]
fn stash_entries_are_found() {
    let data = entries(40, 300, 8);
    let mut r = rng(41);
    let key = ServerKey::<Ristretto255>::generate(&mut r);
    let config = TableConfig::new(AeadAlg::Aes256Gcm, 8);
    let server =
        KeywordServer::build_with_shape(key, &pairs(&data), config, 4, 70, &mut r).unwrap();
    assert!(server.info().stash > 0, "{:?}", server.info());
    let keys: Vec<String> = data.iter().map(|(k, _)| k.clone()).collect();
    let (_, out) = session(&server, AeadAlg::Aes256Gcm, &keys, 42);
    assert_eq!(out.records, oracle(&data, &keys));
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
        |ch| run_server(ch, server, &ServerLimits::default()),
        |ch| {
            run_client::<Ristretto255, _, _>(
                ch,
                ClientConfig::new(AeadAlg::Aes256Gcm),
                LookupMode::Private,
                None,
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
    // HELLO, BLINDED, QUERY (one query: a key is one column), BLINDED(0).
    assert_eq!(
        steps,
        vec![step::HELLO, step::BLINDED, step::QUERY, step::BLINDED]
    );
    assert_eq!(hit[1].1, 4 + 32);
    assert_eq!(hit[2].1, p.query_bytes());
    assert_eq!(hit[3].1, 4);
}

#[test]
fn sizes_of_setup_and_hint() {
    let data = entries(25, 1000, 32);
    let server = build::<Ristretto255>(&data, TableConfig::new(AeadAlg::Aes256Gcm, 32), 26);
    let p = server.params().clone();
    let info = server.info();
    // Slots of 4 + 3 + 32 + 16 bytes, buckets as columns, room for 10 % more records.
    assert_eq!(p.record_len(), 55);
    assert_eq!(p.cols(), info.buckets);
    assert_eq!(p.records(), info.buckets * info.bucket_capacity);
    assert!(p.records() >= 1100, "{info:?}");
    assert_eq!((info.keys, info.items), (1000, 1000));
    let keys = vec![data[0].0.clone()];
    let (report, out) = session(&server, AeadAlg::Aes256Gcm, &keys, 27);
    assert_eq!(out.hint, HintSent::Full);
    let setup_len = Setup::FIXED_LEN + info.stash * 55;
    // Setup, hint messages, evaluated element, one answer; 8 header bytes each.
    let frames = 1 + hint_messages(&p) + 1 + 1;
    let expected_down = setup_len + p.hint_bytes() + 32 + p.answer_bytes() + 8 * frames;
    assert_eq!(report.stats.bytes_sent, expected_down as u64);
    assert_eq!(out.stats.bytes_received, report.stats.bytes_sent);
    // Debug output holds no record or key.
    let dbg = format!("{server:?}");
    assert!(!dbg.contains(&data[0].0) && dbg.len() < 400, "{dbg}");
}

/// Inserts, updates and deletes applied in place: lookups match the plaintext of the new data,
/// a client with the old hint downloads only the changed rows, and the table id stays.
#[test]
fn updates_in_place_match_the_plaintext() {
    let mut data = entries(50, 400, 20);
    let config = TableConfig::new(AeadAlg::Aes256Gcm, 20);
    let mut server = build::<Ristretto255>(&data, config, 51);
    let keys_before: Vec<String> = data.iter().step_by(5).map(|(k, _)| k.clone()).collect();
    let (_, first) = session(&server, AeadAlg::Aes256Gcm, &keys_before, 52);
    assert_eq!(first.records, oracle(&data, &keys_before));
    let before = server.info();
    // Delete 10, update 10 (same key, new record), insert 10.
    let deleted: Vec<String> = data.drain(0..10).map(|(k, _)| k).collect();
    for (_, v) in data.iter_mut().take(10) {
        v.clear();
        v.extend_from_slice(b"updated!");
    }
    let fresh = entries(53, 10, 20);
    data.extend(fresh.iter().cloned());
    let report = server.sync(&pairs(&data), &mut rng(54)).unwrap();
    assert_eq!(
        (
            report.inserted,
            report.updated,
            report.deleted,
            report.rebuilt
        ),
        (10, 10, 10, false),
        "{report:?}"
    );
    assert_eq!(report.unchanged, 380);
    let after = server.info();
    assert_eq!((after.table_id, after.epoch), (before.table_id, 1));
    assert_eq!(after.keys, 400);
    let mut keys: Vec<String> = data.iter().step_by(3).map(|(k, _)| k.clone()).collect();
    keys.extend(deleted.iter().cloned());
    keys.extend(fresh.iter().map(|(k, _)| k.clone()));
    keys.push(data[0].0.clone());
    // Old hint: only the changed rows come down.
    let (s, c) = session_with(
        &server,
        AeadAlg::Aes256Gcm,
        LookupMode::Private,
        first.cache.clone(),
        &keys,
        55,
    );
    let (s, c) = (s.unwrap(), c.unwrap());
    assert_eq!(c.records, oracle(&data, &keys));
    assert!(
        deleted
            .iter()
            .all(|k| c.records[keys.iter().position(|x| x == k).unwrap()].is_empty())
    );
    let HintSent::Rows(n) = c.hint else {
        panic!("expected changed rows, got {:?}", c.hint)
    };
    assert_eq!(n, report.hint_rows_changed);
    assert!(n > 0 && n * 2 <= server.params().rows());
    assert!(s.stats.bytes_sent < server.info().hint_bytes as u64 / 2);
    // Nothing changed since: no hint at all.
    let (_, c) = session_with(
        &server,
        AeadAlg::Aes256Gcm,
        LookupMode::Private,
        c.cache.clone(),
        &keys,
        56,
    );
    let c = c.unwrap();
    assert_eq!(c.hint, HintSent::None);
    assert_eq!(c.records, oracle(&data, &keys));
    // A sync with the same data changes nothing.
    let same = server.sync(&pairs(&data), &mut rng(57)).unwrap();
    assert_eq!(
        (same.unchanged, same.inserted + same.updated + same.deleted),
        (400, 0)
    );
    assert_eq!(server.info().epoch, 1);
}

/// Changing most of the table rebuilds it: new table id, the old hint is useless and the whole
/// hint comes down; lookups still match.
#[test]
fn large_changes_rebuild() {
    let data = entries(60, 100, 8);
    let config = TableConfig::new(AeadAlg::Aes256Gcm, 8);
    let mut server = build::<Ristretto255>(&data, config, 61);
    let id = server.info().table_id;
    let (_, first) = session(&server, AeadAlg::Aes256Gcm, &[data[0].0.clone()], 62);
    let data2 = entries(63, 150, 8);
    let report = server.sync(&pairs(&data2), &mut rng(64)).unwrap();
    assert!(report.rebuilt, "{report:?}");
    assert_eq!((report.inserted, report.deleted), (150, 100));
    assert_ne!(server.info().table_id, id);
    let keys: Vec<String> = data2
        .iter()
        .step_by(4)
        .chain(data.iter().take(5))
        .map(|(k, _)| k.clone())
        .collect();
    let (_, c) = session_with(
        &server,
        AeadAlg::Aes256Gcm,
        LookupMode::Private,
        first.cache,
        &keys,
        65,
    );
    let c = c.unwrap();
    assert_eq!(c.hint, HintSent::Full);
    assert_eq!(c.records, oracle(&data2, &keys));
}

/// Duplicates: a key's records change count and content in place.
#[test]
fn updates_with_duplicates() {
    let mut data: Vec<(String, Vec<u8>)> = Vec::new();
    for (i, (k, v)) in entries(70, 60, 6).into_iter().enumerate() {
        for d in 0..=(i % 3) {
            let mut v = v.clone();
            v.push(d as u8);
            data.push((k.clone(), v));
        }
    }
    let mut config = TableConfig::new(AeadAlg::Sm4Gcm, 8);
    config.duplicates = 3;
    let mut server = build::<Sm2>(&data, config, 71);
    // Key 2 loses a record, key 0 gains two.
    let k0 = data[0].0.clone();
    let k2 = data[3].0.clone();
    data.retain(|(k, v)| !(k == &k2 && v.last() == Some(&2)));
    data.push((k0.clone(), b"extra-1".to_vec()));
    data.push((k0.clone(), b"extra-2".to_vec()));
    let report = server.sync(&pairs(&data), &mut rng(72)).unwrap();
    assert_eq!((report.updated, report.rebuilt), (2, false), "{report:?}");
    let keys: Vec<String> = data.iter().map(|(k, _)| k.clone()).collect();
    let (_, out) = session(&server, AeadAlg::Sm4Gcm, &keys, 73);
    assert_eq!(out.records, oracle(&data, &keys));
    assert_eq!(out.records[0].len(), 3);
}

/// The table saved and loaded answers exactly as before, also after an update; a corrupt file
/// is a storage error.
#[test]
fn persists_and_reloads() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.kwpir");
    let mut data = entries(80, 200, 16);
    let config = TableConfig::new(AeadAlg::Aes256Gcm, 16);
    let mut server = build::<Ristretto255>(&data, config, 81);
    server
        .set_metadata(br#"{"columns":["a"]}"#.to_vec())
        .unwrap();
    server.save(&path).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let v = stored_version(&path).unwrap();
    assert_eq!((v.table_id, v.epoch), (server.info().table_id, 0));
    let mut loaded = KeywordServer::<Ristretto255>::load(&path).unwrap();
    assert_eq!(loaded.info(), server.info());
    assert_eq!(loaded.hint(), server.hint());
    let keys: Vec<String> = data.iter().step_by(2).map(|(k, _)| k.clone()).collect();
    let (_, out) = session(&loaded, AeadAlg::Aes256Gcm, &keys, 82);
    assert_eq!(out.records, oracle(&data, &keys));
    assert_eq!(out.metadata, br#"{"columns":["a"]}"#);
    // Update the loaded table, save, load again.
    data[5].1 = b"changed".to_vec();
    data.push(("new-key".to_owned(), b"new".to_vec()));
    loaded.sync(&pairs(&data), &mut rng(83)).unwrap();
    loaded.save(&path).unwrap();
    let again = KeywordServer::<Ristretto255>::load(&path).unwrap();
    assert_eq!(stored_version(&path).unwrap().epoch, 1);
    let keys = vec![data[5].0.clone(), "new-key".to_owned(), data[6].0.clone()];
    let (_, out) = session(&again, AeadAlg::Aes256Gcm, &keys, 84);
    assert_eq!(out.records, oracle(&data, &keys));
    // The hint cache round-trips too.
    let cache_path = dir.path().join("h.hint");
    assert_eq!(HintCache::load(&cache_path).unwrap(), None);
    let cache = out.cache.unwrap();
    cache.save(&cache_path).unwrap();
    assert_eq!(HintCache::load(&cache_path).unwrap(), Some(cache));
    // Wrong suite, truncated file, garbage.
    assert!(matches!(
        KeywordServer::<Sm2>::load(&path),
        Err(PirError::Storage(_))
    ));
    let bytes = std::fs::read(&path).unwrap();
    std::fs::write(&path, &bytes[..bytes.len() - 3]).unwrap();
    assert!(matches!(
        KeywordServer::<Ristretto255>::load(&path),
        Err(PirError::Storage(_))
    ));
    std::fs::write(&cache_path, b"garbage").unwrap();
    assert!(matches!(
        HintCache::load(&cache_path),
        Err(PirError::Storage(_))
    ));
}

/// The table and the hint cache written to any `Write` and read back from any `Read` are the
/// same bytes as the files; a stream that is cut short or carries bytes after the end is a
/// storage error.
#[test]
fn writes_to_and_reads_from_streams() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.kwpir");
    let data = entries(90, 120, 12);
    let server = build::<Ristretto255>(&data, TableConfig::new(AeadAlg::Aes256Gcm, 12), 91);
    let mut bytes = Vec::new();
    server.write_to(&mut bytes).unwrap();
    server.save(&path).unwrap();
    assert_eq!(std::fs::read(&path).unwrap(), bytes);
    let read = KeywordServer::<Ristretto255>::read_from(&bytes[..]).unwrap();
    assert_eq!(read.info(), server.info());
    assert_eq!(read.hint(), server.hint());
    let keys: Vec<String> = data.iter().step_by(3).map(|(k, _)| k.clone()).collect();
    let (_, out) = session(&read, AeadAlg::Aes256Gcm, &keys, 92);
    assert_eq!(out.records, oracle(&data, &keys));
    for bad in [
        &bytes[..bytes.len() - 1],
        &[bytes.as_slice(), &[0; 3]].concat()[..],
    ] {
        let e = KeywordServer::<Ristretto255>::read_from(bad).unwrap_err();
        assert!(matches!(e, PirError::Storage(_)), "{e:?}");
    }
    let e = KeywordServer::<Ristretto255>::read_from(&[bytes.as_slice(), &[0; 3]].concat()[..])
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "storage: table: 3 trailing bytes after table"
    );
    // A table that announces 2^32 − 1 metadata bytes: refused from the length alone.
    let mut big = bytes.clone();
    let meta_at = 124 + 4 + 32;
    big[meta_at..meta_at + 4].copy_from_slice(&u32::MAX.to_le_bytes());
    let e = KeywordServer::<Ristretto255>::read_from(&big[..]).unwrap_err();
    assert_eq!(
        e.to_string(),
        "storage: table: metadata: 4294967295 announced, at most 65536 allowed"
    );
    let cache = out.cache.unwrap();
    let mut cb = Vec::new();
    cache.write_to(&mut cb).unwrap();
    assert_eq!(HintCache::read_from(&cb[..]).unwrap(), cache);
    let cache_path = dir.path().join("h.hint");
    cache.save(&cache_path).unwrap();
    assert_eq!(std::fs::read(&cache_path).unwrap(), cb);
    let e = HintCache::read_from(&cb[..cb.len() - 4]).unwrap_err();
    assert!(matches!(e, PirError::Storage(_)), "{e:?}");
}

/// The bucket-revealing mode gives the same records without a hint, refuses a table whose
/// buckets are smaller than asked, and tells the server the bucket (one BUCKETS message).
#[test]
fn reveal_bucket_mode() {
    let data = entries(90, 500, 12);
    let server = build::<Ristretto255>(&data, TableConfig::new(AeadAlg::Aes256Gcm, 12), 91);
    // Ask for more keys per revealed group than a single bucket holds: groups of buckets.
    let min = u32::try_from(server.info().min_bucket_keys).unwrap() + 20;
    let mut keys: Vec<String> = data.iter().step_by(11).map(|(k, _)| k.clone()).collect();
    keys.extend(id_cards(92, 5));
    let (s, c) = session_with(
        &server,
        AeadAlg::Aes256Gcm,
        LookupMode::RevealBucket { min_keys: min },
        None,
        &keys,
        93,
    );
    let (s, c) = (s.unwrap(), c.unwrap());
    assert_eq!(c.records, oracle(&data, &keys));
    assert_eq!((c.hint, c.cache.is_none()), (HintSent::None, true));
    assert_eq!(s.mode, LookupMode::RevealBucket { min_keys: min });
    // Far less traffic than the hint.
    assert!(s.stats.bytes_sent < server.info().hint_bytes as u64);
    // More keys than the whole table holds: refused by the client.
    let (_, c) = session_with(
        &server,
        AeadAlg::Aes256Gcm,
        LookupMode::RevealBucket { min_keys: 501 },
        None,
        &keys,
        94,
    );
    assert!(
        matches!(
            c,
            Err(PirError::AnonymityTooLow {
                min_group_keys: 500,
                required: 501
            })
        ),
        "{c:?}"
    );
}

/// The server refuses the batch that would pass its quota, before evaluating it.
#[test]
fn quota_is_enforced() {
    let data = entries(95, 50, 4);
    let server = build::<Ristretto255>(&data, TableConfig::new(AeadAlg::Aes256Gcm, 4), 96);
    let keys: Vec<&[u8]> = data.iter().map(|(k, _)| k.as_bytes()).collect();
    let limits = ServerLimits { max_keys: 49 };
    let (s, c) = run_pair(
        |ch| run_server(ch, &server, &limits),
        |ch| {
            run_client::<Ristretto255, _, _>(
                ch,
                ClientConfig::new(AeadAlg::Aes256Gcm),
                LookupMode::Private,
                None,
                &keys,
                &mut rng(97),
            )
        },
        None,
    );
    assert!(
        matches!(
            s,
            Err(PirError::QuotaExceeded {
                used: 50,
                allowed: 49
            })
        ),
        "{s:?}"
    );
    // The client sees the session end where it waited for the evaluated elements.
    assert!(
        matches!(
            c,
            Err(PirError::Channel(unseen_channel::ChannelError::Closed { expected }))
                if expected == unseen_pir::keyword::msgs::header(step::EVALUATED)
        ),
        "{c:?}"
    );
}

/// The run-time suite (`AnyServer`, `run_any_server`, `query_any`): in both suites, a table
/// built, saved and loaded back answers present and absent keys as the plaintext lookup; the
/// metadata check sees the table's metadata first, and its refusal looks nothing up.
#[test]
fn either_suite_chosen_at_run_time_against_a_plaintext_lookup() {
    use unseen_crypto::CurveId;
    use unseen_pir::keyword::{AnyServer, Stop, aead_for, query_any, run_any_server};
    assert_eq!(aead_for(CurveId::Ristretto255), AeadAlg::Aes256Gcm);
    assert_eq!(aead_for(CurveId::Sm2), AeadAlg::Sm4Gcm);
    let dir = tempfile::tempdir().unwrap();
    let data = entries(71, 60, 12);
    let mut keys: Vec<String> = data.iter().step_by(7).map(|(k, _)| k.clone()).collect();
    keys.extend(id_cards(72, 5));
    for (i, curve) in [CurveId::Ristretto255, CurveId::Sm2]
        .into_iter()
        .enumerate()
    {
        let built = AnyServer::build(
            curve,
            &pairs(&data),
            (12, 1),
            b"meta".to_vec(),
            &mut rng(73),
        )
        .unwrap();
        assert_eq!(built.curve(), curve);
        let path = dir.path().join(format!("t{i}.bin"));
        built.save(&path).unwrap();
        let table = AnyServer::load(&path).unwrap();
        assert_eq!((table.curve(), table.info().keys), (curve, 60));
        let key_bytes: Vec<&[u8]> = keys.iter().map(String::as_bytes).collect();
        let accept = |m: &[u8]| -> Result<usize, ()> { Ok(m.len()) };
        let (served, got) = run_pair(
            |ch| run_any_server(ch, &table, &ServerLimits::default()),
            |ch| {
                let held = (LookupMode::Private, None);
                query_any(ch, curve, held, &key_bytes, &accept, &mut rng(74)).map_err(|e| match e {
                    Stop::Pir(e) => e,
                    Stop::Check(()) => PirError::Internal("refused"),
                })
            },
            None,
        );
        let (got, meta_len) = got.unwrap();
        assert_eq!(meta_len, 4, "the check saw the metadata");
        assert_eq!(got.records, oracle(&data, &keys));
        assert_eq!(served.unwrap().keys, keys.len() as u64);
        assert!(got.hint_cache.is_some(), "a full hint to cache");
        // A refused metadata check: the session ends with no key looked up.
        let refuse = |_: &[u8]| -> Result<(), &'static str> { Err("not ours") };
        let (served, got) = run_pair(
            |ch| run_any_server(ch, &table, &ServerLimits::default()),
            |ch| {
                let held = (LookupMode::Private, None);
                Ok::<_, PirError>(matches!(
                    query_any(ch, curve, held, &key_bytes, &refuse, &mut rng(75)),
                    Err(Stop::Check("not ours"))
                ))
            },
            None,
        );
        assert!(got.unwrap());
        assert_eq!(served.unwrap().keys, 0);
    }
}
