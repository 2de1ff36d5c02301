//! Hidden query (隐匿查询, keyword PIR) between nodes: `unseen pir publish` on the table's
//! owner, `unseen query` on the querier. Both work on the node directory directly: `publish`
//! whether or not the daemon runs, `query` without a local daemon (the partner's must run).

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use clap::{Args, Subcommand};
use unseen_crypto::CurveId as NodeCurve;
use unseen_data::{DuplicatePolicy, ReadOptions};
use unseen_node::Node;
use unseen_node::pir_job::{self, PublishRequest, QueryInput};

use crate::UsageError;
use crate::args::{Curve, EncodingArg, KeyTypeArg};
use crate::node_cmd::{node_dir, store};

const PUBLISH_EXAMPLES: &str = "\
Example (the table's owner):
  unseen --dir B dataset add --name blacklist --path blacklist.csv --key id --key-type id-card
  unseen --dir B pir publish --dataset blacklist
  unseen --dir B policy allow --dataset blacklist --partner bank-a --job pir

Each row becomes one record: the values of the dataset's other columns, as a JSON list of
strings. Run `pir publish` again after the data changed: the table is updated in place (queriers
then download only the changed part of the hint), or rebuilt when its parameters change.
A running daemon serves the new table from the next query on.";

pub(crate) const QUERY_EXAMPLES: &str = "\
Example (the querier; the partner's node must be running):
  unseen --dir A query --partner data-b --dataset blacklist --keys applicants.csv --key id \\
      --key-type id-card --output hits.csv

hits.csv holds every row of applicants.csv with the partner's columns appended and a `found`
column (true/false); a key with several records gives one row per record. The partner learns
only how many distinct keys were looked up. The first query of a table downloads its hint
(about 37 MB at 2^20 rows of 32 bytes), kept in DIR/pir-cache/ for the next ones.
Exit codes: 0 success, 2 this node's input or configuration (e.g. --key-type not the table's),
1 the partner (a refusal too: policy, curve, quota), the network or another failure.";

#[derive(Debug, Subcommand)]
pub(crate) enum PirCommand {
    /// Builds, or updates in place, the hidden-query table of a registered dataset
    /// (DIR/pir/DATASET.kwpir, mode 0600: it holds the table's OPRF key).
    #[command(after_help = PUBLISH_EXAMPLES)]
    Publish(PublishArgs),
}

