//! Binary-classification metrics for a probability-of-default model.
//!
//! Conventions used throughout (see `docs/model-report.md` for formulas and sources):
//! - a **score** is an estimated probability of default: a higher score means "more likely bad";
//! - a **label** is `1` for a bad (default, the positive class) and `0` for a good;
//! - a row is **predicted bad at threshold `t`** when `score >= t`;
//! - TPR (recall, hit rate) = TP / bads, FPR (false alarm rate) = FP / goods.
//!
//! AUC follows Fawcett (2006), "An introduction to ROC analysis", Pattern Recognition Letters
//! 27(8), §7 (AUC as the probability that a random bad outranks a random good; a tie counts one
//! half) computed as the Mann–Whitney U statistic in O(n log n). KS, lift/gain by decile and
//! PSI follow the scorecard conventions in Siddiqi (2006), "Credit Risk Scorecards", Wiley, ch. 6
//! (KS, gains table) and ch. 8 (system stability index).
//!
//! Every function validates its input: empty slices, length mismatch, labels other than 0/1,
//! non-finite scores and (for rank metrics) a single class are typed [`ReportError`]s.

use crate::ReportError;

/// The Kolmogorov–Smirnov statistic: the largest TPR − FPR over all thresholds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Ks {
    /// max over thresholds of TPR − FPR, in [0, 1] (the threshold +∞ gives 0).
    pub ks: f64,
    /// The score at which the maximum occurs (rows with `score >= threshold` are predicted bad);
    /// `+∞` when no threshold separates better than "predict nothing bad".
    pub threshold: f64,
    /// TPR (cumulative share of bads) at that threshold.
    pub tpr: f64,
    /// FPR (cumulative share of goods) at that threshold.
    pub fpr: f64,
    /// Share of the whole population predicted bad at that threshold.
    pub depth: f64,
}

/// The confusion matrix at one threshold (`score >= threshold` is predicted bad).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Confusion {
    /// The decision threshold.
    pub threshold: f64,
    /// Bads predicted bad.
    pub tp: u64,
    /// Goods predicted bad.
    pub fp: u64,
    /// Goods predicted good.
    pub tn: u64,
    /// Bads predicted good.
    pub fn_: u64,
    /// TP / (TP + FP); `None` when nothing is predicted bad.
    pub precision: Option<f64>,
    /// TP / (TP + FN) (= TPR).
    pub recall: f64,
    /// FP / (FP + TN).
    pub fpr: f64,
    /// (TP + TN) / n.
    pub accuracy: f64,
    /// 2·precision·recall / (precision + recall); `None` when precision is undefined or both are 0.
    pub f1: Option<f64>,
}

/// One row of the gains (lift) table. Deciles are numbered from 1 (highest scores) to 10.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DecileRow {
    /// 1 = the tenth of the population with the highest scores.
    pub decile: u8,
    /// Rows in this decile (tied scores are never split, so counts may differ by the tie sizes).
    pub count: u64,
    /// Bads in this decile.
    pub bads: u64,
    /// Goods in this decile.
    pub goods: u64,
    /// Lowest score in the decile (`None` when the decile is empty).
    pub min_score: Option<f64>,
    /// Highest score in the decile (`None` when the decile is empty).
    pub max_score: Option<f64>,
    /// bads / count (`None` when the decile is empty).
    pub bad_rate: Option<f64>,
    /// Cumulative share of the population in deciles 1..=this.
    pub cum_population: f64,
    /// Cumulative share of all bads captured in deciles 1..=this (the gain).
    pub cum_bads: f64,
    /// Cumulative share of all goods in deciles 1..=this.
    pub cum_goods: f64,
    /// bad_rate / overall bad rate (`None` when the decile is empty).
    pub lift: Option<f64>,
    /// cumulative bad rate / overall bad rate (`None` while no row is accumulated).
    pub cum_lift: Option<f64>,
    /// cum_bads − cum_goods (signed; its maximum over deciles approximates KS).
    pub ks: f64,
}

