//! RFC 9457 problem details (`application/problem+json`) for every error response.

use crate::http::Response;

/// Media type of every error body.
pub const PROBLEM_CONTENT_TYPE: &str = "application/problem+json";

/// Maximum length, in characters, of a client-supplied value quoted in a `detail`.
const MAX_QUOTED_CHARS: usize = 64;

/// An error response: status, human-readable detail and the headers some statuses need.
#[derive(Debug, Clone, PartialEq)]
pub struct Problem {
    /// HTTP status code.
    pub status: u16,
    /// Explanation of the failure and, where the caller can act, the fix.
    pub detail: String,
    /// Seconds for the `Retry-After` header (503 only).
    pub retry_after_seconds: Option<u32>,
    /// Methods for the `Allow` header (405 only).
    pub allow: Option<&'static str>,
}

impl Problem {
    /// Builds a problem with a status and detail.
    pub fn new(status: u16, detail: impl Into<String>) -> Problem {
        Problem {
            status,
            detail: detail.into(),
            retry_after_seconds: None,
            allow: None,
        }
    }

    /// 400 Bad Request.
    pub fn bad_request(detail: impl Into<String>) -> Problem {
        Problem::new(400, detail)
    }

    /// 404 Not Found.
    pub fn not_found(detail: impl Into<String>) -> Problem {
        Problem::new(404, detail)
    }

    /// 405 Method Not Allowed with the methods the resource supports.
    pub fn method_not_allowed(method: &str, path: &str, allow: &'static str) -> Problem {
        let detail = format!(
            "method {} is not allowed on {}; use {}",
            quote(method),
            quote(path),
            allow
        );
        Problem {
            allow: Some(allow),
            ..Problem::new(405, detail)
        }
    }

    /// 409 Conflict.
    pub fn conflict(detail: impl Into<String>) -> Problem {
        Problem::new(409, detail)
    }

    /// 500 Internal Server Error.
    pub fn internal(detail: impl Into<String>) -> Problem {
        Problem::new(500, detail)
    }

    /// 503 Service Unavailable with a `Retry-After` of at least one second.
    pub fn unavailable(retry_after_seconds: u32, detail: impl Into<String>) -> Problem {
        Problem {
            retry_after_seconds: Some(retry_after_seconds.max(1)),
            ..Problem::new(503, detail)
        }
    }

    /// Renders the problem as an `application/problem+json` response.
    pub fn into_response(self) -> Response {
        let body = serde_json::json!({
            "type": "about:blank",
            "title": status_title(self.status),
            "status": self.status,
            "detail": self.detail,
        });
        let mut response = Response::json(self.status, &body);
        response.headers[0].1 = PROBLEM_CONTENT_TYPE.to_string();

        if let Some(seconds) = self.retry_after_seconds {
            response = response.with_header("retry-after", &seconds.to_string());
        }
        if let Some(allow) = self.allow {
            response = response.with_header("allow", allow);
        }
        response
    }
}

/// Returns the standard reason phrase used as the problem's `title`.
pub fn status_title(status: u16) -> &'static str {
    match status {
        400 => "Bad Request",
        404 => "Not Found",
        405 => "Method Not Allowed",
        409 => "Conflict",
        413 => "Content Too Large",
        415 => "Unsupported Media Type",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        _ => "Error",
    }
}

/// Quotes a client-supplied value for a `detail`, cut to `MAX_QUOTED_CHARS` characters so
/// a huge input does not produce a huge error body.
pub fn quote(value: &str) -> String {
    let mut chars = value.chars();
    let excerpt: String = chars.by_ref().take(MAX_QUOTED_CHARS).collect();
    if chars.next().is_some() {
        format!("`{excerpt}…`")
    } else {
        format!("`{excerpt}`")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(response: &Response) -> serde_json::Value {
        serde_json::from_slice(&response.body).unwrap()
    }

    #[test]
    fn problem_body_has_rfc9457_members() {
        let response = Problem::bad_request("`limit` is invalid").into_response();
        assert_eq!(response.status, 400);
        assert_eq!(response.header("content-type"), Some(PROBLEM_CONTENT_TYPE));
        assert_eq!(
            body(&response),
            serde_json::json!({
                "type": "about:blank",
                "title": "Bad Request",
                "status": 400,
                "detail": "`limit` is invalid",
            })
        );
    }

    #[test]
    fn unavailable_sets_retry_after() {
        let response = Problem::unavailable(30, "token endpoint throttled").into_response();
        assert_eq!(response.status, 503);
        assert_eq!(response.header("retry-after"), Some("30"));
    }

    #[test]
    fn unavailable_retry_after_is_at_least_one() {
        let response = Problem::unavailable(0, "busy").into_response();
        assert_eq!(response.header("retry-after"), Some("1"));
    }

    #[test]
    fn method_not_allowed_sets_allow() {
        let response =
            Problem::method_not_allowed("PATCH", "/api/clients", "GET, POST").into_response();
        assert_eq!(response.status, 405);
        assert_eq!(response.header("allow"), Some("GET, POST"));
        assert_eq!(body(&response)["title"], "Method Not Allowed");
    }

    #[test]
    fn quote_cuts_long_values() {
        let long = "x".repeat(1000);
        let quoted = quote(&long);
        assert_eq!(quoted.chars().count(), MAX_QUOTED_CHARS + 3);
        assert!(quoted.ends_with("…`"));
        assert_eq!(quote("abc"), "`abc`");
    }
}
