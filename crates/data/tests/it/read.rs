//! Reading CSV exports: encodings, CSV syntax, line numbers, invalid keys, duplicates.

use std::io::ErrorKind;

use unseen_data::{
    DataError, DuplicatePolicy, Encoding, KeyError, KeyType, ReadOptions, Table, read_rows_at,
    read_table, write_csv_atomic,
};

use crate::util::{file, id, id_bad_check};

fn opts(column: &str, kt: KeyType) -> ReadOptions {
    ReadOptions::new(column, kt)
}

fn fields(t: &Table) -> Vec<Vec<String>> {
    t.rows
        .iter()
        .map(|r| r.iter().map(str::to_owned).collect())
        .collect()
}

/// GBK bytes for a string, checked against known code points for the characters used here.
fn gbk(s: &str) -> Vec<u8> {
    let (bytes, _, bad) = encoding_rs::GBK.encode(s);
    assert!(!bad);
    bytes.into_owned()
}

#[test]
fn gbk_reference_bytes() {
    // GB 2312 code points: 张 D5C5, 三 C8FD, 姓 D0D5, 名 C3FB.
    assert_eq!(gbk("张三"), b"\xD5\xC5\xC8\xFD");
    assert_eq!(gbk("姓名"), b"\xD0\xD5\xC3\xFB");
}

#[test]
fn utf8_with_bom() {
    let a = id("110105", "19491231", 2);
    let (_d, path) = file("bom.csv", format!("\u{FEFF}id,姓名\n{a},张三\n"));
    let t = read_table(&path, &opts("id", KeyType::IdCard)).unwrap();
    assert_eq!(t.headers, ["id", "姓名"]);
    assert_eq!(t.key_index, Some(0));
    assert_eq!(fields(&t), [[a.clone(), "张三".to_owned()]]);
    assert_eq!(t.keys, [a]);
    assert_eq!(t.summary.encoding, "utf-8");
    assert!(t.summary.bom);
}

#[test]
fn utf8_without_bom_lf() {
    let (a, b) = (id("110105", "19491231", 2), id("310101", "19800101", 5));
    let (_d, path) = file("plain.csv", format!("name,id\nA,{a}\nB,{b}\n"));
    let t = read_table(&path, &opts("id", KeyType::IdCard)).unwrap();
    assert_eq!(t.keys, [a, b]);
    assert_eq!(t.rows[1].line(), 3);
    assert_eq!(t.summary.encoding, "utf-8");
    assert!(!t.summary.bom);
    assert_eq!((t.summary.rows_read, t.summary.rows_kept), (2, 2));
}

#[test]
fn gbk_with_utf8_bom_and_crlf_round_trips_to_utf8() {
    // Some exporters prepend EF BB BF to GBK bytes; Auto strips it, finds the rest is not
    // UTF-8, and decodes GB18030.
    let (a, b) = (id("110105", "19491231", 2), id("440305", "19900307", 123));
    let text = format!("id,姓名,备注\r\n{a},张三,\"北京, 朝阳\"\r\n{b},李四,无\r\n");
    let mut bytes = b"\xEF\xBB\xBF".to_vec();
    bytes.extend(gbk(&text));
    let (dir, path) = file("gbk.csv", &bytes);
    let t = read_table(&path, &opts("id", KeyType::IdCard)).unwrap();
    assert_eq!(t.summary.encoding, "gb18030");
    assert!(t.summary.bom);
    assert_eq!(t.headers, ["id", "姓名", "备注"]);
    assert_eq!(
        fields(&t),
        [
            [a.clone(), "张三".to_owned(), "北京, 朝阳".to_owned()],
            [b.clone(), "李四".to_owned(), "无".to_owned()],
        ]
    );
    assert_eq!((t.rows[0].line(), t.rows[1].line()), (2, 3));

    let out = dir.path().join("out.csv");
    write_csv_atomic(&out, &t.headers, &t.rows).unwrap();
    let written = std::fs::read_to_string(&out).unwrap();
    assert_eq!(
        written,
        format!("id,姓名,备注\n{a},张三,\"北京, 朝阳\"\n{b},李四,无\n")
    );
}

#[test]
fn gbk_without_bom_auto_and_explicit() {
    let a = id("110105", "19491231", 2);
    let (_d, path) = file("gbk.csv", gbk(&format!("姓名,id\n张三,{a}\n")));
    for enc in [Encoding::Auto, Encoding::Gb18030] {
        let mut o = opts("id", KeyType::IdCard);
        o.encoding = enc;
        let t = read_table(&path, &o).unwrap();
        assert_eq!(t.summary.encoding, "gb18030");
        assert!(!t.summary.bom);
        assert_eq!(fields(&t), [["张三".to_owned(), a.clone()]]);
    }
}

