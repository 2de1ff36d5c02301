//! `unseen psi`: one party of an ECDH-PSI over loopback TCP, CSV in, CSV out.

use std::net::{SocketAddr, TcpListener, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::Context;
use unseen_channel::{Channel, StreamChannel};
use unseen_crypto::CurveId as NodeCurve;
use unseen_data::{Encoding, KeyType, ReadOptions, Table};
use unseen_node::kinds::psi as psi_job;
use unseen_node::kinds::psi::PsiMode;
use unseen_psi::{Params, PsiOutput, Reveal};
use unseen_transport::tcp::{self, TcpOptions};

use crate::UsageError;
use crate::args::{Curve, EncodingArg, KeyTypeArg, Mode, PsiArgs};

/// Which end of the connection we are.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Side {
    Listener,
    Dialer,
}

/// Protocol role and reveal mode for `side` under `mode`: the dialer plays the node protocol's
/// initiator.
pub(crate) fn role(mode: Mode, side: Side) -> (bool, Reveal) {
    let mode = match mode {
        Mode::Both => PsiMode::Both,
        Mode::DialerOnly => PsiMode::InitiatorOnly,
        Mode::ListenerOnly => PsiMode::ResponderOnly,
        Mode::Cardinality => PsiMode::Cardinality,
    };
    psi_job::role(mode, side == Side::Dialer)
}

fn usage(msg: impl Into<String>) -> anyhow::Error {
    UsageError(msg.into()).into()
}

/// Resolves `addr` and refuses anything that is not loopback (plain TCP is unauthenticated).
pub(crate) fn loopback_addr(flag: &str, addr: &str) -> anyhow::Result<SocketAddr> {
    let resolved: Vec<SocketAddr> = addr
        .to_socket_addrs()
        .map_err(|e| usage(format!("{flag} {addr}: not a host:port address ({e})")))?
        .collect();
    let Some(first) = resolved.first().copied() else {
        return Err(usage(format!("{flag} {addr}: resolves to no address")));
    };
    if let Some(bad) = resolved.iter().find(|a| !a.ip().is_loopback()) {
        return Err(usage(format!(
            "{flag} {addr}: {} is not a loopback address; this build speaks plain TCP, which is \
             only allowed on 127.0.0.1/::1 (mutual TLS between nodes comes with `unseen node`)",
            bad.ip()
        )));
    }
    Ok(first)
}

/// Read options from the input flags `unseen psi` and `unseen query` share.
pub(crate) fn input_options(
    key: &str,
    key_type: KeyTypeArg,
    skip_invalid: bool,
    encoding: EncodingArg,
) -> ReadOptions {
    let key_type = match key_type {
        KeyTypeArg::IdCard => KeyType::IdCard,
        KeyTypeArg::Phone => KeyType::Phone,
        KeyTypeArg::String => KeyType::String,
    };
    let mut o = ReadOptions::new(key.to_owned(), key_type);
    o.skip_invalid = skip_invalid;
    o.encoding = match encoding {
        EncodingArg::Auto => Encoding::Auto,
        EncodingArg::Utf8 => Encoding::Utf8,
        EncodingArg::Gbk | EncodingArg::Gb18030 => Encoding::Gb18030,
    };
    o
}

fn read_options(a: &PsiArgs) -> ReadOptions {
    let o = input_options(&a.key, a.key_type, a.skip_invalid, a.encoding);
    // Only keys in memory during the protocol; the matching rows are read again for the output.
    psi_job::key_pass(o, a.strict_duplicates)
}

/// Checks, before anyone is contacted, that `out` can be written as the atomic writer will
/// (a temporary file in the same directory, renamed over `out`): its directory exists and takes
/// a new file, `out` is not a directory nor anything but a regular file, and it is not the
/// input. An existing regular file is replaced, as before.
pub(crate) fn check_output(
    out: &Path,
    input: &Path,
    out_flag: &str,
    input_flag: &str,
) -> anyhow::Result<()> {
    let shown = out.display();
    let dir = match out.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    if !dir.is_dir() {
        return Err(usage(format!(
            "{out_flag} {shown}: directory {} does not exist",
            dir.display()
        )));
    }
    if out.file_name().is_none() {
        return Err(usage(format!(
            "{out_flag} {shown}: not a file name (give the file to write, e.g. {}/common.csv)",
            dir.display()
        )));
    }
    match std::fs::metadata(out) {
        Ok(m) if m.is_dir() => {
            return Err(usage(format!(
                "{out_flag} {shown} is a directory; give the file to write inside it, e.g. \
                 {}",
                out.join("common.csv").display()
            )));
        }
        Ok(m) if !m.is_file() => {
            return Err(usage(format!(
                "{out_flag} {shown} exists and is not a regular file; refusing to replace it"
            )));
        }
        _ => {}
    }
    if let (Ok(a), Ok(b)) = (out.canonicalize(), input.canonicalize())
        && a == b
    {
        return Err(usage(format!(
            "{out_flag} {shown} is the {input_flag} file; refusing to overwrite it"
        )));
    }
    // The writer creates a temporary file beside `out`: try that now, with a name of our own.
    let probe = dir.join(format!(".unseen-output-check.{}.tmp", std::process::id()));
    match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&probe)
    {
        Ok(f) => {
            drop(f);
            let _ = std::fs::remove_file(&probe);
        }
        Err(e) => {
            return Err(usage(format!(
                "{out_flag} {shown}: cannot create a file in directory {}: {e}",
                dir.display()
            )));
        }
    }
    Ok(())
}

