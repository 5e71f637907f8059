//! The `connection` resource: a pooled client that runs parameterised statements.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use tokio_postgres::Statement;
use tokio_postgres::types::Type;
use tracing::instrument;

use crate::bindings::wit_postgres::{Column, ConnectOptions, Error as WitError, RowSet, Scalar, Value};
use crate::config::HostConfig;
use crate::token::TokenProvider;

use super::allow_list::AllowList;
use super::convert::{EncodedParam, PendingScalar, PendingValue, RawValue, params_wit_to_pg, value_pg_to_wit};
use super::error::query_error_pg_to_wit;
use super::pool::{PgPools, PoolKey, PoolSettings};
use super::tls::TlsConnectors;

/// Limit for TCP connect, TLS handshake and login of one new connection.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(15);

/// Idle connections unused for longer than this are closed on the next checkout.
const IDLE_TIMEOUT: Duration = Duration::from_secs(300);

impl PgPools {
    /// Builds the pools from the host settings: allow-list, CA file, pool size and wait.
    pub fn from_config(config: &HostConfig, tokens: Arc<dyn TokenProvider>) -> anyhow::Result<Self> {
        let allow_list = AllowList::parse(&config.allowed_db_hosts).map_err(anyhow::Error::msg)?;
        let tls = TlsConnectors::new(config.db_ca_file.as_deref())?;
        let settings = PoolSettings {
            max_size: config.pool_max_size,
            wait_timeout: config.pool_wait_timeout,
            connect_timeout: CONNECT_TIMEOUT,
            idle_timeout: IDLE_TIMEOUT,
        };
        Ok(Self::new(settings, allow_list, tls, tokens))
    }

    /// Opens a connection for the component: checks the allow-list, then reuses a pooled
    /// connection the password may use or logs in anew.
    #[instrument(
        name = "keyless.postgres.open",
        skip_all,
        fields(db.host = %options.host, db.port = options.port, db.name = %options.database, db.user = %options.user)
    )]
    pub async fn open(&self, options: &ConnectOptions) -> Result<PgConnection, WitError> {
        let client = self.get(options).await?;
        Ok(PgConnection {
            client,
            key: PoolKey::from_options(options),
        })
    }
}

/// A database session held by a component instance.
pub struct PgConnection {
    client: super::pool::PooledClient,
    key: PoolKey,
}

impl PgConnection {
    /// The pool this connection belongs to.
    pub fn key(&self) -> &PoolKey {
        &self.key
    }

    /// Runs a statement and returns its columns and rows.
    #[instrument(name = "keyless.postgres.query", skip_all, fields(db.operation = %operation_name(sql), params = params.len()))]
    pub async fn query(&mut self, sql: &str, params: &[Value]) -> Result<RowSet, WitError> {
        let result = run_query(self.client.start_statement(), sql, params).await;
        self.client.finish_statement();
        result
    }

    /// Runs a statement and returns the number of rows it affected.
    #[instrument(name = "keyless.postgres.execute", skip_all, fields(db.operation = %operation_name(sql), params = params.len()))]
    pub async fn execute(&mut self, sql: &str, params: &[Value]) -> Result<u64, WitError> {
        let result = run_execute(self.client.start_statement(), sql, params).await;
        self.client.finish_statement();
        result
    }
}

async fn run_query(client: &tokio_postgres::Client, sql: &str, params: &[Value]) -> Result<RowSet, WitError> {
    let statement = client
        .prepare(sql)
        .await
        .map_err(|error| query_error_pg_to_wit(&error))?;
    let encoded = params_wit_to_pg(params, statement.params()).map_err(WitError::BadParameter)?;
    let rows = client
        .query(&statement, &param_refs(&encoded))
        .await
        .map_err(|error| query_error_pg_to_wit(&error))?;

    let columns: Vec<Column> = statement
        .columns()
        .iter()
        .map(|column| Column {
            name: column.name().to_owned(),
            type_name: column.type_().name().to_owned(),
            type_oid: column.type_().oid(),
        })
        .collect();

    let mut text_casts = TextCasts::default();
    let mut decoded_rows = Vec::with_capacity(rows.len());
    for row in &rows {
        let mut values = Vec::with_capacity(columns.len());
        for (index, column) in statement.columns().iter().enumerate() {
            let conversion_failed = |reason: String| {
                WitError::ValueConversionFailed(format!(
                    "column {} ({}): {reason}",
                    column.name(),
                    column.type_().name()
                ))
            };
            let raw: RawValue<'_> = row
                .try_get(index)
                .map_err(|error| conversion_failed(error.to_string()))?;
            let pending = value_pg_to_wit(column.type_(), raw.0).map_err(conversion_failed)?;
            let value = text_casts
                .resolve_value(client, pending)
                .await
                .map_err(conversion_failed)?;
            values.push(value);
        }
        decoded_rows.push(values);
    }

    Ok(RowSet {
        columns,
        rows: decoded_rows,
    })
}

