//! The identity endpoint emulator for `keyless-dev up --identity-emulator`: every token it
//! issues becomes the login role's password until the token's expiry.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result};
use tokio_postgres::Client;

use super::database;
use crate::identity::{self, EmulatorConfig, EmulatorHandle, IssueHook};
use crate::postgres::{TestCluster, describe_db_error, random_password};

/// Length of the random `IDENTITY_HEADER` value the handler must send.
const IDENTITY_HEADER_LENGTH: usize = 32;

/// Starts the emulator on 127.0.0.1 at a free port, on its own thread, issuing tokens that
/// live `lifetime`. Each issued token becomes the password of `role` with `VALID UNTIL` at
/// its expiry, so PostgreSQL rejects an expired token at login as Azure Database for
/// PostgreSQL does with an expired Entra ID token, and it replaces the contents of
/// `token_file`.
pub async fn start(
    cluster: &TestCluster,
    role: &str,
    lifetime: Duration,
    token_file: &Path,
) -> Result<EmulatorHandle> {
    // The session's connection task runs on this runtime, and the hook sends statements
    // through it from the emulator's thread.
    let superuser = cluster
        .try_client("postgres")
        .await
        .context("failed to open the session the identity emulator sets passwords through")?;

    let config = EmulatorConfig {
        token_lifetime: lifetime,
        identity_header: random_password(IDENTITY_HEADER_LENGTH),
        on_issue: Some(password_hook(superuser, role, token_file)),
        ..EmulatorConfig::default()
    };
    identity::start_in_background(config)
}

/// Builds the issue hook: set the role's password, then rewrite the token file, then log
/// the running count of issued tokens.
fn password_hook(superuser: Client, role: &str, token_file: &Path) -> IssueHook {
    let superuser = Arc::new(superuser);
    let role = role.to_owned();
    let token_file = token_file.to_path_buf();
    let issued = Arc::new(AtomicUsize::new(0));

    identity::hook(move |token, expires_on| {
        let (superuser, role, token_file, issued) = (
            superuser.clone(),
            role.clone(),
            token_file.clone(),
            issued.clone(),
        );
        async move {
            apply_token(&superuser, &role, &token_file, &token, expires_on)
                .await
                .map_err(|error| format!("{error:#}"))?;

            let count = issued.fetch_add(1, Ordering::SeqCst) + 1;
            tracing::info!(
                tokens_issued = count,
                expires_on = unix_seconds(expires_on),
                role = %role,
                "identity emulator issued a token and made it the role's password"
            );
            Ok(())
        }
    })
}

async fn apply_token(
    superuser: &Client,
    role: &str,
    token_file: &Path,
    token: &str,
    expires_on: SystemTime,
) -> Result<()> {
    set_password(superuser, role, token, expires_on).await?;
    database::replace_secret_file(token_file, token)
}

/// Sets the password of `role` to `token`, valid until `expires_on`.
///
/// The statement carries a SCRAM verifier computed here, not the token, so the token
/// does not reach the server log when the statement fails.
async fn set_password(
    superuser: &Client,
    role: &str,
    token: &str,
    expires_on: SystemTime,
) -> Result<()> {
    let verifier = postgres_protocol::password::scram_sha_256(token.as_bytes());
    let seconds = unix_seconds(expires_on) as f64;
    let statement: String = superuser
        .query_one(
            "select format('alter role %I password %L valid until %L', $1::text, $2::text, \
             to_timestamp($3::float8))",
            &[&role, &verifier, &seconds],
        )
        .await
        .map_err(describe_db_error)
        .context("failed to build the ALTER ROLE statement")?
        .get(0);

    superuser
        .batch_execute(&statement)
        .await
        .map_err(describe_db_error)
        .with_context(|| format!("failed to set the password of role {role}"))
}

fn unix_seconds(instant: SystemTime) -> u64 {
    instant
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs()
}
