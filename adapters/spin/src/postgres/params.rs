//! Statement parameters: our `value` turned into Spin's `parameter-value`.
//!
//! Spin 4.0 binds each parameter value with a fixed Rust type (crates/factor-outbound-pg,
//! `to_sql_parameter`), and tokio-postgres checks it against the type PostgreSQL inferred
//! for the placeholder. Values that Spin's interface cannot carry are rejected here with
//! `bad-parameter` and a way around; nothing is rounded or truncated.

use super::spin::{Interval as SpinInterval, ParameterValue};
use super::wit::{Error, Scalar, Value};

const MICROS_PER_SECOND: i64 = 1_000_000;
const NANOS_PER_MICRO: u32 = 1_000;

/// Converts all parameters; an error names the placeholder (`$1` is the first).
pub fn params_to_spin(params: &[Value]) -> Result<Vec<ParameterValue>, Error> {
    params
        .iter()
        .enumerate()
        .map(|(index, value)| {
            param_to_spin(value).map_err(|reason| Error::BadParameter(format!("parameter ${}: {reason}", index + 1)))
        })
        .collect()
}

/// Converts one parameter, or returns why Spin cannot carry it.
pub fn param_to_spin(value: &Value) -> Result<ParameterValue, String> {
    match value {
        Value::Scalar(scalar) => scalar_to_spin(scalar),
        Value::Array(elements) => array_to_spin(elements),
    }
}

fn scalar_to_spin(scalar: &Scalar) -> Result<ParameterValue, String> {
    let converted = match scalar {
        Scalar::Null => ParameterValue::DbNull,
        Scalar::Boolean(value) => ParameterValue::Boolean(*value),
        Scalar::Int16(value) => ParameterValue::Int16(*value),
        Scalar::Int32(value) => ParameterValue::Int32(*value),
        Scalar::Int64(value) => ParameterValue::Int64(*value),
        Scalar::Float32(value) => ParameterValue::Floating32(*value),
        Scalar::Float64(value) => ParameterValue::Floating64(*value),
        Scalar::Numeric(text) => ParameterValue::Decimal(numeric_to_spin(text)?),
        Scalar::Text(text) | Scalar::Other(text) => ParameterValue::Str(text.clone()),
        Scalar::Bytea(bytes) => ParameterValue::Binary(bytes.clone()),
        Scalar::Uuid(text) => ParameterValue::Uuid(text.clone()),
        // Spin binds JSON as a serde_json value, which PostgreSQL accepts for both `json`
        // and `jsonb` placeholders. NOTE: serde_json re-serialises the text, so a `json`
        // column stores it with key order and whitespace normalised.
        Scalar::Json(text) | Scalar::Jsonb(text) => ParameterValue::Jsonb(text.clone().into_bytes()),
        Scalar::Date(date) => ParameterValue::Date((date.year, date.month, date.day)),
        Scalar::Time(time) => ParameterValue::Time((time.hour, time.minute, time.second, nanos(time.microsecond)?)),
        Scalar::Timestamp(datetime) => ParameterValue::Datetime((
            datetime.date.year,
            datetime.date.month,
            datetime.date.day,
            datetime.time.hour,
            datetime.time.minute,
            datetime.time.second,
            nanos(datetime.time.microsecond)?,
        )),
        Scalar::Timestamptz(micros) => ParameterValue::Timestamp(timestamptz_to_spin(*micros)?),
        Scalar::Interval(interval) => ParameterValue::Interval(SpinInterval {
            micros: interval.microseconds,
            days: interval.days,
            months: interval.months,
        }),
    };
    Ok(converted)
}

/// Spin sends `timestamptz` parameters as whole Unix seconds.
fn timestamptz_to_spin(micros: i64) -> Result<i64, String> {
    if micros % MICROS_PER_SECOND != 0 {
        return Err(format!(
            "timestamptz {micros} µs has a fraction of a second, but Spin 4.0 sends timestamptz \
             parameters as whole seconds; send it as text and cast it in SQL ($1::text::timestamptz)"
        ));
    }
    Ok(micros / MICROS_PER_SECOND)
}

/// Spin converts `numeric` with rust_decimal, which has no NaN or infinities.
fn numeric_to_spin(text: &str) -> Result<String, String> {
    let special = ["nan", "infinity", "+infinity", "-infinity", "inf", "+inf", "-inf"];
    if special.contains(&text.trim().to_ascii_lowercase().as_str()) {
        return Err(format!(
            "numeric {text} cannot be sent because Spin 4.0 converts numeric with rust_decimal, \
             which has no NaN or infinity; send it as text and cast it in SQL ($1::text::numeric)"
        ));
    }
    Ok(text.to_owned())
}

fn nanos(microsecond: u32) -> Result<u32, String> {
    microsecond
        .checked_mul(NANOS_PER_MICRO)
        .ok_or_else(|| format!("invalid microsecond {microsecond}: expected below 1000000"))
}

