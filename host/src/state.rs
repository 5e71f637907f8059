//! Per-request store data: WASI contexts, the resource table, limits and the shared
//! token provider and pools.

use std::sync::Arc;

use wasmtime::StoreLimits;
use wasmtime::component::ResourceTable;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};
use wasmtime_wasi_http::{
    Error as HttpError, RequestOptions, WasiBody, WasiHttpCtx, WasiHttpCtxView, WasiHttpHooks, WasiHttpView,
};

use crate::postgres::PgPools;
use crate::token::TokenProvider;

/// The data of one request's `Store`, dropped with it when the request ends, which
/// returns every connection the component left open to its pool.
pub struct RequestState {
    /// WASI context: the component's environment variables and stdio.
    pub wasi: WasiCtx,
    /// `wasi:http` context.
    pub http: WasiHttpCtx,
    /// Resources of the instance: HTTP bodies, streams and database connections.
    pub table: ResourceTable,
    /// `wasi:http` policy: no outgoing requests.
    pub http_hooks: DenyOutgoingHttp,
    /// Memory and instance limits.
    pub limits: StoreLimits,
    /// Database pools shared by all requests.
    pub pools: PgPools,
    /// Token source shared by all requests.
    pub tokens: Arc<dyn TokenProvider>,
}

impl WasiView for RequestState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl WasiHttpView for RequestState {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        WasiHttpCtxView {
            ctx: &mut self.http,
            table: &mut self.table,
            hooks: &mut self.http_hooks,
        }
    }
}

/// Rejects every outgoing HTTP request with `HTTP-request-denied`. The component reaches
/// nothing but its database, through the `postgres` import and its allow-list. WASI sockets
/// are denied as well, because the WASI context never grants network access.
#[derive(Default)]
pub struct DenyOutgoingHttp;

type OutgoingResult = Result<
    (
        http::Response<WasiBody>,
        Box<dyn Future<Output = Result<(), HttpError>> + Send>,
    ),
    HttpError,
>;

impl WasiHttpHooks for DenyOutgoingHttp {
    fn send_request(
        &mut self,
        request: http::Request<WasiBody>,
        _options: Option<RequestOptions>,
        _response_done: Box<dyn Future<Output = Result<(), HttpError>> + Send>,
    ) -> Box<dyn Future<Output = OutgoingResult> + Send> {
        let authority = request
            .uri()
            .authority()
            .map_or("-", |authority| authority.as_str())
            .to_owned();
        tracing::warn!(%authority, "denied an outgoing HTTP request of the component");
        Box::new(async { Err(HttpError::HttpRequestDenied) })
    }
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;
    use http_body_util::{BodyExt, Empty};
    use wasmtime_wasi_http::{Error as HttpError, WasiHttpHooks};

    use super::DenyOutgoingHttp;

    #[tokio::test]
    async fn outgoing_http_is_denied() {
        let body = Empty::<Bytes>::new().map_err(|never| match never {}).boxed_unsync();
        let request = http::Request::get("https://example.com/").body(body).unwrap();

        let sent = DenyOutgoingHttp.send_request(request, None, Box::new(async { Ok(()) }));
        let result = Box::into_pin(sent).await;

        assert!(matches!(result, Err(HttpError::HttpRequestDenied)));
    }
}
