//! `unseen bench train`: vertical SecureBoost, guest and host in one process over loopback TCP,
//! then federated prediction of the test rows; one JSON line with AUC, KS, time and traffic.

use std::collections::HashMap;
use std::net::TcpListener;
use std::path::Path;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use unseen_crypto::he::{HePublicKey, HeSecretKey};
use unseen_fl::secureboost::{
    Binned, ColSample, GuestConfig, GuestModel, GuestSplit, HostConfig, HostModel, Node, Rule,
    TreeParams, plain, run_guest, run_guest_predict, run_host, run_host_predict,
};
use unseen_transport::tcp::{self, TcpOptions};

use crate::args::BenchTrainArgs;

/// One party's table: ids, optional labels, feature names and columns.
struct Table {
    ids: Vec<String>,
    labels: Vec<u8>,
    names: Vec<String>,
    columns: Vec<Vec<f64>>,
}

fn read_table(path: &Path, id: &str, label: Option<&str>) -> anyhow::Result<Table> {
    let mut r =
        csv::Reader::from_path(path).with_context(|| format!("opening {}", path.display()))?;
    let headers = r.headers()?.clone();
    let find = |name: &str| {
        headers
            .iter()
            .position(|h| h == name)
            .with_context(|| format!("{}: no column {name:?}", path.display()))
    };
    let id_col = find(id)?;
    let label_col = label.map(find).transpose()?;
    let feat: Vec<usize> = (0..headers.len())
        .filter(|&i| i != id_col && Some(i) != label_col)
        .collect();
    let names = feat.iter().map(|&i| headers[i].to_string()).collect();
    let mut t = Table {
        ids: Vec::new(),
        labels: Vec::new(),
        names,
        columns: vec![Vec::new(); feat.len()],
    };
    for (line, rec) in r.records().enumerate() {
        let rec = rec.with_context(|| format!("{}: row {}", path.display(), line + 2))?;
        t.ids.push(rec[id_col].to_string());
        if let Some(l) = label_col {
            t.labels.push(match rec[l].trim() {
                "0" => 0,
                "1" => 1,
                other => bail!(
                    "{}: row {}: label {other:?} is not 0 or 1",
                    path.display(),
                    line + 2
                ),
            });
        }
        for (c, &i) in t.columns.iter_mut().zip(&feat) {
            let v: f64 = rec[i].trim().parse().with_context(|| {
                format!(
                    "{}: row {}: column {:?} is not a number",
                    path.display(),
                    line + 2,
                    &headers[i]
                )
            })?;
            anyhow::ensure!(
                v.is_finite(),
                "{}: row {}: non-finite value",
                path.display(),
                line + 2
            );
            c.push(v);
        }
    }
    Ok(t)
}

/// Reorders `host` rows to the guest's id order; every id must be on both sides exactly once.
fn align(guest: &Table, host: &mut Table) -> anyhow::Result<()> {
    anyhow::ensure!(
        guest.ids.len() == host.ids.len(),
        "the guest has {} rows, the host {}",
        guest.ids.len(),
        host.ids.len()
    );
    if guest.ids == host.ids {
        return Ok(());
    }
    let pos: HashMap<&str, usize> = host
        .ids
        .iter()
        .enumerate()
        .map(|(i, s)| (s.as_str(), i))
        .collect();
    anyhow::ensure!(pos.len() == host.ids.len(), "the host's ids are not unique");
    let order: Vec<usize> = guest
        .ids
        .iter()
        .map(|id| {
            pos.get(id.as_str())
                .copied()
                .with_context(|| format!("id {id} is not in the host's file"))
        })
        .collect::<anyhow::Result<_>>()?;
    for c in &mut host.columns {
        *c = order.iter().map(|&i| c[i]).collect();
    }
    host.ids = guest.ids.clone();
    Ok(())
}

/// Test AUC and KS, from the model report's metrics (exact AUC with ties, KS over thresholds).
fn auc_ks(scores: &[f64], labels: &[u8]) -> anyhow::Result<(f64, f64)> {
    use unseen_report::metrics;
    Ok((
        metrics::auc(scores, labels)?,
        metrics::ks(scores, labels)?.ks,
    ))
}

pub(crate) fn run(a: &BenchTrainArgs) -> anyhow::Result<ExitCode> {
    if a.oracle_only {
        return oracle_only(a);
    }
    let t = Instant::now();
    let sk =
        unseen_crypto::he::OuSecretKey::generate(a.key_bits).context("generating the OU key")?;
    go(a, &sk, t.elapsed())
}

fn load(a: &BenchTrainArgs) -> anyhow::Result<(Table, Table, Table, Table)> {
    let guest = read_table(&a.guest, &a.id, Some(&a.label))?;
    let mut host = read_table(&a.host, &a.id, None)?;
    align(&guest, &mut host)?;
    let gtest = read_table(&a.guest_test, &a.id, Some(&a.label))?;
    let mut htest = read_table(&a.host_test, &a.id, None)?;
    align(&gtest, &mut htest)?;
    anyhow::ensure!(
        gtest.names == guest.names && htest.names == host.names,
        "test columns differ from training columns"
    );
    Ok((guest, host, gtest, htest))
}

