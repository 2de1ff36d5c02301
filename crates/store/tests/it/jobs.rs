use serde_json::json;
use unseen_store::{Finish, JobState, Role, StoreError};

use crate::{Db, new_job};

use JobState::{Accepted, Cancelled, Failed, Proposed, Rejected, Running, Succeeded};

/// The allowed transitions, written out independently of the implementation.
const ALLOWED: &[(JobState, JobState)] = &[
    (Proposed, Accepted),
    (Proposed, Rejected),
    (Proposed, Failed),
    (Proposed, Cancelled),
    (Accepted, Running),
    (Accepted, Failed),
    (Accepted, Cancelled),
    (Running, Succeeded),
    (Running, Failed),
    (Running, Cancelled),
];

fn finish(state: JobState) -> Finish {
    Finish {
        state,
        reason: None,
        output: Some("/out/j.csv".into()),
        output_digest: Some("ab12".into()),
        bytes_sent: 1_000,
        bytes_received: 2_500,
        result: json!({"intersection": 42}),
        fault: (state == JobState::Failed).then(|| "partner".into()),
    }
}

#[test]
fn a_job_round_trips_with_every_field() {
    let db = Db::temp();
    let mut s = db.open();
    let mut nj = new_job("job-1", Proposed);
    nj.role = Role::Responder;
    let job = s.insert_job(&nj).unwrap();
    assert_eq!(job.id, "job-1");
    assert_eq!(job.role, Role::Responder);
    assert_eq!(job.state, Proposed);
    assert_eq!(job.params, nj.params);
    assert_eq!(job.result, serde_json::Value::Null);
    assert_eq!((job.progress_done, job.progress_total), (0, 0));
    assert_eq!((job.started_ms, job.finished_ms), (None, None));
    assert_eq!(s.job("job-1").unwrap(), Some(job.clone()));
    assert_eq!(s.job("job-2").unwrap(), None);

    let rerun = s
        .insert_job(&{
            let mut r = new_job("job-2", Proposed);
            r.rerun_of = Some("job-1".into());
            r
        })
        .unwrap();
    assert_eq!(rerun.rerun_of.as_deref(), Some("job-1"));

    // The HTTP API returns a job as this JSON.
    let v = serde_json::to_value(&job).unwrap();
    assert_eq!(v["id"], "job-1");
    assert_eq!(v["state"], "proposed");
    assert_eq!(v["role"], "responder");
    assert_eq!(v["output"], serde_json::Value::Null);
    assert_eq!(v["params"]["ratio"], 0.5);
}

#[test]
fn insert_refuses_duplicates_unknown_reruns_and_bad_names() {
    let db = Db::temp();
    let mut s = db.open();
    s.insert_job(&new_job("job-1", Proposed)).unwrap();
    let err = s.insert_job(&new_job("job-1", Proposed)).unwrap_err();
    assert!(
        matches!(err, StoreError::Duplicate { what: "job", ref name } if name == "job-1"),
        "{err:?}"
    );

    let mut j = new_job("job-2", Proposed);
    j.rerun_of = Some("job-9".into());
    let err = s.insert_job(&j).unwrap_err();
    assert!(
        matches!(err, StoreError::NotFound { what: "job", ref name } if name == "job-9"),
        "{err:?}"
    );

    for (field, bad) in [
        ("job id", "../../etc/passwd"),
        ("job kind", ""),
        ("partner", "bank b"),
        ("dataset", "-x"),
        ("peer dataset", "a\nb"),
    ] {
        let mut j = new_job("job-3", Proposed);
        match field {
            "job id" => j.id = bad.into(),
            "job kind" => j.kind = bad.into(),
            "partner" => j.partner = bad.into(),
            "dataset" => j.dataset = bad.into(),
            _ => j.peer_dataset = bad.into(),
        }
        let err = s.insert_job(&j).unwrap_err();
        assert!(
            matches!(err, StoreError::InvalidName { ref kind, .. } if kind == field),
            "{field}: {err:?}"
        );
    }
    assert_eq!(s.jobs(None).unwrap().len(), 1);
}

