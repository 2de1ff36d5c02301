//! Jobs and their state machine.

use rusqlite::{Connection, Row, TransactionBehavior, params};

use crate::check::{self, MAX_LINE};
use crate::error::StoreError;
use crate::store::{col, col_json, col_parse, col_u64, duplicate, exists, not_found, select_one};
use crate::{Finish, Job, JobMetrics, JobState, NewJob, Store, now_ms, validate_name};

impl Store {
    /// Records a new job in state `j.state` (normally [`JobState::Proposed`]). Fails with
    /// [`StoreError::Duplicate`] if the id is taken, and [`StoreError::NotFound`] if `rerun_of`
    /// names an unknown job.
    ///
    /// The id, kind, partner, dataset and peer dataset must be names (see
    /// [`validate_name`]). Starting in `Running` sets `started_ms`, and in a terminal state
    /// `finished_ms`, as [`transition`](Store::transition) would.
    pub fn insert_job(&mut self, j: &NewJob) -> Result<Job, StoreError> {
        validate_name("job id", &j.id)?;
        validate_name("job kind", &j.kind)?;
        validate_name("partner", &j.partner)?;
        validate_name("dataset", &j.dataset)?;
        validate_name("peer dataset", &j.peer_dataset)?;
        if let Some(of) = &j.rerun_of {
            validate_name("job id", of)?;
        }
        let params_text = check::json("job parameters", &j.params)?;
        let now = now_ms();
        let job = Job {
            id: j.id.clone(),
            kind: j.kind.clone(),
            role: j.role,
            partner: j.partner.clone(),
            dataset: j.dataset.clone(),
            peer_dataset: j.peer_dataset.clone(),
            params: j.params.clone(),
            state: j.state,
            reason: None,
            progress_done: 0,
            progress_total: 0,
            output: None,
            output_digest: None,
            bytes_sent: 0,
            bytes_received: 0,
            result: serde_json::Value::Null,
            rerun_of: j.rerun_of.clone(),
            created_ms: now,
            started_ms: (j.state == JobState::Running).then_some(now),
            finished_ms: j.state.is_terminal().then_some(now),
            fault: None,
        };
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        if exists(&tx, "SELECT 1 FROM jobs WHERE id = ?1", &j.id)? {
            return Err(duplicate("job", &j.id));
        }
        if let Some(of) = &j.rerun_of
            && !exists(&tx, "SELECT 1 FROM jobs WHERE id = ?1", of)?
        {
            return Err(not_found("job", of));
        }
        tx.execute(
            "INSERT INTO jobs (id, kind, role, partner, dataset, peer_dataset, params, state,
                               rerun_of, created_ms, started_ms, finished_ms)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
            params![
                job.id,
                job.kind,
                job.role.as_str(),
                job.partner,
                job.dataset,
                job.peer_dataset,
                params_text,
                job.state.as_str(),
                job.rerun_of,
                job.created_ms,
                job.started_ms,
                job.finished_ms,
            ],
        )?;
        tx.commit()?;
        Ok(job)
    }

    /// The job with id `id`, if recorded.
    pub fn job(&self, id: &str) -> Result<Option<Job>, StoreError> {
        job(&self.conn, id)
    }

    /// Jobs, newest (most recently recorded) first, at most `limit` of them.
    pub fn jobs(&self, limit: Option<u32>) -> Result<Vec<Job>, StoreError> {
        // SQLite reads a negative LIMIT as "no limit".
        let limit = limit.map_or(-1, i64::from);
        self.select(
            &format!("{JOB} ORDER BY seq DESC LIMIT ?1"),
            [limit],
            job_from_row,
        )
    }

    /// Moves job `id` to state `to`, recording `reason` if given (an earlier reason is kept
    /// otherwise). Entering [`JobState::Running`] sets `started_ms`; entering a terminal state
    /// sets `finished_ms`. Fails with [`StoreError::InvalidTransition`] if the state machine
    /// (see [`JobState::can_become`]) does not allow the move, and [`StoreError::NotFound`] for
    /// an unknown job.
    pub fn transition(
        &mut self,
        id: &str,
        to: JobState,
        reason: Option<&str>,
    ) -> Result<Job, StoreError> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let job = move_job(&tx, id, to, reason)?;
        tx.commit()?;
        Ok(job)
    }

    /// Records progress of a running (or not yet finished) job. Updates to a job that has
    /// already finished are ignored, so a late report cannot change a final record.
    pub fn set_progress(&mut self, id: &str, done: u64, total: u64) -> Result<(), StoreError> {
        let done = check::count("progress", done)?;
        let total = check::count("progress total", total)?;
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let Some(state) = state_of(&tx, id)? else {
            return Err(not_found("job", id));
        };
        if !state.is_terminal() {
            tx.execute(
                "UPDATE jobs SET progress_done = ?2, progress_total = ?3 WHERE id = ?1",
                params![id, done, total],
            )?;
        }
        tx.commit()?;
        Ok(())
    }

    /// Moves job `id` to the terminal state `f.state` as [`transition`](Store::transition) does,
    /// and records its output, digest, byte counts and result, in one transaction.
    pub fn finish_job(&mut self, id: &str, f: &Finish) -> Result<Job, StoreError> {
        if !f.state.is_terminal() {
            return Err(StoreError::Invalid {
                field: "final job state",
                reason: format!("{} is not a terminal state", f.state),
            });
        }
        if let Some(output) = &f.output {
            check::text("job output", output, check::MAX_PATH)?;
        }
        if let Some(digest) = &f.output_digest {
            check::line("job output digest", digest, MAX_LINE)?;
        }
        if let Some(fault) = &f.fault {
            validate_name("job fault", fault)?;
        }
        let sent = check::count("bytes sent", f.bytes_sent)?;
        let received = check::count("bytes received", f.bytes_received)?;
        let result = check::json("job result", &f.result)?;
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        move_job(&tx, id, f.state, f.reason.as_deref())?;
        tx.execute(
            "UPDATE jobs SET output = ?2, output_digest = ?3, bytes_sent = ?4,
                             bytes_received = ?5, result = ?6, fault = ?7
             WHERE id = ?1",
            params![
                id,
                f.output,
                f.output_digest,
                sent,
                received,
                result,
                f.fault
            ],
        )?;
        let job = job(&tx, id)?.ok_or_else(|| not_found("job", id))?;
        tx.commit()?;
        Ok(job)
    }

    /// Fails every job that is not in a terminal state, with `reason`, and returns them as
    /// updated. Called when a node starts: a job that was live when the previous process ended
    /// cannot be resumed (its partner's protocol state is gone).
    pub fn fail_interrupted(&mut self, reason: &str) -> Result<Vec<Job>, StoreError> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let live: Vec<String> = {
            let mut stmt = tx.prepare_cached(
                "SELECT id FROM jobs WHERE state IN ('proposed', 'accepted', 'running')
                 ORDER BY seq",
            )?;
            let ids = stmt.query_map([], |row| row.get(0))?;
            ids.collect::<Result<_, _>>()?
        };
        let mut failed = Vec::with_capacity(live.len());
        for id in &live {
            move_job(&tx, id, JobState::Failed, Some(reason))?;
            // The node stopped: its own failure, whatever the job was waiting for.
            tx.execute("UPDATE jobs SET fault = 'internal' WHERE id = ?1", [id])?;
            failed.push(job(&tx, id)?.ok_or_else(|| not_found("job", id))?);
        }
        tx.commit()?;
        Ok(failed)
    }

    /// Counts by state, byte totals and durations over every recorded job.
    pub fn job_metrics(&self) -> Result<JobMetrics, StoreError> {
        let mut by_state: Vec<(JobState, u64)> = JobState::ALL.iter().map(|&s| (s, 0)).collect();
        let mut metrics = JobMetrics {
            by_state: Vec::new(),
            bytes_sent_total: 0,
            bytes_received_total: 0,
            durations_s: Vec::new(),
        };
        let mut stmt = self.conn.prepare_cached(
            "SELECT state, bytes_sent, bytes_received, started_ms, finished_ms
             FROM jobs ORDER BY seq",
        )?;
        let mut rows = stmt.query([])?;
        while let Some(row) = rows.next()? {
            const T: &str = "jobs";
            let state: JobState = col_parse(row, 0, T)?;
            if let Some(slot) = by_state.iter_mut().find(|(s, _)| *s == state) {
                slot.1 += 1;
            }
            let sent = col_u64(row, 1, T)?;
            let received = col_u64(row, 2, T)?;
            metrics.bytes_sent_total = metrics.bytes_sent_total.saturating_add(sent);
            metrics.bytes_received_total = metrics.bytes_received_total.saturating_add(received);
            let started: Option<i64> = col(row, 3, T)?;
            let finished: Option<i64> = col(row, 4, T)?;
            if let (Some(start), Some(end)) = (started, finished) {
                // A clock stepped back between start and end gives 0, not a negative time.
                let ms = end.saturating_sub(start).max(0);
                #[allow(clippy::cast_precision_loss)] // exact below 2^53 ms (285 000 years)
                metrics.durations_s.push(ms as f64 / 1000.0);
            }
        }
        metrics.by_state = by_state;
        Ok(metrics)
    }
}

