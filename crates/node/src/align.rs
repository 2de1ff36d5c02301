//! Row alignment for the kinds that compute on common rows (`train`, `predict`, and any kind
//! that joins two datasets): read the dataset, align it with the partner's by PSI in mode
//! `both` (or check that it already is, by digest), and parse the wanted columns of the common
//! rows.
//!
//! The alignment is the PSI of `unseen-psi` (ristretto255): both nodes learn which of their rows
//! are common, and the common rows come out sorted by key on both sides, so row `i` is the same
//! customer on both nodes. Nothing else of a dataset leaves its node.

use std::path::Path;

use unseen_channel::Channel;
use unseen_crypto::CurveId;
use unseen_data::{DuplicatePolicy, Table};
use unseen_psi::Reveal;
use unseen_store::Dataset;

use crate::control;
use crate::job_error::JobError;
use crate::kinds::Ctx;
use crate::kinds::psi as psi_kind;
use crate::kinds::train::Minimums;
use crate::ops;

// Errors of this module name files, lines, columns and counts; a value from a file appears
// only masked ([`unseen_data::mask_key`]), since the messages become job reasons, log lines and
// audit records.

/// One party's columns for the common rows, in the aligned order.
pub struct Aligned {
    /// The normalised keys of the common rows (never logged).
    pub keys: Vec<String>,
    /// The feature columns' names, in the order of `columns`.
    pub names: Vec<String>,
    /// Feature values, column-major: `columns[j][i]` is feature `j` of common row `i`.
    pub columns: Vec<Vec<f64>>,
    /// The label of each common row (0 or 1), for the party that holds it.
    pub labels: Option<Vec<u8>>,
    /// How many rows the dataset has (before alignment).
    pub rows: usize,
}

impl std::fmt::Debug for Aligned {
    // Keys, features and labels are personal data: counts only.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Aligned")
            .field("rows", &self.rows)
            .field("common", &self.keys.len())
            .field("features", &self.names.len())
            .field("labels", &self.labels.is_some())
            .finish()
    }
}

/// Which columns a party uses.
#[derive(Clone, Debug)]
pub enum Columns {
    /// Every column but the key and the label (training: the features are what the file has).
    AllBut {
        /// The label column to take out (and read), if this party holds the labels.
        label: Option<String>,
    },
    /// Exactly these features, by name (prediction with a trained model), and optionally the
    /// label (a report).
    Named {
        /// Feature names in the model's order.
        features: Vec<String>,
        /// The label column, for a report.
        label: Option<String>,
    },
}

/// Reads the dataset (whole rows, unique keys), aligns it with the partner's by PSI (mode
/// `both`; the initiator leads) and parses the wanted columns of the common rows.
///
/// With `aligned` the datasets are taken as already aligned (row `i` is the same customer on
/// both nodes, e.g. the outputs of an earlier PSI job): no PSI; each node sends its row count
/// and the SM3 digest of its keys in file order ([`key_digest`]) and both refuse to go on
/// unless they are equal.
///
/// With `minimums` (training), the dataset is refused before the alignment if it cannot reach
/// them (fewer rows than `rows`; on the guest, fewer than `per_class` labels of either class),
/// and again on the common rows after it, before any training work.
pub fn align<C: Channel>(
    ctx: &mut Ctx<'_, C>,
    dataset: &Dataset,
    columns: &Columns,
    aligned: bool,
    minimums: Option<Minimums>,
) -> Result<Aligned, JobError> {
    let (initiator, max_peer_items) = (ctx.initiator, ctx.peer_limit);
    let input = JobError::input;
    let mut opts = ops::read_options(dataset).map_err(|e| input(e.to_string()))?;
    opts.duplicates = DuplicatePolicy::Error;
    let path = Path::new(&dataset.path);
    let table = unseen_data::read_table(path, &opts)
        .map_err(|e| input(format!("dataset {}: {e}", dataset.name)))?;
    // Check the columns and the sizes before the partner spends anything on the alignment.
    let (feature_idx, names, label_idx) = pick_columns(&table, path, columns).map_err(input)?;
    if let Some(m) = minimums {
        let all: Vec<usize> = (0..table.keys.len()).collect();
        check_minimums(&table, &dataset.name, label_idx.as_ref(), &all, m, "").map_err(input)?;
    }
    let common: Vec<usize> = if aligned {
        check_aligned(ctx.ch, &table.keys, initiator)?;
        (0..table.keys.len()).collect()
    } else {
        let params = psi_kind::params(Reveal::Both, opts.key_type, max_peer_items)
            .map_err(|e| JobError::caused(e.fault(), "", e))?;
        let progress = crate::kinds::progress(ctx.node, &ctx.job.id);
        let out = psi_kind::run_role(
            ctx.ch,
            CurveId::Ristretto255,
            initiator,
            &table.keys,
            params,
            &progress,
        )
        .map_err(|e| e.job_error(ctx.partner).context("aligning the rows by PSI"))?;
        out.intersection
            .ok_or_else(|| JobError::internal("the alignment gave no rows (internal error)"))?
    };
    if common.is_empty() {
        return Err(input(format!(
            "dataset {} has no customer in common with the partner's dataset",
            dataset.name
        )));
    }
    if let Some(m) = minimums {
        check_minimums(
            &table,
            &dataset.name,
            label_idx.as_ref(),
            &common,
            m,
            " in common with the partner's",
        )
        .map_err(input)?;
    }
    let columns = feature_idx
        .iter()
        .zip(&names)
        .map(|(&j, name)| {
            common
                .iter()
                .map(|&i| parse_number(&table, path, i, j, name))
                .collect::<Result<Vec<f64>, String>>()
        })
        .collect::<Result<Vec<_>, _>>()
        .map_err(input)?;
    let labels = match label_idx {
        Some((j, name)) => Some(
            common
                .iter()
                .map(|&i| parse_label(&table, path, i, j, &name))
                .collect::<Result<Vec<u8>, String>>()
                .map_err(input)?,
        ),
        None => None,
    };
    Ok(Aligned {
        keys: common.iter().map(|&i| table.keys[i].clone()).collect(),
        names,
        columns,
        labels,
        rows: table.keys.len(),
    })
}

