//! `unseen bench psi`: both roles over loopback TCP in one process; one JSON line.

use std::collections::HashSet;
use std::net::TcpListener;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::Context;
use unseen_channel::tcp::{self, TcpOptions};

use crate::args::{BenchPirArgs, BenchPsiArgs, BenchTransportArgs, Curve};
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

/// Resident set size of this process now (`VmRSS`), in bytes.
fn rss_bytes() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<u64>().ok())
        })
        .map_or(0, |kb| kb * 1024)
}

pub(crate) fn pir(a: &BenchPirArgs) -> anyhow::Result<ExitCode> {
    use rand_chacha::ChaCha20Rng;
    use rand_core::{Rng, SeedableRng};
    use unseen_crypto::aead::AeadAlg;
    use unseen_crypto::oprf::{OprfSuite, ServerKey};
    use unseen_pir::keyword::{
        ClientConfig, HintSent, KeywordServer, LookupMode, ServerLimits, TableConfig, lookup,
        receive_setup, run_server,
    };

    fn go<S: OprfSuite>(a: &BenchPirArgs, aead: AeadAlg, curve: &str) -> anyhow::Result<ExitCode> {
        anyhow::ensure!(
            a.rows >= 1 && a.record_bytes >= 1,
            "--rows and --record-bytes must be positive"
        );
        let mut rng = ChaCha20Rng::from_seed([42; 32]);
        let keys = synth::id_cards(11, a.rows);
        let mut records = vec![0u8; a.rows * a.record_bytes];
        rng.fill_bytes(&mut records);
        let pairs: Vec<(&[u8], &[u8])> = keys
            .iter()
            .zip(records.chunks_exact(a.record_bytes))
            .map(|(k, r)| (k.as_bytes(), r))
            .collect();
        let rss_before = rss_bytes();
        let t = Instant::now();
        let server = KeywordServer::build(
            ServerKey::<S>::generate(&mut rng),
            &pairs,
            TableConfig::new(aead, a.record_bytes),
            &mut rng,
        )
        .context("building the PIR database")?;
        let setup_s = t.elapsed().as_secs_f64();
        let server_rss = rss_bytes();

        // Half the looked-up keys present, half absent.
        let mut look: Vec<String> = (0..a.keys.div_ceil(2))
            .map(|i| keys[(i * 7919) % a.rows].clone())
            .collect();
        look.extend(synth::id_cards(12, a.keys / 2));
        let expected: Vec<Vec<Vec<u8>>> = {
            let index: std::collections::HashMap<&str, usize> = keys
                .iter()
                .enumerate()
                .map(|(i, k)| (k.as_str(), i))
                .collect();
            look.iter()
                .map(|k| {
                    index
                        .get(k.as_str())
                        .map(|&i| {
                            vec![records[i * a.record_bytes..(i + 1) * a.record_bytes].to_vec()]
                        })
                        .unwrap_or_default()
                })
                .collect()
        };
        let refs: Vec<&[u8]> = look.iter().map(String::as_bytes).collect();

        let server_id = unseen_transport::Identity::generate("pir-server")?;
        let client_id = unseen_transport::Identity::generate("pir-client")?;
        let (sfp, cfp) = (server_id.fingerprint(), client_id.fingerprint());
        let opts = unseen_transport::Options::default();
        let acceptor = unseen_transport::Acceptor::new(&server_id, opts)?;
        let listener = TcpListener::bind("127.0.0.1:0").context("binding a loopback port")?;
        let addr = listener.local_addr()?;
        // Two sessions on two connections: the first downloads the hint (the one-time offline
        // cost), the second is a query as a client holding the hint makes it, end to end:
        // connect, TLS handshake, hello, setup, the batch.
        let (served, client) = std::thread::scope(|s| {
            let server = &server;
            let acceptor = &acceptor;
            let listener = &listener;
            let srv = s.spawn(move || -> anyhow::Result<()> {
                for _ in 0..2 {
                    let (tcp, _) = listener.accept()?;
                    let mut ch = acceptor.accept(tcp, &|fp| *fp == cfp)?;
                    run_server(&mut ch, server, &ServerLimits::default())?;
                }
                Ok(())
            });
            let cli = (|| -> anyhow::Result<_> {
                let mut crng = ChaCha20Rng::from_seed([43; 32]);
                let t = Instant::now();
                let mut ch = unseen_transport::connect(addr, &client_id, &sfp, &opts)?;
                let session = receive_setup::<S, _>(
                    &mut ch,
                    ClientConfig::new(aead),
                    LookupMode::Private,
                    None,
                )?;
                let offline_s = t.elapsed().as_secs_f64();
                let offline = unseen_channel::Channel::stats(&ch);
                let first = lookup(&mut ch, &session, &refs, &mut crng)?;
                let cache = session.hint_cache();
                drop((ch, session));
                let t = Instant::now();
                let mut ch = unseen_transport::connect(addr, &client_id, &sfp, &opts)?;
                let session = receive_setup::<S, _>(
                    &mut ch,
                    ClientConfig::new(aead),
                    LookupMode::Private,
                    cache,
                )?;
                anyhow::ensure!(
                    HintSent::from(session.setup().hint) == HintSent::None,
                    "the second session downloaded a hint again"
                );
                let t_lookup = Instant::now();
                let got = lookup(&mut ch, &session, &refs, &mut crng)?;
                let lookup_s = t_lookup.elapsed().as_secs_f64();
                let query_s = t.elapsed().as_secs_f64();
                let end = unseen_channel::Channel::stats(&ch);
                anyhow::ensure!(first == got, "the two sessions disagree");
                Ok((got, offline_s, query_s, lookup_s, offline, end))
            })();
            (srv.join(), cli)
        });
        let Ok(served) = served else {
            anyhow::bail!("the server thread panicked (please report)");
        };
        served.context("PIR server")?;
        let (got, offline_s, query_s, lookup_s, offline, end) = client.context("PIR client")?;
        let correct = got == expected;
        let p = server.params();
        let line = serde_json::json!({
            "bench": "pir",
            "protocol": "keyword-pir (OPRF + buckets as SimplePIR columns)",
            "curve": curve,
            "rows": a.rows,
            "keys": a.keys,
            "record_bytes": a.record_bytes,
            "setup_s": setup_s,
            "offline_s": offline_s,
            "query_s": query_s,
            "query_note": "a new session with the hint cached: connect, TLS handshake, hello, setup, the batch",
            "lookup_s": lookup_s,
            "online_bytes_sent": end.bytes_sent,
            "online_bytes_received": end.bytes_received,
            "offline_bytes": offline.bytes_received + offline.bytes_sent,
            "offline_note": "first session: setup and the whole hint, once per table version",
            "buckets": server.info().buckets,
            "bucket_capacity": server.info().bucket_capacity,
            "stash": server.info().stash,
            "hint_bytes": p.hint_bytes(),
            "server_rss_bytes": server_rss,
            "server_rss_note": "process RSS after the build, both roles in one process; input data included",
            "rss_before_build_bytes": rss_before,
            "found": got.iter().filter(|r| !r.is_empty()).count(),
            "correct": correct,
            "transport": "tls1.3-mutual-pinned loopback",
            "host": host(),
        });
        println!("{line}");
        Ok(if correct {
            ExitCode::SUCCESS
        } else {
            ExitCode::from(1)
        })
    }
    match a.curve {
        Curve::Ristretto255 => {
            go::<unseen_crypto::Ristretto255>(a, AeadAlg::Aes256Gcm, "ristretto255")
        }
        Curve::Sm2 => go::<unseen_crypto::Sm2>(a, AeadAlg::Sm4Gcm, "sm2"),
    }
}
