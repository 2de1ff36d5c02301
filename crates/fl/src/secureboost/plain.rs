//! The plaintext oracle: centralised histogram GBDT on both parties' binned features, with the
//! same fixed-point gradients, the same gain and the same node order as the federated protocol.
//! SecureBoost is lossless (Cheng et al. 2021, Theorem 1): on the same data the protocol must
//! build exactly these trees, which the integration tests check node by node.

use super::core::{
    GH, Node, Rule, TreeParams, base_margin, check_labels, gain_floor, grad, leaf_weight, logloss,
    sample_columns, sample_rows, scan_feature,
};
use crate::FlError;

/// One party's binned features: column-major bins and the number of bins per feature.
#[derive(Clone, Copy, Debug)]
pub struct Binned<'a> {
    /// `columns[f][row]`.
    pub columns: &'a [Vec<u8>],
    /// Bins of each feature.
    pub bins: &'a [usize],
}

/// A party's column sampling: rate and seed.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ColSample {
    /// Fraction of features per tree, `(0, 1]`.
    pub rate: f64,
    /// Seed.
    pub seed: u64,
}

impl Default for ColSample {
    fn default() -> Self {
        Self { rate: 1.0, seed: 0 }
    }
}

/// A plaintext model.
#[derive(Clone, Debug, PartialEq)]
pub struct PlainModel {
    /// Initial margin.
    pub base_margin: f64,
    /// The trees.
    pub trees: Vec<super::core::Tree<Rule>>,
}

impl PlainModel {
    /// Margins of rows given both parties' bins.
    pub fn margins(&self, guest: &[Vec<u8>], host: &[Vec<u8>], rows: usize) -> Vec<f64> {
        (0..rows)
            .map(|i| {
                let mut m = self.base_margin;
                for t in &self.trees {
                    m += t
                        .eval(|r| match r {
                            Rule::Guest { feature, bin } => guest[feature as usize][i] <= bin,
                            Rule::Host { feature, bin } => host[feature as usize][i] <= bin,
                        })
                        .unwrap_or(0.0);
                }
                m
            })
            .collect()
    }
}

/// Validation data for early stopping.
#[derive(Clone, Copy, Debug)]
pub struct PlainValid<'a> {
    /// Guest bins of the validation rows.
    pub guest: &'a [Vec<u8>],
    /// Host bins of the validation rows.
    pub host: &'a [Vec<u8>],
    /// Labels.
    pub labels: &'a [u8],
}

fn check(b: &Binned<'_>, rows: usize) -> Result<(), FlError> {
    if b.columns.len() != b.bins.len()
        || b.columns.iter().any(|c| c.len() != rows)
        || b.columns
            .iter()
            .zip(b.bins)
            .any(|(c, &k)| k == 0 || k > 256 || c.iter().any(|&v| usize::from(v) >= k))
    {
        return Err(FlError::InvalidInput(
            "binned columns inconsistent with their bin counts".to_owned(),
        ));
    }
    Ok(())
}

fn histogram(col: &[u8], nbins: usize, rows: &[u32], gh: &[GH], sampled: &[bool]) -> Vec<GH> {
    let mut h = vec![GH::default(); nbins];
    for &r in rows {
        let r = r as usize;
        if sampled[r] {
            h[usize::from(col[r])] += gh[r];
        }
    }
    h
}

