//! Framed, size-bounded, counted message channels between two parties.
//!
//! A [`Channel`] carries ordered messages in both directions. Each message is a frame:
//!
//! ```text
//! +----------------+--------------+----------+--------+-----------------+
//! | length: u32 LE | protocol: u16 LE | version: u8 | step: u8 | payload (length bytes) |
//! +----------------+--------------+----------+--------+-----------------+
//! ```
//!
//! The receiver names the [`Header`] it expects and the largest payload that step allows; a frame
//! with another header is [`ChannelError::UnexpectedFrame`], a longer one is
//! [`ChannelError::FrameTooLarge`], and both are rejected *before* the payload is allocated or
//! read (as tokio-util's `length_delimited` codec does). Every channel counts bytes and rounds
//! ([`Stats`]).
//!
//! One codec ([`StreamChannel`]) frames any byte stream: here an in-memory duplex ([`duplex`]) for
//! tests and single-process demos. This crate opens no sockets (it is the floor every protocol
//! crate stands on); the channels over the network, plain TCP on loopback and mutual TLS between
//! nodes, are built on the same codec in `unseen-transport`.
//!
//! Sends need not wait for the peer to read: [`StreamChannel::threaded`] hands frames to a writer
//! thread through a bounded queue, so protocols can pipeline chunks in both directions without
//! deadlocking on full socket buffers, while memory stays bounded.

mod abort;
pub mod codec;
mod fault;
mod frame;
mod memory;
mod stream;

pub use abort::{ABORT, AbortCategory};
pub use codec::{CodecError, Reader, Writer};
pub use fault::Fault;
pub use frame::{FRAME_HEADER_LEN, FrameRead, Header, MAX_FRAME_LEN, MIN_FRAME_RATE};
pub use memory::duplex;
pub use stream::{StreamChannel, Tamper, TamperHook};

/// Ordered, framed, bidirectional messages with a peer.
pub trait Channel {
    /// Queues one message for the peer. Returns once the frame is queued (TCP) or delivered
    /// (in-memory); errors from an earlier background write surface here.
    fn send(&mut self, header: Header, payload: Vec<u8>) -> Result<(), ChannelError>;

    /// Receives the next message, which must carry exactly `expect` and at most `max_len` payload
    /// bytes; both are checked before the payload is allocated.
    fn recv(&mut self, expect: Header, max_len: usize) -> Result<Vec<u8>, ChannelError>;

    /// Waits until every queued frame has been handed to the operating system.
    fn flush(&mut self) -> Result<(), ChannelError>;

    /// Bytes and rounds so far.
    fn stats(&self) -> Stats;

    /// Tells the peer that this side gave up, and in which category (an [`ABORT`] frame; the
    /// peer's next receive, in whatever protocol, fails with [`ChannelError::PeerAborted`]).
    fn abort(&mut self, category: AbortCategory) -> Result<(), ChannelError> {
        self.send(ABORT, vec![category.code()])?;
        self.flush()
    }

    /// The category of the peer's abort, if a receive on this channel met one.
    fn peer_aborted(&self) -> Option<AbortCategory> {
        None
    }
}

impl<C: Channel + ?Sized> Channel for &mut C {
    fn send(&mut self, header: Header, payload: Vec<u8>) -> Result<(), ChannelError> {
        (**self).send(header, payload)
    }
    fn recv(&mut self, expect: Header, max_len: usize) -> Result<Vec<u8>, ChannelError> {
        (**self).recv(expect, max_len)
    }
    fn flush(&mut self) -> Result<(), ChannelError> {
        (**self).flush()
    }
    fn stats(&self) -> Stats {
        (**self).stats()
    }
    fn abort(&mut self, category: AbortCategory) -> Result<(), ChannelError> {
        (**self).abort(category)
    }
    fn peer_aborted(&self) -> Option<AbortCategory> {
        (**self).peer_aborted()
    }
}

/// Traffic counters of one side of a channel.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// Bytes sent, frame headers included.
    pub bytes_sent: u64,
    /// Bytes received, frame headers included.
    pub bytes_received: u64,
    /// Messages sent.
    pub messages_sent: u64,
    /// Messages received.
    pub messages_received: u64,
    /// Flights: maximal runs of consecutive messages in one direction, as seen by this side.
    /// A request–response exchange is two rounds.
    pub rounds: u64,
}

