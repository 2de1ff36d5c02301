//! Hidden query (keyword PIR) between two real nodes on loopback: `pir publish` on the table's
//! owner (its daemon running), `unseen query` on the querier (no daemon), the result compared in
//! full with a plaintext lookup; an incremental update; a daemon restart (the table reloads from
//! disk); refusals by policy, curve and quota; both audit chains; no queried key in the owner's
//! log, audit or database.

use std::collections::{BTreeMap, HashSet};
use std::path::Path;

use serde_json::Value;

use crate::nodes::{Node, err_str, out_str, show};
use crate::util::id;

/// The owner's rows: (id index, name, segment); a key may have several rows.
type Rows = Vec<(u32, String, String)>;

fn write_table(path: &Path, rows: &Rows) {
    let mut s = String::from("id,name,segment\n");
    for (i, name, seg) in rows {
        s.push_str(&format!("{},{name},{seg}\n", id(*i)));
    }
    std::fs::write(path, s).unwrap();
}

/// The normalised form of an ID-card number as the tables store it.
fn norm(s: &str) -> String {
    s.trim().to_uppercase()
}

/// What `hits.csv` must hold: every keys-file line with the records of its key appended (one
/// line per record, in the owner's file order), or empty columns and `false`.
fn expected(keys_file: &Path, rows: &Rows) -> Vec<String> {
    let mut by_key: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (i, name, seg) in rows {
        by_key
            .entry(norm(&id(*i)))
            .or_default()
            .push(format!("{name},{seg}"));
    }
    let text = std::fs::read_to_string(keys_file).unwrap();
    let mut lines = text.lines();
    let mut out = vec![format!("{},name,segment,found", lines.next().unwrap())];
    for line in lines {
        let key = norm(line.split(',').next().unwrap());
        match by_key.get(&key) {
            Some(recs) => out.extend(recs.iter().map(|r| format!("{line},{r},true"))),
            None => out.push(format!("{line},,,false")),
        }
    }
    out
}

fn lines(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .lines()
        .map(str::to_string)
        .collect()
}

/// `unseen query` from `a`; returns the output and its JSON summary when it succeeded.
fn query(a: &Node, keys: &Path, out: &Path, extra: &[&str]) -> (std::process::Output, Value) {
    let mut args = vec![
        "query",
        "--partner",
        "data-b",
        "--dataset",
        "blacklist",
        "--keys",
        keys.to_str().unwrap(),
        "--key",
        "id",
        "--key-type",
        "id-card",
        "--output",
        out.to_str().unwrap(),
        "--json",
    ];
    args.extend_from_slice(extra);
    let o = a.cmd(&args);
    let v = if o.status.success() {
        serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("{e}: {}", show(&o)))
    } else {
        Value::Null
    };
    (o, v)
}

/// `pir publish --json` on `b`, which must succeed.
fn publish(b: &Node, extra: &[&str]) -> Value {
    let mut args = vec!["pir", "publish", "--dataset", "blacklist"];
    args.extend_from_slice(extra);
    b.json(&args)
}

/// Every file in the directory of `out` whose name starts with a dot (pending outputs).
fn hidden_beside(out: &Path) -> Vec<String> {
    std::fs::read_dir(out.parent().unwrap())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with('.'))
        .collect()
}

