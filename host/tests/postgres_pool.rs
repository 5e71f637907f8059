//! The allow-list, TLS modes and pool rules against real PostgreSQL clusters.

mod common;

use std::sync::Arc;
use std::time::Duration;

use keyless_host::bindings::wit_postgres::{Error as WitError, Scalar, SslMode, Value};
use keyless_host::postgres::PgConnection;

use common::{APP_ROLE, RotatingTokens, cluster_with_app_role, config_for, options, pools, settled_backend_count};

async fn backend_pid(connection: &mut PgConnection) -> i32 {
    let rows = connection
        .query("select pg_backend_pid()", &[])
        .await
        .expect("pid query succeeds");
    match &rows.rows[0][0] {
        Value::Scalar(Scalar::Int32(pid)) => *pid,
        other => panic!("unexpected pid value {other:?}"),
    }
}

async fn uses_tls(connection: &mut PgConnection) -> bool {
    let rows = connection
        .query("select ssl from pg_stat_ssl where pid = pg_backend_pid()", &[])
        .await
        .expect("ssl query succeeds");
    rows.rows[0][0] == Value::Scalar(Scalar::Boolean(true))
}

#[tokio::test]
async fn allow_list_rejects_before_connecting() {
    let cluster = cluster_with_app_role(false, "pw-allow").await;
    let pools = pools(&config_for(&cluster), RotatingTokens::new("pw-allow"));

    let mut elsewhere = options(&cluster, "pw-allow", SslMode::Disable);
    elsewhere.port = cluster.port() + 1;
    let error = pools
        .open(&elsewhere)
        .await
        .err()
        .expect("a port off the list is rejected");
    let WitError::HostNotAllowed(message) = error else {
        panic!("expected host-not-allowed, got {error:?}")
    };
    assert!(
        message.contains(&format!("127.0.0.1:{}", cluster.port() + 1)),
        "{message}"
    );
    assert!(message.contains("KEYLESS_ALLOWED_DB_HOSTS"), "{message}");

    let mut by_name = options(&cluster, "pw-allow", SslMode::Disable);
    by_name.host = "localhost".to_owned();
    let error = pools.open(&by_name).await.err().expect("a name is not its address");
    assert!(matches!(error, WitError::HostNotAllowed(_)), "{error:?}");

    assert_eq!(cluster.backend_count(APP_ROLE).await, 0, "no connection was attempted");
    pools
        .open(&options(&cluster, "pw-allow", SslMode::Disable))
        .await
        .expect("the listed host:port connects");
}

#[tokio::test]
async fn wrong_password_never_gets_pooled_connection() {
    let cluster = cluster_with_app_role(false, "right-password").await;
    let pools = pools(&config_for(&cluster), RotatingTokens::new("right-password"));

    let mut connection = pools
        .open(&options(&cluster, "right-password", SslMode::Disable))
        .await
        .expect("login succeeds");
    let pid = backend_pid(&mut connection).await;
    drop(connection);

    let error = pools
        .open(&options(&cluster, "wrong-password", SslMode::Disable))
        .await
        .err()
        .expect("a wrong password must log in itself and fail");
    let WitError::AuthenticationFailed(db_error) = &error else {
        panic!("expected authentication-failed, got {error:?}")
    };
    assert_eq!(db_error.code, "28P01");
    assert!(
        !format!("{error:?}").contains("wrong-password"),
        "the error must not contain the password"
    );

    let mut again = pools
        .open(&options(&cluster, "right-password", SslMode::Disable))
        .await
        .expect("login succeeds");
    assert_eq!(
        backend_pid(&mut again).await,
        pid,
        "the accepted password reuses the pooled connection"
    );
}

#[tokio::test]
async fn rotating_password_keeps_connection_count() {
    let cluster = cluster_with_app_role(false, "token-0").await;
    let tokens = RotatingTokens::new("token-0");
    let pools = pools(&config_for(&cluster), tokens.clone());

    let mut connection = pools
        .open(&options(&cluster, "token-0", SslMode::Disable))
        .await
        .expect("login succeeds");
    connection.query("select 1", &[]).await.expect("query succeeds");
    drop(connection);
    assert_eq!(settled_backend_count(&cluster, APP_ROLE, 1).await, 1);

    for round in 1..=4 {
        let token = format!("token-{round}");
        cluster.set_password(APP_ROLE, &token, None).await;
        tokens.rotate(&token);

        let mut connection = pools
            .open(&options(&cluster, &token, SslMode::Disable))
            .await
            .expect("login with the new token");
        connection.query("select 1", &[]).await.expect("query succeeds");
        drop(connection);
        assert_eq!(
            settled_backend_count(&cluster, APP_ROLE, 1).await,
            1,
            "server connections after rotation {round}"
        );
    }
}

