//! Reading Parquet files into the same [`Table`] as CSV, streaming: one row group at a time,
//! and within it [`BATCH`] rows of every column at a time, so memory holds the kept rows (or
//! only the keys) plus one batch, never the file's values.
//!
//! Only flat tables are read: every top-level column must be a primitive, non-repeated column
//! (required or optional). Positions are 1-based row numbers over the whole file, row groups
//! taken in order; they are what [`Row::line`] returns and what [`read_rows_at`] takes back.
//! Values become text as described in [`crate::parquet_text`].

use std::fs::File;
use std::io::Read;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::Path;

use parquet::basic::{Compression, Repetition};
use parquet::column::reader::ColumnReader;
use parquet::data_type::{ByteArray, FixedLenByteArray, Int96};
use parquet::errors::ParquetError;
use parquet::file::reader::FileReader;
use parquet::file::serialized_reader::SerializedFileReader;

use crate::error::Name;
use crate::format::{PARQUET_ENCRYPTED_MAGIC, PARQUET_MAGIC};
use crate::parquet_text::{Kind, Value, write_value};
use crate::read::{TableBuilder, check_headers, find_column, key_matches, wanted_positions};
use crate::{DataError, Format, ReadOptions, ReadSummary, Row, Table};

/// Rows decoded at a time from each column of a row group.
const BATCH: usize = 4_096;

/// Reads a Parquet file: see [`crate::read_table`].
pub(crate) fn read_table(path: &Path, opts: &ReadOptions) -> Result<Table, DataError> {
    guard(path, || {
        let file = ParquetFile::open(path, opts)?;
        let summary = ReadSummary {
            encoding: "utf-8",
            ..ReadSummary::default()
        };
        let mut builder = TableBuilder::new(
            path,
            opts,
            Format::Parquet,
            file.headers.clone(),
            file.key_index,
            summary,
        );
        // The footer's row count is not trusted with an allocation beyond 2^20 rows; past that
        // the vectors grow as rows are actually decoded.
        builder.reserve(usize::try_from(file.total_rows.min(1 << 20)).unwrap_or(0));
        let mut key = String::new();
        let mut scratch = String::new();
        file.for_each_row(
            |_, _| true,
            |row, cols| {
                key.clear();
                file.write_key(row, cols, &mut key)?;
                let Some(normalized) = builder.normalize(row, &key)? else {
                    // Skipped: its other values are still checked, as a CSV record is parsed.
                    return file.check_values(row, cols, &mut scratch);
                };
                let kept = if opts.keep_fields {
                    file.row(row, cols, &key)?
                } else {
                    file.check_values(row, cols, &mut scratch)?;
                    Row::key_only(row)
                };
                builder.push(kept, normalized);
                Ok(())
            },
        )?;
        builder.finish()
    })
}

/// The second pass over a Parquet file: see [`crate::read_rows_at`].
pub(crate) fn read_rows_at(
    path: &Path,
    opts: &ReadOptions,
    wanted: &[(u64, &str)],
) -> Result<Vec<Row>, DataError> {
    guard(path, || {
        let changed = |row: u64| DataError::Changed {
            path: path.to_owned(),
            format: Format::Parquet,
            line: row,
        };
        let file = ParquetFile::open(path, opts)?;
        let mut rows: Vec<u64> = wanted.iter().map(|w| w.0).collect();
        rows.sort_unstable();
        // Row groups holding no wanted row are not decoded.
        let holds_wanted = |first: u64, n: u64| {
            let i = rows.partition_point(|&r| r < first);
            rows.get(i).is_some_and(|&r| r - first < n)
        };
        let mut at = wanted_positions(wanted);
        let mut out: Vec<Option<Row>> = vec![None; wanted.len()];
        let mut key = String::new();
        file.for_each_row(holds_wanted, |row, cols| {
            let Some(i) = at.remove(&row) else {
                file.skip_row(cols);
                return Ok(());
            };
            key.clear();
            file.write_key(row, cols, &mut key)?;
            if !key_matches(opts, &key, wanted[i].1) {
                return Err(changed(row));
            }
            out[i] = Some(file.row(row, cols, &key)?);
            Ok(())
        })?;
        if let Some(&row) = at.keys().min() {
            return Err(changed(row));
        }
        Ok(out.into_iter().flatten().collect())
    })
}

