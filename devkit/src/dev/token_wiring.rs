//! The handler's token source: where it reads the token that is the login role's
//! password.

use std::ffi::OsString;
use std::path::Path;

use anyhow::{Result, bail};

use super::cli::UpArgs;

/// Environment variables that point the handler at its token source.
///
/// Static: the handler reads the token from a 0600 file (`KEYLESS_STATIC_TOKEN_FILE`)
/// rather than from `KEYLESS_STATIC_TOKEN`, so the token does not sit in the process
/// environment, and a rewritten file takes effect on the next request.
pub fn handler_token_env(args: &UpArgs, token_file: &Path) -> Result<Vec<(String, OsString)>> {
    if args.identity_emulator {
        // TODO: start the identity endpoint emulator from crate::identity here and return
        // IDENTITY_ENDPOINT, IDENTITY_HEADER and KEYLESS_TOKEN_SOURCE=app-service.
        bail!(
            "--identity-emulator is not wired into keyless-dev yet; run without it to use a \
             static token"
        );
    }

    Ok(vec![
        ("KEYLESS_TOKEN_SOURCE".to_string(), "static".into()),
        (
            "KEYLESS_STATIC_TOKEN_FILE".to_string(),
            token_file.as_os_str().to_owned(),
        ),
    ])
}
