//! Running the `handler` binary as a child process.

use std::ffi::OsString;
use std::path::Path;
use std::process::{ExitStatus, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::process::{Child, Command};

/// Seconds the handler gets to exit after SIGTERM before it is killed.
const STOP_GRACE: Duration = Duration::from_secs(10);

/// Starts `handler` with `env` added to this process's environment and its stdout and
/// stderr going to ours. The child is killed if it is still running when dropped.
pub fn spawn(handler: &Path, env: &[(String, OsString)], extra_args: &[String]) -> Result<Child> {
    let mut command = Command::new(handler);
    command
        .args(extra_args)
        .envs(env.iter().map(|(name, value)| (name, value)))
        .stdin(Stdio::null())
        .stdout(Stdio::inherit())
        .stderr(Stdio::inherit())
        .kill_on_drop(true);
    command
        .spawn()
        .with_context(|| format!("failed to start the handler {}", handler.display()))
}

/// Waits until the handler responds to an HTTP request on 127.0.0.1:`port` (any status
/// counts, as for the Functions host's readiness check), it exits, or `timeout` passes.
pub async fn wait_until_ready(child: &mut Child, port: u16, timeout: Duration) -> Result<()> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(status) = child
            .try_wait()
            .context("failed to check the handler process")?
        {
            bail!("the handler exited before it was ready ({status}); its output is above");
        }
        if http_responds(port).await {
            return Ok(());
        }
        if Instant::now() >= deadline {
            bail!(
                "the handler did not respond to HTTP on 127.0.0.1:{port} within {} s; its output \
                 is above, or raise --ready-timeout-secs",
                timeout.as_secs()
            );
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Sends SIGTERM, waits up to [`STOP_GRACE`], then kills the handler. Returns its status.
pub async fn stop(child: &mut Child) -> Result<ExitStatus> {
    if let Some(status) = child.try_wait()? {
        return Ok(status);
    }
    if let Some(pid) = child.id() {
        let _ = kill(Pid::from_raw(pid as i32), Signal::SIGTERM);
    }
    match tokio::time::timeout(STOP_GRACE, child.wait()).await {
        Ok(status) => Ok(status?),
        Err(_) => {
            tracing::warn!(
                grace_secs = STOP_GRACE.as_secs(),
                "handler did not exit after SIGTERM; killing it"
            );
            child.kill().await?;
            Ok(child.wait().await?)
        }
    }
}

/// Sends `GET /` and reports whether an HTTP status line came back within a second.
async fn http_responds(port: u16) -> bool {
    let attempt = async {
        let mut stream = TcpStream::connect(("127.0.0.1", port)).await.ok()?;
        let request =
            format!("GET / HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n");
        stream.write_all(request.as_bytes()).await.ok()?;
        let mut head = [0u8; 5];
        stream.read_exact(&mut head).await.ok()?;
        Some(&head == b"HTTP/")
    };
    matches!(
        tokio::time::timeout(Duration::from_secs(1), attempt).await,
        Ok(Some(true))
    )
}
