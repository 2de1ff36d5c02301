//! The PSI job lifecycle between two nodes in one process (issue 14: these were the CLI's
//! two-daemon tests, `crates/cli/tests/it/node.rs`): jobs in every mode and on both curves, two
//! at once one each way, refusals by policy on either side, a rerun, empty datasets, key types
//! read differently and a cancel while running. Each test checks what each node records: the
//! job (state, reason, whose fault), its output against a plaintext intersection row by row,
//! and its audit records.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde_json::Value;
use unseen_crypto::CurveId;
use unseen_node::jobs::{self, SubmitRequest};
use unseen_node::kinds::psi::PsiMode;
use unseen_node::{NodeError, ops};
use unseen_store::{AuditReport, Job, JobState, Role};

use crate::jobs::{Pair, pair, pair_both_serving, wait};
use crate::util::{Fixture, allow_to, register_key};

/// One party's CSV file: which ID maps to which line.
struct Data {
    path: PathBuf,
    key: &'static str,
    header: &'static str,
    /// The ID numbers, in the file's order.
    ids: Vec<String>,
    line_of: HashMap<String, String>,
}

/// The normalised form of an ID number (what the outputs are sorted by).
fn norm(id: &str) -> String {
    id.trim().to_uppercase()
}

impl Data {
    /// A bank's file `id,name,amount` (the check character `x` written lower case).
    fn bank(path: &Path, ids: &[String]) -> Self {
        Self::write(path, "id", "id,name,amount", "\n", ids, |k, id| {
            format!("{},name{k},{}", id.to_lowercase(), k * 3 % 10_007)
        })
    }

    /// A data provider's file `seq,cust_id,segment`, CRLF line ends, the key in column 2.
    fn partner(path: &Path, ids: &[String]) -> Self {
        Self::write(
            path,
            "cust_id",
            "seq,cust_id,segment",
            "\r\n",
            ids,
            |k, id| format!("{k},{id},seg{}", k % 7),
        )
    }

    fn write(
        path: &Path,
        key: &'static str,
        header: &'static str,
        eol: &str,
        ids: &[String],
        line: impl Fn(usize, &str) -> String,
    ) -> Self {
        let mut text = format!("{header}{eol}");
        let mut line_of = HashMap::with_capacity(ids.len());
        for (k, id) in ids.iter().enumerate() {
            let l = line(k, id);
            text.push_str(&l);
            text.push_str(eol);
            line_of.insert(norm(id), l);
        }
        std::fs::write(path, text).unwrap();
        Data {
            path: path.to_path_buf(),
            key,
            header,
            ids: ids.to_vec(),
            line_of,
        }
    }

    /// The output this side must get for the common `inter`: the header, then its own lines
    /// sorted by normalised key.
    fn expected(&self, inter: &[String]) -> Vec<String> {
        let mut keys: Vec<String> = inter.iter().map(|i| norm(i)).collect();
        keys.sort();
        let mut v = vec![self.header.to_owned()];
        v.extend(keys.iter().map(|k| self.line_of[k].clone()));
        v
    }

    /// Rewrites the file to its header only (after its registration).
    fn empty(&self) {
        let eol = if self.key == "id" { "\n" } else { "\r\n" };
        std::fs::write(&self.path, format!("{}{eol}", self.header)).unwrap();
    }
}

/// Two nodes pinned to each other, A's `customers` and B's `their_customers` with `common`
/// shared ID numbers (seeded), PSI allowed both ways.
struct PsiPair {
    p: Pair,
    da: Data,
    db: Data,
    /// The true intersection (the plaintext oracle).
    inter: Vec<String>,
}

