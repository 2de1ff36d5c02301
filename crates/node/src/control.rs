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
use unseen_channel::{Channel, ChannelError, Header};

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
    /// A score session ([`JobSpec::Score`]) only: the applicant's key as the guest's caller
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

/// A job's kind and parameters. New kinds are new variants.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase", deny_unknown_fields)]
pub enum JobSpec {
    /// ECDH private set intersection.
    Psi {
        /// Who learns what.
        mode: PsiMode,
        /// The group.
        curve: Curve,
    },
    /// Hidden query (keyword PIR): the initiator looks up keys in the responder's published
    /// table; the initiator receives the records of the keys it asked for, the responder learns
    /// only how many keys there were.
    Pir {
        /// The OPRF group (with it the AEAD: ristretto255 with AES-256-GCM, SM2 with SM4-GCM);
        /// must be the table's.
        curve: Curve,
        /// Distinct keys the query looks up (counted against the responder's daily quota before
        /// it starts; the responder's driver refuses more).
        keys: u32,
        /// `Some(k)`: the opt-in cheaper lookup that reveals each key's hash bucket to the
        /// responder, allowed only if every bucket holds at least `k` keys; `None`: private.
        #[serde(default)]
        reveal_bucket: Option<u32>,
    },
    /// Joint modeling (联合建模): the rows are aligned by PSI (both nodes learn which of their
    /// rows are common), then the initiator (guest: labels and its features) and the responder
    /// (host: its features) train one model; each keeps its own part (docs/protocols/).
    Train {
        /// The algorithm.
        algorithm: Algorithm,
        /// SecureBoost: trees; logistic regression: epochs.
        trees: u32,
        /// SecureBoost: maximum depth (ignored by logistic regression).
        depth: u32,
        /// SecureBoost: bins per feature (ignored by logistic regression).
        bins: u32,
        /// Learning rate.
        learning_rate: f64,
        /// The two datasets are already aligned (same keys in the same order, e.g. the outputs
        /// of an earlier PSI job): no PSI; the nodes only compare the row count and an SM3
        /// digest of their key columns, and refuse to go on if they differ.
        #[serde(default)]
        aligned: bool,
        /// SecureBoost's regularisation and sampling (defaults when absent).
        #[serde(default)]
        tuning: Tuning,
        /// The smallest training set either node accepts (defaults when absent).
        #[serde(default)]
        minimums: Minimums,
    },
    /// Federated prediction with a trained model: the rows are aligned by PSI, then each node
    /// evaluates its own part of the model; only the initiator (the model's guest) gets the
    /// scores.
    Predict {
        /// The model, which both nodes hold a part of.
        model: ModelId,
        /// As for `Train`: the datasets are already aligned, checked by digest instead of PSI.
        #[serde(default)]
        aligned: bool,
    },
    /// Real-time scoring of one applicant (a session, not a recorded job): the initiator (the
    /// model's guest) sends the applicant's key in [`Propose::key`]; the responder (the host)
    /// looks its row up in its dataset and evaluates its part of the model on that row only.
    /// Allowed by the responder's `predict` policy ([`JobSpec::policy_kind`]).
    Score {
        /// The model, which both nodes hold a part of.
        model: ModelId,
    },
}

/// SecureBoost's regularisation and sampling, as XGBoost names them (logistic regression
/// ignores them). Both nodes check them; the host samples its own features with `col_sample`.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Tuning {
    /// L2 regularisation of leaf weights (`lambda`, ≥ 0).
    pub lambda: f64,
    /// Smallest hessian sum of a child (≥ 0).
    pub min_child_weight: f64,
    /// Smallest gain of a split (`gamma`, ≥ 0).
    pub gamma: f64,
    /// Fraction of rows per tree, in (0, 1].
    pub row_sample: f64,
    /// Fraction of each party's features per tree, in (0, 1].
    pub col_sample: f64,
}

impl Default for Tuning {
    fn default() -> Self {
        Self {
            lambda: 1.0,
            min_child_weight: 1.0,
            gamma: 0.0,
            row_sample: 1.0,
            col_sample: 1.0,
        }
    }
}

