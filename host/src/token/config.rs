//! Command-line and environment options that choose the token source.

use std::path::PathBuf;

use clap::{Args, ValueEnum};

/// Where the host gets access tokens.
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
    /// Token source. `auto` picks the first one configured.
    #[arg(long, env = "KEYLESS_TOKEN_SOURCE", value_enum, default_value_t = TokenSourceKind::Auto)]
    pub token_source: TokenSourceKind,

    /// Read the static token or password from this file, re-read on every request so a
    /// rotated file takes effect at once. Takes precedence over `KEYLESS_STATIC_TOKEN`.
    #[arg(long, env = "KEYLESS_STATIC_TOKEN_FILE")]
    pub static_token_file: Option<PathBuf>,
}
