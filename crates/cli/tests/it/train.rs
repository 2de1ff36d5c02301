//! Joint modeling between two real nodes on loopback: `train secureboost` through the bank's
//! daemon (the rows aligned by PSI inside the job), `model list` on both, `predict` compared
//! score by score with the plaintext oracle trained on the joined data, `report` against the
//! AUC of those scores, refusals (policy, the host's part, a non-numeric feature), both audit
//! chains.

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::Value;
use unseen_fl::secureboost as sb;

use crate::nodes::{Node, err_str, http, http_body, last_line, show};
use crate::util::id;

const TREES: u32 = 3;
const DEPTH: u8 = 3;
const BINS: usize = 8;
const LR: f64 = 0.3;

/// Guest features, host features and the label of customer `i` (deterministic).
fn row(i: u32) -> ([f64; 3], [f64; 4], u8) {
    let g = [
        f64::from((i * 37) % 101) / 10.0,
        f64::from((i * 53) % 89),
        f64::from((i * 17) % 13) / 2.0,
    ];
    let h = [
        f64::from((i * 29) % 97),
        f64::from((i * 41) % 83) / 3.0,
        f64::from(i % 7),
        f64::from((i * 13) % 61),
    ];
    let z = g[0] + h[0] / 10.0 + 1.5 * h[2] - g[2] + f64::from((i * 7919) % 11);
    (g, h, u8::from(z > 17.0))
}

fn write_guest(path: &Path, ids: impl Iterator<Item = u32>) {
    let mut s = String::from("id,label,g0,g1,g2\n");
    for i in ids {
        let (g, _, y) = row(i);
        s.push_str(&format!("{},{y},{},{},{}\n", id(i), g[0], g[1], g[2]));
    }
    std::fs::write(path, s).unwrap();
}

fn write_host(path: &Path, ids: impl Iterator<Item = u32>) {
    let mut s = String::from("id,host_x0,host_x1,host_x2,host_x3\n");
    for i in ids {
        let (_, h, _) = row(i);
        s.push_str(&format!("{},{},{},{},{}\n", id(i), h[0], h[1], h[2], h[3]));
    }
    std::fs::write(path, s).unwrap();
}

fn add(n: &Node, name: &str, path: &Path) {
    n.ok(&[
        "dataset",
        "add",
        "--name",
        name,
        "--path",
        path.to_str().unwrap(),
        "--key",
        "id",
        "--key-type",
        "id-card",
    ]);
}

fn allow(n: &Node, dataset: &str, partner: &str, job: &str) {
    n.ok(&[
        "policy",
        "allow",
        "--dataset",
        dataset,
        "--partner",
        partner,
        "--job",
        job,
        "--receivers",
        "both",
    ]);
}

/// Guest columns, host columns (column-major), labels and normalised keys.
type Joined = (Vec<Vec<f64>>, Vec<Vec<f64>>, Vec<u8>, Vec<String>);

/// The columns of `ids` sorted by normalised key, as the nodes align them.
fn columns(ids: &[u32]) -> Joined {
    let mut by_key: BTreeMap<String, u32> = BTreeMap::new();
    for &i in ids {
        by_key.insert(id(i).to_uppercase(), i);
    }
    let rows: Vec<_> = by_key.values().map(|&i| row(i)).collect();
    let g = (0..3)
        .map(|j| rows.iter().map(|r| r.0[j]).collect())
        .collect();
    let h = (0..4)
        .map(|j| rows.iter().map(|r| r.1[j]).collect())
        .collect();
    let y = rows.iter().map(|r| r.2).collect();
    (g, h, y, by_key.into_keys().collect())
}

/// The plaintext oracle's probabilities for the holdout customers, by normalised key, with the
/// default regularisation and no sampling.
fn oracle(train: &[u32], holdout: &[u32]) -> BTreeMap<String, f64> {
    oracle_tuned(train, holdout, &sb::TreeParams::default(), 1.0)
}

