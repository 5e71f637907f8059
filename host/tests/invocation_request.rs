//! JSON invocations from the Functions host translated into component requests.
//!
//! The invocation bodies follow what Functions host 4.x sends to a custom handler for a
//! function that is not forwarded: `{"Data": {<trigger name>: ...}, "Metadata": {...}}`.

use std::path::{Path, PathBuf};

use http::{HeaderMap, HeaderValue, Method};
use keyless_host::invocation::request::{INVOCATION_ID_HEADER, component_request};
use keyless_host::invocation::{
    Binding, Direction, Dispatch, FunctionApp, FunctionDefinition, InvocationError,
};
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

fn binding(binding_type: &str, direction: Direction, name: &str, route: Option<&str>) -> Binding {
    Binding {
        name: name.to_string(),
        binding_type: binding_type.to_string(),
        direction,
        route: route.map(str::to_string),
        raw: Map::new(),
    }
}

/// An HTTP function with an extra queue output: the Functions host invokes it with JSON
/// even though forwarding is on.
fn audit_function() -> FunctionDefinition {
    FunctionDefinition {
        name: "audit".to_string(),
        bindings: vec![
            binding(
                "httpTrigger",
                Direction::In,
                "req",
                Some("audit/{id}/{*rest}"),
            ),
            binding("http", Direction::Out, "res", None),
            binding("queue", Direction::Out, "message", None),
        ],
        disabled: false,
        dispatch: Dispatch::JsonInvocation,
    }
}

fn app_with(functions: Vec<FunctionDefinition>) -> FunctionApp {
    FunctionApp::from_parts(PathBuf::from("/app"), "api".to_string(), true, functions)
}

fn repository_app() -> FunctionApp {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy/functionapp");
    FunctionApp::load(&root).expect("deploy/functionapp must load")
}

fn translate(
    function: &FunctionDefinition,
    invocation: &Value,
) -> Result<http::Request<bytes::Bytes>, InvocationError> {
    let app = app_with(vec![function.clone()]);
    component_request(
        &app,
        function,
        &HeaderMap::new(),
        &serde_json::to_vec(invocation).unwrap(),
    )
}

fn http_invocation(request: Value) -> Value {
    json!({"Data": {"req": request}, "Metadata": {"sys": {"MethodName": "audit"}}})
}

#[test]
fn query_object_builds_query_string() {
    let invocation = http_invocation(json!({
        "Url": "https://app.example.net/api/audit/7/x",
        "Method": "GET",
        "Query": {"limit": "5", "after": "a b"},
        "Headers": {"Accept": ["application/json"]}
    }));

    let request = translate(&audit_function(), &invocation).unwrap();

    assert_eq!(request.method(), Method::GET);
    assert_eq!(request.uri().path(), "/api/audit/7/x");
    let mut pairs: Vec<&str> = request.uri().query().unwrap().split('&').collect();
    pairs.sort_unstable();
    assert_eq!(pairs, ["after=a%20b", "limit=5"]);
    assert_eq!(request.headers()["accept"], "application/json");
    assert!(request.body().is_empty());
    assert!(request.headers().get("content-length").is_none());
}

#[test]
fn url_query_wins_over_query_object() {
    let invocation = http_invocation(json!({
        "Url": "https://app.example.net/api/audit/7?tag=a&tag=b",
        "Method": "GET",
        "Query": {"tag": "a,b"}
    }));

    let request = translate(&audit_function(), &invocation).unwrap();

    assert_eq!(request.uri().query(), Some("tag=a&tag=b"));
}

#[test]
fn query_string_from_older_hosts_is_accepted() {
    let json_text = http_invocation(json!({
        "Url": "https://app.example.net/api/audit/7",
        "Method": "GET",
        "Query": "{\"limit\":\"10\"}"
    }));
    let raw = http_invocation(json!({
        "Url": "https://app.example.net/api/audit/7",
        "Method": "GET",
        "Query": "?limit=10&after=3"
    }));

    let from_json_text = translate(&audit_function(), &json_text).unwrap();
    let from_raw = translate(&audit_function(), &raw).unwrap();

    assert_eq!(from_json_text.uri().query(), Some("limit=10"));
    assert_eq!(from_raw.uri().query(), Some("limit=10&after=3"));
}

#[test]
fn header_arrays_and_strings_are_accepted() {
    let invocation = http_invocation(json!({
        "Url": "https://app.example.net/api/audit/1",
        "Method": "post",
        "Headers": {
            "X-Tag": ["one", "two"],
            "Content-Type": "application/json",
            "Content-Length": ["999"],
            "Transfer-Encoding": ["chunked"]
        },
        "Body": "{\"email\":\"ana@example.com\"}"
    }));

    let request = translate(&audit_function(), &invocation).unwrap();

    assert_eq!(request.method(), Method::POST);
    let tags: Vec<&str> = request
        .headers()
        .get_all("x-tag")
        .iter()
        .map(|v| v.to_str().unwrap())
        .collect();
    assert_eq!(tags, ["one", "two"]);
    assert_eq!(request.headers()["content-type"], "application/json");
    assert_eq!(request.headers()["content-length"], "27");
    assert!(request.headers().get("transfer-encoding").is_none());
    assert_eq!(request.body().as_ref(), b"{\"email\":\"ana@example.com\"}");
}

