//! Abort frames: how one side tells the other that it gave up on the job, and in which
//! category, whatever protocol the other side is in the middle of.
//!
//! Without them, a node that fails on its own input sends whatever comes next in its own
//! script (e.g. the node control protocol's end-of-job report), and its partner, waiting for a
//! protocol message, reports "unexpected message: expected protocol 0x0001 …, received protocol
//! 0x0100 …", which hides the real cause. An abort frame has a reserved header ([`ABORT`]) that
//! no protocol uses; [`read_frame`](crate::frame) recognises it at every receive, so every
//! protocol over a [`Channel`](crate::Channel) reports [`ChannelError::PeerAborted`] instead.
//!
//! The payload is one byte, the [`AbortCategory`]: never a message, so no data of the failing
//! side (a file's value, a key, a path) can travel in it.

use crate::Header;

/// The header of an abort frame (protocol id 0xffff is reserved for the channel layer).
pub const ABORT: Header = Header::new(0xffff, 1, 0x01);

/// Longest abort payload accepted (one byte is sent; a few more are tolerated and ignored).
pub(crate) const MAX_ABORT_LEN: usize = 16;

/// Why a side gave up on a job, as it tells its partner. A fixed set: the category carries no
/// data.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum AbortCategory {
    /// Its own input did not fit: a dataset that cannot be read or changed since it was
    /// registered, a bad value, too few rows, a parameter.
    Input,
    /// Its policy or a quota refused to go on.
    Policy,
    /// It found the partner's messages wrong (the protocol was not followed).
    Protocol,
    /// An internal error on its side (storage, randomness, a bug).
    Internal,
    /// Its operator cancelled the job.
    Cancelled,
    /// A category this build does not know (a newer partner).
    Unspecified,
}

impl AbortCategory {
    /// The byte sent on the wire.
    pub fn code(self) -> u8 {
        match self {
            Self::Unspecified => 0,
            Self::Input => 1,
            Self::Policy => 2,
            Self::Protocol => 3,
            Self::Internal => 4,
            Self::Cancelled => 5,
        }
    }

    /// The category of a received byte (unknown codes are [`Self::Unspecified`]).
    pub fn from_code(code: u8) -> Self {
        match code {
            1 => Self::Input,
            2 => Self::Policy,
            3 => Self::Protocol,
            4 => Self::Internal,
            5 => Self::Cancelled,
            _ => Self::Unspecified,
        }
    }

    /// A short name (`input`, `policy`, …), as in job records and the audit.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Input => "input",
            Self::Policy => "policy",
            Self::Protocol => "protocol",
            Self::Internal => "internal",
            Self::Cancelled => "cancelled",
            Self::Unspecified => "unspecified",
        }
    }
}

impl core::fmt::Display for AbortCategory {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let why = match self {
            Self::Input => "its own input (a dataset or a parameter) did not fit",
            Self::Policy => "its policy or a quota refused to go on",
            Self::Protocol => "it found this node's messages wrong",
            Self::Internal => "an internal error on its side",
            Self::Cancelled => "its operator cancelled the job",
            Self::Unspecified => "no reason this node knows",
        };
        write!(f, "{} ({why})", self.as_str())
    }
}