/// All 7 × 7 pairs: the allowed ones succeed and set the timestamps, the others fail with
/// InvalidTransition and leave the job as it was.
#[test]
fn every_transition_is_allowed_or_refused_as_specified() {
    let db = Db::temp();
    let mut s = db.open();
    let mut allowed_seen = 0;
    for (i, from) in JobState::ALL.into_iter().enumerate() {
        for (k, to) in JobState::ALL.into_iter().enumerate() {
            let id = format!("j-{i}-{k}");
            let before = s.insert_job(&new_job(&id, from)).unwrap();
            let result = s.transition(&id, to, Some("why"));
            if ALLOWED.contains(&(from, to)) {
                allowed_seen += 1;
                let job = result.unwrap_or_else(|e| panic!("{from} -> {to}: {e}"));
                assert_eq!(job.state, to);
                assert_eq!(job.reason.as_deref(), Some("why"));
                // Started when it entered Running: now, or at insertion in Running.
                let ran = to == Running || from == Running;
                assert_eq!(job.started_ms.is_some(), ran, "{from} -> {to}");
                if from == Running {
                    assert_eq!(job.started_ms, before.started_ms);
                }
                assert_eq!(
                    job.finished_ms.is_some(),
                    to.is_terminal(),
                    "{from} -> {to}"
                );
                assert_eq!(s.job(&id).unwrap(), Some(job));
            } else {
                let err = result.unwrap_err();
                assert!(
                    matches!(
                        err,
                        StoreError::InvalidTransition { id: ref got, from: f, to: t }
                            if *got == id && f == from && t == to
                    ),
                    "{from} -> {to}: {err:?}"
                );
                assert_eq!(s.job(&id).unwrap(), Some(before), "{from} -> {to}");
            }
            assert_eq!(from.can_become(to), ALLOWED.contains(&(from, to)));
        }
    }
    assert_eq!(allowed_seen, ALLOWED.len());
    // Terminal states never change.
    for from in JobState::ALL.into_iter().filter(|s| s.is_terminal()) {
        assert!(JobState::ALL.into_iter().all(|to| !from.can_become(to)));
    }
}

#[test]
fn a_whole_life_keeps_start_and_reason_until_replaced() {
    let db = Db::temp();
    let mut s = db.open();
    s.insert_job(&new_job("j", Proposed)).unwrap();
    let j = s
        .transition("j", Accepted, Some("policy psi/both"))
        .unwrap();
    assert_eq!(j.started_ms, None);
    let j = s.transition("j", Running, None).unwrap();
    let started = j.started_ms.unwrap();
    assert_eq!(j.reason.as_deref(), Some("policy psi/both"));
    let j = s.transition("j", Failed, Some("peer vanished")).unwrap();
    assert_eq!(j.started_ms, Some(started));
    assert!(j.finished_ms.unwrap() >= started);
    assert_eq!(j.reason.as_deref(), Some("peer vanished"));
}

#[test]
fn transition_of_an_unknown_job_is_not_found() {
    let db = Db::temp();
    let mut s = db.open();
    let err = s.transition("nope", Accepted, None).unwrap_err();
    assert!(
        matches!(err, StoreError::NotFound { what: "job", .. }),
        "{err:?}"
    );
}

#[test]
fn a_long_reason_is_cut_not_refused() {
    let db = Db::temp();
    let mut s = db.open();
    s.insert_job(&new_job("j", Proposed)).unwrap();
    let j = s
        .transition("j", Failed, Some(&"x".repeat(100_000)))
        .unwrap();
    let reason = j.reason.unwrap();
    assert!(
        reason.len() <= 4096 && reason.ends_with('…'),
        "{}",
        reason.len()
    );
}

#[test]
fn progress_is_recorded_until_the_job_finishes() {
    let db = Db::temp();
    let mut s = db.open();
    s.insert_job(&new_job("j", Running)).unwrap();
    s.set_progress("j", 10, 100).unwrap();
    let j = s.job("j").unwrap().unwrap();
    assert_eq!((j.progress_done, j.progress_total), (10, 100));

    let err = s.set_progress("j", u64::MAX, 100).unwrap_err();
    assert!(
        matches!(
            err,
            StoreError::Invalid {
                field: "progress",
                ..
            }
        ),
        "{err:?}"
    );
    let err = s.set_progress("nope", 1, 1).unwrap_err();
    assert!(
        matches!(err, StoreError::NotFound { what: "job", .. }),
        "{err:?}"
    );

    s.transition("j", Cancelled, None).unwrap();
    s.set_progress("j", 99, 100).unwrap();
    let j = s.job("j").unwrap().unwrap();
    assert_eq!((j.progress_done, j.progress_total), (10, 100));
}

