//! Node commands: `init`, `node`, `partner`, `dataset`, `policy`, `job`, `audit`.
//!
//! Registries, job listings and the audit log are read and changed in the node directory
//! directly (SQLite; safe while the daemon runs), so they work whether or not the node is
//! running. `job submit`, `cancel` and `rerun` need the running daemon and go through its API.

use std::io::IsTerminal;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use clap::{Args, Subcommand, ValueEnum};
use serde_json::{Value, json};
use unseen_node::client::Client;
use unseen_node::ops::{self, DatasetInput, PartnerInput, PolicyInput};
use unseen_node::{NodeDir, NodeError};
use unseen_store::{AuditReport, Store};
use unseen_transport::Certificate;

use crate::UsageError;
use crate::args::{Curve, EncodingArg, KeyTypeArg};

pub(crate) const INIT_EXAMPLES: &str = "\
Example (a bank and a data partner on one machine):
  unseen init --dir A --name bank-a --listen 127.0.0.1:7101 --api 127.0.0.1:7201
  unseen init --dir B --name data-b --listen 127.0.0.1:7102 --api 127.0.0.1:7202
  unseen --dir A node export-cert > bank-a.pem     # hand to the partner out of band
Then `partner add`, `dataset add`, `policy allow` on each side, `node run`, `job submit`.";

#[derive(Debug, Args)]
pub(crate) struct InitArgs {
    /// The node's name (its certificate's common name).
    #[arg(long)]
    name: String,
    /// Where partners connect (mutual TLS).
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:7100")]
    listen: SocketAddr,
    /// The local HTTP API (loopback only; bearer token in DIR/api.token).
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:7200")]
    api: SocketAddr,
}

#[derive(Debug, Subcommand)]
pub(crate) enum NodeCommand {
    /// Runs the node in the foreground: partners on --listen (mutual TLS), the API on --api.
    /// Stop it with Ctrl-C or SIGTERM. Logs go to stderr and DIR/logs/node.log.
    Run,
    /// Prints this node's certificate (PEM) to hand to partners out of band.
    ExportCert,
    /// Shows the node's name, certificate fingerprint and addresses.
    Info {
        /// JSON output.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
pub(crate) enum PartnerCommand {
    /// Registers a partner and pins its certificate (only a node presenting exactly this
    /// certificate is accepted as this partner).
    #[command(
        after_help = "Example:\n  unseen --dir A partner add --name data-b --address 127.0.0.1:7102 --cert data-b.pem"
    )]
    Add {
        /// The name this node uses for the partner.
        #[arg(long)]
        name: String,
        /// The partner node's listen address (host:port).
        #[arg(long)]
        address: String,
        /// The partner's certificate, PEM (its `unseen node export-cert`).
        #[arg(long, value_name = "FILE")]
        cert: PathBuf,
    },
    /// Lists partners.
    List {
        /// JSON output.
        #[arg(long)]
        json: bool,
    },
    /// Removes a partner and every policy naming it.
    Remove {
        /// The partner's name.
        name: String,
    },
}

#[derive(Debug, Subcommand)]
pub(crate) enum DatasetCommand {
    /// Registers a dataset (CSV or Parquet); the file is read once to check the key column and
    /// every key.
    #[command(
        after_help = "Example:\n  unseen --dir A dataset add --name customers --path customers.csv --key id --key-type id-card"
    )]
    Add {
        /// The dataset's name (partners name it in jobs).
        #[arg(long)]
        name: String,
        /// The data: CSV with a header row, or Parquet (flat columns).
        #[arg(long, value_name = "FILE")]
        path: PathBuf,
        /// Header name of the key column.
        #[arg(long, value_name = "COLUMN")]
        key: String,
        /// How keys are normalised (both partners must use the same).
        #[arg(long, value_enum, default_value_t = KeyTypeArg::String)]
        key_type: KeyTypeArg,
        /// Character encoding.
        #[arg(long, value_enum, default_value_t = EncodingArg::Auto)]
        encoding: EncodingArg,
        /// Skip rows whose key is invalid instead of refusing the file.
        #[arg(long)]
        skip_invalid: bool,
    },
    /// Lists datasets.
    List {
        /// JSON output.
        #[arg(long)]
        json: bool,
    },
    /// Removes a dataset and its policies (the file is not touched).
    Remove {
        /// The dataset's name.
        name: String,
    },
    /// Re-registers a dataset whose file was changed on purpose: reads it again as `add` does
    /// and records its size, modification time and SM3 digest (jobs refuse a file that changed
    /// since it was registered or refreshed). Policies and key settings are kept.
    Refresh {
        /// The dataset's name.
        name: String,
    },
}

