//! Hostile and broken input files (issue 13): FIFOs and devices, size limits, unterminated
//! quotes, huge values and headers, empty files, and files that are not datasets at all (a
//! key, a token) whose content must not come back in an error.

use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::Duration;

use unseen_data::{
    DataError, FileKind, Format, KeyType, MAX_MASKED_CHARS, ReadOptions, Table, open_input,
    read_rows_at, read_small_file, read_small_text, read_table,
};

use crate::util::{file, id};

fn opts(column: &str, kt: KeyType) -> ReadOptions {
    ReadOptions::new(column, kt)
}

/// Runs `f` on another thread and fails the test if it has not returned within 10 s (a reader
/// blocked on a FIFO would otherwise hang the whole test binary).
fn within_10s<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    rx.recv_timeout(Duration::from_secs(10))
        .expect("blocked for 10 s: the reader waits on the input")
}

/// A FIFO made with the system's `mkfifo`; no writer ever opens it.
fn fifo(dir: &Path) -> PathBuf {
    let path = dir.join("pipe.csv");
    let status = std::process::Command::new("mkfifo")
        .arg(&path)
        .status()
        .expect("mkfifo must be installed to run this test");
    assert!(status.success(), "mkfifo failed");
    path
}

/// `id,name` then `rows` rows with distinct valid ids; row `i` (0-based) is on line `i + 2`.
fn rows_csv(rows: usize, mut edit: impl FnMut(usize, String) -> String) -> String {
    let mut text = String::from("id,name\n");
    for i in 0..rows {
        let seq = u32::try_from(i % 1000).unwrap();
        let birth = format!("19{:02}0101", 50 + i / 1000);
        let line = format!("{},customer {i}\n", id("110105", &birth, seq));
        text += &edit(i, line);
    }
    text
}

// --- Item 9: a FIFO blocks forever; item 8: /dev/zero grows memory without bound. ---

#[test]
fn fifo_input_is_refused_without_blocking() {
    let dir = tempfile::tempdir().unwrap();
    let path = fifo(dir.path());
    let p = path.clone();
    let err = within_10s(move || read_table(&p, &opts("id", KeyType::String)).unwrap_err());
    assert!(
        matches!(
            err,
            DataError::NotRegularFile {
                kind: FileKind::Fifo,
                ..
            }
        ),
        "{err:?}"
    );
    assert_eq!(
        err.to_string(),
        format!(
            "{}: a FIFO (named pipe); unseen reads only regular files",
            path.display()
        )
    );
    // The second pass, the small-file reader and the opener itself refuse it too.
    for err in within_10s(move || {
        [
            read_rows_at(&path, &opts("id", KeyType::String), &[]).unwrap_err(),
            read_small_file(&path, 1024).unwrap_err(),
            open_input(&path).unwrap_err(),
        ]
    }) {
        assert!(
            matches!(
                err,
                DataError::NotRegularFile {
                    kind: FileKind::Fifo,
                    ..
                }
            ),
            "{err:?}"
        );
    }
}

#[test]
fn devices_and_directories_are_refused_before_reading() {
    let err = within_10s(|| read_table(Path::new("/dev/zero"), &opts("id", KeyType::IdCard)))
        .unwrap_err();
    assert!(
        matches!(
            err,
            DataError::NotRegularFile {
                kind: FileKind::CharDevice,
                ..
            }
        ),
        "{err:?}"
    );
    let err = within_10s(|| read_small_text(Path::new("/dev/zero"), 1 << 20)).unwrap_err();
    assert!(
        matches!(
            err,
            DataError::NotRegularFile {
                kind: FileKind::CharDevice,
                ..
            }
        ),
        "{err:?}"
    );
    let dir = tempfile::tempdir().unwrap();
    let err = read_table(dir.path(), &opts("id", KeyType::IdCard)).unwrap_err();
    assert!(
        matches!(
            err,
            DataError::NotRegularFile {
                kind: FileKind::Directory,
                ..
            }
        ),
        "{err:?}"
    );
}

