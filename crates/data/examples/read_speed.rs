//! Read and write speed of `unseen-data` on generated bank-export-like files (~60 bytes a row).
//!
//! ```text
//! cargo build --release -p unseen-data --example read_speed
//! read_speed gen  FILE [ROWS=1048576] [utf-8|gbk|parquet]  # distinct valid id numbers
//! read_speed read FILE [COLUMN=身份证号]  # time read_table (rows, then keys only), write_csv_atomic
//! ```
//!
//! `gen … parquet` writes the same table as Parquet (snappy, row groups of 2^17 rows, the
//! writer's default pages; 余额 a DECIMAL(12, 2)). `read` prints rows, bytes, the format and
//! encoding found, wall times and the peak resident memory of the process (which only read the
//! file).

use std::path::{Path, PathBuf};
use std::time::Instant;

use std::sync::Arc;

use parquet::basic::Compression;
use parquet::data_type::{ByteArray, ByteArrayType, Int64Type};
use parquet::file::properties::WriterProperties;
use parquet::file::writer::SerializedFileWriter;
use parquet::schema::parser::parse_message_type;
use unseen_data::{KeyType, ReadOptions, read_table, write_csv_atomic};

/// A distinct valid id number for each `n < 2^24`: area code and sequence carry `n`.
fn id(n: u64) -> String {
    let area = 110_000 + n / 1000;
    let birth = format!("{}{:02}{:02}", 1950 + n % 50, 1 + n % 12, 1 + n % 28);
    // 17 ASCII digits by construction (`area` < 10^6 for `n < 2^24`).
    unseen_data::synth::id_card(&format!("{area:06}{birth}{:03}", n % 1000)).unwrap_or_default()
}

fn generate(path: &Path, rows: u64, gbk: bool) -> std::io::Result<()> {
    let mut text = String::from("客户号,身份证号,手机号,余额,网点\n");
    for n in 0..rows {
        let (yuan, fen, branch) = (n * 7 % 100_000, n % 100, n % 50);
        text += &format!("C{n:08},{},138{n:08},{yuan}.{fen:02},网点{branch}\n", id(n));
    }
    if gbk {
        let (bytes, _, _) = encoding_rs::GBK.encode(&text);
        std::fs::write(path, bytes)
    } else {
        std::fs::write(path, text)
    }
}

/// The table of [`generate`] as Parquet.
fn generate_parquet(path: &Path, rows: u64) -> Result<(), Box<dyn std::error::Error>> {
    let schema = parse_message_type(
        "message t { required binary 客户号 (STRING); required binary 身份证号 (STRING);
         required binary 手机号 (STRING); required int64 余额 (DECIMAL(12, 2));
         required binary 网点 (STRING); }",
    )?;
    let props = WriterProperties::builder()
        .set_compression(Compression::SNAPPY)
        .build();
    let mut w = SerializedFileWriter::new(
        std::fs::File::create(path)?,
        Arc::new(schema),
        Arc::new(props),
    )?;
    const GROUP: u64 = 1 << 17;
    for start in (0..rows).step_by(usize::try_from(GROUP)?) {
        let ns: Vec<u64> = (start..rows.min(start + GROUP)).collect();
        let text = |f: &dyn Fn(u64) -> String| -> Vec<ByteArray> {
            ns.iter()
                .map(|&n| ByteArray::from(f(n).into_bytes()))
                .collect()
        };
        let columns = [
            text(&|n| format!("C{n:08}")),
            text(&id),
            text(&|n| format!("138{n:08}")),
            Vec::new(),
            text(&|n| format!("网点{}", n % 50)),
        ];
        let cents: Vec<i64> = ns
            .iter()
            .map(|&n| i64::try_from((n * 7 % 100_000) * 100 + n % 100).unwrap_or(0))
            .collect();
        let mut rg = w.next_row_group()?;
        for (i, values) in columns.iter().enumerate() {
            let mut col = rg.next_column()?.ok_or("schema has fewer columns")?;
            if i == 3 {
                col.typed::<Int64Type>().write_batch(&cents, None, None)?;
            } else {
                col.typed::<ByteArrayType>()
                    .write_batch(values, None, None)?;
            }
            col.close()?;
        }
        rg.close()?;
    }
    w.close()?;
    Ok(())
}

fn peak_rss() -> String {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let line = status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .unwrap_or("VmHWM: ?");
    line.split_whitespace()
        .skip(1)
        .collect::<Vec<_>>()
        .join(" ")
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (Some(cmd), Some(file)) = (args.first(), args.get(1)) else {
        return Err("usage: read_speed gen FILE [ROWS] [utf-8|gbk] | read FILE [COLUMN]".into());
    };
    let path = PathBuf::from(file);
    if cmd == "gen" {
        let rows = args.get(2).map_or(Ok(1 << 20), |s| s.parse())?;
        if args.get(3).is_some_and(|e| e == "parquet") {
            return generate_parquet(&path, rows);
        }
        return Ok(generate(
            &path,
            rows,
            args.get(3).is_some_and(|e| e == "gbk"),
        )?);
    }
    let column = args.get(2).map_or("身份证号", String::as_str);
    let size = std::fs::metadata(&path)?.len();
    let mut opts = ReadOptions::new(column, KeyType::IdCard);
    opts.keep_fields = false;
    let t0 = Instant::now();
    let keys = read_table(&path, &opts)?;
    let keys_only = t0.elapsed();
    drop(keys);
    opts.keep_fields = true;
    let t0 = Instant::now();
    let table = read_table(&path, &opts)?;
    let read = t0.elapsed();
    let out = std::env::temp_dir().join(format!("read_speed_out_{}.csv", std::process::id()));
    let t1 = Instant::now();
    write_csv_atomic(&out, &table.headers, &table.rows)?;
    let write = t1.elapsed();
    std::fs::remove_file(&out)?;
    let s = &table.summary;
    println!(
        "rows={} kept={} bytes={size} format={} encoding={} keys_only={:.3}s read={:.3}s \
         write={:.3}s peak_rss={}",
        s.rows_read,
        s.rows_kept,
        s.format,
        s.encoding,
        keys_only.as_secs_f64(),
        read.as_secs_f64(),
        write.as_secs_f64(),
        peak_rss(),
    );
    Ok(())
}
