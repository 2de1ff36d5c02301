//! The report's plots as inline SVG, drawn with `plotters`' SVG backend.
//!
//! Only the SVG backend is linked (no bitmap, no font loading): `plotters` writes text as SVG
//! `<text>` elements (escaped) and the browser lays it out, so nothing depends on fontconfig or
//! freetype. Each function returns one `<svg>` element without the `xmlns` attribute (not needed
//! inline in HTML5, and the page then contains no URL at all).

use plotters::coord::Shift;
use plotters::prelude::*;

use crate::ReportError;
use crate::metrics::{DecileRow, Ks, KsPoint, RocPoint, ScoreHistogram};

/// Width of every plot in SVG pixels.
pub const WIDTH: u32 = 560;
/// Height of every plot in SVG pixels.
pub const HEIGHT: u32 = 400;

const BAD: RGBColor = RGBColor(0xc0, 0x39, 0x2b);
const GOOD: RGBColor = RGBColor(0x2e, 0x6d, 0xa4);
const GREY: RGBColor = RGBColor(0x88, 0x88, 0x88);
const INK: RGBColor = RGBColor(0x22, 0x22, 0x22);
const FONT: &str = "sans-serif";

fn line(color: RGBColor, width: u32) -> ShapeStyle {
    ShapeStyle {
        color: color.to_rgba(),
        filled: false,
        stroke_width: width,
    }
}

/// Draws into an in-memory SVG and returns it without the `xmlns` attribute.
fn svg(
    plot: &'static str,
    draw: impl FnOnce(&DrawingArea<SVGBackend<'_>, Shift>) -> Result<(), String>,
) -> Result<String, ReportError> {
    let mut buf = String::new();
    {
        let root = SVGBackend::with_string(&mut buf, (WIDTH, HEIGHT)).into_drawing_area();
        let fail = |reason: String| ReportError::Plot { plot, reason };
        root.fill(&WHITE).map_err(|e| fail(e.to_string()))?;
        draw(&root).map_err(fail)?;
        root.present().map_err(|e| fail(e.to_string()))?;
    }
    Ok(buf.replacen(r#" xmlns="http://www.w3.org/2000/svg""#, "", 1))
}

/// Turns any displayable plotters error into the closure's `String` error.
fn e<E: std::fmt::Display>(err: E) -> String {
    err.to_string()
}

fn pct(v: &f64) -> String {
    format!("{:.0}%", v * 100.0)
}

/// The ROC curve with the chance diagonal; the legend carries the AUC.
pub fn roc_svg(points: &[RocPoint], auc: f64) -> Result<String, ReportError> {
    svg("ROC", |root| {
        let mut chart = ChartBuilder::on(root)
            .margin(16)
            .x_label_area_size(44)
            .y_label_area_size(54)
            .build_cartesian_2d(0f64..1f64, 0f64..1f64)
            .map_err(e)?;
        chart
            .configure_mesh()
            .x_desc("False positive rate (FPR)")
            .y_desc("True positive rate (TPR)")
            .x_label_formatter(&pct)
            .y_label_formatter(&pct)
            .label_style((FONT, 13))
            .bold_line_style(RGBColor(0xdd, 0xdd, 0xdd))
            .light_line_style(RGBColor(0xf3, 0xf3, 0xf3))
            .draw()
            .map_err(e)?;
        chart
            .draw_series(DashedLineSeries::new(
                [(0.0, 0.0), (1.0, 1.0)],
                6,
                4,
                line(GREY, 1),
            ))
            .map_err(e)?
            .label("chance (AUC = 0.5)")
            .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], line(GREY, 1)));
        chart
            .draw_series(LineSeries::new(
                points.iter().map(|p| (p.fpr, p.tpr)),
                line(BAD, 2),
            ))
            .map_err(e)?
            .label(format!("model (AUC = {auc:.4})"))
            .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], line(BAD, 2)));
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::LowerRight)
            .label_font((FONT, 14))
            .border_style(GREY)
            .background_style(WHITE.mix(0.9))
            .draw()
            .map_err(e)
    })
}

/// TPR and FPR against the share of the population predicted bad, with the KS gap marked.
pub fn ks_svg(points: &[KsPoint], ks: &Ks) -> Result<String, ReportError> {
    svg("KS", |root| {
        let mut chart = ChartBuilder::on(root)
            .margin(16)
            .x_label_area_size(44)
            .y_label_area_size(54)
            .build_cartesian_2d(0f64..1f64, 0f64..1f64)
            .map_err(e)?;
        chart
            .configure_mesh()
            .x_desc("Population predicted bad (highest scores first)")
            .y_desc("Cumulative share")
            .x_label_formatter(&pct)
            .y_label_formatter(&pct)
            .label_style((FONT, 13))
            .bold_line_style(RGBColor(0xdd, 0xdd, 0xdd))
            .light_line_style(RGBColor(0xf3, 0xf3, 0xf3))
            .draw()
            .map_err(e)?;
        chart
            .draw_series(LineSeries::new(
                points.iter().map(|p| (p.depth, p.tpr)),
                line(BAD, 2),
            ))
            .map_err(e)?
            .label("bads captured (TPR)")
            .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], line(BAD, 2)));
        chart
            .draw_series(LineSeries::new(
                points.iter().map(|p| (p.depth, p.fpr)),
                line(GOOD, 2),
            ))
            .map_err(e)?
            .label("goods captured (FPR)")
            .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], line(GOOD, 2)));
        chart
            .draw_series(std::iter::once(PathElement::new(
                vec![(ks.depth, ks.fpr), (ks.depth, ks.tpr)],
                line(INK, 2),
            )))
            .map_err(e)?
            .label(format!(
                "KS = {:.4} at score ≥ {}",
                ks.ks,
                fmt_threshold(ks.threshold)
            ))
            .legend(|(x, y)| {
                PathElement::new(vec![(x + 10, y - 6), (x + 10, y + 6)], line(INK, 2))
            });
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::LowerRight)
            .label_font((FONT, 14))
            .border_style(GREY)
            .background_style(WHITE.mix(0.9))
            .draw()
            .map_err(e)
    })
}