/// The element kinds Spin 4.0 can bind as an array parameter.
#[derive(Clone, Copy, PartialEq, Debug)]
enum ArrayKind {
    Int32,
    Int64,
    Numeric,
    Text,
}

fn array_to_spin(elements: &[Scalar]) -> Result<ParameterValue, String> {
    let kind = array_kind(elements)?;

    let converted = match kind {
        ArrayKind::Int32 => ParameterValue::ArrayInt32(
            elements
                .iter()
                .map(|element| match element {
                    Scalar::Int32(value) => Some(*value),
                    _ => None,
                })
                .collect(),
        ),
        ArrayKind::Int64 => ParameterValue::ArrayInt64(
            elements
                .iter()
                .map(|element| match element {
                    Scalar::Int64(value) => Some(*value),
                    _ => None,
                })
                .collect(),
        ),
        ArrayKind::Numeric => ParameterValue::ArrayDecimal(
            elements
                .iter()
                .map(|element| match element {
                    Scalar::Numeric(text) => numeric_to_spin(text).map(Some),
                    _ => Ok(None),
                })
                .collect::<Result<_, _>>()?,
        ),
        ArrayKind::Text => ParameterValue::ArrayStr(
            elements
                .iter()
                .map(|element| match element {
                    Scalar::Text(text) | Scalar::Other(text) => Some(text.clone()),
                    _ => None,
                })
                .collect(),
        ),
    };
    Ok(converted)
}

/// Finds the one element kind of an array. An empty or all-NULL array carries no element
/// type, so it is sent as a text array.
// NOTE: an empty or all-NULL array therefore binds only to `text[]`, `varchar[]` and
// `bpchar[]` placeholders under Spin.
fn array_kind(elements: &[Scalar]) -> Result<ArrayKind, String> {
    let mut found: Option<ArrayKind> = None;
    for element in elements {
        let kind = match element {
            Scalar::Null => continue,
            Scalar::Int32(_) => ArrayKind::Int32,
            Scalar::Int64(_) => ArrayKind::Int64,
            Scalar::Numeric(_) => ArrayKind::Numeric,
            Scalar::Text(_) | Scalar::Other(_) => ArrayKind::Text,
            other => {
                return Err(format!(
                    "arrays of {} cannot be sent because Spin 4.0 binds only int4, int8, numeric and \
                     text arrays; send the array as text and cast it in SQL ($1::text::type[])",
                    scalar_kind(other)
                ));
            }
        };
        match found {
            Some(previous) if previous != kind => {
                return Err("array elements have different types; use one type for all elements".to_owned());
            }
            _ => found = Some(kind),
        }
    }
    Ok(found.unwrap_or(ArrayKind::Text))
}

