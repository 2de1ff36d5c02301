//! The records a node keeps: partners, datasets, policies and jobs.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::{StoreError, bounded};

/// A partner to register: another institution's node.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NewPartner {
    /// Our name for it (see [`validate_name`](crate::validate_name)).
    pub name: String,
    /// Where its node listens, e.g. `bank-b.example:7443`.
    pub address: String,
    /// Its TLS certificate, PEM.
    pub cert_pem: String,
    /// The certificate's fingerprint, as the node computes it; unique among partners and matched
    /// exactly by [`Store::partner_by_fingerprint`](crate::Store::partner_by_fingerprint).
    pub fingerprint: String,
}

/// A registered partner.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Partner {
    /// Our name for it.
    pub name: String,
    /// Where its node listens.
    pub address: String,
    /// Its TLS certificate, PEM.
    pub cert_pem: String,
    /// The certificate's fingerprint.
    pub fingerprint: String,
    /// When it was registered, ms since the Unix epoch.
    pub added_ms: i64,
}

/// A local dataset to register: a file this node may compute on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NewDataset {
    /// Its name, as partners refer to it (see [`validate_name`](crate::validate_name)).
    pub name: String,
    /// The file.
    pub path: String,
    /// The column holding the join key.
    pub key_column: String,
    /// How the key is normalised, e.g. `phone` (interpreted by `unseen-data`, not here).
    pub key_type: String,
    /// Columns that jobs may release, in order.
    pub columns: Vec<String>,
    /// The file's text encoding, e.g. `utf-8` (interpreted by `unseen-data`, not here).
    pub encoding: String,
    /// Whether rows with an invalid key are skipped rather than failing the job.
    pub skip_invalid: bool,
    /// What the file was when it was read for registration.
    pub stamp: Option<FileStamp>,
}

/// What a dataset's file was when it was registered: jobs compare the file with it and refuse
/// a file that changed since.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileStamp {
    /// Its length in bytes.
    pub size: u64,
    /// Its modification time, ns since the Unix epoch.
    pub mtime_ns: i64,
    /// The SM3 digest of its bytes, 64 lowercase hex digits.
    pub sm3: String,
}

/// A registered dataset.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Dataset {
    /// Its name.
    pub name: String,
    /// The file.
    pub path: String,
    /// The column holding the join key.
    pub key_column: String,
    /// How the key is normalised.
    pub key_type: String,
    /// Columns that jobs may release, in order.
    pub columns: Vec<String>,
    /// The file's text encoding.
    pub encoding: String,
    /// Whether rows with an invalid key are skipped.
    pub skip_invalid: bool,
    /// When it was registered, ms since the Unix epoch.
    pub added_ms: i64,
    /// What the file was when it was registered (or last refreshed); `None` for a dataset
    /// registered before the store recorded it.
    pub stamp: Option<FileStamp>,
}

/// Who may receive rows from jobs on a dataset, seen from the dataset owner (this node).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Receivers {
    /// Whoever the job proposal names.
    Any,
    /// Both parties.
    Both,
    /// Only this node.
    Owner,
    /// Only the partner.
    Partner,
    /// Neither party: only aggregate results (e.g. the intersection's size).
    None,
}

/// A rule allowing one partner to run one kind of job on one dataset. Without a rule, the job is
/// refused (default deny).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NewPolicy {
    /// The local dataset.
    pub dataset: String,
    /// The partner.
    pub partner: String,
    /// The job kind, e.g. `psi`.
    pub job_kind: String,
    /// Who may receive rows.
    pub receivers: Receivers,
}

/// A stored policy rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Policy {
    /// The local dataset.
    pub dataset: String,
    /// The partner.
    pub partner: String,
    /// The job kind.
    pub job_kind: String,
    /// Who may receive rows.
    pub receivers: Receivers,
    /// When the rule took its current form (an upsert renews it), ms since the Unix epoch.
    pub added_ms: i64,
}

