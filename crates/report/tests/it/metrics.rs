//! Metrics against brute-force oracles on seeded random data with ties.

use unseen_report::ReportError;
use unseen_report::metrics::{
    PsiBand, auc, confusion, decile_of_group, deciles, gini, ks, ks_points, population_stability,
    psi_cuts, roc_points,
};

use crate::rng::tied_data;

const SEEDS: [u64; 4] = [1, 7, 42, 2026];

fn counts(labels: &[u8]) -> (f64, f64) {
    let bads = labels.iter().filter(|&&l| l == 1).count() as f64;
    (bads, labels.len() as f64 - bads)
}

/// O(n²): every (bad, good) pair, a win counts 2 and a tie 1, over 2·bads·goods.
fn auc_pairwise(scores: &[f64], labels: &[u8]) -> f64 {
    let mut twice: u64 = 0;
    let (mut nb, mut ng) = (0u64, 0u64);
    for (i, &si) in scores.iter().enumerate() {
        if labels[i] != 1 {
            ng += 1;
            continue;
        }
        nb += 1;
        for (j, &sj) in scores.iter().enumerate() {
            if labels[j] == 0 {
                twice += if si > sj {
                    2
                } else if si == sj {
                    1
                } else {
                    0
                };
            }
        }
    }
    twice as f64 / (2 * nb * ng) as f64
}

/// (TPR, FPR, depth) when rows with score >= t are predicted bad, by direct counting.
fn rates_at(scores: &[f64], labels: &[u8], t: f64) -> (f64, f64, f64) {
    let (nb, ng) = counts(labels);
    let mut tp = 0.0;
    let mut fp = 0.0;
    for (&s, &l) in scores.iter().zip(labels) {
        if s >= t {
            if l == 1 {
                tp += 1.0;
            } else {
                fp += 1.0;
            }
        }
    }
    (tp / nb, fp / ng, (tp + fp) / scores.len() as f64)
}

#[test]
fn auc_matches_pairwise_count_with_ties() {
    for seed in SEEDS {
        for levels in [3, 17, 1000] {
            let (s, l) = tied_data(seed, 400, levels);
            let got = auc(&s, &l).unwrap();
            let want = auc_pairwise(&s, &l);
            assert!((got - want).abs() < 1e-14, "seed {seed}: {got} vs {want}");
            assert!((gini(&s, &l).unwrap() - (2.0 * want - 1.0)).abs() < 1e-14);
        }
    }
}

#[test]
fn auc_extremes() {
    let s = [0.9, 0.8, 0.7, 0.3, 0.2, 0.1];
    assert_eq!(auc(&s, &[1, 1, 1, 0, 0, 0]).unwrap(), 1.0);
    assert_eq!(auc(&s, &[0, 0, 0, 1, 1, 1]).unwrap(), 0.0);
    assert_eq!(auc(&[0.5; 6], &[0, 1, 0, 1, 1, 0]).unwrap(), 0.5);
    let k = ks(&s, &[1, 1, 1, 0, 0, 0]).unwrap();
    assert_eq!(
        (k.ks, k.threshold, k.tpr, k.fpr, k.depth),
        (1.0, 0.7, 1.0, 0.0, 0.5)
    );
    let k = ks(&s, &[0, 0, 0, 1, 1, 1]).unwrap();
    assert_eq!((k.ks, k.threshold), (0.0, f64::INFINITY));
}

#[test]
fn ks_matches_scan_over_all_thresholds() {
    for seed in SEEDS {
        for levels in [5, 50, 1000] {
            let (s, l) = tied_data(seed, 300, levels);
            let mut want = 0.0f64;
            for &t in &s {
                let (tpr, fpr, _) = rates_at(&s, &l, t);
                want = want.max(tpr - fpr);
            }
            let got = ks(&s, &l).unwrap();
            assert!(
                (got.ks - want).abs() < 1e-14,
                "seed {seed}: {} vs {want}",
                got.ks
            );
            let (tpr, fpr, depth) = rates_at(&s, &l, got.threshold);
            assert_eq!((got.tpr, got.fpr, got.depth), (tpr, fpr, depth));
            // The highest threshold reaching the maximum is reported.
            for &t in s.iter().filter(|&&t| t > got.threshold) {
                let (tpr, fpr, _) = rates_at(&s, &l, t);
                assert!(tpr - fpr < got.ks);
            }
        }
    }
}

