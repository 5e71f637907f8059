//! Conversions between WIT values and PostgreSQL's wire formats, driven by the types the
//! server reports for a prepared statement.
//!
//! Results arrive in binary format, since tokio-postgres requests binary for every column.
//! The host decodes the binary format of every type the WIT contract names. Any other type
//! (`inet`, `point`, ranges, composites, extension types such as `citext`, arrays with more
//! than one dimension) is returned as [`PendingScalar::NeedsText`]. The caller then asks the
//! server to render the binary value with the type's output function. That costs one extra
//! round trip per value but yields PostgreSQL's own text output without a decoder per type.
//!
//! Parameters are encoded in binary for the types named in the contract. A `text` or
//! `other` value bound to any other type is sent in text format, so the server parses it
//! with the type's input function.

use bytes::{BufMut, BytesMut};
use postgres_protocol::types as wire;
use tokio_postgres::types::{Format, IsNull, Kind, ToSql, Type, to_sql_checked};

use crate::bindings::wit_postgres::{Scalar, Value};

use super::datetime::{
    date_pg_to_wit, date_wit_to_pg, interval_pg_to_wit, interval_wit_to_pg, time_pg_to_wit, time_wit_to_pg,
    timestamp_pg_to_wit, timestamp_wit_to_pg, timestamptz_pg_to_wit, timestamptz_wit_to_pg,
};
use super::numeric::{numeric_pg_to_wit, numeric_wit_to_pg};

/// Version byte in front of `jsonb`'s binary format.
const JSONB_VERSION: u8 = 1;

/// A column value as raw bytes, whatever its type. Reading every column this way lets
/// the host pick the decoder from the column's type instead of from a Rust type.
pub struct RawValue<'a>(pub Option<&'a [u8]>);

impl<'a> tokio_postgres::types::FromSql<'a> for RawValue<'a> {
    fn from_sql(_: &Type, raw: &'a [u8]) -> Result<Self, Box<dyn std::error::Error + Sync + Send>> {
        Ok(RawValue(Some(raw)))
    }

    fn from_sql_null(_: &Type) -> Result<Self, Box<dyn std::error::Error + Sync + Send>> {
        Ok(RawValue(None))
    }

    fn accepts(_: &Type) -> bool {
        true
    }
}

/// A scalar that is either decoded or still needs the server's text output.
#[derive(Debug, PartialEq)]
pub enum PendingScalar {
    /// Decoded by the host.
    Ready(Scalar),
    /// A value of a type the host has no decoder for, in binary format.
    NeedsText { ty: Type, raw: Vec<u8> },
}

/// A column value before the text fallback has run.
#[derive(Debug, PartialEq)]
pub enum PendingValue {
    /// A single value.
    Scalar(PendingScalar),
    /// A one-dimensional array.
    Array(Vec<PendingScalar>),
}

/// Decodes one column value of type `ty`; `None` is SQL NULL.
pub fn value_pg_to_wit(ty: &Type, raw: Option<&[u8]>) -> Result<PendingValue, String> {
    let Some(raw) = raw else {
        return Ok(PendingValue::Scalar(PendingScalar::Ready(Scalar::Null)));
    };

    match ty.kind() {
        Kind::Array(element_type) => array_pg_to_wit(ty, element_type, raw),
        Kind::Domain(base) => value_pg_to_wit(base, Some(raw)),
        _ => Ok(PendingValue::Scalar(scalar_pg_to_wit(ty, raw)?)),
    }
}

fn array_pg_to_wit(ty: &Type, element_type: &Type, raw: &[u8]) -> Result<PendingValue, String> {
    let array = wire::array_from_sql(raw).map_err(|error| format!("invalid {} value: {error}", ty.name()))?;

    // The WIT `value` has one-dimensional arrays only; the server renders the others.
    let dimensions = i32::from_be_bytes(raw[0..4].try_into().expect("array_from_sql read 4 bytes"));
    if dimensions > 1 {
        let pending = PendingScalar::NeedsText {
            ty: ty.clone(),
            raw: raw.to_vec(),
        };
        return Ok(PendingValue::Scalar(pending));
    }

    let mut elements = Vec::new();
    let mut values = array.values();
    while let Some(element) = fallible_iterator::FallibleIterator::next(&mut values)
        .map_err(|error| format!("invalid {} value: {error}", ty.name()))?
    {
        let element = match element {
            None => PendingScalar::Ready(Scalar::Null),
            Some(bytes) => scalar_pg_to_wit(element_type, bytes)?,
        };
        elements.push(element);
    }
    Ok(PendingValue::Array(elements))
}