#[test]
fn explicit_utf8_rejects_gbk_naming_the_line() {
    let (a, b) = (id("110105", "19491231", 2), id("310101", "19800101", 5));
    let (_d, path) = file("gbk.csv", gbk(&format!("name,id\nA,{a}\n张三,{b}\n")));
    let mut o = opts("id", KeyType::IdCard);
    o.encoding = Encoding::Utf8;
    let err = read_table(&path, &o).unwrap_err();
    assert!(
        matches!(
            err,
            DataError::Encoding {
                line: 3,
                encoding: "utf-8",
                ..
            }
        ),
        "{err:?}"
    );
    assert_eq!(
        err.to_string(),
        format!("{}:3: bytes are not valid utf-8", path.display())
    );
}

#[test]
fn invalid_gb18030_names_the_line() {
    // 0xFF is not a valid GB18030 lead byte.
    let mut bytes = b"id\n13812345678\n".to_vec();
    bytes.extend(b"\xFF\xFF\n");
    let (_d, path) = file("bad.csv", &bytes);
    let err = read_table(&path, &opts("id", KeyType::Phone)).unwrap_err();
    assert!(
        matches!(
            err,
            DataError::Encoding {
                line: 3,
                encoding: "utf-8 or gb18030",
                ..
            }
        ),
        "{err:?}"
    );
    let mut o = opts("id", KeyType::Phone);
    o.encoding = Encoding::Gb18030;
    let err = read_table(&path, &o).unwrap_err();
    assert!(
        matches!(
            err,
            DataError::Encoding {
                line: 3,
                encoding: "gb18030",
                ..
            }
        ),
        "{err:?}"
    );
}

#[test]
fn crlf_and_blank_lines_keep_physical_line_numbers() {
    let (a, b) = (id("110105", "19491231", 2), id("310101", "19800101", 5));
    let (_d, path) = file("crlf.csv", format!("id,x\r\n{a},1\r\n\r\n{b},2\r\n"));
    let t = read_table(&path, &opts("id", KeyType::IdCard)).unwrap();
    assert_eq!(
        fields(&t),
        [[a.clone(), "1".to_owned()], [b.clone(), "2".to_owned()]]
    );
    assert_eq!((t.rows[0].line(), t.rows[1].line()), (2, 4));

    // A quoted CRLF inside a field spans two physical lines; the short record after it is on
    // line 6.
    let (_d, path) = file(
        "crlf2.csv",
        format!("id,x\r\n\r\n{a},\"1\r\n2\"\r\n{b},3\r\n{b}\r\n"),
    );
    let err = read_table(&path, &opts("id", KeyType::IdCard)).unwrap_err();
    assert!(
        matches!(
            err,
            DataError::FieldCount {
                line: 6,
                expected: 2,
                found: 1,
                ..
            }
        ),
        "{err:?}"
    );
}

#[test]
fn quoted_fields_with_commas_quotes_and_newlines() {
    let (a, b) = (id("110105", "19491231", 2), id("310101", "19800101", 5));
    let (bad, _, _) = id_bad_check("440305", "19900307", 123);
    let text = format!("id,note\n{a},\"a, b\"\n{b},\"multi\nline \"\"quoted\"\"\"\n\"{bad}\",x\n");
    let (_d, path) = file("q.csv", text);
    let mut o = opts("id", KeyType::IdCard);
    o.skip_invalid = true;
    let t = read_table(&path, &o).unwrap();
    assert_eq!(
        fields(&t),
        [
            [a, "a, b".to_owned()],
            [b, "multi\nline \"quoted\"".to_owned()]
        ]
    );
    // The multi-line record occupies lines 3-4, so the invalid one starts on line 5.
    assert_eq!(
        t.summary
            .skipped_examples
            .iter()
            .map(|e| e.0)
            .collect::<Vec<_>>(),
        [5]
    );
}

