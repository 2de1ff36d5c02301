//! Parquet values as text: how each column type is written into the CSV output.
//!
//! One canonical, unambiguous text per value, independent of locale and time zone:
//!
//! | Parquet type | text |
//! |---|---|
//! | null | empty |
//! | BOOLEAN | `true`, `false` |
//! | INT32, INT64 (signed or unsigned `INTEGER`) | decimal: `-42`, `18446744073709551615` |
//! | DECIMAL(p, s) | plain decimal with exactly `s` fraction digits, no exponent: `-1234.50` |
//! | FLOAT, DOUBLE (FLOAT16 as FLOAT) | shortest text that reads back to the same value in that width: `0.1`, `3`; below 1e-7 or from 1e16 on in exponent form `1e16`, `2.5e-8`; `NaN`, `inf`, `-inf` |
//! | DATE | `YYYY-MM-DD` (proleptic Gregorian) |
//! | TIME | `HH:MM:SS.fff` (3, 6 or 9 fraction digits for milli-, micro-, nanoseconds) |
//! | TIMESTAMP | `YYYY-MM-DDTHH:MM:SS.fff`, digits by unit, `Z` appended when adjusted to UTC; without `Z` it is a local date-time as written |
//! | INT96 (legacy Hive/Impala/Spark timestamp) | `YYYY-MM-DDTHH:MM:SS.fffffffff`, no zone (the writer's convention decides which) |
//! | STRING, ENUM, JSON | the UTF-8 text (invalid UTF-8 is an error) |
//! | BYTE_ARRAY without annotation, BSON, other fixed-length | the text if valid UTF-8, else `0x` and lowercase hex |
//! | UUID | `xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx` |
//! | INTERVAL | ISO 8601 duration `P{months}M{days}DT{seconds}.{millis}S` |
//!
//! Years outside 0000-9999 are written with a sign and at least four digits (`+10000`,
//! `-0001`), as ISO 8601's expanded form.

use std::fmt::{self, Write};

use parquet::basic::{ConvertedType, LogicalType, TimeUnit, Type as PhysicalType};
use parquet::schema::types::ColumnDescriptor;

/// The largest decimal scale accepted: a schema saying more is taken as corrupt (and would make
/// every value that many characters long).
const MAX_DECIMAL_SCALE: i32 = 76;
/// Days between 0000-03-01 and 1970-01-01, for [`civil_from_days`].
const DAYS_0000_03_01_TO_EPOCH: i64 = 719_468;
/// The Julian day number of 1970-01-01, the epoch of INT96 timestamps.
const JULIAN_DAY_OF_EPOCH: i64 = 2_440_588;
const SECONDS_PER_DAY: i64 = 86_400;
const NANOS_PER_DAY: i64 = SECONDS_PER_DAY * 1_000_000_000;

/// One value as decoded from a column, before it becomes text.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Value<'a> {
    Bool(bool),
    Int32(i32),
    Int64(i64),
    /// The three little-endian words of an INT96: nanoseconds of the day (low, high), then the
    /// Julian day.
    Int96([u32; 3]),
    Float(f32),
    Double(f64),
    /// BYTE_ARRAY or FIXED_LEN_BYTE_ARRAY.
    Bytes(&'a [u8]),
}

/// The resolution of a TIME or TIMESTAMP.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Unit {
    Millis,
    Micros,
    Nanos,
}

impl Unit {
    fn per_second(self) -> i64 {
        match self {
            Unit::Millis => 1_000,
            Unit::Micros => 1_000_000,
            Unit::Nanos => 1_000_000_000,
        }
    }

    fn digits(self) -> usize {
        match self {
            Unit::Millis => 3,
            Unit::Micros => 6,
            Unit::Nanos => 9,
        }
    }
}

/// How a column's values become text, from its logical (or legacy converted) type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// By the physical type alone: booleans, signed integers, floats; bytes as [`Kind::Binary`];
    /// INT96 as a timestamp.
    Plain,
    /// INT32/INT64 holding unsigned integers.
    Unsigned,
    /// Bytes that must be UTF-8 (STRING, ENUM, JSON).
    Utf8,
    /// Bytes shown as text when they are UTF-8, as hex otherwise.
    Binary,
    /// An unscaled integer (INT32, INT64 or big-endian two's complement bytes) and its scale.
    Decimal { scale: u32 },
    /// Days since 1970-01-01.
    Date,
    /// Time of day.
    Time(Unit),
    /// Time since 1970-01-01T00:00:00, in UTC or local.
    Timestamp { unit: Unit, utc: bool },
    /// IEEE half precision, 2 bytes little-endian.
    Float16,
    /// 16 bytes.
    Uuid,
    /// 12 bytes: months, days, milliseconds (little-endian u32 each).
    Interval,
}