/// The regularisation and sampling the main test trains with (`--lambda 2 --min-child-weight
/// 0.5 --gamma 0.01 --row-sample 0.8 --col-sample 0.7`).
fn tuning() -> sb::TreeParams {
    sb::TreeParams {
        lambda: 2.0,
        min_child_weight: 0.5,
        gamma: 0.01,
        row_sample: 0.8,
        col_sample: 0.7,
        ..sb::TreeParams::default()
    }
}

/// The oracle with `tuning`'s regularisation and row/column sampling (the guest's features
/// sampled with `tuning.col_sample`, the host's with `host_col_sample`).
fn oracle_tuned(
    train: &[u32],
    holdout: &[u32],
    tuning: &sb::TreeParams,
    host_col_sample: f64,
) -> BTreeMap<String, f64> {
    let (gt, ht, y, _) = columns(train);
    let (gh, hh, _, keys) = columns(holdout);
    let params = sb::TreeParams {
        trees: TREES,
        max_depth: DEPTH,
        learning_rate: LR,
        ..tuning.clone()
    };
    let host_cols = sb::ColSample {
        rate: host_col_sample,
        ..sb::ColSample::default()
    };
    let (_, scores) =
        sb::plain::fit_and_score(&gt, &ht, &y, BINS, &params, host_cols, &gh, &hh).unwrap();
    keys.into_iter().zip(scores).collect()
}

/// `train secureboost` with the partner data-b, the label column `label`, the tests' small
/// hyper-parameters ([`TREES`], [`DEPTH`], [`BINS`], [`LR`]), `--wait` and `extra` flags.
fn sb_train_args<'a>(dataset: &'a str, peer: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    let mut v = vec![
        "train",
        "secureboost",
        "--partner",
        "data-b",
        "--dataset",
        dataset,
        "--peer-dataset",
        peer,
        "--label",
        "label",
        "--trees",
        "3",
        "--depth",
        "3",
        "--bins",
        "8",
        "--learning-rate",
        "0.3",
        "--wait",
    ];
    v.extend_from_slice(extra);
    v
}

/// `predict --model M --dataset D --peer-dataset P --output OUT` and `extra` flags.
fn predict_args<'a>(
    model: &'a str,
    dataset: &'a str,
    peer: &'a str,
    out: &'a str,
    extra: &[&'a str],
) -> Vec<&'a str> {
    let mut v = vec![
        "predict",
        "--model",
        model,
        "--dataset",
        dataset,
        "--peer-dataset",
        peer,
        "--output",
        out,
    ];
    v.extend_from_slice(extra);
    v
}

fn read_scores(path: &Path) -> BTreeMap<String, f64> {
    let text = std::fs::read_to_string(path).unwrap();
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some("id,score"));
    lines
        .map(|l| {
            let (k, s) = l.split_once(',').unwrap();
            (k.to_owned(), s.parse().unwrap())
        })
        .collect()
}

/// Two nodes that pinned each other's certificates, with the bank's `applicants` and `holdout`
/// datasets and the partner's `features` and `holdout_features` of the given customers, in the
/// given orders; returns the nodes and the bank's training file.
fn two_nodes(
    bank_train: impl Iterator<Item = u32>,
    partner_train: impl Iterator<Item = u32>,
    bank_holdout: impl Iterator<Item = u32>,
    partner_holdout: impl Iterator<Item = u32>,
) -> (Node, Node, std::path::PathBuf) {
    let a = Node::init("bank-a");
    let b = Node::init("data-b");
    a.add_partner(&b);
    b.add_partner(&a);
    let (ga, hb_) = (a.scratch("applicants.csv"), b.scratch("features.csv"));
    write_guest(&ga, bank_train);
    write_host(&hb_, partner_train);
    let (gh, hh) = (a.scratch("holdout.csv"), b.scratch("holdout_features.csv"));
    write_guest(&gh, bank_holdout);
    write_host(&hh, partner_holdout);
    add(&a, "applicants", &ga);
    add(&a, "holdout", &gh);
    add(&b, "features", &hb_);
    add(&b, "holdout_features", &hh);
    (a, b, ga)
}

