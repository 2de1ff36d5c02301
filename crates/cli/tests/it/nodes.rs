//! Harness for node tests: real `unseen node run` daemons on loopback, driven through the CLI and
//! raw HTTP/1.1 on their local API.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::util::{bin, free_port};

/// Longest any single CLI command may take before the test gives up on it.
const CMD_TIMEOUT: Duration = Duration::from_secs(180);
/// How long a daemon may take to answer `/healthz` after `node run`.
const START_TIMEOUT: Duration = Duration::from_secs(30);

/// Runs `cmd` with piped output; kills it and panics (with what it printed) after `timeout`.
pub(crate) fn run_timeout(mut cmd: Command, timeout: Duration) -> Output {
    let desc = format!("{cmd:?}");
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = child.stdout.take().unwrap();
    let mut err = child.stderr.take().unwrap();
    let to = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = out.read_to_end(&mut v);
        v
    });
    let te = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = err.read_to_end(&mut v);
        v
    });
    let deadline = Instant::now() + timeout;
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            let (o, e) = (to.join().unwrap(), te.join().unwrap());
            panic!(
                "timed out after {timeout:?}: {desc}\nstdout: {}\nstderr: {}",
                String::from_utf8_lossy(&o),
                String::from_utf8_lossy(&e)
            );
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    Output {
        status,
        stdout: to.join().unwrap(),
        stderr: te.join().unwrap(),
    }
}

