use unseen_store::{Store, StoreError};

use crate::{Db, new_partner};

#[test]
fn a_new_file_gets_the_current_schema_in_wal_mode() {
    let db = Db::temp();
    let s = db.open();
    let supported = Store::supported_schema_version();
    assert!(supported >= 1);
    assert_eq!(s.schema_version().unwrap(), supported);
    let raw = db.raw();
    let mode: String = raw
        .pragma_query_value(None, "journal_mode", |r| r.get(0))
        .unwrap();
    assert_eq!(mode, "wal");
    let version: u32 = raw
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .unwrap();
    assert_eq!(version, supported);
}

#[test]
fn opening_again_keeps_data_and_version() {
    let db = Db::temp();
    let mut s = db.open();
    s.add_partner(&new_partner("bank-b", "fp")).unwrap();
    drop(s);
    for _ in 0..2 {
        let s = db.open();
        assert_eq!(
            s.schema_version().unwrap(),
            Store::supported_schema_version()
        );
        assert_eq!(s.partners().unwrap().len(), 1);
    }
    // And while another handle is open.
    let a = db.open();
    let b = db.open();
    assert_eq!(a.partners().unwrap(), b.partners().unwrap());
}

#[test]
fn a_newer_schema_is_refused_and_left_untouched() {
    let db = Db::temp();
    let newer = Store::supported_schema_version() + 1;
    db.raw().pragma_update(None, "user_version", newer).unwrap();
    let err = Store::open(&db.path).unwrap_err();
    assert!(
        matches!(err, StoreError::TooNew { found, supported }
            if found == newer && supported == newer - 1),
        "{err:?}"
    );
    let raw = db.raw();
    let tables: i64 = raw
        .query_row("SELECT count(*) FROM sqlite_schema", [], |r| r.get(0))
        .unwrap();
    assert_eq!(tables, 0);
    let mode: String = raw
        .pragma_query_value(None, "journal_mode", |r| r.get(0))
        .unwrap();
    assert_eq!(mode, "delete");

    // Also for a file this build created and a newer build migrated.
    let db = Db::temp();
    drop(db.open());
    db.raw().pragma_update(None, "user_version", newer).unwrap();
    assert!(matches!(
        Store::open(&db.path),
        Err(StoreError::TooNew { .. })
    ));
}

#[test]
fn opening_in_a_missing_directory_names_the_file() {
    let db = Db::temp();
    let path = db.dir.path().join("no-such-dir").join("state.db");
    let err = Store::open(&path).unwrap_err();
    assert!(matches!(err, StoreError::Open { .. }), "{err:?}");
    assert!(err.to_string().contains("no-such-dir"), "{err}");
}

#[test]
fn two_processes_creating_the_file_at_once_both_succeed() {
    let db = Db::temp();
    let handles: Vec<_> = (0..4)
        .map(|_| {
            let path = db.path.clone();
            std::thread::spawn(move || Store::open(&path).map(|s| s.schema_version()))
        })
        .collect();
    for h in handles {
        let version = h.join().unwrap().unwrap().unwrap();
        assert_eq!(version, Store::supported_schema_version());
    }
}
