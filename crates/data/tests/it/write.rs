//! Atomic output: the whole file or nothing, never a stray temporary file.

use std::io::Write;
use std::path::Path;

use unseen_data::{AtomicFile, DataError, write_csv_atomic, write_lines_atomic};

fn entries(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

fn headers(h: &[&str]) -> Vec<String> {
    h.iter().map(|s| (*s).to_owned()).collect()
}

#[test]
fn writes_csv_with_quoting_and_lf() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.csv");
    let rows = [
        vec!["1", "a, b"],
        vec!["2", "say \"hi\"\nbye"],
        vec!["3", ""],
    ];
    write_csv_atomic(&out, &headers(&["id", "姓名"]), rows).unwrap();
    assert_eq!(
        std::fs::read_to_string(&out).unwrap(),
        "id,姓名\n1,\"a, b\"\n2,\"say \"\"hi\"\"\nbye\"\n3,\n"
    );
    assert_eq!(entries(dir.path()), ["out.csv"]);
}

#[test]
fn replaces_an_existing_file() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.csv");
    std::fs::write(&out, "old\n").unwrap();
    write_csv_atomic(&out, &headers(&["x"]), [["new"]]).unwrap();
    assert_eq!(std::fs::read_to_string(&out).unwrap(), "x\nnew\n");
}

#[test]
fn missing_directory_is_an_error_and_creates_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("no/such/dir/out.csv");
    let err = write_csv_atomic(&out, &headers(&["x"]), [["1"]]).unwrap_err();
    let DataError::Io {
        ref path,
        ref source,
        ..
    } = err
    else {
        panic!("{err:?}")
    };
    assert_eq!(path, &out);
    assert_eq!(source.kind(), std::io::ErrorKind::NotFound);
    assert!(entries(dir.path()).is_empty());
}

#[test]
fn a_bad_row_leaves_no_file_and_no_temporary() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.csv");
    let rows = [vec!["1", "a"], vec!["2"]];
    let err = write_csv_atomic(&out, &headers(&["id", "v"]), rows).unwrap_err();
    assert!(
        matches!(
            err,
            DataError::FieldCount {
                line: 3,
                expected: 2,
                found: 1,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(entries(dir.path()).is_empty());

    // An existing destination is left untouched.
    std::fs::write(&out, "old\n").unwrap();
    assert!(write_csv_atomic(&out, &headers(&["id", "v"]), [vec!["1"]]).is_err());
    assert_eq!(std::fs::read_to_string(&out).unwrap(), "old\n");
    assert_eq!(entries(dir.path()), ["out.csv"]);
}

#[test]
fn atomic_file_dropped_without_commit_leaves_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("report.txt");
    {
        let mut f = AtomicFile::create(&out).unwrap();
        f.write_all(b"partial").unwrap();
        assert_eq!(
            entries(dir.path()).len(),
            1,
            "the temporary file exists meanwhile"
        );
        assert!(!out.exists());
    }
    assert!(entries(dir.path()).is_empty());

    let mut f = AtomicFile::create(&out).unwrap();
    f.write_all(b"done\n").unwrap();
    f.commit().unwrap();
    assert_eq!(std::fs::read_to_string(&out).unwrap(), "done\n");
    assert_eq!(entries(dir.path()), ["report.txt"]);
}

#[test]
fn writes_lines() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("keys.txt");
    write_lines_atomic(&out, ["a", "b"]).unwrap();
    assert_eq!(std::fs::read_to_string(&out).unwrap(), "a\nb\n");
    write_lines_atomic(&out, Vec::<String>::new()).unwrap();
    assert_eq!(std::fs::read_to_string(&out).unwrap(), "");
}