#[test]
fn confusion_matches_direct_count() {
    let (s, l) = tied_data(9, 500, 20);
    for t in [0.0, 0.05, 0.35, 0.5, 0.95, 2.0, -1.0] {
        let c = confusion(&s, &l, t).unwrap();
        let (mut tp, mut fp, mut tn, mut fn_) = (0u64, 0u64, 0u64, 0u64);
        for (&x, &y) in s.iter().zip(&l) {
            match (x >= t, y) {
                (true, 1) => tp += 1,
                (true, _) => fp += 1,
                (false, 0) => tn += 1,
                (false, _) => fn_ += 1,
            }
        }
        assert_eq!(
            (c.tp, c.fp, c.tn, c.fn_),
            (tp, fp, tn, fn_),
            "threshold {t}"
        );
        let (tp, fp, tn, fn_) = (tp as f64, fp as f64, tn as f64, fn_ as f64);
        let precision = (tp + fp > 0.0).then(|| tp / (tp + fp));
        let recall = tp / (tp + fn_);
        assert_eq!(c.precision, precision);
        assert_eq!(c.recall, recall);
        assert_eq!(c.fpr, fp / (fp + tn));
        assert_eq!(c.accuracy, (tp + tn) / 500.0);
        match precision {
            Some(p) if p + recall > 0.0 => {
                assert!((c.f1.unwrap() - 2.0 * p * recall / (p + recall)).abs() < 1e-15);
            }
            _ => assert_eq!(c.f1, None),
        }
    }
    // Above every score nothing is predicted bad: precision and F1 are undefined.
    let c = confusion(&s, &l, 2.0).unwrap();
    assert_eq!((c.tp, c.fp, c.precision, c.f1), (0, 0, None, None));
}

#[test]
fn deciles_match_direct_count() {
    for (seed, n, levels) in [(3, 503, 1000), (4, 400, 7), (5, 250, 40)] {
        let (s, l) = tied_data(seed, n, levels);
        let rows = deciles(&s, &l).unwrap();
        assert_eq!(rows.len(), 10);
        // Oracle: a row's tie group spans [#greater, #greater + #equal) in descending order.
        let mut count = [0u64; 10];
        let mut bads = [0u64; 10];
        let mut lo = [f64::INFINITY; 10];
        let mut hi = [f64::NEG_INFINITY; 10];
        for (&x, &y) in s.iter().zip(&l) {
            let start = s.iter().filter(|&&o| o > x).count();
            let end = start + s.iter().filter(|&&o| o == x).count();
            let d = ((start + end - 1) / 2) * 10 / n;
            count[d] += 1;
            bads[d] += u64::from(y);
            lo[d] = lo[d].min(x);
            hi[d] = hi[d].max(x);
        }
        let (nb, ng) = counts(&l);
        let overall = nb / n as f64;
        let (mut cn, mut cb, mut cg) = (0u64, 0u64, 0u64);
        for (d, r) in rows.iter().enumerate() {
            assert_eq!(usize::from(r.decile), d + 1);
            assert_eq!(
                (r.count, r.bads, r.goods),
                (count[d], bads[d], count[d] - bads[d])
            );
            cn += count[d];
            cb += bads[d];
            cg += count[d] - bads[d];
            if count[d] == 0 {
                assert_eq!(
                    (r.min_score, r.max_score, r.bad_rate, r.lift),
                    (None, None, None, None)
                );
            } else {
                assert_eq!((r.min_score, r.max_score), (Some(lo[d]), Some(hi[d])));
                let rate = bads[d] as f64 / count[d] as f64;
                assert_eq!(r.bad_rate, Some(rate));
                assert!((r.lift.unwrap() - rate / overall).abs() < 1e-12);
            }
            assert_eq!(r.cum_population, cn as f64 / n as f64);
            assert_eq!(r.cum_bads, cb as f64 / nb);
            assert_eq!(r.cum_goods, cg as f64 / ng);
            assert_eq!(r.ks, r.cum_bads - r.cum_goods);
        }
        assert_eq!(cn, n as u64);
    }
    // Without ties, 100 rows give ten deciles of ten, highest scores first.
    let s: Vec<f64> = (0..100).map(f64::from).collect();
    let l: Vec<u8> = (0..100).map(|i| u8::from(i >= 80)).collect();
    let rows = deciles(&s, &l).unwrap();
    assert!(rows.iter().all(|r| r.count == 10));
    assert_eq!((rows[0].bads, rows[1].bads, rows[2].bads), (10, 10, 0));
    assert_eq!(rows[0].max_score, Some(99.0));
    assert_eq!(decile_of_group(0, 100, 100), 4);
    assert_eq!(decile_of_group(95, 100, 100), 9);
    assert_eq!(decile_of_group(5, 5, 0), 9); // misuse is clamped, not a panic
}

