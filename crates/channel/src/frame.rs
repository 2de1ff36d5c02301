//! The frame header and its codec.

use std::io::Read;
use std::time::{Duration, Instant};

use crate::ChannelError;

/// Bytes before each payload: length (4), protocol (2), version (1), step (1).
pub const FRAME_HEADER_LEN: usize = 8;

/// Absolute upper bound on one payload, whatever a step allows (64 MiB).
pub const MAX_FRAME_LEN: usize = 64 << 20;

/// The slowest transfer a frame deadline tolerates on top of its base time, in bytes per
/// second: a frame of `len` payload bytes must arrive within `timeout + len / MIN_FRAME_RATE`
/// of the moment its first byte was awaited (64 KiB/s, so a 64 MiB frame gets 17 more minutes,
/// a 2 MiB frame 32 more seconds).
pub const MIN_FRAME_RATE: u64 = 64 << 10;

/// A byte source for the frame decoder whose blocking reads can be bounded by a deadline.
///
/// The decoder calls [`FrameRead::set_deadline`] before every `read` of a frame, so that no
/// read, and no wait inside one (a TLS record arriving byte by byte), lasts past the frame's
/// deadline. A source that cannot block (an in-memory pipe) may ignore it.
pub trait FrameRead: Read + Send {
    /// No blocking read that follows may wait past `deadline`; one that would fails with
    /// `ErrorKind::TimedOut` (or `WouldBlock`, as a socket timeout does).
    fn set_deadline(&mut self, deadline: Instant) -> std::io::Result<()>;
}

/// Bytes already in memory never block, so the deadline has nothing to bound (fuzz targets and
/// tests decode frames from a buffer).
impl<T: AsRef<[u8]> + Send> FrameRead for std::io::Cursor<T> {
    fn set_deadline(&mut self, _deadline: Instant) -> std::io::Result<()> {
        Ok(())
    }
}

/// The deadline of the frame being read.
#[derive(Clone, Copy)]
struct Clock {
    start: Instant,
    limit: Duration,
}

impl Clock {
    fn deadline(&self) -> Instant {
        self.start + self.limit
    }

    /// The error for a frame that was not complete in time, `received` of `expected` bytes in.
    fn expired(&self, received: u64, expected: u64) -> ChannelError {
        let seconds = self.limit.as_secs();
        if received == 0 {
            ChannelError::Timeout { seconds }
        } else {
            ChannelError::SlowFrame {
                seconds,
                received,
                expected,
            }
        }
    }
}

/// Identifies a message: which protocol, which version of it, which step.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Header {
    /// Protocol identifier (e.g. ECDH-PSI = 0x0001).
    pub protocol: u16,
    /// Protocol version.
    pub version: u8,
    /// Step within the protocol.
    pub step: u8,
}

impl Header {
    /// A header.
    pub const fn new(protocol: u16, version: u8, step: u8) -> Self {
        Self {
            protocol,
            version,
            step,
        }
    }
}

impl core::fmt::Display for Header {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(
            f,
            "protocol {:#06x} v{} step {:#04x}",
            self.protocol, self.version, self.step
        )
    }
}

/// Encodes the 8-byte prefix of a frame.
pub(crate) fn encode_prefix(
    header: Header,
    len: usize,
) -> Result<[u8; FRAME_HEADER_LEN], ChannelError> {
    if len > MAX_FRAME_LEN {
        return Err(ChannelError::SendTooLarge {
            len,
            max: MAX_FRAME_LEN,
        });
    }
    let len = u32::try_from(len).map_err(|_| ChannelError::SendTooLarge {
        len,
        max: MAX_FRAME_LEN,
    })?;
    let mut out = [0u8; FRAME_HEADER_LEN];
    out[..4].copy_from_slice(&len.to_le_bytes());
    out[4..6].copy_from_slice(&header.protocol.to_le_bytes());
    out[6] = header.version;
    out[7] = header.step;
    Ok(out)
}