/// Runs `f`, turning a panic inside the Parquet decoder (which is not hardened against every
/// corrupt file) into an error naming the file instead of ending the process.
fn guard<T>(path: &Path, f: impl FnOnce() -> Result<T, DataError>) -> Result<T, DataError> {
    catch_unwind(AssertUnwindSafe(f)).unwrap_or_else(|_| {
        Err(DataError::Parquet {
            path: path.to_owned(),
            reason: "the decoder failed on this file (it is probably corrupt); please report \
                     it if it is not"
                .to_owned(),
        })
    })
}

/// An open Parquet file whose schema was checked.
struct ParquetFile<'a> {
    path: &'a Path,
    reader: SerializedFileReader<File>,
    headers: Vec<String>,
    /// How each column's values become text (the key column's as a key).
    kinds: Vec<Kind>,
    /// Whether each column is required (no definition levels: never null).
    required: Vec<bool>,
    key_index: usize,
    /// Rows in each row group.
    group_rows: Vec<u64>,
    total_rows: u64,
}

impl<'a> ParquetFile<'a> {
    /// Opens `path` and checks its magic, footer, schema, key column and codecs.
    fn open(path: &'a Path, opts: &ReadOptions) -> Result<Self, DataError> {
        let parquet_err = |reason: String| DataError::Parquet {
            path: path.to_owned(),
            reason,
        };
        let mut file = crate::open_input(path)?;
        let mut head = Vec::with_capacity(PARQUET_MAGIC.len());
        (&mut file)
            .take(4)
            .read_to_end(&mut head)
            .map_err(|source| DataError::Io {
                path: path.to_owned(),
                action: "cannot read",
                source,
            })?;
        if head == PARQUET_ENCRYPTED_MAGIC {
            return Err(parquet_err(
                "the file is encrypted (PARE magic); unseen reads unencrypted Parquet only"
                    .to_owned(),
            ));
        }
        if head != PARQUET_MAGIC {
            return Err(parquet_err(
                "no PAR1 magic at the start: not a Parquet file".to_owned(),
            ));
        }
        // The reader seeks to the footer itself; the offset left by `take` does not matter.
        let reader = SerializedFileReader::new(file).map_err(|e| parquet_err(describe(&e)))?;
        let meta = reader.metadata();
        let schema = meta.file_metadata().schema_descr();
        let fields = schema.root_schema().get_fields();
        let headers: Vec<String> = fields.iter().map(|f| f.name().to_owned()).collect();
        check_headers(path, Format::Parquet, &headers, &opts.limits)?;
        let key_index = find_column(path, Format::Parquet, &headers, opts.key_column.trim())?;
        let column_err = |i: usize, reason: String| DataError::ParquetColumn {
            path: path.to_owned(),
            column: headers[i].clone(),
            reason,
        };

        // Flat tables only. The key column is checked first (nesting, then type), so that its
        // error is the one shown.
        let nested = |i: usize| {
            let f = &fields[i];
            f.is_group() || f.get_basic_info().repetition() == Repetition::REPEATED
        };
        if nested(key_index) {
            return Err(column_err(
                key_index,
                "a nested column (list, map or struct) cannot be the key; the key must be a \
                 string or integer column"
                    .to_owned(),
            ));
        }
        // The key is a top-level primitive: exactly one leaf column has it as its root.
        let key_col = (0..schema.num_columns())
            .find(|&leaf| schema.get_column_root_idx(leaf) == key_index)
            .map(|leaf| schema.column(leaf))
            .ok_or_else(|| {
                parquet_err(format!("no leaf column for {}", Name(&headers[key_index])))
            })?;
        let key_kind = Kind::of(&key_col).map_err(|reason| column_err(key_index, reason))?;
        if !key_kind.is_key(key_col.physical_type()) {
            return Err(column_err(
                key_index,
                format!(
                    "a key column must hold strings or integers; this one is {}",
                    type_name(&key_col)
                ),
            ));
        }
        if let Some(i) = (0..fields.len()).find(|&i| nested(i)) {
            return Err(column_err(
                i,
                "nested columns (list, map or struct) are not supported; leave the column out \
                 or flatten it when exporting"
                    .to_owned(),
            ));
        }
        // Every top-level field is a primitive, so leaf column i is field i.
        if schema.num_columns() != fields.len() {
            return Err(parquet_err(format!(
                "the schema has {} top-level columns but {} leaf columns",
                fields.len(),
                schema.num_columns()
            )));
        }
        let mut kinds = Vec::with_capacity(fields.len());
        for (i, col) in schema.columns().iter().enumerate() {
            kinds.push(if i == key_index {
                key_kind.as_key()
            } else {
                Kind::of(col).map_err(|reason| column_err(i, reason))?
            });
        }
        let required = schema
            .columns()
            .iter()
            .map(|c| c.max_def_level() == 0)
            .collect();

        let mut group_rows = Vec::with_capacity(meta.num_row_groups());
        for (g, rg) in meta.row_groups().iter().enumerate() {
            let rows = u64::try_from(rg.num_rows())
                .map_err(|_| parquet_err(format!("row group {g} has {} rows", rg.num_rows())))?;
            if rg.num_columns() != fields.len() {
                return Err(parquet_err(format!(
                    "row group {g} has {} columns, the schema {}",
                    rg.num_columns(),
                    fields.len()
                )));
            }
            for (i, chunk) in rg.columns().iter().enumerate() {
                if let Some(codec) = unsupported_codec(chunk.compression()) {
                    return Err(parquet_err(format!(
                        "column {} is compressed with {codec}, which this build cannot read \
                         (it reads uncompressed, snappy, gzip and lz4); export with snappy",
                        Name(&headers[i])
                    )));
                }
            }
            group_rows.push(rows);
        }
        let total_rows = group_rows
            .iter()
            .try_fold(0u64, |a, &r| a.checked_add(r))
            .ok_or_else(|| parquet_err("the row groups hold more than 2^64 rows".to_owned()))?;
        Ok(ParquetFile {
            path,
            reader,
            headers,
            kinds,
            required,
            key_index,
            group_rows,
            total_rows,
        })
    }

