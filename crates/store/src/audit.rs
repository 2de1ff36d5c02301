//! The audit log: append-only records chained by SM3 (GB/T 32905). The format is specified in
//! `docs/audit.md`; this module is its reference implementation.
//!
//! For record n (seq 1, 2, 3, …):
//!
//! ```text
//! hash_n = SM3( "unseen-audit-v1" || hash_{n-1} || canonical_bytes(record_n) )
//! ```
//!
//! with `hash_0` = 32 zero bytes. `audit_head` holds the newest (seq, hash), updated in the same
//! transaction as each append, so that deleting records from the end is detected too.

use std::fmt::Write as _;

use rusqlite::{Connection, OptionalExtension, Row, TransactionBehavior, params};
use serde::Serialize;
use serde_json::Value;
use sm3::{Digest, Sm3};

use crate::check::{self, MAX_COLUMNS, MAX_LINE};
use crate::error::{StoreError, corrupt};
use crate::store::{col, col_json, col_u64};
use crate::{Store, now_ms};

/// Domain-separation prefix of every record hash; the `v1` changes with the format.
pub const AUDIT_DOMAIN: &[u8] = b"unseen-audit-v1";

/// Something that happened, to be appended to the audit log.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AuditEvent {
    /// Who did it: a local user, the node itself, or a partner.
    pub actor: String,
    /// What was done, e.g. `job.accept`.
    pub action: String,
    /// The job concerned, if any.
    pub job_id: Option<String>,
    /// Its kind.
    pub job_kind: Option<String>,
    /// The datasets concerned.
    pub datasets: Vec<String>,
    /// The partner concerned.
    pub partner: Option<String>,
    /// Action-specific detail.
    pub params: Value,
    /// How it ended, e.g. `ok` or `denied: no policy`.
    pub outcome: String,
    /// Bytes sent to the partner.
    pub bytes_sent: u64,
    /// Bytes received from the partner.
    pub bytes_received: u64,
    /// A digest of what was released, if anything.
    pub output_digest: Option<String>,
}

/// Signs the hash of each appended audit record (the node signs with its SM2 audit key).
pub trait AuditSigner: Send {
    /// The signature of a record's 32-byte hash.
    fn sign(&self, hash: &[u8; 32]) -> Vec<u8>;
}

/// A stored audit record: the event, its place in the chain and its hashes.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AuditRecord {
    /// Position in the log, from 1 without gaps.
    pub seq: u64,
    /// When it was appended, ms since the Unix epoch.
    pub time_ms: i64,
    /// Who did it.
    pub actor: String,
    /// What was done.
    pub action: String,
    /// The job concerned.
    pub job_id: Option<String>,
    /// Its kind.
    pub job_kind: Option<String>,
    /// The datasets concerned.
    pub datasets: Vec<String>,
    /// The partner concerned.
    pub partner: Option<String>,
    /// Action-specific detail.
    pub params: Value,
    /// How it ended.
    pub outcome: String,
    /// Bytes sent to the partner.
    pub bytes_sent: u64,
    /// Bytes received from the partner.
    pub bytes_received: u64,
    /// A digest of what was released.
    pub output_digest: Option<String>,
    /// The previous record's hash (64 zero digits for record 1), lowercase hex.
    pub prev_hash: String,
    /// This record's hash, lowercase hex.
    pub hash: String,
    /// The signature of `hash` by the node's audit key, lowercase hex (absent when the node
    /// had no signer).
    pub signature: Option<String>,
}

/// The result of [`Store::audit_verify`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "status", rename_all = "lowercase")]
pub enum AuditReport {
    /// Every record links to the one before and matches its hash, and the head names the last.
    Intact {
        /// How many records there are.
        records: u64,
        /// The last record's hash (the head), lowercase hex; anchor it elsewhere to detect a
        /// rewrite of the whole chain.
        head: String,
    },
    /// The first problem found.
    Broken {
        /// The first bad record: the missing, unreadable, unlinked or altered one; for records
        /// deleted from the end, the first deleted one. 0 means the head row itself.
        seq: u64,
        /// What is wrong, one line.
        reason: String,
    },
}