/// A threshold for display: 4 decimals, `+∞` spelled out.
pub fn fmt_threshold(t: f64) -> String {
    if t.is_infinite() {
        "+∞".to_owned()
    } else {
        format!("{t:.4}")
    }
}

/// The score distribution of goods and bads, each as a share of its class.
pub fn histogram_svg(h: &ScoreHistogram) -> Result<String, ReportError> {
    let total = |v: &[u64]| v.iter().sum::<u64>().max(1) as f64;
    let (tg, tb) = (total(&h.goods), total(&h.bads));
    let ymax = h
        .goods
        .iter()
        .map(|&g| g as f64 / tg)
        .chain(h.bads.iter().map(|&b| b as f64 / tb))
        .fold(0.0, f64::max)
        .max(0.01)
        * 1.1;
    let lo = h.edges.first().copied().unwrap_or(0.0);
    let hi = h.edges.last().copied().unwrap_or(1.0);
    svg("histogram", |root| {
        let mut chart = ChartBuilder::on(root)
            .margin(16)
            .x_label_area_size(44)
            .y_label_area_size(54)
            .build_cartesian_2d(lo..hi.max(lo + f64::EPSILON), 0f64..ymax)
            .map_err(e)?;
        chart
            .configure_mesh()
            .x_desc("Score (probability of default)")
            .y_desc("Share of class")
            .y_label_formatter(&pct)
            .x_label_formatter(&|v| format!("{v:.2}"))
            .label_style((FONT, 13))
            .bold_line_style(RGBColor(0xdd, 0xdd, 0xdd))
            .light_line_style(RGBColor(0xf3, 0xf3, 0xf3))
            .draw()
            .map_err(e)?;
        let bars = |counts: &[u64], total: f64, color: RGBColor| {
            h.edges
                .windows(2)
                .zip(counts)
                .map(move |(w, &c)| {
                    Rectangle::new(
                        [(w[0], 0.0), (w[1], c as f64 / total)],
                        color.mix(0.45).filled(),
                    )
                })
                .collect::<Vec<_>>()
        };
        chart
            .draw_series(bars(&h.goods, tg, GOOD))
            .map_err(e)?
            .label("goods (label 0)")
            .legend(|(x, y)| {
                Rectangle::new([(x, y - 5), (x + 16, y + 5)], GOOD.mix(0.45).filled())
            });
        chart
            .draw_series(bars(&h.bads, tb, BAD))
            .map_err(e)?
            .label("bads (label 1)")
            .legend(|(x, y)| Rectangle::new([(x, y - 5), (x + 16, y + 5)], BAD.mix(0.45).filled()));
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperRight)
            .label_font((FONT, 14))
            .border_style(GREY)
            .background_style(WHITE.mix(0.9))
            .draw()
            .map_err(e)
    })
}

/// The cumulative gain chart from the decile table: share of bads captured against share of the
/// population reviewed, with the random-selection diagonal.
pub fn gain_svg(deciles: &[DecileRow]) -> Result<String, ReportError> {
    svg("gain", |root| {
        let mut chart = ChartBuilder::on(root)
            .margin(16)
            .x_label_area_size(44)
            .y_label_area_size(54)
            .build_cartesian_2d(0f64..1f64, 0f64..1f64)
            .map_err(e)?;
        chart
            .configure_mesh()
            .x_desc("Population reviewed (by decile, highest scores first)")
            .y_desc("Bads captured")
            .x_label_formatter(&pct)
            .y_label_formatter(&pct)
            .label_style((FONT, 13))
            .bold_line_style(RGBColor(0xdd, 0xdd, 0xdd))
            .light_line_style(RGBColor(0xf3, 0xf3, 0xf3))
            .draw()
            .map_err(e)?;
        chart
            .draw_series(DashedLineSeries::new(
                [(0.0, 0.0), (1.0, 1.0)],
                6,
                4,
                line(GREY, 1),
            ))
            .map_err(e)?
            .label("random selection")
            .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], line(GREY, 1)));
        let pts: Vec<(f64, f64)> = std::iter::once((0.0, 0.0))
            .chain(deciles.iter().map(|d| (d.cum_population, d.cum_bads)))
            .collect();
        chart
            .draw_series(LineSeries::new(pts.iter().copied(), line(BAD, 2)))
            .map_err(e)?
            .label("model (cumulative gain)")
            .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], line(BAD, 2)));
        chart
            .draw_series(pts.iter().skip(1).map(|&p| Circle::new(p, 3, BAD.filled())))
            .map_err(e)?;
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::LowerRight)
            .label_font((FONT, 14))
            .border_style(GREY)
            .background_style(WHITE.mix(0.9))
            .draw()
            .map_err(e)
    })
}
