use unseen_store::{Receivers, StoreError};

use crate::{Db, new_dataset, new_partner, new_policy};

fn setup() -> (Db, unseen_store::Store) {
    let db = Db::temp();
    let mut s = db.open();
    s.add_partner(&new_partner("bank-b", "fp-b")).unwrap();
    s.add_partner(&new_partner("bank-c", "fp-c")).unwrap();
    s.add_dataset(&new_dataset("customers")).unwrap();
    s.add_dataset(&new_dataset("loans")).unwrap();
    (db, s)
}

#[test]
fn without_a_rule_nothing_is_allowed() {
    let (_db, s) = setup();
    assert!(s.policies().unwrap().is_empty());
    assert_eq!(s.policy("customers", "bank-b", "psi").unwrap(), None);
}

#[test]
fn allow_is_an_upsert_on_dataset_partner_and_kind() {
    let (_db, mut s) = setup();
    let p = s
        .allow(&new_policy("customers", "bank-b", "psi", Receivers::Owner))
        .unwrap();
    assert_eq!(p.receivers, Receivers::Owner);
    assert_eq!(s.policy("customers", "bank-b", "psi").unwrap(), Some(p));

    let p2 = s
        .allow(&new_policy("customers", "bank-b", "psi", Receivers::None))
        .unwrap();
    assert_eq!(s.policies().unwrap(), vec![p2]);

    // Each of the three keys makes a separate rule; the others stay denied.
    s.allow(&new_policy("customers", "bank-b", "stats", Receivers::Any))
        .unwrap();
    s.allow(&new_policy("customers", "bank-c", "psi", Receivers::Both))
        .unwrap();
    s.allow(&new_policy("loans", "bank-b", "psi", Receivers::Partner))
        .unwrap();
    let keys: Vec<_> = s
        .policies()
        .unwrap()
        .into_iter()
        .map(|p| (p.dataset, p.partner, p.job_kind, p.receivers))
        .collect();
    let own = |d: &str, p: &str, k: &str, r| (d.to_owned(), p.to_owned(), k.to_owned(), r);
    assert_eq!(
        keys,
        vec![
            own("customers", "bank-b", "psi", Receivers::None),
            own("customers", "bank-b", "stats", Receivers::Any),
            own("customers", "bank-c", "psi", Receivers::Both),
            own("loans", "bank-b", "psi", Receivers::Partner),
        ]
    );
    assert_eq!(s.policy("loans", "bank-c", "psi").unwrap(), None);
}

#[test]
fn allow_needs_a_known_dataset_and_partner() {
    let (_db, mut s) = setup();
    let err = s
        .allow(&new_policy("nothing", "bank-b", "psi", Receivers::Both))
        .unwrap_err();
    assert!(
        matches!(err, StoreError::NotFound { what: "dataset", ref name } if name == "nothing"),
        "{err:?}"
    );
    let err = s
        .allow(&new_policy("customers", "nobody", "psi", Receivers::Both))
        .unwrap_err();
    assert!(
        matches!(err, StoreError::NotFound { what: "partner", ref name } if name == "nobody"),
        "{err:?}"
    );
    let err = s
        .allow(&new_policy("customers", "bank-b", "p s i", Receivers::Both))
        .unwrap_err();
    assert!(matches!(err, StoreError::InvalidName { .. }), "{err:?}");
    assert!(s.policies().unwrap().is_empty());
}

#[test]
fn deny_removes_a_rule_and_says_whether_there_was_one() {
    let (_db, mut s) = setup();
    s.allow(&new_policy("customers", "bank-b", "psi", Receivers::Both))
        .unwrap();
    s.allow(&new_policy("customers", "bank-c", "psi", Receivers::Both))
        .unwrap();
    assert!(s.deny("customers", "bank-b", "psi").unwrap());
    assert!(!s.deny("customers", "bank-b", "psi").unwrap());
    assert!(!s.deny("nothing", "nobody", "psi").unwrap());
    assert_eq!(s.policy("customers", "bank-b", "psi").unwrap(), None);
    assert!(s.policy("customers", "bank-c", "psi").unwrap().is_some());
}

#[test]
fn receivers_names_round_trip() {
    for r in Receivers::ALL {
        assert_eq!(r.as_str().parse::<Receivers>().unwrap(), r);
    }
    let names: Vec<_> = Receivers::ALL.iter().map(|r| r.as_str()).collect();
    assert_eq!(names, ["any", "both", "owner", "partner", "none"]);
    assert!("everyone".parse::<Receivers>().is_err());
}

#[test]
fn a_stored_unknown_receivers_value_is_corrupt_not_a_panic() {
    let (db, mut s) = setup();
    s.allow(&new_policy("customers", "bank-b", "psi", Receivers::Both))
        .unwrap();
    db.raw()
        .execute_batch(
            "PRAGMA ignore_check_constraints = ON;
             UPDATE policies SET receivers = 'everyone';",
        )
        .unwrap();
    let err = s.policy("customers", "bank-b", "psi").unwrap_err();
    assert!(matches!(err, StoreError::Corrupt(_)), "{err:?}");
    let err = s.policies().unwrap_err();
    assert!(matches!(err, StoreError::Corrupt(_)), "{err:?}");
}
