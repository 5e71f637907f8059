//! Parsing of token replies and classification of HTTP failures.
//!
//! Identity endpoints disagree on how they state expiry, and all of these forms are
//! accepted here:
//!
//! - App Service (api-version 2019-08-01): `expires_on` as epoch seconds, usually in a JSON
//!   string. A JSON number is accepted too.
//! - IMDS: `expires_on` and `expires_in`, both as strings.
//! - The Entra token endpoint: only `expires_in`, as a number.
//! - App Service api-version 2017-09-01: a date whose format depends on the OS, such as
//!   `1/16/2020 5:24:12 AM +00:00` on Windows or `06/19/2019 23:42:01 +00:00` on Linux.
//! - The Azure CLI: `expiresOn` as a local time and, since version 2.54.0, `expires_on` as
//!   epoch seconds.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use chrono::{DateTime, Local, NaiveDateTime, TimeZone};
use serde_json::Value;

use crate::secret::Secret;

use super::AccessToken;
use super::source::FetchError;

/// Maximum length of the error detail copied from an endpoint's reply into a message.
const MAX_DETAIL_CHARS: usize = 300;

/// Field names of one reply format.
pub struct TokenFields {
    /// The field that contains the token, `access_token` or the CLI's `accessToken`.
    pub token: &'static str,
    /// Fields that hold an absolute expiry, tried in order.
    pub expires_on: &'static [&'static str],
}

/// The OAuth-style reply of App Service, IMDS and the Entra token endpoint.
pub const OAUTH_FIELDS: TokenFields = TokenFields {
    token: "access_token",
    expires_on: &["expires_on"],
};

/// The reply of `az account get-access-token --output json`.
pub const AZURE_CLI_FIELDS: TokenFields = TokenFields {
    token: "accessToken",
    expires_on: &["expires_on", "expiresOn"],
};

/// Seconds since the Unix epoch.
pub fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs()
}

/// Parses a JSON token reply. `now` is Unix seconds, used for `expires_in`.
///
/// Errors name the fields involved but never echo values, because a malformed reply may
/// still contain a token.
pub fn parse_token_reply(
    body: &[u8],
    fields: &TokenFields,
    now: u64,
) -> Result<AccessToken, FetchError> {
    let reply: Value = serde_json::from_slice(body).map_err(|error| FetchError::Retryable {
        message: format!(
            "the token reply is not valid JSON (line {}, column {})",
            error.line(),
            error.column()
        ),
        retry_after: None,
    })?;

    let token = reply
        .get(fields.token)
        .and_then(Value::as_str)
        .filter(|token| !token.is_empty())
        .ok_or_else(|| FetchError::Retryable {
            message: format!("the token reply has no string field {:?}", fields.token),
            retry_after: None,
        })?;

    let expires_on = fields
        .expires_on
        .iter()
        .filter_map(|name| reply.get(*name))
        .find_map(parse_expires_on)
        .or_else(|| reply.get("expires_in").and_then(parse_seconds).map(|seconds| now + seconds))
        .ok_or_else(|| FetchError::Retryable {
            message: format!(
                "the token reply has no usable expiry: expected {} as epoch seconds or a date, or expires_in as seconds",
                fields.expires_on.join(" or ")
            ),
            retry_after: None,
        })?;

    if expires_on <= now {
        return Err(FetchError::Retryable {
            message: format!(
                "the endpoint returned a token that expired at {expires_on}, before now ({now})"
            ),
            retry_after: None,
        });
    }

    Ok(AccessToken {
        token: Secret::new(token),
        expires_on,
    })
}

/// Reads an absolute expiry: epoch seconds as a number or numeric string, or a date.
pub fn parse_expires_on(value: &Value) -> Option<u64> {
    if let Some(seconds) = parse_seconds(value) {
        return Some(seconds);
    }

    let text = value.as_str()?.trim();
    parse_date(text)
}

/// Reads a non-negative whole number of seconds from a number or a numeric string.
fn parse_seconds(value: &Value) -> Option<u64> {
    match value {
        Value::Number(number) => number
            .as_u64()
            .or_else(|| number.as_f64().filter(|f| *f >= 0.0).map(|f| f as u64)),
        Value::String(text) => text.trim().parse::<u64>().ok(),
        _ => None,
    }
}

/// Parses the date formats seen in `expires_on`/`expiresOn`.
fn parse_date(text: &str) -> Option<u64> {
    // App Service api-version 2017-09-01, on Windows and on Linux.
    for format in ["%m/%d/%Y %I:%M:%S %p %:z", "%m/%d/%Y %H:%M:%S %:z"] {
        if let Ok(date) = DateTime::parse_from_str(text, format) {
            return u64::try_from(date.timestamp()).ok();
        }
    }

    if let Ok(date) = DateTime::parse_from_rfc3339(text) {
        return u64::try_from(date.timestamp()).ok();
    }

    // Azure CLI `expiresOn`: `2026-12-04 21:30:00.000000` in the machine's local time zone.
    let naive = NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S%.f").ok()?;
    let local = Local.from_local_datetime(&naive).earliest()?;
    u64::try_from(local.timestamp()).ok()
}

/// Returns whether an HTTP status is worth retrying: 404 and 410 (the identity endpoint is
/// still starting), 429 (throttled) and every 5xx.
pub fn is_retryable_status(status: reqwest::StatusCode) -> bool {
    matches!(status.as_u16(), 404 | 410 | 429) || status.is_server_error()
}

/// Reads a `Retry-After` header given in seconds. HTTP dates are ignored.
pub fn retry_after(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    let value = headers.get(reqwest::header::RETRY_AFTER)?.to_str().ok()?;
    value.trim().parse::<u64>().ok().map(Duration::from_secs)
}