#[tokio::test]
async fn stale_token_retries_with_refreshed_one() {
    let cluster = cluster_with_app_role(false, "fresh-token").await;
    let tokens = RotatingTokens::new("stale-token");
    tokens.rotate("fresh-token");
    let pools = pools(&config_for(&cluster), tokens.clone());

    let mut connection = pools
        .open(&options(&cluster, "stale-token", SslMode::Disable))
        .await
        .expect("the rejected token is replaced once");
    connection.query("select 1", &[]).await.expect("query succeeds");
    assert_eq!(tokens.refreshes(), 1);
    drop(connection);

    // The stale token itself never became accepted, so it still cannot reuse anything.
    cluster.set_password(APP_ROLE, "newer-token", None).await;
    tokens.rotate("newer-token");
    let error = pools
        .open(&options(&cluster, "fresh-token", SslMode::Disable))
        .await
        .err();
    assert!(
        error.is_none(),
        "fresh-token was accepted and reuses the pooled connection: {error:?}"
    );

    let error = pools
        .open(&options(&cluster, "other-token", SslMode::Disable))
        .await
        .err()
        .expect("a password the provider never issued is not replaced");
    assert!(matches!(error, WitError::AuthenticationFailed(_)), "{error:?}");
}

#[tokio::test]
async fn returned_connection_is_reset() {
    let cluster = cluster_with_app_role(false, "pw-reset").await;
    let pools = pools(&config_for(&cluster), RotatingTokens::new("pw-reset"));

    let mut connection = pools
        .open(&options(&cluster, "pw-reset", SslMode::Disable))
        .await
        .expect("login");
    connection
        .execute("create table t (n int4)", &[])
        .await
        .expect("create");
    let pid = backend_pid(&mut connection).await;
    connection.execute("begin", &[]).await.expect("begin");
    connection
        .execute("insert into t values (1)", &[])
        .await
        .expect("insert");
    connection
        .execute("set application_name = 'changed'", &[])
        .await
        .expect("set");
    drop(connection);

    let mut connection = pools
        .open(&options(&cluster, "pw-reset", SslMode::Disable))
        .await
        .expect("reuse");
    assert_eq!(backend_pid(&mut connection).await, pid, "the connection is reused");
    let rows = connection.query("select count(*) from t", &[]).await.expect("count");
    assert_eq!(
        rows.rows[0][0],
        Value::Scalar(Scalar::Int64(0)),
        "the open transaction was rolled back"
    );
    let rows = connection
        .query("select current_setting('application_name')", &[])
        .await
        .expect("setting");
    assert_eq!(
        rows.rows[0][0],
        Value::Scalar(Scalar::Text("keyless".into())),
        "session settings were reset"
    );
}

#[tokio::test]
async fn full_pool_times_out() {
    let cluster = cluster_with_app_role(false, "pw-full").await;
    let mut config = config_for(&cluster);
    config.pool_max_size = 1;
    config.pool_wait_timeout = Duration::from_secs(1);
    let pools = pools(&config, RotatingTokens::new("pw-full"));

    let held = pools
        .open(&options(&cluster, "pw-full", SslMode::Disable))
        .await
        .expect("first login");
    let error = pools
        .open(&options(&cluster, "pw-full", SslMode::Disable))
        .await
        .err()
        .expect("second waits and fails");
    let WitError::Other(message) = error else {
        panic!("expected other, got {error:?}")
    };
    assert!(message.starts_with("pool timeout"), "{message}");
    assert!(message.contains("--pool-max-size"), "{message}");

    drop(held);
    pools
        .open(&options(&cluster, "pw-full", SslMode::Disable))
        .await
        .expect("free again after the drop");
}

#[tokio::test]
async fn broken_connection_is_discarded() {
    let cluster = cluster_with_app_role(false, "pw-broken").await;
    let pools = pools(&config_for(&cluster), RotatingTokens::new("pw-broken"));

    let mut connection = pools
        .open(&options(&cluster, "pw-broken", SslMode::Disable))
        .await
        .expect("login");
    let pid = backend_pid(&mut connection).await;
    drop(connection);

    let admin = cluster.client("postgres").await;
    admin
        .execute("select pg_terminate_backend($1)", &[&pid])
        .await
        .expect("terminate");
    assert_eq!(settled_backend_count(&cluster, APP_ROLE, 0).await, 0);

    let mut connection = pools
        .open(&options(&cluster, "pw-broken", SslMode::Disable))
        .await
        .expect("login again");
    let new_pid = backend_pid(&mut connection).await;
    assert_ne!(new_pid, pid, "the terminated connection was not reused");
}

