//! One self-contained HTML page per report: inline CSS, inline SVG plots, no script, no external
//! resource (it opens offline and prints on A4). Every piece of caller text (model id, party
//! and feature names, hyper-parameters) is HTML-escaped.

use std::fmt::Write as _;

use crate::metrics::{Metrics, PsiBand};
use crate::model::{FeatureImportance, FeatureLabel, ModelReport};
use crate::plot;

/// Escapes text for HTML element content and double- or single-quoted attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

const CSS: &str = r#"
*{box-sizing:border-box}
body{font-family:"Helvetica Neue",Arial,"PingFang SC","Noto Sans CJK SC","WenQuanYi Micro Hei","Microsoft YaHei",sans-serif;color:#222;margin:0;background:#f4f5f7;font-size:14px;line-height:1.45}
main{max-width:1200px;margin:0 auto;padding:24px 32px;background:#fff}
h1{font-size:22px;margin:0 0 4px}
h2{font-size:17px;margin:28px 0 10px;padding-bottom:4px;border-bottom:2px solid #2e6da4}
h3{font-size:14px;margin:4px 0 6px;color:#444}
.zh{color:#666;font-weight:normal}
.sub{color:#555;margin:0 0 12px}
table{border-collapse:collapse;margin:4px 0 8px}
th,td{border:1px solid #d5d8dc;padding:4px 9px;text-align:right;font-variant-numeric:tabular-nums}
th{background:#eef2f6;font-weight:600}
td.l,th.l{text-align:left}
.meta td,.meta th{text-align:left}
.cards{display:flex;flex-wrap:wrap;gap:10px;margin:8px 0}
.card{border:1px solid #d5d8dc;border-radius:6px;padding:8px 14px;min-width:150px}
.card .v{font-size:22px;font-weight:600}
.card .k{color:#555;font-size:12px}
.plots{display:grid;grid-template-columns:1fr 1fr;gap:14px}
.plot{border:1px solid #e1e4e8;border-radius:6px;padding:8px}
.plot svg{width:100%;height:auto;display:block}
.band{display:inline-block;padding:2px 10px;border-radius:10px;font-weight:600}
.Stable{background:#d4edda;color:#155724}.Monitor{background:#fff3cd;color:#856404}.Shift{background:#f8d7da;color:#721c24}
.bar{background:#2e6da4;height:10px;border-radius:2px}
.barcell{width:220px;text-align:left}
.note{color:#555;font-size:12px}
footer{margin-top:28px;color:#666;font-size:12px;border-top:1px solid #ddd;padding-top:8px}
@media print{body{background:#fff}main{padding:0;max-width:none}.plot,table,.cards{break-inside:avoid}h2{break-after:avoid}}
@page{size:A4;margin:14mm}
"#;

fn f4(v: f64) -> String {
    format!("{v:.4}")
}

fn pct(v: f64) -> String {
    format!("{:.2}%", v * 100.0)
}

fn opt(v: Option<f64>, f: fn(f64) -> String) -> String {
    v.map_or_else(|| "—".to_owned(), f)
}

fn bound(v: f64) -> String {
    if v == f64::NEG_INFINITY {
        "−∞".to_owned()
    } else if v == f64::INFINITY {
        "+∞".to_owned()
    } else {
        f4(v)
    }
}

/// A bilingual heading: English, then Chinese in a muted span.
fn h2(out: &mut String, en: &str, zh: &str) {
    let _ = writeln!(out, "<h2>{en} <span class=\"zh\">{zh}</span></h2>");
}

fn plot_or_note(result: Result<String, crate::ReportError>) -> String {
    result.unwrap_or_else(|err| format!("<p class=\"note\">{}</p>", escape(&err.to_string())))
}

/// Renders the whole report as one HTML page.
pub fn render(report: &ModelReport) -> String {
    let m = &report.metrics;
    let meta = &report.meta;
    let mut o = String::with_capacity(256 * 1024);
    let _ = write!(
        o,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>Model report — {}</title>\n<style>{CSS}</style>\n</head>\n<body>\n<main>\n",
        escape(&meta.model_id)
    );

    // Header.
    let _ = writeln!(
        o,
        "<h1>Model validation report <span class=\"zh\">模型验证报告</span></h1>\n\
         <p class=\"sub\">{} · {}{}</p>",
        escape(&meta.model_id),
        escape(&meta.algorithm),
        if meta.date.is_empty() {
            String::new()
        } else {
            format!(" · {}", escape(&meta.date))
        }
    );
    o.push_str("<table class=\"meta\">\n");
    let row = |o: &mut String, en: &str, zh: &str, v: &str| {
        let _ = writeln!(
            o,
            "<tr><th>{en} <span class=\"zh\">{zh}</span></th><td>{v}</td></tr>"
        );
    };
    row(&mut o, "Model id", "模型编号", &escape(&meta.model_id));
    row(&mut o, "Algorithm", "算法", &escape(&meta.algorithm));
    if !meta.date.is_empty() {
        row(&mut o, "Date", "日期", &escape(&meta.date));
    }
    let parties = meta
        .parties
        .iter()
        .map(|p| format!("{} ({})", escape(&p.name), escape(&p.role)))
        .collect::<Vec<_>>()
        .join("; ");
    row(&mut o, "Parties", "参与方", &parties);
    if !meta.viewer.is_empty() {
        row(&mut o, "Viewed by", "查看方", &escape(&meta.viewer));
    }
    row(
        &mut o,
        "Training rows",
        "训练样本数",
        &meta.train_rows.to_string(),
    );
    row(
        &mut o,
        "Test rows",
        "测试样本数",
        &meta.test_rows.to_string(),
    );
    row(
        &mut o,
        "Scored test rows (bads / goods)",
        "评分样本（坏 / 好）",
        &format!("{} ({} / {})", m.n, m.bads, m.goods),
    );
    o.push_str("</table>\n");

    summary(&mut o, m);

    // Plots.
    h2(&mut o, "Plots", "图表");
    o.push_str("<div class=\"plots\">\n");
    let plots = [
        ("ROC curve", "ROC 曲线", plot::roc_svg(&report.roc, m.auc)),
        ("KS curve", "KS 曲线", plot::ks_svg(&report.ks_curve, &m.ks)),
        (
            "Score distribution by class",
            "分数分布（按类别）",
            plot::histogram_svg(&report.histogram),
        ),
        ("Cumulative gain", "累计增益图", plot::gain_svg(&m.deciles)),
    ];
    for (en, zh, svg) in plots {
        let _ = writeln!(
            o,
            "<div class=\"plot\"><h3>{en} <span class=\"zh\">{zh}</span></h3>\n{}</div>",
            plot_or_note(svg)
        );
    }
    o.push_str("</div>\n");

    confusion(&mut o, m);
    deciles(&mut o, m);
    psi(&mut o, m);
    importance(&mut o, report);
    hyper_parameters(&mut o, &meta.hyper_parameters);

    o.push_str(
        "<footer>Conventions: a score is a probability of default; label 1 = bad (default), 0 = \
         good; a row is predicted bad when its score ≥ the threshold. AUC counts ties as one half \
         (Fawcett 2006); KS, gains table and PSI follow Siddiqi (2006), <i>Credit Risk \
         Scorecards</i>. Partner features are shown by index only. \
         约定：分数为违约概率；标签 1 = 坏（违约），0 = 好；分数 ≥ 阈值即判为坏。</footer>\n\
         </main>\n</body>\n</html>\n",
    );
    o
}

fn summary(o: &mut String, m: &Metrics) {
    h2(o, "Summary", "指标概览");
    o.push_str("<div class=\"cards\">\n");
    let card = |o: &mut String, k: &str, v: String| {
        let _ = writeln!(
            o,
            "<div class=\"card\"><div class=\"k\">{k}</div><div class=\"v\">{v}</div></div>"
        );
    };
    card(o, "AUC <span class=\"zh\">曲线下面积</span>", f4(m.auc));
    card(o, "Gini <span class=\"zh\">基尼系数</span>", f4(m.gini));
    card(
        o,
        "KS statistic <span class=\"zh\">KS 值</span>",
        f4(m.ks.ks),
    );
    card(
        o,
        "Bad rate <span class=\"zh\">坏样本率</span>",
        pct(m.bad_rate()),
    );
    if let Some(p) = &m.psi {
        card(
            o,
            "PSI <span class=\"zh\">群体稳定性指数</span>",
            f4(p.value),
        );
    }
    o.push_str("</div>\n<table>\n<tr><th class=\"l\">Metric <span class=\"zh\">指标</span></th><th>Value <span class=\"zh\">数值</span></th><th class=\"l\">Meaning <span class=\"zh\">含义</span></th></tr>\n");
    let rows = [
        (
            "AUC",
            f4(m.auc),
            "P(a random bad scores above a random good); 0.5 = chance, 1 = perfect",
        ),
        ("Gini = 2·AUC − 1", f4(m.gini), "accuracy ratio"),
        (
            "KS 值",
            f4(m.ks.ks),
            "largest gap between cumulative bads and goods",
        ),
        (
            "KS score 阈值",
            plot::fmt_threshold(m.ks.threshold),
            "rows scored ≥ this are predicted bad at the KS point",
        ),
        (
            "KS depth 样本占比",
            pct(m.ks.depth),
            "share of the population above the KS threshold",
        ),
    ];
    for (k, v, meaning) in rows {
        let _ = writeln!(
            o,
            "<tr><td class=\"l\">{k}</td><td>{v}</td><td class=\"l note\">{meaning}</td></tr>"
        );
    }
    o.push_str("</table>\n");
}

fn confusion(o: &mut String, m: &Metrics) {
    let c = &m.confusion;
    h2(o, "Confusion matrix", "混淆矩阵");
    let _ = write!(
        o,
        "<p class=\"sub\">Threshold <span class=\"zh\">阈值</span>: score ≥ {} is predicted bad.</p>\n\
         <table>\n<tr><th class=\"l\"></th><th>Predicted bad <span class=\"zh\">预测坏</span></th><th>Predicted good <span class=\"zh\">预测好</span></th><th>Total <span class=\"zh\">合计</span></th></tr>\n\
         <tr><th class=\"l\">Actual bad <span class=\"zh\">实际坏</span></th><td>TP {}</td><td>FN {}</td><td>{}</td></tr>\n\
         <tr><th class=\"l\">Actual good <span class=\"zh\">实际好</span></th><td>FP {}</td><td>TN {}</td><td>{}</td></tr>\n\
         </table>\n<table>\n\
         <tr><th>Precision <span class=\"zh\">精确率</span></th><th>Recall (TPR) <span class=\"zh\">召回率</span></th><th>FPR <span class=\"zh\">误报率</span></th><th>Accuracy <span class=\"zh\">准确率</span></th><th>F1</th></tr>\n\
         <tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>\n</table>\n",
        f4(c.threshold),
        c.tp,
        c.fn_,
        c.tp + c.fn_,
        c.fp,
        c.tn,
        c.fp + c.tn,
        opt(c.precision, pct),
        pct(c.recall),
        pct(c.fpr),
        pct(c.accuracy),
        opt(c.f1, f4),
    );
}

fn deciles(o: &mut String, m: &Metrics) {
    h2(o, "Gains table by score decile", "分数十分位增益表");
    o.push_str(
        "<p class=\"note\">Decile 1 holds the highest scores. Tied scores are never split: a tie \
         group goes to the decile of its middle row. 第 1 组为分数最高的 10%。</p>\n<table>\n\
         <tr><th>Decile<br><span class=\"zh\">分组</span></th><th>Score range<br><span class=\"zh\">分数区间</span></th>\
         <th>Count<br><span class=\"zh\">样本数</span></th><th>Bads<br><span class=\"zh\">坏样本</span></th>\
         <th>Bad rate<br><span class=\"zh\">坏样本率</span></th><th>Cum. bads<br><span class=\"zh\">累计坏占比</span></th>\
         <th>Cum. goods<br><span class=\"zh\">累计好占比</span></th><th>Lift<br><span class=\"zh\">提升度</span></th>\
         <th>Cum. lift<br><span class=\"zh\">累计提升度</span></th><th>KS</th></tr>\n",
    );
    for d in &m.deciles {
        let range = match (d.min_score, d.max_score) {
            (Some(lo), Some(hi)) => format!("{} – {}", f4(lo), f4(hi)),
            _ => "—".to_owned(),
        };
        let _ = writeln!(
            o,
            "<tr><td>{}</td><td>{range}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            d.decile,
            d.count,
            d.bads,
            opt(d.bad_rate, pct),
            pct(d.cum_bads),
            pct(d.cum_goods),
            opt(d.lift, |v| format!("{v:.2}")),
            opt(d.cum_lift, |v| format!("{v:.2}")),
            pct(d.ks),
        );
    }
    o.push_str("</table>\n");
}

fn psi(o: &mut String, m: &Metrics) {
    h2(o, "Population stability (PSI)", "群体稳定性指数");
    let Some(p) = &m.psi else {
        o.push_str("<p class=\"note\">No training scores were given: PSI not computed. 未提供训练集分数，未计算 PSI。</p>\n");
        return;
    };
    let (band, zh, advice) = match p.band {
        PsiBand::Stable => ("Stable", "稳定", "PSI < 0.1: no significant shift"),
        PsiBand::Monitor => ("Monitor", "需关注", "0.1 ≤ PSI ≤ 0.25: some shift, monitor"),
        PsiBand::Shift => (
            "Shift",
            "显著偏移",
            "PSI > 0.25: significant shift, investigate",
        ),
    };
    let _ = writeln!(
        o,
        "<p>PSI = <b>{}</b> <span class=\"band {band}\">{band} · {zh}</span> <span class=\"note\">{advice}. \
         Bins are the training scores' deciles; an empty bin counts as half an observation.</span></p>\n\
         <table>\n<tr><th>Bin<br><span class=\"zh\">分箱</span></th><th>Score range<br><span class=\"zh\">分数区间</span></th>\
         <th>Train count<br><span class=\"zh\">训练数</span></th><th>Train %<br><span class=\"zh\">训练占比</span></th>\
         <th>Test count<br><span class=\"zh\">测试数</span></th><th>Test %<br><span class=\"zh\">测试占比</span></th>\
         <th>Contribution<br><span class=\"zh\">贡献</span></th></tr>",
        f4(p.value)
    );
    for (i, b) in p.bins.iter().enumerate() {
        let _ = writeln!(
            o,
            "<tr><td>{}</td><td>({}, {}]</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            i + 1,
            bound(b.lower),
            bound(b.upper),
            b.expected_count,
            pct(b.expected_share),
            b.actual_count,
            pct(b.actual_share),
            f4(b.contribution),
        );
    }
    o.push_str("</table>\n");
}

fn feature_name(f: &FeatureLabel) -> String {
    match f {
        FeatureLabel::Named(name) => escape(name),
        FeatureLabel::Opaque(i) => {
            format!("partner feature #{i} <span class=\"zh\">合作方特征 #{i}</span>")
        }
    }
}

fn importance(o: &mut String, report: &ModelReport) {
    h2(o, "Feature importance by party", "各参与方特征重要性");
    if report.importance.is_empty() {
        o.push_str("<p class=\"note\">No feature importance was given. 未提供特征重要性。</p>\n");
        return;
    }
    // Parties in metadata order, then any other party named by an importance entry.
    let mut order: Vec<&str> = report
        .meta
        .parties
        .iter()
        .map(|p| p.name.as_str())
        .collect();
    for f in &report.importance {
        if !order.contains(&f.party.as_str()) {
            order.push(&f.party);
        }
    }
    let weight = |f: &FeatureImportance| {
        if f.importance.is_finite() {
            f.importance.abs()
        } else {
            0.0
        }
    };
    let total: f64 = report.importance.iter().map(weight).sum();
    for party in order {
        let mut rows: Vec<&FeatureImportance> = report
            .importance
            .iter()
            .filter(|f| f.party == party)
            .collect();
        if rows.is_empty() {
            continue;
        }
        rows.sort_by(|a, b| b.importance.total_cmp(&a.importance));
        let party_total: f64 = rows.iter().map(|f| weight(f)).sum();
        let own = if party == report.meta.viewer {
            " <span class=\"note\">(viewer · 本方)</span>"
        } else {
            ""
        };
        let _ = writeln!(
            o,
            "<h3>{}{own} <span class=\"note\">— {} features, {} of total importance</span></h3>\n\
             <table>\n<tr><th class=\"l\">Feature <span class=\"zh\">特征</span></th><th>Importance <span class=\"zh\">重要性</span></th>\
             <th>Share <span class=\"zh\">占比</span></th><th class=\"l barcell\"></th></tr>",
            escape(party),
            rows.len(),
            if total > 0.0 {
                pct(party_total / total)
            } else {
                "—".to_owned()
            },
        );
        for f in rows {
            let share = if total > 0.0 { weight(f) / total } else { 0.0 };
            let _ = writeln!(
                o,
                "<tr><td class=\"l\">{}</td><td>{}</td><td>{}</td><td class=\"barcell\"><div class=\"bar\" style=\"width:{:.1}%\"></div></td></tr>",
                feature_name(&f.feature),
                f4(f.importance),
                pct(share),
                share * 100.0,
            );
        }
        o.push_str("</table>\n");
    }
}

fn hyper_parameters(o: &mut String, hp: &[(String, String)]) {
    h2(o, "Hyper-parameters", "超参数");
    if hp.is_empty() {
        o.push_str("<p class=\"note\">None given. 未提供。</p>\n");
        return;
    }
    o.push_str("<table class=\"meta\">\n");
    for (k, v) in hp {
        let _ = writeln!(o, "<tr><th>{}</th><td>{}</td></tr>", escape(k), escape(v));
    }
    o.push_str("</table>\n");
}
