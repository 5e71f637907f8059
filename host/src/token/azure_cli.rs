//! Tokens from a signed-in Azure CLI, for running on a developer machine.
//!
//! Runs `az account get-access-token --scope <scope>... --output json` and reads
//! `accessToken` plus `expires_on` (epoch seconds, Azure CLI 2.54.0 and later) or
//! `expiresOn` (local time). `azure_identity` (1.0) has an equivalent credential, but it
//! runs `az` by name through a shell and takes one scope only. Running the program directly
//! lets `--azure-cli-path` and tests choose it, without pulling in `azure_core`.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use super::response::{AZURE_CLI_FIELDS, parse_token_reply, unix_now};
use super::source::{FetchError, TokenSource};
use super::{AccessToken, TokenFuture};

/// The command looked up on `PATH` when no path is configured.
pub const DEFAULT_PROGRAM: &str = "az";

/// Default time allowed for one `az` run. The CLI is a Python program that takes a few
/// seconds to start and may refresh its own credentials over the network.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(20);

/// Maximum length of the CLI's error output copied into a message.
const MAX_STDERR_CHARS: usize = 400;

/// Fetches tokens by running the Azure CLI.
#[derive(Debug)]
pub struct AzureCliSource {
    program: PathBuf,
}

impl AzureCliSource {
    /// Creates a source that runs `program`, a path to `az` or a stand-in.
    pub fn new(program: PathBuf) -> Self {
        Self { program }
    }
}

/// Finds an executable `name` in the directories of `path`, a `PATH`-style list.
pub fn find_on_path(name: &str, path: &OsStr) -> Option<PathBuf> {
    std::env::split_paths(path)
        .filter(|dir| !dir.as_os_str().is_empty())
        .map(|dir| dir.join(name))
        .find(|candidate| is_executable(candidate))
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;

    std::fs::metadata(path)
        .map(|meta| meta.is_file() && meta.permissions().mode() & 0o111 != 0)
        .unwrap_or(false)
}

impl TokenSource for AzureCliSource {
    fn fetch<'a>(
        &'a self,
        scopes: &'a [String],
    ) -> TokenFuture<'a, Result<AccessToken, FetchError>> {
        Box::pin(async move {
            if scopes.is_empty() {
                return Err(FetchError::NotConfigured(
                    "no scope was requested".to_owned(),
                ));
            }

            // `kill_on_drop` ends the CLI when the retry policy's timeout drops this future.
            let output = tokio::process::Command::new(&self.program)
                .args(["account", "get-access-token", "--output", "json", "--scope"])
                .args(scopes)
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .kill_on_drop(true)
                .output()
                .await
                .map_err(|error| {
                    FetchError::NotConfigured(format!(
                        "cannot run the Azure CLI at {}: {error}; install it or set --azure-cli-path",
                        self.program.display()
                    ))
                })?;

            if !output.status.success() {
                let stderr = String::from_utf8_lossy(&output.stderr);
                let stderr: String = stderr.trim().chars().take(MAX_STDERR_CHARS).collect();
                return Err(FetchError::Denied(format!(
                    "`{} account get-access-token` failed ({}): {stderr}; run `az login` and check the scope",
                    self.program.display(),
                    output.status
                )));
            }

            parse_token_reply(&output.stdout, &AZURE_CLI_FIELDS, unix_now()).map_err(|error| {
                FetchError::Denied(format!(
                    "the Azure CLI printed an unexpected reply: {error}"
                ))
            })
        })
    }

    fn identity(&self) -> String {
        "azure-cli signed-in user".to_owned()
    }

    fn describe(&self) -> String {
        format!("azure-cli ({})", self.program.display())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn find_on_path_skips_missing_and_non_executable() {
        let dir = std::env::temp_dir().join(format!("keyless-path-test-{}", std::process::id()));
        let plain = dir.join("plain");
        let exec = dir.join("exec");
        std::fs::create_dir_all(&plain).unwrap();
        std::fs::create_dir_all(&exec).unwrap();
        std::fs::write(plain.join("az"), "").unwrap();
        std::fs::write(exec.join("az"), "#!/bin/sh\n").unwrap();
        std::fs::set_permissions(
            exec.join("az"),
            std::os::unix::fs::PermissionsExt::from_mode(0o755),
        )
        .unwrap();
        let path =
            std::env::join_paths([dir.join("missing"), plain.clone(), exec.clone()]).unwrap();

        let found = find_on_path("az", &path);

        assert_eq!(found, Some(exec.join("az")));
        assert_eq!(find_on_path("az", OsStr::new("")), None);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
