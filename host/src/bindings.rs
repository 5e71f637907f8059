//! Rust bindings for the `keyless:host/function` world, generated from `wit/`.
//!
//! The `wasi:http` and `wasi:io` types that the world's export uses are mapped onto the
//! types of `wasmtime-wasi-http` and `wasmtime-wasi`, so the request and response-outparam
//! resources created by `wasmtime-wasi-http` can be passed to the component's
//! `incoming-handler` directly. The component is built against `wasi:http@0.2.6` while
//! `wasmtime-wasi-http` 48 implements a later 0.2 release; wasmtime links the two because
//! 0.2.x versions are semver-compatible.

#![allow(missing_docs, reason = "generated code")]

// NOTE: the generated `Debug` of `connect-options` prints the password field. The host
// never formats that record; keep it out of logs and error messages.

wasmtime::component::bindgen!({
    path: "../wit",
    world: "keyless:host/function",
    imports: { default: async | trappable },
    exports: { default: async },
    require_store_data_send: true,
    additional_derives: [PartialEq],
    with: {
        "wasi:http": wasmtime_wasi_http::p2::bindings::http,
        "wasi:io": wasmtime_wasi::p2::bindings::io,
        "keyless:host/postgres.connection": crate::postgres::PgConnection,
    },
});

pub use keyless::host::postgres as wit_postgres;
pub use keyless::host::token as wit_token;
