//! Hidden query in the node without sockets: publishing (build, update, refusals), the table
//! cache, both roles over the in-memory channel against a plaintext lookup, the pir policy rule.

use std::collections::HashMap;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use unseen_crypto::CurveId as Curve;
use unseen_data::{DuplicatePolicy, KeyType, ReadOptions};
use unseen_node::control::JobSpec;
use unseen_node::kinds::pir::{Pir, PirSpec};
use unseen_node::ops::{self, PartnerInput, PolicyInput};
use unseen_node::pir_job::{self, Lookup, PublishRequest, QueryInput};
use unseen_node::{NodeDir, NodeError};
use unseen_store::{NewPolicy, Receivers, Store};

use crate::util::{Fixture, node, register};

fn id(i: usize) -> String {
    let body = format!(
        "1101051980{:02}{:02}{:03}",
        1 + i % 12,
        1 + i % 28,
        i % 1000
    );
    unseen_data::synth::id_card(&body).unwrap()
}

/// Writes `id,name,amount` rows for `(id index, name)`.
fn write(path: &Path, rows: &[(usize, &str)]) {
    let mut s = String::from("id,name,amount\n");
    for (i, name) in rows {
        s.push_str(&format!("{},{name},{}\n", id(*i).to_lowercase(), i * 7));
    }
    std::fs::write(path, s).unwrap();
}

fn publish(f: &Fixture, req: &PublishRequest) -> Result<pir_job::PublishReport, NodeError> {
    let mut store: Store = unseen_node::audit_key::open_store(&f.dir).unwrap();
    pir_job::publish(&f.dir, &mut store, "test", req, &|_| {})
}

fn req(dataset: &str) -> PublishRequest {
    PublishRequest {
        dataset: dataset.into(),
        ..PublishRequest::default()
    }
}

#[test]
fn records_are_json_string_lists() {
    let r = pir_job::encode_record(["张三", "a\"b", ""]);
    assert_eq!(r, r#"["张三","a\"b",""]"#.as_bytes());
    assert_eq!(pir_job::decode_record(&r, 3).unwrap(), ["张三", "a\"b", ""]);
    assert_eq!(pir_job::decode_record(&r, 2), None);
    assert_eq!(pir_job::decode_record(b"[1,2]", 2), None);
    assert_eq!(pir_job::decode_record(b"[\"a\"] x", 1), None);
}

#[test]
fn publish_refuses_repeats_and_long_rows_naming_the_line() {
    let f = node("data-b");
    let csv = f.data("list.csv");
    write(&csv, &[(1, "a"), (2, "b"), (1, "c"), (1, "d")]);
    register(&f, "blacklist", &csv, "id-card");
    let err = publish(&f, &req("blacklist")).unwrap_err();
    assert!(matches!(err, NodeError::Invalid(_)), "{err:?}");
    assert_eq!(
        err.to_string(),
        format!(
            "{}:4: duplicate key, first seen on line 2; publish several records per key with \
             --duplicates K (at most {})",
            csv.display(),
            pir_job::MAX_DUPLICATES
        )
    );
    let two = PublishRequest {
        duplicates: Some(2),
        ..req("blacklist")
    };
    let err = publish(&f, &two).unwrap_err();
    assert!(
        err.to_string().starts_with(&format!(
            "{}:5: the key has more than 2 rows (also on lines 2, 4)",
            csv.display()
        )),
        "{err}"
    );
    // `["name","amount"]` of the first row is `["a","0"]`: 9 bytes.
    let short = PublishRequest {
        duplicates: Some(3),
        max_record_bytes: Some(8),
        ..req("blacklist")
    };
    let err = publish(&f, &short).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "{}:2: the row's released columns (name, amount) encode to 9 bytes, more than \
             --max-record-bytes 8",
            csv.display()
        )
    );
    for bad in [
        PublishRequest {
            duplicates: Some(0),
            ..req("blacklist")
        },
        PublishRequest {
            max_record_bytes: Some(pir_job::MAX_RECORD_LEN + 1),
            ..req("blacklist")
        },
    ] {
        assert!(matches!(
            publish(&f, &bad).unwrap_err(),
            NodeError::Invalid(_)
        ));
    }
    assert!(!f.dir.pir_table("blacklist").exists());
    assert!(matches!(
        publish(&f, &req("nope")).unwrap_err(),
        NodeError::Store(unseen_store::StoreError::NotFound { .. })
    ));
}

