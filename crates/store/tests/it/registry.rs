use unseen_store::{JobState, Receivers, StoreError, now_ms, validate_name};

use crate::{Db, new_dataset, new_job, new_partner, new_policy};

#[test]
fn names_follow_the_documented_alphabet_and_length() {
    let long_ok = "a".repeat(64);
    for ok in ["a", "9", "bank-b", "A.b_c-9", long_ok.as_str()] {
        validate_name("partner", ok).unwrap();
    }
    let too_long = "a".repeat(65);
    for bad in [
        "",
        too_long.as_str(),
        "-a",
        ".hidden",
        "_a",
        "a b",
        "a/b",
        "../x",
        "bänk",
        "a\nb",
        "a:b",
    ] {
        let err = validate_name("partner", bad).unwrap_err();
        let StoreError::InvalidName { kind, .. } = err else {
            panic!("{bad:?}: {err:?}");
        };
        assert_eq!(kind, "partner");
    }
}

#[test]
fn partners_round_trip_and_list_by_name() {
    let db = Db::temp();
    let mut s = db.open();
    let before = now_ms();
    let b = s.add_partner(&new_partner("bank-b", "fp-b")).unwrap();
    let a = s.add_partner(&new_partner("bank-a", "fp-a")).unwrap();
    assert!(b.added_ms >= before && b.added_ms <= now_ms());
    assert_eq!(b.name, "bank-b");
    assert_eq!(b.address, "bank-b.example:7443");
    assert_eq!(b.fingerprint, "fp-b");

    assert_eq!(s.partners().unwrap(), vec![a.clone(), b.clone()]);
    assert_eq!(s.partner("bank-b").unwrap(), Some(b.clone()));
    assert_eq!(s.partner("bank-c").unwrap(), None);
    assert_eq!(s.partner_by_fingerprint("fp-a").unwrap(), Some(a));
    assert_eq!(s.partner_by_fingerprint("FP-A").unwrap(), None);

    // Another handle on the file sees the same.
    assert_eq!(db.open().partner("bank-b").unwrap(), Some(b));
}

#[test]
fn duplicate_partner_name_or_fingerprint_is_refused() {
    let db = Db::temp();
    let mut s = db.open();
    s.add_partner(&new_partner("bank-b", "fp-b")).unwrap();
    let err = s
        .add_partner(&new_partner("bank-b", "fp-other"))
        .unwrap_err();
    assert!(
        matches!(err, StoreError::Duplicate { what: "partner", ref name } if name == "bank-b"),
        "{err:?}"
    );
    let err = s.add_partner(&new_partner("bank-c", "fp-b")).unwrap_err();
    assert!(
        matches!(err, StoreError::Duplicate { what: "partner fingerprint", ref name } if name == "fp-b"),
        "{err:?}"
    );
    assert_eq!(s.partners().unwrap().len(), 1);
}

#[test]
fn invalid_partner_values_are_refused_before_writing() {
    let db = Db::temp();
    let mut s = db.open();
    let err = s.add_partner(&new_partner("bank b", "fp")).unwrap_err();
    assert!(matches!(err, StoreError::InvalidName { .. }), "{err:?}");

    let mut p = new_partner("bank-b", "fp");
    p.address = String::new();
    let err = s.add_partner(&p).unwrap_err();
    assert!(
        matches!(
            err,
            StoreError::Invalid {
                field: "partner address",
                ..
            }
        ),
        "{err:?}"
    );

    let mut p = new_partner("bank-b", "fp\nforged log line");
    p.address = "x:1".into();
    let err = s.add_partner(&p).unwrap_err();
    assert!(
        matches!(
            err,
            StoreError::Invalid {
                field: "partner fingerprint",
                ..
            }
        ),
        "{err:?}"
    );

    let mut p = new_partner("bank-b", "fp");
    p.cert_pem = String::new();
    let err = s.add_partner(&p).unwrap_err();
    assert!(
        matches!(
            err,
            StoreError::Invalid {
                field: "partner certificate",
                ..
            }
        ),
        "{err:?}"
    );
    assert!(s.partners().unwrap().is_empty());
}

#[test]
fn removing_an_unknown_partner_or_dataset_is_not_found() {
    let db = Db::temp();
    let mut s = db.open();
    let err = s.remove_partner("nobody").unwrap_err();
    assert!(
        matches!(err, StoreError::NotFound { what: "partner", ref name } if name == "nobody"),
        "{err:?}"
    );
    let err = s.remove_dataset("nothing").unwrap_err();
    assert!(
        matches!(err, StoreError::NotFound { what: "dataset", ref name } if name == "nothing"),
        "{err:?}"
    );
}