/// Decodes a non-NULL scalar of type `ty` from its binary format.
pub fn scalar_pg_to_wit(ty: &Type, raw: &[u8]) -> Result<PendingScalar, String> {
    let invalid = |error: Box<dyn std::error::Error + Sync + Send>| format!("invalid {} value: {error}", ty.name());
    let text = || wire::text_from_sql(raw).map(str::to_owned).map_err(invalid);

    let scalar = match *ty {
        Type::BOOL => Scalar::Boolean(wire::bool_from_sql(raw).map_err(invalid)?),
        Type::INT2 => Scalar::Int16(wire::int2_from_sql(raw).map_err(invalid)?),
        Type::INT4 => Scalar::Int32(wire::int4_from_sql(raw).map_err(invalid)?),
        Type::INT8 => Scalar::Int64(wire::int8_from_sql(raw).map_err(invalid)?),
        Type::FLOAT4 => Scalar::Float32(wire::float4_from_sql(raw).map_err(invalid)?),
        Type::FLOAT8 => Scalar::Float64(wire::float8_from_sql(raw).map_err(invalid)?),
        Type::NUMERIC => Scalar::Numeric(numeric_pg_to_wit(raw)?),
        Type::TEXT | Type::VARCHAR | Type::BPCHAR | Type::NAME | Type::UNKNOWN => Scalar::Text(text()?),
        Type::BYTEA => Scalar::Bytea(raw.to_vec()),
        Type::UUID => Scalar::Uuid(uuid_pg_to_wit(wire::uuid_from_sql(raw).map_err(invalid)?)),
        Type::JSON => Scalar::Json(text()?),
        Type::JSONB => Scalar::Jsonb(jsonb_pg_to_wit(raw)?),
        Type::DATE => {
            let days = wire::date_from_sql(raw).map_err(invalid)?;
            date_pg_to_wit(days).map_or_else(|| Scalar::Other(infinity_text(days > 0)), Scalar::Date)
        }
        Type::TIME => Scalar::Time(time_pg_to_wit(wire::time_from_sql(raw).map_err(invalid)?)?),
        Type::TIMESTAMP => {
            let micros = wire::timestamp_from_sql(raw).map_err(invalid)?;
            timestamp_pg_to_wit(micros).map_or_else(|| Scalar::Other(infinity_text(micros > 0)), Scalar::Timestamp)
        }
        Type::TIMESTAMPTZ => {
            let micros = wire::timestamp_from_sql(raw).map_err(invalid)?;
            timestamptz_pg_to_wit(micros).map_or_else(|| Scalar::Other(infinity_text(micros > 0)), Scalar::Timestamptz)
        }
        Type::INTERVAL => Scalar::Interval(interval_pg_to_wit(raw)?),
        Type::OID => Scalar::Other(wire::oid_from_sql(raw).map_err(invalid)?.to_string()),
        _ => match ty.kind() {
            // An enum's binary format is its label, the same as its text output.
            Kind::Enum(_) => Scalar::Other(text()?),
            Kind::Domain(base) => return scalar_pg_to_wit(base, raw),
            _ => {
                return Ok(PendingScalar::NeedsText {
                    ty: ty.clone(),
                    raw: raw.to_vec(),
                });
            }
        },
    };
    Ok(PendingScalar::Ready(scalar))
}

fn infinity_text(positive: bool) -> String {
    if positive {
        "infinity".to_owned()
    } else {
        "-infinity".to_owned()
    }
}

fn jsonb_pg_to_wit(raw: &[u8]) -> Result<String, String> {
    match raw.split_first() {
        Some((&JSONB_VERSION, json)) => std::str::from_utf8(json)
            .map(str::to_owned)
            .map_err(|error| format!("jsonb value is not UTF-8: {error}")),
        Some((version, _)) => Err(format!(
            "jsonb format version {version} is not supported, only {JSONB_VERSION}"
        )),
        None => Err("jsonb value is empty".to_owned()),
    }
}