impl PsiPair {
    fn new(p: Pair, seed: u64, common: usize, a_only: usize, b_only: usize) -> Self {
        let (ia, ib, _) = unseen_testkit::overlapping(seed, common, a_only, b_only);
        let inter = unseen_testkit::plain_intersection(&ia, &ib);
        assert_eq!(inter.len(), common);
        let da = Data::bank(&p.a.data("customers.csv"), &ia);
        let db = Data::partner(&p.b.data("theirs.csv"), &ib);
        register_key(&p.a, "customers", &da.path, da.key, "id-card");
        register_key(&p.b, "their_customers", &db.path, db.key, "id-card");
        allow_to(&p.a, "customers", "data-b", "psi", "any");
        allow_to(&p.b, "their_customers", "bank-a", "psi", "any");
        PsiPair { p, da, db, inter }
    }

    fn a(&self) -> &Fixture {
        &self.p.a
    }

    fn b(&self) -> &Fixture {
        &self.p.b
    }
}

/// A PSI request from A: `customers` × B's `peer`.
fn psi(peer: &str, mode: PsiMode, curve: CurveId) -> SubmitRequest {
    SubmitRequest {
        kind: "psi".into(),
        partner: "data-b".into(),
        dataset: "customers".into(),
        peer_dataset: peer.into(),
        mode: Some(mode),
        curve: Some(curve),
        ..SubmitRequest::default()
    }
}

/// Submits `req` from A and waits for the job to end on both nodes: (A's record, B's).
fn run(pp: &PsiPair, req: &SubmitRequest) -> (Job, Job) {
    let job = jobs::submit(&pp.a().node, "test", req, None).unwrap();
    assert_eq!(job.state, JobState::Proposed, "{job:#?}");
    (wait(pp.a(), &job.id), wait(pp.b(), &job.id))
}

/// Asserts one job that succeeded, as this node records it.
fn check_job(j: &Job, id: &str, role: Role, partner: &str, dataset: &str, peer: &str) {
    assert_eq!(j.id, id, "{j:#?}");
    assert_eq!(j.kind, "psi", "{j:#?}");
    assert_eq!(j.role, role, "{j:#?}");
    assert_eq!(j.partner, partner, "{j:#?}");
    assert_eq!(j.dataset, dataset, "{j:#?}");
    assert_eq!(j.peer_dataset, peer, "{j:#?}");
    assert_eq!(j.state, JobState::Succeeded, "{j:#?}");
    assert_eq!((&j.reason, &j.fault), (&None, &None), "{j:#?}");
    assert!(j.created_ms > 0, "{j:#?}");
    assert!(j.started_ms.unwrap() <= j.finished_ms.unwrap(), "{j:#?}");
    assert!(j.bytes_sent > 0 && j.bytes_received > 0, "{j:#?}");
    assert!(j.progress_total > 0, "{j:#?}");
    assert_eq!(j.progress_done, j.progress_total, "{j:#?}");
}

/// A job from A (`customers` × `their_customers`) that succeeded on both nodes: both
/// records, the traffic counted alike on both ends, and what each side learnt of the sizes and
/// the count.
fn run_ok(pp: &PsiPair, mode: PsiMode, curve: CurveId) -> (Job, Job) {
    run_ok_req(pp, &psi("their_customers", mode, curve))
}

/// [`run_ok`] for any request from A on those datasets.
fn run_ok_req(pp: &PsiPair, req: &SubmitRequest) -> (Job, Job) {
    let (ja, jb) = run(pp, req);
    check_ok(pp, &ja, &jb, req.mode.unwrap_or(PsiMode::Both));
    (ja, jb)
}

