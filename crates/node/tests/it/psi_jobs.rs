//! PSI-aligned jobs in the node without sockets: an empty dataset is refused at submission,
//! and the proposal carries the row count the partner caps the PSI with.

use unseen_node::NodeError;
use unseen_node::jobs::{self, SubmitRequest};

use crate::util::{Fixture, add_partner, allow, id_csv, node, register};

/// Node `bank-a` with partner `data-b` (unreachable address), dataset `customers` on `csv`
/// registered as id-card keys, and a rule allowing psi and train jobs on it.
fn bank_with(csv_text: Option<&str>) -> (Fixture, Fixture) {
    let f = node("bank-a");
    let other = node("data-b");
    let csv = f.data("customers.csv");
    id_csv(&csv, 20);
    add_partner(&f, "data-b", &other.dir, "127.0.0.1:9");
    register(&f, "customers", &csv, "id-card");
    for job in ["psi", "train"] {
        allow(&f, "customers", "data-b", job);
    }
    // The file as the job finds it (registration saw 20 rows).
    if let Some(text) = csv_text {
        std::fs::write(&csv, text).unwrap();
    }
    (f, other)
}

fn req(kind: &str) -> SubmitRequest {
    SubmitRequest {
        kind: kind.into(),
        partner: "data-b".into(),
        dataset: "customers".into(),
        peer_dataset: "theirs".into(),
        label: Some("amount".into()),
        ..SubmitRequest::default()
    }
}

#[test]
fn a_dataset_without_rows_is_refused_at_submission() {
    // Issue 13 item 22: a header-only (or empty) dataset used to run a full protocol.
    for text in ["id,amount\n", ""] {
        let (f, _other) = bank_with(Some(text));
        for kind in ["psi", "train"] {
            let err = jobs::submit(&f.node, "test", &req(kind), None).unwrap_err();
            assert!(
                matches!(err, NodeError::Invalid(_)),
                "{kind} {text:?}: {err:?}"
            );
            assert_eq!(err.status(), 400);
            let msg = err.to_string();
            // The 0-byte file may be refused by the reader (no key column) before the count.
            assert!(
                msg.contains("customers") && (msg.contains("no rows") || text.is_empty()),
                "{msg}"
            );
        }
        // Nothing was recorded, so nothing was proposed to the partner.
        assert!(f.node.store().jobs(None).unwrap().is_empty());
    }
}