impl AuditEvent {
    /// An event with no job, datasets, partner, bytes or digest, and `null` parameters.
    pub fn new(
        actor: impl Into<String>,
        action: impl Into<String>,
        outcome: impl Into<String>,
    ) -> AuditEvent {
        AuditEvent {
            actor: actor.into(),
            action: action.into(),
            job_id: None,
            job_kind: None,
            datasets: Vec::new(),
            partner: None,
            params: Value::Null,
            outcome: outcome.into(),
            bytes_sent: 0,
            bytes_received: 0,
            output_digest: None,
        }
    }

    fn validate(&self) -> Result<(), StoreError> {
        check::line("audit actor", &self.actor, MAX_LINE)?;
        check::line("audit action", &self.action, MAX_LINE)?;
        check::line("audit outcome", &self.outcome, MAX_LINE)?;
        let optional = [
            ("audit job id", &self.job_id),
            ("audit job kind", &self.job_kind),
            ("audit partner", &self.partner),
            ("audit output digest", &self.output_digest),
        ];
        for (field, value) in optional {
            if let Some(v) = value {
                check::line(field, v, MAX_LINE)?;
            }
        }
        if self.datasets.len() > MAX_COLUMNS {
            return Err(StoreError::Invalid {
                field: "audit datasets",
                reason: format!(
                    "at most {MAX_COLUMNS} allowed, found {}",
                    self.datasets.len()
                ),
            });
        }
        for d in &self.datasets {
            check::line("audit dataset", d, MAX_LINE)?;
        }
        Ok(())
    }
}

