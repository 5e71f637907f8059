//! Result columns: Spin's coarse data types turned into PostgreSQL type names and OIDs.
//!
//! Spin 4.0 reports a column's type as a `db-data-type` and not as an OID. Several
//! PostgreSQL types share one Spin type: `str` covers `text`, `varchar` and `bpchar`, and
//! `datetime` covers `timestamp` and `timestamptz`. For those the first name in the list
//! is reported.

use super::spin::DbDataType;
use super::wit::Column;

/// Converts one Spin column description.
pub fn column_from_spin(name: String, data_type: &DbDataType) -> Column {
    let type_name = type_name(data_type);
    let type_oid = builtin_oid(&type_name).unwrap_or(0);
    Column {
        name,
        type_name,
        type_oid,
    }
}

/// Returns the PostgreSQL type name for a Spin data type.
pub fn type_name(data_type: &DbDataType) -> String {
    let name = match data_type {
        DbDataType::Boolean => "bool",
        DbDataType::Int8 => "char",
        DbDataType::Int16 => "int2",
        DbDataType::Int32 => "int4",
        DbDataType::Int64 => "int8",
        DbDataType::Floating32 => "float4",
        DbDataType::Floating64 => "float8",
        // NOTE: also `varchar` and `bpchar`, which Spin 4.0 does not tell apart.
        DbDataType::Str => "text",
        DbDataType::Binary => "bytea",
        DbDataType::Date => "date",
        DbDataType::Time => "time",
        // NOTE: also `timestamptz`, which Spin 4.0 does not tell apart.
        DbDataType::Datetime => "timestamp",
        DbDataType::Timestamp => "timestamptz",
        DbDataType::Uuid => "uuid",
        DbDataType::Jsonb => "jsonb",
        DbDataType::Decimal => "numeric",
        DbDataType::RangeInt32 => "int4range",
        DbDataType::RangeInt64 => "int8range",
        DbDataType::RangeDecimal => "numrange",
        DbDataType::ArrayInt32 => "_int4",
        DbDataType::ArrayInt64 => "_int8",
        DbDataType::ArrayDecimal => "_numeric",
        DbDataType::ArrayStr => "_text",
        DbDataType::Interval => "interval",
        DbDataType::Other(name) => name,
    };
    name.to_owned()
}

/// Returns the fixed OID of a built-in type (`pg_type.oid`, stable across PostgreSQL
/// versions), or `None` for a type created in the database because Spin does not report
/// its OID.
pub fn builtin_oid(type_name: &str) -> Option<u32> {
    let oid = match type_name {
        "bool" => 16,
        "bytea" => 17,
        "char" => 18,
        "name" => 19,
        "int8" => 20,
        "int2" => 21,
        "int4" => 23,
        "text" => 25,
        "oid" => 26,
        "json" => 114,
        "xml" => 142,
        "cidr" => 650,
        "float4" => 700,
        "float8" => 701,
        "macaddr" => 829,
        "inet" => 869,
        "bpchar" => 1042,
        "varchar" => 1043,
        "date" => 1082,
        "time" => 1083,
        "timestamp" => 1114,
        "timestamptz" => 1184,
        "interval" => 1186,
        "timetz" => 1266,
        "numeric" => 1700,
        "uuid" => 2950,
        "jsonb" => 3802,
        "int4range" => 3904,
        "numrange" => 3906,
        "int8range" => 3926,
        "_bool" => 1000,
        "_bytea" => 1001,
        "_char" => 1002,
        "_name" => 1003,
        "_int2" => 1005,
        "_int4" => 1007,
        "_text" => 1009,
        "_bpchar" => 1014,
        "_varchar" => 1015,
        "_int8" => 1016,
        "_float4" => 1021,
        "_float8" => 1022,
        "_oid" => 1028,
        "_inet" => 1041,
        "_timestamp" => 1115,
        "_date" => 1182,
        "_time" => 1183,
        "_timestamptz" => 1185,
        "_interval" => 1187,
        "_numeric" => 1231,
        "_uuid" => 2951,
        "_json" => 199,
        "_jsonb" => 3807,
        _ => return None,
    };
    Some(oid)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_column_gets_oid() {
        let column = column_from_spin("id".to_owned(), &DbDataType::Int64);
        assert_eq!(column.name, "id");
        assert_eq!(column.type_name, "int8");
        assert_eq!(column.type_oid, 20);
    }

    #[test]
    fn other_column_keeps_name() {
        let column = column_from_spin("doc".to_owned(), &DbDataType::Other("json".to_owned()));
        assert_eq!(column.type_name, "json");
        assert_eq!(column.type_oid, 114);
    }

    #[test]
    fn user_type_has_oid_zero() {
        let column = column_from_spin("mood".to_owned(), &DbDataType::Other("mood".to_owned()));
        assert_eq!(column.type_name, "mood");
        assert_eq!(column.type_oid, 0);
    }
}
