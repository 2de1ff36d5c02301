//! Job kinds: each is one module implementing [`Kind`], registered by one line in
//! `registry!` below; the lifecycle in [`crate::jobs`] knows no kind by name.
//!
//! A kind says what its parameters are (its `Spec`, one variant of the wire [`JobSpec`]), who
//! receives rows (for the policy check), how the responder admits a proposal (what it brings:
//! its `Part`), how each side runs over any [`Channel`], what it produced (a typed `Output`,
//! stored as the job's result) and which of it goes into the audit log. Adding a kind is a new
//! module here (usually over a new protocol crate) and one line in the registry: the kind
//! `echo`, compiled in tests only, shows it (`kinds/echo.rs`).

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use serde_json::Value;
use unseen_channel::{Channel, Fault};
use unseen_psi::Progress;
use unseen_store::{Dataset, Job, Partner};
use unseen_transport::ShutdownHandle;

use crate::NodeError;
use crate::control::Propose;
use crate::job_error::JobError;
use crate::node::Node;

#[cfg(test)]
pub(crate) mod echo;
pub mod pir;
pub mod predict;
pub mod psi;
pub mod score;
pub mod train;

/// Who receives rows in a job: the initiator, the responder.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Receivers {
    /// The node that proposed the job.
    pub initiator: bool,
    /// The node that accepted it.
    pub responder: bool,
}

/// One job kind.
pub trait Kind: Sized + 'static {
    /// Its parameters, as proposed (one variant of [`JobSpec`]).
    type Spec: Clone + std::fmt::Debug + PartialEq + Send + Sync + 'static;
    /// What this node brings to a job (a dataset, its keys, a model part, a query's input).
    type Part: Send + 'static;
    /// What one side produced, recorded as the job's result (JSON).
    type Output: Serialize;

    /// Its name, as job records name it.
    const NAME: &'static str;
    /// The job kind a policy rule must name to allow it.
    const POLICY: &'static str = Self::NAME;
    /// Whether its proposal carries an applicant's key ([`Propose::key`]).
    const KEYED: bool = false;

    /// Checks the parameters (a partner's proposal and this node's own request alike).
    fn check(spec: &Self::Spec) -> Result<(), String>;

    /// Who receives rows.
    fn receivers(spec: &Self::Spec) -> Receivers;

    /// The mode named in a policy refusal (e.g. `both`), if the kind has modes.
    fn mode(_spec: &Self::Spec) -> Option<&'static str> {
        None
    }

    /// Whether the rows are aligned by PSI: both nodes then read their keys before the job
    /// runs, refuse an empty dataset, and announce their key count to cap the partner's PSI.
    fn aligns(_spec: &Self::Spec) -> bool {
        false
    }

    /// The responder's admission after the common checks (new id, policy, dataset registered
    /// and unchanged): what it brings, or why it refuses.
    fn admit(a: Admission<'_>, spec: &Self::Spec) -> Result<Self::Part, Refusal>;

    /// The registered dataset the part computes on, checked against its registration before
    /// the job reads it.
    fn dataset(part: &Self::Part) -> Option<&Dataset>;

    /// Where the output goes when the caller chose (a query's, a prediction's); `None`: the
    /// node's `outputs/JOB_ID.csv`.
    fn output(_part: &Self::Part) -> Option<&Path> {
        None
    }

    /// Runs this node's side of an accepted job on `ctx.ch`, writing any output to
    /// `ctx.pending`.
    fn run<C: Channel>(
        ctx: &mut Ctx<'_, C>,
        spec: &Self::Spec,
        part: &Self::Part,
    ) -> Result<Produced<Self::Output>, JobError>;

    /// Keeps what the job produced besides its output file, once both nodes confirmed it
    /// (e.g. a model part).
    fn commit(_node: &Node, _out: &Self::Output) -> Result<(), JobError> {
        Ok(())
    }

    /// The result's fields recorded in the audit log (counts and ids, never data).
    fn audit(_out: &Self::Output) -> Vec<(&'static str, Value)> {
        Vec::new()
    }

    /// What this node brings to a rerun of `job` (only the node that submitted it reruns it),
    /// and for a kind that aligns by PSI the number of keys it brings.
    fn rerun(
        _node: &Arc<Node>,
        job: &Job,
        _spec: &Self::Spec,
    ) -> Result<(Self::Part, Option<u64>), NodeError> {
        Err(NodeError::Conflict(format!(
            "job {} is a {} job, which cannot be rerun from its record",
            job.id,
            Self::NAME
        )))
    }

    /// Serves an authenticated partner's proposal of this kind: by default the job lifecycle
    /// (`jobs::respond`); a session kind (score) answers at once instead.
    fn serve<C: Channel>(
        node: &Arc<Node>,
        partner: &Partner,
        ch: &mut C,
        shutdown: Option<ShutdownHandle>,
        p: &Propose,
        spec: &Self::Spec,
    ) {
        crate::jobs::respond::<Self, C>(node, partner, ch, shutdown, p, spec);
    }
}

