//! Choosing the token source at start.
//!
//! With `--token-source auto` the first source whose configuration is present wins:
//!
//! 1. static: `KEYLESS_STATIC_TOKEN` or `KEYLESS_STATIC_TOKEN_FILE` (`--static-token-file`).
//! 2. app-service: `IDENTITY_ENDPOINT` and `IDENTITY_HEADER`, set by App Service and Azure
//!    Functions when a managed identity is enabled.
//! 3. workload-identity: `AZURE_FEDERATED_TOKEN_FILE`, `AZURE_CLIENT_ID` and
//!    `AZURE_TENANT_ID`, set by AKS workload identity.
//! 4. imds: `--imds-endpoint` (`KEYLESS_IMDS_ENDPOINT`), or `AZURE_POD_IDENTITY_AUTHORITY_HOST`
//!    set by AAD Pod Identity. A plain Azure VM sets no variable that reveals its identity.
//!    Probing 169.254.169.254 would send traffic to a metadata address on machines that are
//!    not VMs, so `auto` never uses the default IMDS address. Choose `imds` explicitly.
//! 5. azure-cli: `--azure-cli-path` (`KEYLESS_AZURE_CLI_PATH`) set, or `az` on `PATH`. Last,
//!    because a developer machine with the CLI may also have one of the variables above on
//!    purpose.
//!
//! When none applies, start-up fails with a message listing what was looked for.

use std::path::PathBuf;
use std::sync::Arc;

use crate::secret::Secret;

use super::app_service::{AppServiceSource, IDENTITY_ENDPOINT_VAR, IDENTITY_HEADER_VAR};
use super::azure_cli::{self, AzureCliSource};
use super::cache::CachingProvider;
use super::imds::{self, ImdsSource, POD_IDENTITY_HOST_VAR};
use super::retry::RetryPolicy;
use super::source::{EnvLookup, FetchError, TokenSource, process_env};
use super::static_source::{STATIC_TOKEN_VAR, StaticToken, StaticTokenProvider};
use super::workload_identity::{
    CLIENT_ID_VAR, FEDERATED_TOKEN_FILE_VAR, TENANT_ID_VAR, WorkloadIdentitySource,
};
use super::{TokenArgs, TokenError, TokenProvider, TokenSourceKind};

/// The variables `auto` checks, listed in the error when none applies.
const AUTO_CHECKLIST: &str = "KEYLESS_STATIC_TOKEN or KEYLESS_STATIC_TOKEN_FILE (static); \
IDENTITY_ENDPOINT and IDENTITY_HEADER (App Service or Azure Functions managed identity); \
AZURE_FEDERATED_TOKEN_FILE, AZURE_CLIENT_ID and AZURE_TENANT_ID (workload identity); \
KEYLESS_IMDS_ENDPOINT or AZURE_POD_IDENTITY_AUTHORITY_HOST (IMDS); \
KEYLESS_AZURE_CLI_PATH or `az` on PATH (Azure CLI)";

/// Time allowed for one Azure CLI run, with no retries.
const AZURE_CLI_POLICY: RetryPolicy = RetryPolicy {
    attempt_timeout: azure_cli::DEFAULT_TIMEOUT,
    total_budget: azure_cli::DEFAULT_TIMEOUT,
};

/// Builds the token provider that `args` and the process environment describe, and logs
/// the choice at info.
pub fn select_provider(args: &TokenArgs) -> Result<Arc<dyn TokenProvider>, TokenError> {
    select_provider_with_env(args, process_env())
}

/// Like [`select_provider`], reading variables through `env` instead of the process
/// environment. The App Service source keeps `env` to re-read `IDENTITY_HEADER`.
pub fn select_provider_with_env(
    args: &TokenArgs,
    env: EnvLookup,
) -> Result<Arc<dyn TokenProvider>, TokenError> {
    let (kind, reason) = match args.token_source {
        TokenSourceKind::Auto => detect(args, &env).ok_or_else(|| {
            TokenError::NotConfigured(format!(
                "no token source is configured; looked for {AUTO_CHECKLIST}. On an Azure VM use --token-source imds"
            ))
        })?,
        kind => (kind, "selected with --token-source"),
    };

    let provider = build(kind, args, &env)?;
    tracing::info!(source = %provider.describe(), reason, "token source selected");
    if args.user_assigned().is_some()
        && !matches!(kind, TokenSourceKind::AppService | TokenSourceKind::Imds)
    {
        tracing::warn!(source = %provider.describe(), "--managed-identity-* options apply only to app-service and imds and are ignored");
    }
    Ok(provider)
}

