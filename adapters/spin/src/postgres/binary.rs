//! Values that Spin 4.0 returns as `unsupported`: the column's raw bytes in PostgreSQL's
//! binary wire format, decoded here by the type name Spin reports for the column.
//!
//! Spin converts only the types in its `db-data-type`; everything else, including `json`,
//! `bool[]`, `uuid[]` and `timestamptz[]`, arrives undecoded. The formats decoded here
//! follow PostgreSQL's `*send` functions (src/backend/utils/adt): big-endian integers,
//! dates as days and timestamps as microseconds since 2000-01-01.

use std::net::{Ipv4Addr, Ipv6Addr};

use super::wit::{Date, Datetime, Interval, Scalar, Time, Value};

/// Seconds from 1970-01-01 to PostgreSQL's epoch 2000-01-01.
const POSTGRES_EPOCH_UNIX_SECONDS: i64 = 946_684_800;
const DAYS_FROM_UNIX_EPOCH_TO_POSTGRES_EPOCH: i32 = 10_957;
const MICROS_PER_SECOND: i64 = 1_000_000;
const MICROS_PER_DAY: i64 = 86_400 * MICROS_PER_SECOND;

/// Types whose binary form is not text, so the text fallback must not guess at them.
const NON_TEXT_TYPES: &[&str] = &[
    "money", "point", "line", "lseg", "box", "path", "polygon", "circle", "bit", "varbit",
    "macaddr", "macaddr8", "tsvector", "tsquery", "pg_lsn", "int2vector", "oidvector", "timetz",
    "numeric", "int4multirange", "int8multirange", "nummultirange", "tsrange", "tstzrange",
    "daterange",
];

/// Decodes the binary value of a column of type `type_name`.
///
/// Types with a text-like binary form that are not listed by name (enums, `citext`,
/// `xml`, `name` and other types an extension adds) come back as `other` holding that
/// text. A value that is not printable UTF-8, an array type without a decoder here and a
/// multi-dimensional array are `Err` with the reason.
pub fn decode(type_name: &str, bytes: &[u8]) -> Result<Value, String> {
    if let Some(element_type) = type_name.strip_prefix('_') {
        return decode_array(element_type, bytes).map(Value::Array);
    }
    decode_scalar(type_name, bytes).map(Value::Scalar)
}

fn decode_scalar(type_name: &str, bytes: &[u8]) -> Result<Scalar, String> {
    let mut reader = Reader::new(type_name, bytes);
    let scalar = match type_name {
        "bool" => Scalar::Boolean(reader.u8()? != 0),
        "int2" => Scalar::Int16(reader.i16()?),
        "int4" => Scalar::Int32(reader.i32()?),
        "int8" => Scalar::Int64(reader.i64()?),
        "float4" => Scalar::Float32(f32::from_bits(reader.i32()? as u32)),
        "float8" => Scalar::Float64(f64::from_bits(reader.i64()? as u64)),
        "oid" | "xid" | "cid" | "regproc" | "regclass" | "regtype" => Scalar::Other((reader.i32()? as u32).to_string()),
        "bytea" => Scalar::Bytea(reader.rest().to_vec()),
        "uuid" => Scalar::Uuid(uuid_text(reader.take(16)?)),
        "json" => Scalar::Json(reader.utf8_rest()?),
        "jsonb" => {
            let version = reader.u8()?;
            if version != 1 {
                return Err(format!("unsupported jsonb format version {version} in a {type_name} value"));
            }
            Scalar::Jsonb(reader.utf8_rest()?)
        }
        "text" | "varchar" | "bpchar" => Scalar::Text(reader.utf8_rest()?),
        "date" => Scalar::Date(date_from_postgres_days(reader.i32()?)),
        "time" => Scalar::Time(time_from_micros(reader.i64()?)),
        "timestamp" => Scalar::Timestamp(datetime_from_postgres_micros(reader.i64()?)),
        "timestamptz" => Scalar::Timestamptz(unix_micros_from_postgres_micros(reader.i64()?)?),
        "interval" => {
            let microseconds = reader.i64()?;
            let days = reader.i32()?;
            let months = reader.i32()?;
            Scalar::Interval(Interval { months, days, microseconds })
        }
        "inet" | "cidr" => Scalar::Other(inet_text(&mut reader)?),
        _ => return text_fallback(type_name, bytes),
    };
    reader.finish()?;
    Ok(scalar)
}

