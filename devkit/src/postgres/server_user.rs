//! The operating-system user that owns the data directory and runs the server.
//!
//! `initdb` and `postgres` reject running as root. When the harness runs as root (CI, many
//! containers) it runs them as the `postgres` system user through `runuser`, creating that
//! user when it is missing. Otherwise it runs them as the current user.

use std::ffi::{OsStr, OsString};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;
use std::sync::Mutex;

use anyhow::{Context, Result, bail};
use nix::unistd::{Gid, Uid, User};

/// Name of the system user the server runs as when the harness runs as root.
pub const SERVER_USER: &str = "postgres";

/// Runs server programs as the right user and gives that user ownership of files.
#[derive(Debug, Clone)]
pub struct ServerUser {
    /// The user to switch to, or `None` to run as the current user.
    switch_to: Option<(String, Uid, Gid)>,
}

impl ServerUser {
    /// Chooses the user: `postgres` (created when missing) when running as root, the current
    /// user otherwise.
    pub fn detect() -> Result<ServerUser> {
        if !Uid::effective().is_root() {
            return Ok(ServerUser { switch_to: None });
        }

        let user = ensure_system_user(SERVER_USER)?;
        Ok(ServerUser {
            switch_to: Some((user.name, user.uid, user.gid)),
        })
    }

    /// Builds a command that runs `program` as the server user, in `working_dir`, with every
    /// `PG*` variable removed from its environment so the caller's `PGHOST`, `PGPORT` or
    /// `PGDATA` cannot redirect it.
    pub fn command(&self, program: impl AsRef<OsStr>, working_dir: &Path) -> Command {
        let argv = self.argv(program);
        let mut command = Command::new(&argv[0]);
        command.args(&argv[1..]);
        remove_pg_variables(&mut command);
        command.current_dir(working_dir);
        command
    }

    /// Returns the argument vector that runs `program` as the server user: `runuser -u
    /// <user> -- <program>` when switching users, otherwise just `program`.
    pub fn argv(&self, program: impl AsRef<OsStr>) -> Vec<OsString> {
        match &self.switch_to {
            Some((name, _, _)) => vec![
                "runuser".into(),
                "-u".into(),
                name.into(),
                "--".into(),
                program.as_ref().to_owned(),
            ],
            None => vec![program.as_ref().to_owned()],
        }
    }

    /// Gives the server user ownership of `path` and sets its permission bits to `mode`.
    pub fn own(&self, path: &Path, mode: u32) -> Result<()> {
        if let Some((name, uid, gid)) = &self.switch_to {
            nix::unistd::chown(path, Some(*uid), Some(*gid)).with_context(|| {
                format!("failed to change the owner of {} to {name}", path.display())
            })?;
        }
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
            .with_context(|| format!("failed to set mode {mode:o} on {}", path.display()))?;
        Ok(())
    }
}

/// Removes every `PG*` variable from the environment `command` inherits.
pub fn remove_pg_variables(command: &mut Command) {
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("PG") {
            command.env_remove(name);
        }
    }
}

/// Looks up `name`, creating it as a system user without a login shell when it is missing.
fn ensure_system_user(name: &str) -> Result<User> {
    // Parallel tests in one process would otherwise race to create the user.
    static CREATE: Mutex<()> = Mutex::new(());
    let _guard = CREATE
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());

    if let Some(user) = lookup_user(name)? {
        return Ok(user);
    }

    let status = Command::new("useradd")
        .args(["--system", "--user-group", "--no-create-home"])
        .args(["--shell", "/usr/sbin/nologin", name])
        .status()
        .with_context(|| format!("failed to run useradd to create the system user {name}"))?;

    // Another process may have created the user between the lookup and useradd.
    match lookup_user(name)? {
        Some(user) => Ok(user),
        None => bail!(
            "system user {name} is missing and `useradd --system {name}` failed ({status}); \
             create the user, or install PostgreSQL with `apt-get install postgresql`, which \
             creates it"
        ),
    }
}

fn lookup_user(name: &str) -> Result<Option<User>> {
    User::from_name(name).with_context(|| format!("failed to look up the system user {name}"))
}
