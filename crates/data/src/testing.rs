//! Writing small Parquet files in tests, here and in the crates above (the CLI's and the node's
//! tests reach the `parquet` crate only through this module, so the workspace links one
//! version of it and they need no dependency of their own). Not part of the API: no stability
//! promise, and nothing outside tests calls it.

use std::fs::File;
use std::path::Path;
use std::sync::Arc;

use parquet::basic::{Compression, GzipLevel};
use parquet::column::writer::ColumnWriter;
use parquet::data_type::{ByteArray, FixedLenByteArray, Int96};
use parquet::file::properties::WriterProperties;
use parquet::file::writer::SerializedFileWriter;
use parquet::schema::parser::parse_message_type;
use parquet::schema::types::SchemaDescriptor;

/// One column's values in row order; `None` is null (allowed in `optional` columns only).
#[derive(Debug, Clone)]
pub enum Values {
    /// BOOLEAN.
    Bool(Vec<Option<bool>>),
    /// INT32 (also DATE, TIME(MILLIS), DECIMAL, small integers).
    Int32(Vec<Option<i32>>),
    /// INT64 (also TIMESTAMP, TIME(MICROS/NANOS), DECIMAL).
    Int64(Vec<Option<i64>>),
    /// INT96: nanoseconds of the day (low word, high word), Julian day.
    Int96(Vec<Option<[u32; 3]>>),
    /// FLOAT.
    Float(Vec<Option<f32>>),
    /// DOUBLE.
    Double(Vec<Option<f64>>),
    /// BYTE_ARRAY (STRING, JSON, DECIMAL, unannotated bytes).
    Bytes(Vec<Option<Vec<u8>>>),
    /// FIXED_LEN_BYTE_ARRAY (DECIMAL, UUID, FLOAT16, INTERVAL).
    Fixed(Vec<Option<Vec<u8>>>),
}

impl Values {
    /// A STRING column from text values.
    pub fn strings<S: AsRef<str>>(values: impl IntoIterator<Item = Option<S>>) -> Values {
        Values::Bytes(
            values
                .into_iter()
                .map(|v| v.map(|s| s.as_ref().as_bytes().to_vec()))
                .collect(),
        )
    }

    fn len(&self) -> usize {
        match self {
            Values::Bool(v) => v.len(),
            Values::Int32(v) => v.len(),
            Values::Int64(v) => v.len(),
            Values::Int96(v) => v.len(),
            Values::Float(v) => v.len(),
            Values::Double(v) => v.len(),
            Values::Bytes(v) | Values::Fixed(v) => v.len(),
        }
    }
}

/// The compression of every column chunk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Codec {
    /// None.
    Uncompressed,
    /// Snappy (the default of Spark, Hive, pyarrow and DuckDB).
    Snappy,
    /// Gzip.
    Gzip,
    /// LZ4 (raw block format).
    Lz4Raw,
}

