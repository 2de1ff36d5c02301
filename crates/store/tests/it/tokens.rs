use unseen_store::{StoreError, TokenRole};

use crate::Db;

#[test]
fn api_tokens_are_stored_by_digest_listed_and_revoked() {
    let db = Db::temp();
    let mut s = db.open();
    let digest = [7u8; 32];
    let t = s.add_api_token("app1", TokenRole::Scorer, &digest).unwrap();
    assert_eq!(t.role, TokenRole::Scorer);
    assert!(matches!(
        s.add_api_token("app1", TokenRole::Admin, &[8u8; 32]),
        Err(StoreError::Duplicate { .. })
    ));
    assert!(matches!(
        s.add_api_token("../x", TokenRole::Admin, &[9u8; 32]),
        Err(StoreError::InvalidName { .. })
    ));
    s.add_api_token("ops", TokenRole::Operator, &[1u8; 32])
        .unwrap();
    let names: Vec<_> = s
        .api_tokens()
        .unwrap()
        .into_iter()
        .map(|t| t.name)
        .collect();
    assert_eq!(names, ["app1", "ops"]);
    assert_eq!(s.api_token_digests().unwrap()[0].1, digest);
    // Only the digest is stored: the table has no column that could hold a secret.
    let stored: String = db
        .raw()
        .query_row(
            "SELECT digest FROM api_tokens WHERE name = 'app1'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(stored, hex::encode(digest));
    s.revoke_api_token("app1").unwrap();
    assert!(matches!(
        s.revoke_api_token("app1"),
        Err(StoreError::NotFound { .. })
    ));
    assert_eq!(s.api_tokens().unwrap().len(), 1);
    // A role the schema does not know is refused by SQLite too.
    assert!(
        db.raw()
            .execute(
                "INSERT INTO api_tokens VALUES ('x', 'root', ?1, 0)",
                [hex::encode([2u8; 32])]
            )
            .is_err()
    );
    assert!(TokenRole::Admin.allows(TokenRole::Operator));
    assert!(!TokenRole::Scorer.allows(TokenRole::Operator));
}

/// A version-5 database (before tokens) gains the table and keeps its data.
#[test]
fn a_version_5_database_gains_the_token_table() {
    let db = Db::temp();
    let mut s = db.open();
    s.add_partner(&crate::new_partner("bank-b", "fp")).unwrap();
    drop(s);
    let raw = db.raw();
    raw.execute_batch("DROP TABLE api_tokens").unwrap();
    raw.execute_batch("ALTER TABLE jobs DROP COLUMN fault")
        .unwrap();
    raw.pragma_update(None, "user_version", 5).unwrap();
    drop(raw);
    let mut s = db.open();
    assert_eq!(s.partners().unwrap().len(), 1);
    s.add_api_token("app1", TokenRole::Scorer, &[3u8; 32])
        .unwrap();
    assert_eq!(s.api_tokens().unwrap().len(), 1);
}
