//! Runs the real `handler` binary with the release component and speaks HTTP to it.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A running `handler` process whose stdout and stderr lines are collected.
pub struct HandlerProcess {
    child: Child,
    address: SocketAddr,
    output: Arc<Mutex<Vec<String>>>,
    /// Time from spawning the process to its "listening" log line.
    pub listening_after: Duration,
    _app_root: tempfile::TempDir,
}

/// A response read from the handler.
#[derive(Debug)]
pub struct HttpResponse {
    /// Status code.
    pub status: u16,
    /// Header lines as (lowercase name, value).
    pub headers: Vec<(String, String)>,
    /// Body as text.
    pub body: String,
}

impl HttpResponse {
    /// The first header named `name` (lowercase).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    }
}

impl HandlerProcess {
    /// Starts `handler` with `env` (on top of a cleared environment plus PATH), listening
    /// on a free loopback port, and waits up to 120 s for its "listening" line. A debug
    /// build compiles the component in about 15 s on two busy cores, so the compiled code
    /// is cached under the target directory for the next start.
    pub fn start(env: &[(&str, String)]) -> HandlerProcess {
        Self::start_with_args(
            env,
            &["--compile-cache-dir", &compile_cache_dir().display().to_string()],
        )
    }

    /// Like [`HandlerProcess::start`], with `args` in place of the compile cache option.
    pub fn start_with_args(env: &[(&str, String)], args: &[&str]) -> HandlerProcess {
        let app_root = tempfile::tempdir().expect("temp dir for the function app root");
        let started = Instant::now();
        let mut command = Command::new(handler_binary());
        command
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("RUST_LOG", "info")
            .env("FUNCTIONS_APP_ROOT_PATH", app_root.path())
            .current_dir(app_root.path())
            .args(["--port", "0"])
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (name, value) in env {
            command.env(name, value);
        }
        let mut child = command.spawn().expect("the handler binary starts");

        let output = Arc::new(Mutex::new(Vec::new()));
        let (address_sender, address_receiver) = std::sync::mpsc::channel();
        collect_lines(
            child.stdout.take().expect("stdout is piped"),
            output.clone(),
            Some(address_sender),
        );
        collect_lines(child.stderr.take().expect("stderr is piped"), output.clone(), None);

        let address = match address_receiver.recv_timeout(Duration::from_secs(120)) {
            Ok(address) => address,
            Err(_) => {
                let _ = child.kill();
                panic!(
                    "the handler did not log its listening address within 120 s:\n{}",
                    output.lock().unwrap().join("\n")
                );
            }
        };
        HandlerProcess {
            child,
            address,
            output,
            listening_after: started.elapsed(),
            _app_root: app_root,
        }
    }

    /// The address the handler listens on.
    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// Sends one request with `Connection: close` and reads the whole response.
    pub fn request(&self, method: &str, path: &str, headers: &[(&str, &str)], body: &str) -> HttpResponse {
        send(self.address, method, path, headers, body).expect("the request gets a response")
    }

    /// All output lines so far.
    pub fn output(&self) -> String {
        self.output.lock().unwrap().join("\n")
    }

    /// Sends SIGTERM and waits up to `limit` for the exit status.
    pub fn terminate(&mut self, limit: Duration) -> Option<ExitStatus> {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("kill runs");
        assert!(status.success(), "kill -TERM failed");

        let deadline = Instant::now() + limit;
        while Instant::now() < deadline {
            if let Some(status) = self.child.try_wait().expect("waiting works") {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }
}

impl Drop for HandlerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn collect_lines(
    stream: impl Read + Send + 'static,
    output: Arc<Mutex<Vec<String>>>,
    address_sender: Option<std::sync::mpsc::Sender<SocketAddr>>,
) {
    std::thread::spawn(move || {
        for line in BufReader::new(stream).lines() {
            let Ok(line) = line else { break };
            if let Some(sender) = &address_sender
                && line.contains("listening")
                && let Some(address) = field(&line, "address")
                && let Ok(address) = address.parse()
            {
                let _ = sender.send(address);
            }
            output.lock().unwrap().push(line);
        }
    });
}

/// The handler binary under test: `KEYLESS_HANDLER_BIN` when set (for example a release
/// build for timing), else the one cargo built for this test.
pub fn handler_binary() -> PathBuf {
    std::env::var_os("KEYLESS_HANDLER_BIN").map_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_handler")), PathBuf::from)
}

/// Reads `name=value` from a tracing fmt line.
pub fn field<'a>(line: &'a str, name: &str) -> Option<&'a str> {
    let start = line.find(&format!("{name}="))? + name.len() + 1;
    let rest = &line[start..];
    Some(rest.split_whitespace().next().unwrap_or(rest))
}

/// Sends one HTTP/1.1 request with `Connection: close`.
pub fn send(
    address: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> std::io::Result<HttpResponse> {
    let mut stream = TcpStream::connect_timeout(&address, Duration::from_secs(5))?;
    stream.set_read_timeout(Some(Duration::from_secs(60)))?;

    let mut request = format!(
        "{method} {path} HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str("\r\n");
    request.push_str(body);
    stream.write_all(request.as_bytes())?;

    let mut raw = Vec::new();
    stream.read_to_end(&mut raw)?;
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|line| line.split_whitespace().nth(1))
        .and_then(|code| code.parse().ok())
        .ok_or_else(|| std::io::Error::other(format!("no status line in {head:?}")))?;
    let headers = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(name, value)| (name.trim().to_ascii_lowercase(), value.trim().to_owned()))
        .collect();
    Ok(HttpResponse {
        status,
        headers,
        body: body.to_owned(),
    })
}

/// Writes `token` to `path`, as a rotated token file.
pub fn write_token(path: &Path, token: &str) {
    std::fs::write(path, token).expect("the token file is written");
}

/// Directory of the tests' compile cache, inside the cargo target directory.
pub fn compile_cache_dir() -> PathBuf {
    let root = keyless_devkit::component::workspace_root();
    keyless_devkit::component::target_dir(&root).join("keyless-host-test-compile-cache")
}

/// The release component, built when missing or stale.
pub fn component() -> PathBuf {
    keyless_devkit::component::component_wasm()
}
