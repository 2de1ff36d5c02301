//! What the oracle and the protocol share: fixed-point gradients, histograms of integer sums,
//! the split gain, trees, and the seeded samplers. Both sides compute every float from the same
//! integers in the same order, which is what makes the federated trees bit-identical to the
//! plaintext ones.

use unseen_crypto::he::FixedPoint;

use crate::FlError;

/// Fraction bits `P` of the fixed-point gradients and hessians: `g_q = round(g·2^P)`.
pub const FRAC_BITS: u32 = 40;
/// Bits of the hessian slot inside one row's plaintext (`v = g_q·2^W + h_q`): a sum of at most
/// [`MAX_ROWS`] hessians `≤ 2^(P−2)` stays below `2^62 < 2^W`.
pub const H_BITS: u32 = 63;
/// Most training rows (sums of gradients stay below `2^(P+24)`).
pub const MAX_ROWS: usize = (1 << 24) - 1;
/// Width of one histogram bin when the host packs several bins into one plaintext:
/// `(G + 2^64)·2^W + H < 2^(65+63)`.
pub const SLOT_BITS: u32 = 128;
/// Offset added to a bin's gradient sum before packing so that every slot is non-negative.
pub const G_OFFSET: i128 = 1 << 64;
/// A split must gain more than this (XGBoost's `kRtEps`) besides `gamma`.
pub const MIN_GAIN: f64 = 1e-6;

/// The fixed-point codec of gradients and hessians (`P =` [`FRAC_BITS`] fraction bits).
const CODEC: FixedPoint = FixedPoint::new(FRAC_BITS);

/// `round(x·2^P)`, `x` clipped to `|x| ≤ 1` (so the result is below `2^41`).
pub(crate) fn quantize(x: f64) -> i64 {
    CODEC.encode_clamped(x, 1.0)
}

/// A sum of quantized gradients and hessians.
#[derive(Clone, Copy, Default, PartialEq, Eq)]
pub struct GH {
    /// Σ g_q.
    pub g: i128,
    /// Σ h_q.
    pub h: i128,
}

impl core::fmt::Debug for GH {
    // Gradient sums are secrets of the guest.
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("GH(..)")
    }
}

impl core::ops::AddAssign for GH {
    fn add_assign(&mut self, o: Self) {
        self.g += o.g;
        self.h += o.h;
    }
}

impl core::ops::Sub for GH {
    type Output = Self;
    fn sub(self, o: Self) -> Self {
        Self {
            g: self.g - o.g,
            h: self.h - o.h,
        }
    }
}

impl GH {
    /// `(G, H)` as floats (rounded to `f64` the same way on both sides: that is the point).
    pub(crate) fn to_f64(self) -> (f64, f64) {
        (CODEC.decode(self.g), CODEC.decode(self.h))
    }
}

/// Tree hyper-parameters (the guest's; the host needs none of them).
#[derive(Clone, Debug, PartialEq)]
pub struct TreeParams {
    /// Trees to grow at most.
    pub trees: u32,
    /// Maximum depth (`1..=`[`MAX_DEPTH`]).
    pub max_depth: u8,
    /// Shrinkage of each leaf weight.
    pub learning_rate: f64,
    /// L2 regularisation of leaf weights (`lambda`).
    pub lambda: f64,
    /// Smallest hessian sum of a child.
    pub min_child_weight: f64,
    /// Smallest gain of a split (`gamma`, XGBoost's `min_split_loss`).
    pub gamma: f64,
    /// Initial probability; `None`: the training labels' mean.
    pub base_score: Option<f64>,
    /// Fraction of rows sampled per tree (`(0, 1]`), guest-driven.
    pub row_sample: f64,
    /// Fraction of the guest's features sampled per tree (`(0, 1]`).
    pub col_sample: f64,
    /// Seed of the guest's samplers.
    pub seed: u64,
    /// Stop when the validation log-loss has not improved for this many trees (needs
    /// validation rows); the model keeps the trees up to the best one.
    pub early_stopping_rounds: Option<u32>,
}

/// Deepest tree supported (levels are addressed with `u16` node indices).
pub const MAX_DEPTH: u8 = 15;

impl Default for TreeParams {
    fn default() -> Self {
        Self {
            trees: 100,
            max_depth: 5,
            learning_rate: 0.1,
            lambda: 1.0,
            min_child_weight: 1.0,
            gamma: 0.0,
            base_score: None,
            row_sample: 1.0,
            col_sample: 1.0,
            seed: 0,
            early_stopping_rounds: None,
        }
    }
}

