//! Every value type of the WIT contract through a real PostgreSQL table, with NULLs,
//! arrays, exact numerics, the text fallback and parameter conversion errors.

mod common;

use keyless_host::bindings::wit_postgres::{Date, Datetime, Error as WitError, Interval, Scalar, SslMode, Time, Value};
use keyless_host::postgres::PgConnection;
use keyless_host::secret::Secret;
use keyless_host::token::static_source::{StaticToken, StaticTokenProvider};
use std::sync::Arc;

use common::{cluster_with_app_role, config_for, options, pools};

const PASSWORD: &str = "values-test-password";

fn scalar(value: Scalar) -> Value {
    Value::Scalar(value)
}

async fn connect(cluster: &keyless_devkit::postgres::TestCluster) -> PgConnection {
    let tokens = Arc::new(StaticTokenProvider::new(StaticToken::Value(Secret::new(PASSWORD))));
    let pools = pools(&config_for(cluster), tokens);
    pools
        .open(&options(cluster, PASSWORD, SslMode::Disable))
        .await
        .expect("open succeeds")
}

const CREATE_TABLE: &str = "create table every_type (
    id int4 primary key,
    b bool, i2 int2, i4 int4, i8 int8, f4 float4, f8 float8, n numeric,
    t text, vc varchar(20), bp char(3), nm name,
    by bytea, u uuid, j json, jb jsonb,
    d date, tm time, ts timestamp, tz timestamptz, iv interval,
    ia int4[], ta text[], na numeric[],
    ip inet, pt point
)";

const COLUMNS: &str = "b, i2, i4, i8, f4, f8, n, t, vc, bp, nm, by, u, j, jb, d, tm, ts, tz, iv, ia, ta, na, ip, pt";

fn sample_row() -> Vec<Value> {
    vec![
        scalar(Scalar::Boolean(true)),
        scalar(Scalar::Int16(-32768)),
        scalar(Scalar::Int32(2_147_483_647)),
        scalar(Scalar::Int64(-9_223_372_036_854_775_808)),
        scalar(Scalar::Float32(1.5)),
        scalar(Scalar::Float64(-2.25e300)),
        scalar(Scalar::Numeric("1234567890123456789012345.123456789".into())),
        scalar(Scalar::Text("grüße, \"quotes\" and \\ backslash".into())),
        scalar(Scalar::Text("short".into())),
        scalar(Scalar::Text("ab ".into())),
        scalar(Scalar::Text("a_name".into())),
        scalar(Scalar::Bytea(vec![0, 1, 2, 254, 255])),
        scalar(Scalar::Uuid("0e8a5c3e-8f4b-4a36-9d2c-3f1b2a4c5d6e".into())),
        scalar(Scalar::Json("{\"b\": [1, 2], \"a\": null}".into())),
        scalar(Scalar::Jsonb("{\"a\": 1, \"b\": [true, \"x\"]}".into())),
        scalar(Scalar::Date(Date {
            year: 1999,
            month: 12,
            day: 31,
        })),
        scalar(Scalar::Time(Time {
            hour: 23,
            minute: 59,
            second: 58,
            microsecond: 123_456,
        })),
        scalar(Scalar::Timestamp(Datetime {
            date: Date {
                year: 2024,
                month: 2,
                day: 29,
            },
            time: Time {
                hour: 12,
                minute: 0,
                second: 1,
                microsecond: 7,
            },
        })),
        scalar(Scalar::Timestamptz(1_700_000_000_123_456)),
        scalar(Scalar::Interval(Interval {
            months: 14,
            days: -3,
            microseconds: 3_600_000_001,
        })),
        Value::Array(vec![Scalar::Int32(1), Scalar::Null, Scalar::Int32(-3)]),
        Value::Array(vec![
            Scalar::Text("x".into()),
            Scalar::Null,
            Scalar::Text("{a,\"b\"}".into()),
        ]),
        Value::Array(vec![
            Scalar::Numeric("0.000000000000000000001".into()),
            Scalar::Numeric("NaN".into()),
        ]),
        scalar(Scalar::Other("192.168.0.1/24".into())),
        scalar(Scalar::Other("(1.5,-2)".into())),
    ]
}

