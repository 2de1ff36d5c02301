//! The `psi` job kind, and one party of an ECDH-PSI on a CSV dataset: read the keys, run the
//! protocol, write the rows. The helpers are shared by the direct `unseen psi` command.

use std::path::Path;
use std::sync::Arc;

use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;
use serde::{Deserialize, Serialize};
use unseen_channel::Channel;
use unseen_crypto::CurveId;
use unseen_data::{DataError, DuplicatePolicy, KeyType, ReadOptions, Table};
use unseen_psi::{KeyLabel, Params, Progress, PsiError, PsiOutput, Reveal, Side};
use unseen_store::{Dataset, Job};

use super::{Admission, Ctx, Kind, Produced, Receivers, Refusal};
use crate::job_error::JobError;
use crate::node::Node;
use crate::{NodeError, ops};

/// A PSI job's parameters.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PsiSpec {
    /// Who learns what.
    pub mode: PsiMode,
    /// The group.
    #[serde(with = "super::curve_name")]
    pub curve: CurveId,
}

/// Who learns the intersection of a PSI job, from the initiator's point of view.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PsiMode {
    /// Both nodes learn the common rows.
    Both,
    /// Only the initiator learns them.
    InitiatorOnly,
    /// Only the responder learns them.
    ResponderOnly,
    /// Both learn only how many there are.
    Cardinality,
}

impl PsiMode {
    /// The name used in flags and JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Both => "both",
            Self::InitiatorOnly => "initiator-only",
            Self::ResponderOnly => "responder-only",
            Self::Cardinality => "cardinality",
        }
    }
}

/// The `psi` kind: both nodes bring a registered dataset and its keys.
pub struct Psi;

/// What a node brings to a PSI job: its dataset and the keys read when the job was submitted
/// or accepted (checked not empty).
pub struct PsiPart {
    /// The dataset.
    pub dataset: Dataset,
    /// Its keys (first row of a repeated key kept).
    pub keys: Box<Table>,
}

/// What one side of a PSI job produced.
#[derive(Debug, Serialize)]
pub struct PsiResult {
    /// Keys this node brought.
    pub items: usize,
    /// Keys the partner announced.
    pub peer_items: u64,
    /// Common rows this node learnt (modes where it learns them).
    pub intersection: Option<usize>,
    /// How many are common (cardinality mode).
    pub cardinality: Option<u64>,
    /// Rows written to the output.
    pub rows_written: Option<u64>,
}

impl Kind for Psi {
    type Spec = PsiSpec;
    type Part = PsiPart;
    type Output = PsiResult;
    const NAME: &'static str = "psi";

    fn check(_: &PsiSpec) -> Result<(), String> {
        Ok(())
    }

    fn receivers(spec: &PsiSpec) -> Receivers {
        let (initiator, responder) = match spec.mode {
            PsiMode::Both => (true, true),
            PsiMode::InitiatorOnly => (true, false),
            PsiMode::ResponderOnly => (false, true),
            PsiMode::Cardinality => (false, false),
        };
        Receivers {
            initiator,
            responder,
        }
    }

    fn mode(spec: &PsiSpec) -> Option<&'static str> {
        Some(spec.mode.as_str())
    }

    fn aligns(_: &PsiSpec) -> bool {
        true
    }

    fn admit(a: Admission<'_>, _: &PsiSpec) -> Result<PsiPart, Refusal> {
        let keys = a.keys.ok_or_else(|| {
            Refusal::from(NodeError::Internal("a PSI job without its keys".into()))
        })?;
        Ok(PsiPart {
            dataset: a.dataset,
            keys,
        })
    }

    fn dataset(part: &PsiPart) -> Option<&Dataset> {
        Some(&part.dataset)
    }

    fn run<C: Channel>(
        ctx: &mut Ctx<'_, C>,
        spec: &PsiSpec,
        part: &PsiPart,
    ) -> Result<Produced<PsiResult>, JobError> {
        let (leader, reveal) = role(spec.mode, ctx.initiator);
        let opts = key_pass(
            ops::read_options(&part.dataset).map_err(|e| JobError::input(e.to_string()))?,
            false,
        );
        let path = Path::new(&part.dataset.path);
        let progress = crate::kinds::progress(ctx.node, &ctx.job.id);
        let params = params(reveal, opts.key_type, ctx.peer_limit)
            .map_err(|e| JobError::caused(e.fault(), "", e))?;
        let table = &part.keys;
        let out = run_role(ctx.ch, spec.curve, leader, &table.keys, params, &progress)
            .map_err(|e| e.job_error(ctx.partner))?;
        let (rows, wrote) = match (&out.intersection, out.cardinality) {
            (Some(idx), _) if learns_rows(leader, reveal) => {
                let n = write_rows(ctx.pending, path, &opts, table, idx)
                    .map_err(|e| JobError::internal(format!("writing the output: {e}")))?;
                (Some(n), true)
            }
            (None, Some(c)) => {
                write_cardinality(ctx.pending, c)
                    .map_err(|e| JobError::internal(format!("writing the output: {e}")))?;
                (None, true)
            }
            _ => (None, false),
        };
        Ok(Produced {
            wrote,
            output: PsiResult {
                items: table.keys.len(),
                peer_items: out.peer_items,
                intersection: out.intersection.as_ref().map(Vec::len),
                cardinality: out.cardinality,
                rows_written: rows,
            },
        })
    }

    fn rerun(
        node: &Arc<Node>,
        job: &Job,
        _: &PsiSpec,
    ) -> Result<(PsiPart, Option<u64>), NodeError> {
        let dataset = crate::jobs::registered(node, &job.dataset)?;
        let keys = Box::new(crate::jobs::dataset_keys(&dataset).map_err(NodeError::Invalid)?);
        let rows = Some(keys.keys.len() as u64);
        Ok((PsiPart { dataset, keys }, rows))
    }
}

