//! The component's `keyless:host/postgres` import, implemented over tokio-postgres.
//!
//! - [`allow_list`]: which `host:port` pairs a component may reach.
//! - [`tls`]: rustls configurations for `require` and `verify-full`.
//! - [`pool`]: pools keyed without the password, and the rule for who may reuse a connection.
//! - [`connection`]: the `connection` resource with `query` and `execute`.
//! - [`convert`], [`numeric`], [`datetime`]: WIT values to and from the wire formats.
//! - [`error`]: tokio-postgres errors as the WIT `error` variant.
//! - `host_impl`: the bindgen `Host` traits, with logging.

pub mod allow_list;
pub mod connection;
pub mod convert;
pub mod datetime;
pub mod error;
mod host_impl;
pub mod numeric;
pub mod pool;
pub mod tls;

pub use connection::PgConnection;
pub use pool::{PgPools, PoolKey, TlsMode};
