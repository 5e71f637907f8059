//! Plain HTTP request and response types, independent of `wasi:http`, so routing is
//! testable natively.

/// Maximum request body size in bytes. A larger body gets 413.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// An HTTP request with its body read fully (up to `MAX_BODY_BYTES + 1` bytes, so a
/// larger body is detectable without reading all of it).
#[derive(Debug, Clone, Default)]
pub struct Request {
    /// Upper-case method name, for example `GET`.
    pub method: String,
    /// Path including the query string, for example `/api/clients?limit=10`.
    pub path_with_query: String,
    /// Header names and raw values in arrival order.
    pub headers: Vec<(String, Vec<u8>)>,
    /// Body bytes.
    pub body: Vec<u8>,
}

impl Request {
    /// Builds a request without headers or body.
    pub fn new(method: &str, path_with_query: &str) -> Request {
        Request {
            method: method.to_string(),
            path_with_query: path_with_query.to_string(),
            ..Request::default()
        }
    }

    /// Adds a header.
    pub fn with_header(mut self, name: &str, value: &str) -> Request {
        self.headers
            .push((name.to_string(), value.as_bytes().to_vec()));
        self
    }

    /// Sets the body.
    pub fn with_body(mut self, body: impl Into<Vec<u8>>) -> Request {
        self.body = body.into();
        self
    }

    /// Returns the path without the query string.
    pub fn path(&self) -> &str {
        match self.path_with_query.split_once('?') {
            Some((path, _)) => path,
            None => &self.path_with_query,
        }
    }

    /// Returns the query string without the leading `?`, if there is one.
    pub fn query(&self) -> Option<&str> {
        self.path_with_query.split_once('?').map(|(_, query)| query)
    }

    /// Returns the first value of a header, matched case-insensitively.
    pub fn header(&self, name: &str) -> Option<&[u8]> {
        self.headers
            .iter()
            .find(|(candidate, _)| candidate.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_slice())
    }
}

/// An HTTP response ready to be written out.
#[derive(Debug, Clone, PartialEq)]
pub struct Response {
    /// Status code.
    pub status: u16,
    /// Header names and values.
    pub headers: Vec<(String, String)>,
    /// Body bytes.
    pub body: Vec<u8>,
}

impl Response {
    /// Builds a response with a JSON body.
    pub fn json(status: u16, body: &serde_json::Value) -> Response {
        Response {
            status,
            headers: vec![("content-type".to_string(), "application/json".to_string())],
            body: body.to_string().into_bytes(),
        }
    }

    /// Builds a response without a body.
    pub fn empty(status: u16) -> Response {
        Response {
            status,
            headers: Vec::new(),
            body: Vec::new(),
        }
    }

    /// Adds a header.
    pub fn with_header(mut self, name: &str, value: &str) -> Response {
        self.headers.push((name.to_string(), value.to_string()));
        self
    }

    /// Returns the first value of a header, matched case-insensitively.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(candidate, _)| candidate.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_and_query_split() {
        let request = Request::new("GET", "/api/clients?limit=5&after=x");
        assert_eq!(request.path(), "/api/clients");
        assert_eq!(request.query(), Some("limit=5&after=x"));
    }

    #[test]
    fn path_without_query() {
        let request = Request::new("GET", "/api/health");
        assert_eq!(request.path(), "/api/health");
        assert_eq!(request.query(), None);
    }

    #[test]
    fn header_lookup_ignores_case() {
        let request = Request::new("POST", "/").with_header("Content-Type", "application/json");
        assert_eq!(
            request.header("content-type"),
            Some(&b"application/json"[..])
        );
        assert_eq!(request.header("accept"), None);
    }
}