impl Tuning {
    /// Checks the ranges.
    ///
    /// # Errors
    ///
    /// A message naming the first value out of range.
    pub fn check(&self) -> Result<(), String> {
        for (name, v) in [
            ("lambda", self.lambda),
            ("min child weight", self.min_child_weight),
            ("gamma", self.gamma),
        ] {
            if !(v.is_finite() && v >= 0.0) {
                return Err(format!("{name} {v}: must be a finite number ≥ 0"));
            }
        }
        for (name, v) in [
            ("row sample", self.row_sample),
            ("column sample", self.col_sample),
        ] {
            if !(v.is_finite() && v > 0.0 && v <= 1.0) {
                return Err(format!("{name} {v}: must be in (0, 1]"));
            }
        }
        Ok(())
    }
}

/// The smallest training set a node accepts: a model trained on one row, or on a label of one
/// class, predicts nothing and must not be served. Both nodes check the rows (before and after
/// the alignment); the guest also the rows of each class.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Minimums {
    /// Fewest rows (common rows, after the alignment), at least [`MIN_TRAIN_ROWS`].
    pub rows: u32,
    /// Fewest rows of each label class on the guest, at least 1.
    pub per_class: u32,
}

/// The lowest `rows` minimum a request may set.
pub const MIN_TRAIN_ROWS: u32 = 2;

impl Default for Minimums {
    fn default() -> Self {
        Self {
            rows: 10,
            per_class: 2,
        }
    }
}

impl Minimums {
    /// Checks the floors (a request cannot switch the check off).
    ///
    /// # Errors
    ///
    /// A message naming the value out of range.
    pub fn check(&self) -> Result<(), String> {
        if self.rows < MIN_TRAIN_ROWS {
            return Err(format!(
                "minimum rows {}: must be at least {MIN_TRAIN_ROWS}",
                self.rows
            ));
        }
        if self.per_class < 1 {
            return Err("minimum rows per class 0: must be at least 1".into());
        }
        Ok(())
    }
}

/// A model's id: 16 random bytes, 32 lowercase hex digits in JSON and file names.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct ModelId(pub [u8; 16]);

impl std::fmt::Display for ModelId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&hex::encode(self.0))
    }
}

impl std::fmt::Debug for ModelId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ModelId({self})")
    }
}

impl std::str::FromStr for ModelId {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let mut b = [0u8; 16];
        if s.len() != 32
            || !s
                .bytes()
                .all(|c| c.is_ascii_digit() || (b'a'..=b'f').contains(&c))
        {
            return Err(format!("{s:?} is not a model id (32 lowercase hex digits)"));
        }
        hex::decode_to_slice(s, &mut b).map_err(|e| e.to_string())?;
        Ok(ModelId(b))
    }
}

impl Serialize for ModelId {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}

impl<'de> Deserialize<'de> for ModelId {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// A joint-modeling algorithm.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Algorithm {
    /// Vertical SecureBoost (gradient-boosted trees).
    Secureboost,
    /// Vertical logistic regression.
    Lr,
}

impl Algorithm {
    /// The name used in flags and JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Secureboost => "secureboost",
            Self::Lr => "lr",
        }
    }
}

impl JobSpec {
    /// The job kind's name, as policies name it.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Psi { .. } => "psi",
            Self::Pir { .. } => "pir",
            Self::Train { .. } => "train",
            Self::Predict { .. } => "predict",
            Self::Score { .. } => "score",
        }
    }

    /// The job kind a policy rule must name for this spec: a score session runs under the
    /// `predict` rule (it is a prediction of one row).
    pub fn policy_kind(&self) -> &'static str {
        match self {
            Self::Score { .. } => "predict",
            other => other.kind(),
        }
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

/// Job kinds a policy can name.
pub const JOB_KINDS: &[&str] = &["psi", "pir", "train", "predict"];

/// Bounds a partner's training proposal must respect (a node never trains a 10^9-tree model
/// because a partner asked).
pub const MAX_TREES: u32 = 1000;
/// Deepest tree a proposal may ask for.
pub const MAX_DEPTH: u32 = 12;
/// Most bins per feature a proposal may ask for (bin indexes are one byte).
pub const MAX_BINS: u32 = 256;

/// Who learns the intersection of a PSI job, from the initiator's point of view.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PsiMode {
    /// Both nodes learn the common rows.
    Both,
    /// Only the initiator learns them.
    InitiatorOnly,
    /// Only the responder learns them.
    ResponderOnly,
    /// Both learn only how many there are.
    Cardinality,
}

impl PsiMode {
    /// The name used in flags and JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Both => "both",
            Self::InitiatorOnly => "initiator-only",
            Self::ResponderOnly => "responder-only",
            Self::Cardinality => "cardinality",
        }
    }
}