/// The named `features` of row `i` of a table (a score session's row), parsed as numbers.
pub fn row_features(
    table: &Table,
    path: &Path,
    i: usize,
    features: &[String],
) -> Result<Vec<f64>, String> {
    let columns = Columns::Named {
        features: features.to_vec(),
        label: None,
    };
    let (idx, names, _) = pick_columns(table, path, &columns)?;
    idx.iter()
        .zip(&names)
        .map(|(&j, name)| parse_number(table, path, i, j, name))
        .collect()
}

/// SM3 over the keys in order, each as a 4-byte big-endian length and its bytes (so that no
/// two different key lists share an encoding).
pub fn key_digest(keys: &[String]) -> String {
    use sm3::Digest;
    let mut h = sm3::Sm3::new();
    for k in keys {
        // A key is one CSV field, far below 4 GiB.
        h.update(u32::try_from(k.len()).unwrap_or(u32::MAX).to_be_bytes());
        h.update(k.as_bytes());
    }
    hex::encode(h.finalize())
}

/// The alignment check of already-aligned datasets: the initiator sends first, the responder
/// answers with its own; each compares. What a node learns: the partner's row count and the
/// digest of its key list, nothing it could not learn from the PSI it replaces (a digest of a
/// whole list of identity numbers cannot be inverted short of guessing the whole list).
fn check_aligned<C: Channel>(ch: &mut C, keys: &[String], initiator: bool) -> Result<(), JobError> {
    let ours = control::AlignCheck {
        rows: keys.len() as u64,
        keys_sm3: key_digest(keys),
    };
    let err = |e: control::ControlError| {
        JobError::caused(e.fault(), "checking that the datasets are aligned", e)
    };
    let theirs = if initiator {
        control::send_align_check(ch, &ours).map_err(err)?;
        control::recv_align_check(ch).map_err(err)?
    } else {
        let t = control::recv_align_check(ch).map_err(err)?;
        control::send_align_check(ch, &ours).map_err(err)?;
        t
    };
    if theirs.rows != ours.rows {
        return Err(JobError::input(format!(
            "the datasets are not aligned: this dataset has {} rows, the partner's {}; \
             leave out --aligned to align them by PSI",
            ours.rows, theirs.rows
        )));
    }
    if theirs.keys_sm3 != ours.keys_sm3 {
        return Err(JobError::input(format!(
            "the datasets are not aligned: both have {} rows but not the same keys in the same \
             order; leave out --aligned to align them by PSI",
            ours.rows
        )));
    }
    Ok(())
}