/// The checks of [`run_ok`] on A's record `ja` and B's `jb` of a job A submitted.
fn check_ok(pp: &PsiPair, ja: &Job, jb: &Job, mode: PsiMode) {
    let id = ja.id.clone();
    check_job(
        ja,
        &id,
        Role::Initiator,
        "data-b",
        "customers",
        "their_customers",
    );
    check_job(
        jb,
        &id,
        Role::Responder,
        "bank-a",
        "their_customers",
        "customers",
    );
    assert_eq!(ja.bytes_sent, jb.bytes_received, "{ja:#?}\n{jb:#?}");
    assert_eq!(ja.bytes_received, jb.bytes_sent, "{ja:#?}\n{jb:#?}");
    assert_eq!(ja.params, jb.params, "{ja:#?}\n{jb:#?}");
    assert_eq!(ja.params["mode"], mode.as_str(), "{ja:#?}");
    // Each side knows both set sizes, and the count unless the mode gives the rows to the
    // other side only.
    let (na, nb) = (pp.da.ids.len(), pp.db.ids.len());
    assert_eq!(ja.result["items"], na, "{ja:#?}");
    assert_eq!(ja.result["peer_items"], nb, "{ja:#?}");
    assert_eq!(jb.result["items"], nb, "{jb:#?}");
    assert_eq!(jb.result["peer_items"], na, "{jb:#?}");
    let n = pp.inter.len();
    let count = |learns: bool| if learns { Value::from(n) } else { Value::Null };
    assert_eq!(
        ja.result["cardinality"],
        count(mode != PsiMode::ResponderOnly),
        "{ja:#?}"
    );
    assert_eq!(
        jb.result["cardinality"],
        count(mode != PsiMode::InitiatorOnly),
        "{jb:#?}"
    );
}

/// The lines of a finished job's output on `f`: the job names `outputs/ID.csv`, and its digest
/// is the SM3 of that file.
fn output_lines(f: &Fixture, j: &Job) -> Vec<String> {
    let path = f.dir.output(&j.id);
    assert_eq!(
        j.output.as_deref(),
        Some(path.display().to_string().as_str()),
        "{j:#?}"
    );
    let bytes = std::fs::read(&path).unwrap();
    assert_eq!(
        j.output_digest.as_deref(),
        Some(unseen_node::fl_job::sm3_hex(&bytes).as_str()),
        "{j:#?}"
    );
    String::from_utf8(bytes)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect()
}

/// A's job record `ja` and B's `jb` of the same job (whoever submitted it): both outputs are
/// each side's own rows of the true intersection, sorted, aligned line by line.
fn check_both_outputs(pp: &PsiPair, ja: &Job, jb: &Job) {
    let oa = output_lines(pp.a(), ja);
    let ob = output_lines(pp.b(), jb);
    assert_eq!(oa, pp.da.expected(&pp.inter), "A's output");
    assert_eq!(ob, pp.db.expected(&pp.inter), "B's output");
    for (x, y) in oa[1..].iter().zip(&ob[1..]) {
        assert_eq!(
            norm(x.split(',').next().unwrap()),
            norm(y.split(',').nth(1).unwrap())
        );
    }
}

/// Every file name in `f`'s `outputs/`, hidden ones included, sorted.
fn outputs(f: &Fixture) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(f.dir.outputs())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

/// `f`'s audit records of job `id`: every one names the job, the chain's hashes are 256-bit,
/// `must` are among the actions; the job's closing record (`job.succeeded`) carries its kind,
/// partner, datasets, output digest and traffic.
fn check_job_audit(f: &Fixture, j: &Job, must: &[&str]) {
    let recs = f.node.store().audit_records(Some(&j.id)).unwrap();
    assert!(!recs.is_empty(), "no audit records for {}", j.id);
    for r in &recs {
        assert_eq!(r.job_id.as_deref(), Some(j.id.as_str()), "{r:#?}");
        for h in [&r.hash, &r.prev_hash] {
            assert_eq!(hex::decode(h).map(|d| d.len()).ok(), Some(32), "{r:#?}");
        }
    }
    let actions: Vec<&str> = recs.iter().map(|r| r.action.as_str()).collect();
    for a in must {
        assert!(actions.contains(a), "{a} missing in {actions:?}");
    }
    let done = recs.iter().find(|r| r.action == "job.succeeded").unwrap();
    assert_eq!(done.job_kind.as_deref(), Some("psi"), "{done:#?}");
    assert_eq!(
        done.partner.as_deref(),
        Some(j.partner.as_str()),
        "{done:#?}"
    );
    assert!(done.datasets.contains(&j.dataset), "{done:#?}");
    assert!(
        done.datasets
            .contains(&format!("{}:{}", j.partner, j.peer_dataset)),
        "{done:#?}"
    );
    assert_eq!(done.output_digest, j.output_digest, "{done:#?}");
    assert_eq!(done.bytes_sent, j.bytes_sent, "{done:#?}");
    assert_eq!(done.bytes_received, j.bytes_received, "{done:#?}");
}

