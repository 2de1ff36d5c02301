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
use crate::kinds::Kind;

/// Checks the policy for a job of kind `K`; `Err(reason)` says why the job may not run (sent
/// to the partner on rejection, so it names only what the partner already knows).
pub fn check<K: Kind>(
    store: &Store,
    dataset: &str,
    partner: &str,
    spec: &K::Spec,
    we_initiate: bool,
) -> Result<Result<(), String>, NodeError> {
    let kind = K::POLICY;
    if store.dataset(dataset)?.is_none() {
        return Ok(Err(format!("no dataset named {dataset:?} on this node")));
    }
    let Some(rule) = store.policy(dataset, partner, kind)? else {
        return Ok(Err(format!(
            "no policy allows partner {partner:?} to run {kind} jobs on dataset {dataset:?}"
        )));
    };
    let r = K::receivers(spec);
    let (us, them) = if we_initiate {
        (r.initiator, r.responder)
    } else {
        (r.responder, r.initiator)
    };
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
        let mode = K::mode(spec)
            .map(|m| format!(" (mode {m})"))
            .unwrap_or_default();
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
