//! Read and write speed of `unseen-data` on generated bank-export-like files (~60 bytes a row).
//!
//! ```text
//! cargo build --release -p unseen-data --example read_speed
//! read_speed gen  FILE [ROWS=1048576] [utf-8|gbk]   # write a CSV with distinct valid id numbers
//! read_speed read FILE [COLUMN=身份证号]             # time read_table and write_csv_atomic
//! ```
//!
//! `read` prints rows, bytes, the encoding found, wall times and the peak resident memory of the
//! process (which only read the file).

use std::path::{Path, PathBuf};
use std::time::Instant;

use unseen_data::{KeyType, ReadOptions, read_table, write_csv_atomic};

/// GB 11643-1999 check character of 17 ASCII digits (weights 2^(18-i) mod 11).
fn with_check(first17: &str) -> String {
    const WEIGHTS: [u64; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
    let s: u64 = first17
        .bytes()
        .zip(WEIGHTS)
        .map(|(d, w)| u64::from(d - b'0') * w)
        .sum();
    let check = b"10X98765432"[usize::try_from(s % 11).unwrap_or(0)];
    format!("{first17}{}", char::from(check))
}

/// A distinct valid id number for each `n < 2^24`: area code and sequence carry `n`.
fn id(n: u64) -> String {
    let area = 110_000 + n / 1000;
    let birth = format!("{}{:02}{:02}", 1950 + n % 50, 1 + n % 12, 1 + n % 28);
    with_check(&format!("{area:06}{birth}{:03}", n % 1000))
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
        return Ok(generate(
            &path,
            rows,
            args.get(3).is_some_and(|e| e == "gbk"),
        )?);
    }
    let column = args.get(2).map_or("身份证号", String::as_str);
    let size = std::fs::metadata(&path)?.len();
    let t0 = Instant::now();
    let table = read_table(&path, &ReadOptions::new(column, KeyType::IdCard))?;
    let read = t0.elapsed();
    let out = std::env::temp_dir().join(format!("read_speed_out_{}.csv", std::process::id()));
    let t1 = Instant::now();
    write_csv_atomic(&out, &table.headers, &table.rows)?;
    let write = t1.elapsed();
    std::fs::remove_file(&out)?;
    let s = &table.summary;
    println!(
        "rows={} kept={} bytes={size} encoding={} read={:.3}s write={:.3}s peak_rss={}",
        s.rows_read,
        s.rows_kept,
        s.encoding,
        read.as_secs_f64(),
        write.as_secs_f64(),
        peak_rss(),
    );
    Ok(())
}
