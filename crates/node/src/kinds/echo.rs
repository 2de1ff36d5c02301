//! A job kind for the tests: the initiator sends bytes, the responder sends them back. Adding
//! it took this module and one line in the registry (`registry!` in `kinds/mod.rs`); the lifecycle
//! tests (`jobs/tests.rs`) run it between two nodes in one process.

use serde::{Deserialize, Serialize};
use unseen_channel::{Channel, Header};
use unseen_store::Dataset;

use super::{Admission, Ctx, Kind, Produced, Receivers, Refusal};
use crate::job_error::JobError;

/// The frame both sides exchange.
const ECHO: Header = Header::new(0x7e57, 1, 1);

/// What to echo, and where to fail on purpose.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(unreachable_pub)] // a variant of the public JobSpec, in test builds only
pub struct EchoSpec {
    /// The bytes the initiator sends.
    pub payload: Vec<u8>,
    /// `Some(true)`: the initiator's own input fails; `Some(false)`: the responder's.
    #[serde(default)]
    pub fail_initiator: Option<bool>,
}

/// The `echo` kind.
pub(crate) struct Echo;

/// What each side saw.
#[derive(Debug, Serialize)]
pub(crate) struct EchoResult {
    /// Bytes echoed.
    pub bytes: usize,
}

impl Kind for Echo {
    type Spec = EchoSpec;
    type Part = ();
    type Output = EchoResult;
    const NAME: &'static str = "echo";

    fn check(spec: &EchoSpec) -> Result<(), String> {
        if spec.payload.len() > 1024 {
            return Err("an echo of more than 1024 bytes".into());
        }
        Ok(())
    }

    fn receivers(_: &EchoSpec) -> Receivers {
        Receivers {
            initiator: false,
            responder: false,
        }
    }

    fn admit(_: Admission<'_>, _: &EchoSpec) -> Result<(), Refusal> {
        Ok(())
    }

    fn dataset(_: &()) -> Option<&Dataset> {
        None
    }

    fn run<C: Channel>(
        ctx: &mut Ctx<'_, C>,
        spec: &EchoSpec,
        _: &(),
    ) -> Result<Produced<EchoResult>, JobError> {
        let lost = |e| JobError::channel(format!("partner {}", ctx.partner), e);
        let bytes = if ctx.initiator {
            if spec.fail_initiator == Some(true) {
                return Err(JobError::input("echo: this node's input does not fit"));
            }
            ctx.ch.send(ECHO, spec.payload.clone()).map_err(lost)?;
            ctx.ch.flush().map_err(lost)?;
            let back = ctx.ch.recv(ECHO, 1024).map_err(lost)?;
            if back != spec.payload {
                return Err(JobError::partner("echo: the partner sent other bytes back"));
            }
            back.len()
        } else {
            let got = ctx.ch.recv(ECHO, 1024).map_err(lost)?;
            if spec.fail_initiator == Some(false) {
                return Err(JobError::input("echo: this node's input does not fit"));
            }
            let n = got.len();
            ctx.ch.send(ECHO, got).map_err(lost)?;
            ctx.ch.flush().map_err(lost)?;
            n
        };
        Ok(Produced {
            wrote: false,
            output: EchoResult { bytes },
        })
    }
}