/// Who may receive rows from jobs on a dataset.
#[derive(Clone, Copy, Debug, ValueEnum)]
pub(crate) enum ReceiversArg {
    /// No restriction.
    Any,
    /// Only jobs where both nodes receive the rows.
    Both,
    /// Only jobs where this node alone receives the rows.
    Owner,
    /// Only jobs where the partner alone receives the rows.
    Partner,
    /// Only jobs where nobody receives rows (cardinality).
    None,
}

#[derive(Debug, Subcommand)]
pub(crate) enum PolicyCommand {
    /// Allows a partner a kind of job on one of this node's datasets.
    #[command(
        after_help = "Example:\n  unseen --dir A policy allow --dataset customers --partner data-b --job psi\n  unseen --dir A policy allow --dataset customers --partner data-b --job psi --receivers none"
    )]
    Allow {
        /// This node's dataset.
        #[arg(long)]
        dataset: String,
        /// The partner.
        #[arg(long)]
        partner: String,
        /// The job kind.
        #[arg(long, value_name = "KIND")]
        job: String,
        /// Who may receive rows.
        #[arg(long, value_enum, default_value_t = ReceiversArg::Any)]
        receivers: ReceiversArg,
    },
    /// Removes the rule for a dataset, partner and job kind (nothing is allowed without one).
    Deny {
        /// This node's dataset.
        #[arg(long)]
        dataset: String,
        /// The partner.
        #[arg(long)]
        partner: String,
        /// The job kind.
        #[arg(long, value_name = "KIND")]
        job: String,
    },
    /// Lists the rules.
    List {
        /// JSON output.
        #[arg(long)]
        json: bool,
    },
}

/// Who learns the common rows of a PSI job.
#[derive(Clone, Copy, Debug, ValueEnum)]
pub(crate) enum JobMode {
    /// Both nodes write their own rows of the common customers, aligned.
    Both,
    /// Only this node (the submitter) learns them.
    InitiatorOnly,
    /// Only the partner learns them.
    ResponderOnly,
    /// Both learn only how many there are.
    Cardinality,
}

#[derive(Debug, Subcommand)]
pub(crate) enum JobCommand {
    /// Submits a job to a partner (needs the running node).
    #[command(subcommand)]
    Submit(SubmitCommand),
    /// Lists jobs, newest first.
    List {
        /// JSON output.
        #[arg(long)]
        json: bool,
    },
    /// Shows one job.
    Show {
        /// The job id.
        id: String,
        /// JSON output.
        #[arg(long)]
        json: bool,
    },
    /// Cancels a job (a running job's connection is closed; nothing is kept).
    Cancel {
        /// The job id.
        id: String,
    },
    /// Runs a finished job again under a new id (printed last).
    Rerun {
        /// The job id.
        id: String,
        /// Wait for the new job to end; exit 0 only if it succeeded.
        #[arg(long)]
        wait: bool,
    },
}