/// Returns the first source in the documented order whose configuration is present.
fn detect(args: &TokenArgs, env: &EnvLookup) -> Option<(TokenSourceKind, &'static str)> {
    if args.static_token_file.is_some() || env(STATIC_TOKEN_VAR).is_some() {
        return Some((
            TokenSourceKind::Static,
            "KEYLESS_STATIC_TOKEN or KEYLESS_STATIC_TOKEN_FILE is set",
        ));
    }
    if env(IDENTITY_ENDPOINT_VAR).is_some() && env(IDENTITY_HEADER_VAR).is_some() {
        return Some((
            TokenSourceKind::AppService,
            "IDENTITY_ENDPOINT and IDENTITY_HEADER are set",
        ));
    }
    if env(FEDERATED_TOKEN_FILE_VAR).is_some()
        && env(CLIENT_ID_VAR).is_some()
        && env(TENANT_ID_VAR).is_some()
    {
        return Some((
            TokenSourceKind::WorkloadIdentity,
            "AZURE_FEDERATED_TOKEN_FILE, AZURE_CLIENT_ID and AZURE_TENANT_ID are set",
        ));
    }
    if args.imds_endpoint.is_some() || env(POD_IDENTITY_HOST_VAR).is_some() {
        return Some((
            TokenSourceKind::Imds,
            "KEYLESS_IMDS_ENDPOINT or AZURE_POD_IDENTITY_AUTHORITY_HOST is set",
        ));
    }
    if azure_cli_program(args, env).is_some() {
        return Some((TokenSourceKind::AzureCli, "the Azure CLI was found"));
    }
    None
}

fn build(
    kind: TokenSourceKind,
    args: &TokenArgs,
    env: &EnvLookup,
) -> Result<Arc<dyn TokenProvider>, TokenError> {
    let source: Arc<dyn TokenSource> = match kind {
        TokenSourceKind::Auto => unreachable!("auto is resolved by detect"),
        TokenSourceKind::Static => return build_static(args, env),
        TokenSourceKind::AppService => Arc::new(
            AppServiceSource::from_env(args.user_assigned(), env.clone())
                .ok_or_else(|| missing("app-service", "IDENTITY_ENDPOINT and IDENTITY_HEADER"))?
                .map_err(not_configured)?,
        ),
        TokenSourceKind::WorkloadIdentity => Arc::new(
            WorkloadIdentitySource::from_env(env)
                .ok_or_else(|| {
                    missing(
                        "workload-identity",
                        "AZURE_FEDERATED_TOKEN_FILE, AZURE_CLIENT_ID and AZURE_TENANT_ID",
                    )
                })?
                .map_err(not_configured)?,
        ),
        TokenSourceKind::Imds => Arc::new(
            ImdsSource::new(&imds_endpoint(args, env), args.user_assigned())
                .map_err(not_configured)?,
        ),
        TokenSourceKind::AzureCli => {
            let program = azure_cli_program(args, env)
                .ok_or_else(|| missing("azure-cli", "`az` on PATH or --azure-cli-path"))?;
            return Ok(Arc::new(CachingProvider::new(
                Arc::new(AzureCliSource::new(program)),
                AZURE_CLI_POLICY,
            )));
        }
    };

    Ok(Arc::new(CachingProvider::new(source, args.retry_policy())))
}

fn build_static(args: &TokenArgs, env: &EnvLookup) -> Result<Arc<dyn TokenProvider>, TokenError> {
    let source = match (&args.static_token_file, env(STATIC_TOKEN_VAR)) {
        (Some(path), _) => StaticToken::File(path.clone()),
        (None, Some(value)) => StaticToken::Value(Secret::new(value)),
        (None, None) => {
            return Err(missing(
                "static",
                "KEYLESS_STATIC_TOKEN or KEYLESS_STATIC_TOKEN_FILE",
            ));
        }
    };
    Ok(Arc::new(StaticTokenProvider::new(source)))
}

