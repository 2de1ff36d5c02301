//! The job protocol between two nodes (docs/protocols/node-jobs.md).
//!
//! Over one mutually authenticated TLS connection, opened by the node that submitted the job:
//!
//! 1. `Propose` (initiator → responder): job id, kind and parameters, the responder's dataset.
//! 2. `Decision` (responder → initiator): accepted, or rejected with the reason. The responder
//!    decides alone, from its own policy.
//! 3. The job's protocol frames (e.g. ECDH-PSI, protocol id 0x0001) on the same connection.
//! 4. `Done` (both ways): each node says whether it produced its result. A node makes its output
//!    visible only after both said yes, so a job never ends with output on one node and a failure
//!    on the other because of a crash after the protocol.
//!
//! Control messages are JSON in frames of protocol id [`PROTOCOL_ID`]; each is limited to
//! [`MAX_CONTROL_LEN`] bytes before it is read, and checked field by field after.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use unseen_channel::{Channel, ChannelError, Fault, Header};

pub use crate::kinds::JobSpec;

/// Frame protocol id of node control messages.
pub const PROTOCOL_ID: u16 = 0x0100;
/// Version of the control protocol.
pub const VERSION: u8 = 1;
/// Largest control message accepted.
pub const MAX_CONTROL_LEN: usize = 64 * 1024;
/// Longest reason string accepted from a partner.
pub const MAX_REASON_LEN: usize = 2048;

const STEP_PROPOSE: u8 = 1;
const STEP_DECISION: u8 = 2;
const STEP_DONE: u8 = 3;
const STEP_ALIGN: u8 = 4;

/// A control message failed.
#[derive(Debug, thiserror::Error)]
pub enum ControlError {
    /// The channel failed (closed, timed out, wrong frame, too large).
    #[error(transparent)]
    Channel(#[from] ChannelError),
    /// The message is not valid JSON of the expected shape.
    #[error("malformed {what} message from the partner: {reason}")]
    Malformed {
        /// Which message.
        what: &'static str,
        /// Why.
        reason: String,
    },
}

impl ControlError {
    /// Whose fault: the channel's own classification, or the partner's for a malformed
    /// message.
    pub fn fault(&self) -> Fault {
        match self {
            Self::Channel(e) => e.fault(),
            Self::Malformed { .. } => Fault::Partner,
        }
    }
}

/// Which job, as sent by the initiator.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Propose {
    /// The job id both nodes record (32 lowercase hex digits).
    pub job_id: String,
    /// The responder's dataset the job runs on.
    pub dataset: String,
    /// The initiator's dataset (for the responder's records).
    pub initiator_dataset: String,
    /// Kind and parameters.
    pub spec: JobSpec,
    /// A score session (a kind that carries a key) only: the applicant's key as the guest's caller
    /// gave it (at most [`MAX_SCORE_KEY_LEN`] bytes of UTF-8, no control characters); the
    /// responder looks its row up by it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// Jobs whose rows are aligned by PSI: the number of keys the initiator's dataset holds as
    /// it read it for this job (at most [`unseen_psi::MAX_ITEMS`]); the responder refuses a
    /// PSI in which the initiator announces more.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rows: Option<u64>,
}

impl std::fmt::Debug for Propose {
    // The key of a score session is personal data: never printed.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Propose")
            .field("job_id", &self.job_id)
            .field("dataset", &self.dataset)
            .field("initiator_dataset", &self.initiator_dataset)
            .field("spec", &self.spec)
            .field("key", &self.key.as_ref().map(|_| "<redacted>"))
            .field("rows", &self.rows)
            .finish()
    }
}

/// Longest applicant key a score session carries (bytes of UTF-8).
pub const MAX_SCORE_KEY_LEN: usize = 128;

/// Checks an applicant key: 1..=[`MAX_SCORE_KEY_LEN`] bytes, no control characters, not only
/// white space.
pub fn check_score_key(key: &str) -> Result<(), String> {
    if key.trim().is_empty() {
        return Err("the key is empty".into());
    }
    if key.len() > MAX_SCORE_KEY_LEN {
        return Err(format!(
            "the key has {} bytes (at most {MAX_SCORE_KEY_LEN})",
            key.len()
        ));
    }
    if key.chars().any(char::is_control) {
        return Err("the key holds control characters".into());
    }
    Ok(())
}

