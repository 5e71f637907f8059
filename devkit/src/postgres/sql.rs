//! SQL helpers on a running [`TestCluster`], run as the superuser without TLS.
//!
//! Each helper comes in two forms: `try_*` returns an error, the plain name panics with
//! that error, which reads well in tests.

use std::path::PathBuf;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result};
use tokio_postgres::{Client, NoTls};

use super::cluster::TestCluster;

impl TestCluster {
    /// Connects to `database` as the superuser without TLS.
    ///
    /// # Panics
    ///
    /// When the connection fails.
    pub async fn client(&self, database: &str) -> Client {
        expect(self.try_client(database).await)
    }

    /// Connects to `database` as the superuser without TLS. The connection task runs on
    /// the current tokio runtime.
    pub async fn try_client(&self, database: &str) -> Result<Client> {
        self.try_connect_as(database, self.superuser(), self.superuser_password())
            .await
    }

    /// Connects to `database` as `user` with `password`, without TLS. The connection task
    /// runs on the current tokio runtime.
    pub async fn try_connect_as(
        &self,
        database: &str,
        user: &str,
        password: &str,
    ) -> Result<Client> {
        let mut config = tokio_postgres::Config::new();
        config
            .host(self.host())
            .port(self.port())
            .user(user)
            .password(password)
            .dbname(database)
            .application_name("keyless-devkit")
            .connect_timeout(Duration::from_secs(10));

        let (client, connection) = config
            .connect(NoTls)
            .await
            .map_err(describe_db_error)
            .with_context(|| {
                format!(
                    "failed to connect to database {database} on 127.0.0.1:{} as {user}",
                    self.port()
                )
            })?;
        tokio::spawn(async move {
            if let Err(err) = connection.await {
                tracing::debug!(error = %err, "connection closed with an error");
            }
        });
        Ok(client)
    }

    /// Creates database `name`.
    ///
    /// # Panics
    ///
    /// When the statement fails, for example because the database exists.
    pub async fn create_database(&self, name: &str) {
        expect(self.try_create_database(name).await)
    }

    /// Creates database `name`.
    pub async fn try_create_database(&self, name: &str) -> Result<()> {
        let client = self.try_client("postgres").await?;
        let statement: String = client
            .query_one("select format('create database %I', $1::text)", &[&name])
            .await?
            .get(0);
        client
            .batch_execute(&statement)
            .await
            .with_context(|| format!("failed to create database {name}"))?;
        Ok(())
    }

    /// Creates a login role with `password`, valid until `valid_until` (no expiry when
    /// `None`).
    ///
    /// # Panics
    ///
    /// When the statement fails, for example because the role exists.
    pub async fn create_login_role(
        &self,
        name: &str,
        password: &str,
        valid_until: Option<SystemTime>,
    ) {
        expect(
            self.try_create_login_role(name, password, valid_until)
                .await,
        )
    }

    /// Creates a login role with `password`, valid until `valid_until` (no expiry when
    /// `None`).
    pub async fn try_create_login_role(
        &self,
        name: &str,
        password: &str,
        valid_until: Option<SystemTime>,
    ) -> Result<()> {
        self.alter_password(
            "create role %I login password %L valid until %L",
            name,
            password,
            valid_until,
        )
        .await
        .with_context(|| format!("failed to create login role {name}"))
    }

    /// Replaces the password of `role` and its expiry (no expiry when `None`). Sessions that
    /// are already open stay open, as with an Entra token that expires.
    ///
    /// # Panics
    ///
    /// When the statement fails, for example because the role does not exist.
    pub async fn set_password(&self, role: &str, password: &str, valid_until: Option<SystemTime>) {
        expect(self.try_set_password(role, password, valid_until).await)
    }

    /// Replaces the password of `role` and its expiry (no expiry when `None`).
    pub async fn try_set_password(
        &self,
        role: &str,
        password: &str,
        valid_until: Option<SystemTime>,
    ) -> Result<()> {
        self.alter_password(
            "alter role %I password %L valid until %L",
            role,
            password,
            valid_until,
        )
        .await
        .with_context(|| format!("failed to set the password of role {role}"))
    }

    /// Runs `sql_text` (any number of statements) in `database` as the superuser.
    ///
    /// # Panics
    ///
    /// When a statement fails.
    pub async fn apply_schema(&self, database: &str, sql_text: &str) {
        expect(self.try_apply_schema(database, sql_text).await)
    }

