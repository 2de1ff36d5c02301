//! Two (or three) real node daemons on loopback: what needs processes, sockets and the CLI
//! itself (certificates, tokens and the API over a socket, kills and restarts, a hostile
//! network, logs, the audit CLI's exit codes). The job lifecycle itself (every mode and curve,
//! refusals by policy, empty datasets, key types, cancel, rerun) is tested in one process in
//! crates/node/tests/it/lifecycle.rs.

use std::collections::HashSet;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use rand_core::Rng;
use serde_json::Value;
use unseen_channel::{Channel, Header, Tamper};

use crate::nodes::*;

const SEC: Duration = Duration::from_secs(1);

/// Asserts one finished job's record as `job show --json` prints it.
fn check_job(j: &Value, id: &str, role: &str, partner: &str, dataset: &str, peer_dataset: &str) {
    assert_eq!(j["id"], id, "{j:#}");
    assert_eq!(j["kind"], "psi", "{j:#}");
    assert_eq!(j["role"], role, "{j:#}");
    assert_eq!(j["partner"], partner, "{j:#}");
    assert_eq!(j["dataset"], dataset, "{j:#}");
    assert_eq!(j["peer_dataset"], peer_dataset, "{j:#}");
    assert_eq!(j["state"], "succeeded", "{j:#}");
    assert!(j["created_ms"].as_u64().unwrap() > 0, "{j:#}");
    assert!(
        j["started_ms"].as_u64().unwrap() <= j["finished_ms"].as_u64().unwrap(),
        "{j:#}"
    );
    assert!(j["bytes_sent"].as_u64().unwrap() > 0, "{j:#}");
    assert!(j["bytes_received"].as_u64().unwrap() > 0, "{j:#}");
    assert!(j["progress_total"].as_u64().unwrap() > 0, "{j:#}");
    assert_eq!(j["progress_done"], j["progress_total"], "{j:#}");
    assert_eq!(j["reason"], Value::Null, "{j:#}");
}

/// The lines of a finished job's output on `n`, checking that the job's `output` names
/// `outputs/ID.csv` and that its digest is a 256-bit hex string.
fn output_lines(n: &Node, j: &Value) -> Vec<String> {
    let id = j["id"].as_str().unwrap();
    let path = n.output(id);
    assert_eq!(
        j["output"].as_str().map(std::path::PathBuf::from),
        Some(path.clone()),
        "{}: {j:#}",
        n.name
    );
    let digest = j["output_digest"].as_str().unwrap_or_default();
    assert_eq!(
        hex::decode(digest).map(|d| d.len()).ok(),
        Some(32),
        "{}: output_digest {digest:?} is not a 256-bit hex digest",
        n.name
    );
    lines(&path)
}

/// Runs one `--wait` job from A, checks both job records and returns them (A's, B's).
fn run_ok(p: &Pair, extra: &[&str]) -> (Value, Value) {
    let mut args = extra.to_vec();
    args.push("--wait");
    let (o, id) = p.submit(&args);
    assert_eq!(o.status.code(), Some(0), "submit {extra:?}: {}", show(&o));
    assert!(is_job_id(&id), "last stdout line {id:?} is not a job id");
    let ja = p.a.job(&id);
    check_job(
        &ja,
        &id,
        "initiator",
        "data-b",
        "customers",
        "their_customers",
    );
    let jb = p.b.wait_final(&id, 30 * SEC);
    check_job(
        &jb,
        &id,
        "responder",
        "bank-a",
        "their_customers",
        "customers",
    );
    // The protocol's frames are counted the same way on both ends.
    assert_eq!(ja["bytes_sent"], jb["bytes_received"], "{ja:#}\n{jb:#}");
    assert_eq!(ja["bytes_received"], jb["bytes_sent"], "{ja:#}\n{jb:#}");
    assert_eq!(ja["params"], jb["params"], "{ja:#}\n{jb:#}");
    // Each side knows both set sizes, and the count unless the mode gives rows to the other
    // side only.
    let (na, nb) = (p.da.ids.len(), p.db.ids.len());
    assert_eq!(ja["result"]["items"], na, "{ja:#}");
    assert_eq!(ja["result"]["peer_items"], nb, "{ja:#}");
    assert_eq!(jb["result"]["items"], nb, "{jb:#}");
    assert_eq!(jb["result"]["peer_items"], na, "{jb:#}");
    if !extra.contains(&"responder-only") {
        assert_eq!(ja["result"]["cardinality"], p.inter.len(), "{ja:#}");
    }
    if !extra.contains(&"initiator-only") {
        assert_eq!(jb["result"]["cardinality"], p.inter.len(), "{jb:#}");
    }
    (ja, jb)
}

/// Both outputs are each side's own rows of the true intersection, sorted, aligned.
fn check_both_outputs(p: &Pair, ja: &Value, jb: &Value) {
    let oa = output_lines(&p.a, ja);
    let ob = output_lines(&p.b, jb);
    assert_eq!(oa, p.da.expected(&p.inter), "A's output");
    assert_eq!(ob, p.db.expected(&p.inter), "B's output");
    for (x, y) in oa[1..].iter().zip(&ob[1..]) {
        assert_eq!(
            norm(x.split(',').next().unwrap()),
            norm(y.split(',').nth(1).unwrap())
        );
    }
}

