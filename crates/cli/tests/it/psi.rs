use crate::util::*;

/// Both parties' files in a temporary directory: the bank holds ids 0..n, the partner
/// n/2..n/2+n (reversed), so the true intersection is n/2..n. Outputs go to `oa` and `ob`.
struct Case {
    _d: tempfile::TempDir,
    fa: std::path::PathBuf,
    fb: std::path::PathBuf,
    oa: std::path::PathBuf,
    ob: std::path::PathBuf,
    b: Vec<u32>,
    inter: Vec<u32>,
}

impl Case {
    /// Writes `a.csv` (LF) and `b.csv` (CRLF when `b_crlf`) in the `id,name,amount` format.
    fn new(n: u32, b_crlf: bool) -> Self {
        let d = tmp();
        let a: Vec<u32> = (0..n).collect();
        let b: Vec<u32> = (n / 2..n / 2 + n).rev().collect();
        let (fa, fb) = (p(&d, "a.csv"), p(&d, "b.csv"));
        write_csv(&fa, &a, false);
        write_csv(&fb, &b, b_crlf);
        Case {
            oa: p(&d, "oa.csv"),
            ob: p(&d, "ob.csv"),
            fa,
            fb,
            b,
            inter: (n / 2..n).collect(),
            _d: d,
        }
    }
}

/// Checks an output file: header kept, rows = the expected ids sorted by normalised key, with
/// this side's payload.
fn check_output(path: &std::path::Path, expected: &[u32]) {
    let mut want: Vec<(String, u32)> = expected.iter().map(|&i| (id(i), i)).collect();
    want.sort();
    let got = rows(path);
    assert_eq!(got[0], "id,name,amount");
    assert_eq!(got.len() - 1, want.len());
    for (line, (key, i)) in got[1..].iter().zip(&want) {
        assert_eq!(line, &format!("{},name{i},{}", key.to_lowercase(), i * 3));
    }
}

fn run_both(n: u32, curve: &str) {
    let Case {
        _d,
        fa,
        fb,
        oa,
        ob,
        inter,
        ..
    } = Case::new(n, true);
    let (l, r) = pair(
        &[
            "-i",
            s(&fb),
            "-k",
            "id",
            "--key-type",
            "id-card",
            "-o",
            s(&ob),
            "--curve",
            curve,
        ],
        &[
            "-i",
            s(&fa),
            "-k",
            "id",
            "--key-type",
            "id-card",
            "-o",
            s(&oa),
            "--curve",
            curve,
            "--json",
        ],
    );
    ok(&l);
    ok(&r);
    assert_eq!(inter.len() as u32, n / 2);
    check_output(&oa, &inter);
    check_output(&ob, &inter);
    // Aligned: line i of both files is the same customer.
    let (ra, rb) = (rows(&oa), rows(&ob));
    for (x, y) in ra.iter().zip(&rb) {
        assert_eq!(x.split(',').next(), y.split(',').next());
    }
    let j: serde_json::Value = serde_json::from_slice(&r.stdout).unwrap();
    assert_eq!(j["intersection"], u64::from(n / 2));
    assert_eq!(j["items"], u64::from(n));
    assert_eq!(j["peer_items"], u64::from(n));
}

#[test]
fn two_processes_ristretto_2_pow_16() {
    run_both(1 << 16, "ristretto255");
}

#[test]
fn two_processes_sm2_2_pow_16() {
    run_both(1 << 16, "sm2");
}

