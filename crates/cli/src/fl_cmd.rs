//! Joint modeling (联合建模) between nodes: `unseen train` (through the local daemon, like
//! `job submit`), `unseen predict` and `unseen report` (from this process, like `unseen query`;
//! the partner's daemon must run), `unseen model list`.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use clap::{Args, Subcommand};
use serde_json::json;
use unseen_fl::ModelId;
use unseen_node::fl_job;
use unseen_node::jobs::{PredictInput, SubmitRequest};
use unseen_node::kinds::train::{Algorithm, Tuning};
use unseen_node::{Node, NodeError};

use crate::UsageError;
use crate::node_cmd::{node_dir, store};

const TRAIN_EXAMPLES: &str = "\
Example (the bank holds the labels; data-b holds other features of the same customers):
  unseen --dir A train secureboost --partner data-b --dataset applicants \\
      --peer-dataset features --label default_flag --trees 100 --depth 5 --bins 32 \\
      --learning-rate 0.1 --wait

Both datasets are aligned by PSI first (both nodes learn which of their customers are common;
nothing else). With --aligned (datasets already aligned, e.g. by an earlier PSI job: the same
keys in the same order) there is no PSI: the nodes compare their row counts and an SM3 digest
of their key columns, and stop if they differ. Every column but the key and the label is a
feature and must be numeric. Each node keeps its own part of the model in DIR/models/MODEL_ID/;
the model id is in the job's result (`unseen job show JOB_ID`) and in `unseen model list`. Both nodes need a policy allowing
`--job train` on their dataset for the other (receivers `both`).";

pub(crate) const PREDICT_EXAMPLES_REF: &str = "\
Example (the model's guest; the partner's node must be running):
  unseen --dir A predict --model 3f2a… --dataset new_applicants \\
      --peer-dataset new_features --output scores.csv

