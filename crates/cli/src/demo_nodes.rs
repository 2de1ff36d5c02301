//! `unseen demo`: two real nodes on this machine, a bank and a data partner, set up from scratch
//! (identities, pinned certificates, datasets, policies), run a PSI job over mutual TLS, and check
//! both results against the plaintext intersection and both audit chains.

use std::collections::HashSet;
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use anyhow::Context;
use serde_json::Value;
use unseen_node::client::Client;
use unseen_node::ops::{self, DatasetInput, PartnerInput, PolicyInput};
use unseen_node::{NodeDir, NodeError};
use unseen_store::AuditReport;
use unseen_transport::Certificate;

use crate::args::DemoArgs;
use crate::synth;

/// Kills the daemons when the demo ends, however it ends.
struct Daemons(Vec<Child>);

impl Drop for Daemons {
    fn drop(&mut self) {
        for c in &mut self.0 {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// Registers the demo's CSV `path` as dataset `name`, keyed by ID-card numbers in column `id`.
pub(crate) fn add_demo_dataset(
    dir: &unseen_node::NodeDir,
    store: &mut unseen_store::Store,
    name: &str,
    path: PathBuf,
) -> Result<(unseen_store::Dataset, unseen_data::ReadSummary), NodeError> {
    ops::add_dataset(
        dir,
        store,
        "demo",
        &DatasetInput {
            name: name.into(),
            path,
            key: "id".into(),
            key_type: "id-card".into(),
            encoding: "auto".into(),
            skip_invalid: false,
        },
        ops::DataAccess::Operator,
    )
}

/// Allows `partner` jobs of kind `job` on `dataset`, results to `receivers`.
pub(crate) fn allow_demo(
    store: &mut unseen_store::Store,
    dataset: &str,
    partner: &str,
    job: &str,
    receivers: &str,
) -> Result<(), NodeError> {
    ops::allow(
        store,
        "demo",
        &PolicyInput {
            dataset: dataset.into(),
            partner: partner.into(),
            job: job.into(),
            receivers: receivers.into(),
        },
    )
    .map(drop)
}

fn free_port() -> anyhow::Result<SocketAddr> {
    let l = TcpListener::bind("127.0.0.1:0").context("finding a free loopback port")?;
    Ok(l.local_addr()?)
}

struct DemoNode {
    name: &'static str,
    dir: NodeDir,
    cert: Certificate,
}

fn write_csv(path: &Path, header: &str, rows: impl Iterator<Item = String>) -> anyhow::Result<()> {
    unseen_data::write_lines_atomic(path, std::iter::once(header.to_owned()).chain(rows))
        .with_context(|| format!("writing {}", path.display()))
}

fn read_keys(path: &Path) -> anyhow::Result<Vec<String>> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    Ok(text
        .lines()
        .skip(1)
        .filter_map(|l| l.split(',').next().map(str::to_owned))
        .collect())
}

fn workspace() -> anyhow::Result<PathBuf> {
    let stamp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or_default();
    let root = std::env::temp_dir().join(format!("unseen-demo-{}-{stamp}", std::process::id()));
    std::fs::create_dir_all(&root).with_context(|| format!("creating {}", root.display()))?;
    Ok(root)
}

fn start(exe: &Path, node: &DemoNode, root: &Path) -> anyhow::Result<Child> {
    let log = std::fs::File::create(root.join(format!("{}.stderr.log", node.name)))?;
    Command::new(exe)
        .arg("--dir")
        .arg(node.dir.root())
        .args(["node", "run"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .context("starting a node daemon")
}

/// Runs `unseen ARGS` (a command a user would type) and parses its `--json` output.
fn run_cli(exe: &Path, args: &[&str]) -> anyhow::Result<Value> {
    let out = Command::new(exe)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .context("running unseen")?;
    anyhow::ensure!(
        out.status.success(),
        "`unseen {}` failed: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr).trim()
    );
    let text = String::from_utf8_lossy(&out.stdout);
    serde_json::from_str(text.trim())
        .with_context(|| format!("output of `unseen {}`", args[2..].join(" ")))
}

fn wait_healthy(client: &Client, name: &str) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        match client.get("/healthz") {
            Ok(_) => return Ok(()),
            Err(NodeError::NotRunning { .. }) if Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(100));
            }
            Err(e) => return Err(e).with_context(|| format!("node {name} did not come up")),
        }
    }
}

