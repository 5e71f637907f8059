//! The keyless custom-handler host: runs the keyless component in wasmtime and implements
//! its `token` and `postgres` imports natively.

pub mod bindings;
pub mod cli;
pub mod config;
pub mod invocation;
pub mod logging;
pub mod postgres;
pub mod precompiled;
pub mod problem;
pub mod runtime;
pub mod secret;
pub mod server;
pub mod state;
pub mod token;
pub mod token_host;

pub use config::HostConfig;
pub use runtime::Host;