impl Store {
    /// Appends `e` to the audit log and returns the stored record.
    ///
    /// The head is read and advanced inside one `BEGIN IMMEDIATE` transaction, so several
    /// processes appending to the same file (the daemon and the CLI) still form one chain.
    pub fn audit_append(&mut self, e: &AuditEvent) -> Result<AuditRecord, StoreError> {
        e.validate()?;
        let params_text = check::json("audit parameters", &e.params)?;
        let datasets_text = serde_json::to_string(&e.datasets)
            .map_err(|err| corrupt(format!("cannot encode audit datasets: {err}")))?;
        let bytes_sent = check::count("audit bytes sent", e.bytes_sent)?;
        let bytes_received = check::count("audit bytes received", e.bytes_received)?;

        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let (head_seq, head_hash) = head(&tx)?.map_err(corrupt)?;
        let seq = head_seq
            .checked_add(1)
            .ok_or_else(|| corrupt("the audit head is at the largest seq"))?;
        let seq_sql = check::count("audit seq", seq)?;
        let time_ms = now_ms();
        let hash = chain_hash(
            &head_hash,
            &Canonical {
                seq,
                time_ms,
                actor: &e.actor,
                action: &e.action,
                job_id: e.job_id.as_deref(),
                job_kind: e.job_kind.as_deref(),
                datasets: &e.datasets,
                partner: e.partner.as_deref(),
                params: &params_text,
                outcome: &e.outcome,
                bytes_sent: e.bytes_sent,
                bytes_received: e.bytes_received,
                output_digest: e.output_digest.as_deref(),
            },
        );
        let (prev_hex, hash_hex) = (hex::encode(head_hash), hex::encode(hash));
        tx.execute(
            "INSERT INTO audit (seq, time_ms, actor, action, job_id, job_kind, datasets, partner,
                                params, outcome, bytes_sent, bytes_received, output_digest,
                                prev_hash, hash)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)",
            params![
                seq_sql,
                time_ms,
                e.actor,
                e.action,
                e.job_id,
                e.job_kind,
                datasets_text,
                e.partner,
                params_text,
                e.outcome,
                bytes_sent,
                bytes_received,
                e.output_digest,
                prev_hex,
                hash_hex,
            ],
        )?;
        let signature = self.signer.as_ref().map(|s| hex::encode(s.sign(&hash)));
        if let Some(sig) = &signature {
            tx.execute(
                "INSERT INTO audit_sig (seq, signature) VALUES (?1, ?2)",
                params![seq_sql, sig],
            )?;
        }
        tx.execute(
            "UPDATE audit_head SET seq = ?1, hash = ?2 WHERE id = 1",
            params![seq_sql, hash_hex],
        )?;
        tx.commit()?;
        Ok(AuditRecord {
            seq,
            time_ms,
            actor: e.actor.clone(),
            action: e.action.clone(),
            job_id: e.job_id.clone(),
            job_kind: e.job_kind.clone(),
            datasets: e.datasets.clone(),
            partner: e.partner.clone(),
            params: e.params.clone(),
            outcome: e.outcome.clone(),
            bytes_sent: e.bytes_sent,
            bytes_received: e.bytes_received,
            output_digest: e.output_digest.clone(),
            prev_hash: prev_hex,
            hash: hash_hex,
            signature,
        })
    }

    /// The newest record's seq and hash (0 and 64 zero digits for an empty log), as the head
    /// row holds them: what a partner anchors.
    pub fn audit_head(&self) -> Result<(u64, String), StoreError> {
        let (seq, hash) = head(&self.conn)?.map_err(corrupt)?;
        Ok((seq, hex::encode(hash)))
    }

    /// Whether record `seq` exists and has hash `hash` (an anchor kept elsewhere, e.g. in a
    /// partner's audit log): `Ok(None)` if so, else the reason it does not match.
    pub fn audit_check_anchor(&self, seq: u64, hash: &str) -> Result<Option<String>, StoreError> {
        let seq_sql = check::count("audit seq", seq)?;
        let stored: Option<String> = self
            .conn
            .query_row("SELECT hash FROM audit WHERE seq = ?1", [seq_sql], |r| {
                r.get(0)
            })
            .optional()?;
        Ok(match stored {
            None => Some(format!(
                "record {seq} is missing: the anchor says it had hash {hash}"
            )),
            Some(h) if h.eq_ignore_ascii_case(hash) => None,
            Some(h) => Some(format!(
                "record {seq} has hash {h}, but the anchor says {hash}: the log was rewritten \
                 from record {seq} or before"
            )),
        })
    }

    /// Signs every record appended from now on through this handle.
    pub fn set_audit_signer(&mut self, signer: Box<dyn AuditSigner>) {
        self.signer = Some(signer);
    }

    /// [`audit_verify`](Store::audit_verify), and also that every record carries a signature of
    /// its hash that `verify(hash, signature)` accepts. Reports the first bad record of either
    /// check. A record re-hashed by someone without the signing key fails here even when the
    /// chain itself was rebuilt consistently.
    pub fn audit_verify_signed(
        &self,
        verify: &dyn Fn(&[u8; 32], &[u8]) -> bool,
    ) -> Result<AuditReport, StoreError> {
        let chain = self.audit_verify()?;
        let limit = match &chain {
            AuditReport::Broken { seq, .. } => *seq,
            AuditReport::Intact { .. } => u64::MAX,
        };
        let tx = self.conn.unchecked_transaction()?;
        let mut stmt = tx.prepare_cached(
            "SELECT a.seq, a.hash, s.signature FROM audit a \
             LEFT JOIN audit_sig s ON s.seq = a.seq ORDER BY a.seq",
        )?;
        let mut rows = stmt.query([])?;
        while let Some(row) = rows.next()? {
            let seq: i64 = row.get(0)?;
            let seq = u64::try_from(seq).unwrap_or(0);
            if seq >= limit {
                break;
            }
            let hash_hex: String = row.get(1)?;
            let sig_hex: Option<String> = row.get(2)?;
            let Some(hash) = decode_hash(&hash_hex) else {
                return Ok(broken(
                    seq,
                    format!("record {seq} cannot be read: bad hash"),
                ));
            };
            let Some(sig_hex) = sig_hex else {
                return Ok(broken(
                    seq,
                    format!("record {seq} is not signed by the node's audit key"),
                ));
            };
            let ok = hex::decode(&sig_hex).is_ok_and(|sig| verify(&hash, &sig));
            if !ok {
                return Ok(broken(
                    seq,
                    format!(
                        "record {seq}'s signature does not verify: the record was altered or \
                         re-hashed without the node's audit key"
                    ),
                ));
            }
        }
        Ok(chain)
    }

    /// The audit records, by seq: all of them, or those of one job. This does not check the
    /// chain (see [`audit_verify`](Store::audit_verify)); a record that cannot be read is
    /// [`StoreError::Corrupt`].
    pub fn audit_records(&self, job_id: Option<&str>) -> Result<Vec<AuditRecord>, StoreError> {
        match job_id {
            Some(id) => self.select(
                &format!("{AUDIT} WHERE job_id = ?1 ORDER BY a.seq"),
                [id],
                record_from_row,
            ),
            None => self.select(&format!("{AUDIT} ORDER BY a.seq"), [], record_from_row),
        }
    }

    /// Walks the whole log by seq, recomputing every hash, and reports the first problem: a
    /// missing record, an unreadable one, one whose `prev_hash` is not its predecessor's hash,
    /// one whose hash does not match its contents, or a head that does not name the last
    /// record. Only a failure to read the database at all is an `Err`.
    pub fn audit_verify(&self) -> Result<AuditReport, StoreError> {
        // One read transaction: a consistent snapshot even while another process appends.
        let tx = self.conn.unchecked_transaction()?;
        let (head_seq, head_hash) = match head(&tx)? {
            Ok(head) => head,
            Err(reason) => return Ok(broken(0, reason)),
        };
        let mut stmt = tx.prepare_cached(&format!("{AUDIT} ORDER BY a.seq"))?;
        let mut rows = stmt.query([])?;
        let mut last = 0u64;
        let mut prev = [0u8; 32];
        while let Some(row) = rows.next()? {
            let expected = last + 1;
            let seq: i64 = row.get(0)?;
            let Ok(seq) = u64::try_from(seq) else {
                return Ok(broken(0, format!("a record has the negative seq {seq}")));
            };
            if seq != expected {
                // Rows come by ascending unique seq, so here seq > expected, or seq is 0 (only
                // possible if the CHECK (seq >= 1) was bypassed).
                if seq == 0 {
                    return Ok(broken(0, "a record has seq 0; the log starts at 1".into()));
                }
                let reason = if last == 0 {
                    format!("record 1 is missing: the log starts at record {seq}")
                } else {
                    format!("record {expected} is missing: record {seq} follows record {last}")
                };
                return Ok(broken(expected, reason));
            }
            let record = match stored_from_row(row) {
                Ok(record) => record,
                Err(e) => return Ok(broken(seq, format!("record {seq} cannot be read: {e}"))),
            };
            if record.prev_hash != prev {
                let reason = if seq == 1 {
                    "record 1 does not start the chain: its prev_hash is not 32 zero bytes".into()
                } else {
                    format!(
                        "record {seq} does not follow record {last}: its prev_hash is not \
                         record {last}'s hash"
                    )
                };
                return Ok(broken(seq, reason));
            }
            let hash = chain_hash(&prev, &record.canonical());
            if hash != record.hash {
                let reason =
                    format!("record {seq} was altered: its hash does not match its contents");
                return Ok(broken(seq, reason));
            }
            prev = hash;
            last = seq;
        }
        if last < head_seq {
            let reason = format!(
                "the chain ends at record {last} but the head says {head_seq}: records were \
                 deleted from the end"
            );
            return Ok(broken(last + 1, reason));
        }
        if last > head_seq {
            let reason = format!(
                "the chain continues to record {last} but the head says {head_seq}: records \
                 were added without moving the head"
            );
            return Ok(broken(head_seq + 1, reason));
        }
        if prev != head_hash {
            let reason = if last == 0 {
                "the log is empty but the head's hash is not 32 zero bytes".to_owned()
            } else {
                format!("record {last} was replaced: its hash is not the one the head holds")
            };
            return Ok(broken(last, reason));
        }
        Ok(AuditReport::Intact {
            records: last,
            head: hex::encode(prev),
        })
    }
}

