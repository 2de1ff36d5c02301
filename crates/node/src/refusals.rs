//! Refusals audited at a bounded rate: an unpinned certificate at the partner port
//! (`tls.refused`), an API request without a valid token (`api.unauthorized`).
//!
//! Each refusal used to append one signed audit record, so anyone who reaches a port could
//! grow the audit log without bound (about 240 records a second with TLS handshakes). Now,
//! per action and source (IP address; IPv6 by /64, see [`crate::admission::Source`]):
//!
//! * the **first** refusal in an interval ([`INTERVAL`]) is audited at once, with its detail
//!   and `count: 1`, so a single probe is visible immediately;
//! * later ones in the same interval are only **counted**;
//! * when the interval has passed, the count is written as **one** record (`aggregated: true`,
//!   `count`, the interval, the detail of the last refusal). This happens on the next refusal
//!   of any source, on the daemon's periodic flush, and at shutdown ([`Refusals::flush_all`]),
//!   so no count is lost on an orderly stop.
//!
//! At most [`MAX_SOURCES`] sources are tracked per interval; refusals from further sources are
//! counted under the source `other`. So the audit log grows by at most
//! `2 × (MAX_SOURCES + 1)` records per action and interval, however fast refusals come. The
//! `/metrics` counters still count every refusal.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use unseen_store::AuditEvent;

/// How long refusals from one source are aggregated into one record.
pub const INTERVAL: Duration = Duration::from_secs(60);

/// Sources tracked at once; further ones share the source `other`.
pub const MAX_SOURCES: usize = 256;

/// Longest detail string kept (an API path is chosen by the caller).
const MAX_DETAIL_CHARS: usize = 256;

/// One source's refusals of one action in the current interval.
struct Window {
    actor: &'static str,
    started: Instant,
    /// Refusals after the first, not yet audited.
    counted: u64,
    /// Detail of the latest one.
    last: Value,
}

/// The aggregation state of one node.
#[derive(Default)]
pub struct Refusals {
    windows: Mutex<HashMap<(&'static str, String), Window>>,
}

impl std::fmt::Debug for Refusals {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Refusals")
            .field("sources", &lock(&self.windows).len())
            .finish()
    }
}

impl Refusals {
    /// Notes a refusal of `action` (by `actor`) from `source` with its `detail` (a JSON object
    /// of strings); returns the audit records now due: this one if it is the first from its
    /// source in the interval, and the aggregates of intervals that have passed.
    pub(crate) fn note(
        &self,
        actor: &'static str,
        action: &'static str,
        source: &str,
        detail: Value,
    ) -> Vec<AuditEvent> {
        let now = Instant::now();
        let detail = capped(detail);
        let mut due = Vec::new();
        let mut w = lock(&self.windows);
        expire(&mut w, now, false, &mut due);
        let mut key = (action, source.to_owned());
        if !w.contains_key(&key) && w.len() >= MAX_SOURCES {
            key.1 = "other".to_owned();
        }
        match w.get_mut(&key) {
            Some(win) => {
                win.counted += 1;
                win.last = detail;
            }
            None => {
                due.push(record(actor, action, &key.1, 1, false, &detail));
                w.insert(
                    key,
                    Window {
                        actor,
                        started: now,
                        counted: 0,
                        last: detail,
                    },
                );
            }
        }
        due
    }

    /// The aggregates due now (intervals that have passed), or of every window with `all`
    /// (at shutdown).
    pub(crate) fn take_due(&self, all: bool) -> Vec<AuditEvent> {
        let mut due = Vec::new();
        expire(&mut lock(&self.windows), Instant::now(), all, &mut due);
        due
    }
}

/// Removes the windows that ended (all with `all`), adding an aggregate record for each that
/// counted refusals after its first.
fn expire(
    w: &mut HashMap<(&'static str, String), Window>,
    now: Instant,
    all: bool,
    due: &mut Vec<AuditEvent>,
) {
    w.retain(|(action, source), win| {
        if !all && now.duration_since(win.started) < INTERVAL {
            return true;
        }
        if win.counted > 0 {
            due.push(record(
                win.actor,
                action,
                source,
                win.counted,
                true,
                &win.last,
            ));
        }
        false
    });
}

fn record(
    actor: &str,
    action: &str,
    source: &str,
    count: u64,
    aggregated: bool,
    detail: &Value,
) -> AuditEvent {
    let mut e = AuditEvent::new(actor, action, "refused");
    let mut params = json!({ "source": source, "count": count });
    if aggregated {
        params["aggregated"] = json!(true);
        params["interval_s"] = json!(INTERVAL.as_secs());
    }
    if let (Some(p), Some(d)) = (params.as_object_mut(), detail.as_object()) {
        for (k, v) in d {
            p.entry(k.clone()).or_insert_with(|| v.clone());
        }
    }
    e.params = params;
    e
}

/// The detail with every string cut to [`MAX_DETAIL_CHARS`] characters.
fn capped(detail: Value) -> Value {
    match detail {
        Value::Object(m) => Value::Object(
            m.into_iter()
                .map(|(k, v)| match v {
                    Value::String(s) if s.chars().count() > MAX_DETAIL_CHARS => {
                        (k, Value::String(s.chars().take(MAX_DETAIL_CHARS).collect()))
                    }
                    v => (k, v),
                })
                .collect(),
        ),
        other => other,
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // Plain counters: a panic elsewhere leaves them usable.
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]

    use super::*;

    #[test]
    fn first_refusal_at_once_the_rest_counted_and_flushed() {
        let r = Refusals::default();
        let first = r.note(
            "network",
            "tls.refused",
            "10.0.0.1",
            json!({"fingerprint": "x"}),
        );
        assert_eq!(first.len(), 1);
        assert_eq!(first[0].params["count"], 1);
        for _ in 0..99 {
            assert!(
                r.note("network", "tls.refused", "10.0.0.1", json!({}))
                    .is_empty()
            );
        }
        // Another source and another action are separate.
        assert_eq!(
            r.note("network", "tls.refused", "10.0.0.2", json!({}))
                .len(),
            1
        );
        assert_eq!(
            r.note("api", "api.unauthorized", "10.0.0.1", json!({}))
                .len(),
            1
        );
        assert!(r.take_due(false).is_empty(), "the interval has not passed");
        let rest = r.take_due(true);
        assert_eq!(rest.len(), 1);
        assert_eq!(rest[0].params["count"], 99);
        assert_eq!(rest[0].params["aggregated"], true);
        assert!(r.take_due(true).is_empty());
    }

    #[test]
    fn sources_beyond_the_cap_share_one_window() {
        let r = Refusals::default();
        let mut records = 0;
        for i in 0..(MAX_SOURCES + 100) {
            records += r
                .note("network", "tls.refused", &format!("s{i}"), json!({}))
                .len();
        }
        assert_eq!(records, MAX_SOURCES + 1);
        let rest = r.take_due(true);
        assert_eq!(rest.len(), 1);
        assert_eq!(rest[0].params["source"], "other");
        assert_eq!(rest[0].params["count"], 99);
    }

    #[test]
    fn long_details_are_cut() {
        let r = Refusals::default();
        let e = r.note(
            "api",
            "api.unauthorized",
            "s",
            json!({"path": "a".repeat(10_000)}),
        );
        assert_eq!(
            e[0].params["path"].as_str().unwrap().len(),
            MAX_DETAIL_CHARS
        );
    }
}