/// What the responder knows when it admits a proposal.
pub struct Admission<'a> {
    /// This node.
    pub node: &'a Arc<Node>,
    /// The partner that proposed it.
    pub partner: &'a Partner,
    /// The proposal.
    pub proposal: &'a Propose,
    /// The job as recorded here.
    pub job: &'a Job,
    /// The dataset proposed (registered, its file unchanged).
    pub dataset: Dataset,
    /// Its keys, read now, for a kind that [aligns](Kind::aligns) by PSI (checked not empty).
    pub keys: Option<Box<unseen_data::Table>>,
}

/// Why the responder refuses a proposal: the reason sent to the partner (naming only what the
/// partner already knows) and whose fault it is on this node's record.
#[derive(Debug)]
pub struct Refusal {
    /// Sent to the partner and recorded.
    pub reason: String,
    /// This node's record: `config` for its policy, a missing table or model; `input` for its
    /// data; `internal` when it failed to decide.
    pub fault: Fault,
}

impl Refusal {
    /// A refusal by this node's configuration (policy, quota, tables, models).
    pub fn config(reason: impl Into<String>) -> Self {
        Self {
            reason: reason.into(),
            fault: Fault::Config,
        }
    }

    /// A refusal because this node's data does not fit.
    pub fn input(reason: impl Into<String>) -> Self {
        Self {
            reason: reason.into(),
            fault: Fault::Input,
        }
    }
}

impl From<NodeError> for Refusal {
    fn from(e: NodeError) -> Self {
        tracing::error!(error = %e, "cannot decide on a proposal");
        Self {
            reason: "the partner's node failed to record the job".into(),
            fault: Fault::Internal,
        }
    }
}

/// What one side of a job has while it runs.
pub struct Ctx<'a, C> {
    /// This node.
    pub node: &'a Node,
    /// The job.
    pub job: &'a Job,
    /// The channel to the partner.
    pub ch: &'a mut C,
    /// Whether this node proposed the job.
    pub initiator: bool,
    /// The partner's name.
    pub partner: &'a str,
    /// The most keys the partner may announce in a PSI (its announced count).
    pub peer_limit: u64,
    /// Where to write the output until both nodes confirm.
    pub pending: &'a Path,
}

/// A progress callback that records job `id`'s progress in the store at most every 250 ms
/// (`progress(ctx.node, &ctx.job.id)`, so that `ctx.ch` stays free to borrow).
pub fn progress<'a>(node: &'a Node, id: &'a str) -> impl Fn(Progress) + Sync + 'a {
    let last = Mutex::new(None::<Instant>);
    move |p: Progress| {
        let mut l = last
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let due = l.is_none_or(|t| t.elapsed() >= Duration::from_millis(250)) || p.done == p.total;
        if due {
            *l = Some(Instant::now());
            drop(l);
            if let Err(e) = node.store().set_progress(id, p.done, p.total) {
                tracing::warn!(job = %id, error = %e, "cannot record progress");
            }
        }
    }
}

impl<C> Ctx<'_, C> {
    /// Records `done` of `total` units now.
    pub fn set_progress(&self, done: u64, total: u64) {
        if let Err(e) = self.node.store().set_progress(&self.job.id, done, total) {
            tracing::warn!(job = %self.job.id, error = %e, "cannot record progress");
        }
    }
}

/// What one side of a job produced.
pub struct Produced<O> {
    /// Whether the pending output was written.
    pub wrote: bool,
    /// The result.
    pub output: O,
}

/// Something done for every registered kind, given its spec ([`dispatch`]).
pub(crate) trait Visit {
    /// What it gives.
    type Out;
    /// Does it for kind `K`.
    fn visit<K: Kind>(self, spec: &K::Spec) -> Self::Out
    where
        JobSpec: From<K::Spec>;
}