/// `f`'s closing audit record of job `id` (`action`), which says why and whose fault.
fn check_ending_audit(f: &Fixture, id: &str, action: &str, fault: &str) {
    let recs = f.node.store().audit_records(Some(id)).unwrap();
    let r = recs
        .iter()
        .find(|r| r.action == action)
        .unwrap_or_else(|| panic!("no {action} for {id}: {recs:#?}"));
    assert_eq!(r.params["fault"], fault, "{r:#?}");
    assert!(r.params["reason"].is_string(), "{r:#?}");
}

/// The audit chain verifies (links and SM2 signatures) and is numbered from `node.init`
/// without gaps, each record naming its predecessor's hash.
fn assert_audit_ok(f: &Fixture) {
    let store = f.node.store();
    let report = unseen_node::audit_key::verify(&f.dir, &store).unwrap();
    assert!(matches!(report, AuditReport::Intact { .. }), "{report:?}");
    let recs = store.audit_records(None).unwrap();
    assert_eq!(recs[0].action, "node.init", "{:#?}", recs[0]);
    for w in recs.windows(2) {
        assert_eq!(w[1].seq, w[0].seq + 1, "{:#?}", w);
        assert_eq!(w[1].prev_hash, w[0].hash, "{:#?}", w);
        assert_ne!(w[1].hash, w[0].hash);
    }
}

fn audit_actions(f: &Fixture, action: &str) -> Vec<unseen_store::AuditRecord> {
    let recs = f.node.store().audit_records(None).unwrap();
    recs.into_iter().filter(|r| r.action == action).collect()
}

/// A job that ended short of success on one node: its state, whose fault, a reason containing
/// `needle`, and no output.
fn check_ended(j: &Job, state: JobState, fault: &str, needle: &str) {
    assert_eq!(j.state, state, "{j:#?}");
    assert_eq!(j.fault.as_deref(), Some(fault), "{j:#?}");
    let reason = j.reason.as_deref().unwrap_or_default();
    assert!(reason.contains(needle), "{needle:?} not in {reason:?}");
    assert_eq!((&j.output, &j.output_digest), (&None, &None), "{j:#?}");
}