/// Turns a reply from an identity endpoint into a token or a classified error.
/// `endpoint` names the endpoint in messages.
pub async fn read_http_reply(
    response: reqwest::Response,
    endpoint: &str,
) -> Result<AccessToken, FetchError> {
    let status = response.status();
    let retry_after = retry_after(response.headers());
    let body = response
        .bytes()
        .await
        .map_err(|error| FetchError::Retryable {
            message: format!("reading the reply of {endpoint} failed: {error}"),
            retry_after: None,
        })?;

    if status.is_success() {
        return parse_token_reply(&body, &OAUTH_FIELDS, unix_now());
    }

    let message = format!("{endpoint} returned HTTP {status}{}", error_detail(&body));
    if is_retryable_status(status) {
        Err(FetchError::Retryable {
            message,
            retry_after,
        })
    } else {
        Err(FetchError::Denied(message))
    }
}

/// Maps a failed HTTP send (connect error, reset, timeout) to a retryable error.
pub fn send_error(error: reqwest::Error, endpoint: &str) -> FetchError {
    let kind = if error.is_connect() {
        "connecting to"
    } else if error.is_timeout() {
        "a request to (timed out)"
    } else {
        "a request to"
    };
    FetchError::Retryable {
        message: format!("{kind} {endpoint} failed: {}", error.without_url()),
        retry_after: None,
    }
}

/// Extracts `error`/`error_description` (OAuth, IMDS) or `message` (App Service) from an
/// error body, shortened. Error bodies carry no token.
fn error_detail(body: &[u8]) -> String {
    let Ok(reply) = serde_json::from_slice::<Value>(body) else {
        return String::new();
    };

    let parts: Vec<&str> = ["error", "error_description", "message", "Message"]
        .iter()
        .filter_map(|name| reply.get(*name).and_then(Value::as_str))
        .collect();
    if parts.is_empty() {
        return String::new();
    }

    let detail: String = parts.join(": ").chars().take(MAX_DETAIL_CHARS).collect();
    format!(": {detail}")
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: u64 = 1_800_000_000;

    fn parse(body: &str) -> Result<AccessToken, FetchError> {
        parse_token_reply(body.as_bytes(), &OAUTH_FIELDS, NOW)
    }

    #[test]
    fn expires_on_as_string() {
        let token = parse(r#"{"access_token":"t","expires_on":"1800003600"}"#).unwrap();

        assert_eq!(token.expires_on, 1_800_003_600);
        assert_eq!(token.token.expose(), "t");
    }

    #[test]
    fn expires_on_as_number() {
        let token = parse(r#"{"access_token":"t","expires_on":1800003600}"#).unwrap();

        assert_eq!(token.expires_on, 1_800_003_600);
    }

    #[test]
    fn expires_in_as_number_and_string() {
        let number = parse(r#"{"access_token":"t","expires_in":3599}"#).unwrap();
        let string = parse(r#"{"access_token":"t","expires_in":"3599"}"#).unwrap();

        assert_eq!(number.expires_on, NOW + 3599);
        assert_eq!(string.expires_on, NOW + 3599);
    }

    #[test]
    fn expires_on_preferred_over_expires_in() {
        let token = parse(r#"{"access_token":"t","expires_on":"1800000600","expires_in":"86399"}"#)
            .unwrap();

        assert_eq!(token.expires_on, 1_800_000_600);
    }

    #[test]
    fn expires_on_as_2017_date() {
        let token =
            parse(r#"{"access_token":"t","expires_on":"01/15/2027 8:40:00 AM +00:00"}"#).unwrap();

        assert_eq!(token.expires_on, 1_800_000_000 + 2_400);
    }

    #[test]
    fn expires_on_as_2017_linux_date() {
        let token =
            parse(r#"{"access_token":"t","expires_on":"01/15/2027 08:40:00 +00:00"}"#).unwrap();

        assert_eq!(token.expires_on, 1_800_000_000 + 2_400);
    }

    #[test]
    fn expires_on_as_iso_date() {
        let token =
            parse(r#"{"access_token":"t","expires_on":"2027-01-15T08:40:00.0000000+00:00"}"#)
                .unwrap();

        assert_eq!(token.expires_on, 1_800_000_000 + 2_400);
    }

    #[test]
    fn azure_cli_local_date() {
        let local = Local.timestamp_opt(1_800_000_600, 0).unwrap();
        let body = format!(
            r#"{{"accessToken":"t","expiresOn":"{}"}}"#,
            local.format("%Y-%m-%d %H:%M:%S%.6f")
        );

        let token = parse_token_reply(body.as_bytes(), &AZURE_CLI_FIELDS, NOW).unwrap();

        assert_eq!(token.expires_on, 1_800_000_600);
    }

    #[test]
    fn missing_expiry_is_an_error() {
        let error = parse(r#"{"access_token":"secret-value"}"#).unwrap_err();

        assert!(error.to_string().contains("no usable expiry"), "{error}");
        assert!(!error.to_string().contains("secret-value"));
    }

    #[test]
    fn expired_token_is_an_error() {
        let error = parse(r#"{"access_token":"t","expires_on":1000}"#).unwrap_err();

        assert!(matches!(error, FetchError::Retryable { .. }));
    }

    #[test]
    fn error_detail_reads_oauth_fields() {
        let detail =
            error_detail(br#"{"error":"invalid_client","error_description":"AADSTS700016"}"#);

        assert_eq!(detail, ": invalid_client: AADSTS700016");
    }
}