/// Checks and applies one state change inside the caller's transaction.
fn move_job(
    conn: &Connection,
    id: &str,
    to: JobState,
    reason: Option<&str>,
) -> Result<Job, StoreError> {
    let Some(from) = state_of(conn, id)? else {
        return Err(not_found("job", id));
    };
    if !from.can_become(to) {
        return Err(StoreError::InvalidTransition {
            id: crate::error::bounded(id),
            from,
            to,
        });
    }
    let now = now_ms();
    let reason = reason.map(check::reason);
    conn.execute(
        "UPDATE jobs SET state = ?2,
                         reason = coalesce(?3, reason),
                         started_ms = CASE WHEN ?2 = 'running' THEN ?4 ELSE started_ms END,
                         finished_ms = CASE WHEN ?5 THEN ?4 ELSE finished_ms END
         WHERE id = ?1",
        params![id, to.as_str(), reason, now, to.is_terminal()],
    )?;
    job(conn, id)?.ok_or_else(|| not_found("job", id))
}

fn state_of(conn: &Connection, id: &str) -> Result<Option<JobState>, StoreError> {
    select_one(conn, "SELECT state FROM jobs WHERE id = ?1", [id], |row| {
        col_parse(row, 0, "jobs")
    })
}

fn job(conn: &Connection, id: &str) -> Result<Option<Job>, StoreError> {
    select_one(conn, &format!("{JOB} WHERE id = ?1"), [id], job_from_row)
}