/// Reads a keys file as `unseen query` does.
fn query_input(path: &Path, output: &Path) -> QueryInput {
    let mut o = ReadOptions::new("id", KeyType::IdCard);
    o.duplicates = DuplicatePolicy::KeepAll;
    QueryInput {
        input: path.to_path_buf(),
        table: unseen_data::read_table(path, &o).unwrap(),
        key_type: "id-card".into(),
        output: output.to_path_buf(),
    }
}

/// Runs both roles over the in-memory channel; returns the server's report and the client's.
fn run_query(
    server: &Fixture,
    client_dir: &NodeDir,
    q: &QueryInput,
    lookup: Lookup,
    max_keys: u64,
    pending: &Path,
) -> (
    Result<pir_job::Served, unseen_pir::PirError>,
    Result<pir_job::QueryResult, unseen_node::job_error::JobError>,
) {
    let table = server
        .node
        .pir_tables
        .get(&server.dir, "blacklist")
        .unwrap()
        .unwrap();
    let (mut a, mut b) = unseen_channel::duplex();
    std::thread::scope(|s| {
        let h = s.spawn(move || pir_job::serve(&mut b, &table, max_keys));
        let c = pir_job::query(
            &mut a,
            client_dir,
            ("data-b", "blacklist"),
            q,
            lookup,
            pending,
        );
        drop(a);
        (h.join().unwrap(), c)
    })
}

/// The plaintext lookup: for each keys-file line, the table's `name,amount` values of that key
/// (in file order) or none.
fn expected(keys_file: &Path, table_file: &Path) -> Vec<String> {
    let norm = |s: &str| s.trim().to_uppercase();
    let mut by_key: HashMap<String, Vec<String>> = HashMap::new();
    for line in std::fs::read_to_string(table_file).unwrap().lines().skip(1) {
        let (k, rest) = line.split_once(',').unwrap();
        by_key.entry(norm(k)).or_default().push(rest.to_string());
    }
    let text = std::fs::read_to_string(keys_file).unwrap();
    let mut lines = text.lines();
    let header = lines.next().unwrap();
    let mut out = vec![format!("{header},name,amount,found")];
    for line in lines {
        let k = norm(line.split(',').next().unwrap());
        match by_key.get(&k) {
            Some(recs) => out.extend(recs.iter().map(|r| format!("{line},{r},true"))),
            None => out.push(format!("{line},,,false")),
        }
    }
    out
}

