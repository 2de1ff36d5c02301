//! The joint-modeling part of `unseen demo`: the bank (labels and 4 features) and the partner
//! (5 other features of the same customers) align their training data by PSI, train a vertical
//! SecureBoost model, score a holdout set and write the model report; the scores are checked
//! against the plaintext oracle trained on the joined data (SecureBoost is lossless).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use crate::demo_nodes::{add_demo_dataset, allow_demo};
use anyhow::Context;
use serde_json::Value;
use unseen_fl::secureboost as sb;
use unseen_node::NodeDir;
use unseen_node::client::Client;

use crate::synth::{self, CREDIT_BANK, CREDIT_PARTNER};

/// Trees, depth, bins and learning rate of the demo's model (small: the demo runs in seconds).
const TREES: u32 = 20;
const DEPTH: u32 = 4;
const BINS: u32 = 16;
const LEARNING_RATE: f64 = 0.3;

/// One customer: default flag, the bank's features, the partner's features.
type Customer = (u8, [f64; 4], [f64; 5]);

/// The generated data, kept to check the result.
pub(crate) struct CreditData {
    /// Normalised ID → (label, bank features, partner features), training customers both hold.
    train: HashMap<String, Customer>,
    /// The same for the holdout customers both hold.
    holdout: HashMap<String, Customer>,
    /// Where the files are.
    pub(crate) root: PathBuf,
}

fn write(path: &Path, header: &str, rows: impl Iterator<Item = String>) -> anyhow::Result<()> {
    unseen_data::write_lines_atomic(path, std::iter::once(header.to_owned()).chain(rows))
        .with_context(|| format!("writing {}", path.display()))
}

fn fmt(v: &[f64]) -> String {
    v.iter()
        .map(|x| format!("{x}"))
        .collect::<Vec<_>>()
        .join(",")
}

/// Writes the four CSV files and registers them with their policies on both nodes.
pub(crate) fn prepare(
    root: &Path,
    bank: &NodeDir,
    partner: &NodeDir,
) -> anyhow::Result<CreditData> {
    // Training: 2 400 common customers, 150 only at the bank, 250 only at the partner;
    // holdout: 800 common customers.
    let (bank_ids, partner_ids) = synth::overlapping(77, 2_550, 2_650, 2_400);
    let (hb_ids, hp_ids) = synth::overlapping(78, 800, 800, 800);
    let all: Vec<String> = bank_ids.iter().chain(&partner_ids).cloned().collect();
    let rows = synth::credit(7, &all);
    let by_id: HashMap<&str, Customer> = all
        .iter()
        .map(String::as_str)
        .zip(rows.iter().copied())
        .collect();
    let hall: Vec<String> = hb_ids.clone();
    let hrows = synth::credit(8, &hall);
    let hby_id: HashMap<&str, Customer> = hall
        .iter()
        .map(String::as_str)
        .zip(hrows.iter().copied())
        .collect();

    let bank_header = format!("id,default_flag,{}", CREDIT_BANK.join(","));
    let partner_header = format!("id,{}", CREDIT_PARTNER.join(","));
    let files = [
        ("bank_train.csv", &bank_ids, &by_id, true),
        ("partner_train.csv", &partner_ids, &by_id, false),
        ("bank_holdout.csv", &hb_ids, &hby_id, true),
        ("partner_holdout.csv", &hp_ids, &hby_id, false),
    ];
    for (name, ids, data, bank_side) in files {
        let header = if bank_side {
            &bank_header
        } else {
            &partner_header
        };
        write(
            &root.join(name),
            header,
            ids.iter().map(|k| {
                let (y, b, p) = data[k.as_str()];
                if bank_side {
                    format!("{k},{y},{}", fmt(&b))
                } else {
                    format!("{k},{}", fmt(&p))
                }
            }),
        )?;
    }
    for (dir, other, sets) in [
        (
            bank,
            "data-b",
            [
                ("applicants", "bank_train.csv", "train"),
                ("holdout", "bank_holdout.csv", "predict"),
            ],
        ),
        (
            partner,
            "bank-a",
            [
                ("features", "partner_train.csv", "train"),
                ("holdout_features", "partner_holdout.csv", "predict"),
            ],
        ),
    ] {
        let mut store = unseen_node::audit_key::open_store(dir)?;
        for (name, file, job) in sets {
            add_demo_dataset(dir, &mut store, name, root.join(file))?;
            allow_demo(&mut store, name, other, job, "both")?;
        }
    }
    println!(
        "2. bank-a  registers applicants ({} rows: default_flag, {}) and holdout ({} rows), allows data-b train and predict on them",
        bank_ids.len(),
        CREDIT_BANK.join(","),
        hb_ids.len()
    );
    println!(
        "2. data-b  registers features ({} rows: {}) and holdout_features ({} rows), allows bank-a train and predict on them",
        partner_ids.len(),
        CREDIT_PARTNER.join(","),
        hp_ids.len()
    );
    let common = |ids: &[String], m: &HashMap<&str, Customer>, other: &[String]| {
        let o: std::collections::HashSet<&String> = other.iter().collect();
        ids.iter()
            .filter(|k| o.contains(k))
            .map(|k| (k.to_uppercase(), m[k.as_str()]))
            .collect::<HashMap<_, _>>()
    };
    Ok(CreditData {
        train: common(&bank_ids, &by_id, &partner_ids),
        holdout: common(&hb_ids, &hby_id, &hp_ids),
        root: root.to_owned(),
    })
}

