//! Query results: Spin's `row-set` and `db-value` turned into ours.

use super::binary;
use super::columns::{column_from_spin, type_name};
use super::spin::{DbDataType, DbValue, RangeBoundKind, RowSet as SpinRowSet};
use super::wit::{Date, Datetime, Error, Interval, RowSet, Scalar, Time, Value};

const MICROS_PER_SECOND: i64 = 1_000_000;
const NANOS_PER_MICRO: u32 = 1_000;

/// Converts a whole result; an error names the row and column.
pub fn row_set_from_spin(row_set: SpinRowSet) -> Result<RowSet, Error> {
    let data_types: Vec<DbDataType> = row_set.columns.iter().map(|column| column.data_type.clone()).collect();
    let columns: Vec<_> = row_set
        .columns
        .into_iter()
        .map(|column| column_from_spin(column.name, &column.data_type))
        .collect();

    let unknown_type = DbDataType::Other(String::new());
    let mut rows = Vec::with_capacity(row_set.rows.len());
    for (row_index, row) in row_set.rows.into_iter().enumerate() {
        let mut values = Vec::with_capacity(row.len());
        for (column_index, value) in row.into_iter().enumerate() {
            let data_type = data_types.get(column_index).unwrap_or(&unknown_type);
            let converted = value_from_spin(value, data_type).map_err(|reason| {
                let column = columns.get(column_index).map_or("?", |column| column.name.as_str());
                Error::ValueConversionFailed(format!("row {row_index}, column {column:?}: {reason}"))
            })?;
            values.push(converted);
        }
        rows.push(values);
    }

    Ok(RowSet { columns, rows })
}

/// Converts one value of a column whose Spin type is `data_type`.
pub fn value_from_spin(value: DbValue, data_type: &DbDataType) -> Result<Value, String> {
    let scalar = match value {
        DbValue::DbNull => Scalar::Null,
        DbValue::Boolean(value) => Scalar::Boolean(value),
        DbValue::Int8(value) => Scalar::Int16(i16::from(value)),
        DbValue::Int16(value) => Scalar::Int16(value),
        DbValue::Int32(value) => Scalar::Int32(value),
        DbValue::Int64(value) => Scalar::Int64(value),
        DbValue::Floating32(value) => Scalar::Float32(value),
        DbValue::Floating64(value) => Scalar::Float64(value),
        DbValue::Str(text) => Scalar::Text(text),
        DbValue::Binary(bytes) => Scalar::Bytea(bytes),
        DbValue::Date((year, month, day)) => Scalar::Date(Date { year, month, day }),
        DbValue::Time((hour, minute, second, nanosecond)) => Scalar::Time(Time {
            hour,
            minute,
            second,
            microsecond: nanosecond / NANOS_PER_MICRO,
        }),
        DbValue::Datetime((year, month, day, hour, minute, second, nanosecond)) => Scalar::Timestamp(Datetime {
            date: Date { year, month, day },
            time: Time {
                hour,
                minute,
                second,
                microsecond: nanosecond / NANOS_PER_MICRO,
            },
        }),
        DbValue::Timestamp(seconds) => Scalar::Timestamptz(
            seconds
                .checked_mul(MICROS_PER_SECOND)
                .ok_or_else(|| format!("timestamp {seconds} s is out of range"))?,
        ),
        DbValue::Uuid(text) => Scalar::Uuid(text),
        DbValue::Jsonb(bytes) => {
            Scalar::Jsonb(String::from_utf8(bytes).map_err(|_| "jsonb value is not valid UTF-8".to_owned())?)
        }
        DbValue::Decimal(text) => Scalar::Numeric(text),
        DbValue::RangeInt32((lower, upper)) => Scalar::Other(range_text(lower, upper)),
        DbValue::RangeInt64((lower, upper)) => Scalar::Other(range_text(lower, upper)),
        DbValue::RangeDecimal((lower, upper)) => Scalar::Other(range_text(lower, upper)),
        DbValue::ArrayInt32(elements) => return Ok(array(elements, Scalar::Int32)),
        DbValue::ArrayInt64(elements) => return Ok(array(elements, Scalar::Int64)),
        DbValue::ArrayDecimal(elements) => return Ok(array(elements, Scalar::Numeric)),
        DbValue::ArrayStr(elements) => return Ok(array(elements, Scalar::Text)),
        DbValue::Interval(interval) => Scalar::Interval(Interval {
            months: interval.months,
            days: interval.days,
            microseconds: interval.micros,
        }),
        DbValue::Unsupported(bytes) => return binary::decode(&type_name(data_type), &bytes),
    };
    Ok(Value::Scalar(scalar))
}