impl Kind {
    /// The kind of a column, or why it cannot be read.
    pub(crate) fn of(col: &ColumnDescriptor) -> Result<Kind, String> {
        let physical = col.physical_type();
        let bytes = matches!(
            physical,
            PhysicalType::BYTE_ARRAY | PhysicalType::FIXED_LEN_BYTE_ARRAY
        );
        let plain = if bytes { Kind::Binary } else { Kind::Plain };
        let decimal = || {
            let scale = col.type_scale();
            match u32::try_from(scale) {
                Ok(s) if scale <= MAX_DECIMAL_SCALE => Ok(Kind::Decimal { scale: s }),
                _ => Err(format!(
                    "decimal scale {scale} is outside 0..={MAX_DECIMAL_SCALE}"
                )),
            }
        };
        let kind = match col.logical_type_ref() {
            Some(LogicalType::String | LogicalType::Enum | LogicalType::Json) => Kind::Utf8,
            Some(LogicalType::Decimal(_)) => decimal()?,
            Some(LogicalType::Date) => Kind::Date,
            Some(LogicalType::Time(t)) => Kind::Time(unit(&t.unit)),
            Some(LogicalType::Timestamp(t)) => Kind::Timestamp {
                unit: unit(&t.unit),
                utc: t.is_adjusted_to_u_t_c,
            },
            Some(LogicalType::Integer(i)) if !i.is_signed => Kind::Unsigned,
            Some(LogicalType::Integer(_)) => Kind::Plain,
            Some(LogicalType::Uuid) => Kind::Uuid,
            Some(LogicalType::Float16) => Kind::Float16,
            // Unknown, BSON, geometry, variant and future types: by the converted type, if any.
            Some(_) | None => match col.converted_type() {
                ConvertedType::UTF8 | ConvertedType::ENUM | ConvertedType::JSON => Kind::Utf8,
                ConvertedType::DECIMAL => decimal()?,
                ConvertedType::DATE => Kind::Date,
                ConvertedType::TIME_MILLIS => Kind::Time(Unit::Millis),
                ConvertedType::TIME_MICROS => Kind::Time(Unit::Micros),
                ConvertedType::TIMESTAMP_MILLIS => Kind::Timestamp {
                    unit: Unit::Millis,
                    utc: true,
                },
                ConvertedType::TIMESTAMP_MICROS => Kind::Timestamp {
                    unit: Unit::Micros,
                    utc: true,
                },
                ConvertedType::UINT_8
                | ConvertedType::UINT_16
                | ConvertedType::UINT_32
                | ConvertedType::UINT_64 => Kind::Unsigned,
                ConvertedType::INTERVAL => Kind::Interval,
                _ => plain,
            },
        };
        // Annotations that do not fit the physical type fall back to the physical type, so
        // every value has one text.
        let fits = match kind {
            Kind::Plain | Kind::Binary | Kind::Decimal { .. } => true,
            Kind::Unsigned | Kind::Date | Kind::Time(_) | Kind::Timestamp { .. } => {
                matches!(physical, PhysicalType::INT32 | PhysicalType::INT64)
            }
            Kind::Utf8 | Kind::Float16 | Kind::Uuid | Kind::Interval => bytes,
        };
        Ok(if fits { kind } else { plain })
    }

    /// Whether a value of this kind can be a join key: strings and integers (including decimals
    /// without a fraction) only.
    pub(crate) fn is_key(self, physical: PhysicalType) -> bool {
        match self {
            Kind::Utf8 | Kind::Binary | Kind::Unsigned | Kind::Decimal { scale: 0 } => true,
            Kind::Plain => matches!(physical, PhysicalType::INT32 | PhysicalType::INT64),
            _ => false,
        }
    }

    /// The kind for the key column: unannotated bytes must then be UTF-8 (a key shown as hex
    /// would silently differ from the partner's text).
    pub(crate) fn as_key(self) -> Kind {
        match self {
            Kind::Binary => Kind::Utf8,
            k => k,
        }
    }