#[test]
fn a_symlink_to_a_regular_file_is_read() {
    let (dir, path) = file("real.csv", "id\nabc\n");
    let link = dir.path().join("link.csv");
    std::os::unix::fs::symlink(&path, &link).unwrap();
    let t = read_table(&link, &opts("id", KeyType::String)).unwrap();
    assert_eq!(t.keys, ["abc"]);
}

#[test]
fn file_size_is_capped_before_reading() {
    let (_d, path) = file("big.csv", rows_csv(100, |_, l| l));
    let size = std::fs::metadata(&path).unwrap().len();
    let mut o = opts("id", KeyType::IdCard);
    o.limits.max_file_bytes = size - 1;
    let err = read_table(&path, &o).unwrap_err();
    assert!(
        matches!(err, DataError::TooLarge { size: s, max, .. } if s == size && max == size - 1),
        "{err:?}"
    );
    o.limits.max_file_bytes = size;
    assert_eq!(read_table(&path, &o).unwrap().len(), 100);

    // A sparse file of 64 GiB is refused by its size, without allocating or reading it.
    let dir = tempfile::tempdir().unwrap();
    let sparse = dir.path().join("sparse.csv");
    std::fs::File::create(&sparse)
        .unwrap()
        .set_len(64 << 30)
        .unwrap();
    let err = read_table(&sparse, &opts("id", KeyType::IdCard)).unwrap_err();
    assert!(
        matches!(err, DataError::TooLarge { size, max, .. } if size == 64 << 30 && max == 4 << 30),
        "{err:?}"
    );
}

#[test]
fn small_files_are_read_whole_up_to_their_cap() {
    let (_d, path) = file("cert.pem", "-----BEGIN CERTIFICATE-----\nMIIB\n");
    assert_eq!(
        read_small_text(&path, 1024).unwrap(),
        "-----BEGIN CERTIFICATE-----\nMIIB\n"
    );
    let err = read_small_file(&path, 10).unwrap_err();
    assert!(
        matches!(
            err,
            DataError::TooLarge {
                size: 33,
                max: 10,
                ..
            }
        ),
        "{err:?}"
    );
    let (_d, path) = file("bin", b"ok\n\xFF\n");
    let err = read_small_text(&path, 1024).unwrap_err();
    assert!(
        matches!(err, DataError::Encoding { line: 2, .. }),
        "{err:?}"
    );
}

// --- Item 13: an unterminated quote silently drops the rest of the file. ---

#[test]
fn unterminated_quote_names_the_line_where_it_opened() {
    // Row 10 (line 11) opens a quote in its last field and never closes it: 990 rows would
    // vanish into one field.
    let text = rows_csv(1000, |i, l| {
        if i == 9 {
            l.replace("customer 9", "\"VIP customer")
        } else {
            l
        }
    });
    let (_d, path) = file("q.csv", &text);
    let err = read_table(&path, &opts("id", KeyType::IdCard)).unwrap_err();
    assert!(
        matches!(err, DataError::UnterminatedQuote { line: 11, .. }),
        "{err:?}"
    );
    assert!(
        err.to_string()
            .starts_with(&format!("{}:11: a quoted field opened", path.display())),
        "{err}"
    );
    // The same with CRLF line ends, and in the second pass.
    let (_d, path) = file("q-crlf.csv", text.replace('\n', "\r\n"));
    let err = read_table(&path, &opts("id", KeyType::IdCard)).unwrap_err();
    assert!(
        matches!(err, DataError::UnterminatedQuote { line: 11, .. }),
        "{err:?}"
    );
    let err = read_rows_at(&path, &opts("id", KeyType::IdCard), &[(1000, "x")]).unwrap_err();
    assert!(
        matches!(err, DataError::UnterminatedQuote { line: 11, .. }),
        "{err:?}"
    );
}