/// Refuses an input with no rows (unless the user allows it) before the peer is contacted: a
/// run on it would only tell the peer our size and the user nothing.
pub(crate) fn check_not_empty(input: &Path, t: &Table, allow_empty: bool) -> anyhow::Result<()> {
    if !t.keys.is_empty() || allow_empty {
        return Ok(());
    }
    let s = &t.summary;
    let why = if s.rows_read == 0 {
        "has no data rows".to_owned()
    } else {
        format!(
            "has no usable rows ({} read, {} skipped as invalid)",
            s.rows_read, s.skipped_invalid
        )
    };
    Err(usage(format!(
        "{}: {why}; nothing to intersect (give --allow-empty to run anyway)",
        input.display()
    )))
}

/// Runs one role over `ch` with the group chosen at run time.
pub(crate) fn run_role<C: Channel>(
    ch: &mut C,
    curve: Curve,
    leader: bool,
    items: &[String],
    params: Params,
    progress: &(dyn Fn(unseen_psi::Progress) + Sync),
) -> anyhow::Result<PsiOutput> {
    Ok(psi_job::run_role(
        ch,
        NodeCurve::from(curve),
        leader,
        items,
        params,
        progress,
    )?)
}

pub(crate) fn run(a: &PsiArgs) -> anyhow::Result<ExitCode> {
    let start = Instant::now();
    let (side, addr) = match (&a.listen, &a.connect) {
        (Some(l), None) => (Side::Listener, loopback_addr("--listen", l)?),
        (None, Some(c)) => (Side::Dialer, loopback_addr("--connect", c)?),
        _ => return Err(usage("give exactly one of --listen ADDR or --connect ADDR")),
    };
    let (leader, reveal) = role(a.mode, side);
    let rows = psi_job::learns_rows(leader, reveal);
    let mode_name = format!("{:?}", a.mode).to_lowercase();
    match (&a.output, rows) {
        (None, true) => {
            return Err(usage(format!(
                "--output FILE is required: this side learns the common rows in mode {mode_name}"
            )));
        }
        (Some(out), true) => check_output(out, &a.input, "--output", "input")?,
        (Some(_), false) => {
            eprintln!("note: this side learns no rows in mode {mode_name}; --output is ignored");
        }
        (None, false) => {}
    }

    if a.max_peer_items > unseen_psi::MAX_ITEMS {
        return Err(usage(format!(
            "--max-peer-items {}: at most {}",
            a.max_peer_items,
            unseen_psi::MAX_ITEMS
        )));
    }

    // Read and validate the input before touching the network: a bad file never reaches the peer.
    let read_opts = read_options(a);
    let table = unseen_data::read_table(&a.input, &read_opts)?;
    report_input(&a.input, &table);
    check_not_empty(&a.input, &table, a.allow_empty)?;
    // The key type travels in the hello: a partner reading its keys otherwise fails both sides.
    let params = psi_job::params(reveal, read_opts.key_type, a.max_peer_items)?;

    let opts = TcpOptions {
        connect_timeout: Duration::from_secs(a.connect_timeout),
        read_timeout: Duration::from_secs(a.timeout.max(1)),
    };
    let mut ch: StreamChannel = match side {
        Side::Listener => {
            let l = TcpListener::bind(addr).with_context(|| format!("cannot listen on {addr}"))?;
            eprintln!("listening on {addr}, waiting for the peer…");
            tcp::accept(&l, opts, Duration::from_secs(a.timeout.max(1)))
                .context("waiting for the peer to connect")?
        }
        Side::Dialer => {
            tcp::connect(addr, opts).with_context(|| format!("cannot connect to {addr}"))?
        }
    };
    let pb = crate::progress::bar("psi");
    let proto_start = Instant::now();
    let out = run_role(&mut ch, a.curve, leader, &table.keys, params, &|p| {
        crate::progress::update(&pb, p);
    })?;
    pb.finish_and_clear();
    let proto_s = proto_start.elapsed().as_secs_f64();
    drop(ch);

    let written = match (&a.output, &out.intersection) {
        (Some(path), Some(idx)) if rows => {
            psi_job::write_rows(path, &a.input, &read_opts, &table, idx)?;
            Some(path.clone())
        }
        _ => None,
    };
    let summary = Summary {
        side,
        leader,
        mode: &mode_name,
        curve: a.curve,
        table: &table,
        out: &out,
        output: written.as_deref(),
        wall_s: start.elapsed().as_secs_f64(),
        proto_s,
    };
    if a.json {
        println!("{}", summary.json());
    } else {
        summary.print();
    }
    Ok(ExitCode::SUCCESS)
}

