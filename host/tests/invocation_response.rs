//! Component responses translated into replies to JSON invocations, and those replies read
//! back the way the Functions host reads them.

use std::path::{Path, PathBuf};

use bytes::Bytes;
use http::{Response, StatusCode};
use keyless_host::invocation::response::{
    BODY_ENCODING_HEADER, decode_http_output, invalid_invocation_reply, invocation_reply,
};
use keyless_host::invocation::{
    Binding, Direction, Dispatch, FunctionApp, FunctionDefinition, InvocationError,
};
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

fn binding(binding_type: &str, direction: Direction, name: &str) -> Binding {
    Binding {
        name: name.to_string(),
        binding_type: binding_type.to_string(),
        direction,
        route: None,
        raw: Map::new(),
    }
}

fn http_function(output_name: &str) -> FunctionDefinition {
    FunctionDefinition {
        name: "audit".to_string(),
        bindings: vec![
            binding("httpTrigger", Direction::In, "req"),
            binding("http", Direction::Out, output_name),
            binding("queue", Direction::Out, "message"),
        ],
        disabled: false,
        dispatch: Dispatch::JsonInvocation,
    }
}

fn refresh_summary() -> FunctionDefinition {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy/functionapp");
    FunctionApp::load(&root)
        .unwrap()
        .function("refresh-summary")
        .unwrap()
        .clone()
}

fn component_response(
    status: u16,
    headers: &[(&str, &str)],
    body: impl Into<Bytes>,
) -> Response<Bytes> {
    let mut builder = Response::builder().status(status);
    for (name, value) in headers {
        builder = builder.header(*name, *value);
    }
    builder.body(body.into()).unwrap()
}

fn reply_json(reply: &Response<Bytes>) -> Value {
    assert_eq!(reply.headers()["content-type"], "application/json");
    serde_json::from_slice(reply.body()).unwrap()
}

#[test]
fn http_output_has_status_headers_and_body() {
    let body = "{\"id\":7,\"email\":\"ana@example.com\"}";
    let response = component_response(
        201,
        &[
            ("content-type", "application/json"),
            ("location", "/api/clients/7"),
            ("content-length", "34"),
        ],
        body,
    );

    let reply = invocation_reply(&http_function("res"), response);
    let document = reply_json(&reply);

    assert_eq!(reply.status(), StatusCode::OK);
    let output = &document["Outputs"]["res"];
    assert_eq!(output["statusCode"], json!(201));
    assert_eq!(output["body"], json!(body));
    assert_eq!(output["headers"]["content-type"], json!("application/json"));
    assert_eq!(output["headers"]["location"], json!("/api/clients/7"));
    assert!(output["headers"].get("content-length").is_none());
    assert!(output.get("isBase64Encoded").is_none());
    assert_eq!(document["Logs"], json!([]));
    assert_eq!(document["ReturnValue"], Value::Null);
}

#[test]
fn utf8_body_round_trips_without_encoding() {
    let body = "{\"name\":\"Zoë Ångström 東京 🚀\"}".as_bytes().to_vec();
    let response = component_response(200, &[("content-type", "application/json")], body.clone());

    let document = reply_json(&invocation_reply(&http_function("res"), response));
    let client_view = decode_http_output(&document["Outputs"]["res"], "Outputs.res").unwrap();

    assert_eq!(client_view.status(), StatusCode::OK);
    assert_eq!(Sha256::digest(client_view.body()), Sha256::digest(&body));
    assert!(client_view.headers().get(BODY_ENCODING_HEADER).is_none());
}

