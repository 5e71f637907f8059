//! The HTTP side of the emulator: routing and the three token protocols.

use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::header::{CONTENT_TYPE, HeaderValue, RETRY_AFTER};
use hyper::{Method, Request, Response, StatusCode};
use serde_json::{Value, json};

use super::config::{ExpiresOnFormat, Failure, IssuedToken};
use super::jwt::random_token;
use super::state::{RecordedRequest, Settings, Shared, lock};

/// The api-version the App Service route accepts.
const APP_SERVICE_API_VERSION: &str = "2019-08-01";

const JWT_BEARER: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

type Reply = Response<Full<Bytes>>;

/// Accepts connections on `listener` until the task is aborted.
pub(crate) async fn serve(listener: tokio::net::TcpListener, shared: Arc<Shared>) {
    loop {
        let stream = match listener.accept().await {
            Ok((stream, _)) => stream,
            Err(error) => {
                tracing::warn!(error = %error, "identity emulator: accepting a connection failed");
                continue;
            }
        };

        let shared = shared.clone();
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |request| route(shared.clone(), request));
            let io = hyper_util::rt::TokioIo::new(stream);
            if let Err(error) = hyper::server::conn::http1::Builder::new()
                .serve_connection(io, service)
                .await
            {
                tracing::debug!(error = %error, "identity emulator: connection ended with an error");
            }
        });
    }
}

async fn route(shared: Arc<Shared>, request: Request<Incoming>) -> Result<Reply, Infallible> {
    let method = request.method().clone();
    let path = request.uri().path().to_owned();

    let protocol = match (&method, path.as_str()) {
        (&Method::GET, "/msi/token") => Protocol::AppService,
        (&Method::GET, "/metadata/identity/oauth2/token") => Protocol::Imds,
        (&Method::POST, p) if p.ends_with("/oauth2/v2.0/token") => Protocol::WorkloadIdentity,
        _ => {
            return Ok(json_reply(
                StatusCode::NOT_FOUND,
                json!({ "error": "not_found", "path": path }),
            ));
        }
    };

    let recorded = record(request).await;
    shared.calls.fetch_add(1, Ordering::SeqCst);
    lock(&shared.requests).push(recorded.clone());

    // Injected failures come first, so a test controls the reply regardless of the request.
    let next_failure = lock(&shared.failures).pop_front();
    match next_failure {
        Some(Failure::Status { code, retry_after }) => {
            return Ok(injected_failure(code, retry_after));
        }
        Some(Failure::Slow(delay)) => tokio::time::sleep(delay).await,
        None => {}
    }

    let settings = lock(&shared.settings).clone();
    let reply = match protocol {
        Protocol::AppService => app_service(&shared, &settings, &recorded).await,
        Protocol::Imds => imds(&shared, &settings, &recorded).await,
        Protocol::WorkloadIdentity => workload_identity(&shared, &settings, &recorded).await,
    };
    Ok(reply.unwrap_or_else(|reply| reply))
}

enum Protocol {
    AppService,
    Imds,
    WorkloadIdentity,
}

async fn record(request: Request<Incoming>) -> RecordedRequest {
    let pairs = |text: &[u8]| -> Vec<(String, String)> {
        form_urlencoded::parse(text)
            .map(|(key, value)| (key.into_owned(), value.into_owned()))
            .collect()
    };

    let (parts, body) = request.into_parts();
    let body = body
        .collect()
        .await
        .map(|collected| collected.to_bytes())
        .unwrap_or_default();
    let header = |name: &str| {
        parts
            .headers
            .get(name)
            .and_then(|value| value.to_str().ok())
            .map(str::to_owned)
    };

    RecordedRequest {
        method: parts.method.to_string(),
        path: parts.uri.path().to_owned(),
        query: pairs(parts.uri.query().unwrap_or("").as_bytes()),
        identity_header: header("x-identity-header"),
        metadata_header: header("metadata"),
        form: pairs(&body),
    }
}

