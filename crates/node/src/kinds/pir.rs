//! The `pir` job kind (hidden query, 隐匿查询): the initiator looks up keys in the responder's
//! published table; the initiator receives the records of the keys it asked for, the responder
//! learns only how many keys there were. Publishing and the protocol calls are in
//! [`crate::pir_job`].

use std::path::Path;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use unseen_channel::Channel;
use unseen_crypto::CurveId;
use unseen_store::{Dataset, PirGrant};

use super::{Admission, Ctx, Kind, Produced, Receivers, Refusal};
use crate::job_error::JobError;
use crate::pir_job::{self, QueryInput, QueryResult, SharedTable};

/// A hidden query's parameters.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PirSpec {
    /// The OPRF group (with it the AEAD: ristretto255 with AES-256-GCM, SM2 with SM4-GCM);
    /// must be the table's.
    #[serde(with = "super::curve_name")]
    pub curve: CurveId,
    /// Distinct keys the query looks up (counted against the responder's daily quota before
    /// it starts; the responder's driver refuses more).
    pub keys: u32,
    /// `Some(k)`: the opt-in cheaper lookup that reveals each key's hash bucket to the
    /// responder, allowed only if every bucket holds at least `k` keys; `None`: private.
    #[serde(default)]
    pub reveal_bucket: Option<u32>,
}

/// The `pir` kind.
pub struct Pir;

/// What a node brings to a hidden query.
pub enum PirPart {
    /// The responder: a published table to answer from, and the keys granted against the
    /// partner's quota on UTC `day`.
    Serve {
        /// The dataset the table was published from.
        dataset: String,
        /// The table.
        table: SharedTable,
        /// Keys granted.
        granted: u64,
        /// The UTC day of the grant.
        day: i64,
    },
    /// The initiator: the keys file and where the records go.
    Query(Box<QueryInput>),
}

/// What one side of a hidden query produced.
#[derive(Debug, Serialize)]
#[serde(untagged)]
pub enum PirResult {
    /// The responder's view.
    Served {
        /// Keys looked up (never which).
        keys: u64,
        /// Batches.
        batches: u64,
        /// `private` or `reveal-bucket`.
        lookup: &'static str,
        /// Whether the whole hint was sent, rows of it, or nothing.
        hint: &'static str,
        /// The table's id (hex).
        table_id: String,
        /// The table's epoch.
        epoch: u64,
    },
    /// The querier's view.
    Queried(QueryResult),
}

impl Kind for Pir {
    type Spec = PirSpec;
    type Part = PirPart;
    type Output = PirResult;
    const NAME: &'static str = "pir";

    fn check(spec: &PirSpec) -> Result<(), String> {
        if spec.keys == 0 {
            return Err("a hidden query of 0 keys".into());
        }
        if spec.reveal_bucket == Some(0) {
            return Err("bucket k-anonymity of 0".into());
        }
        Ok(())
    }

    fn receivers(_: &PirSpec) -> Receivers {
        // The querier gets the records of its keys; the table's owner learns only their count.
        Receivers {
            initiator: true,
            responder: false,
        }
    }

    fn admit(a: Admission<'_>, spec: &PirSpec) -> Result<PirPart, Refusal> {
        let name = &a.proposal.dataset;
        // Without the store: loading a table takes seconds.
        let table = match a.node.pir_tables.get(&a.node.dir, name) {
            Ok(Some(t)) => t,
            Ok(None) => {
                return Err(Refusal::config(format!(
                    "dataset {name:?} has no published hidden-query table (its owner publishes \
                     one with `unseen pir publish`)"
                )));
            }
            Err(e) => {
                tracing::error!(job = %a.job.id, error = %e, "cannot load a hidden-query table");
                return Err(Refusal::config(format!(
                    "the hidden-query table of dataset {name:?} cannot be loaded on the \
                     partner's node"
                )));
            }
        };
        pir_job::check_proposal(&table, name, spec.curve, spec.reveal_bucket)
            .map_err(Refusal::config)?;
        let day = unseen_store::utc_day(unseen_store::now_ms());
        let limit = a.node.config.pir.max_keys_per_day;
        let keys = u64::from(spec.keys);
        let grant = a
            .node
            .store()
            .pir_grant(&a.partner.name, name, day, keys, limit)
            .map_err(|e| Refusal::from(crate::NodeError::from(e)))?;
        if let PirGrant::Refused { used } = grant {
            return Err(Refusal::config(format!(
                "quota: partner {:?} may look up {limit} keys per UTC day in dataset {name:?}; \
                 {used} used today, this query announces {keys}",
                a.partner.name
            )));
        }
        Ok(PirPart::Serve {
            dataset: name.clone(),
            table,
            granted: keys,
            day,
        })
    }

    fn dataset(_: &PirPart) -> Option<&Dataset> {
        // The responder answers from its published table, the querier from a keys file.
        None
    }