#[test]
fn unterminated_quote_in_a_middle_field_is_reported_as_such() {
    // The quote swallows the commas too, so the record has too few fields: the quote, not the
    // field count, is the cause to report.
    let (_d, path) = file("m.csv", "a,b,c\n1,2,3\n4,\"oops,6\n7,8,9\n");
    let err = read_table(&path, &opts("a", KeyType::String)).unwrap_err();
    assert!(
        matches!(err, DataError::UnterminatedQuote { line: 3, .. }),
        "{err:?}"
    );
    // In the header too.
    let (_d, path) = file("h.csv", "id,\"name\n1,x\n");
    let err = read_table(&path, &opts("id", KeyType::String)).unwrap_err();
    assert!(
        matches!(err, DataError::UnterminatedQuote { line: 1, .. }),
        "{err:?}"
    );
}

#[test]
fn a_quote_closed_far_below_is_refused_naming_where_it_opened() {
    // A stray quote on line 11 is closed by another stray one 200 lines further down: one
    // record of 201 lines with the right field count.
    let text = rows_csv(1000, |i, l| match i {
        9 => l.replace("customer 9", "\"VIP customer"),
        209 => l.replace("customer 209", "customer\" 209"),
        _ => l,
    });
    let (_d, path) = file("far.csv", &text);
    let err = read_table(&path, &opts("id", KeyType::IdCard)).unwrap_err();
    assert!(
        matches!(
            err,
            DataError::QuoteTooLong {
                line: 11,
                max_lines: 100,
                ..
            }
        ),
        "{err:?}"
    );
    // Within the bound it is data: a note of 100 lines is one field.
    let note = vec!["line"; 100].join("\n");
    let (_d, path) = file("note.csv", format!("id,note\na,\"{note}\"\nb,x\n"));
    let t = read_table(&path, &opts("id", KeyType::String)).unwrap();
    assert_eq!(t.keys, ["a", "b"]);
    assert_eq!(t.rows[1].line(), 102);
    assert_eq!(t.rows[0].get(1), Some(note.as_str()));
    let (_d, path) = file("note2.csv", format!("id,note\na,\"{note}\nmore\"\nb,x\n"));
    let err = read_table(&path, &opts("id", KeyType::String)).unwrap_err();
    assert!(
        matches!(err, DataError::QuoteTooLong { line: 2, .. }),
        "{err:?}"
    );
}

#[test]
fn properly_quoted_files_are_unchanged() {
    // Quotes closed at the end of the file, literal quotes inside unquoted fields, "" escapes,
    // and no newline after the last record.
    let text = "id,note\na,\"x, \"\"y\"\"\"\nb,5\" screen\nc,\"two\r\nlines\"\nd,\"end\"";
    let (_d, path) = file("ok.csv", text);
    let t = read_table(&path, &opts("id", KeyType::String)).unwrap();
    assert_eq!(t.keys, ["a", "b", "c", "d"]);
    let lines: Vec<u64> = t.rows.iter().map(|r| r.line()).collect();
    assert_eq!(lines, [2, 3, 4, 6]);
    assert_eq!(t.rows[3].get(1), Some("end"));
}

// --- Item 20: a 50 MB key value gives a 52 MB error. ---

#[test]
fn a_huge_invalid_key_gives_a_short_error() {
    let huge = "1".repeat(50 << 20);
    let (_d, path) = file("huge.csv", format!("id\n{huge}\n"));
    let mut o = opts("id", KeyType::IdCard);
    o.limits.max_record_bytes = 64 << 20;
    let err = read_table(&path, &o).unwrap_err();
    let DataError::Invalid { ref value, .. } = err else {
        panic!("{err:?}")
    };
    assert_eq!(
        value,
        &format!(
            "111111{}…(52428800 bytes)",
            "*".repeat(MAX_MASKED_CHARS - 6)
        )
    );
    let msg = err.to_string();
    assert!(
        msg.len() < 200 + path.as_os_str().len(),
        "{} bytes",
        msg.len()
    );
    assert!(msg.starts_with(&format!("{}:2: column \"id\": ", path.display())));
}