    /// Whether turning a value of this kind into text can fail (so a first pass that keeps no
    /// fields must still try it).
    pub(crate) fn can_fail(self) -> bool {
        matches!(self, Kind::Utf8 | Kind::Decimal { .. })
    }
}

fn unit(u: &TimeUnit) -> Unit {
    match u {
        TimeUnit::MILLIS => Unit::Millis,
        TimeUnit::MICROS => Unit::Micros,
        TimeUnit::NANOS => Unit::Nanos,
    }
}

/// Appends the text of `v`, a value of a column of kind `kind`, to `out`. Fails only for bytes
/// that are not UTF-8 in a [`Kind::Utf8`] column and for empty or wider than 128-bit decimals.
pub(crate) fn write_value(out: &mut String, kind: Kind, v: Value<'_>) -> Result<(), &'static str> {
    match (kind, v) {
        (Kind::Utf8, Value::Bytes(b)) => {
            out.push_str(std::str::from_utf8(b).map_err(|_| "bytes are not valid utf-8")?);
        }
        (Kind::Unsigned, Value::Int32(i)) => put(out, format_args!("{}", i.cast_unsigned())),
        (Kind::Unsigned, Value::Int64(i)) => put(out, format_args!("{}", i.cast_unsigned())),
        (Kind::Decimal { scale }, Value::Int32(i)) => write_decimal(out, i128::from(i), scale),
        (Kind::Decimal { scale }, Value::Int64(i)) => write_decimal(out, i128::from(i), scale),
        (Kind::Decimal { scale }, Value::Bytes(b)) => write_decimal(out, be_i128(b)?, scale),
        (Kind::Date, Value::Int32(d)) => write_date(out, i64::from(d)),
        (Kind::Date, Value::Int64(d)) => write_date(out, d),
        (Kind::Time(u), Value::Int32(t)) => write_time(out, i64::from(t), u),
        (Kind::Time(u), Value::Int64(t)) => write_time(out, t, u),
        (Kind::Timestamp { unit, utc }, Value::Int32(t)) => {
            write_timestamp(out, i64::from(t), unit, utc);
        }
        (Kind::Timestamp { unit, utc }, Value::Int64(t)) => write_timestamp(out, t, unit, utc),
        (Kind::Float16, Value::Bytes(&[lo, hi])) => {
            write_float(out, f16_to_f32(u16::from_le_bytes([lo, hi])));
        }
        (Kind::Uuid, Value::Bytes(b)) if b.len() == 16 => {
            for (i, byte) in b.iter().enumerate() {
                if matches!(i, 4 | 6 | 8 | 10) {
                    out.push('-');
                }
                put(out, format_args!("{byte:02x}"));
            }
        }
        (Kind::Interval, Value::Bytes(b)) if b.len() == 12 => {
            let word = |i: usize| u32::from_le_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]);
            let (months, days, millis) = (word(0), word(4), word(8));
            put(
                out,
                format_args!(
                    "P{months}M{days}DT{}.{:03}S",
                    millis / 1_000,
                    millis % 1_000
                ),
            );
        }
        (_, v) => write_plain(out, v),
    }
    Ok(())
}

/// A value by its physical type alone.
fn write_plain(out: &mut String, v: Value<'_>) {
    match v {
        Value::Bool(b) => out.push_str(if b { "true" } else { "false" }),
        Value::Int32(i) => put(out, format_args!("{i}")),
        Value::Int64(i) => put(out, format_args!("{i}")),
        Value::Int96(w) => write_int96(out, w),
        Value::Float(f) => write_float(out, f),
        Value::Double(f) => write_float(out, f),
        Value::Bytes(b) => match std::str::from_utf8(b) {
            Ok(s) => out.push_str(s),
            Err(_) => {
                out.push_str("0x");
                for byte in b {
                    put(out, format_args!("{byte:02x}"));
                }
            }
        },
    }
}

/// Writing to a `String` cannot fail.
fn put(out: &mut String, args: fmt::Arguments<'_>) {
    let _ = out.write_fmt(args);
}

