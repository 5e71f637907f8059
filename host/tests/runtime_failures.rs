//! Guest failures through `Host::handle`: a trap, a missing response, an endless loop and
//! a memory blow-up each fail only their own request, and the host keeps serving.
//!
//! The guests are tiny components written in the WebAssembly text format that export
//! `wasi:http/incoming-handler@0.2.6` the way the keyless component does.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{Request, StatusCode};
use keyless_host::secret::Secret;
use keyless_host::token::static_source::{StaticToken, StaticTokenProvider};
use keyless_host::{Host, HostConfig};

/// Builds a component whose `handle` runs `body`, a core function body over two `i32`
/// handle parameters, with one page of memory that may grow.
fn guest(body: &str) -> String {
    format!(
        r#"(component
  (import "wasi:http/types@0.2.6" (instance $types
    (export "incoming-request" (type (sub resource)))
    (export "response-outparam" (type (sub resource)))))
  (alias export $types "incoming-request" (type $request))
  (alias export $types "response-outparam" (type $outparam))
  (core module $module
    (memory (export "memory") 1)
    (func (export "handle") (param i32 i32) {body}))
  (core instance $instance (instantiate $module))
  (func $handle (param "request" (own $request)) (param "response-out" (own $outparam))
    (canon lift (core func $instance "handle")))
  (instance $handler (export "handle" (func $handle)))
  (export "wasi:http/incoming-handler@0.2.6" (instance $handler)))"#
    )
}

fn host_for(wat: &str, dir: &tempfile::TempDir, name: &str) -> Host {
    let path = dir.path().join(format!("{name}.wat"));
    std::fs::write(&path, wat).expect("the component text is written");
    let config = HostConfig {
        component: path,
        request_timeout: Duration::from_secs(2),
        max_memory_bytes: 4 * 1024 * 1024,
        ..HostConfig::default()
    };
    let tokens = Arc::new(StaticTokenProvider::new(StaticToken::Value(Secret::new("unused"))));
    Host::new(config, tokens).expect("the test component compiles and links")
}

fn request() -> Request<Bytes> {
    Request::get("/api/clients").body(Bytes::new()).unwrap()
}

async fn assert_problem(host: &Host, expected: StatusCode) {
    let response = host.handle(request()).await;
    assert_eq!(response.status(), expected);
    assert_eq!(response.headers()["content-type"], "application/problem+json");
    let body: serde_json::Value = serde_json::from_slice(response.body()).expect("problem JSON");
    assert_eq!(body["status"], expected.as_u16());
}

#[tokio::test(flavor = "multi_thread")]
async fn trap_is_500_and_host_stays_up() {
    let dir = tempfile::tempdir().unwrap();
    let host = host_for(&guest("unreachable"), &dir, "trap");

    assert_problem(&host, StatusCode::INTERNAL_SERVER_ERROR).await;
    assert_problem(&host, StatusCode::INTERNAL_SERVER_ERROR).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn missing_response_is_500() {
    let dir = tempfile::tempdir().unwrap();
    let host = host_for(&guest("nop"), &dir, "silent");

    assert_problem(&host, StatusCode::INTERNAL_SERVER_ERROR).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn endless_loop_hits_deadline() {
    let dir = tempfile::tempdir().unwrap();
    let host = host_for(&guest("(loop br 0)"), &dir, "loop");

    let started = Instant::now();
    assert_problem(&host, StatusCode::GATEWAY_TIMEOUT).await;
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "the 2 s deadline stopped the loop in under 10 s"
    );

    assert_problem(&host, StatusCode::GATEWAY_TIMEOUT).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn memory_limit_traps() {
    let dir = tempfile::tempdir().unwrap();
    // 128 pages are 8 MiB, twice the 4 MiB limit, and the host traps on a refused grow
    // (500). Without the limit the grow succeeds and the guest loops until the deadline (504).
    let body = "(if (i32.eq (memory.grow (i32.const 128)) (i32.const -1)) (then unreachable) (else (loop br 0)))";
    let host = host_for(&guest(body), &dir, "grow");

    assert_problem(&host, StatusCode::INTERNAL_SERVER_ERROR).await;
}
