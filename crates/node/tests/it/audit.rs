//! The node's SM2-signed audit log: every record signed from `init` on; a missing or swapped
//! signature is reported at its record.

use unseen_node::audit_key;
use unseen_store::AuditReport;

use crate::util::node;

#[test]
fn every_record_is_signed_and_a_swapped_signature_is_caught() {
    let f = node("bank-a");
    let public = audit_key::public_key_hex(&f.dir).unwrap().unwrap();
    assert_eq!(public.len(), 130, "SEC1 uncompressed SM2 point in hex");
    let mode = std::os::unix::fs::PermissionsExt::mode(
        &std::fs::metadata(f.dir.audit_key()).unwrap().permissions(),
    );
    assert_eq!(mode & 0o777, 0o600);
    {
        let mut store = f.node.store();
        for i in 0..4 {
            let mut e = unseen_store::AuditEvent::new("test", "test.event", "ok");
            e.params = serde_json::json!({ "i": i });
            store.audit_append(&e).unwrap();
        }
    }
    let store = audit_key::open_store(&f.dir).unwrap();
    let records = store.audit_records(None).unwrap();
    assert_eq!(records.len(), 5, "node.init and four events");
    for r in &records {
        let sig = hex::decode(r.signature.as_ref().unwrap()).unwrap();
        let hash = hex::decode(&r.hash).unwrap();
        assert!(unseen_crypto::sm2_verify(
            &hex::decode(&public).unwrap(),
            unseen_crypto::SM2_DEFAULT_DISTID,
            &hash,
            &sig
        ));
    }
    assert!(matches!(
        audit_key::verify(&f.dir, &store).unwrap(),
        AuditReport::Intact { records: 5, .. }
    ));

    // Record 3 gets record 2's (valid, but not its) signature.
    let raw = rusqlite::Connection::open(f.dir.db()).unwrap();
    raw.execute_batch(
        "DROP TRIGGER audit_sig_no_update;
         UPDATE audit_sig SET signature = (SELECT signature FROM audit_sig WHERE seq = 2)
             WHERE seq = 3;",
    )
    .unwrap();
    let AuditReport::Broken { seq, reason } = audit_key::verify(&f.dir, &store).unwrap() else {
        panic!("a swapped signature verifies");
    };
    assert_eq!(seq, 3, "{reason}");
    assert!(reason.contains("signature"), "{reason}");
    // The plain chain check alone does not see it: the signature is what protects.
    assert!(matches!(
        store.audit_verify().unwrap(),
        AuditReport::Intact { .. }
    ));

    // A signature removed.
    raw.execute_batch("DROP TRIGGER audit_sig_no_delete; DELETE FROM audit_sig WHERE seq = 2;")
        .unwrap();
    let AuditReport::Broken { seq, reason } = audit_key::verify(&f.dir, &store).unwrap() else {
        panic!("a missing signature verifies");
    };
    assert_eq!(
        (seq, reason.as_str()),
        (2, "record 2 is not signed by the node's audit key")
    );
}
