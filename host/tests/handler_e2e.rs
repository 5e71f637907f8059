//! The real `handler` binary with the release component, against a real PostgreSQL over
//! TLS (verify-full with the test CA), spoken to over loopback HTTP.

mod common;

use std::io::{BufRead, BufReader, Read};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use keyless_devkit::postgres::TestCluster;

use common::handler::{HandlerProcess, component, write_token};
use common::{APP_DATABASE, APP_ROLE, cluster_with_app_role, settled_backend_count};

/// Starts a TLS cluster with the sample schema readable and writable by `app`.
async fn sample_cluster(password: &str) -> TestCluster {
    let cluster = cluster_with_app_role(true, password).await;
    cluster.load_sample(APP_DATABASE).await;
    let admin = cluster.client(APP_DATABASE).await;
    admin
        .batch_execute(&format!(
            "grant select, insert, update, delete on all tables in schema public to {APP_ROLE};
             grant usage, select on all sequences in schema public to {APP_ROLE}"
        ))
        .await
        .expect("grants apply");
    cluster
}

/// Environment for a handler that reaches `cluster` with verify-full and reads its token
/// from `token_file`.
fn handler_env(cluster: &TestCluster, token_file: &std::path::Path) -> Vec<(&'static str, String)> {
    vec![
        ("KEYLESS_COMPONENT", component().display().to_string()),
        ("PGHOST", cluster.host().to_owned()),
        ("PGPORT", cluster.port().to_string()),
        ("PGDATABASE", APP_DATABASE.to_owned()),
        ("PGUSER", APP_ROLE.to_owned()),
        ("PGSSLMODE", "verify-full".to_owned()),
        ("KEYLESS_DB_CA_FILE", cluster.ca_pem_path().display().to_string()),
        ("KEYLESS_STATIC_TOKEN_FILE", token_file.display().to_string()),
    ]
}

