//! Command-line options of the `handler` binary and their conversion to [`HostConfig`].

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use clap::{Parser, Subcommand};
use clap::builder::TypedValueParser as _;

use crate::config::{
    DEFAULT_MAX_MEMORY_BYTES, DEFAULT_MAX_REQUEST_BODY_BYTES, DEFAULT_POOL_MAX_SIZE, DEFAULT_POOL_WAIT_TIMEOUT_SECS,
    DEFAULT_REQUEST_TIMEOUT_SECS, HostConfig,
};
use crate::postgres::allow_list::AllowList;
use crate::token::TokenArgs;

/// Port used when neither `--port` nor the Functions variables set one.
pub const DEFAULT_PORT: u16 = 7071;

/// Legacy name of the port variable, read when `FUNCTIONS_CUSTOMHANDLER_PORT` is unset.
pub const LEGACY_PORT_VAR: &str = "FUNCTIONS_HTTPWORKER_PORT";

/// Variables of the host's environment passed on to the component.
pub const COMPONENT_ENV_VARS: [&str; 6] = [
    "PGHOST",
    "PGPORT",
    "PGDATABASE",
    "PGUSER",
    "PGSSLMODE",
    "KEYLESS_TOKEN_SCOPE",
];

/// Azure Functions custom handler that runs the keyless WebAssembly component and gives
/// it access tokens and PostgreSQL connections.
///
/// The component sees PGHOST, PGPORT, PGDATABASE, PGUSER, PGSSLMODE and
/// KEYLESS_TOKEN_SCOPE from this process's environment. Log lines at ERROR and WARN go
/// to stderr, all others to stdout; RUST_LOG sets the filter (default info).
///
/// At start the handler looks next to the component for `<stem>.<hash>.cwasm`, written by
/// `handler precompile` for this engine configuration, and loads it instead of compiling
/// the component. When the file is missing or fails to load it compiles the .wasm.
#[derive(Debug, Parser)]
#[command(name = "handler", version)]
pub struct Cli {
    /// Run a tool instead of the server.
    #[command(subcommand)]
    pub command: Option<Command>,

    /// The component file (a WASI 0.2 HTTP component built from this repository).
    #[arg(long, env = "KEYLESS_COMPONENT", default_value = "keyless.wasm")]
    pub component: PathBuf,

    /// Address to listen on. Keep the default loopback address under Azure Functions,
    /// which connects to 127.0.0.1.
    #[arg(long, env = "KEYLESS_LISTEN_ADDRESS", default_value = "127.0.0.1")]
    pub listen_address: IpAddr,

    /// TCP port to listen on. The Functions host sets FUNCTIONS_CUSTOMHANDLER_PORT; when it
    /// is unset FUNCTIONS_HTTPWORKER_PORT is read, and then 7071 applies.
    #[arg(long, env = "FUNCTIONS_CUSTOMHANDLER_PORT")]
    pub port: Option<u16>,

    /// Database servers the component may connect to, as a comma-separated list of
    /// host:port ([addr]:port for IPv6). Default: $PGHOST:$PGPORT (port 5432 when PGPORT
    /// is unset), or nothing when PGHOST is unset.
    #[arg(long, env = "KEYLESS_ALLOWED_DB_HOSTS", value_delimiter = ',')]
    pub allowed_db_hosts: Vec<String>,

    /// PEM file with root certificates trusted for sslmode verify-full, in addition to
    /// the Azure roots (DigiCert Global Root G2, Microsoft RSA Root Certificate Authority
    /// 2017, DigiCert Global Root CA).
    #[arg(long, env = "KEYLESS_DB_CA_FILE")]
    pub db_ca_file: Option<PathBuf>,

    /// Maximum database connections per (host, port, database, user, sslmode), in use
    /// and idle together.
    #[arg(long, env = "KEYLESS_POOL_MAX_SIZE", default_value_t = DEFAULT_POOL_MAX_SIZE,
          value_parser = clap::value_parser!(u16).range(1..).map(usize::from))]
    pub pool_max_size: usize,

    /// Seconds a request waits for a database connection when its pool is full before it
    /// gets a pool timeout error.
    #[arg(long, env = "KEYLESS_POOL_WAIT_TIMEOUT_SECS", default_value_t = DEFAULT_POOL_WAIT_TIMEOUT_SECS,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub pool_wait_timeout_secs: u64,

    /// Wall-clock limit for one request in seconds, covering component code and database
    /// calls. A request over the limit gets 504. Azure Functions cuts HTTP requests at 230 s.
    #[arg(long, env = "KEYLESS_REQUEST_TIMEOUT_SECS", default_value_t = DEFAULT_REQUEST_TIMEOUT_SECS,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub request_timeout_secs: u64,

    /// Largest request body in bytes; larger requests get 413.
    #[arg(long, env = "KEYLESS_MAX_REQUEST_BODY_BYTES", default_value_t = DEFAULT_MAX_REQUEST_BODY_BYTES)]
    pub max_request_body_bytes: usize,

    /// Largest linear memory of one component instance, in MiB. An instance that grows
    /// past it traps and its request gets 500.
    #[arg(long, env = "KEYLESS_MAX_MEMORY_MB", default_value_t = DEFAULT_MAX_MEMORY_BYTES / (1024 * 1024),
          value_parser = clap::value_parser!(u64).range(1..=65536).map(|mb| mb as usize))]
    pub max_memory_mb: usize,

    /// Directory for wasmtime's cache of compiled machine code. With it a restart loads
    /// the compiled component instead of compiling it again. Default: no cache. Under
    /// Azure Functions pass it in host.json `arguments`. A matching `.cwasm` next to the
    /// component is loaded before the cache is consulted.
    #[arg(long)]
    pub compile_cache_dir: Option<PathBuf>,

    /// Seconds to wait for requests in flight after SIGTERM or SIGINT before exiting.
    #[arg(long, env = "KEYLESS_SHUTDOWN_TIMEOUT_SECS", default_value_t = 10)]
    pub shutdown_timeout_secs: u64,

    #[command(flatten)]
    pub token: TokenArgs,
}