/// The plaintext oracle's probabilities for the holdout customers, by normalised ID: the same
/// bins (each party's quantile cuts on its training columns), the same integers, centralised.
fn oracle(d: &CreditData) -> anyhow::Result<HashMap<String, f64>> {
    let mut keys: Vec<&String> = d.train.keys().collect();
    keys.sort();
    let cols = |n: usize,
                f: &dyn Fn(&Customer, usize) -> f64,
                m: &HashMap<String, Customer>,
                keys: &[&String]| {
        (0..n)
            .map(|j| keys.iter().map(|k| f(&m[*k], j)).collect::<Vec<f64>>())
            .collect::<Vec<_>>()
    };
    let gtrain = cols(4, &|r, j| r.1[j], &d.train, &keys);
    let htrain = cols(5, &|r, j| r.2[j], &d.train, &keys);
    let labels: Vec<u8> = keys.iter().map(|k| d.train[*k].0).collect();
    let params = sb::TreeParams {
        trees: TREES,
        max_depth: u8::try_from(DEPTH)?,
        learning_rate: LEARNING_RATE,
        ..sb::TreeParams::default()
    };
    let mut hkeys: Vec<&String> = d.holdout.keys().collect();
    hkeys.sort();
    let (_, scores) = sb::plain::fit_and_score(
        &gtrain,
        &htrain,
        &labels,
        BINS as usize,
        &params,
        sb::ColSample::default(),
        &cols(4, &|r, j| r.1[j], &d.holdout, &hkeys),
        &cols(5, &|r, j| r.2[j], &d.holdout, &hkeys),
    )?;
    Ok(hkeys.into_iter().cloned().zip(scores).collect())
}

/// Trains, reports and predicts through the running nodes; returns whether every check held.
pub(crate) fn run(
    exe: &Path,
    d: &CreditData,
    bank: &NodeDir,
    client: &Client,
    wait_job: &dyn Fn(&Client, &str) -> anyhow::Result<Value>,
    run_cli: &dyn Fn(&Path, &[&str]) -> anyhow::Result<Value>,
) -> anyhow::Result<bool> {
    let t = Instant::now();
    let job = client.submit(&unseen_node::jobs::SubmitRequest {
        kind: "train".into(),
        algorithm: Some(unseen_node::kinds::train::Algorithm::Secureboost),
        partner: "data-b".into(),
        dataset: "applicants".into(),
        peer_dataset: "features".into(),
        label: Some("default_flag".into()),
        trees: Some(TREES),
        depth: Some(DEPTH),
        bins: Some(BINS),
        learning_rate: Some(LEARNING_RATE),
        ..Default::default()
    })?;
    let id = job["id"].as_str().unwrap_or_default().to_owned();
    let done = wait_job(client, &id)?;
    println!(
        "5. bank-a trains with data-b (`unseen train secureboost --dataset applicants --peer-dataset features --label default_flag --trees {TREES} --depth {DEPTH}`) → {} in {:.1} s: {} common customers (PSI), {:.2} MiB exchanged",
        done["state"].as_str().unwrap_or("?"),
        t.elapsed().as_secs_f64(),
        done["result"]["common_rows"],
        (done["bytes_sent"].as_u64().unwrap_or(0) + done["bytes_received"].as_u64().unwrap_or(0))
            as f64
            / 1_048_576.0
    );
    if done["state"] != "succeeded" {
        println!("   reason: {}", done["reason"]);
        return Ok(false);
    }
    let model = done["result"]["model_id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let dir = bank.root().display().to_string();
    let report_html = d.root.join("model_report.html");
    let scores_csv = d.root.join("holdout_scores.csv");
    let t = Instant::now();
    let r = run_cli(
        exe,
        &[
            "--dir",
            &dir,
            "report",
            "--model",
            &model,
            "--dataset",
            "holdout",
            "--peer-dataset",
            "holdout_features",
            "--output",
            &report_html.display().to_string(),
            "--json",
        ],
    )?;
    println!(
        "   model {model}: report on {} holdout customers (`unseen report`) → AUC {:.4}, KS {:.4} in {:.1} s: {}",
        r["common_rows"],
        r["report"]["auc"].as_f64().unwrap_or(f64::NAN),
        r["report"]["ks"].as_f64().unwrap_or(f64::NAN),
        t.elapsed().as_secs_f64(),
        report_html.display()
    );
    run_cli(
        exe,
        &[
            "--dir",
            &dir,
            "predict",
            "--model",
            &model,
            "--dataset",
            "holdout",
            "--peer-dataset",
            "holdout_features",
            "--output",
            &scores_csv.display().to_string(),
            "--json",
        ],
    )?;
    // Check: every score equals the plaintext oracle's probability (the same integers, the
    // same trees; only the order of the final floating-point additions may differ).
    let want = oracle(d)?;
    let text = std::fs::read_to_string(&scores_csv)
        .with_context(|| format!("reading {}", scores_csv.display()))?;
    let mut got = 0usize;
    let mut worst = 0.0f64;
    for line in text.lines().skip(1) {
        let (k, s) = line
            .split_once(',')
            .context("a scores line without a comma")?;
        let s: f64 = s.parse().context("a score that is not a number")?;
        let w = want
            .get(k)
            .context("a scored customer the oracle does not know")?;
        worst = worst.max((s - w).abs());
        got += 1;
    }
    let ok = got == want.len() && worst <= 1e-12;
    println!(
        "   bank-a scores the holdout (`unseen predict`) → {got} scores; the plaintext model trained on the joined data gives the same (largest difference {worst:.1e}): {}",
        if ok { "lossless" } else { "MISMATCH" }
    );
    Ok(ok)
}
