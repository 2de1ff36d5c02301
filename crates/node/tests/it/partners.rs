//! Two nodes in one process over real mutual TLS on 127.0.0.1: the responder's admission pools
//! under a flood of idle connections, and many jobs submitted at once.

use std::net::TcpStream;
use std::sync::Arc;
use std::time::{Duration, Instant};

use unseen_node::admission::Limits;
use unseen_node::jobs::{self, SubmitRequest};
use unseen_store::JobState;
use unseen_transport::loopback::LoopbackServer;

use crate::util::{Fixture, add_partner, allow, id_csv, node, register};

/// Bank A (initiator) and data provider B (responder, serving on a real port with `limits`),
/// pinned to each other, each with a 20-row dataset and a rule allowing PSI.
pub(crate) struct Pair {
    pub(crate) a: Fixture,
    pub(crate) b: Fixture,
    pub(crate) addr: std::net::SocketAddr,
}

pub(crate) fn pair(limits: Limits) -> Pair {
    let a = node("bank-a");
    let b = node("data-b");
    let srv = LoopbackServer::bind(b.node.identity(), b.node.config.transport_options()).unwrap();
    let addr = srv.addr();
    for (me, other, name, address) in [
        (&a, &b, "data-b", addr.to_string()),
        (&b, &a, "bank-a", "127.0.0.1:9".to_owned()),
    ] {
        let csv = me.data("c.csv");
        id_csv(&csv, 20);
        add_partner(me, name, &other.dir, &address);
        register(me, "customers", &csv, "id-card");
        allow(me, "customers", name, "psi");
    }
    let node_b = Arc::clone(&b.node);
    let (listener, acceptor) = srv.into_parts();
    let acceptor = Arc::new(acceptor);
    // Serves until the test process ends.
    std::thread::spawn(move || {
        unseen_node::daemon::serve_partners(&node_b, &acceptor, &listener, limits);
    });
    Pair { a, b, addr }
}

fn psi() -> SubmitRequest {
    SubmitRequest {
        kind: "psi".into(),
        partner: "data-b".into(),
        dataset: "customers".into(),
        peer_dataset: "customers".into(),
        ..SubmitRequest::default()
    }
}

/// Waits until every job has ended; returns their final (state, reason).
fn wait_all(f: &Fixture, ids: &[String], limit: Duration) -> Vec<(JobState, Option<String>)> {
    let deadline = Instant::now() + limit;
    loop {
        let jobs: Vec<_> = ids
            .iter()
            .map(|id| f.node.store().job(id).unwrap().unwrap())
            .collect();
        let ended = jobs.iter().all(|j| {
            matches!(
                j.state,
                JobState::Succeeded | JobState::Failed | JobState::Rejected | JobState::Cancelled
            )
        });
        if ended || Instant::now() > deadline {
            return jobs.into_iter().map(|j| (j.state, j.reason)).collect();
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Item 1: 80 idle TCP connections (no TLS), re-opened as they are closed, used to take every
/// partner slot (the partner's job then failed with "connection reset"). Now the handshake
/// pool sheds the oldest silent connection for each new one and authenticated sessions have
/// their own pool, so jobs get through while the port is flooded.
#[test]
fn jobs_get_through_while_the_partner_port_is_flooded_with_idle_connections() {
    let p = pair(Limits::default());
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let flood_stop = Arc::clone(&stop);
    let addr = p.addr;
    let flood = std::thread::spawn(move || {
        let mut held = std::collections::VecDeque::new();
        let mut opened = 0u64;
        while !flood_stop.load(std::sync::atomic::Ordering::Relaxed) {
            if let Ok(s) = TcpStream::connect(addr) {
                held.push_back(s);
                opened += 1;
            }
            // Always at least 80 idle sockets open: closed ones are replaced by new ones.
            if held.len() > 80 {
                held.pop_front();
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        opened
    });
    // Let the flood fill every pool first.
    std::thread::sleep(Duration::from_millis(1_500));
    let ids: Vec<String> = (0..4)
        .map(|_| jobs::submit(&p.a.node, "test", &psi(), None).unwrap().id)
        .collect();
    let ends = wait_all(&p.a, &ids, Duration::from_secs(25));
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let opened = flood.join().unwrap();
    assert!(opened > 80, "the flood opened only {opened} connections");
    for (state, reason) in &ends {
        assert_eq!(*state, JobState::Succeeded, "{reason:?}");
    }
    // The flood was shed, not served.
    let c = &p.b.node.counters;
    assert!(c.handshakes_shed.load(std::sync::atomic::Ordering::Relaxed) > 0);
}

/// Item 18: 80 jobs submitted at once to a partner that serves only 4 sessions at a time. Each
/// either waits in this node's queue (16 sessions per partner) or is told "busy" over TLS and
/// retries with backoff: none is lost (before, the surplus was reset and a fifth failed).
#[test]
fn eighty_jobs_at_once_all_succeed() {
    let p = pair(Limits {
        sessions: 4,
        ..Limits::default()
    });
    let ids: Vec<String> = (0..80)
        .map(|_| jobs::submit(&p.a.node, "test", &psi(), None).unwrap().id)
        .collect();
    let ends = wait_all(&p.a, &ids, Duration::from_secs(28));
    let failed: Vec<_> = ends
        .iter()
        .filter(|(s, _)| *s != JobState::Succeeded)
        .collect();
    assert!(
        failed.is_empty(),
        "{} of 80 did not succeed: {:?}",
        failed.len(),
        failed.first()
    );
    assert!(
        p.b.node
            .counters
            .busy
            .load(std::sync::atomic::Ordering::Relaxed)
            > 0,
        "the responder never had to say busy: the test did not exercise the retry"
    );
}

/// Item 7: every handshake with an unpinned certificate used to append a signed audit record
/// (about 240 a second, unbounded). Now the first from a source is audited at once and the
/// rest are counted into one record per interval; no count is lost.
#[test]
fn unpinned_handshake_flood_is_audited_at_a_bounded_rate() {
    let p = pair(Limits::default());
    let mallory = unseen_transport::Identity::generate("mallory").unwrap();
    let b_fp = p.b.node.fingerprint();
    let opts = unseen_transport::Options::default();
    let count_records = || {
        p.b.node
            .store()
            .audit_records(None)
            .unwrap()
            .into_iter()
            .filter(|r| r.action == "tls.refused")
            .collect::<Vec<_>>()
    };
    for _ in 0..40 {
        let e = unseen_transport::connect(p.addr, &mallory, &b_fp, &opts).unwrap_err();
        assert!(!e.is_transient(), "{e:?}");
    }
    // The refusals are audited on B's threads: wait until all 40 were counted.
    let deadline = Instant::now() + Duration::from_secs(20);
    while p
        .b
        .node
        .counters
        .tls_refused
        .load(std::sync::atomic::Ordering::Relaxed)
        < 40
    {
        assert!(Instant::now() < deadline, "B did not refuse 40 handshakes");
        std::thread::sleep(Duration::from_millis(50));
    }
    let during = count_records();
    assert_eq!(during.len(), 1, "one record at once, the rest counted");
    assert_eq!(
        during[0].params["fingerprint"],
        mallory.fingerprint().to_string()
    );
    p.b.node.flush_refusals(true);
    let after = count_records();
    assert_eq!(after.len(), 2);
    let total: u64 = after
        .iter()
        .map(|r| r.params["count"].as_u64().unwrap())
        .sum();
    assert_eq!(total, 40);
    assert_eq!(after[1].params["aggregated"], true);
    assert_eq!(after[1].params["source"], "127.0.0.1");
}
