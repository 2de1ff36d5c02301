//! Loopback throughput of a [`TlsChannel`](crate::TlsChannel), for `examples/throughput.rs`.

use std::time::Instant;

use unseen_channel::{Channel, ChannelError, Header, MAX_FRAME_LEN};

use crate::{Options, TlsChannel, TransportError, loopback};

const BENCH: Header = Header::new(0xfff0, 1, 1);

/// Result of [`bench_loopback`].
#[derive(Clone, Debug)]
pub struct BenchReport {
    /// Payload bytes received (equal to the bytes requested).
    pub bytes: u64,
    /// Seconds from the first send to the last receive.
    pub seconds: f64,
    /// Payload throughput in 10^9 bytes per second.
    pub gbytes_per_s: f64,
    /// Payload bytes per frame.
    pub frame_bytes: usize,
    /// The negotiated cipher suite.
    pub cipher_suite: String,
}

/// Sends `total_bytes` of payload in frames of `frame_bytes` over a fresh mutual-TLS connection
/// on 127.0.0.1 ([`loopback::pair`]: two new identities pinned to each other) and times it from the first send to
/// the last receive. The receiver checks every frame's length and sequence number.
pub fn bench_loopback(total_bytes: u64, frame_bytes: usize) -> Result<BenchReport, TransportError> {
    if frame_bytes == 0 || frame_bytes > MAX_FRAME_LEN {
        return Err(TransportError::Channel(ChannelError::SendTooLarge {
            len: frame_bytes,
            max: MAX_FRAME_LEN,
        }));
    }
    let (client, server) = loopback::pair(Options::default())?;
    let cipher_suite = client.cipher_suite().to_owned();
    let frames = total_bytes.div_ceil(frame_bytes as u64);

    let (start, received) = std::thread::scope(|s| {
        let receiver = std::thread::Builder::new()
            .name("unseen-bench-receiver".into())
            .spawn_scoped(s, move || {
                receive_all(server, total_bytes, frame_bytes, frames)
            })?;
        // `send_all` consumes the client end, so a failed send closes it and the receiver ends.
        let sent = send_all(client, total_bytes, frame_bytes, frames);
        let received = receiver
            .join()
            .map_err(|_| TransportError::Internal("bench receiver panicked".into()));
        Ok::<_, TransportError>((sent?, received??))
    })?;
    let (bytes, end) = received;
    let seconds = end.saturating_duration_since(start).as_secs_f64();
    Ok(BenchReport {
        bytes,
        seconds,
        gbytes_per_s: if seconds > 0.0 {
            bytes as f64 / seconds / 1e9
        } else {
            0.0
        },
        frame_bytes,
        cipher_suite,
    })
}

/// Sends the frames; when the first send began.
fn send_all(
    mut ch: TlsChannel,
    total_bytes: u64,
    frame_bytes: usize,
    frames: u64,
) -> Result<Instant, TransportError> {
    let start = Instant::now();
    for i in 0..frames {
        // `frame_len <= frame_bytes`, a usize.
        let len = usize::try_from(frame_len(total_bytes, frame_bytes, i)).unwrap_or(frame_bytes);
        let mut payload = vec![0u8; len];
        let tag = seq(i);
        let n = tag.len().min(len);
        payload[..n].copy_from_slice(&tag[..n]);
        ch.send(BENCH, payload)?;
    }
    ch.flush()?;
    Ok(start)
}

/// Receives and checks the frames; the payload bytes and when the last one arrived.
fn receive_all(
    mut ch: TlsChannel,
    total_bytes: u64,
    frame_bytes: usize,
    frames: u64,
) -> Result<(u64, Instant), TransportError> {
    let mut received = 0u64;
    let mut last = Instant::now();
    for i in 0..frames {
        let payload = ch.recv(BENCH, frame_bytes)?;
        let expected = frame_len(total_bytes, frame_bytes, i);
        let n = payload.len().min(8);
        if payload.len() as u64 != expected || payload[..n] != seq(i)[..n] {
            return Err(TransportError::Internal(format!(
                "bench frame {i} arrived corrupted ({} bytes, expected {expected})",
                payload.len()
            )));
        }
        received += expected;
        last = Instant::now();
    }
    Ok((received, last))
}

/// Payload length of frame `i`: full frames, then the remainder.
fn frame_len(total: u64, frame_bytes: usize, i: u64) -> u64 {
    let f = frame_bytes as u64;
    total.saturating_sub(i * f).min(f)
}

fn seq(i: u64) -> [u8; 8] {
    i.to_le_bytes()
}
