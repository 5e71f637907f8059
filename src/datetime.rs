//! Text forms of PostgreSQL date and time values, written without a date library to keep
//! the component small. The calendar is proleptic Gregorian, as in PostgreSQL.

use crate::backend::{Date, Datetime, Interval, Time};

const MICROS_PER_SECOND: i64 = 1_000_000;
const MICROS_PER_DAY: i64 = 86_400 * MICROS_PER_SECOND;

/// Formats a `timestamptz` (microseconds since the Unix epoch) as RFC 3339 in UTC with
/// six fractional digits, for example `2024-05-01T12:30:00.000000Z`. PostgreSQL's
/// `infinity` and `-infinity` (stored as the extreme 64-bit values) become those words.
pub fn format_timestamptz(micros: i64) -> String {
    match micros {
        i64::MAX => return "infinity".to_string(),
        i64::MIN => return "-infinity".to_string(),
        _ => {}
    }

    let days = micros.div_euclid(MICROS_PER_DAY);
    let micros_of_day = micros.rem_euclid(MICROS_PER_DAY);
    let (year, month, day) = civil_from_days(days);
    let seconds_of_day = micros_of_day / MICROS_PER_SECOND;
    format!(
        "{}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:06}Z",
        format_year(year),
        seconds_of_day / 3600,
        seconds_of_day / 60 % 60,
        seconds_of_day % 60,
        micros_of_day % MICROS_PER_SECOND
    )
}

/// Formats Unix seconds as RFC 3339 in UTC without a fraction, for example
/// `2024-05-01T12:30:00Z`.
pub fn format_unix_seconds(seconds: u64) -> String {
    let seconds = i64::try_from(seconds).unwrap_or(i64::MAX);
    let days = seconds.div_euclid(86_400);
    let seconds_of_day = seconds.rem_euclid(86_400);
    let (year, month, day) = civil_from_days(days);
    format!(
        "{}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        format_year(year),
        seconds_of_day / 3600,
        seconds_of_day / 60 % 60,
        seconds_of_day % 60
    )
}

/// Formats a `date` as `YYYY-MM-DD`.
pub fn format_date(date: &Date) -> String {
    format!(
        "{}-{:02}-{:02}",
        format_year(i64::from(date.year)),
        date.month,
        date.day
    )
}

/// Formats a `time` as `HH:MM:SS`, followed by `.ffffff` when the microseconds are not
/// zero.
pub fn format_time(time: &Time) -> String {
    let whole = format!("{:02}:{:02}:{:02}", time.hour, time.minute, time.second);
    if time.microsecond == 0 {
        whole
    } else {
        format!("{whole}.{:06}", time.microsecond)
    }
}

/// Formats a `timestamp` (without time zone) as ISO 8601 without an offset, for example
/// `2024-05-01T12:30:00` or `2024-05-01T12:30:00.250000`.
pub fn format_timestamp(datetime: &Datetime) -> String {
    format!(
        "{}T{}",
        format_date(&datetime.date),
        format_time(&datetime.time)
    )
}

/// Formats an `interval` as an ISO 8601 duration, the same text PostgreSQL writes with
/// `IntervalStyle = iso_8601`. Months are split into years and months, and days stay apart
/// from the time part. Each field carries its own sign, trailing fractional zeros are
/// dropped, and zero is `PT0S`. For example 1 year 2 months 3 days 04:05:06.5 is
/// `P1Y2M3DT4H5M6.5S`.
pub fn format_interval(interval: &Interval) -> String {
    let years = interval.months / 12;
    let months = interval.months % 12;
    let days = interval.days;
    let micros = interval.microseconds;
    if years == 0 && months == 0 && days == 0 && micros == 0 {
        return "PT0S".to_string();
    }

    let mut text = String::from("P");
    push_part(&mut text, i64::from(years), 'Y');
    push_part(&mut text, i64::from(months), 'M');
    push_part(&mut text, i64::from(days), 'D');
    if micros != 0 {
        text.push('T');
        let hours = micros / (3600 * MICROS_PER_SECOND);
        let minutes = micros / (60 * MICROS_PER_SECOND) % 60;
        let seconds = micros / MICROS_PER_SECOND % 60;
        let fraction = micros % MICROS_PER_SECOND;
        push_part(&mut text, hours, 'H');
        push_part(&mut text, minutes, 'M');
        if seconds != 0 || fraction != 0 {
            if micros < 0 {
                text.push('-');
            }
            text.push_str(&seconds.unsigned_abs().to_string());
            if fraction != 0 {
                let digits = format!("{:06}", fraction.unsigned_abs());
                text.push('.');
                text.push_str(digits.trim_end_matches('0'));
            }
            text.push('S');
        }
    }
    text
}

fn push_part(text: &mut String, value: i64, designator: char) {
    if value != 0 {
        text.push_str(&value.to_string());
        text.push(designator);
    }
}

/// Writes a year with at least four digits. Years before 1 (1 BC is year 0) get a minus
/// sign and years after 9999 a plus sign, as in ISO 8601's expanded representation.
fn format_year(year: i64) -> String {
    if year < 0 {
        format!("-{:04}", year.unsigned_abs())
    } else if year > 9999 {
        format!("+{year}")
    } else {
        format!("{year:04}")
    }
}