#[test]
fn datasets_round_trip_list_by_name_and_refuse_duplicates() {
    let db = Db::temp();
    let mut s = db.open();
    let mut nd = new_dataset("loans");
    nd.skip_invalid = false;
    nd.columns = Vec::new();
    let loans = s.add_dataset(&nd).unwrap();
    let customers = s.add_dataset(&new_dataset("customers")).unwrap();
    assert_eq!(customers.columns, vec!["phone", "name", "城市"]);
    assert!(customers.skip_invalid);
    assert!(!loans.skip_invalid);
    assert!(loans.columns.is_empty());

    assert_eq!(s.datasets().unwrap(), vec![customers.clone(), loans]);
    assert_eq!(s.dataset("customers").unwrap(), Some(customers));
    assert_eq!(s.dataset("other").unwrap(), None);

    let err = s.add_dataset(&new_dataset("customers")).unwrap_err();
    assert!(
        matches!(err, StoreError::Duplicate { what: "dataset", ref name } if name == "customers"),
        "{err:?}"
    );

    let mut bad = new_dataset("x");
    bad.columns = vec!["ok".into(), String::new()];
    let err = s.add_dataset(&bad).unwrap_err();
    assert!(
        matches!(
            err,
            StoreError::Invalid {
                field: "dataset column",
                ..
            }
        ),
        "{err:?}"
    );
    let err = s.add_dataset(&new_dataset("a/b")).unwrap_err();
    assert!(matches!(err, StoreError::InvalidName { .. }), "{err:?}");
    assert_eq!(s.datasets().unwrap().len(), 2);
}

#[test]
fn removing_a_partner_removes_its_policies_only() {
    let db = Db::temp();
    let mut s = db.open();
    s.add_partner(&new_partner("bank-b", "fp-b")).unwrap();
    s.add_partner(&new_partner("bank-c", "fp-c")).unwrap();
    s.add_dataset(&new_dataset("customers")).unwrap();
    s.allow(&new_policy("customers", "bank-b", "psi", Receivers::Both))
        .unwrap();
    s.allow(&new_policy("customers", "bank-c", "psi", Receivers::Owner))
        .unwrap();
    // A job with the partner: history outlives the partner.
    s.insert_job(&new_job("j1", JobState::Succeeded)).unwrap();

    s.remove_partner("bank-b").unwrap();
    assert_eq!(s.partner("bank-b").unwrap(), None);
    let left: Vec<_> = s
        .policies()
        .unwrap()
        .into_iter()
        .map(|p| p.partner)
        .collect();
    assert_eq!(left, vec!["bank-c"]);
    assert_eq!(s.policy("customers", "bank-b", "psi").unwrap(), None);
    assert!(s.job("j1").unwrap().is_some());

    // The name can be registered again, without the old rules.
    s.add_partner(&new_partner("bank-b", "fp-b")).unwrap();
    assert_eq!(s.policy("customers", "bank-b", "psi").unwrap(), None);
}

#[test]
fn removing_a_dataset_removes_its_policies_only() {
    let db = Db::temp();
    let mut s = db.open();
    s.add_partner(&new_partner("bank-b", "fp-b")).unwrap();
    s.add_dataset(&new_dataset("customers")).unwrap();
    s.add_dataset(&new_dataset("loans")).unwrap();
    s.allow(&new_policy("customers", "bank-b", "psi", Receivers::Both))
        .unwrap();
    s.allow(&new_policy("loans", "bank-b", "psi", Receivers::None))
        .unwrap();

    s.remove_dataset("customers").unwrap();
    let left: Vec<_> = s
        .policies()
        .unwrap()
        .into_iter()
        .map(|p| p.dataset)
        .collect();
    assert_eq!(left, vec!["loans"]);
    assert_eq!(s.datasets().unwrap().len(), 1);
}

/// Item 15: a dataset keeps what its file was at registration (size, mtime, SM3), through a
/// reopen, and `restamp_dataset` records what it is now; a malformed stamp is refused.
#[test]
fn a_dataset_keeps_its_file_stamp_and_can_be_restamped() {
    use unseen_store::FileStamp;
    let db = Db::temp();
    let mut s = db.open();
    let stamp = FileStamp {
        size: 1234,
        mtime_ns: 1_700_000_000_123_456_789,
        sm3: "ab".repeat(32),
    };
    let mut nd = new_dataset("customers");
    nd.stamp = Some(stamp.clone());
    assert_eq!(s.add_dataset(&nd).unwrap().stamp, Some(stamp.clone()));
    assert_eq!(s.dataset("customers").unwrap().unwrap().stamp, Some(stamp));
    s.add_dataset(&new_dataset("old")).unwrap();
    assert_eq!(s.dataset("old").unwrap().unwrap().stamp, None);
    let newer = FileStamp {
        size: 99,
        mtime_ns: -5,
        sm3: "cd".repeat(32),
    };
    let cols = vec!["phone".to_owned(), "city".to_owned()];
    let d = s.restamp_dataset("old", &cols, &newer).unwrap();
    assert_eq!(d.stamp, Some(newer.clone()));
    assert_eq!(d.columns, cols);
    assert!(matches!(
        s.restamp_dataset("nope", &cols, &newer),
        Err(StoreError::NotFound { .. })
    ));
    let bad = FileStamp {
        sm3: "XY".repeat(32),
        ..newer
    };
    assert!(matches!(
        s.restamp_dataset("old", &cols, &bad),
        Err(StoreError::Invalid { .. })
    ));
}
