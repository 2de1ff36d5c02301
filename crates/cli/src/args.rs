//! Command-line arguments as clap parses them; `psi.rs` validates them into a run configuration.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// unseen: compute on each other's data without seeing it (可用不可见).
///
/// Start with `unseen demo`; see `unseen psi --help` for two parties on real CSV files.
#[derive(Debug, Parser)]
#[command(name = "unseen", version, propagate_version = true)]
pub(crate) struct Cli {
    /// The node directory (from `unseen init`) for node commands.
    #[arg(long, global = true, env = "UNSEEN_DIR", value_name = "DIR")]
    pub(crate) dir: Option<PathBuf>,
    #[command(subcommand)]
    pub(crate) command: Command,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Private set intersection (安全求交) of two CSV files held by two parties.
    #[command(after_help = PSI_EXAMPLES)]
    Psi(PsiArgs),
    /// Two nodes on this machine (a bank and a data partner) set up from scratch run a PSI job
    /// over mutual TLS on generated ID-card data; results and audit chains are checked.
    #[command(
        after_help = "Example:\n  unseen demo\n  unseen demo --curve sm2 --bank 5000 --partner 3000 --common 1000\n  unseen demo --in-process    # the protocol alone, both parties in one process"
    )]
    Demo(DemoArgs),
    /// Benchmarks (both roles in one process over loopback; one JSON line).
    #[command(subcommand)]
    Bench(BenchCommand),
    /// Creates a node directory: identity (key pair, self-signed certificate), database, API
    /// token.
    #[command(after_help = crate::node_cmd::INIT_EXAMPLES)]
    Init(crate::node_cmd::InitArgs),
    /// Runs the node (daemon), shows it, or prints its certificate for partners.
    #[command(subcommand)]
    Node(crate::node_cmd::NodeCommand),
    /// Partners this node works with (their certificates are pinned).
    #[command(subcommand)]
    Partner(crate::node_cmd::PartnerCommand),
    /// Datasets this node offers to jobs.
    #[command(subcommand)]
    Dataset(crate::node_cmd::DatasetCommand),
    /// Which partner may run which job on which dataset (default: nothing is allowed).
    #[command(subcommand)]
    Policy(crate::node_cmd::PolicyCommand),
    /// Jobs with partners: submit, list, show, cancel, rerun.
    #[command(subcommand)]
    Job(crate::node_cmd::JobCommand),
    /// The tamper-evident audit log (SM3 hash chain).
    #[command(subcommand)]
    Audit(crate::node_cmd::AuditCommand),
    /// Tokens of the local HTTP API with roles (admin, operator, scorer).
    #[command(subcommand)]
    Token(crate::node_cmd::TokenCommand),
    /// Hidden-query tables this node offers to partners (keyword PIR).
    #[command(subcommand)]
    Pir(crate::pir_cmd::PirCommand),
    /// Hidden query (隐匿查询): looks keys up in a partner's published table; the partner
    /// learns only how many keys were looked up.
    #[command(after_help = crate::pir_cmd::QUERY_EXAMPLES)]
    Query(crate::pir_cmd::QueryArgs),
    /// Joint modeling (联合建模): trains a model with a partner holding other features of the
    /// same customers (through the local daemon).
    #[command(subcommand)]
    Train(crate::fl_cmd::TrainCommand),
    /// Scores a dataset with a jointly trained model (the partner evaluates its own part).
    #[command(after_help = crate::fl_cmd::PREDICT_EXAMPLES_REF)]
    Predict(crate::fl_cmd::PredictArgs),
    /// Scores one applicant with a jointly trained model, in real time through the daemon
    /// (the partner evaluates its own part on its row for the key).
    #[command(after_help = crate::fl_cmd::SCORE_EXAMPLES)]
    Score(crate::fl_cmd::ScoreArgs),
    /// Writes the model report (AUC, KS, ROC/KS plots, …) of a labelled holdout dataset as
    /// one self-contained HTML page.
    #[command(after_help = crate::fl_cmd::REPORT_EXAMPLES_REF)]
    Report(crate::fl_cmd::ReportArgs),
    /// Model parts held by this node.
    #[command(subcommand)]
    Model(crate::fl_cmd::ModelCommand),
}