/// Reads a value whose binary form is its text, or explains why it cannot.
fn text_fallback(type_name: &str, bytes: &[u8]) -> Result<Scalar, String> {
    let cast_hint = "cast the column to text in SQL (column::text) to read it under Spin";
    if NON_TEXT_TYPES.contains(&type_name) {
        return Err(format!("values of type {type_name} cannot be converted under Spin 4.0; {cast_hint}"));
    }
    match std::str::from_utf8(bytes) {
        Ok(text) if text.chars().all(|c| !c.is_control() || matches!(c, '\t' | '\n' | '\r')) => {
            Ok(Scalar::Other(text.to_owned()))
        }
        _ => Err(format!(
            "values of type {type_name} arrive from Spin 4.0 in binary form that is not text; {cast_hint}"
        )),
    }
}

/// Decodes a one-dimensional array (`array_send`): dimensions, a NULL flag, the element
/// OID, then per dimension its length and lower bound, then each element's length
/// (-1 for NULL) and bytes.
fn decode_array(element_type: &str, bytes: &[u8]) -> Result<Vec<Scalar>, String> {
    let type_name = format!("_{element_type}");
    let mut reader = Reader::new(&type_name, bytes);

    let dimensions = reader.i32()?;
    let _has_nulls = reader.i32()?;
    let _element_oid = reader.i32()?;
    if dimensions == 0 {
        reader.finish()?;
        return Ok(Vec::new());
    }
    if dimensions != 1 {
        return Err(format!(
            "{element_type}[] value has {dimensions} dimensions, but only one-dimensional arrays are supported"
        ));
    }
    let length = reader.i32()?;
    let _lower_bound = reader.i32()?;

    let mut elements = Vec::with_capacity(usize::try_from(length).unwrap_or(0).min(bytes.len()));
    for _ in 0..length {
        let element_length = reader.i32()?;
        if element_length < 0 {
            elements.push(Scalar::Null);
            continue;
        }
        let element_bytes = reader.take(element_length as usize)?;
        let element = decode_scalar(element_type, element_bytes)
            .map_err(|reason| format!("element of a {element_type}[] value: {reason}"))?;
        elements.push(element);
    }
    reader.finish()?;
    Ok(elements)
}

/// A cursor over a binary value that reports truncation instead of panicking.
struct Reader<'a> {
    type_name: &'a str,
    bytes: &'a [u8],
}

impl<'a> Reader<'a> {
    fn new(type_name: &'a str, bytes: &'a [u8]) -> Self {
        Self { type_name, bytes }
    }

    fn take(&mut self, count: usize) -> Result<&'a [u8], String> {
        if self.bytes.len() < count {
            return Err(format!("truncated {} value: expected {count} more bytes", self.type_name));
        }
        let (taken, rest) = self.bytes.split_at(count);
        self.bytes = rest;
        Ok(taken)
    }

    fn u8(&mut self) -> Result<u8, String> {
        Ok(self.take(1)?[0])
    }

    fn i16(&mut self) -> Result<i16, String> {
        Ok(i16::from_be_bytes(self.take(2)?.try_into().expect("two bytes")))
    }

    fn i32(&mut self) -> Result<i32, String> {
        Ok(i32::from_be_bytes(self.take(4)?.try_into().expect("four bytes")))
    }

    fn i64(&mut self) -> Result<i64, String> {
        Ok(i64::from_be_bytes(self.take(8)?.try_into().expect("eight bytes")))
    }

    fn rest(&mut self) -> &'a [u8] {
        std::mem::take(&mut self.bytes)
    }

    fn utf8_rest(&mut self) -> Result<String, String> {
        let type_name = self.type_name;
        String::from_utf8(self.rest().to_vec()).map_err(|_| format!("{type_name} value is not valid UTF-8"))
    }

    fn finish(&self) -> Result<(), String> {
        if !self.bytes.is_empty() {
            return Err(format!("{} value has {} unexpected trailing bytes", self.type_name, self.bytes.len()));
        }
        Ok(())
    }
}

fn uuid_text(bytes: &[u8]) -> String {
    let hex: String = bytes.iter().map(|byte| format!("{byte:02x}")).collect();
    format!("{}-{}-{}-{}-{}", &hex[0..8], &hex[8..12], &hex[12..16], &hex[16..20], &hex[20..32])
}

/// Formats `inet`/`cidr` as PostgreSQL prints them: the prefix length is left out for an
/// `inet` host address and always printed for `cidr`.
fn inet_text(reader: &mut Reader<'_>) -> Result<String, String> {
    let family = reader.u8()?;
    let bits = reader.u8()?;
    let is_cidr = reader.u8()? != 0;
    let address_length = reader.u8()?;

    let (address, max_bits) = match (family, address_length) {
        (2, 4) => {
            let octets: [u8; 4] = reader.take(4)?.try_into().expect("four bytes");
            (Ipv4Addr::from(octets).to_string(), 32)
        }
        (3, 16) => {
            let octets: [u8; 16] = reader.take(16)?.try_into().expect("sixteen bytes");
            (Ipv6Addr::from(octets).to_string(), 128)
        }
        _ => return Err(format!("unknown inet address family {family} with {address_length} bytes")),
    };

    if is_cidr || bits != max_bits {
        Ok(format!("{address}/{bits}"))
    } else {
        Ok(address)
    }
}