scores.csv has the key and the predicted probability of the label being 1, for the customers
both datasets hold (aligned by PSI). The partner evaluates its own splits and learns neither
the scores nor the tree structure. Both nodes need a policy allowing `--job predict`.
Exit codes: 0 success, 2 this node's input or configuration, 1 the partner (a refusal too),
the network or another failure (README, \"Exit codes and whose fault\").";

pub(crate) const REPORT_EXAMPLES_REF: &str = "\
Example (the model's guest; the holdout dataset must hold the model's label column):
  unseen --dir A report --model 3f2a… --dataset holdout --peer-dataset holdout_features \\
      --output report.html

report.html is one self-contained page (no external resources): AUC, KS, Gini, the confusion
matrix at --threshold, lift and gain by decile, population stability against the training
scores, ROC and KS curves, and feature importance (the partner's features by number only).";

/// Trains a model with a partner.
#[derive(Debug, Subcommand)]
pub(crate) enum TrainCommand {
    /// Vertical SecureBoost (gradient-boosted trees; Cheng et al. 2021): lossless, the same
    /// trees as training on the joined data.
    #[command(after_help = TRAIN_EXAMPLES)]
    Secureboost(SecureBoostArgs),
    /// Vertical logistic regression (homomorphic gradient descent).
    #[command(after_help = LR_EXAMPLES)]
    Lr(LrArgs),
}

const LR_EXAMPLES: &str = "\
Example (the bank holds the labels; data-b holds other features of the same customers):
  unseen --dir A train lr --partner data-b --dataset applicants --peer-dataset features \\
      --label default_flag --epochs 50 --learning-rate 0.1 --wait

Logistic regression takes --epochs and --learning-rate; the tree parameters (--trees,
--depth, --bins, --lambda, …) are SecureBoost's and refused here. Alignment, policies and the
model parts are as for `train secureboost` (see its --help).";

/// SecureBoost's flags.
#[derive(Debug, Args)]
pub(crate) struct SecureBoostArgs {
    #[command(flatten)]
    common: TrainArgs,
    /// Trees.
    #[arg(long, default_value_t = 100)]
    trees: u32,
    /// Maximum tree depth.
    #[arg(long, default_value_t = 5)]
    depth: u32,
    /// Bins per feature (quantiles).
    #[arg(long, default_value_t = 32)]
    bins: u32,
    /// L2 regularisation of leaf weights (XGBoost's lambda).
    #[arg(long, default_value_t = 1.0)]
    lambda: f64,
    /// Smallest hessian sum of a child.
    #[arg(long, default_value_t = 1.0)]
    min_child_weight: f64,
    /// Smallest gain of a split (XGBoost's gamma).
    #[arg(long, default_value_t = 0.0)]
    gamma: f64,
    /// Fraction of rows sampled per tree, in (0, 1].
    #[arg(long, default_value_t = 1.0)]
    row_sample: f64,
    /// Fraction of each party's features sampled per tree, in (0, 1].
    #[arg(long, default_value_t = 1.0)]
    col_sample: f64,
}

/// Logistic regression's flags.
#[derive(Debug, Args)]
pub(crate) struct LrArgs {
    #[command(flatten)]
    common: TrainArgs,
    /// Epochs (passes over the common rows).
    #[arg(long, default_value_t = 100)]
    epochs: u32,
    /// SecureBoost's flags, accepted here only to be refused with a message that says so.
    #[command(flatten)]
    tree_flags: RefusedTreeFlags,
}

/// SecureBoost's flags given to `train lr`: hidden, refused by the daemon's own check
/// (`kinds::train::spec_for`) naming each (exit 2).
#[derive(Debug, Args)]
pub(crate) struct RefusedTreeFlags {
    #[arg(long, hide = true)]
    trees: Option<u32>,
    #[arg(long, hide = true)]
    depth: Option<u32>,
    #[arg(long, hide = true)]
    bins: Option<u32>,
    #[arg(long, hide = true)]
    lambda: Option<f64>,
    #[arg(long, hide = true)]
    min_child_weight: Option<f64>,
    #[arg(long, hide = true)]
    gamma: Option<f64>,
    #[arg(long, hide = true)]
    row_sample: Option<f64>,
    #[arg(long, hide = true)]
    col_sample: Option<f64>,
}

/// Flags of both algorithms.
#[derive(Debug, Args)]
pub(crate) struct TrainArgs {
    /// The partner holding the other features.
    #[arg(long)]
    partner: String,
    /// This node's dataset: the label column and this node's features.
    #[arg(long)]
    dataset: String,
    /// The partner's dataset (its name on the partner's node).
    #[arg(long)]
    peer_dataset: String,
    /// The label column of --dataset (values 0 and 1; 1 = the event, e.g. default).
    #[arg(long)]
    label: String,
    /// Learning rate (shrinkage for SecureBoost, step size for logistic regression).
    #[arg(long, default_value_t = 0.1)]
    learning_rate: f64,
    /// The datasets are already aligned (the same keys in the same order on both nodes): skip
    /// the PSI; the nodes check it by comparing a digest of their key columns.
    #[arg(long)]
    aligned: bool,
    /// Fewest common rows to train on (both nodes check, before and after the alignment; at
    /// least 2).
    #[arg(long, default_value_t = 10)]
    min_rows: u32,
    /// Fewest rows of each label class among them (the guest checks before the partner does
    /// any work; at least 1).
    #[arg(long, default_value_t = 2)]
    min_class_rows: u32,
    /// Wait for the job to end; exit 0 only if it succeeded.
    #[arg(long)]
    wait: bool,
}

/// Scores a dataset with a trained model.
#[derive(Debug, Args)]
pub(crate) struct PredictArgs {
    /// The model id (32 hex digits; `unseen model list`).
    #[arg(long)]
    model: String,
    /// This node's dataset to score (the model's features, by column name).
    #[arg(long)]
    dataset: String,
    /// The partner's dataset with the partner's features of the same customers.
    #[arg(long)]
    peer_dataset: String,
    /// Where the scores go (CSV).
    #[arg(long, short = 'o')]
    output: PathBuf,
    /// The datasets are already aligned (the same keys in the same order on both nodes): skip
    /// the PSI; the nodes check it by comparing a digest of their key columns.
    #[arg(long)]
    aligned: bool,
    /// Print one JSON line instead of text.
    #[arg(long)]
    json: bool,
}

/// Writes the model report of a labelled holdout dataset.
#[derive(Debug, Args)]
pub(crate) struct ReportArgs {
    /// The model id (32 hex digits; `unseen model list`).
    #[arg(long)]
    model: String,
    /// This node's holdout dataset (the model's features and its label column).
    #[arg(long)]
    dataset: String,
    /// The partner's dataset with the partner's features of the same customers.
    #[arg(long)]
    peer_dataset: String,
    /// Where the report goes (HTML).
    #[arg(long, short = 'o')]
    output: PathBuf,
    /// The datasets are already aligned (the same keys in the same order on both nodes): skip
    /// the PSI; the nodes check it by comparing a digest of their key columns.
    #[arg(long)]
    aligned: bool,
    /// Classification threshold for the confusion matrix (probability of the label being 1).
    #[arg(long, default_value_t = 0.5)]
    threshold: f64,
    /// Print one JSON line instead of text.
    #[arg(long)]
    json: bool,
}

pub(crate) const SCORE_EXAMPLES: &str = "\
Example (the bank, the model's guest; its daemon and the partner's must be running):
  unseen --dir A score --model 3f2a… --key 110101199001011234 \\
      --feature income=5200 --feature age=31

Prints the predicted probability of the label being 1 for this one applicant (real-time
federated prediction through the daemon's API, POST /v1/models/MODEL_ID/score). Give every
feature of the model's bank side (`unseen model list --json` lists them), numbers only. The
partner looks the key up in its dataset (the model's training dataset unless --peer-dataset)
and evaluates its own splits: it learns the key and that the model was used, never the score;
it needs only a policy allowing `--job predict` on that dataset for this node.
Exit codes: 0 scored, 2 bad flags or features, 1 refused, no row at the partner, or failed.";

/// Scores one applicant through the daemon.
#[derive(Debug, Args)]
pub(crate) struct ScoreArgs {
    /// The model id (32 hex digits; `unseen model list`).
    #[arg(long)]
    model: String,
    /// The applicant's key, as in the datasets' key column.
    #[arg(long)]
    key: String,
    /// A feature of this node's side of the model, NAME=NUMBER (repeat for each feature).
    #[arg(long = "feature", value_name = "NAME=NUMBER")]
    features: Vec<String>,
    /// The partner's dataset to look the key up in (default: the model's training dataset on
    /// the partner's node).
    #[arg(long)]
    peer_dataset: Option<String>,
    /// Print the API's JSON answer instead of the score.
    #[arg(long)]
    json: bool,
}

/// Model parts held by this node.
#[derive(Debug, Subcommand)]
pub(crate) enum ModelCommand {
    /// Lists this node's model parts, newest first.
    List {
        /// One JSON document instead of a table.
        #[arg(long)]
        json: bool,
    },
}

pub(crate) fn train(dir: Option<&PathBuf>, c: &TrainCommand) -> anyhow::Result<ExitCode> {
    let (a, mut req) = match c {
        TrainCommand::Secureboost(sb) => (
            &sb.common,
            SubmitRequest {
                algorithm: Some(Algorithm::Secureboost),
                trees: Some(sb.trees),
                depth: Some(sb.depth),
                bins: Some(sb.bins),
                tuning: Some(Tuning {
                    lambda: sb.lambda,
                    min_child_weight: sb.min_child_weight,
                    gamma: sb.gamma,
                    row_sample: sb.row_sample,
                    col_sample: sb.col_sample,
                }),
                ..SubmitRequest::default()
            },
        ),
        TrainCommand::Lr(lr) => {
            let t = &lr.tree_flags;
            let tuning = [
                t.lambda,
                t.min_child_weight,
                t.gamma,
                t.row_sample,
                t.col_sample,
            ]
            .iter()
            .any(Option::is_some)
            .then(Tuning::default);
            (
                &lr.common,
                SubmitRequest {
                    algorithm: Some(Algorithm::Lr),
                    epochs: Some(lr.epochs),
                    trees: t.trees,
                    depth: t.depth,
                    bins: t.bins,
                    tuning,
                    ..SubmitRequest::default()
                },
            )
        }
    };
    req.kind = "train".into();
    req.partner.clone_from(&a.partner);
    req.dataset.clone_from(&a.dataset);
    req.peer_dataset.clone_from(&a.peer_dataset);
    req.label = Some(a.label.clone());
    req.learning_rate = Some(a.learning_rate);
    req.aligned = a.aligned;
    req.min_rows = Some(a.min_rows);
    req.min_class_rows = Some(a.min_class_rows);
    // The same checks as the daemon's, before anything is sent.
    unseen_node::kinds::train::spec_for(&req).map_err(UsageError)?;
    let dir = node_dir(dir)?;
    let client = unseen_node::client::Client::new(&dir)?;
    let job = client.post("/v1/jobs", &serde_json::to_value(&req)?)?;
    crate::node_cmd::follow(&client, &job, a.wait)
}

fn parse_model(s: &str) -> anyhow::Result<ModelId> {
    Ok(unseen_node::kinds::parse_model_id(s).map_err(|e| UsageError(format!("--model: {e}")))?)
}

/// Runs a prediction job (scores or report) and reports it.
/// What a prediction scores: the model, this node's dataset, the partner's, and whether they
/// are already aligned.
struct Target<'a> {
    model: &'a str,
    dataset: &'a str,
    peer_dataset: &'a str,
    aligned: bool,
}

fn run_predict(
    dir: Option<&PathBuf>,
    target: &Target<'_>,
    output: PathBuf,
    report: Option<f64>,
    json_out: bool,
) -> anyhow::Result<ExitCode> {
    let Target {
        model,
        dataset,
        peer_dataset,
        aligned,
    } = *target;
    let start = Instant::now();
    let id = parse_model(model)?;
    if let Some(t) = report
        && !(0.0..=1.0).contains(&t)
    {
        return Err(UsageError(format!("--threshold {t}: must be in [0, 1]")).into());
    }
    let dir = node_dir(dir)?;
    let ds = store(&dir)?
        .dataset(dataset)
        .map_err(NodeError::from)?
        .ok_or_else(|| UsageError(format!("no dataset named {dataset:?} on this node")))?;
    let stored = fl_job::load_model(&dir, id).map_err(|e| UsageError(e.to_string()))?;
    // Before the partner is contacted: the scores or report must be writable where asked.
    crate::psi::check_output(
        &output,
        std::path::Path::new(&ds.path),
        "--output",
        "dataset",
    )?;
    let node = Node::open(&dir)?;
    let pb = crate::progress::spinner();
    pb.set_message(if report.is_some() {
        "reporting"
    } else {
        "scoring"
    });
    let job = unseen_node::jobs::predict(
        &node,
        "cli",
        peer_dataset,
        PredictInput {
            model: stored,
            dataset: ds,
            output: output.clone(),
            report,
            aligned,
        },
    );
    pb.finish_and_clear();
    let job = job?;
    if let Some(code) = crate::node_cmd::unsuccessful(&job) {
        return Ok(code);
    }
    let r = &job.result;
    if json_out {
        let v = json!({
            "job": job.id,
            "state": job.state.as_str(),
            "model": model,
            "items": r["items"],
            "common_rows": r["common_rows"],
            "report": r["report"],
            "output": job.output,
            "bytes_sent": job.bytes_sent,
            "bytes_received": job.bytes_received,
            "wall_s": start.elapsed().as_secs_f64(),
        });
        println!("{v}");
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "rows:      {} common of {} in {dataset}",
        r["common_rows"], r["items"]
    );
    if let Some(m) = r["report"].as_object() {
        let f = |k: &str| {
            m.get(k)
                .and_then(serde_json::Value::as_f64)
                .unwrap_or(f64::NAN)
        };
        println!(
            "metrics:   AUC {:.4}, KS {:.4}, Gini {:.4}",
            f("auc"),
            f("ks"),
            f("gini")
        );
    }
    println!("output:    {}", output.display());
    println!(
        "time:      {:.2} s; sent {:.2} MiB, received {:.2} MiB; job {}",
        start.elapsed().as_secs_f64(),
        job.bytes_sent as f64 / (1 << 20) as f64,
        job.bytes_received as f64 / (1 << 20) as f64,
        job.id
    );
    Ok(ExitCode::SUCCESS)
}

pub(crate) fn predict(dir: Option<&PathBuf>, a: &PredictArgs) -> anyhow::Result<ExitCode> {
    let target = Target {
        model: &a.model,
        dataset: &a.dataset,
        peer_dataset: &a.peer_dataset,
        aligned: a.aligned,
    };
    run_predict(dir, &target, a.output.clone(), None, a.json)
}

pub(crate) fn report(dir: Option<&PathBuf>, a: &ReportArgs) -> anyhow::Result<ExitCode> {
    let target = Target {
        model: &a.model,
        dataset: &a.dataset,
        peer_dataset: &a.peer_dataset,
        aligned: a.aligned,
    };
    run_predict(dir, &target, a.output.clone(), Some(a.threshold), a.json)
}

pub(crate) fn score(dir: Option<&PathBuf>, a: &ScoreArgs) -> anyhow::Result<ExitCode> {
    parse_model(&a.model)?;
    let mut features = serde_json::Map::new();
    for f in &a.features {
        let (name, value) = f
            .split_once('=')
            .ok_or_else(|| UsageError(format!("--feature {f:?}: expected NAME=NUMBER")))?;
        let name = name.trim();
        let v: f64 = value
            .trim()
            .parse()
            .map_err(|_| UsageError(format!("--feature {name}: {value:?} is not a number")))?;
        let n = serde_json::Number::from_f64(v).ok_or_else(|| {
            UsageError(format!(
                "--feature {name}: {value:?} is not a finite number"
            ))
        })?;
        if features.insert(name.to_owned(), n.into()).is_some() {
            return Err(UsageError(format!("--feature {name}: given twice")).into());
        }
    }
    let dir = node_dir(dir)?;
    let client = unseen_node::client::Client::new(&dir)?;
    let req = unseen_node::kinds::score::ScoreRequest {
        key: a.key.clone(),
        features,
        peer_dataset: a.peer_dataset.clone(),
    };
    let r = match client.send(&format!("/v1/models/{}/score", a.model), &req) {
        Ok(r) => r,
        // Bad features or key: the caller's input (exit 2); refused, no row or failed: exit 1.
        Err(NodeError::Api {
            status: 400,
            message,
        }) => return Err(UsageError(message).into()),
        Err(NodeError::Api { message, .. }) => {
            eprintln!("error: {message}");
            return Ok(ExitCode::from(1));
        }
        Err(e) => return Err(e.into()),
    };
    if a.json {
        println!("{r}");
    } else {
        println!("{}", r["score"]);
    }
    Ok(ExitCode::SUCCESS)
}

pub(crate) fn model(dir: Option<&PathBuf>, c: &ModelCommand) -> anyhow::Result<ExitCode> {
    let dir = node_dir(dir)?;
    dir.check()?;
    let ModelCommand::List { json: as_json } = c;
    let models = fl_job::list_models(&dir);
    if *as_json {
        println!("{}", serde_json::to_string_pretty(&models)?);
        return Ok(ExitCode::SUCCESS);
    }
    if models.is_empty() {
        eprintln!("no models on this node (train one with `unseen train`)");
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "{:<32}  {:<11}  {:<5}  {:<12}  {:<16}  {:>8}  features",
        "model", "algorithm", "side", "partner", "dataset", "rows"
    );
    for m in models {
        println!(
            "{:<32}  {:<11}  {:<5}  {:<12}  {:<16}  {:>8}  {}",
            m.model_id.to_string(),
            m.algorithm.as_str(),
            match m.side {
                fl_job::Side::Guest => "guest",
                fl_job::Side::Host => "host",
            },
            m.partner,
            m.dataset,
            m.rows,
            m.features.len()
        );
    }
    Ok(ExitCode::SUCCESS)
}