const PSI_EXAMPLES: &str = "\
Examples (two terminals on one machine):
  # the partner listens
  unseen psi --listen 127.0.0.1:7000 -i partner.csv -k id \\
      --key-type id-card -o partner_common.csv
  # the bank connects
  unseen psi --connect 127.0.0.1:7000 -i bank.csv -k id \\
      --key-type id-card -o bank_common.csv

Both sides must use the same --curve, --mode and --key-type (checked at the start: a difference
fails both sides). In mode `both` each side writes its own rows of the common customers, sorted
by key, so row i of both outputs is the same customer. The input and --output are checked before
the peer is contacted: an input with no rows is refused unless --allow-empty.
Exit codes: 0 success, 2 bad input or usage, 1 other failure.";

/// Who learns what (both sides must agree).
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub(crate) enum Mode {
    /// Both parties learn the intersection and write their matching rows, aligned.
    Both,
    /// Only the listening party learns the intersection.
    ListenerOnly,
    /// Only the connecting party learns the intersection.
    DialerOnly,
    /// Both learn only the number of common items.
    Cardinality,
}

/// Group for the ECDH protocol.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub(crate) enum Curve {
    /// ristretto255 (RFC 9496), the default.
    Ristretto255,
    /// SM2 (GB/T 32918) with SM3, for the 国密 profile.
    Sm2,
}

impl From<Curve> for unseen_crypto::CurveId {
    fn from(c: Curve) -> Self {
        match c {
            Curve::Ristretto255 => Self::Ristretto255,
            Curve::Sm2 => Self::Sm2,
        }
    }
}

/// Key normalisation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub(crate) enum KeyTypeArg {
    /// 18-digit resident ID (GB 11643): check digit verified, 15-digit numbers converted.
    IdCard,
    /// Mainland mobile number: +86/0086, spaces and dashes stripped; 11 digits starting with 1.
    Phone,
    /// Any string, trimmed.
    String,
}

/// Input character encoding.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub(crate) enum EncodingArg {
    /// UTF-8 (BOM optional) if the file is valid UTF-8, else GB18030/GBK.
    Auto,
    /// UTF-8.
    #[value(name = "utf-8")]
    Utf8,
    /// GBK (read as its superset GB18030).
    Gbk,
    /// GB18030.
    Gb18030,
}

#[derive(Debug, Args)]
pub(crate) struct PsiArgs {
    /// Listen on this loopback address and wait for the peer (e.g. 127.0.0.1:7000).
    #[arg(
        long,
        value_name = "ADDR",
        conflicts_with = "connect",
        required_unless_present = "connect"
    )]
    pub(crate) listen: Option<String>,
    /// Connect to the peer at this loopback address (retries until --connect-timeout).
    #[arg(long, value_name = "ADDR")]
    pub(crate) connect: Option<String>,
    /// CSV file with a header row, or a Parquet file (flat columns; see docs/data.md).
    #[arg(long, short, value_name = "FILE")]
    pub(crate) input: PathBuf,
    /// Header name of the key column.
    #[arg(long, short, value_name = "COLUMN")]
    pub(crate) key: String,
    /// How keys are normalised before matching (both sides must use the same).
    #[arg(long, value_enum, default_value_t = KeyTypeArg::String)]
    pub(crate) key_type: KeyTypeArg,
    /// Where this side's matching rows go (CSV, UTF-8, header kept). Written atomically;
    /// not needed in mode `cardinality` or on the side that learns nothing.
    #[arg(long, short, value_name = "FILE")]
    pub(crate) output: Option<PathBuf>,
    /// Group for the protocol.
    #[arg(long, value_enum, default_value_t = Curve::Ristretto255)]
    pub(crate) curve: Curve,
    /// Who learns what.
    #[arg(long, value_enum, default_value_t = Mode::Both)]
    pub(crate) mode: Mode,
    /// Skip rows whose key is invalid (counted in the summary) instead of failing.
    #[arg(long)]
    pub(crate) skip_invalid: bool,
    /// Input encoding.
    #[arg(long, value_enum, default_value_t = EncodingArg::Auto)]
    pub(crate) encoding: EncodingArg,
    /// Fail on a repeated key instead of keeping its first row.
    #[arg(long)]
    pub(crate) strict_duplicates: bool,
    /// Refuse a peer that announces more items than this, before anything is computed or
    /// allocated for them (the comparing side keeps about 100 bytes per peer item; the default
    /// 2^27 bounds that to about 13 GiB). At most 4294967295.
    #[arg(long, value_name = "N", default_value_t = unseen_psi::DEFAULT_MAX_PEER_ITEMS)]
    pub(crate) max_peer_items: u64,
    /// Run even if the input has no rows (a header-only or empty file); by default such an input
    /// is refused before the peer is contacted.
    #[arg(long)]
    pub(crate) allow_empty: bool,
    /// Seconds to wait for the peer (to connect to --listen, or to send the next message) before
    /// failing.
    #[arg(long, value_name = "SECS", default_value_t = 300)]
    pub(crate) timeout: u64,
    /// Seconds `--connect` keeps retrying while the peer is not listening yet.
    #[arg(long, value_name = "SECS", default_value_t = 30)]
    pub(crate) connect_timeout: u64,
    /// Print the summary as one JSON line instead of text.
    #[arg(long)]
    pub(crate) json: bool,
}

