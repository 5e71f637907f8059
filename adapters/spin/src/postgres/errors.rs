//! Spin's postgres errors turned into ours.
//!
//! Statement errors keep their structure: Spin 4.0 returns the server's SQLSTATE,
//! severity, message and detail, and lists hint, constraint and the other optional
//! fields as name/value pairs (`extras`), from which `hint` and `constraint` are taken.
//! Errors while connecting reach the guest only as text: Spin formats the tokio-postgres
//! error chain with anyhow, for example
//! `Error occurred while creating a new object: db error: FATAL: password authentication
//! failed for user "app"`. The server's message is taken from that text, and a login
//! failure is recognised by PostgreSQL's wording because the SQLSTATE is not in it.

use super::debug_text::db_error_in_debug_text;
use super::spin::{DbError as SpinDbError, PgError, QueryError};
use super::wit::{DbError, Error, SslMode};

/// Details of the connection an error belongs to.
pub struct ErrorContext<'a> {
    /// `host:port` of the server.
    pub address: String,
    /// The password sent to Spin; removed from any text before it reaches the guest.
    pub password: &'a str,
    /// The TLS policy the guest requested.
    pub ssl_mode: SslMode,
}

const REDACTED: &str = "[redacted]";

/// Start of the backtrace that anyhow adds to Spin's error text, as plain text and as it
/// appears when Spin wraps an error's `Debug` output (newlines escaped as `\n`).
const BACKTRACE_MARKERS: [&str; 2] = ["\n\nStack backtrace:", "\\n\\nStack backtrace:"];

/// Server messages that mean the login was rejected, with the SQLSTATE PostgreSQL sends
/// for them (src/backend/libpq/auth.c and hba.c).
const LOGIN_FAILURES: &[(&str, &str)] = &[
    ("password authentication failed for user", "28P01"),
    ("no pg_hba.conf entry for", "28000"),
    ("pg_hba.conf rejects connection", "28000"),
    ("is not permitted to log in", "28000"),
];

/// Converts an error from opening a connection.
pub fn open_error_from_spin(error: PgError, context: &ErrorContext<'_>) -> Error {
    match error {
        PgError::ConnectionFailed(text) => connection_failed(&redact(&text, context.password), context),
        other => error_from_spin(other, context.password),
    }
}

/// Converts an error from `query` or `execute`.
pub fn error_from_spin(error: PgError, password: &str) -> Error {
    match error {
        PgError::ConnectionFailed(text) => Error::ConnectionFailed(redact(&text, password)),
        PgError::BadParameter(text) => Error::BadParameter(redact(&text, password)),
        PgError::QueryFailed(QueryError::DbError(db_error)) => Error::QueryFailed(db_error_from_spin(db_error)),
        PgError::QueryFailed(QueryError::Text(text)) => query_text_error(redact(&text, password)),
        PgError::ValueConversionFailed(text) => Error::ValueConversionFailed(redact(&text, password)),
        PgError::Other(text) => Error::Other(redact(&text, password)),
    }
}

/// Keeps every field our `db-error` has; Spin's `as-text` repeats the others.
pub fn db_error_from_spin(error: SpinDbError) -> DbError {
    let extra = |name: &str| {
        error
            .extras
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.clone())
    };
    DbError {
        hint: extra("hint"),
        constraint: extra("constraint"),
        code: error.code,
        severity: error.severity,
        message: error.message,
        detail: error.detail,
    }
}

fn connection_failed(text: &str, context: &ErrorContext<'_>) -> Error {
    if text.contains("is not permitted") {
        return Error::HostNotAllowed(format!(
            "{} is not in allowed_outbound_hosts of the component in spin.toml ({text})",
            context.address
        ));
    }

    if let Some(server_error) = server_error_in_text(text)
        && let Some(code) = login_failure_code(&server_error.message)
    {
        return Error::AuthenticationFailed(DbError {
            code: code.to_owned(),
            ..server_error
        });
    }

    let mut message = format!("connecting to {} through Spin failed: {text}", context.address);
    if context.ssl_mode == SslMode::Require && mentions_certificate(text) {
        message.push_str(
            "; Spin 4.0 verifies the server certificate even for sslmode require, so the server's \
             CA must be in the system trust store (or in SSL_CERT_FILE for spin up)",
        );
    }
    Error::ConnectionFailed(message)
}

