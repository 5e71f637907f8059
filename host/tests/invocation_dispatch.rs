//! A JSON invocation end to end: translation, a stand-in component, and the reply read back
//! the way the Functions host and a client read it.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use bytes::Bytes;
use http::{HeaderMap, Request, Response, StatusCode};
use keyless_host::invocation::response::decode_http_output;
use keyless_host::invocation::{
    Binding, Direction, Dispatch, FunctionApp, FunctionDefinition, dispatch_json_invocation,
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

fn upload_function() -> FunctionDefinition {
    FunctionDefinition {
        name: "upload".to_string(),
        bindings: vec![
            binding("httpTrigger", Direction::In, "req", Some("files/{name}")),
            binding("http", Direction::Out, "res", None),
            binding("blob", Direction::Out, "copy", None),
        ],
        disabled: false,
        dispatch: Dispatch::JsonInvocation,
    }
}

/// Stand-in component: returns the request body with the request's content type.
async fn echo_component(request: Request<Bytes>) -> Response<Bytes> {
    let content_type = request.headers().get("content-type").cloned();
    let mut response = Response::new(request.body().clone());
    if let Some(content_type) = content_type {
        response.headers_mut().insert("content-type", content_type);
    }
    response
}

#[tokio::test]
async fn binary_body_survives_round_trip() {
    let function = upload_function();
    let app = FunctionApp::from_parts(
        PathBuf::from("/app"),
        "api".to_string(),
        true,
        vec![function.clone()],
    );
    let original: Vec<u8> = (0..50_000u32)
        .map(|i| (i.wrapping_mul(0x9E37_79B9) >> 24) as u8)
        .collect();
    let invocation = json!({
        "Data": {"req": {
            "Url": "https://app.example.net/api/files/photo.bin",
            "Method": "PUT",
            "Headers": {"Content-Type": ["application/octet-stream"]},
            "Params": {"name": "photo.bin"},
            "Body": BASE64.encode(&original)
        }},
        "Metadata": {}
    });

    let reply = dispatch_json_invocation(
        &app,
        &function,
        &HeaderMap::new(),
        &serde_json::to_vec(&invocation).unwrap(),
        |request| async move {
            assert_eq!(request.method(), http::Method::PUT);
            assert_eq!(request.uri().path(), "/api/files/photo.bin");
            echo_component(request).await
        },
    )
    .await;

    assert_eq!(reply.status(), StatusCode::OK);
    let document: Value = serde_json::from_slice(reply.body()).unwrap();
    let client_view = decode_http_output(&document["Outputs"]["res"], "Outputs.res").unwrap();
    assert_eq!(
        client_view.headers()["content-type"],
        "application/octet-stream"
    );
    assert_eq!(
        Sha256::digest(client_view.body()),
        Sha256::digest(&original)
    );
}

#[tokio::test]
async fn timer_reaches_job_route() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy/functionapp");
    let app = FunctionApp::load(&root).unwrap();
    let function = app
        .json_invocation_target(&http::Method::POST, "/refresh-summary")
        .unwrap();
    let invocation = json!({"Data": {"timer": {"Schedule": {}, "ScheduleStatus": null, "IsPastDue": false}}, "Metadata": {}});

    let reply = dispatch_json_invocation(
        &app,
        function,
        &HeaderMap::new(),
        &serde_json::to_vec(&invocation).unwrap(),
        |request| async move {
            assert_eq!(request.method(), http::Method::POST);
            assert_eq!(request.uri().path(), "/internal/jobs/refresh-summary");
            Response::new(Bytes::from_static(b"[{\"total\":5}]"))
        },
    )
    .await;

    assert_eq!(reply.status(), StatusCode::OK);
    let document: Value = serde_json::from_slice(reply.body()).unwrap();
    assert_eq!(
        document["Logs"],
        json!(["refresh-summary succeeded: component returned 200 OK: [{\"total\":5}]"])
    );
}

#[tokio::test]
async fn invalid_invocation_skips_component() {
    let function = upload_function();
    let app = FunctionApp::from_parts(
        PathBuf::from("/app"),
        "api".to_string(),
        true,
        vec![function.clone()],
    );
    let called = AtomicBool::new(false);

    let reply = dispatch_json_invocation(
        &app,
        &function,
        &HeaderMap::new(),
        b"{\"Metadata\": {}}",
        |request| {
            called.store(true, Ordering::SeqCst);
            echo_component(request)
        },
    )
    .await;

    assert!(!called.load(Ordering::SeqCst));
    assert_eq!(reply.status(), StatusCode::BAD_REQUEST);
    let problem: Value = serde_json::from_slice(reply.body()).unwrap();
    assert_eq!(
        problem["detail"],
        json!("invocation field `Data` is missing")
    );
}
