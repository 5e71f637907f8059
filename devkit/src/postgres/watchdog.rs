//! A helper process that stops the server and removes its directory if the process that
//! started the cluster dies without running `Drop` (SIGKILL, a test runner's timeout, an
//! abort, or Ctrl-C on `cargo test`).
//!
//! `pg_ctl start` detaches the server into its own session, so without this helper such a
//! death leaves a running PostgreSQL and its temporary directory behind. The helper is a
//! `sh` that blocks reading a pipe from the owning process. The kernel closes the pipe
//! when the owner exits for any reason, `read` then returns end-of-file, and the helper
//! runs `pg_ctl stop -m immediate` and `rm -rf` on the directory. It ignores SIGINT,
//! SIGTERM and SIGHUP, so a Ctrl-C that reaches the whole process group does not stop it
//! before it has cleaned up.

use std::ffi::OsString;
use std::path::Path;
use std::process::{Child, Command, Stdio};

use anyhow::{Context, Result};

use super::server_user::{ServerUser, remove_pg_variables};

/// The shell script: `$1` is the directory to remove, the remaining arguments are the stop
/// command.
const SCRIPT: &str = r#"trap '' INT TERM HUP
while read -r _; do :; done
dir=$1
shift
"$@" >/dev/null 2>&1
rm -rf -- "$dir"
"#;

/// The running helper. Call [`Watchdog::disarm`] after stopping the cluster and removing
/// its directory normally.
#[derive(Debug)]
pub struct Watchdog {
    child: Child,
}

impl Watchdog {
    /// Starts the helper for the cluster whose data directory is `data_dir`, inside `dir`.
    pub fn spawn(
        server_user: &ServerUser,
        pg_ctl: &Path,
        data_dir: &Path,
        dir: &Path,
    ) -> Result<Watchdog> {
        let mut stop: Vec<OsString> = server_user.argv(pg_ctl);
        stop.extend([
            "stop".into(),
            "--pgdata".into(),
            data_dir.as_os_str().to_owned(),
            "--mode=immediate".into(),
            "--wait".into(),
        ]);

        let mut command = Command::new("sh");
        command
            .arg("-c")
            .arg(SCRIPT)
            .arg("keyless-devkit-watchdog")
            .arg(dir)
            .args(stop)
            .current_dir("/")
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        remove_pg_variables(&mut command);

        let child = command
            .spawn()
            .context("failed to start the cluster's cleanup helper (sh)")?;
        Ok(Watchdog { child })
    }

    /// Ends the helper without letting it run its cleanup, after a normal shutdown. The
    /// helper is blocked in `read`, so SIGKILL ends it before it runs any step.
    pub fn disarm(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