/// One bin of the population stability index.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PsiBin {
    /// Lower cut (exclusive); `-∞` for the first bin.
    pub lower: f64,
    /// Upper cut (inclusive); `+∞` for the last bin.
    pub upper: f64,
    /// Training ("expected") rows in the bin.
    pub expected_count: u64,
    /// Test ("actual") rows in the bin.
    pub actual_count: u64,
    /// Smoothed training share (see [`population_stability`]).
    pub expected_share: f64,
    /// Smoothed test share.
    pub actual_share: f64,
    /// (actual − expected) · ln(actual / expected).
    pub contribution: f64,
}

/// How to read a PSI value (industry rule of thumb, Siddiqi 2006 ch. 8).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PsiBand {
    /// PSI < 0.1: no significant change.
    Stable,
    /// 0.1 ≤ PSI ≤ 0.25: some change, monitor.
    Monitor,
    /// PSI > 0.25: significant population shift, investigate before relying on the model.
    Shift,
}

impl PsiBand {
    /// The band of a PSI value.
    pub fn of(psi: f64) -> Self {
        if psi < 0.1 {
            Self::Stable
        } else if psi <= 0.25 {
            Self::Monitor
        } else {
            Self::Shift
        }
    }
}

/// The population stability index between training and test scores.
#[derive(Debug, Clone, PartialEq)]
pub struct Psi {
    /// Σ over bins of (actual − expected) · ln(actual / expected).
    pub value: f64,
    /// The interpretation band of `value`.
    pub band: PsiBand,
    /// The bins (10, or fewer when training deciles coincide because of ties).
    pub bins: Vec<PsiBin>,
}

/// A point of the ROC curve.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RocPoint {
    /// False-positive rate at this threshold.
    pub fpr: f64,
    /// True-positive rate at this threshold.
    pub tpr: f64,
    /// Rows with `score >= threshold` are predicted bad (`+∞` for the origin).
    pub threshold: f64,
}

/// A point of the KS curve: TPR and FPR against the share of the population predicted bad.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct KsPoint {
    /// Share of the population with `score >= threshold`.
    pub depth: f64,
    /// Cumulative share of bads.
    pub tpr: f64,
    /// Cumulative share of goods.
    pub fpr: f64,
    /// The threshold (`+∞` for the origin).
    pub threshold: f64,
}

/// Validated, sorted view of scores and labels shared by the metrics.
struct Ranked {
    /// (score, label) sorted by descending score.
    rows: Vec<(f64, u8)>,
    bads: u64,
    goods: u64,
}

/// Checks scores and labels: non-empty, same length, finite scores, labels in {0, 1}.
pub(crate) fn validate(scores: &[f64], labels: &[u8]) -> Result<(u64, u64), ReportError> {
    if scores.is_empty() {
        return Err(ReportError::Empty { what: "scores" });
    }
    if labels.is_empty() {
        return Err(ReportError::Empty { what: "labels" });
    }
    if scores.len() != labels.len() {
        return Err(ReportError::LengthMismatch {
            scores: scores.len(),
            labels: labels.len(),
        });
    }
    check_finite(scores, "scores")?;
    let mut bads = 0u64;
    for (index, &value) in labels.iter().enumerate() {
        match value {
            0 => {}
            1 => bads += 1,
            _ => return Err(ReportError::InvalidLabel { index, value }),
        }
    }
    let n = scores.len() as u64;
    Ok((bads, n - bads))
}

fn check_finite(scores: &[f64], what: &'static str) -> Result<(), ReportError> {
    match scores.iter().position(|s| !s.is_finite()) {
        Some(index) => Err(ReportError::NonFiniteScore { what, index }),
        None => Ok(()),
    }
}

fn both_classes(bads: u64, goods: u64) -> Result<(), ReportError> {
    if bads == 0 {
        return Err(ReportError::SingleClass {
            class: 0,
            count: goods,
        });
    }
    if goods == 0 {
        return Err(ReportError::SingleClass {
            class: 1,
            count: bads,
        });
    }
    Ok(())
}

