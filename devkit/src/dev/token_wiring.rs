//! The handler's token source: where it gets the token that is the login role's
//! password.

use std::ffi::OsString;
use std::path::Path;
use std::time::Duration;

use anyhow::Result;

use super::cli::UpArgs;
use super::emulator;
use crate::identity::EmulatorHandle;
use crate::postgres::TestCluster;

/// The handler's token source for one run of `up`.
pub struct TokenWiring {
    /// Environment variables that point the handler at the token source.
    pub env: Vec<(String, OsString)>,
    /// The identity endpoint emulator with `--identity-emulator`. Dropping it stops the
    /// emulator.
    pub emulator: Option<EmulatorHandle>,
}

/// Sets up the token source that `args` selects.
///
/// Static: the handler reads the token from a 0600 file (`KEYLESS_STATIC_TOKEN_FILE`)
/// rather than from `KEYLESS_STATIC_TOKEN`, so the token does not sit in the process
/// environment, and a rewritten file takes effect on the next request.
///
/// `--identity-emulator`: the handler fetches tokens from the emulator with the App
/// Service protocol (`IDENTITY_ENDPOINT`, `IDENTITY_HEADER`), and the emulator writes each
/// token it issues to `token_file` for the psql command.
pub async fn wire(args: &UpArgs, cluster: &TestCluster, token_file: &Path) -> Result<TokenWiring> {
    if !args.identity_emulator {
        return Ok(TokenWiring {
            env: vec![
                ("KEYLESS_TOKEN_SOURCE".to_string(), "static".into()),
                (
                    "KEYLESS_STATIC_TOKEN_FILE".to_string(),
                    token_file.as_os_str().to_owned(),
                ),
            ],
            emulator: None,
        });
    }

    let lifetime = Duration::from_secs(args.token_lifetime_secs);
    let handle = emulator::start(cluster, &args.role, lifetime, token_file).await?;
    tracing::info!(
        endpoint = %handle.app_service_endpoint(),
        token_lifetime_secs = args.token_lifetime_secs,
        "identity emulator started"
    );

    Ok(TokenWiring {
        env: vec![
            ("KEYLESS_TOKEN_SOURCE".to_string(), "app-service".into()),
            (
                "IDENTITY_ENDPOINT".to_string(),
                handle.app_service_endpoint().into(),
            ),
            (
                "IDENTITY_HEADER".to_string(),
                handle.identity_header().into(),
            ),
        ],
        emulator: Some(handle),
    })
}