/// Converts days since 2000-01-01 to a proleptic Gregorian date.
pub fn date_from_postgres_days(days: i32) -> Date {
    let (year, month, day) = civil_from_unix_days(i64::from(days) + i64::from(DAYS_FROM_UNIX_EPOCH_TO_POSTGRES_EPOCH));
    Date { year, month, day }
}

fn time_from_micros(micros: i64) -> Time {
    let seconds = micros.div_euclid(MICROS_PER_SECOND);
    Time {
        hour: (seconds / 3600) as u8,
        minute: (seconds / 60 % 60) as u8,
        second: (seconds % 60) as u8,
        microsecond: micros.rem_euclid(MICROS_PER_SECOND) as u32,
    }
}

fn datetime_from_postgres_micros(micros: i64) -> Datetime {
    let days = micros.div_euclid(MICROS_PER_DAY);
    let time_micros = micros.rem_euclid(MICROS_PER_DAY);
    let (year, month, day) = civil_from_unix_days(days + i64::from(DAYS_FROM_UNIX_EPOCH_TO_POSTGRES_EPOCH));
    Datetime {
        date: Date { year, month, day },
        time: time_from_micros(time_micros),
    }
}

fn unix_micros_from_postgres_micros(micros: i64) -> Result<i64, String> {
    micros
        .checked_add(POSTGRES_EPOCH_UNIX_SECONDS * MICROS_PER_SECOND)
        .ok_or_else(|| "timestamptz value is out of range (infinity is not supported)".to_owned())
}

