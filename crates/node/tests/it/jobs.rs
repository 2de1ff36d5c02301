//! Two nodes in one process: node B serves partner connections on a loopback port (the
//! daemon's `serve_connection`), node A submits jobs to it (`jobs::submit`); both records are
//! checked. Failures on one side's own input: what each node records, and that no data value
//! reaches a job's reason or the audit.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use unseen_node::Node;
use unseen_node::jobs::{self, SubmitRequest};
use unseen_node::ops;
use unseen_store::{Job, JobState};
use unseen_transport::loopback::LoopbackServer;

use crate::util::{Fixture, add_partner, allow, node, register};

/// Node A (`bank-a`) and node B (`data-b`), partners of each other; B serves on a port.
pub(crate) struct Pair {
    pub(crate) a: Fixture,
    pub(crate) b: Fixture,
}

/// Serves `node`'s partner port on a loopback port until the test process ends.
pub(crate) fn serve(node: Arc<Node>) -> std::net::SocketAddr {
    let srv = LoopbackServer::bind(node.identity(), node.config.transport_options()).unwrap();
    let addr = srv.addr();
    let (listener, acceptor) = srv.into_parts();
    let acceptor = Arc::new(acceptor);
    std::thread::spawn(move || {
        for tcp in listener.incoming().flatten() {
            let node = Arc::clone(&node);
            let acceptor = Arc::clone(&acceptor);
            std::thread::spawn(move || jobs::serve_connection(&node, &acceptor, tcp));
        }
    });
    addr
}

pub(crate) fn pair() -> Pair {
    let a = node("bank-a");
    let b = node("data-b");
    let addr = serve(Arc::clone(&b.node));
    add_partner(&a, "data-b", &b.dir, &addr.to_string());
    // B never connects to A in these tests.
    add_partner(&b, "bank-a", &a.dir, "127.0.0.1:9");
    Pair { a, b }
}

/// [`pair`] where A serves too, so that B can submit jobs to A.
pub(crate) fn pair_both_serving() -> Pair {
    let a = node("bank-a");
    let b = node("data-b");
    let (addr_a, addr_b) = (serve(Arc::clone(&a.node)), serve(Arc::clone(&b.node)));
    add_partner(&a, "data-b", &b.dir, &addr_b.to_string());
    add_partner(&b, "bank-a", &a.dir, &addr_a.to_string());
    Pair { a, b }
}