#[test]
fn hidden_query_end_to_end() {
    let a = Node::init("bank-a");
    let mut b = Node::init("data-b");
    a.add_partner(&b);
    b.add_partner(&a);
    // Three queries of 40 keys and one of 40 refused before any lookup fit; one of 90 more
    // does not.
    b.set_config("max_keys_per_day", 200);

    // The owner's list: 300 keys, 20 of them with two rows and 5 with three.
    let mut rows: Rows = (0..300)
        .map(|i| (i, format!("名{i:04}"), format!("s{}", i % 7)))
        .collect();
    for i in 0..20 {
        rows.push((i * 3, format!("名{:04}", i * 3 + 5000), "s8".into()));
    }
    for i in 0..5 {
        rows.push((i * 3, format!("名{:04}", i * 3 + 6000), "s9".into()));
    }
    let table_csv = b.scratch("blacklist.csv");
    write_table(&table_csv, &rows);
    b.ok(&[
        "dataset",
        "add",
        "--name",
        "blacklist",
        "--path",
        table_csv.to_str().unwrap(),
        "--key",
        "id",
        "--key-type",
        "id-card",
    ]);

    // Refusals of publish: a repeated key without --duplicates, a too short record length.
    let o = b.cmd(&["pir", "publish", "--dataset", "blacklist"]);
    assert_eq!(o.status.code(), Some(2), "{}", show(&o));
    assert!(
        err_str(&o).contains(&format!(
            "{}:302: duplicate key, first seen on line 2",
            table_csv.display()
        )),
        "{}",
        show(&o)
    );
    let o = b.cmd(&[
        "pir",
        "publish",
        "--dataset",
        "blacklist",
        "--duplicates",
        "3",
        "--max-record-bytes",
        "10",
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", show(&o));
    assert!(
        err_str(&o).contains(&format!(
            "{}:2: the row's released columns (name, segment) encode to",
            table_csv.display()
        )),
        "{}",
        show(&o)
    );
    assert!(!b.dir.join("pir/blacklist.kwpir").exists());

    let p1 = publish(&b, &["--duplicates", "3"]);
    assert_eq!(p1["rows"], 325, "{p1:#}");
    assert_eq!(p1["keys"], 300, "{p1:#}");
    assert_eq!(p1["fresh"], "no table yet", "{p1:#}");
    assert_eq!(p1["curve"], "ristretto255", "{p1:#}");
    assert_eq!(p1["duplicates"], 3, "{p1:#}");
    let file = b.dir.join("pir/blacklist.kwpir");
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&file).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    b.ok(&[
        "policy",
        "allow",
        "--dataset",
        "blacklist",
        "--partner",
        "bank-a",
        "--job",
        "pir",
    ]);
    b.start();

    // The querier's keys: present, with several records, absent, repeated in the file, with a
    // lower-case check character. No daemon runs on A.
    let mut ask: Vec<u32> = (0..12).map(|i| i * 3).collect(); // several records for some
    ask.extend([1, 2, 4, 5, 7, 299, 298]); // one record
    ask.extend(1000..1021); // absent now (some inserted later)
    assert_eq!(ask.len(), 40);
    let keys = a.scratch("applicants.csv");
    let mut text = String::from("id,applicant\n");
    for (k, i) in ask.iter().enumerate() {
        let v = if k % 2 == 0 {
            id(*i).to_lowercase()
        } else {
            id(*i)
        };
        text.push_str(&format!("{v},a{k}\n"));
    }
    // Repeated keys: another row of the same applicant key.
    text.push_str(&format!("{},again\n", id(3)));
    text.push_str(&format!("{},again\n", id(1000)));
    std::fs::write(&keys, text).unwrap();
    let hits = a.scratch("hits.csv");

    let (o, q1) = query(&a, &keys, &hits, &[]);
    assert_eq!(o.status.code(), Some(0), "{}\n{}", show(&o), b.logs());
    assert_eq!(lines(&hits), expected(&keys, &rows));
    assert_eq!(q1["keys"], 40, "{q1:#}");
    assert_eq!(q1["found"], 19, "{q1:#}");
    assert_eq!(q1["hint"], "full", "{q1:#}");
    assert_eq!(q1["rows_read"], 42, "{q1:#}");
    assert_eq!(q1["rows_written"], lines(&hits).len() - 1, "{q1:#}");
    assert!(a.dir.join("pir-cache/data-b/blacklist.hint").is_file());
    let job1 = q1["job"].as_str().unwrap().to_string();
    let ja = a.job(&job1);
    assert_eq!(
        (&ja["kind"], &ja["role"], &ja["state"]),
        (
            &Value::from("pir"),
            &Value::from("initiator"),
            &Value::from("succeeded")
        ),
        "{ja:#}"
    );
    assert_eq!(ja["output"], hits.to_str().unwrap(), "{ja:#}");
    let jb = b.wait_final(&job1, std::time::Duration::from_secs(30));
    assert_eq!(jb["role"], "responder", "{jb:#}");
    assert_eq!(jb["state"], "succeeded", "{jb:#}");
    assert_eq!(jb["result"]["keys"], 40, "{jb:#}");
    assert_eq!(jb["output"], Value::Null, "{jb:#}");
    assert_eq!(ja["bytes_sent"], jb["bytes_received"]);

    // The owner's data changes: 10 keys deleted, 5 with a changed record, 8 new keys (three of
    // them asked for above); records no longer than before, so the table is patched in place.
    rows.retain(|(i, _, _)| !(200..210).contains(i));
    for r in rows.iter_mut().filter(|r| (1..6).contains(&r.0)) {
        r.2 = "s0".into();
    }
    for (n, i) in [1000u32, 1003, 1006, 5001, 5002, 5003, 5004, 5005]
        .iter()
        .enumerate()
    {
        rows.push((*i, format!("新{:04}", n), "s1".into()));
    }
    // Keys 1 to 5 (none had segment s0 for all its rows before).
    let changed = 5;
    write_table(&table_csv, &rows);
    let p2 = publish(&b, &[]);
    assert_eq!(p2["fresh"], Value::Null, "{p2:#}");
    assert_eq!(p2["rebuilt"], false, "{p2:#}");
    assert_eq!(p2["inserted"], 8, "{p2:#}");
    assert_eq!(p2["updated"], changed, "{p2:#}");
    assert_eq!(p2["deleted"], 10, "{p2:#}");
    assert_eq!(p2["unchanged"], 300 - 10 - changed, "{p2:#}");
    assert_eq!(p2["table_id"], p1["table_id"], "{p2:#}");
    assert!(p2["epoch"].as_u64() > p1["epoch"].as_u64(), "{p2:#}");

    let (o, q2) = query(&a, &keys, &hits, &[]);
    assert_eq!(o.status.code(), Some(0), "{}\n{}", show(&o), b.logs());
    assert_eq!(lines(&hits), expected(&keys, &rows));
    assert_eq!(q2["found"], 22, "{q2:#}");
    assert!(
        matches!(q2["hint"].as_str(), Some("rows" | "full")),
        "{q2:#}"
    );

    // A restarted daemon loads the table from disk; the querier's cached hint is current.
    b.kill();
    b.start();
    let (o, q3) = query(&a, &keys, &hits, &[]);
    assert_eq!(o.status.code(), Some(0), "{}\n{}", show(&o), b.logs());
    assert_eq!(lines(&hits), expected(&keys, &rows));
    assert_eq!(q3["hint"], "cached", "{q3:#}");

    // Refusals leave no output: no policy, another curve, the daily quota.
    let refused = a.scratch("refused.csv");
    b.ok(&[
        "policy",
        "deny",
        "--dataset",
        "blacklist",
        "--partner",
        "bank-a",
        "--job",
        "pir",
    ]);
    let (o, _) = query(&a, &keys, &refused, &[]);
    // The partner's refusal: its fault, exit 1.
    assert_eq!(o.status.code(), Some(1), "{}", show(&o));
    assert!(
        err_str(&o).contains(
            "rejected the job: no policy allows partner \"bank-a\" to run pir jobs on dataset \
             \"blacklist\""
        ),
        "{}",
        show(&o)
    );
    b.ok(&[
        "policy",
        "allow",
        "--dataset",
        "blacklist",
        "--partner",
        "bank-a",
        "--job",
        "pir",
        "--receivers",
        "partner",
    ]);
    let (o, _) = query(&a, &keys, &refused, &["--curve", "sm2"]);
    assert_eq!(o.status.code(), Some(1), "{}", show(&o));
    assert!(err_str(&o).contains("uses ristretto255"), "{}", show(&o));
    // Keys read with another key type than the table's: refused before any is looked up (the
    // quota is untouched, as the next refusal shows).
    let o = a.cmd(&[
        "query",
        "--partner",
        "data-b",
        "--dataset",
        "blacklist",
        "--keys",
        keys.to_str().unwrap(),
        "--key",
        "id",
        "--output",
        refused.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", show(&o));
    assert!(
        err_str(&o).contains("the partner's table is keyed by id-card"),
        "{}",
        show(&o)
    );
    let many = a.scratch("many.csv");
    let mut text = String::from("id\n");
    for i in 2000..2090 {
        text.push_str(&format!("{}\n", id(i)));
    }
    std::fs::write(&many, text).unwrap();
    let (o, _) = query(&a, &many, &refused, &[]);
    assert_eq!(o.status.code(), Some(1), "{}", show(&o));
    assert!(
        err_str(&o).contains(
            "quota: partner \"bank-a\" may look up 200 keys per UTC day in dataset \
             \"blacklist\"; 120 used today, this query announces 90"
        ),
        "{}",
        show(&o)
    );
    assert!(!refused.exists());
    assert!(
        hidden_beside(&refused).is_empty(),
        "{:?}",
        hidden_beside(&refused)
    );
    let rejected: Vec<Value> = b
        .audit_actions("job.rejected")
        .into_iter()
        .filter(|r| r["job_kind"] == "pir")
        .collect();
    assert_eq!(rejected.len(), 3, "{rejected:#?}");
    let failed: Vec<Value> = b
        .audit_actions("job.failed")
        .into_iter()
        .filter(|r| r["job_kind"] == "pir")
        .collect();
    assert_eq!(failed.len(), 1, "{failed:#?}");

    // Bad input never reaches the partner.
    let bad = a.scratch("bad.csv");
    std::fs::write(&bad, "id\n123\n").unwrap();
    let (o, _) = query(&a, &bad, &refused, &[]);
    assert_eq!(o.status.code(), Some(2), "{}", show(&o));
    assert!(err_str(&o).contains("bad.csv:2"), "{}", show(&o));

    // Both audit chains hold; the owner audited the queries' sizes and its publications.
    a.assert_audit_ok();
    b.assert_audit_ok();
    let done: Vec<Value> = b
        .audit_actions("job.succeeded")
        .into_iter()
        .filter(|r| r["job_kind"] == "pir")
        .collect();
    assert_eq!(done.len(), 3);
    for r in &done {
        assert_eq!(r["params"]["keys"], 40, "{r:#}");
    }
    let published = b.audit_actions("pir.published");
    assert_eq!(published.len(), 2);
    assert_eq!(published[1]["params"]["inserted"], 8);

    // The owner's log, audit and database hold none of the queried keys.
    let asked: HashSet<String> = ask
        .iter()
        .copied()
        .chain(2000..2090)
        .map(|i| norm(&id(i)))
        .collect();
    let mut texts = vec![
        ("logs", b.logs()),
        ("audit", out_str(&b.ok(&["audit", "show", "--json"]))),
        ("jobs", out_str(&b.ok(&["job", "list", "--json"]))),
    ];
    for f in ["node.db", "node.db-wal"] {
        if let Ok(bytes) = std::fs::read(b.dir.join(f)) {
            texts.push((f, String::from_utf8_lossy(&bytes).into_owned()));
        }
    }
    for (what, text) in &texts {
        let upper = text.to_uppercase();
        for k in &asked {
            assert!(
                !upper.contains(k.as_str()),
                "data-b {what} holds a queried key"
            );
        }
    }
}
