//! Loopback throughput of the mutual-TLS channel, printed as JSON lines.
//!
//! ```text
//! cargo run --release -p unseen-transport --example throughput [TOTAL_MIB] [FRAME_KIB ...]
//! ```
//!
//! Defaults: 2048 MiB, frames of 64 KiB and 1024 KiB.

use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let parse = |s: &String| s.parse::<u64>().ok();
    let total_mib = args.first().and_then(parse).unwrap_or(2048);
    let mut frames_kib: Vec<u64> = args.iter().skip(1).filter_map(parse).collect();
    if frames_kib.is_empty() {
        frames_kib = vec![64, 1024];
    }
    for kib in frames_kib {
        let Ok(frame_bytes) = usize::try_from(kib << 10) else {
            eprintln!("frame size {kib} KiB is too large");
            return ExitCode::FAILURE;
        };
        match unseen_transport::bench_loopback(total_mib << 20, frame_bytes) {
            Ok(r) => println!(
                "{{\"bytes\":{},\"seconds\":{:.3},\"gbytes_per_s\":{:.3},\"frame_bytes\":{},\
                 \"cipher_suite\":\"{}\"}}",
                r.bytes, r.seconds, r.gbytes_per_s, r.frame_bytes, r.cipher_suite
            ),
            Err(e) => {
                eprintln!("bench failed: {e}");
                return ExitCode::FAILURE;
            }
        }
    }
    ExitCode::SUCCESS
}
