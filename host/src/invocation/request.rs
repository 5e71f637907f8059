//! Translation of a JSON invocation (`POST /<function>` with `{"Data": ..., "Metadata": ...}`)
//! into the plain HTTP request the component handles.
//!
//! - An HTTP trigger becomes the original request: method, path and query from `Url`,
//!   headers from `Headers`, body from `Body`.
//! - A timer trigger becomes `POST /internal/jobs/<function name>` with the timer value
//!   (`Schedule`, `ScheduleStatus`, `IsPastDue`) as the JSON body.

use base64::Engine as _;
use base64::alphabet;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use bytes::Bytes;
use http::header::{CONTENT_LENGTH, CONTENT_TYPE, HeaderName, HeaderValue, TRANSFER_ENCODING};
use http::{HeaderMap, Method, Request};
use serde_json::{Map, Value};

use super::error::InvocationError;
use super::function_json::{Binding, FunctionApp, FunctionDefinition, get_ignore_case};
use super::target;

/// Path under which the component serves jobs that only timer invocations reach.
pub const JOB_PATH_PREFIX: &str = "/internal/jobs/";

/// Header that carries the Functions invocation id, on both the invocation request and the
/// forwarded request.
pub const INVOCATION_ID_HEADER: &str = "x-azure-functions-invocationid";

/// Base64 as .NET's `Convert.ToBase64String` writes it; decoding also accepts missing padding.
const BASE64: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// Translates one JSON invocation of `function` into a request for the component.
///
/// `invocation_headers` are the headers of the invocation request itself. Its
/// `X-Azure-Functions-InvocationId` is copied onto the component request, so log lines on
/// both sides can be matched.
pub fn component_request(
    app: &FunctionApp,
    function: &FunctionDefinition,
    invocation_headers: &HeaderMap,
    invocation_body: &[u8],
) -> Result<Request<Bytes>, InvocationError> {
    let document: Value =
        serde_json::from_slice(invocation_body).map_err(|error| InvocationError::InvalidJson {
            reason: error.to_string(),
        })?;
    let document = document
        .as_object()
        .ok_or_else(|| InvocationError::invalid("(top level)", "a JSON object"))?;

    let data = required(document, "Data", "Data")?
        .as_object()
        .ok_or_else(|| InvocationError::invalid("Data", "an object"))?;
    if let Some(metadata) = get_ignore_case(document, "Metadata")
        && !metadata.is_null()
        && !metadata.is_object()
    {
        return Err(InvocationError::invalid("Metadata", "an object"));
    }

    let trigger = function
        .trigger()
        .ok_or_else(|| InvocationError::NoTrigger {
            function: function.name.clone(),
        })?;
    let trigger_field = format!("Data.{}", trigger.name);
    let trigger_value = required(data, &trigger.name, &trigger_field)?;

    let mut request = if trigger.is("httpTrigger") {
        http_trigger_request(app, function, trigger, trigger_value, &trigger_field)?
    } else if trigger.is("timerTrigger") {
        timer_request(function, trigger_value, &trigger_field)?
    } else {
        return Err(InvocationError::UnsupportedTrigger {
            function: function.name.clone(),
            trigger_type: trigger.binding_type.clone(),
        });
    };

    if let Some(invocation_id) = invocation_headers.get(INVOCATION_ID_HEADER) {
        request.headers_mut().insert(
            HeaderName::from_static(INVOCATION_ID_HEADER),
            invocation_id.clone(),
        );
    }
    Ok(request)
}

fn http_trigger_request(
    app: &FunctionApp,
    function: &FunctionDefinition,
    trigger: &Binding,
    value: &Value,
    field: &str,
) -> Result<Request<Bytes>, InvocationError> {
    let http = value
        .as_object()
        .ok_or_else(|| InvocationError::invalid(field, "an object"))?;

    let method_field = format!("{field}.Method");
    let method_text = required(http, "Method", &method_field)?
        .as_str()
        .ok_or_else(|| InvocationError::invalid(&method_field, "a string"))?;
    let method = Method::from_bytes(method_text.to_ascii_uppercase().as_bytes())
        .map_err(|_| InvocationError::invalid(&method_field, "an HTTP method such as GET"))?;

    let uri = request_target(app, function, trigger, http, field)?;
    let mut headers = headers_from_field(
        get_ignore_case(http, "Headers"),
        &format!("{field}.Headers"),
    )?;
    let body = body_from_field(
        get_ignore_case(http, "Body"),
        &headers,
        &format!("{field}.Body"),
    )?;

    // The body was re-encoded by the Functions host, so framing headers from the original
    // request no longer describe it.
    headers.remove(TRANSFER_ENCODING);
    if body.is_empty() {
        headers.remove(CONTENT_LENGTH);
    } else {
        headers.insert(CONTENT_LENGTH, HeaderValue::from(body.len()));
    }

    let mut request = Request::builder()
        .method(method)
        .uri(&uri)
        .body(body)
        .map_err(|_| InvocationError::invalid(format!("{field}.Url"), "a valid request target"))?;
    *request.headers_mut() = headers;
    Ok(request)
}