#[test]
fn two_processes_gbk_bom_crlf_2_pow_16() {
    // Partner: GBK bytes behind a UTF-8 BOM, CRLF, Chinese header and payload, key in column 2;
    // bank: UTF-8. Each side must get exactly its own rows of the true intersection.
    let n = 1u32 << 16;
    let Case {
        _d,
        fa,
        fb,
        oa,
        ob,
        b,
        inter,
        ..
    } = Case::new(n, false);
    // Lowercase `x` check characters and a quoted field with a comma, as exports have them.
    let mut text = String::from("客户姓名,id,地址\r\n");
    for &i in &b {
        text.push_str(&format!(
            "客户{i},{},\"北京, 朝阳{i}\"\r\n",
            id(i).to_lowercase()
        ));
    }
    let (gbk, _, unmappable) = encoding_rs::GBK.encode(&text);
    assert!(!unmappable);
    let mut bytes = vec![0xEF, 0xBB, 0xBF];
    bytes.extend_from_slice(&gbk);
    std::fs::write(&fb, bytes).unwrap();
    let (l, r) = pair(
        &[
            "-i",
            s(&fb),
            "-k",
            "id",
            "--key-type",
            "id-card",
            "-o",
            s(&ob),
        ],
        &[
            "-i",
            s(&fa),
            "-k",
            "id",
            "--key-type",
            "id-card",
            "-o",
            s(&oa),
        ],
    );
    ok(&l);
    ok(&r);
    check_output(&oa, &inter);
    let mut want: Vec<(String, u32)> = inter.iter().map(|&i| (id(i), i)).collect();
    want.sort();
    let got = rows(&ob);
    assert_eq!(got[0], "客户姓名,id,地址");
    let want: Vec<String> = want
        .iter()
        .map(|(k, i)| format!("客户{i},{},\"北京, 朝阳{i}\"", k.to_lowercase()))
        .collect();
    assert_eq!(got[1..], want[..]);
}

#[test]
fn parquet_side_against_csv_side() {
    // The partner exports Parquet (several row groups, INT64 amounts), the bank CSV; each side
    // must get exactly its own rows of the true intersection, aligned, in the same CSV form.
    let n = 1u32 << 12;
    let Case {
        _d,
        fa,
        fb,
        oa,
        ob,
        b,
        inter,
    } = Case::new(n, false);
    let fb = fb.with_extension("parquet");
    write_parquet(&fb, &b);
    let (l, r) = pair(
        &[
            "-i",
            s(&fb),
            "-k",
            "id",
            "--key-type",
            "id-card",
            "-o",
            s(&ob),
            "--json",
        ],
        &[
            "-i",
            s(&fa),
            "-k",
            "id",
            "--key-type",
            "id-card",
            "-o",
            s(&oa),
        ],
    );
    ok(&l);
    ok(&r);
    check_output(&oa, &inter);
    check_output(&ob, &inter);
    assert_eq!(
        rows(&oa),
        rows(&ob),
        "same ids, names and amounts on both sides"
    );
    let j: serde_json::Value = serde_json::from_slice(&l.stdout).unwrap();
    assert_eq!(j["items"], u64::from(n));
    assert_eq!(j["rows_read"], u64::from(n));
    assert_eq!(j["intersection"], u64::from(n / 2));
}

#[test]
fn one_sided_and_cardinality_modes() {
    let Case {
        _d,
        fa,
        fb,
        oa,
        ob,
        inter,
        ..
    } = Case::new(2000, false);
    // listener-only: only the listener writes rows.
    let (l, r) = pair(
        &[
            "-i",
            s(&fb),
            "-k",
            "id",
            "--key-type",
            "id-card",
            "-o",
            s(&ob),
            "--mode",
            "listener-only",
        ],
        &[
            "-i",
            s(&fa),
            "-k",
            "id",
            "--key-type",
            "id-card",
            "--mode",
            "listener-only",
        ],
    );
    ok(&l);
    ok(&r);
    check_output(&ob, &inter);
    assert!(String::from_utf8_lossy(&r.stdout).contains("not revealed to this side"));
    std::fs::remove_file(&ob).unwrap();
    // dialer-only.
    let (l, r) = pair(
        &[
            "-i",
            s(&fb),
            "-k",
            "id",
            "--key-type",
            "id-card",
            "--mode",
            "dialer-only",
        ],
        &[
            "-i",
            s(&fa),
            "-k",
            "id",
            "--key-type",
            "id-card",
            "-o",
            s(&oa),
            "--mode",
            "dialer-only",
        ],
    );
    ok(&l);
    ok(&r);
    check_output(&oa, &inter);
    // cardinality: both print the count, nobody writes rows.
    let (l, r) = pair(
        &[
            "-i",
            s(&fb),
            "-k",
            "id",
            "--key-type",
            "id-card",
            "--mode",
            "cardinality",
            "--json",
        ],
        &[
            "-i",
            s(&fa),
            "-k",
            "id",
            "--key-type",
            "id-card",
            "--mode",
            "cardinality",
            "--json",
        ],
    );
    ok(&l);
    ok(&r);
    for o in [&l, &r] {
        let j: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        assert_eq!(j["intersection"], inter.len() as u64);
        assert_eq!(j["output"], serde_json::Value::Null);
    }
    assert!(!ob.exists());
}

