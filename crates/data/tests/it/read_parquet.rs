//! Reading Parquet: the same table as the same data in CSV (keys, order, rows as text, lines as
//! row numbers), int keys, invalid keys and duplicates by row, value types as text, refused
//! schemas, corrupt files, and the second pass.

use std::path::{Path, PathBuf};

use parquet::file::reader::FileReader;
use parquet::file::serialized_reader::SerializedFileReader;

use unseen_data::testing::{Codec, Values, write_parquet};
use unseen_data::{
    DataError, DuplicatePolicy, Encoding, Format, KeyError, KeyType, ReadOptions, Row, Table,
    read_rows_at, read_table, write_csv_atomic,
};

use crate::util::{id, id_bad_check};

/// SplitMix64: a fixed-seed generator independent of the crates under test.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        usize::try_from(self.next() % n as u64).unwrap()
    }
}

fn fields(t: &Table) -> Vec<Vec<String>> {
    rows_text(&t.rows)
}

fn rows_text(rows: &[Row]) -> Vec<Vec<String>> {
    rows.iter()
        .map(|r| r.iter().map(str::to_owned).collect())
        .collect()
}

fn key_opts(column: &str, kt: KeyType) -> ReadOptions {
    ReadOptions::new(column, kt)
}

/// A table as typed Parquet columns and as the text the reader must turn them into.
struct Dataset {
    schema: &'static str,
    columns: Vec<Values>,
    headers: Vec<&'static str>,
    text: Vec<Vec<String>>,
}

impl Dataset {
    fn write(&self, dir: &Path, codec: Codec, rows_per_group: usize) -> (PathBuf, PathBuf) {
        let pq = dir.join(format!("t-{codec:?}.parquet"));
        write_parquet(&pq, self.schema, &self.columns, rows_per_group, codec).unwrap();
        let csv = dir.join("t.csv");
        let rows: Vec<Row> = self
            .text
            .iter()
            .map(|r| Row::from_fields(0, r).unwrap())
            .collect();
        let headers: Vec<String> = self.headers.iter().map(|h| (*h).to_owned()).collect();
        write_csv_atomic(&csv, &headers, rows.iter()).unwrap();
        (pq, csv)
    }
}