#[tokio::test]
async fn every_type_round_trips() {
    let cluster = cluster_with_app_role(false, PASSWORD).await;
    let mut connection = connect(&cluster).await;
    connection.execute(CREATE_TABLE, &[]).await.expect("table is created");

    let placeholders: Vec<String> = (2..=26).map(|index| format!("${index}")).collect();
    let insert = format!(
        "insert into every_type (id, {COLUMNS}) values ($1, {})",
        placeholders.join(", ")
    );
    let mut params = vec![scalar(Scalar::Int32(1))];
    params.extend(sample_row());
    let inserted = connection.execute(&insert, &params).await.expect("insert succeeds");
    assert_eq!(inserted, 1);

    let rows = connection
        .query(
            &format!("select {COLUMNS} from every_type where id = $1"),
            &[scalar(Scalar::Int64(1))],
        )
        .await
        .expect("select succeeds");
    assert_eq!(rows.rows.len(), 1);

    let expected = sample_row();
    for (index, (actual, expected)) in rows.rows[0].iter().zip(&expected).enumerate() {
        let column = &rows.columns[index];
        match (column.name.as_str(), expected) {
            // json keeps its input text exactly; jsonb is normalised by the server.
            ("jb", _) => assert_eq!(
                actual,
                &scalar(Scalar::Jsonb("{\"a\": 1, \"b\": [true, \"x\"]}".into())),
                "column jb"
            ),
            _ => assert_eq!(actual, expected, "column {}", column.name),
        }
    }

    let type_names: Vec<&str> = rows.columns.iter().map(|column| column.type_name.as_str()).collect();
    assert_eq!(&type_names[..4], &["bool", "int2", "int4", "int8"]);
    assert_eq!(&type_names[20..], &["_int4", "_text", "_numeric", "inet", "point"]);
    assert_eq!(rows.columns[2].type_oid, 23);
}

#[tokio::test]
async fn every_type_round_trips_null() {
    let cluster = cluster_with_app_role(false, PASSWORD).await;
    let mut connection = connect(&cluster).await;
    connection.execute(CREATE_TABLE, &[]).await.expect("table is created");

    let placeholders: Vec<String> = (2..=26).map(|index| format!("${index}")).collect();
    let insert = format!(
        "insert into every_type (id, {COLUMNS}) values ($1, {})",
        placeholders.join(", ")
    );
    let mut params = vec![scalar(Scalar::Int32(2))];
    params.extend((0..25).map(|_| scalar(Scalar::Null)));
    connection
        .execute(&insert, &params)
        .await
        .expect("insert of NULLs succeeds");

    let rows = connection
        .query(&format!("select {COLUMNS} from every_type where id = 2"), &[])
        .await
        .expect("select succeeds");
    for (index, value) in rows.rows[0].iter().enumerate() {
        assert_eq!(value, &scalar(Scalar::Null), "column {}", rows.columns[index].name);
    }
}

#[tokio::test]
async fn numeric_is_exact() {
    let cluster = cluster_with_app_role(false, PASSWORD).await;
    let mut connection = connect(&cluster).await;

    let cases = [
        "1234567890123456789012345",
        "-0.0000000000000000000000001",
        "99999999999999999999.99999",
        "0",
        "0.00",
        "NaN",
        "Infinity",
        "-Infinity",
    ];
    for text in cases {
        let rows = connection
            .query(
                "select $1::numeric, ($1::numeric)::text",
                &[scalar(Scalar::Numeric(text.into()))],
            )
            .await
            .expect("numeric query succeeds");
        assert_eq!(rows.rows[0][0], scalar(Scalar::Numeric(text.into())), "numeric {text}");
        assert_eq!(
            rows.rows[0][1],
            scalar(Scalar::Text(text.into())),
            "server text of {text}"
        );
    }

    // Arithmetic on the server keeps digits a float would lose.
    let rows = connection
        .query("select 12345678901234567890.123456789::numeric * 10", &[])
        .await
        .expect("numeric arithmetic succeeds");
    assert_eq!(
        rows.rows[0][0],
        scalar(Scalar::Numeric("123456789012345678901.234567890".into()))
    );
}