/// Where a job is in its life. The allowed transitions ([`JobState::can_become`]):
///
/// ```text
/// Proposed -> Accepted | Rejected | Failed | Cancelled
/// Accepted -> Running | Failed | Cancelled
/// Running  -> Succeeded | Failed | Cancelled
/// ```
///
/// Rejected, Succeeded, Failed and Cancelled are terminal: they never change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum JobState {
    /// Proposed by the initiator, awaiting the responder's decision.
    Proposed,
    /// Accepted by the responder (its policy allowed it), not started.
    Accepted,
    /// Refused by the responder.
    Rejected,
    /// The protocol is running.
    Running,
    /// Finished with a result.
    Succeeded,
    /// Stopped by an error (or by a restart of the node).
    Failed,
    /// Stopped on request.
    Cancelled,
}

/// A job to record.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NewJob {
    /// Its id, shared by both nodes (see [`validate_name`](crate::validate_name)).
    pub id: String,
    /// The job kind, e.g. `psi`.
    pub kind: String,
    /// Whether this node proposed it.
    pub role: Role,
    /// The partner it runs with.
    pub partner: String,
    /// The local dataset.
    pub dataset: String,
    /// The partner's dataset, by the partner's name for it.
    pub peer_dataset: String,
    /// Kind-specific parameters.
    pub params: Value,
    /// The initial state, normally [`JobState::Proposed`].
    pub state: JobState,
    /// The job this one repeats, if any.
    pub rerun_of: Option<String>,
}

/// Which side of a job this node is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// This node proposed the job.
    Initiator,
    /// The partner proposed the job.
    Responder,
}

/// A recorded job.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Job {
    /// Its id.
    pub id: String,
    /// The job kind.
    pub kind: String,
    /// Which side this node is.
    pub role: Role,
    /// The partner.
    pub partner: String,
    /// The local dataset.
    pub dataset: String,
    /// The partner's dataset.
    pub peer_dataset: String,
    /// Kind-specific parameters.
    pub params: Value,
    /// Where it is in its life.
    pub state: JobState,
    /// Why it reached its state, if given (e.g. a failure's cause).
    pub reason: Option<String>,
    /// Units of work done so far.
    pub progress_done: u64,
    /// Units of work in all (0 while unknown).
    pub progress_total: u64,
    /// Where its output was written, if anywhere.
    pub output: Option<String>,
    /// A digest of the output, if any.
    pub output_digest: Option<String>,
    /// Bytes sent to the partner.
    pub bytes_sent: u64,
    /// Bytes received from the partner.
    pub bytes_received: u64,
    /// Kind-specific result (`null` until it finishes).
    pub result: Value,
    /// The job this one repeats, if any.
    pub rerun_of: Option<String>,
    /// When it was recorded, ms since the Unix epoch.
    pub created_ms: i64,
    /// When it entered [`JobState::Running`].
    pub started_ms: Option<i64>,
    /// When it entered a terminal state.
    pub finished_ms: Option<i64>,
    /// Whose fault it was that the job failed or was rejected (`input`, `config`, `partner`,
    /// `network`, `internal`); `None` for a job that succeeded, is still live, or ended before
    /// the node recorded faults.
    pub fault: Option<String>,
}

/// How a job ended, for [`Store::finish_job`](crate::Store::finish_job).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Finish {
    /// The terminal state to enter.
    pub state: JobState,
    /// Why, if anything is to be said.
    pub reason: Option<String>,
    /// Where the output was written.
    pub output: Option<String>,
    /// A digest of the output.
    pub output_digest: Option<String>,
    /// Bytes sent to the partner.
    pub bytes_sent: u64,
    /// Bytes received from the partner.
    pub bytes_received: u64,
    /// Kind-specific result.
    pub result: Value,
    /// Whose fault it was, for a job that did not succeed (a short lowercase name).
    pub fault: Option<String>,
}

/// Figures over all recorded jobs, for monitoring.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct JobMetrics {
    /// The number of jobs in each state, every state listed (in [`JobState::ALL`] order), zero
    /// included.
    pub by_state: Vec<(JobState, u64)>,
    /// Bytes sent over all jobs.
    pub bytes_sent_total: u64,
    /// Bytes received over all jobs.
    pub bytes_received_total: u64,
    /// Seconds from start to finish of each finished job that ran, oldest job first.
    pub durations_s: Vec<f64>,
}

