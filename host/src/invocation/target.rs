//! The request target (path and query) of an HTTP trigger invocation.
//!
//! The Functions host sends `Url` (the original URL, already percent-encoded), `Query` (an
//! object of name to value; hosts before September 2020 sent the same object serialized as
//! a JSON string) and `Params` (route values). The raw query in `Url` is the
//! faithful one: `Query` joins repeated names with commas, so it is used only when `Url`
//! carries no query.

use serde_json::{Map, Value};

use super::error::InvocationError;

/// Splits a URL into its path and optional query, dropping scheme, authority and fragment.
/// A value without a scheme is taken as an origin-form target (`/path?query`).
pub fn split_url(url: &str) -> (String, Option<String>) {
    let without_fragment = url.split('#').next().unwrap_or_default();
    let after_authority = match without_fragment.find("://") {
        Some(scheme_end) => {
            let rest = &without_fragment[scheme_end + 3..];
            match rest.find(['/', '?']) {
                Some(index) => &rest[index..],
                None => "",
            }
        }
        None => without_fragment,
    };

    let (path, query) = match after_authority.split_once('?') {
        Some((path, query)) => (path, Some(query.to_string())),
        None => (after_authority, None),
    };
    let path = if path.starts_with('/') {
        path.to_string()
    } else {
        format!("/{path}")
    };
    (
        escape_invalid_uri_characters(&path),
        query.map(|q| escape_invalid_uri_characters(&q)),
    )
}

/// Builds a query string from the invocation's `Query` field.
///
/// Object values may be strings, numbers or booleans. An array repeats the name, and null
/// gives the bare name. A string that contains a JSON object (older hosts) is parsed as
/// such, and any other string is taken as a raw query string with an optional leading `?`.
pub fn query_from_field(query: &Value, field: &str) -> Result<Option<String>, InvocationError> {
    match query {
        Value::Null => Ok(None),
        Value::Object(pairs) => Ok(non_empty(encode_pairs(pairs, field)?)),
        Value::String(text) => {
            let trimmed = text.trim();
            if trimmed.starts_with('{') {
                match serde_json::from_str::<Value>(trimmed) {
                    Ok(Value::Object(pairs)) => Ok(non_empty(encode_pairs(&pairs, field)?)),
                    _ => Err(InvocationError::invalid(
                        field,
                        "an object, or a string holding a JSON object or a query string",
                    )),
                }
            } else {
                let raw = trimmed.strip_prefix('?').unwrap_or(trimmed);
                Ok(non_empty(escape_invalid_uri_characters(raw)))
            }
        }
        _ => Err(InvocationError::invalid(field, "an object or a string")),
    }
}

/// Builds `/<prefix>/<route>` from a route template and the invocation's `Params`.
///
/// Supports the parameter forms of ASP.NET Core route templates that function.json uses:
/// `{name}`, `{name?}`, `{*name}`, `{name:constraint}` and `{name=default}`. A missing
/// optional or catch-all parameter drops its segment.
pub fn path_from_route(
    route_prefix: &str,
    route: &str,
    params: &Map<String, Value>,
    field: &str,
) -> Result<String, InvocationError> {
    let mut segments: Vec<String> = Vec::new();
    if !route_prefix.is_empty() {
        segments.push(route_prefix.to_string());
    }

    for segment in route.trim_matches('/').split('/').filter(|s| !s.is_empty()) {
        let Some(template) = segment.strip_prefix('{').and_then(|s| s.strip_suffix('}')) else {
            segments.push(encode_path_segment(segment));
            continue;
        };

        let catch_all = template.starts_with('*');
        let template = template.trim_start_matches('*');
        let (template, default) = match template.split_once('=') {
            Some((name, default)) => (name, Some(default)),
            None => (template, None),
        };
        let optional = template.ends_with('?');
        let name = template
            .trim_end_matches('?')
            .split(':')
            .next()
            .unwrap_or_default();

        let value = lookup(params, name)
            .map(scalar_text)
            .transpose()
            .map_err(|_| {
                InvocationError::invalid(format!("{field}.{name}"), "a string, number or boolean")
            })?;
        match value.flatten().or(default.map(str::to_string)) {
            Some(text) if catch_all => segments.extend(
                text.split('/')
                    .filter(|part| !part.is_empty())
                    .map(encode_path_segment),
            ),
            Some(text) => segments.push(encode_path_segment(&text)),
            None if optional || catch_all => {}
            None => return Err(InvocationError::missing(format!("{field}.{name}"))),
        }
    }

    Ok(format!("/{}", segments.join("/")))
}

/// Percent-encodes one path segment, keeping RFC 3986 `pchar` characters.
pub fn encode_path_segment(segment: &str) -> String {
    encode(segment, |byte| {
        is_unreserved(byte) || b"!$&'()*+,;=:@".contains(&byte)
    })
}

/// Percent-encodes a query name or value, keeping only RFC 3986 unreserved characters.
pub fn encode_query_component(text: &str) -> String {
    encode(text, is_unreserved)
}

/// Percent-encodes the characters that may not appear in a URI at all (space, quotes,
/// angle brackets, non-ASCII bytes, ...) and leaves existing escapes alone.
pub fn escape_invalid_uri_characters(text: &str) -> String {
    encode(text, |byte| {
        is_unreserved(byte) || b"%!$&'()*+,;=:@/?".contains(&byte)
    })
}

