//! The seams between the business logic and the host: a `Database` that opens connections
//! and a `Tokens` source for access tokens. The wasm build implements them over the WIT
//! imports (`host_backend`); unit tests use in-memory fakes.

pub use crate::keyless::host::postgres::{
    Column, Date, Datetime, DbError, Error as PgError, Interval, RowSet, Scalar, SslMode, Time,
    Value,
};
pub use crate::keyless::host::token::{TokenError, UnavailableError};

/// Connection parameters. The password is usually an access token, so `Debug` hides it.
#[derive(Clone)]
pub struct ConnectParams {
    /// Server host name.
    pub host: String,
    /// Server port.
    pub port: u16,
    /// Database name.
    pub database: String,
    /// Role name.
    pub user: String,
    /// Password; never printed.
    pub password: String,
    /// TLS policy.
    pub ssl_mode: SslMode,
}

impl std::fmt::Debug for ConnectParams {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("ConnectParams")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("database", &self.database)
            .field("user", &self.user)
            .field("password", &"<redacted>")
            .field("ssl_mode", &self.ssl_mode)
            .finish()
    }
}

/// Opens database connections.
#[allow(
    clippy::result_large_err,
    reason = "the error is the WIT type the host import returns, passed on unchanged"
)]
pub trait Database {
    /// Opens a connection (the host may hand out a pooled one).
    fn open(&self, params: &ConnectParams) -> Result<Box<dyn Connection>, PgError>;
}

/// One database session; statements run in order.
#[allow(
    clippy::result_large_err,
    reason = "the error is the WIT type the host import returns, passed on unchanged"
)]
pub trait Connection {
    /// Runs a parameterised statement and returns its rows.
    fn query(&self, sql: &str, params: &[Value]) -> Result<RowSet, PgError>;

    /// Runs a parameterised statement and returns the number of rows it affected.
    fn execute(&self, sql: &str, params: &[Value]) -> Result<u64, PgError>;
}

/// An access token. `Debug` hides the secret.
#[derive(Clone)]
pub struct Token {
    secret: String,
    /// Expiry as Unix time in seconds.
    pub expires_on: u64,
}

impl Token {
    /// Wraps a token string and its expiry.
    pub fn new(secret: String, expires_on: u64) -> Token {
        Token { secret, expires_on }
    }

    /// Returns the bearer token, for use as the database password only.
    pub fn secret(&self) -> &str {
        &self.secret
    }
}

impl std::fmt::Debug for Token {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("Token")
            .field("secret", &"<redacted>")
            .field("expires_on", &self.expires_on)
            .finish()
    }
}

/// Supplies access tokens.
pub trait Tokens {
    /// Returns a token valid for all of `scopes`.
    fn get_token(&self, scopes: &[String]) -> Result<Token, TokenError>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connect_params_debug_hides_password() {
        let params = ConnectParams {
            host: "db".into(),
            port: 5432,
            database: "postgres".into(),
            user: "app".into(),
            password: "eyJ.secret.token".into(),
            ssl_mode: SslMode::VerifyFull,
        };
        let printed = format!("{params:?}");
        assert!(!printed.contains("secret"), "{printed}");
        assert!(printed.contains("<redacted>"));
    }

    #[test]
    fn token_debug_hides_secret() {
        let token = Token::new("eyJ.secret.token".into(), 42);
        let printed = format!("{token:?}");
        assert!(!printed.contains("eyJ"), "{printed}");
        assert!(printed.contains("42"));
    }
}
