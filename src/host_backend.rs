//! `Database` and `Tokens` over the component's `keyless:host` imports.

use crate::backend::{
    ConnectParams, Connection, Database, PgError, RowSet, Token, TokenError, Tokens, Value,
};
use crate::keyless::host::{postgres, token};

/// The host's `postgres` interface.
pub struct HostDatabase;

impl Database for HostDatabase {
    fn open(&self, params: &ConnectParams) -> Result<Box<dyn Connection>, PgError> {
        let options = postgres::ConnectOptions {
            host: params.host.clone(),
            port: params.port,
            database: params.database.clone(),
            user: params.user.clone(),
            password: params.password.clone(),
            ssl_mode: params.ssl_mode,
        };
        let connection = postgres::Connection::open(&options)?;
        Ok(Box::new(HostConnection(connection)))
    }
}

struct HostConnection(postgres::Connection);

impl Connection for HostConnection {
    fn query(&self, sql: &str, params: &[Value]) -> Result<RowSet, PgError> {
        self.0.query(sql, params)
    }

    fn execute(&self, sql: &str, params: &[Value]) -> Result<u64, PgError> {
        self.0.execute(sql, params)
    }
}

/// The host's `token` interface.
pub struct HostTokens;

impl Tokens for HostTokens {
    fn get_token(&self, scopes: &[String]) -> Result<Token, TokenError> {
        let access = token::get_token(scopes)?;
        Ok(Token::new(access.token, access.expires_on))
    }
}