#[test]
fn publish_update_and_query_against_a_plaintext_lookup() {
    let server = node("data-b");
    let client = node("bank-a");
    let csv = server.data("list.csv");
    // 40 keys, keys 3 and 7 with two and three rows.
    let mut rows: Vec<(usize, String)> = (0..40).map(|i| (i, format!("n{i}"))).collect();
    rows.push((3, "n3-second".into()));
    rows.push((7, "n7-second".into()));
    rows.push((7, "n7-third".into()));
    let as_ref = |rows: &[(usize, String)]| -> Vec<(usize, String)> { rows.to_vec() };
    let write_rows = |rows: &[(usize, String)]| {
        let v: Vec<(usize, &str)> = rows.iter().map(|(i, n)| (*i, n.as_str())).collect();
        write(&csv, &v);
    };
    write_rows(&as_ref(&rows));
    register(&server, "blacklist", &csv, "id-card");
    let first = publish(
        &server,
        &PublishRequest {
            duplicates: Some(3),
            ..req("blacklist")
        },
    )
    .unwrap();
    assert_eq!(first.fresh.as_deref(), Some("no table yet"));
    assert_eq!((first.rows, first.keys, first.inserted), (43, 40, 40));
    assert_eq!((first.duplicates, first.curve), (3, Curve::Ristretto255));
    let file = server.dir.pir_table("blacklist");
    let mode = std::fs::metadata(&file).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);

    // Keys: present, absent, present with several rows, repeated in the keys file.
    let keys = client.data("keys.csv");
    let ask = [1usize, 3, 7, 100, 101, 39, 1, 0];
    let mut text = String::from("id,ref\n");
    for (k, i) in ask.iter().enumerate() {
        text.push_str(&format!("{},r{k}\n", id(*i)));
    }
    std::fs::write(&keys, text).unwrap();
    let out = client.data("hits.csv");
    let pending = client.dir.root().join(".hits.pending");
    let q = query_input(&keys, &out);
    let private = Lookup {
        curve: Curve::Ristretto255,
        reveal_bucket: None,
    };
    let (served, got) = run_query(&server, &client.dir, &q, private, 7, &pending);
    let served = served.unwrap();
    let got = got.unwrap();
    assert_eq!((served.keys, served.reveal_bucket), (7, None));
    assert_eq!((got.keys, got.found, got.records), (7, 5, 8));
    assert_eq!(got.hint, "full");
    let lines = |p: &Path| -> Vec<String> {
        std::fs::read_to_string(p)
            .unwrap()
            .lines()
            .map(str::to_string)
            .collect()
    };
    assert_eq!(lines(&pending), expected(&keys, &csv));
    assert!(client.dir.pir_hint_cache("data-b", "blacklist").is_file());

    // A second query uses the cached hint; more keys than allowed are refused.
    let (_, got) = run_query(&server, &client.dir, &q, private, 7, &pending);
    assert_eq!(got.unwrap().hint, "cached");
    let (served, got) = run_query(&server, &client.dir, &q, private, 6, &pending);
    assert!(served.unwrap_err().to_string().contains("quota"));
    assert!(got.is_err());

    // Change the data: delete key 1, update key 3, add key 100 (no record longer than the
    // table's longest): the table is updated in place.
    let before = server
        .node
        .pir_tables
        .get(&server.dir, "blacklist")
        .unwrap()
        .unwrap();
    rows.retain(|(i, _)| *i != 1);
    rows.iter_mut()
        .filter(|(i, _)| *i == 3)
        .for_each(|r| r.1 = r.1.replace('n', "x"));
    rows.push((100, "n100".into()));
    write_rows(&rows);
    let second = publish(&server, &req("blacklist")).unwrap();
    assert_eq!(second.fresh, None);
    assert_eq!(
        (
            second.inserted,
            second.updated,
            second.deleted,
            second.unchanged
        ),
        (1, 1, 1, 38)
    );
    assert_eq!(second.table_id, first.table_id);
    assert!(second.epoch > first.epoch);
    let after = server
        .node
        .pir_tables
        .get(&server.dir, "blacklist")
        .unwrap()
        .unwrap();
    assert!(
        !std::sync::Arc::ptr_eq(&before, &after),
        "a changed table is loaded again"
    );
    let again = server
        .node
        .pir_tables
        .get(&server.dir, "blacklist")
        .unwrap()
        .unwrap();
    assert!(
        std::sync::Arc::ptr_eq(&after, &again),
        "an unchanged one is not"
    );
    let (_, got) = run_query(&server, &client.dir, &q, private, 7, &pending);
    let got = got.unwrap();
    // Only the changed hint rows travel, unless the update happened to touch more than half of
    // them: the server then sends the whole hint (the table's OPRF key is random, so the layout
    // varies; about 3 layouts in 2000 for this table). unseen-pir's own tests pin the row
    // update with fixed seeds.
    assert!(matches!(got.hint, "rows" | "full"), "{}", got.hint);
    assert_eq!(lines(&pending), expected(&keys, &csv));

    // Keys normalised differently from the table's are refused before any is looked up.
    let mut as_strings = query_input(&keys, &out);
    as_strings.key_type = "string".into();
    let (served, got) = run_query(&server, &client.dir, &as_strings, private, 7, &pending);
    assert_eq!(served.unwrap().keys, 0);
    assert!(
        matches!(&got, Err(e) if e.fault() == unseen_channel::Fault::Input
            && e.message().contains("keyed by id-card")),
        "{got:?}"
    );

    // The bucket-revealing mode gives the same records.
    let reveal = Lookup {
        curve: Curve::Ristretto255,
        reveal_bucket: Some(8),
    };
    let (served, got) = run_query(&server, &client.dir, &q, reveal, 7, &pending);
    assert_eq!(served.unwrap().reveal_bucket, Some(8));
    assert_eq!(got.unwrap().hint, "none");
    assert_eq!(lines(&pending), expected(&keys, &csv));

    // Another curve rebuilds, and a proposal with the old one is refused.
    let sm2 = publish(
        &server,
        &PublishRequest {
            curve: Some(Curve::Sm2),
            ..req("blacklist")
        },
    )
    .unwrap();
    assert_eq!(
        sm2.fresh.as_deref(),
        Some("the curve changes from ristretto255 to sm2")
    );
    assert_ne!(sm2.table_id, first.table_id);
    let t = server
        .node
        .pir_tables
        .get(&server.dir, "blacklist")
        .unwrap()
        .unwrap();
    assert!(
        pir_job::check_proposal(&t, "blacklist", Curve::Ristretto255, None)
            .unwrap_err()
            .contains("uses sm2")
    );
    assert!(pir_job::check_proposal(&t, "blacklist", Curve::Sm2, Some(40)).is_ok());
    assert!(
        pir_job::check_proposal(&t, "blacklist", Curve::Sm2, Some(41))
            .unwrap_err()
            .contains("fewer than the bucket k-anonymity of 41")
    );
    let sm2_lookup = Lookup {
        curve: Curve::Sm2,
        reveal_bucket: None,
    };
    let (_, got) = run_query(&server, &client.dir, &q, sm2_lookup, 7, &pending);
    assert_eq!(got.unwrap().hint, "full");
    assert_eq!(lines(&pending), expected(&keys, &csv));

    // The audit holds counts and versions, never a key or a row.
    let audit = server.node.store().audit_records(None).unwrap();
    let published: Vec<_> = audit
        .iter()
        .filter(|r| r.action == "pir.published")
        .collect();
    assert_eq!(published.len(), 3);
    assert_eq!(published[0].params["keys"], 40);
    let all = serde_json::to_string(&audit).unwrap();
    for i in ask {
        assert!(!all.contains(&id(i)) && !all.contains(&id(i).to_lowercase()));
    }
    assert!(!all.contains("n7-second"));

    // Removing the dataset removes its table.
    ops::remove_dataset(&server.dir, &mut server.node.store(), "test", "blacklist").unwrap();
    assert!(!file.exists());
    assert!(
        server
            .node
            .pir_tables
            .get(&server.dir, "blacklist")
            .unwrap()
            .is_none()
    );
}

