//! `date`, `time`, `timestamp`, `timestamptz` and `interval` between PostgreSQL's binary
//! format and the WIT records.
//!
//! PostgreSQL counts dates in days and timestamps in microseconds from 2000-01-01, and
//! marks `infinity`/`-infinity` with the largest and smallest values of the field. The WIT
//! records cannot hold infinity, so those decode to `None` and the caller returns them as
//! `other("infinity")`. Years use astronomical numbering: year 0 is 1 BC.

use crate::bindings::wit_postgres::{Date, Datetime, Interval, Time};

/// Days from 1970-01-01 to 2000-01-01.
const UNIX_TO_POSTGRES_DAYS: i64 = 10_957;

/// Microseconds from 1970-01-01T00:00:00Z to 2000-01-01T00:00:00Z.
const UNIX_TO_POSTGRES_MICROS: i64 = UNIX_TO_POSTGRES_DAYS * MICROS_PER_DAY;

const MICROS_PER_SECOND: i64 = 1_000_000;
const MICROS_PER_DAY: i64 = 86_400 * MICROS_PER_SECOND;

/// Decodes a `date` (days since 2000-01-01); `None` for `infinity` and `-infinity`.
pub fn date_pg_to_wit(days: i32) -> Option<Date> {
    if days == i32::MAX || days == i32::MIN {
        return None;
    }
    let (year, month, day) = civil_from_days(i64::from(days) + UNIX_TO_POSTGRES_DAYS);
    Some(Date {
        year: year as i32,
        month: month as u8,
        day: day as u8,
    })
}

/// Encodes a `date`, rejecting impossible calendar dates such as February 30.
pub fn date_wit_to_pg(date: &Date) -> Result<i32, String> {
    let month = u32::from(date.month);
    let day = u32::from(date.day);
    if !(1..=12).contains(&month) || day == 0 || day > days_in_month(i64::from(date.year), month) {
        return Err(format!(
            "{:04}-{:02}-{:02} is not a calendar date",
            date.year, date.month, date.day
        ));
    }

    let days = days_from_civil(i64::from(date.year), month, day) - UNIX_TO_POSTGRES_DAYS;
    i32::try_from(days)
        .ok()
        .filter(|days| *days != i32::MAX && *days != i32::MIN)
        .ok_or_else(|| format!("year {} is out of the range of date", date.year))
}

/// Decodes a `time` (microseconds since midnight; `24:00:00` is valid in PostgreSQL).
pub fn time_pg_to_wit(micros: i64) -> Result<Time, String> {
    if !(0..=MICROS_PER_DAY).contains(&micros) {
        return Err(format!("time value {micros} µs is outside one day"));
    }
    Ok(time_from_micros(micros))
}

/// Encodes a `time`, allowing `24:00:00` as PostgreSQL does.
pub fn time_wit_to_pg(time: &Time) -> Result<i64, String> {
    let micros = time_to_micros(time)?;
    if micros > MICROS_PER_DAY {
        return Err(format!("{} is later than 24:00:00", format_time(time)));
    }
    Ok(micros)
}

/// Decodes a `timestamp` (microseconds since 2000-01-01 00:00); `None` for infinities.
pub fn timestamp_pg_to_wit(micros: i64) -> Option<Datetime> {
    if micros == i64::MAX || micros == i64::MIN {
        return None;
    }
    let days = micros.div_euclid(MICROS_PER_DAY);
    let (year, month, day) = civil_from_days(days + UNIX_TO_POSTGRES_DAYS);
    Some(Datetime {
        date: Date {
            year: year as i32,
            month: month as u8,
            day: day as u8,
        },
        time: time_from_micros(micros.rem_euclid(MICROS_PER_DAY)),
    })
}

/// Encodes a `timestamp`.
pub fn timestamp_wit_to_pg(datetime: &Datetime) -> Result<i64, String> {
    let days = date_wit_to_pg(&datetime.date)?;
    let micros = time_to_micros(&datetime.time)?;
    if micros >= MICROS_PER_DAY {
        return Err(format!(
            "{} is not a time of day inside a timestamp",
            format_time(&datetime.time)
        ));
    }
    i64::from(days)
        .checked_mul(MICROS_PER_DAY)
        .and_then(|day_micros| day_micros.checked_add(micros))
        .ok_or_else(|| format!("year {} is out of the range of timestamp", datetime.date.year))
}

/// Decodes a `timestamptz` into microseconds since the Unix epoch; `None` for infinities.
pub fn timestamptz_pg_to_wit(micros: i64) -> Option<i64> {
    if micros == i64::MAX || micros == i64::MIN {
        return None;
    }
    micros.checked_add(UNIX_TO_POSTGRES_MICROS)
}

/// Encodes microseconds since the Unix epoch as a `timestamptz`.
pub fn timestamptz_wit_to_pg(unix_micros: i64) -> Result<i64, String> {
    unix_micros
        .checked_sub(UNIX_TO_POSTGRES_MICROS)
        .filter(|micros| *micros != i64::MIN && *micros != i64::MAX)
        .ok_or_else(|| format!("{unix_micros} µs since 1970 is out of the range of timestamptz"))
}

/// Decodes an `interval`: 8 bytes of microseconds, 4 of days, 4 of months.
pub fn interval_pg_to_wit(raw: &[u8]) -> Result<Interval, String> {
    let raw: &[u8; 16] = raw
        .try_into()
        .map_err(|_| format!("interval value has {} bytes, expected 16", raw.len()))?;
    Ok(Interval {
        microseconds: i64::from_be_bytes(raw[0..8].try_into().expect("8 bytes")),
        days: i32::from_be_bytes(raw[8..12].try_into().expect("4 bytes")),
        months: i32::from_be_bytes(raw[12..16].try_into().expect("4 bytes")),
    })
}

