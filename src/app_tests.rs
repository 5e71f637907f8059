//! Routing and validation tests of `App` over in-memory fakes of `Database` and `Tokens`.
//! The fakes return scripted results and record every statement; no SQL runs here.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::rc::Rc;

use serde_json::{Value as Json, json};

use crate::app::App;
use crate::backend::{
    Column, ConnectParams, Connection, Database, DbError, PgError, RowSet, Scalar, Token,
    TokenError, Tokens, UnavailableError, Value,
};
use crate::http::{MAX_BODY_BYTES, Request, Response};
use crate::pagination::encode_cursor;

const TOKEN: &str = "eyJ0eXAiOiJKV1QifQ.fake-access-token";
const TOKEN_EXPIRES_ON: u64 = 1_700_000_000;

/// A scripted result for the next statement.
enum Reply {
    Rows(RowSet),
    Affected(u64),
    Fail(PgError),
}

#[derive(Default)]
struct FakeState {
    replies: VecDeque<Reply>,
    statements: Vec<(String, Vec<Value>)>,
    opened: Vec<ConnectParams>,
    open_failure: Option<PgError>,
}

#[derive(Default, Clone)]
struct FakeDatabase(Rc<RefCell<FakeState>>);

struct FakeConnection(Rc<RefCell<FakeState>>);

impl Database for FakeDatabase {
    fn open(&self, params: &ConnectParams) -> Result<Box<dyn Connection>, PgError> {
        let mut state = self.0.borrow_mut();
        state.opened.push(params.clone());
        match state.open_failure.clone() {
            Some(err) => Err(err),
            None => Ok(Box::new(FakeConnection(self.0.clone()))),
        }
    }
}

impl FakeConnection {
    fn next_reply(&self, sql: &str, params: &[Value]) -> Reply {
        let mut state = self.0.borrow_mut();
        state.statements.push((sql.to_string(), params.to_vec()));
        state
            .replies
            .pop_front()
            .unwrap_or_else(|| panic!("no scripted reply for {sql}"))
    }
}

impl Connection for FakeConnection {
    fn query(&self, sql: &str, params: &[Value]) -> Result<RowSet, PgError> {
        match self.next_reply(sql, params) {
            Reply::Rows(rows) => Ok(rows),
            Reply::Affected(_) => panic!("query got an execute reply: {sql}"),
            Reply::Fail(err) => Err(err),
        }
    }

    fn execute(&self, sql: &str, params: &[Value]) -> Result<u64, PgError> {
        match self.next_reply(sql, params) {
            Reply::Affected(count) => Ok(count),
            Reply::Rows(_) => panic!("execute got a query reply: {sql}"),
            Reply::Fail(err) => Err(err),
        }
    }
}

struct FakeTokens {
    result: Result<Token, TokenError>,
    scopes: RefCell<Vec<Vec<String>>>,
}

impl Tokens for FakeTokens {
    fn get_token(&self, scopes: &[String]) -> Result<Token, TokenError> {
        self.scopes.borrow_mut().push(scopes.to_vec());
        self.result.clone()
    }
}

/// A fake environment, database and token source, plus helpers to send requests.
struct Fixture {
    database: FakeDatabase,
    tokens: FakeTokens,
    env: Vec<(&'static str, &'static str)>,
}

impl Fixture {
    fn new() -> Fixture {
        Fixture {
            database: FakeDatabase::default(),
            tokens: FakeTokens {
                result: Ok(Token::new(TOKEN.to_string(), TOKEN_EXPIRES_ON)),
                scopes: RefCell::new(Vec::new()),
            },
            env: vec![
                ("PGHOST", "db.example"),
                ("PGUSER", "keyless-app"),
                ("PGDATABASE", "crm"),
                ("KEYLESS_TOKEN_SCOPE", "api://db/.default"),
            ],
        }
    }

    fn reply(&self, reply: Reply) -> &Fixture {
        self.database.0.borrow_mut().replies.push_back(reply);
        self
    }

