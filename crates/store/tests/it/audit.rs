use serde_json::json;
use sm3::{Digest, Sm3};
use unseen_store::{AUDIT_DOMAIN, AuditEvent, AuditRecord, AuditReport, Store, StoreError};

use crate::Db;

const ZERO_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// GB/T 32905-2016, Appendix A, example 1: SM3("abc").
#[test]
fn sm3_known_answer_gbt_32905_abc() {
    let digest = Sm3::digest(b"abc");
    assert_eq!(
        hex::encode(digest),
        "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0"
    );
}

fn event(i: usize) -> AuditEvent {
    let mut e = AuditEvent::new(format!("actor-{i}"), "job.proposed", "ok");
    e.job_id = Some(format!("job-{}", i % 3));
    e.params = json!({"i": i});
    e
}

fn full_event() -> AuditEvent {
    AuditEvent {
        actor: "cli:alice".into(),
        action: "job.finished".into(),
        job_id: Some("0123abcd".into()),
        job_kind: Some("psi".into()),
        datasets: vec!["customers".into(), "bank-b:clients".into()],
        partner: Some("bank-b".into()),
        params: json!({"receivers": "both", "columns": ["name", "城市"], "a": null}),
        outcome: "succeeded".into(),
        bytes_sent: 123_456,
        bytes_received: 7,
        output_digest: Some("9f86d081".into()),
    }
}

/// The record hash computed from docs/audit.md, independently of the implementation.
fn documented_hash(prev: &[u8; 32], r: &AuditRecord, params_text: &str) -> String {
    fn s(out: &mut Vec<u8>, v: &str) {
        out.extend_from_slice(&(v.len() as u64).to_be_bytes());
        out.extend_from_slice(v.as_bytes());
    }
    fn o(out: &mut Vec<u8>, v: &Option<String>) {
        match v {
            None => out.push(0),
            Some(v) => {
                out.push(1);
                s(out, v);
            }
        }
    }
    let mut m = b"unseen-audit-v1".to_vec();
    m.extend_from_slice(prev);
    m.extend_from_slice(&r.seq.to_be_bytes());
    m.extend_from_slice(&r.time_ms.to_be_bytes());
    s(&mut m, &r.actor);
    s(&mut m, &r.action);
    o(&mut m, &r.job_id);
    o(&mut m, &r.job_kind);
    m.extend_from_slice(&(r.datasets.len() as u64).to_be_bytes());
    for d in &r.datasets {
        s(&mut m, d);
    }
    o(&mut m, &r.partner);
    s(&mut m, params_text);
    s(&mut m, &r.outcome);
    m.extend_from_slice(&r.bytes_sent.to_be_bytes());
    m.extend_from_slice(&r.bytes_received.to_be_bytes());
    o(&mut m, &r.output_digest);
    hex::encode(Sm3::digest(&m))
}

fn decode(h: &str) -> [u8; 32] {
    hex::decode(h).unwrap().try_into().unwrap()
}

fn append_n(s: &mut Store, n: usize) -> Vec<AuditRecord> {
    (1..=n)
        .map(|i| s.audit_append(&event(i)).unwrap())
        .collect()
}

/// Runs SQL on the file as an attacker with write access would: triggers dropped first.
fn tamper(db: &Db, sql: &str) {
    let raw = db.raw();
    raw.execute_batch(
        "DROP TRIGGER IF EXISTS audit_no_update;
         DROP TRIGGER IF EXISTS audit_no_delete;
         DROP TRIGGER IF EXISTS audit_append_only_at_head;
         DROP TRIGGER IF EXISTS audit_head_follows;",
    )
    .unwrap();
    raw.execute_batch(sql).unwrap();
}

fn broken(s: &Store) -> (u64, String) {
    match s.audit_verify().unwrap() {
        AuditReport::Broken { seq, reason } => (seq, reason),
        intact => panic!("expected a broken chain, got {intact:?}"),
    }
}