/// Errors of a channel, sorted by cause.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ChannelError {
    /// The peer sent a frame with another protocol, version or step than this point of the
    /// protocol allows.
    #[error("unexpected message: expected {expected}, received {received}")]
    UnexpectedFrame {
        /// What the protocol expected.
        expected: Header,
        /// What arrived.
        received: Header,
    },
    /// The peer gave up on the job and said so with an abort frame (its category carries no
    /// data), while this side expected another message.
    #[error("the partner's node failed the job: {category}")]
    PeerAborted {
        /// Why, as the peer put it.
        category: AbortCategory,
    },
    /// The peer announced a payload longer than this step allows (nothing was allocated).
    #[error("peer announced a {len}-byte message for {header}, at most {max} allowed")]
    FrameTooLarge {
        /// Header of the offending frame.
        header: Header,
        /// Announced payload length.
        len: u64,
        /// Maximum for this step.
        max: u64,
    },
    /// The connection ended in the middle of a frame.
    #[error("connection closed in the middle of a message ({received} of {expected} bytes)")]
    Truncated {
        /// Bytes of the frame received.
        received: u64,
        /// Bytes the frame should have had.
        expected: u64,
    },
    /// The peer closed the connection between frames while a message was expected.
    #[error("peer closed the connection while {expected} was expected")]
    Closed {
        /// What the protocol expected.
        expected: Header,
    },
    /// No data arrived within the configured read timeout.
    #[error("peer sent nothing for {seconds} s (read timeout)")]
    Timeout {
        /// The timeout that expired.
        seconds: u64,
    },
    /// A message began to arrive but was not complete by its deadline (the read timeout plus
    /// its length at [`MIN_FRAME_RATE`], counted from when its first byte was awaited): the peer
    /// is sending too slowly, e.g. one byte at a time.
    #[error(
        "peer sent only {received} of {expected} bytes of a message within {seconds} s \
         (a whole message must arrive within the read timeout)"
    )]
    SlowFrame {
        /// The deadline of this message, in seconds.
        seconds: u64,
        /// Bytes of the frame (header included) that arrived in time.
        received: u64,
        /// Bytes known to be due: the header, or the whole frame once its header arrived.
        expected: u64,
    },
    /// No peer connected to our listening socket in time.
    #[error("no peer connected within {seconds} s")]
    NoPeer {
        /// How long we waited.
        seconds: u64,
    },
    /// A local caller tried to send a payload longer than [`MAX_FRAME_LEN`].
    #[error("refusing to send a {len}-byte message, at most {max} allowed")]
    SendTooLarge {
        /// Payload length.
        len: usize,
        /// Maximum.
        max: usize,
    },
    /// Operating-system I/O error.
    #[error("i/o error: {0}")]
    Io(#[from] std::io::Error),
    /// The channel is closed locally (the writer stopped after an earlier error).
    #[error("channel is closed: {0}")]
    LocalClosed(String),
}