/// Every field that the hash covers, borrowed, in hashing order.
struct Canonical<'a> {
    seq: u64,
    time_ms: i64,
    actor: &'a str,
    action: &'a str,
    job_id: Option<&'a str>,
    job_kind: Option<&'a str>,
    datasets: &'a [String],
    partner: Option<&'a str>,
    /// The canonical JSON text, exactly as stored.
    params: &'a str,
    outcome: &'a str,
    bytes_sent: u64,
    bytes_received: u64,
    output_digest: Option<&'a str>,
}

/// `SM3("unseen-audit-v1" || prev || canonical_bytes(record))`; see `docs/audit.md`.
fn chain_hash(prev: &[u8; 32], c: &Canonical<'_>) -> [u8; 32] {
    let mut h = Hasher(Sm3::new());
    h.raw(AUDIT_DOMAIN);
    h.raw(prev);
    h.raw(&c.seq.to_be_bytes());
    h.raw(&c.time_ms.to_be_bytes());
    h.str(c.actor);
    h.str(c.action);
    h.opt(c.job_id);
    h.opt(c.job_kind);
    h.len(c.datasets.len());
    for d in c.datasets {
        h.str(d);
    }
    h.opt(c.partner);
    h.str(c.params);
    h.str(c.outcome);
    h.raw(&c.bytes_sent.to_be_bytes());
    h.raw(&c.bytes_received.to_be_bytes());
    h.opt(c.output_digest);
    h.0.finalize().into()
}