#[test]
fn the_hash_is_exactly_the_documented_encoding() {
    let db = Db::temp();
    let mut s = db.open();
    let r1 = s.audit_append(&full_event()).unwrap();
    let r2 = s
        .audit_append(&AuditEvent::new("node", "node.start", "ok"))
        .unwrap();

    assert_eq!(AUDIT_DOMAIN, b"unseen-audit-v1");
    assert_eq!(r1.seq, 1);
    assert_eq!(r1.prev_hash, ZERO_HASH);
    // Keys sorted, no whitespace: the canonical params text.
    let params1 = r#"{"a":null,"columns":["name","城市"],"receivers":"both"}"#;
    assert_eq!(r1.hash, documented_hash(&[0; 32], &r1, params1));
    assert_eq!(r2.seq, 2);
    assert_eq!(r2.prev_hash, r1.hash);
    assert_eq!(r2.hash, documented_hash(&decode(&r1.hash), &r2, "null"));

    assert_eq!(s.audit_records(None).unwrap(), vec![r1.clone(), r2.clone()]);
    assert_eq!(
        s.audit_verify().unwrap(),
        AuditReport::Intact {
            records: 2,
            head: r2.hash.clone()
        }
    );
    let v = serde_json::to_value(&r1).unwrap();
    assert_eq!(v["prev_hash"], ZERO_HASH);
    assert_eq!(v["datasets"], json!(["customers", "bank-b:clients"]));
}

#[test]
fn an_empty_log_is_intact_with_a_zero_head() {
    let db = Db::temp();
    let s = db.open();
    assert_eq!(
        s.audit_verify().unwrap(),
        AuditReport::Intact {
            records: 0,
            head: ZERO_HASH.into()
        }
    );
    assert!(s.audit_records(None).unwrap().is_empty());
}

#[test]
fn records_can_be_listed_for_one_job() {
    let db = Db::temp();
    let mut s = db.open();
    append_n(&mut s, 7);
    let seqs: Vec<_> = s
        .audit_records(Some("job-1"))
        .unwrap()
        .into_iter()
        .map(|r| r.seq)
        .collect();
    assert_eq!(seqs, [1, 4, 7]);
    assert!(s.audit_records(Some("job-9")).unwrap().is_empty());
}

#[test]
fn invalid_events_are_refused() {
    let db = Db::temp();
    let mut s = db.open();
    let err = s.audit_append(&AuditEvent::new("", "x", "ok")).unwrap_err();
    assert!(
        matches!(
            err,
            StoreError::Invalid {
                field: "audit actor",
                ..
            }
        ),
        "{err:?}"
    );
    let mut e = AuditEvent::new("a", "x", "ok");
    e.partner = Some("b\r\nforged".into());
    let err = s.audit_append(&e).unwrap_err();
    assert!(
        matches!(
            err,
            StoreError::Invalid {
                field: "audit partner",
                ..
            }
        ),
        "{err:?}"
    );
    let mut e = AuditEvent::new("a", "x", "ok");
    e.bytes_sent = u64::MAX;
    assert!(matches!(
        s.audit_append(&e),
        Err(StoreError::Invalid { .. })
    ));
    assert!(s.audit_records(None).unwrap().is_empty());
}

#[test]
fn two_handles_on_one_file_interleave_into_one_chain() {
    let db = Db::temp();
    let mut a = db.open();
    let mut b = db.open();
    for i in 0..10 {
        let ra = a.audit_append(&event(2 * i)).unwrap();
        let rb = b.audit_append(&event(2 * i + 1)).unwrap();
        assert_eq!((ra.seq, rb.seq), (2 * i as u64 + 1, 2 * i as u64 + 2));
        assert_eq!(rb.prev_hash, ra.hash);
    }
    let last = b.audit_records(None).unwrap().pop().unwrap();
    for s in [&a, &b] {
        assert_eq!(
            s.audit_verify().unwrap(),
            AuditReport::Intact {
                records: 20,
                head: last.hash.clone()
            }
        );
    }
}

