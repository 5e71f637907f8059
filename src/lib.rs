//! The keyless business component: an HTTP API over the `clients` table.
//!
//! `incoming` adapts `wasi:http` to the plain `http` types; everything else is plain Rust
//! over the `backend` traits, so it is unit-tested natively with in-memory fakes.

wit_bindgen::generate!({
    world: "function",
    path: "wit",
    generate_all,
});

pub mod app;
pub mod backend;
pub mod client_input;
pub mod clients;
pub mod config;
pub mod datetime;
pub mod failure;
pub mod host_backend;
pub mod http;
mod incoming;
pub mod jobs;
mod log;
pub mod pagination;
pub mod problem;
pub mod query_string;
pub mod row_json;

#[cfg(test)]
mod app_tests;
