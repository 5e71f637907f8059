//! End-to-end tests of `keyless-dev up`: the real handler and component against the
//! throwaway PostgreSQL server it starts, over loopback HTTP.

use std::collections::HashSet;
use std::io::{BufRead, BufReader, Read};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use keyless_devkit::component::{component_wasm, target_dir, workspace_root};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Seconds to wait for `keyless-dev up` to print its curl lines. The debug handler compiles
/// the component at start, which takes several seconds on a small machine.
const READY_TIMEOUT: Duration = Duration::from_secs(180);

/// Builds the debug `handler` binary (a no-op when it is up to date) and returns its path.
fn handler_binary() -> PathBuf {
    let root = workspace_root();
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let status = Command::new(cargo)
        .current_dir(&root)
        .args(["build", "-p", "keyless-host", "--bin", "handler"])
        .status()
        .expect("cargo runs");
    assert!(status.success(), "building the handler failed ({status})");
    target_dir(&root).join("debug").join("handler")
}

fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

/// A running `keyless-dev up` with its output collected line by line.
struct DevUp {
    child: Child,
    lines: mpsc::Receiver<String>,
    seen: Vec<String>,
    port: u16,
}

impl DevUp {
    fn start(extra: &[&str]) -> DevUp {
        let port = free_port();
        let mut child = Command::new(env!("CARGO_BIN_EXE_keyless-dev"))
            .arg("up")
            .arg("--handler")
            .arg(handler_binary())
            .arg("--component")
            .arg(component_wasm())
            .arg("--port")
            .arg(port.to_string())
            .args(extra)
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("keyless-dev starts");

        let (sender, lines) = mpsc::channel();
        forward_lines(child.stdout.take().unwrap(), sender.clone());
        forward_lines(child.stderr.take().unwrap(), sender);
        DevUp {
            child,
            lines,
            seen: Vec::new(),
            port,
        }
    }

    /// Collects output until a line contains `needle`.
    fn wait_for_line(&mut self, needle: &str) -> String {
        let deadline = std::time::Instant::now() + READY_TIMEOUT;
        loop {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    self.seen.push(line.clone());
                    if line.contains(needle) {
                        return line;
                    }
                }
                Err(_) => panic!(
                    "no line containing {needle:?} within {} s; output so far:\n{}",
                    READY_TIMEOUT.as_secs(),
                    self.seen.join("\n")
                ),
            }
        }
    }

    /// Collects the output lines that have arrived so far without waiting.
    fn drain(&mut self) {
        while let Ok(line) = self.lines.try_recv() {
            self.seen.push(line);
        }
    }

    /// Returns the number of info-level log lines so far that contain `needle`. Printed
    /// hints are not log lines, so they do not count even when they quote a log message.
    fn count_info_logs(&self, needle: &str) -> usize {
        self.seen
            .iter()
            .filter(|line| line.contains(" INFO ") && line.contains(needle))
            .count()
    }

    fn psql_line(&mut self) -> String {
        self.wait_for_line("keyless is running at");
        self.wait_for_line("PGPASSWORD=")
    }

    fn terminate(&mut self) -> std::process::ExitStatus {
        let pid = nix::unistd::Pid::from_raw(self.child.id() as i32);
        nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM).unwrap();
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                while let Ok(line) = self.lines.recv_timeout(Duration::from_millis(200)) {
                    self.seen.push(line);
                }
                return status;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "keyless-dev did not exit within 60 s of SIGTERM"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for DevUp {
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            let pid = nix::unistd::Pid::from_raw(self.child.id() as i32);
            let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
            let _ = self.child.wait();
        }
    }
}

fn forward_lines(stream: impl Read + Send + 'static, sender: mpsc::Sender<String>) {
    std::thread::spawn(move || {
        for line in BufReader::new(stream).lines() {
            let Ok(line) = line else { break };
            if sender.send(line).is_err() {
                break;
            }
        }
    });
}

