//! [`JobError`]: how a job ended short of success, and whose fault it was.
//!
//! Every failure of a job, on either node, is one `JobError`: a [`Fault`] class (what the
//! operator does next), how the job ends ([`Ending`]: failed, or rejected by the partner, or
//! failed because the partner gave up), a message for the job record, and the protocol crate's
//! typed error as its [`source`](std::error::Error::source). The node branches on the class and
//! the ending, never on message text. Where the class comes from:
//!
//! | cause | fault |
//! |---|---|
//! | this node's dataset, keys file, flags, a value in a file, too few rows | `input` |
//! | this node's registry, policy, model part, table; a parameter both sides configured differently | `config` |
//! | the partner refused, broke the protocol, or gave up and said so (abort frame) | `partner` |
//! | the connection could not be opened, closed early, timed out | `network` |
//! | randomness, the node's storage, a bug | `internal` |
//!
//! Protocol errors are classified by their own crate's `fault()` ([`ChannelError::fault`],
//! `PsiError::fault`, …); the node adds only the context.

use std::error::Error as StdError;

use unseen_channel::{AbortCategory, ChannelError, Fault};

/// How a job that did not succeed ends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ending {
    /// It failed (state `failed`).
    Failed,
    /// The partner refused it when it was proposed (state `rejected`).
    Rejected,
    /// The partner gave up during the job and said so with an abort frame, in this category
    /// (its category only: never its data).
    PartnerAborted(AbortCategory),
}

/// A job's failure: its fault class, how it ends, what to record, and the cause.
#[derive(Debug)]
pub struct JobError {
    fault: Fault,
    ending: Ending,
    message: String,
    source: Option<Box<dyn StdError + Send + Sync + 'static>>,
}

impl JobError {
    /// A failure of class `fault` with this message.
    pub fn new(fault: Fault, message: impl Into<String>) -> Self {
        Self {
            fault,
            ending: Ending::Failed,
            message: message.into(),
            source: None,
        }
    }

    /// This node's input does not fit.
    pub fn input(message: impl Into<String>) -> Self {
        Self::new(Fault::Input, message)
    }

    /// This node's configuration does not fit.
    pub fn config(message: impl Into<String>) -> Self {
        Self::new(Fault::Config, message)
    }

    /// The partner misbehaved.
    pub fn partner(message: impl Into<String>) -> Self {
        Self::new(Fault::Partner, message)
    }

    /// The network failed.
    pub fn network(message: impl Into<String>) -> Self {
        Self::new(Fault::Network, message)
    }

    /// Something failed inside this node.
    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(Fault::Internal, message)
    }

    /// The partner refused the job (its reason, as it sent it).
    pub fn rejected(message: impl Into<String>) -> Self {
        Self {
            ending: Ending::Rejected,
            ..Self::partner(message)
        }
    }

    /// The partner gave up during the job, in `category`.
    pub fn partner_aborted(partner: &str, category: AbortCategory) -> Self {
        Self {
            ending: Ending::PartnerAborted(category),
            ..Self::partner(format!(
                "partner {partner}: the partner's node failed the job: {category}"
            ))
        }
    }

    /// A protocol crate's error `e` of class `fault`, with `context` before its message.
    pub fn caused<E>(fault: Fault, context: impl Into<String>, e: E) -> Self
    where
        E: StdError + Send + Sync + 'static,
    {
        let context = context.into();
        let message = if context.is_empty() {
            e.to_string()
        } else {
            format!("{context}: {e}")
        };
        Self {
            fault,
            ending: Ending::Failed,
            message,
            source: Some(Box::new(e)),
        }
    }

    /// A channel error, classified by [`ChannelError::fault`].
    pub fn channel(context: impl Into<String>, e: ChannelError) -> Self {
        Self::caused(e.fault(), context, e)
    }

    /// Whose fault it is.
    pub fn fault(&self) -> Fault {
        self.fault
    }

    /// How the job ends.
    pub fn ending(&self) -> Ending {
        self.ending
    }

    /// The message recorded as the job's reason.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The same error with `context` before its message.
    #[must_use]
    pub fn context(mut self, context: impl std::fmt::Display) -> Self {
        self.message = format!("{context}: {}", self.message);
        self
    }

    /// What this node tells the partner when it gives up (an abort frame's category: one
    /// byte, no text, so no data of this node leaves with it).
    pub fn abort_category(&self) -> AbortCategory {
        match (self.ending, self.fault) {
            (Ending::Rejected, _) => AbortCategory::Policy,
            (_, Fault::Input) => AbortCategory::Input,
            (_, Fault::Partner) => AbortCategory::Protocol,
            (_, Fault::Config | Fault::Network | Fault::Internal) => AbortCategory::Internal,
        }
    }
}

impl std::fmt::Display for JobError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl StdError for JobError {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        self.source
            .as_deref()
            .map(|e| e as &(dyn StdError + 'static))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn channel_errors_keep_their_class_and_source() {
        let e = JobError::channel("partner b", ChannelError::Timeout { seconds: 3 });
        assert_eq!(e.fault(), Fault::Network);
        assert_eq!(e.ending(), Ending::Failed);
        assert!(e.message().starts_with("partner b: "));
        assert!(e.source().is_some_and(|s| s.is::<ChannelError>()));
        let r = JobError::rejected("no policy");
        assert_eq!((r.fault(), r.ending()), (Fault::Partner, Ending::Rejected));
        assert_eq!(JobError::input("x").abort_category(), AbortCategory::Input);
        assert_eq!(
            JobError::partner("x").abort_category(),
            AbortCategory::Protocol
        );
    }
}
