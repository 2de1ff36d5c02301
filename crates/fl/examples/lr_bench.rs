//! Vertical logistic regression on a real split (both parties in one process on the in-memory
//! channel), timed, checked against the fixed-point reference bit for bit, and compared with
//! plaintext logistic regression:
//!
//! ```text
//! cargo run --release -p unseen-fl --example lr_bench -- DATA_DIR [ou|paillier]
//! ```
//!
//! `DATA_DIR` (or `UNSEEN_FL_BENCH_DATA`) holds `guest_train.csv`, `host_train.csv`,
//! `guest_test.csv`, `host_test.csv`: `id,label,features…` for the guest, `id,features…` for the
//! host, rows aligned (what `/work/shared/bench/fl/gen_data.py german` writes to
//! `data/german/`). The scheme is the second argument or `LR_SCHEME` (default Paillier-2048);
//! hyper-parameters come from `LR_RATE` (0.15), `LR_EPOCHS` (10), `LR_BATCH` (64), `LR_L2`
//! (0.01), `LR_TOL` (1e-4). Prints one line; exits non-zero if the federated weights differ
//! from the reference's.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::str::FromStr;
use std::time::Instant;

use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;
use unseen_crypto::he::{HeSecretKey, OuSecretKey, PaillierSecretKey};
use unseen_fl::lr::LrConfig;
use unseen_fl::lr::local::{Split, run_local};
use unseen_fl::lr::reference::{self, Gradient};

const USAGE: &str = "usage: lr_bench DATA_DIR [ou|paillier]  (or UNSEEN_FL_BENCH_DATA=DATA_DIR)\n\
    DATA_DIR holds guest_train.csv, host_train.csv, guest_test.csv and host_test.csv\n\
    (make them with /work/shared/bench/fl/gen_data.py german, then use data/german)";

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("lr_bench: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Rows of one party's split file.
struct Table {
    ids: Vec<String>,
    rows: Vec<Vec<f64>>,
}

/// Both parties' rows of one split.
struct Data {
    guest: Vec<Vec<f64>>,
    labels: Vec<bool>,
    host: Vec<Vec<f64>>,
}

impl Data {
    fn split(&self) -> Split<'_> {
        Split {
            guest: &self.guest,
            labels: &self.labels,
            host: &self.host,
        }
    }
}

fn run() -> Result<(), String> {
    let mut args = std::env::args().skip(1);
    let dir = args
        .next()
        .or_else(|| std::env::var("UNSEEN_FL_BENCH_DATA").ok())
        .map(PathBuf::from)
        .ok_or_else(|| format!("no data directory\n{USAGE}"))?;
    if !dir.is_dir() {
        return Err(format!("{}: not a directory\n{USAGE}", dir.display()));
    }
    let scheme = args
        .next()
        .or_else(|| std::env::var("LR_SCHEME").ok())
        .unwrap_or_else(|| "paillier".to_owned());
    let cfg = LrConfig {
        learning_rate: env("LR_RATE", 0.15)?,
        epochs: env("LR_EPOCHS", 10)?,
        batch_size: env("LR_BATCH", 64)?,
        l2: env("LR_L2", 0.01)?,
        tol: env("LR_TOL", 1e-4)?,
        fit_intercept: true,
    };
    let train = read_split(&dir, "train")?;
    let test = read_split(&dir, "test")?;
    match scheme.as_str() {
        "ou" => bench::<OuSecretKey>("OU-2048", cfg, &train, &test),
        "paillier" => bench::<PaillierSecretKey>("Paillier-2048", cfg, &train, &test),
        other => Err(format!("unknown scheme {other:?}: ou or paillier")),
    }
}

