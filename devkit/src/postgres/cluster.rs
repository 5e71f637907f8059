//! Creating, starting and removing a throwaway PostgreSQL cluster.

use std::fmt;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::process::Output;

use anyhow::{Context, Result, bail};
use rand::distr::{Alphanumeric, SampleString};
use tempfile::TempDir;

use super::binaries::PgBinaries;
use super::config;
use super::port::free_loopback_port;
use super::server_user::ServerUser;
use super::tls::{self, TlsFiles};
use super::watchdog::Watchdog;

/// How many ports to try when another process takes the chosen port first.
const PORT_ATTEMPTS: usize = 8;

/// Seconds `pg_ctl` waits for the server to accept connections.
const START_TIMEOUT_SECS: u32 = 60;

/// Options for [`TestCluster::start`]. Build with `ClusterOptions { tls: true,
/// ..Default::default() }`.
#[derive(Debug, Clone, Default)]
pub struct ClusterOptions {
    /// Generate a test CA and a server certificate for `localhost`/`127.0.0.1` and start
    /// the server with `ssl = on`. Clients may still connect without TLS.
    pub tls: bool,
    /// Extra `postgresql.conf` settings as (name, value), with the value written as is,
    /// for example `("max_connections", "20")` or `("log_statement", "'all'")`.
    pub settings: Vec<(String, String)>,
}

/// A PostgreSQL server in a temporary directory, listening on 127.0.0.1 at a free port
/// with SCRAM-SHA-256 password authentication. Dropping it stops the server
/// (`pg_ctl stop -m immediate`) and removes the directory.
pub struct TestCluster {
    /// The temporary directory; `None` only while dropping.
    dir: Option<TempDir>,
    data_dir: PathBuf,
    log_path: PathBuf,
    port: u16,
    superuser: String,
    superuser_password: String,
    tls: Option<TlsFiles>,
    binaries: PgBinaries,
    server_user: ServerUser,
    /// Stops the server if this process dies without dropping the cluster.
    watchdog: Option<Watchdog>,
}

impl TestCluster {
    /// Runs `initdb` and starts the server. Fails with the tail of the server log when the
    /// server does not start.
    pub fn start(options: ClusterOptions) -> Result<TestCluster> {
        let binaries = PgBinaries::locate()?;
        let server_user = ServerUser::detect()?;

        // The server user needs the directory itself; its parent (the system temp dir) only
        // has to be traversable.
        let dir = tempfile::Builder::new()
            .prefix("keyless-pg-")
            .tempdir()
            .context("failed to create a temporary directory for the cluster")?;
        server_user.own(dir.path(), 0o700)?;

        let superuser = "postgres".to_string();
        let superuser_password = random_password(32);
        let data_dir = dir.path().join("data");
        let log_path = dir.path().join("server.log");

        let tls = if options.tls {
            Some(tls::write_test_certificates(dir.path(), &server_user)?)
        } else {
            None
        };

        init_data_dir(
            &binaries,
            &server_user,
            dir.path(),
            &data_dir,
            &superuser,
            &superuser_password,
        )?;
        let settings = config::server_settings(tls.as_ref(), &options.settings);
        config::write_config(&data_dir, &settings)?;

        let watchdog = Watchdog::spawn(&server_user, &binaries.pg_ctl, &data_dir, dir.path())?;
        let mut cluster = TestCluster {
            dir: Some(dir),
            data_dir,
            log_path,
            port: 0,
            superuser,
            superuser_password,
            tls,
            binaries,
            server_user,
            watchdog: Some(watchdog),
        };
        cluster.start_on_free_port()?;
        Ok(cluster)
    }

    /// Returns the address the server listens on, always `127.0.0.1`.
    pub fn host(&self) -> &str {
        "127.0.0.1"
    }

    /// Returns the TCP port the server listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Returns the superuser's role name.
    pub fn superuser(&self) -> &str {
        &self.superuser
    }

    /// Returns the superuser's password.
    pub fn superuser_password(&self) -> &str {
        &self.superuser_password
    }

    /// Returns whether the server was started with `ssl = on`.
    pub fn tls_enabled(&self) -> bool {
        self.tls.is_some()
    }

    /// Returns the path of the test CA certificate (PEM) that signed the server certificate.
    ///
    /// # Panics
    ///
    /// When the cluster was started without `tls: true`.
    pub fn ca_pem_path(&self) -> &Path {
        match &self.tls {
            Some(files) => &files.ca_cert,
            None => panic!(
                "ca_pem_path() needs a cluster started with ClusterOptions {{ tls: true, .. }}"
            ),
        }
    }

    /// Returns the temporary directory that contains the data directory, the log and the
    /// certificates.
    pub fn dir(&self) -> &Path {
        self.dir
            .as_ref()
            .expect("the directory is present until drop")
            .path()
    }

    /// Returns the server's log file.
    pub fn log_path(&self) -> &Path {
        &self.log_path
    }

    /// Returns the last `lines` lines of the server log, or an empty string when it cannot
    /// be read.
    pub fn log_tail(&self, lines: usize) -> String {
        read_log_tail(&self.log_path, 0, lines)
    }