/// The responder's answer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Decision {
    /// Whether the responder runs the job.
    pub accepted: bool,
    /// Why not.
    pub reason: Option<String>,
    /// A score session refused because the responder has no row for the applicant's key.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub no_row: bool,
    /// An accepted job whose rows are aligned by PSI: the number of keys the responder's
    /// dataset holds as it read it for this job (at most [`unseen_psi::MAX_ITEMS`]); the
    /// initiator refuses a PSI in which the responder announces more.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rows: Option<u64>,
}

/// Each node's report after the protocol.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Done {
    /// Whether this node produced its result.
    pub ok: bool,
    /// Why not.
    pub reason: Option<String>,
    /// The sender's audit head when it sent this: the receiver records it in its own audit log,
    /// an anchor the sender cannot rewrite (docs/audit.md).
    #[serde(default)]
    pub audit_head: Option<AuditAnchor>,
}

/// A position in a node's audit chain: record `seq` has hash `hash`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditAnchor {
    /// The record's seq.
    pub seq: u64,
    /// Its SM3 hash, 64 lowercase hex digits.
    pub hash: String,
}

/// For a job on already-aligned datasets (`aligned: true`): what each node says of its key
/// column before the protocol, instead of aligning by PSI.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlignCheck {
    /// Rows of the dataset.
    pub rows: u64,
    /// SM3 of the normalised keys in file order (each as a 4-byte big-endian length and its
    /// bytes), 64 lowercase hex digits.
    pub keys_sm3: String,
}

