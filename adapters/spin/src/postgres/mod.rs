//! The `keyless:host/postgres` export on top of `spin:postgres/postgres@4.0.0`.

// The error type is the generated WIT `error` variant, which the interface fixes.
#![allow(clippy::result_large_err)]

pub mod binary;
pub mod columns;
pub mod connection_string;
pub mod debug_text;
pub mod errors;
pub mod params;
pub mod results;

mod guest;

/// The types of the exported interface, as generated from `wit/postgres.wit`.
pub use crate::bindings::exports::keyless::host::postgres as wit;

/// Spin's postgres interface, as spin-sdk generates it.
pub use spin_sdk::pg4 as spin;