#[derive(Debug, Subcommand)]
pub(crate) enum SubmitCommand {
    /// Private set intersection of this node's dataset with the partner's.
    #[command(
        after_help = "Example:\n  unseen --dir A job submit psi --partner data-b --dataset customers --peer-dataset their_customers --wait\n\nThe job id is printed on the last line. Each node that learns rows writes DIR/outputs/JOB_ID.csv."
    )]
    Psi {
        /// The partner.
        #[arg(long)]
        partner: String,
        /// This node's dataset.
        #[arg(long)]
        dataset: String,
        /// The partner's dataset (its name on the partner's node).
        #[arg(long)]
        peer_dataset: String,
        /// Who learns the rows.
        #[arg(long, value_enum, default_value_t = JobMode::Both)]
        mode: JobMode,
        /// Group for the protocol.
        #[arg(long, value_enum, default_value_t = Curve::Ristretto255)]
        curve: Curve,
        /// Wait for the job to end; exit 0 only if it succeeded.
        #[arg(long)]
        wait: bool,
    },
}

#[derive(Debug, Subcommand)]
pub(crate) enum AuditCommand {
    /// Checks the hash chain and the SM2 signatures: exit 0 if they hold, 1 naming the first
    /// bad record (only then), 2 for a bad flag or anchor, 3 if the database cannot be read.
    #[command(
        after_help = "Example:\n  unseen --dir A audit verify\n  unseen --dir A audit verify --anchor 42:9f1c…   # a head the partner recorded\n\nA partner's node records this node's audit head at the end of every job\n(`partner_audit_head` in its job.succeeded record); --anchor checks that this log\nstill has that record with that hash, which catches a rewrite of the whole chain.\n\nExit codes: 0 intact; 1 BROKEN (tampering); 2 usage (e.g. an anchor that is not\nSEQ:HASH with 64 hex digits); 3 the database cannot be opened or read (full disk,\ndamaged file)."
    )]
    Verify {
        /// SEQ:HASH of a record as recorded elsewhere (e.g. by a partner); repeatable.
        #[arg(long, value_name = "SEQ:HASH")]
        anchor: Vec<String>,
    },
    /// Shows audit records, oldest first.
    Show {
        /// Only records of this job.
        #[arg(long)]
        job: Option<String>,
        /// JSON output.
        #[arg(long)]
        json: bool,
    },
}

/// The role of an API token.
#[derive(Clone, Copy, Debug, ValueEnum)]
pub(crate) enum RoleArg {
    /// Everything: partners, datasets, policies, jobs, audit.
    Admin,
    /// Jobs (submit, list, show, cancel, rerun; training and prediction), reading the
    /// registries, metrics and the audit log.
    Operator,
    /// Single scores only (`POST /v1/models/MODEL_ID/score`) and the node's identity.
    Scorer,
}

impl From<RoleArg> for unseen_store::TokenRole {
    fn from(r: RoleArg) -> Self {
        match r {
            RoleArg::Admin => Self::Admin,
            RoleArg::Operator => Self::Operator,
            RoleArg::Scorer => Self::Scorer,
        }
    }
}

#[derive(Debug, Subcommand)]
pub(crate) enum TokenCommand {
    /// Creates a token with a role and prints its secret once (only its SM3 digest is kept).
    #[command(
        after_help = "Example:\n  unseen --dir A token create --role scorer --name loan-app\n  curl -H \"Authorization: Bearer SECRET\" …\n\nThe secret is printed on stdout, alone on its line; store it where the application\nreads it. DIR/api.token stays an admin token."
    )]
    Create {
        /// What the token may do.
        #[arg(long, value_enum)]
        role: RoleArg,
        /// Its name (who holds it); shown in `token list` and the log, used by `token revoke`.
        #[arg(long)]
        name: String,
    },
    /// Lists tokens (names, roles, creation times; never secrets).
    List {
        /// JSON output.
        #[arg(long)]
        json: bool,
    },
    /// Revokes a token: the running node refuses it from the next request on.
    Revoke {
        /// The token's name.
        name: String,
    },
}

