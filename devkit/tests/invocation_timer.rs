//! The refresh-summary timer end to end, as the Functions host would run it. The real
//! handler starts in deploy/functionapp and gets a JSON timer invocation over loopback
//! HTTP. The component's job route then writes to a real PostgreSQL through a role that has
//! exactly the privileges of deploy/grant.sql.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use keyless_devkit::component::{component_wasm, target_dir, workspace_root};
use keyless_devkit::postgres::{ClusterOptions, TestCluster, random_password};
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const APP_ROLE: &str = "keyless-func";
const APP_DATABASE: &str = "keyless";

/// Seconds to wait for the handler's readiness probe. The debug handler compiles the
/// component at start, which takes several seconds on a small machine.
const READY_TIMEOUT: Duration = Duration::from_secs(180);

/// Stand-in for Azure's `pgaadauth_create_principal`, which exists only on Azure.
const CREATE_PRINCIPAL_STUB: &str = "
create function pgaadauth_create_principal(role_name text, is_admin boolean, is_mfa boolean)
returns text language plpgsql as $$
begin
    execute format('create role %I login', role_name);
    return format('Created role for %s', role_name);
end
$$;";

/// The handler process, stopped when the test ends.
struct Handler {
    child: Child,
    port: u16,
}

impl Drop for Handler {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Builds the debug `handler` binary (a no-op when it is up to date) and returns its path.
fn handler_binary() -> PathBuf {
    let root = workspace_root();
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let status = Command::new(cargo)
        .current_dir(&root)
        .args(["build", "-p", "keyless-host", "--bin", "handler"])
        .status()
        .expect("failed to run cargo");
    assert!(status.success(), "building the handler failed ({status})");
    target_dir(&root).join("debug").join("handler")
}

fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

/// Sends one HTTP/1.1 request and returns the status code and body.
async fn send(
    port: u16,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> (u16, String) {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    let mut request = format!(
        "{method} {path} HTTP/1.1\r\nhost: 127.0.0.1:{port}\r\nconnection: close\r\ncontent-length: {}\r\n",
        body.len()
    );
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str("\r\n");
    request.push_str(body);
    stream.write_all(request.as_bytes()).await.unwrap();

    let mut response = Vec::new();
    stream.read_to_end(&mut response).await.unwrap();
    let response = String::from_utf8(response).unwrap();
    let status = response.split(' ').nth(1).unwrap().parse().unwrap();
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, body)| body.to_string())
        .unwrap_or_default();
    (status, body)
}

async fn prepared_cluster() -> (TestCluster, String) {
    let cluster = TestCluster::start(ClusterOptions::default())
        .unwrap_or_else(|err| panic!("cluster failed to start: {err:#}"));
    cluster.create_database(APP_DATABASE).await;
    cluster.load_sample(APP_DATABASE).await;
    cluster
        .client("postgres")
        .await
        .batch_execute(CREATE_PRINCIPAL_STUB)
        .await
        .unwrap();

    let output = Command::new("psql")
        .arg(format!(
            "host={} port={} user={} dbname=postgres sslmode=disable",
            cluster.host(),
            cluster.port(),
            cluster.superuser()
        ))
        .args([
            "-X",
            "-q",
            "-v",
            &format!("app_name={APP_ROLE}"),
            "-v",
            &format!("app_database={APP_DATABASE}"),
        ])
        .arg("-f")
        .arg(workspace_root().join("deploy/grant.sql"))
        .env("PGPASSWORD", cluster.superuser_password())
        .output()
        .expect("failed to run psql");
    assert!(
        output.status.success(),
        "grant.sql failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );

    let password = random_password(24);
    cluster.set_password(APP_ROLE, &password, None).await;
    (cluster, password)
}

async fn start_handler(cluster: &TestCluster, password: &str) -> Handler {
    let port = free_port();
    let child = Command::new(handler_binary())
        .arg("--component")
        .arg(component_wasm())
        .current_dir(workspace_root().join("deploy/functionapp"))
        .env("FUNCTIONS_CUSTOMHANDLER_PORT", port.to_string())
        .env(
            "FUNCTIONS_APP_ROOT_PATH",
            workspace_root().join("deploy/functionapp"),
        )
        .env("KEYLESS_TOKEN_SOURCE", "static")
        .env("KEYLESS_STATIC_TOKEN", password)
        .env("PGHOST", cluster.host())
        .env("PGPORT", cluster.port().to_string())
        .env("PGDATABASE", APP_DATABASE)
        .env("PGUSER", APP_ROLE)
        .env("PGSSLMODE", "disable")
        .env("RUST_LOG", "info")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("failed to start the handler");
    let handler = Handler { child, port };

    let deadline = Instant::now() + READY_TIMEOUT;
    loop {
        if let Ok(mut stream) = TcpStream::connect(("127.0.0.1", port)).await {
            let _ = stream.shutdown().await;
            if send(port, "GET", "/", &[], "").await.0 == 200 {
                return handler;
            }
        }
        assert!(
            Instant::now() < deadline,
            "the handler did not become ready within {READY_TIMEOUT:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn timer_invocation_refreshes_summary() {
    let (cluster, password) = prepared_cluster().await;
    let admin = cluster.client(APP_DATABASE).await;
    admin
        .batch_execute("update client_summary set total = 0, refreshed_at = timestamptz '2000-01-01 00:00:00+00'")
        .await
        .unwrap();
    let handler = start_handler(&cluster, &password).await;
    let invocation = r#"{"Data": {"timer": {"Schedule": {"AdjustForDST": true}, "ScheduleStatus": null, "IsPastDue": false}},
                         "Metadata": {"sys": {"MethodName": "refresh-summary"}}}"#;

    let (status, body) = send(
        handler.port,
        "POST",
        "/refresh-summary",
        &[
            ("content-type", "application/json"),
            (
                "x-azure-functions-invocationid",
                "7d9c2f0e-1b2a-4c3d-8e9f-0a1b2c3d4e5f",
            ),
        ],
        invocation,
    )
    .await;

    assert_eq!(status, 200, "{body}");
    let reply: Value = serde_json::from_str(&body).unwrap();
    let line = reply["Logs"][0].as_str().unwrap();
    assert!(
        line.starts_with("refresh-summary succeeded: component returned 200 OK"),
        "{line}"
    );
    assert_eq!(reply["Outputs"], serde_json::json!({}));
    let row = admin
        .query_one(
            "select total, refreshed_at > timestamptz '2001-01-01 00:00:00+00' from client_summary",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(row.get::<_, Option<i64>>(0), Some(5));
    assert!(row.get::<_, bool>(1), "refreshed_at was not updated");

    // The job route is reachable only through a timer invocation, and a malformed
    // invocation never reaches the component. Both run on the same handler because each
    // start compiles the component.
    let (direct, _) = send(
        handler.port,
        "POST",
        "/internal/jobs/refresh-summary",
        &[],
        "{}",
    )
    .await;
    assert_eq!(direct, 404);
    let (malformed, body) = send(
        handler.port,
        "POST",
        "/refresh-summary",
        &[],
        "{\"Metadata\": {}}",
    )
    .await;
    assert_eq!(malformed, 400);
    let problem: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(problem["detail"], "invocation field `Data` is missing");
}