/// The shortest text that reads back to `f` in its own width (an `f32` is not widened first,
/// which would show its binary error: `0.1f32` is `0.10000000149011612` as an `f64`); exponent
/// form for very small or large magnitudes, where the positional form would run to hundreds of
/// digits.
fn write_float<F>(out: &mut String, f: F)
where
    F: Copy + Into<f64> + fmt::Display + fmt::LowerExp,
{
    let a = f.into().abs();
    if !a.is_finite() || a == 0.0 || (1e-7..1e16).contains(&a) {
        put(out, format_args!("{f}"));
    } else {
        put(out, format_args!("{f:e}"));
    }
}

/// IEEE 754 binary16 to binary32 (exact: every half value is a single value).
fn f16_to_f32(h: u16) -> f32 {
    let sign = if h & 0x8000 != 0 { -1.0 } else { 1.0 };
    let exp = (h >> 10) & 0x1f;
    let mant = f32::from(h & 0x3ff);
    let magnitude = match exp {
        0 => mant * (2.0f32).powi(-24),
        0x1f if mant == 0.0 => f32::INFINITY,
        0x1f => f32::NAN,
        e => (1.0 + mant / 1024.0) * (2.0f32).powi(i32::from(e) - 15),
    };
    sign * magnitude
}

/// A big-endian two's complement integer of at most 16 significant bytes.
fn be_i128(b: &[u8]) -> Result<i128, &'static str> {
    let mut b = b;
    // Leading bytes that only repeat the sign do not count towards the width.
    while b.len() > 16 && ((b[0] == 0 && b[1] < 0x80) || (b[0] == 0xff && b[1] >= 0x80)) {
        b = &b[1..];
    }
    let Some(&first) = b.first() else {
        return Err("empty decimal value");
    };
    if b.len() > 16 {
        return Err("decimal value wider than 128 bits");
    }
    let init: i128 = if first >= 0x80 { -1 } else { 0 };
    Ok(b.iter()
        .fold(init, |acc, &byte| (acc << 8) | i128::from(byte)))
}

fn write_decimal(out: &mut String, unscaled: i128, scale: u32) {
    if unscaled < 0 {
        out.push('-');
    }
    let digits = unscaled.unsigned_abs().to_string();
    let scale = usize::try_from(scale).unwrap_or(usize::MAX);
    if scale == 0 {
        out.push_str(&digits);
        return;
    }
    if digits.len() <= scale {
        out.push_str("0.");
        out.extend(std::iter::repeat_n('0', scale - digits.len()));
        out.push_str(&digits);
    } else {
        let (int, frac) = digits.split_at(digits.len() - scale);
        out.push_str(int);
        out.push('.');
        out.push_str(frac);
    }
}

/// The proleptic Gregorian (year, month, day) of a day count from 1970-01-01: Howard
/// Hinnant's `civil_from_days` (<http://howardhinnant.github.io/date_algorithms.html>), exact
/// for every `|days| < 2^62`.
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days.saturating_add(DAYS_0000_03_01_TO_EPOCH);
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097); // day of era, 0..=146_096
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365; // year of era, 0..=399
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100); // day of year from 1 March, 0..=365
    let mp = (5 * doy + 2) / 153; // month from March, 0..=11
    let day = doy - (153 * mp + 2) / 5 + 1; // 1..=31
    let month = if mp < 10 { mp + 3 } else { mp - 9 }; // 1..=12
    let year = yoe + era * 400 + i64::from(month <= 2);
    // In range by construction (see the bounds above).
    let month = u32::try_from(month).unwrap_or(1);
    let day = u32::try_from(day).unwrap_or(1);
    (year, month, day)
}

fn write_date(out: &mut String, days: i64) {
    let (y, m, d) = civil_from_days(days);
    if (0..=9_999).contains(&y) {
        put(out, format_args!("{y:04}-{m:02}-{d:02}"));
    } else {
        put(out, format_args!("{y:+05}-{m:02}-{d:02}"));
    }
}

/// `HH:MM:SS.fff` for a time of day; hours past 23 and negative values (invalid, but possible in
/// a file) are written as they are rather than wrapped.
fn write_time(out: &mut String, t: i64, unit: Unit) {
    if t < 0 {
        out.push('-');
    }
    let t = t.unsigned_abs();
    let per_second = unit.per_second().unsigned_abs();
    let (secs, frac) = (t / per_second, t % per_second);
    put(
        out,
        format_args!(
            "{:02}:{:02}:{:02}.{frac:0w$}",
            secs / 3_600,
            secs / 60 % 60,
            secs % 60,
            w = unit.digits()
        ),
    );
}