#[test]
fn binary_body_round_trips_through_base64() {
    let body: Vec<u8> = (0..=255u8).cycle().take(70_000).collect();
    let response = component_response(
        200,
        &[("content-type", "application/octet-stream")],
        body.clone(),
    );

    let document = reply_json(&invocation_reply(&http_function("res"), response));
    let output = &document["Outputs"]["res"];

    assert_eq!(output["isBase64Encoded"], json!(true));
    assert_eq!(output["headers"][BODY_ENCODING_HEADER], json!("base64"));
    assert!(output["body"].is_string());
    let logs = document["Logs"].as_array().unwrap();
    assert_eq!(logs.len(), 1);
    assert!(
        logs[0].as_str().unwrap().contains("70000 bytes"),
        "{logs:?}"
    );

    let client_view = decode_http_output(output, "Outputs.res").unwrap();
    assert_eq!(client_view.body().len(), body.len());
    assert_eq!(Sha256::digest(client_view.body()), Sha256::digest(&body));
    assert_eq!(
        client_view.headers()["content-type"],
        "application/octet-stream"
    );
}

#[test]
fn repeated_headers_become_one_string() {
    let response = component_response(
        200,
        &[
            ("vary", "accept"),
            ("vary", "accept-encoding"),
            ("transfer-encoding", "chunked"),
            ("connection", "keep-alive"),
            ("set-cookie", "a=1"),
            ("set-cookie", "b=2"),
        ],
        "ok",
    );

    let document = reply_json(&invocation_reply(&http_function("res"), response));
    let headers = &document["Outputs"]["res"]["headers"];

    assert_eq!(headers["vary"], json!("accept, accept-encoding"));
    assert_eq!(headers["set-cookie"], json!("a=1, b=2"));
    assert!(headers.get("transfer-encoding").is_none());
    assert!(headers.get("connection").is_none());
    let logs = document["Logs"].as_array().unwrap();
    assert!(
        logs.iter()
            .any(|line| line.as_str().unwrap().contains("Set-Cookie")),
        "{logs:?}"
    );
}

#[test]
fn return_binding_fills_return_value() {
    let response = component_response(
        404,
        &[("content-type", "application/problem+json")],
        "{\"status\":404}",
    );

    let document = reply_json(&invocation_reply(&http_function("$return"), response));

    assert_eq!(document["Outputs"], json!({}));
    assert_eq!(document["ReturnValue"]["statusCode"], json!(404));
    assert_eq!(document["ReturnValue"]["body"], json!("{\"status\":404}"));
}

#[test]
fn component_error_status_stays_inside_http_output() {
    let response = component_response(503, &[("retry-after", "5")], "database unavailable");

    let reply = invocation_reply(&http_function("res"), response);
    let document = reply_json(&reply);

    assert_eq!(reply.status(), StatusCode::OK);
    assert_eq!(document["Outputs"]["res"]["statusCode"], json!(503));
    assert_eq!(
        document["Outputs"]["res"]["headers"]["retry-after"],
        json!("5")
    );
}

#[test]
fn timer_success_is_summarised_in_logs() {
    let response = component_response(
        200,
        &[("content-type", "application/json")],
        "{\n  \"total\": 12,\n  \"refreshed_at\": \"2026-12-04T02:00:00Z\"\n}",
    );

    let reply = invocation_reply(&refresh_summary(), response);
    let document = reply_json(&reply);

    assert_eq!(reply.status(), StatusCode::OK);
    assert_eq!(document["Outputs"], json!({}));
    assert_eq!(document["ReturnValue"], Value::Null);
    let logs = document["Logs"].as_array().unwrap();
    assert_eq!(logs.len(), 1);
    assert_eq!(
        logs[0],
        json!(
            "refresh-summary succeeded: component returned 200 OK: { \"total\": 12, \"refreshed_at\": \"2026-12-04T02:00:00Z\" }"
        )
    );
}

#[test]
fn timer_failure_fails_invocation() {
    let response = component_response(
        503,
        &[("content-type", "application/problem+json")],
        "{\"title\":\"database unavailable\"}",
    );

    let reply = invocation_reply(&refresh_summary(), response);
    let document = reply_json(&reply);

    assert_eq!(reply.status(), StatusCode::INTERNAL_SERVER_ERROR);
    let line = document["Logs"][0].as_str().unwrap();
    assert!(
        line.starts_with("refresh-summary failed: component returned 503 Service Unavailable"),
        "{line}"
    );
    assert!(line.contains("database unavailable"), "{line}");
}