#[tokio::test]
async fn special_values_use_other() {
    let cluster = cluster_with_app_role(false, PASSWORD).await;
    let mut connection = connect(&cluster).await;
    connection
        .execute("create type mood as enum ('sad', 'happy')", &[])
        .await
        .expect("enum type is created");
    connection
        .execute("create domain positive as int4 check (value > 0)", &[])
        .await
        .expect("domain is created");

    let rows = connection
        .query(
            "select 'infinity'::date, '-infinity'::timestamptz, 'infinity'::timestamp, \
             '{{1,2},{3,NULL}}'::int4[], 'happy'::mood, 7::positive, '{}'::int4[], \
             '{10.0.0.1,NULL}'::inet[], '24:00:00'::time, '[1,5)'::int4range, 42::oid",
            &[],
        )
        .await
        .expect("select succeeds");
    let row = &rows.rows[0];
    assert_eq!(row[0], scalar(Scalar::Other("infinity".into())));
    assert_eq!(row[1], scalar(Scalar::Other("-infinity".into())));
    assert_eq!(row[2], scalar(Scalar::Other("infinity".into())));
    assert_eq!(row[3], scalar(Scalar::Other("{{1,2},{3,NULL}}".into())));
    assert_eq!(row[4], scalar(Scalar::Other("happy".into())));
    assert_eq!(row[5], scalar(Scalar::Int32(7)));
    assert_eq!(row[6], Value::Array(vec![]));
    assert_eq!(
        row[7],
        Value::Array(vec![Scalar::Other("10.0.0.1".into()), Scalar::Null])
    );
    assert_eq!(
        row[8],
        scalar(Scalar::Time(Time {
            hour: 24,
            minute: 0,
            second: 0,
            microsecond: 0
        }))
    );
    assert_eq!(row[9], scalar(Scalar::Other("[1,5)".into())));
    assert_eq!(row[10], scalar(Scalar::Other("42".into())));
}

#[tokio::test]
async fn parameters_convert_by_statement_type() {
    let cluster = cluster_with_app_role(false, PASSWORD).await;
    let mut connection = connect(&cluster).await;

    let rows = connection
        .query(
            "select $1::int8, $2::uuid, $3::jsonb, $4::numeric, $5::float8, $6::inet, $7::mood_free_text",
            &[
                scalar(Scalar::Int32(5)),
                scalar(Scalar::Text("0E8A5C3E-8F4B-4A36-9D2C-3F1B2A4C5D6E".into())),
                scalar(Scalar::Text("[1, {\"a\": 2}]".into())),
                scalar(Scalar::Int64(-12)),
                scalar(Scalar::Int32(3)),
                scalar(Scalar::Text("::1".into())),
                scalar(Scalar::Text("plain".into())),
            ],
        )
        .await;
    // `mood_free_text` does not exist: the server rejects the statement at prepare time.
    match rows {
        Err(WitError::QueryFailed(error)) => assert_eq!(error.code, "42704"),
        other => panic!("expected query-failed 42704, got {other:?}"),
    }

    let rows = connection
        .query(
            "select $1::int8, $2::uuid, $3::jsonb, $4::numeric, $5::float8, $6::inet, $7::int4[]",
            &[
                scalar(Scalar::Int32(5)),
                scalar(Scalar::Text("0E8A5C3E-8F4B-4A36-9D2C-3F1B2A4C5D6E".into())),
                scalar(Scalar::Text("[1, {\"a\": 2}]".into())),
                scalar(Scalar::Int64(-12)),
                scalar(Scalar::Int32(3)),
                scalar(Scalar::Text("::1".into())),
                Value::Array(vec![Scalar::Int16(1), Scalar::Null, Scalar::Int64(3)]),
            ],
        )
        .await
        .expect("parameters convert");
    let row = &rows.rows[0];
    assert_eq!(row[0], scalar(Scalar::Int64(5)));
    assert_eq!(
        row[1],
        scalar(Scalar::Uuid("0e8a5c3e-8f4b-4a36-9d2c-3f1b2a4c5d6e".into()))
    );
    assert_eq!(row[2], scalar(Scalar::Jsonb("[1, {\"a\": 2}]".into())));
    assert_eq!(row[3], scalar(Scalar::Numeric("-12".into())));
    assert_eq!(row[4], scalar(Scalar::Float64(3.0)));
    assert_eq!(row[5], scalar(Scalar::Other("::1".into())));
    assert_eq!(
        row[6],
        Value::Array(vec![Scalar::Int32(1), Scalar::Null, Scalar::Int32(3)])
    );
}