/// Waits until the job has ended on this node.
pub(crate) fn wait(f: &Fixture, id: &str) -> Job {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        if let Some(j) = f.node.store().job(id).unwrap()
            && j.state.is_terminal()
        {
            return j;
        }
        assert!(Instant::now() < deadline, "job {id} did not end");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The audit log as text (every record's params and outcome), to search for leaked values.
pub(crate) fn audit_text(f: &Fixture) -> String {
    let store = f.node.store();
    let records = store.audit_records(None).unwrap();
    records
        .iter()
        .map(|r| format!("{} {} {}\n", r.action, r.outcome, r.params))
        .collect()
}

pub(crate) fn train_request(dataset: &str, peer: &str, label: &str) -> SubmitRequest {
    SubmitRequest {
        kind: "train".into(),
        partner: "data-b".into(),
        dataset: dataset.into(),
        peer_dataset: peer.into(),
        label: Some(label.into()),
        trees: Some(2),
        depth: Some(2),
        bins: Some(4),
        ..SubmitRequest::default()
    }
}

/// A guest file (`id,label,x`) and a host file (`id,z`) of the same `n` string keys.
pub(crate) fn fl_files(
    dir: &Path,
    n: usize,
    label: impl Fn(usize) -> String,
) -> (std::path::PathBuf, std::path::PathBuf) {
    let mut g = String::from("id,label,x\n");
    let mut h = String::from("id,z\n");
    for i in 0..n {
        g.push_str(&format!("c{i:04},{},{}\n", label(i), i % 7));
        h.push_str(&format!("c{i:04},{}\n", (i * 3) % 11));
    }
    let (gp, hp) = (dir.join("guest.csv"), dir.join("host.csv"));
    std::fs::write(&gp, g).unwrap();
    std::fs::write(&hp, h).unwrap();
    (gp, hp)
}

fn train_pair(n: usize, label: impl Fn(usize) -> String) -> Pair {
    let p = pair();
    let (gp, hp) = fl_files(&p.a.data(""), n, label);
    register(&p.a, "guest", &gp, "string");
    register(&p.b, "host", &hp, "string");
    allow(&p.a, "guest", "data-b", "train");
    allow(&p.b, "host", "bank-a", "train");
    p
}

/// A training job on 30 rows whose label is 0/1 except `bad` on row 17, submitted by A.
fn train_with_bad_label(bad: &str) -> (Pair, Job) {
    let p = train_pair(30, |i| {
        if i == 17 {
            bad.to_owned()
        } else {
            (i % 2).to_string()
        }
    });
    let job = jobs::submit(
        &p.a.node,
        "test",
        &train_request("guest", "host", "label"),
        None,
    )
    .unwrap();
    (p, job)
}

/// Item 5: a label column holding ID numbers (`--label id`-like mistakes) fails the job, but
/// the value never reaches the job's reason or the audit chain, on either node.
#[test]
fn a_bad_label_value_is_masked_in_the_reason_and_the_audit() {
    let id = "11010519491231002X";
    let (p, job) = train_with_bad_label(id);
    let a = wait(&p.a, &job.id);
    assert_eq!(a.state, JobState::Failed);
    let reason = a.reason.clone().unwrap_or_default();
    assert!(reason.contains("label column"), "{reason}");
    assert!(reason.contains("110105********002X"), "masked: {reason}");
    for f in [&p.a, &p.b] {
        let audit = audit_text(f);
        assert!(!audit.contains(id), "the raw value reached the audit");
        assert!(
            !audit.contains("19491231"),
            "the raw value reached the audit"
        );
    }
    let b = wait(&p.b, &job.id);
    assert!(!b.reason.unwrap_or_default().contains("19491231"));
}

/// Item 17: when the guest fails on its own input, the host's record says that the partner's
/// node failed the job and in which category, not "unexpected message".
#[test]
fn the_other_side_records_the_partners_failure_category() {
    let (p, job) = train_with_bad_label("maybe");
    assert_eq!(wait(&p.a, &job.id).state, JobState::Failed);
    let b = wait(&p.b, &job.id);
    assert_eq!(b.state, JobState::Failed);
    let reason = b.reason.unwrap_or_default();
    assert!(
        reason.contains("the partner's node failed the job: input"),
        "{reason}"
    );
    assert!(!reason.contains("unexpected message"), "{reason}");
    assert!(!reason.contains("maybe"), "{reason}");
}

/// Item 16: a label of one class is refused before the partner trains, on both nodes.
#[test]
fn training_on_one_class_is_refused_before_the_partner_works() {
    let p = train_pair(30, |_| "1".to_owned());
    let job = jobs::submit(
        &p.a.node,
        "test",
        &train_request("guest", "host", "label"),
        None,
    )
    .unwrap();
    let a = wait(&p.a, &job.id);
    assert_eq!(a.state, JobState::Failed);
    let reason = a.reason.unwrap_or_default();
    assert!(reason.contains("--min-class-rows"), "{reason}");
    let b = wait(&p.b, &job.id);
    assert_eq!(b.state, JobState::Failed);
    // The host did not even align: nothing received beyond the proposal and the abort.
    assert!(b.bytes_received < 2_000, "{}", b.bytes_received);
    assert!(
        b.reason
            .unwrap_or_default()
            .contains("the partner's node failed the job: input")
    );
    assert!(unseen_node::fl_job::list_models(&p.a.dir).is_empty());
    assert!(unseen_node::fl_job::list_models(&p.b.dir).is_empty());
}

/// Item 16: too few common rows are refused by both nodes after the alignment (each checks);
/// the minimums are configurable per request.
#[test]
fn training_on_too_few_common_rows_is_refused_and_the_minimums_are_configurable() {
    let p = train_pair(6, |i| (i % 2).to_string());
    let job = jobs::submit(
        &p.a.node,
        "test",
        &train_request("guest", "host", "label"),
        None,
    )
    .unwrap();
    let a = wait(&p.a, &job.id);
    assert_eq!(a.state, JobState::Failed);
    assert!(a.reason.unwrap_or_default().contains("--min-rows"));
    // A request may not switch the check off.
    let mut r = train_request("guest", "host", "label");
    r.min_rows = Some(1);
    assert!(matches!(
        jobs::submit(&p.a.node, "test", &r, None),
        Err(unseen_node::NodeError::Invalid(_))
    ));
    r.min_rows = Some(2);
    r.min_class_rows = Some(0);
    assert!(matches!(
        jobs::submit(&p.a.node, "test", &r, None),
        Err(unseen_node::NodeError::Invalid(_))
    ));
}

/// A PSI pair on string keys: A's `customers` and B's `accounts`, rules on both sides.
fn psi_pair() -> (Pair, std::path::PathBuf) {
    let p = pair();
    let (ga, hb) = (p.a.data("a.csv"), p.b.data("b.csv"));
    std::fs::write(&ga, "id,x\nc1,1\nc2,2\nc3,3\n").unwrap();
    std::fs::write(&hb, "id,y\nc2,5\nc3,6\nc4,7\n").unwrap();
    register(&p.a, "customers", &ga, "string");
    register(&p.b, "accounts", &hb, "string");
    allow(&p.a, "customers", "data-b", "psi");
    allow(&p.b, "accounts", "bank-a", "psi");
    (p, ga)
}

fn psi_request() -> SubmitRequest {
    SubmitRequest {
        kind: "psi".into(),
        partner: "data-b".into(),
        dataset: "customers".into(),
        peer_dataset: "accounts".into(),
        ..SubmitRequest::default()
    }
}

/// Item 15: a dataset file replaced after registration by another valid file fails the job on
/// both nodes until the operator refreshes the registration; the job and its audit record then
/// carry the file's SM3 digest.
#[test]
fn a_dataset_file_replaced_after_registration_fails_the_job_until_refreshed() {
    let (p, ga) = psi_pair();
    std::fs::write(&ga, "id,x\nc1,1\nc2,2\nc9,3\nc8,4\n").unwrap();
    let job = jobs::submit(&p.a.node, "test", &psi_request(), None).unwrap();
    let a = wait(&p.a, &job.id);
    assert_eq!(a.state, JobState::Failed);
    let reason = a.reason.unwrap_or_default();
    assert!(
        reason.contains("changed since it was registered"),
        "{reason}"
    );
    assert!(
        reason.contains("unseen dataset refresh customers"),
        "{reason}"
    );
    let b = wait(&p.b, &job.id);
    assert!(
        b.reason
            .unwrap_or_default()
            .contains("the partner's node failed the job: input")
    );
    // The operator re-registers the new file: the next job runs and records its digest.
    let (d, _) = {
        let mut store = p.a.node.store();
        ops::refresh_dataset(&mut store, "test", "customers").unwrap()
    };
    let sm3 = d.stamp.unwrap().sm3;
    let job = jobs::submit(&p.a.node, "test", &psi_request(), None).unwrap();
    let a = wait(&p.a, &job.id);
    assert_eq!(a.state, JobState::Succeeded, "{:?}", a.reason);
    assert_eq!(a.result["dataset_sm3"], serde_json::json!(sm3));
    let records = p.a.node.store().audit_records(Some(&job.id)).unwrap();
    let done = records
        .iter()
        .find(|r| r.action == "job.succeeded")
        .unwrap();
    assert_eq!(done.params["dataset_sm3"], serde_json::json!(sm3));
    // Touching the file without changing it is no change.
    let f = std::fs::File::options().append(true).open(&ga).unwrap();
    f.set_modified(std::time::SystemTime::now() + Duration::from_secs(60))
        .unwrap();
    let job = jobs::submit(&p.a.node, "test", &psi_request(), None).unwrap();
    assert_eq!(wait(&p.a, &job.id).state, JobState::Succeeded);
}

/// Item 6: a score session's audit record holds a keyed digest (HMAC-SM3 under the node's
/// secret, `identity/digest.key`, mode 0600), not the plain SM3 of the key that a reader could
/// reverse by trying every ID number.
#[test]
fn score_audit_records_hold_a_keyed_digest_of_the_key() {
    use std::os::unix::fs::PermissionsExt;
    use unseen_node::control::{self, Propose};
    use unseen_node::kinds::score::ScoreSpec;
    let p = pair();
    let key_path = unseen_node::digest_key::path(&p.b.dir);
    let mode = std::fs::metadata(&key_path).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
    let id = "11010519491231002X";
    // A score proposal straight to B's port; B refuses it (no policy), and audits it.
    let partner = p.a.node.store().partner("data-b").unwrap().unwrap();
    let addr = ops::resolve(&partner.address).unwrap();
    let pin = partner.fingerprint.parse().unwrap();
    let opts = p.a.node.config.transport_options();
    let mut ch = unseen_transport::connect(addr, p.a.node.identity(), &pin, &opts).unwrap();
    let model = unseen_node::kinds::parse_model_id("00112233445566778899aabbccddeeff").unwrap();
    control::send_propose(
        &mut ch,
        &Propose {
            job_id: "0123456789abcdef0123456789abcdef".into(),
            dataset: "accounts".into(),
            initiator_dataset: "customers".into(),
            spec: ScoreSpec { model }.into(),
            key: Some(id.into()),
            rows: None,
        },
    )
    .unwrap();
    assert!(!control::recv_decision(&mut ch).unwrap().accepted);
    let deadline = Instant::now() + Duration::from_secs(10);
    let record = loop {
        let records = p.b.node.store().audit_records(None).unwrap();
        if let Some(r) = records
            .into_iter()
            .find(|r| r.action == "model.score_served")
        {
            break r;
        }
        assert!(Instant::now() < deadline, "no score record");
        std::thread::sleep(Duration::from_millis(20));
    };
    let plain = unseen_node::fl_job::sm3_hex(id.as_bytes());
    let keyed =
        p.b.node
            .digest_key
            .digest(unseen_node::kinds::score::SCORE_KEY_DOMAIN, id.as_bytes());
    assert_eq!(record.params["key_hmac"], serde_json::json!(keyed));
    let audit = audit_text(&p.b);
    assert!(
        !audit.contains(&plain),
        "the plain SM3 of the key is in the audit"
    );
    assert!(!audit.contains(id));
    // The secret survives a reopen (and is not recreated).
    let again = unseen_node::digest_key::load_or_create(&p.b.dir).unwrap();
    assert_eq!(
        again.digest("x", b"y"),
        p.b.node.digest_key.digest("x", b"y")
    );
}