/// Sends one HTTP/1.1 request and returns the status code and body.
async fn http(port: u16, method: &str, path: &str, body: Option<&str>) -> (u16, String) {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    let body = body.unwrap_or("");
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = Vec::new();
    stream.read_to_end(&mut response).await.unwrap();
    let response = String::from_utf8(response).unwrap();

    let status: u16 = response
        .split(' ')
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| panic!("not an HTTP response: {response}"));
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, body)| body.to_string())
        .unwrap_or_default();
    (status, body)
}

/// Parses `PGPASSWORD=$(cat FILE) psql 'host=.. port=N ..'` into the port and the file.
fn parse_psql_line(line: &str) -> (u16, PathBuf) {
    let file = line
        .split("$(cat ")
        .nth(1)
        .and_then(|rest| rest.split(')').next())
        .expect("the psql line reads the password from a file");
    let port = line
        .split("port=")
        .nth(1)
        .and_then(|rest| rest.split(' ').next())
        .and_then(|port| port.parse().ok())
        .expect("the psql line names the port");
    (port, PathBuf::from(file))
}

async fn connect_as_app(port: u16, token: &str) -> tokio_postgres::Client {
    let (client, connection) = tokio_postgres::Config::new()
        .host("127.0.0.1")
        .port(port)
        .user("keyless_app")
        .password(token)
        .dbname("keyless")
        .connect(tokio_postgres::NoTls)
        .await
        .expect("the printed credentials log in");
    tokio::spawn(connection);
    client
}

fn cluster_dir(token_file: &Path) -> PathBuf {
    token_file.parent().unwrap().to_path_buf()
}

#[tokio::test]
async fn up_serves_api_and_cleans_up() {
    let mut dev = DevUp::start(&[]);
    let psql = dev.psql_line();
    let (db_port, token_file) = parse_psql_line(&psql);

    let (status, body) = http(dev.port, "GET", "/api/health", None).await;
    assert_eq!(status, 200, "health body: {body}");
    assert!(body.contains("\"database\":\"ok\""), "health body: {body}");

    let (status, body) = http(dev.port, "GET", "/api/clients?limit=10", None).await;
    assert_eq!(status, 200, "list body: {body}");
    let list: serde_json::Value = serde_json::from_str(&body).unwrap();
    let items = list["items"].as_array().expect("items is an array");
    assert_eq!(items.len(), 5, "list body: {body}");
    assert_eq!(items[0]["email"], "ana.souza@example.com");

    let (status, body) = http(
        dev.port,
        "POST",
        "/api/clients",
        Some(r#"{"email": "dev.up@example.com", "name": "Dev Up"}"#),
    )
    .await;
    assert_eq!(status, 201, "create body: {body}");

    let token = std::fs::read_to_string(&token_file).expect("the token file is readable");
    assert_eq!(token.len(), 64);
    let mode = std::os::unix::fs::PermissionsExt::mode(
        &std::fs::metadata(&token_file).unwrap().permissions(),
    );
    assert_eq!(mode & 0o777, 0o600, "token file mode");

    let app = connect_as_app(db_port, &token).await;
    let row = app
        .query_one(
            "select count(*) from clients where email = 'dev.up@example.com'",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(
        row.get::<_, i64>(0),
        1,
        "the API wrote to the printed database"
    );
    let row = app
        .query_one(
            "select tableowner::text from pg_tables where tablename = 'clients'",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(row.get::<_, String>(0), "keyless_app");
    drop(app);

    let status = dev.terminate();
    assert!(status.success(), "keyless-dev exit status: {status}");
    let output = dev.seen.join("\n");
    assert!(!output.contains(&token), "the token appears in the output");
    assert!(
        output.contains("PostgreSQL stopped and its directory removed"),
        "{output}"
    );
    let dir = cluster_dir(&token_file);
    assert!(!dir.exists(), "{} still exists", dir.display());
}

#[tokio::test]
async fn up_with_tls_connects_with_verify_full() {
    let mut dev = DevUp::start(&["--tls"]);
    let psql = dev.psql_line();
    assert!(psql.contains("sslmode=verify-full"), "{psql}");
    let (db_port, token_file) = parse_psql_line(&psql);

    let (status, body) = http(dev.port, "GET", "/api/clients?limit=1", None).await;
    assert_eq!(status, 200, "list body: {body}");

    let token = std::fs::read_to_string(&token_file).unwrap();
    let app = connect_as_app(db_port, &token).await;
    let row = app
        .query_one(
            "select count(*) filter (where s.ssl), count(*) filter (where not s.ssl)
             from pg_stat_activity a join pg_stat_ssl s using (pid)
             where a.usename = 'keyless_app' and a.pid <> pg_backend_pid()",
            &[],
        )
        .await
        .unwrap();
    let tls_sessions: i64 = row.get(0);
    let plain_sessions: i64 = row.get(1);
    assert!(tls_sessions >= 1, "the handler holds a TLS session");
    assert_eq!(plain_sessions, 0, "the handler holds no plain session");
    drop(app);

    let status = dev.terminate();
    assert!(status.success(), "keyless-dev exit status: {status}");
}

#[test]
fn up_rejects_busy_port() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let fake = std::env::current_exe().unwrap();

    let output = Command::new(env!("CARGO_BIN_EXE_keyless-dev"))
        .args(["up", "--port", &port.to_string()])
        .arg("--handler")
        .arg(&fake)
        .arg("--component")
        .arg(&fake)
        .stdin(Stdio::null())
        .output()
        .unwrap();

    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains(&format!("port {port}")), "{stderr}");
    assert!(stderr.contains("--port"), "{stderr}");
}

#[test]
fn up_reports_missing_handler() {
    let output = Command::new(env!("CARGO_BIN_EXE_keyless-dev"))
        .args(["up", "--handler", "/nonexistent/handler"])
        .stdin(Stdio::null())
        .output()
        .unwrap();

    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("/nonexistent/handler"), "{stderr}");
    assert!(
        stderr.contains("cargo build --release -p keyless-host"),
        "{stderr}"
    );
}