fn wait_ready(handler: &HandlerProcess) -> Duration {
    let started = Instant::now();
    loop {
        if let Ok(response) = common::handler::send(handler.address(), "GET", "/", &[], "") {
            assert_eq!(response.status, 200, "readiness probe");
            return started.elapsed();
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "the handler was not ready within 30 s"
        );
        std::thread::sleep(Duration::from_millis(25));
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn serves_clients_over_verify_full() {
    let password = "e2e-password-7f3a";
    let cluster = sample_cluster(password).await;
    let dir = tempfile::tempdir().unwrap();
    let token_file = dir.path().join("token");
    write_token(&token_file, password);

    let handler = HandlerProcess::start(&handler_env(&cluster, &token_file));
    wait_ready(&handler);

    let response = handler.request(
        "GET",
        "/api/clients?limit=2",
        &[("X-Azure-Functions-InvocationId", "inv-0001")],
        "",
    );
    assert_eq!(response.status, 200, "{}", response.body);
    let body: serde_json::Value = serde_json::from_str(&response.body).expect("JSON body");
    let text = body.to_string();
    assert!(text.contains("ana.souza@example.com"), "{text}");
    assert!(text.contains("lukas.meyer@example.org"), "{text}");
    assert!(
        !text.contains("priya.raman@example.net"),
        "limit=2 returns two rows: {text}"
    );

    let response = handler.request("GET", "/api/health", &[], "");
    assert_eq!(response.status, 200, "{}", response.body);

    let output = wait_for_output(&handler, "invocation_id=inv-0001");
    let request_line = output
        .lines()
        .find(|line| line.contains("invocation_id=inv-0001"))
        .unwrap_or_else(|| panic!("no log line with the invocation id:\n{output}"));
    assert!(request_line.contains("path=/api/clients"), "{request_line}");
    assert!(
        !request_line.contains("limit=2"),
        "the query string is not logged: {request_line}"
    );
    assert!(request_line.contains("status=200"), "{request_line}");
    assert!(output.contains("token_source"), "{output}");
    assert!(!output.contains(password), "the password appears in the log:\n{output}");
}

#[tokio::test(flavor = "multi_thread")]
async fn wrong_password_is_503_without_secret() {
    let cluster = sample_cluster("e2e-right-password").await;
    let dir = tempfile::tempdir().unwrap();
    let token_file = dir.path().join("token");
    let wrong = "e2e-wrong-password-91c2";
    write_token(&token_file, wrong);

    let handler = HandlerProcess::start(&handler_env(&cluster, &token_file));
    wait_ready(&handler);

    let response = handler.request(
        "GET",
        "/api/clients",
        &[("X-Azure-Functions-InvocationId", "inv-wrong")],
        "",
    );
    assert_eq!(response.status, 503, "{}", response.body);
    assert!(
        !response.body.contains(wrong),
        "the password appears in the body: {}",
        response.body
    );
    // The reader threads may still be collecting the lines written before the response.
    let output = wait_for_output(&handler, "28P01");
    assert!(!output.contains(wrong), "the password appears in the log:\n{output}");
    assert!(output.contains("28P01"), "the log names the SQLSTATE:\n{output}");
}

/// Returns the handler's output once it contains `needle`, or after 5 s.
fn wait_for_output(handler: &HandlerProcess, needle: &str) -> String {
    let started = Instant::now();
    loop {
        let output = handler.output();
        if output.contains(needle) || started.elapsed() > Duration::from_secs(5) {
            return output;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The Functions host records stderr lines as errors and stdout lines as information, so
/// the request line of a failed login goes to stdout and the error lines to stderr.
#[tokio::test(flavor = "multi_thread")]
async fn errors_go_to_stderr_and_requests_to_stdout() {
    let cluster = sample_cluster("e2e-streams-right").await;
    let dir = tempfile::tempdir().unwrap();
    let token_file = dir.path().join("token");
    write_token(&token_file, "e2e-streams-wrong");

    let handler = SplitHandler::start(&handler_env(&cluster, &token_file));
    let response = common::handler::send(
        handler.address,
        "GET",
        "/api/clients",
        &[("X-Azure-Functions-InvocationId", "inv-streams")],
        "",
    )
    .expect("the request gets a response");
    assert_eq!(response.status, 503, "{}", response.body);

    // The component writes its own error line to the inherited stderr.
    let stderr = handler.wait_for(&handler.stderr, "event=request_failed");
    let error_line = stderr
        .lines()
        .find(|line| line.contains("event=request_failed"))
        .expect("wait_for found it");
    assert!(error_line.contains("28P01"), "{error_line}");
    assert!(error_line.contains("inv-streams"), "{error_line}");

    let stdout = handler.wait_for(&handler.stdout, "invocation_id=inv-streams");
    let request_line = stdout
        .lines()
        .find(|line| line.contains("invocation_id=inv-streams"))
        .expect("wait_for found it");
    assert!(request_line.contains(" INFO "), "{request_line}");
    assert!(request_line.contains("status=503"), "{request_line}");
    assert!(!stdout.contains(" WARN "), "warnings stay off stdout:\n{stdout}");
    assert!(!stdout.contains(" ERROR "), "errors stay off stdout:\n{stdout}");
    assert!(
        !stderr.contains(" INFO "),
        "information stays off stderr:\n{stderr}"
    );
}

/// A `handler` process whose stdout and stderr lines are kept apart.
struct SplitHandler {
    child: std::process::Child,
    address: std::net::SocketAddr,
    stdout: Arc<Mutex<Vec<String>>>,
    stderr: Arc<Mutex<Vec<String>>>,
    _app_root: tempfile::TempDir,
}

impl SplitHandler {
    fn start(env: &[(&str, String)]) -> SplitHandler {
        let app_root = tempfile::tempdir().unwrap();
        let mut command = Command::new(common::handler::handler_binary());
        command
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("RUST_LOG", "info")
            .env("FUNCTIONS_APP_ROOT_PATH", app_root.path())
            .current_dir(app_root.path())
            .args(["--port", "0", "--compile-cache-dir"])
            .arg(common::handler::compile_cache_dir())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (name, value) in env {
            command.env(name, value);
        }
        let mut child = command.spawn().expect("the handler binary starts");
        let stdout = collect(child.stdout.take().unwrap());
        let stderr = collect(child.stderr.take().unwrap());

        let mut handler = SplitHandler {
            child,
            address: ([127, 0, 0, 1], 0).into(),
            stdout,
            stderr,
            _app_root: app_root,
        };
        let lines = handler.wait_for(&handler.stdout, "listening");
        let line = lines.lines().find(|line| line.contains("listening")).unwrap();
        handler.address = common::handler::field(line, "address")
            .and_then(|address| address.parse().ok())
            .unwrap_or_else(|| panic!("no address in {line}"));
        handler
    }

    /// Waits up to 120 s for a line containing `needle` in `lines`, then returns them all.
    fn wait_for(&self, lines: &Arc<Mutex<Vec<String>>>, needle: &str) -> String {
        let started = Instant::now();
        loop {
            let text = lines.lock().unwrap().join("\n");
            if text.contains(needle) {
                return text;
            }
            assert!(
                started.elapsed() < Duration::from_secs(120),
                "no line with {needle:?} within 120 s; stdout:\n{}\nstderr:\n{}",
                self.stdout.lock().unwrap().join("\n"),
                self.stderr.lock().unwrap().join("\n")
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for SplitHandler {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn collect(stream: impl Read + Send + 'static) -> Arc<Mutex<Vec<String>>> {
    let lines = Arc::new(Mutex::new(Vec::new()));
    let sink = lines.clone();
    std::thread::spawn(move || {
        for line in BufReader::new(stream).lines() {
            let Ok(line) = line else { break };
            sink.lock().unwrap().push(line);
        }
    });
    lines
}

#[tokio::test(flavor = "multi_thread")]
async fn routes_outside_api_are_404() {
    let cluster = sample_cluster("e2e-routes").await;
    let dir = tempfile::tempdir().unwrap();
    let token_file = dir.path().join("token");
    write_token(&token_file, "e2e-routes");

    let handler = HandlerProcess::start(&handler_env(&cluster, &token_file));
    wait_ready(&handler);

    for path in ["/internal/jobs/refresh-summary", "/other", "/api"] {
        let response = handler.request("POST", path, &[], "{}");
        assert_eq!(response.status, 404, "{path}: {}", response.body);
        assert_eq!(
            response.header("content-type"),
            Some("application/problem+json"),
            "{path}"
        );
    }

    let response = handler.request("GET", "/api/no-such-route", &[], "");
    assert_eq!(response.status, 404, "the component answers unknown /api/ paths itself");
}

#[tokio::test(flavor = "multi_thread")]
async fn token_rotation_keeps_one_connection() {
    let cluster = sample_cluster("rotation-0").await;
    let dir = tempfile::tempdir().unwrap();
    let token_file = dir.path().join("token");
    write_token(&token_file, "rotation-0");

    let handler = HandlerProcess::start(&handler_env(&cluster, &token_file));
    wait_ready(&handler);

    for round in 0..4 {
        let token = format!("rotation-{round}");
        cluster.set_password(APP_ROLE, &token, None).await;
        write_token(&token_file, &token);

        let response = handler.request("GET", "/api/clients", &[], "");
        assert_eq!(response.status, 200, "round {round}: {}", response.body);
        assert_eq!(
            settled_backend_count(&cluster, APP_ROLE, 1).await,
            1,
            "server connections after round {round}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn sigterm_exits_cleanly() {
    let cluster = sample_cluster("e2e-term").await;
    let dir = tempfile::tempdir().unwrap();
    let token_file = dir.path().join("token");
    write_token(&token_file, "e2e-term");

    let mut handler = HandlerProcess::start(&handler_env(&cluster, &token_file));
    wait_ready(&handler);
    let status = handler
        .terminate(Duration::from_secs(15))
        .expect("the handler exits within 15 s of SIGTERM");
    assert!(status.success(), "exit status {status}");
    assert!(handler.output().contains("shutting down"), "{}", handler.output());
}

/// Copies the release component into `dir` and runs `handler precompile` there, returning
/// the component's path and the `.cwasm` file written.
fn precompile_into(dir: &std::path::Path) -> (std::path::PathBuf, std::path::PathBuf) {
    let wasm = dir.join("keyless.wasm");
    std::fs::copy(component(), &wasm).expect("the component is copied");
    let output = Command::new(common::handler::handler_binary())
        .env_clear()
        .arg("precompile")
        .arg("--component")
        .arg(&wasm)
        .arg("--output")
        .arg(dir)
        .output()
        .expect("handler precompile runs");
    assert!(
        output.status.success(),
        "handler precompile failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    let cwasm = std::path::PathBuf::from(stdout.lines().last().expect("the path is printed"));
    assert_eq!(cwasm.parent(), Some(dir), "{stdout}");
    let name = cwasm.file_name().unwrap().to_string_lossy().into_owned();
    assert!(name.starts_with("keyless."), "{name}");
    assert!(name.ends_with(".cwasm"), "{name}");
    assert!(cwasm.is_file(), "{} was not written", cwasm.display());
    (wasm, cwasm)
}

#[tokio::test(flavor = "multi_thread")]
async fn precompiled_file_loads_or_falls_back() {
    let cluster = sample_cluster("e2e-precompiled").await;
    let dir = tempfile::tempdir().unwrap();
    let token_file = dir.path().join("token");
    write_token(&token_file, "e2e-precompiled");
    let package = tempfile::tempdir().unwrap();
    let (wasm, cwasm) = precompile_into(package.path());
    let mut env = handler_env(&cluster, &token_file);
    env.push(("KEYLESS_COMPONENT", wasm.display().to_string()));

    // No compile cache, so the only fast path is the precompiled file.
    let handler = HandlerProcess::start_with_args(&env, &[]);
    wait_ready(&handler);
    let response = handler.request("GET", "/api/clients?limit=1", &[], "");
    assert_eq!(response.status, 200, "{}", response.body);
    let output = handler.output();
    let loaded = output
        .lines()
        .find(|line| line.contains("component loaded"))
        .unwrap_or_else(|| panic!("no 'component loaded' line:\n{output}"));
    assert!(loaded.contains("source=\"precompiled\""), "{loaded}");
    assert!(loaded.contains(&cwasm.display().to_string()), "{loaded}");
    assert!(common::handler::field(loaded, "load_ms").is_some(), "{loaded}");
    drop(handler);

    // A damaged file is reported and the .wasm is compiled instead.
    let mut bytes = std::fs::read(&cwasm).unwrap();
    bytes.truncate(64);
    bytes[..4].copy_from_slice(b"junk");
    std::fs::write(&cwasm, bytes).unwrap();
    let handler = HandlerProcess::start_with_args(&env, &[]);
    wait_ready(&handler);
    let response = handler.request("GET", "/api/clients?limit=1", &[], "");
    assert_eq!(response.status, 200, "{}", response.body);
    let output = wait_for_output(&handler, "cannot load the precompiled component");
    let warning = output
        .lines()
        .find(|line| line.contains("cannot load the precompiled component"))
        .unwrap_or_else(|| panic!("no warning about the damaged file:\n{output}"));
    assert!(warning.contains(" WARN "), "{warning}");
    assert!(warning.contains(&cwasm.display().to_string()), "{warning}");
    assert!(warning.contains("error="), "{warning}");
    let loaded = output
        .lines()
        .find(|line| line.contains("component loaded"))
        .unwrap_or_else(|| panic!("no 'component loaded' line:\n{output}"));
    assert!(loaded.contains("source=\"compiled\""), "{loaded}");
}

/// Measures the time from spawning the handler to its first successful `GET /api/clients`
/// (TLS login included), five times compiling the component and five times loading the
/// precompiled file. Run with a release build:
/// `KEYLESS_HANDLER_BIN=target/release/handler cargo test -p keyless-host --test handler_e2e
/// startup_time -- --ignored --nocapture`.
#[tokio::test(flavor = "multi_thread")]
#[ignore = "a measurement, not a check; run it by hand"]
async fn startup_time() {
    let cluster = sample_cluster("startup-password").await;
    let dir = tempfile::tempdir().unwrap();
    let token_file = dir.path().join("token");
    write_token(&token_file, "startup-password");
    let binary = common::handler::handler_binary();
    let package = tempfile::tempdir().unwrap();
    let (wasm, cwasm) = precompile_into(package.path());
    let precompiled = std::fs::read(&cwasm).unwrap();

    for mode in ["compiled", "precompiled"] {
        // No compile cache: without the .cwasm every run compiles, as a cold start does.
        if mode == "compiled" {
            std::fs::remove_file(&cwasm).unwrap();
        } else {
            std::fs::write(&cwasm, &precompiled).unwrap();
        }
        let mut env = handler_env(&cluster, &token_file);
        env.push(("KEYLESS_COMPONENT", wasm.display().to_string()));

        let mut results = Vec::new();
        for run in 1..=5 {
            let started = Instant::now();
            let handler = HandlerProcess::start_with_args(&env, &[]);
            let listening = handler.listening_after;
            loop {
                if let Ok(response) = common::handler::send(handler.address(), "GET", "/api/clients", &[], "")
                    && response.status == 200
                {
                    break;
                }
                assert!(
                    started.elapsed() < Duration::from_secs(60),
                    "no successful response within 60 s"
                );
                std::thread::sleep(Duration::from_millis(5));
            }
            let first_success = started.elapsed();
            let loaded = handler
                .output()
                .lines()
                .find(|line| line.contains("component loaded"))
                .unwrap_or_default()
                .to_owned();
            assert!(loaded.contains(&format!("source=\"{mode}\"")), "{loaded}");
            let load_ms = common::handler::field(&loaded, "load_ms").unwrap_or("?");
            println!(
                "{mode} run {run}: listening after {} ms (load {load_ms} ms), first 200 from /api/clients after {} ms",
                listening.as_millis(),
                first_success.as_millis()
            );
            results.push(first_success.as_millis());
        }
        results.sort_unstable();
        println!(
            "binary {}, {mode}: median {} ms, min {} ms, max {} ms",
            binary.display(),
            results[2],
            results[0],
            results[4]
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn missing_component_fails_start() {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_handler"))
        .env_clear()
        .env("KEYLESS_STATIC_TOKEN", "unused")
        .args(["--component", "/nonexistent/keyless.wasm", "--port", "0"])
        .output()
        .expect("the handler runs");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("/nonexistent/keyless.wasm"), "{stderr}");
    assert!(stderr.contains("--component"), "{stderr}");
    let error_line = stderr
        .lines()
        .find(|line| line.contains(" ERROR "))
        .unwrap_or_else(|| panic!("no ERROR log line on stderr:\n{stderr}"));
    assert!(error_line.contains("cannot load the component /nonexistent/keyless.wasm"), "{error_line}");

    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.contains(" INFO handler: starting"), "{stdout}");
    assert!(!stdout.contains(" ERROR "), "errors stay off stdout:\n{stdout}");
}

#[tokio::test(flavor = "multi_thread")]
async fn invalid_allow_list_fails_start() {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_handler"))
        .env_clear()
        .env("KEYLESS_STATIC_TOKEN", "unused")
        .env("KEYLESS_ALLOWED_DB_HOSTS", "db.example.com")
        .args(["--port", "0"])
        .output()
        .expect("the handler runs");
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("\"db.example.com\""), "{stderr}");
    assert!(stderr.contains("expected host:port"), "{stderr}");
}

#[tokio::test(flavor = "multi_thread")]
async fn timer_invocation_refreshes_summary() {
    let cluster = sample_cluster("e2e-timer").await;
    let dir = tempfile::tempdir().unwrap();
    let token_file = dir.path().join("token");
    write_token(&token_file, "e2e-timer");

    let app_root = keyless_devkit::component::workspace_root()
        .join("deploy")
        .join("functionapp");
    let mut env = handler_env(&cluster, &token_file);
    env.push(("FUNCTIONS_APP_ROOT_PATH", app_root.display().to_string()));
    let handler = HandlerProcess::start(&env);
    wait_ready(&handler);

    let admin = cluster.client(APP_DATABASE).await;
    admin
        .execute("update client_summary set total = 0, refreshed_at = null", &[])
        .await
        .expect("summary reset");

    let invocation = r#"{"Data": {"timer": {"Schedule": {"AdjustForDST": true}, "ScheduleStatus": null, "IsPastDue": false}}, "Metadata": {}}"#;
    let response = handler.request(
        "POST",
        "/refresh-summary",
        &[
            ("Content-Type", "application/json"),
            ("X-Azure-Functions-InvocationId", "inv-timer"),
        ],
        invocation,
    );
    assert_eq!(response.status, 200, "{}", response.body);
    let reply: serde_json::Value = serde_json::from_str(&response.body).expect("JSON reply");
    assert!(reply["Logs"].is_array(), "{reply}");

    let row = admin
        .query_one("select total, refreshed_at is not null from client_summary", &[])
        .await
        .expect("summary row");
    assert_eq!(row.get::<_, i64>(0), 5, "the job counted the sample clients");
    assert!(row.get::<_, bool>(1), "the job set refreshed_at");

    // The job route itself stays unreachable from outside.
    let response = handler.request("POST", "/internal/jobs/refresh-summary", &[], invocation);
    assert_eq!(response.status, 404);
}
