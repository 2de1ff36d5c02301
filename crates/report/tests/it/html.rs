//! The rendered page: plots inline, caller text escaped, no external resource.

use unseen_report::{
    FeatureImportance, FeatureLabel, ModelMeta, ModelReport, Party, ReportError, html,
};

use crate::rng::tied_data;

const EVIL: &str = "<script>alert('x')</script>";

fn sample(train: bool) -> ModelReport {
    let (s, l) = tied_data(5, 800, 60);
    let (t, _) = tied_data(6, 600, 60);
    let mut meta = ModelMeta::new(format!("model {EVIL}"), "SecureBoost & <b>friends</b>");
    meta.viewer = "Bank \"A\"".to_owned();
    meta.date = "2026-12-04".to_owned();
    meta.parties = vec![
        Party {
            name: "Bank \"A\"".to_owned(),
            role: "label holder".to_owned(),
        },
        Party {
            name: "Telco B".to_owned(),
            role: EVIL.to_owned(),
        },
    ];
    meta.train_rows = 600;
    meta.test_rows = 800;
    meta.hyper_parameters = vec![(EVIL.to_owned(), "<img src=x onerror=alert(1)>".to_owned())];
    let importance = vec![
        FeatureImportance {
            party: "Bank \"A\"".to_owned(),
            feature: FeatureLabel::Named(EVIL.to_owned()),
            importance: 0.4,
        },
        FeatureImportance {
            party: "Bank \"A\"".to_owned(),
            feature: FeatureLabel::Named("income".to_owned()),
            importance: 0.3,
        },
        FeatureImportance {
            party: "Telco B".to_owned(),
            feature: FeatureLabel::Opaque(3),
            importance: 0.3,
        },
    ];
    ModelReport::build(meta, &s, &l, train.then_some(t.as_slice()), importance, 0.5).unwrap()
}

#[test]
fn page_has_plots_and_sections() {
    let r = sample(true);
    let page = html::render(&r);
    assert!(page.starts_with("<!DOCTYPE html>"));
    assert_eq!(page.matches("<svg").count(), 4);
    assert_eq!(page.matches("</svg>").count(), 4);
    // The ROC legend carries the AUC; the KS legend the KS value.
    assert!(page.contains(&format!("AUC = {:.4}", r.metrics.auc)));
    assert!(page.contains(&format!("KS = {:.4}", r.metrics.ks.ks)));
    // Ten decile rows and ten PSI bins (at most) are tabulated; the PSI band is shown.
    let psi = r.metrics.psi.as_ref().unwrap();
    assert!(page.contains(&format!("PSI = <b>{:.4}</b>", psi.value)));
    for needle in [
        "KS 值",
        "混淆矩阵",
        "TP ",
        "partner feature #3",
        "income",
        "超参数",
    ] {
        assert!(page.contains(needle), "missing {needle}");
    }
    assert!(r.roc.len() <= unseen_report::MAX_CURVE_POINTS);
}

#[test]
fn caller_text_is_escaped() {
    let page = html::render(&sample(true));
    assert!(!page.contains("<script"), "unescaped script tag");
    assert!(!page.contains("<img"));
    assert!(!page.contains("<b>friends"));
    assert!(page.contains("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;"));
    assert!(page.contains("Bank &quot;A&quot;"));
    assert!(page.contains("SecureBoost &amp; &lt;b&gt;friends&lt;/b&gt;"));
    assert_eq!(html::escape("a<b>&\"c'"), "a&lt;b&gt;&amp;&quot;c&#39;");
}

#[test]
fn page_is_self_contained() {
    for train in [true, false] {
        let page = html::render(&sample(train));
        // No URL, no element that loads anything (the escaped `<img src=x` text is harmless).
        for banned in [
            "http://", "https://", "<script", "<link", "<img", "<iframe", "<object", "<embed",
            "src=\"", "href=", "url(", "@import",
        ] {
            assert!(!page.contains(banned), "page contains {banned}");
        }
    }
    let page = html::render(&sample(false));
    assert!(page.contains("PSI not computed"));
}

#[test]
fn build_rejects_bad_input() {
    let meta = ModelMeta::new("m", "lr");
    let err = ModelReport::build(meta.clone(), &[0.1, 0.2], &[1, 1], None, Vec::new(), 0.5);
    assert_eq!(
        err.unwrap_err(),
        ReportError::SingleClass { class: 1, count: 2 }
    );
    let err = ModelReport::build(
        meta,
        &[0.1, 0.2],
        &[0, 1],
        Some(&[f64::NAN]),
        Vec::new(),
        0.5,
    );
    assert_eq!(
        err.unwrap_err(),
        ReportError::NonFiniteScore {
            what: "training scores",
            index: 0
        }
    );
}