#[test]
fn timer_log_excerpt_is_bounded() {
    let long_body = "x".repeat(5000);
    let binary_body = vec![0xffu8, 0xfe, 0x00];

    let long = reply_json(&invocation_reply(
        &refresh_summary(),
        component_response(200, &[], long_body),
    ));
    let binary = reply_json(&invocation_reply(
        &refresh_summary(),
        component_response(200, &[], binary_body),
    ));
    let empty = reply_json(&invocation_reply(
        &refresh_summary(),
        component_response(204, &[], ""),
    ));

    let long_line = long["Logs"][0].as_str().unwrap();
    assert!(long_line.ends_with(" ..."), "{long_line}");
    assert!(long_line.len() < 1100, "{}", long_line.len());
    assert!(
        binary["Logs"][0]
            .as_str()
            .unwrap()
            .ends_with("(3 bytes, not UTF-8 text)")
    );
    assert!(empty["Logs"][0].as_str().unwrap().ends_with("(empty body)"));
}

#[test]
fn decode_accepts_status_code_as_string() {
    let cases = [
        (json!({"statusCode": "201", "body": "x"}), 201),
        (json!({"statusCode": 202, "body": "x"}), 202),
        (json!({"status": "404", "body": "x"}), 404),
        (json!({"StatusCode": 409, "Body": "x"}), 409),
        (json!({"body": "x"}), 200),
    ];

    for (output, expected) in cases {
        let response = decode_http_output(&output, "Outputs.res").unwrap();
        assert_eq!(response.status().as_u16(), expected, "{output}");
        assert_eq!(response.body().as_ref(), b"x");
    }
}

#[test]
fn decode_errors_name_fields() {
    let cases = [
        (json!("text"), "Outputs.res"),
        (json!({"statusCode": "abc"}), "Outputs.res.statusCode"),
        (json!({"statusCode": 99999}), "Outputs.res.statusCode"),
        (json!({"statusCode": [200]}), "Outputs.res.statusCode"),
        (json!({"headers": []}), "Outputs.res.headers"),
        (
            json!({"headers": {"vary": ["a", "b"]}}),
            "Outputs.res.headers.vary",
        ),
        (
            json!({"body": "!!", "isBase64Encoded": true}),
            "Outputs.res.body",
        ),
    ];

    for (output, field) in cases {
        match decode_http_output(&output, "Outputs.res").unwrap_err() {
            InvocationError::InvalidField { field: actual, .. } => {
                assert_eq!(actual, field, "{output}")
            }
            other => panic!("expected an invalid-field error for {field}, got {other:?}"),
        }
    }
}

#[test]
fn invalid_invocation_reply_is_problem_json() {
    let bad_input = invalid_invocation_reply(&InvocationError::MissingField {
        field: "Data.req.Method".to_string(),
    });
    let bad_definition = invalid_invocation_reply(&InvocationError::UnsupportedTrigger {
        function: "orders".to_string(),
        trigger_type: "queueTrigger".to_string(),
    });

    assert_eq!(bad_input.status(), StatusCode::BAD_REQUEST);
    assert_eq!(
        bad_input.headers()["content-type"],
        "application/problem+json"
    );
    let problem: Value = serde_json::from_slice(bad_input.body()).unwrap();
    assert_eq!(problem["status"], json!(400));
    assert_eq!(
        problem["detail"],
        json!("invocation field `Data.req.Method` is missing")
    );
    assert_eq!(bad_definition.status(), StatusCode::INTERNAL_SERVER_ERROR);
}

#[test]
fn repository_app_has_expected_dispatch() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../deploy/functionapp");
    let app = FunctionApp::load(&root).unwrap();

    let forwarded: Vec<&str> = app
        .functions()
        .filter(|function| function.dispatch == Dispatch::Forwarded)
        .map(|function| function.name.as_str())
        .collect();
    assert_eq!(forwarded, ["clients", "health"]);
    assert!(
        app.json_invocation_target(&http::Method::POST, "/refresh-summary")
            .is_some()
    );
}
