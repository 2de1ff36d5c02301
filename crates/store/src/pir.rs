//! Hidden-query (keyword PIR) usage: how many OPRF evaluations a partner was granted on a
//! dataset per UTC day, for the node's daily quota; and the same for single scores served.
//!
//! Each evaluation lets the querier test one key of its choice against the table, so with
//! enumerable keys (ID-card or phone numbers) the number of evaluations is what bounds what a
//! partner can learn. The node grants a query's announced key count before the protocol starts
//! ([`Store::pir_grant`], one `BEGIN IMMEDIATE` transaction, so two concurrent queries cannot
//! both take the last of the quota) and gives back what a successful run did not use
//! ([`Store::pir_release`]).

use rusqlite::{OptionalExtension, TransactionBehavior, params};

use crate::check;
use crate::error::StoreError;
use crate::store::col_u64;
use crate::{Store, validate_name};

const MS_PER_DAY: i64 = 86_400_000;

/// The UTC day of a time in ms since the Unix epoch, as days since 1970-01-01.
pub fn utc_day(ms: i64) -> i64 {
    ms.div_euclid(MS_PER_DAY)
}

/// The answer of [`Store::pir_grant`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PirGrant {
    /// Granted; `used` is the day's total including this grant.
    Granted {
        /// Evaluations granted that day, this grant included.
        used: u64,
    },
    /// Refused: the grant would exceed the limit; nothing was recorded.
    Refused {
        /// Evaluations granted that day before this request.
        used: u64,
    },
}

/// Which daily usage a grant counts: its table, column and name in errors.
#[derive(Clone, Copy)]
enum Usage {
    PirKeys,
    Scores,
}

impl Usage {
    fn table(self) -> &'static str {
        match self {
            Self::PirKeys => "pir_usage",
            Self::Scores => "score_usage",
        }
    }
    fn column(self) -> &'static str {
        match self {
            Self::PirKeys => "keys",
            Self::Scores => "scores",
        }
    }
    fn what(self) -> &'static str {
        match self {
            Self::PirKeys => "hidden-query keys",
            Self::Scores => "scores served",
        }
    }
}

impl Store {
    /// Grants `keys` OPRF evaluations to `partner` on `dataset` on UTC `day` if the day's total
    /// stays at most `limit`, recording them; otherwise records nothing.
    pub fn pir_grant(
        &mut self,
        partner: &str,
        dataset: &str,
        day: i64,
        keys: u64,
        limit: u64,
    ) -> Result<PirGrant, StoreError> {
        self.grant(Usage::PirKeys, partner, dataset, day, keys, limit)
    }

    /// Grants one single score (real-time prediction of one applicant) to `partner` on
    /// `dataset` on UTC `day` if the day's total stays at most `limit`, recording it; otherwise
    /// records nothing. Like a hidden-query key, each score lets the partner test one key of its
    /// choice, so the daily count bounds what it can learn.
    pub fn score_grant(
        &mut self,
        partner: &str,
        dataset: &str,
        day: i64,
        limit: u64,
    ) -> Result<PirGrant, StoreError> {
        self.grant(Usage::Scores, partner, dataset, day, 1, limit)
    }

    /// Scores granted to `partner` on `dataset` on UTC `day`.
    pub fn score_used(&self, partner: &str, dataset: &str, day: i64) -> Result<u64, StoreError> {
        used(&self.conn, Usage::Scores, partner, dataset, day)
    }

    fn grant(
        &mut self,
        usage: Usage,
        partner: &str,
        dataset: &str,
        day: i64,
        count: u64,
        limit: u64,
    ) -> Result<PirGrant, StoreError> {
        validate_name("partner", partner)?;
        validate_name("dataset", dataset)?;
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let used = used(&tx, usage, partner, dataset, day)?;
        let Some(total) = used.checked_add(count).filter(|&t| t <= limit) else {
            return Ok(PirGrant::Refused { used });
        };
        let stored = check::count(usage.what(), total)?;
        tx.execute(
            &format!(
                "INSERT INTO {t} (partner, dataset, day, {c}) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (partner, dataset, day) DO UPDATE SET {c} = excluded.{c}",
                t = usage.table(),
                c = usage.column()
            ),
            params![partner, dataset, day, stored],
        )?;
        tx.commit()?;
        Ok(PirGrant::Granted { used: total })
    }

    /// Gives back `keys` evaluations granted on `day` but not used (never below zero); returns
    /// the day's new total.
    pub fn pir_release(
        &mut self,
        partner: &str,
        dataset: &str,
        day: i64,
        keys: u64,
    ) -> Result<u64, StoreError> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let used = used(&tx, Usage::PirKeys, partner, dataset, day)?;
        let total = used.saturating_sub(keys);
        if total != used {
            tx.execute(
                "UPDATE pir_usage SET keys = ?4 WHERE partner = ?1 AND dataset = ?2 AND day = ?3",
                params![
                    partner,
                    dataset,
                    day,
                    check::count("hidden-query keys", total)?
                ],
            )?;
        }
        tx.commit()?;
        Ok(total)
    }

    /// Evaluations granted to `partner` on `dataset` on UTC `day`.
    pub fn pir_used(&self, partner: &str, dataset: &str, day: i64) -> Result<u64, StoreError> {
        used(&self.conn, Usage::PirKeys, partner, dataset, day)
    }
}

fn used(
    conn: &rusqlite::Connection,
    usage: Usage,
    partner: &str,
    dataset: &str,
    day: i64,
) -> Result<u64, StoreError> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {c} FROM {t} WHERE partner = ?1 AND dataset = ?2 AND day = ?3",
        t = usage.table(),
        c = usage.column()
    ))?;
    let found = stmt
        .query_row(params![partner, dataset, day], |row| {
            Ok(col_u64(row, 0, usage.table()))
        })
        .optional()?;
    found.transpose().map(Option::unwrap_or_default)
}
