//! A throwaway PostgreSQL server for tests and local runs.
//!
//! [`TestCluster::start`] runs the system's `initdb` and `pg_ctl` in a temporary directory,
//! as the `postgres` system user when the caller is root. The server listens only on
//! 127.0.0.1 at a free port and requires SCRAM-SHA-256 password authentication. With
//! `tls: true` it also offers TLS with a certificate signed by a fresh test CA.

mod binaries;
mod cluster;
mod config;
mod port;
mod server_user;
mod sql;
mod tls;
mod watchdog;

pub use binaries::{BINDIR_ENV, PgBinaries};
pub use cluster::{ClusterOptions, TestCluster, random_password};
pub use server_user::SERVER_USER;
pub use sql::schema_path;

pub(crate) use sql::describe_db_error;
