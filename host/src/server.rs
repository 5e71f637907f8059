//! The HTTP server the Functions host talks to.
//!
//! - `GET /` (and `HEAD /`) answers 200 at once: the Functions host polls it every 25 ms
//!   until the handler is ready, and the component is compiled before the port opens.
//! - `POST /<function>` for a function that is not forwarded (a timer, or an HTTP function
//!   with other bindings) is a JSON invocation, translated by [`crate::invocation`].
//! - Paths under the route prefix (`/api/` unless host.json sets another) are forwarded
//!   requests and go to the component unchanged.
//! - Every other path gets 404 from the host, so routes such as `/internal/...` that the
//!   component serves for the host's own invocations are not reachable from outside. With
//!   an empty route prefix every path except `/internal/...` is forwarded.

use std::convert::Infallible;
use std::future::Future;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full, LengthLimitError, Limited};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;
use tracing::{debug, info, warn};

use std::sync::Arc;

use crate::invocation::{FunctionApp, dispatch_json_invocation};
use crate::problem::problem_response;
use crate::runtime::{Host, INVOCATION_ID_HEADER};

/// Paths the component serves only for the host's own invocations.
pub const INTERNAL_PREFIX: &str = "/internal/";

/// Routing state of the server: the component and the function app definition.
#[derive(Clone)]
pub struct Routes {
    host: Host,
    app: Arc<FunctionApp>,
    forward_prefix: String,
}

impl Routes {
    /// Routes forwarded requests under `app`'s route prefix and its JSON invocations to `host`.
    pub fn new(host: Host, app: FunctionApp) -> Self {
        let forward_prefix = match app.route_prefix() {
            "" => "/".to_owned(),
            prefix => format!("/{prefix}/"),
        };
        Self {
            host,
            app: Arc::new(app),
            forward_prefix,
        }
    }

    fn is_forwarded(&self, path: &str) -> bool {
        path.starts_with(&self.forward_prefix) && !path.starts_with(INTERNAL_PREFIX)
    }
}

/// Accepts connections on `listener` until `shutdown` completes, then stops accepting
/// and waits up to `grace` for requests in flight.
pub async fn serve(routes: Routes, listener: TcpListener, shutdown: impl Future<Output = ()>, grace: Duration) {
    let graceful = GracefulShutdown::new();
    let builder = http1::Builder::new();
    tokio::pin!(shutdown);

    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let stream = match accepted {
                    Ok((stream, _peer)) => stream,
                    Err(error) => {
                        // Usually out of file descriptors; pause instead of spinning.
                        warn!(error = %error, "accepting a connection failed");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        continue;
                    }
                };
                let _ = stream.set_nodelay(true);

                let routes = routes.clone();
                let service = service_fn(move |request| {
                    let routes = routes.clone();
                    async move { Ok::<_, Infallible>(route(&routes, request).await.map(Full::new)) }
                });
                let connection = graceful.watch(builder.serve_connection(TokioIo::new(stream), service));
                tokio::spawn(async move {
                    if let Err(error) = connection.await {
                        debug!(error = %error, "HTTP connection ended with an error");
                    }
                });
            }
            () = &mut shutdown => break,
        }
    }

    drop(listener);
    info!(
        grace_secs = grace.as_secs(),
        "stopped accepting connections; waiting for requests in flight"
    );
    tokio::select! {
        () = graceful.shutdown() => info!("all connections closed"),
        () = tokio::time::sleep(grace) => warn!(grace_secs = grace.as_secs(), "requests still running after the shutdown grace period were abandoned"),
    }
}

/// Routes one request and logs it.
pub async fn route(routes: &Routes, request: Request<Incoming>) -> Response<Bytes> {
    let started = Instant::now();
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    let invocation_id = request
        .headers()
        .get(INVOCATION_ID_HEADER)
        .and_then(|value| value.to_str().ok())
        .unwrap_or("-")
        .to_owned();

    let readiness = path == "/" && (method == Method::GET || method == Method::HEAD);
    let response = if readiness {
        Response::new(Bytes::new())
    } else if let Some(function) = routes.app.json_invocation_target(&method, &path) {
        let (parts, body) = request.into_parts();
        match read_body(&routes.host, body).await {
            Ok(body) => {
                let call = |request| routes.host.handle(request);
                dispatch_json_invocation(&routes.app, function, &parts.headers, &body, call).await
            }
            Err(response) => response,
        }
    } else if routes.is_forwarded(&path) {
        forward(&routes.host, request).await
    } else {
        let detail = format!(
            "no function is served at {path}; forwarded routes start with {}",
            routes.forward_prefix
        );
        problem_response(StatusCode::NOT_FOUND, &detail)
    };

    let status = response.status().as_u16();
    let duration_ms = started.elapsed().as_secs_f64() * 1000.0;
    if readiness {
        debug!(%method, %path, status, duration_ms, "readiness probe");
    } else {
        info!(%method, %path, status, duration_ms, %invocation_id, "request");
    }
    response
}

/// Buffers the body up to the configured limit and runs the component.
async fn forward(host: &Host, request: Request<Incoming>) -> Response<Bytes> {
    let (parts, body) = request.into_parts();
    match read_body(host, body).await {
        Ok(body) => host.handle(Request::from_parts(parts, body)).await,
        Err(response) => response,
    }
}

/// Reads a request body of at most `max_request_body_bytes`; the error is the response
/// to send instead (413 or 400).
async fn read_body(host: &Host, body: Incoming) -> Result<Bytes, Response<Bytes>> {
    let limit = host.config().max_request_body_bytes;
    match Limited::new(body, limit).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(error) if error.downcast_ref::<LengthLimitError>().is_some() => {
            info!(limit, "rejected a request body over the size limit");
            Err(problem_response(
                StatusCode::PAYLOAD_TOO_LARGE,
                &format!("the request body is larger than {limit} bytes"),
            ))
        }
        Err(error) => {
            info!(error = %error, "reading the request body failed");
            Err(problem_response(
                StatusCode::BAD_REQUEST,
                "the request body could not be read",
            ))
        }
    }
}