/// Returns the explicit endpoint, the AAD Pod Identity host, or the VM default, in that order.
fn imds_endpoint(args: &TokenArgs, env: &EnvLookup) -> String {
    args.imds_endpoint
        .clone()
        .filter(|endpoint| !endpoint.is_empty())
        .or_else(|| env(POD_IDENTITY_HOST_VAR))
        .unwrap_or_else(|| imds::DEFAULT_ENDPOINT.to_owned())
}

fn azure_cli_program(args: &TokenArgs, env: &EnvLookup) -> Option<PathBuf> {
    if let Some(path) = &args.azure_cli_path {
        return Some(path.clone());
    }
    let path = env("PATH")?;
    azure_cli::find_on_path(azure_cli::DEFAULT_PROGRAM, path.as_ref())
}

fn missing(source: &str, variables: &str) -> TokenError {
    TokenError::NotConfigured(format!(
        "--token-source {source} needs {variables}, but they are not all set"
    ))
}

fn not_configured(error: FetchError) -> TokenError {
    TokenError::NotConfigured(error.to_string())
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn env(pairs: &[(&str, &str)]) -> EnvLookup {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        Arc::new(move |name| map.get(name).cloned())
    }

    fn auto(pairs: &[(&str, &str)]) -> Result<String, TokenError> {
        select_provider_with_env(&TokenArgs::default(), env(pairs))
            .map(|provider| provider.describe())
    }

    #[test]
    fn auto_prefers_static() {
        let described = auto(&[
            ("KEYLESS_STATIC_TOKEN", "pw"),
            ("IDENTITY_ENDPOINT", "http://127.0.0.1:1/msi/token"),
            ("IDENTITY_HEADER", "h"),
        ])
        .unwrap();

        assert!(described.starts_with("static"), "{described}");
    }

    #[test]
    fn auto_picks_app_service() {
        let described = auto(&[
            ("IDENTITY_ENDPOINT", "http://127.0.0.1:1/msi/token"),
            ("IDENTITY_HEADER", "h"),
        ])
        .unwrap();

        assert!(described.starts_with("app-service"), "{described}");
    }

    #[test]
    fn auto_picks_workload_identity() {
        let described = auto(&[
            ("AZURE_FEDERATED_TOKEN_FILE", "/var/run/token"),
            ("AZURE_CLIENT_ID", "c"),
            ("AZURE_TENANT_ID", "t"),
        ])
        .unwrap();

        assert!(described.starts_with("workload-identity"), "{described}");
    }

    #[test]
    fn auto_uses_pod_identity_host_for_imds() {
        let described =
            auto(&[("AZURE_POD_IDENTITY_AUTHORITY_HOST", "http://127.0.0.1:2579")]).unwrap();

        assert!(
            described.contains("imds (http://127.0.0.1:2579/metadata/identity/oauth2/token"),
            "{described}"
        );
    }

    #[test]
    fn auto_never_picks_default_imds() {
        let error = auto(&[("AZURE_CLIENT_ID", "c"), ("PATH", "/nonexistent")]).unwrap_err();

        let message = error.to_string();
        assert!(
            message.contains("IDENTITY_ENDPOINT and IDENTITY_HEADER"),
            "{message}"
        );
        assert!(message.contains("KEYLESS_IMDS_ENDPOINT"), "{message}");
        assert!(message.contains("--token-source imds"), "{message}");
    }

    #[test]
    fn explicit_imds_defaults_to_metadata_address() {
        let args = TokenArgs {
            token_source: TokenSourceKind::Imds,
            ..TokenArgs::default()
        };

        let provider = select_provider_with_env(&args, env(&[])).unwrap();

        assert!(
            provider.describe().contains("169.254.169.254"),
            "{}",
            provider.describe()
        );
    }

    #[test]
    fn explicit_app_service_without_variables_fails() {
        let args = TokenArgs {
            token_source: TokenSourceKind::AppService,
            ..TokenArgs::default()
        };

        let Err(error) = select_provider_with_env(&args, env(&[])) else {
            panic!("app-service without IDENTITY_ENDPOINT was accepted");
        };

        assert!(error.to_string().contains("IDENTITY_ENDPOINT"), "{error}");
    }
}