#[test]
fn finish_records_the_outcome_in_one_step() {
    let db = Db::temp();
    let mut s = db.open();
    s.insert_job(&new_job("j", Running)).unwrap();
    let f = finish(Succeeded);
    let j = s.finish_job("j", &f).unwrap();
    assert_eq!(j.state, Succeeded);
    assert_eq!(j.output.as_deref(), Some("/out/j.csv"));
    assert_eq!(j.output_digest.as_deref(), Some("ab12"));
    assert_eq!((j.bytes_sent, j.bytes_received), (1_000, 2_500));
    assert_eq!(j.result, json!({"intersection": 42}));
    assert!(j.finished_ms.is_some());
    assert_eq!(s.job("j").unwrap(), Some(j));

    // A finished job cannot finish again.
    let err = s.finish_job("j", &finish(Failed)).unwrap_err();
    assert!(
        matches!(
            err,
            StoreError::InvalidTransition {
                from: Succeeded,
                to: Failed,
                ..
            }
        ),
        "{err:?}"
    );
}

#[test]
fn finish_refuses_a_forbidden_or_non_terminal_state_and_records_nothing() {
    let db = Db::temp();
    let mut s = db.open();
    let before = s.insert_job(&new_job("j", Accepted)).unwrap();
    let err = s.finish_job("j", &finish(Succeeded)).unwrap_err();
    assert!(
        matches!(
            err,
            StoreError::InvalidTransition {
                from: Accepted,
                to: Succeeded,
                ..
            }
        ),
        "{err:?}"
    );
    let err = s.finish_job("j", &finish(Running)).unwrap_err();
    assert!(
        matches!(
            err,
            StoreError::Invalid {
                field: "final job state",
                ..
            }
        ),
        "{err:?}"
    );
    let mut big = finish(Failed);
    big.bytes_sent = u64::MAX;
    let err = s.finish_job("j", &big).unwrap_err();
    assert!(matches!(err, StoreError::Invalid { .. }), "{err:?}");
    assert_eq!(s.job("j").unwrap(), Some(before));

    // Accepted -> Failed is allowed, and records what was given.
    let j = s.finish_job("j", &finish(Failed)).unwrap();
    assert_eq!((j.state, j.bytes_sent), (Failed, 1_000));
    assert_eq!(j.fault.as_deref(), Some("partner"));
    assert_eq!(
        s.job("j").unwrap().unwrap().fault.as_deref(),
        Some("partner")
    );
}

#[test]
fn fail_interrupted_fails_exactly_the_unfinished_jobs() {
    let db = Db::temp();
    let mut s = db.open();
    for st in JobState::ALL {
        s.insert_job(&new_job(st.as_str(), st)).unwrap();
    }
    let failed = s.fail_interrupted("node restarted").unwrap();
    let ids: Vec<_> = failed.iter().map(|j| j.id.as_str()).collect();
    assert_eq!(ids, ["proposed", "accepted", "running"]);
    for j in &failed {
        assert_eq!(j.state, Failed);
        assert_eq!(j.reason.as_deref(), Some("node restarted"));
        assert_eq!(j.fault.as_deref(), Some("internal"));
        assert!(j.finished_ms.is_some());
    }
    for st in [Rejected, Succeeded, Failed, Cancelled] {
        let j = s.job(st.as_str()).unwrap().unwrap();
        assert_eq!((j.state, j.reason), (st, None));
    }
    assert!(s.fail_interrupted("again").unwrap().is_empty());
}