/// Finds `db error: SEVERITY: message` with optional `DETAIL:` and `HINT:` lines, as
/// tokio-postgres 0.7.12 prints a server error.
fn server_error_in_text(text: &str) -> Option<DbError> {
    let start = text.find("db error: ")? + "db error: ".len();
    let mut lines = text[start..].lines();
    let (severity, message) = lines.next()?.split_once(": ")?;

    let mut detail = None;
    let mut hint = None;
    for line in lines {
        if let Some(value) = line.strip_prefix("DETAIL: ") {
            detail = Some(value.to_owned());
        } else if let Some(value) = line.strip_prefix("HINT: ") {
            hint = Some(value.to_owned());
        } else {
            break;
        }
    }

    Some(DbError {
        code: String::new(),
        severity: severity.to_owned(),
        message: message.to_owned(),
        detail,
        hint,
        constraint: None,
    })
}

fn login_failure_code(message: &str) -> Option<&'static str> {
    // A login as a role that does not exist, where pg_hba.conf does not hide it.
    if message.starts_with("role \"") && message.ends_with("\" does not exist") {
        return Some("28000");
    }
    LOGIN_FAILURES
        .iter()
        .find(|(wording, _)| message.contains(wording))
        .map(|(_, code)| *code)
}

fn mentions_certificate(text: &str) -> bool {
    let lower = text.to_ascii_lowercase();
    lower.contains("certificate") || lower.contains("tls handshake")
}

/// Classifies errors that Spin reports as text. A server error that Spin flattened into
/// `Debug` text is read back into its fields. Otherwise tokio-postgres's
/// `error serializing parameter N` is a parameter of the wrong type, `error deserializing
/// column N` is a result Spin could not convert, and a closed or broken connection is a
/// connection failure.
fn query_text_error(text: String) -> Error {
    if let Some(db_error) = db_error_in_debug_text(&text) {
        Error::QueryFailed(db_error)
    } else if text.contains("error serializing parameter") {
        Error::BadParameter(text)
    } else if text.contains("error deserializing column") {
        Error::ValueConversionFailed(result_conversion_message(text))
    } else if text.contains("connection closed") || text.contains("error communicating with the server") {
        Error::ConnectionFailed(text)
    } else {
        Error::Other(text)
    }
}

/// Explains a result that Spin could not convert. The statement has already run at that
/// point, so an `insert ... returning` has inserted its row.
fn result_conversion_message(text: String) -> String {
    // Spin 4.0 reads timestamptz columns as chrono::NaiveDateTime, which tokio-postgres
    // accepts only for timestamp, so every timestamptz column fails, NULL included.
    let hint = if text.contains("`timestamptz`") {
        "Spin 4.0 cannot return timestamptz columns, so select them converted, for example \
         `created_at at time zone 'UTC'` (a timestamp) or `created_at::text`; "
    } else {
        ""
    };
    format!("Spin could not convert a result column after the statement ran. {hint}Spin reported: {text}")
}