fn rank(scores: &[f64], labels: &[u8]) -> Result<Ranked, ReportError> {
    let (bads, goods) = validate(scores, labels)?;
    both_classes(bads, goods)?;
    let mut rows: Vec<(f64, u8)> = scores.iter().copied().zip(labels.iter().copied()).collect();
    rows.sort_unstable_by(|a, b| b.0.total_cmp(&a.0));
    Ok(Ranked { rows, bads, goods })
}

/// Groups of equal scores in a slice sorted by score: yields (start, end) half-open ranges.
fn tie_groups(rows: &[(f64, u8)]) -> impl Iterator<Item = (usize, usize)> + '_ {
    let mut start = 0;
    std::iter::from_fn(move || {
        if start >= rows.len() {
            return None;
        }
        let score = rows[start].0;
        let len = rows[start..].iter().take_while(|r| r.0 == score).count();
        let group = (start, start + len);
        start += len;
        Some(group)
    })
}

/// One cumulative point per distinct score, in descending score order, starting at (+∞, 0, 0).
#[derive(Clone, Copy)]
struct CumPoint {
    threshold: f64,
    /// Rows with score >= threshold.
    rows: u64,
    tp: u64,
    fp: u64,
}

fn cumulative(r: &Ranked) -> Vec<CumPoint> {
    let mut out = vec![CumPoint {
        threshold: f64::INFINITY,
        rows: 0,
        tp: 0,
        fp: 0,
    }];
    let (mut tp, mut fp) = (0u64, 0u64);
    for (s, e) in tie_groups(&r.rows) {
        for &(_, label) in &r.rows[s..e] {
            if label == 1 {
                tp += 1;
            } else {
                fp += 1;
            }
        }
        out.push(CumPoint {
            threshold: r.rows[s].0,
            rows: e as u64,
            tp,
            fp,
        });
    }
    out
}

/// Area under the ROC curve: P(score of a random bad > score of a random good) + ½·P(tie).
///
/// Computed as the Mann–Whitney U statistic over tie groups in O(n log n) (Fawcett 2006, §7):
/// each bad counts the goods scored strictly below it plus one half of the goods tied with it.
/// The count is exact in integers; one division at the end.
pub fn auc(scores: &[f64], labels: &[u8]) -> Result<f64, ReportError> {
    let r = rank(scores, labels)?;
    Ok(auc_ranked(&r))
}

fn auc_ranked(r: &Ranked) -> f64 {
    // Walk from the highest score down; `goods_above` are goods strictly above the group.
    // Twice the U statistic: 2·bads_g·goods_below + bads_g·goods_g, with
    // goods_below = goods − goods_above − goods_g.
    let mut twice_u: u128 = 0;
    let mut goods_above: u64 = 0;
    for (s, e) in tie_groups(&r.rows) {
        let bads_g = r.rows[s..e].iter().filter(|x| x.1 == 1).count() as u64;
        let goods_g = (e - s) as u64 - bads_g;
        let goods_below = r.goods - goods_above - goods_g;
        twice_u += 2 * u128::from(bads_g) * u128::from(goods_below)
            + u128::from(bads_g) * u128::from(goods_g);
        goods_above += goods_g;
    }
    let denom = 2 * u128::from(r.bads) * u128::from(r.goods);
    twice_u as f64 / denom as f64
}

/// Gini coefficient (accuracy ratio) = 2·AUC − 1.
pub fn gini(scores: &[f64], labels: &[u8]) -> Result<f64, ReportError> {
    Ok(2.0 * auc(scores, labels)? - 1.0)
}

/// KS = max over thresholds t of TPR(t) − FPR(t), with the threshold where it occurs.
///
/// Thresholds range over every distinct score (and +∞, where TPR = FPR = 0, so KS ≥ 0). Tied
/// scores move together: a threshold never splits a tie. When several thresholds reach the
/// maximum, the highest one is reported.
pub fn ks(scores: &[f64], labels: &[u8]) -> Result<Ks, ReportError> {
    let r = rank(scores, labels)?;
    Ok(ks_ranked(&r, &cumulative(&r)))
}