#[test]
fn refused_certificates_unpinned_client_and_wrong_pin() {
    let mut p = Pair::new(21, 50, 30, 30);
    // C pins A, but A has never heard of C.
    let mut c = Node::init("stranger-c");
    c.add_partner(&p.a);
    let dc = Dataset::bank("mine", &c.scratch("mine.csv"), &p.da.ids[..60]);
    c.add_dataset(&dc);
    c.allow("mine", "bank-a", None);
    let c_fp = c.fingerprint();
    // A pins some other certificate for a partner at B's address: B will present its own.
    let other = unseen_transport::Identity::generate("impostor").unwrap();
    let other_cert = p.a.scratch("impostor.pem");
    std::fs::write(&other_cert, other.cert_pem()).unwrap();
    p.a.ok(&[
        "partner",
        "add",
        "--name",
        "fake-b",
        "--address",
        &p.b.listen,
        "--cert",
        other_cert.to_str().unwrap(),
    ]);
    p.a.allow("customers", "fake-b", None);
    p.start();
    c.start();

    let (o, id) = c.submit("bank-a", "mine", "customers", &["--wait"]);
    assert_eq!(o.status.code(), Some(1), "{}", show(&o));
    assert!(is_job_id(&id), "{}", show(&o));
    let j = c.job(&id);
    assert_eq!(j["state"], "failed", "{j:#}");
    let reason = j["reason"].as_str().unwrap().to_lowercase();
    eprintln!("C's job: {reason}");
    assert!(reason.contains("certificate"), "{reason}");
    assert!(c.outputs().is_empty(), "{:?}", c.outputs());
    let refused = p.a.audit_actions("tls.refused");
    assert!(
        refused
            .iter()
            .any(|r| r["params"].to_string().contains(&c_fp)),
        "A's tls.refused records {refused:#?} do not name {c_fp}"
    );
    // A created no job for it.
    assert!(!p.a.cmd(&["job", "show", &id]).status.success());
    assert!(!p.a.json(&["job", "list"]).to_string().contains(&id));

    // A dials B's address expecting C's certificate.
    let (o, id) =
        p.a.submit("fake-b", "customers", "their_customers", &["--wait"]);
    assert_eq!(o.status.code(), Some(1), "{}", show(&o));
    let j = p.a.job(&id);
    assert_eq!(j["state"], "failed", "{j:#}");
    let reason = j["reason"].as_str().unwrap().to_lowercase();
    eprintln!("A's job to a wrong pin: {reason}");
    assert!(
        reason.contains("certificate") && (reason.contains("pinned") || reason.contains("match")),
        "{reason}"
    );
    assert!(
        p.a.audit(Some(&id))
            .iter()
            .any(|r| r["action"] == "job.failed"),
        "{:#?}",
        p.a.audit(Some(&id))
    );
    assert!(p.a.outputs().is_empty(), "{:?}", p.a.outputs());
    assert!(!p.b.json(&["job", "list"]).to_string().contains(&id));

    // B withdraws A's pin: A is now a stranger to B.
    let a_fp = p.a.fingerprint();
    p.b.ok(&["partner", "remove", "bank-a"]);
    assert!(
        !p.b.json(&["partner", "list"])
            .to_string()
            .contains("bank-a")
    );
    let (o, id) = p.submit(&["--wait"]);
    assert_eq!(o.status.code(), Some(1), "{}", show(&o));
    let j = p.a.job(&id);
    assert_eq!(j["state"], "failed", "{j:#}");
    let reason = j["reason"].as_str().unwrap().to_lowercase();
    assert!(reason.contains("certificate"), "{reason}");
    assert!(
        p.b.audit_actions("tls.refused")
            .iter()
            .any(|r| r["params"].to_string().contains(&a_fp)),
        "{:#?}",
        p.b.audit_actions("tls.refused")
    );
    assert!(p.a.outputs().is_empty() && p.b.outputs().is_empty());

    p.a.assert_healthy("refusals");
    p.b.assert_healthy("refusals");
    for n in [&p.a, &p.b, &c] {
        n.assert_audit_ok();
    }
}

