//! Token settings read from Spin variables.
//!
//! Spin variables are declared in `spin.toml` and set, for example, through
//! `SPIN_VARIABLE_<NAME>` environment variables. Every variable here has a default of
//! `""` in `spin.toml`, so an unset one reads as empty.

use super::wit::TokenError;

/// `static` or `app-service`.
pub const TOKEN_SOURCE: &str = "token_source";
/// The token or password for `static` mode.
pub const STATIC_TOKEN: &str = "static_token";
/// Read in `static` mode when `static_token` is empty: the password of a local role.
pub const DB_PASSWORD: &str = "db_password";
/// App Service's `IDENTITY_ENDPOINT`.
pub const IDENTITY_ENDPOINT: &str = "identity_endpoint";
/// App Service's `IDENTITY_HEADER`, sent as `X-IDENTITY-HEADER`.
pub const IDENTITY_HEADER: &str = "identity_header";
/// The client ID of a user-assigned identity; empty for the system-assigned identity.
pub const IDENTITY_CLIENT_ID: &str = "identity_client_id";

/// The source of tokens.
pub enum TokenSource {
    /// One fixed token or password for every scope.
    Static {
        /// The token. Never logged or shown.
        token: String,
    },
    /// The App Service / Functions managed identity endpoint (api-version 2019-08-01).
    AppService {
        /// The endpoint URL, for example `http://localhost:8081/msi/token`.
        endpoint: String,
        /// The value of the `X-IDENTITY-HEADER` request header. Never logged or shown.
        header: String,
        /// The `client_id` of a user-assigned identity, if one is chosen.
        client_id: Option<String>,
    },
}

/// Reads the settings through `variable`, which returns a Spin variable's value.
pub fn token_source(variable: impl Fn(&str) -> Result<String, String>) -> Result<TokenSource, TokenError> {
    let read = |name: &str| {
        variable(name)
            .map(|value| value.trim().to_owned())
            .map_err(|reason| TokenError::NotConfigured(format!("reading Spin variable {name} failed: {reason}")))
    };

    match read(TOKEN_SOURCE)?.as_str() {
        "static" => {
            let mut token = read(STATIC_TOKEN)?;
            if token.is_empty() {
                token = read(DB_PASSWORD)?;
            }
            if token.is_empty() {
                return Err(TokenError::NotConfigured(
                    "token_source is static but static_token and db_password are empty; set \
                     SPIN_VARIABLE_DB_PASSWORD or SPIN_VARIABLE_STATIC_TOKEN"
                        .to_owned(),
                ));
            }
            Ok(TokenSource::Static { token })
        }
        "app-service" => {
            let endpoint = read(IDENTITY_ENDPOINT)?;
            let header = read(IDENTITY_HEADER)?;
            if endpoint.is_empty() || header.is_empty() {
                return Err(TokenError::NotConfigured(
                    "token_source is app-service but identity_endpoint or identity_header is empty; \
                     set SPIN_VARIABLE_IDENTITY_ENDPOINT=$IDENTITY_ENDPOINT and \
                     SPIN_VARIABLE_IDENTITY_HEADER=$IDENTITY_HEADER"
                        .to_owned(),
                ));
            }
            let client_id = Some(read(IDENTITY_CLIENT_ID)?).filter(|id| !id.is_empty());
            Ok(TokenSource::AppService {
                endpoint,
                header,
                client_id,
            })
        }
        other => Err(TokenError::NotConfigured(format!(
            "invalid token_source {other:?}: expected static or app-service"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn source(pairs: &[(&str, &str)]) -> Result<TokenSource, TokenError> {
        let values: HashMap<String, String> = pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        token_source(|name| Ok(values.get(name).cloned().unwrap_or_default()))
    }

    #[test]
    fn static_prefers_static_token() {
        let Ok(TokenSource::Static { token }) =
            source(&[(TOKEN_SOURCE, "static"), (STATIC_TOKEN, "a"), (DB_PASSWORD, "b")])
        else {
            panic!("expected a static source");
        };
        assert_eq!(token, "a");
    }

    #[test]
    fn static_falls_back_to_password() {
        let Ok(TokenSource::Static { token }) = source(&[(TOKEN_SOURCE, "static"), (DB_PASSWORD, "b")]) else {
            panic!("expected a static source");
        };
        assert_eq!(token, "b");
    }

    #[test]
    fn static_without_value_is_not_configured() {
        assert!(matches!(source(&[(TOKEN_SOURCE, "static")]), Err(TokenError::NotConfigured(m)) if m.contains("SPIN_VARIABLE_DB_PASSWORD")));
    }

    #[test]
    fn app_service_reads_endpoint() {
        let Ok(TokenSource::AppService { endpoint, header, client_id }) = source(&[
            (TOKEN_SOURCE, "app-service"),
            (IDENTITY_ENDPOINT, "http://127.0.0.1:8081/msi/token"),
            (IDENTITY_HEADER, "h"),
        ]) else {
            panic!("expected an app-service source");
        };
        assert_eq!(endpoint, "http://127.0.0.1:8081/msi/token");
        assert_eq!(header, "h");
        assert_eq!(client_id, None);
    }

    #[test]
    fn unknown_source_is_not_configured() {
        assert!(matches!(source(&[(TOKEN_SOURCE, "imds")]), Err(TokenError::NotConfigured(m)) if m.contains("\"imds\"")));
    }
}