fn ks_ranked(r: &Ranked, cum: &[CumPoint]) -> Ks {
    let n = r.rows.len() as f64;
    let mut best = Ks {
        ks: 0.0,
        threshold: f64::INFINITY,
        tpr: 0.0,
        fpr: 0.0,
        depth: 0.0,
    };
    for p in cum {
        let tpr = p.tp as f64 / r.bads as f64;
        let fpr = p.fp as f64 / r.goods as f64;
        if tpr - fpr > best.ks {
            best = Ks {
                ks: tpr - fpr,
                threshold: p.threshold,
                tpr,
                fpr,
                depth: p.rows as f64 / n,
            };
        }
    }
    best
}

/// The confusion matrix when rows with `score >= threshold` are predicted bad.
///
/// Needs both classes (like every metric here, so that recall and FPR are defined).
pub fn confusion(scores: &[f64], labels: &[u8], threshold: f64) -> Result<Confusion, ReportError> {
    if threshold.is_nan() {
        return Err(ReportError::InvalidThreshold);
    }
    let (bads, goods) = validate(scores, labels)?;
    both_classes(bads, goods)?;
    let (mut tp, mut fp) = (0u64, 0u64);
    for (&s, &l) in scores.iter().zip(labels) {
        if s >= threshold {
            if l == 1 {
                tp += 1;
            } else {
                fp += 1;
            }
        }
    }
    let fn_ = bads - tp;
    let tn = goods - fp;
    let precision = (tp + fp > 0).then(|| tp as f64 / (tp + fp) as f64);
    let recall = tp as f64 / bads as f64;
    let f1 = precision.and_then(|p| (p + recall > 0.0).then(|| 2.0 * p * recall / (p + recall)));
    Ok(Confusion {
        threshold,
        tp,
        fp,
        tn,
        fn_,
        precision,
        recall,
        fpr: fp as f64 / goods as f64,
        accuracy: (tp + tn) as f64 / (bads + goods) as f64,
        f1,
    })
}

/// The decile (0-based, 0 = highest scores) of a tie group occupying sorted positions
/// `[start, end)` out of `n`: the decile of the group's middle position.
///
/// Rule: rows are sorted by descending score; position `i` belongs to decile ⌊10·i / n⌋; a tie
/// group is never split and goes, whole, to the decile of its middle position ⌊(start+end−1)/2⌋.
/// Deciles therefore hold n/10 rows up to the tie sizes at their borders, and may be empty when
/// one score covers more than a tenth of the population.
///
/// Out-of-range arguments (an empty group, `end > n`) are clamped rather than trusted: the result
/// is always in 0..=9.
pub fn decile_of_group(start: usize, end: usize, n: usize) -> usize {
    let mid = (start + end.max(start + 1) - 1) / 2;
    // For a valid group mid < n, so 10·mid / n < 10; `min` only guards misuse.
    ((10 * mid) / n.max(1)).min(9)
}

/// The gains (lift) table by score decile, highest scores first. See [`decile_of_group`] for
/// the tie rule.
pub fn deciles(scores: &[f64], labels: &[u8]) -> Result<Vec<DecileRow>, ReportError> {
    let r = rank(scores, labels)?;
    Ok(deciles_ranked(&r))
}