const JOB: &str = "SELECT id, kind, role, partner, dataset, peer_dataset, params, state, reason, \
                   progress_done, progress_total, output, output_digest, bytes_sent, \
                   bytes_received, result, rerun_of, created_ms, started_ms, finished_ms, fault \
                   FROM jobs";

fn job_from_row(row: &Row<'_>) -> Result<Job, StoreError> {
    const T: &str = "jobs";
    Ok(Job {
        id: col(row, 0, T)?,
        kind: col(row, 1, T)?,
        role: col_parse(row, 2, T)?,
        partner: col(row, 3, T)?,
        dataset: col(row, 4, T)?,
        peer_dataset: col(row, 5, T)?,
        params: col_json(row, 6, T)?,
        state: col_parse(row, 7, T)?,
        reason: col(row, 8, T)?,
        progress_done: col_u64(row, 9, T)?,
        progress_total: col_u64(row, 10, T)?,
        output: col(row, 11, T)?,
        output_digest: col(row, 12, T)?,
        bytes_sent: col_u64(row, 13, T)?,
        bytes_received: col_u64(row, 14, T)?,
        result: col_json(row, 15, T)?,
        rerun_of: col(row, 16, T)?,
        created_ms: col(row, 17, T)?,
        started_ms: col(row, 18, T)?,
        finished_ms: col(row, 19, T)?,
        fault: col(row, 20, T)?,
    })
}