    /// Runs `sql_text` (any number of statements) in `database` as the superuser.
    pub async fn try_apply_schema(&self, database: &str, sql_text: &str) -> Result<()> {
        let client = self.try_client(database).await?;
        client
            .batch_execute(sql_text)
            .await
            .map_err(describe_db_error)
            .with_context(|| format!("failed to apply the schema to database {database}"))
    }

    /// Returns how many sessions of `role` the server has (rows in `pg_stat_activity`).
    ///
    /// # Panics
    ///
    /// When the query fails.
    pub async fn backend_count(&self, role: &str) -> i64 {
        expect(self.try_backend_count(role).await)
    }

    /// Returns how many sessions of `role` the server has (rows in `pg_stat_activity`).
    pub async fn try_backend_count(&self, role: &str) -> Result<i64> {
        let client = self.try_client("postgres").await?;
        let row = client
            .query_one(
                "select count(*) from pg_stat_activity where usename = $1",
                &[&role],
            )
            .await
            .with_context(|| format!("failed to count the sessions of role {role}"))?;
        Ok(row.get(0))
    }

    /// Applies the repository's `schema.sql` (tables and sample rows) to `database`.
    ///
    /// # Panics
    ///
    /// When the file cannot be read or a statement fails.
    pub async fn load_sample(&self, database: &str) {
        expect(self.try_load_sample(database).await)
    }

    /// Applies the repository's `schema.sql` (tables and sample rows) to `database`.
    pub async fn try_load_sample(&self, database: &str) -> Result<()> {
        let path = schema_path();
        let sql_text = std::fs::read_to_string(&path)
            .with_context(|| format!("failed to read {}", path.display()))?;
        self.try_apply_schema(database, &sql_text).await
    }

    /// Runs a role statement built by `format(template, role, verifier, expiry)`.
    ///
    /// The password is sent as a SCRAM-SHA-256 verifier computed here, so the cleartext
    /// never reaches the server, its log or `pg_stat_activity`.
    async fn alter_password(
        &self,
        template: &str,
        role: &str,
        password: &str,
        valid_until: Option<SystemTime>,
    ) -> Result<()> {
        let verifier = postgres_protocol::password::scram_sha_256(password.as_bytes());
        let client = self.try_client("postgres").await?;

        // `format` quotes the name and literals on the server, and `to_timestamp` turns the
        // Unix time into the `timestamptz` text that VALID UNTIL parses back.
        let statement: String = match valid_until {
            Some(instant) => {
                let seconds = unix_seconds(instant);
                client
                    .query_one(
                        "select format($1::text, $2::text, $3::text, to_timestamp($4::float8))",
                        &[&template, &role, &verifier, &seconds],
                    )
                    .await?
                    .get(0)
            }
            None => client
                .query_one(
                    "select format($1::text, $2::text, $3::text, 'infinity')",
                    &[&template, &role, &verifier],
                )
                .await?
                .get(0),
        };

        client
            .batch_execute(&statement)
            .await
            .map_err(describe_db_error)?;
        Ok(())
    }
}

/// Returns the path of `schema.sql` at the repository root.
pub fn schema_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join("schema.sql")
}

/// Turns a time into Unix seconds with microseconds; times before 1970 become negative.
fn unix_seconds(instant: SystemTime) -> f64 {
    match instant.duration_since(UNIX_EPOCH) {
        Ok(after) => after.as_secs_f64(),
        Err(before) => -before.duration().as_secs_f64(),
    }
}

/// Keeps the server's message, SQLSTATE, detail and hint, which the `Display` of
/// `tokio_postgres::Error` alone shortens to "db error".
pub(crate) fn describe_db_error(err: tokio_postgres::Error) -> anyhow::Error {
    match err.as_db_error() {
        Some(db) => {
            let mut text = format!(
                "{}: {} (SQLSTATE {})",
                db.severity(),
                db.message(),
                db.code().code()
            );
            if let Some(detail) = db.detail() {
                text.push_str(&format!("; detail: {detail}"));
            }
            if let Some(hint) = db.hint() {
                text.push_str(&format!("; hint: {hint}"));
            }
            anyhow::Error::new(err).context(text)
        }
        None => anyhow::Error::new(err),
    }
}

fn expect<T>(result: Result<T>) -> T {
    match result {
        Ok(value) => value,
        Err(err) => panic!("{err:#}"),
    }
}