fn deciles_ranked(r: &Ranked) -> Vec<DecileRow> {
    let n = r.rows.len();
    let mut count = [0u64; 10];
    let mut bads = [0u64; 10];
    let mut min_s = [None::<f64>; 10];
    let mut max_s = [None::<f64>; 10];
    for (s, e) in tie_groups(&r.rows) {
        let d = decile_of_group(s, e, n);
        let score = r.rows[s].0;
        count[d] += (e - s) as u64;
        bads[d] += r.rows[s..e].iter().filter(|x| x.1 == 1).count() as u64;
        // Descending order: the first group seen sets the maximum, the last the minimum.
        max_s[d].get_or_insert(score);
        min_s[d] = Some(score);
    }
    let overall = r.bads as f64 / n as f64;
    let (mut cum_n, mut cum_b, mut cum_g) = (0u64, 0u64, 0u64);
    (0..10)
        .map(|d| {
            let goods = count[d] - bads[d];
            cum_n += count[d];
            cum_b += bads[d];
            cum_g += goods;
            let bad_rate = (count[d] > 0).then(|| bads[d] as f64 / count[d] as f64);
            let cum_bads = cum_b as f64 / r.bads as f64;
            let cum_goods = cum_g as f64 / r.goods as f64;
            DecileRow {
                decile: u8::try_from(d + 1).unwrap_or(u8::MAX),
                count: count[d],
                bads: bads[d],
                goods,
                min_score: min_s[d],
                max_score: max_s[d],
                bad_rate,
                cum_population: cum_n as f64 / n as f64,
                cum_bads,
                cum_goods,
                lift: bad_rate.map(|b| b / overall),
                cum_lift: (cum_n > 0).then(|| (cum_b as f64 / cum_n as f64) / overall),
                ks: cum_bads - cum_goods,
            }
        })
        .collect()
}

/// Half an observation: the count used in place of an empty PSI bin.
pub const PSI_EMPTY_BIN_COUNT: f64 = 0.5;

/// The training-score cut points for PSI: the 1st..9th empirical deciles, deduplicated.
///
/// Cut k (k = 1..9) is the smallest training score with at least k·n/10 training scores at or
/// below it, i.e. `sorted[⌈k·n/10⌉ − 1]`. Bins are (−∞, c1], (c1, c2], …, (c9, +∞); equal cuts
/// (from ties) are merged, so there may be fewer than 10 bins.
pub fn psi_cuts(train_scores: &[f64]) -> Result<Vec<f64>, ReportError> {
    if train_scores.is_empty() {
        return Err(ReportError::Empty {
            what: "training scores",
        });
    }
    check_finite(train_scores, "training scores")?;
    let mut sorted = train_scores.to_vec();
    sorted.sort_unstable_by(f64::total_cmp);
    let n = sorted.len();
    let mut cuts: Vec<f64> = Vec::with_capacity(9);
    for k in 1..10 {
        let pos = (k * n).div_ceil(10).max(1) - 1;
        let c = sorted[pos];
        // The top cut equal to the maximum would leave the last bin empty by construction.
        if c < sorted[n - 1] && cuts.last().is_none_or(|&last| c > last) {
            cuts.push(c);
        }
    }
    Ok(cuts)
}

/// The population stability index of the test scores against the training scores.
///
/// PSI = Σ_bins (a_i − e_i) · ln(a_i / e_i), where e_i and a_i are the shares of training and
/// test scores in bin i; bins come from the training deciles ([`psi_cuts`]).
///
/// Smoothing: an empty bin would make the logarithm infinite, so a zero count is replaced by
/// [`PSI_EMPTY_BIN_COUNT`] (half an observation) before dividing by that sample's size; other
/// counts are used as they are. The shares then sum to at most 1 + 0.5·bins/n.
pub fn population_stability(train_scores: &[f64], test_scores: &[f64]) -> Result<Psi, ReportError> {
    let cuts = psi_cuts(train_scores)?;
    if test_scores.is_empty() {
        return Err(ReportError::Empty { what: "scores" });
    }
    check_finite(test_scores, "scores")?;
    let bins = cuts.len() + 1;
    let bin_of = |s: f64| cuts.partition_point(|&c| c < s);
    let mut expected = vec![0u64; bins];
    let mut actual = vec![0u64; bins];
    for &s in train_scores {
        expected[bin_of(s)] += 1;
    }
    for &s in test_scores {
        actual[bin_of(s)] += 1;
    }
    let share = |c: u64, n: usize| {
        let c = if c == 0 {
            PSI_EMPTY_BIN_COUNT
        } else {
            c as f64
        };
        c / n as f64
    };
    let mut value = 0.0;
    let out: Vec<PsiBin> = (0..bins)
        .map(|i| {
            let e = share(expected[i], train_scores.len());
            let a = share(actual[i], test_scores.len());
            let contribution = (a - e) * (a / e).ln();
            value += contribution;
            PsiBin {
                lower: if i == 0 {
                    f64::NEG_INFINITY
                } else {
                    cuts[i - 1]
                },
                upper: cuts.get(i).copied().unwrap_or(f64::INFINITY),
                expected_count: expected[i],
                actual_count: actual[i],
                expected_share: e,
                actual_share: a,
                contribution,
            }
        })
        .collect();
    Ok(Psi {
        value,
        band: PsiBand::of(value),
        bins: out,
    })
}