/// `n` customers with every kind of column, nulls, invalid keys, duplicates (some only equal
/// after normalisation), Chinese text and CSV-hostile characters.
fn customers(n: usize, seed: u64) -> Dataset {
    let mut rng = Rng(seed);
    let dates = [
        (0, "1970-01-01"),
        (19_782, "2024-02-29"),
        (-1, "1969-12-31"),
        (10_957, "2000-01-01"),
    ];
    let times = [
        (0i64, "1970-01-01T00:00:00.000000Z"),
        (1_709_281_805_123_456, "2024-03-01T08:30:05.123456Z"),
        (-1, "1969-12-31T23:59:59.999999Z"),
    ];
    let rates = [(0.1, "0.1"), (2.5, "2.5"), (-3.0, "-3"), (1e20, "1e20")];
    let (mut ids, mut names, mut amounts, mut balances) = (vec![], vec![], vec![], vec![]);
    let (mut opened, mut flags, mut rate, mut ts) = (vec![], vec![], vec![], vec![]);
    let mut text = Vec::with_capacity(n);
    // A distinct valid number per row index (born 1950-1959, months 01-09, days 10-19).
    let birth = |r: usize| format!("19{}0{}1{}", 50 + r / 1_000, 1 + r % 9, r % 10);
    let seq = |r: usize| u32::try_from(r % 1_000).unwrap();
    for r in 0..n {
        let raw = match r {
            // Invalid keys (skipped under skip_invalid).
            _ if r % 211 == 5 => id_bad_check("110105", &birth(r), seq(r)).0,
            _ if r % 307 == 9 => String::new(),
            // The key of an earlier row, lowercase: a duplicate only after normalisation.
            _ if r % 97 == 50 => id("440305", &birth(r - 50), seq(r - 50)).to_lowercase(),
            _ => id("440305", &birth(r), seq(r)),
        };
        let name = match rng.below(5) {
            0 => None,
            1 => Some(format!("客户{r}, \"VIP\"")),
            _ => Some(format!("客户{r}")),
        };
        let amount =
            (rng.below(7) != 0).then(|| i64::try_from(rng.next() >> 20).unwrap() - (1 << 43));
        let balance = i64::try_from(rng.next() >> 30).unwrap() - (1 << 33);
        let (d, d_text) = dates[rng.below(dates.len())];
        let (t, t_text) = times[rng.below(times.len())];
        let flag = rng.below(2) == 1;
        let rt = (rng.below(4) != 0).then(|| rates[rng.below(rates.len())]);
        let abs = balance.unsigned_abs();
        let balance_text = format!(
            "{}{}.{:02}",
            if balance < 0 { "-" } else { "" },
            abs / 100,
            abs % 100
        );
        text.push(vec![
            name.clone().unwrap_or_default(),
            raw.clone(),
            amount.map(|a| a.to_string()).unwrap_or_default(),
            balance_text,
            d_text.to_owned(),
            flag.to_string(),
            rt.map(|x| x.1.to_owned()).unwrap_or_default(),
            t_text.to_owned(),
        ]);
        ids.push(Some(raw));
        names.push(name);
        amounts.push(amount);
        balances.push(Some(balance));
        opened.push(Some(d));
        flags.push(Some(flag));
        rate.push(rt.map(|x| x.0));
        ts.push(Some(t));
    }
    Dataset {
        schema: "message customers {
            optional binary name (STRING);
            required binary id (STRING);
            optional int64 amount;
            required int64 balance (DECIMAL(12, 2));
            required int32 opened (DATE);
            required boolean flag;
            optional double rate;
            required int64 ts (TIMESTAMP(MICROS, true));
        }",
        columns: vec![
            Values::strings(names),
            Values::strings(ids),
            Values::Int64(amounts),
            Values::Int64(balances),
            Values::Int32(opened),
            Values::Bool(flags),
            Values::Double(rate),
            Values::Int64(ts),
        ],
        headers: vec![
            "name", "id", "amount", "balance", "opened", "flag", "rate", "ts",
        ],
        text,
    }
}