fn expect_input_error(args: &[&str], needle: &str, out: &std::path::Path) {
    let o = bin().args(args).output().unwrap();
    assert_eq!(
        o.status.code(),
        Some(2),
        "stderr: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(err.trim().lines().count(), 1, "one line: {err}");
    assert!(err.contains(needle), "{err} should contain {needle}");
    assert!(!out.exists(), "no output on failure");
}

#[test]
fn bad_inputs_fail_cleanly() {
    let d = tmp();
    let (f, out) = (p(&d, "bad.csv"), p(&d, "out.csv"));
    let ids: Vec<u32> = (0..10).collect();
    write_csv(&f, &ids, false);
    // Corrupt the check digit of the key on line 7 (header is line 1).
    let mut lines = rows(&f);
    let key = id(5);
    let wrong = if key.ends_with('1') { '2' } else { '1' };
    lines[6] = lines[6].replacen(&key.to_lowercase(), &format!("{}{wrong}", &key[..17]), 1);
    std::fs::write(&f, lines.join("\n") + "\n").unwrap();
    let port = format!("127.0.0.1:{}", free_port());
    let base = |file: &str, key: &str| {
        vec![
            "psi".to_string(),
            "--listen".into(),
            port.clone(),
            "-i".into(),
            file.into(),
            "-k".into(),
            key.into(),
            "--key-type".into(),
            "id-card".into(),
            "-o".into(),
            s(&out).into(),
        ]
    };
    let fs = s(&f).to_string();
    let v = base(&fs, "id");
    expect_input_error(
        &v.iter().map(String::as_str).collect::<Vec<_>>(),
        &format!("{fs}:7"),
        &out,
    );
    let v = base(&fs, "customer_id");
    expect_input_error(
        &v.iter().map(String::as_str).collect::<Vec<_>>(),
        "customer_id",
        &out,
    );
    let missing = s(&p(&d, "missing.csv")).to_string();
    let v = base(&missing, "id");
    expect_input_error(
        &v.iter().map(String::as_str).collect::<Vec<_>>(),
        "missing.csv",
        &out,
    );
    // A truncated Parquet file: one line naming it, no panic, exit code 2.
    let pq = p(&d, "cut.parquet");
    write_parquet(&pq, &ids);
    let bytes = std::fs::read(&pq).unwrap();
    std::fs::write(&pq, &bytes[..bytes.len() / 2]).unwrap();
    let pqs = s(&pq).to_string();
    let v = base(&pqs, "id");
    expect_input_error(
        &v.iter().map(String::as_str).collect::<Vec<_>>(),
        &format!("{pqs}: cannot read as Parquet"),
        &out,
    );
    // A directory is unreadable as a file.
    let dir = s(d.path()).to_string();
    let v = base(&dir, "id");
    expect_input_error(
        &v.iter().map(String::as_str).collect::<Vec<_>>(),
        &dir,
        &out,
    );
    // Non-loopback address, missing output.
    expect_input_error(
        &[
            "psi",
            "--connect",
            "10.1.2.3:7000",
            "-i",
            &fs,
            "-k",
            "id",
            "-o",
            s(&out),
        ],
        "not a loopback address",
        &out,
    );
    expect_input_error(
        &["psi", "--connect", &port, "-i", &fs, "-k", "id"],
        "--output",
        &out,
    );
    // With --skip-invalid the bad row is skipped and reported; the run then needs a peer, so only
    // check that reading succeeds up to the connection (connect times out quickly).
    let o = bin()
        .args([
            "psi",
            "--connect",
            &port,
            "-i",
            &fs,
            "-k",
            "id",
            "--key-type",
            "id-card",
            "-o",
            s(&out),
            "--skip-invalid",
            "--connect-timeout",
            "1",
        ])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains(":7:") && err.contains("cannot connect"),
        "{err}"
    );
    assert!(!out.exists());
}