/// Keeps at most `max_points` of a monotone curve (always ≥ 3 points are allowed).
///
/// `key` must be non-decreasing along the curve and span [0, `span`]. A point is kept when its
/// key has advanced by at least `span / (max_points − 3)` since the last kept point; the first
/// point, the last point and the point at index `keep` (the KS maximum) are always kept. Both
/// coordinates of a monotone curve move by at most the key step between kept points, so the
/// drawn polyline stays within one step of the full curve.
fn downsample<T: Copy>(
    points: &[T],
    max_points: usize,
    keep: usize,
    span: f64,
    key: impl Fn(&T) -> f64,
) -> Vec<T> {
    let max_points = max_points.max(3);
    if points.len() <= max_points {
        return points.to_vec();
    }
    let step = span / (max_points - 3).max(1) as f64;
    let last = points.len() - 1;
    let mut out = Vec::with_capacity(max_points);
    let mut last_key = f64::NEG_INFINITY;
    for (i, p) in points.iter().enumerate() {
        let k = key(p);
        if i == 0 || i == last || i == keep || k - last_key >= step {
            out.push(*p);
            last_key = k;
        }
    }
    out
}

fn ks_index(r: &Ranked, cum: &[CumPoint]) -> usize {
    let mut best = (0usize, 0.0f64);
    for (i, p) in cum.iter().enumerate() {
        let d = p.tp as f64 / r.bads as f64 - p.fp as f64 / r.goods as f64;
        if d > best.1 {
            best = (i, d);
        }
    }
    best.0
}

/// The ROC curve from (0, 0) to (1, 1), one point per distinct score, downsampled to at most
/// `max_points` (at least 3) for plotting; the ends and the KS point are always kept.
pub fn roc_points(
    scores: &[f64],
    labels: &[u8],
    max_points: usize,
) -> Result<Vec<RocPoint>, ReportError> {
    let r = rank(scores, labels)?;
    Ok(roc_ranked(&r, &cumulative(&r), max_points))
}

fn roc_ranked(r: &Ranked, cum: &[CumPoint], max_points: usize) -> Vec<RocPoint> {
    let full: Vec<RocPoint> = cum
        .iter()
        .map(|p| RocPoint {
            fpr: p.fp as f64 / r.goods as f64,
            tpr: p.tp as f64 / r.bads as f64,
            threshold: p.threshold,
        })
        .collect();
    downsample(&full, max_points, ks_index(r, cum), 2.0, |p| p.fpr + p.tpr)
}

/// The KS curve: TPR and FPR against the share of the population predicted bad, one point per
/// distinct score, downsampled like [`roc_points`].
pub fn ks_points(
    scores: &[f64],
    labels: &[u8],
    max_points: usize,
) -> Result<Vec<KsPoint>, ReportError> {
    let r = rank(scores, labels)?;
    Ok(ks_curve_ranked(&r, &cumulative(&r), max_points))
}

