//! The App Service managed identity protocol (api-version 2019-08-01): the request URL,
//! and the reply turned into a token or a `token-error`.
//!
//! The request is `GET <IDENTITY_ENDPOINT>?resource=<uri>&api-version=2019-08-01` with
//! header `X-IDENTITY-HEADER`. A successful reply is JSON with `access_token` and
//! `expires_on` in epoch seconds. App Service sends `expires_on` as a string and some
//! emulators send a number, so both are accepted.

use serde_json::Value;

use super::wit::{AccessToken, TokenError, UnavailableError};

/// The API version whose reply format this module parses.
pub const API_VERSION: &str = "2019-08-01";
/// Seconds to wait before retrying when the endpoint gives no `Retry-After`.
pub const DEFAULT_RETRY_AFTER_SECONDS: u32 = 5;
/// Maximum number of characters of an error reply copied into a message.
const MAX_DETAIL_CHARS: usize = 300;

/// Turns a scope list into the one `resource` the endpoint takes.
pub fn scopes_to_resource(scopes: &[String]) -> Result<String, TokenError> {
    let [scope] = scopes else {
        return Err(TokenError::NotConfigured(format!(
            "managed identity tokens cover exactly one scope, but {} were requested; request one \
             scope such as https://ossrdbms-aad.database.windows.net/.default",
            scopes.len()
        )));
    };
    let resource = scope.strip_suffix("/.default").unwrap_or(scope);
    if resource.is_empty() {
        return Err(TokenError::NotConfigured(format!("invalid scope {scope:?}: it names no resource")));
    }
    Ok(resource.to_owned())
}

/// Builds the request URL for `resource`.
pub fn request_url(endpoint: &str, resource: &str, client_id: Option<&str>) -> String {
    let separator = if endpoint.contains('?') { '&' } else { '?' };
    let mut url = format!(
        "{endpoint}{separator}resource={}&api-version={API_VERSION}",
        percent_encode(resource)
    );
    if let Some(client_id) = client_id {
        url.push_str("&client_id=");
        url.push_str(&percent_encode(client_id));
    }
    url
}

/// Percent-encodes everything except RFC 3986 unreserved characters.
pub fn percent_encode(text: &str) -> String {
    let mut encoded = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            encoded.push(byte as char);
        } else {
            encoded.push_str(&format!("%{byte:02X}"));
        }
    }
    encoded
}

/// Classifies an HTTP reply. `retry_after` is the `Retry-After` header, if any, and `now`
/// is Unix seconds.
///
/// 404, 410, 429 and 5xx are temporary because App Service returns 404 or 410 while the
/// identity is being set up. Other 4xx mean the request itself is rejected.
pub fn token_from_reply(status: u16, retry_after: Option<&str>, body: &[u8], now: u64) -> Result<AccessToken, TokenError> {
    match status {
        200 => parse_token(body, now),
        404 | 410 | 429 | 500..=599 => Err(TokenError::Unavailable(UnavailableError {
            message: format!("the managed identity endpoint returned HTTP {status}{}", error_detail(body)),
            retry_after_seconds: retry_after
                .and_then(|value| value.trim().parse().ok())
                .unwrap_or(DEFAULT_RETRY_AFTER_SECONDS),
        })),
        _ => Err(TokenError::Denied(format!(
            "the managed identity endpoint returned HTTP {status}{}; check the identity and IDENTITY_HEADER",
            error_detail(body)
        ))),
    }
}

/// Reads `access_token` and `expires_on`. Error messages name fields, never values,
/// because a malformed reply may still contain a token.
pub fn parse_token(body: &[u8], now: u64) -> Result<AccessToken, TokenError> {
    let unavailable = |message: String| {
        TokenError::Unavailable(UnavailableError {
            message,
            retry_after_seconds: DEFAULT_RETRY_AFTER_SECONDS,
        })
    };

    let reply: Value = serde_json::from_slice(body)
        .map_err(|error| unavailable(format!("the token reply is not valid JSON (line {}, column {})", error.line(), error.column())))?;

    let token = reply
        .get("access_token")
        .and_then(Value::as_str)
        .filter(|token| !token.is_empty())
        .ok_or_else(|| unavailable("the token reply has no string field access_token".to_owned()))?;

    let expires_on = reply
        .get("expires_on")
        .and_then(parse_epoch_seconds)
        .ok_or_else(|| unavailable("the token reply has no expires_on in epoch seconds (number or string)".to_owned()))?;

    if expires_on <= now {
        return Err(unavailable(format!(
            "the endpoint returned a token that expired at {expires_on}, before now ({now})"
        )));
    }

    Ok(AccessToken {
        token: token.to_owned(),
        expires_on,
    })
}