/// Was `happy_path_all_modes_and_sm2` (CLI): every mode on ristretto255, SM2 once, two jobs at
/// once one each way; outputs against the plaintext intersection row by row, what each side
/// keeps, both audit chains.
#[test]
fn psi_jobs_in_every_mode_on_both_curves_and_both_ways() {
    let pp = PsiPair::new(pair_both_serving(), 11, 300, 200, 250);
    let (a, b) = (pp.a(), pp.b());
    let r255 = CurveId::Ristretto255;

    // Mode both, ristretto255 (the defaults).
    let (ja, jb) = run_ok_req(
        &pp,
        &SubmitRequest {
            mode: None,
            curve: None,
            ..psi("their_customers", PsiMode::Both, r255)
        },
    );
    let id = ja.id.clone();
    let params = serde_json::json!({"kind": "psi", "mode": "both", "curve": "ristretto255"});
    assert_eq!(ja.params, params, "{ja:#?}");
    check_both_outputs(&pp, &ja, &jb);
    assert_eq!(outputs(a), vec![format!("{id}.csv")]);
    assert_eq!(outputs(b), vec![format!("{id}.csv")]);
    check_job_audit(a, &ja, &["job.proposed", "job.accepted", "job.succeeded"]);
    check_job_audit(b, &jb, &["job.proposed", "job.accepted", "job.succeeded"]);
    let listed = a.node.store().jobs(None).unwrap();
    assert!(listed.iter().any(|j| j.id == id), "{listed:#?}");

    // Cardinality: both get a one-column count file, no rows.
    let (ja, jb) = run_ok(&pp, PsiMode::Cardinality, r255);
    let want = vec!["cardinality".to_owned(), pp.inter.len().to_string()];
    assert_eq!(output_lines(a, &ja), want);
    assert_eq!(output_lines(b, &jb), want);
    assert_eq!(ja.result["intersection"], Value::Null, "{ja:#?}");

    // Initiator-only: B learns nothing, writes nothing.
    let (ja, jb) = run_ok(&pp, PsiMode::InitiatorOnly, r255);
    assert_eq!(output_lines(a, &ja), pp.da.expected(&pp.inter));
    assert_eq!((&jb.output, &jb.output_digest), (&None, &None), "{jb:#?}");
    assert!(
        !outputs(b).iter().any(|f| f.contains(&jb.id)),
        "{:?}",
        outputs(b)
    );

    // Responder-only: the mirror image.
    let (ja, jb) = run_ok(&pp, PsiMode::ResponderOnly, r255);
    assert_eq!((&ja.output, &ja.output_digest), (&None, &None), "{ja:#?}");
    assert!(
        !outputs(a).iter().any(|f| f.contains(&ja.id)),
        "{:?}",
        outputs(a)
    );
    assert_eq!(output_lines(b, &jb), pp.db.expected(&pp.inter));

    // SM2 once, mode both.
    let (ja, jb) = run_ok(&pp, PsiMode::Both, CurveId::Sm2);
    assert_eq!(ja.params["curve"], "sm2", "{ja:#?}");
    check_both_outputs(&pp, &ja, &jb);

    // Two jobs at once, one each way.
    let one = jobs::submit(
        &a.node,
        "test",
        &psi("their_customers", PsiMode::Both, r255),
        None,
    )
    .unwrap();
    let other = SubmitRequest {
        partner: "bank-a".into(),
        dataset: "their_customers".into(),
        peer_dataset: "customers".into(),
        ..psi("", PsiMode::Both, r255)
    };
    let two = jobs::submit(&b.node, "test", &other, None).unwrap();
    for (id, role_a) in [(&one.id, Role::Initiator), (&two.id, Role::Responder)] {
        let (ja, jb) = (wait(a, id), wait(b, id));
        assert_eq!(ja.state, JobState::Succeeded, "{ja:#?}");
        assert_eq!(jb.state, JobState::Succeeded, "{jb:#?}");
        assert_eq!(ja.role, role_a, "{ja:#?}");
        assert_ne!(jb.role, role_a, "{jb:#?}");
        check_both_outputs(&pp, &ja, &jb);
    }

    // Seven jobs: outputs on A for all but responder-only, on B for all but initiator-only;
    // nothing pending left behind.
    assert_eq!(outputs(a).len(), 6, "{:?}", outputs(a));
    assert_eq!(outputs(b).len(), 6, "{:?}", outputs(b));
    for f in [a, b] {
        assert!(
            outputs(f).iter().all(|n| !n.starts_with('.')),
            "{:?}",
            outputs(f)
        );
        assert_eq!(f.node.store().jobs(None).unwrap().len(), 7);
        assert_audit_ok(f);
    }
}

