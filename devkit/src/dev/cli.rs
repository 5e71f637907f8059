//! Command-line interface of `keyless-dev`.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// Runs keyless locally: a throwaway PostgreSQL server, the schema with sample rows, and
/// the `handler` binary serving the component on loopback.
#[derive(Debug, Parser)]
#[command(name = "keyless-dev", version)]
pub struct Cli {
    /// The subcommand.
    #[command(subcommand)]
    pub command: Command,
}

/// Subcommands of `keyless-dev`.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Start PostgreSQL in a temporary directory, create the database and a login role
    /// whose password plays the access token, apply the schema, then run the handler until
    /// Ctrl-C (SIGINT) or SIGTERM, which stops the handler, PostgreSQL and the identity
    /// emulator (with --identity-emulator) and removes the directory.
    Up(UpArgs),
}

/// Options of `keyless-dev up`.
#[derive(Debug, Clone, Args)]
pub struct UpArgs {
    /// The `handler` binary (crate keyless-host). Default: target/release/handler, or
    /// target/debug/handler when only that one exists.
    #[arg(long, env = "KEYLESS_DEV_HANDLER", value_name = "PATH")]
    pub handler: Option<PathBuf>,

    /// The component the handler runs. Default:
    /// target/wasm32-wasip2/release/keyless.wasm.
    #[arg(long, env = "KEYLESS_DEV_COMPONENT", value_name = "PATH")]
    pub component: Option<PathBuf>,

    /// TCP port the handler listens on at 127.0.0.1.
    #[arg(long, env = "KEYLESS_DEV_PORT", default_value_t = 7071)]
    pub port: u16,

    /// Name of the database to create.
    #[arg(long, default_value = "keyless")]
    pub database: String,

    /// Name of the login role the handler connects as. It owns the database and the
    /// tables in the schema.
    #[arg(long, default_value = "keyless_app")]
    pub role: String,

    /// SQL file applied to the database as the login role. Default: schema.sql at the
    /// repository root.
    #[arg(long, value_name = "PATH")]
    pub schema: Option<PathBuf>,

    /// Start PostgreSQL with TLS (a certificate from a fresh test CA) and have the
    /// component connect with PGSSLMODE=verify-full, trusting that CA through
    /// KEYLESS_DB_CA_FILE. Without this flag the connection uses PGSSLMODE=disable.
    #[arg(long)]
    pub tls: bool,

    /// Serve tokens from a managed identity endpoint emulator on 127.0.0.1 instead of a
    /// static token, so tokens expire and rotate as they do in Azure. The handler fetches
    /// them with the App Service protocol and refreshes each one at half its lifetime.
    /// Every issued token becomes the login role's password with VALID UNTIL at its
    /// expiry, so PostgreSQL rejects expired tokens, and replaces the contents of the
    /// token file the printed psql command reads.
    #[arg(long)]
    pub identity_emulator: bool,

    /// Lifetime in seconds of the tokens the emulator issues (30 to 86400). With 30 the
    /// handler refreshes its token every 15 seconds. Requires --identity-emulator.
    #[arg(
        long,
        default_value_t = 300,
        value_name = "SECONDS",
        requires = "identity_emulator",
        value_parser = clap::value_parser!(u64).range(30..=86_400)
    )]
    pub token_lifetime_secs: u64,

    /// Seconds to wait for the handler to respond to HTTP before giving up.
    #[arg(long, default_value_t = 30, value_name = "SECONDS")]
    pub ready_timeout_secs: u64,

    /// Extra arguments for the handler, after `--`, for example
    /// `-- --request-timeout-secs 10`.
    #[arg(last = true, value_name = "HANDLER_ARGS")]
    pub handler_args: Vec<String>,
}