fn ks_curve_ranked(r: &Ranked, cum: &[CumPoint], max_points: usize) -> Vec<KsPoint> {
    let n = r.rows.len() as f64;
    let full: Vec<KsPoint> = cum
        .iter()
        .map(|p| KsPoint {
            depth: p.rows as f64 / n,
            tpr: p.tp as f64 / r.bads as f64,
            fpr: p.fp as f64 / r.goods as f64,
            threshold: p.threshold,
        })
        .collect();
    downsample(&full, max_points, ks_index(r, cum), 3.0, |p| {
        p.depth + p.tpr + p.fpr
    })
}

/// Score histogram by class on equal-width bins over the test scores' range.
#[derive(Debug, Clone, PartialEq)]
pub struct ScoreHistogram {
    /// `bins + 1` bin edges, ascending (the last bin includes its upper edge).
    pub edges: Vec<f64>,
    /// Goods per bin.
    pub goods: Vec<u64>,
    /// Bads per bin.
    pub bads: Vec<u64>,
}

/// Counts goods and bads on `bins` (at least 1) equal-width bins from the lowest to the highest
/// score.
pub fn score_histogram(
    scores: &[f64],
    labels: &[u8],
    bins: usize,
) -> Result<ScoreHistogram, ReportError> {
    validate(scores, labels)?;
    let bins = bins.max(1);
    let lo = scores.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = scores.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let width = if hi > lo {
        (hi - lo) / bins as f64
    } else {
        1.0
    };
    let edges = (0..=bins).map(|i| lo + width * i as f64).collect();
    let mut goods = vec![0u64; bins];
    let mut bads = vec![0u64; bins];
    for (&s, &l) in scores.iter().zip(labels) {
        // (s − lo)/width ∈ [0, bins]; the cast saturates and `min` folds the top edge in.
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        let b = (((s - lo) / width).floor() as usize).min(bins - 1);
        if l == 1 {
            bads[b] += 1;
        } else {
            goods[b] += 1;
        }
    }
    Ok(ScoreHistogram { edges, goods, bads })
}

/// All metrics of a scored holdout set, computed from one sort.
#[derive(Debug, Clone, PartialEq)]
pub struct Metrics {
    /// Rows scored.
    pub n: u64,
    /// Bads (label 1).
    pub bads: u64,
    /// Goods (label 0).
    pub goods: u64,
    /// Area under the ROC curve.
    pub auc: f64,
    /// 2·AUC − 1.
    pub gini: f64,
    /// Kolmogorov–Smirnov statistic.
    pub ks: Ks,
    /// Confusion matrix at the chosen threshold.
    pub confusion: Confusion,
    /// Gains table by decile.
    pub deciles: Vec<DecileRow>,
    /// Population stability against the training scores, when they were given.
    pub psi: Option<Psi>,
}

impl Metrics {
    /// Overall bad rate.
    pub fn bad_rate(&self) -> f64 {
        self.bads as f64 / self.n as f64
    }
}

/// Metrics plus the plotting curves, from one validation and one sort.
pub(crate) struct Computed {
    pub(crate) metrics: Metrics,
    pub(crate) roc: Vec<RocPoint>,
    pub(crate) ks_curve: Vec<KsPoint>,
}

pub(crate) fn compute_all(
    scores: &[f64],
    labels: &[u8],
    train_scores: Option<&[f64]>,
    threshold: f64,
    max_points: usize,
) -> Result<Computed, ReportError> {
    let r = rank(scores, labels)?;
    let confusion = confusion(scores, labels, threshold)?;
    let psi = train_scores
        .map(|t| population_stability(t, scores))
        .transpose()?;
    let cum = cumulative(&r);
    let auc = auc_ranked(&r);
    Ok(Computed {
        metrics: Metrics {
            n: r.bads + r.goods,
            bads: r.bads,
            goods: r.goods,
            auc,
            gini: 2.0 * auc - 1.0,
            ks: ks_ranked(&r, &cum),
            confusion,
            deciles: deciles_ranked(&r),
            psi,
        },
        roc: roc_ranked(&r, &cum, max_points),
        ks_curve: ks_curve_ranked(&r, &cum, max_points),
    })
}