#[test]
fn parquet_reads_like_the_same_csv() {
    let dir = tempfile::tempdir().unwrap();
    let data = customers(10_000, 7);
    let mut opts = key_opts("id", KeyType::IdCard);
    opts.skip_invalid = true;
    for codec in [
        Codec::Snappy,
        Codec::Uncompressed,
        Codec::Gzip,
        Codec::Lz4Raw,
    ] {
        // Row groups of 3001 rows: batch (4096) and page (1000) boundaries fall elsewhere.
        let (pq, csv) = data.write(dir.path(), codec, 3_001);
        assert_eq!(Format::detect(&pq).unwrap(), Format::Parquet);
        let tp = read_table(&pq, &opts).unwrap();
        let tc = read_table(&csv, &opts).unwrap();
        assert_eq!(tp.headers, tc.headers);
        assert_eq!(tp.key_index, Some(1));
        assert_eq!(
            tp.keys, tc.keys,
            "{codec:?}: the same keys in the same order"
        );
        assert_eq!(fields(&tp), fields(&tc), "{codec:?}: the same rows as text");
        // Row numbers are CSV lines less the header.
        for (p, c) in tp.rows.iter().zip(&tc.rows) {
            assert_eq!(p.line() + 1, c.line());
        }
        let (sp, sc) = (&tp.summary, &tc.summary);
        assert_eq!(
            (
                sp.rows_read,
                sp.rows_kept,
                sp.skipped_invalid,
                sp.duplicates_dropped
            ),
            (
                sc.rows_read,
                sc.rows_kept,
                sc.skipped_invalid,
                sc.duplicates_dropped
            )
        );
        assert_eq!(sp.rows_read, 10_000);
        assert!(
            sp.skipped_invalid > 50 && sp.duplicates_dropped > 50,
            "{sp:?}"
        );
        let shift = |v: &[(u64, u64)]| v.iter().map(|&(a, b)| (a + 1, b + 1)).collect::<Vec<_>>();
        assert_eq!(shift(&sp.duplicate_examples), sc.duplicate_examples);
        let skipped: Vec<_> = sp
            .skipped_examples
            .iter()
            .map(|(l, r)| (l + 1, r.clone()))
            .collect();
        assert_eq!(skipped, sc.skipped_examples);
        assert_eq!(
            skipped[0],
            (
                7,
                KeyError::IdCardCheckDigit {
                    found: skipped_found(&data, 5),
                    expected: skipped_expected(&data, 5)
                }
            )
        );
        assert_eq!((sp.format, sc.format), (Format::Parquet, Format::Csv));
        assert_eq!(sp.encoding, "utf-8");

        // Two passes: keys only, then chosen rows by row number, in a chosen order.
        let mut o = opts.clone();
        o.keep_fields = false;
        let kp = read_table(&pq, &o).unwrap();
        let kc = read_table(&csv, &o).unwrap();
        assert_eq!(kp.keys, tp.keys);
        assert!(kp.rows.iter().all(Row::is_empty));
        let mut rng = Rng(11);
        let mut picks: Vec<usize> = (0..400).map(|_| rng.below(kp.keys.len())).collect();
        let mut seen = std::collections::HashSet::new();
        picks.retain(|&p| seen.insert(p));
        let want = |t: &Table| -> Vec<(u64, String)> {
            picks
                .iter()
                .map(|&i| (t.rows[i].line(), t.keys[i].clone()))
                .collect()
        };
        let (wp, wc) = (want(&kp), want(&kc));
        let rp = read_rows_at(&pq, &o, &as_ref(&wp)).unwrap();
        let rc = read_rows_at(&csv, &o, &as_ref(&wc)).unwrap();
        assert_eq!(rows_text(&rp), rows_text(&rc));
        assert_eq!(
            rp.iter().map(Row::line).collect::<Vec<_>>(),
            wp.iter().map(|w| w.0).collect::<Vec<_>>()
        );
        let expected: Vec<Vec<String>> = picks.iter().map(|&i| fields(&tp)[i].clone()).collect();
        assert_eq!(rows_text(&rp), expected);
    }
}

fn as_ref(w: &[(u64, String)]) -> Vec<(u64, &str)> {
    w.iter().map(|(l, k)| (*l, k.as_str())).collect()
}

/// The wrong and the expected check character of the invalid key at row index `r`.
fn skipped_found(data: &Dataset, r: usize) -> char {
    data.text[r][1].chars().last().unwrap()
}

fn skipped_expected(data: &Dataset, r: usize) -> char {
    let raw = &data.text[r][1];
    unseen_data::synth::id_card_check_char(&raw[..17]).unwrap()
}

#[test]
fn integer_key_columns() {
    // 18-digit numbers without an X fit in an INT64; phones too; both normalise like text.
    let ids: Vec<String> = (0..40)
        .map(|s| id("110105", "19800101", s))
        .filter(|i| !i.ends_with('X'))
        .collect();
    let phones: Vec<i64> = (0..ids.len())
        .map(|i| 13_800_000_000 + i64::try_from(i).unwrap())
        .collect();
    let dir = tempfile::tempdir().unwrap();
    let pq = dir.path().join("ints.parquet");
    write_parquet(
        &pq,
        "message t { required int64 id; optional int64 phone (INTEGER(64, false)); \
         required int64 dec_id (DECIMAL(18, 0)); }",
        &[
            Values::Int64(ids.iter().map(|i| Some(i.parse().unwrap())).collect()),
            Values::Int64(phones.iter().map(|&p| Some(p)).collect()),
            Values::Int64(ids.iter().map(|i| Some(i.parse().unwrap())).collect()),
        ],
        7,
        Codec::Snappy,
    )
    .unwrap();
    for column in ["id", "dec_id"] {
        let t = read_table(&pq, &key_opts(column, KeyType::IdCard)).unwrap();
        assert_eq!(t.keys, ids, "{column}");
    }
    let t = read_table(&pq, &key_opts("phone", KeyType::Phone)).unwrap();
    let want: Vec<String> = phones.iter().map(i64::to_string).collect();
    assert_eq!(t.keys, want);
    assert_eq!(t.rows[3].get(0), Some(ids[3].as_str()));
    let t = read_table(&pq, &key_opts("id", KeyType::String)).unwrap();
    assert_eq!(t.keys, ids);
}