// --- Items 8 and 21: unbounded records and headers; every such error names file and line. ---

#[test]
fn a_huge_header_line_is_refused_naming_file_and_line() {
    let name = "x".repeat(50 << 20);
    let (_d, path) = file("h.csv", format!("id,{name}\n1,2\n"));
    let err = read_table(&path, &opts("id", KeyType::String)).unwrap_err();
    assert!(
        matches!(
            err,
            DataError::RecordTooLong {
                line: 1,
                max: 1_048_576,
                ..
            }
        ),
        "{err:?}"
    );
    assert_eq!(
        err.to_string(),
        format!(
            "{}:1: header line of 52428804 bytes, more than the limit of 1048576",
            path.display()
        )
    );
}

#[test]
fn header_names_and_columns_are_bounded() {
    let long = "n".repeat(1025);
    let (_d, path) = file("n.csv", format!("id,{long}\n1,2\n"));
    let err = read_table(&path, &opts("id", KeyType::String)).unwrap_err();
    assert!(
        matches!(
            err,
            DataError::ColumnNameTooLong {
                column: 2,
                bytes: 1025,
                max: 1024,
                format: Format::Csv,
                ..
            }
        ),
        "{err:?}"
    );
    assert_eq!(
        err.to_string(),
        format!(
            "{}:1: the name of column 2 is 1025 bytes, more than the limit of 1024",
            path.display()
        )
    );
    let header = (0..4097)
        .map(|i| format!("c{i}"))
        .collect::<Vec<_>>()
        .join(",");
    let (_d, path) = file("c.csv", format!("{header}\n"));
    let err = read_table(&path, &opts("c0", KeyType::String)).unwrap_err();
    assert!(
        matches!(
            err,
            DataError::TooManyColumns {
                found: 4097,
                max: 4096,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(
        err.to_string()
            .starts_with(&format!("{}:1: ", path.display()))
    );
}

#[test]
fn a_long_record_is_refused_naming_its_line() {
    let (_d, path) = file("r.csv", format!("id,note\na,x\nb,{}\n", "y".repeat(2000)));
    let mut o = opts("id", KeyType::String);
    o.limits.max_record_bytes = 1000;
    let err = read_table(&path, &o).unwrap_err();
    assert!(
        matches!(
            err,
            DataError::RecordTooLong {
                line: 3,
                bytes: 2003,
                max: 1000,
                ..
            }
        ),
        "{err:?}"
    );
    assert_eq!(
        err.to_string(),
        format!(
            "{}:3: record of 2003 bytes, more than the limit of 1000",
            path.display()
        )
    );
}

// --- Item 22: an empty file runs a whole protocol. ---

#[test]
fn empty_inputs_are_typed_errors() {
    let (_d, path) = file("zero.csv", "");
    let err = read_table(&path, &opts("id", KeyType::IdCard)).unwrap_err();
    assert!(matches!(err, DataError::NoHeader { .. }), "{err:?}");

    // Header only: a table with no rows, which callers refuse before contacting a partner.
    let (_d, path) = file("h.csv", "id,name\n");
    let t: Table = read_table(&path, &opts("id", KeyType::IdCard)).unwrap();
    assert_eq!(t.len(), 0);
    let err = t.require_rows(&path).unwrap_err();
    assert!(
        matches!(err, DataError::Empty { rows_read: 0, .. }),
        "{err:?}"
    );
    assert_eq!(
        err.to_string(),
        format!(
            "{}: no rows to use (the file has a header but no records); nothing to match",
            path.display()
        )
    );

    // Every record skipped: empty too, with the count read.
    let (_d, path) = file("bad.csv", "id\n1\n2\n");
    let mut o = opts("id", KeyType::IdCard);
    o.skip_invalid = true;
    let t = read_table(&path, &o).unwrap();
    assert!(
        matches!(
            t.require_rows(&path),
            Err(DataError::Empty { rows_read: 2, .. })
        ),
        "{t:?}"
    );
    let (_d, path) = file("one.csv", "id\nabc\n");
    let t = read_table(&path, &opts("id", KeyType::String)).unwrap();
    assert!(t.require_rows(&path).is_ok());
}

// --- Item 2 (file content): a "dataset" that is a key or a token must not come back in an
// error. ---

#[test]
fn errors_never_quote_a_secret_file() {
    // A hex secret (an SM2 key, an API token) on one line, or a PEM file.
    let secret = "3f1c9a7be2d04c8a9e5b6f7a8c9d0e1f2a3b4c5d6e7f8091a2b3c4d5e6f70819";
    let pem = format!("-----BEGIN PRIVATE KEY-----\n{secret}\n-----END PRIVATE KEY-----\n");
    let files = [
        ("audit-sm2.key", format!("{secret}\n")),
        ("api.token", secret.to_owned()),
        ("key.pem", pem.clone()),
        ("quoted.key", format!("\"{secret}")),
    ];
    let mut errors = Vec::new();
    for (name, text) in &files {
        let (_d, path) = file(name, text);
        for kt in [KeyType::String, KeyType::IdCard, KeyType::Phone] {
            for column in ["id", "-----BEGIN PRIVATE KEY-----", secret] {
                if let Err(e) = read_table(&path, &opts(column, kt)) {
                    errors.push((name, column, e));
                }
            }
        }
    }
    let (_d, path) = file("key.pem", &pem);
    let err = read_table(&path, &opts("id", KeyType::String)).unwrap_err();
    assert!(
        matches!(
            err,
            DataError::MissingColumn {
                columns: 1,
                similar: None,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(errors.len() >= 20, "{}", errors.len());
    // No 10 consecutive characters of the secret, in the message or in Debug, unless the caller
    // named the secret as the column (then it is theirs, and capped).
    for (name, column, e) in &errors {
        for text in [e.to_string(), format!("{e:?}")] {
            let shown = if *column == secret {
                text.replace(&format!("{:?}", &secret[..32]), "")
                    .replace(&format!("{:?}", secret), "")
            } else {
                text.clone()
            };
            for w in secret.as_bytes().windows(10) {
                let w = std::str::from_utf8(w).unwrap();
                assert!(!shown.contains(w), "{name}: {text}");
            }
            assert!(text.len() < 400, "{name}: {text}");
        }
    }
}

#[test]
fn parquet_schema_names_are_bounded_and_fifos_refused() {
    use unseen_data::testing::{Codec, Values, write_parquet};
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("wide.parquet");
    let long = "n".repeat(1025);
    write_parquet(
        &path,
        &format!("message t {{ required binary id (STRING); required int32 {long}; }}"),
        &[
            Values::strings(vec![Some("a".to_owned())]),
            Values::Int32(vec![Some(1)]),
        ],
        4,
        Codec::Snappy,
    )
    .unwrap();
    let err = read_table(&path, &opts("id", KeyType::String)).unwrap_err();
    assert!(
        matches!(
            err,
            DataError::ColumnNameTooLong {
                column: 2,
                bytes: 1025,
                format: Format::Parquet,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(
        err.to_string()
            .starts_with(&format!("{}: schema: ", path.display()))
    );

    // A FIFO named like Parquet is refused before the format is even looked at.
    let pipe = dir.path().join("pipe.parquet");
    assert!(
        std::process::Command::new("mkfifo")
            .arg(&pipe)
            .status()
            .unwrap()
            .success()
    );
    let err = within_10s(move || read_table(&pipe, &opts("id", KeyType::String))).unwrap_err();
    assert!(
        matches!(
            err,
            DataError::NotRegularFile {
                kind: FileKind::Fifo,
                ..
            }
        ),
        "{err:?}"
    );
}