pub(crate) fn node_dir(dir: Option<&PathBuf>) -> anyhow::Result<NodeDir> {
    match dir {
        Some(d) => Ok(NodeDir::new(d.clone())),
        None => Err(UsageError(
            "no node directory: give --dir DIR (or set UNSEEN_DIR); create one with `unseen init`"
                .into(),
        )
        .into()),
    }
}

pub(crate) fn store(dir: &NodeDir) -> anyhow::Result<Store> {
    dir.check()?;
    Ok(unseen_node::audit_key::open_store(dir)?)
}

/// Largest certificate file read, in bytes (the store keeps PEMs of at most 64 KiB).
const MAX_PEM_BYTES: u64 = 65_536;

fn own_certificate(dir: &NodeDir) -> anyhow::Result<Certificate> {
    let path = dir.cert();
    let pem = unseen_data::read_small_text(&path, MAX_PEM_BYTES)?;
    Ok(Certificate::from_pem(&pem).map_err(NodeError::from)?)
}

fn print_json(v: &impl serde::Serialize) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string_pretty(v)?);
    Ok(())
}

pub(crate) fn init(dir: Option<&PathBuf>, a: &InitArgs) -> anyhow::Result<ExitCode> {
    let dir = node_dir(dir)?;
    let done = unseen_node::init::init(&dir, &a.name, a.listen, a.api)?;
    println!("initialised node {} in {}", done.name, dir.root().display());
    println!("certificate fingerprint: {}", done.fingerprint);
    println!("partners connect to:     {}", a.listen);
    println!(
        "local API:               http://{} (token in {})",
        a.api,
        dir.token().display()
    );
    println!(
        "next: `unseen --dir {0} node export-cert > {1}.pem` and hand it to your partners",
        dir.root().display(),
        done.name
    );
    Ok(ExitCode::SUCCESS)
}

