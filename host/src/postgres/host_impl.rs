//! The bindgen `keyless:host/postgres` traits for a request's store.
//!
//! Errors the component caused (its SQL, parameters, credentials or target) are logged at
//! `info`; errors of the host or the network at `warn`. Log lines carry the error and the
//! pool key, never parameters or passwords.

use wasmtime::component::Resource;

use crate::bindings::wit_postgres::{ConnectOptions, Error as WitError, Host, HostConnection, RowSet, Value};
use crate::state::RequestState;

use super::connection::PgConnection;
use super::error::{error_kind_name, is_caused_by_component};

impl Host for RequestState {}

impl HostConnection for RequestState {
    async fn open(&mut self, options: ConnectOptions) -> wasmtime::Result<Result<Resource<PgConnection>, WitError>> {
        match self.pools.open(&options).await {
            Ok(connection) => Ok(Ok(self.table.push(connection)?)),
            Err(error) => {
                let target = format!("{}:{}", options.host, options.port);
                log_error("open", &target, &options.user, &error);
                Ok(Err(error))
            }
        }
    }

    async fn query(
        &mut self,
        connection: Resource<PgConnection>,
        sql: String,
        params: Vec<Value>,
    ) -> wasmtime::Result<Result<RowSet, WitError>> {
        let connection = self.table.get_mut(&connection)?;
        let result = connection.query(&sql, &params).await;
        if let Err(error) = &result {
            log_error("query", &connection.key().target(), &connection.key().user, error);
        }
        Ok(result)
    }

    async fn execute(
        &mut self,
        connection: Resource<PgConnection>,
        sql: String,
        params: Vec<Value>,
    ) -> wasmtime::Result<Result<u64, WitError>> {
        let connection = self.table.get_mut(&connection)?;
        let result = connection.execute(&sql, &params).await;
        if let Err(error) = &result {
            log_error("execute", &connection.key().target(), &connection.key().user, error);
        }
        Ok(result)
    }

    async fn drop(&mut self, connection: Resource<PgConnection>) -> wasmtime::Result<()> {
        // Dropping the pooled client returns it to its pool.
        self.table.delete(connection)?;
        Ok(())
    }
}

fn log_error(operation: &str, target: &str, user: &str, error: &WitError) {
    let kind = error_kind_name(error);
    let detail = error_detail(error);
    if is_caused_by_component(error) {
        tracing::info!(operation, db.target = target, db.user = user, kind, error = %detail, "database call failed");
    } else {
        tracing::warn!(operation, db.target = target, db.user = user, kind, error = %detail, "database call failed");
    }
}

fn error_detail(error: &WitError) -> String {
    match error {
        WitError::AuthenticationFailed(db_error) | WitError::QueryFailed(db_error) => {
            format!("{} (SQLSTATE {})", db_error.message, db_error.code)
        }
        WitError::HostNotAllowed(message)
        | WitError::ConnectionFailed(message)
        | WitError::BadParameter(message)
        | WitError::ValueConversionFailed(message)
        | WitError::Other(message) => message.clone(),
    }
}
