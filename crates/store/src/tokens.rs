//! Tokens of the node's local HTTP API: a name, a role and the SM3 digest of the secret.
//!
//! The secret itself (256 random bits, shown once by `unseen token create`) is never stored: a
//! copy of the database does not let anyone call the API. Since the secret is uniformly random
//! and long, an unsalted digest is enough (nothing to brute-force); the node compares digests in
//! constant time.

use std::fmt;
use std::str::FromStr;

use rusqlite::{TransactionBehavior, params};
use serde::Serialize;

use crate::error::{StoreError, bounded, corrupt};
use crate::store::{col, col_parse_str, duplicate, exists, not_found};
use crate::{Store, now_ms, validate_name};

/// What an API token may do; each route of the API names the least role it needs.
///
/// The roles are ordered: `admin` may do everything an `operator` may, an `operator` everything
/// a `scorer` may.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum TokenRole {
    /// Scores single applicants (`POST /v1/models/{id}/score`) and reads the node's identity.
    Scorer,
    /// Jobs (submit, list, show, cancel, rerun; training and prediction are jobs), reading the
    /// registries, metrics and the audit log.
    Operator,
    /// Everything, including partners, datasets and policies.
    Admin,
}

impl TokenRole {
    /// Every role, least first.
    pub const ALL: [TokenRole; 3] = [TokenRole::Scorer, TokenRole::Operator, TokenRole::Admin];

    /// The role's name as stored and shown.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Scorer => "scorer",
            Self::Operator => "operator",
            Self::Admin => "admin",
        }
    }

    /// Whether a token of this role may call a route that needs `needed`.
    pub fn allows(self, needed: TokenRole) -> bool {
        self >= needed
    }
}

impl fmt::Display for TokenRole {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for TokenRole {
    type Err = StoreError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| StoreError::Invalid {
                field: "token role",
                reason: format!("{:?}: expected admin, operator or scorer", bounded(s)),
            })
    }
}

/// A registered API token (without its digest).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ApiToken {
    /// Its name (who holds it, e.g. the application).
    pub name: String,
    /// What it may do.
    pub role: TokenRole,
    /// When it was created, ms since the Unix epoch.
    pub created_ms: i64,
}

/// The digest of a token's secret (SM3, 32 bytes).
pub type TokenDigest = [u8; 32];

impl Store {
    /// Registers a token by the digest of its secret. Fails with [`StoreError::Duplicate`] if
    /// the name is taken.
    pub fn add_api_token(
        &mut self,
        name: &str,
        role: TokenRole,
        digest: &TokenDigest,
    ) -> Result<ApiToken, StoreError> {
        validate_name("token", name)?;
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        if exists(&tx, "SELECT 1 FROM api_tokens WHERE name = ?1", name)? {
            return Err(duplicate("token", name));
        }
        let token = ApiToken {
            name: name.to_owned(),
            role,
            created_ms: now_ms(),
        };
        tx.execute(
            "INSERT INTO api_tokens (name, role, digest, created_ms) VALUES (?1, ?2, ?3, ?4)",
            params![
                token.name,
                role.as_str(),
                hex::encode(digest),
                token.created_ms
            ],
        )?;
        tx.commit()?;
        Ok(token)
    }

    /// Every token, by name.
    pub fn api_tokens(&self) -> Result<Vec<ApiToken>, StoreError> {
        Ok(self
            .api_token_digests()?
            .into_iter()
            .map(|(t, _)| t)
            .collect())
    }

    /// Every token with the digest of its secret, by name (for the node to compare presented
    /// secrets against, in constant time).
    pub fn api_token_digests(&self) -> Result<Vec<(ApiToken, TokenDigest)>, StoreError> {
        self.select(
            "SELECT name, role, created_ms, digest FROM api_tokens ORDER BY name",
            [],
            |row| {
                const T: &str = "api_tokens";
                let digest: String = col(row, 3, T)?;
                let digest = hex::decode(&digest)
                    .ok()
                    .and_then(|d| TokenDigest::try_from(d).ok())
                    .ok_or_else(|| corrupt(format!("{T}.digest: not 32 bytes of hex")))?;
                Ok((
                    ApiToken {
                        name: col(row, 0, T)?,
                        role: col_parse_str(row, 1, T)?,
                        created_ms: col(row, 2, T)?,
                    },
                    digest,
                ))
            },
        )
    }

    /// Revokes (deletes) a token: the next request with it is refused.
    pub fn revoke_api_token(&mut self, name: &str) -> Result<(), StoreError> {
        let n = self
            .conn
            .execute("DELETE FROM api_tokens WHERE name = ?1", [name])?;
        if n == 0 {
            return Err(not_found("token", name));
        }
        Ok(())
    }
}
