//! Database and token settings read from the component's environment variables.

use crate::backend::SslMode;
use crate::problem::{Problem, quote};

/// Token scope for Azure Database for PostgreSQL.
pub const DEFAULT_TOKEN_SCOPE: &str = "https://ossrdbms-aad.database.windows.net/.default";

/// Port used when `PGPORT` is unset.
pub const DEFAULT_PORT: u16 = 5432;

/// Database used when `PGDATABASE` is unset.
pub const DEFAULT_DATABASE: &str = "postgres";

/// Database connection settings and the token scope.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// `PGHOST`: server host name (required).
    pub host: String,
    /// `PGPORT`: server port.
    pub port: u16,
    /// `PGDATABASE`: database name.
    pub database: String,
    /// `PGUSER`: role name, for an Entra identity the principal's name (required).
    pub user: String,
    /// `PGSSLMODE`: `disable`, `require` or `verify-full` (default).
    pub ssl_mode: SslMode,
    /// `KEYLESS_TOKEN_SCOPE`: scope of the access token used as the password.
    pub token_scope: String,
}

impl Config {
    /// Reads the configuration from the process environment.
    pub fn from_env() -> Result<Config, Problem> {
        Config::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads the configuration through `lookup`, which returns a variable's value. An empty
    /// value counts as unset. Errors are 500 problems that name the variable and the fix.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Config, Problem> {
        let get = |name: &str| lookup(name).filter(|value| !value.is_empty());

        let host = get("PGHOST").ok_or_else(|| {
            Problem::internal(
                "PGHOST is not set: set it to the database server's host name, for example \
                 myserver.postgres.database.azure.com",
            )
        })?;
        let user = get("PGUSER").ok_or_else(|| {
            Problem::internal(
                "PGUSER is not set: set it to the database role of the identity the function \
                 runs as",
            )
        })?;
        let port = match get("PGPORT") {
            Some(text) => parse_port(&text)?,
            None => DEFAULT_PORT,
        };
        let ssl_mode = match get("PGSSLMODE") {
            Some(text) => parse_ssl_mode(&text)?,
            None => SslMode::VerifyFull,
        };

        Ok(Config {
            host,
            port,
            database: get("PGDATABASE").unwrap_or_else(|| DEFAULT_DATABASE.to_string()),
            user,
            ssl_mode,
            token_scope: get("KEYLESS_TOKEN_SCOPE")
                .unwrap_or_else(|| DEFAULT_TOKEN_SCOPE.to_string()),
        })
    }
}

fn parse_port(text: &str) -> Result<u16, Problem> {
    match text.parse::<u16>() {
        Ok(port) if port > 0 => Ok(port),
        _ => Err(Problem::internal(format!(
            "PGPORT {} is not a valid port: set it to a number from 1 to 65535, or unset it \
             for {DEFAULT_PORT}",
            quote(text)
        ))),
    }
}

/// Parses libpq's `sslmode` names. `prefer`, `allow` and `verify-ca` are rejected because
/// they either fall back to plain text or skip the host name check, and the password is a
/// bearer token.
fn parse_ssl_mode(text: &str) -> Result<SslMode, Problem> {
    match text {
        "disable" => Ok(SslMode::Disable),
        "require" => Ok(SslMode::Require),
        "verify-full" => Ok(SslMode::VerifyFull),
        _ => Err(Problem::internal(format!(
            "PGSSLMODE {} is not supported: set it to verify-full (the default), require or \
             disable",
            quote(text)
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config_from(pairs: &[(&str, &str)]) -> Result<Config, Problem> {
        Config::from_lookup(|name| {
            pairs
                .iter()
                .find(|(key, _)| *key == name)
                .map(|(_, value)| value.to_string())
        })
    }

    #[test]
    fn defaults_apply() {
        let config = config_from(&[("PGHOST", "db.example"), ("PGUSER", "app")]).unwrap();
        assert_eq!(config.host, "db.example");
        assert_eq!(config.user, "app");
        assert_eq!(config.port, 5432);
        assert_eq!(config.database, "postgres");
        assert_eq!(config.ssl_mode, SslMode::VerifyFull);
        assert_eq!(config.token_scope, DEFAULT_TOKEN_SCOPE);
    }

    #[test]
    fn explicit_values_apply() {
        let config = config_from(&[
            ("PGHOST", "127.0.0.1"),
            ("PGUSER", "app"),
            ("PGPORT", "6543"),
            ("PGDATABASE", "crm"),
            ("PGSSLMODE", "disable"),
            ("KEYLESS_TOKEN_SCOPE", "api://x/.default"),
        ])
        .unwrap();
        assert_eq!(config.port, 6543);
        assert_eq!(config.database, "crm");
        assert_eq!(config.ssl_mode, SslMode::Disable);
        assert_eq!(config.token_scope, "api://x/.default");
    }

    #[test]
    fn missing_host_names_variable() {
        let problem = config_from(&[("PGUSER", "app")]).unwrap_err();
        assert_eq!(problem.status, 500);
        assert!(
            problem.detail.starts_with("PGHOST is not set"),
            "{}",
            problem.detail
        );
    }

    #[test]
    fn empty_user_counts_as_missing() {
        let problem = config_from(&[("PGHOST", "h"), ("PGUSER", "")]).unwrap_err();
        assert!(
            problem.detail.starts_with("PGUSER is not set"),
            "{}",
            problem.detail
        );
    }

    #[test]
    fn invalid_port_names_value() {
        for bad in ["abc", "0", "70000", "-1"] {
            let problem =
                config_from(&[("PGHOST", "h"), ("PGUSER", "u"), ("PGPORT", bad)]).unwrap_err();
            assert_eq!(problem.status, 500);
            assert!(
                problem.detail.contains(&format!("PGPORT `{bad}`")),
                "{}",
                problem.detail
            );
        }
    }

    #[test]
    fn libpq_only_ssl_modes_rejected() {
        for bad in ["prefer", "allow", "verify-ca", "VERIFY-FULL"] {
            let problem =
                config_from(&[("PGHOST", "h"), ("PGUSER", "u"), ("PGSSLMODE", bad)]).unwrap_err();
            assert_eq!(problem.status, 500);
            assert!(
                problem.detail.contains(&format!("PGSSLMODE `{bad}`")),
                "{}",
                problem.detail
            );
            assert!(problem.detail.contains("verify-full"));
        }
    }

    #[test]
    fn require_mode_accepted() {
        let config =
            config_from(&[("PGHOST", "h"), ("PGUSER", "u"), ("PGSSLMODE", "require")]).unwrap();
        assert_eq!(config.ssl_mode, SslMode::Require);
    }
}
