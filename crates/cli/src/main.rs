//! `unseen`: private set intersection between institutions (and, later, more), from the command
//! line. Glue only: the protocols live in `unseen-psi`, data handling in `unseen-data`.

mod args;
mod bench;
mod bench_train;
mod demo;
mod demo_fl;
mod demo_nodes;
mod fl_cmd;
mod node_cmd;
mod pir_cmd;
mod progress;
mod psi;
mod synth;

use std::process::ExitCode;

use clap::Parser;

/// An error caused by the user's input or flags (exit code 2), as opposed to a failure of the
/// run itself (exit code 1).
#[derive(Debug)]
pub(crate) struct UsageError(pub(crate) String);

impl std::fmt::Display for UsageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for UsageError {}

/// The exit code when the node's own database cannot be opened, read or written (a full disk, a
/// damaged or foreign file, a newer schema): not the input's fault (2), not a failed run (1), and
/// never a verdict on the audit chain (`audit verify` exits 1 only for a broken chain).
const EXIT_STORAGE: u8 = 3;

/// Whether this cause is the node's storage failing rather than the request or the run.
fn is_storage_failure(cause: &(dyn std::error::Error + 'static)) -> bool {
    use unseen_store::StoreError;
    let store = cause.downcast_ref::<StoreError>().or_else(|| {
        match cause.downcast_ref::<unseen_node::NodeError>() {
            Some(unseen_node::NodeError::Store(e)) => Some(e),
            _ => None,
        }
    });
    matches!(
        store,
        Some(
            StoreError::Open { .. }
                | StoreError::Sql(_)
                | StoreError::Corrupt(_)
                | StoreError::TooNew { .. }
        )
    )
}

/// Ends quietly when stdout's reader has gone (`unseen job show ID --json | head`): Rust ignores
/// SIGPIPE, so `println!` panics on the broken pipe; every other panic keeps its report.
fn quiet_broken_pipe() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let payload = info.payload();
        let msg = payload
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| payload.downcast_ref::<&str>().copied())
            .unwrap_or("");
        if msg.starts_with("failed printing to stdout") && msg.contains("Broken pipe") {
            std::process::exit(0);
        }
        default(info);
    }));
}

fn main() -> ExitCode {
    quiet_broken_pipe();
    let cli = args::Cli::parse();
    let dir = cli.dir.as_ref();
    let result = match &cli.command {
        args::Command::Psi(a) => psi::run(a),
        args::Command::Demo(a) if a.in_process => demo::run(a),
        args::Command::Demo(a) => demo_nodes::run(a),
        args::Command::Bench(args::BenchCommand::Psi(a)) => bench::psi(a),
        args::Command::Bench(args::BenchCommand::Transport(a)) => bench::transport(a),
        args::Command::Bench(args::BenchCommand::Pir(a)) => bench::pir(a),
        args::Command::Bench(args::BenchCommand::He(a)) => bench::he(a),
        args::Command::Bench(args::BenchCommand::Train(a)) => bench_train::run(a),
        args::Command::Init(a) => node_cmd::init(dir, a),
        args::Command::Node(c) => node_cmd::node(dir, c),
        args::Command::Partner(c) => node_cmd::partner(dir, c),
        args::Command::Dataset(c) => node_cmd::dataset(dir, c),
        args::Command::Policy(c) => node_cmd::policy(dir, c),
        args::Command::Job(c) => node_cmd::job(dir, c),
        args::Command::Audit(c) => node_cmd::audit(dir, c),
        args::Command::Token(c) => node_cmd::token(dir, c),
        args::Command::Pir(c) => pir_cmd::pir(dir, c),
        args::Command::Query(a) => pir_cmd::query(dir, a),
        args::Command::Train(c) => fl_cmd::train(dir, c),
        args::Command::Predict(a) => fl_cmd::predict(dir, a),
        args::Command::Report(a) => fl_cmd::report(dir, a),
        args::Command::Score(a) => fl_cmd::score(dir, a),
        args::Command::Model(c) => fl_cmd::model(dir, c),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            // One line: the context chain, outermost first; a cause already spelled out by its
            // parent's message is not repeated.
            let mut msg = String::new();
            for cause in e.chain().map(ToString::to_string) {
                if !msg.contains(&cause) {
                    if !msg.is_empty() {
                        msg.push_str(": ");
                    }
                    msg.push_str(&cause);
                }
            }
            eprintln!("error: {msg}");
            let bad_input = e.chain().any(|c| {
                c.is::<UsageError>()
                    || c.is::<unseen_data::DataError>()
                    || c.downcast_ref::<unseen_node::NodeError>()
                        .is_some_and(unseen_node::NodeError::is_user_error)
            });
            if bad_input {
                ExitCode::from(2)
            } else if e.chain().any(is_storage_failure) {
                ExitCode::from(EXIT_STORAGE)
            } else {
                ExitCode::from(1)
            }
        }
    }
}