/// Was `refused_by_policy_on_either_side` (CLI): B without a rule, or whose rule lets nobody
/// receive rows, rejects (B's configuration, the partner's fault for A); A without a rule
/// refuses before B hears of it; a withdrawn rule rejects until allowed again.
#[test]
fn refused_by_policy_on_either_side() {
    let pp = PsiPair::new(pair(), 31, 40, 20, 20);
    let (a, b) = (pp.a(), pp.b());
    let unshared = Data::partner(&b.data("unshared.csv"), &pp.db.ids);
    register_key(b, "unshared", &unshared.path, unshared.key, "id-card");
    let counts = Data::partner(&b.data("counts.csv"), &pp.db.ids);
    register_key(b, "counts_only", &counts.path, counts.key, "id-card");
    allow_to(b, "counts_only", "bank-a", "psi", "none");
    let private = Data::bank(&a.data("private.csv"), &pp.da.ids);
    register_key(a, "private", &private.path, private.key, "id-card");
    let both = |peer| psi(peer, PsiMode::Both, CurveId::Ristretto255);

    // No rule on B for that dataset: B rejects and records why; A records B's reason.
    let (ja, jb) = run(&pp, &both("unshared"));
    let no_rule = "no policy allows partner \"bank-a\" to run psi jobs on dataset \"unshared\"";
    check_ended(&ja, JobState::Rejected, "partner", no_rule);
    assert!(
        ja.reason
            .as_deref()
            .unwrap()
            .starts_with("partner data-b rejected the job: ")
    );
    check_ended(&jb, JobState::Rejected, "config", no_rule);
    assert_eq!(
        (jb.role, jb.bytes_received),
        (Role::Responder, 0),
        "{jb:#?}"
    );
    check_ending_audit(a, &ja.id, "job.rejected", "partner");
    check_ending_audit(b, &jb.id, "job.rejected", "config");

    // B's rule lets nobody receive rows: mode both is rejected, cardinality runs.
    let (ja, jb) = run(&pp, &both("counts_only"));
    check_ended(&ja, JobState::Rejected, "partner", "policy");
    check_ended(&jb, JobState::Rejected, "config", "policy");
    check_ending_audit(b, &jb.id, "job.rejected", "config");
    let (ja, jb) = run(
        &pp,
        &psi("counts_only", PsiMode::Cardinality, CurveId::Ristretto255),
    );
    assert_eq!(
        (ja.state, jb.state),
        (JobState::Succeeded, JobState::Succeeded)
    );
    let want = vec!["cardinality".to_owned(), pp.inter.len().to_string()];
    assert_eq!(output_lines(a, &ja), want);
    assert_eq!(output_lines(b, &jb), want);
    let counted = ja.id.clone();

    // No rule on A: refused here, no job, nothing sent to B; audited once on A.
    let jobs_a = a.node.store().jobs(None).unwrap().len();
    let audit_b = b.node.store().audit_records(None).unwrap().len();
    let req = SubmitRequest {
        dataset: "private".into(),
        ..both("their_customers")
    };
    let err = jobs::submit(&a.node, "test", &req, None).unwrap_err();
    assert!(matches!(err, NodeError::Refused(_)), "{err:?}");
    assert_eq!(err.status(), 403);
    assert_eq!(
        err.to_string(),
        "refused: no policy allows partner \"data-b\" to run psi jobs on dataset \"private\""
    );
    assert_eq!(a.node.store().jobs(None).unwrap().len(), jobs_a);
    let refused = audit_actions(a, "job.refused");
    assert_eq!(refused.len(), 1, "{refused:#?}");
    assert_eq!(
        refused[0].datasets,
        vec!["private".to_owned()],
        "{refused:#?}"
    );
    assert_eq!(refused[0].job_id, None, "{refused:#?}");
    assert_eq!(b.node.store().audit_records(None).unwrap().len(), audit_b);

    // A rule can only name a job kind that exists.
    let rules = b.node.store().policies().unwrap();
    let err = ops::allow(
        &mut b.node.store(),
        "test",
        &ops::PolicyInput {
            dataset: "unshared".into(),
            partner: "bank-a".into(),
            job: "stats".into(),
            receivers: "any".into(),
        },
    )
    .unwrap_err();
    assert!(matches!(err, NodeError::Invalid(_)), "{err:?}");
    assert_eq!(b.node.store().policies().unwrap(), rules);

    // The rule withdrawn on B: the next job is rejected; allowed again, its rerun runs (a new
    // job that names the one it repeats, with the same parameters); only A can rerun it.
    assert!(
        ops::deny(
            &mut b.node.store(),
            "test",
            "their_customers",
            "bank-a",
            "psi"
        )
        .unwrap()
    );
    let (ja, jb) = run(&pp, &both("their_customers"));
    check_ended(&ja, JobState::Rejected, "partner", "no policy allows");
    check_ended(&jb, JobState::Rejected, "config", "no policy allows");
    allow_to(b, "their_customers", "bank-a", "psi", "any");
    let rejected = ja;
    let again = jobs::rerun(&a.node, "test", &rejected.id).unwrap();
    assert_ne!(again.id, rejected.id);
    assert_eq!(again.rerun_of.as_deref(), Some(rejected.id.as_str()));
    let (ja, jb) = (wait(a, &again.id), wait(b, &again.id));
    check_ok(&pp, &ja, &jb, PsiMode::Both);
    assert_eq!(ja.params, rejected.params, "{ja:#?}");
    check_both_outputs(&pp, &ja, &jb);
    let err = jobs::rerun(&b.node, "test", &jb.id).unwrap_err();
    assert!(matches!(err, NodeError::Conflict(_)), "{err:?}");

    // Rejected jobs left nothing behind: the two jobs that ran have their outputs, no more.
    let mut want = vec![format!("{counted}.csv"), format!("{}.csv", ja.id)];
    want.sort();
    assert_eq!(outputs(a), want);
    assert_eq!(outputs(b), want);
    assert_audit_ok(a);
    assert_audit_ok(b);
}