/// Removes the password from Spin's error text, because a token must never reach a log
/// or a response, and drops the stack backtrace that Spin 4.0 appends to some errors.
pub fn redact(text: &str, password: &str) -> String {
    let end = BACKTRACE_MARKERS.iter().filter_map(|marker| text.find(marker)).min();
    let text = end.map_or(text, |end| &text[..end]);
    let text = text.trim_end();
    if password.is_empty() {
        return text.to_owned();
    }
    text.replace(password, REDACTED)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn context(password: &str) -> ErrorContext<'_> {
        ErrorContext {
            address: "db.example.test:5432".to_owned(),
            password,
            ssl_mode: SslMode::VerifyFull,
        }
    }

    #[test]
    fn query_error_keeps_structure() {
        let spin_error = PgError::QueryFailed(QueryError::DbError(SpinDbError {
            as_text: "db error: ERROR: duplicate key".to_owned(),
            severity: "ERROR".to_owned(),
            code: "23505".to_owned(),
            message: "duplicate key value violates unique constraint \"clients_email_key\"".to_owned(),
            detail: Some("Key (email)=(a@example.test) already exists.".to_owned()),
            extras: vec![
                ("constraint".to_owned(), "clients_email_key".to_owned()),
                ("table".to_owned(), "clients".to_owned()),
                ("hint".to_owned(), "use another email".to_owned()),
            ],
        }));

        let Error::QueryFailed(error) = error_from_spin(spin_error, "pw") else {
            panic!("expected query-failed");
        };

        assert_eq!(error.code, "23505");
        assert_eq!(error.severity, "ERROR");
        assert_eq!(error.message, "duplicate key value violates unique constraint \"clients_email_key\"");
        assert_eq!(error.detail.as_deref(), Some("Key (email)=(a@example.test) already exists."));
        assert_eq!(error.constraint.as_deref(), Some("clients_email_key"));
        assert_eq!(error.hint.as_deref(), Some("use another email"));
    }

    #[test]
    fn wrong_password_is_authentication_failure() {
        let text = "Error occurred while creating a new object: db error: FATAL: password authentication failed for user \"keyless_app\"\n\nCaused by:\n    0: db error: FATAL: password authentication failed for user \"keyless_app\"\n    1: FATAL: password authentication failed for user \"keyless_app\"";

        let error = open_error_from_spin(PgError::ConnectionFailed(text.to_owned()), &context("tok"));

        let Error::AuthenticationFailed(db_error) = error else {
            panic!("expected authentication-failed, got {error:?}");
        };
        assert_eq!(db_error.code, "28P01");
        assert_eq!(db_error.severity, "FATAL");
        assert_eq!(db_error.message, "password authentication failed for user \"keyless_app\"");
    }

    #[test]
    fn missing_database_stays_connection_failure() {
        let text = "db error: FATAL: database \"nope\" does not exist";
        let error = open_error_from_spin(PgError::ConnectionFailed(text.to_owned()), &context("tok"));
        assert!(matches!(error, Error::ConnectionFailed(message) if message.contains("database \"nope\" does not exist")));
    }

    #[test]
    fn disallowed_host_is_host_not_allowed() {
        let text = "address postgres://db.example.test:5432 is not permitted";
        let error = open_error_from_spin(PgError::ConnectionFailed(text.to_owned()), &context("tok"));
        assert!(matches!(error, Error::HostNotAllowed(message) if message.starts_with("db.example.test:5432 is not in allowed_outbound_hosts")));
    }

    #[test]
    fn certificate_failure_explains_require() {
        let text = "error performing TLS handshake: certificate verify failed";
        let context = ErrorContext { ssl_mode: SslMode::Require, ..context("tok") };
        let error = open_error_from_spin(PgError::ConnectionFailed(text.to_owned()), &context);
        assert!(matches!(error, Error::ConnectionFailed(message) if message.contains("verifies the server certificate even for sslmode require")));
    }

    #[test]
    fn password_never_leaves() {
        let password = "eyJ.secret-token_value";
        let text = format!("invalid connection string near {password}");
        let error = open_error_from_spin(PgError::ConnectionFailed(text), &context(password));
        let Error::ConnectionFailed(message) = error else {
            panic!("expected connection-failed");
        };
        assert!(!message.contains(password), "{message}");
        assert!(message.contains(REDACTED), "{message}");
    }

    #[test]
    fn timestamptz_result_explains_workaround() {
        let text = "error deserializing column 4\n\nCaused by:\n    cannot convert between the Rust type \
                    `chrono::naive::datetime::NaiveDateTime` and the Postgres type `timestamptz`";
        let error = error_from_spin(PgError::QueryFailed(QueryError::Text(text.into())), "pw");
        let Error::ValueConversionFailed(message) = error else {
            panic!("expected value-conversion-failed, got {error:?}");
        };
        assert!(message.contains("error deserializing column 4"), "{message}");
        assert!(message.contains("at time zone 'UTC'"), "{message}");
    }

    #[test]
    fn backtrace_is_dropped() {
        let text = "error deserializing column 4\n\nStack backtrace:\n   0: anyhow::error";
        let error = error_from_spin(PgError::Other(text.into()), "pw");
        assert!(matches!(error, Error::Other(message) if message == "error deserializing column 4"));
    }

    #[test]
    fn escaped_backtrace_is_dropped() {
        let text = r#"Error::QueryFailed(QueryError::Text("column 4\n\nStack backtrace:\n   0: anyhow"))"#;
        let error = error_from_spin(PgError::Other(text.into()), "pw");
        assert!(matches!(error, Error::Other(message) if message == r#"Error::QueryFailed(QueryError::Text("column 4"#));
    }

    #[test]
    fn serialization_error_is_bad_parameter() {
        let error = error_from_spin(PgError::QueryFailed(QueryError::Text("error serializing parameter 0".into())), "pw");
        assert!(matches!(error, Error::BadParameter(_)));
        let error = error_from_spin(PgError::QueryFailed(QueryError::Text("connection closed".into())), "pw");
        assert!(matches!(error, Error::ConnectionFailed(_)));
    }
}