fn encode_pairs(pairs: &Map<String, Value>, field: &str) -> Result<String, InvocationError> {
    let mut encoded = Vec::new();
    for (name, value) in pairs {
        let name_text = encode_query_component(name);
        let values: Vec<&Value> = match value {
            Value::Array(items) => items.iter().collect(),
            other => vec![other],
        };
        for item in values {
            let text = scalar_text(item).map_err(|_| {
                InvocationError::invalid(
                    format!("{field}.{name}"),
                    "a string, number, boolean or null",
                )
            })?;
            match text {
                Some(text) => {
                    encoded.push(format!("{name_text}={}", encode_query_component(&text)))
                }
                None => encoded.push(name_text.clone()),
            }
        }
    }
    Ok(encoded.join("&"))
}

fn scalar_text(value: &Value) -> Result<Option<String>, ()> {
    match value {
        Value::Null => Ok(None),
        Value::String(text) => Ok(Some(text.clone())),
        Value::Number(number) => Ok(Some(number.to_string())),
        Value::Bool(flag) => Ok(Some(flag.to_string())),
        Value::Array(_) | Value::Object(_) => Err(()),
    }
}

fn lookup<'a>(params: &'a Map<String, Value>, name: &str) -> Option<&'a Value> {
    super::function_json::get_ignore_case(params, name)
}

fn non_empty(text: String) -> Option<String> {
    if text.is_empty() { None } else { Some(text) }
}

fn is_unreserved(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~')
}

fn encode(text: &str, keep: impl Fn(u8) -> bool) -> String {
    let mut encoded = String::with_capacity(text.len());
    for byte in text.bytes() {
        if keep(byte) {
            encoded.push(byte as char);
        } else {
            encoded.push_str(&format!("%{byte:02X}"));
        }
    }
    encoded
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn split_url_keeps_path_and_raw_query() {
        let (path, query) = split_url("https://app.example.net/api/clients/7?limit=5&after=2#top");
        assert_eq!(path, "/api/clients/7");
        assert_eq!(query.as_deref(), Some("limit=5&after=2"));

        let (path, query) = split_url("http://127.0.0.1:7071");
        assert_eq!(path, "/");
        assert_eq!(query, None);

        let (path, query) = split_url("/api/x y?q=a b");
        assert_eq!(path, "/api/x%20y");
        assert_eq!(query.as_deref(), Some("q=a%20b"));
    }

    #[test]
    fn query_object_is_encoded() {
        let query =
            json!({"name": "a&b c", "limit": 5, "flag": true, "tag": ["x", "y"], "bare": null});
        let text = query_from_field(&query, "Data.req.Query").unwrap().unwrap();
        // serde_json keeps insertion order when its preserve_order feature is on, so compare
        // the pairs as a sorted list.
        let mut pairs: Vec<&str> = text.split('&').collect();
        pairs.sort_unstable();
        assert_eq!(
            pairs,
            [
                "bare",
                "flag=true",
                "limit=5",
                "name=a%26b%20c",
                "tag=x",
                "tag=y"
            ]
        );
    }

    #[test]
    fn query_string_forms_are_accepted() {
        let json_text = json!("{\"limit\":\"10\"}");
        assert_eq!(
            query_from_field(&json_text, "Q").unwrap().as_deref(),
            Some("limit=10")
        );

        let raw = json!("?limit=10&after=3");
        assert_eq!(
            query_from_field(&raw, "Q").unwrap().as_deref(),
            Some("limit=10&after=3")
        );

        assert_eq!(query_from_field(&json!(""), "Q").unwrap(), None);
        assert_eq!(query_from_field(&json!({}), "Q").unwrap(), None);
    }

    #[test]
    fn query_rejects_nested_values() {
        let error = query_from_field(&json!({"a": {"b": 1}}), "Data.req.Query").unwrap_err();
        assert_eq!(
            error,
            InvocationError::invalid("Data.req.Query.a", "a string, number, boolean or null")
        );
        assert!(query_from_field(&json!(5), "Data.req.Query").is_err());
    }

    #[test]
    fn route_templates_are_filled() {
        let params = json!({"rest": "7/notes", "id": 12})
            .as_object()
            .unwrap()
            .clone();
        assert_eq!(
            path_from_route("api", "clients/{*rest}", &params, "P").unwrap(),
            "/api/clients/7/notes"
        );
        assert_eq!(
            path_from_route("api", "items/{id:int}", &params, "P").unwrap(),
            "/api/items/12"
        );
        assert_eq!(
            path_from_route("", "items/{page?}", &params, "P").unwrap(),
            "/items"
        );
        assert_eq!(
            path_from_route("api", "items/{page=1}", &params, "P").unwrap(),
            "/api/items/1"
        );
        assert_eq!(
            path_from_route("api", "items/{missing}", &params, "Data.req.Params").unwrap_err(),
            InvocationError::missing("Data.req.Params.missing")
        );
    }

    #[test]
    fn route_values_are_percent_encoded() {
        let params = json!({"name": "a b/c"}).as_object().unwrap().clone();
        assert_eq!(
            path_from_route("api", "x/{name}", &params, "P").unwrap(),
            "/api/x/a%20b%2Fc"
        );
    }
}