async fn run_execute(client: &tokio_postgres::Client, sql: &str, params: &[Value]) -> Result<u64, WitError> {
    let statement = client
        .prepare(sql)
        .await
        .map_err(|error| query_error_pg_to_wit(&error))?;
    let encoded = params_wit_to_pg(params, statement.params()).map_err(WitError::BadParameter)?;
    client
        .execute(&statement, &param_refs(&encoded))
        .await
        .map_err(|error| query_error_pg_to_wit(&error))
}

fn param_refs(encoded: &[EncodedParam]) -> Vec<&(dyn tokio_postgres::types::ToSql + Sync)> {
    encoded
        .iter()
        .map(|param| param as &(dyn tokio_postgres::types::ToSql + Sync))
        .collect()
}

/// The first word of a statement, upper-cased, for span fields. Recording the whole SQL
/// text could leak a literal the component put in it.
fn operation_name(sql: &str) -> String {
    let word: String = sql
        .trim_start()
        .chars()
        .take_while(|character| character.is_ascii_alphabetic())
        .take(16)
        .collect();
    word.to_ascii_uppercase()
}

/// Renders values of types the host has no decoder for through the server's text
/// output: `SELECT format('%s', $1)` with the parameter typed as the value's type and
/// bound in binary. `format` calls the type's output function, while a `::text` cast may
/// differ (`inet::text` adds the netmask). Statements are prepared once per type and query.
#[derive(Default)]
struct TextCasts {
    statements: HashMap<u32, Statement>,
}

impl TextCasts {
    async fn resolve_value(&mut self, client: &tokio_postgres::Client, pending: PendingValue) -> Result<Value, String> {
        match pending {
            PendingValue::Scalar(scalar) => Ok(Value::Scalar(self.resolve_scalar(client, scalar).await?)),
            PendingValue::Array(elements) => {
                let mut scalars = Vec::with_capacity(elements.len());
                for element in elements {
                    scalars.push(self.resolve_scalar(client, element).await?);
                }
                Ok(Value::Array(scalars))
            }
        }
    }

    async fn resolve_scalar(
        &mut self,
        client: &tokio_postgres::Client,
        pending: PendingScalar,
    ) -> Result<Scalar, String> {
        let (ty, raw) = match pending {
            PendingScalar::Ready(scalar) => return Ok(scalar),
            PendingScalar::NeedsText { ty, raw } => (ty, raw),
        };

        let statement = self.statement_for(client, &ty).await?;
        let param = EncodedParam::raw_binary(raw);
        let row = client
            .query_one(&statement, &[&param])
            .await
            .map_err(|error| format!("the server could not render the value as text: {}", describe(&error)))?;
        let text: Option<String> = row.try_get(0).map_err(|error| error.to_string())?;
        Ok(text.map_or(Scalar::Null, Scalar::Other))
    }

    async fn statement_for(&mut self, client: &tokio_postgres::Client, ty: &Type) -> Result<Statement, String> {
        if let Some(statement) = self.statements.get(&ty.oid()) {
            return Ok(statement.clone());
        }
        let statement = client
            .prepare_typed("SELECT format('%s', $1)", std::slice::from_ref(ty))
            .await
            .map_err(|error| format!("cannot prepare the text conversion: {}", describe(&error)))?;
        self.statements.insert(ty.oid(), statement.clone());
        Ok(statement)
    }
}

fn describe(error: &tokio_postgres::Error) -> String {
    match error.as_db_error() {
        Some(db_error) => format!("{} (SQLSTATE {})", db_error.message(), db_error.code().code()),
        None => super::error::error_chain(error),
    }
}

#[cfg(test)]
mod tests {
    use super::operation_name;

    #[test]
    fn operation_name_is_first_word() {
        assert_eq!(operation_name("  select * from t"), "SELECT");
        assert_eq!(operation_name("INSERT INTO t VALUES ($1)"), "INSERT");
        assert_eq!(operation_name("(select 1)"), "");
    }
}
