use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

pub(crate) fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_unseen"))
}

pub(crate) fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Deterministic distinct IDs: index `i` maps to one ID.
pub(crate) fn id(i: u32) -> String {
    let body = format!(
        "{:06}{:04}{:02}{:02}{:03}",
        110_000 + (i * 7919) % 550_000,
        1950 + i % 50,
        1 + i % 12,
        1 + i % 28,
        i % 1000
    );
    let body = format!("{}{}", &body[..14], &format!("{:03}", i / 1000 % 1000)); // keep unique
    unseen_data::synth::id_card(&body).unwrap()
}

/// Writes a CSV with header `id,name,amount` for the given id indices (lowercase x for variety).
pub(crate) fn write_csv(path: &Path, ids: &[u32], crlf: bool) {
    let nl = if crlf { "\r\n" } else { "\n" };
    let mut s = format!("id,name,amount{nl}");
    for &i in ids {
        s.push_str(&format!("{},name{i},{}{nl}", id(i).to_lowercase(), i * 3));
    }
    std::fs::write(path, s).unwrap();
}

/// Writes the table of [`write_csv`] as Parquet (snappy, 1000 rows per row group): `id` and
/// `name` strings, `amount` an INT64 (so the output shows it as the same decimal text).
pub(crate) fn write_parquet(path: &Path, ids: &[u32]) {
    use unseen_data::testing::{Codec, Values};
    unseen_data::testing::write_parquet(
        path,
        "message t { required binary id (STRING); optional binary name (STRING); \
         required int64 amount; }",
        &[
            Values::strings(ids.iter().map(|&i| Some(id(i).to_lowercase()))),
            Values::strings(ids.iter().map(|&i| Some(format!("name{i}")))),
            Values::Int64(ids.iter().map(|&i| Some(i64::from(i) * 3)).collect()),
        ],
        1_000,
        Codec::Snappy,
    )
    .unwrap();
}

pub(crate) fn spawn(args: &[&str]) -> Child {
    bin()
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

pub(crate) fn finish(c: Child) -> Output {
    c.wait_with_output().unwrap()
}

/// Runs a listener and a dialer with the given extra args; returns (listener, dialer) outputs.
pub(crate) fn pair(listener: &[&str], dialer: &[&str]) -> (Output, Output) {
    let port = free_port().to_string();
    let addr = format!("127.0.0.1:{port}");
    let mut la = vec!["psi", "--listen", &addr];
    la.extend_from_slice(listener);
    let l = spawn(&la);
    let mut da = vec!["psi", "--connect", &addr];
    da.extend_from_slice(dialer);
    let d = spawn(&da);
    (finish(l), finish(d))
}

pub(crate) fn rows(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect()
}

pub(crate) fn tmp() -> tempfile::TempDir {
    tempfile::tempdir().unwrap()
}

pub(crate) fn p(dir: &tempfile::TempDir, name: &str) -> PathBuf {
    dir.path().join(name)
}

pub(crate) fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

pub(crate) fn ok(o: &Output) {
    assert!(
        o.status.success(),
        "exit {:?}\nstdout: {}\nstderr: {}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
}
