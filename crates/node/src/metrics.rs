//! `/metrics` in the Prometheus text exposition format (version 0.0.4).

use std::fmt::Write;
use std::sync::atomic::Ordering;

use unseen_store::JobMetrics;

use crate::node::Counters;

/// Upper bounds (seconds) of the job duration histogram's buckets.
const BUCKETS_S: &[f64] = &[1.0, 5.0, 30.0, 60.0, 300.0, 1800.0, 3600.0, 14_400.0];

/// Renders the metrics.
pub fn render(m: &JobMetrics, c: &Counters) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "# HELP unseen_jobs Jobs recorded on this node, by state."
    );
    let _ = writeln!(s, "# TYPE unseen_jobs gauge");
    for (state, n) in &m.by_state {
        let _ = writeln!(s, "unseen_jobs{{state=\"{}\"}} {n}", state.as_str());
    }
    counter(
        &mut s,
        "unseen_job_bytes_sent_total",
        "Bytes sent to partners by jobs.",
        m.bytes_sent_total,
    );
    counter(
        &mut s,
        "unseen_job_bytes_received_total",
        "Bytes received from partners by jobs.",
        m.bytes_received_total,
    );
    let _ = writeln!(
        s,
        "# HELP unseen_job_duration_seconds Wall time of jobs that ran, from running to their end."
    );
    let _ = writeln!(s, "# TYPE unseen_job_duration_seconds histogram");
    for b in BUCKETS_S {
        let n = m.durations_s.iter().filter(|&&d| d <= *b).count();
        let _ = writeln!(s, "unseen_job_duration_seconds_bucket{{le=\"{b}\"}} {n}");
    }
    let _ = writeln!(
        s,
        "unseen_job_duration_seconds_bucket{{le=\"+Inf\"}} {}",
        m.durations_s.len()
    );
    let _ = writeln!(
        s,
        "unseen_job_duration_seconds_sum {}",
        m.durations_s.iter().sum::<f64>()
    );
    let _ = writeln!(
        s,
        "unseen_job_duration_seconds_count {}",
        m.durations_s.len()
    );
    counter(
        &mut s,
        "unseen_api_unauthorized_total",
        "API requests refused for a missing or wrong token.",
        c.api_unauthorized.load(Ordering::Relaxed),
    );
    counter(
        &mut s,
        "unseen_tls_refused_total",
        "Partner connections refused: certificate not pinned.",
        c.tls_refused.load(Ordering::Relaxed),
    );
    counter(
        &mut s,
        "unseen_handshake_failed_total",
        "Connections that failed before completing the TLS handshake.",
        c.handshake_failed.load(Ordering::Relaxed),
    );
    counter(
        &mut s,
        "unseen_handshakes_shed_total",
        "Pending handshakes closed to make room for newer connections (handshake pool full).",
        c.handshakes_shed.load(Ordering::Relaxed),
    );
    counter(
        &mut s,
        "unseen_partner_busy_total",
        "Authenticated partners told to retry later because every session was taken.",
        c.busy.load(Ordering::Relaxed),
    );
    counter(
        &mut s,
        "unseen_partner_connections_total",
        "Authenticated partner connections accepted.",
        c.connections.load(Ordering::Relaxed),
    );
    counter(
        &mut s,
        "unseen_scores_total",
        "Applicants scored in real time as a model's guest (successful score sessions).",
        c.scored.load(Ordering::Relaxed),
    );
    counter(
        &mut s,
        "unseen_scores_served_total",
        "Score sessions served as a model's host (successful).",
        c.scores_served.load(Ordering::Relaxed),
    );
    s
}

fn counter(s: &mut String, name: &str, help: &str, v: u64) {
    let _ = writeln!(s, "# HELP {name} {help}");
    let _ = writeln!(s, "# TYPE {name} counter");
    let _ = writeln!(s, "{name} {v}");
}