fn wait_job(client: &Client, id: &str) -> anyhow::Result<Value> {
    loop {
        let j = client.get(&format!("/v1/jobs/{id}"))?;
        if matches!(
            j["state"].as_str(),
            Some("succeeded" | "failed" | "cancelled" | "rejected")
        ) {
            return Ok(j);
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

pub(crate) fn run(a: &DemoArgs) -> anyhow::Result<ExitCode> {
    crate::demo::check_sizes(a)?;
    let exe = std::env::current_exe().context("locating the unseen binary")?;
    let root = workspace()?;
    let curve = unseen_crypto::CurveId::from(a.curve).name();
    println!("unseen demo: two nodes on this machine, a bank and a data partner");
    println!(
        "  workspace {} (kept, to explore afterwards)",
        root.display()
    );

    // 1. Data: generated ID-card numbers with a known overlap.
    let (bank_ids, partner_ids) = synth::overlapping(2026, a.bank, a.partner, a.common);
    let bank_csv = root.join("bank_customers.csv");
    let partner_csv = root.join("partner_customers.csv");
    write_csv(
        &bank_csv,
        "id,segment",
        bank_ids
            .iter()
            .enumerate()
            .map(|(i, k)| format!("{k},{}", ["retail", "sme", "private"][i % 3])),
    )?;
    write_csv(
        &partner_csv,
        "id,credit_score",
        partner_ids
            .iter()
            .enumerate()
            .map(|(i, k)| format!("{k},{}", 550 + (i * 37) % 300)),
    )?;

    // 2. Two node directories, each with its own identity.
    let mut nodes = Vec::new();
    for name in ["bank-a", "data-b"] {
        let dir = NodeDir::new(root.join(name));
        let init = unseen_node::init::init(&dir, name, free_port()?, free_port()?)?;
        let cert = Certificate::from_pem(&std::fs::read_to_string(dir.cert())?)
            .map_err(NodeError::from)?;
        println!(
            "1. unseen init --name {name:<7} → certificate {}",
            init.fingerprint
        );
        nodes.push(DemoNode { name, dir, cert });
    }
    let (bank, partner) = (&nodes[0], &nodes[1]);

    // 3. Certificates exchanged out of band and pinned; datasets; policies.
    for (me, other, dataset, csv) in [
        (bank, partner, "customers", &bank_csv),
        (partner, bank, "their_customers", &partner_csv),
    ] {
        let config = unseen_node::Config::load(&other.dir)?;
        let mut store = unseen_node::audit_key::open_store(&me.dir)?;
        let input = PartnerInput {
            name: other.name.into(),
            address: config.listen.to_string(),
            cert_pem: other.cert.to_pem(),
        };
        ops::add_partner(&mut store, "demo", &me.cert.fingerprint(), &input)?;
        let (d, summary) = add_demo_dataset(&me.dir, &mut store, dataset, csv.clone())?;
        allow_demo(&mut store, dataset, other.name, "psi", "any")?;
        // The partner also lets the bank look customers up in this dataset (hidden query).
        let pir = me.name == "data-b";
        if pir {
            allow_demo(&mut store, dataset, other.name, "pir", "any")?;
        }
        println!(
            "2. {:<7} pins {}'s certificate, registers dataset {} ({} rows, columns {}), allows {} {} on it",
            me.name,
            other.name,
            d.name,
            summary.rows_read,
            d.columns.join(","),
            other.name,
            if pir { "psi and pir" } else { "psi" }
        );
    }

    // A second partner dataset that no policy covers.
    let mut store = unseen_node::audit_key::open_store(&partner.dir)?;
    add_demo_dataset(&partner.dir, &mut store, "blacklist", partner_csv.clone())?;
    drop(store);

    // Joint modeling: training and holdout data of both parties, with their policies.
    let credit = crate::demo_fl::prepare(&root, &bank.dir, &partner.dir)?;

    // The partner publishes its dataset as a hidden-query table (built and stored on disk).
    let curve_flag = ["--curve", curve];
    let published = run_cli(
        &exe,
        &[
            "--dir",
            &partner.dir.root().display().to_string(),
            "pir",
            "publish",
            "--dataset",
            "their_customers",
            "--json",
            curve_flag[0],
            curve_flag[1],
        ],
    )?;
    println!(
        "   data-b  publishes their_customers for hidden queries (`unseen pir publish`): {} keys, hint {:.1} MiB",
        published["keys"],
        published["hint_bytes"].as_f64().unwrap_or(0.0) / 1_048_576.0
    );

    // 4. Both daemons, as real processes.
    let mut daemons = Daemons(Vec::new());
    let mut clients = Vec::new();
    for n in &nodes {
        daemons.0.push(start(&exe, n, &root)?);
        clients.push(Client::new(&n.dir)?);
    }
    for (n, c) in nodes.iter().zip(&clients) {
        wait_healthy(c, n.name)?;
    }
    println!(
        "3. both nodes running (`unseen --dir … node run`): mutual TLS 1.3 between them, local API each"
    );

    // 5. The bank submits a PSI job; the partner's node accepts it by policy.
    let t = Instant::now();
    let psi_job = |peer_dataset: &str| unseen_node::jobs::SubmitRequest {
        kind: "psi".into(),
        partner: "data-b".into(),
        dataset: "customers".into(),
        peer_dataset: peer_dataset.into(),
        mode: Some(unseen_node::kinds::psi::PsiMode::Both),
        curve: Some(a.curve.into()),
        ..Default::default()
    };
    let job = clients[0].submit(&psi_job("their_customers"))?;
    let id = job["id"].as_str().unwrap_or_default().to_owned();
    let done = wait_job(&clients[0], &id)?;
    let other_side = clients[1].get(&format!("/v1/jobs/{id}"))?;
    println!(
        "4. bank-a submits psi ({curve}) with data-b → job {id}: {} in {:.2} s, {:.2} MiB exchanged",
        done["state"].as_str().unwrap_or("?"),
        t.elapsed().as_secs_f64(),
        (done["bytes_sent"].as_u64().unwrap_or(0) + done["bytes_received"].as_u64().unwrap_or(0))
            as f64
            / 1_048_576.0
    );
    if done["state"] != "succeeded" {
        println!("   reason: {}", done["reason"]);
        println!(
            "check: FAILED — the job did not succeed; logs are in {}",
            root.display()
        );
        return Ok(ExitCode::from(1));
    }
    for (n, j) in nodes.iter().zip([&done, &other_side]) {
        println!(
            "   {:<7} ({}) wrote {}",
            n.name,
            j["role"].as_str().unwrap_or("?"),
            j["output"].as_str().unwrap_or("-")
        );
    }

    // 5b. Hidden query: the bank looks up applicants' credit scores; data-b learns only how many.
    // Spread over the bank's customers, so some are the partner's and some are not.
    let stride = (bank_ids.len() / a.applicants.max(1)).max(1);
    let applicants: Vec<&String> = bank_ids.iter().step_by(stride).take(a.applicants).collect();
    let applicants_csv = root.join("applicants.csv");
    write_csv(
        &applicants_csv,
        "id,amount",
        applicants
            .iter()
            .enumerate()
            .map(|(i, k)| format!("{k},{}", 10_000 + 500 * i)),
    )?;
    let hits_csv = root.join("bank-a_hits.csv");
    let t = Instant::now();
    let q = run_cli(
        &exe,
        &[
            "--dir",
            &bank.dir.root().display().to_string(),
            "query",
            "--partner",
            "data-b",
            "--dataset",
            "their_customers",
            "--keys",
            &applicants_csv.display().to_string(),
            "--key",
            "id",
            "--key-type",
            "id-card",
            "--output",
            &hits_csv.display().to_string(),
            "--json",
            curve_flag[0],
            curve_flag[1],
        ],
    )?;
    let scores: std::collections::HashMap<&str, String> = partner_ids
        .iter()
        .enumerate()
        .map(|(i, k)| (k.as_str(), (550 + (i * 37) % 300).to_string()))
        .collect();
    let present = applicants
        .iter()
        .filter(|k| scores.contains_key(k.as_str()))
        .count();
    println!(
        "   bank-a  hidden query (`unseen query`) of {} applicants in their_customers → {} found (plaintext: {present}) in {:.2} s; data-b learns only the count",
        applicants.len(),
        q["found"],
        t.elapsed().as_secs_f64()
    );
    let hits_ok = std::fs::read_to_string(&hits_csv)
        .map(|text| {
            let rows: Vec<Vec<String>> = text
                .lines()
                .skip(1)
                .map(|l| l.split(',').map(str::to_owned).collect())
                .collect();
            rows.len() == applicants.len()
                && rows.iter().zip(&applicants).all(|(r, k)| {
                    let expected = match scores.get(k.as_str()) {
                        Some(score) => [score.as_str(), "true"],
                        None => ["", "false"],
                    };
                    r.len() == 4 && r[0] == **k && [r[2].as_str(), r[3].as_str()] == expected
                })
        })
        .unwrap_or(false);

    // 5c. Joint modeling: train, report, predict; the scores against the plaintext oracle.
    let model_ok = crate::demo_fl::run(&exe, &credit, &bank.dir, &clients[0], &wait_job, &run_cli)?;

    // 6. A job the partner's policy does not allow is rejected, with the reason.
    let refused = clients[0].submit(&psi_job("blacklist"))?;
    let refused = wait_job(&clients[0], refused["id"].as_str().unwrap_or_default())?;
    println!(
        "6. a job on data-b's dataset blacklist, which no policy opens to bank-a → {}: {}",
        refused["state"].as_str().unwrap_or("?"),
        refused["reason"].as_str().unwrap_or("-")
    );

    // 7. Check: outputs against the plaintext intersection; audit chains.
    let pset: HashSet<&String> = partner_ids.iter().collect();
    let mut truth: Vec<String> = bank_ids
        .iter()
        .filter(|k| pset.contains(k))
        .cloned()
        .collect();
    truth.sort();
    let outputs_ok = [&done, &other_side].iter().all(|j| {
        j["output"]
            .as_str()
            .and_then(|p| read_keys(Path::new(p)).ok())
            .is_some_and(|keys| keys == truth)
    });
    let mut audits_ok = true;
    for n in &nodes {
        let store = unseen_node::audit_key::open_store(&n.dir)?;
        let report = unseen_node::audit_key::verify(&n.dir, &store)?;
        let records = store.audit_records(Some(&id)).map_err(NodeError::from)?;
        let actions: Vec<&str> = records.iter().map(|r| r.action.as_str()).collect();
        match report {
            AuditReport::Intact { records: total, .. } => println!(
                "7. {:<7} audit chain intact ({total} records, each signed with its SM2 audit key); this job: {}",
                n.name,
                actions.join(" → ")
            ),
            AuditReport::Broken { seq, reason } => {
                audits_ok = false;
                println!(
                    "7. {:<7} audit chain BROKEN at record {seq}: {reason}",
                    n.name
                );
            }
        }
    }
    drop(daemons);
    println!();
    if outputs_ok && hits_ok && model_ok && audits_ok && refused["state"] == "rejected" {
        println!(
            "check: OK — both nodes' rows equal the plaintext intersection ({}), row for row; the hidden query's rows equal a plaintext lookup; the joint model's scores equal the plaintext model's; both audit chains verify",
            truth.len()
        );
        println!(
            "explore: unseen --dir {} audit show   |   unseen --dir {} job list",
            bank.dir.root().display(),
            partner.dir.root().display()
        );
        Ok(ExitCode::SUCCESS)
    } else {
        println!(
            "check: FAILED (please report); logs are in {}",
            root.display()
        );
        Ok(ExitCode::from(1))
    }
}