fn request_target(
    app: &FunctionApp,
    function: &FunctionDefinition,
    trigger: &Binding,
    http: &Map<String, Value>,
    field: &str,
) -> Result<String, InvocationError> {
    let url_field = format!("{field}.Url");
    let (path, url_query) = match get_ignore_case(http, "Url") {
        Some(Value::String(url)) => target::split_url(url),
        Some(Value::Null) | None => {
            // Without `Url`, rebuild the path the way the Functions host routes it: the route
            // template (the function name when function.json sets none) under the prefix.
            let params_field = format!("{field}.Params");
            let params = match get_ignore_case(http, "Params") {
                Some(Value::Object(params)) => params.clone(),
                Some(Value::Null) | None => Map::new(),
                Some(_) => return Err(InvocationError::invalid(params_field, "an object")),
            };
            let route = trigger
                .route
                .clone()
                .unwrap_or_else(|| function.name.clone());
            if route.contains('{') && params.is_empty() {
                return Err(InvocationError::missing(url_field));
            }
            let path = target::path_from_route(app.route_prefix(), &route, &params, &params_field)?;
            (path, None)
        }
        Some(_) => return Err(InvocationError::invalid(url_field, "a string")),
    };

    let query = match url_query {
        Some(query) if !query.is_empty() => Some(query),
        _ => match get_ignore_case(http, "Query") {
            Some(query) => target::query_from_field(query, &format!("{field}.Query"))?,
            None => None,
        },
    };

    Ok(match query {
        Some(query) => format!("{path}?{query}"),
        None => path,
    })
}

/// Reads `Headers`: an object of header name to an array of strings, or to one string.
fn headers_from_field(value: Option<&Value>, field: &str) -> Result<HeaderMap, InvocationError> {
    let mut headers = HeaderMap::new();
    let object = match value {
        None | Some(Value::Null) => return Ok(headers),
        Some(Value::Object(object)) => object,
        Some(_) => {
            return Err(InvocationError::invalid(
                field,
                "an object of header name to values",
            ));
        }
    };

    for (name, values) in object {
        let header_field = format!("{field}.{name}");
        let header_name = HeaderName::from_bytes(name.as_bytes())
            .map_err(|_| InvocationError::invalid(&header_field, "a valid HTTP header name"))?;
        let texts: Vec<&str> = match values {
            Value::String(text) => vec![text.as_str()],
            Value::Array(items) => items
                .iter()
                .map(|item| item.as_str())
                .collect::<Option<Vec<&str>>>()
                .ok_or_else(|| InvocationError::invalid(&header_field, "an array of strings"))?,
            Value::Null => Vec::new(),
            _ => {
                return Err(InvocationError::invalid(
                    &header_field,
                    "a string or an array of strings",
                ));
            }
        };
        for text in texts {
            // The value itself stays out of the error: it may be an Authorization header.
            let header_value = HeaderValue::from_str(text).map_err(|_| {
                InvocationError::invalid(&header_field, "header values without control characters")
            })?;
            headers.append(header_name.clone(), header_value);
        }
    }
    Ok(headers)
}

/// Reads `Body`. The Functions host sends base64 for `application/octet-stream` and
/// `multipart/*` content and the text itself for every other content type.
fn body_from_field(
    value: Option<&Value>,
    headers: &HeaderMap,
    field: &str,
) -> Result<Bytes, InvocationError> {
    match value {
        None | Some(Value::Null) => Ok(Bytes::new()),
        Some(Value::String(text)) if is_base64_content_type(headers) => {
            BASE64.decode(text.trim()).map(Bytes::from).map_err(|_| {
                InvocationError::invalid(field, "base64 text, as sent for binary content types")
            })
        }
        Some(Value::String(text)) => Ok(Bytes::from(text.clone().into_bytes())),
        // A JSON body that a test client or an older host sent already parsed.
        Some(other) => Ok(Bytes::from(serde_json::to_vec(other).unwrap_or_default())),
    }
}

/// Returns true for the content types whose bodies the Functions host base64-encodes:
/// `application/octet-stream` and any `multipart/*` type.
pub fn is_base64_content_type(headers: &HeaderMap) -> bool {
    let Some(content_type) = headers.get(CONTENT_TYPE).and_then(|v| v.to_str().ok()) else {
        return false;
    };
    let media_type = content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    media_type == "application/octet-stream" || media_type.contains("multipart/")
}

fn timer_request(
    function: &FunctionDefinition,
    value: &Value,
    field: &str,
) -> Result<Request<Bytes>, InvocationError> {
    let timer = value
        .as_object()
        .ok_or_else(|| InvocationError::invalid(field, "an object"))?;
    if let Some(past_due) = get_ignore_case(timer, "IsPastDue")
        && !past_due.is_boolean()
        && !past_due.is_null()
    {
        return Err(InvocationError::invalid(
            format!("{field}.IsPastDue"),
            "true or false",
        ));
    }

    let path = format!(
        "{JOB_PATH_PREFIX}{}",
        target::encode_path_segment(&function.name)
    );
    let body = Bytes::from(serde_json::to_vec(value).unwrap_or_default());
    Request::builder()
        .method(Method::POST)
        .uri(path)
        .header(CONTENT_TYPE, "application/json")
        .header(CONTENT_LENGTH, body.len())
        .body(body)
        .map_err(|_| InvocationError::invalid("(function name)", "a name usable in a URL path"))
}

fn required<'a>(
    object: &'a Map<String, Value>,
    key: &str,
    field: &str,
) -> Result<&'a Value, InvocationError> {
    match get_ignore_case(object, key) {
        None | Some(Value::Null) => Err(InvocationError::missing(field)),
        Some(value) => Ok(value),
    }
}