fn params(a: &BenchTrainArgs) -> TreeParams {
    TreeParams {
        trees: a.trees,
        max_depth: a.depth,
        learning_rate: a.learning_rate,
        lambda: a.lambda,
        min_child_weight: a.min_child_weight,
        ..TreeParams::default()
    }
}

fn oracle_only(a: &BenchTrainArgs) -> anyhow::Result<ExitCode> {
    let (guest, host, gtest, htest) = load(a)?;
    let start = Instant::now();
    let (o, p) = plain::fit_and_score(
        &guest.columns,
        &host.columns,
        &guest.labels,
        a.bins,
        &params(a),
        plain::ColSample::default(),
        &gtest.columns,
        &htest.columns,
    )?;
    let wall = start.elapsed();
    let (test_auc, test_ks) = auc_ks(&p, &gtest.labels)?;
    println!(
        "{}",
        serde_json::json!({
            "bench": "train-oracle",
            "auc": (test_auc * 1e6).round() / 1e6,
            "ks": (test_ks * 1e6).round() / 1e6,
            "wall_s": secs(wall),
            "trees": o.trees.len(),
        })
    );
    Ok(ExitCode::SUCCESS)
}

/// Both trees with host records resolved, or `None` if a record is missing.
fn same_trees(g: &GuestModel, h: &HostModel, o: &plain::PlainModel) -> bool {
    if g.trees.len() != o.trees.len() || g.base_margin.to_bits() != o.base_margin.to_bits() {
        return false;
    }
    g.trees.iter().zip(&o.trees).all(|(a, b)| {
        a.nodes.len() == b.nodes.len()
            && a.nodes.iter().zip(&b.nodes).all(|(x, y)| match (x, y) {
                (Node::Leaf { weight: w1 }, Node::Leaf { weight: w2 }) => {
                    w1.to_bits() == w2.to_bits()
                }
                (
                    Node::Split {
                        rule,
                        gain,
                        left,
                        right,
                    },
                    Node::Split {
                        rule: r2,
                        gain: g2,
                        left: l2,
                        right: rr2,
                    },
                ) => {
                    let r = match *rule {
                        GuestSplit::Guest { feature, bin } => Some(Rule::Guest { feature, bin }),
                        GuestSplit::Host { record } => {
                            h.records.get(record as usize).map(|x| Rule::Host {
                                feature: u32::from(x.feature),
                                bin: x.bin,
                            })
                        }
                    };
                    r == Some(*r2) && gain.to_bits() == g2.to_bits() && left == l2 && right == rr2
                }
                _ => false,
            })
    })
}

fn secs(d: Duration) -> f64 {
    (d.as_secs_f64() * 1000.0).round() / 1000.0
}