/// The training minimums on `rows` of a table: at least `m.rows` rows and, when the table holds
/// the label (`label`), at least `m.per_class` rows of each class. Counts only in the message.
fn check_minimums(
    table: &Table,
    dataset: &str,
    label: Option<&(usize, String)>,
    rows: &[usize],
    m: Minimums,
    which: &str,
) -> Result<(), String> {
    if rows.len() < m.rows as usize {
        return Err(format!(
            "dataset {dataset} has {} rows{which}; training needs at least {} (--min-rows)",
            rows.len(),
            m.rows
        ));
    }
    let Some((j, name)) = label else {
        return Ok(());
    };
    let (mut zeros, mut ones) = (0usize, 0usize);
    for &i in rows {
        match table.rows[i].get(*j).map(str::trim) {
            Some("0" | "0.0") => zeros += 1,
            Some("1" | "1.0") => ones += 1,
            // Bad labels are reported (masked) when the common rows' labels are read.
            _ => {}
        }
    }
    if zeros < m.per_class as usize || ones < m.per_class as usize {
        return Err(format!(
            "dataset {dataset}: label column {name:?} has {ones} rows of class 1 and {zeros} of \
             class 0{which}; training needs at least {} of each (--min-class-rows)",
            m.per_class
        ));
    }
    Ok(())
}

type Picked = (Vec<usize>, Vec<String>, Option<(usize, String)>);

fn pick_columns(table: &Table, path: &Path, columns: &Columns) -> Result<Picked, String> {
    let find = |name: &str| {
        table
            .headers
            .iter()
            .position(|h| h.trim() == name.trim())
            .ok_or_else(|| {
                // The header is not listed: the reason reaches the job record, the log and the
                // audit, and names from a file are content (`unseen dataset list` shows them).
                let shown: String = name.chars().take(64).collect();
                format!(
                    "{}: no column {shown:?} among its {} columns (`unseen dataset list` shows \
                     them)",
                    path.display(),
                    table.headers.len()
                )
            })
    };
    let (label, features) = match columns {
        Columns::AllBut { label } => (label.as_deref(), None),
        Columns::Named { features, label } => (label.as_deref(), Some(features)),
    };
    let label_idx = label
        .map(|l| find(l).map(|j| (j, l.to_owned())))
        .transpose()?;
    let feature_idx: Vec<usize> = match features {
        Some(names) => names.iter().map(|n| find(n)).collect::<Result<_, _>>()?,
        None => (0..table.headers.len())
            .filter(|&j| Some(j) != table.key_index && Some(j) != label_idx.as_ref().map(|l| l.0))
            .collect(),
    };
    if feature_idx.is_empty() {
        return Err(format!(
            "{}: no feature columns (every column but the key{} is a feature)",
            path.display(),
            if label.is_some() {
                " and the label"
            } else {
                ""
            }
        ));
    }
    let names = feature_idx
        .iter()
        .map(|&j| table.headers[j].trim().to_owned())
        .collect();
    Ok((feature_idx, names, label_idx))
}

fn field<'a>(
    table: &'a Table,
    path: &Path,
    i: usize,
    j: usize,
    name: &str,
) -> Result<&'a str, String> {
    let row = &table.rows[i];
    row.get(j).map(str::trim).ok_or_else(|| {
        format!(
            "{}: line {}: no field for column {name:?}",
            path.display(),
            row.line()
        )
    })
}

fn parse_number(table: &Table, path: &Path, i: usize, j: usize, name: &str) -> Result<f64, String> {
    let raw = field(table, path, i, j, name)?;
    match raw.parse::<f64>() {
        Ok(v) if v.is_finite() => Ok(v),
        _ => Err(format!(
            "{}: line {}: column {name:?}: {} is not a finite number (features must be numeric; \
             missing values are not supported yet)",
            path.display(),
            table.rows[i].line(),
            if raw.is_empty() {
                "an empty field".to_owned()
            } else {
                masked(raw)
            }
        )),
    }
}

fn parse_label(table: &Table, path: &Path, i: usize, j: usize, name: &str) -> Result<u8, String> {
    let raw = field(table, path, i, j, name)?;
    match raw {
        "0" | "0.0" => Ok(0),
        "1" | "1.0" => Ok(1),
        _ => Err(format!(
            "{}: line {}: label column {name:?}: {} is not 0 or 1",
            path.display(),
            table.rows[i].line(),
            masked(raw)
        )),
    }
}

/// A field's value as error messages show it: masked ([`unseen_data::mask_key`]: a wrong
/// column can hold ID-card or phone numbers) and cut to 40 characters, with its length. The
/// messages become job reasons, `node.log` lines and audit records.
fn masked(raw: &str) -> String {
    let n = raw.chars().count();
    let m: String = unseen_data::mask_key(raw).chars().take(40).collect();
    format!("the value {m:?} ({n} characters, masked)")
}