pub(crate) fn report_input(path: &Path, t: &Table) {
    let s = &t.summary;
    for (line, reason) in &s.skipped_examples {
        if s.format == unseen_data::Format::Parquet {
            eprintln!("skipped {}: row {line}: {reason}", path.display());
        } else {
            eprintln!("skipped {}:{line}: {reason}", path.display());
        }
    }
    if s.skipped_invalid > s.skipped_examples.len() as u64 {
        eprintln!("… {} rows skipped in all", s.skipped_invalid);
    }
    if s.duplicates_dropped > 0 {
        let ex: Vec<String> = s
            .duplicate_examples
            .iter()
            .map(|(d, k)| {
                if s.format == unseen_data::Format::Parquet {
                    format!("row {d} repeats row {k}")
                } else {
                    format!("line {d} repeats line {k}")
                }
            })
            .collect();
        eprintln!(
            "warning: {}: {} rows repeat an earlier key and were dropped (first row kept): {}",
            path.display(),
            s.duplicates_dropped,
            ex.join(", ")
        );
    }
}

struct Summary<'a> {
    side: Side,
    leader: bool,
    mode: &'a str,
    curve: Curve,
    table: &'a Table,
    out: &'a PsiOutput,
    output: Option<&'a Path>,
    wall_s: f64,
    proto_s: f64,
}

fn mib(b: u64) -> f64 {
    b as f64 / 1_048_576.0
}

impl Summary<'_> {
    fn curve_name(&self) -> &'static str {
        NodeCurve::from(self.curve).name()
    }

    fn print(&self) {
        let s = &self.table.summary;
        let role = if self.leader { "leader" } else { "follower" };
        let side = match self.side {
            Side::Listener => "listener",
            Side::Dialer => "dialer",
        };
        println!(
            "items in:      {} ({} rows read, {} invalid skipped, {} duplicates dropped, {})",
            self.table.keys.len(),
            s.rows_read,
            s.skipped_invalid,
            s.duplicates_dropped,
            s.encoding
        );
        println!("peer items:    {}", self.out.peer_items);
        match (&self.out.intersection, self.out.cardinality) {
            (Some(idx), _) => match self.output {
                Some(p) => println!(
                    "intersection:  {} rows written to {}",
                    idx.len(),
                    p.display()
                ),
                None => println!("intersection:  {}", idx.len()),
            },
            (None, Some(c)) => println!("intersection:  {c} (size only; no rows revealed)"),
            (None, None) => println!(
                "intersection:  not revealed to this side (mode {})",
                self.mode
            ),
        }
        let st = &self.out.stats;
        println!(
            "time:          {:.2} s ({:.2} s protocol); sent {:.2} MiB, received {:.2} MiB, {} rounds",
            self.wall_s,
            self.proto_s,
            mib(st.bytes_sent),
            mib(st.bytes_received),
            st.rounds
        );
        println!(
            "protocol:      ecdh-psi, {}, mode {}, {side} = {role}",
            self.curve_name(),
            self.mode
        );
    }

    fn json(&self) -> String {
        let s = &self.table.summary;
        serde_json::json!({
            "side": match self.side { Side::Listener => "listener", Side::Dialer => "dialer" },
            "role": if self.leader { "leader" } else { "follower" },
            "mode": self.mode,
            "curve": self.curve_name(),
            "items": self.table.keys.len(),
            "rows_read": s.rows_read,
            "skipped_invalid": s.skipped_invalid,
            "duplicates_dropped": s.duplicates_dropped,
            "peer_items": self.out.peer_items,
            "intersection": self.out.intersection.as_ref().map(|v| v.len() as u64).or(self.out.cardinality),
            "output": self.output.map(|p| p.display().to_string()),
            "wall_s": self.wall_s,
            "protocol_s": self.proto_s,
            "bytes_sent": self.out.stats.bytes_sent,
            "bytes_received": self.out.stats.bytes_received,
            "rounds": self.out.stats.rounds,
        })
        .to_string()
    }
}
