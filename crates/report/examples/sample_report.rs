//! Renders a realistic sample report from seeded synthetic scores.
//!
//! `cargo run -p unseen-report --example sample_report -- /tmp/model-report.html`

use unseen_report::{FeatureImportance, FeatureLabel, ModelMeta, ModelReport, Party, html};

/// SplitMix64: a small deterministic generator for synthetic test data (not for secrets).
struct SplitMix(u64);

impl SplitMix {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in (0, 1).
    fn uniform(&mut self) -> f64 {
        ((self.next_u64() >> 11) as f64 + 0.5) / (1u64 << 53) as f64
    }
    /// Standard normal (Box–Muller).
    fn normal(&mut self) -> f64 {
        let (u, v) = (self.uniform(), self.uniform());
        (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
    }
}

fn sigmoid(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

/// Scores and labels of `n` applicants; `shift` moves the risk driver (population drift).
fn population(rng: &mut SplitMix, n: usize, shift: f64) -> (Vec<f64>, Vec<u8>) {
    let mut scores = Vec::with_capacity(n);
    let mut labels = Vec::with_capacity(n);
    for _ in 0..n {
        let risk = rng.normal() + shift;
        let truth = sigmoid(-2.9 + 1.3 * risk);
        labels.push(u8::from(rng.uniform() < truth));
        // The model sees the risk driver with noise; scores are rounded to 0.001 (ties).
        let est = sigmoid(-2.9 + 1.3 * (risk + 0.45 * rng.normal()));
        scores.push((est * 1000.0).round() / 1000.0);
    }
    (scores, labels)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let out = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "model-report.html".to_owned());
    let mut rng = SplitMix(20261204);
    let (train_scores, _) = population(&mut rng, 20_000, 0.0);
    let (test_scores, test_labels) = population(&mut rng, 6_000, 0.12);

    let meta = ModelMeta {
        model_id: "retail-pd-2026-12".to_owned(),
        algorithm: "SecureBoost (vertical federated gradient boosting)".to_owned(),
        date: "2026-12-04".to_owned(),
        viewer: "Bank A".to_owned(),
        parties: vec![
            Party {
                name: "Bank A".to_owned(),
                role: "label holder / 标签方".to_owned(),
            },
            Party {
                name: "Telco B".to_owned(),
                role: "feature provider / 特征提供方".to_owned(),
            },
        ],
        train_rows: 20_000,
        test_rows: 6_000,
        hyper_parameters: vec![
            ("trees".to_owned(), "50".to_owned()),
            ("max_depth".to_owned(), "4".to_owned()),
            ("learning_rate".to_owned(), "0.1".to_owned()),
            ("min_child_weight".to_owned(), "1.0".to_owned()),
            ("bins".to_owned(), "32".to_owned()),
            ("encryption".to_owned(), "Paillier 2048".to_owned()),
        ],
    };
    let own = [
        ("months_on_book", 0.21),
        ("utilisation_ratio", 0.17),
        ("max_dpd_12m", 0.15),
        ("income_verified", 0.05),
        ("age_band", 0.03),
    ];
    let partner = [0.14, 0.11, 0.07, 0.04, 0.03];
    let mut importance: Vec<FeatureImportance> = own
        .iter()
        .map(|&(name, v)| FeatureImportance {
            party: "Bank A".to_owned(),
            feature: FeatureLabel::Named(name.to_owned()),
            importance: v,
        })
        .collect();
    importance.extend(partner.iter().zip(1u32..).map(|(&v, i)| FeatureImportance {
        party: "Telco B".to_owned(),
        feature: FeatureLabel::Opaque(i),
        importance: v,
    }));

    let report = ModelReport::build(
        meta,
        &test_scores,
        &test_labels,
        Some(&train_scores),
        importance,
        0.10,
    )?;
    std::fs::write(&out, html::render(&report))?;
    println!(
        "wrote {out}: AUC {:.4}, KS {:.4}, PSI {:.4}",
        report.metrics.auc,
        report.metrics.ks.ks,
        report.metrics.psi.as_ref().map_or(f64::NAN, |p| p.value)
    );
    Ok(())
}
