//! Creating the database, the login role and the schema for a local run.

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use anyhow::{Context, Result};

use crate::postgres::{TestCluster, describe_db_error};

/// Creates `database`, a login role `role` with `token` as its password and no expiry,
/// makes the role the database owner, and applies `schema_sql` as that role so it owns
/// the tables it creates.
pub async fn prepare(
    cluster: &TestCluster,
    database: &str,
    role: &str,
    token: &str,
    schema_sql: &str,
) -> Result<()> {
    cluster.try_create_database(database).await?;
    cluster.try_create_login_role(role, token, None).await?;

    let admin = cluster.try_client("postgres").await?;
    let statement: String = admin
        .query_one(
            "select format('alter database %I owner to %I', $1::text, $2::text)",
            &[&database, &role],
        )
        .await?
        .get(0);
    admin
        .batch_execute(&statement)
        .await
        .map_err(describe_db_error)
        .with_context(|| format!("failed to make role {role} the owner of database {database}"))?;

    let app = cluster.try_connect_as(database, role, token).await?;
    app.batch_execute(schema_sql)
        .await
        .map_err(describe_db_error)
        .with_context(|| format!("failed to apply the schema to database {database} as {role}"))?;
    Ok(())
}

/// Writes `token` to a new file readable only by the current user (mode 0600).
pub fn write_secret_file(path: &Path, token: &str) -> Result<()> {
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("failed to create {}", path.display()))?;
    file.write_all(token.as_bytes())
        .with_context(|| format!("failed to write {}", path.display()))?;
    Ok(())
}

/// Replaces the contents of `path` with `token`. The token goes to a new 0600 file next to
/// `path` that is then renamed over it, so a reader sees the old token or the new one,
/// never a partial write.
pub fn replace_secret_file(path: &Path, token: &str) -> Result<()> {
    let mut next = path.as_os_str().to_owned();
    next.push(".next");
    let next = std::path::PathBuf::from(next);

    // A leftover file from a failed earlier write is replaced.
    match std::fs::remove_file(&next) {
        Ok(()) => {}
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => {}
        Err(err) => {
            return Err(err).with_context(|| format!("failed to remove {}", next.display()));
        }
    }
    write_secret_file(&next, token)?;
    std::fs::rename(&next, path)
        .with_context(|| format!("failed to rename {} to {}", next.display(), path.display()))
}
