//! Mapping of token and database failures to problem responses. Details name the failing
//! dependency and the fix; raw host messages go to the log, not to the client.

use crate::backend::{DbError, PgError, TokenError};
use crate::config::Config;
use crate::log;
use crate::problem::Problem;

/// Seconds a client waits before retrying after a database outage or login failure.
pub const DATABASE_RETRY_AFTER_SECONDS: u32 = 5;

/// SQLSTATE of `unique_violation`.
pub const UNIQUE_VIOLATION: &str = "23505";

/// Maps a token failure. `not-configured` and `denied` are configuration problems (500);
/// `unavailable` is temporary (503 with the host's retry delay).
pub fn token_problem(err: &TokenError) -> Problem {
    match err {
        TokenError::NotConfigured(message) => {
            log::error("token_not_configured", message);
            Problem::internal(
                "no access token source is configured for this function: configure a managed \
                 identity or a static token on the host",
            )
        }
        TokenError::Denied(message) => {
            log::error("token_denied", message);
            Problem::internal(
                "the identity endpoint denied the function's identity a token for the \
                 database scope: check the identity assignment and KEYLESS_TOKEN_SCOPE",
            )
        }
        TokenError::Unavailable(unavailable) => {
            log::error("token_unavailable", &unavailable.message);
            Problem::unavailable(
                unavailable.retry_after_seconds,
                "an access token for the database is temporarily unavailable: retry later",
            )
        }
    }
}

/// Maps a failure to open a connection.
pub fn open_problem(err: &PgError, config: &Config) -> Problem {
    match err {
        PgError::HostNotAllowed(message) => {
            log::error("db_host_not_allowed", message);
            Problem::internal(format!(
                "the host does not allow connections to PGHOST:PGPORT {}:{}: add it to the \
                 host's KEYLESS_ALLOWED_DB_HOSTS",
                config.host, config.port
            ))
        }
        PgError::AuthenticationFailed(db_error) => {
            log::error("db_authentication_failed", &db_error_summary(db_error));
            Problem::unavailable(
                DATABASE_RETRY_AFTER_SECONDS,
                format!(
                    "the database rejected the login of role {} (SQLSTATE {}): retry later; if \
                     it persists, check that the role exists for the function's identity",
                    config.user, db_error.code
                ),
            )
        }
        _ => statement_problem(err),
    }
}

/// Maps a failure of a query or statement. A unique violation is 409; connection trouble
/// is 503; everything else is 500 with the SQLSTATE and no server message.
pub fn statement_problem(err: &PgError) -> Problem {
    match err {
        PgError::QueryFailed(db_error) if db_error.code == UNIQUE_VIOLATION => {
            Problem::conflict(unique_violation_detail(db_error))
        }
        PgError::QueryFailed(db_error) if is_transient_sqlstate(&db_error.code) => {
            log::error("db_unavailable", &db_error_summary(db_error));
            Problem::unavailable(
                DATABASE_RETRY_AFTER_SECONDS,
                format!(
                    "the database is temporarily unavailable (SQLSTATE {}): retry later",
                    db_error.code
                ),
            )
        }
        PgError::QueryFailed(db_error) => {
            log::error("db_query_failed", &db_error_summary(db_error));
            Problem::internal(format!(
                "the database rejected a statement (SQLSTATE {})",
                db_error.code
            ))
        }
        PgError::AuthenticationFailed(db_error) => {
            log::error("db_authentication_failed", &db_error_summary(db_error));
            Problem::unavailable(
                DATABASE_RETRY_AFTER_SECONDS,
                format!(
                    "the database rejected the login (SQLSTATE {}): retry later",
                    db_error.code
                ),
            )
        }
        PgError::ConnectionFailed(message) | PgError::Other(message) => {
            log::error("db_unavailable", message);
            Problem::unavailable(
                DATABASE_RETRY_AFTER_SECONDS,
                "the database cannot be reached: retry later",
            )
        }
        PgError::HostNotAllowed(message) => {
            log::error("db_host_not_allowed", message);
            Problem::internal(
                "the host does not allow connections to the configured database: add \
                 PGHOST:PGPORT to the host's KEYLESS_ALLOWED_DB_HOSTS",
            )
        }
        PgError::BadParameter(message) | PgError::ValueConversionFailed(message) => {
            log::error("db_value_conversion_failed", message);
            Problem::internal(
                "a value could not be converted between the function and the database",
            )
        }
    }
}

/// Names the field behind a unique violation without echoing the conflicting value. The
/// field comes from PostgreSQL's default constraint name `<table>_<column>_key`.
fn unique_violation_detail(db_error: &DbError) -> String {
    let field = db_error
        .constraint
        .as_deref()
        .and_then(|name| name.strip_suffix("_key"))
        .and_then(|name| name.strip_prefix("clients_"));
    match field {
        Some(field) => format!("a client with this {field} already exists"),
        None => {
            "the request conflicts with an existing row (unique constraint violated)".to_string()
        }
    }
}