impl ChannelError {
    /// Whose fault this is: the partner's for what its frames say (a wrong step, an oversized
    /// frame, an abort), the network's for a connection that ended, stalled or failed, ours for
    /// a payload we tried to send beyond the frame limit.
    pub fn fault(&self) -> Fault {
        match self {
            Self::UnexpectedFrame { .. }
            | Self::PeerAborted { .. }
            | Self::FrameTooLarge { .. } => Fault::Partner,
            Self::Truncated { .. }
            | Self::Closed { .. }
            | Self::Timeout { .. }
            | Self::SlowFrame { .. }
            | Self::NoPeer { .. }
            | Self::Io(_)
            | Self::LocalClosed(_) => Fault::Network,
            Self::SendTooLarge { .. } => Fault::Internal,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const H1: Header = Header::new(0x0001, 1, 1);
    const H2: Header = Header::new(0x0001, 1, 2);

    #[test]
    fn faults_sort_peer_network_and_local_causes() {
        let h = H1;
        assert_eq!(
            ChannelError::UnexpectedFrame {
                expected: h,
                received: H2
            }
            .fault(),
            Fault::Partner
        );
        assert_eq!(ChannelError::Closed { expected: h }.fault(), Fault::Network);
        assert_eq!(ChannelError::Timeout { seconds: 1 }.fault(), Fault::Network);
        assert_eq!(
            ChannelError::LocalClosed("x".into()).fault(),
            Fault::Network
        );
        assert_eq!(
            ChannelError::SendTooLarge { len: 1, max: 0 }.fault(),
            Fault::Internal
        );
        for f in Fault::ALL {
            assert_eq!(Fault::parse(f.as_str()), Some(f));
        }
        assert_eq!(Fault::parse("peer"), None);
    }

    #[test]
    fn duplex_roundtrip_and_counters() {
        let (mut a, mut b) = duplex();
        a.send(H1, b"hello".to_vec()).unwrap();
        a.send(H1, vec![]).unwrap();
        assert_eq!(b.recv(H1, 5).unwrap(), b"hello");
        assert_eq!(b.recv(H1, 0).unwrap(), b"");
        b.send(H2, vec![7; 3]).unwrap();
        assert_eq!(a.recv(H2, 3).unwrap(), vec![7; 3]);
        let sa = a.stats();
        assert_eq!(sa.bytes_sent, 2 * FRAME_HEADER_LEN as u64 + 5);
        assert_eq!(sa.bytes_received, FRAME_HEADER_LEN as u64 + 3);
        assert_eq!(sa.rounds, 2);
        assert_eq!(b.stats().bytes_received, sa.bytes_sent);
    }

    #[test]
    fn wrong_step_and_oversize_rejected_before_payload() {
        let (mut a, mut b) = duplex();
        a.send(H2, vec![1; 10]).unwrap();
        let e = b.recv(H1, 100).unwrap_err();
        assert!(matches!(
            e,
            ChannelError::UnexpectedFrame {
                expected: H1,
                received: H2
            }
        ));
        let (mut a, mut b) = duplex();
        a.send(H1, vec![1; 10]).unwrap();
        let e = b.recv(H1, 9).unwrap_err();
        assert!(matches!(
            e,
            ChannelError::FrameTooLarge {
                len: 10,
                max: 9,
                ..
            }
        ));
    }

    #[test]
    fn huge_announced_length_is_rejected_without_allocation() {
        let (a, mut b) = duplex();
        let mut a = a.with_tamper(Box::new(|_, h, _| {
            let mut raw = u32::MAX.to_le_bytes().to_vec();
            raw.extend_from_slice(&h.protocol.to_le_bytes());
            raw.extend_from_slice(&[h.version, h.step]);
            Tamper::Raw(raw)
        }));
        a.send(H1, vec![]).unwrap();
        let e = b.recv(H1, usize::MAX).unwrap_err();
        assert!(matches!(
            e,
            ChannelError::FrameTooLarge {
                len: 4_294_967_295,
                ..
            }
        ));
    }

    #[test]
    fn truncated_and_closed() {
        let (a, mut b) = duplex();
        let mut a = a.with_tamper(Box::new(|_, h, p| {
            let mut raw = crate::frame::encode_prefix(h, p.len()).unwrap().to_vec();
            raw.extend_from_slice(&p[..p.len() / 2]);
            Tamper::RawThenClose(raw)
        }));
        a.send(H1, vec![9; 10]).unwrap();
        let e = b.recv(H1, 100).unwrap_err();
        assert!(matches!(
            e,
            ChannelError::Truncated {
                received: 13,
                expected: 18
            }
        ));
        let (a, mut b) = duplex();
        drop(a);
        assert!(matches!(
            b.recv(H1, 1).unwrap_err(),
            ChannelError::Closed { .. }
        ));
    }

    #[test]
    fn an_abort_ends_any_receive_with_its_category() {
        let (mut a, mut b) = duplex();
        a.abort(AbortCategory::Input).unwrap();
        // b expected a message of some protocol: it learns that a gave up, and why.
        let e = b.recv(H1, 100).unwrap_err();
        assert!(matches!(
            e,
            ChannelError::PeerAborted {
                category: AbortCategory::Input
            }
        ));
        assert_eq!(b.peer_aborted(), Some(AbortCategory::Input));
        assert_eq!(a.peer_aborted(), None);
        // Unknown codes and an oversized abort frame are bounded and typed.
        let (mut a, mut b) = duplex();
        a.send(ABORT, vec![200]).unwrap();
        assert!(matches!(
            b.recv(H1, 100).unwrap_err(),
            ChannelError::PeerAborted {
                category: AbortCategory::Unspecified
            }
        ));
        let (mut a, mut b) = duplex();
        a.send(ABORT, vec![1; 1000]).unwrap();
        assert!(matches!(
            b.recv(H1, usize::MAX).unwrap_err(),
            ChannelError::FrameTooLarge { max: 16, .. }
        ));
        for code in 0..=5u8 {
            assert_eq!(AbortCategory::from_code(code).code(), code);
        }
    }
}