/// Encodes an `interval`.
pub fn interval_wit_to_pg(interval: &Interval) -> Vec<u8> {
    let mut raw = Vec::with_capacity(16);
    raw.extend_from_slice(&interval.microseconds.to_be_bytes());
    raw.extend_from_slice(&interval.days.to_be_bytes());
    raw.extend_from_slice(&interval.months.to_be_bytes());
    raw
}

fn time_from_micros(micros: i64) -> Time {
    let seconds = micros / MICROS_PER_SECOND;
    Time {
        hour: (seconds / 3600) as u8,
        minute: (seconds / 60 % 60) as u8,
        second: (seconds % 60) as u8,
        microsecond: (micros % MICROS_PER_SECOND) as u32,
    }
}

fn time_to_micros(time: &Time) -> Result<i64, String> {
    if time.hour > 24 || time.minute > 59 || time.second > 59 || i64::from(time.microsecond) >= MICROS_PER_SECOND {
        return Err(format!("{} is not a time of day", format_time(time)));
    }
    let seconds = i64::from(time.hour) * 3600 + i64::from(time.minute) * 60 + i64::from(time.second);
    Ok(seconds * MICROS_PER_SECOND + i64::from(time.microsecond))
}

fn format_time(time: &Time) -> String {
    format!(
        "{:02}:{:02}:{:02}.{:06}",
        time.hour, time.minute, time.second, time.microsecond
    )
}

fn is_leap_year(year: i64) -> bool {
    year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
}

fn days_in_month(year: i64, month: u32) -> u32 {
    match month {
        2 if is_leap_year(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Converts days since 1970-01-01 to a proleptic Gregorian (year, month, day), using the
/// 400-year era arithmetic from Howard Hinnant's `chrono`-compatible date algorithms.
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let shifted = days + 719_468;
    let era = shifted.div_euclid(146_097);
    let day_of_era = shifted.rem_euclid(146_097);
    let year_of_era = (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
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

/// Converts a proleptic Gregorian date to days since 1970-01-01; the inverse of
/// [`civil_from_days`].
fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let month_index = i64::from((month + 9) % 12);
    let day_of_year = (153 * month_index + 2) / 5 + i64::from(day) - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(year: i32, month: u8, day: u8) -> Date {
        Date { year, month, day }
    }

    #[test]
    fn date_epochs() {
        assert_eq!(date_wit_to_pg(&date(2000, 1, 1)), Ok(0));
        assert_eq!(date_wit_to_pg(&date(1970, 1, 1)), Ok(-10_957));
        assert_eq!(date_pg_to_wit(0), Some(date(2000, 1, 1)));
        assert_eq!(date_pg_to_wit(59), Some(date(2000, 2, 29)));
        assert_eq!(date_pg_to_wit(-1), Some(date(1999, 12, 31)));
    }

    #[test]
    fn date_round_trips_across_eras() {
        for days in [-2_451_545, -800_000, -1, 0, 1, 365, 10_000, 2_000_000, 2_147_483_494] {
            let decoded = date_pg_to_wit(days).expect("finite date");
            assert_eq!(date_wit_to_pg(&decoded), Ok(days), "days {days} via {decoded:?}");
        }
    }

    #[test]
    fn date_rejects_impossible_days() {
        assert!(date_wit_to_pg(&date(2023, 2, 29)).is_err());
        assert!(date_wit_to_pg(&date(2024, 13, 1)).is_err());
        assert!(date_wit_to_pg(&date(2024, 4, 31)).is_err());
        assert!(date_wit_to_pg(&date(2024, 1, 0)).is_err());
        assert!(date_wit_to_pg(&date(2024, 2, 29)).is_ok());
    }

    #[test]
    fn date_infinity_has_no_record() {
        assert_eq!(date_pg_to_wit(i32::MAX), None);
        assert_eq!(date_pg_to_wit(i32::MIN), None);
    }

    #[test]
    fn time_bounds() {
        let end = Time {
            hour: 24,
            minute: 0,
            second: 0,
            microsecond: 0,
        };
        assert_eq!(time_wit_to_pg(&end), Ok(MICROS_PER_DAY));
        assert_eq!(time_pg_to_wit(MICROS_PER_DAY), Ok(end));

        let late = Time {
            hour: 24,
            minute: 0,
            second: 0,
            microsecond: 1,
        };
        assert!(time_wit_to_pg(&late).is_err());
        assert!(time_pg_to_wit(-1).is_err());
    }

    #[test]
    fn timestamp_before_2000() {
        let micros = -1;
        let decoded = timestamp_pg_to_wit(micros).expect("finite");
        assert_eq!(decoded.date, date(1999, 12, 31));
        assert_eq!(
            decoded.time,
            Time {
                hour: 23,
                minute: 59,
                second: 59,
                microsecond: 999_999
            }
        );
        assert_eq!(timestamp_wit_to_pg(&decoded), Ok(micros));
    }

    #[test]
    fn timestamptz_is_unix_micros() {
        assert_eq!(timestamptz_pg_to_wit(0), Some(946_684_800_000_000));
        assert_eq!(timestamptz_wit_to_pg(0), Ok(-946_684_800_000_000));
        assert_eq!(timestamptz_pg_to_wit(i64::MAX), None);
    }

    #[test]
    fn interval_round_trip() {
        let interval = Interval {
            months: -14,
            days: 3,
            microseconds: 4_000_001,
        };
        let raw = interval_wit_to_pg(&interval);
        assert_eq!(interval_pg_to_wit(&raw), Ok(interval));
        assert!(interval_pg_to_wit(&raw[..15]).is_err());
    }
}