/// Reads one frame, checking header and length before allocating the payload.
///
/// With a `timeout`, the whole frame must arrive within `timeout` (plus its length at
/// [`MIN_FRAME_RATE`]) from now, however the peer spreads its bytes: a deadline per frame, not
/// per `read`, so a peer dripping one byte just inside each read timeout is cut off.
pub(crate) fn read_frame<R: FrameRead + ?Sized>(
    r: &mut R,
    expect: Header,
    max_len: usize,
    timeout: Option<Duration>,
) -> Result<Vec<u8>, ChannelError> {
    let mut clock = timeout.map(|limit| Clock {
        start: Instant::now(),
        limit,
    });
    let mut prefix = [0u8; FRAME_HEADER_LEN];
    let header_len = FRAME_HEADER_LEN as u64;
    let got = read_full(r, &mut prefix, clock.as_ref(), 0, header_len)?;
    if got == 0 {
        return Err(ChannelError::Closed { expected: expect });
    }
    if got < FRAME_HEADER_LEN {
        return Err(ChannelError::Truncated {
            received: got as u64,
            expected: FRAME_HEADER_LEN as u64,
        });
    }
    let len = u32::from_le_bytes([prefix[0], prefix[1], prefix[2], prefix[3]]);
    let received = Header {
        protocol: u16::from_le_bytes([prefix[4], prefix[5]]),
        version: prefix[6],
        step: prefix[7],
    };
    if received == crate::ABORT && expect != crate::ABORT {
        // The peer gave up: read its one-byte category (bounded) and say so, whatever this
        // side expected.
        if len as usize > crate::abort::MAX_ABORT_LEN {
            return Err(ChannelError::FrameTooLarge {
                header: received,
                len: u64::from(len),
                max: crate::abort::MAX_ABORT_LEN as u64,
            });
        }
        let mut payload = [0u8; crate::abort::MAX_ABORT_LEN];
        let len = len as usize;
        let got = read_full(
            r,
            &mut payload[..len],
            clock.as_ref(),
            header_len,
            header_len + len as u64,
        )?;
        let category = if len > 0 && got == len {
            crate::AbortCategory::from_code(payload[0])
        } else {
            crate::AbortCategory::Unspecified
        };
        return Err(ChannelError::PeerAborted { category });
    }
    if received != expect {
        return Err(ChannelError::UnexpectedFrame {
            expected: expect,
            received,
        });
    }
    let max = max_len.min(MAX_FRAME_LEN);
    if u64::from(len) > max as u64 {
        return Err(ChannelError::FrameTooLarge {
            header: received,
            len: u64::from(len),
            max: max as u64,
        });
    }
    if let Some(c) = &mut clock {
        c.limit += Duration::from_secs(u64::from(len) / MIN_FRAME_RATE);
    }
    // `len <= max <= MAX_FRAME_LEN` fits in usize on every supported target.
    let len = len as usize;
    let mut payload = vec![0u8; len];
    let expected = header_len + len as u64;
    let got = read_full(r, &mut payload, clock.as_ref(), header_len, expected)?;
    if got < len {
        return Err(ChannelError::Truncated {
            received: (FRAME_HEADER_LEN + got) as u64,
            expected: (FRAME_HEADER_LEN + len) as u64,
        });
    }
    Ok(payload)
}

/// Fills `buf` unless EOF comes first; returns the number of bytes read. `before` bytes of the
/// frame (of `expected`) came earlier; `clock` bounds the whole frame.
fn read_full<R: FrameRead + ?Sized>(
    r: &mut R,
    buf: &mut [u8],
    clock: Option<&Clock>,
    before: u64,
    expected: u64,
) -> Result<usize, ChannelError> {
    let mut off = 0;
    while off < buf.len() {
        if let Some(c) = clock {
            let deadline = c.deadline();
            if Instant::now() >= deadline {
                return Err(c.expired(before + off as u64, expected));
            }
            match r.set_deadline(deadline) {
                Ok(()) => {}
                Err(e) if is_timeout(&e) => return Err(c.expired(before + off as u64, expected)),
                Err(e) => return Err(ChannelError::Io(e)),
            }
        }
        match r.read(&mut buf[off..]) {
            Ok(0) => break,
            Ok(n) => off += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) if is_timeout(&e) => {
                return Err(match clock {
                    Some(c) => c.expired(before + off as u64, expected),
                    None => ChannelError::Timeout { seconds: 0 },
                });
            }
            Err(e) => return Err(ChannelError::Io(e)),
        }
    }
    Ok(off)
}

fn is_timeout(e: &std::io::Error) -> bool {
    matches!(
        e.kind(),
        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
    )
}
