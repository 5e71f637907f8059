//! tokio-postgres errors turned into the WIT `error` variant.
//!
//! Server errors keep their structure, read from `as_db_error()`. Since tokio-postgres
//! 0.7.15 the `Display` of an error shows only its own kind ("db error"), so the text of
//! other errors is built from the whole `source()` chain. None of these texts contain the
//! password: tokio-postgres never puts it in an error.

use std::error::Error as StdError;

use tokio_postgres::error::SqlState;

use crate::bindings::wit_postgres::{DbError, Error as WitError};

/// Copies the structured fields of a server error.
pub fn db_error_pg_to_wit(error: &tokio_postgres::error::DbError) -> DbError {
    DbError {
        code: error.code().code().to_owned(),
        severity: error.severity().to_owned(),
        message: error.message().to_owned(),
        detail: error.detail().map(str::to_owned),
        hint: error.hint().map(str::to_owned),
        constraint: error.constraint().map(str::to_owned),
    }
}

/// Whether the server rejected the login: SQLSTATE 28P01 (invalid password) or 28000
/// (invalid authorization, which Azure returns for expired or unknown tokens).
pub fn is_authentication_failure(error: &tokio_postgres::Error) -> bool {
    matches!(
        error.code(),
        Some(code) if *code == SqlState::INVALID_PASSWORD || *code == SqlState::INVALID_AUTHORIZATION_SPECIFICATION
    )
}

/// Maps an error from connecting to `target` (`host:port`).
pub fn connect_error_pg_to_wit(error: &tokio_postgres::Error, target: &str) -> WitError {
    match error.as_db_error() {
        Some(db_error) if is_authentication_failure(error) => {
            WitError::AuthenticationFailed(db_error_pg_to_wit(db_error))
        }
        Some(db_error) => WitError::ConnectionFailed(format!(
            "{target} rejected the connection: {} (SQLSTATE {})",
            db_error.message(),
            db_error.code().code()
        )),
        None => WitError::ConnectionFailed(format!("cannot connect to {target}: {}", error_chain(error))),
    }
}

/// Maps an error from preparing or running a statement.
pub fn query_error_pg_to_wit(error: &tokio_postgres::Error) -> WitError {
    if let Some(db_error) = error.as_db_error() {
        return WitError::QueryFailed(db_error_pg_to_wit(db_error));
    }
    if error.is_closed() {
        return WitError::ConnectionFailed("the database connection is closed; open a new one".to_owned());
    }
    WitError::ConnectionFailed(error_chain(error))
}

/// Joins an error's message with those of its sources: `outer: inner: innermost`.
pub fn error_chain(error: &dyn StdError) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.ends_with(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

/// The WIT case name of an error, for logs.
pub fn error_kind_name(error: &WitError) -> &'static str {
    match error {
        WitError::HostNotAllowed(_) => "host-not-allowed",
        WitError::AuthenticationFailed(_) => "authentication-failed",
        WitError::ConnectionFailed(_) => "connection-failed",
        WitError::BadParameter(_) => "bad-parameter",
        WitError::QueryFailed(_) => "query-failed",
        WitError::ValueConversionFailed(_) => "value-conversion-failed",
        WitError::Other(_) => "other",
    }
}

/// Whether an error is caused by the component (its input, its SQL, its target host)
/// rather than by the host, the network or the credentials. Logs put component errors at
/// `info` and the others at `warn`. A rejected login counts as an operations problem:
/// the password is the token the host's own token source issued.
pub fn is_caused_by_component(error: &WitError) -> bool {
    matches!(
        error,
        WitError::HostNotAllowed(_)
            | WitError::BadParameter(_)
            | WitError::QueryFailed(_)
    )
}