#[tokio::test]
async fn parameter_mismatch_is_bad_parameter() {
    let cluster = cluster_with_app_role(false, PASSWORD).await;
    let mut connection = connect(&cluster).await;

    let cases: Vec<(&str, Vec<Value>, &str)> = vec![
        (
            "select $1::int4",
            vec![scalar(Scalar::Text("7".into()))],
            "parameter $1: cannot convert text to int4",
        ),
        (
            "select $1::uuid",
            vec![scalar(Scalar::Text("not-a-uuid".into()))],
            "parameter $1: \"not-a-uuid\" is not a UUID",
        ),
        (
            "select $1::jsonb",
            vec![scalar(Scalar::Json("{".into()))],
            "parameter $1: the value is not valid JSON",
        ),
        (
            "select $1::int2",
            vec![scalar(Scalar::Int32(70_000))],
            "parameter $1: 70000 is out of the range of int2",
        ),
        (
            "select $1::int4, $2::bool",
            vec![scalar(Scalar::Int32(1)), scalar(Scalar::Int32(1))],
            "parameter $2: cannot convert int32 to bool",
        ),
        (
            "select $1::int4",
            vec![],
            "the statement has 1 parameters but 0 values were passed",
        ),
        (
            "select $1::date",
            vec![scalar(Scalar::Date(Date {
                year: 2023,
                month: 2,
                day: 29,
            }))],
            "parameter $1: 2023-02-29 is not a calendar date",
        ),
    ];
    for (sql, params, expected) in cases {
        match connection.query(sql, &params).await {
            Err(WitError::BadParameter(message)) => assert!(message.starts_with(expected), "{sql}: {message}"),
            other => panic!("{sql}: expected bad-parameter, got {other:?}"),
        }
    }

    // The connection stays usable after a rejected parameter.
    let rows = connection.query("select 1", &[]).await.expect("connection still works");
    assert_eq!(rows.rows[0][0], scalar(Scalar::Int32(1)));
}

#[tokio::test]
async fn server_errors_keep_structure() {
    let cluster = cluster_with_app_role(false, PASSWORD).await;
    let mut connection = connect(&cluster).await;
    connection
        .execute(
            "create table people (email text constraint people_email_key unique)",
            &[],
        )
        .await
        .expect("table is created");
    connection
        .execute(
            "insert into people values ($1)",
            &[scalar(Scalar::Text("a@example.com".into()))],
        )
        .await
        .expect("first insert succeeds");

    let error = connection
        .execute(
            "insert into people values ($1)",
            &[scalar(Scalar::Text("a@example.com".into()))],
        )
        .await
        .expect_err("duplicate insert fails");
    let WitError::QueryFailed(db_error) = error else {
        panic!("expected query-failed, got {error:?}")
    };
    assert_eq!(db_error.code, "23505");
    assert_eq!(db_error.severity, "ERROR");
    assert_eq!(db_error.constraint.as_deref(), Some("people_email_key"));
    assert!(db_error.message.contains("people_email_key"), "{}", db_error.message);
    assert_eq!(
        db_error.detail.as_deref(),
        Some("Key (email)=(a@example.com) already exists.")
    );

    let error = connection.query("selec 1", &[]).await.expect_err("syntax error");
    let WitError::QueryFailed(db_error) = error else {
        panic!("expected query-failed, got {error:?}")
    };
    assert_eq!(db_error.code, "42601");
}

#[tokio::test]
async fn transaction_on_one_connection() {
    let cluster = cluster_with_app_role(false, PASSWORD).await;
    let mut connection = connect(&cluster).await;
    connection
        .execute("create table counter (n int4)", &[])
        .await
        .expect("table is created");

    connection.execute("begin", &[]).await.expect("begin");
    connection
        .execute("insert into counter values (1)", &[])
        .await
        .expect("insert");
    connection.execute("rollback", &[]).await.expect("rollback");
    connection.execute("begin", &[]).await.expect("begin");
    connection
        .execute("insert into counter values (2)", &[])
        .await
        .expect("insert");
    connection.execute("commit", &[]).await.expect("commit");

    let rows = connection.query("select n from counter", &[]).await.expect("select");
    assert_eq!(rows.rows, vec![vec![scalar(Scalar::Int32(2))]]);
}