/// 10 rows of `id` (STRING) and `v` (INT32), 4 rows per row group; `ids[i]` is row i + 1.
fn small(dir: &Path, name: &str, ids: &[Option<String>]) -> PathBuf {
    let path = dir.join(name);
    let v: Vec<Option<i32>> = (0..ids.len())
        .map(|i| Some(i32::try_from(i).unwrap() + 1))
        .collect();
    write_parquet(
        &path,
        "message t { optional binary id (STRING); required int32 v; }",
        &[Values::strings(ids.to_vec()), Values::Int32(v)],
        4,
        Codec::Snappy,
    )
    .unwrap();
    path
}

fn ids(n: u32) -> Vec<Option<String>> {
    (0..n).map(|s| Some(id("310104", "19800101", s))).collect()
}

#[test]
fn invalid_key_names_the_row() {
    let dir = tempfile::tempdir().unwrap();
    let mut keys = ids(10);
    let (bad, wrong, expected) = id_bad_check("110101", "19491231", 123);
    keys[6] = Some(bad.clone());
    keys[2] = None;
    let path = small(dir.path(), "customers.parquet", &keys);
    let opts = key_opts("id", KeyType::IdCard);
    let err = read_table(&path, &opts).unwrap_err();
    assert!(
        matches!(
            err,
            DataError::Invalid {
                format: Format::Parquet,
                line: 3,
                reason: KeyError::Empty,
                ..
            }
        ),
        "a null key is an empty key: {err:?}"
    );
    keys[2] = Some(id("310104", "19800101", 99));
    let path = small(dir.path(), "customers.parquet", &keys);
    let err = read_table(&path, &opts).unwrap_err();
    let masked = format!("110101********{}", &bad[14..]);
    assert_eq!(
        err.to_string(),
        format!(
            "{}: row 7: column \"id\": invalid id-card number: check digit is {wrong}, expected \
             {expected} (value {masked})",
            path.display()
        )
    );
    assert!(!err.to_string().contains(&bad));
    let mut o = opts.clone();
    o.skip_invalid = true;
    let t = read_table(&path, &o).unwrap();
    assert_eq!(t.summary.skipped_invalid, 1);
    assert_eq!(
        t.summary.skipped_examples,
        [(
            7,
            KeyError::IdCardCheckDigit {
                found: wrong,
                expected
            }
        )]
    );
    assert_eq!(t.keys.len(), 9);
    assert_eq!(t.rows[6].line(), 8);
    assert_eq!(
        t.rows[6].iter().collect::<Vec<_>>(),
        [keys[7].as_deref().unwrap(), "8"]
    );
}

#[test]
fn duplicates_by_row() {
    let dir = tempfile::tempdir().unwrap();
    let mut keys = ids(10);
    // Row 9 repeats row 2 in its lowercase form; row 10 repeats row 2 exactly.
    keys[8] = keys[1].as_ref().map(|k| k.to_lowercase());
    keys[9] = keys[1].clone();
    let path = small(dir.path(), "dup.parquet", &keys);
    let mut o = key_opts("id", KeyType::IdCard);
    let t = read_table(&path, &o).unwrap();
    assert_eq!(t.summary.duplicates_dropped, 2);
    assert_eq!(t.summary.duplicate_examples, [(9, 2), (10, 2)]);
    assert_eq!(t.keys.len(), 8);
    o.duplicates = DuplicatePolicy::Error;
    let err = read_table(&path, &o).unwrap_err();
    assert!(
        matches!(
            err,
            DataError::Duplicate {
                format: Format::Parquet,
                line: 9,
                first_line: 2,
                ..
            }
        ),
        "{err:?}"
    );
    assert_eq!(
        err.to_string(),
        format!(
            "{}: row 9: column \"id\": duplicate key, first seen in row 2",
            path.display()
        )
    );
}