/// Formats UUID bytes in the canonical lowercase hyphenated form.
pub fn uuid_pg_to_wit(bytes: [u8; 16]) -> String {
    let hex: String = bytes.iter().map(|byte| format!("{byte:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

/// Parses a UUID written as 32 hex digits, with or without hyphens and braces, as
/// PostgreSQL's `uuid` input accepts.
pub fn uuid_wit_to_pg(text: &str) -> Result<[u8; 16], String> {
    let inner = text
        .strip_prefix('{')
        .and_then(|rest| rest.strip_suffix('}'))
        .unwrap_or(text);
    let digits: Vec<u8> = inner.bytes().filter(|byte| *byte != b'-').collect();
    let valid = digits.len() == 32
        && digits.iter().all(u8::is_ascii_hexdigit)
        && !inner.starts_with('-')
        && !inner.ends_with('-');
    if !valid {
        return Err(format!(
            "{text:?} is not a UUID; expected 32 hex digits such as 0e8a5c3e-8f4b-4a36-9d2c-3f1b2a4c5d6e"
        ));
    }

    let mut bytes = [0u8; 16];
    for (index, pair) in digits.chunks(2).enumerate() {
        let pair = std::str::from_utf8(pair).expect("hex digits are ASCII");
        bytes[index] = u8::from_str_radix(pair, 16).expect("checked hex digits");
    }
    Ok(bytes)
}

/// A statement parameter after conversion, ready to be bound. Its `Debug` output never
/// shows the value.
pub struct EncodedParam {
    bytes: Option<Vec<u8>>,
    format: Format,
}

impl EncodedParam {
    fn null() -> Self {
        Self {
            bytes: None,
            format: Format::Binary,
        }
    }

    fn binary(bytes: Vec<u8>) -> Self {
        Self {
            bytes: Some(bytes),
            format: Format::Binary,
        }
    }

    fn text(text: &str) -> Self {
        Self {
            bytes: Some(text.as_bytes().to_vec()),
            format: Format::Text,
        }
    }

    /// Wraps bytes that are already in the binary format of the parameter's type.
    pub fn raw_binary(bytes: Vec<u8>) -> Self {
        Self::binary(bytes)
    }
}

impl std::fmt::Debug for EncodedParam {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("EncodedParam(..)")
    }
}

impl ToSql for EncodedParam {
    fn to_sql(&self, _: &Type, out: &mut BytesMut) -> Result<IsNull, Box<dyn std::error::Error + Sync + Send>> {
        match &self.bytes {
            Some(bytes) => {
                out.put_slice(bytes);
                Ok(IsNull::No)
            }
            None => Ok(IsNull::Yes),
        }
    }

    fn accepts(_: &Type) -> bool {
        true
    }

    fn encode_format(&self, _: &Type) -> Format {
        self.format
    }

    to_sql_checked!();
}

/// Encodes the parameters of a statement whose parameter types are `types`. The error
/// message names the parameter as `$n` and both types.
pub fn params_wit_to_pg(values: &[Value], types: &[Type]) -> Result<Vec<EncodedParam>, String> {
    if values.len() != types.len() {
        return Err(format!(
            "the statement has {} parameters but {} values were passed",
            types.len(),
            values.len()
        ));
    }

    values
        .iter()
        .zip(types)
        .enumerate()
        .map(|(index, (value, ty))| {
            value_wit_to_pg(value, ty).map_err(|reason| format!("parameter ${}: {reason}", index + 1))
        })
        .collect()
}

/// Encodes one parameter for the server type `ty`.
pub fn value_wit_to_pg(value: &Value, ty: &Type) -> Result<EncodedParam, String> {
    if let Kind::Domain(base) = ty.kind() {
        return value_wit_to_pg(value, base);
    }

    match (value, ty.kind()) {
        (Value::Scalar(Scalar::Null), _) => Ok(EncodedParam::null()),
        (Value::Scalar(Scalar::Other(text)), _) => Ok(EncodedParam::text(text)),
        (Value::Array(elements), Kind::Array(element_type)) => array_wit_to_pg(elements, ty, element_type),
        (Value::Array(_), _) => Err(format!("cannot bind an array to {}", ty.name())),
        (Value::Scalar(scalar), Kind::Array(_)) => Err(format!(
            "cannot bind {} to {}; pass an array",
            scalar_kind_name(scalar),
            ty.name()
        )),
        (Value::Scalar(scalar), _) => scalar_wit_to_pg(scalar, ty),
    }
}

fn array_wit_to_pg(elements: &[Scalar], ty: &Type, element_type: &Type) -> Result<EncodedParam, String> {
    let element_type = match element_type.kind() {
        Kind::Domain(base) => base,
        _ => element_type,
    };

    // Elements of types without a binary encoder go as one array literal in text format.
    if !has_binary_encoder(element_type) {
        return array_literal_wit_to_pg(elements, ty).map(|literal| EncodedParam::text(&literal));
    }

    let mut encoded = Vec::with_capacity(elements.len());
    for (index, element) in elements.iter().enumerate() {
        let param =
            scalar_wit_to_pg(element, element_type).map_err(|reason| format!("element {}: {reason}", index + 1))?;
        encoded.push(param.bytes);
    }

    let length = i32::try_from(encoded.len()).map_err(|_| "the array has too many elements".to_owned())?;
    let dimension = wire::ArrayDimension {
        len: length,
        lower_bound: 1,
    };
    let mut out = BytesMut::new();
    wire::array_to_sql(
        std::iter::once(dimension),
        element_type.oid(),
        encoded,
        |bytes, out| match bytes {
            Some(bytes) => {
                out.put_slice(&bytes);
                Ok(postgres_protocol::IsNull::No)
            }
            None => Ok(postgres_protocol::IsNull::Yes),
        },
        &mut out,
    )
    .map_err(|error| format!("cannot encode the array: {error}"))?;
    Ok(EncodedParam::binary(out.to_vec()))
}

/// Builds `{"a","b",NULL}` from text elements, quoting every element.
fn array_literal_wit_to_pg(elements: &[Scalar], ty: &Type) -> Result<String, String> {
    let mut literal = String::from("{");
    for (index, element) in elements.iter().enumerate() {
        if index > 0 {
            literal.push(',');
        }
        match element {
            Scalar::Null => literal.push_str("NULL"),
            Scalar::Text(text) | Scalar::Other(text) => {
                literal.push('"');
                for character in text.chars() {
                    if character == '"' || character == '\\' {
                        literal.push('\\');
                    }
                    literal.push(character);
                }
                literal.push('"');
            }
            other => {
                return Err(format!(
                    "element {}: cannot convert {} to an element of {}; pass text or other",
                    index + 1,
                    scalar_kind_name(other),
                    ty.name()
                ));
            }
        }
    }
    literal.push('}');
    Ok(literal)
}

/// Whether [`scalar_wit_to_pg`] has a binary encoder for `ty`.
fn has_binary_encoder(ty: &Type) -> bool {
    matches!(
        *ty,
        Type::BOOL
            | Type::INT2
            | Type::INT4
            | Type::INT8
            | Type::FLOAT4
            | Type::FLOAT8
            | Type::NUMERIC
            | Type::TEXT
            | Type::VARCHAR
            | Type::BPCHAR
            | Type::NAME
            | Type::UNKNOWN
            | Type::BYTEA
            | Type::UUID
            | Type::JSON
            | Type::JSONB
            | Type::DATE
            | Type::TIME
            | Type::TIMESTAMP
            | Type::TIMESTAMPTZ
            | Type::INTERVAL
            | Type::OID
    )
}

/// Encodes one non-array value for the server type `ty`.
fn scalar_wit_to_pg(scalar: &Scalar, ty: &Type) -> Result<EncodedParam, String> {
    let mismatch = || {
        format!(
            "cannot convert {} to {}; pass a value of the matching kind, or other(text) to let the server parse it",
            scalar_kind_name(scalar),
            ty.name()
        )
    };
    let mut out = BytesMut::new();

    match (ty.clone(), scalar) {
        (_, Scalar::Null) => return Ok(EncodedParam::null()),
        (_, Scalar::Other(text)) => return Ok(EncodedParam::text(text)),

        (Type::BOOL, Scalar::Boolean(value)) => wire::bool_to_sql(*value, &mut out),

        (Type::INT2 | Type::INT4 | Type::INT8 | Type::OID, _) => {
            let value = integer_of(scalar).ok_or_else(mismatch)?;
            let out_of_range = || format!("{value} is out of the range of {}", ty.name());
            match *ty {
                Type::INT2 => wire::int2_to_sql(i16::try_from(value).map_err(|_| out_of_range())?, &mut out),
                Type::INT4 => wire::int4_to_sql(i32::try_from(value).map_err(|_| out_of_range())?, &mut out),
                Type::OID => wire::oid_to_sql(u32::try_from(value).map_err(|_| out_of_range())?, &mut out),
                _ => wire::int8_to_sql(value, &mut out),
            }
        }

        (Type::FLOAT4, _) => wire::float4_to_sql(float_of(scalar).ok_or_else(mismatch)? as f32, &mut out),
        (Type::FLOAT8, _) => wire::float8_to_sql(float_of(scalar).ok_or_else(mismatch)?, &mut out),

        (Type::NUMERIC, Scalar::Numeric(text) | Scalar::Text(text)) => out.put_slice(&numeric_wit_to_pg(text)?),
        (Type::NUMERIC, Scalar::Float32(_) | Scalar::Float64(_)) => {
            let value = float_of(scalar).expect("a float");
            out.put_slice(&numeric_wit_to_pg(&float_to_decimal(value))?)
        }
        (Type::NUMERIC, _) => {
            let value = integer_of(scalar).ok_or_else(mismatch)?;
            out.put_slice(&numeric_wit_to_pg(&value.to_string())?)
        }

        (
            Type::TEXT | Type::VARCHAR | Type::BPCHAR | Type::NAME | Type::UNKNOWN,
            Scalar::Text(text) | Scalar::Numeric(text) | Scalar::Uuid(text) | Scalar::Json(text) | Scalar::Jsonb(text),
        ) => wire::text_to_sql(text, &mut out),

        (Type::BYTEA, Scalar::Bytea(bytes)) => wire::bytea_to_sql(bytes, &mut out),

        (Type::UUID, Scalar::Uuid(text) | Scalar::Text(text)) => wire::uuid_to_sql(uuid_wit_to_pg(text)?, &mut out),

        (Type::JSON | Type::JSONB, Scalar::Json(text) | Scalar::Jsonb(text) | Scalar::Text(text)) => {
            serde_json::from_str::<serde::de::IgnoredAny>(text)
                .map_err(|error| format!("the value is not valid JSON: {error}"))?;
            if *ty == Type::JSONB {
                out.put_u8(JSONB_VERSION);
            }
            out.put_slice(text.as_bytes());
        }

        (Type::DATE, Scalar::Date(date)) => wire::date_to_sql(date_wit_to_pg(date)?, &mut out),
        (Type::TIME, Scalar::Time(time)) => wire::time_to_sql(time_wit_to_pg(time)?, &mut out),
        (Type::TIMESTAMP, Scalar::Timestamp(datetime)) => {
            wire::timestamp_to_sql(timestamp_wit_to_pg(datetime)?, &mut out)
        }
        (Type::TIMESTAMPTZ, Scalar::Timestamptz(micros)) => {
            wire::timestamp_to_sql(timestamptz_wit_to_pg(*micros)?, &mut out)
        }
        (Type::INTERVAL, Scalar::Interval(interval)) => out.put_slice(&interval_wit_to_pg(interval)),

        // Types without a binary encoder here (enums, inet, citext, ranges, ...) take text
        // and the server parses it.
        (_, Scalar::Text(text)) if !has_binary_encoder(ty) => return Ok(EncodedParam::text(text)),

        _ => return Err(mismatch()),
    }

    Ok(EncodedParam::binary(out.to_vec()))
}

fn integer_of(scalar: &Scalar) -> Option<i64> {
    match scalar {
        Scalar::Int16(value) => Some(i64::from(*value)),
        Scalar::Int32(value) => Some(i64::from(*value)),
        Scalar::Int64(value) => Some(*value),
        _ => None,
    }
}

fn float_of(scalar: &Scalar) -> Option<f64> {
    match scalar {
        Scalar::Float32(value) => Some(f64::from(*value)),
        Scalar::Float64(value) => Some(*value),
        Scalar::Int16(value) => Some(f64::from(*value)),
        Scalar::Int32(value) => Some(f64::from(*value)),
        // NOTE: int64 values above 2^53 lose precision in a float parameter, as they
        // would in PostgreSQL's own int8-to-float8 cast.
        Scalar::Int64(value) => Some(*value as f64),
        _ => None,
    }
}

/// Formats a float as the shortest decimal that reads back as the same float.
fn float_to_decimal(value: f64) -> String {
    if value.is_nan() {
        "NaN".to_owned()
    } else if value.is_infinite() {
        infinity_text(value > 0.0)
    } else {
        value.to_string()
    }
}

/// The WIT case name of a scalar, for error messages.
pub fn scalar_kind_name(scalar: &Scalar) -> &'static str {
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

    fn encoded(value: Value, ty: &Type) -> Option<Vec<u8>> {
        value_wit_to_pg(&value, ty).expect("converts").bytes
    }

    #[test]
    fn uuid_parses_and_formats() {
        let bytes = uuid_wit_to_pg("0E8A5C3E-8F4B-4A36-9D2C-3F1B2A4C5D6E").unwrap();
        assert_eq!(uuid_pg_to_wit(bytes), "0e8a5c3e-8f4b-4a36-9d2c-3f1b2a4c5d6e");
        assert_eq!(uuid_wit_to_pg("{0e8a5c3e8f4b4a369d2c3f1b2a4c5d6e}"), Ok(bytes));
        assert!(uuid_wit_to_pg("0e8a5c3e-8f4b-4a36-9d2c").is_err());
        assert!(uuid_wit_to_pg("zz8a5c3e-8f4b-4a36-9d2c-3f1b2a4c5d6e").is_err());
    }

    #[test]
    fn int32_widens_to_int8() {
        assert_eq!(
            encoded(Value::Scalar(Scalar::Int32(7)), &Type::INT8),
            Some(7i64.to_be_bytes().to_vec())
        );
    }

    #[test]
    fn int64_narrowing_checks_range() {
        let error = value_wit_to_pg(&Value::Scalar(Scalar::Int64(40_000)), &Type::INT2).unwrap_err();
        assert!(error.contains("40000 is out of the range of int2"), "{error}");
        assert_eq!(
            encoded(Value::Scalar(Scalar::Int64(-3)), &Type::INT2),
            Some((-3i16).to_be_bytes().to_vec())
        );
    }

    #[test]
    fn mismatch_names_both_types() {
        let values = [Value::Scalar(Scalar::Int32(1)), Value::Scalar(Scalar::Text("x".into()))];
        let error = params_wit_to_pg(&values, &[Type::INT4, Type::INT4]).unwrap_err();
        assert!(
            error.starts_with("parameter $2: cannot convert text to int4"),
            "{error}"
        );
    }

    #[test]
    fn parameter_count_mismatch() {
        let error = params_wit_to_pg(&[], &[Type::INT4]).unwrap_err();
        assert_eq!(error, "the statement has 1 parameters but 0 values were passed");
    }

    #[test]
    fn jsonb_is_validated_and_versioned() {
        let bytes = encoded(Value::Scalar(Scalar::Text("{\"a\":1}".into())), &Type::JSONB).unwrap();
        assert_eq!(bytes[0], JSONB_VERSION);
        assert_eq!(&bytes[1..], b"{\"a\":1}");
        assert!(value_wit_to_pg(&Value::Scalar(Scalar::Jsonb("{".into())), &Type::JSONB).is_err());
    }

    #[test]
    fn text_for_unknown_type_goes_as_text_format() {
        let param = value_wit_to_pg(&Value::Scalar(Scalar::Text("10.0.0.1".into())), &Type::INET).unwrap();
        assert!(matches!(param.format, Format::Text));
        assert_eq!(param.bytes.as_deref(), Some(&b"10.0.0.1"[..]));
    }

    #[test]
    fn text_array_literal_quotes_elements() {
        let elements = vec![Scalar::Text("a\"b".into()), Scalar::Null, Scalar::Other("c\\d".into())];
        let param = value_wit_to_pg(&Value::Array(elements), &Type::INET_ARRAY).unwrap();
        assert_eq!(param.bytes.as_deref(), Some(&br#"{"a\"b",NULL,"c\\d"}"#[..]));
    }

    #[test]
    fn int_array_round_trips_with_null() {
        let elements = vec![Scalar::Int32(1), Scalar::Null, Scalar::Int32(3)];
        let bytes = encoded(Value::Array(elements.clone()), &Type::INT4_ARRAY).unwrap();
        let decoded = value_pg_to_wit(&Type::INT4_ARRAY, Some(&bytes)).unwrap();
        assert_eq!(
            decoded,
            PendingValue::Array(elements.into_iter().map(PendingScalar::Ready).collect())
        );
    }

    #[test]
    fn unknown_type_needs_text() {
        let decoded = value_pg_to_wit(&Type::POINT, Some(&[0; 16])).unwrap();
        assert!(matches!(decoded, PendingValue::Scalar(PendingScalar::NeedsText { .. })));
    }

    #[test]
    fn corrupt_value_is_an_error() {
        assert!(value_pg_to_wit(&Type::INT4, Some(&[1, 2])).is_err());
        assert!(value_pg_to_wit(&Type::JSONB, Some(&[2, b'{', b'}'])).is_err());
        assert!(value_pg_to_wit(&Type::INT4_ARRAY, Some(&[0, 0])).is_err());
    }

    #[test]
    fn array_into_scalar_type_is_rejected() {
        let error = value_wit_to_pg(&Value::Array(vec![]), &Type::INT4).unwrap_err();
        assert_eq!(error, "cannot bind an array to int4");
    }
}
