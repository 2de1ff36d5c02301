//! Wall-clock time as milliseconds since the Unix epoch, and its RFC 3339 form.

use std::time::{SystemTime, UNIX_EPOCH};

const MS_PER_DAY: i64 = 86_400_000;

/// Milliseconds since 1970-01-01T00:00:00Z (negative if the clock is set before it; saturating
/// far outside the range of `i64`).
pub fn now_ms() -> i64 {
    match SystemTime::now().duration_since(UNIX_EPOCH) {
        Ok(after) => i64::try_from(after.as_millis()).unwrap_or(i64::MAX),
        Err(before) => i64::try_from(before.duration().as_millis()).map_or(i64::MIN, |ms| -ms),
    }
}

/// Formats milliseconds since the Unix epoch as RFC 3339 in UTC with milliseconds, e.g.
/// `2026-11-25T15:04:05.123Z`.
///
/// Years outside 0000..=9999 cannot be written in RFC 3339; they are written with as many digits
/// as needed (and a sign if negative), as ISO 8601's expanded form does.
pub fn format_time(ms: i64) -> String {
    let days = ms.div_euclid(MS_PER_DAY);
    let in_day = ms.rem_euclid(MS_PER_DAY);
    let (year, month, day) = civil_from_days(days);
    let (secs, milli) = (in_day / 1000, in_day % 1000);
    let (hour, min, sec) = (secs / 3600, secs / 60 % 60, secs % 60);
    let year = if (0..=9999).contains(&year) {
        format!("{year:04}")
    } else {
        format!("{year:+}")
    };
    format!("{year}-{month:02}-{day:02}T{hour:02}:{min:02}:{sec:02}.{milli:03}Z")
}

/// The proleptic Gregorian (year, month 1..=12, day 1..=31) of a day count since 1970-01-01.
///
/// Howard Hinnant's `civil_from_days` ("chrono-Compatible Low-Level Date Algorithms"): shift the
/// epoch to 0000-03-01 so that the leap day ends the year, split into 400-year eras of 146 097
/// days, then into years of the era and days of the year, then into months from March, where
/// month lengths follow `(153 * m + 2) / 5`.
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    // 719 468 days from 0000-03-01 to 1970-01-01. Cannot overflow: |days| < 2^47 for any i64
    // millisecond count.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097); // day of era, [0, 146096]
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365; // year of era, [0, 399]
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100); // day of year from March 1, [0, 365]
    let mp = (5 * doy + 2) / 153; // month from March, [0, 11]
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn is_leap(y: i64) -> bool {
        (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
    }

    fn month_len(y: i64, m: i64) -> i64 {
        match m {
            2 if is_leap(y) => 29,
            2 => 28,
            4 | 6 | 9 | 11 => 30,
            _ => 31,
        }
    }

    /// Walks every day from 1600-01-01 to 2399-12-31 by counting, the slow way, and checks the
    /// closed form on each.
    #[test]
    fn civil_from_days_matches_counting_over_1600_to_2400() {
        let before_1970: i64 = (1600..1970)
            .map(|y| if is_leap(y) { 366 } else { 365 })
            .sum();
        let mut days = -before_1970;
        for year in 1600..2400 {
            for month in 1..=12 {
                for day in 1..=month_len(year, month) {
                    assert_eq!(civil_from_days(days), (year, month, day), "day {days}");
                    days += 1;
                }
            }
        }
        assert_eq!(civil_from_days(days), (2400, 1, 1));
    }

    #[test]
    fn extreme_times_do_not_panic() {
        assert!(format_time(i64::MAX).ends_with('Z'));
        assert!(format_time(i64::MIN).starts_with('-'));
    }
}