/// `GET /msi/token?resource=..&api-version=2019-08-01` with `X-IDENTITY-HEADER`.
async fn app_service(
    shared: &Arc<Shared>,
    settings: &Settings,
    request: &RecordedRequest,
) -> Result<Reply, Reply> {
    let Some(header) = &request.identity_header else {
        return Err(app_service_error(
            StatusCode::BAD_REQUEST,
            "The X-IDENTITY-HEADER header is missing",
        ));
    };
    if *header != settings.identity_header {
        return Err(app_service_error(
            StatusCode::UNAUTHORIZED,
            "The X-IDENTITY-HEADER value is not valid",
        ));
    }
    if request.query_param("api-version") != Some(APP_SERVICE_API_VERSION) {
        return Err(app_service_error(
            StatusCode::BAD_REQUEST,
            "api-version must be 2019-08-01",
        ));
    }
    let Some(resource) = request.query_param("resource").filter(|r| !r.is_empty()) else {
        return Err(app_service_error(
            StatusCode::BAD_REQUEST,
            "The resource parameter is missing",
        ));
    };

    let subject = user_assigned_subject(
        request,
        &["client_id", "principal_id", "object_id", "mi_res_id"],
    );
    let (token, expires_on) = issue(shared, settings, resource, &subject).await?;
    let expires_on = match settings.expires_on_format {
        ExpiresOnFormat::String => json!(expires_on.to_string()),
        ExpiresOnFormat::Number => json!(expires_on),
    };

    Ok(json_reply(
        StatusCode::OK,
        json!({
            "access_token": token,
            "expires_on": expires_on,
            "resource": resource,
            "token_type": "Bearer",
            "client_id": request.query_param("client_id").unwrap_or(&settings.client_id),
        }),
    ))
}

/// `GET /metadata/identity/oauth2/token?api-version=..&resource=..` with `Metadata: true`.
async fn imds(
    shared: &Arc<Shared>,
    settings: &Settings,
    request: &RecordedRequest,
) -> Result<Reply, Reply> {
    if request.metadata_header.as_deref() != Some("true") {
        return Err(oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "Required metadata header not specified",
        ));
    }
    if request.query_param("api-version").is_none() {
        return Err(oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "Required query variable 'api-version' is missing",
        ));
    }
    let Some(resource) = request.query_param("resource").filter(|r| !r.is_empty()) else {
        return Err(oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "Required query variable 'resource' is missing",
        ));
    };

    let subject = user_assigned_subject(request, &["client_id", "object_id", "msi_res_id"]);
    let (token, expires_on) = issue(shared, settings, resource, &subject).await?;
    let lifetime = lifetime_seconds(settings.token_lifetime);

    // IMDS states every value as a string.
    Ok(json_reply(
        StatusCode::OK,
        json!({
            "access_token": token,
            "expires_in": lifetime.to_string(),
            "expires_on": expires_on.to_string(),
            "ext_expires_in": lifetime.to_string(),
            "not_before": (expires_on - lifetime).to_string(),
            "resource": resource,
            "token_type": "Bearer",
        }),
    ))
}

