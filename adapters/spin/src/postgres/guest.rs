//! The exported `postgres` interface, calling Spin for each operation.

use super::connection_string::connection_string;
use super::errors::{ErrorContext, error_from_spin, open_error_from_spin};
use super::params::params_to_spin;
use super::results::row_set_from_spin;
use super::spin;
use super::wit::{ConnectOptions, Connection, Error, Guest, GuestConnection, RowSet, Value};
use crate::Adapter;

/// A Spin connection and the password that opened it, kept only to redact it from
/// error text.
pub struct SpinConnection {
    connection: spin::Connection,
    password: String,
}

impl Guest for Adapter {
    type Connection = SpinConnection;
}

impl GuestConnection for SpinConnection {
    fn open(options: ConnectOptions) -> Result<Connection, Error> {
        let address = connection_string(&options)?;
        let context = ErrorContext {
            address: format!("{}:{}", options.host, options.port),
            password: &options.password,
            ssl_mode: options.ssl_mode,
        };

        let connection = spin::Connection::open(&address).map_err(|error| open_error_from_spin(error, &context))?;

        Ok(Connection::new(SpinConnection {
            connection,
            password: options.password,
        }))
    }

    fn query(&self, sql: String, params: Vec<Value>) -> Result<RowSet, Error> {
        let params = params_to_spin(&params)?;
        // NOTE: Spin 4.0.0 to 4.0.2 never return from `query` when the statement yields no
        // rows (their sync `query` waits for column names that only the first row sends).
        // A guest cannot time out a host call, so such a request hangs until Spin is fixed.
        let row_set = self
            .connection
            .query(&sql, &params)
            .map_err(|error| error_from_spin(error, &self.password))?;
        row_set_from_spin(row_set)
    }

    fn execute(&self, sql: String, params: Vec<Value>) -> Result<u64, Error> {
        let params = params_to_spin(&params)?;
        self.connection
            .execute(&sql, &params)
            .map_err(|error| error_from_spin(error, &self.password))
    }
}