pub(crate) fn node(dir: Option<&PathBuf>, c: &NodeCommand) -> anyhow::Result<ExitCode> {
    let dir = node_dir(dir)?;
    match c {
        NodeCommand::Run => {
            unseen_node::Config::load(&dir)?;
            unseen_node::init_logging(&dir)?;
            unseen_node::daemon::run(&dir)?;
        }
        NodeCommand::ExportCert => {
            dir.check()?;
            print!("{}", own_certificate(&dir)?.to_pem());
        }
        NodeCommand::Info { json } => {
            let config = unseen_node::Config::load(&dir)?;
            let info =
                unseen_node::node_info(&config, &own_certificate(&dir)?.fingerprint(), &dir)?;
            if *json {
                print_json(&info)?;
            } else {
                for k in [
                    "name",
                    "fingerprint",
                    "listen",
                    "api",
                    "audit_public_key",
                    "version",
                ] {
                    println!("{k:<17} {}", info[k].as_str().unwrap_or("-"));
                }
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub(crate) fn partner(dir: Option<&PathBuf>, c: &PartnerCommand) -> anyhow::Result<ExitCode> {
    let dir = node_dir(dir)?;
    let mut s = store(&dir)?;
    match c {
        PartnerCommand::Add {
            name,
            address,
            cert,
        } => {
            // A regular file of at most 64 KiB: a FIFO or a device must not block or fill memory.
            let pem = unseen_data::read_small_text(cert, MAX_PEM_BYTES)
                .with_context(|| format!("--cert {}", cert.display()))
                .map_err(|e| UsageError(format!("{e:#}")))?;
            Certificate::from_pem(&pem)
                .map_err(NodeError::from)
                .with_context(|| format!("--cert {}", cert.display()))?;
            let own = own_certificate(&dir)?.fingerprint();
            let input = PartnerInput {
                name: name.clone(),
                address: address.clone(),
                cert_pem: pem,
            };
            let p = ops::add_partner(&mut s, "cli", &own, &input)?;
            println!(
                "partner {} at {} pinned: {}",
                p.name, p.address, p.fingerprint
            );
        }
        PartnerCommand::List { json } => {
            let ps = s.partners().map_err(NodeError::from)?;
            if *json {
                print_json(&ps)?;
            } else {
                for p in ps {
                    println!("{:<20} {:<24} {}", p.name, p.address, p.fingerprint);
                }
            }
        }
        PartnerCommand::Remove { name } => {
            ops::remove_partner(&mut s, "cli", name)?;
            println!("partner {name} removed (and its policies)");
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub(crate) fn key_type_name(k: KeyTypeArg) -> &'static str {
    match k {
        KeyTypeArg::IdCard => "id-card",
        KeyTypeArg::Phone => "phone",
        KeyTypeArg::String => "string",
    }
}

fn encoding_name(e: EncodingArg) -> &'static str {
    match e {
        EncodingArg::Auto => "auto",
        EncodingArg::Utf8 => "utf-8",
        EncodingArg::Gbk => "gbk",
        EncodingArg::Gb18030 => "gb18030",
    }
}

pub(crate) fn dataset(dir: Option<&PathBuf>, c: &DatasetCommand) -> anyhow::Result<ExitCode> {
    let dir = node_dir(dir)?;
    let mut s = store(&dir)?;
    match c {
        DatasetCommand::Add {
            name,
            path,
            key,
            key_type,
            encoding,
            skip_invalid,
        } => {
            let input = DatasetInput {
                name: name.clone(),
                path: path.clone(),
                key: key.clone(),
                key_type: key_type_name(*key_type).into(),
                encoding: encoding_name(*encoding).into(),
                skip_invalid: *skip_invalid,
            };
            let (d, summary) =
                ops::add_dataset(&dir, &mut s, "cli", &input, ops::DataAccess::Operator)?;
            println!(
                "dataset {} registered: {} ({} rows, key {} as {}, columns {})",
                d.name,
                d.path,
                summary.rows_read,
                d.key_column,
                d.key_type,
                d.columns.join(",")
            );
            if summary.skipped_invalid > 0 || summary.duplicates_dropped > 0 {
                println!(
                    "note: {} rows with invalid keys will be skipped, {} repeated keys dropped \
                     (`pir publish --duplicates K` keeps up to K rows per key)",
                    summary.skipped_invalid, summary.duplicates_dropped
                );
            }
        }
        DatasetCommand::List { json } => {
            let ds = s.datasets().map_err(NodeError::from)?;
            if *json {
                print_json(&ds)?;
            } else {
                for d in ds {
                    println!(
                        "{:<20} {:<10} {:<8} {}",
                        d.name, d.key_column, d.key_type, d.path
                    );
                }
            }
        }
        DatasetCommand::Refresh { name } => {
            let (d, summary) = ops::refresh_dataset(&mut s, "cli", name)?;
            println!(
                "dataset {} refreshed: {} ({} rows, SM3 {})",
                d.name,
                d.path,
                summary.rows_read,
                d.stamp.map(|st| st.sm3).unwrap_or_default()
            );
        }
        DatasetCommand::Remove { name } => {
            ops::remove_dataset(&dir, &mut s, "cli", name)?;
            println!(
                "dataset {name} removed (and its policies and hidden-query table; the file is \
                 untouched)"
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn receivers_name(r: ReceiversArg) -> &'static str {
    match r {
        ReceiversArg::Any => "any",
        ReceiversArg::Both => "both",
        ReceiversArg::Owner => "owner",
        ReceiversArg::Partner => "partner",
        ReceiversArg::None => "none",
    }
}

pub(crate) fn policy(dir: Option<&PathBuf>, c: &PolicyCommand) -> anyhow::Result<ExitCode> {
    let dir = node_dir(dir)?;
    let mut s = store(&dir)?;
    match c {
        PolicyCommand::Allow {
            dataset,
            partner,
            job,
            receivers,
        } => {
            let p = ops::allow(
                &mut s,
                "cli",
                &PolicyInput {
                    dataset: dataset.clone(),
                    partner: partner.clone(),
                    job: job.clone(),
                    receivers: receivers_name(*receivers).into(),
                },
            )?;
            println!(
                "allowed: partner {} may run {} jobs on dataset {} (rows to: {})",
                p.partner,
                p.job_kind,
                p.dataset,
                p.receivers.as_str()
            );
        }
        PolicyCommand::Deny {
            dataset,
            partner,
            job,
        } => {
            if ops::deny(&mut s, "cli", dataset, partner, job)? {
                println!("denied: partner {partner} may no longer run {job} jobs on {dataset}");
            } else {
                println!(
                    "no rule to remove: partner {partner} was not allowed {job} jobs on {dataset}"
                );
            }
        }
        PolicyCommand::List { json } => {
            let ps = s.policies().map_err(NodeError::from)?;
            if *json {
                print_json(&ps)?;
            } else {
                for p in ps {
                    println!(
                        "{:<20} {:<20} {:<6} rows to {}",
                        p.dataset,
                        p.partner,
                        p.job_kind,
                        p.receivers.as_str()
                    );
                }
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn psi_mode(m: JobMode) -> unseen_node::kinds::psi::PsiMode {
    use unseen_node::kinds::psi::PsiMode;
    match m {
        JobMode::Both => PsiMode::Both,
        JobMode::InitiatorOnly => PsiMode::InitiatorOnly,
        JobMode::ResponderOnly => PsiMode::ResponderOnly,
        JobMode::Cardinality => PsiMode::Cardinality,
    }
}

pub(crate) fn job(dir: Option<&PathBuf>, c: &JobCommand) -> anyhow::Result<ExitCode> {
    let dir = node_dir(dir)?;
    match c {
        JobCommand::Submit(SubmitCommand::Psi {
            partner,
            dataset,
            peer_dataset,
            mode,
            curve,
            wait,
        }) => {
            let client = Client::new(&dir)?;
            let req = unseen_node::jobs::SubmitRequest {
                kind: "psi".into(),
                partner: partner.clone(),
                dataset: dataset.clone(),
                peer_dataset: peer_dataset.clone(),
                mode: Some(psi_mode(*mode)),
                curve: Some((*curve).into()),
                ..Default::default()
            };
            let job = client.post("/v1/jobs", &serde_json::to_value(&req)?)?;
            follow(&client, &job, *wait)
        }
        JobCommand::Rerun { id, wait } => {
            let client = Client::new(&dir)?;
            let job = client.post(&format!("/v1/jobs/{id}/rerun"), &json!({}))?;
            follow(&client, &job, *wait)
        }
        JobCommand::Cancel { id } => {
            let client = Client::new(&dir)?;
            let job = client.post(&format!("/v1/jobs/{id}/cancel"), &json!({}))?;
            println!("job {id}: {}", job["state"].as_str().unwrap_or("?"));
            Ok(ExitCode::SUCCESS)
        }
        JobCommand::List { json } => {
            let jobs = store(&dir)?.jobs(None).map_err(NodeError::from)?;
            if *json {
                print_json(&jobs)?;
            } else {
                for j in jobs {
                    println!(
                        "{}  {:<4} {:<9} {:<10} {:<16} {} ↔ {}:{}",
                        j.id,
                        j.kind,
                        j.role.as_str(),
                        j.state.as_str(),
                        unseen_store::format_time(j.created_ms),
                        j.dataset,
                        j.partner,
                        j.peer_dataset
                    );
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        JobCommand::Show { id, json } => {
            let Some(j) = store(&dir)?.job(id).map_err(NodeError::from)? else {
                return Err(UsageError(format!("no job {id} on this node")).into());
            };
            let v = serde_json::to_value(&j)?;
            if *json {
                print_json(&v)?;
            } else {
                print_job(&v);
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn print_job(j: &Value) {
    let s = |k: &str| match &j[k] {
        Value::Null => "-".to_owned(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    println!("job:       {} ({}, {})", s("id"), s("kind"), s("role"));
    println!("state:     {}", s("state"));
    if !j["reason"].is_null() {
        println!("reason:    {}", s("reason"));
    }
    if !j["fault"].is_null() {
        println!("fault:     {}", s("fault"));
    }
    println!(
        "partner:   {} (dataset {} ↔ {})",
        s("partner"),
        s("dataset"),
        s("peer_dataset")
    );
    println!("params:    {}", s("params"));
    println!("progress:  {}/{}", s("progress_done"), s("progress_total"));
    println!("output:    {}", s("output"));
    if !j["result"].is_null() {
        println!("result:    {}", s("result"));
    }
    println!(
        "traffic:   {} bytes sent, {} received",
        s("bytes_sent"),
        s("bytes_received")
    );
}

/// The exit code of a job that ended, by whose fault it was (the README's table): 0 it
/// succeeded; 2 this node's input or configuration; 1 the partner, the network, this node's
/// internals, or a cancel.
pub(crate) fn job_exit(state: &str, fault: Option<&str>) -> ExitCode {
    match (state, fault) {
        ("succeeded", _) => ExitCode::SUCCESS,
        (_, Some("input" | "config")) => ExitCode::from(2),
        _ => ExitCode::from(1),
    }
}

/// For a job run from this process that did not succeed: prints why (and whose fault) and
/// returns its exit code ([`job_exit`]); `None` if it succeeded.
pub(crate) fn unsuccessful(job: &unseen_store::Job) -> Option<ExitCode> {
    if job.state == unseen_store::JobState::Succeeded {
        return None;
    }
    let reason = job.reason.as_deref().unwrap_or_default();
    let fault = job.fault.as_deref();
    let whose = fault.map(|f| format!(" ({f} fault)")).unwrap_or_default();
    eprintln!(
        "error: job {} {}{whose}: {reason}",
        job.id,
        job.state.as_str()
    );
    Some(job_exit(job.state.as_str(), fault))
}

/// Prints the job and, with `wait`, polls until it ends. The job id is always the last line.
pub(crate) fn follow(client: &Client, job: &Value, wait: bool) -> anyhow::Result<ExitCode> {
    let id = job["id"].as_str().unwrap_or_default().to_owned();
    if !wait {
        eprintln!("job submitted; follow it with `unseen job show {id}`");
        println!("{id}");
        return Ok(ExitCode::SUCCESS);
    }
    let tty = std::io::stderr().is_terminal();
    let pb = crate::progress::bar("job");
    let mut last_state = String::new();
    let end = loop {
        let j = client.get(&format!("/v1/jobs/{id}"))?;
        let state = j["state"].as_str().unwrap_or("?").to_owned();
        if state != last_state {
            if !tty || pb.is_hidden() {
                eprintln!("job {id}: {state}");
            }
            last_state.clone_from(&state);
        }
        if let (Some(done), Some(total)) =
            (j["progress_done"].as_u64(), j["progress_total"].as_u64())
            && total > 0
        {
            crate::progress::update(&pb, unseen_psi::Progress { done, total });
        }
        if matches!(
            state.as_str(),
            "succeeded" | "failed" | "cancelled" | "rejected"
        ) {
            break j;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    pb.finish_and_clear();
    print_job(&end);
    println!("{id}");
    Ok(job_exit(
        end["state"].as_str().unwrap_or_default(),
        end["fault"].as_str(),
    ))
}

pub(crate) fn audit(dir: Option<&PathBuf>, c: &AuditCommand) -> anyhow::Result<ExitCode> {
    let dir = node_dir(dir)?;
    let s = store(&dir)?;
    match c {
        AuditCommand::Verify { anchor } => {
            // Every anchor is checked for form before any is compared: a typo is a usage error
            // (exit 2), never reported as a broken chain.
            let anchors = anchor
                .iter()
                .map(|a| parse_anchor(a))
                .collect::<Result<Vec<_>, _>>()?;
            for (seq, hash) in anchors {
                if let Some(reason) = s.audit_check_anchor(seq, &hash).map_err(NodeError::from)? {
                    println!("audit chain BROKEN at record {seq}: {reason}");
                    eprintln!("error: audit chain broken at record {seq}: {reason}");
                    return Ok(ExitCode::from(1));
                }
            }
            verify_report(&dir, &s)
        }
        AuditCommand::Show { job, json } => {
            let records = s.audit_records(job.as_deref()).map_err(NodeError::from)?;
            if *json {
                print_json(&records)?;
            } else {
                for r in records {
                    println!(
                        "{:>5} {} {:<10} {:<20} {:<9} {}{}",
                        r.seq,
                        unseen_store::format_time(r.time_ms),
                        r.actor,
                        r.action,
                        r.outcome,
                        r.job_id
                            .as_deref()
                            .map(|j| format!("job {j} "))
                            .unwrap_or_default(),
                        r.partner
                            .as_deref()
                            .map(|p| format!("partner {p}"))
                            .unwrap_or_default(),
                    );
                }
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// `SEQ:HASH` as a partner records it: a record number from 1 and the record's SM3 hash, 64 hex
/// digits. Anything else is a usage error naming the expected form (the input is echoed bounded).
fn parse_anchor(a: &str) -> Result<(u64, String), UsageError> {
    let shown: String = a.chars().take(80).collect();
    let bad = |why: &str| {
        UsageError(format!(
            "--anchor {shown:?}: {why}; expected SEQ:HASH, e.g. 42:9f1c… (the 64 hex digits of the record's SM3 hash)"
        ))
    };
    let Some((seq, hash)) = a.split_once(':') else {
        return Err(bad("no ':'"));
    };
    let seq = match seq.parse::<u64>() {
        Ok(n) if n >= 1 => n,
        _ => return Err(bad("the record number is not a whole number from 1")),
    };
    if hash.len() != 64 || !hash.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(bad("the hash is not 64 hex digits"));
    }
    Ok((seq, hash.to_ascii_lowercase()))
}

fn verify_report(dir: &NodeDir, s: &Store) -> anyhow::Result<ExitCode> {
    match unseen_node::audit_key::verify(dir, s)? {
        AuditReport::Intact { records, head } => {
            let signed = if unseen_node::audit_key::public_key_hex(dir)?.is_some() {
                ", every record signed by the node's SM2 audit key"
            } else {
                ""
            };
            println!("audit chain intact: {records} records{signed}, head {head}");
            Ok(ExitCode::SUCCESS)
        }
        AuditReport::Broken { seq, reason } => {
            println!("audit chain BROKEN at record {seq}: {reason}");
            eprintln!("error: audit chain broken at record {seq}: {reason}");
            Ok(ExitCode::from(1))
        }
    }
}

pub(crate) fn token(dir: Option<&PathBuf>, c: &TokenCommand) -> anyhow::Result<ExitCode> {
    let dir = node_dir(dir)?;
    let mut s = store(&dir)?;
    match c {
        TokenCommand::Create { role, name } => {
            let (t, secret) = ops::create_token(&mut s, "cli", name, (*role).into())?;
            eprintln!(
                "token {} created with role {}; its secret follows, shown only this once:",
                t.name, t.role
            );
            println!("{}", secret.as_str());
        }
        TokenCommand::List { json } => {
            let ts = s.api_tokens().map_err(NodeError::from)?;
            if *json {
                print_json(&ts)?;
            } else {
                println!(
                    "{:<20} {:<9} (the node directory's file)",
                    "api.token", "admin"
                );
                for t in ts {
                    println!(
                        "{:<20} {:<9} {}",
                        t.name,
                        t.role.as_str(),
                        unseen_store::format_time(t.created_ms)
                    );
                }
            }
        }
        TokenCommand::Revoke { name } => {
            ops::revoke_token(&mut s, "cli", name)?;
            println!("token {name} revoked");
        }
    }
    Ok(ExitCode::SUCCESS)
}