#[test]
fn psi_hand_computed() {
    // Training scores 1..=20: cut k is sorted[⌈2k⌉ − 1] = 2k, so bins (−∞,2], (2,4], …, (18,∞)
    // hold 2 training rows each: expected share 0.1 everywhere.
    let train: Vec<f64> = (1..=20).map(f64::from).collect();
    assert_eq!(
        psi_cuts(&train).unwrap(),
        vec![2.0, 4.0, 6.0, 8.0, 10.0, 12.0, 14.0, 16.0, 18.0]
    );
    // Test: 3 rows in bin 1, 2 in bin 2, 1 in bins 3..=7, none in bins 8..=10.
    let test = [1.0, 1.0, 1.0, 3.0, 3.0, 5.0, 7.0, 9.0, 11.0, 13.0];
    let p = population_stability(&train, &test).unwrap();
    // By hand: empty bins count 0.5 of 10 rows = 0.05.
    //   (0.3−0.1)·ln 3 + (0.2−0.1)·ln 2 + 5·0 + 3·(0.05−0.1)·ln 0.5
    //   = 0.2·1.0986122887 + 0.1·0.6931471806 + 0.15·0.6931471806 = 0.3930092529
    assert!((p.value - 0.393_009_252_9).abs() < 1e-9, "{}", p.value);
    assert_eq!(p.band, PsiBand::Shift);
    assert_eq!(p.bins.len(), 10);
    let actual: Vec<u64> = p.bins.iter().map(|b| b.actual_count).collect();
    assert_eq!(actual, vec![3, 2, 1, 1, 1, 1, 1, 0, 0, 0]);
    assert!(p.bins.iter().all(|b| b.expected_count == 2));
    assert_eq!(
        (p.bins[0].lower, p.bins[9].upper),
        (f64::NEG_INFINITY, f64::INFINITY)
    );
    assert_eq!(p.bins[7].actual_share, 0.05);

    // Same distribution: PSI 0, stable.
    let p = population_stability(&train, &train).unwrap();
    assert_eq!((p.value, p.band), (0.0, PsiBand::Stable));
    // All training scores tied: one bin, PSI 0 whatever the test scores.
    let p = population_stability(&[0.5; 30], &test).unwrap();
    assert_eq!((p.bins.len(), p.value), (1, 0.0));
    assert_eq!(PsiBand::of(0.1), PsiBand::Monitor);
    assert_eq!(PsiBand::of(0.25), PsiBand::Monitor);
    assert_eq!(PsiBand::of(0.2501), PsiBand::Shift);
}

/// Trapezoid area under a polyline of (x, y) points.
fn area(points: impl Iterator<Item = (f64, f64)>) -> f64 {
    let pts: Vec<(f64, f64)> = points.collect();
    pts.windows(2)
        .map(|w| (w[1].0 - w[0].0) * (w[1].1 + w[0].1) / 2.0)
        .sum()
}