#[test]
fn help_documents_every_up_option() {
    let output = Command::new(env!("CARGO_BIN_EXE_keyless-dev"))
        .args(["up", "--help"])
        .output()
        .unwrap();
    assert!(output.status.success());
    let help = String::from_utf8_lossy(&output.stdout);
    for option in [
        "--handler",
        "--component",
        "--port",
        "--database",
        "--role",
        "--schema",
        "--tls",
        "--identity-emulator",
        "--token-lifetime-secs",
        "--ready-timeout-secs",
        "HANDLER_ARGS",
    ] {
        assert!(help.contains(option), "--help lacks {option}:\n{help}");
    }
}

/// Token lifetime for the rotation test, the minimum `--token-lifetime-secs` accepts. The
/// handler refreshes its token after half of it.
const ROTATION_LIFETIME: Duration = Duration::from_secs(30);

/// Time the rotation test keeps sending requests after the handler's first refresh is due.
const AFTER_HALF_LIFE: Duration = Duration::from_secs(20);

#[tokio::test]
async fn up_with_emulator_rotates_tokens() {
    let lifetime = ROTATION_LIFETIME.as_secs().to_string();
    let mut dev = DevUp::start(&["--identity-emulator", "--token-lifetime-secs", &lifetime]);
    let psql = dev.psql_line();
    let (db_port, token_file) = parse_psql_line(&psql);
    let note = dev.wait_for_line("identity endpoint emulator at");
    assert!(note.contains("valid for 30 s"), "{note}");

    // The first database request makes the handler fetch its first token, and the emulator
    // writes it to the token file before it replies.
    let (status, body) = http(dev.port, "GET", "/api/clients?limit=1", None).await;
    assert_eq!(status, 200, "first request: {body}");
    let first_token = std::fs::read_to_string(&token_file).expect("the token file is readable");
    let mut tokens = HashSet::from([first_token.clone()]);

    // Requests every 500 ms until the refresh is due plus AFTER_HALF_LIFE.
    let started = Instant::now();
    let deadline = started + ROTATION_LIFETIME / 2 + AFTER_HALF_LIFE;
    let mut failures = Vec::new();
    let mut requests = 1;
    while Instant::now() < deadline {
        let path = if requests % 2 == 0 {
            "/api/health"
        } else {
            "/api/clients?limit=1"
        };
        let (status, body) = http(dev.port, "GET", path, None).await;
        requests += 1;
        if status != 200 {
            failures.push(format!("{path}: {status} {body}"));
        }
        tokens.insert(std::fs::read_to_string(&token_file).unwrap());
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    dev.drain();
    let issued = dev.count_info_logs("identity emulator issued a token");
    let refreshed = dev.count_info_logs("access token refreshed");
    eprintln!(
        "rotation: {requests} requests in {:.1} s, {issued} tokens issued, {refreshed} refreshes",
        started.elapsed().as_secs_f64()
    );

    assert!(
        failures.is_empty(),
        "{} of {requests} requests failed, first: {}",
        failures.len(),
        failures[0]
    );
    assert!(issued >= 2, "the emulator issued {issued} tokens");
    // The first token, one per half-lifetime, and one for a boundary crossed at the end.
    let half_life = ROTATION_LIFETIME.as_secs_f64() / 2.0;
    let max_issued = 2 + (started.elapsed().as_secs_f64() / half_life).floor() as usize;
    assert!(
        issued <= max_issued,
        "the emulator issued {issued} tokens, more than one per half-lifetime"
    );
    assert!(refreshed >= 1, "the handler log shows no refresh");
    assert!(
        tokens.len() >= 2,
        "the token file held {} distinct tokens",
        tokens.len()
    );

    // The file contains the newest token, which is the role's only password.
    let current = std::fs::read_to_string(&token_file).unwrap();
    tokens.insert(current.clone());
    assert_ne!(current, first_token);
    let mode = std::os::unix::fs::PermissionsExt::mode(
        &std::fs::metadata(&token_file).unwrap().permissions(),
    );
    assert_eq!(mode & 0o777, 0o600, "token file mode after rotation");
    let app = connect_as_app(db_port, &current).await;
    let row = app
        .query_one("select current_user::text", &[])
        .await
        .unwrap();
    assert_eq!(row.get::<_, String>(0), "keyless_app");
    drop(app);
    let replaced = tokio_postgres::Config::new()
        .host("127.0.0.1")
        .port(db_port)
        .user("keyless_app")
        .password(&first_token)
        .dbname("keyless")
        .connect(tokio_postgres::NoTls)
        .await;
    let error = replaced
        .err()
        .expect("the replaced first token still logs in");
    assert_eq!(
        error.code(),
        Some(&tokio_postgres::error::SqlState::INVALID_PASSWORD),
        "{error}"
    );

    let status = dev.terminate();
    assert!(status.success(), "keyless-dev exit status: {status}");
    let output = dev.seen.join("\n");
    for token in &tokens {
        assert!(
            !output.contains(token.as_str()),
            "a token appears in the output"
        );
    }
    assert!(output.contains("identity emulator stopped"), "{output}");
    let dir = cluster_dir(&token_file);
    assert!(!dir.exists(), "{} still exists", dir.display());
}

#[test]
fn up_rejects_short_token_lifetime() {
    let output = Command::new(env!("CARGO_BIN_EXE_keyless-dev"))
        .args(["up", "--identity-emulator", "--token-lifetime-secs", "10"])
        .stdin(Stdio::null())
        .output()
        .unwrap();

    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("--token-lifetime-secs"), "{stderr}");
    assert!(stderr.contains("30..=86400"), "{stderr}");
}
