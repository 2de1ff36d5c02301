use unseen_store::{PirGrant, Store, utc_day};

use crate::Db;

#[test]
fn grants_up_to_the_limit_per_partner_dataset_and_day() {
    let db = Db::temp();
    let mut s = db.open();
    let day = utc_day(1_764_000_000_000);
    assert_eq!(s.pir_used("bank-a", "blacklist", day).unwrap(), 0);
    assert_eq!(
        s.pir_grant("bank-a", "blacklist", day, 60, 100).unwrap(),
        PirGrant::Granted { used: 60 }
    );
    assert_eq!(
        s.pir_grant("bank-a", "blacklist", day, 41, 100).unwrap(),
        PirGrant::Refused { used: 60 }
    );
    assert_eq!(s.pir_used("bank-a", "blacklist", day).unwrap(), 60);
    assert_eq!(
        s.pir_grant("bank-a", "blacklist", day, 40, 100).unwrap(),
        PirGrant::Granted { used: 100 }
    );
    assert_eq!(
        s.pir_grant("bank-a", "blacklist", day, 1, 100).unwrap(),
        PirGrant::Refused { used: 100 }
    );
    // Another partner, dataset or day has its own count.
    for (p, d, day) in [
        ("bank-c", "blacklist", day),
        ("bank-a", "other", day),
        ("bank-a", "blacklist", day + 1),
    ] {
        assert_eq!(
            s.pir_grant(p, d, day, 100, 100).unwrap(),
            PirGrant::Granted { used: 100 }
        );
    }
    // An overflowing request is refused, not wrapped.
    assert_eq!(
        s.pir_grant("bank-a", "blacklist", day, u64::MAX, u64::MAX)
            .unwrap(),
        PirGrant::Refused { used: 100 }
    );
    // Unused keys come back, never below zero; the count survives reopening.
    assert_eq!(s.pir_release("bank-a", "blacklist", day, 30).unwrap(), 70);
    assert_eq!(s.pir_release("bank-a", "blacklist", day, 1000).unwrap(), 0);
    assert_eq!(s.pir_release("nobody", "blacklist", day, 5).unwrap(), 0);
    s.pir_grant("bank-a", "blacklist", day, 7, 100).unwrap();
    drop(s);
    let s = Store::open(&db.path).unwrap();
    assert_eq!(s.pir_used("bank-a", "blacklist", day).unwrap(), 7);
}

#[test]
fn grant_refuses_bad_names_and_utc_day_counts_from_the_epoch() {
    let db = Db::temp();
    let mut s = db.open();
    assert!(s.pir_grant("../x", "blacklist", 0, 1, 10).is_err());
    assert_eq!(utc_day(0), 0);
    assert_eq!(utc_day(86_399_999), 0);
    assert_eq!(utc_day(86_400_000), 1);
    assert_eq!(utc_day(-1), -1);
}

#[test]
fn a_version_2_database_gains_the_usage_table_and_keeps_its_data() {
    let db = Db::temp();
    let mut s = db.open();
    s.add_partner(&crate::new_partner("bank-a", "fp")).unwrap();
    drop(s);
    let raw = db.raw();
    raw.execute_batch("DROP TABLE pir_usage; DROP TABLE score_usage; DROP TABLE api_tokens; ALTER TABLE datasets DROP COLUMN file_size; ALTER TABLE datasets DROP COLUMN file_mtime_ns; ALTER TABLE datasets DROP COLUMN file_sm3;")
        .unwrap();
    raw.execute_batch("ALTER TABLE jobs DROP COLUMN fault")
        .unwrap();
    raw.pragma_update(None, "user_version", 2).unwrap();
    drop(raw);
    let mut s = db.open();
    assert_eq!(
        s.schema_version().unwrap(),
        Store::supported_schema_version()
    );
    assert_eq!(s.partners().unwrap().len(), 1);
    assert_eq!(
        s.pir_grant("bank-a", "blacklist", 1, 5, 10).unwrap(),
        PirGrant::Granted { used: 5 }
    );
    assert_eq!(
        s.score_grant("bank-a", "features", 1, 10).unwrap(),
        PirGrant::Granted { used: 1 }
    );
}

#[test]
fn a_version_3_database_gains_the_score_table_and_keeps_its_usage() {
    let db = Db::temp();
    let mut s = db.open();
    s.pir_grant("bank-a", "blacklist", 1, 5, 10).unwrap();
    drop(s);
    let raw = db.raw();
    raw.execute_batch("DROP TABLE score_usage; DROP TABLE api_tokens; ALTER TABLE datasets DROP COLUMN file_size; ALTER TABLE datasets DROP COLUMN file_mtime_ns; ALTER TABLE datasets DROP COLUMN file_sm3;")
        .unwrap();
    raw.execute_batch("ALTER TABLE jobs DROP COLUMN fault")
        .unwrap();
    raw.pragma_update(None, "user_version", 3).unwrap();
    drop(raw);
    let mut s = db.open();
    assert_eq!(
        s.schema_version().unwrap(),
        Store::supported_schema_version()
    );
    assert_eq!(s.pir_used("bank-a", "blacklist", 1).unwrap(), 5);
    assert_eq!(
        s.score_grant("bank-a", "features", 1, 10).unwrap(),
        PirGrant::Granted { used: 1 }
    );
}

/// Scores served have their own daily count, separate from hidden-query keys of the same
/// partner and dataset.
#[test]
fn score_grants_count_separately_up_to_the_limit() {
    let db = Db::temp();
    let mut s = db.open();
    let day = utc_day(1_764_000_000_000);
    s.pir_grant("bank-a", "features", day, 5, 100).unwrap();
    for used in 1..=3 {
        assert_eq!(
            s.score_grant("bank-a", "features", day, 3).unwrap(),
            PirGrant::Granted { used }
        );
    }
    assert_eq!(
        s.score_grant("bank-a", "features", day, 3).unwrap(),
        PirGrant::Refused { used: 3 }
    );
    assert_eq!(s.score_used("bank-a", "features", day).unwrap(), 3);
    assert_eq!(s.pir_used("bank-a", "features", day).unwrap(), 5);
    assert_eq!(
        s.score_grant("bank-a", "features", day + 1, 3).unwrap(),
        PirGrant::Granted { used: 1 }
    );
    assert_eq!(
        s.score_grant("bank-a", "features", day, 0).unwrap(),
        PirGrant::Refused { used: 3 }
    );
    drop(s);
    assert_eq!(db.open().score_used("bank-a", "features", day).unwrap(), 3);
}
