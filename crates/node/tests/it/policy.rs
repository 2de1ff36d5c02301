//! The policy table (docs/policy.md), over every receivers value, mode and side.

use unseen_crypto::CurveId;
use unseen_node::kinds::psi::{Psi, PsiMode, PsiSpec};
use unseen_node::ops::{self, DatasetInput, PartnerInput, PolicyInput};

use crate::util::{id_csv, node};

#[test]
fn receivers_against_modes_on_both_sides() {
    let f = node("bank-a");
    let other = node("data-b");
    let csv = f.data("c.csv");
    id_csv(&csv, 10);
    let mut store = f.node.store();
    let own = f.node.fingerprint();
    let pem = std::fs::read_to_string(other.dir.cert()).unwrap();
    ops::add_partner(
        &mut store,
        "test",
        &own,
        &PartnerInput {
            name: "data-b".into(),
            address: "127.0.0.1:9".into(),
            cert_pem: pem,
        },
    )
    .unwrap();
    ops::add_dataset(
        &f.dir,
        &mut store,
        "test",
        &DatasetInput {
            name: "customers".into(),
            path: csv,
            key: "id".into(),
            key_type: "id-card".into(),
            encoding: "auto".into(),
            skip_invalid: false,
        },
        ops::DataAccess::Operator,
    )
    .unwrap();
    let spec = |mode| PsiSpec {
        mode,
        curve: CurveId::Ristretto255,
    };
    // No rule: refused whatever the mode.
    for mode in [PsiMode::Both, PsiMode::Cardinality] {
        let r = unseen_node::policy::check::<Psi>(&store, "customers", "data-b", &spec(mode), true)
            .unwrap();
        assert!(r.unwrap_err().contains("no policy"));
    }
    // (receivers, mode, we initiate) → allowed?
    use PsiMode::*;
    let table: &[(&str, PsiMode, bool, bool)] = &[
        ("any", Both, true, true),
        ("any", InitiatorOnly, false, true),
        ("any", Cardinality, true, true),
        ("both", Both, true, true),
        ("both", InitiatorOnly, true, false),
        ("both", Cardinality, false, false),
        ("owner", InitiatorOnly, true, true),
        ("owner", InitiatorOnly, false, false),
        ("owner", ResponderOnly, false, true),
        ("owner", ResponderOnly, true, false),
        ("owner", Both, true, false),
        ("partner", ResponderOnly, true, true),
        ("partner", InitiatorOnly, false, true),
        ("partner", InitiatorOnly, true, false),
        ("partner", Both, false, false),
        ("none", Cardinality, true, true),
        ("none", Cardinality, false, true),
        ("none", Both, true, false),
        ("none", ResponderOnly, false, false),
    ];
    for &(receivers, mode, initiate, allowed) in table {
        ops::allow(
            &mut store,
            "test",
            &PolicyInput {
                dataset: "customers".into(),
                partner: "data-b".into(),
                job: "psi".into(),
                receivers: receivers.into(),
            },
        )
        .unwrap();
        let r =
            unseen_node::policy::check::<Psi>(&store, "customers", "data-b", &spec(mode), initiate)
                .unwrap();
        assert_eq!(
            r.is_ok(),
            allowed,
            "{receivers} {mode:?} initiator={initiate}: {r:?}"
        );
    }
    // Unknown dataset and unknown partner.
    let r = unseen_node::policy::check::<Psi>(&store, "nope", "data-b", &spec(Both), true).unwrap();
    assert!(r.unwrap_err().contains("no dataset"));
    let r =
        unseen_node::policy::check::<Psi>(&store, "customers", "eve", &spec(Both), true).unwrap();
    assert_eq!(
        r.unwrap_err(),
        "no policy allows partner \"eve\" to run psi jobs on dataset \"customers\""
    );
}