/// Tools of the `handler` binary besides the server.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Compile the component ahead of time into `<output>/<stem>.<hash>.cwasm`, where the
    /// hash identifies this binary's wasmtime version, engine settings and this
    /// machine's CPU features. A server started with the component in the same directory
    /// loads the file instead of compiling; a server on a machine with other CPU features
    /// looks for another name and compiles. Prints the path of the file written.
    Precompile(PrecompileArgs),
}

/// Options of `handler precompile`.
#[derive(Debug, clap::Args)]
pub struct PrecompileArgs {
    /// The component file to compile.
    #[arg(long, default_value = "keyless.wasm")]
    pub component: PathBuf,

    /// Directory to write the `.cwasm` file to; the server looks in the component's
    /// directory.
    #[arg(long)]
    pub output: PathBuf,
}

impl Cli {
    /// The socket address to listen on, applying the legacy port variable and the default.
    pub fn listen_addr(&self) -> Result<SocketAddr, String> {
        let port = match self.port {
            Some(port) => port,
            None => match std::env::var(LEGACY_PORT_VAR) {
                Ok(value) => value.trim().parse().map_err(|_| {
                    format!("{LEGACY_PORT_VAR}={value:?} is not a TCP port; set it to a number from 0 to 65535 or pass --port")
                })?,
                Err(_) => DEFAULT_PORT,
            },
        };
        Ok(SocketAddr::new(self.listen_address, port))
    }

    /// Builds the host settings, reading the component's variables from the environment.
    pub fn host_config(&self) -> Result<HostConfig, String> {
        let component_env: Vec<(String, String)> = COMPONENT_ENV_VARS
            .iter()
            .filter_map(|name| std::env::var(name).ok().map(|value| (name.to_string(), value)))
            .collect();

        let allowed_db_hosts = if self.allowed_db_hosts.is_empty() {
            default_allowed_hosts()
        } else {
            self.allowed_db_hosts.clone()
        };
        AllowList::parse(&allowed_db_hosts)?;

        if let Some(path) = &self.db_ca_file
            && !path.is_file()
        {
            return Err(format!(
                "the database CA file {} does not exist; fix --db-ca-file or KEYLESS_DB_CA_FILE",
                path.display()
            ));
        }

        Ok(HostConfig {
            component: self.component.clone(),
            component_env,
            allowed_db_hosts,
            db_ca_file: self.db_ca_file.clone(),
            pool_max_size: self.pool_max_size,
            pool_wait_timeout: Duration::from_secs(self.pool_wait_timeout_secs),
            request_timeout: Duration::from_secs(self.request_timeout_secs),
            max_request_body_bytes: self.max_request_body_bytes,
            max_memory_bytes: self.max_memory_mb * 1024 * 1024,
            compile_cache_dir: self.compile_cache_dir.clone(),
        })
    }
}

/// `$PGHOST:$PGPORT`, the one server the component is configured for.
fn default_allowed_hosts() -> Vec<String> {
    let Ok(host) = std::env::var("PGHOST") else {
        return Vec::new();
    };
    let port = std::env::var("PGPORT").unwrap_or_else(|_| "5432".to_owned());
    if host.contains(':') && !host.starts_with('[') {
        vec![format!("[{host}]:{port}")]
    } else {
        vec![format!("{host}:{port}")]
    }
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::Cli;

    #[test]
    fn cli_definition_is_valid() {
        Cli::command().debug_assert();
    }

    #[test]
    fn help_documents_env_and_defaults() {
        let help = Cli::command().render_long_help().to_string();
        for needle in [
            "KEYLESS_ALLOWED_DB_HOSTS",
            "FUNCTIONS_CUSTOMHANDLER_PORT",
            "default: 10",
            "KEYLESS_DB_CA_FILE",
            "MiB",
            "precompile",
            ".cwasm",
        ] {
            assert!(help.contains(needle), "help lacks {needle}:\n{help}");
        }
    }
}
