//! Connection strings for Spin's `connection.open`.
//!
//! Spin 4.0 parses the string with tokio-postgres (`str::parse::<tokio_postgres::Config>`),
//! which accepts libpq's `key=value` form. Every value is written in single quotes with
//! `\` before each `'` and `\`, so passwords, tokens and user names such as
//! `app@contoso.com` or `Keyless Reader` arrive unchanged.

use super::wit::{ConnectOptions, Error, SslMode};

/// Builds the `key=value` connection string for `options`.
///
/// Returns `bad-parameter` for a host that Spin would read as several hosts (a comma) or
/// as a Unix socket path (a leading `/`), and for an empty host, database or user.
pub fn connection_string(options: &ConnectOptions) -> Result<String, Error> {
    check_host(&options.host)?;
    check_not_empty("database", &options.database)?;
    check_not_empty("user", &options.user)?;

    let parameters = [
        ("host", options.host.as_str()),
        ("port", &options.port.to_string()),
        ("dbname", &options.database),
        ("user", &options.user),
        ("password", &options.password),
        ("sslmode", spin_ssl_mode(options.ssl_mode)),
    ]
    .map(|(key, value)| format!("{key}={}", quote(value)));

    Ok(parameters.join(" "))
}

/// Maps our TLS policy onto tokio-postgres's `sslmode` as Spin 4.0 applies it.
///
/// Spin 4.0 (crates/factor-outbound-pg, `create_connection_pool`) uses no TLS for
/// `disable`. For every other mode it uses a native-tls connector with default settings.
/// That connector verifies the certificate chain against the system's root store and
/// checks the host name. On Linux the store is OpenSSL's, so `SSL_CERT_FILE` and
/// `SSL_CERT_DIR` apply. Spin's `require` is therefore our `verify-full`. Spin cannot
/// skip verification, so our `require` is sent as Spin's `require` too. That is stricter
/// than requested: it fails against a certificate that the system roots do not trust.
pub fn spin_ssl_mode(mode: SslMode) -> &'static str {
    match mode {
        SslMode::Disable => "disable",
        SslMode::Require | SslMode::VerifyFull => "require",
    }
}

/// Quotes a value for a libpq `key=value` string.
pub fn quote(value: &str) -> String {
    let mut quoted = String::with_capacity(value.len() + 2);
    quoted.push('\'');
    for character in value.chars() {
        if character == '\'' || character == '\\' {
            quoted.push('\\');
        }
        quoted.push(character);
    }
    quoted.push('\'');
    quoted
}

fn check_host(host: &str) -> Result<(), Error> {
    check_not_empty("host", host)?;
    if host.contains(',') {
        return Err(Error::BadParameter(format!(
            "invalid host {host:?}: Spin reads a comma as a list of hosts; give one host name"
        )));
    }
    if host.starts_with('/') {
        return Err(Error::BadParameter(format!(
            "invalid host {host:?}: Spin does not support Unix sockets; give a TCP host name"
        )));
    }
    Ok(())
}

fn check_not_empty(name: &str, value: &str) -> Result<(), Error> {
    if value.is_empty() {
        return Err(Error::BadParameter(format!("missing {name} in the connect options")));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options(user: &str, password: &str, ssl_mode: SslMode) -> ConnectOptions {
        ConnectOptions {
            host: "db.example.test".to_owned(),
            port: 5432,
            database: "keyless".to_owned(),
            user: user.to_owned(),
            password: password.to_owned(),
            ssl_mode,
        }
    }

    /// Parses `text` the way Spin 4.0 does before it opens a connection.
    fn parse(text: &str) -> tokio_postgres::Config {
        text.parse().expect("tokio-postgres accepts the connection string")
    }

    #[test]
    fn quote_escapes_quote_and_backslash() {
        assert_eq!(quote(r"it's a\b"), r"'it\'s a\\b'");
    }

    #[test]
    fn values_round_trip_through_parser() {
        let token = "eyJ0eXAi.eyJhdWQi-x_y.sig'\\ end";
        let text = connection_string(&options("Keyless Reader@contoso.com", token, SslMode::VerifyFull))
            .expect("valid options");

        let config = parse(&text);

        assert_eq!(config.get_hosts(), [tokio_postgres::config::Host::Tcp("db.example.test".to_owned())]);
        assert_eq!(config.get_ports(), [5432]);
        assert_eq!(config.get_dbname(), Some("keyless"));
        assert_eq!(config.get_user(), Some("Keyless Reader@contoso.com"));
        assert_eq!(config.get_password(), Some(token.as_bytes()));
        assert_eq!(config.get_ssl_mode(), tokio_postgres::config::SslMode::Require);
    }

    #[test]
    fn ssl_modes_map_to_spin() {
        assert_eq!(spin_ssl_mode(SslMode::Disable), "disable");
        assert_eq!(spin_ssl_mode(SslMode::Require), "require");
        assert_eq!(spin_ssl_mode(SslMode::VerifyFull), "require");
    }

    #[test]
    fn empty_password_is_quoted() {
        let text = connection_string(&options("app", "", SslMode::Disable)).expect("valid options");
        let config = parse(&text);
        assert_eq!(config.get_password(), Some(&b""[..]));
        assert_eq!(config.get_ssl_mode(), tokio_postgres::config::SslMode::Disable);
    }

    #[test]
    fn host_list_is_rejected() {
        let mut bad = options("app", "pw", SslMode::Disable);
        bad.host = "a.test,b.test".to_owned();
        assert!(matches!(connection_string(&bad), Err(Error::BadParameter(message)) if message.contains("comma")));
    }

    #[test]
    fn socket_path_is_rejected() {
        let mut bad = options("app", "pw", SslMode::Disable);
        bad.host = "/var/run/postgresql".to_owned();
        assert!(matches!(connection_string(&bad), Err(Error::BadParameter(message)) if message.contains("Unix sockets")));
    }

    #[test]
    fn empty_user_is_rejected() {
        let bad = options("", "pw", SslMode::Disable);
        assert!(matches!(connection_string(&bad), Err(Error::BadParameter(message)) if message.contains("user")));
    }
}