    /// Decodes the row groups for which `want(first row, rows)` holds, batch by batch, and
    /// calls `f(row number, columns)` for each of their rows in order. `f` must take exactly one
    /// value (or null) from every column per row: the key through [`ParquetFile::write_key`],
    /// the others through [`ParquetFile::row`], [`ParquetFile::check_values`] or
    /// [`ParquetFile::skip_row`].
    fn for_each_row(
        &self,
        mut want: impl FnMut(u64, u64) -> bool,
        mut f: impl FnMut(u64, &mut [Column]) -> Result<(), DataError>,
    ) -> Result<(), DataError> {
        let mut first = 1u64;
        for (g, &rows) in self.group_rows.iter().enumerate() {
            let group_first = first;
            first = first.saturating_add(rows);
            if rows == 0 || !want(group_first, rows) {
                continue;
            }
            let rg = self
                .reader
                .get_row_group(g)
                .map_err(|e| self.decode_error(g, None, &e))?;
            let mut cols = (0..self.headers.len())
                .map(|i| {
                    let reader = rg
                        .get_column_reader(i)
                        .map_err(|e| self.decode_error(g, Some(i), &e))?;
                    Ok(Column::new(reader, self.required[i]))
                })
                .collect::<Result<Vec<_>, DataError>>()?;
            let mut done = 0u64;
            while done < rows {
                let n = usize::try_from((rows - done).min(BATCH as u64)).unwrap_or(BATCH);
                for (i, col) in cols.iter_mut().enumerate() {
                    let got = col.fill(n).map_err(|e| self.decode_error(g, Some(i), &e))?;
                    if got != n {
                        return Err(DataError::Parquet {
                            path: self.path.to_owned(),
                            reason: format!(
                                "row group {g}, column {}: {} values where the row group \
                                 declares {rows} rows",
                                Name(&self.headers[i]),
                                done + u64::try_from(got).unwrap_or(0)
                            ),
                        });
                    }
                }
                for r in 0..n {
                    let row = group_first + done + u64::try_from(r).unwrap_or(0);
                    f(row, &mut cols)?;
                }
                done += u64::try_from(n).unwrap_or(0);
            }
        }
        Ok(())
    }

    /// Appends the key column's next value to `out` (nothing for null: an empty key).
    fn write_key(&self, row: u64, cols: &mut [Column], out: &mut String) -> Result<(), DataError> {
        let i = self.key_index;
        self.write(row, i, &mut cols[i], out)
    }

