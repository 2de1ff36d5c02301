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
        "curve": unseen_node::control::Curve::from(curve).as_str(),
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
        ClientConfig, ClientOutput, HintCache, HintSent, KeywordServer, LookupMode, ServerLimits,
        TableConfig, run_client, run_server,
    };

    /// The plaintext lookup of `look` in `(keys, records)`.
    fn oracle(pairs: &[(&[u8], &[u8])], look: &[String]) -> Vec<Vec<Vec<u8>>> {
        let index: std::collections::HashMap<&[u8], &[u8]> = pairs.iter().copied().collect();
        look.iter()
            .map(|k| {
                index
                    .get(k.as_bytes())
                    .map(|r| vec![r.to_vec()])
                    .unwrap_or_default()
            })
            .collect()
    }

    /// One session on a new loopback mutual-TLS connection; the client's output and its wall
    /// time from connecting to the end of the session.
    fn session<S: OprfSuite>(
        server: &KeywordServer<S>,
        aead: AeadAlg,
        mode: LookupMode,
        cache: Option<HintCache>,
        refs: &[&[u8]],
        seed: u8,
    ) -> anyhow::Result<(ClientOutput, f64)> {
        let server_id = unseen_transport::Identity::generate("pir-server")?;
        let client_id = unseen_transport::Identity::generate("pir-client")?;
        let (sfp, cfp) = (server_id.fingerprint(), client_id.fingerprint());
        let opts = unseen_transport::Options::default();
        let acceptor = unseen_transport::Acceptor::new(&server_id, opts)?;
        let listener = TcpListener::bind("127.0.0.1:0").context("binding a loopback port")?;
        let addr = listener.local_addr()?;
        let (served, client) = std::thread::scope(|s| {
            let srv = s.spawn(|| -> anyhow::Result<()> {
                let (tcp, _) = listener.accept()?;
                let mut ch = acceptor.accept(tcp, &|fp| *fp == cfp)?;
                run_server(&mut ch, server, &ServerLimits::default())?;
                Ok(())
            });
            let cli = (|| -> anyhow::Result<_> {
                let mut crng = ChaCha20Rng::from_seed([seed; 32]);
                let t = Instant::now();
                let mut ch = unseen_transport::connect(addr, &client_id, &sfp, &opts)?;
                let out = run_client::<S, _, _>(
                    &mut ch,
                    ClientConfig::new(aead),
                    mode,
                    cache,
                    refs,
                    &mut crng,
                )?;
                Ok((out, t.elapsed().as_secs_f64()))
            })();
            (srv.join(), cli)
        });
        let Ok(served) = served else {
            anyhow::bail!("the server thread panicked (please report)");
        };
        served.context("PIR server")?;
        client.context("PIR client")
    }

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
        let mut server = KeywordServer::build(
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
        let expected = oracle(&pairs, &look);
        let refs: Vec<&[u8]> = look.iter().map(String::as_bytes).collect();

        // The first session downloads the hint (once per table version); the second is a query
        // as a client holding the hint makes it, end to end: connect, TLS handshake, hello,
        // setup, the batch.
        let (first, first_s) = session(&server, aead, LookupMode::Private, None, &refs, 43)?;
        let (second, query_s) = session(
            &server,
            aead,
            LookupMode::Private,
            first.cache.clone(),
            &refs,
            44,
        )?;
        anyhow::ensure!(
            second.hint == HintSent::None,
            "the second session downloaded a hint again"
        );
        let mut correct = first.records == expected && second.records == expected;
        let info = server.info();
        let mut line = serde_json::json!({
            "bench": "pir",
            "protocol": "keyword-pir v2 (OPRF + buckets as SimplePIR columns)",
            "curve": curve,
            "rows": a.rows,
            "keys": a.keys,
            "record_bytes": a.record_bytes,
            "setup_s": setup_s,
            "query_s": query_s,
            "query_note": "a new session with the hint cached: connect, TLS handshake, hello, setup, the batch",
            "online_bytes_sent": second.stats.bytes_sent,
            "online_bytes_received": second.stats.bytes_received,
            "first_session_s": first_s,
            "offline_bytes": first.stats.bytes_received + first.stats.bytes_sent
                - second.stats.bytes_received - second.stats.bytes_sent,
            "offline_note": "the hint, downloaded once per table version (first session minus a cached one)",
            "hint_bytes": info.hint_bytes,
            "buckets": info.buckets,
            "bucket_capacity": info.bucket_capacity,
            "stash": info.stash,
            "pir_kernel": unseen_pir::kernel_name(),
            "server_rss_bytes": server_rss,
            "server_rss_note": "process RSS after the build, both roles in one process; input data included",
            "rss_before_build_bytes": rss_before,
            "found": second.records.iter().filter(|r| !r.is_empty()).count(),
            "transport": "tls1.3-mutual-pinned loopback",
            "host": host(),
        });
        if let Some(k) = a.reveal_bucket_k_anonymity {
            let (out, secs) = session(
                &server,
                aead,
                LookupMode::RevealBucket { min_keys: k },
                None,
                &refs,
                45,
            )?;
            correct &= out.records == expected;
            line["reveal_bucket"] = serde_json::json!({
                "k": k,
                "query_s": secs,
                "bytes_sent": out.stats.bytes_sent,
                "bytes_received": out.stats.bytes_received,
                "leak": "the server learns each key's group of buckets (k-anonymity among the table's keys)",
            });
        }
        if a.update_rows > 0 {
            // A third of the changes delete rows, a third give rows new records, a third add
            // new keys; the rest of the table is unchanged.
            let n = a.update_rows.min(a.rows);
            let third = n / 3;
            let new_keys = synth::id_cards(13, n - 2 * third);
            let mut new_records = vec![0u8; n * a.record_bytes];
            rng.fill_bytes(&mut new_records);
            let mut changed: Vec<(&[u8], &[u8])> = pairs[third..].to_vec();
            for (p, r) in changed
                .iter_mut()
                .take(third)
                .zip(new_records.chunks_exact(a.record_bytes))
            {
                p.1 = r;
            }
            changed.extend(
                new_keys
                    .iter()
                    .map(String::as_bytes)
                    .zip(new_records.chunks_exact(a.record_bytes).skip(third)),
            );
            let t = Instant::now();
            let report = server
                .sync(&changed, &mut rng)
                .context("updating the PIR database")?;
            let update_s = t.elapsed().as_secs_f64();
            // Look up deleted, updated, new and unchanged keys with the old hint.
            let mut look2: Vec<String> = Vec::new();
            for i in 0..a.keys.max(4) {
                let k = match i % 4 {
                    0 => keys[i % third.max(1)].clone(),
                    1 => keys[third + i % third.max(1)].clone(),
                    2 => new_keys[i % new_keys.len().max(1)].clone(),
                    _ => keys[(2 * third + i * 7919) % a.rows].clone(),
                };
                look2.push(k);
            }
            look2.truncate(a.keys.max(1));
            let refs2: Vec<&[u8]> = look2.iter().map(String::as_bytes).collect();
            let (out, secs) =
                session(&server, aead, LookupMode::Private, second.cache, &refs2, 46)?;
            correct &= out.records == oracle(&changed, &look2);
            line["update"] = serde_json::json!({
                "rows_changed": n,
                "inserted": report.inserted,
                "updated": report.updated,
                "deleted": report.deleted,
                "rebuilt": report.rebuilt,
                "update_s": update_s,
                "hint_rows_changed": report.hint_rows_changed,
                "query_after_update_s": secs,
                "bytes_received_after_update": out.stats.bytes_received,
            });
        }
        line["correct"] = serde_json::json!(correct);
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
