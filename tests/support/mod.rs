//! A running keyless API for component tests: a throwaway PostgreSQL cluster with
//! `schema.sql` loaded, a login role whose password is a static token, and the release
//! component in `keyless_host::Host`.

use std::sync::Arc;

use bytes::Bytes;
use http::{Request, Response};
use keyless_devkit::component::component_wasm;
use keyless_devkit::postgres::{ClusterOptions, TestCluster};
use keyless_host::secret::Secret;
use keyless_host::token::static_source::{StaticToken, StaticTokenProvider};
use keyless_host::{Host, HostConfig};
use serde_json::Value as Json;

/// Database the component uses.
pub const DATABASE: &str = "keyless";

/// Login role the component connects as.
pub const ROLE: &str = "keyless_app";

/// The role's password, standing in for an Entra access token.
pub const TOKEN: &str = "eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9.component-test-token.c2lnbmF0dXJl";

/// Privileges the function needs, as an Entra role would be granted them.
const GRANTS: &str = "grant select, insert, update, delete on clients to keyless_app; \
                      grant select, insert, update on client_summary to keyless_app;";

/// The cluster and a host running the component against it.
pub struct Api {
    /// The database server; dropping it stops the server.
    pub cluster: TestCluster,
    host: Host,
}

impl Api {
    /// Starts a cluster with the sample schema and a host whose static token is the role's
    /// password.
    pub async fn start() -> Api {
        Api::start_with_token(TOKEN).await
    }

    /// Starts a cluster with the sample schema and a host that presents `token` as the
    /// password, so a token other than `TOKEN` fails authentication.
    pub async fn start_with_token(token: &str) -> Api {
        let cluster = tokio::task::spawn_blocking(|| TestCluster::start(ClusterOptions::default()))
            .await
            .expect("cluster start task")
            .expect("start PostgreSQL");
        cluster.create_database(DATABASE).await;
        cluster.load_sample(DATABASE).await;
        cluster.create_login_role(ROLE, TOKEN, None).await;
        cluster
            .client(DATABASE)
            .await
            .batch_execute(GRANTS)
            .await
            .expect("grant privileges to the function's role");

        let wasm = tokio::task::spawn_blocking(component_wasm)
            .await
            .expect("component build task");
        let config = HostConfig {
            component: wasm,
            component_env: vec![
                ("PGHOST".into(), cluster.host().into()),
                ("PGPORT".into(), cluster.port().to_string()),
                ("PGDATABASE".into(), DATABASE.into()),
                ("PGUSER".into(), ROLE.into()),
                ("PGSSLMODE".into(), "disable".into()),
            ],
            allowed_db_hosts: vec![format!("{}:{}", cluster.host(), cluster.port())],
            ..HostConfig::default()
        };
        let tokens = Arc::new(StaticTokenProvider::new(StaticToken::Value(Secret::new(
            token,
        ))));
        let host = Host::new(config, tokens).expect("load the component into the host");

        Api { cluster, host }
    }

    /// Sends a request without a body.
    pub async fn send(&self, method: &str, path: &str) -> Response<Bytes> {
        self.send_body(method, path, None, Bytes::new()).await
    }

    /// Sends `body` as `application/json`.
    pub async fn send_json(&self, method: &str, path: &str, body: &Json) -> Response<Bytes> {
        self.send_body(
            method,
            path,
            Some("application/json"),
            Bytes::from(body.to_string()),
        )
        .await
    }

    /// Sends a request with an optional content type and a raw body.
    pub async fn send_body(
        &self,
        method: &str,
        path: &str,
        content_type: Option<&str>,
        body: Bytes,
    ) -> Response<Bytes> {
        let mut builder = Request::builder()
            .method(method)
            .uri(path)
            .header("host", "localhost");
        if let Some(content_type) = content_type {
            builder = builder.header("content-type", content_type);
        }
        let request = builder.body(body).expect("valid test request");

        let response = self.host.handle(request).await;
        let text = String::from_utf8_lossy(response.body());
        assert!(
            !text.contains(TOKEN),
            "the token leaked into a response body: {text}"
        );
        response
    }
}

/// Parses a JSON response body.
pub fn json_body(response: &Response<Bytes>) -> Json {
    serde_json::from_slice(response.body()).unwrap_or_else(|err| {
        panic!(
            "response body is not JSON ({err}): {}",
            String::from_utf8_lossy(response.body())
        )
    })
}

/// Returns a header's value as text.
pub fn header<'r>(response: &'r Response<Bytes>, name: &str) -> Option<&'r str> {
    response
        .headers()
        .get(name)
        .and_then(|value| value.to_str().ok())
}

/// Asserts an RFC 9457 problem response with `status` and returns its detail.
pub fn problem_detail(response: &Response<Bytes>, status: u16) -> String {
    assert_eq!(
        response.status().as_u16(),
        status,
        "body: {}",
        String::from_utf8_lossy(response.body())
    );
    assert_eq!(
        header(response, "content-type"),
        Some("application/problem+json")
    );
    let problem = json_body(response);
    assert_eq!(problem["type"], "about:blank");
    assert_eq!(problem["status"], status);
    assert!(
        problem["title"]
            .as_str()
            .is_some_and(|title| !title.is_empty())
    );
    problem["detail"]
        .as_str()
        .expect("problem has a string detail")
        .to_string()
}
