//! Shared setup for the host's integration tests: a real PostgreSQL cluster, a login role
//! and pools built the way the handler builds them.

#![allow(dead_code, reason = "each test binary uses a different part")]

pub mod handler;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use keyless_devkit::postgres::{ClusterOptions, TestCluster};
use keyless_host::HostConfig;
use keyless_host::bindings::wit_postgres::{ConnectOptions, SslMode};
use keyless_host::postgres::PgPools;
use keyless_host::secret::Secret;
use keyless_host::token::{AccessToken, TokenError, TokenFuture, TokenProvider};

/// Role the tests log in as.
pub const APP_ROLE: &str = "app";

/// Database the tests use.
pub const APP_DATABASE: &str = "appdb";

/// Starts a cluster with `app` owning `appdb`, logging in with `password`.
pub async fn cluster_with_app_role(tls: bool, password: &str) -> TestCluster {
    let cluster = tokio::task::spawn_blocking(move || {
        TestCluster::start(ClusterOptions {
            tls,
            ..Default::default()
        })
    })
    .await
    .expect("the start task finishes")
    .expect("the test cluster starts");

    cluster.create_login_role(APP_ROLE, password, None).await;
    cluster.create_database(APP_DATABASE).await;
    let admin = cluster.client(APP_DATABASE).await;
    admin
        .batch_execute(&format!(
            "grant all on schema public to {APP_ROLE}; alter database {APP_DATABASE} owner to {APP_ROLE}"
        ))
        .await
        .expect("grants apply");
    cluster
}

/// Host settings that allow the cluster and nothing else.
pub fn config_for(cluster: &TestCluster) -> HostConfig {
    HostConfig {
        allowed_db_hosts: vec![format!("{}:{}", cluster.host(), cluster.port())],
        pool_wait_timeout: Duration::from_secs(2),
        ..HostConfig::default()
    }
}

/// Connect options for `app` on the cluster.
pub fn options(cluster: &TestCluster, password: &str, ssl_mode: SslMode) -> ConnectOptions {
    ConnectOptions {
        host: cluster.host().to_owned(),
        port: cluster.port(),
        database: APP_DATABASE.to_owned(),
        user: APP_ROLE.to_owned(),
        password: password.to_owned(),
        ssl_mode,
    }
}

/// Pools for `config` with `tokens` as the token provider.
pub fn pools(config: &HostConfig, tokens: Arc<dyn TokenProvider>) -> PgPools {
    PgPools::from_config(config, tokens).expect("pools build")
}

/// A token provider with a replaceable current token. `refresh_rejected` returns the
/// current token when the rejected one is an earlier token of this provider, the way a
/// caching provider hands out a fresh token after the database rejected a stale one, and
/// `None` for passwords it never issued.
#[derive(Default)]
pub struct RotatingTokens {
    current: Mutex<String>,
    issued: Mutex<Vec<String>>,
    refreshes: Mutex<u32>,
}

impl RotatingTokens {
    /// Creates a provider whose current token is `token`.
    pub fn new(token: &str) -> Arc<Self> {
        Arc::new(Self {
            current: Mutex::new(token.to_owned()),
            issued: Mutex::new(vec![token.to_owned()]),
            refreshes: Mutex::new(0),
        })
    }

    /// Replaces the current token.
    pub fn rotate(&self, token: &str) {
        *self.current.lock().unwrap() = token.to_owned();
        self.issued.lock().unwrap().push(token.to_owned());
    }

    /// How often `refresh_rejected` returned a token.
    pub fn refreshes(&self) -> u32 {
        *self.refreshes.lock().unwrap()
    }

    fn current(&self) -> AccessToken {
        AccessToken {
            token: Secret::new(self.current.lock().unwrap().clone()),
            expires_on: u64::from(u32::MAX),
        }
    }
}

impl TokenProvider for RotatingTokens {
    fn get_token<'a>(&'a self, _scopes: &'a [String]) -> TokenFuture<'a, Result<AccessToken, TokenError>> {
        Box::pin(async move { Ok(self.current()) })
    }

    fn refresh_rejected<'a>(&'a self, password: &'a Secret) -> TokenFuture<'a, Option<AccessToken>> {
        Box::pin(async move {
            let current = self.current();
            let issued = self
                .issued
                .lock()
                .unwrap()
                .iter()
                .any(|token| token == password.expose());
            if !issued || current.token == *password {
                return None;
            }
            *self.refreshes.lock().unwrap() += 1;
            Some(current)
        })
    }

    fn describe(&self) -> String {
        "rotating test tokens".to_owned()
    }
}

/// Polls `backend_count` until it equals `expected` or 5 seconds pass; returns the last
/// count. Backends of closed connections exit asynchronously on the server.
pub async fn settled_backend_count(cluster: &TestCluster, role: &str, expected: i64) -> i64 {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        let count = cluster.backend_count(role).await;
        if count == expected || tokio::time::Instant::now() > deadline {
            return count;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