/// The group of an ECDH protocol.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Curve {
    /// ristretto255 (RFC 9496).
    Ristretto255,
    /// SM2 with SM3 (国密).
    Sm2,
}

impl Curve {
    /// The name used in flags and JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ristretto255 => "ristretto255",
            Self::Sm2 => "sm2",
        }
    }
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

impl JobSpec {
    /// Whether the job runs on already-aligned datasets (no PSI).
    pub fn aligned(&self) -> bool {
        matches!(
            self,
            Self::Train { aligned: true, .. } | Self::Predict { aligned: true, .. }
        )
    }
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
        match (&self.spec, &self.key) {
            (JobSpec::Score { .. }, Some(k)) => return check_score_key(k),
            (JobSpec::Score { .. }, None) => return Err("a score session without a key".into()),
            (_, Some(_)) => return Err("a key in a proposal that is not a score session".into()),
            (_, None) => {}
        }
        match self.spec {
            JobSpec::Pir { keys: 0, .. } => Err("a hidden query of 0 keys".into()),
            JobSpec::Pir {
                reveal_bucket: Some(0),
                ..
            } => Err("bucket k-anonymity of 0".into()),
            JobSpec::Train {
                trees,
                depth,
                bins,
                learning_rate,
                tuning,
                minimums,
                ..
            } => check_train(trees, depth, bins, learning_rate)
                .and_then(|()| tuning.check())
                .and_then(|()| minimums.check()),
            _ => Ok(()),
        }
    }
}

/// Checks training parameters (the initiator's own request and a partner's proposal alike).
pub fn check_train(trees: u32, depth: u32, bins: u32, learning_rate: f64) -> Result<(), String> {
    if !(1..=MAX_TREES).contains(&trees) {
        return Err(format!("{trees} trees/epochs: must be 1..={MAX_TREES}"));
    }
    if !(1..=MAX_DEPTH).contains(&depth) {
        return Err(format!("depth {depth}: must be 1..={MAX_DEPTH}"));
    }
    if !(2..=MAX_BINS).contains(&bins) {
        return Err(format!("{bins} bins: must be 2..={MAX_BINS}"));
    }
    if !(learning_rate.is_finite() && learning_rate > 0.0 && learning_rate <= 1.0) {
        return Err(format!("learning rate {learning_rate}: must be in (0, 1]"));
    }
    Ok(())
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

    fn propose() -> Propose {
        Propose {
            job_id: "0123456789abcdef0123456789abcdef".into(),
            dataset: "their_customers".into(),
            initiator_dataset: "customers".into(),
            spec: JobSpec::Psi {
                mode: PsiMode::Both,
                curve: Curve::Ristretto255,
            },
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
        p.spec = JobSpec::Pir {
            curve: Curve::Sm2,
            keys: 300,
            reveal_bucket: None,
        };
        let bytes = serde_json::to_vec(&p).unwrap();
        assert_eq!(decode::<Propose>(&bytes).unwrap(), p);
        assert_eq!(p.spec.kind(), "pir");
        assert_eq!(
            serde_json::to_value(p.spec).unwrap(),
            serde_json::json!({"kind": "pir", "curve": "sm2", "keys": 300, "reveal_bucket": null})
        );
        // `reveal_bucket` may be left out.
        let short = br#"{"job_id":"0123456789abcdef0123456789abcdef","dataset":"a","initiator_dataset":"b","spec":{"kind":"pir","curve":"ristretto255","keys":1}}"#;
        assert!(matches!(
            decode::<Propose>(short).unwrap().spec,
            JobSpec::Pir {
                keys: 1,
                reveal_bucket: None,
                ..
            }
        ));
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
    fn train_tuning_is_checked_and_defaults() {
        let spec: JobSpec = serde_json::from_str(
            r#"{"kind":"train","algorithm":"secureboost","trees":3,"depth":3,"bins":8,"learning_rate":0.3}"#,
        )
        .unwrap();
        let JobSpec::Train { tuning, .. } = spec else {
            panic!("a train spec")
        };
        assert_eq!(tuning, Tuning::default());
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
        let model: ModelId = "00112233445566778899aabbccddeeff".parse().unwrap();
        let mut p = propose();
        p.spec = JobSpec::Score { model };
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
        let spec: JobSpec = serde_json::from_str(
            r#"{"kind":"predict","model":"0123456789abcdef0123456789abcdef"}"#,
        )
        .unwrap();
        assert!(!spec.aligned());
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