#[test]
fn pir_rules_must_give_records_to_the_partner() {
    let f = node("data-b");
    let other = node("bank-a");
    let csv = f.data("list.csv");
    write(&csv, &[(1, "a")]);
    register(&f, "blacklist", &csv, "id-card");
    let mut store = f.node.store();
    let own = f.node.fingerprint();
    ops::add_partner(
        &mut store,
        "test",
        &own,
        &PartnerInput {
            name: "bank-a".into(),
            address: "127.0.0.1:9".into(),
            cert_pem: std::fs::read_to_string(other.dir.cert()).unwrap(),
        },
    )
    .unwrap();
    let spec = PirSpec {
        curve: Curve::Ristretto255,
        keys: 10,
        reveal_bucket: None,
    };
    let check = |store: &Store| {
        unseen_node::policy::check::<Pir>(store, "blacklist", "bank-a", &spec, false).unwrap()
    };
    assert_eq!(
        check(&store).unwrap_err(),
        "no policy allows partner \"bank-a\" to run pir jobs on dataset \"blacklist\""
    );
    for receivers in ["any", "partner"] {
        ops::allow(
            &mut store,
            "test",
            &PolicyInput {
                dataset: "blacklist".into(),
                partner: "bank-a".into(),
                job: "pir".into(),
                receivers: receivers.into(),
            },
        )
        .unwrap();
        assert_eq!(check(&store), Ok(()), "{receivers}");
    }
    for receivers in ["both", "owner", "none"] {
        let err = ops::allow(
            &mut store,
            "test",
            &PolicyInput {
                dataset: "blacklist".into(),
                partner: "bank-a".into(),
                job: "pir".into(),
                receivers: receivers.into(),
            },
        )
        .unwrap_err();
        assert!(matches!(err, NodeError::Invalid(_)), "{err:?}");
    }
    // A rule written some other way is still checked.
    for r in [Receivers::Both, Receivers::Owner, Receivers::None] {
        store
            .allow(&NewPolicy {
                dataset: "blacklist".into(),
                partner: "bank-a".into(),
                job_kind: "pir".into(),
                receivers: r,
            })
            .unwrap();
        assert_eq!(
            check(&store).unwrap_err(),
            format!(
                "the policy on dataset \"blacklist\" for partner \"bank-a\" lets rows go to \
                 \"{}\" only, but this pir job gives rows to the partner",
                r.as_str()
            )
        );
    }
}