pub(crate) fn out_str(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub(crate) fn err_str(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Describes an output for assertion messages.
pub(crate) fn show(o: &Output) -> String {
    format!(
        "exit {:?}\nstdout: {}\nstderr: {}",
        o.status.code(),
        out_str(o),
        err_str(o)
    )
}

/// The last non-empty line of stdout (where `job submit` and `job rerun` print the job id).
pub(crate) fn last_line(o: &Output) -> String {
    out_str(o)
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or_default()
        .trim()
        .to_string()
}

/// Whether `s` is a job id as the node makes them (32 lowercase hex digits).
pub(crate) fn is_job_id(s: &str) -> bool {
    s.len() == 32
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// Whether `msg` names `record N` (not `record N0`).
pub(crate) fn names_record(msg: &str, n: i64) -> bool {
    let needle = format!("record {n}");
    msg.match_indices(&needle).any(|(i, _)| {
        !msg[i + needle.len()..]
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_digit())
    })
}

/// One HTTP response.
#[derive(Debug)]
pub(crate) struct Resp {
    pub(crate) status: u16,
    pub(crate) head: String,
    pub(crate) body: String,
}

/// One HTTP/1.1 request over a fresh connection (`Connection: close`); no client crate.
pub(crate) fn http(
    addr: &str,
    method: &str,
    path: &str,
    auth: Option<&str>,
) -> std::io::Result<Resp> {
    http_body(addr, method, path, auth, "")
}

/// [`http`] with a JSON body.
pub(crate) fn http_body(
    addr: &str,
    method: &str,
    path: &str,
    auth: Option<&str>,
    body: &str,
) -> std::io::Result<Resp> {
    let sa: std::net::SocketAddr = addr.parse().unwrap();
    let mut s = TcpStream::connect_timeout(&sa, Duration::from_secs(5))?;
    s.set_read_timeout(Some(Duration::from_secs(20)))?;
    s.set_write_timeout(Some(Duration::from_secs(5)))?;
    let mut req = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    if let Some(a) = auth {
        req.push_str(&format!("Authorization: {a}\r\n"));
    }
    if body.is_empty() {
        req.push_str("Content-Length: 0\r\n\r\n");
    } else {
        req.push_str(&format!(
            "Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        ));
    }
    s.write_all(req.as_bytes())?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw)?;
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = text
        .split_once("\r\n\r\n")
        .ok_or_else(|| std::io::Error::other(format!("no header end in {text:?}")))?;
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| std::io::Error::other(format!("bad status line in {text:?}")))?;
    let chunked = head
        .lines()
        .any(|l| l.to_ascii_lowercase().replace(' ', "") == "transfer-encoding:chunked");
    let body = if chunked {
        dechunk(body)
    } else {
        body.to_string()
    };
    Ok(Resp {
        status,
        head: head.to_string(),
        body,
    })
}

fn dechunk(mut s: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = s.split_once("\r\n") {
        let n = usize::from_str_radix(size.split(';').next().unwrap().trim(), 16).unwrap_or(0);
        if n == 0 {
            break;
        }
        out.push_str(&rest[..n]);
        s = rest[n..].strip_prefix("\r\n").unwrap_or(&rest[n..]);
    }
    out
}

/// A node: its directory in a temporary folder, its addresses, and its daemon when running.
pub(crate) struct Node {
    root: tempfile::TempDir,
    pub(crate) dir: PathBuf,
    pub(crate) name: String,
    pub(crate) listen: String,
    pub(crate) api: String,
    /// Where the daemon's stderr goes (appended across restarts).
    pub(crate) stderr_log: PathBuf,
    child: Option<Child>,
}

impl Node {
    /// `unseen init` on free loopback ports.
    pub(crate) fn init(name: &str) -> Self {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("node");
        let listen = format!("127.0.0.1:{}", free_port());
        let mut api = format!("127.0.0.1:{}", free_port());
        while api == listen {
            api = format!("127.0.0.1:{}", free_port());
        }
        let n = Node {
            stderr_log: root.path().join("daemon.stderr"),
            root,
            dir,
            name: name.to_string(),
            listen,
            api,
            child: None,
        };
        let mut c = bin();
        c.args(["init", "--dir"])
            .arg(&n.dir)
            .args(["--name", name, "--listen", &n.listen, "--api", &n.api]);
        let o = run_timeout(c, CMD_TIMEOUT);
        assert!(o.status.success(), "init {name}: {}", show(&o));
        n
    }

    /// A scratch folder next to (not inside) the node directory, for inputs and exports.
    pub(crate) fn scratch(&self, file: &str) -> PathBuf {
        self.root.path().join(file)
    }

    /// `unseen --dir DIR args…` (any exit code).
    pub(crate) fn cmd(&self, args: &[&str]) -> Output {
        let mut c = bin();
        c.arg("--dir").arg(&self.dir).args(args);
        run_timeout(c, CMD_TIMEOUT)
    }

    /// `unseen --dir DIR args…`, which must succeed.
    pub(crate) fn ok(&self, args: &[&str]) -> Output {
        let o = self.cmd(args);
        assert!(o.status.success(), "{} {args:?}: {}", self.name, show(&o));
        o
    }

    /// `unseen --dir DIR args… --json`, parsed.
    pub(crate) fn json(&self, args: &[&str]) -> Value {
        let mut a = args.to_vec();
        a.push("--json");
        let o = self.ok(&a);
        serde_json::from_slice(&o.stdout)
            .unwrap_or_else(|e| panic!("{} {a:?}: not JSON ({e}): {}", self.name, show(&o)))
    }

    /// The node's certificate as `node export-cert` prints it, saved in the scratch folder.
    pub(crate) fn export_cert(&self) -> PathBuf {
        let o = self.ok(&["node", "export-cert"]);
        let pem = out_str(&o);
        assert!(
            pem.starts_with("-----BEGIN CERTIFICATE-----"),
            "export-cert: {pem}"
        );
        let path = self.scratch(&format!("{}.pem", self.name));
        std::fs::write(&path, pem).unwrap();
        path
    }

    /// The fingerprint `node info --json` reports.
    pub(crate) fn fingerprint(&self) -> String {
        self.json(&["node", "info"])["fingerprint"]
            .as_str()
            .unwrap()
            .to_string()
    }

    /// Pins `other`'s certificate under `other`'s name at its listening address.
    pub(crate) fn add_partner(&self, other: &Node) {
        let cert = other.export_cert();
        self.ok(&[
            "partner",
            "add",
            "--name",
            &other.name,
            "--address",
            &other.listen,
            "--cert",
            cert.to_str().unwrap(),
        ]);
    }

    /// Sets `[timeouts] read_s` in `node.toml` (before `node run`).
    pub(crate) fn set_read_timeout(&self, secs: u64) {
        self.set_timeout("read_s", secs);
    }

    /// Sets one key of `[timeouts]` in `node.toml` (before `node run`).
    pub(crate) fn set_timeout(&self, key: &str, secs: u64) {
        self.set_config(key, secs);
    }

    /// Sets the number `key` of `node.toml` (any section; the key must be there: `init`
    /// writes every setting).
    pub(crate) fn set_config(&self, key: &str, secs: u64) {
        let path = self.dir.join("node.toml");
        let text = std::fs::read_to_string(&path).unwrap();
        let mut found = false;
        let new: Vec<String> = text
            .lines()
            .map(|l| {
                if l.split('=').next().unwrap().trim() == key {
                    found = true;
                    format!("{key} = {secs}")
                } else {
                    l.to_string()
                }
            })
            .collect();
        assert!(found, "no {key} in node.toml:\n{text}");
        std::fs::write(&path, new.join("\n") + "\n").unwrap();
    }

    /// The API bearer token.
    pub(crate) fn token(&self) -> String {
        std::fs::read_to_string(self.dir.join("api.token"))
            .unwrap()
            .trim()
            .to_string()
    }

    /// What the daemon wrote to stderr (all runs) and to `logs/node.log`.
    pub(crate) fn logs(&self) -> String {
        let mut s = std::fs::read_to_string(&self.stderr_log).unwrap_or_default();
        s.push_str("\n--- logs/node.log ---\n");
        s.push_str(&std::fs::read_to_string(self.dir.join("logs/node.log")).unwrap_or_default());
        s
    }

    /// Starts `node run` and waits until `/healthz` answers 200.
    pub(crate) fn start(&mut self) {
        assert!(self.child.is_none(), "{} already running", self.name);
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.stderr_log)
            .unwrap();
        let child = bin()
            .arg("--dir")
            .arg(&self.dir)
            .args(["node", "run"])
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap();
        self.child = Some(child);
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            if let Some(st) = self.child.as_mut().unwrap().try_wait().unwrap() {
                self.child = None;
                panic!(
                    "{}: node run exited ({st}) before becoming healthy; log:\n{}",
                    self.name,
                    self.logs()
                );
            }
            if let Ok(r) = http(&self.api, "GET", "/healthz", None)
                && r.status == 200
            {
                return;
            }
            if Instant::now() > deadline {
                panic!(
                    "{}: /healthz not 200 within {START_TIMEOUT:?}; log:\n{}",
                    self.name,
                    self.logs()
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Whether the daemon process is still alive.
    pub(crate) fn alive(&mut self) -> bool {
        self.child
            .as_mut()
            .is_some_and(|c| c.try_wait().unwrap().is_none())
    }

    /// Asserts that the daemon is alive and answers `/healthz` with 200.
    pub(crate) fn assert_healthy(&mut self, after: &str) {
        assert!(
            self.alive(),
            "{} died after {after}; log:\n{}",
            self.name,
            self.logs()
        );
        let r = http(&self.api, "GET", "/healthz", None)
            .unwrap_or_else(|e| panic!("{}: healthz after {after}: {e}", self.name));
        assert_eq!(r.status, 200, "{}: healthz after {after}: {r:?}", self.name);
    }

    /// Sends `sig` (e.g. `STOP`, `CONT`) to the daemon with kill(1).
    pub(crate) fn signal(&self, sig: &str) {
        let pid = self.child.as_ref().unwrap().id().to_string();
        let st = Command::new("kill")
            .args([&format!("-{sig}"), &pid])
            .status()
            .unwrap();
        assert!(st.success(), "kill -{sig} {pid}");
    }

    /// SIGKILL (no clean shutdown).
    pub(crate) fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// `job show ID --json`.
    pub(crate) fn job(&self, id: &str) -> Value {
        self.json(&["job", "show", id])
    }

    /// Polls `job show` until `pred` holds; panics with the last state after `timeout`.
    pub(crate) fn wait_job(
        &self,
        id: &str,
        timeout: Duration,
        what: &str,
        pred: impl Fn(&Value) -> bool,
    ) -> Value {
        let deadline = Instant::now() + timeout;
        loop {
            let o = self.cmd(&["job", "show", id, "--json"]);
            if o.status.success() {
                let j: Value = serde_json::from_slice(&o.stdout).unwrap();
                if pred(&j) {
                    return j;
                }
                if Instant::now() > deadline {
                    panic!(
                        "{}: job {id} not {what} within {timeout:?}: {j:#}\nlog:\n{}",
                        self.name,
                        self.logs()
                    );
                }
            } else if Instant::now() > deadline {
                panic!("{}: job {id} never shown: {}", self.name, show(&o));
            }
            std::thread::sleep(Duration::from_millis(40));
        }
    }

    /// Waits for a final state (succeeded, failed, rejected, cancelled).
    pub(crate) fn wait_final(&self, id: &str, timeout: Duration) -> Value {
        self.wait_job(id, timeout, "final", |j| {
            matches!(
                j["state"].as_str(),
                Some("succeeded" | "failed" | "rejected" | "cancelled")
            )
        })
    }

    /// `audit show [--job ID] --json`.
    pub(crate) fn audit(&self, job: Option<&str>) -> Vec<Value> {
        let mut a = vec!["audit", "show"];
        if let Some(j) = job {
            a.extend(["--job", j]);
        }
        self.json(&a).as_array().unwrap().clone()
    }

    /// The audit records with `action`.
    pub(crate) fn audit_actions(&self, action: &str) -> Vec<Value> {
        self.audit(None)
            .into_iter()
            .filter(|r| r["action"] == action)
            .collect()
    }

    /// `audit verify` must pass, and the records `audit show` lists must be numbered without
    /// gaps, each naming its predecessor's hash.
    pub(crate) fn assert_audit_ok(&self) {
        let o = self.cmd(&["audit", "verify"]);
        assert_eq!(o.status.code(), Some(0), "{}: {}", self.name, show(&o));
        let recs = self.audit(None);
        assert_eq!(
            recs[0]["action"], "node.init",
            "{}: {:#}",
            self.name, recs[0]
        );
        for w in recs.windows(2) {
            assert_eq!(
                w[1]["seq"].as_i64().unwrap(),
                w[0]["seq"].as_i64().unwrap() + 1,
                "{}: {:#} then {:#}",
                self.name,
                w[0],
                w[1]
            );
            assert_eq!(w[1]["prev_hash"], w[0]["hash"], "{}: {:#}", self.name, w[1]);
            assert_ne!(w[1]["hash"], w[0]["hash"], "{}", self.name);
        }
    }

    /// Every file name in `outputs/`, hidden ones included, sorted.
    pub(crate) fn outputs(&self) -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(self.dir.join("outputs"))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }

    /// `outputs/ID.csv`.
    pub(crate) fn output(&self, id: &str) -> PathBuf {
        self.dir.join("outputs").join(format!("{id}.csv"))
    }

    /// Registers a CSV dataset keyed by an ID-card column.
    pub(crate) fn add_dataset(&self, ds: &Dataset) {
        self.ok(&[
            "dataset",
            "add",
            "--name",
            &ds.name,
            "--path",
            ds.path.to_str().unwrap(),
            "--key",
            &ds.key,
            "--key-type",
            "id-card",
        ]);
    }

    /// Allows PSI on `dataset` for `partner`, receivers as given (`None`: the default).
    pub(crate) fn allow(&self, dataset: &str, partner: &str, receivers: Option<&str>) {
        let mut a = vec![
            "policy",
            "allow",
            "--dataset",
            dataset,
            "--partner",
            partner,
            "--job",
            "psi",
        ];
        if let Some(r) = receivers {
            a.extend(["--receivers", r]);
        }
        self.ok(&a);
    }

    /// `job submit psi …` (without `--wait` unless in `extra`); returns the output and the id
    /// from the last stdout line.
    pub(crate) fn submit(
        &self,
        partner: &str,
        dataset: &str,
        peer_dataset: &str,
        extra: &[&str],
    ) -> (Output, String) {
        let mut a = vec![
            "job",
            "submit",
            "psi",
            "--partner",
            partner,
            "--dataset",
            dataset,
            "--peer-dataset",
            peer_dataset,
        ];
        a.extend_from_slice(extra);
        let o = self.cmd(&a);
        let id = last_line(&o);
        (o, id)
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A CSV file of one party: which ID maps to which line.
pub(crate) struct Dataset {
    pub(crate) name: String,
    pub(crate) path: PathBuf,
    pub(crate) key: String,
    pub(crate) header: String,
    pub(crate) ids: Vec<String>,
    pub(crate) line_of: HashMap<String, String>,
}

/// The normalised form of an ID-card number (what the outputs are sorted by).
pub(crate) fn norm(id: &str) -> String {
    id.trim().to_uppercase()
}

impl Dataset {
    /// Bank-style file `id,name,amount` (check character `x` written lower case).
    pub(crate) fn bank(name: &str, path: &Path, ids: &[String]) -> Self {
        let header = "id,name,amount".to_string();
        let mut line_of = HashMap::with_capacity(ids.len());
        let mut text = String::with_capacity(ids.len() * 40);
        text.push_str(&header);
        text.push('\n');
        for (k, id) in ids.iter().enumerate() {
            let line = format!("{},name{k},{}", id.to_lowercase(), k * 3 % 10_007);
            text.push_str(&line);
            text.push('\n');
            line_of.insert(norm(id), line);
        }
        std::fs::write(path, text).unwrap();
        Dataset {
            name: name.into(),
            path: path.into(),
            key: "id".into(),
            header,
            ids: ids.to_vec(),
            line_of,
        }
    }

    /// Partner-style file `seq,cust_id,segment` with CRLF line ends and the key in column 2.
    pub(crate) fn partner(name: &str, path: &Path, ids: &[String]) -> Self {
        let header = "seq,cust_id,segment".to_string();
        let mut line_of = HashMap::with_capacity(ids.len());
        let mut text = String::with_capacity(ids.len() * 40);
        text.push_str(&header);
        text.push_str("\r\n");
        for (k, id) in ids.iter().enumerate() {
            let line = format!("{k},{id},seg{}", k % 7);
            text.push_str(&line);
            text.push_str("\r\n");
            line_of.insert(norm(id), line);
        }
        std::fs::write(path, text).unwrap();
        Dataset {
            name: name.into(),
            path: path.into(),
            key: "cust_id".into(),
            header,
            ids: ids.to_vec(),
            line_of,
        }
    }

    /// The output this side must get for the common `inter`: header, then its own lines sorted
    /// by normalised key.
    pub(crate) fn expected(&self, inter: &[String]) -> Vec<String> {
        let mut keys: Vec<String> = inter.iter().map(|i| norm(i)).collect();
        keys.sort();
        let mut v = vec![self.header.clone()];
        v.extend(keys.iter().map(|k| self.line_of[k].clone()));
        v
    }
}

/// Lines of a file, line ends (LF or CRLF) stripped.
pub(crate) fn lines(path: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    text.lines().map(str::to_string).collect()
}

/// Two nodes that pin each other, each with one dataset and a PSI policy for the other.
pub(crate) struct Pair {
    pub(crate) a: Node,
    pub(crate) b: Node,
    /// A's `customers`.
    pub(crate) da: Dataset,
    /// B's `their_customers`.
    pub(crate) db: Dataset,
    /// The true intersection (plaintext oracle), sorted.
    pub(crate) inter: Vec<String>,
}

impl Pair {
    /// `bank-a` and `data-b`, initialised, certificates exchanged, datasets with `common`
    /// shared IDs (seeded), policies allowed both ways. Not started.
    pub(crate) fn new(seed: u64, common: usize, a_only: usize, b_only: usize) -> Self {
        let a = Node::init("bank-a");
        let b = Node::init("data-b");
        a.add_partner(&b);
        b.add_partner(&a);
        let (ia, ib, _) = unseen_testkit::overlapping(seed, common, a_only, b_only);
        let inter = unseen_testkit::plain_intersection(&ia, &ib);
        assert_eq!(inter.len(), common);
        let da = Dataset::bank("customers", &a.scratch("customers.csv"), &ia);
        let db = Dataset::partner("their_customers", &b.scratch("theirs.csv"), &ib);
        a.add_dataset(&da);
        b.add_dataset(&db);
        a.allow("customers", "data-b", None);
        b.allow("their_customers", "bank-a", None);
        Pair {
            a,
            b,
            da,
            db,
            inter,
        }
    }

    /// Starts both daemons.
    pub(crate) fn start(&mut self) {
        self.a.start();
        self.b.start();
    }

    /// Submits `customers` × `their_customers` from A with `extra` flags.
    pub(crate) fn submit(&self, extra: &[&str]) -> (Output, String) {
        self.a
            .submit("data-b", "customers", "their_customers", extra)
    }
}
