//! Generic mapping from a PostgreSQL row-set to JSON, so any query result renders.
//!
//! | PostgreSQL type | JSON |
//! |---|---|
//! | NULL | `null` |
//! | bool | `true` / `false` |
//! | int2, int4, int8 | number (int8 exactly, as serde_json keeps `i64`) |
//! | float4, float8 | number; `NaN`, `Infinity`, `-Infinity` as strings |
//! | numeric | string with the exact decimal, including `NaN` and the infinities |
//! | text, varchar, bpchar, name, uuid | string |
//! | bytea | string, standard base64 with padding |
//! | json, jsonb | the embedded JSON value; text that does not parse stays a string |
//! | date | `YYYY-MM-DD` |
//! | time | `HH:MM:SS[.ffffff]` |
//! | timestamp | `YYYY-MM-DDTHH:MM:SS[.ffffff]`, no offset |
//! | timestamptz | RFC 3339 in UTC with six fractional digits, `…Z` |
//! | interval | ISO 8601 duration string as PostgreSQL's `iso_8601` style writes it |
//! | one-dimensional array | array of the element mappings, NULL elements as `null` |
//! | anything else | string in PostgreSQL's text output |

use base64::Engine;
use serde_json::{Map, Number, Value as Json};

use crate::backend::{RowSet, Scalar, Value};
use crate::datetime;

/// Maps every row to a JSON object keyed by column name. When two columns share a name,
/// the later one wins, as with `row_to_json` in PostgreSQL.
pub fn rows_to_json(row_set: &RowSet) -> Vec<Json> {
    row_set
        .rows
        .iter()
        .map(|row| Json::Object(row_to_object(row_set, row)))
        .collect()
}

/// Maps one row to a JSON object keyed by column name. Values without a column (a short
/// column list) are skipped.
pub fn row_to_object(row_set: &RowSet, row: &[Value]) -> Map<String, Json> {
    row_set
        .columns
        .iter()
        .zip(row)
        .map(|(column, value)| (column.name.clone(), value_to_json(value)))
        .collect()
}

/// Maps a column value to JSON.
pub fn value_to_json(value: &Value) -> Json {
    match value {
        Value::Scalar(scalar) => scalar_to_json(scalar),
        Value::Array(elements) => Json::Array(elements.iter().map(scalar_to_json).collect()),
    }
}

/// Maps one scalar to JSON.
pub fn scalar_to_json(scalar: &Scalar) -> Json {
    match scalar {
        Scalar::Null => Json::Null,
        Scalar::Boolean(value) => Json::Bool(*value),
        Scalar::Int16(value) => Json::from(*value),
        Scalar::Int32(value) => Json::from(*value),
        Scalar::Int64(value) => Json::from(*value),
        Scalar::Float32(value) => float32_to_json(*value),
        Scalar::Float64(value) => float64_to_json(*value),
        Scalar::Numeric(text) | Scalar::Text(text) | Scalar::Uuid(text) | Scalar::Other(text) => {
            Json::String(text.clone())
        }
        Scalar::Bytea(bytes) => {
            Json::String(base64::engine::general_purpose::STANDARD.encode(bytes))
        }
        Scalar::Json(text) | Scalar::Jsonb(text) => embedded_json(text),
        Scalar::Date(date) => Json::String(datetime::format_date(date)),
        Scalar::Time(time) => Json::String(datetime::format_time(time)),
        Scalar::Timestamp(value) => Json::String(datetime::format_timestamp(value)),
        Scalar::Timestamptz(micros) => Json::String(datetime::format_timestamptz(*micros)),
        Scalar::Interval(interval) => Json::String(datetime::format_interval(interval)),
    }
}

/// Writes a `float4` through its shortest decimal form so `0.1` stays `0.1` instead of
/// the widened `0.10000000149011612`.
fn float32_to_json(value: f32) -> Json {
    if !value.is_finite() {
        return non_finite_to_json(f64::from(value));
    }
    let widened = value.to_string().parse::<f64>().unwrap_or(f64::from(value));
    float64_to_json(widened)
}