#[test]
fn peer_mismatch_fails_without_output() {
    let Case {
        _d, fa, fb, oa, ob, ..
    } = Case::new(100, false);
    let (l, r) = pair(
        &["-i", s(&fb), "-k", "id", "-o", s(&ob), "--curve", "sm2"],
        &["-i", s(&fa), "-k", "id", "-o", s(&oa)],
    );
    assert_eq!(l.status.code(), Some(1));
    assert_eq!(r.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&r.stderr).contains("curve"),
        "{}",
        String::from_utf8_lossy(&r.stderr)
    );
    assert!(!oa.exists() && !ob.exists());
}

#[test]
fn hello_disagreements_fail_both_sides() {
    // Issue 13 item 14: id-card against string on keys with a lowercase `x` check digit used to
    // match a subset and exit 0 on both sides.
    let Case {
        _d, fa, fb, oa, ob, ..
    } = Case::new(100, false);
    let (l, r) = pair(
        &[
            "-i",
            s(&fb),
            "-k",
            "id",
            "--key-type",
            "id-card",
            "-o",
            s(&ob),
        ],
        &[
            "-i",
            s(&fa),
            "-k",
            "id",
            "--key-type",
            "string",
            "-o",
            s(&oa),
        ],
    );
    let (le, re) = (
        String::from_utf8_lossy(&l.stderr),
        String::from_utf8_lossy(&r.stderr),
    );
    assert_eq!(l.status.code(), Some(1), "{le}");
    assert_eq!(r.status.code(), Some(1), "{re}");
    assert!(
        le.contains("the partner reads keys as string, this side as id-card"),
        "{le}"
    );
    assert!(
        re.contains("the partner reads keys as id-card, this side as string"),
        "{re}"
    );
    assert!(!oa.exists() && !ob.exists());
    // Issue 13 item 12: a peer over --max-peer-items fails both sides at the hello.
    let (l, r) = pair(
        &[
            "-i",
            s(&fb),
            "-k",
            "id",
            "-o",
            s(&ob),
            "--max-peer-items",
            "99",
        ],
        &["-i", s(&fa), "-k", "id", "-o", s(&oa)],
    );
    let (le, re) = (
        String::from_utf8_lossy(&l.stderr),
        String::from_utf8_lossy(&r.stderr),
    );
    assert_eq!(l.status.code(), Some(1), "{le}");
    assert_eq!(r.status.code(), Some(1), "{re}");
    assert!(
        le.contains("peer announced 100 items, at most 99 allowed"),
        "{le}"
    );
    assert!(
        re.contains("this side has 100 items, the partner accepts at most 99"),
        "{re}"
    );
    assert!(!oa.exists() && !ob.exists());
}

