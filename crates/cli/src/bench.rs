//! `unseen bench psi`: both roles over loopback TCP in one process; one JSON line.

use std::collections::HashSet;
use std::net::TcpListener;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::Context;
use unseen_channel::tcp::{self, TcpOptions};

use crate::args::{BenchPsiArgs, BenchTransportArgs, Curve};
use crate::psi::{Side, role, run_role};
use crate::synth;

/// CPU model and the SIMD features that change elliptic-curve speed.
pub(crate) fn host() -> serde_json::Value {
    let model = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|m| m.trim().to_string())
        })
        .unwrap_or_else(|| "unknown".into());
    #[cfg(target_arch = "x86_64")]
    let (avx2, ifma) = (
        std::is_x86_feature_detected!("avx2"),
        std::is_x86_feature_detected!("avx512ifma"),
    );
    #[cfg(not(target_arch = "x86_64"))]
    let (avx2, ifma) = (false, false);
    serde_json::json!({
        "cpu": model,
        "cores": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
        "avx2": avx2,
        "avx512ifma": ifma,
        "ristretto255_backend": unseen_crypto::ristretto::backend_name(),
    })
}

pub(crate) fn psi(a: &BenchPsiArgs) -> anyhow::Result<ExitCode> {
    let n = a.items;
    let (x, y) = synth::overlapping(7, n, n, n / 2);
    let listener = TcpListener::bind("127.0.0.1:0").context("binding a loopback port")?;
    let addr = listener.local_addr()?;
    let opts = TcpOptions::default();
    let (lrole, lrev) = role(a.mode, Side::Listener);
    let (drole, drev) = role(a.mode, Side::Dialer);
    let curve = a.curve;
    let start = Instant::now();
    let (rl, rd) = std::thread::scope(|s| {
        let y = &y;
        let x = &x;
        let listener = &listener;
        let tl = s.spawn(move || -> anyhow::Result<_> {
            let mut ch = tcp::accept(listener, opts, std::time::Duration::from_secs(60))?;
            run_role(
                &mut ch,
                curve,
                lrole,
                y,
                unseen_psi::Params::new(lrev),
                &|_| {},
            )
        });
        let td = s.spawn(move || -> anyhow::Result<_> {
            let mut ch = tcp::connect(addr, opts)?;
            run_role(
                &mut ch,
                curve,
                drole,
                x,
                unseen_psi::Params::new(drev),
                &|_| {},
            )
        });
        (tl.join(), td.join())
    });
    let wall = start.elapsed().as_secs_f64();
    let (Ok(rl), Ok(rd)) = (rl, rd) else {
        anyhow::bail!("a protocol thread panicked (please report)");
    };
    let (rl, rd) = (rl?, rd?);

    let yset: HashSet<&String> = y.iter().collect();
    let mut truth: Vec<&String> = x.iter().filter(|k| yset.contains(k)).collect();
    truth.sort();
    let rows = |items: &[String], o: &unseen_psi::PsiOutput| -> Option<Vec<String>> {
        o.intersection
            .as_ref()
            .map(|v| v.iter().map(|&i| items[i].clone()).collect())
    };
    let check = |r: Option<Vec<String>>| r.is_none_or(|r| r.iter().collect::<Vec<_>>() == truth);
    let count_ok = |c: Option<u64>| c.is_none_or(|c| c == truth.len() as u64);
    let correct = check(rows(&x, &rd))
        && check(rows(&y, &rl))
        && count_ok(rd.cardinality)
        && count_ok(rl.cardinality);
    let intersection = rd.cardinality.or(rl.cardinality).unwrap_or_default();
    let line = serde_json::json!({
        "bench": "psi",
        "protocol": "ecdh-psi",
        "items": n,
        "curve": match curve { Curve::Ristretto255 => "ristretto255", Curve::Sm2 => "sm2" },
        "mode": format!("{:?}", a.mode).to_lowercase(),
        "wall_s": wall,
        "bytes_sent": rd.stats.bytes_sent,
        "bytes_received": rd.stats.bytes_received,
        "rounds": rd.stats.rounds,
        "intersection": intersection,
        "correct": correct,
        "host": host(),
    });
    println!("{line}");
    Ok(if correct {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

pub(crate) fn transport(a: &BenchTransportArgs) -> anyhow::Result<ExitCode> {
    let total = a.gib.max(1) << 30;
    let frame = a.frame_kib.clamp(1, 16 * 1024) << 10;
    let r = unseen_transport::bench_loopback(total, frame).context("loopback mutual TLS")?;
    let line = serde_json::json!({
        "bench": "transport",
        "transport": "tls1.3-mutual-pinned",
        "cipher_suite": r.cipher_suite,
        "bytes": r.bytes,
        "frame_bytes": r.frame_bytes,
        "seconds": r.seconds,
        "gbytes_per_s": r.gbytes_per_s,
        "host": host(),
    });
    println!("{line}");
    Ok(ExitCode::SUCCESS)
}
