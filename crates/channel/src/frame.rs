//! The frame header and its codec.

use std::io::Read;

use crate::ChannelError;

/// Bytes before each payload: length (4), protocol (2), version (1), step (1).
pub const FRAME_HEADER_LEN: usize = 8;

/// Absolute upper bound on one payload, whatever a step allows (64 MiB).
pub const MAX_FRAME_LEN: usize = 64 << 20;

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
pub(crate) fn read_frame<R: Read>(
    r: &mut R,
    expect: Header,
    max_len: usize,
    timeout_secs: Option<u64>,
) -> Result<Vec<u8>, ChannelError> {
    let mut prefix = [0u8; FRAME_HEADER_LEN];
    let got = read_full(r, &mut prefix, timeout_secs)?;
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
        let got = read_full(r, &mut payload[..len], timeout_secs)?;
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
    // `len <= max <= MAX_FRAME_LEN` fits in usize on every supported target.
    let len = len as usize;
    let mut payload = vec![0u8; len];
    let got = read_full(r, &mut payload, timeout_secs)?;
    if got < len {
        return Err(ChannelError::Truncated {
            received: (FRAME_HEADER_LEN + got) as u64,
            expected: (FRAME_HEADER_LEN + len) as u64,
        });
    }
    Ok(payload)
}

/// Fills `buf` unless EOF comes first; returns the number of bytes read.
fn read_full<R: Read>(
    r: &mut R,
    buf: &mut [u8],
    timeout_secs: Option<u64>,
) -> Result<usize, ChannelError> {
    let mut off = 0;
    while off < buf.len() {
        match r.read(&mut buf[off..]) {
            Ok(0) => break,
            Ok(n) => off += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                return Err(ChannelError::Timeout {
                    seconds: timeout_secs.unwrap_or(0),
                });
            }
            Err(e) => return Err(ChannelError::Io(e)),
        }
    }
    Ok(off)
}