/// Trains the oracle.
///
/// # Errors
///
/// [`FlError::InvalidInput`] for inconsistent inputs or parameters.
pub fn train(
    guest: Binned<'_>,
    host: Binned<'_>,
    labels: &[u8],
    p: &TreeParams,
    host_cols: ColSample,
    valid: Option<PlainValid<'_>>,
) -> Result<PlainModel, FlError> {
    p.validate()?;
    let n = labels.len();
    check_labels(labels, n)?;
    check(&guest, n)?;
    check(&host, n)?;
    let base = base_margin(labels, p);
    let mut margins = vec![base; n];
    let mut model = PlainModel {
        base_margin: base,
        trees: Vec::new(),
    };
    let mut vmargins = valid.map(|v| vec![base; v.labels.len()]);
    let mut best = (f64::INFINITY, 0usize);
    let floor = gain_floor(p);
    for t in 0..p.trees {
        let gh: Vec<GH> = margins
            .iter()
            .zip(labels)
            .map(|(&m, &y)| {
                let (g, h) = grad(m, y);
                GH {
                    g: i128::from(g),
                    h: i128::from(h),
                }
            })
            .collect();
        let sampled = sample_rows(n, p.row_sample, p.seed, t);
        let gcols = sample_columns(guest.columns.len(), p.col_sample, p.seed, t);
        let hcols = sample_columns(host.columns.len(), host_cols.rate, host_cols.seed, t);
        let mut nodes: Vec<Node<Rule>> = vec![Node::Leaf { weight: 0.0 }];
        let all: Vec<u32> = (0..u32::try_from(n).map_err(|_| FlError::Internal("rows"))?).collect();
        let mut level: Vec<(usize, Vec<u32>)> = vec![(0, all)];
        let mut leaf_of = vec![0usize; n];
        for depth in 0..=p.max_depth {
            let mut next = Vec::new();
            for (id, rows) in level {
                let total = rows.iter().filter(|&&r| sampled[r as usize]).fold(
                    GH::default(),
                    |mut a, &r| {
                        a += gh[r as usize];
                        a
                    },
                );
                let mut found: Option<(Rule, f64)> = None;
                if depth < p.max_depth {
                    let mut top = floor;
                    for &f in &gcols {
                        let hist =
                            histogram(&guest.columns[f], guest.bins[f], &rows, &gh, &sampled);
                        if let Some((bin, gain)) = scan_feature(&hist, total, p, top) {
                            top = gain;
                            found = Some((
                                Rule::Guest {
                                    feature: u32::try_from(f).unwrap_or(0),
                                    bin,
                                },
                                gain,
                            ));
                        }
                    }
                    for &f in &hcols {
                        let hist = histogram(&host.columns[f], host.bins[f], &rows, &gh, &sampled);
                        if let Some((bin, gain)) = scan_feature(&hist, total, p, top) {
                            top = gain;
                            found = Some((
                                Rule::Host {
                                    feature: u32::try_from(f).unwrap_or(0),
                                    bin,
                                },
                                gain,
                            ));
                        }
                    }
                }
                match found {
                    Some((rule, gain)) => {
                        let (col, bin) = match rule {
                            Rule::Guest { feature, bin } => (&guest.columns[feature as usize], bin),
                            Rule::Host { feature, bin } => (&host.columns[feature as usize], bin),
                        };
                        let (l, r): (Vec<u32>, Vec<u32>) =
                            rows.iter().partition(|&&i| col[i as usize] <= bin);
                        let li = nodes.len();
                        nodes.push(Node::Leaf { weight: 0.0 });
                        nodes.push(Node::Leaf { weight: 0.0 });
                        nodes[id] = Node::Split {
                            rule,
                            gain,
                            left: u32::try_from(li).unwrap_or(0),
                            right: u32::try_from(li + 1).unwrap_or(0),
                        };
                        next.push((li, l));
                        next.push((li + 1, r));
                    }
                    None => {
                        nodes[id] = Node::Leaf {
                            weight: leaf_weight(total, p),
                        };
                        for &r in &rows {
                            leaf_of[r as usize] = id;
                        }
                    }
                }
            }
            level = next;
            if level.is_empty() {
                break;
            }
        }
        let tree = super::core::Tree { nodes };
        for (m, &leaf) in margins.iter_mut().zip(&leaf_of) {
            if let Node::Leaf { weight } = tree.nodes[leaf] {
                *m += weight;
            }
        }
        model.trees.push(tree);
        if let (Some(v), Some(vm), Some(rounds)) =
            (valid, vmargins.as_mut(), p.early_stopping_rounds)
        {
            let rows = v.labels.len();
            let last = PlainModel {
                base_margin: 0.0,
                trees: vec![model.trees[model.trees.len() - 1].clone()],
            };
            for (m, d) in vm.iter_mut().zip(last.margins(v.guest, v.host, rows)) {
                *m += d;
            }
            let loss = logloss(vm, v.labels);
            let ti = model.trees.len() - 1;
            if loss < best.0 {
                best = (loss, ti);
            } else if ti - best.1 >= rounds as usize {
                model.trees.truncate(best.1 + 1);
                break;
            }
        }
    }
    Ok(model)
}

/// The oracle on raw columns, as the two parties would see them: each party's quantile bins are
/// fitted on its own training columns ([`super::BinCuts::fit`], as [`super::GuestConfig::new`]
/// and [`super::HostConfig::new`] do), the model is trained centrally on the same integers, and
/// the test rows are scored with the training cuts. Returns the model and the test rows'
/// probabilities. Used by the demo, the benchmark and the tests as the lossless reference.
///
/// # Errors
///
/// [`FlError::InvalidInput`] for inconsistent columns or parameters.
#[allow(clippy::too_many_arguments)] // two parties × (train, test) plus the shared inputs
pub fn fit_and_score(
    guest_train: &[Vec<f64>],
    host_train: &[Vec<f64>],
    labels: &[u8],
    bins: usize,
    p: &TreeParams,
    host_cols: ColSample,
    guest_test: &[Vec<f64>],
    host_test: &[Vec<f64>],
) -> Result<(PlainModel, Vec<f64>), FlError> {
    let gc = super::BinCuts::fit(guest_train, bins)?;
    let hc = super::BinCuts::fit(host_train, bins)?;
    let (gb, hb) = (gc.bin_columns(guest_train)?, hc.bin_columns(host_train)?);
    let gn: Vec<usize> = (0..gb.len()).map(|f| gc.bins_of(f)).collect();
    let hn: Vec<usize> = (0..hb.len()).map(|f| hc.bins_of(f)).collect();
    let model = train(
        Binned {
            columns: &gb,
            bins: &gn,
        },
        Binned {
            columns: &hb,
            bins: &hn,
        },
        labels,
        p,
        host_cols,
        None,
    )?;
    let rows = guest_test.first().map_or(0, Vec::len);
    let scores = model
        .margins(
            &gc.bin_columns(guest_test)?,
            &hc.bin_columns(host_test)?,
            rows,
        )
        .into_iter()
        .map(super::core::sigmoid)
        .collect();
    Ok((model, scores))
}