/// Returns the name of a scalar's variant as written in the WIT.
pub fn scalar_kind(scalar: &Scalar) -> &'static str {
    match scalar {
        Scalar::Null => "null",
        Scalar::Boolean(_) => "boolean",
        Scalar::Int16(_) => "int16",
        Scalar::Int32(_) => "int32",
        Scalar::Int64(_) => "int64",
        Scalar::Float32(_) => "float32",
        Scalar::Float64(_) => "float64",
        Scalar::Numeric(_) => "numeric",
        Scalar::Text(_) => "text",
        Scalar::Bytea(_) => "bytea",
        Scalar::Uuid(_) => "uuid",
        Scalar::Json(_) => "json",
        Scalar::Jsonb(_) => "jsonb",
        Scalar::Date(_) => "date",
        Scalar::Time(_) => "time",
        Scalar::Timestamp(_) => "timestamp",
        Scalar::Timestamptz(_) => "timestamptz",
        Scalar::Interval(_) => "interval",
        Scalar::Other(_) => "other",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::postgres::wit::{Date, Datetime, Interval, Time};

    fn scalar(value: Scalar) -> ParameterValue {
        param_to_spin(&Value::Scalar(value)).expect("convertible")
    }

    #[test]
    fn plain_scalars_convert() {
        assert!(matches!(scalar(Scalar::Null), ParameterValue::DbNull));
        assert!(matches!(scalar(Scalar::Boolean(true)), ParameterValue::Boolean(true)));
        assert!(matches!(scalar(Scalar::Int16(-7)), ParameterValue::Int16(-7)));
        assert!(matches!(scalar(Scalar::Int32(7)), ParameterValue::Int32(7)));
        assert!(matches!(scalar(Scalar::Int64(i64::MIN)), ParameterValue::Int64(i64::MIN)));
        assert!(matches!(scalar(Scalar::Float32(1.5)), ParameterValue::Floating32(v) if v == 1.5));
        assert!(matches!(scalar(Scalar::Float64(-0.25)), ParameterValue::Floating64(v) if v == -0.25));
        assert!(matches!(scalar(Scalar::Text("x'y".into())), ParameterValue::Str(s) if s == "x'y"));
        assert!(matches!(scalar(Scalar::Bytea(vec![0, 255])), ParameterValue::Binary(b) if b == [0, 255]));
        assert!(matches!(
            scalar(Scalar::Uuid("67e55044-10b1-426f-9247-bb680e5fe0c8".into())),
            ParameterValue::Uuid(s) if s == "67e55044-10b1-426f-9247-bb680e5fe0c8"
        ));
        assert!(matches!(scalar(Scalar::Numeric("-12.3400".into())), ParameterValue::Decimal(s) if s == "-12.3400"));
    }

    #[test]
    fn json_and_jsonb_send_text_bytes() {
        assert!(matches!(scalar(Scalar::Json(r#"{"a":1}"#.into())), ParameterValue::Jsonb(b) if b == br#"{"a":1}"#));
        assert!(matches!(scalar(Scalar::Jsonb("[]".into())), ParameterValue::Jsonb(b) if b == b"[]"));
    }

    #[test]
    fn date_and_time_convert() {
        let date = Date { year: -44, month: 3, day: 15 };
        let time = Time { hour: 23, minute: 59, second: 58, microsecond: 999_999 };
        assert!(matches!(scalar(Scalar::Date(date)), ParameterValue::Date((-44, 3, 15))));
        assert!(matches!(scalar(Scalar::Time(time)), ParameterValue::Time((23, 59, 58, 999_999_000))));
        let datetime = Datetime { date, time };
        assert!(matches!(
            scalar(Scalar::Timestamp(datetime)),
            ParameterValue::Datetime((-44, 3, 15, 23, 59, 58, 999_999_000))
        ));
    }

    #[test]
    fn timestamptz_whole_seconds_convert() {
        assert!(matches!(scalar(Scalar::Timestamptz(1_700_000_000_000_000)), ParameterValue::Timestamp(1_700_000_000)));
        assert!(matches!(scalar(Scalar::Timestamptz(-2_000_000)), ParameterValue::Timestamp(-2)));
    }

    #[test]
    fn timestamptz_fraction_is_rejected() {
        let error = param_to_spin(&Value::Scalar(Scalar::Timestamptz(1_500_000))).unwrap_err();
        assert!(error.contains("whole seconds"), "{error}");
        let error = param_to_spin(&Value::Scalar(Scalar::Timestamptz(-1_500_000))).unwrap_err();
        assert!(error.contains("whole seconds"), "{error}");
    }

    #[test]
    fn numeric_nan_is_rejected() {
        for special in ["NaN", "Infinity", "-Infinity"] {
            let error = param_to_spin(&Value::Scalar(Scalar::Numeric(special.into()))).unwrap_err();
            assert!(error.contains("rust_decimal"), "{special}: {error}");
        }
    }

    #[test]
    fn interval_keeps_fields() {
        let interval = Interval { months: 14, days: -3, microseconds: 5_000_001 };
        let ParameterValue::Interval(converted) = scalar(Scalar::Interval(interval)) else {
            panic!("expected an interval");
        };
        assert_eq!(converted.months, 14);
        assert_eq!(converted.days, -3);
        assert_eq!(converted.micros, 5_000_001);
    }

    #[test]
    fn arrays_keep_nulls() {
        let converted = param_to_spin(&Value::Array(vec![Scalar::Int64(1), Scalar::Null, Scalar::Int64(3)])).unwrap();
        assert!(matches!(converted, ParameterValue::ArrayInt64(v) if v == [Some(1), None, Some(3)]));

        let converted = param_to_spin(&Value::Array(vec![Scalar::Null, Scalar::Text("a".into())])).unwrap();
        assert!(matches!(converted, ParameterValue::ArrayStr(v) if v == [None, Some("a".to_owned())]));

        let converted = param_to_spin(&Value::Array(vec![Scalar::Int32(2)])).unwrap();
        assert!(matches!(converted, ParameterValue::ArrayInt32(v) if v == [Some(2)]));

        let converted = param_to_spin(&Value::Array(vec![Scalar::Numeric("1.5".into())])).unwrap();
        assert!(matches!(converted, ParameterValue::ArrayDecimal(v) if v == [Some("1.5".to_owned())]));
    }

    #[test]
    fn empty_array_is_text() {
        let converted = param_to_spin(&Value::Array(vec![])).unwrap();
        assert!(matches!(converted, ParameterValue::ArrayStr(v) if v.is_empty()));
    }

    #[test]
    fn boolean_array_is_rejected() {
        let error = param_to_spin(&Value::Array(vec![Scalar::Boolean(true)])).unwrap_err();
        assert!(error.contains("arrays of boolean"), "{error}");
    }

    #[test]
    fn mixed_array_is_rejected() {
        let error = param_to_spin(&Value::Array(vec![Scalar::Int32(1), Scalar::Int64(2)])).unwrap_err();
        assert!(error.contains("different types"), "{error}");
    }

    #[test]
    fn error_names_placeholder() {
        let params = [Value::Scalar(Scalar::Int32(1)), Value::Scalar(Scalar::Numeric("NaN".into()))];
        let Err(Error::BadParameter(message)) = params_to_spin(&params) else {
            panic!("expected bad-parameter");
        };
        assert!(message.starts_with("parameter $2:"), "{message}");
    }
}