impl Receivers {
    /// Every variant, in declaration order.
    pub const ALL: [Receivers; 5] = [
        Receivers::Any,
        Receivers::Both,
        Receivers::Owner,
        Receivers::Partner,
        Receivers::None,
    ];

    /// The lowercase name, as stored and as accepted by [`FromStr`].
    pub fn as_str(self) -> &'static str {
        match self {
            Receivers::Any => "any",
            Receivers::Both => "both",
            Receivers::Owner => "owner",
            Receivers::Partner => "partner",
            Receivers::None => "none",
        }
    }
}

impl JobState {
    /// Every state, in declaration order.
    pub const ALL: [JobState; 7] = [
        JobState::Proposed,
        JobState::Accepted,
        JobState::Rejected,
        JobState::Running,
        JobState::Succeeded,
        JobState::Failed,
        JobState::Cancelled,
    ];

    /// The lowercase name, as stored and as accepted by [`FromStr`].
    pub fn as_str(self) -> &'static str {
        match self {
            JobState::Proposed => "proposed",
            JobState::Accepted => "accepted",
            JobState::Rejected => "rejected",
            JobState::Running => "running",
            JobState::Succeeded => "succeeded",
            JobState::Failed => "failed",
            JobState::Cancelled => "cancelled",
        }
    }

    /// Whether the state is final.
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            JobState::Rejected | JobState::Succeeded | JobState::Failed | JobState::Cancelled
        )
    }

    /// Whether the state machine allows going from `self` to `to`.
    pub fn can_become(self, to: JobState) -> bool {
        use JobState::*;
        matches!(
            (self, to),
            (Proposed, Accepted | Rejected | Failed | Cancelled)
                | (Accepted, Running | Failed | Cancelled)
                | (Running, Succeeded | Failed | Cancelled)
        )
    }
}

impl Role {
    /// The lowercase name, as stored and as accepted by [`FromStr`].
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Initiator => "initiator",
            Role::Responder => "responder",
        }
    }
}

/// An unknown name for a [`JobState`], [`Role`] or [`Receivers`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {what} {found:?}, expected one of: {}", expected.join(", "))]
pub struct ParseNameError {
    what: &'static str,
    found: String,
    expected: Vec<&'static str>,
}

impl ParseNameError {
    fn new(what: &'static str, found: &str, expected: Vec<&'static str>) -> Self {
        ParseNameError {
            what,
            found: bounded(found),
            expected,
        }
    }
}

impl From<ParseNameError> for StoreError {
    /// A name read back from the database that does not parse means the file was edited.
    fn from(e: ParseNameError) -> Self {
        StoreError::Corrupt(e.to_string())
    }
}

macro_rules! name_enum {
    ($ty:ident, $what:literal, $all:expr) => {
        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl FromStr for $ty {
            type Err = ParseNameError;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                $all.into_iter().find(|v| v.as_str() == s).ok_or_else(|| {
                    ParseNameError::new($what, s, $all.iter().map(|v| v.as_str()).collect())
                })
            }
        }
    };
}

name_enum!(Receivers, "receivers", Receivers::ALL);
name_enum!(JobState, "job state", JobState::ALL);
name_enum!(Role, "role", [Role::Initiator, Role::Responder]);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_match_serde() {
        for s in JobState::ALL {
            assert_eq!(s.as_str().parse::<JobState>(), Ok(s));
            assert_eq!(serde_json::to_value(s).unwrap(), s.as_str());
        }
        for r in Receivers::ALL {
            assert_eq!(r.as_str().parse::<Receivers>(), Ok(r));
            assert_eq!(serde_json::to_value(r).unwrap(), r.as_str());
        }
        for r in [Role::Initiator, Role::Responder] {
            assert_eq!(r.as_str().parse::<Role>(), Ok(r));
            assert_eq!(serde_json::to_value(r).unwrap(), r.as_str());
        }
        assert!("Running".parse::<JobState>().is_err());
        assert!("".parse::<Receivers>().is_err());
    }
}
