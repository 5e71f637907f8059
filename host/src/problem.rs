//! `application/problem+json` responses (RFC 9457) that the host sends itself.

use bytes::Bytes;
use http::{HeaderValue, Response, StatusCode, header};

/// Media type of problem details.
pub const PROBLEM_JSON: &str = "application/problem+json";

/// Builds a problem response with `status`, its reason phrase as title, and `detail`.
pub fn problem_response(status: StatusCode, detail: &str) -> Response<Bytes> {
    let body = serde_json::json!({
        "type": "about:blank",
        "title": status.canonical_reason().unwrap_or("Error"),
        "status": status.as_u16(),
        "detail": detail,
    });
    let mut response = Response::new(Bytes::from(body.to_string()));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn problem_has_status_title_detail() {
        let response = problem_response(StatusCode::NOT_FOUND, "no route for /x");
        assert_eq!(response.status(), StatusCode::NOT_FOUND);
        assert_eq!(response.headers()[header::CONTENT_TYPE], PROBLEM_JSON);

        let body: serde_json::Value = serde_json::from_slice(response.body()).unwrap();
        assert_eq!(body["title"], "Not Found");
        assert_eq!(body["status"], 404);
        assert_eq!(body["detail"], "no route for /x");
    }
}