#[derive(Debug, Args)]
pub(crate) struct PublishArgs {
    /// The registered dataset (its key column, key type and columns are used).
    #[arg(long)]
    dataset: String,
    /// OPRF group: ristretto255 (records sealed with AES-256-GCM) or sm2 (国密: SM2-SM3 OPRF,
    /// SM4-GCM). Default: the existing table's, else ristretto255; a change rebuilds.
    #[arg(long, value_enum)]
    curve: Option<Curve>,
    /// Longest record in bytes (every record is padded to it; public). Default: the longest
    /// encoded row (or the existing table's length, if longer); a row longer than an explicit
    /// value is refused, naming its line.
    #[arg(long, value_name = "N")]
    max_record_bytes: Option<usize>,
    /// Most rows (records) per key, 1 to 16 (public). Default: the existing table's, else 1: a
    /// repeated key is then an error naming both lines.
    #[arg(long, value_name = "K")]
    duplicates: Option<u8>,
    /// Build a fresh table (new OPRF key and table id; every querier downloads the whole hint
    /// again) instead of updating the existing one.
    #[arg(long)]
    rebuild: bool,
    /// Print one JSON object instead of text.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Args)]
pub(crate) struct QueryArgs {
    /// The partner whose table is queried.
    #[arg(long)]
    partner: String,
    /// The partner's dataset (its name on the partner's node).
    #[arg(long)]
    dataset: String,
    /// The keys to look up: CSV with a header row, or Parquet. Every row is kept in the
    /// output; repeated keys are looked up once.
    #[arg(long, value_name = "FILE")]
    keys: PathBuf,
    /// Header name of the key column.
    #[arg(long, value_name = "COLUMN")]
    key: String,
    /// How keys are normalised (must be the table's: its key type travels with the table).
    #[arg(long, value_enum, default_value_t = KeyTypeArg::String)]
    key_type: KeyTypeArg,
    /// Input encoding.
    #[arg(long, value_enum, default_value_t = EncodingArg::Auto)]
    encoding: EncodingArg,
    /// Skip rows whose key is invalid (listed on stderr, not in the output) instead of failing.
    #[arg(long)]
    skip_invalid: bool,
    /// Where the result goes (CSV, UTF-8); written atomically, only if the job succeeds.
    #[arg(long, short, value_name = "FILE")]
    output: PathBuf,
    /// OPRF group; must be the table's (a mismatch is refused by the partner).
    #[arg(long, value_enum, default_value_t = Curve::Ristretto255)]
    curve: Curve,
    /// The cheaper mode that REVEALS each key's hash bucket to the partner: the partner learns
    /// that the key is one of at least K keys of its table (or absent). Without this flag the
    /// partner learns nothing about the keys but their number.
    #[arg(long, value_name = "K", value_parser = clap::value_parser!(u32).range(1..))]
    reveal_bucket_k_anonymity: Option<u32>,
    /// Print the summary as one JSON line instead of text.
    #[arg(long)]
    json: bool,
}

fn node_curve(c: Curve) -> NodeCurve {
    c.into()
}

fn mib(b: u64) -> f64 {
    b as f64 / 1_048_576.0
}

pub(crate) fn pir(dir: Option<&PathBuf>, c: &PirCommand) -> anyhow::Result<ExitCode> {
    let PirCommand::Publish(a) = c;
    let dir = node_dir(dir)?;
    let mut s = store(&dir)?;
    let req = PublishRequest {
        dataset: a.dataset.clone(),
        curve: a.curve.map(node_curve),
        max_record_bytes: a.max_record_bytes,
        duplicates: a.duplicates,
        rebuild: a.rebuild,
    };
    let start = Instant::now();
    let pb = crate::progress::spinner();
    let r = pir_job::publish(&dir, &mut s, "cli", &req, &|phase| {
        pb.set_message(phase);
    });
    pb.finish_and_clear();
    let r = r?;
    if a.json {
        println!("{}", serde_json::to_string_pretty(&r)?);
        return Ok(ExitCode::SUCCESS);
    }
    let how = match &r.fresh {
        Some(why) => format!("built: {why}"),
        None if r.rebuilt => "updated by a rebuild (too much changed to patch)".to_owned(),
        None => "updated in place".to_owned(),
    };
    println!(
        "dataset {}: {} rows, {} keys ({how})",
        r.dataset, r.rows, r.keys
    );
    if r.skipped_invalid > 0 {
        println!("skipped:   {} rows with an invalid key", r.skipped_invalid);
    }
    println!(
        "changes:   {} inserted, {} updated, {} deleted, {} unchanged",
        r.inserted, r.updated, r.deleted, r.unchanged
    );
    println!(
        "table:     {} (id {}, epoch {}; {}; records up to {} bytes, up to {} per key)",
        r.path.display(),
        r.table_id,
        r.epoch,
        r.curve.name(),
        r.max_record_len,
        r.duplicates
    );
    println!(
        "hint:      {:.1} MiB, downloaded by a querier once per table version",
        mib(r.hint_bytes as u64)
    );
    println!("time:      {:.2} s", start.elapsed().as_secs_f64());
    Ok(ExitCode::SUCCESS)
}

fn read_options(a: &QueryArgs) -> ReadOptions {
    let mut o = crate::psi::input_options(&a.key, a.key_type, a.skip_invalid, a.encoding);
    // Every row gets output rows; a repeated key is looked up once.
    o.duplicates = DuplicatePolicy::KeepAll;
    o
}

pub(crate) fn query(dir: Option<&PathBuf>, a: &QueryArgs) -> anyhow::Result<ExitCode> {
    let start = Instant::now();
    let dir = node_dir(dir)?;
    dir.check()?;
    crate::psi::check_output(&a.output, &a.keys, "--output", "--keys")?;
    // Read and check the keys before anything is recorded or sent.
    let table = unseen_data::read_table(&a.keys, &read_options(a))?;
    crate::psi::report_input(&a.keys, &table);
    let summary = table.summary.clone();
    // Absolute, so the job record names the file wherever it is read from.
    let output = std::path::absolute(&a.output)
        .map_err(|e| UsageError(format!("--output {}: {e}", a.output.display())))?;
    let input = QueryInput {
        input: a.keys.clone(),
        table,
        key_type: crate::node_cmd::key_type_name(a.key_type).to_owned(),
        output,
    };
    let node = Node::open(&dir)?;
    let pb = crate::progress::spinner();
    pb.set_message("querying");
    let job = unseen_node::jobs::query(
        &node,
        "cli",
        &a.partner,
        &a.dataset,
        unseen_node::pir_job::Lookup {
            curve: node_curve(a.curve),
            reveal_bucket: a.reveal_bucket_k_anonymity,
        },
        input,
    );
    pb.finish_and_clear();
    let job = job?;
    if let Some(code) = crate::node_cmd::unsuccessful(&job) {
        return Ok(code);
    }
    let r = &job.result;
    let n = |k: &str| r[k].as_u64().unwrap_or(0);
    let lookup = match a.reveal_bucket_k_anonymity {
        Some(k) => format!("reveal-bucket (k = {k})"),
        None => "private".to_owned(),
    };
    let curve = node_curve(a.curve).name();
    let hint = r["hint"].as_str().unwrap_or("?");
    if a.json {
        let v = serde_json::json!({
            "job": job.id,
            "state": job.state.as_str(),
            "partner": a.partner,
            "dataset": a.dataset,
            "curve": curve,
            "lookup": if a.reveal_bucket_k_anonymity.is_some() { "reveal-bucket" } else { "private" },
            "rows_read": summary.rows_read,
            "skipped_invalid": summary.skipped_invalid,
            "keys": n("keys"),
            "found": n("found"),
            "records": n("records"),
            "rows_written": n("rows_written"),
            "output": job.output,
            "hint": hint,
            "hint_cache_error": r["hint_cache_error"],
            "bytes_sent": job.bytes_sent,
            "bytes_received": job.bytes_received,
            "rounds": n("rounds"),
            "wall_s": start.elapsed().as_secs_f64(),
        });
        println!("{v}");
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "keys:      {} distinct ({} rows read, {} invalid skipped, {})",
        n("keys"),
        summary.rows_read,
        summary.skipped_invalid,
        summary.encoding
    );
    println!("found:     {} keys, {} records", n("found"), n("records"));
    println!(
        "output:    {} rows written to {}",
        n("rows_written"),
        a.output.display()
    );
    let hint_text = match hint {
        "full" => "downloaded whole (cached for the next queries)",
        "rows" => "the rows changed since the cached copy",
        "cached" => "the cached copy was current",
        _ => "none (bucket-revealing mode)",
    };
    println!("hint:      {hint_text}");
    if let Some(e) = r["hint_cache_error"].as_str() {
        eprintln!("warning: the hint could not be cached: {e}");
    }
    println!(
        "time:      {:.2} s; sent {:.2} MiB, received {:.2} MiB, {} rounds",
        start.elapsed().as_secs_f64(),
        mib(job.bytes_sent),
        mib(job.bytes_received),
        n("rounds")
    );
    println!("protocol:  keyword-pir, {curve}, {lookup}; job {}", job.id);
    Ok(ExitCode::SUCCESS)
}