    /// Picks a free port and starts the server, retrying with another port when the bind
    /// fails because a parallel test or another process took the port first.
    fn start_on_free_port(&mut self) -> Result<()> {
        for attempt in 1..=PORT_ATTEMPTS {
            let port = free_loopback_port()?;
            let log_offset = std::fs::metadata(&self.log_path)
                .map(|meta| meta.len())
                .unwrap_or(0);

            let output = self
                .server_user
                .command(&self.binaries.pg_ctl, self.dir())
                .arg("start")
                .arg("--pgdata")
                .arg(&self.data_dir)
                .arg("--log")
                .arg(&self.log_path)
                .arg("--wait")
                .arg(format!("--timeout={START_TIMEOUT_SECS}"))
                .arg(format!("--options=-p {port}"))
                .output()
                .with_context(|| format!("failed to run {}", self.binaries.pg_ctl.display()))?;

            if output.status.success() {
                self.port = port;
                return Ok(());
            }

            let log_tail = read_log_tail(&self.log_path, log_offset, 30);
            if is_port_clash(&log_tail) && attempt < PORT_ATTEMPTS {
                tracing::debug!(
                    port,
                    attempt,
                    "port taken before the server bound it; retrying"
                );
                continue;
            }

            bail!(
                "PostgreSQL did not start on 127.0.0.1:{port} ({}).\n{}\nserver log ({}), last lines:\n{log_tail}",
                output.status,
                command_output_text(&output),
                self.log_path.display(),
            );
        }
        unreachable!("the last attempt returns or bails")
    }

    /// Stops the server at once, without a shutdown checkpoint: the data is thrown away.
    fn stop_immediately(&self) {
        let result = self
            .server_user
            .command(&self.binaries.pg_ctl, self.dir())
            .arg("stop")
            .arg("--pgdata")
            .arg(&self.data_dir)
            .args(["--mode=immediate", "--wait", "--timeout=30"])
            .output();

        match result {
            Ok(output) if output.status.success() => {}
            Ok(output) => {
                eprintln!(
                    "keyless-devkit: pg_ctl stop failed for {} ({}): {}",
                    self.data_dir.display(),
                    output.status,
                    command_output_text(&output)
                );
                self.kill_postmaster();
            }
            Err(err) => {
                eprintln!("keyless-devkit: failed to run pg_ctl stop: {err}");
                self.kill_postmaster();
            }
        }
    }

    /// Sends SIGQUIT (immediate shutdown) to the postmaster named in `postmaster.pid`, the
    /// fallback when `pg_ctl stop` fails.
    fn kill_postmaster(&self) {
        let pid_file = self.data_dir.join("postmaster.pid");
        let Ok(text) = std::fs::read_to_string(&pid_file) else {
            return;
        };
        let Some(pid) = text
            .lines()
            .next()
            .and_then(|line| line.trim().parse::<i32>().ok())
        else {
            return;
        };
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(pid),
            nix::sys::signal::Signal::SIGQUIT,
        );
    }
}

impl Drop for TestCluster {
    fn drop(&mut self) {
        if self.port != 0 {
            self.stop_immediately();
        }
        if let Some(dir) = self.dir.take() {
            let path = dir.path().to_path_buf();
            if let Err(err) = dir.close() {
                eprintln!(
                    "keyless-devkit: failed to remove the cluster directory {}: {err}",
                    path.display()
                );
            }
        }

        // The helper acts only when this process exits, so it stays armed until the steps
        // above are done. A drop on a background thread can be cut short when a test
        // binary exits, and the helper then finishes the stop and the removal.
        if let Some(watchdog) = self.watchdog.take() {
            watchdog.disarm();
        }
    }
}

impl fmt::Debug for TestCluster {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TestCluster")
            .field("dir", &self.dir.as_ref().map(|dir| dir.path()))
            .field("port", &self.port)
            .field("superuser", &self.superuser)
            .field("superuser_password", &"<redacted>")
            .field("tls", &self.tls.is_some())
            .finish()
    }
}

/// Runs `initdb` with the superuser password read from a file that is removed afterwards.
fn init_data_dir(
    binaries: &PgBinaries,
    server_user: &ServerUser,
    dir: &Path,
    data_dir: &Path,
    superuser: &str,
    superuser_password: &str,
) -> Result<()> {
    let password_file = dir.join("superuser.password");
    std::fs::write(&password_file, superuser_password)
        .with_context(|| format!("failed to write {}", password_file.display()))?;
    server_user.own(&password_file, 0o600)?;

    let output = server_user
        .command(&binaries.initdb, dir)
        .arg("--pgdata")
        .arg(data_dir)
        .arg(format!("--username={superuser}"))
        .arg(format!("--pwfile={}", password_file.display()))
        .args([
            "--auth=scram-sha-256",
            "--encoding=UTF8",
            "--locale=C",
            "--no-sync",
            "--no-instructions",
        ])
        .output()
        .with_context(|| format!("failed to run {}", binaries.initdb.display()))?;

    let _ = std::fs::remove_file(&password_file);

    if !output.status.success() {
        bail!(
            "initdb failed for {} ({}); the server user must be able to write there.\n{}",
            data_dir.display(),
            output.status,
            command_output_text(&output)
        );
    }
    Ok(())
}

/// Returns a random password of `length` ASCII letters and digits from the thread's
/// cryptographically secure generator.
pub fn random_password(length: usize) -> String {
    Alphanumeric.sample_string(&mut rand::rng(), length)
}

fn is_port_clash(log_tail: &str) -> bool {
    log_tail.contains("Address already in use")
        || log_tail.contains("could not create any TCP/IP sockets")
}

/// Returns the last `lines` lines of the file after byte `offset`.
fn read_log_tail(path: &Path, offset: u64, lines: usize) -> String {
    let Ok(mut file) = std::fs::File::open(path) else {
        return String::new();
    };
    if file.seek(SeekFrom::Start(offset)).is_err() {
        return String::new();
    }
    let mut bytes = Vec::new();
    if file.read_to_end(&mut bytes).is_err() {
        return String::new();
    }
    let text = String::from_utf8_lossy(&bytes);
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

fn command_output_text(output: &Output) -> String {
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    [stdout.trim(), stderr.trim()]
        .into_iter()
        .filter(|text| !text.is_empty())
        .collect::<Vec<_>>()
        .join("\n")
}