#[derive(Debug, Args)]
pub(crate) struct DemoArgs {
    /// Group for the protocol.
    #[arg(long, value_enum, default_value_t = Curve::Ristretto255)]
    pub(crate) curve: Curve,
    /// Customers of the bank.
    #[arg(long, default_value_t = 20_000)]
    pub(crate) bank: usize,
    /// Customers of the partner.
    #[arg(long, default_value_t = 15_000)]
    pub(crate) partner: usize,
    /// Customers they have in common.
    #[arg(long, default_value_t = 6_000)]
    pub(crate) common: usize,
    /// Applicants the bank looks up in the partner's data by hidden query (keyword PIR), spread
    /// over its customers (at most all of them).
    #[arg(long, default_value_t = 200)]
    pub(crate) applicants: usize,
    /// Run only the protocol, both parties in one process over an in-memory channel (no nodes).
    #[arg(long)]
    pub(crate) in_process: bool,
}

#[derive(Debug, Subcommand)]
pub(crate) enum BenchCommand {
    /// ECDH-PSI: both roles over loopback TCP, N items per side, 50 % overlap.
    #[command(
        after_help = "Example:\n  unseen bench psi --items 1048576\n  unseen bench psi --items 65536 --curve sm2"
    )]
    Psi(BenchPsiArgs),
    /// Keyword PIR (hidden query): a server database of N generated ID-card keys with random
    /// records, one client looking up K keys (half present), over loopback mutual TLS.
    #[command(
        after_help = "Example:\n  unseen bench pir --rows 1048576 --keys 1 --record-bytes 32\n  unseen bench pir --rows 65536 --keys 64 --curve sm2    # SM2-SM3 OPRF, SM4-GCM\n  unseen bench pir --rows 1048576 --keys 64 --update-rows 3000 --reveal-bucket-k-anonymity 100"
    )]
    Pir(BenchPirArgs),
    /// Framed throughput over loopback mutual TLS 1.3 (one direction).
    #[command(after_help = "Example:\n  unseen bench transport --gib 2 --frame-kib 1024")]
    Transport(BenchTransportArgs),
    /// Additively homomorphic encryption (OU or Paillier): encryptions, decryptions, additions
    /// and ciphertext × plaintext per second on one core, plus 2-thread batches.
    #[command(
        after_help = "Example:\n  unseen bench he --scheme ou --bits 2048\n  unseen bench he --scheme paillier --bits 3072 --seconds 5"
    )]
    He(BenchHeArgs),
    /// Vertical SecureBoost: the guest (labels + features) and the host (other features) train
    /// over loopback TCP in one process, then score the test rows by federated prediction.
    #[command(after_help = TRAIN_EXAMPLES)]
    Train(BenchTrainArgs),
}

/// Which additively homomorphic scheme to measure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum HeSchemeArg {
    /// Okamoto–Uchiyama (n = p²q).
    Ou,
    /// Paillier (n = pq, ciphertexts mod n²).
    Paillier,
}

#[derive(Debug, Args)]
pub(crate) struct BenchHeArgs {
    /// Scheme.
    #[arg(long, value_enum, default_value_t = HeSchemeArg::Ou)]
    pub(crate) scheme: HeSchemeArg,
    /// Modulus bits: 2048 or 3072.
    #[arg(long, default_value_t = 2048)]
    pub(crate) bits: u32,
    /// Seconds of measurement per operation.
    #[arg(long, default_value_t = 2.0)]
    pub(crate) seconds: f64,
}

const TRAIN_EXAMPLES: &str = "Example:\n  unseen bench train --guest g_train.csv --host h_train.csv --guest-test g_test.csv --host-test h_test.csv --id id --label label --trees 100 --depth 5 --bins 32 --learning-rate 0.1";