/// Converts days since 1970-01-01 to (year, month, day) with Howard Hinnant's
/// `civil_from_days` algorithm, valid for the whole `i64` range PostgreSQL produces.
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let shifted = days + 719_468;
    let era = shifted.div_euclid(146_097);
    let day_of_era = shifted.rem_euclid(146_097);
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_index = (5 * day_of_year + 2) / 153;
    let day = (day_of_year - (153 * month_index + 2) / 5 + 1) as u32;
    let month = if month_index < 10 {
        month_index + 3
    } else {
        month_index - 9
    } as u32;
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn interval(months: i32, days: i32, microseconds: i64) -> String {
        format_interval(&Interval {
            months,
            days,
            microseconds,
        })
    }

    #[test]
    fn timestamptz_epoch() {
        assert_eq!(format_timestamptz(0), "1970-01-01T00:00:00.000000Z");
    }

    #[test]
    fn timestamptz_with_micros() {
        // 2024-02-29T13:45:30.123456Z
        assert_eq!(
            format_timestamptz(1_709_214_330_123_456),
            "2024-02-29T13:45:30.123456Z"
        );
    }

    #[test]
    fn timestamptz_before_epoch() {
        assert_eq!(format_timestamptz(-1), "1969-12-31T23:59:59.999999Z");
        // PostgreSQL's minimum, 4714-11-24 BC 00:00:00 UTC, is ISO year -4713.
        assert_eq!(
            format_timestamptz(-210_866_803_200_000_000),
            "-4713-11-24T00:00:00.000000Z"
        );
    }

    #[test]
    fn timestamptz_far_future_and_infinity() {
        assert_eq!(
            format_timestamptz(253_402_300_800_000_000),
            "+10000-01-01T00:00:00.000000Z"
        );
        assert_eq!(
            format_timestamptz(9_223_372_022_400_000_000),
            "+294247-01-10T00:00:00.000000Z"
        );
        assert_eq!(format_timestamptz(i64::MAX), "infinity");
        assert_eq!(format_timestamptz(i64::MIN), "-infinity");
    }

    #[test]
    fn unix_seconds_format() {
        assert_eq!(format_unix_seconds(0), "1970-01-01T00:00:00Z");
        assert_eq!(format_unix_seconds(1_700_000_000), "2023-11-14T22:13:20Z");
        assert_eq!(
            format_unix_seconds(u64::MAX),
            format_unix_seconds(i64::MAX as u64)
        );
    }

    #[test]
    fn date_format() {
        let date = Date {
            year: 2024,
            month: 1,
            day: 9,
        };
        assert_eq!(format_date(&date), "2024-01-09");
        let ancient = Date {
            year: -44,
            month: 3,
            day: 15,
        };
        assert_eq!(format_date(&ancient), "-0044-03-15");
        let early = Date {
            year: 33,
            month: 12,
            day: 31,
        };
        assert_eq!(format_date(&early), "0033-12-31");
    }

    #[test]
    fn time_format() {
        let whole = Time {
            hour: 7,
            minute: 5,
            second: 3,
            microsecond: 0,
        };
        assert_eq!(format_time(&whole), "07:05:03");
        let fractional = Time {
            hour: 23,
            minute: 59,
            second: 59,
            microsecond: 120,
        };
        assert_eq!(format_time(&fractional), "23:59:59.000120");
    }

    #[test]
    fn timestamp_format() {
        let datetime = Datetime {
            date: Date {
                year: 2024,
                month: 5,
                day: 1,
            },
            time: Time {
                hour: 12,
                minute: 30,
                second: 0,
                microsecond: 250_000,
            },
        };
        assert_eq!(format_timestamp(&datetime), "2024-05-01T12:30:00.250000");
    }

    #[test]
    fn interval_zero() {
        assert_eq!(interval(0, 0, 0), "PT0S");
    }

    #[test]
    fn interval_all_fields() {
        let micros = ((4 * 60 + 5) * 60 + 6) * 1_000_000 + 500_000;
        assert_eq!(interval(14, 3, micros), "P1Y2M3DT4H5M6.5S");
    }

    #[test]
    fn interval_date_only_and_time_only() {
        assert_eq!(interval(1, 0, 0), "P1M");
        assert_eq!(interval(0, 10, 0), "P10D");
        assert_eq!(interval(0, 0, 90 * 60 * 1_000_000), "PT1H30M");
        assert_eq!(interval(0, 0, 1), "PT0.000001S");
    }

    #[test]
    fn interval_negative_fields() {
        // PostgreSQL: '-1 year -2 mons +3 days -04:05:06.5' in iso_8601 style.
        let micros = -(((4 * 60 + 5) * 60 + 6) * 1_000_000 + 500_000);
        assert_eq!(interval(-14, 3, micros), "P-1Y-2M3DT-4H-5M-6.5S");
        assert_eq!(interval(0, 0, -500_000), "PT-0.5S");
    }

    #[test]
    fn interval_extremes_do_not_panic() {
        let text = interval(i32::MIN, i32::MIN, i64::MIN);
        assert!(
            text.starts_with("P-178956970Y-8M-2147483648DT-2562047788H"),
            "{text}"
        );
        let text = interval(i32::MAX, i32::MAX, i64::MAX);
        assert!(
            text.starts_with("P178956970Y7M2147483647DT2562047788H"),
            "{text}"
        );
    }
}