    fn output(part: &PirPart) -> Option<&Path> {
        match part {
            PirPart::Query(q) => Some(&q.output),
            PirPart::Serve { .. } => None,
        }
    }

    fn run<C: Channel>(
        ctx: &mut Ctx<'_, C>,
        spec: &PirSpec,
        part: &PirPart,
    ) -> Result<Produced<PirResult>, JobError> {
        match (part, ctx.initiator) {
            (
                PirPart::Serve {
                    dataset,
                    table,
                    granted,
                    day,
                },
                false,
            ) => serve(ctx, spec, dataset, table, (*granted, *day)),
            (PirPart::Query(q), true) => ask(ctx, spec, q),
            _ => Err(JobError::internal(
                "a hidden query's part does not match this node's role; please report",
            )),
        }
    }

    fn rerun(
        _: &std::sync::Arc<crate::node::Node>,
        job: &unseen_store::Job,
        _: &PirSpec,
    ) -> Result<(PirPart, Option<u64>), crate::NodeError> {
        Err(crate::NodeError::Conflict(format!(
            "job {} is a hidden query, whose keys file stays with the `unseen query` that ran \
             it; run `unseen query` again",
            job.id
        )))
    }

    fn audit(out: &PirResult) -> Vec<(&'static str, Value)> {
        // How many keys were looked up (never which).
        let keys = match out {
            PirResult::Served { keys, .. } => *keys,
            PirResult::Queried(q) => q.keys as u64,
        };
        vec![("keys", keys.into())]
    }
}

/// The responder: answers from the published table, at most the keys granted; gives back to
/// the quota what a successful session did not use (a failed one keeps the whole grant: the
/// partner may have had evaluations before it failed).
fn serve<C: Channel>(
    ctx: &mut Ctx<'_, C>,
    spec: &PirSpec,
    dataset: &str,
    table: &SharedTable,
    (granted, day): (u64, i64),
) -> Result<Produced<PirResult>, JobError> {
    let partner = ctx.partner;
    let served = pir_job::serve(ctx.ch, table, granted)
        .map_err(|e| JobError::caused(e.fault(), format!("partner {partner}"), e))?;
    let unused = granted.saturating_sub(served.keys);
    if unused > 0
        && let Err(e) = ctx.node.store().pir_release(partner, dataset, day, unused)
    {
        tracing::warn!(job = %ctx.job.id, error = %e, "cannot give unused hidden-query keys back");
    }
    if served.reveal_bucket != spec.reveal_bucket {
        return Err(JobError::partner(format!(
            "partner {partner} looked keys up in another mode than the one it proposed"
        )));
    }
    ctx.set_progress(served.keys, served.keys);
    let info = table.info();
    Ok(Produced {
        wrote: false,
        output: PirResult::Served {
            keys: served.keys,
            batches: served.batches,
            lookup: if served.reveal_bucket.is_some() {
                "reveal-bucket"
            } else {
                "private"
            },
            hint: served.hint,
            table_id: hex::encode(info.table_id),
            epoch: info.epoch,
        },
    })
}

/// The initiator: runs the client, writes the rows with their records.
fn ask<C: Channel>(
    ctx: &mut Ctx<'_, C>,
    spec: &PirSpec,
    q: &QueryInput,
) -> Result<Produced<PirResult>, JobError> {
    let lookup = pir_job::Lookup {
        curve: spec.curve,
        reveal_bucket: spec.reveal_bucket,
    };
    let r = pir_job::query(
        ctx.ch,
        &ctx.node.dir,
        (ctx.partner, &ctx.job.peer_dataset),
        q,
        lookup,
        ctx.pending,
    )?;
    let keys = r.keys as u64;
    ctx.set_progress(keys, keys);
    Ok(Produced {
        wrote: true,
        output: PirResult::Queried(r),
    })
}

/// Checks a query's request before anything is recorded: at least one key, at most
/// `u32::MAX`, and a bucket k-anonymity of at least 1.
pub fn spec_for(
    input: &QueryInput,
    curve: CurveId,
    reveal_bucket: Option<u32>,
) -> Result<PirSpec, JobError> {
    let distinct = input.distinct_keys().0.len();
    if distinct == 0 {
        return Err(JobError::input(format!(
            "{}: no keys to look up",
            input.input.display()
        )));
    }
    let keys = u32::try_from(distinct).map_err(|_| {
        JobError::input(format!(
            "{}: {distinct} distinct keys, at most {} in one query",
            input.input.display(),
            u32::MAX
        ))
    })?;
    if reveal_bucket == Some(0) {
        return Err(JobError::input(
            "--reveal-bucket-k-anonymity must be at least 1",
        ));
    }
    Ok(PirSpec {
        curve,
        keys,
        reveal_bucket,
    })
}