#[test]
fn strings_are_utf8_whatever_the_encoding_option() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cn.parquet");
    let names = ["张三", "李四", "王五"];
    write_parquet(
        &path,
        "message t { required binary 姓名 (UTF8); required binary id (STRING); \
         optional binary raw; }",
        &[
            Values::strings(names.iter().map(Some)),
            Values::strings(ids(3)),
            Values::Bytes(vec![Some(b"text".to_vec()), Some(vec![0xd5, 0xc5]), None]),
        ],
        2,
        Codec::Snappy,
    )
    .unwrap();
    let mut o = key_opts("id", KeyType::IdCard);
    o.encoding = Encoding::Gb18030;
    let t = read_table(&path, &o).unwrap();
    assert_eq!(t.headers, ["姓名", "id", "raw"]);
    assert_eq!(t.summary.encoding, "utf-8");
    let col = |i: usize| t.rows.iter().map(|r| r.get(i).unwrap()).collect::<Vec<_>>();
    assert_eq!(col(0), names);
    // Unannotated bytes: text if UTF-8, else hex (here GBK bytes of 张).
    assert_eq!(col(2), ["text", "0xd5c5", ""]);

    // GBK bytes in a STRING column: an error naming row and column, in either pass.
    let bad = dir.path().join("gbk.parquet");
    write_parquet(
        &bad,
        "message t { required binary id (STRING); optional binary name (STRING); }",
        &[
            Values::strings(ids(3)),
            Values::Bytes(vec![Some(b"ok".to_vec()), None, Some(vec![0xd5, 0xc5])]),
        ],
        2,
        Codec::Uncompressed,
    )
    .unwrap();
    for keep_fields in [true, false] {
        let mut o = key_opts("id", KeyType::IdCard);
        o.keep_fields = keep_fields;
        let err = read_table(&bad, &o).unwrap_err();
        assert!(
            matches!(err, DataError::ParquetValue { row: 3, ref column, .. } if column == "name"),
            "{err:?}"
        );
        assert_eq!(
            err.to_string(),
            format!(
                "{}: row 3: column \"name\": bytes are not valid utf-8",
                bad.display()
            )
        );
    }
}