/// Reads epoch seconds from a JSON number or a numeric string.
pub fn parse_epoch_seconds(value: &Value) -> Option<u64> {
    match value {
        Value::Number(number) => number.as_u64(),
        Value::String(text) => text.trim().parse().ok(),
        _ => None,
    }
}

/// Extracts `error` and `error_description` (or `message`) from an error reply, shortened.
fn error_detail(body: &[u8]) -> String {
    let Ok(reply) = serde_json::from_slice::<Value>(body) else {
        return String::new();
    };
    let field = |name: &str| reply.get(name).and_then(Value::as_str).map(str::to_owned);
    let parts: Vec<String> = [field("error"), field("error_description").or_else(|| field("message"))]
        .into_iter()
        .flatten()
        .collect();
    if parts.is_empty() {
        return String::new();
    }
    let detail: String = parts.join(": ").chars().take(MAX_DETAIL_CHARS).collect();
    format!(" ({detail})")
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: u64 = 1_700_000_000;

    #[test]
    fn expires_on_string_is_accepted() {
        let body = br#"{"access_token":"tok","expires_on":"1700003600","resource":"r","token_type":"Bearer"}"#;
        let token = token_from_reply(200, None, body, NOW).expect("valid reply");
        assert_eq!(token.token, "tok");
        assert_eq!(token.expires_on, 1_700_003_600);
    }

    #[test]
    fn expires_on_number_is_accepted() {
        let body = br#"{"access_token":"tok","expires_on":1700003600}"#;
        assert_eq!(token_from_reply(200, None, body, NOW).unwrap().expires_on, 1_700_003_600);
    }

    #[test]
    fn expired_token_is_unavailable() {
        let body = br#"{"access_token":"tok","expires_on":1600000000}"#;
        assert!(matches!(token_from_reply(200, None, body, NOW), Err(TokenError::Unavailable(_))));
    }

    #[test]
    fn malformed_reply_hides_token() {
        let body = br#"{"access_token":"secret-tok","expires_on":"soon"}"#;
        let Err(TokenError::Unavailable(error)) = token_from_reply(200, None, body, NOW) else {
            panic!("expected unavailable");
        };
        assert!(!error.message.contains("secret-tok"), "{}", error.message);
        assert!(error.message.contains("expires_on"), "{}", error.message);
    }

    #[test]
    fn throttling_uses_retry_after() {
        let Err(TokenError::Unavailable(error)) = token_from_reply(429, Some("17"), b"", NOW) else {
            panic!("expected unavailable");
        };
        assert_eq!(error.retry_after_seconds, 17);
        assert!(error.message.contains("429"), "{}", error.message);
    }

    #[test]
    fn server_error_defaults_retry() {
        let Err(TokenError::Unavailable(error)) = token_from_reply(503, None, b"", NOW) else {
            panic!("expected unavailable");
        };
        assert_eq!(error.retry_after_seconds, DEFAULT_RETRY_AFTER_SECONDS);
    }

    #[test]
    fn bad_request_is_denied_with_detail() {
        let body = br#"{"error":"invalid_resource","error_description":"AADSTS500011: resource not found"}"#;
        let Err(TokenError::Denied(message)) = token_from_reply(400, None, body, NOW) else {
            panic!("expected denied");
        };
        assert!(message.contains("HTTP 400 (invalid_resource: AADSTS500011"), "{message}");
    }

    #[test]
    fn url_encodes_resource_and_client_id() {
        let url = request_url("http://127.0.0.1:8081/msi/token", "https://ossrdbms-aad.database.windows.net", Some("a b"));
        assert_eq!(
            url,
            "http://127.0.0.1:8081/msi/token?resource=https%3A%2F%2Fossrdbms-aad.database.windows.net&api-version=2019-08-01&client_id=a%20b"
        );
    }

    #[test]
    fn one_scope_becomes_resource() {
        let scopes = vec!["https://ossrdbms-aad.database.windows.net/.default".to_owned()];
        assert_eq!(scopes_to_resource(&scopes).unwrap(), "https://ossrdbms-aad.database.windows.net");
        let two = vec!["a".to_owned(), "b".to_owned()];
        assert!(matches!(scopes_to_resource(&two), Err(TokenError::NotConfigured(_))));
    }
}
