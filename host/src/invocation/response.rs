//! Translation of the component's HTTP response into the reply to a JSON invocation:
//! `{"Outputs": {...}, "Logs": [...], "ReturnValue": ...}`.
//!
//! Body encoding. The Functions host (4.x, `HttpScriptInvocationResultExtensions` and
//! `RawScriptResult` in azure-functions-host) reads an http output's `body` as a JSON value
//! and writes a string body to the client as UTF-8 text. It has no flag for binary
//! content, so:
//! - a body that is valid UTF-8 goes out as a plain string and reaches the client byte for
//!   byte;
//! - any other body goes out as base64 text, marked with `"isBase64Encoded": true` in the
//!   output and with the response header `X-Keyless-Body-Encoding: base64`, and a line in
//!   `Logs` says so. Today's Functions host ignores the flag and sends the base64 text, so
//!   the client must decode it; functions that return binary data should use a forwarded
//!   HTTP function (one httpTrigger input, one http output), which passes the raw body
//!   through.
//!
//! The Functions host also calls `ToString()` on each header value, so every header becomes
//! one string; repeated headers are joined with `, ` (RFC 9110 list syntax).

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use bytes::Bytes;
use http::header::{CONTENT_TYPE, HeaderName};
use http::{HeaderMap, Response, StatusCode};
use serde_json::{Map, Value, json};

use super::error::InvocationError;
use super::function_json::FunctionDefinition;

/// Response header that marks a body as the base64 text of a binary body.
pub const BODY_ENCODING_HEADER: &str = "x-keyless-body-encoding";

/// Binding name that routes an output to `ReturnValue` instead of `Outputs`.
pub const RETURN_BINDING_NAME: &str = "$return";

/// Maximum length of the component response body excerpt quoted in `Logs`, in characters.
pub const LOG_BODY_EXCERPT_CHARS: usize = 1000;

/// Headers that describe one hop or the body's framing, which the Functions host recomputes.
const DROPPED_HEADERS: &[&str] = &[
    "connection",
    "content-length",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
];

/// Builds the reply to a JSON invocation of `function` from the component's response.
///
/// A function with an `http` output gets the response in that output (or in `ReturnValue`
/// when the output is named `$return`) and the reply is 200, whatever the component's
/// status: the component's status travels inside the output. A function without an http
/// output, such as a timer, gets a summary line in `Logs`. Its reply is 200 when the
/// component returned 2xx and 500 otherwise, so that the Functions host records the
/// invocation as failed.
pub fn invocation_reply(
    function: &FunctionDefinition,
    response: Response<Bytes>,
) -> Response<Bytes> {
    match function.http_output() {
        Some(output) => {
            let (value, logs) = http_output(&response);
            let reply = if output.name == RETURN_BINDING_NAME {
                json!({"Outputs": {}, "Logs": logs, "ReturnValue": value})
            } else {
                let mut outputs = Map::new();
                outputs.insert(output.name.clone(), value);
                json!({"Outputs": outputs, "Logs": logs, "ReturnValue": null})
            };
            json_response(StatusCode::OK, "application/json", &reply)
        }
        None => {
            let succeeded = response.status().is_success();
            let line = summary_line(function, &response);
            if !succeeded {
                tracing::error!(
                    function = %function.name,
                    status = response.status().as_u16(),
                    "invocation failed because the component returned a non-success status"
                );
            }
            let reply = json!({"Outputs": {}, "Logs": [line], "ReturnValue": null});
            let status = if succeeded {
                StatusCode::OK
            } else {
                StatusCode::INTERNAL_SERVER_ERROR
            };
            json_response(status, "application/json", &reply)
        }
    }
}

/// Builds the reply to an invocation that could not be translated: 400 for a malformed
/// invocation, 500 for a function whose definition the handler cannot serve. Either status
/// makes the Functions host fail the invocation.
pub fn invalid_invocation_reply(error: &InvocationError) -> Response<Bytes> {
    let status = match error {
        InvocationError::InvalidJson { .. }
        | InvocationError::MissingField { .. }
        | InvocationError::InvalidField { .. } => StatusCode::BAD_REQUEST,
        InvocationError::UnsupportedTrigger { .. } | InvocationError::NoTrigger { .. } => {
            StatusCode::INTERNAL_SERVER_ERROR
        }
    };
    let problem = json!({
        "type": "about:blank",
        "title": "Invalid function invocation",
        "status": status.as_u16(),
        "detail": error.to_string(),
    });
    json_response(status, "application/problem+json", &problem)
}

/// Converts a component response into an http output object and the log lines that go
/// with it.
pub fn http_output(response: &Response<Bytes>) -> (Value, Vec<String>) {
    let mut logs = Vec::new();
    let mut headers = output_headers(response.headers(), &mut logs);

    let mut output = Map::new();
    output.insert(
        "statusCode".to_string(),
        Value::from(response.status().as_u16()),
    );
    match std::str::from_utf8(response.body()) {
        // NOTE: Json.NET in the Functions host turns a string that looks like an ISO 8601
        // date into a DateTime, so a body that is only such a date may reach the client
        // reformatted.
        Ok(text) => {
            output.insert("body".to_string(), Value::from(text));
        }
        Err(_) => {
            output.insert(
                "body".to_string(),
                Value::from(BASE64.encode(response.body())),
            );
            output.insert("isBase64Encoded".to_string(), Value::Bool(true));
            headers.insert(BODY_ENCODING_HEADER.to_string(), Value::from("base64"));
            logs.push(format!(
                "response body of {} bytes is not UTF-8 text, so it was sent as base64 with \
                 header {BODY_ENCODING_HEADER}: base64; use a forwarded HTTP function to send \
                 binary bodies unchanged",
                response.body().len()
            ));
        }
    }
    output.insert("headers".to_string(), Value::Object(headers));

    (Value::Object(output), logs)
}