/// Declares the wire [`JobSpec`] and the one dispatch from a spec to its kind.
macro_rules! registry {
    ($( $(#[doc = $doc:expr])* $(#[cfg($cfg:meta)])? $variant:ident($spec:ty) => $kind:ty, )*) => {
        /// A job's kind and parameters, as proposed on the wire (`{"kind": "psi", …}`) and
        /// recorded in the job table. Each variant wraps its kind's own spec.
        #[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
        #[serde(tag = "kind", rename_all = "lowercase")]
        pub enum JobSpec {
            $( $(#[doc = $doc])* $(#[cfg($cfg)])? $variant($spec), )*
        }

        $(
            $(#[cfg($cfg)])?
            impl From<$spec> for JobSpec {
                fn from(s: $spec) -> Self {
                    Self::$variant(s)
                }
            }
        )*

        /// Calls `v` with the kind of `spec`: the one place the node goes from a spec to its
        /// kind.
        pub(crate) fn dispatch<V: Visit>(spec: &JobSpec, v: V) -> V::Out {
            match spec {
                $( $(#[cfg($cfg)])? JobSpec::$variant(s) => v.visit::<$kind>(s), )*
            }
        }

        /// Every kind's name and the policy rule kind it runs under.
        pub const KINDS: &[(&str, &str)] = &[
            $( $(#[cfg($cfg)])? (<$kind as Kind>::NAME, <$kind as Kind>::POLICY), )*
        ];
    };
}

registry! {
    /// ECDH private set intersection.
    Psi(psi::PsiSpec) => psi::Psi,
    /// Hidden query (keyword PIR).
    Pir(pir::PirSpec) => pir::Pir,
    /// Joint modeling: training.
    Train(train::TrainSpec) => train::Train,
    /// Joint modeling: federated prediction of a dataset.
    Predict(predict::PredictSpec) => predict::Predict,
    /// Real-time scoring of one applicant (a session, not a recorded job).
    Score(score::ScoreSpec) => score::Score,
    /// A kind for the tests: adding it took its module and this line.
    #[cfg(test)]
    Echo(echo::EchoSpec) => echo::Echo,
}

/// The job kinds a policy rule can name.
pub fn policy_kinds() -> Vec<&'static str> {
    KINDS
        .iter()
        .filter(|(name, policy)| name == policy)
        .map(|(name, _)| *name)
        .collect()
}

impl JobSpec {
    /// The job kind's name, as records name it.
    pub fn kind(&self) -> &'static str {
        struct Name;
        impl Visit for Name {
            type Out = &'static str;
            fn visit<K: Kind>(self, _: &K::Spec) -> &'static str {
                K::NAME
            }
        }
        dispatch(self, Name)
    }

    /// The job kind a policy rule must name for this spec.
    pub fn policy_kind(&self) -> &'static str {
        struct Policy;
        impl Visit for Policy {
            type Out = &'static str;
            fn visit<K: Kind>(self, _: &K::Spec) -> &'static str {
                K::POLICY
            }
        }
        dispatch(self, Policy)
    }

    /// Checks the parameters, and that an applicant key comes with exactly the kinds that
    /// carry one.
    pub fn check(&self, key: Option<&str>) -> Result<(), String> {
        struct Check<'a>(Option<&'a str>);
        impl Visit for Check<'_> {
            type Out = Result<(), String>;
            fn visit<K: Kind>(self, spec: &K::Spec) -> Result<(), String> {
                match (K::KEYED, self.0) {
                    (true, Some(k)) => crate::control::check_score_key(k)?,
                    (true, None) => return Err(format!("a {} proposal without a key", K::NAME)),
                    (false, Some(_)) => {
                        return Err(format!("a key in a {} proposal", K::NAME));
                    }
                    (false, None) => {}
                }
                K::check(spec)
            }
        }
        dispatch(self, Check(key))
    }
}

/// `serde(with)` for [`unseen_crypto::CurveId`] as its lowercase name (`ristretto255`, `sm2`).
pub mod curve_name {
    use serde::{Deserialize, Deserializer, Serializer};
    use unseen_crypto::CurveId;

    /// The same for an `Option<CurveId>` (absent or `null`: `None`).
    pub mod option {
        use serde::{Deserialize, Deserializer, Serializer};
        use unseen_crypto::CurveId;

        /// Serialises the curve's name, or nothing.
        pub fn serialize<S: Serializer>(c: &Option<CurveId>, s: S) -> Result<S::Ok, S::Error> {
            match c {
                Some(c) => s.serialize_some(c.name()),
                None => s.serialize_none(),
            }
        }

        /// Reads a curve's name, or nothing.
        pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<CurveId>, D::Error> {
            Option::<String>::deserialize(d)?
                .map(|name| super::parse(&name).map_err(serde::de::Error::custom))
                .transpose()
        }
    }

    /// A curve by its name.
    pub fn parse(name: &str) -> Result<CurveId, String> {
        CurveId::from_name(name)
            .ok_or_else(|| format!("unknown curve {name:?} (known: ristretto255, sm2)"))
    }

    /// Serialises the curve's name.
    pub fn serialize<S: Serializer>(c: &CurveId, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(c.name())
    }

    /// Reads a curve's name.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<CurveId, D::Error> {
        parse(&String::deserialize(d)?).map_err(serde::de::Error::custom)
    }
}

/// `serde(with)` for [`unseen_fl::ModelId`] as 32 lowercase hex digits.
pub mod model_id_hex {
    use serde::{Deserialize, Deserializer, Serializer};
    use unseen_fl::ModelId;

    /// Serialises the id's hex.
    pub fn serialize<S: Serializer>(m: &ModelId, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&hex::encode(m.0))
    }

    /// Reads an id's hex (32 lowercase hex digits).
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<ModelId, D::Error> {
        let s = String::deserialize(d)?;
        super::parse_model_id(&s).map_err(serde::de::Error::custom)
    }
}

/// Parses a model id: 32 lowercase hex digits (`unseen_fl::ModelId`'s own parser).
pub fn parse_model_id(s: &str) -> Result<unseen_fl::ModelId, String> {
    s.parse()
        .map_err(|e: unseen_fl::lr::ParseModelIdError| e.to_string())
}