impl TreeParams {
    /// Checks ranges.
    ///
    /// # Errors
    ///
    /// [`FlError::InvalidInput`] naming the parameter out of range.
    pub fn validate(&self) -> Result<(), FlError> {
        let bad = |s: &str| Err(FlError::InvalidInput(s.to_owned()));
        if self.trees == 0 {
            return bad("trees must be at least 1");
        }
        if !(1..=MAX_DEPTH).contains(&self.max_depth) {
            return bad("max_depth must be 1..=15");
        }
        if !(self.learning_rate > 0.0 && self.learning_rate.is_finite()) {
            return bad("learning_rate must be positive");
        }
        if !(self.lambda >= 0.0 && self.lambda.is_finite()) {
            return bad("lambda must be non-negative");
        }
        if !(self.min_child_weight >= 0.0 && self.min_child_weight.is_finite()) {
            return bad("min_child_weight must be non-negative");
        }
        if !(self.gamma >= 0.0 && self.gamma.is_finite()) {
            return bad("gamma must be non-negative");
        }
        if !(self.row_sample > 0.0 && self.row_sample <= 1.0) {
            return bad("row_sample must be in (0, 1]");
        }
        if !(self.col_sample > 0.0 && self.col_sample <= 1.0) {
            return bad("col_sample must be in (0, 1]");
        }
        if let Some(b) = self.base_score
            && !(b > 0.0 && b < 1.0)
        {
            return bad("base_score must be in (0, 1)");
        }
        Ok(())
    }
}

/// The score of a node, XGBoost's `G²/(H+λ)` (Chen & Guestrin 2016, eq. 7 without the ½,
/// as XGBoost computes `loss_chg`).
fn score(g: f64, h: f64, lambda: f64) -> f64 {
    g * g / (h + lambda)
}

/// Leaf weight `−G/(H+λ)·η` (SecureBoost eq. 6 with shrinkage).
pub(crate) fn leaf_weight(total: GH, p: &TreeParams) -> f64 {
    let (g, h) = total.to_f64();
    -(g / (h + p.lambda)) * p.learning_rate
}

/// The best split of one feature's histogram, if any beats `best` (strictly).
pub(crate) fn scan_feature(hist: &[GH], total: GH, p: &TreeParams, best: f64) -> Option<(u8, f64)> {
    let (g, h) = total.to_f64();
    let parent = score(g, h, p.lambda);
    let mut left = GH::default();
    let mut out: Option<(u8, f64)> = None;
    let mut top = best;
    // The last bin cannot be a split (nothing would go right).
    for (b, &bin) in hist.iter().enumerate().take(hist.len().saturating_sub(1)) {
        left += bin;
        let right = total - left;
        let (gl, hl) = left.to_f64();
        let (gr, hr) = right.to_f64();
        if hl < p.min_child_weight || hr < p.min_child_weight {
            continue;
        }
        let gain = score(gl, hl, p.lambda) + score(gr, hr, p.lambda) - parent;
        if gain > top {
            top = gain;
            out = Some((u8::try_from(b).unwrap_or(u8::MAX), gain));
        }
    }
    out
}

/// The smallest gain a split must exceed.
pub(crate) fn gain_floor(p: &TreeParams) -> f64 {
    p.gamma.max(MIN_GAIN)
}

/// Which party's rule splits a node, as the oracle sees it (it knows both parties' features).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Rule {
    /// Guest feature `feature`: rows with bin `≤ bin` go left.
    Guest {
        /// Guest feature index.
        feature: u32,
        /// Last bin going left.
        bin: u8,
    },
    /// Host feature `feature`: rows with bin `≤ bin` go left.
    Host {
        /// Host feature index.
        feature: u32,
        /// Last bin going left.
        bin: u8,
    },
}

/// A node of a tree; `S` is the split rule (the oracle's [`Rule`] or the guest's
/// [`super::model::GuestSplit`]).
#[derive(Clone, Debug, PartialEq)]
pub enum Node<S> {
    /// An internal node.
    Split {
        /// The rule.
        rule: S,
        /// Its gain (for feature importance).
        gain: f64,
        /// Index of the left child.
        left: u32,
        /// Index of the right child.
        right: u32,
    },
    /// A leaf with its (shrunk) weight.
    Leaf {
        /// The value added to the margin.
        weight: f64,
    },
}

