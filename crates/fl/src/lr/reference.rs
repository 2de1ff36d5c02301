//! Plaintext logistic regression on the joined data: the oracle of the federated run.
//!
//! [`Gradient::FixedPoint`] computes, without encryption or masks, exactly the integers the
//! federated protocol decrypts (`D_i = T_A,i + T_B,i`, `G_j = Σ D_i·X_ij`, see
//! [`super::fixed`]) and applies the same `f64` update, batches and convergence rule: a correct
//! federated run reproduces its weights bit for bit. [`Gradient::Taylor`] is the same Taylor
//! gradient in `f64` without fixed point, [`Gradient::Sigmoid`] the exact logistic gradient
//! `σ(u) − y` (to show the approximation's effect).

use super::fixed::{self, Standardizer};
use super::model::sigmoid;
use super::{LrConfig, LrError, LrGuestModel, LrHostModel, ModelId};

/// Which gradient the reference uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Gradient {
    /// The federated protocol's fixed-point Taylor gradient, exactly.
    FixedPoint,
    /// `(¼u − ½y')·x` in `f64` on the unquantized standardized features.
    Taylor,
    /// `(σ(u) − y)·x` in `f64`.
    Sigmoid,
}

/// The reference's result.
#[derive(Clone, Debug)]
pub struct ReferenceOutput {
    /// The guest's part.
    pub guest: LrGuestModel,
    /// The host's part.
    pub host: LrHostModel,
    /// Epochs run.
    pub epochs: u32,
    /// Whether both parts converged.
    pub converged: bool,
}

struct Party {
    st: Standardizer,
    x: Vec<i64>,
    z: Vec<f64>,
    d: usize,
    w: Vec<f64>,
    intercept: bool,
}

impl Party {
    fn new(rows: &[Vec<f64>], intercept: bool) -> Result<Self, LrError> {
        let cols = rows.first().map_or(0, Vec::len);
        if cols == 0 {
            return Err(LrError::InvalidInput("feature count must be in 1..=4096"));
        }
        let st = Standardizer::fit(rows, cols)?;
        let x = fixed::design(rows, &st, intercept);
        let d = cols + usize::from(intercept);
        let mut z = Vec::with_capacity(rows.len() * d);
        for r in rows {
            z.extend(r.iter().enumerate().map(|(j, &v)| st.z(j, v)));
            if intercept {
                z.push(1.0);
            }
        }
        Ok(Self {
            st,
            x,
            z,
            d,
            w: vec![0.0; d],
            intercept,
        })
    }

    fn u_fixed(&self, i: usize, epoch: u32) -> Result<i64, LrError> {
        fixed::encode_linear(
            fixed::linear(&self.w, &self.x[i * self.d..(i + 1) * self.d]),
            epoch,
        )
    }

    fn u_float(&self, i: usize) -> f64 {
        self.w
            .iter()
            .zip(&self.z[i * self.d..(i + 1) * self.d])
            .map(|(w, z)| w * z)
            .sum()
    }

    fn fixed_gradient(&self, rows: &[usize], dd: &[i128]) -> Vec<f64> {
        (0..self.d)
            .map(|j| {
                let g: i128 = rows
                    .iter()
                    .zip(dd)
                    .map(|(&i, &di)| di * i128::from(self.x[i * self.d + j]))
                    .sum();
                fixed::gradient(g, rows.len())
            })
            .collect()
    }

    #[allow(clippy::cast_precision_loss)] // batch sizes ≤ 2^16
    fn float_gradient(&self, rows: &[usize], r: &[f64]) -> Vec<f64> {
        (0..self.d)
            .map(|j| {
                rows.iter()
                    .zip(r)
                    .map(|(&i, &ri)| ri * self.z[i * self.d + j])
                    .sum::<f64>()
                    / rows.len() as f64
            })
            .collect()
    }
}