fn bench<S: HeSecretKey>(
    scheme: &str,
    cfg: LrConfig,
    train: &Data,
    test: &Data,
) -> Result<(), String> {
    let t = Instant::now();
    let keys = (
        S::generate(2048).map_err(|e| e.to_string())?,
        S::generate(2048).map_err(|e| e.to_string())?,
    );
    let keygen = t.elapsed();
    let (mut r1, mut r2) = (
        ChaCha20Rng::seed_from_u64(31),
        ChaCha20Rng::seed_from_u64(32),
    );
    let run = run_local(
        cfg,
        train.split(),
        test.split(),
        (&keys.0, &keys.1),
        (&mut r1, &mut r2),
    )
    .map_err(|e| format!("federated run: {e}"))?;
    let plain = |g| {
        reference::train(
            &cfg,
            &train.guest,
            &train.labels,
            &train.host,
            &run.shuffle_seed,
            run.guest.model_id,
            g,
        )
        .map_err(|e| format!("reference: {e}"))
    };
    let fixed = plain(Gradient::FixedPoint)?;
    let same = run.guest == fixed.guest && run.host == fixed.host;
    let sig = plain(Gradient::Sigmoid)?;
    let sig_scores = reference::predict(&sig.guest, &sig.host, &test.guest, &test.host)
        .map_err(|e| format!("reference prediction: {e}"))?;
    let auc = |a: Option<f64>| a.map_or("n/a (one class)".to_owned(), |a| format!("{a:.5}"));
    println!(
        "lr bench, {scheme}: {} train rows ({}+{} features), {} test rows; keygen {:.2?}; \
         {} epochs (converged: {}), train {:.2?}, {} bytes sent / {} received by the guest, \
         {} rounds; predict {:.2?}; test AUC federated {}, plaintext sigmoid LR {}; \
         weights equal the fixed-point reference: {same}",
        train.labels.len(),
        train.guest.first().map_or(0, Vec::len),
        train.host.first().map_or(0, Vec::len),
        test.labels.len(),
        keygen,
        run.epochs,
        run.converged,
        run.train_time,
        run.train_stats.bytes_sent,
        run.train_stats.bytes_received,
        run.train_stats.rounds,
        run.predict_time,
        auc(run.test_auc),
        auc(reference::auc(&sig_scores, &test.labels)),
    );
    if same {
        Ok(())
    } else {
        Err("the federated weights differ from the fixed-point reference's".to_owned())
    }
}

/// `name` from the environment, or `default` when unset.
fn env<T: FromStr>(name: &str, default: T) -> Result<T, String> {
    match std::env::var(name) {
        Err(_) => Ok(default),
        Ok(v) => v
            .parse()
            .map_err(|_| format!("{name}={v:?} is not a valid value")),
    }
}

/// The guest's and host's files of one split (`train` or `test`), rows aligned by id.
fn read_split(dir: &Path, name: &str) -> Result<Data, String> {
    let guest = read_csv(&dir.join(format!("guest_{name}.csv")))?;
    let host = read_csv(&dir.join(format!("host_{name}.csv")))?;
    if guest.ids != host.ids {
        return Err(format!("{name}: guest and host rows are not aligned by id"));
    }
    let mut labels = Vec::with_capacity(guest.rows.len());
    let mut features = Vec::with_capacity(guest.rows.len());
    for (i, row) in guest.rows.into_iter().enumerate() {
        let Some((&label, rest)) = row.split_first() else {
            return Err(format!("guest_{name}.csv row {}: no label column", i + 1));
        };
        labels.push(label == 1.0);
        features.push(rest.to_vec());
    }
    Ok(Data {
        guest: features,
        labels,
        host: host.rows,
    })
}

/// A CSV file with a header, an id column and numeric columns.
fn read_csv(path: &Path) -> Result<Table, String> {
    let text =
        std::fs::read_to_string(path).map_err(|e| format!("{}: {e}\n{USAGE}", path.display()))?;
    let mut table = Table {
        ids: Vec::new(),
        rows: Vec::new(),
    };
    for (n, line) in text.lines().enumerate().skip(1) {
        if line.is_empty() {
            continue;
        }
        let mut fields = line.split(',');
        table.ids.push(fields.next().unwrap_or_default().to_owned());
        let row = fields
            .map(|v| v.trim().parse::<f64>())
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| format!("{}:{}: {e}", path.display(), n + 1))?;
        table.rows.push(row);
    }
    Ok(table)
}