#[test]
fn concurrent_writers_in_threads_form_one_chain() {
    let db = Db::temp();
    drop(db.open());
    let handles: Vec<_> = (0..3)
        .map(|t| {
            let path = db.path.clone();
            std::thread::spawn(move || {
                let mut s = Store::open(&path).unwrap();
                for i in 0..20 {
                    s.audit_append(&event(100 * t + i)).unwrap();
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    let s = db.open();
    let seqs: Vec<_> = s
        .audit_records(None)
        .unwrap()
        .iter()
        .map(|r| r.seq)
        .collect();
    assert_eq!(seqs, (1..=60).collect::<Vec<_>>());
    assert!(matches!(
        s.audit_verify().unwrap(),
        AuditReport::Intact { records: 60, .. }
    ));
}

#[test]
fn triggers_refuse_updates_and_deletes() {
    let db = Db::temp();
    let mut s = db.open();
    append_n(&mut s, 3);
    let raw = db.raw();
    for sql in [
        "UPDATE audit SET actor = 'mallory' WHERE seq = 2",
        "DELETE FROM audit WHERE seq = 3",
        "INSERT INTO audit SELECT 9, time_ms, actor, action, job_id, job_kind, datasets, \
         partner, params, outcome, bytes_sent, bytes_received, output_digest, prev_hash, hash \
         FROM audit WHERE seq = 3",
        "UPDATE audit_head SET seq = 2",
        "DELETE FROM audit_head",
    ] {
        let err = raw.execute(sql, []).unwrap_err();
        assert!(err.to_string().contains("audit"), "{sql}: {err}");
    }
    assert!(matches!(
        s.audit_verify().unwrap(),
        AuditReport::Intact { records: 3, .. }
    ));
}

#[test]
fn an_edited_field_breaks_the_chain_at_that_record() {
    for (column, value) in [
        ("actor", "'mallory'"),
        ("outcome", "'denied'"),
        ("time_ms", "time_ms + 1"),
        ("job_id", "NULL"),
        ("datasets", "'[\"other\"]'"),
        ("bytes_sent", "bytes_sent + 1"),
        // The same JSON value with different spacing is still an edit of the stored text.
        ("params", "'{\"i\": 4}'"),
    ] {
        let db = Db::temp();
        let mut s = db.open();
        append_n(&mut s, 6);
        tamper(
            &db,
            &format!("UPDATE audit SET {column} = {value} WHERE seq = 4"),
        );
        assert_eq!(
            broken(&s),
            (
                4,
                "record 4 was altered: its hash does not match its contents".into()
            ),
            "{column}"
        );
    }
}

#[test]
fn an_edited_record_with_its_hash_recomputed_breaks_the_link_after_it() {
    let db = Db::temp();
    let mut s = db.open();
    let records = append_n(&mut s, 6);
    let mut forged = records[3].clone();
    forged.actor = "mallory".into();
    let hash = documented_hash(&decode(&records[2].hash), &forged, r#"{"i":4}"#);
    tamper(
        &db,
        &format!("UPDATE audit SET actor = 'mallory', hash = '{hash}' WHERE seq = 4"),
    );
    assert_eq!(
        broken(&s),
        (
            5,
            "record 5 does not follow record 4: its prev_hash is not record 4's hash".into()
        )
    );
}

#[test]
fn an_edited_prev_hash_breaks_the_chain_at_that_record() {
    let db = Db::temp();
    let mut s = db.open();
    let records = append_n(&mut s, 6);
    let (seq, reason) = {
        tamper(
            &db,
            &format!(
                "UPDATE audit SET prev_hash = '{}' WHERE seq = 3",
                records[0].hash
            ),
        );
        broken(&s)
    };
    assert_eq!(seq, 3);
    assert_eq!(
        reason,
        "record 3 does not follow record 2: its prev_hash is not record 2's hash"
    );

    let db = Db::temp();
    let mut s = db.open();
    append_n(&mut s, 2);
    tamper(&db, "UPDATE audit SET prev_hash = hash WHERE seq = 1");
    assert_eq!(
        broken(&s),
        (
            1,
            "record 1 does not start the chain: its prev_hash is not 32 zero bytes".into()
        )
    );
}

/// A deleted record is reported as the first bad record: its own seq, k.
#[test]
fn a_deleted_record_is_reported_missing_by_its_own_seq() {
    let db = Db::temp();
    let mut s = db.open();
    append_n(&mut s, 6);
    tamper(&db, "DELETE FROM audit WHERE seq = 4");
    assert_eq!(
        broken(&s),
        (4, "record 4 is missing: record 5 follows record 3".into())
    );

    let db = Db::temp();
    let mut s = db.open();
    append_n(&mut s, 3);
    tamper(&db, "DELETE FROM audit WHERE seq = 1");
    assert_eq!(
        broken(&s),
        (1, "record 1 is missing: the log starts at record 2".into())
    );
}

#[test]
fn deleting_the_newest_records_is_caught_by_the_head() {
    let db = Db::temp();
    let mut s = db.open();
    append_n(&mut s, 10);
    tamper(&db, "DELETE FROM audit WHERE seq = 10");
    assert_eq!(
        broken(&s),
        (
            10,
            "the chain ends at record 9 but the head says 10: records were deleted from the end"
                .into()
        )
    );
    tamper(&db, "DELETE FROM audit WHERE seq >= 8");
    assert_eq!(broken(&s).0, 8);

    // Appending afterwards does not hide the hole: the next record follows the head.
    let db = Db::temp();
    let mut s = db.open();
    append_n(&mut s, 5);
    tamper(&db, "DELETE FROM audit WHERE seq = 5");
    let raw = db.raw();
    raw.execute_batch(
        "CREATE TRIGGER audit_append_only_at_head BEFORE INSERT ON audit
         WHEN NEW.seq IS NOT (SELECT seq + 1 FROM audit_head WHERE id = 1)
         BEGIN SELECT RAISE(ABORT, 'x'); END;",
    )
    .unwrap();
    assert_eq!(s.audit_append(&event(6)).unwrap().seq, 6);
    assert_eq!(
        broken(&s),
        (5, "record 5 is missing: record 6 follows record 4".into())
    );
}

#[test]
fn a_replaced_newest_record_is_caught_by_the_head() {
    let db = Db::temp();
    let mut s = db.open();
    let records = append_n(&mut s, 4);
    let mut forged = records[3].clone();
    forged.outcome = "denied".into();
    let hash = documented_hash(&decode(&records[2].hash), &forged, r#"{"i":4}"#);
    tamper(
        &db,
        &format!("UPDATE audit SET outcome = 'denied', hash = '{hash}' WHERE seq = 4"),
    );
    assert_eq!(
        broken(&s),
        (
            4,
            "record 4 was replaced: its hash is not the one the head holds".into()
        )
    );
}

#[test]
fn a_record_past_the_head_is_reported() {
    let db = Db::temp();
    let mut s = db.open();
    let records = append_n(&mut s, 3);
    tamper(
        &db,
        &format!(
            "UPDATE audit_head SET seq = 2, hash = '{}'",
            records[1].hash
        ),
    );
    assert_eq!(
        broken(&s),
        (
            3,
            "the chain continues to record 3 but the head says 2: records were added without \
             moving the head"
                .into()
        )
    );
}

/// The documented limit: truncating the log and rewriting the head to match is not detected
/// without an external anchor of the head.
#[test]
fn truncation_with_a_rewritten_head_needs_an_external_anchor() {
    let db = Db::temp();
    let mut s = db.open();
    let records = append_n(&mut s, 5);
    let anchored = records[4].hash.clone();
    tamper(
        &db,
        &format!(
            "DELETE FROM audit WHERE seq = 5;
             UPDATE audit_head SET seq = 4, hash = '{}';",
            records[3].hash
        ),
    );
    let AuditReport::Intact { records: n, head } = s.audit_verify().unwrap() else {
        panic!("a consistent truncation verifies");
    };
    assert_eq!(n, 4);
    assert_ne!(
        head, anchored,
        "only a comparison with the anchored head catches it"
    );
}

#[test]
fn an_unreadable_record_is_broken_at_its_seq_and_corrupt_when_listed() {
    let db = Db::temp();
    let mut s = db.open();
    append_n(&mut s, 4);
    tamper(&db, "UPDATE audit SET params = '{not json' WHERE seq = 2");
    let (seq, reason) = broken(&s);
    assert_eq!(seq, 2);
    assert!(reason.starts_with("record 2 cannot be read: "), "{reason}");
    assert!(matches!(s.audit_records(None), Err(StoreError::Corrupt(_))));

    let db = Db::temp();
    let mut s = db.open();
    append_n(&mut s, 4);
    tamper(&db, "UPDATE audit SET hash = 'xyz' WHERE seq = 3");
    let (seq, reason) = broken(&s);
    assert_eq!(seq, 3);
    assert!(reason.starts_with("record 3 cannot be read: "), "{reason}");
}

#[test]
fn a_damaged_head_is_reported_as_seq_0() {
    let db = Db::temp();
    let mut s = db.open();
    append_n(&mut s, 2);
    tamper(&db, "UPDATE audit_head SET hash = 'not hex'");
    assert_eq!(broken(&s), (0, "the audit head cannot be read".into()));
    tamper(
        &db,
        "DROP TRIGGER audit_head_no_delete; DELETE FROM audit_head;",
    );
    assert_eq!(broken(&s), (0, "the audit head is missing".into()));
    assert!(matches!(
        s.audit_append(&event(3)),
        Err(StoreError::Corrupt(_))
    ));
}

/// A stand-in for the node's SM2 key in these tests: SM3(secret || hash).
struct KeyedSigner(&'static [u8]);

impl unseen_store::AuditSigner for KeyedSigner {
    fn sign(&self, hash: &[u8; 32]) -> Vec<u8> {
        let mut m = self.0.to_vec();
        m.extend_from_slice(hash);
        Sm3::digest(&m).to_vec()
    }
}

fn keyed_verify(hash: &[u8; 32], sig: &[u8]) -> bool {
    use unseen_store::AuditSigner;
    KeyedSigner(b"node key").sign(hash) == sig
}

#[test]
fn signed_records_verify_and_a_fully_rehashed_forgery_does_not() {
    let db = Db::temp();
    let mut s = db.open();
    s.set_audit_signer(Box::new(KeyedSigner(b"node key")));
    let records = append_n(&mut s, 6);
    for r in &records {
        let sig = r.signature.as_deref().unwrap();
        assert!(keyed_verify(&decode(&r.hash), &hex::decode(sig).unwrap()));
    }
    assert_eq!(
        s.audit_records(None).unwrap(),
        records,
        "listing returns the signatures"
    );
    assert!(matches!(
        s.audit_verify_signed(&keyed_verify).unwrap(),
        AuditReport::Intact { records: 6, .. }
    ));

    // Mallory edits record 4 and re-hashes 4, 5, 6 and the head: the chain alone holds...
    let mut prev = decode(&records[2].hash);
    let mut sql = String::new();
    for (i, r) in records.iter().enumerate().skip(3) {
        let mut forged = r.clone();
        if i == 3 {
            forged.actor = "mallory".into();
        }
        let params = format!(r#"{{"i":{}}}"#, i + 1);
        let hash = documented_hash(&prev, &forged, &params);
        sql.push_str(&format!(
            "UPDATE audit SET actor = '{}', prev_hash = '{}', hash = '{hash}' WHERE seq = {};",
            forged.actor,
            hex::encode(prev),
            r.seq
        ));
        prev = decode(&hash);
    }
    sql.push_str(&format!(
        "UPDATE audit_head SET hash = '{}' WHERE id = 1;",
        hex::encode(prev)
    ));
    tamper(&db, &sql);
    assert!(matches!(
        s.audit_verify().unwrap(),
        AuditReport::Intact { records: 6, .. }
    ));
    // ...but without the key its signatures do not follow.
    assert_eq!(
        s.audit_verify_signed(&keyed_verify).unwrap(),
        AuditReport::Broken {
            seq: 4,
            reason: "record 4's signature does not verify: the record was altered or re-hashed \
                     without the node's audit key"
                .into()
        }
    );
}

#[test]
fn an_unsigned_record_and_a_broken_chain_are_reported_in_order() {
    let db = Db::temp();
    let mut signed = db.open();
    signed.set_audit_signer(Box::new(KeyedSigner(b"node key")));
    append_n(&mut signed, 2);
    // A writer without the key (e.g. an old tool) appends record 3.
    let mut unsigned = db.open();
    unsigned.audit_append(&event(3)).unwrap();
    append_n(&mut signed, 2);
    assert_eq!(
        signed.audit_verify_signed(&keyed_verify).unwrap(),
        AuditReport::Broken {
            seq: 3,
            reason: "record 3 is not signed by the node's audit key".into()
        }
    );
    // A chain break before the first signature problem is reported first.
    tamper(&db, "UPDATE audit SET outcome = 'edited' WHERE seq = 2;");
    let AuditReport::Broken { seq, reason } = signed.audit_verify_signed(&keyed_verify).unwrap()
    else {
        panic!("expected a broken chain");
    };
    assert_eq!(seq, 2, "{reason}");
}

#[test]
fn the_head_and_anchors() {
    let db = Db::temp();
    let mut s = db.open();
    assert_eq!(s.audit_head().unwrap(), (0, ZERO_HASH.to_owned()));
    let records = append_n(&mut s, 3);
    assert_eq!(s.audit_head().unwrap(), (3, records[2].hash.clone()));
    assert_eq!(s.audit_check_anchor(2, &records[1].hash).unwrap(), None);
    let wrong = s.audit_check_anchor(2, &records[0].hash).unwrap().unwrap();
    assert!(wrong.starts_with("record 2 has hash"), "{wrong}");
    let missing = s.audit_check_anchor(9, &records[0].hash).unwrap().unwrap();
    assert!(missing.starts_with("record 9 is missing"), "{missing}");
}