/// A tree: nodes in creation order (level by level, left child before right), root at 0.
#[derive(Clone, Debug, PartialEq)]
pub struct Tree<S> {
    /// The nodes.
    pub nodes: Vec<Node<S>>,
}

impl<S: Copy> Tree<S> {
    /// Follows the tree from the root with `left(rule)` deciding each split; returns the leaf
    /// weight, or `None` for a malformed tree (a cycle or a dangling child).
    pub fn eval(&self, mut left: impl FnMut(S) -> bool) -> Option<f64> {
        let mut i = 0usize;
        for _ in 0..=self.nodes.len() {
            match self.nodes.get(i)? {
                Node::Leaf { weight } => return Some(*weight),
                Node::Split {
                    rule,
                    left: l,
                    right: r,
                    ..
                } => i = if left(*rule) { *l } else { *r } as usize,
            }
        }
        None
    }
}

/// SplitMix64 (Steele, Lea & Flood 2014): a seeded, portable mixer for the samplers. Sampling
/// needs reproducibility, not secrecy.
pub(crate) fn mix64(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// Whether `u` (uniform in `[0, 2^64)`) falls below `rate`.
#[allow(clippy::cast_precision_loss)] // a sampling threshold
fn below(u: u64, rate: f64) -> bool {
    rate >= 1.0 || (u as f64) < rate * 18_446_744_073_709_551_616.0
}

/// Rows sampled for tree `tree` (all when `rate = 1`).
pub fn sample_rows(n: usize, rate: f64, seed: u64, tree: u32) -> Vec<bool> {
    let base = mix64(seed ^ mix64(u64::from(tree) ^ 0x726f_7773));
    (0..n)
        .map(|i| below(mix64(base ^ (i as u64)), rate))
        .collect()
}

/// Features sampled for tree `tree`, increasing (at least one when there are features).
pub fn sample_columns(features: usize, rate: f64, seed: u64, tree: u32) -> Vec<usize> {
    let base = mix64(seed ^ mix64(u64::from(tree) ^ 0x636f_6c73));
    let mut out: Vec<usize> = (0..features)
        .filter(|&f| below(mix64(base ^ (f as u64)), rate))
        .collect();
    if out.is_empty() && features > 0 {
        out.push(usize::try_from(mix64(base) % (features as u64)).unwrap_or(0));
    }
    out
}

/// `1 / (1 + e^−x)`.
pub(crate) fn sigmoid(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

/// The initial margin: `logit(base_score)` or `logit(mean label)`.
#[allow(clippy::cast_precision_loss)] // a mean
pub(crate) fn base_margin(labels: &[u8], p: &TreeParams) -> f64 {
    let pbar = p.base_score.unwrap_or_else(|| {
        let pos = labels.iter().filter(|&&y| y == 1).count();
        (pos as f64 / labels.len().max(1) as f64).clamp(1e-6, 1.0 - 1e-6)
    });
    (pbar / (1.0 - pbar)).ln()
}

/// Quantized gradient and hessian of the logistic loss at `margin` for label `y`.
pub(crate) fn grad(margin: f64, y: u8) -> (i64, i64) {
    let p = sigmoid(margin);
    (quantize(p - f64::from(y)), quantize(p * (1.0 - p)))
}

/// Validates labels: 0 or 1, as many as rows, at most [`MAX_ROWS`] rows.
pub(crate) fn check_labels(labels: &[u8], rows: usize) -> Result<(), FlError> {
    if labels.len() != rows {
        return Err(FlError::InvalidInput(format!(
            "{} labels for {rows} rows",
            labels.len()
        )));
    }
    if rows == 0 || rows > MAX_ROWS {
        return Err(FlError::InvalidInput(format!(
            "{rows} rows, 1..={MAX_ROWS} supported"
        )));
    }
    if labels.iter().any(|&y| y > 1) {
        return Err(FlError::InvalidInput("labels must be 0 or 1".to_owned()));
    }
    Ok(())
}

/// Mean log-loss of margins against labels.
#[allow(clippy::cast_precision_loss)]
pub(crate) fn logloss(margins: &[f64], labels: &[u8]) -> f64 {
    let s: f64 = margins
        .iter()
        .zip(labels)
        .map(|(&m, &y)| {
            let p = sigmoid(m).clamp(1e-15, 1.0 - 1e-15);
            if y == 1 { -p.ln() } else { -(1.0 - p).ln() }
        })
        .sum();
    s / margins.len().max(1) as f64
}