fn write_timestamp(out: &mut String, t: i64, unit: Unit, utc: bool) {
    let secs = t.div_euclid(unit.per_second());
    let frac = t.rem_euclid(unit.per_second());
    write_date(out, secs.div_euclid(SECONDS_PER_DAY));
    let sod = secs.rem_euclid(SECONDS_PER_DAY);
    put(
        out,
        format_args!(
            "T{:02}:{:02}:{:02}.{frac:0w$}",
            sod / 3_600,
            sod / 60 % 60,
            sod % 60,
            w = unit.digits()
        ),
    );
    if utc {
        out.push('Z');
    }
}

/// INT96: nanoseconds of the day in the first 8 bytes, the Julian day in the last 4.
fn write_int96(out: &mut String, w: [u32; 3]) {
    let nanos = ((u64::from(w[1]) << 32) | u64::from(w[0])).cast_signed();
    let days =
        i64::from(w[2].cast_signed()) - JULIAN_DAY_OF_EPOCH + nanos.div_euclid(NANOS_PER_DAY);
    write_date(out, days);
    let nod = nanos.rem_euclid(NANOS_PER_DAY);
    let secs = nod / 1_000_000_000;
    put(
        out,
        format_args!(
            "T{:02}:{:02}:{:02}.{:09}",
            secs / 3_600,
            secs / 60 % 60,
            secs % 60,
            nod % 1_000_000_000
        ),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(kind: Kind, v: Value<'_>) -> String {
        let mut s = String::new();
        write_value(&mut s, kind, v).unwrap();
        s
    }

    #[test]
    fn dates_against_known_days() {
        // Day numbers from the Unix epoch, checked against `date -u -d @$((d*86400))`.
        for (days, want) in [
            (0, "1970-01-01"),
            (-1, "1969-12-31"),
            (11_016, "2000-02-29"),
            (19_782, "2024-02-29"),
            (-719_528, "0000-01-01"),
            (2_932_896, "9999-12-31"),
            (2_932_897, "+10000-01-01"),
            (-719_529, "-0001-12-31"),
        ] {
            assert_eq!(text(Kind::Date, Value::Int32(days)), want, "{days}");
        }
        assert_eq!(text(Kind::Date, Value::Int32(i32::MIN)), "-5877641-06-23");
        assert_eq!(text(Kind::Date, Value::Int32(i32::MAX)), "+5881580-07-11");
    }

    #[test]
    fn timestamps_by_unit_and_zone() {
        let ts = |unit, utc| Kind::Timestamp { unit, utc };
        // 2024-03-01T08:30:05.123456789Z = 1709281805 s.
        let ns = 1_709_281_805_123_456_789i64;
        assert_eq!(
            text(ts(Unit::Nanos, true), Value::Int64(ns)),
            "2024-03-01T08:30:05.123456789Z"
        );
        assert_eq!(
            text(ts(Unit::Micros, false), Value::Int64(ns / 1_000)),
            "2024-03-01T08:30:05.123456"
        );
        assert_eq!(
            text(ts(Unit::Millis, true), Value::Int64(-1)),
            "1969-12-31T23:59:59.999Z"
        );
        // Extremes do not overflow.
        let min = text(ts(Unit::Millis, true), Value::Int64(i64::MIN));
        assert_eq!(min, "-292275055-05-16T16:47:04.192Z");
        let max = text(ts(Unit::Nanos, false), Value::Int64(i64::MAX));
        assert_eq!(max, "2262-04-11T23:47:16.854775807");
    }

    #[test]
    fn int96_as_written_by_spark() {
        // 2024-03-01T08:30:05.5: Julian day 2_460_371, 30_605.5 s into the day.
        let nanos: u64 = 30_605_500_000_000;
        let low = u32::try_from(nanos & 0xffff_ffff).unwrap();
        let w = [low, u32::try_from(nanos >> 32).unwrap(), 2_460_371];
        assert_eq!(
            text(Kind::Plain, Value::Int96(w)),
            "2024-03-01T08:30:05.500000000"
        );
        assert_eq!(
            text(Kind::Plain, Value::Int96([0, 0, 0])),
            "-4713-11-24T00:00:00.000000000"
        );
    }

    #[test]
    fn times_of_day() {
        assert_eq!(
            text(Kind::Time(Unit::Millis), Value::Int32(45_296_789)),
            "12:34:56.789"
        );
        assert_eq!(
            text(Kind::Time(Unit::Micros), Value::Int64(1)),
            "00:00:00.000001"
        );
        assert_eq!(
            text(Kind::Time(Unit::Millis), Value::Int32(-1_000)),
            "-00:00:01.000"
        );
    }

    #[test]
    fn decimals_keep_their_scale() {
        let d = |scale| Kind::Decimal { scale };
        assert_eq!(text(d(2), Value::Int32(-123_450)), "-1234.50");
        assert_eq!(text(d(2), Value::Int64(5)), "0.05");
        assert_eq!(text(d(3), Value::Int64(-5)), "-0.005");
        assert_eq!(text(d(0), Value::Int64(7)), "7");
        assert_eq!(text(d(2), Value::Bytes(&[0x30, 0x39])), "123.45");
        assert_eq!(text(d(2), Value::Bytes(&[0xcf, 0xc7])), "-123.45");
        // 38 nines, the widest DECIMAL(38, s), in 16 bytes.
        let max = 10i128.pow(38) - 1;
        assert_eq!(text(d(0), Value::Bytes(&max.to_be_bytes())), "9".repeat(38));
        // Redundant sign bytes beyond 16 are fine; 17 significant bytes are not.
        let mut wide = vec![0xff; 4];
        wide.extend((-1i128).to_be_bytes());
        assert_eq!(text(d(1), Value::Bytes(&wide)), "-0.1");
        let mut s = String::new();
        let too_wide = [&[0x01][..], &[0u8; 16][..]].concat();
        assert!(write_value(&mut s, d(0), Value::Bytes(&too_wide)).is_err());
        assert!(write_value(&mut s, d(0), Value::Bytes(&[])).is_err());
    }

    #[test]
    fn floats_round_trip() {
        for (f, want) in [
            (0.1, "0.1"),
            (3.0, "3"),
            (-0.0, "-0"),
            (1e16, "1e16"),
            (2.5e-8, "2.5e-8"),
            (123_456.789, "123456.789"),
            (f64::NAN, "NaN"),
            (f64::NEG_INFINITY, "-inf"),
        ] {
            let got = text(Kind::Plain, Value::Double(f));
            assert_eq!(got, want);
            if f.is_finite() {
                assert_eq!(got.parse::<f64>().unwrap().to_bits(), f.to_bits());
            }
        }
        assert_eq!(text(Kind::Plain, Value::Float(0.1)), "0.1");
        // binary16: 1.5 is 0x3e00, the smallest subnormal 0x0001, -2 is 0xc000.
        for (bits, want) in [(0x3e00u16, "1.5"), (0x0001, "5.9604645e-8"), (0xc000, "-2")] {
            assert_eq!(text(Kind::Float16, Value::Bytes(&bits.to_le_bytes())), want);
        }
    }

    #[test]
    fn integers_strings_and_bytes() {
        assert_eq!(text(Kind::Plain, Value::Int64(-42)), "-42");
        assert_eq!(text(Kind::Unsigned, Value::Int32(-1)), "4294967295");
        assert_eq!(
            text(Kind::Unsigned, Value::Int64(-1)),
            "18446744073709551615"
        );
        assert_eq!(text(Kind::Plain, Value::Bool(true)), "true");
        assert_eq!(text(Kind::Utf8, Value::Bytes("张三".as_bytes())), "张三");
        assert_eq!(text(Kind::Binary, Value::Bytes(b"ab")), "ab");
        assert_eq!(text(Kind::Binary, Value::Bytes(&[0xff, 0x00])), "0xff00");
        let mut s = String::new();
        assert_eq!(
            write_value(&mut s, Kind::Utf8, Value::Bytes(&[0xd5, 0xc5])),
            Err("bytes are not valid utf-8")
        );
        let uuid: Vec<u8> = (0..16).collect();
        assert_eq!(
            text(Kind::Uuid, Value::Bytes(&uuid)),
            "00010203-0405-0607-0809-0a0b0c0d0e0f"
        );
        let iv = [[
            1u32.to_le_bytes(),
            2u32.to_le_bytes(),
            3_004u32.to_le_bytes(),
        ]
        .concat()];
        assert_eq!(text(Kind::Interval, Value::Bytes(&iv[0])), "P1M2DT3.004S");
    }
}
