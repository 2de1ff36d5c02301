//! The job lifecycle between two nodes in one process, over the in-memory duplex: the test
//! kind `echo` (`kinds/echo.rs`) through proposal, decision, run, confirmation and finish on
//! both nodes, and whose fault each way of failing is.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::net::SocketAddr;
use std::sync::Arc;

use unseen_store::{Job, JobState};

use super::*;
use crate::kinds::echo::{Echo, EchoSpec};
use crate::ops::{DataAccess, DatasetInput, PartnerInput, PolicyInput};

struct Pair {
    _tmp: tempfile::TempDir,
    a: Arc<Node>,
    b: Arc<Node>,
}

fn node(tmp: &Path, name: &str) -> Arc<Node> {
    let dir = crate::NodeDir::new(tmp.join(name));
    let listen: SocketAddr = "127.0.0.1:1".parse().unwrap();
    let api: SocketAddr = "127.0.0.1:2".parse().unwrap();
    crate::init::init(&dir, name, listen, api).unwrap();
    Node::open(&dir).unwrap()
}

fn pin(on: &Node, name: &str, other: &Node) {
    let cert = std::fs::read_to_string(other.dir.cert()).unwrap();
    let own = on.fingerprint();
    crate::ops::add_partner(
        &mut on.store(),
        "test",
        &own,
        &PartnerInput {
            name: name.into(),
            address: "127.0.0.1:9".into(),
            cert_pem: cert,
        },
    )
    .unwrap();
}

fn register(n: &Node, tmp: &Path, name: &str, allow_partner: Option<&str>) {
    let path = tmp.join(format!("{name}.csv"));
    std::fs::write(&path, "id,x\na,1\nb,2\n").unwrap();
    crate::ops::add_dataset(
        &n.dir,
        &mut n.store(),
        "test",
        &DatasetInput {
            name: name.into(),
            path,
            key: "id".into(),
            key_type: "string".into(),
            encoding: "auto".into(),
            skip_invalid: false,
        },
        DataAccess::Operator,
    )
    .unwrap();
    if let Some(p) = allow_partner {
        crate::ops::allow(
            &mut n.store(),
            "test",
            &PolicyInput {
                dataset: name.into(),
                partner: p.into(),
                job: "echo".into(),
                receivers: "any".into(),
            },
        )
        .unwrap();
    }
}

/// Node A (`bank-a`, the initiator) and node B (`data-b`), partners of each other, each with
/// a dataset; B's policy allows echo jobs when `b_allows`.
fn pair(b_allows: bool) -> Pair {
    let tmp = tempfile::tempdir().unwrap();
    let a = node(tmp.path(), "bank-a");
    let b = node(tmp.path(), "data-b");
    pin(&a, "data-b", &b);
    pin(&b, "bank-a", &a);
    register(&a, tmp.path(), "mine", Some("data-b"));
    register(&b, tmp.path(), "theirs", b_allows.then_some("bank-a"));
    Pair { _tmp: tmp, a, b }
}

/// Runs an echo job from A to B over a duplex; `responder` plays B's side of the channel.
fn run(
    p: &Pair,
    spec: EchoSpec,
    responder: impl FnOnce(Arc<Node>, unseen_channel::StreamChannel) + Send + 'static,
) -> Job {
    let to = Start {
        actor: "test",
        partner: "data-b",
        dataset: "mine",
        peer_dataset: "theirs",
        rerun_of: None,
        own_policy: true,
    };
    let (_, job) = record::<Echo>(&p.a, to, &spec).unwrap();
    let cancel = p.a.start_job(&job.id);
    let (mut ours, theirs) = unseen_channel::duplex();
    let b = Arc::clone(&p.b);
    let served = std::thread::spawn(move || responder(b, theirs));
    let result = run_initiator::<Echo, _>(&p.a, &job, "data-b", &mut ours, (spec, (), None));
    finish(&p.a, &job, result, &cancel);
    drop(ours);
    served.join().unwrap();
    p.a.store().job(&job.id).unwrap().unwrap()
}

/// B's side as its daemon serves it: the proposal, then whatever its kind does.
fn serve(b: Arc<Node>, mut ch: unseen_channel::StreamChannel) {
    let partner = b.store().partner("bank-a").unwrap().unwrap();
    let p = control::recv_propose(&mut ch).unwrap();
    serve_proposal(&b, &partner, &mut ch, None, &p);
}