#[test]
fn api_wrong_token_is_401_and_audited() {
    let mut n = Node::init("bank-a");
    n.start();
    let token = n.token();
    assert!(token.len() >= 32, "token too short");
    for secret in ["api.token", "identity/key.pem"] {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(n.dir.join(secret))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o077, 0, "{secret} is readable by others: {mode:o}");
    }
    // Unauthenticated endpoints.
    let r = http(&n.api, "GET", "/openapi.json", None).unwrap();
    assert_eq!(r.status, 200, "{r:?}");
    let spec: Value = serde_json::from_str(&r.body).unwrap();
    assert!(spec["openapi"].is_string(), "{spec:#}");
    assert!(spec["paths"].to_string().contains("/v1/jobs"), "{spec:#}");
    let r = http(&n.api, "GET", "/metrics", Some(&format!("Bearer {token}"))).unwrap();
    assert_eq!(r.status, 200, "{r:?}");

    let before = n.audit_actions("api.unauthorized").len();
    let wrong = [
        "Bearer 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef".to_string(),
        format!("Bearer {}", &token[..token.len() - 1]),
        format!("Bearer {token}0"),
        format!("Basic {token}"),
    ];
    for auth in &wrong {
        for path in ["/metrics", "/v1/jobs"] {
            let r = http(&n.api, "GET", path, Some(auth)).unwrap();
            assert_eq!(r.status, 401, "{auth}: {r:?}");
            assert_eq!(r.body, r#"{"error":"unauthorized"}"#, "{r:?}");
            let presented = auth.split(' ').nth(1).unwrap();
            assert!(
                !r.head.contains(presented) && !r.head.contains(&token),
                "{r:?}"
            );
        }
    }
    // Audited at a bounded rate: the first refusal from this source in the interval at once,
    // the others counted into one record when the interval passes (or at shutdown).
    let recs = n.audit_actions("api.unauthorized");
    assert!(!recs.is_empty() && recs.len() <= before + 1, "{recs:#?}");
    let all = serde_json::to_string(&n.audit(None)).unwrap();
    assert!(!all.contains(&token), "audit holds the token");
    assert!(
        !all.contains(&token[..token.len() - 1]),
        "audit holds a presented token"
    );
    // No header at all is refused the same way.
    let r = http(&n.api, "GET", "/v1/jobs", None).unwrap();
    assert_eq!(r.status, 401, "{r:?}");
    assert_eq!(r.body, r#"{"error":"unauthorized"}"#);
    n.assert_audit_ok();
}

/// Polls A's job until it runs and has made progress (returns when it does).
fn wait_running(n: &Node, id: &str) -> Value {
    n.wait_job(id, 120 * SEC, "running with progress", |j| {
        if matches!(
            j["state"].as_str(),
            Some("succeeded" | "failed" | "rejected" | "cancelled")
        ) {
            panic!("job ended before it could be interrupted: {j:#}");
        }
        j["state"] == "running" && j["progress_done"].as_u64().unwrap_or(0) > 0
    })
}

#[test]
fn fault_partner_cancelled_stalled_killed_mid_job() {
    const READ_S: u64 = 5;
    let mut p = Pair::new(41, 100_000, 100_000, 100_000);
    p.a.set_read_timeout(READ_S);
    p.b.set_read_timeout(READ_S);
    p.start();
    let names_partner = |reason: &str| {
        let r = reason.to_lowercase();
        ["data-b", "partner", "peer", "connection"]
            .iter()
            .any(|w| r.contains(w))
    };

    // `job cancel` through the daemon's API while the job runs (what each node then records
    // is checked in one process: crates/node/tests/it/lifecycle.rs).
    let (o, id) = p.submit(&["--curve", "sm2"]);
    assert!(o.status.success(), "{}", show(&o));
    assert!(is_job_id(&id), "{}", show(&o));
    wait_running(&p.a, &id);
    p.a.ok(&["job", "cancel", &id]);
    let j = p.a.wait_final(&id, 10 * SEC);
    assert_eq!(j["state"], "cancelled", "{j:#}");

    // B stalls (SIGSTOP): A gives up after read_s.
    let (o, id) = p.submit(&["--curve", "sm2"]);
    assert!(o.status.success(), "{}", show(&o));
    wait_running(&p.a, &id);
    p.b.signal("STOP");
    let t0 = Instant::now();
    let j = p.a.wait_final(&id, Duration::from_secs(READ_S + 15));
    let took = t0.elapsed();
    p.b.signal("CONT");
    assert_eq!(j["state"], "failed", "{j:#}");
    assert!(took <= Duration::from_secs(READ_S + 10), "{took:?}");
    let reason = j["reason"].as_str().unwrap();
    eprintln!("A's job after B stalled ({took:?}): {reason}");
    assert!(names_partner(reason), "{reason}");
    assert!(p.a.outputs().is_empty(), "{:?}", p.a.outputs());
    let jb = p.b.wait_final(&id, Duration::from_secs(READ_S + 10));
    assert_eq!(jb["state"], "failed", "{jb:#}");
    assert!(p.b.outputs().is_empty(), "{:?}", p.b.outputs());
    p.a.assert_healthy("partner stalled");

    // B killed (SIGKILL).
    let (o, id) = p.submit(&["--curve", "sm2"]);
    assert!(o.status.success(), "{}", show(&o));
    wait_running(&p.a, &id);
    p.b.kill();
    let t0 = Instant::now();
    let j = p.a.wait_final(&id, Duration::from_secs(READ_S + 15));
    let took = t0.elapsed();
    assert_eq!(j["state"], "failed", "{j:#}");
    assert!(took <= Duration::from_secs(READ_S + 10), "{took:?}");
    let reason = j["reason"].as_str().unwrap();
    eprintln!("A's job after B was killed: {reason}");
    assert!(names_partner(reason), "{reason}");
    assert_eq!(j["output"], Value::Null, "{j:#}");
    assert!(p.a.outputs().is_empty(), "{:?}", p.a.outputs());
    assert!(
        p.a.audit(Some(&id))
            .iter()
            .any(|r| r["action"] == "job.failed"),
        "{:#?}",
        p.a.audit(Some(&id))
    );
    p.a.assert_healthy("partner killed");
    // B, restarted, knows its job did not finish and left no output.
    p.b.start();
    let jb = p.b.wait_final(&id, 10 * SEC);
    assert_eq!(jb["state"], "failed", "{jb:#}");
    assert!(p.b.outputs().is_empty(), "{:?}", p.b.outputs());
    p.a.assert_audit_ok();
    p.b.assert_audit_ok();
}

#[test]
fn fault_initiator_killed_restarted_and_rerun() {
    const READ_S: u64 = 5;
    let mut p = Pair::new(51, 12_000, 8_000, 8_000);
    p.a.set_read_timeout(READ_S);
    p.b.set_read_timeout(READ_S);
    p.start();
    let (o, id) = p.submit(&["--curve", "sm2"]);
    assert!(o.status.success(), "{}", show(&o));
    assert!(is_job_id(&id), "{}", show(&o));
    wait_running(&p.a, &id);
    p.a.kill();
    // B sees its partner vanish.
    let jb = p.b.wait_final(&id, Duration::from_secs(READ_S + 15));
    assert_eq!(jb["state"], "failed", "{jb:#}");
    assert!(p.b.outputs().is_empty(), "{:?}", p.b.outputs());
    // As if A had died after writing its result but before both sides confirmed it.
    std::fs::write(
        p.a.dir.join("outputs").join(format!(".{id}.csv.pending")),
        p.da.expected(&p.inter).join("\n"),
    )
    .unwrap();
    // A, restarted, marks the job it was running as interrupted and drops the pending result.
    p.a.start();
    let j = p.a.wait_final(&id, 10 * SEC);
    eprintln!("A's job after restart: {j:#}\nB's: {jb:#}");
    assert_eq!(j["state"], "failed", "{j:#}");
    assert!(
        j["reason"]
            .as_str()
            .unwrap()
            .to_lowercase()
            .contains("interrupt"),
        "{j:#}"
    );
    assert!(p.a.outputs().is_empty(), "{:?}", p.a.outputs());

    let o = p.a.cmd(&["job", "rerun", &id, "--wait"]);
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    let new = last_line(&o);
    assert!(is_job_id(&new) && new != id, "{}", show(&o));
    let ja = p.a.job(&new);
    check_job(
        &ja,
        &new,
        "initiator",
        "data-b",
        "customers",
        "their_customers",
    );
    assert_eq!(ja["rerun_of"], id.as_str(), "{ja:#}");
    assert_eq!(ja["params"], j["params"], "{ja:#}\n{j:#}");
    let jb = p.b.wait_final(&new, 30 * SEC);
    check_job(
        &jb,
        &new,
        "responder",
        "bank-a",
        "their_customers",
        "customers",
    );
    check_both_outputs(&p, &ja, &jb);
    assert_eq!(p.a.outputs(), vec![format!("{new}.csv")]);
    assert_eq!(p.b.outputs(), vec![format!("{new}.csv")]);
    p.a.assert_audit_ok();
    p.b.assert_audit_ok();
}

/// A node with a few audit records (init, partner, datasets, policies) and no daemon.
fn audited_node() -> (Node, Vec<i64>) {
    let n = Node::init("bank-a");
    let other = Node::init("data-b");
    n.add_partner(&other);
    let ids = unseen_testkit::id_cards(3, 20);
    for name in ["customers", "prospects"] {
        let ds = Dataset::bank(name, &n.scratch(&format!("{name}.csv")), &ids);
        n.add_dataset(&ds);
        n.allow(name, "data-b", None);
    }
    n.assert_audit_ok();
    let seqs: Vec<i64> = n
        .audit(None)
        .iter()
        .map(|r| r["seq"].as_i64().unwrap())
        .collect();
    assert!(seqs.len() >= 6, "{seqs:?}");
    assert!(seqs.windows(2).all(|w| w[1] == w[0] + 1), "{seqs:?}");
    (n, seqs)
}

/// The registries as the CLI lists them, `node info`, `UNSEEN_DIR` in place of `--dir`, and a
/// rule for a job kind that does not exist refused as a usage error (exit 2); no daemon.
#[test]
fn registries_listed_node_info_and_unseen_dir() {
    let n = Node::init("bank-a");
    let other = Node::init("data-b");
    n.add_partner(&other);
    let ds = Dataset::bank(
        "customers",
        &n.scratch("customers.csv"),
        &unseen_testkit::id_cards(3, 20),
    );
    n.add_dataset(&ds);
    n.allow("customers", "data-b", None);

    let partners = n.json(&["partner", "list"]).to_string();
    assert!(
        partners.contains("data-b") && partners.contains(&other.listen),
        "{partners}"
    );
    let datasets = n.json(&["dataset", "list"]).to_string();
    assert!(datasets.contains("customers"), "{datasets}");
    let policies = n.json(&["policy", "list"]);
    assert!(
        policies.to_string().contains("customers") && policies.to_string().contains("data-b"),
        "{policies}"
    );
    let info = n.json(&["node", "info"]);
    assert_eq!(info["name"], "bank-a");
    assert_eq!(info["listen"], n.listen.as_str());
    assert_eq!(info["api"], n.api.as_str());
    assert!(info["fingerprint"].as_str().unwrap().starts_with("sha256:"));

    // UNSEEN_DIR replaces --dir.
    let mut c = crate::util::bin();
    c.env("UNSEEN_DIR", &n.dir).args(["node", "info", "--json"]);
    let o = run_timeout(c, 30 * SEC);
    assert!(o.status.success(), "{}", show(&o));
    let j: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(j, info);

    // A rule can only name a job kind that exists.
    let o = n.cmd(&[
        "policy",
        "allow",
        "--dataset",
        "customers",
        "--partner",
        "data-b",
        "--job",
        "stats",
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", show(&o));
    assert_eq!(n.json(&["policy", "list"]), policies);
    n.assert_audit_ok();
}

/// Opens A's database, finds the audit table (the one with `prev_hash`) and drops its triggers.
fn open_audit(n: &Node) -> (rusqlite::Connection, String) {
    let db = rusqlite::Connection::open(n.dir.join("node.db")).unwrap();
    let tables: Vec<(String, String)> = db
        .prepare("SELECT name, sql FROM sqlite_master WHERE type = 'table'")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    let table = tables
        .iter()
        .find(|(_, sql)| sql.contains("prev_hash"))
        .unwrap_or_else(|| panic!("no audit table in {tables:#?}"))
        .0
        .clone();
    (db, table)
}

fn drop_triggers(db: &rusqlite::Connection, table: &str) {
    let triggers: Vec<String> = db
        .prepare("SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = ?1")
        .unwrap()
        .query_map([table], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert!(!triggers.is_empty(), "no triggers guard {table}");
    for t in triggers {
        db.execute_batch(&format!("DROP TRIGGER \"{t}\"")).unwrap();
    }
}

fn verify_fails(n: &Node) -> String {
    let o = n.cmd(&["audit", "verify"]);
    assert_eq!(o.status.code(), Some(1), "{}", show(&o));
    let msg = format!("{}{}", out_str(&o), err_str(&o));
    eprintln!("audit verify: {msg}");
    msg
}

#[test]
fn audit_tamper_is_detected() {
    // An edited field.
    let (n, seqs) = audited_node();
    let target = seqs[2];
    let (db, table) = open_audit(&n);
    // The triggers forbid it while they exist.
    assert!(
        db.execute(
            &format!("UPDATE \"{table}\" SET actor = 'mallory' WHERE seq = ?1"),
            [target]
        )
        .is_err()
    );
    assert!(
        db.execute(&format!("DELETE FROM \"{table}\" WHERE seq = ?1"), [target])
            .is_err()
    );
    n.assert_audit_ok();
    drop_triggers(&db, &table);
    assert_eq!(
        db.execute(
            &format!("UPDATE \"{table}\" SET actor = 'mallory' WHERE seq = ?1"),
            [target]
        )
        .unwrap(),
        1
    );
    drop(db);
    let msg = verify_fails(&n);
    eprintln!("edited record {target}: {msg}");
    assert!(names_record(&msg, target), "{msg}");

    // A record deleted in the middle.
    let (n, seqs) = audited_node();
    let target = seqs[3];
    let (db, table) = open_audit(&n);
    drop_triggers(&db, &table);
    assert_eq!(
        db.execute(&format!("DELETE FROM \"{table}\" WHERE seq = ?1"), [target])
            .unwrap(),
        1
    );
    drop(db);
    let msg = verify_fails(&n);
    assert!(names_record(&msg, target), "deleted record {target}: {msg}");

    // The last record deleted.
    let (n, seqs) = audited_node();
    let target = *seqs.last().unwrap();
    let (db, table) = open_audit(&n);
    drop_triggers(&db, &table);
    assert_eq!(
        db.execute(&format!("DELETE FROM \"{table}\" WHERE seq = ?1"), [target])
            .unwrap(),
        1
    );
    drop(db);
    let msg = verify_fails(&n);
    assert!(
        names_record(&msg, target),
        "deleted last record {target}: {msg}"
    );
}

/// A node control message header (crates/node/src/control.rs).
fn ctl(step: u8) -> Header {
    Header::new(0x0100, 1, step)
}

/// An ECDH-PSI message header (docs/protocols/ecdh-psi.md; version 2 since the hello carries
/// the key type).
fn psi(step: u8) -> Header {
    Header::new(0x0001, 2, step)
}

/// Writes `bytes` to a fresh TCP connection to `addr`, then waits (bounded) for the node to close
/// it; returns how long that took.
fn poke(addr: &str, bytes: &[u8], close_write: bool) -> Duration {
    let t0 = Instant::now();
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(30 * SEC)).unwrap();
    let _ = s.write_all(bytes);
    if close_write {
        let _ = s.shutdown(std::net::Shutdown::Write);
    }
    let mut sink = Vec::new();
    let r = s.read_to_end(&mut sink);
    if let Err(e) = &r {
        assert!(
            !matches!(
                e.kind(),
                std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
            ),
            "the node kept a garbage connection open for 30 s"
        );
    }
    t0.elapsed()
}

/// One hostile session: connect as `who`, send what `hook` makes of the first frame, then read
/// until the node ends the session. Returns the first error (or message) seen.
fn hostile_session(
    addr: std::net::SocketAddr,
    who: &unseen_transport::Identity,
    a_fp: &unseen_transport::Fingerprint,
    frames: Vec<(Header, Vec<u8>)>,
    hook: Option<unseen_channel::TamperHook>,
) -> String {
    let opts = unseen_transport::Options {
        read_timeout: 30 * SEC,
        ..unseen_transport::Options::default()
    };
    let ch = unseen_transport::connect(addr, who, a_fp, &opts).unwrap();
    let mut ch = match hook {
        Some(h) => ch.with_tamper(h),
        None => ch,
    };
    for (h, payload) in frames {
        if ch.send(h, payload).is_err() {
            break;
        }
    }
    let _ = ch.flush();
    let t0 = Instant::now();
    let r = ch.recv(Header::new(0x0100, 1, 2), 1 << 16);
    assert!(
        t0.elapsed() < 25 * SEC,
        "the node neither answered nor closed"
    );
    let seen = match r {
        Ok(b) => String::from_utf8_lossy(&b).into_owned(),
        Err(e) => e.to_string(),
    };
    eprintln!("hostile session ended with: {seen}");
    seen
}

#[test]
fn hostile_network_leaves_node_up() {
    let mut p = Pair::new(61, 60, 40, 40);
    // Stalled handshakes are cut after handshake_s; a job's hostile partner must be caught by
    // its messages, long before read_s.
    p.a.set_timeout("handshake_s", 3);
    p.a.set_read_timeout(30);
    // An authenticated but hostile partner.
    let mallory = unseen_transport::Identity::generate("mallory").unwrap();
    let mcert = p.a.scratch("mallory.pem");
    std::fs::write(&mcert, mallory.cert_pem()).unwrap();
    p.a.ok(&[
        "partner",
        "add",
        "--name",
        "mallory",
        "--address",
        "127.0.0.1:9",
        "--cert",
        mcert.to_str().unwrap(),
    ]);
    p.start();
    let a_fp: unseen_transport::Fingerprint = p.a.fingerprint().parse().unwrap();
    let a_addr: std::net::SocketAddr = p.a.listen.parse().unwrap();

    // Before any handshake: random bytes, plain HTTP, a huge TLS record header, silence.
    let mut rng = unseen_testkit::rng(61);
    let mut random = vec![0u8; 4096];
    rng.fill_bytes(&mut random);
    let http_req = format!("GET / HTTP/1.1\r\nHost: {}\r\n\r\n", p.a.listen);
    let tls_huge = [0x16, 0x03, 0x01, 0xff, 0xff, 0x01, 0x00, 0xff, 0xfb];
    for (what, bytes, close) in [
        ("random bytes", &random[..], true),
        ("random bytes, socket left open", &random[..], false),
        ("an HTTP request", http_req.as_bytes(), false),
        ("a huge TLS record header", &tls_huge[..], false),
        ("nothing", &[][..], false),
    ] {
        let took = poke(&p.a.listen, bytes, close);
        assert!(took < 10 * SEC, "{what}: connection held {took:?}");
        p.a.assert_healthy(what);
    }

    // Random frames with random headers.
    let frames: Vec<(Header, Vec<u8>)> = (0..8)
        .map(|_| {
            let h = Header::new(
                (rng.next_u32() & 0xffff) as u16,
                rng.next_u32() as u8,
                rng.next_u32() as u8,
            );
            let mut b = vec![0u8; (rng.next_u32() % 3000) as usize];
            rng.fill_bytes(&mut b);
            (h, b)
        })
        .collect();
    let e = hostile_session(a_addr, &mallory, &a_fp, frames, None);
    p.a.assert_healthy(&format!("random frames ({e})"));
    // Random bytes as a proposal.
    let mut junk = vec![0u8; 500];
    rng.fill_bytes(&mut junk);
    let e = hostile_session(a_addr, &mallory, &a_fp, vec![(ctl(1), junk)], None);
    p.a.assert_healthy(&format!("junk proposal ({e})"));
    // A proposal with a path for a job id, and one for a dataset that has no policy for mallory.
    for (job_id, ds) in [
        ("../../../../tmp/x", "customers"),
        ("0123456789abcdef0123456789abcdef", "customers"),
        ("fedcba9876543210fedcba9876543210", "../node"),
    ] {
        let prop = serde_json::json!({
            "job_id": job_id, "dataset": ds, "initiator_dataset": "theirs",
            "spec": {"kind": "psi", "mode": "both", "curve": "ristretto255"}
        });
        let e = hostile_session(
            a_addr,
            &mallory,
            &a_fp,
            vec![(ctl(1), serde_json::to_vec(&prop).unwrap())],
            None,
        );
        p.a.assert_healthy(&format!("proposal {job_id} ({e})"));
        if job_id.starts_with("0123") {
            // A well-formed proposal gets a reasoned refusal (mallory has no policy).
            let d: Value = serde_json::from_str(&e).unwrap_or_else(|_| panic!("{e}"));
            assert_eq!(d["accepted"], false, "{d}");
        }
    }
    // A truncated frame: announces 100 bytes, sends 10, closes.
    let e = hostile_session(
        a_addr,
        &mallory,
        &a_fp,
        vec![(ctl(1), vec![])],
        Some(Box::new(|_, _, _| {
            Tamper::RawThenClose(unseen_testkit::raw_frame(
                Header::new(0x0100, 1, 1),
                100,
                &[b'{'; 10],
            ))
        })),
    );
    p.a.assert_healthy(&format!("truncated frame ({e})"));
    // Oversize length prefixes (the socket stays open: the node must not wait for 4 GiB).
    for len in [u32::MAX, (64 << 10) + 1, 1 << 30] {
        let e = hostile_session(
            a_addr,
            &mallory,
            &a_fp,
            vec![(ctl(1), vec![])],
            Some(Box::new(move |_, _, _| {
                Tamper::Raw(unseen_testkit::raw_frame(
                    Header::new(0x0100, 1, 1),
                    len,
                    &[b'{'; 16],
                ))
            })),
        );
        p.a.assert_healthy(&format!("length prefix {len} ({e})"));
    }
    // Nothing mallory did created or ran a job, or wrote anything.
    let jobs = p.a.json(&["job", "list"]);
    for j in jobs.as_array().unwrap() {
        assert_ne!(j["state"], "succeeded", "{j:#}");
        assert_ne!(j["state"], "running", "{j:#}");
    }
    assert!(p.a.outputs().is_empty(), "{:?}", p.a.outputs());
    assert!(!p.a.dir.parent().unwrap().join("tmp").exists());
    // The well-formed proposal was refused by policy, and audited as such.
    let rej = p.a.audit_actions("job.rejected");
    assert!(
        rej.iter().any(|r| r["job_id"] == "0123456789abcdef0123456789abcdef"
            && r["partner"] == "mallory"),
        "{rej:#?}"
    );

    // Mallory is now allowed a PSI job on `customers`: A accepts, then the protocol frames
    // are hostile. Each job must fail quickly and cleanly.
    p.a.allow("customers", "mallory", None);
    let leader_hello = |a_hello: &[u8], items: u64| {
        let mut h = a_hello.to_vec();
        h[2] = 1; // leader
        h[3..7].copy_from_slice(&4u32.to_le_bytes()); // 4 points per chunk
        h[7..15].copy_from_slice(&items.to_le_bytes());
        h
    };
    type Attack = Box<dyn Fn(&[u8]) -> (Vec<(Header, Vec<u8>)>, Option<Tamper>)>;
    let mut hello_junk = vec![0u8; 15];
    rng.fill_bytes(&mut hello_junk);
    let attacks: Vec<(&str, Attack)> = vec![
        (
            "oversize hello prefix",
            Box::new(|_: &[u8]| {
                (
                    vec![(psi(1), vec![])],
                    Some(Tamper::Raw(unseen_testkit::raw_frame(
                        psi(1),
                        u32::MAX,
                        &[],
                    ))),
                )
            }),
        ),
        (
            "random hello",
            Box::new(move |_: &[u8]| (vec![(psi(1), hello_junk.clone())], None)),
        ),
        (
            "truncated hello",
            Box::new(|_: &[u8]| {
                (
                    vec![(psi(1), vec![])],
                    Some(Tamper::RawThenClose(unseen_testkit::raw_frame(
                        psi(1),
                        15,
                        &[1, 0, 1, 4, 0],
                    ))),
                )
            }),
        ),
        (
            "control frame instead of hello",
            Box::new(|_: &[u8]| {
                (
                    vec![(ctl(3), br#"{"ok":true,"reason":null}"#.to_vec())],
                    None,
                )
            }),
        ),
        (
            "2^40 items announced",
            Box::new(move |h: &[u8]| {
                (
                    vec![
                        (psi(1), leader_hello(h, 1 << 40)),
                        (psi(2), vec![0xff; 4 * 32]),
                    ],
                    None,
                )
            }),
        ),
        (
            "2^32-1 items announced",
            Box::new(move |h: &[u8]| {
                (
                    vec![
                        (psi(1), leader_hello(h, u64::from(u32::MAX))),
                        (psi(2), vec![0xff; 4 * 32]),
                    ],
                    None,
                )
            }),
        ),
        (
            "invalid points",
            Box::new(move |h: &[u8]| {
                (
                    vec![(psi(1), leader_hello(h, 8)), (psi(2), vec![0xff; 4 * 32])],
                    None,
                )
            }),
        ),
        (
            "oversize point chunk",
            Box::new(move |h: &[u8]| {
                (
                    vec![
                        (psi(1), leader_hello(h, 8)),
                        (psi(2), vec![0x00; 4 * 32 + 1]),
                    ],
                    None,
                )
            }),
        ),
        (
            "oversize chunk prefix",
            Box::new(move |h: &[u8]| {
                let hello = leader_hello(h, 8);
                let mut raw = unseen_testkit::raw_frame(psi(1), hello.len() as u32, &hello);
                raw.extend(unseen_testkit::raw_frame(psi(2), 1 << 31, &[]));
                (vec![(psi(1), vec![])], Some(Tamper::Raw(raw)))
            }),
        ),
    ];
    for (k, (what, attack)) in attacks.iter().enumerate() {
        let job_id = format!("{:032x}", 0xbad0 + k);
        let opts = unseen_transport::Options {
            read_timeout: 30 * SEC,
            ..unseen_transport::Options::default()
        };
        let mut ch = unseen_transport::connect(a_addr, &mallory, &a_fp, &opts).unwrap();
        let prop = serde_json::json!({
            "job_id": job_id, "dataset": "customers", "initiator_dataset": "loot",
            "spec": {"kind": "psi", "mode": "both", "curve": "ristretto255"}
        });
        ch.send(ctl(1), serde_json::to_vec(&prop).unwrap()).unwrap();
        let d: Value = serde_json::from_slice(&ch.recv(ctl(2), 1 << 16).unwrap()).unwrap();
        assert_eq!(d["accepted"], true, "{what}: {d}");
        let a_hello = ch.recv(psi(1), 56).unwrap();
        let (frames, tamper) = attack(&a_hello);
        let mut ch = match tamper {
            Some(t) => {
                let mut once = Some(t);
                ch.with_tamper(Box::new(move |_, _, _| once.take().unwrap_or(Tamper::Pass)))
            }
            None => ch,
        };
        let t0 = Instant::now();
        for (h, b) in frames {
            if ch.send(h, b).is_err() {
                break;
            }
        }
        let _ = ch.flush();
        let j = p.a.wait_final(&job_id, 20 * SEC);
        let took = t0.elapsed();
        drop(ch);
        eprintln!(
            "{what}: A's job {} after {took:?}: {}",
            j["state"], j["reason"]
        );
        assert_eq!(j["state"], "failed", "{what}: {j:#}");
        assert_eq!(j["partner"], "mallory", "{what}: {j:#}");
        assert!(
            took < 10 * SEC,
            "{what}: A waited {took:?}, as for a timeout"
        );
        assert!(p.a.outputs().is_empty(), "{what}: {:?}", p.a.outputs());
        p.a.assert_healthy(what);
    }

    // Issue 13 item 12: mallory's proposal says its dataset holds 5 rows, its hello announces 8:
    // A refuses at the hello, naming both numbers (and A's decision tells its own count).
    {
        let job_id = format!("{:032x}", 0xbad0 + 100);
        let opts = unseen_transport::Options {
            read_timeout: 30 * SEC,
            ..unseen_transport::Options::default()
        };
        let mut ch = unseen_transport::connect(a_addr, &mallory, &a_fp, &opts).unwrap();
        let prop = serde_json::json!({
            "job_id": job_id, "dataset": "customers", "initiator_dataset": "loot",
            "spec": {"kind": "psi", "mode": "both", "curve": "ristretto255"}, "rows": 5
        });
        ch.send(ctl(1), serde_json::to_vec(&prop).unwrap()).unwrap();
        let d: Value = serde_json::from_slice(&ch.recv(ctl(2), 1 << 16).unwrap()).unwrap();
        assert_eq!(
            (&d["accepted"], &d["rows"]),
            (&serde_json::json!(true), &serde_json::json!(100)),
            "{d}"
        );
        let a_hello = ch.recv(psi(1), 56).unwrap();
        ch.send(psi(1), leader_hello(&a_hello, 8)).unwrap();
        let _ = ch.flush();
        let j = p.a.wait_final(&job_id, 20 * SEC);
        drop(ch);
        assert_eq!(j["state"], "failed", "{j:#}");
        let reason = j["reason"].as_str().unwrap();
        assert!(
            reason.contains("peer announced 8 items, at most 5 allowed"),
            "{reason}"
        );
    }

    // A real partner still gets a correct job from A, and into A while strangers hold idle
    // connections to A's partner port.
    let (ja, jb) = run_ok(&p, &[]);
    check_both_outputs(&p, &ja, &jb);
    let idle: Vec<TcpStream> = (0..8)
        .map(|_| TcpStream::connect(&p.a.listen).unwrap())
        .collect();
    let (o, id) =
        p.b.submit("bank-a", "their_customers", "customers", &["--wait"]);
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    drop(idle);
    let jb = p.b.job(&id);
    check_job(
        &jb,
        &id,
        "initiator",
        "bank-a",
        "their_customers",
        "customers",
    );
    let ja = p.a.wait_final(&id, 30 * SEC);
    check_job(
        &ja,
        &id,
        "responder",
        "data-b",
        "customers",
        "their_customers",
    );
    assert_eq!(output_lines(&p.a, &ja), p.da.expected(&p.inter));
    assert_eq!(output_lines(&p.b, &jb), p.db.expected(&p.inter));
    p.a.assert_healthy("everything");
    p.a.assert_audit_ok();
    p.b.assert_audit_ok();
}

/// Every 18-character window of `[0-9Xx]` runs in `line`, upper-cased.
fn id_like(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let b = line.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i].is_ascii_digit() || b[i] == b'X' || b[i] == b'x' {
            let start = i;
            while i < b.len() && (b[i].is_ascii_digit() || b[i] == b'X' || b[i] == b'x') {
                i += 1;
            }
            if i - start >= 18 {
                for s in start..=i - 18 {
                    out.push(line[s..s + 18].to_uppercase());
                }
            }
        } else {
            i += 1;
        }
    }
    out
}

#[test]
fn logs_hold_no_token_key_or_customer_id() {
    let mut p = Pair::new(71, 200, 100, 100);
    // A dataset of A's that no rule lets anyone use.
    let private = Dataset::bank("private", &p.a.scratch("private.csv"), &p.da.ids);
    p.a.add_dataset(&private);
    p.start();
    let (ja, jb) = run_ok(&p, &[]);
    check_both_outputs(&p, &ja, &jb);
    run_ok(&p, &["--mode", "cardinality"]);
    // A rejected job, a refused submission and an unauthorized API call also leave log lines.
    // Rejected by the partner: its fault, exit 1; the API shows the job to the token's holder.
    let (o, id) = p.a.submit("data-b", "customers", "missing", &["--wait"]);
    assert_eq!(o.status.code(), Some(1), "{}", show(&o));
    assert!(is_job_id(&id), "{}", show(&o));
    let auth = format!("Bearer {}", p.a.token());
    let r = http(&p.a.api, "GET", &format!("/v1/jobs/{id}"), Some(&auth)).unwrap();
    assert_eq!(r.status, 200, "{r:?}");
    let api_job: Value = serde_json::from_str(&r.body).unwrap();
    assert_eq!(
        (&api_job["id"], &api_job["state"], &api_job["fault"]),
        (
            &Value::from(id.as_str()),
            &Value::from("rejected"),
            &Value::from("partner")
        ),
        "{api_job:#}"
    );
    // Refused by this node's policy: a usage error, exit 2, before any job.
    let (o, _) =
        p.a.submit("data-b", "private", "their_customers", &["--wait"]);
    assert_eq!(o.status.code(), Some(2), "{}", show(&o));
    assert!(err_str(&o).contains("no policy allows"), "{}", show(&o));
    let wrong = "Bearer 5eed5eed5eed5eed5eed5eed5eed5eed5eed5eed5eed5eed5eed5eed5eed5eed";
    assert_eq!(
        http(&p.a.api, "GET", "/v1/jobs", Some(wrong))
            .unwrap()
            .status,
        401
    );
    std::thread::sleep(Duration::from_millis(300));

    let mut secrets: Vec<String> = vec![wrong[7..].to_string()];
    let mut ids: HashSet<String> = HashSet::new();
    for n in [&p.a, &p.b] {
        secrets.push(n.token());
        let key = std::fs::read_to_string(n.dir.join("identity/key.pem")).unwrap();
        let b64: Vec<String> = key
            .lines()
            .filter(|l| !l.starts_with("-----") && l.trim().len() >= 16)
            .map(|l| l.trim().to_string())
            .collect();
        assert!(!b64.is_empty(), "{key}");
        secrets.extend(b64);
    }
    for d in [&p.da, &p.db] {
        ids.extend(d.ids.iter().map(|i| norm(i)));
    }
    for n in [&p.a, &p.b] {
        let stderr = std::fs::read_to_string(&n.stderr_log).unwrap();
        let file = std::fs::read_to_string(n.dir.join("logs/node.log")).unwrap();
        assert!(!stderr.trim().is_empty(), "{}: nothing on stderr", n.name);
        assert!(!file.trim().is_empty(), "{}: logs/node.log empty", n.name);
        for (what, text) in [("stderr", &stderr), ("logs/node.log", &file)] {
            for line in text.lines() {
                for s in &secrets {
                    assert!(
                        !line.contains(s.as_str()),
                        "{} {what} leaks a secret: {line}",
                        n.name
                    );
                }
                for w in id_like(line) {
                    assert!(!ids.contains(&w), "{} {what} leaks ID {w}: {line}", n.name);
                }
            }
        }
    }
}

/// Each node records the partner's audit head at the end of a job; `audit verify --anchor`
/// with it catches a truncated log that the chain and the signatures alone accept.
#[test]
fn partner_anchor_catches_a_truncated_log() {
    let mut p = Pair::new(4_444, 20, 30, 25);
    p.a.start();
    p.b.start();
    let (ja, _) = run_ok(&p, &[]);
    let id = ja["id"].as_str().unwrap().to_owned();
    // B's record of the job holds A's head as A sent it.
    let anchor =
        p.b.audit(Some(&id))
            .into_iter()
            .find(|r| r["action"] == "job.succeeded")
            .map(|r| r["params"]["partner_audit_head"].clone())
            .unwrap();
    let seq = anchor["seq"].as_i64().unwrap();
    let hash = anchor["hash"].as_str().unwrap().to_owned();
    assert!(seq >= 1 && hash.len() == 64, "{anchor}");
    // And A's record of the job holds B's head: B's record at that seq has exactly that hash.
    let b_head = &ja["result"]["partner_audit_head"];
    let b_record =
        p.b.audit(None)
            .into_iter()
            .find(|r| r["seq"] == b_head["seq"])
            .unwrap();
    assert_eq!(b_record["hash"], b_head["hash"], "{b_head}");
    let arg = format!("{seq}:{hash}");
    p.a.ok(&["audit", "verify", "--anchor", &arg]);
    p.a.kill();

    // A's operator truncates A's log to before that record and resets the head.
    let (db, table) = open_audit(&p.a);
    drop_triggers(&db, &table);
    drop_triggers(&db, "audit_head");
    let prev: String = db
        .query_row(
            &format!("SELECT hash FROM \"{table}\" WHERE seq = ?1"),
            [seq - 1],
            |r| r.get(0),
        )
        .unwrap();
    db.execute(&format!("DELETE FROM \"{table}\" WHERE seq >= ?1"), [seq])
        .unwrap();
    db.execute(
        "UPDATE audit_head SET seq = ?1, hash = ?2",
        rusqlite::params![seq - 1, prev],
    )
    .unwrap();
    drop(db);
    // Consistent and signed: the log alone cannot tell.
    p.a.ok(&["audit", "verify"]);
    // The partner's anchor can.
    let o = p.a.cmd(&["audit", "verify", "--anchor", &arg]);
    assert_eq!(o.status.code(), Some(1), "{}", show(&o));
    assert!(names_record(&out_str(&o), seq), "{}", show(&o));
    let o = p.a.cmd(&["audit", "verify", "--anchor", "nonsense"]);
    assert_eq!(o.status.code(), Some(2), "{}", show(&o));
}

/// `audit verify` says BROKEN (exit 1) only for a chain that fails its checks: a malformed
/// anchor is a usage error (exit 2) and a database that cannot be read a storage error (exit 3).
#[test]
fn audit_verify_exit_codes_separate_usage_storage_and_tampering() {
    let (n, seqs) = audited_node();
    let head = *seqs.last().unwrap();
    for bad in [
        "1050:deadbeef",
        "0:0000000000000000000000000000000000000000000000000000000000000000",
        "-1:0000000000000000000000000000000000000000000000000000000000000000",
        "1:zz00000000000000000000000000000000000000000000000000000000000000",
        "12",
    ] {
        let o = n.cmd(&["audit", "verify", &format!("--anchor={bad}")]);
        assert_eq!(o.status.code(), Some(2), "{bad}: {}", show(&o));
        assert!(!out_str(&o).contains("BROKEN"), "{bad}: {}", show(&o));
        assert!(err_str(&o).contains("SEQ:HASH"), "{bad}: {}", show(&o));
    }
    // A well-formed anchor past the head: the newest records were deleted, which is tampering.
    let past = format!("{}:{}", head + 5, "ab".repeat(32));
    let o = n.cmd(&["audit", "verify", "--anchor", &past]);
    assert_eq!(o.status.code(), Some(1), "{}", show(&o));
    assert!(out_str(&o).contains("BROKEN"), "{}", show(&o));
    n.ok(&["audit", "verify"]);
    // The database replaced by bytes SQLite cannot read: a storage error, not a verdict.
    std::fs::write(n.dir.join("node.db"), vec![0x5a_u8; 8192]).unwrap();
    let o = n.cmd(&["audit", "verify"]);
    assert_eq!(o.status.code(), Some(3), "{}", show(&o));
    assert!(!out_str(&o).contains("BROKEN"), "{}", show(&o));
}

#[test]
fn token_create_list_revoke_scopes_the_running_api() {
    let mut n = Node::init("bank-a");
    let o = n.ok(&["token", "create", "--role", "scorer", "--name", "app1"]);
    let secret = String::from_utf8(o.stdout).unwrap().trim().to_owned();
    assert_eq!(secret.len(), 64, "{secret}");
    assert!(secret.bytes().all(|b| b.is_ascii_hexdigit()));
    let listed = n.json(&["token", "list"]);
    assert_eq!(listed[0]["name"], "app1", "{listed:#}");
    assert_eq!(listed[0]["role"], "scorer", "{listed:#}");
    assert!(!listed.to_string().contains(&secret));
    // Stored hashed: the secret is nowhere in the node directory.
    let db = std::fs::read(n.dir.join("node.db")).unwrap();
    assert!(!db.windows(secret.len()).any(|w| w == secret.as_bytes()));
    // A bad role or a taken name is a usage error.
    let o = n.cmd(&["token", "create", "--role", "root", "--name", "x"]);
    assert_eq!(o.status.code(), Some(2));
    let o = n.cmd(&["token", "create", "--role", "admin", "--name", "app1"]);
    assert_eq!(
        o.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );

    n.start();
    let auth = format!("Bearer {secret}");
    let r = http(&n.api, "GET", "/v1/node", Some(&auth)).unwrap();
    assert_eq!(r.status, 200, "{r:?}");
    let r = http(&n.api, "GET", "/v1/jobs", Some(&auth)).unwrap();
    assert_eq!(r.status, 403, "{r:?}");
    assert!(r.body.contains("operator"), "{r:?}");
    // Revoked while the daemon runs: refused from the next request on.
    n.ok(&["token", "revoke", "app1"]);
    let r = http(&n.api, "GET", "/v1/node", Some(&auth)).unwrap();
    assert_eq!(r.status, 401, "{r:?}");
    let o = n.cmd(&["token", "revoke", "app1"]);
    assert_eq!(o.status.code(), Some(2));
    n.assert_audit_ok();
}