/// Was `an_empty_dataset_is_refused_on_either_side_before_the_protocol` (CLI): a dataset
/// emptied after registration is refused before any PSI message: B rejects at its decision (its
/// input), A refuses at submission.
#[test]
fn an_empty_dataset_is_refused_on_either_side_before_the_protocol() {
    let pp = PsiPair::new(pair(), 33, 20, 5, 5);
    let (a, b) = (pp.a(), pp.b());
    // B's file became header-only after registration: B rejects at its decision.
    pp.db.empty();
    let (ja, jb) = run(
        &pp,
        &psi("their_customers", PsiMode::Both, CurveId::Ristretto255),
    );
    let why = "dataset their_customers has no rows";
    check_ended(&ja, JobState::Rejected, "partner", why);
    check_ended(&jb, JobState::Rejected, "input", why);
    // The proposal and the decision only: no PSI message.
    assert!(
        ja.bytes_sent < 1_000 && ja.bytes_received < 1_000,
        "{ja:#?}"
    );
    check_ending_audit(b, &jb.id, "job.rejected", "input");
    assert!(outputs(a).is_empty() && outputs(b).is_empty());
    // A's file too: refused at submission (this node's input), no job, B hears nothing.
    pp.da.empty();
    let (jobs_a, jobs_b) = (
        a.node.store().jobs(None).unwrap().len(),
        b.node.store().jobs(None).unwrap().len(),
    );
    let err = jobs::submit(
        &a.node,
        "test",
        &psi("their_customers", PsiMode::Both, CurveId::Ristretto255),
        None,
    )
    .unwrap_err();
    assert!(matches!(err, NodeError::Invalid(_)), "{err:?}");
    assert_eq!(err.status(), 400);
    assert!(
        err.to_string().contains("dataset customers has no rows"),
        "{err}"
    );
    assert_eq!(a.node.store().jobs(None).unwrap().len(), jobs_a);
    assert_eq!(b.node.store().jobs(None).unwrap().len(), jobs_b);
}

