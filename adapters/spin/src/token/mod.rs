//! The `keyless:host/token` export: a static token from a Spin variable, or an App
//! Service managed identity token fetched through Spin's outbound HTTP.

pub mod cache;
pub mod config;
pub mod reply;

mod guest;

/// The types of the exported interface, as generated from `wit/token.wit`.
pub use crate::bindings::exports::keyless::host::token as wit;