/// Converts days since 1970-01-01 to (year, month, day), after Howard Hinnant's
/// `civil_from_days` algorithm.
fn civil_from_unix_days(days: i64) -> (i32, u8, u8) {
    let shifted = days + 719_468;
    let era = shifted.div_euclid(146_097);
    let day_of_era = shifted.rem_euclid(146_097);
    let year_of_era = (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_index = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * month_index + 2) / 5 + 1;
    let month = if month_index < 10 { month_index + 3 } else { month_index - 9 };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year as i32, month as u8, day as u8)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Builds `array_send` output for a one-dimensional array.
    fn array_bytes(element_oid: i32, elements: &[Option<&[u8]>]) -> Vec<u8> {
        let mut bytes = Vec::new();
        bytes.extend(1i32.to_be_bytes());
        bytes.extend(i32::from(elements.iter().any(Option::is_none)).to_be_bytes());
        bytes.extend(element_oid.to_be_bytes());
        bytes.extend((elements.len() as i32).to_be_bytes());
        bytes.extend(1i32.to_be_bytes());
        for element in elements {
            match element {
                None => bytes.extend((-1i32).to_be_bytes()),
                Some(data) => {
                    bytes.extend((data.len() as i32).to_be_bytes());
                    bytes.extend(*data);
                }
            }
        }
        bytes
    }

    fn scalar(type_name: &str, bytes: &[u8]) -> Scalar {
        match decode(type_name, bytes).expect("decodable") {
            Value::Scalar(scalar) => scalar,
            Value::Array(_) => panic!("expected a scalar"),
        }
    }

    fn array(type_name: &str, bytes: &[u8]) -> Vec<Scalar> {
        match decode(type_name, bytes).expect("decodable") {
            Value::Array(elements) => elements,
            Value::Scalar(_) => panic!("expected an array"),
        }
    }

    #[test]
    fn json_is_text() {
        assert!(matches!(scalar("json", br#"{"b": 1, "a": 2}"#), Scalar::Json(s) if s == r#"{"b": 1, "a": 2}"#));
    }

    #[test]
    fn bool_array_keeps_nulls() {
        let bytes = array_bytes(16, &[Some(&[1]), None, Some(&[0])]);
        let elements = array("_bool", &bytes);
        assert_eq!(elements.len(), 3);
        assert!(matches!(elements[0], Scalar::Boolean(true)));
        assert!(matches!(elements[1], Scalar::Null));
        assert!(matches!(elements[2], Scalar::Boolean(false)));
    }

    #[test]
    fn int2_and_float_arrays_decode() {
        let bytes = array_bytes(21, &[Some(&(-2i16).to_be_bytes())]);
        assert!(matches!(array("_int2", &bytes)[..], [Scalar::Int16(-2)]));

        let bytes = array_bytes(701, &[Some(&2.5f64.to_be_bytes())]);
        assert!(matches!(array("_float8", &bytes)[..], [Scalar::Float64(v)] if v == 2.5));
    }

    #[test]
    fn empty_array_has_no_dimensions() {
        let mut bytes = Vec::new();
        bytes.extend(0i32.to_be_bytes());
        bytes.extend(0i32.to_be_bytes());
        bytes.extend(2950i32.to_be_bytes());
        assert!(array("_uuid", &bytes).is_empty());
    }

    #[test]
    fn two_dimensional_array_is_rejected() {
        let mut bytes = Vec::new();
        for field in [2i32, 0, 23, 1, 1, 1, 1] {
            bytes.extend(field.to_be_bytes());
        }
        let error = decode("_int4", &bytes).unwrap_err();
        assert!(error.contains("2 dimensions"), "{error}");
    }

    #[test]
    fn uuid_array_decodes() {
        let uuid: [u8; 16] = [
            0x67, 0xe5, 0x50, 0x44, 0x10, 0xb1, 0x42, 0x6f, 0x92, 0x47, 0xbb, 0x68, 0x0e, 0x5f, 0xe0, 0xc8,
        ];
        let bytes = array_bytes(2950, &[Some(&uuid)]);
        assert!(matches!(&array("_uuid", &bytes)[..], [Scalar::Uuid(s)] if s == "67e55044-10b1-426f-9247-bb680e5fe0c8"));
    }

    #[test]
    fn timestamptz_is_unix_micros() {
        // 2000-01-01T00:00:01.5Z
        let scalar = scalar("timestamptz", &1_500_000i64.to_be_bytes());
        assert!(matches!(scalar, Scalar::Timestamptz(v) if v == 946_684_801_500_000));
    }

    #[test]
    fn dates_before_2000_decode() {
        // 1999-12-31 and 1970-01-01
        assert!(matches!(scalar("date", &(-1i32).to_be_bytes()), Scalar::Date(Date { year: 1999, month: 12, day: 31 })));
        assert!(matches!(scalar("date", &(-10_957i32).to_be_bytes()), Scalar::Date(Date { year: 1970, month: 1, day: 1 })));
        // 2024-02-29 is 8825 days after 2000-01-01.
        assert!(matches!(scalar("date", &8825i32.to_be_bytes()), Scalar::Date(Date { year: 2024, month: 2, day: 29 })));
    }

    #[test]
    fn timestamp_before_2000_decodes() {
        // 1999-12-31T23:59:59.000001
        let Scalar::Timestamp(datetime) = scalar("timestamp", &(-999_999i64).to_be_bytes()) else {
            panic!("expected a timestamp");
        };
        assert_eq!((datetime.date.year, datetime.date.month, datetime.date.day), (1999, 12, 31));
        assert_eq!((datetime.time.hour, datetime.time.minute, datetime.time.second), (23, 59, 59));
        assert_eq!(datetime.time.microsecond, 1);
    }

    #[test]
    fn interval_array_decodes() {
        let mut interval = Vec::new();
        interval.extend(3_000_000i64.to_be_bytes());
        interval.extend(2i32.to_be_bytes());
        interval.extend(1i32.to_be_bytes());
        let bytes = array_bytes(1186, &[Some(&interval)]);
        assert!(matches!(
            array("_interval", &bytes)[..],
            [Scalar::Interval(Interval { months: 1, days: 2, microseconds: 3_000_000 })]
        ));
    }

    #[test]
    fn inet_formats_like_postgres() {
        assert!(matches!(scalar("inet", &[2, 32, 0, 4, 10, 0, 0, 1]), Scalar::Other(s) if s == "10.0.0.1"));
        assert!(matches!(scalar("inet", &[2, 24, 0, 4, 10, 0, 0, 1]), Scalar::Other(s) if s == "10.0.0.1/24"));
        assert!(matches!(scalar("cidr", &[2, 32, 1, 4, 10, 0, 0, 1]), Scalar::Other(s) if s == "10.0.0.1/32"));
    }

    #[test]
    fn enum_label_is_text() {
        assert!(matches!(scalar("mood", b"happy"), Scalar::Other(s) if s == "happy"));
    }

    #[test]
    fn binary_type_is_rejected() {
        let error = decode("money", &1234i64.to_be_bytes()).unwrap_err();
        assert!(error.contains("column::text"), "{error}");
        let error = decode("someext", &[0, 0, 0, 1]).unwrap_err();
        assert!(error.contains("not text"), "{error}");
    }

    #[test]
    fn truncated_value_is_rejected() {
        let error = decode("int8", &[0, 1]).unwrap_err();
        assert!(error.contains("truncated int8"), "{error}");
    }

    #[test]
    fn unknown_array_is_rejected() {
        let bytes = array_bytes(790, &[Some(&1234i64.to_be_bytes())]);
        let error = decode("_money", &bytes).unwrap_err();
        assert!(error.contains("money"), "{error}");
    }
}