    fn send(&self, request: Request) -> Response {
        let env = |name: &str| {
            self.env
                .iter()
                .find(|(key, _)| *key == name)
                .map(|(_, value)| value.to_string())
        };
        let response = App::new(&self.database, &self.tokens, &env).handle(&request);
        let text = String::from_utf8_lossy(&response.body);
        assert!(!text.contains(TOKEN), "token leaked in response: {text}");
        assert!(
            response
                .headers
                .iter()
                .all(|(_, value)| !value.contains(TOKEN)),
            "token leaked in headers"
        );
        response
    }

    fn statements(&self) -> Vec<(String, Vec<Value>)> {
        self.database.0.borrow().statements.clone()
    }

    fn opened(&self) -> Vec<ConnectParams> {
        self.database.0.borrow().opened.clone()
    }
}

fn body(response: &Response) -> Json {
    serde_json::from_slice(&response.body).expect("response body is JSON")
}

/// Asserts a problem response and returns its detail.
fn problem(response: &Response, status: u16) -> String {
    assert_eq!(
        response.status,
        status,
        "body: {}",
        String::from_utf8_lossy(&response.body)
    );
    assert_eq!(
        response.header("content-type"),
        Some("application/problem+json")
    );
    let problem = body(response);
    assert_eq!(problem["type"], "about:blank");
    assert_eq!(problem["status"], status);
    assert!(
        problem["title"]
            .as_str()
            .is_some_and(|title| !title.is_empty())
    );
    problem["detail"]
        .as_str()
        .expect("detail is a string")
        .to_string()
}

fn json_request(method: &str, path: &str, body: &Json) -> Request {
    Request::new(method, path)
        .with_header("Content-Type", "application/json")
        .with_body(body.to_string())
}

fn client_columns() -> Vec<Column> {
    [
        ("id", "int8", 20),
        ("email", "text", 25),
        ("name", "text", 25),
        ("phone", "text", 25),
        ("created_at", "timestamptz", 1184),
        ("attributes", "jsonb", 3802),
    ]
    .into_iter()
    .map(|(name, type_name, type_oid)| Column {
        name: name.to_string(),
        type_name: type_name.to_string(),
        type_oid,
    })
    .collect()
}