#[test]
fn value_types_as_text() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("types.parquet");
    let uuid: Vec<u8> = (0..16).collect();
    // 2024-03-01T08:30:05.5 as INT96: Julian day 2_460_371, 30_605.5 s into the day.
    let nanos: u64 = 30_605_500_000_000;
    let int96 = [
        u32::try_from(nanos & 0xffff_ffff).unwrap(),
        u32::try_from(nanos >> 32).unwrap(),
        2_460_371,
    ];
    write_parquet(
        &path,
        "message t {
            required binary k (STRING);
            optional fixed_len_byte_array(16) u (UUID);
            optional int96 legacy_ts;
            optional int64 ns (TIMESTAMP(NANOS, false));
            optional int64 ms (TIMESTAMP_MILLIS);
            optional int32 t (TIME(MILLIS, true));
            optional binary d (DECIMAL(20, 3));
            optional fixed_len_byte_array(2) h (FLOAT16);
            optional int32 u32 (UINT_32);
            optional int32 small (INTEGER(8, true));
            optional float f;
            optional binary j (JSON);
        }",
        &[
            Values::strings([Some("a"), Some("b")]),
            Values::Fixed(vec![Some(uuid), None]),
            Values::Int96(vec![Some(int96), None]),
            Values::Int64(vec![Some(1_709_281_805_123_456_789), Some(-1)]),
            Values::Int64(vec![Some(1_709_281_805_123), None]),
            Values::Int32(vec![Some(45_296_789), None]),
            Values::Bytes(vec![Some(vec![0xff, 0x85]), Some(vec![0x30, 0x39])]),
            Values::Fixed(vec![Some(0x3e00u16.to_le_bytes().to_vec()), None]),
            Values::Int32(vec![Some(-1), Some(7)]),
            Values::Int32(vec![Some(-128), None]),
            Values::Float(vec![Some(0.1), Some(f32::NAN)]),
            Values::strings([Some(r#"{"a": [1, "x"]}"#), None]),
        ],
        10,
        Codec::Snappy,
    )
    .unwrap();
    let t = read_table(&path, &key_opts("k", KeyType::String)).unwrap();
    assert_eq!(
        fields(&t),
        [
            [
                "a",
                "00010203-0405-0607-0809-0a0b0c0d0e0f",
                "2024-03-01T08:30:05.500000000",
                "2024-03-01T08:30:05.123456789",
                "2024-03-01T08:30:05.123Z",
                "12:34:56.789",
                "-0.123",
                "1.5",
                "4294967295",
                "-128",
                "0.1",
                r#"{"a": [1, "x"]}"#,
            ],
            [
                "b",
                "",
                "",
                "1969-12-31T23:59:59.999999999",
                "",
                "",
                "12.345",
                "",
                "7",
                "",
                "NaN",
                ""
            ],
        ]
    );
}

#[test]
fn refused_columns_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nested.parquet");
    // Nested columns, with no rows (the schema alone decides).
    write_parquet(
        &path,
        "message t {
            required binary id (STRING);
            optional group tags (LIST) { repeated group list { optional binary element (STRING); } }
            repeated int32 scores;
            required double amount;
        }",
        &[
            Values::strings(Vec::<Option<String>>::new()),
            Values::Bytes(vec![]),
            Values::Int32(vec![]),
            Values::Double(vec![]),
        ],
        10,
        Codec::Snappy,
    )
    .unwrap();
    let err = read_table(&path, &key_opts("id", KeyType::String)).unwrap_err();
    assert!(
        matches!(err, DataError::ParquetColumn { ref column, .. } if column == "tags"),
        "{err:?}"
    );
    assert!(err.to_string().contains("nested columns"), "{err}");
    let err = read_table(&path, &key_opts("scores", KeyType::String)).unwrap_err();
    assert!(
        matches!(err, DataError::ParquetColumn { ref column, ref reason, .. }
            if column == "scores" && reason.contains("cannot be the key")),
        "{err:?}"
    );
    let err = read_table(&path, &key_opts("amount", KeyType::String)).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "{}: column \"amount\": a key column must hold strings or integers; this one is \
             DOUBLE",
            path.display()
        )
    );
    let err = read_table(&path, &key_opts("nope", KeyType::String)).unwrap_err();
    assert!(
        matches!(
            err,
            DataError::MissingColumn {
                columns: 4,
                format: Format::Parquet,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(err.to_string().contains(": schema: no column"), "{err}");
}

#[test]
fn empty_parquet_file_has_headers_and_no_rows() {
    let dir = tempfile::tempdir().unwrap();
    let path = small(dir.path(), "empty.parquet", &[]);
    let t = read_table(&path, &key_opts("id", KeyType::IdCard)).unwrap();
    assert_eq!(t.headers, ["id", "v"]);
    assert!(t.rows.is_empty() && t.keys.is_empty());
    assert_eq!(t.summary.rows_read, 0);
}

#[test]
fn corrupt_files_are_typed_errors_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let good = small(dir.path(), "good.parquet", &ids(10));
    let bytes = std::fs::read(&good).unwrap();
    let opts = key_opts("id", KeyType::IdCard);
    let expect_parquet_err = |name: &str, content: &[u8]| {
        let path = dir.path().join(name);
        std::fs::write(&path, content).unwrap();
        let err = read_table(&path, &opts).unwrap_err();
        assert!(matches!(err, DataError::Parquet { .. }), "{name}: {err:?}");
        assert!(err.to_string().contains(name), "{err}");
        assert!(
            !err.to_string().contains("decoder failed"),
            "{name}: a clean error, not a caught panic: {err}"
        );
        err
    };
    expect_parquet_err("magic.parquet", b"PAR1");
    for cut in [8, 100, bytes.len() / 2, bytes.len() - 8, bytes.len() - 1] {
        expect_parquet_err(&format!("cut{cut}.parquet"), &bytes[..cut]);
    }
    let e = expect_parquet_err("csv.parquet", b"id,v\n1,2\n");
    assert!(e.to_string().contains("not a Parquet file"), "{e}");
    let mut encrypted = bytes.clone();
    encrypted[..4].copy_from_slice(b"PARE");
    let e = expect_parquet_err("enc.parquet", &encrypted);
    assert!(e.to_string().contains("encrypted"), "{e}");

    // The magic, not the name, decides: a Parquet file called .dat is read as Parquet.
    let dat = dir.path().join("export.dat");
    std::fs::write(&dat, &bytes).unwrap();
    assert_eq!(read_table(&dat, &opts).unwrap().keys.len(), 10);

    // Bytes flipped anywhere before the footer: an error (or, where the damage happens to
    // decode, a table), never a panic out of the reader.
    let mut rng = Rng(3);
    let path = dir.path().join("flipped.parquet");
    for _ in 0..300 {
        let mut b = bytes.clone();
        for _ in 0..1 + rng.below(4) {
            let at = 4 + rng.below(b.len() - 12);
            b[at] ^= 1 << rng.below(8);
        }
        std::fs::write(&path, &b).unwrap();
        for keep_fields in [true, false] {
            let mut o = opts.clone();
            o.keep_fields = keep_fields;
            if let Err(e) = read_table(&path, &o) {
                assert!(e.to_string().contains("flipped.parquet"), "{e}");
            }
        }
    }
}

#[test]
fn second_pass_skips_row_groups_and_notices_changes() {
    let dir = tempfile::tempdir().unwrap();
    let keys = ids(10);
    let path = small(dir.path(), "two.parquet", &keys);
    let mut o = key_opts("id", KeyType::IdCard);
    o.keep_fields = false;
    let t = read_table(&path, &o).unwrap();
    assert_eq!(
        t.rows.iter().map(Row::line).collect::<Vec<_>>(),
        (1..=10).collect::<Vec<_>>()
    );
    let k = |i: usize| t.keys[i].as_str();
    let rows = read_rows_at(&path, &o, &[(10, k(9)), (2, k(1))]).unwrap();
    assert_eq!(rows_text(&rows), [[k(9), "10"], [k(1), "2"]]);

    // Damage the middle row group (rows 5-8): rows 2 and 10 are still read, since that row
    // group is not decoded; the first pass, which decodes everything, fails naming it.
    let reader = SerializedFileReader::new(std::fs::File::open(&path).unwrap()).unwrap();
    let (start, len) = reader.metadata().row_group(1).column(0).byte_range();
    drop(reader);
    let mut bytes = std::fs::read(&path).unwrap();
    for b in &mut bytes[usize::try_from(start).unwrap()..usize::try_from(start + len).unwrap()] {
        *b = 0xff;
    }
    std::fs::write(&path, &bytes).unwrap();
    let rows = read_rows_at(&path, &o, &[(10, k(9)), (2, k(1))]).unwrap();
    assert_eq!(rows_text(&rows), [[k(9), "10"], [k(1), "2"]]);
    let err = read_table(&path, &o).unwrap_err();
    assert!(
        matches!(err, DataError::Parquet { ref reason, .. } if reason.starts_with("row group 1, column \"id\"")),
        "{err:?}"
    );
    let err = read_rows_at(&path, &o, &[(6, k(5))]).unwrap_err();
    assert!(matches!(err, DataError::Parquet { .. }), "{err:?}");

    // Another key in row 3, then a file that lost rows 9 and 10.
    let mut changed = keys.clone();
    changed[2] = Some(id("440305", "20000229", 9));
    let path = small(dir.path(), "two.parquet", &changed);
    let err = read_rows_at(&path, &o, &[(2, k(1)), (3, k(2))]).unwrap_err();
    assert!(
        matches!(
            err,
            DataError::Changed {
                format: Format::Parquet,
                line: 3,
                ..
            }
        ),
        "{err:?}"
    );
    assert_eq!(
        err.to_string(),
        format!(
            "{}: row 3: the file changed while unseen was running; run again",
            path.display()
        )
    );
    let path = small(dir.path(), "two.parquet", &keys[..8]);
    let err = read_rows_at(&path, &o, &[(2, k(1)), (10, k(9)), (9, k(8))]).unwrap_err();
    assert!(matches!(err, DataError::Changed { line: 9, .. }), "{err:?}");
}