fn array<T>(elements: Vec<Option<T>>, scalar: fn(T) -> Scalar) -> Value {
    Value::Array(elements.into_iter().map(|element| element.map_or(Scalar::Null, scalar)).collect())
}

/// Formats a range in PostgreSQL's text output form, for example `[1,10)`.
// NOTE: Spin 4.0 reports an empty range like an unbounded one (no lower and no upper
// bound), so `empty` is printed as `(,)`.
fn range_text<T: ToString>(
    lower: Option<(T, RangeBoundKind)>,
    upper: Option<(T, RangeBoundKind)>,
) -> String {
    let (open, lower_text) = match lower {
        Some((value, RangeBoundKind::Inclusive)) => ('[', value.to_string()),
        Some((value, RangeBoundKind::Exclusive)) => ('(', value.to_string()),
        None => ('(', String::new()),
    };
    let (close, upper_text) = match upper {
        Some((value, RangeBoundKind::Inclusive)) => (']', value.to_string()),
        Some((value, RangeBoundKind::Exclusive)) => (')', value.to_string()),
        None => (')', String::new()),
    };
    format!("{open}{lower_text},{upper_text}{close}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::postgres::spin::{Column as SpinColumn, Interval as SpinInterval};

    fn scalar(value: DbValue, data_type: DbDataType) -> Scalar {
        match value_from_spin(value, &data_type).expect("convertible") {
            Value::Scalar(scalar) => scalar,
            Value::Array(_) => panic!("expected a scalar"),
        }
    }

    #[test]
    fn null_is_null_for_every_type() {
        for data_type in [DbDataType::Int32, DbDataType::ArrayStr, DbDataType::Other("json".into())] {
            assert!(matches!(scalar(DbValue::DbNull, data_type), Scalar::Null));
        }
    }

    #[test]
    fn plain_values_convert() {
        assert!(matches!(scalar(DbValue::Boolean(false), DbDataType::Boolean), Scalar::Boolean(false)));
        assert!(matches!(scalar(DbValue::Int16(-3), DbDataType::Int16), Scalar::Int16(-3)));
        assert!(matches!(scalar(DbValue::Int32(3), DbDataType::Int32), Scalar::Int32(3)));
        assert!(matches!(scalar(DbValue::Int64(i64::MAX), DbDataType::Int64), Scalar::Int64(i64::MAX)));
        assert!(matches!(scalar(DbValue::Floating32(0.5), DbDataType::Floating32), Scalar::Float32(v) if v == 0.5));
        assert!(matches!(scalar(DbValue::Floating64(f64::INFINITY), DbDataType::Floating64), Scalar::Float64(v) if v.is_infinite()));
        assert!(matches!(scalar(DbValue::Str("é".into()), DbDataType::Str), Scalar::Text(s) if s == "é"));
        assert!(matches!(scalar(DbValue::Binary(vec![1]), DbDataType::Binary), Scalar::Bytea(b) if b == [1]));
        assert!(matches!(scalar(DbValue::Decimal("1.10".into()), DbDataType::Decimal), Scalar::Numeric(s) if s == "1.10"));
        assert!(matches!(scalar(DbValue::Jsonb(b"{}".to_vec()), DbDataType::Jsonb), Scalar::Jsonb(s) if s == "{}"));
        assert!(matches!(scalar(DbValue::Uuid("00000000-0000-0000-0000-000000000000".into()), DbDataType::Uuid), Scalar::Uuid(_)));
    }

    #[test]
    fn time_keeps_microseconds() {
        let converted = scalar(DbValue::Time((1, 2, 3, 456_789_000)), DbDataType::Time);
        assert!(matches!(converted, Scalar::Time(Time { hour: 1, minute: 2, second: 3, microsecond: 456_789 })));
    }

    #[test]
    fn datetime_is_timestamp() {
        let converted = scalar(DbValue::Datetime((2024, 2, 29, 12, 0, 1, 1_000)), DbDataType::Datetime);
        let Scalar::Timestamp(datetime) = converted else {
            panic!("expected a timestamp");
        };
        assert_eq!((datetime.date.year, datetime.date.month, datetime.date.day), (2024, 2, 29));
        assert_eq!(datetime.time.microsecond, 1);
    }

    #[test]
    fn unix_seconds_become_micros() {
        assert!(matches!(scalar(DbValue::Timestamp(-1), DbDataType::Timestamp), Scalar::Timestamptz(-1_000_000)));
    }

    #[test]
    fn interval_keeps_fields() {
        let interval = SpinInterval { micros: -1, days: 2, months: -3 };
        assert!(matches!(
            scalar(DbValue::Interval(interval), DbDataType::Interval),
            Scalar::Interval(Interval { months: -3, days: 2, microseconds: -1 })
        ));
    }

    #[test]
    fn ranges_print_like_postgres() {
        let value = DbValue::RangeInt32((Some((1, RangeBoundKind::Inclusive)), Some((10, RangeBoundKind::Exclusive))));
        assert!(matches!(scalar(value, DbDataType::RangeInt32), Scalar::Other(s) if s == "[1,10)"));
        let value = DbValue::RangeDecimal((None, Some(("2.5".to_owned(), RangeBoundKind::Inclusive))));
        assert!(matches!(scalar(value, DbDataType::RangeDecimal), Scalar::Other(s) if s == "(,2.5]"));
    }

    #[test]
    fn arrays_keep_nulls() {
        let Value::Array(elements) =
            value_from_spin(DbValue::ArrayStr(vec![Some("a".into()), None]), &DbDataType::ArrayStr).unwrap()
        else {
            panic!("expected an array");
        };
        assert!(matches!(&elements[..], [Scalar::Text(a), Scalar::Null] if a == "a"));
    }

    #[test]
    fn unsupported_json_decodes() {
        let converted = scalar(DbValue::Unsupported(b"[1, 2]".to_vec()), DbDataType::Other("json".into()));
        assert!(matches!(converted, Scalar::Json(s) if s == "[1, 2]"));
    }

    #[test]
    fn row_set_names_failing_cell() {
        let row_set = SpinRowSet {
            columns: vec![
                SpinColumn { name: "id".into(), data_type: DbDataType::Int64 },
                SpinColumn { name: "price".into(), data_type: DbDataType::Other("money".into()) },
            ],
            rows: vec![vec![DbValue::Int64(1), DbValue::Unsupported(100i64.to_be_bytes().to_vec())]],
        };
        let Err(Error::ValueConversionFailed(message)) = row_set_from_spin(row_set) else {
            panic!("expected value-conversion-failed");
        };
        assert!(message.starts_with("row 0, column \"price\": values of type money"), "{message}");
    }

    #[test]
    fn row_set_converts_columns_and_rows() {
        let row_set = SpinRowSet {
            columns: vec![SpinColumn { name: "email".into(), data_type: DbDataType::Str }],
            rows: vec![vec![DbValue::Str("a@example.test".into())], vec![DbValue::DbNull]],
        };
        let converted = row_set_from_spin(row_set).unwrap();
        assert_eq!(converted.columns.len(), 1);
        assert_eq!(converted.columns[0].type_name, "text");
        assert_eq!(converted.columns[0].type_oid, 25);
        assert_eq!(converted.rows.len(), 2);
        assert!(matches!(&converted.rows[0][..], [Value::Scalar(Scalar::Text(s))] if s == "a@example.test"));
        assert!(matches!(&converted.rows[1][..], [Value::Scalar(Scalar::Null)]));
    }
}
