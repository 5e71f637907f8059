//! Locating the system's PostgreSQL server programs.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Result, bail};

/// Environment variable that names the directory holding `initdb`, `pg_ctl` and `postgres`,
/// overriding the search.
pub const BINDIR_ENV: &str = "KEYLESS_PG_BINDIR";

/// Paths of the server programs the harness runs.
#[derive(Debug, Clone)]
pub struct PgBinaries {
    /// `initdb`, which creates a data directory.
    pub initdb: PathBuf,
    /// `pg_ctl`, which starts and stops the server.
    pub pg_ctl: PathBuf,
}

impl PgBinaries {
    /// Finds a directory that contains `initdb`, `pg_ctl` and `postgres`. The search order
    /// is `$KEYLESS_PG_BINDIR`, `pg_config --bindir`, the newest `/usr/lib/postgresql/*/bin`
    /// (Debian's layout), then each directory on `PATH`.
    pub fn locate() -> Result<PgBinaries> {
        if let Some(dir) = std::env::var_os(BINDIR_ENV) {
            let dir = PathBuf::from(dir);
            if has_server_programs(&dir) {
                return Ok(PgBinaries::in_dir(&dir));
            }
            bail!(
                "{BINDIR_ENV}={} does not contain initdb, pg_ctl and postgres; \
                 point it at the PostgreSQL bin directory or unset it",
                dir.display()
            );
        }

        let candidates = pg_config_bindir()
            .into_iter()
            .chain(debian_bindirs())
            .chain(path_dirs());
        for dir in candidates {
            if has_server_programs(&dir) {
                return Ok(PgBinaries::in_dir(&dir));
            }
        }

        bail!(
            "PostgreSQL server programs (initdb, pg_ctl, postgres) not found in \
             `pg_config --bindir`, /usr/lib/postgresql/*/bin or PATH; install them with \
             `apt-get install postgresql` (or run scripts/setup.sh), or set {BINDIR_ENV}"
        )
    }

    fn in_dir(dir: &Path) -> PgBinaries {
        PgBinaries {
            initdb: dir.join("initdb"),
            pg_ctl: dir.join("pg_ctl"),
        }
    }
}

fn has_server_programs(dir: &Path) -> bool {
    ["initdb", "pg_ctl", "postgres"]
        .iter()
        .all(|name| dir.join(name).is_file())
}

fn pg_config_bindir() -> Option<PathBuf> {
    let output = Command::new("pg_config").arg("--bindir").output().ok()?;
    if !output.status.success() {
        return None;
    }
    let text = String::from_utf8(output.stdout).ok()?;
    Some(PathBuf::from(text.trim()))
}

/// Returns `/usr/lib/postgresql/<major>/bin` directories, newest major version first.
fn debian_bindirs() -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir("/usr/lib/postgresql") else {
        return Vec::new();
    };
    let mut versions: Vec<(u32, PathBuf)> = entries
        .filter_map(|entry| entry.ok())
        .filter_map(|entry| {
            let major = entry.file_name().to_str()?.parse::<u32>().ok()?;
            Some((major, entry.path().join("bin")))
        })
        .collect();
    versions.sort_by(|a, b| b.0.cmp(&a.0));
    versions.into_iter().map(|(_, dir)| dir).collect()
}

fn path_dirs() -> Vec<PathBuf> {
    std::env::var_os("PATH")
        .map(|path| std::env::split_paths(&path).collect())
        .unwrap_or_default()
}