#[test]
fn roc_and_ks_curves() {
    // Full curve: its trapezoid area is the AUC exactly (ties are diagonal segments).
    let (s, l) = tied_data(11, 2000, 300);
    let full = roc_points(&s, &l, usize::MAX).unwrap();
    let a = auc(&s, &l).unwrap();
    assert!((area(full.iter().map(|p| (p.fpr, p.tpr))) - a).abs() < 1e-12);
    assert_eq!((full[0].fpr, full[0].tpr), (0.0, 0.0));

    // Downsampled: at most 100 points, ends and KS point kept, monotone, area within 1%.
    let (s, l) = tied_data(12, 5000, 1_000_000);
    let a = auc(&s, &l).unwrap();
    let k = ks(&s, &l).unwrap();
    let roc = roc_points(&s, &l, 100).unwrap();
    assert!(roc.len() <= 100 && roc.len() > 50, "{}", roc.len());
    let first = roc[0];
    let last = roc[roc.len() - 1];
    assert_eq!(
        (first.fpr, first.tpr, first.threshold),
        (0.0, 0.0, f64::INFINITY)
    );
    assert_eq!((last.fpr, last.tpr), (1.0, 1.0));
    assert!(
        roc.windows(2)
            .all(|w| w[0].fpr <= w[1].fpr && w[0].tpr <= w[1].tpr)
    );
    assert!(
        roc.iter()
            .any(|p| p.threshold == k.threshold && p.tpr - p.fpr == k.ks)
    );
    assert!((area(roc.iter().map(|p| (p.fpr, p.tpr))) - a).abs() < 0.01);

    let kc = ks_points(&s, &l, 100).unwrap();
    assert!(kc.len() <= 100);
    let best = kc.iter().map(|p| p.tpr - p.fpr).fold(0.0, f64::max);
    assert_eq!(best, k.ks);
    assert!(kc.windows(2).all(|w| w[0].depth <= w[1].depth));
    let last = kc[kc.len() - 1];
    assert_eq!((last.depth, last.tpr, last.fpr), (1.0, 1.0, 1.0));
    // The smallest budget still keeps the origin, the KS point and (1, 1).
    let tiny = roc_points(&s, &l, 0).unwrap();
    assert_eq!(tiny.len(), 3);
    assert_eq!((tiny[0].tpr, tiny[2].fpr), (0.0, 1.0));
    assert_eq!(tiny[1].tpr - tiny[1].fpr, k.ks);
    // Each kept point is a true point of the curve.
    for p in kc.iter().step_by(7) {
        assert_eq!(rates_at(&s, &l, p.threshold), (p.tpr, p.fpr, p.depth));
    }
}

#[test]
fn bad_inputs_are_typed_errors() {
    let s = [0.1, 0.2, 0.3];
    assert_eq!(auc(&[], &[]), Err(ReportError::Empty { what: "scores" }));
    assert_eq!(
        ks(&s, &[0, 1]).unwrap_err(),
        ReportError::LengthMismatch {
            scores: 3,
            labels: 2
        }
    );
    assert_eq!(
        deciles(&s, &[0, 2, 1]).unwrap_err(),
        ReportError::InvalidLabel { index: 1, value: 2 }
    );
    assert_eq!(
        auc(&[0.1, f64::NAN, 0.3], &[0, 1, 1]).unwrap_err(),
        ReportError::NonFiniteScore {
            what: "scores",
            index: 1
        }
    );
    assert_eq!(
        auc(&s, &[1, 1, 1]).unwrap_err(),
        ReportError::SingleClass { class: 1, count: 3 }
    );
    assert_eq!(
        roc_points(&s, &[0, 0, 0], 10).unwrap_err(),
        ReportError::SingleClass { class: 0, count: 3 }
    );
    assert_eq!(
        confusion(&s, &[0, 1, 1], f64::NAN).unwrap_err(),
        ReportError::InvalidThreshold
    );
    assert_eq!(
        population_stability(&[], &s).unwrap_err(),
        ReportError::Empty {
            what: "training scores"
        }
    );
    assert_eq!(
        population_stability(&[0.1, f64::INFINITY], &s).unwrap_err(),
        ReportError::NonFiniteScore {
            what: "training scores",
            index: 1
        }
    );
    assert_eq!(
        population_stability(&s, &[]).unwrap_err(),
        ReportError::Empty { what: "scores" }
    );
}