/// The rules the tests' jobs need: train on the training datasets, predict on the holdouts.
fn allow_train_and_predict(a: &Node, b: &Node) {
    allow(a, "applicants", "data-b", "train");
    allow(a, "holdout", "data-b", "predict");
    allow(b, "features", "bank-a", "train");
    allow(b, "holdout_features", "bank-a", "predict");
}

#[test]
fn train_predict_report_between_two_nodes() {
    // Training: the bank has customers 0..650, the partner 50..700: 600 in common. Holdout:
    // 1000..1300 at both, plus 20 only at the bank.
    let (mut a, mut b, ga) = two_nodes(0..650, 50..700, 1000..1320, 1000..1300);
    // A train rule that would keep the common rows from one side is refused.
    let o = a.cmd(&[
        "policy",
        "allow",
        "--dataset",
        "applicants",
        "--partner",
        "data-b",
        "--job",
        "train",
        "--receivers",
        "owner",
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", show(&o));
    assert!(
        err_str(&o).contains("its rule must be --receivers both"),
        "{}",
        show(&o)
    );
    allow_train_and_predict(&a, &b);
    a.start();
    b.start();

    // With regularisation and sampling other than the defaults, which both nodes apply.
    let o = a.ok(&sb_train_args(
        "applicants",
        "features",
        &[
            "--lambda",
            "2",
            "--min-child-weight",
            "0.5",
            "--gamma",
            "0.01",
            "--row-sample",
            "0.8",
            "--col-sample",
            "0.7",
        ],
    ));
    let job_id = last_line(&o);
    let job = a.json(&["job", "show", &job_id]);
    assert_eq!(job["state"], "succeeded", "{job:#}");
    assert_eq!(job["result"]["common_rows"], 600, "{job:#}");
    let model = job["result"]["model_id"].as_str().unwrap().to_owned();

    // Each node lists its own part: same id, its own features only.
    let la: Value = a.json(&["model", "list"]);
    let lb: Value = b.json(&["model", "list"]);
    assert_eq!(la[0]["model_id"], model.as_str(), "{la:#}");
    assert_eq!(lb[0]["model_id"], model.as_str(), "{lb:#}");
    assert_eq!(la[0]["side"], "guest");
    assert_eq!(lb[0]["side"], "host");
    assert_eq!(la[0]["features"], serde_json::json!(["g0", "g1", "g2"]));
    assert_eq!(
        lb[0]["features"],
        serde_json::json!(["host_x0", "host_x1", "host_x2", "host_x3"])
    );
    assert_eq!(la[0]["label"], "label");
    assert_eq!(lb[0]["label"], Value::Null);
    assert_eq!(la[0]["rows"], 600);

    // Scores: the 300 common holdout customers, each equal to the plaintext oracle's.
    let scores = a.scratch("scores.csv");
    let p = a.json(&predict_args(
        &model,
        "holdout",
        "holdout_features",
        scores.to_str().unwrap(),
        &[],
    ));
    assert_eq!(p["common_rows"], 300, "{p:#}");
    let got = read_scores(&scores);
    let train: Vec<u32> = (50..650).collect();
    let holdout: Vec<u32> = (1000..1300).collect();
    let want = oracle_tuned(&train, &holdout, &tuning(), 0.7);
    let untuned = oracle(&train, &holdout);
    assert!(
        want.values().zip(untuned.values()).any(|(x, y)| x != y),
        "the tuning must change the model"
    );
    assert_eq!(got.len(), want.len());
    for ((k, s), (wk, w)) in got.iter().zip(&want) {
        assert_eq!(k, wk);
        assert!((s - w).abs() <= 1e-12, "{k}: {s} vs oracle {w}");
    }

    // The report: its AUC is the AUC of exactly these scores against the labels.
    let html = a.scratch("report.html");
    let r = a.json(&[
        "report",
        "--model",
        &model,
        "--dataset",
        "holdout",
        "--peer-dataset",
        "holdout_features",
        "--output",
        html.to_str().unwrap(),
        "--threshold",
        "0.4",
    ]);
    let (_, _, labels, _) = columns(&holdout);
    let s: Vec<f64> = got.values().copied().collect();
    let auc = unseen_report::metrics::auc(&s, &labels).unwrap();
    assert!(
        (r["report"]["auc"].as_f64().unwrap() - auc).abs() < 1e-12,
        "{r:#}"
    );
    let page = std::fs::read_to_string(&html).unwrap();
    assert_eq!(page.matches("<svg").count(), 4);
    assert!(page.contains(&model));
    // The partner's features appear by index only (4 of them at most), the bank's by name.
    assert!(page.contains("partner feature #1 ") || page.contains("partner feature #3 "));
    for k in 5..10 {
        assert!(
            !page.contains(&format!("partner feature #{k} ")),
            "index {k}: {:?}",
            page.match_indices("partner feature #")
                .map(|(i, _)| &page[i..i + 24])
                .collect::<Vec<_>>()
        );
    }
    assert!(page.contains(">g0<") || page.contains(">g1<") || page.contains(">g2<"));
    assert!(
        !page.contains("host_x"),
        "the partner's feature names leaked"
    );

    single_scores(&a, &b, &model, &got, &train);

    // The host's part cannot score; a missing predict rule rejects; a bad feature fails.
    let o = b.cmd(&predict_args(
        &model,
        "holdout_features",
        "holdout",
        b.scratch("x.csv").to_str().unwrap(),
        &[],
    ));
    assert_eq!(o.status.code(), Some(2), "{}", show(&o));
    assert!(err_str(&o).contains("as the host's part"), "{}", show(&o));
    b.ok(&[
        "policy",
        "deny",
        "--dataset",
        "holdout_features",
        "--partner",
        "bank-a",
        "--job",
        "predict",
    ]);
    let o = a.cmd(&predict_args(
        &model,
        "holdout",
        "holdout_features",
        a.scratch("y.csv").to_str().unwrap(),
        &[],
    ));
    // The partner's refusal: its fault, exit 1 (README "Exit codes and whose fault").
    assert_eq!(o.status.code(), Some(1), "{}", show(&o));
    assert!(err_str(&o).contains("no policy allows"), "{}", show(&o));
    assert!(err_str(&o).contains("partner fault"), "{}", show(&o));
    assert!(!a.scratch("y.csv").exists());

    let bad = a.scratch("bad.csv");
    // Customer 100 (a common one) on line 102: its g0 becomes text.
    let text = std::fs::read_to_string(&ga).unwrap();
    let line = 102;
    let lines: Vec<String> = text
        .lines()
        .enumerate()
        .map(|(i, l)| {
            if i + 1 == line {
                let f: Vec<&str> = l.split(',').collect();
                format!("{},{},n/a,{},{}", f[0], f[1], f[3], f[4])
            } else {
                l.to_owned()
            }
        })
        .collect();
    std::fs::write(&bad, lines.join("\n") + "\n").unwrap();
    add(&a, "bad", &bad);
    allow(&a, "bad", "data-b", "train");
    let o = a.cmd(&[
        "train",
        "secureboost",
        "--partner",
        "data-b",
        "--dataset",
        "bad",
        "--peer-dataset",
        "features",
        "--label",
        "label",
        "--wait",
    ]);
    // A bad value in this node's own file: its input, exit 2.
    assert_eq!(o.status.code(), Some(2), "{}", show(&o));
    let failed = a.json(&["job", "show", &last_line(&o)]);
    assert_eq!(failed["fault"], "input", "{failed:#}");
    let reason = failed["reason"].as_str().unwrap_or_default();
    assert!(
        reason.contains(&format!("{}: line {line}: column \"g0\"", bad.display())),
        "{failed:#}"
    );

    for n in [&a, &b] {
        n.ok(&["audit", "verify"]);
    }
}

/// `unseen score` arguments for customer `i` with the bank's features of `row(i)`.
fn score_args<'a>(model: &'a str, key: &'a str, g: &[f64; 3]) -> Vec<String> {
    let mut v: Vec<String> = ["score", "--model", model, "--key", key]
        .iter()
        .map(|s| (*s).to_owned())
        .collect();
    for (j, x) in g.iter().enumerate() {
        v.push("--feature".into());
        v.push(format!("g{j}={x}"));
    }
    v
}

fn strs(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

/// Single-applicant scoring through the bank's API and `unseen score`: each score equals the
/// batch prediction's (holdout) or the plaintext oracle's (training customers); a key the
/// partner lacks, bad features and a missing predict rule are refused; one audit record per
/// score on each node, with the key's digest and never the key.
fn single_scores(a: &Node, b: &Node, model: &str, batch: &BTreeMap<String, f64>, train: &[u32]) {
    // The partner's holdout dataset (its predict rule exists): the batch scores, bit for bit
    // up to 1e-12.
    for i in [1000, 1042, 1137, 1299] {
        let (g, _, _) = row(i);
        let mut args = score_args(model, &id(i), &g);
        args.extend(["--peer-dataset".into(), "holdout_features".into()]);
        let o = a.ok(&strs(&args));
        let s: f64 = last_line(&o).parse().unwrap();
        let want = batch[&id(i).to_uppercase()];
        assert!((s - want).abs() <= 1e-12, "{i}: {s} vs batch {want}");
    }
    // The partner re-reads a dataset file that changed: customer 1042 is gone.
    write_host(
        &b.scratch("holdout_features.csv"),
        (1000..1300).filter(|&i| i != 1042),
    );
    let mut args = score_args(model, &id(1042), &row(1042).0);
    args.extend(["--peer-dataset".into(), "holdout_features".into()]);
    // Not before its operator re-registers it (a file replaced since registration is refused).
    let o = a.cmd(&strs(&args));
    assert_eq!(o.status.code(), Some(1), "{}", show(&o));
    assert!(
        err_str(&o).contains("dataset \"holdout_features\" cannot be read for scoring"),
        "{}",
        show(&o)
    );
    b.ok(&["dataset", "refresh", "holdout_features"]);
    let o = a.cmd(&strs(&args));
    assert_eq!(o.status.code(), Some(1), "{}", show(&o));
    assert!(err_str(&o).contains("no row for this key"), "{}", show(&o));
    // By default the model's training dataset on the partner, which needs its own rule.
    let o = a.cmd(&strs(&score_args(model, &id(60), &row(60).0)));
    assert_eq!(o.status.code(), Some(1), "{}", show(&o));
    assert!(err_str(&o).contains("no policy allows"), "{}", show(&o));
    allow(b, "features", "bank-a", "predict");
    // 680: the partner has it, the bank's features come from the request.
    let keys = [60u32, 300, 649, 680];
    let want = oracle_tuned(train, &keys, &tuning(), 0.7);
    for i in keys {
        let mut args = score_args(model, &id(i), &row(i).0);
        args.push("--json".into());
        let o = a.ok(&strs(&args));
        let r: Value = serde_json::from_slice(&o.stdout).unwrap();
        assert_eq!(r["model"], model, "{r:#}");
        assert_eq!(r["partner"], "data-b", "{r:#}");
        assert_eq!(r["key"], id(i).as_str(), "{r:#}");
        let s = r["score"].as_f64().unwrap();
        let w = want[&id(i).to_uppercase()];
        assert!((s - w).abs() <= 1e-12, "{i}: {s} vs oracle {w}");
    }

    // A key the partner lacks (it has 50..700).
    let o = a.cmd(&strs(&score_args(model, &id(10), &row(10).0)));
    assert_eq!(o.status.code(), Some(1), "{}", show(&o));
    assert!(
        err_str(&o).contains("the partner has no row for this key"),
        "{}",
        show(&o)
    );
    // Missing and unknown features, named; exit 2.
    let mut args = score_args(model, &id(60), &row(60).0);
    args.truncate(args.len() - 2);
    args.extend(["--feature".into(), "income=5200".into()]);
    let o = a.cmd(&strs(&args));
    assert_eq!(o.status.code(), Some(2), "{}", show(&o));
    let e = err_str(&o);
    assert!(e.contains("missing features: \"g2\""), "{e}");
    assert!(
        e.contains("unknown features (not in the model): \"income\""),
        "{e}"
    );
    let o = a.cmd(&[
        "score",
        "--model",
        model,
        "--key",
        "x",
        "--feature",
        "g0=abc",
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", show(&o));
    // The API itself: 400 naming a non-numeric feature, 404 for the absent key, 401 without
    // the token.
    let auth = format!("Bearer {}", a.token());
    let path = format!("/v1/models/{model}/score");
    let call =
        |body: &str, auth: Option<&str>| http_body(&a.api, "POST", &path, auth, body).unwrap();
    let r = call(
        &format!(
            r#"{{"key":"{}","features":{{"g0":"abc","g1":1,"g2":null}}}}"#,
            id(60)
        ),
        Some(&auth),
    );
    assert_eq!(r.status, 400, "{r:?}");
    assert!(
        r.body.contains(r#"not finite numbers: \"g0\", \"g2\""#),
        "{r:?}"
    );
    let r = call(r#"{"key":"1","features":[]}"#, Some(&auth));
    assert_eq!(r.status, 400, "{r:?}");
    let (g, _, _) = row(10);
    let ok_body = |k: &str| {
        format!(
            r#"{{"key":"{k}","features":{{"g0":{},"g1":{},"g2":{}}}}}"#,
            g[0], g[1], g[2]
        )
    };
    let r = call(&ok_body(&id(10)), Some(&auth));
    assert_eq!(r.status, 404, "{r:?}");
    assert!(
        r.body.contains("the partner has no row for this key"),
        "{r:?}"
    );
    let r = call(&ok_body(&id(10)), None);
    assert_eq!(r.status, 401, "{r:?}");
    let r = call(&ok_body(&"9".repeat(200)), Some(&auth));
    assert_eq!(r.status, 400, "{r:?}");
    assert!(r.body.contains("at most 128"), "{r:?}");

    // Without the predict rule the partner refuses.
    b.ok(&[
        "policy",
        "deny",
        "--dataset",
        "features",
        "--partner",
        "bank-a",
        "--job",
        "predict",
    ]);
    let o = a.cmd(&strs(&score_args(model, &id(60), &row(60).0)));
    assert_eq!(o.status.code(), Some(1), "{}", show(&o));
    assert!(err_str(&o).contains("no policy allows"), "{}", show(&o));

    // One record per session on each node (4 + 4 scored, the replaced file refused until its
    // refresh, the removed row, the default-dataset refusal, the absent key twice, the last
    // refusal), with each node's keyed digest of the key and never the key.
    let scored = a.audit_actions("model.scored");
    let served = b.audit_actions("model.score_served");
    assert_eq!(scored.len(), 14, "{scored:#?}");
    assert_eq!(served.len(), 14, "{served:#?}");
    let outcomes = |v: &[Value]| {
        v.iter()
            .map(|r| r["outcome"].as_str().unwrap().to_owned())
            .collect::<Vec<_>>()
    };
    let want: Vec<&str> = [
        vec!["ok"; 4],
        vec!["refused"],
        vec!["no_row"],
        vec!["refused"],
        vec!["ok"; 4],
        vec!["no_row"; 2],
        vec!["refused"],
    ]
    .concat();
    assert_eq!(outcomes(&scored), want);
    assert_eq!(outcomes(&served), want);
    for (x, y) in scored.iter().zip(&served) {
        assert_eq!(x["params"]["model_id"], model);
        assert_eq!(x["params"]["session"], y["params"]["session"]);
        // Each node's keyed digest (HMAC-SM3 under its own secret): 64 hex digits, never the
        // plain SM3 of the key, and not the same on the two nodes (records match by session).
        assert_eq!(x["params"]["key_hmac"].as_str().unwrap().len(), 64);
        assert_eq!(y["params"]["key_hmac"].as_str().unwrap().len(), 64);
        assert_ne!(x["params"]["key_hmac"], y["params"]["key_hmac"]);
        assert!(x["params"].get("key_sm3").is_none());
        assert_eq!(x["partner"], "data-b");
        assert_eq!(y["partner"], "bank-a");
    }
    let metric = |n: &Node, name: &str| {
        let auth = format!("Bearer {}", n.token());
        let r = http(&n.api, "GET", "/metrics", Some(&auth)).unwrap();
        r.body
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{name} ")).map(str::to_owned))
            .unwrap_or_default()
    };
    assert_eq!(metric(a, "unseen_scores_total"), "8");
    assert_eq!(metric(b, "unseen_scores_served_total"), "8");
    for n in [a, b] {
        let all = serde_json::to_string(&n.audit(None)).unwrap();
        for i in [1000, 60, 10] {
            assert!(!all.contains(&id(i)), "{}: key {i} in the audit", n.name);
        }
    }
}

/// Rows (row-major) of `ids` sorted by normalised key: guest features, host features.
fn rows(ids: &[u32]) -> (Vec<Vec<f64>>, Vec<Vec<f64>>) {
    let (g, h, _, keys) = columns(ids);
    let t = |c: &Vec<Vec<f64>>| -> Vec<Vec<f64>> {
        (0..keys.len())
            .map(|i| c.iter().map(|col| col[i]).collect())
            .collect()
    };
    (t(&g), t(&h))
}

#[test]
fn logistic_regression_between_two_nodes() {
    let (mut a, mut b, _) = two_nodes(0..400, 0..400, 1000..1100, 1000..1100);
    allow_train_and_predict(&a, &b);
    a.start();
    b.start();
    let lr = |extra: &[&str]| {
        let mut args = vec![
            "train",
            "lr",
            "--partner",
            "data-b",
            "--dataset",
            "applicants",
            "--peer-dataset",
            "features",
            "--label",
            "label",
            "--learning-rate",
            "0.2",
            "--wait",
        ];
        args.extend_from_slice(extra);
        args.into_iter().map(str::to_owned).collect::<Vec<_>>()
    };
    // Tree parameters are SecureBoost's: a usage error, nothing submitted.
    for tree_flag in [
        ["--trees", "3"],
        ["--depth", "3"],
        ["--bins", "8"],
        ["--gamma", "1"],
    ] {
        let o = a.cmd(&strs(&lr(&tree_flag)));
        assert_eq!(o.status.code(), Some(2), "{}", show(&o));
        assert!(err_str(&o).contains(tree_flag[0]), "{}", show(&o));
    }
    assert!(a.json(&["job", "list"]).as_array().unwrap().is_empty());
    let o = a.ok(&strs(&lr(&["--epochs", "3"])));
    let job = a.json(&["job", "show", &last_line(&o)]);
    assert_eq!(job["state"], "succeeded", "{job:#}");
    assert_eq!(job["params"]["epochs"], 3, "{job:#}");
    let model = job["result"]["model_id"].as_str().unwrap().to_owned();
    let scores = a.scratch("scores.csv");
    a.json(&predict_args(
        &model,
        "holdout",
        "holdout_features",
        scores.to_str().unwrap(),
        &[],
    ));
    // The scores equal σ(u_A + u_B) computed in plaintext from both stored parts.
    let part =
        |n: &Node| std::fs::read(n.dir.join("models").join(&model).join("part.bin")).unwrap();
    let gm = unseen_fl::lr::LrGuestModel::from_bytes(&part(&a)).unwrap();
    let hm = unseen_fl::lr::LrHostModel::from_bytes(&part(&b)).unwrap();
    let holdout: Vec<u32> = (1000..1100).collect();
    let (gr, hr) = rows(&holdout);
    let want = gm.scores(&gr, &hm.partial_scores(&hr).unwrap()).unwrap();
    let got: Vec<f64> = read_scores(&scores).into_values().collect();
    assert_eq!(got.len(), want.len());
    for (g, w) in got.iter().zip(&want) {
        assert!((g - w).abs() <= 1e-12, "{g} vs {w}");
    }
    // Single scoring works for logistic regression too (the partner sends u_B of one row).
    let by_key = read_scores(&scores);
    for i in [1003, 1071] {
        let mut args = score_args(&model, &id(i), &row(i).0);
        args.extend(["--peer-dataset".into(), "holdout_features".into()]);
        let s: f64 = last_line(&a.ok(&strs(&args))).parse().unwrap();
        let w = by_key[&id(i).to_uppercase()];
        assert!((s - w).abs() <= 1e-12, "{i}: {s} vs batch {w}");
    }
    for n in [&a, &b] {
        n.ok(&["audit", "verify"]);
    }
}

/// `--aligned`: datasets already aligned (same keys in the same, unsorted, order) train and
/// score without PSI and give the oracle's scores; datasets that are not aligned are refused
/// on both nodes with the reason.
#[test]
fn aligned_datasets_skip_the_psi_and_are_checked() {
    // Customers 0..300 in the permuted order 7·i mod 300 in both files, the holdout reversed.
    let order: Vec<u32> = (0..300).map(|i| (i * 7) % 300).collect();
    let holdout: Vec<u32> = (1000..1090).rev().collect();
    let (mut a, mut b, _) = two_nodes(
        order.iter().copied(),
        order.iter().copied(),
        holdout.iter().copied(),
        holdout.iter().copied(),
    );
    // Not aligned: the same customers, another order.
    let shuffled = b.scratch("shuffled.csv");
    write_host(&shuffled, 0..300);
    add(&b, "shuffled", &shuffled);
    allow_train_and_predict(&a, &b);
    allow(&b, "shuffled", "bank-a", "train");
    // Two single scores per UTC day for the bank on each of the partner's datasets.
    b.set_config("max_per_day", 2);
    a.start();
    b.start();
    let train = |peer: &str| a.cmd(&sb_train_args("applicants", peer, &["--aligned"]));
    let o = train("features");
    assert!(o.status.success(), "{}", show(&o));
    let job = a.json(&["job", "show", &last_line(&o)]);
    assert_eq!(job["state"], "succeeded", "{job:#}");
    assert_eq!(job["result"]["common_rows"], 300, "{job:#}");
    let model = job["result"]["model_id"].as_str().unwrap().to_owned();
    let scores = a.scratch("scores.csv");
    let p = a.json(&predict_args(
        &model,
        "holdout",
        "holdout_features",
        scores.to_str().unwrap(),
        &["--aligned"],
    ));
    assert_eq!(p["common_rows"], 90, "{p:#}");
    let got = read_scores(&scores);
    let want = oracle(&order, &holdout);
    assert_eq!(got.len(), want.len());
    for ((k, s), (wk, w)) in got.iter().zip(&want) {
        assert_eq!(k, wk);
        assert!((s - w).abs() <= 1e-12, "{k}: {s} vs oracle {w}");
    }

    // The partner's daily score quota: two scores, then a refusal naming it.
    for i in [1000u32, 1001] {
        let mut args = score_args(&model, &id(i), &row(i).0);
        args.extend(["--peer-dataset".into(), "holdout_features".into()]);
        a.ok(&strs(&args));
    }
    let mut args = score_args(&model, &id(1002), &row(1002).0);
    args.extend(["--peer-dataset".into(), "holdout_features".into()]);
    let o = a.cmd(&strs(&args));
    assert_eq!(o.status.code(), Some(1), "{}", show(&o));
    assert!(
        err_str(&o).contains("may score 2 applicants per UTC day"),
        "{}",
        show(&o)
    );

    // Same customers in another order: refused on both sides, nothing trained; this node's
    // input (exit 2), the partner's record says its partner failed.
    let o = train("shuffled");
    assert_eq!(o.status.code(), Some(2), "{}", show(&o));
    let failed = a.json(&["job", "show", &last_line(&o)]);
    assert_eq!(failed["fault"], "input", "{failed:#}");
    let reason = failed["reason"].as_str().unwrap_or_default();
    assert!(
        reason.contains("not the same keys in the same order"),
        "{failed:#}"
    );
    assert_eq!(a.json(&["model", "list"]).as_array().unwrap().len(), 1);
    assert_eq!(b.json(&["model", "list"]).as_array().unwrap().len(), 1);
    for n in [&a, &b] {
        n.ok(&["audit", "verify"]);
    }
}
