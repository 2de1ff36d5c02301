//! The policy check: does this node's policy let `partner` run this job on `dataset`?
//!
//! Default deny: without a rule for (dataset, partner, job kind) nothing runs. A rule also says
//! who may receive rows from the job (docs/policy.md):
//!
//! | receivers | jobs allowed |
//! |---|---|
//! | `any` | every mode |
//! | `both` | only jobs where both nodes receive the rows |
//! | `owner` | only jobs where the dataset's owner (this node) alone receives the rows |
//! | `partner` | only jobs where the partner alone receives the rows |
//! | `none` | only jobs where nobody receives rows (cardinality) |
//!
//! In a hidden query (`pir`) the initiator (the querier) receives records and the responder
//! (the table's owner) nothing, so a rule for `pir` must be `partner` or `any`.
//!
//! Joint-modeling jobs (`train`, `predict`) first align the rows by PSI in mode `both`: both
//! nodes learn which of their rows the other also has (never the other's columns), so a rule
//! for them must be `both` or `any`.

use unseen_store::{Receivers, Store};

use crate::NodeError;
use crate::control::{JobSpec, PsiMode};

/// Who receives rows in a job: (this node, the partner).
fn receivers(spec: &JobSpec, we_initiate: bool) -> (bool, bool) {
    let (initiator, responder) = match spec {
        JobSpec::Psi { mode, .. } => match mode {
            PsiMode::Both => (true, true),
            PsiMode::InitiatorOnly => (true, false),
            PsiMode::ResponderOnly => (false, true),
            PsiMode::Cardinality => (false, false),
        },
        // The querier gets the records of its keys; the table's owner learns only their count.
        JobSpec::Pir { .. } => (true, false),
        // Alignment by PSI in mode `both`.
        // Alignment by PSI in mode `both`; a score session runs under the `predict` rule (the
        // partner learns the applicant's key, the guest learns nothing of the partner's rows).
        JobSpec::Train { .. } | JobSpec::Predict { .. } | JobSpec::Score { .. } => (true, true),
    };
    if we_initiate {
        (initiator, responder)
    } else {
        (responder, initiator)
    }
}

/// Checks the policy; `Err(reason)` says why the job may not run (sent to the partner on
/// rejection, so it names only what the partner already knows).
pub fn check(
    store: &Store,
    dataset: &str,
    partner: &str,
    spec: &JobSpec,
    we_initiate: bool,
) -> Result<Result<(), String>, NodeError> {
    let kind = spec.policy_kind();
    if store.dataset(dataset)?.is_none() {
        return Ok(Err(format!("no dataset named {dataset:?} on this node")));
    }
    let Some(rule) = store.policy(dataset, partner, kind)? else {
        return Ok(Err(format!(
            "no policy allows partner {partner:?} to run {kind} jobs on dataset {dataset:?}"
        )));
    };
    let (us, them) = receivers(spec, we_initiate);
    let ok = match rule.receivers {
        Receivers::Any => true,
        Receivers::Both => us && them,
        Receivers::Owner => us && !them,
        Receivers::Partner => !us && them,
        Receivers::None => !us && !them,
    };
    if ok {
        Ok(Ok(()))
    } else {
        let mode = match spec {
            JobSpec::Psi { mode, .. } => format!(" (mode {})", mode.as_str()),
            JobSpec::Pir { .. }
            | JobSpec::Train { .. }
            | JobSpec::Predict { .. }
            | JobSpec::Score { .. } => String::new(),
        };
        Ok(Err(format!(
            "the policy on dataset {dataset:?} for partner {partner:?} lets rows go to {:?} \
             only, but this {kind} job{mode} gives rows to {}",
            rule.receivers.as_str(),
            match (us, them) {
                (true, true) => "both nodes",
                (true, false) => "the dataset's owner",
                (false, true) => "the partner",
                (false, false) => "nobody",
            }
        )))
    }
}