fn output_headers(headers: &HeaderMap, logs: &mut Vec<String>) -> Map<String, Value> {
    let mut output = Map::new();
    for name in headers.keys() {
        if DROPPED_HEADERS.contains(&name.as_str()) {
            continue;
        }
        let values: Vec<String> = headers
            .get_all(name)
            .iter()
            .map(|value| match value.to_str() {
                Ok(text) => text.to_string(),
                Err(_) => {
                    logs.push(format!(
                        "header {name} has non-ASCII bytes; they were replaced"
                    ));
                    String::from_utf8_lossy(value.as_bytes()).into_owned()
                }
            })
            .collect();
        if values.len() > 1 && name == http::header::SET_COOKIE {
            // NOTE: the Functions host's http output has no field for several cookies, and a
            // joined Set-Cookie line is read by clients as one cookie.
            logs.push(format!(
                "{} Set-Cookie headers were joined into one; clients see only the first cookie",
                values.len()
            ));
        }
        output.insert(name.as_str().to_string(), Value::from(values.join(", ")));
    }
    output
}

fn summary_line(function: &FunctionDefinition, response: &Response<Bytes>) -> String {
    let status = response.status();
    let body = response.body();
    let excerpt = match std::str::from_utf8(body) {
        Ok("") => "(empty body)".to_string(),
        Ok(text) => {
            let collapsed = text.split_whitespace().collect::<Vec<_>>().join(" ");
            let mut excerpt: String = collapsed.chars().take(LOG_BODY_EXCERPT_CHARS).collect();
            if collapsed.chars().count() > LOG_BODY_EXCERPT_CHARS {
                excerpt.push_str(" ...");
            }
            excerpt
        }
        Err(_) => format!("({} bytes, not UTF-8 text)", body.len()),
    };
    let outcome = if status.is_success() {
        "succeeded"
    } else {
        "failed"
    };
    format!(
        "{} {outcome}: component returned {status}: {excerpt}",
        function.name
    )
}

fn json_response(status: StatusCode, content_type: &'static str, value: &Value) -> Response<Bytes> {
    let body = Bytes::from(serde_json::to_vec(value).unwrap_or_default());
    let mut response = Response::new(body);
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(CONTENT_TYPE, http::HeaderValue::from_static(content_type));
    response
}

/// Reads an http output object back into the response a client receives from the
/// Functions host, honoring this handler's base64 marker as a client would.
///
/// Mirrors the Functions host. `statusCode` (or `status`) may be a number or a numeric
/// string and defaults to 200. Header values must be single strings, numbers or booleans,
/// because the host writes an array as JSON text. A non-string body becomes JSON text.
/// Used by tests and by conformance tools that stand in for the Functions host.
pub fn decode_http_output(value: &Value, field: &str) -> Result<Response<Bytes>, InvocationError> {
    let object = value
        .as_object()
        .ok_or_else(|| InvocationError::invalid(field, "an object"))?;
    let lookup = |key: &str| super::function_json::get_ignore_case(object, key);

    let status_field = format!("{field}.statusCode");
    let status = match lookup("statusCode").or_else(|| lookup("status")) {
        None | Some(Value::Null) => StatusCode::OK,
        Some(Value::Number(number)) => number
            .as_u64()
            .and_then(|code| u16::try_from(code).ok())
            .and_then(|code| StatusCode::from_u16(code).ok())
            .ok_or_else(|| InvocationError::invalid(&status_field, "an HTTP status code"))?,
        Some(Value::String(text)) => text
            .trim()
            .parse::<u16>()
            .ok()
            .and_then(|code| StatusCode::from_u16(code).ok())
            .ok_or_else(|| InvocationError::invalid(&status_field, "an HTTP status code"))?,
        Some(_) => {
            return Err(InvocationError::invalid(
                &status_field,
                "a number or a string",
            ));
        }
    };

    let mut response = Response::new(Bytes::new());
    *response.status_mut() = status;

    let headers_field = format!("{field}.headers");
    match lookup("headers") {
        None | Some(Value::Null) => {}
        Some(Value::Object(headers)) => {
            for (name, value) in headers {
                let header_field = format!("{headers_field}.{name}");
                let text = match value {
                    Value::String(text) => text.clone(),
                    Value::Number(number) => number.to_string(),
                    Value::Bool(flag) => flag.to_string(),
                    _ => return Err(InvocationError::invalid(header_field, "a single string")),
                };
                let header_name = HeaderName::from_bytes(name.as_bytes())
                    .map_err(|_| InvocationError::invalid(&header_field, "a valid header name"))?;
                let header_value = http::HeaderValue::from_str(&text)
                    .map_err(|_| InvocationError::invalid(&header_field, "a valid header value"))?;
                response.headers_mut().append(header_name, header_value);
            }
        }
        Some(_) => return Err(InvocationError::invalid(headers_field, "an object")),
    }

    let base64_flag = matches!(lookup("isBase64Encoded"), Some(Value::Bool(true)));
    let body_field = format!("{field}.body");
    let body = match lookup("body") {
        None | Some(Value::Null) => Bytes::new(),
        Some(Value::String(text)) if base64_flag => BASE64
            .decode(text)
            .map(Bytes::from)
            .map_err(|_| InvocationError::invalid(&body_field, "base64 text"))?,
        Some(Value::String(text)) => Bytes::from(text.clone().into_bytes()),
        Some(other) => Bytes::from(serde_json::to_vec(other).unwrap_or_default()),
    };
    if base64_flag {
        response.headers_mut().remove(BODY_ENCODING_HEADER);
    }
    *response.body_mut() = body;
    Ok(response)
}