#[test]
fn outputs_and_empty_inputs_are_checked_before_the_peer() {
    // Issue 13 items 19 and 22: nobody listens on `port`, so reaching the peer would fail with
    // "cannot connect" (exit 1); a check made first is a usage error (exit 2).
    let d = tmp();
    let (f, out) = (p(&d, "a.csv"), p(&d, "out.csv"));
    let ids: Vec<u32> = (0..10).collect();
    write_csv(&f, &ids, false);
    let port = format!("127.0.0.1:{}", free_port());
    let run = |input: &std::path::Path, output: &std::path::Path, extra: &[&str]| {
        let mut args = vec![
            "psi",
            "--connect",
            &port,
            "-i",
            s(input),
            "-k",
            "id",
            "-o",
            s(output),
            "--connect-timeout",
            "1",
        ];
        args.extend_from_slice(extra);
        bin().args(&args).output().unwrap()
    };
    // An existing directory as --output.
    let sub = p(&d, "outdir");
    std::fs::create_dir(&sub).unwrap();
    let o = run(&f, &sub, &[]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("is a directory"), "{err}");
    assert!(std::fs::read_dir(&sub).unwrap().next().is_none());
    // A directory that takes no new file (unless we are root, who may write anyway).
    let ro = p(&d, "ro");
    std::fs::create_dir(&ro).unwrap();
    std::fs::set_permissions(&ro, std::os::unix::fs::PermissionsExt::from_mode(0o555)).unwrap();
    if std::fs::File::create(ro.join("probe")).is_err() {
        let o = run(&f, &ro.join("out.csv"), &[]);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{err}");
        assert!(err.contains("cannot create a file in directory"), "{err}");
    }
    // A header-only input and a 0-byte input.
    let header_only = p(&d, "header.csv");
    std::fs::write(&header_only, "id,name,amount\n").unwrap();
    let empty = p(&d, "empty.csv");
    std::fs::write(&empty, "").unwrap();
    for input in [&header_only, &empty] {
        let o = run(input, &out, &[]);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{}: {err}", input.display());
        assert!(!err.contains("cannot connect"), "{err}");
        assert!(!out.exists());
    }
    let o = run(&header_only, &out, &[]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("has no data rows") && err.contains("--allow-empty"),
        "{err}"
    );
    // With --allow-empty the run goes on to the peer.
    let o = run(&header_only, &out, &["--allow-empty"]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(err.contains("cannot connect"), "{err}");
}

#[test]
fn demo_and_help() {
    // Two node processes over mutual TLS, then the protocol alone in one process.
    for extra in [&[][..], &["--in-process"]] {
        let o = bin()
            .args([
                "demo",
                "--bank",
                "500",
                "--partner",
                "400",
                "--common",
                "123",
            ])
            .args(extra)
            .output()
            .unwrap();
        ok(&o);
        let out = String::from_utf8_lossy(&o.stdout);
        assert!(out.contains("check: OK") && out.contains("(123)"), "{out}");
    }
    for sub in [
        &["psi", "--help"][..],
        &["demo", "--help"],
        &["bench", "psi", "--help"],
        &["bench", "transport", "--help"],
        &["bench", "pir", "--help"],
        &["bench", "train", "--help"],
        &["init", "--help"],
        &["partner", "add", "--help"],
        &["dataset", "add", "--help"],
        &["policy", "allow", "--help"],
        &["job", "submit", "psi", "--help"],
    ] {
        let o = bin().args(sub).output().unwrap();
        ok(&o);
        assert!(
            String::from_utf8_lossy(&o.stdout).contains("Example"),
            "{sub:?}"
        );
    }
    let o = bin().args(["psi", "--bogus"]).output().unwrap();
    assert_eq!(o.status.code(), Some(2));
}

/// Output piped into a reader that has gone (`… | head`) ends the command quietly, not with a
/// panic report.
#[test]
fn a_closed_stdout_is_not_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = bin()
        .args(["init", "--name", "n", "--dir"])
        .arg(dir.path().join("n"))
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let o = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!err.contains("panicked"), "{err}");
    assert_eq!(o.status.code(), Some(0), "{err}");
}

/// `unseen bench pir` checks its lookups against the plaintext table and says so.
#[test]
fn bench_pir_is_correct_on_a_small_table() {
    for curve in ["ristretto255", "sm2"] {
        let o = bin()
            .args([
                "bench", "pir", "--rows", "3000", "--keys", "5", "--curve", curve,
            ])
            .output()
            .unwrap();
        ok(&o);
        let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        assert_eq!(v["correct"], true, "{v}");
        assert_eq!(v["found"], 3, "{v}");
        for k in [
            "rows",
            "keys",
            "setup_s",
            "query_s",
            "online_bytes_sent",
            "online_bytes_received",
            "offline_bytes",
            "server_rss_bytes",
        ] {
            assert!(v[k].is_number(), "{k}: {v}");
        }
    }
}