#[test]
fn invalid_check_digit_on_line_7() {
    let mut text = String::from("name,id,amount\n");
    for seq in 0..5 {
        text += &format!("p{seq},{},100\n", id("110105", "19700101", seq));
    }
    let (bad, wrong, expected) = id_bad_check("110101", "19491231", 123);
    text += &format!("p5,{bad},100\n");
    text += &format!("p6,{},100\n", id("110105", "19700101", 9));
    let (_d, path) = file("customers.csv", text);
    let err = read_table(&path, &opts("id", KeyType::IdCard)).unwrap_err();
    let DataError::Invalid {
        line,
        ref column,
        ref reason,
        ..
    } = err
    else {
        panic!("{err:?}");
    };
    assert_eq!(line, 7);
    assert_eq!(column, "id");
    assert_eq!(
        *reason,
        KeyError::IdCardCheckDigit {
            found: wrong,
            expected
        }
    );
    let masked = format!("110101********{}", &bad[14..]);
    assert_eq!(
        err.to_string(),
        format!(
            "{}:7: column \"id\": invalid id-card number: check digit is {wrong}, expected \
             {expected} (value {masked})",
            path.display()
        )
    );
    assert!(!err.to_string().contains(&bad));
}

#[test]
fn skip_invalid_counts_and_keeps_examples() {
    let mut text = String::from("phone\n");
    for i in 0..25 {
        if i % 2 == 0 {
            text += &format!("1380000{i:04}\n");
        } else {
            text += "12345\n";
        }
    }
    let (_d, path) = file("p.csv", text);
    let mut o = opts("phone", KeyType::Phone);
    assert!(matches!(
        read_table(&path, &o),
        Err(DataError::Invalid {
            line: 3,
            reason: KeyError::PhoneLength { found: 5 },
            ..
        })
    ));
    o.skip_invalid = true;
    let t = read_table(&path, &o).unwrap();
    let s = &t.summary;
    assert_eq!((s.rows_read, s.rows_kept, s.skipped_invalid), (25, 13, 12));
    assert_eq!(s.skipped_examples.len(), unseen_data::MAX_EXAMPLES);
    assert_eq!(
        s.skipped_examples[0],
        (3, KeyError::PhoneLength { found: 5 })
    );
    assert_eq!(s.skipped_examples[1].0, 5);
    assert_eq!(t.keys.len(), 13);
    assert_eq!(t.keys[0], "13800000000");
}

#[test]
fn duplicates_keep_first() {
    // The 15-digit and 18-digit forms of one person normalise to the same key.
    let (a, b) = (id("110105", "19491231", 2), id("310101", "19800101", 5));
    let text = format!(
        "id,v\n{a},1\n{b},2\n110105491231002,3\n{},4\n{b},5\n",
        a.to_lowercase()
    );
    let (_d, path) = file("dup.csv", text);
    let t = read_table(&path, &opts("id", KeyType::IdCard)).unwrap();
    assert_eq!(t.keys, [a.clone(), b]);
    assert_eq!(
        t.rows.iter().map(|r| r.get(1).unwrap()).collect::<Vec<_>>(),
        ["1", "2"]
    );
    assert_eq!(t.summary.duplicates_dropped, 3);
    assert_eq!(t.summary.duplicate_examples, [(4, 2), (5, 2), (6, 3)]);
    assert_eq!((t.summary.rows_read, t.summary.rows_kept), (5, 2));
}

#[test]
fn duplicates_keep_all_keeps_every_row_in_order() {
    let (a, b) = (id("110105", "19491231", 2), id("310101", "19800101", 5));
    let text = format!(
        "id,v\n{a},1\n{b},2\n110105491231002,3\n{},4\n{b},5\n",
        a.to_lowercase()
    );
    let (_d, path) = file("dup.csv", text);
    let mut o = opts("id", KeyType::IdCard);
    o.duplicates = DuplicatePolicy::KeepAll;
    let t = read_table(&path, &o).unwrap();
    assert_eq!(t.keys, [a.clone(), b.clone(), a.clone(), a, b]);
    assert_eq!(
        t.rows.iter().map(|r| r.get(1).unwrap()).collect::<Vec<_>>(),
        ["1", "2", "3", "4", "5"]
    );
    assert_eq!(
        t.rows.iter().map(|r| r.line()).collect::<Vec<_>>(),
        [2, 3, 4, 5, 6]
    );
    assert_eq!(t.summary.duplicates_dropped, 0);
    assert!(t.summary.duplicate_examples.is_empty());
    assert_eq!((t.summary.rows_read, t.summary.rows_kept), (5, 5));
    assert_eq!(
        "keep-all".parse::<DuplicatePolicy>().unwrap(),
        DuplicatePolicy::KeepAll
    );
}

