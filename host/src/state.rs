//! Per-request store data: WASI contexts, the resource table, limits and the shared
//! token provider and pools.

use std::sync::Arc;

use wasmtime::StoreLimits;
use wasmtime::component::ResourceTable;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpCtxView, WasiHttpView};

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
            hooks: Default::default(),
        }
    }
}