#[test]
fn binary_body_survives_byte_for_byte() {
    let original: Vec<u8> = (0..4096u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    let encoded = base64_standard(&original);
    let invocation = http_invocation(json!({
        "Url": "https://app.example.net/api/audit/9",
        "Method": "PUT",
        "Headers": {"Content-Type": ["application/octet-stream"]},
        "Body": encoded
    }));

    let request = translate(&audit_function(), &invocation).unwrap();

    assert_eq!(request.body().len(), original.len());
    assert_eq!(Sha256::digest(request.body()), Sha256::digest(&original));
}

#[test]
fn multipart_body_is_base64_decoded() {
    let original =
        b"--b\r\nContent-Disposition: form-data; name=\"f\"\r\n\r\n\xff\xfe\x00\r\n--b--\r\n"
            .to_vec();
    let invocation = http_invocation(json!({
        "Url": "https://app.example.net/api/audit/9",
        "Method": "POST",
        "Headers": {"Content-Type": ["multipart/form-data; boundary=b"]},
        "Body": base64_standard(&original)
    }));

    let request = translate(&audit_function(), &invocation).unwrap();

    assert_eq!(Sha256::digest(request.body()), Sha256::digest(&original));
}

#[test]
fn text_body_keeps_utf8_bytes() {
    let text = "{\"name\":\"Zoë Ångström 東京 🚀\"}";
    let invocation = http_invocation(json!({
        "Url": "https://app.example.net/api/audit/3",
        "Method": "POST",
        "Headers": {"Content-Type": ["application/json; charset=utf-8"]},
        "Body": text
    }));

    let request = translate(&audit_function(), &invocation).unwrap();

    assert_eq!(request.body().as_ref(), text.as_bytes());
}

#[test]
fn invalid_base64_body_names_field() {
    let invocation = http_invocation(json!({
        "Url": "https://app.example.net/api/audit/9",
        "Method": "PUT",
        "Headers": {"Content-Type": ["application/octet-stream"]},
        "Body": "not base64 !!"
    }));

    let error = translate(&audit_function(), &invocation).unwrap_err();

    assert_eq!(
        error,
        InvocationError::InvalidField {
            field: "Data.req.Body".to_string(),
            expected: "base64 text, as sent for binary content types".to_string(),
        }
    );
}

#[test]
fn params_rebuild_path_without_url() {
    let invocation = http_invocation(json!({
        "Method": "GET",
        "Params": {"id": "42", "rest": "notes/today"},
        "Query": {"limit": "1"}
    }));

    let request = translate(&audit_function(), &invocation).unwrap();

    assert_eq!(request.uri().path(), "/api/audit/42/notes/today");
    assert_eq!(request.uri().query(), Some("limit=1"));
}

#[test]
fn missing_fields_are_named() {
    let cases = [
        (json!({"Metadata": {}}), "Data"),
        (json!({"Data": {}, "Metadata": {}}), "Data.req"),
        (json!({"Data": {"req": null}}), "Data.req"),
        (
            http_invocation(json!({"Url": "https://x/api/audit/1"})),
            "Data.req.Method",
        ),
        (http_invocation(json!({"Method": "GET"})), "Data.req.Url"),
        (
            http_invocation(json!({"Method": "GET", "Params": {"rest": "x"}})),
            "Data.req.Params.id",
        ),
    ];

    for (invocation, field) in cases {
        let error = translate(&audit_function(), &invocation).unwrap_err();
        assert_eq!(
            error,
            InvocationError::MissingField {
                field: field.to_string()
            },
            "{invocation}"
        );
        assert!(error.to_string().contains(&format!("`{field}`")), "{error}");
    }
}

#[test]
fn wrongly_typed_fields_are_named() {
    let cases = [
        (json!({"Data": []}), "Data"),
        (json!({"Data": {"req": {}}, "Metadata": "x"}), "Metadata"),
        (http_invocation(json!("GET /")), "Data.req"),
        (
            http_invocation(json!({"Url": "https://x/a", "Method": 7})),
            "Data.req.Method",
        ),
        (
            http_invocation(json!({"Url": 7, "Method": "GET"})),
            "Data.req.Url",
        ),
        (
            http_invocation(json!({"Url": "https://x/a", "Method": "GET", "Query": 5})),
            "Data.req.Query",
        ),
        (
            http_invocation(json!({"Url": "https://x/a", "Method": "GET", "Headers": []})),
            "Data.req.Headers",
        ),
        (
            http_invocation(
                json!({"Url": "https://x/a", "Method": "GET", "Headers": {"X-A": [1]}}),
            ),
            "Data.req.Headers.X-A",
        ),
    ];

    for (invocation, field) in cases {
        match translate(&audit_function(), &invocation).unwrap_err() {
            InvocationError::InvalidField { field: actual, .. } => {
                assert_eq!(actual, field, "{invocation}")
            }
            other => panic!("expected an invalid-field error for {field}, got {other:?}"),
        }
    }
}

#[test]
fn invalid_header_value_error_omits_value() {
    let secret = "Bearer eyJhbGciOiJSUzI1NiJ9.secret-part\nInjected: yes";
    let invocation = http_invocation(json!({
        "Url": "https://app.example.net/api/audit/1",
        "Method": "GET",
        "Headers": {"Authorization": [secret]}
    }));

    let error = translate(&audit_function(), &invocation).unwrap_err();
    let message = error.to_string();

    assert!(
        message.contains("Data.req.Headers.Authorization"),
        "{message}"
    );
    assert!(!message.contains("secret-part"), "{message}");
    assert!(!format!("{error:?}").contains("secret-part"));
}

#[test]
fn body_that_is_not_json_is_rejected() {
    let app = app_with(vec![audit_function()]);

    let error =
        component_request(&app, &audit_function(), &HeaderMap::new(), b"{\"Data\":").unwrap_err();

    assert!(
        matches!(error, InvocationError::InvalidJson { .. }),
        "{error:?}"
    );
}

#[test]
fn timer_becomes_job_request() {
    let app = repository_app();
    let function = app.function("refresh-summary").unwrap();
    let timer = json!({
        "Schedule": {"AdjustForDST": true},
        "ScheduleStatus": {
            "Last": "2026-12-03T02:00:00+00:00",
            "Next": "2026-12-04T02:00:00+00:00",
            "LastUpdated": "2026-12-03T02:00:00.0123+00:00"
        },
        "IsPastDue": false
    });
    let invocation =
        json!({"Data": {"timer": timer}, "Metadata": {"sys": {"MethodName": "refresh-summary"}}});
    let mut headers = HeaderMap::new();
    headers.insert(
        INVOCATION_ID_HEADER,
        HeaderValue::from_static("1c6f0c8e-52d5-4a2b-9d4f-0b1e2f3a4b5c"),
    );

    let request = component_request(
        &app,
        function,
        &headers,
        &serde_json::to_vec(&invocation).unwrap(),
    )
    .unwrap();

    assert_eq!(request.method(), Method::POST);
    assert_eq!(request.uri().path(), "/internal/jobs/refresh-summary");
    assert_eq!(request.headers()["content-type"], "application/json");
    assert_eq!(
        request.headers()[INVOCATION_ID_HEADER],
        "1c6f0c8e-52d5-4a2b-9d4f-0b1e2f3a4b5c"
    );
    let body: Value = serde_json::from_slice(request.body()).unwrap();
    assert_eq!(body, timer);
}

#[test]
fn timer_with_null_schedule_status_is_accepted() {
    let app = repository_app();
    let function = app.function("refresh-summary").unwrap();
    let invocation =
        json!({"Data": {"timer": {"Schedule": {}, "ScheduleStatus": null, "IsPastDue": true}}});

    let request = component_request(
        &app,
        function,
        &HeaderMap::new(),
        &serde_json::to_vec(&invocation).unwrap(),
    )
    .unwrap();

    let body: Value = serde_json::from_slice(request.body()).unwrap();
    assert_eq!(body["IsPastDue"], json!(true));
}

#[test]
fn timer_errors_name_fields() {
    let app = repository_app();
    let function = app.function("refresh-summary").unwrap();
    let run = |invocation: Value| {
        component_request(
            &app,
            function,
            &HeaderMap::new(),
            &serde_json::to_vec(&invocation).unwrap(),
        )
        .unwrap_err()
    };

    assert_eq!(
        run(json!({"Data": {}})),
        InvocationError::MissingField {
            field: "Data.timer".to_string()
        }
    );
    assert!(matches!(
        run(json!({"Data": {"timer": {"IsPastDue": "no"}}})),
        InvocationError::InvalidField { field, .. } if field == "Data.timer.IsPastDue"
    ));
}

#[test]
fn unsupported_trigger_is_reported() {
    let function = FunctionDefinition {
        name: "orders".to_string(),
        bindings: vec![binding("queueTrigger", Direction::In, "message", None)],
        disabled: false,
        dispatch: Dispatch::JsonInvocation,
    };

    let error = translate(&function, &json!({"Data": {"message": "hello"}})).unwrap_err();

    assert_eq!(
        error,
        InvocationError::UnsupportedTrigger {
            function: "orders".to_string(),
            trigger_type: "queueTrigger".to_string()
        }
    );
}

fn base64_standard(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}