/// Feeds the canonical encoding into SM3 without building it in memory.
struct Hasher(Sm3);

impl Hasher {
    fn raw(&mut self, bytes: &[u8]) {
        self.0.update(bytes);
    }

    /// A length or count: u64 big-endian.
    fn len(&mut self, n: usize) {
        // usize is at most 64 bits on every target Rust supports.
        self.raw(&u64::try_from(n).unwrap_or(u64::MAX).to_be_bytes());
    }

    /// A string: its length in bytes, then its UTF-8 bytes.
    fn str(&mut self, s: &str) {
        self.len(s.len());
        self.raw(s.as_bytes());
    }

    /// An optional string: 0x00, or 0x01 then the string.
    fn opt(&mut self, s: Option<&str>) {
        match s {
            None => self.raw(&[0x00]),
            Some(s) => {
                self.raw(&[0x01]);
                self.str(s);
            }
        }
    }
}

/// The JSON text of `value` with every object's keys in byte order and no whitespace.
///
/// This is what `serde_json::to_string` produces with its default (sorted) map; written out so
/// that a dependency enabling serde_json's `preserve_order` feature elsewhere in the build cannot
/// change the hashed bytes.
pub(crate) fn canonical_json(value: &Value) -> String {
    let mut out = String::new();
    write_json(value, &mut out);
    out
}

fn write_json(value: &Value, out: &mut String) {
    match value {
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_json(item, out);
            }
            out.push(']');
        }
        Value::Object(map) => {
            let mut entries: Vec<_> = map.iter().collect();
            entries.sort_by(|a, b| a.0.cmp(b.0));
            out.push('{');
            for (i, (key, item)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                // Display of a JSON string escapes it; writing to a String cannot fail.
                let _ = write!(out, "{}", Value::String(key.clone()));
                out.push(':');
                write_json(item, out);
            }
            out.push('}');
        }
        scalar => {
            let _ = write!(out, "{scalar}");
        }
    }
}

fn broken(seq: u64, reason: String) -> AuditReport {
    AuditReport::Broken { seq, reason }
}

/// The head row: `Ok(Ok((seq, hash)))`, or `Ok(Err(reason))` if it is missing or unreadable.
fn head(conn: &Connection) -> Result<Result<(u64, [u8; 32]), String>, StoreError> {
    let row = conn
        .query_row("SELECT seq, hash FROM audit_head WHERE id = 1", [], |row| {
            Ok((row.get::<_, rusqlite::types::Value>(0)?, row.get(1)?))
        })
        .optional()?;
    let Some((seq, hash)) = row else {
        return Ok(Err("the audit head is missing".into()));
    };
    let seq = match seq {
        rusqlite::types::Value::Integer(n) => u64::try_from(n).ok(),
        _ => None,
    };
    let hash = match hash {
        rusqlite::types::Value::Text(t) => decode_hash(&t),
        _ => None,
    };
    Ok(match (seq, hash) {
        (Some(seq), Some(hash)) => Ok((seq, hash)),
        _ => Err("the audit head cannot be read".into()),
    })
}

fn decode_hash(text: &str) -> Option<[u8; 32]> {
    let mut out = [0u8; 32];
    hex::decode_to_slice(text, &mut out).ok()?;
    Some(out)
}