/// Writes `columns` (in schema order) under `schema`, a Parquet message type such as
/// `message t { required binary id (STRING); optional int64 amount; }`, with at most
/// `rows_per_group` rows per row group and small pages (so that a few thousand rows span
/// several pages).
pub fn write_parquet(
    path: &Path,
    schema: &str,
    columns: &[Values],
    rows_per_group: usize,
    codec: Codec,
) -> Result<(), String> {
    let err = |e: &dyn std::fmt::Display| format!("{}: {e}", path.display());
    let schema = Arc::new(parse_message_type(schema).map_err(|e| err(&e))?);
    let descr = SchemaDescriptor::new(Arc::clone(&schema));
    if descr.num_columns() != columns.len() {
        return Err(err(&format!(
            "{} columns given for {} in the schema",
            columns.len(),
            descr.num_columns()
        )));
    }
    let rows = columns.first().map_or(0, Values::len);
    if columns.iter().any(|c| c.len() != rows) {
        return Err(err(&"columns of different lengths"));
    }
    let compression = match codec {
        Codec::Uncompressed => Compression::UNCOMPRESSED,
        Codec::Snappy => Compression::SNAPPY,
        Codec::Gzip => Compression::GZIP(GzipLevel::default()),
        Codec::Lz4Raw => Compression::LZ4_RAW,
    };
    let props = WriterProperties::builder()
        .set_compression(compression)
        .set_data_page_row_count_limit(1_000)
        .set_write_batch_size(500)
        .build();
    let file = File::create(path).map_err(|e| err(&e))?;
    let mut writer =
        SerializedFileWriter::new(file, schema, Arc::new(props)).map_err(|e| err(&e))?;
    let mut start = 0;
    while start < rows || (rows == 0 && start == 0) {
        let end = rows.min(start + rows_per_group.max(1));
        let mut rg = writer.next_row_group().map_err(|e| err(&e))?;
        for (i, values) in columns.iter().enumerate() {
            let optional = descr.column(i).max_def_level() > 0;
            let mut col = rg
                .next_column()
                .map_err(|e| err(&e))?
                .ok_or_else(|| err(&"fewer columns in the writer than in the schema"))?;
            write_slice(col.untyped(), values, start, end, optional).map_err(|e| err(&e))?;
            col.close().map_err(|e| err(&e))?;
        }
        rg.close().map_err(|e| err(&e))?;
        if rows == 0 {
            break;
        }
        start = end;
    }
    writer.close().map_err(|e| err(&e))?;
    Ok(())
}

/// Writes rows `start..end` of `values` to `w`, with definition levels for an optional column.
fn write_slice(
    w: &mut ColumnWriter<'_>,
    values: &Values,
    start: usize,
    end: usize,
    optional: bool,
) -> Result<(), String> {
    fn split<T: Clone>(v: &[Option<T>], optional: bool) -> Result<(Vec<T>, Vec<i16>), String> {
        let def = v.iter().map(|x| i16::from(x.is_some())).collect();
        if !optional && v.iter().any(Option::is_none) {
            return Err("a null in a required column".to_owned());
        }
        Ok((v.iter().flatten().cloned().collect(), def))
    }
    macro_rules! put {
        ($w:expr, $v:expr, $map:expr) => {{
            let (vals, def) = split(&$v[start..end], optional)?;
            let vals: Vec<_> = vals.into_iter().map($map).collect();
            $w.write_batch(&vals, optional.then_some(&def[..]), None)
                .map_err(|e| e.to_string())?;
        }};
    }
    if start == end {
        return Ok(());
    }
    match (w, values) {
        (ColumnWriter::BoolColumnWriter(w), Values::Bool(v)) => put!(w, v, |x| x),
        (ColumnWriter::Int32ColumnWriter(w), Values::Int32(v)) => put!(w, v, |x| x),
        (ColumnWriter::Int64ColumnWriter(w), Values::Int64(v)) => put!(w, v, |x| x),
        (ColumnWriter::Int96ColumnWriter(w), Values::Int96(v)) => put!(w, v, |x: [u32; 3]| {
            let mut i = Int96::new();
            i.set_data(x[0], x[1], x[2]);
            i
        }),
        (ColumnWriter::FloatColumnWriter(w), Values::Float(v)) => put!(w, v, |x| x),
        (ColumnWriter::DoubleColumnWriter(w), Values::Double(v)) => put!(w, v, |x| x),
        (ColumnWriter::ByteArrayColumnWriter(w), Values::Bytes(v)) => {
            put!(w, v, ByteArray::from);
        }
        (ColumnWriter::FixedLenByteArrayColumnWriter(w), Values::Fixed(v)) => {
            put!(w, v, |x: Vec<u8>| FixedLenByteArray::from(ByteArray::from(
                x
            )));
        }
        _ => return Err("values of another type than the schema's column".to_owned()),
    }
    Ok(())
}