fn client_row(id: i64) -> Vec<Value> {
    vec![
        Value::Scalar(Scalar::Int64(id)),
        Value::Scalar(Scalar::Text(format!("c{id}@example.com"))),
        Value::Scalar(Scalar::Text(format!("Client {id}"))),
        Value::Scalar(Scalar::Null),
        Value::Scalar(Scalar::Timestamptz(1_700_000_000_123_456)),
        Value::Scalar(Scalar::Jsonb(r#"{"tier": "gold"}"#.to_string())),
    ]
}

fn clients(ids: impl IntoIterator<Item = i64>) -> Reply {
    Reply::Rows(RowSet {
        columns: client_columns(),
        rows: ids.into_iter().map(client_row).collect(),
    })
}

fn int64_param(value: &Value) -> i64 {
    match value {
        Value::Scalar(Scalar::Int64(number)) => *number,
        other => panic!("expected an int64 parameter, got {other:?}"),
    }
}

fn db_error(code: &str, constraint: Option<&str>) -> DbError {
    DbError {
        code: code.to_string(),
        severity: "ERROR".to_string(),
        message: "server message with internal detail".to_string(),
        detail: None,
        hint: None,
        constraint: constraint.map(str::to_string),
    }
}

#[test]
fn list_uses_defaults() {
    let fixture = Fixture::new();
    fixture.reply(clients([1, 2]));
    let response = fixture.send(Request::new("GET", "/api/clients"));

    assert_eq!(response.status, 200);
    assert_eq!(response.header("content-type"), Some("application/json"));
    let page = body(&response);
    assert_eq!(page["items"].as_array().unwrap().len(), 2);
    assert_eq!(page["next"], Json::Null);

    let statements = fixture.statements();
    assert_eq!(statements.len(), 1);
    assert!(
        statements[0]
            .0
            .contains("where id > $1 order by id limit $2")
    );
    assert_eq!(int64_param(&statements[0].1[0]), i64::MIN);
    assert_eq!(int64_param(&statements[0].1[1]), 51);
}

#[test]
fn list_returns_next_cursor() {
    let fixture = Fixture::new();
    fixture.reply(clients([3, 4, 5]));
    let response = fixture.send(Request::new("GET", "/api/clients?limit=2"));

    let page = body(&response);
    let ids: Vec<i64> = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|item| item["id"].as_i64().unwrap())
        .collect();
    assert_eq!(ids, vec![3, 4]);
    assert_eq!(page["next"], json!(encode_cursor(4)));
    assert_eq!(int64_param(&fixture.statements()[0].1[1]), 3);
}

#[test]
fn list_follows_cursor() {
    let fixture = Fixture::new();
    fixture.reply(clients([5]));
    let path = format!("/api/clients?after={}&limit=2", encode_cursor(4));
    let response = fixture.send(Request::new("GET", &path));

    assert_eq!(response.status, 200);
    assert_eq!(body(&response)["next"], Json::Null);
    assert_eq!(int64_param(&fixture.statements()[0].1[0]), 4);
}

#[test]
fn list_rejects_bad_parameters_before_database() {
    let fixture = Fixture::new();
    for query in [
        "limit=0",
        "limit=501",
        "limit=x",
        "after=%%",
        "after=bm9wZQ",
        "sort=id",
    ] {
        let response = fixture.send(Request::new("GET", &format!("/api/clients?{query}")));
        let detail = problem(&response, 400);
        assert!(!detail.is_empty(), "{query}");
    }
    assert!(fixture.opened().is_empty());
    assert!(fixture.tokens.scopes.borrow().is_empty());
}

#[test]
fn get_renders_client() {
    let fixture = Fixture::new();
    fixture.reply(clients([7]));
    let response = fixture.send(Request::new("GET", "/api/clients/7"));

    assert_eq!(response.status, 200);
    assert_eq!(
        body(&response),
        json!({
            "id": 7,
            "email": "c7@example.com",
            "name": "Client 7",
            "phone": null,
            "created_at": "2023-11-14T22:13:20.123456Z",
            "attributes": {"tier": "gold"},
        })
    );
    assert_eq!(int64_param(&fixture.statements()[0].1[0]), 7);
}

#[test]
fn get_missing_is_404() {
    let fixture = Fixture::new();
    fixture.reply(clients([]));
    let detail = problem(&fixture.send(Request::new("GET", "/api/clients/9")), 404);
    assert_eq!(detail, "no client with id 9");
}

#[test]
fn get_invalid_ids_are_400() {
    let fixture = Fixture::new();
    let huge = "9".repeat(5000);
    for id in [
        "abc",
        "0",
        "-5",
        "99999999999999999999",
        huge.as_str(),
        "1%2F2",
    ] {
        let response = fixture.send(Request::new("GET", &format!("/api/clients/{id}")));
        let detail = problem(&response, 400);
        assert!(detail.starts_with("client id `"), "{detail}");
        assert!(
            detail.len() < 200,
            "detail echoes too much: {}",
            detail.len()
        );
    }
    assert!(fixture.opened().is_empty());
}

#[test]
fn create_returns_201_with_location() {
    let fixture = Fixture::new();
    fixture.reply(clients([12]));
    let request = json_request(
        "POST",
        "/api/clients",
        &json!({"email": "new@example.com", "name": "New"}),
    );
    let response = fixture.send(request);

    assert_eq!(response.status, 201);
    assert_eq!(response.header("location"), Some("/api/clients/12"));
    assert_eq!(body(&response)["id"], 12);

    let (sql, params) = &fixture.statements()[0];
    assert!(sql.starts_with("insert into clients"));
    assert!(matches!(&params[0], Value::Scalar(Scalar::Text(email)) if email == "new@example.com"));
    assert!(matches!(&params[1], Value::Scalar(Scalar::Text(name)) if name == "New"));
    assert!(matches!(&params[2], Value::Scalar(Scalar::Null)));
    assert!(matches!(&params[3], Value::Scalar(Scalar::Jsonb(text)) if text == "{}"));
}

#[test]
fn create_passes_phone_and_attributes() {
    let fixture = Fixture::new();
    fixture.reply(clients([13]));
    let request = json_request(
        "POST",
        "/api/clients",
        &json!({"email": "p@example.com", "name": "P", "phone": "555", "attributes": {"a": [1]}}),
    );
    assert_eq!(fixture.send(request).status, 201);

    let (_, params) = &fixture.statements()[0];
    assert!(matches!(&params[2], Value::Scalar(Scalar::Text(phone)) if phone == "555"));
    assert!(matches!(&params[3], Value::Scalar(Scalar::Jsonb(text)) if text == r#"{"a":[1]}"#));
}

#[test]
fn create_duplicate_email_is_409() {
    let fixture = Fixture::new();
    fixture.reply(Reply::Fail(PgError::QueryFailed(db_error(
        "23505",
        Some("clients_email_key"),
    ))));
    let request = json_request(
        "POST",
        "/api/clients",
        &json!({"email": "a@x", "name": "A"}),
    );
    let detail = problem(&fixture.send(request), 409);
    assert_eq!(detail, "a client with this email already exists");
}

#[test]
fn create_requires_json_content_type() {
    let fixture = Fixture::new();
    let request = Request::new("POST", "/api/clients")
        .with_header("content-type", "text/plain")
        .with_body(r#"{"email": "a@x", "name": "A"}"#);
    let detail = problem(&fixture.send(request), 415);
    assert!(detail.contains("`text/plain`"), "{detail}");

    let without = Request::new("POST", "/api/clients").with_body("{}");
    problem(&fixture.send(without), 415);
    assert!(fixture.opened().is_empty());
}

#[test]
fn create_body_over_limit_is_413() {
    let fixture = Fixture::new();
    let request = Request::new("POST", "/api/clients")
        .with_header("content-type", "application/json")
        .with_body(vec![b' '; MAX_BODY_BYTES + 1]);
    let detail = problem(&fixture.send(request), 413);
    assert!(detail.contains("65536"), "{detail}");
}

#[test]
fn create_body_at_limit_is_parsed() {
    let fixture = Fixture::new();
    let mut text = r#"{"email": "a@x", "name": "A"}"#.to_string();
    text.push_str(&" ".repeat(MAX_BODY_BYTES - text.len()));
    fixture.reply(clients([1]));
    let request = Request::new("POST", "/api/clients")
        .with_header("content-type", "application/json")
        .with_body(text);
    assert_eq!(fixture.send(request).status, 201);
}

#[test]
fn create_invalid_bodies_are_400() {
    let fixture = Fixture::new();
    let cases: Vec<(Vec<u8>, &str)> = vec![
        (b"{".to_vec(), "not valid JSON"),
        (vec![0xff, 0xfe, 0x00], "not valid JSON"),
        (
            br#"{"email": "a@x", "name": "A", "role": "admin"}"#.to_vec(),
            "unknown field `role`",
        ),
        (
            br#"{"email": "nope", "name": "A"}"#.to_vec(),
            "field `email`",
        ),
        (
            br#"{"email": "a@x", "name": "A", "attributes": []}"#.to_vec(),
            "`attributes`",
        ),
        (br#""just a string""#.to_vec(), "must be a JSON object"),
    ];
    for (bytes, expected) in cases {
        let request = Request::new("POST", "/api/clients")
            .with_header("content-type", "application/json")
            .with_body(bytes);
        let detail = problem(&fixture.send(request), 400);
        assert!(
            detail.contains(expected),
            "expected {expected:?} in {detail:?}"
        );
    }
    assert!(fixture.opened().is_empty());
}

#[test]
fn replace_updates_all_fields() {
    let fixture = Fixture::new();
    fixture.reply(clients([7]));
    let request = json_request(
        "PUT",
        "/api/clients/7",
        &json!({"email": "c7@example.com", "name": "Client 7", "attributes": {"tier": "gold"}}),
    );
    let response = fixture.send(request);

    assert_eq!(response.status, 200);
    assert_eq!(body(&response)["id"], 7);
    let (sql, params) = &fixture.statements()[0];
    assert!(sql.starts_with("update clients set"));
    assert_eq!(params.len(), 5);
    assert_eq!(int64_param(&params[0]), 7);
}

#[test]
fn replace_missing_is_404() {
    let fixture = Fixture::new();
    fixture.reply(clients([]));
    let request = json_request(
        "PUT",
        "/api/clients/8",
        &json!({"email": "a@x", "name": "A"}),
    );
    assert_eq!(problem(&fixture.send(request), 404), "no client with id 8");
}

#[test]
fn replace_validates_id_before_body() {
    let fixture = Fixture::new();
    let request = Request::new("PUT", "/api/clients/x").with_body("not json");
    let detail = problem(&fixture.send(request), 400);
    assert!(detail.starts_with("client id `x`"), "{detail}");
}

#[test]
fn delete_returns_204() {
    let fixture = Fixture::new();
    fixture.reply(Reply::Affected(1));
    let response = fixture.send(Request::new("DELETE", "/api/clients/3"));
    assert_eq!(response.status, 204);
    assert!(response.body.is_empty());
    let (sql, params) = &fixture.statements()[0];
    assert_eq!(sql, "delete from clients where id = $1");
    assert_eq!(int64_param(&params[0]), 3);
}

#[test]
fn delete_missing_is_404() {
    let fixture = Fixture::new();
    fixture.reply(Reply::Affected(0));
    let detail = problem(&fixture.send(Request::new("DELETE", "/api/clients/3")), 404);
    assert_eq!(detail, "no client with id 3");
}

#[test]
fn health_reports_token_expiry_not_token() {
    let fixture = Fixture::new();
    fixture.reply(Reply::Rows(RowSet {
        columns: vec![Column {
            name: "?column?".into(),
            type_name: "int4".into(),
            type_oid: 23,
        }],
        rows: vec![vec![Value::Scalar(Scalar::Int32(1))]],
    }));
    let response = fixture.send(Request::new("GET", "/api/health"));

    assert_eq!(response.status, 200);
    assert_eq!(
        body(&response),
        json!({"status": "ok", "database": "ok", "token_expires_on": "2023-11-14T22:13:20Z"})
    );
    assert_eq!(fixture.statements()[0].0, "select 1");
}

#[test]
fn connection_uses_config_and_token() {
    let fixture = Fixture::new();
    fixture.reply(clients([]));
    fixture.send(Request::new("GET", "/api/clients/1"));

    let opened = fixture.opened();
    assert_eq!(opened.len(), 1);
    assert_eq!(opened[0].host, "db.example");
    assert_eq!(opened[0].port, 5432);
    assert_eq!(opened[0].database, "crm");
    assert_eq!(opened[0].user, "keyless-app");
    assert_eq!(opened[0].password, TOKEN);
    assert_eq!(opened[0].ssl_mode, crate::backend::SslMode::VerifyFull);
    assert_eq!(
        *fixture.tokens.scopes.borrow(),
        vec![vec!["api://db/.default".to_string()]]
    );
}

#[test]
fn refresh_summary_returns_row() {
    let fixture = Fixture::new();
    fixture.reply(Reply::Rows(RowSet {
        columns: vec![
            Column {
                name: "total".into(),
                type_name: "int8".into(),
                type_oid: 20,
            },
            Column {
                name: "newest_created_at".into(),
                type_name: "timestamptz".into(),
                type_oid: 1184,
            },
            Column {
                name: "refreshed_at".into(),
                type_name: "timestamptz".into(),
                type_oid: 1184,
            },
        ],
        rows: vec![vec![
            Value::Scalar(Scalar::Int64(3)),
            Value::Scalar(Scalar::Timestamptz(0)),
            Value::Scalar(Scalar::Timestamptz(1_000_000)),
        ]],
    }));
    let response = fixture.send(Request::new("POST", "/internal/jobs/refresh-summary"));

    assert_eq!(response.status, 200);
    assert_eq!(
        body(&response),
        json!({
            "total": 3,
            "newest_created_at": "1970-01-01T00:00:00.000000Z",
            "refreshed_at": "1970-01-01T00:00:01.000000Z",
        })
    );
    assert!(
        fixture.statements()[0]
            .0
            .contains("on conflict (id) do update")
    );
}

#[test]
fn wrong_methods_are_405_with_allow() {
    let fixture = Fixture::new();
    let cases = [
        ("PATCH", "/api/clients", "GET, POST"),
        ("DELETE", "/api/clients", "GET, POST"),
        ("POST", "/api/clients/1", "GET, PUT, DELETE"),
        ("HEAD", "/api/clients/abc", "GET, PUT, DELETE"),
        ("POST", "/api/health", "GET"),
        ("GET", "/internal/jobs/refresh-summary", "POST"),
        ("get", "/api/health", "GET"),
    ];
    for (method, path, allow) in cases {
        let response = fixture.send(Request::new(method, path));
        let detail = problem(&response, 405);
        assert_eq!(response.header("allow"), Some(allow), "{method} {path}");
        assert!(detail.contains(&format!("`{method}`")), "{detail}");
    }
}

#[test]
fn unknown_routes_are_404() {
    let fixture = Fixture::new();
    for path in [
        "/",
        "/api",
        "/api/clients/",
        "/api/clients/1/orders",
        "/internal/jobs/x",
    ] {
        let detail = problem(&fixture.send(Request::new("GET", path)), 404);
        assert!(detail.starts_with("no resource at"), "{detail}");
    }
}

#[test]
fn token_unavailable_is_503() {
    let mut fixture = Fixture::new();
    fixture.tokens.result = Err(TokenError::Unavailable(UnavailableError {
        message: "identity endpoint returned 429".into(),
        retry_after_seconds: 12,
    }));
    let response = fixture.send(Request::new("GET", "/api/health"));
    problem(&response, 503);
    assert_eq!(response.header("retry-after"), Some("12"));
    assert!(fixture.opened().is_empty());
}

#[test]
fn token_denied_and_not_configured_are_500() {
    let mut fixture = Fixture::new();
    fixture.tokens.result = Err(TokenError::Denied("identity not found".into()));
    let detail = problem(&fixture.send(Request::new("GET", "/api/health")), 500);
    assert!(detail.contains("denied"), "{detail}");

    fixture.tokens.result = Err(TokenError::NotConfigured("none".into()));
    let detail = problem(&fixture.send(Request::new("GET", "/api/health")), 500);
    assert!(detail.contains("no access token source"), "{detail}");
}

#[test]
fn authentication_failure_is_503_retry_5() {
    let fixture = Fixture::new();
    fixture.database.0.borrow_mut().open_failure =
        Some(PgError::AuthenticationFailed(db_error("28P01", None)));
    let response = fixture.send(Request::new("GET", "/api/clients"));
    let detail = problem(&response, 503);
    assert_eq!(response.header("retry-after"), Some("5"));
    assert!(detail.contains("28P01"), "{detail}");
    assert!(!detail.contains("server message"), "{detail}");
}

#[test]
fn unreachable_database_is_503() {
    let fixture = Fixture::new();
    fixture.database.0.borrow_mut().open_failure =
        Some(PgError::ConnectionFailed("connection refused".into()));
    let response = fixture.send(Request::new("DELETE", "/api/clients/1"));
    let detail = problem(&response, 503);
    assert_eq!(response.header("retry-after"), Some("5"));
    assert!(!detail.contains("refused"), "{detail}");
}

#[test]
fn other_query_failure_is_500_with_sqlstate() {
    let fixture = Fixture::new();
    fixture.reply(Reply::Fail(PgError::QueryFailed(db_error("42P01", None))));
    let detail = problem(&fixture.send(Request::new("GET", "/api/clients")), 500);
    assert!(detail.contains("SQLSTATE 42P01"), "{detail}");
    assert!(!detail.contains("server message"), "{detail}");
}

#[test]
fn missing_configuration_is_500() {
    let mut fixture = Fixture::new();
    fixture.env.retain(|(name, _)| *name != "PGHOST");
    let detail = problem(&fixture.send(Request::new("GET", "/api/health")), 500);
    assert!(detail.starts_with("PGHOST is not set"), "{detail}");

    let mut fixture = Fixture::new();
    fixture.env.push(("PGSSLMODE", "prefer"));
    let detail = problem(&fixture.send(Request::new("GET", "/api/health")), 500);
    assert!(detail.contains("PGSSLMODE `prefer`"), "{detail}");
    assert!(fixture.tokens.scopes.borrow().is_empty());
}

/// Odd methods, paths and bodies always produce a response: never a panic. Requests that
/// would reach the database get an authentication failure from the fake.
#[test]
fn odd_requests_never_panic() {
    let fixture = Fixture::new();
    fixture.database.0.borrow_mut().open_failure =
        Some(PgError::AuthenticationFailed(db_error("28P01", None)));

    let long_path = format!("/api/clients/{}", "1".repeat(100_000));
    let paths = [
        "",
        "?",
        "??",
        "/api/clients?",
        "/api/clients?&&&",
        "/api/clients?limit",
        "/api/clients?=",
        "/api/clients?limit=%",
        "/api/clients?after=%ff",
        "/api/clients/%00",
        "/api/clients/\u{0}",
        "/api/clients/é",
        "/api/clients/1?x=1",
        "//api/clients",
        "/api/clients/0x10",
        &long_path,
    ];
    let methods = ["GET", "POST", "PUT", "DELETE", "PATCH", "", "get", "BREW"];
    let bodies: [&[u8]; 5] = [
        b"",
        b"\xff\xfe\xfd",
        b"{\"email\":\"\xc3\"}",
        b"[[[[[[[[[[",
        b"null",
    ];

    for path in paths {
        for method in methods {
            for body_bytes in bodies {
                let request = Request::new(method, path)
                    .with_header("content-type", "application/json")
                    .with_body(body_bytes);
                let response = fixture.send(request);
                assert!(
                    (200..600).contains(&response.status),
                    "{method} {path}: {}",
                    response.status
                );
                if response.status >= 400 {
                    problem(&response, response.status);
                }
            }
        }
    }
}

#[test]
fn deeply_nested_body_is_400() {
    let fixture = Fixture::new();
    let nested = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    let request = Request::new("POST", "/api/clients")
        .with_header("content-type", "application/json")
        .with_body(nested.into_bytes());
    // 200 KB is over the body limit; the same shape under the limit hits serde_json's
    // recursion limit instead.
    problem(&fixture.send(request), 413);

    let nested = format!("{}{}", "[".repeat(30_000), "]".repeat(30_000));
    let request = Request::new("POST", "/api/clients")
        .with_header("content-type", "application/json")
        .with_body(nested.into_bytes());
    let detail = problem(&fixture.send(request), 400);
    assert!(detail.contains("recursion limit"), "{detail}");
}