#[test]
fn duplicates_error_names_both_lines() {
    let a = id("110105", "19491231", 2);
    let mut o = opts("id", KeyType::IdCard);
    o.duplicates = DuplicatePolicy::Error;
    let (_d, path) = file("dup.csv", format!("id\n{a}\nnone\n110105491231002\n"));
    o.skip_invalid = true;
    let err = read_table(&path, &o).unwrap_err();
    assert!(
        matches!(
            err,
            DataError::Duplicate {
                line: 4,
                first_line: 2,
                ..
            }
        ),
        "{err:?}"
    );
    assert_eq!(
        err.to_string(),
        format!(
            "{}:4: column \"id\": duplicate key, first seen on line 2",
            path.display()
        )
    );
}

#[test]
fn string_keys_are_trimmed_and_deduplicated() {
    let (_d, path) = file("s.csv", "k,v\n a ,1\nb,2\na,3\n");
    let t = read_table(&path, &opts("k", KeyType::String)).unwrap();
    assert_eq!(t.keys, ["a", "b"]);
    assert_eq!(
        t.rows[0].get(0),
        Some(" a "),
        "rows keep the original field"
    );
}

#[test]
fn header_name_is_trimmed_and_exact() {
    let a = id("110105", "19491231", 2);
    let (_d, path) = file("h.csv", format!("name, 身份证号 \nA,{a}\n"));
    let t = read_table(&path, &opts("身份证号", KeyType::IdCard)).unwrap();
    assert_eq!(t.key_index, Some(1));
    assert_eq!(t.headers[1], " 身份证号 ");
    assert!(matches!(
        read_table(&path, &opts("身份证", KeyType::IdCard)),
        Err(DataError::MissingColumn { .. })
    ));
}

#[test]
fn missing_column_counts_headers_without_quoting_them() {
    let (_d, path) = file("m.csv", "\u{FEFF}name,phone\nA,13812345678\n");
    let err = read_table(&path, &opts("id", KeyType::IdCard)).unwrap_err();
    let DataError::MissingColumn {
        ref column,
        columns,
        ref similar,
        ..
    } = err
    else {
        panic!("{err:?}");
    };
    assert_eq!((column.as_str(), columns, similar), ("id", 2, &None));
    assert_eq!(
        err.to_string(),
        format!(
            "{}:1: no column \"id\" in the header (2 columns)",
            path.display()
        )
    );
    // A header differing only in case is named: the likely typo.
    let (_d, path) = file("m2.csv", "name,ID \nA,1\n");
    let err = read_table(&path, &opts("id", KeyType::String)).unwrap_err();
    assert!(
        matches!(err, DataError::MissingColumn { ref similar, .. } if similar.as_deref() == Some("ID ")),
        "{err:?}"
    );
    assert!(
        err.to_string()
            .ends_with("(2 columns); did you mean \"ID \"?"),
        "{err}"
    );
}

#[test]
fn ambiguous_column() {
    let (_d, path) = file("a.csv", "id,x,id \n1,2,3\n");
    let err = read_table(&path, &opts("id", KeyType::String)).unwrap_err();
    assert!(
        matches!(
            err,
            DataError::AmbiguousColumn {
                first: 1,
                second: 3,
                ..
            }
        ),
        "{err:?}"
    );
}

#[test]
fn missing_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nope.csv");
    let err = read_table(&path, &opts("id", KeyType::IdCard)).unwrap_err();
    let DataError::Io { ref source, .. } = err else {
        panic!("{err:?}")
    };
    assert_eq!(source.kind(), ErrorKind::NotFound);
    let msg = err.to_string();
    assert!(
        msg.starts_with(&format!("{}: cannot read: ", path.display())),
        "{msg}"
    );
}

#[test]
fn wrong_field_count() {
    let (_d, path) = file("f.csv", "a,b,c\r\n1,2,3\r\n4,5\r\n");
    let err = read_table(&path, &opts("a", KeyType::String)).unwrap_err();
    assert!(
        matches!(
            err,
            DataError::FieldCount {
                line: 3,
                expected: 3,
                found: 2,
                ..
            }
        ),
        "{err:?}"
    );
    assert_eq!(
        err.to_string(),
        format!(
            "{}:3: expected 3 fields (as in the header), found 2",
            path.display()
        )
    );
}