#[test]
fn jobs_are_listed_newest_first_with_a_limit() {
    let db = Db::temp();
    let mut s = db.open();
    for id in ["a", "b", "c"] {
        s.insert_job(&new_job(id, Proposed)).unwrap();
    }
    let ids = |jobs: Vec<unseen_store::Job>| jobs.into_iter().map(|j| j.id).collect::<Vec<_>>();
    assert_eq!(ids(s.jobs(None).unwrap()), ["c", "b", "a"]);
    assert_eq!(ids(s.jobs(Some(2)).unwrap()), ["c", "b"]);
    assert!(s.jobs(Some(0)).unwrap().is_empty());
}

#[test]
fn metrics_count_every_state_sum_bytes_and_time_jobs_that_ran() {
    let db = Db::temp();
    let mut s = db.open();
    let empty = s.job_metrics().unwrap();
    assert_eq!(empty.by_state.len(), 7);
    assert!(empty.by_state.iter().all(|&(_, n)| n == 0));

    s.insert_job(&new_job("p1", Proposed)).unwrap();
    s.insert_job(&new_job("p2", Proposed)).unwrap();
    s.insert_job(&new_job("r", Running)).unwrap();
    s.finish_job("r", &finish(Succeeded)).unwrap();
    s.insert_job(&new_job("r2", Running)).unwrap();
    let mut f = finish(Failed);
    f.bytes_sent = 5;
    f.bytes_received = 7;
    s.finish_job("r2", &f).unwrap();
    s.insert_job(&new_job("x", Proposed)).unwrap();
    s.transition("x", Rejected, None).unwrap();
    // Fixed times, so the durations are exact.
    db.raw()
        .execute_batch(
            "UPDATE jobs SET started_ms = 1000, finished_ms = 3500 WHERE id = 'r';
             UPDATE jobs SET started_ms = 1000, finished_ms = 1250 WHERE id = 'r2';",
        )
        .unwrap();

    let m = s.job_metrics().unwrap();
    assert_eq!(
        m.by_state,
        vec![
            (Proposed, 2),
            (Accepted, 0),
            (Rejected, 1),
            (Running, 0),
            (Succeeded, 1),
            (Failed, 1),
            (Cancelled, 0),
        ]
    );
    assert_eq!(m.bytes_sent_total, 1_005);
    assert_eq!(m.bytes_received_total, 2_507);
    // The rejected job never ran: no duration.
    assert_eq!(m.durations_s, vec![2.5, 0.25]);
}

#[test]
fn unparseable_stored_values_are_corrupt_not_a_panic() {
    let db = Db::temp();
    let mut s = db.open();
    s.insert_job(&new_job("j", Proposed)).unwrap();
    s.insert_job(&new_job("k", Proposed)).unwrap();
    let raw = db.raw();
    raw.execute_batch(
        "PRAGMA ignore_check_constraints = ON;
         UPDATE jobs SET state = 'paused' WHERE id = 'j';",
    )
    .unwrap();
    for err in [
        s.job("j").unwrap_err(),
        s.jobs(None).unwrap_err(),
        s.transition("j", Accepted, None).unwrap_err(),
        s.job_metrics().unwrap_err(),
    ] {
        assert!(matches!(err, StoreError::Corrupt(_)), "{err:?}");
    }
    raw.execute_batch(
        "UPDATE jobs SET params = '{not json' WHERE id = 'k';
         UPDATE jobs SET bytes_sent = -1, state = 'running' WHERE id = 'j';",
    )
    .unwrap();
    for err in [s.job("k").unwrap_err(), s.job("j").unwrap_err()] {
        assert!(matches!(err, StoreError::Corrupt(_)), "{err:?}");
    }
}

#[test]
fn a_version_6_database_gains_the_fault_column_and_keeps_its_jobs() {
    let db = Db::temp();
    let mut s = db.open();
    s.insert_job(&new_job("old", Proposed)).unwrap();
    drop(s);
    let raw = db.raw();
    raw.execute_batch("ALTER TABLE jobs DROP COLUMN fault")
        .unwrap();
    raw.pragma_update(None, "user_version", 6).unwrap();
    drop(raw);
    let mut s = db.open();
    assert_eq!(s.job("old").unwrap().unwrap().fault, None);
    let j = s.finish_job("old", &finish(Failed)).unwrap();
    assert_eq!(j.fault.as_deref(), Some("partner"));
}