/// Connection exceptions (class 08), insufficient resources (class 53) and the server
/// shutting down or starting (57P01 to 57P03) clear up on their own.
fn is_transient_sqlstate(code: &str) -> bool {
    code.starts_with("08") || code.starts_with("53") || matches!(code, "57P01" | "57P02" | "57P03")
}

fn db_error_summary(db_error: &DbError) -> String {
    format!(
        "{} {}: {}",
        db_error.severity, db_error.code, db_error.message
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::{SslMode, UnavailableError};

    fn db_error(code: &str, constraint: Option<&str>) -> DbError {
        DbError {
            code: code.into(),
            severity: "ERROR".into(),
            message: "duplicate key value violates unique constraint".into(),
            detail: Some("Key (email)=(secret@example.com) already exists.".into()),
            hint: None,
            constraint: constraint.map(str::to_string),
        }
    }

    fn config() -> Config {
        Config {
            host: "db.example".into(),
            port: 5432,
            database: "postgres".into(),
            user: "app".into(),
            ssl_mode: SslMode::VerifyFull,
            token_scope: "scope".into(),
        }
    }

    #[test]
    fn token_unavailable_is_503_with_retry_after() {
        let problem = token_problem(&TokenError::Unavailable(UnavailableError {
            message: "throttled".into(),
            retry_after_seconds: 17,
        }));
        assert_eq!(problem.status, 503);
        assert_eq!(problem.retry_after_seconds, Some(17));
    }

    #[test]
    fn token_denied_is_500_naming_identity() {
        let problem = token_problem(&TokenError::Denied("AADSTS700016".into()));
        assert_eq!(problem.status, 500);
        assert!(
            problem.detail.contains("denied the function's identity"),
            "{}",
            problem.detail
        );
        assert!(!problem.detail.contains("AADSTS"));
    }

    #[test]
    fn token_not_configured_is_500() {
        let problem = token_problem(&TokenError::NotConfigured("no source".into()));
        assert_eq!(problem.status, 500);
        assert_eq!(problem.retry_after_seconds, None);
    }

    #[test]
    fn unique_violation_names_field_only() {
        let err = PgError::QueryFailed(db_error("23505", Some("clients_email_key")));
        let problem = statement_problem(&err);
        assert_eq!(problem.status, 409);
        assert_eq!(problem.detail, "a client with this email already exists");
    }

    #[test]
    fn unique_violation_on_unknown_constraint() {
        let err = PgError::QueryFailed(db_error("23505", Some("other_idx")));
        let problem = statement_problem(&err);
        assert_eq!(problem.status, 409);
        assert!(!problem.detail.contains("secret@example.com"));
    }

    #[test]
    fn other_query_failure_is_500_with_sqlstate() {
        let err = PgError::QueryFailed(db_error("42P01", None));
        let problem = statement_problem(&err);
        assert_eq!(problem.status, 500);
        assert!(
            problem.detail.contains("SQLSTATE 42P01"),
            "{}",
            problem.detail
        );
        assert!(!problem.detail.contains("duplicate key"));
    }

    #[test]
    fn transient_sqlstate_is_503() {
        for code in ["08006", "53300", "57P01"] {
            let problem = statement_problem(&PgError::QueryFailed(db_error(code, None)));
            assert_eq!(problem.status, 503, "{code}");
            assert_eq!(
                problem.retry_after_seconds,
                Some(DATABASE_RETRY_AFTER_SECONDS)
            );
        }
    }

    #[test]
    fn authentication_failure_is_503_retry_5() {
        let err = PgError::AuthenticationFailed(db_error("28P01", None));
        let problem = open_problem(&err, &config());
        assert_eq!(problem.status, 503);
        assert_eq!(problem.retry_after_seconds, Some(5));
        assert!(problem.detail.contains("28P01"));
        assert!(problem.detail.contains("`app`") || problem.detail.contains("role app"));
    }

    #[test]
    fn connection_failure_is_503_without_host_message() {
        let err = PgError::ConnectionFailed("tcp connect to 10.0.0.4:5432 refused".into());
        let problem = open_problem(&err, &config());
        assert_eq!(problem.status, 503);
        assert_eq!(problem.retry_after_seconds, Some(5));
        assert!(!problem.detail.contains("10.0.0.4"));
    }

    #[test]
    fn host_not_allowed_is_500_naming_fix() {
        let err = PgError::HostNotAllowed("db.example:5432".into());
        let problem = open_problem(&err, &config());
        assert_eq!(problem.status, 500);
        assert!(
            problem.detail.contains("db.example:5432"),
            "{}",
            problem.detail
        );
        assert!(problem.detail.contains("KEYLESS_ALLOWED_DB_HOSTS"));
    }

    #[test]
    fn conversion_failures_are_500() {
        for err in [
            PgError::BadParameter("x".into()),
            PgError::ValueConversionFailed("y".into()),
        ] {
            assert_eq!(statement_problem(&err).status, 500);
        }
    }
}