/// `POST /{tenant}/oauth2/v2.0/token` with a client assertion.
async fn workload_identity(
    shared: &Arc<Shared>,
    settings: &Settings,
    request: &RecordedRequest,
) -> Result<Reply, Reply> {
    let tenant = request
        .path
        .trim_start_matches('/')
        .split('/')
        .next()
        .unwrap_or("");
    if tenant != settings.tenant_id {
        let description = format!("AADSTS90002: Tenant '{tenant}' not found.");
        return Err(oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            &description,
        ));
    }
    if request.form_field("grant_type") != Some("client_credentials") {
        return Err(oauth_error(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            "grant_type must be client_credentials",
        ));
    }
    if request.form_field("client_id") != Some(settings.client_id.as_str()) {
        return Err(oauth_error(
            StatusCode::BAD_REQUEST,
            "unauthorized_client",
            "AADSTS700016: Application not found in the directory.",
        ));
    }
    if request.form_field("client_assertion_type") != Some(JWT_BEARER) {
        return Err(oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "client_assertion_type must be jwt-bearer",
        ));
    }
    if request.form_field("client_assertion") != Some(settings.federated_assertion.as_str()) {
        return Err(oauth_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "AADSTS700211: No matching federated identity record found for presented assertion.",
        ));
    }
    let Some(scope) = request.form_field("scope").filter(|s| !s.is_empty()) else {
        return Err(oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "AADSTS900144: The request body must contain the 'scope' parameter.",
        ));
    };

    let audience = scope
        .split(' ')
        .next()
        .unwrap_or(scope)
        .trim_end_matches("/.default");
    let (token, _) = issue(shared, settings, audience, &settings.client_id).await?;
    let lifetime = lifetime_seconds(settings.token_lifetime);

    Ok(json_reply(
        StatusCode::OK,
        json!({
            "token_type": "Bearer",
            "expires_in": lifetime,
            "ext_expires_in": lifetime,
            "access_token": token,
        }),
    ))
}

/// Makes a token, runs the issue hook and records the token. Returns the token and its
/// expiry in Unix seconds.
async fn issue(
    shared: &Arc<Shared>,
    settings: &Settings,
    audience: &str,
    subject: &str,
) -> Result<(String, u64), Reply> {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs();
    let expires_on = now + lifetime_seconds(settings.token_lifetime);
    let token = random_token(audience, subject, now, expires_on);
    let issued = IssuedToken {
        token: token.clone(),
        expires_on: UNIX_EPOCH + Duration::from_secs(expires_on),
    };

    // The hook runs before the reply, so a database password is in place before the
    // client can use the token. It runs in its own task, which finishes even when the client
    // hangs up, because a real endpoint has issued the token by then too.
    let hook = settings.on_issue.clone();
    let record = shared.clone();
    let outcome = tokio::spawn(async move {
        if let Some(hook) = hook {
            hook(issued.clone()).await?;
        }
        lock(&record.issued).push(issued);
        Ok::<(), String>(())
    })
    .await
    .unwrap_or_else(|error| Err(format!("the hook panicked: {error}")));

    if let Err(error) = outcome {
        tracing::warn!(error = %error, "identity emulator: the issue hook failed");
        return Err(app_service_error(
            StatusCode::INTERNAL_SERVER_ERROR,
            &format!("the emulator's issue hook failed: {error}"),
        ));
    }

    Ok((token, expires_on))
}

fn lifetime_seconds(lifetime: Duration) -> u64 {
    lifetime.as_secs().max(1)
}

fn user_assigned_subject(request: &RecordedRequest, names: &[&str]) -> String {
    names
        .iter()
        .find_map(|name| request.query_param(name))
        .unwrap_or("system-assigned")
        .to_owned()
}

fn injected_failure(code: u16, retry_after: Option<u64>) -> Reply {
    let status = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut reply = app_service_error(status, "injected failure");
    if let Some(seconds) = retry_after {
        reply
            .headers_mut()
            .insert(RETRY_AFTER, HeaderValue::from(seconds));
    }
    reply
}

/// Builds an error in App Service's shape, `{"statusCode": 400, "message": "..."}`.
fn app_service_error(status: StatusCode, message: &str) -> Reply {
    json_reply(
        status,
        json!({ "statusCode": status.as_u16(), "message": message }),
    )
}

/// Builds an error in the OAuth shape IMDS and Entra use, `{"error": "...", "error_description": "..."}`.
fn oauth_error(status: StatusCode, error: &str, description: &str) -> Reply {
    json_reply(
        status,
        json!({ "error": error, "error_description": description }),
    )
}

fn json_reply(status: StatusCode, body: Value) -> Reply {
    let mut reply = Response::new(Full::new(Bytes::from(body.to_string())));
    *reply.status_mut() = status;
    reply
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    reply
}