#[tokio::test]
async fn tls_modes_against_tls_cluster() {
    let cluster = cluster_with_app_role(true, "pw-tls").await;
    let tokens: Arc<RotatingTokens> = RotatingTokens::new("pw-tls");

    let mut config = config_for(&cluster);
    config.db_ca_file = Some(cluster.ca_pem_path().to_path_buf());
    let with_ca = pools(&config, tokens.clone());
    let mut connection = with_ca
        .open(&options(&cluster, "pw-tls", SslMode::VerifyFull))
        .await
        .expect("verify-full with the test CA");
    assert!(uses_tls(&mut connection).await, "verify-full encrypts");

    let mut connection = with_ca
        .open(&options(&cluster, "pw-tls", SslMode::Disable))
        .await
        .expect("disable connects");
    assert!(!uses_tls(&mut connection).await, "disable does not encrypt");

    let without_ca = pools(&config_for(&cluster), tokens.clone());
    let mut connection = without_ca
        .open(&options(&cluster, "pw-tls", SslMode::Require))
        .await
        .expect("require skips verification");
    assert!(uses_tls(&mut connection).await, "require encrypts");

    let error = without_ca
        .open(&options(&cluster, "pw-tls", SslMode::VerifyFull))
        .await
        .err()
        .expect("the test CA is not an Azure root");
    let WitError::ConnectionFailed(message) = error else {
        panic!("expected connection-failed, got {error:?}")
    };
    assert!(message.contains("UnknownIssuer"), "{message}");
}

/// A name other than `localhost` that resolves to 127.0.0.1 through /etc/hosts, such as
/// the machine's host name; the test certificate covers only `localhost` and 127.0.0.1.
fn loopback_alias() -> Option<String> {
    let hosts = std::fs::read_to_string("/etc/hosts").ok()?;
    hosts
        .lines()
        .map(|line| {
            line.split('#')
                .next()
                .unwrap_or("")
                .split_whitespace()
                .collect::<Vec<_>>()
        })
        .filter(|fields| fields.first() == Some(&"127.0.0.1"))
        .flat_map(|fields| fields.into_iter().skip(1).map(str::to_owned).collect::<Vec<_>>())
        .find(|name| name != "localhost" && !name.starts_with("localhost."))
}

#[tokio::test]
async fn verify_full_rejects_wrong_host_name() {
    let Some(alias) = loopback_alias() else {
        // NOTE: without a second loopback name in /etc/hosts this check cannot run here.
        eprintln!("skipped: /etc/hosts has no name other than localhost for 127.0.0.1");
        return;
    };
    let cluster = cluster_with_app_role(true, "pw-name").await;
    let mut config = config_for(&cluster);
    config.db_ca_file = Some(cluster.ca_pem_path().to_path_buf());
    config.allowed_db_hosts.push(format!("{alias}:{}", cluster.port()));
    let pools = pools(&config, RotatingTokens::new("pw-name"));

    let mut wrong_name = options(&cluster, "pw-name", SslMode::VerifyFull);
    wrong_name.host = alias.clone();
    let error = pools
        .open(&wrong_name)
        .await
        .err()
        .expect("the certificate does not name the alias");
    let WitError::ConnectionFailed(message) = error else {
        panic!("expected connection-failed, got {error:?}")
    };
    assert!(message.contains("not valid for name"), "{alias}: {message}");

    let mut require = options(&cluster, "pw-name", SslMode::Require);
    require.host = alias;
    pools.open(&require).await.expect("require does not check the name");
}

#[tokio::test]
async fn interrupted_statement_closes_connection() {
    let cluster = cluster_with_app_role(false, "pw-cut").await;
    let pools = pools(&config_for(&cluster), RotatingTokens::new("pw-cut"));

    let mut connection = pools
        .open(&options(&cluster, "pw-cut", SslMode::Disable))
        .await
        .expect("login");
    let pid = backend_pid(&mut connection).await;
    let cut = tokio::time::timeout(Duration::from_millis(300), connection.query("select pg_sleep(30)", &[])).await;
    assert!(cut.is_err(), "the sleep is cut off by the timeout");
    drop(connection);

    let started = std::time::Instant::now();
    let mut connection = pools
        .open(&options(&cluster, "pw-cut", SslMode::Disable))
        .await
        .expect("login again");
    assert_ne!(
        backend_pid(&mut connection).await,
        pid,
        "the busy session is not reused"
    );
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "the new connection does not wait for the sleep"
    );
}