#[test]
fn pir_jobs_are_neither_submitted_through_the_api_nor_rerun() {
    let f = node("bank-a");
    let other = node("data-b");
    let own = f.node.fingerprint();
    ops::add_partner(
        &mut f.node.store(),
        "test",
        &own,
        &PartnerInput {
            name: "data-b".into(),
            address: "127.0.0.1:9".into(),
            cert_pem: std::fs::read_to_string(other.dir.cert()).unwrap(),
        },
    )
    .unwrap();
    let req = unseen_node::jobs::SubmitRequest {
        kind: "pir".into(),
        partner: "data-b".into(),
        dataset: "query".into(),
        peer_dataset: "blacklist".into(),
        ..Default::default()
    };
    let err = unseen_node::jobs::submit(&f.node, "test", &req, None).unwrap_err();
    assert!(matches!(err, NodeError::Invalid(_)), "{err:?}");
    assert_eq!(err.status(), 400);
    assert!(err.to_string().contains("unseen query"), "{err}");

    let spec = JobSpec::from(PirSpec {
        curve: Curve::Ristretto255,
        keys: 3,
        reveal_bucket: None,
    });
    let id = "0123456789abcdef0123456789abcdef";
    f.node
        .store()
        .insert_job(&unseen_store::NewJob {
            id: id.into(),
            kind: "pir".into(),
            role: unseen_store::Role::Initiator,
            partner: "data-b".into(),
            dataset: pir_job::QUERY_DATASET.into(),
            peer_dataset: "blacklist".into(),
            params: serde_json::to_value(&spec).unwrap(),
            state: unseen_store::JobState::Failed,
            rerun_of: None,
        })
        .unwrap();
    let err = unseen_node::jobs::rerun(&f.node, "test", id).unwrap_err();
    assert!(matches!(err, NodeError::Conflict(_)), "{err:?}");
    assert!(
        err.to_string().contains("run `unseen query` again"),
        "{err}"
    );
    assert_eq!(f.node.store().jobs(None).unwrap().len(), 1);
}