    /// The row at `row`: the next value of every column but the key, whose text `key` was
    /// already taken by [`ParquetFile::write_key`] (as in the file, not normalised, like a CSV
    /// field).
    fn row(&self, row: u64, cols: &mut [Column], key: &str) -> Result<Row, DataError> {
        let mut text = String::new();
        let mut ends = Vec::with_capacity(cols.len());
        for (i, col) in cols.iter_mut().enumerate() {
            if i == self.key_index {
                text.push_str(key);
            } else {
                self.write(row, i, col, &mut text)?;
            }
            let end = u32::try_from(text.len()).map_err(|_| DataError::ParquetValue {
                path: self.path.to_owned(),
                row,
                column: self.headers[i].clone(),
                reason: "row of 4 GiB or more".to_owned(),
            })?;
            ends.push(end);
        }
        Ok(Row::from_parts(row, text, ends))
    }

    /// Takes the next value of every column but the key, checking that it can become text.
    fn check_values(
        &self,
        row: u64,
        cols: &mut [Column],
        scratch: &mut String,
    ) -> Result<(), DataError> {
        for (i, col) in cols.iter_mut().enumerate() {
            if i == self.key_index {
                continue;
            }
            if self.kinds[i].can_fail() {
                scratch.clear();
                self.write(row, i, col, scratch)?;
            } else {
                col.skip();
            }
        }
        Ok(())
    }

    /// Passes over the next value of every column, the key included.
    fn skip_row(&self, cols: &mut [Column]) {
        for col in cols {
            col.skip();
        }
    }

    /// Appends column `i`'s next value as text to `out`.
    fn write(
        &self,
        row: u64,
        i: usize,
        col: &mut Column,
        out: &mut String,
    ) -> Result<(), DataError> {
        let Some(v) = col.next() else {
            return Ok(());
        };
        write_value(out, self.kinds[i], v).map_err(|reason| DataError::ParquetValue {
            path: self.path.to_owned(),
            row,
            column: self.headers[i].clone(),
            reason: reason.to_owned(),
        })
    }

    fn decode_error(&self, group: usize, column: Option<usize>, e: &ParquetError) -> DataError {
        let place = match column {
            Some(i) => format!("row group {group}, column {}", Name(&self.headers[i])),
            None => format!("row group {group}"),
        };
        DataError::Parquet {
            path: self.path.to_owned(),
            reason: format!("{place}: {}", describe(e)),
        }
    }
}

/// The decoder's message without its `Parquet error:` prefix, cut at [`MAX_DECODER_TEXT`]
/// bytes (it is a third party's text; a corrupt file should not make it long).
fn describe(e: &ParquetError) -> String {
    let mut m = match e {
        ParquetError::General(m) => m.clone(),
        ParquetError::NYI(m) => format!("not supported: {m}"),
        ParquetError::EOF(m) => format!("unexpected end of data: {m}"),
        ParquetError::External(e) => e.to_string(),
        other => other.to_string(),
    };
    if m.len() > MAX_DECODER_TEXT {
        let mut cut = MAX_DECODER_TEXT;
        while !m.is_char_boundary(cut) {
            cut -= 1;
        }
        m.truncate(cut);
        m.push('…');
    }
    m
}

/// Longest message of the Parquet decoder kept in an error, in bytes.
const MAX_DECODER_TEXT: usize = 256;

/// The codec's name if this build cannot decompress it.
fn unsupported_codec(c: Compression) -> Option<&'static str> {
    match c {
        Compression::UNCOMPRESSED
        | Compression::SNAPPY
        | Compression::GZIP(_)
        | Compression::LZ4
        | Compression::LZ4_RAW => None,
        Compression::ZSTD(_) => Some("zstd"),
        Compression::BROTLI(_) => Some("brotli"),
        Compression::LZO => Some("lzo"),
    }
}

/// A column's type as the Parquet schema names it, e.g. `DOUBLE` or `INT32 (DATE)`.
fn type_name(col: &parquet::schema::types::ColumnDescriptor) -> String {
    let physical = col.physical_type();
    match (col.logical_type_ref(), col.converted_type()) {
        (Some(l), _) => format!("{physical} ({l:?})"),
        (None, parquet::basic::ConvertedType::NONE) => physical.to_string(),
        (None, c) => format!("{physical} ({c})"),
    }
}

/// One column of a row group: its reader and the current batch of decoded values.
struct Column {
    reader: ColumnReader,
    values: Values,
    /// Whether the column has no definition levels (never null).
    required: bool,
    /// Definition levels of the batch (1: a value, 0: null); empty for a required column.
    def: Vec<i16>,
    /// Position in `def` of the next row, and in `values` of the next non-null value.
    next_row: usize,
    next_value: usize,
}

