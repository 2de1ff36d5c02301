//! Loopback throughput of the mutual-TLS channel, printed as JSON lines, each beside the plain
//! TCP channel of [`unseen_transport::tcp`] (same framing and writer thread, no TLS) measured in the same
//! run.
//!
//! ```text
//! cargo run --release -p unseen-transport --example throughput [TOTAL_MIB] [FRAME_KIB ...]
//! ```
//!
//! Defaults: 2048 MiB, frames of 64 KiB and 1024 KiB.

use std::net::TcpListener;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use unseen_channel::{Channel, ChannelError, Header};
use unseen_transport::tcp;

const H: Header = Header::new(0xfff0, 1, 1);

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let parse = |s: &String| s.parse::<u64>().ok();
    let total_mib = args.first().and_then(parse).unwrap_or(2048);
    let mut frames_kib: Vec<u64> = args.iter().skip(1).filter_map(parse).collect();
    if frames_kib.is_empty() {
        frames_kib = vec![64, 1024];
    }
    let total = total_mib << 20;
    for kib in frames_kib {
        let Ok(frame_bytes) = usize::try_from(kib << 10) else {
            eprintln!("frame size {kib} KiB is too large");
            return ExitCode::FAILURE;
        };
        match unseen_transport::bench_loopback(total, frame_bytes) {
            Ok(r) => println!(
                "{{\"transport\":\"tls\",\"bytes\":{},\"seconds\":{:.3},\"gbytes_per_s\":{:.3},\
                 \"frame_bytes\":{},\"cipher_suite\":\"{}\"}}",
                r.bytes, r.seconds, r.gbytes_per_s, r.frame_bytes, r.cipher_suite
            ),
            Err(e) => {
                eprintln!("bench failed: {e}");
                return ExitCode::FAILURE;
            }
        }
        match plain_tcp(total, frame_bytes) {
            Ok(seconds) => println!(
                "{{\"transport\":\"plain-tcp\",\"bytes\":{total},\"seconds\":{seconds:.3},\
                 \"gbytes_per_s\":{:.3},\"frame_bytes\":{frame_bytes}}}",
                total as f64 / seconds / 1e9
            ),
            Err(e) => {
                eprintln!("plain tcp bench failed: {e}");
                return ExitCode::FAILURE;
            }
        }
    }
    ExitCode::SUCCESS
}

/// The same transfer over `unseen_transport::tcp`, timed the same way (first send to last receive).
fn plain_tcp(total: u64, frame_bytes: usize) -> Result<f64, ChannelError> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let addr = listener.local_addr()?;
    let frames = total.div_ceil(frame_bytes as u64);
    let opts = tcp::TcpOptions::default();
    let receiver = std::thread::spawn(move || -> Result<Instant, ChannelError> {
        let mut ch = tcp::accept(&listener, opts, Duration::from_secs(30))?;
        for _ in 0..frames {
            ch.recv(H, frame_bytes)?;
        }
        Ok(Instant::now())
    });
    let mut ch = tcp::connect(addr, opts)?;
    let start = Instant::now();
    let mut left = total;
    while left > 0 {
        let len = left.min(frame_bytes as u64);
        left -= len;
        ch.send(H, vec![0u8; usize::try_from(len).unwrap_or(frame_bytes)])?;
    }
    ch.flush()?;
    let end = receiver
        .join()
        .map_err(|_| ChannelError::LocalClosed("receiver panicked".into()))??;
    Ok(end.saturating_duration_since(start).as_secs_f64())
}