/// Whether `h` is 64 lowercase hex digits.
fn is_hash_hex(h: &str) -> bool {
    h.len() == 64
        && h.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

impl Message for AlignCheck {
    const NAME: &'static str = "alignment check";
    const STEP: u8 = STEP_ALIGN;
    fn check(&self) -> Result<(), String> {
        if is_hash_hex(&self.keys_sm3) {
            Ok(())
        } else {
            Err("key digest is not 64 lowercase hex digits".into())
        }
    }
}

/// Sends this node's alignment check.
pub fn send_align_check<C: Channel>(ch: &mut C, m: &AlignCheck) -> Result<(), ControlError> {
    send(ch, m)
}

/// Receives and checks the partner's alignment check.
pub fn recv_align_check<C: Channel>(ch: &mut C) -> Result<AlignCheck, ControlError> {
    recv(ch)
}

trait Message: Serialize + DeserializeOwned {
    const NAME: &'static str;
    const STEP: u8;
    fn check(&self) -> Result<(), String>;
}

/// Whether `id` is a well-formed job id (32 lowercase hex digits).
pub fn valid_job_id(id: &str) -> bool {
    id.len() == 32
        && id
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

fn check_rows(rows: Option<u64>) -> Result<(), String> {
    match rows {
        Some(n) if n > unseen_psi::MAX_ITEMS => Err(format!(
            "a dataset of {n} rows (at most {} in a PSI)",
            unseen_psi::MAX_ITEMS
        )),
        _ => Ok(()),
    }
}

fn check_reason(r: Option<&String>) -> Result<(), String> {
    match r {
        Some(r) if r.len() > MAX_REASON_LEN => Err(format!(
            "reason of {} bytes (at most {MAX_REASON_LEN})",
            r.len()
        )),
        _ => Ok(()),
    }
}

impl Message for Propose {
    const NAME: &'static str = "propose";
    const STEP: u8 = STEP_PROPOSE;
    fn check(&self) -> Result<(), String> {
        if !valid_job_id(&self.job_id) {
            return Err("job id is not 32 lowercase hex digits".into());
        }
        check_rows(self.rows)?;
        for n in [&self.dataset, &self.initiator_dataset] {
            unseen_store::validate_name("dataset", n).map_err(|e| e.to_string())?;
        }
        self.spec.check(self.key.as_deref())
    }
}

impl Message for Decision {
    const NAME: &'static str = "decision";
    const STEP: u8 = STEP_DECISION;
    fn check(&self) -> Result<(), String> {
        check_rows(self.rows)?;
        check_reason(self.reason.as_ref())
    }
}

impl Message for Done {
    const NAME: &'static str = "done";
    const STEP: u8 = STEP_DONE;
    fn check(&self) -> Result<(), String> {
        check_reason(self.reason.as_ref())?;
        match &self.audit_head {
            Some(a) if !is_hash_hex(&a.hash) => {
                Err("audit head hash is not 64 lowercase hex digits".into())
            }
            _ => Ok(()),
        }
    }
}

fn header(step: u8) -> Header {
    Header::new(PROTOCOL_ID, VERSION, step)
}

fn send<M: Message, C: Channel>(ch: &mut C, m: &M) -> Result<(), ControlError> {
    let bytes = serde_json::to_vec(m).map_err(|e| ControlError::Malformed {
        what: M::NAME,
        reason: e.to_string(),
    })?;
    ch.send(header(M::STEP), bytes)?;
    ch.flush()?;
    Ok(())
}

fn decode<M: Message>(bytes: &[u8]) -> Result<M, ControlError> {
    let m: M = serde_json::from_slice(bytes).map_err(|e| ControlError::Malformed {
        what: M::NAME,
        reason: e.to_string(),
    })?;
    m.check().map_err(|reason| ControlError::Malformed {
        what: M::NAME,
        reason,
    })?;
    Ok(m)
}

fn recv<M: Message, C: Channel>(ch: &mut C) -> Result<M, ControlError> {
    let bytes = ch.recv(header(M::STEP), MAX_CONTROL_LEN)?;
    decode(&bytes)
}

/// Sends the proposal.
pub fn send_propose<C: Channel>(ch: &mut C, m: &Propose) -> Result<(), ControlError> {
    send(ch, m)
}

/// Receives and checks a proposal.
pub fn recv_propose<C: Channel>(ch: &mut C) -> Result<Propose, ControlError> {
    recv(ch)
}

/// Sends the decision.
pub fn send_decision<C: Channel>(ch: &mut C, m: &Decision) -> Result<(), ControlError> {
    send(ch, m)
}

/// Receives and checks a decision.
pub fn recv_decision<C: Channel>(ch: &mut C) -> Result<Decision, ControlError> {
    recv(ch)
}

/// Sends this node's end-of-job report.
pub fn send_done<C: Channel>(ch: &mut C, m: &Done) -> Result<(), ControlError> {
    send(ch, m)
}

/// Receives and checks the partner's end-of-job report.
pub fn recv_done<C: Channel>(ch: &mut C) -> Result<Done, ControlError> {
    recv(ch)
}

/// Runs every control decoder on `bytes` (fuzzing entry point; must never panic).
#[doc(hidden)]
pub fn fuzz_decode(bytes: &[u8]) {
    let _ = decode::<Propose>(bytes);
    let _ = decode::<Decision>(bytes);
    let _ = decode::<Done>(bytes);
    let _ = decode::<AlignCheck>(bytes);
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn spec(json: serde_json::Value) -> JobSpec {
        serde_json::from_value(json).unwrap()
    }

    fn propose() -> Propose {
        Propose {
            job_id: "0123456789abcdef0123456789abcdef".into(),
            dataset: "their_customers".into(),
            initiator_dataset: "customers".into(),
            spec: spec(serde_json::json!({"kind": "psi", "mode": "both", "curve": "ristretto255"})),
            key: None,
            rows: Some(1000),
        }
    }

    #[test]
    fn round_trip_over_duplex() {
        let (mut a, mut b) = unseen_channel::duplex();
        send_propose(&mut a, &propose()).unwrap();
        assert_eq!(recv_propose(&mut b).unwrap(), propose());
        let d = Decision {
            accepted: false,
            reason: Some("no policy".into()),
            no_row: false,
            rows: None,
        };
        send_decision(&mut b, &d).unwrap();
        assert_eq!(recv_decision(&mut a).unwrap(), d);
    }

    #[test]
    fn rejects_bad_fields() {
        let mut p = propose();
        p.job_id = "../../etc/passwd".into();
        let bytes = serde_json::to_vec(&p).unwrap();
        assert!(matches!(
            decode::<Propose>(&bytes),
            Err(ControlError::Malformed {
                what: "propose",
                ..
            })
        ));
        let mut p = propose();
        p.dataset = "a/b".into();
        let bytes = serde_json::to_vec(&p).unwrap();
        assert!(decode::<Propose>(&bytes).is_err());
        let long = Done {
            ok: false,
            reason: Some("x".repeat(MAX_REASON_LEN + 1)),
            audit_head: None,
        };
        assert!(decode::<Done>(&serde_json::to_vec(&long).unwrap()).is_err());
        let bad_anchor = Done {
            ok: true,
            reason: None,
            audit_head: Some(AuditAnchor {
                seq: 3,
                hash: "zz".repeat(32),
            }),
        };
        assert!(decode::<Done>(&serde_json::to_vec(&bad_anchor).unwrap()).is_err());
        let good = br#"{"ok":true,"reason":null}"#;
        assert!(decode::<Done>(good).is_ok(), "the anchor is optional");
        assert!(decode::<Done>(&serde_json::to_vec(&long).unwrap()).is_err());
        let extra = br#"{"accepted":true,"reason":null,"extra":1}"#;
        assert!(decode::<Decision>(extra).is_err());
        let unknown_kind = br#"{"job_id":"0123456789abcdef0123456789abcdef","dataset":"a","initiator_dataset":"b","spec":{"kind":"sql","q":"drop"}}"#;
        assert!(decode::<Propose>(unknown_kind).is_err());
    }

    #[test]
    fn pir_spec_round_trips_and_is_checked() {
        let mut p = propose();
        p.spec = spec(serde_json::json!({"kind": "pir", "curve": "sm2", "keys": 300}));
        let bytes = serde_json::to_vec(&p).unwrap();
        assert_eq!(decode::<Propose>(&bytes).unwrap(), p);
        assert_eq!(p.spec.kind(), "pir");
        assert_eq!(
            serde_json::to_value(&p.spec).unwrap(),
            serde_json::json!({"kind": "pir", "curve": "sm2", "keys": 300, "reveal_bucket": null})
        );
        // `reveal_bucket` may be left out.
        let short = br#"{"job_id":"0123456789abcdef0123456789abcdef","dataset":"a","initiator_dataset":"b","spec":{"kind":"pir","curve":"ristretto255","keys":1}}"#;
        assert_eq!(
            serde_json::to_value(decode::<Propose>(short).unwrap().spec).unwrap(),
            serde_json::json!({"kind": "pir", "curve": "ristretto255", "keys": 1, "reveal_bucket": null})
        );
        for bad in [
            r#"{"kind":"pir","curve":"sm2","keys":0}"#,
            r#"{"kind":"pir","curve":"sm2","keys":5,"reveal_bucket":0}"#,
            r#"{"kind":"pir","curve":"sm2","keys":-1}"#,
            r#"{"kind":"pir","curve":"sm2","keys":4294967296}"#,
            r#"{"kind":"pir","curve":"sm2","keys":5,"mode":"both"}"#,
            r#"{"kind":"pir","curve":"p256","keys":5}"#,
        ] {
            let text = format!(
                r#"{{"job_id":"0123456789abcdef0123456789abcdef","dataset":"a","initiator_dataset":"b","spec":{bad}}}"#
            );
            assert!(
                matches!(
                    decode::<Propose>(text.as_bytes()),
                    Err(ControlError::Malformed { .. })
                ),
                "{bad}"
            );
        }
    }

    #[test]
    fn train_tuning_is_checked_in_proposals() {
        let mut p = propose();
        for (bad, why) in [
            (r#"{"row_sample":0}"#, "row sample 0"),
            (r#"{"col_sample":1.5}"#, "column sample 1.5"),
            (r#"{"lambda":-1}"#, "lambda -1"),
            (r#"{"gamma":-0.5}"#, "gamma -0.5"),
        ] {
            p.spec = serde_json::from_str(&format!(
                r#"{{"kind":"train","algorithm":"secureboost","trees":3,"depth":3,"bins":8,"learning_rate":0.3,"tuning":{bad}}}"#
            ))
            .unwrap();
            let e = decode::<Propose>(&serde_json::to_vec(&p).unwrap()).unwrap_err();
            assert!(e.to_string().contains(why), "{e}");
        }
        // Unknown tuning fields are refused, not ignored.
        assert!(
            serde_json::from_str::<JobSpec>(
                r#"{"kind":"train","algorithm":"secureboost","trees":3,"depth":3,"bins":8,"learning_rate":0.3,"tuning":{"eta":1}}"#
            )
            .is_err()
        );
    }

    #[test]
    fn score_key_travels_only_in_score_sessions_and_is_bounded() {
        let mut p = propose();
        p.spec =
            spec(serde_json::json!({"kind": "score", "model": "00112233445566778899aabbccddeeff"}));
        p.key = Some("110101199001011234".into());
        let bytes = serde_json::to_vec(&p).unwrap();
        assert_eq!(decode::<Propose>(&bytes).unwrap(), p);
        assert_eq!(p.spec.policy_kind(), "predict");
        assert!(
            !format!("{p:?}").contains("1101011990"),
            "the key is redacted"
        );
        for bad in [
            None,
            Some(String::new()),
            Some("  ".into()),
            Some("a\u{0}b".into()),
            Some("1".repeat(MAX_SCORE_KEY_LEN + 1)),
        ] {
            let mut q = p.clone();
            q.key = bad;
            let bytes = serde_json::to_vec(&q).unwrap();
            assert!(
                decode::<Propose>(&bytes).is_err(),
                "{:?}",
                q.key.map(|k| k.len())
            );
        }
        let mut q = propose();
        q.rows = None;
        q.key = Some("110101199001011234".into());
        assert!(decode::<Propose>(&serde_json::to_vec(&q).unwrap()).is_err());
        // A job proposal keeps its old shape (no key field on the wire).
        assert!(
            !String::from_utf8(serde_json::to_vec(&propose()).unwrap())
                .unwrap()
                .contains("key")
        );
        let d = Decision {
            accepted: false,
            reason: Some("x".into()),
            no_row: true,
            rows: None,
        };
        assert_eq!(
            decode::<Decision>(&serde_json::to_vec(&d).unwrap()).unwrap(),
            d
        );
    }

    #[test]
    fn align_check_round_trips_and_is_checked() {
        let (mut a, mut b) = unseen_channel::duplex();
        let m = AlignCheck {
            rows: 7,
            keys_sm3: "ab".repeat(32),
        };
        send_align_check(&mut a, &m).unwrap();
        assert_eq!(recv_align_check(&mut b).unwrap(), m);
        for bad in ["AB".repeat(32), "ab".repeat(31), "zz".repeat(32)] {
            let e = decode::<AlignCheck>(format!(r#"{{"rows":7,"keys_sm3":"{bad}"}}"#).as_bytes())
                .unwrap_err();
            assert!(e.to_string().contains("64 lowercase hex"), "{e}");
        }
        assert!(decode::<AlignCheck>(br#"{"rows":-1,"keys_sm3":""}"#).is_err());
        // `aligned` defaults to false, so a proposal without it still decodes.
        let predict = spec(
            serde_json::json!({"kind": "predict", "model": "0123456789abcdef0123456789abcdef"}),
        );
        assert_eq!(
            serde_json::to_value(predict).unwrap()["aligned"],
            serde_json::json!(false)
        );
    }

    #[test]
    fn dataset_rows_travel_bounded_and_are_optional() {
        let p = propose();
        let bytes = serde_json::to_vec(&p).unwrap();
        assert_eq!(decode::<Propose>(&bytes).unwrap().rows, Some(1000));
        let mut big = propose();
        big.rows = Some(u64::from(u32::MAX) + 1);
        let e = decode::<Propose>(&serde_json::to_vec(&big).unwrap()).unwrap_err();
        assert!(e.to_string().contains("4294967296 rows"), "{e}");
        let d = Decision {
            accepted: true,
            reason: None,
            no_row: false,
            rows: Some(u64::MAX),
        };
        assert!(decode::<Decision>(&serde_json::to_vec(&d).unwrap()).is_err());
        // An older message without the field still decodes.
        assert_eq!(
            decode::<Decision>(br#"{"accepted":true,"reason":null}"#)
                .unwrap()
                .rows,
            None
        );
    }

    #[test]
    fn oversized_control_frame_refused_before_reading() {
        let (mut a, mut b) = unseen_channel::duplex();
        a.send(header(STEP_PROPOSE), vec![b'{'; MAX_CONTROL_LEN + 1])
            .unwrap();
        assert!(matches!(
            recv_propose(&mut b),
            Err(ControlError::Channel(ChannelError::FrameTooLarge { .. }))
        ));
    }
}
