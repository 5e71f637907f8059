//! The keyless custom-handler host: runs the keyless component in wasmtime and implements
//! its `token` and `postgres` imports natively.

pub mod invocation;
pub mod secret;
pub mod token;