/// Decoded non-null values of one batch, by physical type.
enum Values {
    Bool(Vec<bool>),
    Int32(Vec<i32>),
    Int64(Vec<i64>),
    Int96(Vec<Int96>),
    Float(Vec<f32>),
    Double(Vec<f64>),
    Bytes(Vec<ByteArray>),
    Fixed(Vec<FixedLenByteArray>),
}

impl Column {
    fn new(reader: ColumnReader, required: bool) -> Column {
        let values = match &reader {
            ColumnReader::BoolColumnReader(_) => Values::Bool(Vec::new()),
            ColumnReader::Int32ColumnReader(_) => Values::Int32(Vec::new()),
            ColumnReader::Int64ColumnReader(_) => Values::Int64(Vec::new()),
            ColumnReader::Int96ColumnReader(_) => Values::Int96(Vec::new()),
            ColumnReader::FloatColumnReader(_) => Values::Float(Vec::new()),
            ColumnReader::DoubleColumnReader(_) => Values::Double(Vec::new()),
            ColumnReader::ByteArrayColumnReader(_) => Values::Bytes(Vec::new()),
            ColumnReader::FixedLenByteArrayColumnReader(_) => Values::Fixed(Vec::new()),
        };
        Column {
            reader,
            values,
            required,
            def: Vec::new(),
            next_row: 0,
            next_value: 0,
        }
    }

    /// Decodes the next `n` rows (fewer only at the end of the column chunk); returns how many.
    fn fill(&mut self, n: usize) -> Result<usize, ParquetError> {
        self.def.clear();
        self.next_row = 0;
        self.next_value = 0;
        // The levels are ignored (and `def` stays empty) for a required column.
        let def = Some(&mut self.def);
        macro_rules! read {
            ($r:expr, $v:expr) => {{
                $v.clear();
                $r.read_records(n, def, None, $v)?
            }};
        }
        let (records, values, levels) = match (&mut self.reader, &mut self.values) {
            (ColumnReader::BoolColumnReader(r), Values::Bool(v)) => read!(r, v),
            (ColumnReader::Int32ColumnReader(r), Values::Int32(v)) => read!(r, v),
            (ColumnReader::Int64ColumnReader(r), Values::Int64(v)) => read!(r, v),
            (ColumnReader::Int96ColumnReader(r), Values::Int96(v)) => read!(r, v),
            (ColumnReader::FloatColumnReader(r), Values::Float(v)) => read!(r, v),
            (ColumnReader::DoubleColumnReader(r), Values::Double(v)) => read!(r, v),
            (ColumnReader::ByteArrayColumnReader(r), Values::Bytes(v)) => read!(r, v),
            (ColumnReader::FixedLenByteArrayColumnReader(r), Values::Fixed(v)) => read!(r, v),
            // `new` pairs each reader with its own buffer type.
            _ => return Err(ParquetError::General("column buffer mismatch".to_owned())),
        };
        // A flat column has one level per row, and a value for each level at the maximum (1).
        let expected_values = if self.required {
            records
        } else if levels == records && self.def.len() == records {
            self.def.iter().filter(|&&d| d == 1).count()
        } else {
            return Err(ParquetError::General(format!(
                "{levels} definition levels for {records} rows"
            )));
        };
        if values != expected_values {
            return Err(ParquetError::General(format!(
                "{values} values where the definition levels call for {expected_values}"
            )));
        }
        Ok(records)
    }

    /// The next row's value; `None` for null (or past the batch, which callers never reach).
    fn next(&mut self) -> Option<Value<'_>> {
        let present = self.required || self.def.get(self.next_row) == Some(&1);
        self.next_row += 1;
        if !present {
            return None;
        }
        let i = self.next_value;
        self.next_value += 1;
        Some(match &self.values {
            Values::Bool(v) => Value::Bool(*v.get(i)?),
            Values::Int32(v) => Value::Int32(*v.get(i)?),
            Values::Int64(v) => Value::Int64(*v.get(i)?),
            Values::Int96(v) => {
                let d = v.get(i)?.data();
                Value::Int96([*d.first()?, *d.get(1)?, *d.get(2)?])
            }
            Values::Float(v) => Value::Float(*v.get(i)?),
            Values::Double(v) => Value::Double(*v.get(i)?),
            Values::Bytes(v) => Value::Bytes(v.get(i)?.as_ref()),
            Values::Fixed(v) => Value::Bytes(v.get(i)?.as_ref()),
        })
    }

    /// Passes over the next row's value.
    fn skip(&mut self) {
        let _ = self.next();
    }
}
