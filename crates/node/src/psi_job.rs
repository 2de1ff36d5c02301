//! One party of an ECDH-PSI on a CSV dataset: read the keys, run the protocol, write the rows.
//! Shared by the direct `unseen psi` command and the node's `psi` jobs.

use std::path::Path;

use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;
use unseen_channel::Channel;
use unseen_crypto::{PsiGroup, Ristretto255, Sm2};
use unseen_data::{DataError, DuplicatePolicy, KeyType, ReadOptions, Table};
use unseen_psi::{
    KeyLabel, Params, Progress, PsiError, PsiOutput, Reveal, run_follower, run_leader,
};

use crate::control::{Curve, PsiMode};

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

/// Runs one role over `ch` with the group chosen at run time.
pub fn run_role<C: Channel>(
    ch: &mut C,
    curve: Curve,
    leader: bool,
    items: &[String],
    params: Params,
    progress: &(dyn Fn(Progress) + Sync),
) -> Result<PsiOutput, RoleError> {
    fn go<G: PsiGroup, C: Channel>(
        ch: &mut C,
        leader: bool,
        items: &[String],
        params: Params,
        progress: &(dyn Fn(Progress) + Sync),
    ) -> Result<PsiOutput, RoleError> {
        let mut rng = os_rng().map_err(RoleError::Rng)?;
        let out = if leader {
            run_leader::<G, _, _, _>(ch, items, params, &mut rng, progress)
        } else {
            run_follower::<G, _, _, _>(ch, items, params, &mut rng, progress)
        };
        Ok(out?)
    }
    match curve {
        Curve::Ristretto255 => go::<Ristretto255, C>(ch, leader, items, params, progress),
        Curve::Sm2 => go::<Sm2, C>(ch, leader, items, params, progress),
    }
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