const AUDIT: &str = "SELECT a.seq, time_ms, actor, action, job_id, job_kind, datasets, partner, \
                     params, outcome, bytes_sent, bytes_received, output_digest, prev_hash, hash, \
                     s.signature FROM audit a LEFT JOIN audit_sig s ON s.seq = a.seq";

/// A record as stored, with the params text kept for hashing.
struct Stored {
    record: AuditRecord,
    params_text: String,
    prev_hash: [u8; 32],
    hash: [u8; 32],
}

impl Stored {
    fn canonical(&self) -> Canonical<'_> {
        let r = &self.record;
        Canonical {
            seq: r.seq,
            time_ms: r.time_ms,
            actor: &r.actor,
            action: &r.action,
            job_id: r.job_id.as_deref(),
            job_kind: r.job_kind.as_deref(),
            datasets: &r.datasets,
            partner: r.partner.as_deref(),
            params: &self.params_text,
            outcome: &r.outcome,
            bytes_sent: r.bytes_sent,
            bytes_received: r.bytes_received,
            output_digest: r.output_digest.as_deref(),
        }
    }
}

fn record_from_row(row: &Row<'_>) -> Result<AuditRecord, StoreError> {
    Ok(stored_from_row(row)?.record)
}

fn stored_from_row(row: &Row<'_>) -> Result<Stored, StoreError> {
    const T: &str = "audit";
    let params_text: String = col(row, 8, T)?;
    let params =
        serde_json::from_str(&params_text).map_err(|e| corrupt(format!("{T}.params: {e}")))?;
    let prev_hex: String = col(row, 13, T)?;
    let hash_hex: String = col(row, 14, T)?;
    let prev_hash = decode_hash(&prev_hex)
        .ok_or_else(|| corrupt(format!("{T}.prev_hash: not 32 hex bytes")))?;
    let hash =
        decode_hash(&hash_hex).ok_or_else(|| corrupt(format!("{T}.hash: not 32 hex bytes")))?;
    let record = AuditRecord {
        seq: col_u64(row, 0, T)?,
        time_ms: col(row, 1, T)?,
        actor: col(row, 2, T)?,
        action: col(row, 3, T)?,
        job_id: col(row, 4, T)?,
        job_kind: col(row, 5, T)?,
        datasets: col_json(row, 6, T)?,
        partner: col(row, 7, T)?,
        params,
        outcome: col(row, 9, T)?,
        bytes_sent: col_u64(row, 10, T)?,
        bytes_received: col_u64(row, 11, T)?,
        output_digest: col(row, 12, T)?,
        prev_hash: prev_hex,
        hash: hash_hex,
        signature: col(row, 15, T)?,
    };
    Ok(Stored {
        record,
        params_text,
        prev_hash,
        hash,
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn canonical_json_sorts_keys_at_every_depth_and_matches_serde_json() {
        let v = json!({"b": [1, {"z": null, "a": "x\"y"}], "a": 1.5, "é": true, "A": -3});
        assert_eq!(
            canonical_json(&v),
            r#"{"A":-3,"a":1.5,"b":[1,{"a":"x\"y","z":null}],"é":true}"#
        );
        // Without preserve_order, serde_json's own output is the same text.
        assert_eq!(canonical_json(&v), serde_json::to_string(&v).unwrap());
    }

    #[test]
    fn optional_none_and_empty_string_hash_differently() {
        let base = Canonical {
            seq: 1,
            time_ms: 0,
            actor: "a",
            action: "b",
            job_id: None,
            job_kind: None,
            datasets: &[],
            partner: None,
            params: "null",
            outcome: "ok",
            bytes_sent: 0,
            bytes_received: 0,
            output_digest: None,
        };
        let empty = Canonical {
            job_id: Some(""),
            ..base
        };
        assert_ne!(chain_hash(&[0; 32], &base), chain_hash(&[0; 32], &empty));
        // Moving a byte between adjacent fields changes the hash (lengths delimit them).
        let left = Canonical {
            actor: "ab",
            action: "",
            ..base
        };
        let right = Canonical {
            actor: "a",
            action: "b",
            ..base
        };
        assert_ne!(chain_hash(&[0; 32], &left), chain_hash(&[0; 32], &right));
    }
}