#[derive(Debug, Args)]
pub(crate) struct BenchTrainArgs {
    /// The guest's training CSV: the id column, the label column (0/1) and numeric features.
    #[arg(long)]
    pub(crate) guest: std::path::PathBuf,
    /// The host's training CSV: the id column and numeric features.
    #[arg(long)]
    pub(crate) host: std::path::PathBuf,
    /// The guest's test CSV (same columns as --guest).
    #[arg(long)]
    pub(crate) guest_test: std::path::PathBuf,
    /// The host's test CSV (same columns as --host).
    #[arg(long)]
    pub(crate) host_test: std::path::PathBuf,
    /// Name of the id column (rows are joined by it; every id must be on both sides).
    #[arg(long, default_value = "id")]
    pub(crate) id: String,
    /// Name of the label column in the guest's files.
    #[arg(long, default_value = "label")]
    pub(crate) label: String,
    /// Trees.
    #[arg(long, default_value_t = 100)]
    pub(crate) trees: u32,
    /// Maximum depth.
    #[arg(long, default_value_t = 5)]
    pub(crate) depth: u8,
    /// Quantile bins per feature (each party bins its own features).
    #[arg(long, default_value_t = 32)]
    pub(crate) bins: usize,
    /// Learning rate (shrinkage).
    #[arg(long, default_value_t = 0.1)]
    pub(crate) learning_rate: f64,
    /// L2 regularisation of leaf weights.
    #[arg(long, default_value_t = 1.0)]
    pub(crate) lambda: f64,
    /// Smallest hessian sum of a child.
    #[arg(long, default_value_t = 1.0)]
    pub(crate) min_child_weight: f64,
    /// Modulus bits of the OU key.
    #[arg(long, default_value_t = 2048)]
    pub(crate) key_bits: u32,
    /// Do not pack several histogram bins into one ciphertext.
    #[arg(long)]
    pub(crate) no_pack: bool,
    /// Also train the plaintext oracle and check that the federated trees are identical.
    #[arg(long)]
    pub(crate) check_oracle: bool,
    /// Train only the centralised plaintext oracle (same bins and integers) and report its
    /// test AUC and KS: the lossless reference, no cryptography.
    #[arg(long)]
    pub(crate) oracle_only: bool,
}

#[derive(Debug, Args)]
pub(crate) struct BenchPirArgs {
    /// Rows (keys) in the server's database.
    #[arg(long, default_value_t = 1 << 20)]
    pub(crate) rows: usize,
    /// Keys the client looks up in one query (half present, half absent).
    #[arg(long, default_value_t = 1)]
    pub(crate) keys: usize,
    /// Bytes per record.
    #[arg(long, default_value_t = 32)]
    pub(crate) record_bytes: usize,
    /// OPRF group: ristretto255 (with AES-256-GCM) or sm2 (SM2-SM3 OPRF with SM4-GCM).
    #[arg(long, value_enum, default_value_t = Curve::Ristretto255)]
    pub(crate) curve: Curve,
    /// Also measure an in-place update: change this many rows (a third deleted, a third with
    /// new records, a third new keys), then query again with the old hint (only changed hint
    /// rows are downloaded).
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub(crate) update_rows: usize,
    /// Also measure the cheaper mode that REVEALS each key's bucket to the server (k-anonymity
    /// among at least K keys of the table; see docs/protocols/keyword-pir.md).
    #[arg(long, value_name = "K")]
    pub(crate) reveal_bucket_k_anonymity: Option<u32>,
}

#[derive(Debug, Args)]
pub(crate) struct BenchTransportArgs {
    /// GiB to send.
    #[arg(long, default_value_t = 2)]
    pub(crate) gib: u64,
    /// Frame size in KiB.
    #[arg(long, default_value_t = 1024)]
    pub(crate) frame_kib: usize,
}

#[derive(Debug, Args)]
pub(crate) struct BenchPsiArgs {
    /// Items per side.
    #[arg(long, default_value_t = 1 << 16)]
    pub(crate) items: usize,
    /// Group.
    #[arg(long, value_enum, default_value_t = Curve::Ristretto255)]
    pub(crate) curve: Curve,
    /// Who learns what.
    #[arg(long, value_enum, default_value_t = Mode::Both)]
    pub(crate) mode: Mode,
}