#[test]
fn empty_and_header_only() {
    // No header row at all: the key column is absent, which is an error naming the file.
    for (name, text) in [
        ("e.csv", ""),
        ("bom-only.csv", "\u{FEFF}"),
        ("blank.csv", "\r\n\n"),
    ] {
        let (_d, path) = file(name, text);
        let err = read_table(&path, &opts("id", KeyType::IdCard)).unwrap_err();
        assert!(matches!(err, DataError::NoHeader { .. }), "{name}: {err:?}");
        assert_eq!(
            err.to_string(),
            format!(
                "{}: the file is empty: no header row, so no column \"id\"",
                path.display()
            )
        );
    }

    // A header without records is a valid, empty table; callers refuse it if they must.
    let (_d, path) = file("h.csv", "id,name\r\n");
    let t = read_table(&path, &opts("id", KeyType::IdCard)).unwrap();
    assert_eq!(t.headers, ["id", "name"]);
    assert!(t.rows.is_empty() && t.is_empty());
    assert_eq!(t.summary.rows_read, 0);
    let err = t.require_rows(&path).unwrap_err();
    assert!(
        matches!(err, DataError::Empty { rows_read: 0, .. }),
        "{err:?}"
    );

    assert!(matches!(
        read_table(&path, &opts("phone", KeyType::Phone)),
        Err(DataError::MissingColumn { .. })
    ));
}

#[test]
fn option_names() {
    assert_eq!(
        "keep-first".parse::<DuplicatePolicy>().unwrap(),
        DuplicatePolicy::KeepFirst
    );
    assert_eq!(
        "error".parse::<DuplicatePolicy>().unwrap(),
        DuplicatePolicy::Error
    );
    assert_eq!("utf8".parse::<Encoding>().unwrap(), Encoding::Utf8);
    assert_eq!("gbk".parse::<Encoding>().unwrap(), Encoding::Gb18030);
    assert_eq!("gb18030".parse::<Encoding>().unwrap(), Encoding::Gb18030);
    assert!("first".parse::<DuplicatePolicy>().is_err());
}

#[test]
fn key_only_first_pass_then_rows_by_line() {
    let (a, b, c) = (
        id("110105", "19491231", 2),
        id("310104", "19800101", 7),
        id("440305", "20000229", 9),
    );
    // A quoted multi-line field moves the later records' start lines.
    let text = format!(
        "id,note\r\n{a},\"one\r\ntwo\"\r\n{},x\r\n{c},\"q, r\"\r\n",
        b.to_lowercase()
    );
    let (_d, path) = file("two_pass.csv", text);
    let mut o = opts("id", KeyType::IdCard);
    o.keep_fields = false;
    let t = read_table(&path, &o).unwrap();
    assert_eq!(t.keys, vec![a.clone(), b.clone(), c.clone()]);
    assert!(
        t.rows.iter().all(|r| r.is_empty()),
        "no fields kept in the first pass"
    );
    let lines: Vec<u64> = t.rows.iter().map(|r| r.line()).collect();
    assert_eq!(lines, vec![2, 4, 5]);
    // Second pass, in an order of our choosing.
    let wanted = [(5, c.as_str()), (2, a.as_str())];
    let rows = read_rows_at(&path, &o, &wanted).unwrap();
    let got: Vec<Vec<&str>> = rows.iter().map(|r| r.iter().collect()).collect();
    assert_eq!(
        got,
        vec![vec![c.as_str(), "q, r"], vec![a.as_str(), "one\r\ntwo"]]
    );
    assert!(read_rows_at(&path, &o, &[]).unwrap().is_empty());
}

#[test]
fn second_pass_notices_a_changed_file() {
    let (a, b) = (id("110105", "19491231", 2), id("310104", "19800101", 7));
    let (_d, path) = file("changes.csv", format!("id,v\n{a},1\n{b},2\n"));
    let mut o = opts("id", KeyType::IdCard);
    o.keep_fields = false;
    read_table(&path, &o).unwrap();
    // Another key on line 3, then a file that lost line 3.
    let other = id("440305", "20000229", 9);
    std::fs::write(&path, format!("id,v\n{a},1\n{other},2\n")).unwrap();
    let e = read_rows_at(&path, &o, &[(3, b.as_str())]).unwrap_err();
    assert!(matches!(e, DataError::Changed { line: 3, .. }), "{e}");
    std::fs::write(&path, format!("id,v\n{a},1\n")).unwrap();
    let e = read_rows_at(&path, &o, &[(2, a.as_str()), (3, b.as_str())]).unwrap_err();
    assert!(matches!(e, DataError::Changed { line: 3, .. }), "{e}");
}