fn b_job(p: &Pair, id: &str) -> Job {
    p.b.store().job(id).unwrap().unwrap()
}

fn echo(payload: &[u8], fail_initiator: Option<bool>) -> EchoSpec {
    EchoSpec {
        payload: payload.to_vec(),
        fail_initiator,
    }
}

#[test]
fn a_job_runs_its_whole_lifecycle_on_both_nodes() {
    let p = pair(true);
    let a = run(&p, echo(b"hello", None), serve);
    assert_eq!(a.state, JobState::Succeeded, "{:?}", a.reason);
    assert_eq!((a.kind.as_str(), a.fault.as_deref()), ("echo", None));
    assert_eq!(a.result["bytes"], 5);
    assert!(a.result["partner_audit_head"]["seq"].as_u64().is_some());
    let b = b_job(&p, &a.id);
    assert_eq!(b.state, JobState::Succeeded, "{:?}", b.reason);
    assert_eq!(b.result["bytes"], 5);
    assert_eq!(b.params, a.params);
    // Both audit logs hold the job's whole path.
    for (n, actions) in [
        (&p.a, ["job.proposed", "job.accepted", "job.succeeded"]),
        (&p.b, ["job.proposed", "job.accepted", "job.succeeded"]),
    ] {
        let got: Vec<String> = n
            .store()
            .audit_records(Some(&a.id))
            .unwrap()
            .into_iter()
            .map(|r| r.action)
            .collect();
        assert_eq!(got, actions);
    }
}

#[test]
fn a_partners_refusal_is_the_partners_fault_and_its_own_config() {
    let p = pair(false);
    let a = run(&p, echo(b"x", None), serve);
    assert_eq!(a.state, JobState::Rejected);
    assert_eq!(a.fault.as_deref(), Some("partner"));
    assert!(
        a.reason.as_deref().unwrap().contains("no policy allows"),
        "{:?}",
        a.reason
    );
    let b = b_job(&p, &a.id);
    assert_eq!(b.state, JobState::Rejected);
    assert_eq!(b.fault.as_deref(), Some("config"));
}

#[test]
fn a_partners_input_failure_is_the_partners_fault_here() {
    let p = pair(true);
    let a = run(&p, echo(b"x", Some(false)), serve);
    assert_eq!(a.state, JobState::Failed);
    assert_eq!(a.fault.as_deref(), Some("partner"));
    assert!(
        a.reason.as_deref().unwrap().contains("input"),
        "{:?}",
        a.reason
    );
    let b = b_job(&p, &a.id);
    assert_eq!(b.state, JobState::Failed);
    assert_eq!(b.fault.as_deref(), Some("input"));
}

#[test]
fn our_own_bad_input_is_ours_and_the_partners_record_says_partner() {
    let p = pair(true);
    let a = run(&p, echo(b"x", Some(true)), serve);
    assert_eq!(a.state, JobState::Failed);
    assert_eq!(a.fault.as_deref(), Some("input"));
    let b = b_job(&p, &a.id);
    assert_eq!(b.state, JobState::Failed);
    assert_eq!(b.fault.as_deref(), Some("partner"));
}

#[test]
fn a_dropped_connection_is_the_networks_fault() {
    let p = pair(true);
    // B accepts, then its connection goes away mid-job.
    let a = run(&p, echo(b"x", None), |_, mut ch| {
        let _ = control::recv_propose(&mut ch).unwrap();
        control::send_decision(
            &mut ch,
            &Decision {
                accepted: true,
                reason: None,
                no_row: false,
                rows: None,
            },
        )
        .unwrap();
        let _ = ch.recv(unseen_channel::Header::new(0x7e57, 1, 1), 1024);
        drop(ch);
    });
    assert_eq!(a.state, JobState::Failed);
    assert_eq!(a.fault.as_deref(), Some("network"), "{:?}", a.reason);
}

#[test]
fn the_registry_knows_the_test_kind_from_its_one_line() {
    assert!(kinds::KINDS.contains(&("echo", "echo")));
    assert!(kinds::policy_kinds().contains(&"echo"));
    let spec: JobSpec = echo(b"ab", None).into();
    assert_eq!(spec.kind(), "echo");
    let wire = serde_json::to_value(&spec).unwrap();
    assert_eq!(wire["kind"], "echo");
    let back: JobSpec = serde_json::from_value(wire).unwrap();
    assert_eq!(back, spec);
}