fn float64_to_json(value: f64) -> Json {
    match Number::from_f64(value) {
        Some(number) => Json::Number(number),
        None => non_finite_to_json(value),
    }
}

/// JSON has no NaN or infinities, so they become PostgreSQL's spellings as strings.
fn non_finite_to_json(value: f64) -> Json {
    let text = if value.is_nan() {
        "NaN"
    } else if value > 0.0 {
        "Infinity"
    } else {
        "-Infinity"
    };
    Json::String(text.to_string())
}

/// Parses `json`/`jsonb` text into a JSON value.
///
/// NOTE: numbers in the embedded document pass through `f64` unless they fit in 64-bit
/// integers, so a jsonb number with more than about 17 significant digits loses precision.
/// `json` text that does not parse (PostgreSQL validates it, so only a host bug produces
/// one) is returned as a string rather than failing the row.
fn embedded_json(text: &str) -> Json {
    serde_json::from_str(text).unwrap_or_else(|_| Json::String(text.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::{Column, Date, Datetime, Interval, Time};
    use serde_json::json;

    fn scalar(scalar: Scalar) -> Json {
        value_to_json(&Value::Scalar(scalar))
    }

    #[test]
    fn null_and_bool() {
        assert_eq!(scalar(Scalar::Null), Json::Null);
        assert_eq!(scalar(Scalar::Boolean(true)), json!(true));
        assert_eq!(scalar(Scalar::Boolean(false)), json!(false));
    }

    #[test]
    fn integers_are_numbers() {
        assert_eq!(scalar(Scalar::Int16(-32768)), json!(-32768));
        assert_eq!(scalar(Scalar::Int32(2_147_483_647)), json!(2_147_483_647));
        assert_eq!(scalar(Scalar::Int64(i64::MAX)), json!(i64::MAX));
        assert_eq!(
            scalar(Scalar::Int64(i64::MAX)).to_string(),
            "9223372036854775807"
        );
        assert_eq!(
            scalar(Scalar::Int64(i64::MIN)).to_string(),
            "-9223372036854775808"
        );
    }

    #[test]
    fn floats_are_numbers() {
        assert_eq!(scalar(Scalar::Float64(1.5)), json!(1.5));
        assert_eq!(scalar(Scalar::Float32(0.1)).to_string(), "0.1");
        assert_eq!(scalar(Scalar::Float64(-0.25)).to_string(), "-0.25");
    }

    #[test]
    fn non_finite_floats_are_strings() {
        assert_eq!(scalar(Scalar::Float64(f64::NAN)), json!("NaN"));
        assert_eq!(scalar(Scalar::Float64(f64::INFINITY)), json!("Infinity"));
        assert_eq!(
            scalar(Scalar::Float64(f64::NEG_INFINITY)),
            json!("-Infinity")
        );
        assert_eq!(scalar(Scalar::Float32(f32::NAN)), json!("NaN"));
        assert_eq!(scalar(Scalar::Float32(f32::INFINITY)), json!("Infinity"));
        assert_eq!(
            scalar(Scalar::Float32(f32::NEG_INFINITY)),
            json!("-Infinity")
        );
    }

    #[test]
    fn numeric_is_exact_string() {
        let exact = "12345678901234567890.000000000000000001";
        assert_eq!(scalar(Scalar::Numeric(exact.into())), json!(exact));
        assert_eq!(scalar(Scalar::Numeric("NaN".into())), json!("NaN"));
        assert_eq!(
            scalar(Scalar::Numeric("-Infinity".into())),
            json!("-Infinity")
        );
    }

    #[test]
    fn text_uuid_other_are_strings() {
        assert_eq!(
            scalar(Scalar::Text("héllo \"x\"".into())),
            json!("héllo \"x\"")
        );
        let uuid = "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11";
        assert_eq!(scalar(Scalar::Uuid(uuid.into())), json!(uuid));
        assert_eq!(scalar(Scalar::Other("(1,2)".into())), json!("(1,2)"));
    }

    #[test]
    fn bytea_is_standard_base64() {
        assert_eq!(scalar(Scalar::Bytea(vec![0xfb, 0xff, 0x00])), json!("+/8A"));
        assert_eq!(scalar(Scalar::Bytea(b"hi".to_vec())), json!("aGk="));
        assert_eq!(scalar(Scalar::Bytea(Vec::new())), json!(""));
    }

    #[test]
    fn json_and_jsonb_are_embedded() {
        assert_eq!(
            scalar(Scalar::Jsonb(r#"{"tier": "gold", "n": [1, null]}"#.into())),
            json!({"tier": "gold", "n": [1, null]})
        );
        assert_eq!(scalar(Scalar::Json("\"plain\"".into())), json!("plain"));
        assert_eq!(scalar(Scalar::Json("null".into())), Json::Null);
        assert_eq!(scalar(Scalar::Json("not json".into())), json!("not json"));
    }

    #[test]
    fn date_and_time_values() {
        let date = Date {
            year: 2024,
            month: 2,
            day: 29,
        };
        assert_eq!(scalar(Scalar::Date(date)), json!("2024-02-29"));
        let time = Time {
            hour: 1,
            minute: 2,
            second: 3,
            microsecond: 4,
        };
        assert_eq!(scalar(Scalar::Time(time)), json!("01:02:03.000004"));
        let timestamp = Datetime {
            date: Date {
                year: 1999,
                month: 12,
                day: 31,
            },
            time: Time {
                hour: 23,
                minute: 59,
                second: 59,
                microsecond: 0,
            },
        };
        assert_eq!(
            scalar(Scalar::Timestamp(timestamp)),
            json!("1999-12-31T23:59:59")
        );
        assert_eq!(
            scalar(Scalar::Timestamptz(1_000_000)),
            json!("1970-01-01T00:00:01.000000Z")
        );
    }

    #[test]
    fn interval_is_iso_duration() {
        let interval = Interval {
            months: 0,
            days: 1,
            microseconds: 3_600_000_000,
        };
        assert_eq!(scalar(Scalar::Interval(interval)), json!("P1DT1H"));
    }

    #[test]
    fn arrays_keep_null_elements() {
        let array = Value::Array(vec![Scalar::Int32(1), Scalar::Null, Scalar::Int32(3)]);
        assert_eq!(value_to_json(&array), json!([1, null, 3]));
        let texts = Value::Array(vec![Scalar::Text("a".into()), Scalar::Null]);
        assert_eq!(value_to_json(&texts), json!(["a", null]));
        assert_eq!(value_to_json(&Value::Array(Vec::new())), json!([]));
    }

    #[test]
    fn rows_become_objects() {
        let row_set = RowSet {
            columns: vec![
                Column {
                    name: "id".into(),
                    type_name: "int8".into(),
                    type_oid: 20,
                },
                Column {
                    name: "phone".into(),
                    type_name: "text".into(),
                    type_oid: 25,
                },
            ],
            rows: vec![
                vec![Value::Scalar(Scalar::Int64(1)), Value::Scalar(Scalar::Null)],
                vec![
                    Value::Scalar(Scalar::Int64(2)),
                    Value::Scalar(Scalar::Text("5".into())),
                ],
            ],
        };
        assert_eq!(
            rows_to_json(&row_set),
            vec![
                json!({"id": 1, "phone": null}),
                json!({"id": 2, "phone": "5"})
            ]
        );
    }

    #[test]
    fn short_rows_do_not_panic() {
        let row_set = RowSet {
            columns: vec![Column {
                name: "a".into(),
                type_name: "int4".into(),
                type_oid: 23,
            }],
            rows: vec![
                vec![],
                vec![Value::Scalar(Scalar::Int32(1)), Value::Scalar(Scalar::Null)],
            ],
        };
        assert_eq!(rows_to_json(&row_set), vec![json!({}), json!({"a": 1})]);
    }
}