#[allow(clippy::too_many_lines)] // one benchmark, read top to bottom
fn go<K: HeSecretKey>(a: &BenchTrainArgs, sk: &K, keygen: Duration) -> anyhow::Result<ExitCode> {
    let (guest, host, gtest, htest) = load(a)?;
    let mut gcfg = GuestConfig::new(
        &guest.columns,
        guest.labels.clone(),
        None,
        a.bins,
        guest.names.clone(),
        params(a),
    )?;
    gcfg.pack = !a.no_pack;
    let hcfg = HostConfig::new(
        &host.columns,
        &[],
        a.bins,
        host.names.clone(),
        ColSample::default(),
    )?;

    let listener = TcpListener::bind("127.0.0.1:0").context("binding a loopback port")?;
    let addr = listener.local_addr()?;
    let opts = TcpOptions {
        read_timeout: Duration::from_secs(3600),
        ..TcpOptions::default()
    };
    let cpu0 = cpu_seconds();
    let start = Instant::now();
    let (g, h) = std::thread::scope(|s| {
        let hcfg = &hcfg;
        let listener = &listener;
        let th = s.spawn(move || -> anyhow::Result<_> {
            let mut ch = tcp::accept(listener, opts, Duration::from_secs(60))?;
            Ok(run_host::<K::Public, _>(&mut ch, hcfg)?)
        });
        let g = (|| -> anyhow::Result<_> {
            let mut ch = tcp::connect(addr, opts)?;
            Ok(run_guest(&mut ch, sk, &gcfg)?)
        })();
        let h = th
            .join()
            .map_err(|_| anyhow::anyhow!("host thread panicked"));
        (g, h)
    });
    let train_wall = start.elapsed();
    let train_cpu = cpu_seconds() - cpu0;
    let g = g.context("guest")?;
    let h = h?.context("host")?;

    let pstart = Instant::now();
    let (pg, ph) = std::thread::scope(|s| {
        let hm = &h.model;
        let hcols = &htest.columns;
        let listener = &listener;
        let th = s.spawn(move || -> anyhow::Result<_> {
            let mut ch = tcp::accept(listener, opts, Duration::from_secs(60))?;
            Ok(run_host_predict(&mut ch, hm, hcols)?)
        });
        let pg = (|| -> anyhow::Result<_> {
            let mut ch = tcp::connect(addr, opts)?;
            Ok(run_guest_predict(&mut ch, &g.model, &gtest.columns)?)
        })();
        (
            pg,
            th.join()
                .map_err(|_| anyhow::anyhow!("host thread panicked")),
        )
    });
    let predict_wall = pstart.elapsed();
    let pg = pg.context("guest prediction")?;
    ph?.context("host prediction")?;
    let (test_auc, test_ks) = auc_ks(&pg.scores, &gtest.labels)?;

    let mut lossless = serde_json::Value::Null;
    if a.check_oracle {
        let gb: Vec<usize> = (0..gcfg.train.len())
            .map(|f| gcfg.cuts.bins_of(f))
            .collect();
        let hb: Vec<usize> = (0..hcfg.train.len())
            .map(|f| hcfg.cuts.bins_of(f))
            .collect();
        let o = plain::train(
            Binned {
                columns: &gcfg.train,
                bins: &gb,
            },
            Binned {
                columns: &hcfg.train,
                bins: &hb,
            },
            &gcfg.labels,
            &gcfg.params,
            ColSample::default(),
            None,
        )?;
        let trees_equal = same_trees(&g.model, &h.model, &o);
        let gtb = gcfg.cuts.bin_columns(&gtest.columns)?;
        let htb = hcfg.cuts.bin_columns(&htest.columns)?;
        let om = o.margins(&gtb, &htb, gtest.ids.len());
        let scores_equal = om
            .iter()
            .zip(&pg.scores)
            .all(|(&m, &s)| (1.0 / (1.0 + (-m).exp())).to_bits() == s.to_bits());
        lossless =
            serde_json::json!({"trees_identical": trees_equal, "scores_identical": scores_equal});
    }
    let r = &g.report;
    let per_tree: Vec<f64> = r.tree_times.iter().map(|d| secs(*d)).collect();
    let trees = r.tree_times.len();
    let line = serde_json::json!({
        "bench": "train",
        "protocol": "secureboost v1 (vertical, guest + host, loopback TCP)",
        "auc": (test_auc * 1e6).round() / 1e6,
        "ks": (test_ks * 1e6).round() / 1e6,
        "wall_s": secs(train_wall),
        "trees": trees,
        "bytes_sent": g.stats.bytes_sent,
        "bytes_received": g.stats.bytes_received,
        "bytes_note": "the guest's side of the training channel (sent: encrypted gradients, levels, split requests; received: encrypted histograms, partitions)",
        "per_tree_s_mean": secs(train_wall / u32::try_from(trees.max(1)).unwrap_or(1)),
        "per_tree_s": per_tree,
        "train_cpu_s": (train_cpu * 1000.0).round() / 1000.0,
        "predict_s": secs(predict_wall),
        "predict_bytes": pg.stats.bytes_sent + pg.stats.bytes_received,
        "keygen_s": secs(keygen),
        "he": format!("{:?}-{}", sk.public().scheme(), sk.public().modulus_bits()),
        "pack_bins": !a.no_pack,
        "bins_per_ciphertext": unseen_fl::secureboost::slots(sk.public().plaintext_bits(), !a.no_pack),
        "encryptions": r.encryptions,
        "decryptions": r.decryptions,
        "additions": h.additions,
        "guest_encrypt_s": secs(r.encrypt),
        "guest_decrypt_s": secs(r.decrypt),
        "guest_wait_histograms_s": secs(r.wait_histograms),
        "host_accumulate_s": secs(h.accumulate),
        "train_rows": guest.ids.len(),
        "test_rows": gtest.ids.len(),
        "guest_features": guest.names.len(),
        "host_features": host.names.len(),
        "params": {"trees": a.trees, "depth": a.depth, "bins": a.bins, "learning_rate": a.learning_rate, "lambda": a.lambda, "min_child_weight": a.min_child_weight, "base_score": "mean label"},
        "lossless": lossless,
        "host": crate::bench::host(),
    });
    println!("{line}");
    Ok(ExitCode::SUCCESS)
}

/// CPU seconds of this process (user + system), from /proc/self/stat.
#[allow(clippy::cast_precision_loss)]
fn cpu_seconds() -> f64 {
    let Ok(s) = std::fs::read_to_string("/proc/self/stat") else {
        return 0.0;
    };
    let Some(rest) = s.rsplit(')').next() else {
        return 0.0;
    };
    let f: Vec<&str> = rest.split_whitespace().collect();
    let tick = |i: usize| f.get(i).and_then(|x| x.parse::<u64>().ok()).unwrap_or(0);
    // fields 14 and 15 (utime, stime) are at 11 and 12 after the ')'
    (tick(11) + tick(12)) as f64 / 100.0
}
