//! Command-line and environment options that choose the token source.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, ValueEnum};

use super::retry::{DEFAULT_ATTEMPT_TIMEOUT, DEFAULT_TOTAL_BUDGET, RetryPolicy};
use super::source::UserAssignedId;

/// The kind of place the host gets access tokens from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum TokenSourceKind {
    /// Pick the first source whose configuration is present, in a documented order.
    Auto,
    /// A fixed token or password from `KEYLESS_STATIC_TOKEN` or `KEYLESS_STATIC_TOKEN_FILE`.
    Static,
    /// The App Service and Functions managed identity endpoint (`IDENTITY_ENDPOINT`).
    AppService,
    /// The virtual machine instance metadata endpoint.
    Imds,
    /// A federated token file exchanged at the Entra authority.
    WorkloadIdentity,
    /// `az account get-access-token` from a signed-in Azure CLI.
    AzureCli,
}

/// Options for the token source.
#[derive(Clone, Debug, Args)]
pub struct TokenArgs {
    /// Token source. `auto` picks, in this order: static (KEYLESS_STATIC_TOKEN or
    /// KEYLESS_STATIC_TOKEN_FILE set), app-service (IDENTITY_ENDPOINT and IDENTITY_HEADER
    /// set), workload-identity (AZURE_FEDERATED_TOKEN_FILE, AZURE_CLIENT_ID and
    /// AZURE_TENANT_ID set), imds (--imds-endpoint or AZURE_POD_IDENTITY_AUTHORITY_HOST
    /// set), azure-cli (--azure-cli-path set or `az` on PATH). On an Azure VM without those
    /// variables, choose `imds` explicitly.
    #[arg(long, env = "KEYLESS_TOKEN_SOURCE", value_enum, default_value_t = TokenSourceKind::Auto)]
    pub token_source: TokenSourceKind,

    /// Read the static token or password from this file, re-read on every request so a
    /// rotated file takes effect at once. Takes precedence over `KEYLESS_STATIC_TOKEN`.
    #[arg(long, env = "KEYLESS_STATIC_TOKEN_FILE")]
    pub static_token_file: Option<PathBuf>,

    /// URL of the IMDS token endpoint, for example
    /// `http://169.254.169.254/metadata/identity/oauth2/token` (a URL without a path gets
    /// `/metadata/identity/oauth2/token`). `--token-source imds` without this option uses
    /// 169.254.169.254; `auto` uses IMDS only when this option or
    /// AZURE_POD_IDENTITY_AUTHORITY_HOST is set.
    #[arg(long, env = "KEYLESS_IMDS_ENDPOINT")]
    pub imds_endpoint: Option<String>,

    /// Client ID of a user-assigned managed identity (app-service and imds). Without any
    /// `--managed-identity-*` option the system-assigned identity is used.
    #[arg(long, env = "KEYLESS_MANAGED_IDENTITY_CLIENT_ID", conflicts_with_all = ["managed_identity_object_id", "managed_identity_resource_id"])]
    pub managed_identity_client_id: Option<String>,

    /// Object (principal) ID of a user-assigned managed identity (app-service and imds).
    #[arg(
        long,
        env = "KEYLESS_MANAGED_IDENTITY_OBJECT_ID",
        conflicts_with = "managed_identity_resource_id"
    )]
    pub managed_identity_object_id: Option<String>,

    /// Azure resource ID of a user-assigned managed identity (app-service and imds), such as
    /// `/subscriptions/<id>/resourceGroups/<rg>/providers/Microsoft.ManagedIdentity/userAssignedIdentities/<name>`.
    #[arg(long, env = "KEYLESS_MANAGED_IDENTITY_RESOURCE_ID")]
    pub managed_identity_resource_id: Option<String>,

    /// Path of the Azure CLI for the azure-cli source. Default: `az` found on PATH.
    #[arg(long, env = "KEYLESS_AZURE_CLI_PATH")]
    pub azure_cli_path: Option<PathBuf>,

    /// Time allowed for one request to an identity endpoint, in milliseconds.
    #[arg(long, env = "KEYLESS_TOKEN_ATTEMPT_TIMEOUT_MS", value_parser = clap::value_parser!(u64).range(1..), default_value_t = DEFAULT_ATTEMPT_TIMEOUT.as_millis() as u64)]
    pub token_attempt_timeout_ms: u64,

    /// Time allowed for one token fetch including retries and the waits between them, in
    /// milliseconds. When it runs out the request fails with a retry-after hint.
    #[arg(long, env = "KEYLESS_TOKEN_RETRY_BUDGET_MS", value_parser = clap::value_parser!(u64).range(1..), default_value_t = DEFAULT_TOTAL_BUDGET.as_millis() as u64)]
    pub token_retry_budget_ms: u64,
}

impl Default for TokenArgs {
    /// Returns the values clap uses when no flag or variable is given.
    fn default() -> Self {
        Self {
            token_source: TokenSourceKind::Auto,
            static_token_file: None,
            imds_endpoint: None,
            managed_identity_client_id: None,
            managed_identity_object_id: None,
            managed_identity_resource_id: None,
            azure_cli_path: None,
            token_attempt_timeout_ms: DEFAULT_ATTEMPT_TIMEOUT.as_millis() as u64,
            token_retry_budget_ms: DEFAULT_TOTAL_BUDGET.as_millis() as u64,
        }
    }
}

impl TokenArgs {
    /// Returns the user-assigned identity chosen by the `--managed-identity-*` options, if any.
    pub fn user_assigned(&self) -> Option<UserAssignedId> {
        let non_empty = |value: &Option<String>| value.clone().filter(|value| !value.is_empty());

        non_empty(&self.managed_identity_client_id)
            .map(UserAssignedId::ClientId)
            .or_else(|| non_empty(&self.managed_identity_object_id).map(UserAssignedId::ObjectId))
            .or_else(|| {
                non_empty(&self.managed_identity_resource_id).map(UserAssignedId::ResourceId)
            })
    }

    /// Returns the retry policy for identity endpoints.
    pub fn retry_policy(&self) -> RetryPolicy {
        RetryPolicy {
            attempt_timeout: Duration::from_millis(self.token_attempt_timeout_ms),
            total_budget: Duration::from_millis(self.token_retry_budget_ms),
        }
    }
}