/// Trains on the joined data with the federated run's batches (`shuffle_seed`).
///
/// # Errors
///
/// [`LrError::InvalidInput`], [`LrError::InvalidConfig`], [`LrError::Diverged`].
pub fn train(
    config: &LrConfig,
    guest_rows: &[Vec<f64>],
    labels: &[bool],
    host_rows: &[Vec<f64>],
    shuffle_seed: &[u8; 32],
    model_id: ModelId,
    gradient: Gradient,
) -> Result<ReferenceOutput, LrError> {
    config.validate()?;
    let n = guest_rows.len();
    if labels.len() != n || host_rows.len() != n {
        return Err(LrError::InvalidInput(
            "guest, host and labels differ in rows",
        ));
    }
    let mut a = Party::new(guest_rows, config.fit_intercept)?;
    let mut b = Party::new(host_rows, false)?;
    let count = fixed::batch_count(n, config.batch_size);
    let (mut epochs, mut converged) = (0, false);
    for epoch in 0..config.epochs {
        let order = fixed::permutation(shuffle_seed, epoch, n);
        let (a0, b0) = (a.w.clone(), b.w.clone());
        for k in 0..count {
            let (lo, hi) = fixed::batch_bounds(n, count, k);
            let rows = &order[lo..hi];
            let (ga, gb) = match gradient {
                Gradient::FixedPoint => {
                    let mut dd = Vec::with_capacity(rows.len());
                    for &i in rows {
                        let ta = a.u_fixed(i, epoch)? + fixed::label_term(labels[i]);
                        let tb = b.u_fixed(i, epoch)?;
                        dd.push(i128::from(ta) + i128::from(tb));
                    }
                    (a.fixed_gradient(rows, &dd), b.fixed_gradient(rows, &dd))
                }
                Gradient::Taylor | Gradient::Sigmoid => {
                    let r: Vec<f64> = rows
                        .iter()
                        .map(|&i| {
                            let u = a.u_float(i) + b.u_float(i);
                            let y = if labels[i] { 1.0 } else { 0.0 };
                            if gradient == Gradient::Taylor {
                                0.25 * u - 0.5 * (2.0 * y - 1.0)
                            } else {
                                sigmoid(u) - y
                            }
                        })
                        .collect();
                    (a.float_gradient(rows, &r), b.float_gradient(rows, &r))
                }
            };
            fixed::update(&mut a.w, &ga, config, a.intercept);
            fixed::update(&mut b.w, &gb, config, false);
        }
        epochs = epoch + 1;
        if fixed::converged(&a0, &a.w, config.tol) && fixed::converged(&b0, &b.w, config.tol) {
            converged = true;
            break;
        }
    }
    let mut wa = a.w;
    let intercept = if config.fit_intercept { wa.pop() } else { None };
    Ok(ReferenceOutput {
        guest: LrGuestModel {
            model_id,
            standardizer: a.st,
            weights: wa,
            intercept,
        },
        host: LrHostModel {
            model_id,
            standardizer: b.st,
            weights: b.w,
        },
        epochs,
        converged,
    })
}

/// Plaintext scores `σ(u_A + u_B)` of joined rows.
///
/// # Errors
///
/// [`LrError::InvalidInput`] for mismatched rows.
pub fn predict(
    guest: &LrGuestModel,
    host: &LrHostModel,
    guest_rows: &[Vec<f64>],
    host_rows: &[Vec<f64>],
) -> Result<Vec<f64>, LrError> {
    let host_partial = host.partial_scores(host_rows)?;
    guest.scores(guest_rows, &host_partial)
}

/// Area under the ROC curve (the Mann–Whitney statistic, ties counted one half); `None` if
/// one class is absent or the lengths differ.
#[allow(clippy::cast_precision_loss)] // counts ≤ 2^28
pub fn auc(scores: &[f64], labels: &[bool]) -> Option<f64> {
    if scores.len() != labels.len() {
        return None;
    }
    let mut idx: Vec<usize> = (0..scores.len()).collect();
    idx.sort_by(|&i, &j| scores[i].total_cmp(&scores[j]));
    let (mut rank_sum, mut i) = (0.0, 0);
    while i < idx.len() {
        let mut j = i;
        while j + 1 < idx.len() && scores[idx[j + 1]] == scores[idx[i]] {
            j += 1;
        }
        // Ranks i+1..=j+1 share their average.
        let avg = (i + j + 2) as f64 / 2.0;
        rank_sum += avg * idx[i..=j].iter().filter(|&&k| labels[k]).count() as f64;
        i = j + 1;
    }
    let pos = labels.iter().filter(|&&l| l).count() as f64;
    let neg = labels.len() as f64 - pos;
    if pos == 0.0 || neg == 0.0 {
        return None;
    }
    Some((rank_sum - pos * (pos + 1.0) / 2.0) / (pos * neg))
}