/// Was `different_key_types_fail_the_job_on_both_nodes` (CLI): B registers the same file read
/// as plain strings, A reads ID numbers; both fail at the hello, each naming both key types.
#[test]
fn different_key_types_fail_the_job_on_both_nodes() {
    let pp = PsiPair::new(pair(), 34, 20, 5, 5);
    let (a, b) = (pp.a(), pp.b());
    register_key(b, "as_strings", &pp.db.path, pp.db.key, "string");
    allow_to(b, "as_strings", "bank-a", "psi", "any");
    let (ja, jb) = run(
        &pp,
        &psi("as_strings", PsiMode::Both, CurveId::Ristretto255),
    );
    // Whose fault: a parameter the two sides configured differently is configuration, on
    // both nodes (PsiError::fault of the hello's key-type check).
    for (j, f, ours, theirs) in [(&ja, a, "id-card", "string"), (&jb, b, "string", "id-card")] {
        let why = format!("the partner reads keys as {theirs}, this side as {ours}");
        check_ended(j, JobState::Failed, "config", &why);
        check_ending_audit(f, &j.id, "job.failed", "config");
    }
    assert!(outputs(a).is_empty() && outputs(b).is_empty());
}

/// Waits until job `id` runs on `f` and has made progress; panics if it ends first.
fn wait_running(f: &Fixture, id: &str) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let j = f.node.store().job(id).unwrap().unwrap();
        assert!(
            !j.state.is_terminal(),
            "the job ended before it could be cancelled: {j:#?}"
        );
        if j.state == JobState::Running && j.progress_done > 0 {
            return;
        }
        assert!(std::time::Instant::now() < deadline, "{j:#?}");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

/// From `fault_partner_cancelled_stalled_killed_mid_job` (CLI, which keeps `job cancel`
/// through the daemon): a job cancelled while it runs ends `cancelled` on this node, with no
/// fault (the operator's choice), and fails on the partner's; neither keeps an output.
#[test]
fn a_job_cancelled_while_running_ends_on_both_nodes_without_output() {
    // Large enough (SM2) to be caught running.
    let pp = PsiPair::new(pair(), 41, 10_000, 2_000, 2_000);
    let (a, b) = (pp.a(), pp.b());
    let req = psi("their_customers", PsiMode::Both, CurveId::Sm2);
    let job = jobs::submit(&a.node, "test", &req, None).unwrap();
    wait_running(a, &job.id);
    jobs::cancel(&a.node, "test", &job.id).unwrap();
    let ja = wait(a, &job.id);
    assert_eq!(ja.state, JobState::Cancelled, "{ja:#?}");
    assert_eq!(ja.fault, None, "{ja:#?}");
    assert!(
        ja.reason.as_deref().unwrap().starts_with("cancelled"),
        "{ja:#?}"
    );
    let jb = wait(b, &job.id);
    // The connection closed under B's protocol step.
    check_ended(
        &jb,
        JobState::Failed,
        "network",
        "peer closed the connection",
    );
    for f in [a, b] {
        assert!(outputs(f).is_empty(), "{:?}", outputs(f));
    }
    let actions: Vec<String> = a
        .node
        .store()
        .audit_records(Some(&job.id))
        .unwrap()
        .into_iter()
        .map(|r| r.action)
        .collect();
    for must in ["job.cancel_requested", "job.cancelled"] {
        assert!(
            actions.iter().any(|x| x == must),
            "{must} not in {actions:?}"
        );
    }
    check_ending_audit(b, &job.id, "job.failed", "network");
    // An ended job cannot be cancelled again.
    let err = jobs::cancel(&a.node, "test", &job.id).unwrap_err();
    assert!(matches!(err, NodeError::Conflict(_)), "{err:?}");
    assert_audit_ok(a);
    assert_audit_ok(b);
}