/// The protocol role and reveal mode of one side: the initiator (the side that connects) leads,
/// unless only the responder is to learn the rows (the side entitled to the rows compares).
pub fn role(mode: PsiMode, initiator: bool) -> (bool, Reveal) {
    match mode {
        PsiMode::Both => (initiator, Reveal::Both),
        PsiMode::InitiatorOnly => (initiator, Reveal::LeaderOnly),
        PsiMode::ResponderOnly => (!initiator, Reveal::LeaderOnly),
        PsiMode::Cardinality => (initiator, Reveal::Cardinality),
    }
}

/// The protocol parameters of one side: who learns what, the key type the items were
/// normalised with (sent in the hello and part of the hash domain, so a partner that reads its
/// keys differently fails both sides at once) and the most items the partner may announce.
pub fn params(reveal: Reveal, key_type: KeyType, max_peer_items: u64) -> Result<Params, PsiError> {
    let mut p = Params::new(reveal, KeyLabel::new(key_type.name())?);
    p.max_peer_items = max_peer_items;
    Ok(p)
}

/// Whether the side with this role learns the common rows.
pub fn learns_rows(leader: bool, reveal: Reveal) -> bool {
    match reveal {
        Reveal::Both => true,
        Reveal::LeaderOnly => leader,
        Reveal::Cardinality => false,
    }
}

/// A fresh RNG seeded by the operating system.
pub fn os_rng() -> Result<ChaCha20Rng, String> {
    let mut seed = [0u8; 32];
    getrandom::fill(&mut seed)
        .map_err(|e| format!("operating system randomness unavailable: {e}"))?;
    Ok(ChaCha20Rng::from_seed(seed))
}

/// Read options for a key-only first pass over a dataset (rows are read again for the output).
pub fn key_pass(mut o: ReadOptions, strict_duplicates: bool) -> ReadOptions {
    o.keep_fields = false;
    o.duplicates = if strict_duplicates {
        DuplicatePolicy::Error
    } else {
        DuplicatePolicy::KeepFirst
    };
    o
}

/// Runs one role over `ch` with the group chosen at run time (dispatched by `unseen-psi`).
pub fn run_role<C: Channel>(
    ch: &mut C,
    curve: CurveId,
    leader: bool,
    items: &[String],
    params: Params,
    progress: &(dyn Fn(Progress) + Sync),
) -> Result<PsiOutput, RoleError> {
    let mut rng = os_rng().map_err(RoleError::Rng)?;
    let side = if leader { Side::Leader } else { Side::Follower };
    Ok(unseen_psi::run_on(
        curve, side, ch, items, params, &mut rng, progress,
    )?)
}

/// Running a role failed.
#[derive(Debug, thiserror::Error)]
pub enum RoleError {
    /// No randomness.
    #[error("{0}")]
    Rng(String),
    /// The protocol failed.
    #[error("psi protocol failed: {0}")]
    Psi(#[from] PsiError),
}

impl RoleError {
    /// The job error, classified by the protocol's own `fault()`.
    pub fn job_error(self, partner: &str) -> JobError {
        match self {
            Self::Rng(m) => JobError::internal(m),
            Self::Psi(e) => JobError::caused(
                e.fault(),
                format!("partner {partner}: psi protocol failed"),
                e,
            ),
        }
    }
}

/// Writes the rows of `table` at `indices` (the intersection) to `out`, atomically, reading them
/// again from `input` (the first pass kept only keys). Returns the number of rows written.
pub fn write_rows(
    out: &Path,
    input: &Path,
    opts: &ReadOptions,
    table: &Table,
    indices: &[usize],
) -> Result<u64, DataError> {
    let wanted: Vec<(u64, &str)> = indices
        .iter()
        .map(|&i| (table.rows[i].line(), table.keys[i].as_str()))
        .collect();
    let rows = unseen_data::read_rows_at(input, opts, &wanted)?;
    unseen_data::write_csv_atomic(out, &table.headers, rows.iter())?;
    Ok(rows.len() as u64)
}

/// Writes the one-column result of a cardinality-only run.
pub fn write_cardinality(out: &Path, n: u64) -> Result<(), DataError> {
    unseen_data::write_lines_atomic(out, ["cardinality".to_owned(), n.to_string()].iter())
}
