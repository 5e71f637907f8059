//! Token rotation end to end: the component serves requests through `keyless_host::Host`
//! against a real PostgreSQL. The role's password is always the newest token the identity
//! emulator issued, with `VALID UNTIL` at that token's expiry, because Entra ID tokens are
//! checked at login only.
//!
//! `rotation_under_load_has_no_failures` uses tokens that live
//! `KEYLESS_ROTATION_LIFETIME_SECS` seconds (default 60). The cache replaces them at
//! half-life, so one rotation takes half the lifetime and five rotations take about
//! 150 s (152 s measured on a 2-core machine). Setting the variable to 12 runs the same
//! checks in about 32 s.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::Request;
use keyless_devkit::component::component_wasm;
use keyless_devkit::identity::{self, EmulatorConfig, EmulatorHandle};
use keyless_devkit::postgres::{ClusterOptions, TestCluster, random_password};
use keyless_host::token::TokenProvider;
use keyless_host::token::app_service::AppServiceSource;
use keyless_host::token::cache::CachingProvider;
use keyless_host::token::retry::RetryPolicy;
use keyless_host::token::source::EnvLookup;
use keyless_host::{Host, HostConfig};

const DATABASE: &str = "keyless";
const ROLE: &str = "keyless_app";
const GRANTS: &str = "grant select, insert, update, delete on clients to keyless_app; \
                      grant select, insert, update on client_summary to keyless_app;";

/// Rotations the test waits for.
const ROTATIONS: usize = 5;

/// Concurrent request loops; more than the pool holds, so requests queue for connections.
const WORKERS: usize = 6;

const POOL_MAX_SIZE: usize = 4;

fn token_lifetime() -> Duration {
    let seconds = std::env::var("KEYLESS_ROTATION_LIFETIME_SECS")
        .ok()
        .map(|value| {
            value
                .parse::<u64>()
                .expect("KEYLESS_ROTATION_LIFETIME_SECS must be whole seconds")
        })
        .unwrap_or(60);
    assert!(
        seconds >= 8,
        "KEYLESS_ROTATION_LIFETIME_SECS must be at least 8"
    );
    Duration::from_secs(seconds)
}

async fn start_cluster() -> Arc<TestCluster> {
    let cluster = tokio::task::spawn_blocking(|| TestCluster::start(ClusterOptions::default()))
        .await
        .expect("cluster start task")
        .expect("start PostgreSQL");
    cluster.create_database(DATABASE).await;
    cluster.load_sample(DATABASE).await;
    // The role starts with a random password that no test uses, so only issued tokens log in.
    cluster
        .create_login_role(ROLE, &random_password(32), None)
        .await;
    cluster
        .client(DATABASE)
        .await
        .batch_execute(GRANTS)
        .await
        .expect("grant privileges");
    Arc::new(cluster)
}

/// Starts an emulator on its own thread that issues `lifetime` tokens and makes each one
/// the role's only password, valid until the token expires.
///
/// The thread plays the part of a real endpoint in another process. The hook keeps one
/// superuser session open there and sends the password in the clear, so the server hashes
/// it and the emulator's reply is not delayed by client-side SCRAM hashing.
fn start_password_emulator(cluster: &Arc<TestCluster>, lifetime: Duration) -> EmulatorHandle {
    let hook_cluster = cluster.clone();
    let superuser = Arc::new(tokio::sync::OnceCell::<tokio_postgres::Client>::new());
    identity::start_in_background(EmulatorConfig {
        token_lifetime: lifetime,
        on_issue: Some(identity::hook(move |token, expires_on| {
            let (cluster, superuser) = (hook_cluster.clone(), superuser.clone());
            async move {
                let client = superuser
                    .get_or_try_init(|| cluster.try_client("postgres"))
                    .await
                    .map_err(|error| format!("{error:#}"))?;
                let valid_until = chrono::DateTime::<chrono::Utc>::from(expires_on)
                    .format("%Y-%m-%d %H:%M:%S+00");
                let statement =
                    format!("alter role {ROLE} password '{token}' valid until '{valid_until}'");
                client
                    .batch_execute(&statement)
                    .await
                    .map_err(|error| format!("setting the password failed: {error}"))
            }
        })),
        ..EmulatorConfig::default()
    })
    .expect("start the identity emulator")
}

/// Returns a caching App Service provider for `emulator` with the default retry policy.
fn app_service_tokens(emulator: &EmulatorHandle) -> Arc<CachingProvider> {
    let header = emulator.identity_header();
    let env: EnvLookup = Arc::new(move |_| Some(header.clone()));
    let source =
        AppServiceSource::new(&emulator.app_service_endpoint(), None, env).expect("emulator URL");
    Arc::new(CachingProvider::new(
        Arc::new(source),
        RetryPolicy::default(),
    ))
}

/// Loads the component into a host that connects to `cluster` as the role.
async fn start_host(cluster: &TestCluster, tokens: Arc<CachingProvider>) -> Arc<Host> {
    let wasm = tokio::task::spawn_blocking(component_wasm)
        .await
        .expect("component build task");
    let config = HostConfig {
        component: wasm,
        component_env: vec![
            ("PGHOST".into(), cluster.host().into()),
            ("PGPORT".into(), cluster.port().to_string()),
            ("PGDATABASE".into(), DATABASE.into()),
            ("PGUSER".into(), ROLE.into()),
            ("PGSSLMODE".into(), "disable".into()),
        ],
        allowed_db_hosts: vec![format!("{}:{}", cluster.host(), cluster.port())],
        pool_max_size: POOL_MAX_SIZE,
        ..HostConfig::default()
    };
    Arc::new(Host::new(config, tokens).expect("load the component into the host"))
}

/// Logs in as the role with `password` and runs one query.
async fn login(cluster: &TestCluster, password: &str) -> Result<(), tokio_postgres::Error> {
    let (client, connection) = tokio_postgres::Config::new()
        .host(cluster.host())
        .port(cluster.port())
        .dbname(DATABASE)
        .user(ROLE)
        .password(password)
        .connect(tokio_postgres::NoTls)
        .await?;
    tokio::spawn(connection);
    client.simple_query("select 1").await.map(|_| ())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expired_token_rejected_at_login() {
    let cluster = start_cluster().await;
    let emulator = start_password_emulator(&cluster, Duration::from_secs(3));
    let tokens = app_service_tokens(&emulator);
    let scopes = vec!["https://ossrdbms-aad.database.windows.net/.default".to_owned()];

    let token = tokens.get_token(&scopes).await.expect("a token");
    let fresh = login(&cluster, token.token.expose()).await;
    let expiry = std::time::UNIX_EPOCH + Duration::from_secs(token.expires_on);
    let wait = expiry
        .duration_since(std::time::SystemTime::now())
        .unwrap_or_default();
    tokio::time::sleep(wait + Duration::from_millis(1500)).await;
    let expired = login(&cluster, token.token.expose()).await;

    assert!(fresh.is_ok(), "{fresh:?}");
    let error = expired.expect_err("an expired token still logged in");
    let code = error.code().expect("a server error with a SQLSTATE");
    assert_eq!(code, &tokio_postgres::error::SqlState::INVALID_PASSWORD);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rejected_token_replaced_through_host() {
    let cluster = start_cluster().await;
    let emulator = start_password_emulator(&cluster, Duration::from_secs(3600));
    let tokens = app_service_tokens(&emulator);
    let scopes = vec!["https://ossrdbms-aad.database.windows.net/.default".to_owned()];
    let cached = tokens.get_token(&scopes).await.expect("a token");

    // Another client of the same identity gets a token, which replaces the role's
    // password, so the cached token no longer logs in.
    app_service_tokens(&emulator)
        .get_token(&scopes)
        .await
        .expect("a second token");
    let host = start_host(&cluster, tokens.clone()).await;
    let request = Request::get("/api/clients?limit=1")
        .header("host", "localhost")
        .body(Bytes::new())
        .unwrap();
    let response = host.handle(request).await;

    let body = String::from_utf8_lossy(response.body()).into_owned();
    assert_eq!(response.status(), 200, "{body}");
    assert_eq!(emulator.calls(), 3);
    let current = tokens.get_token(&scopes).await.expect("a token");
    assert_ne!(current.token, cached.token);
    assert_eq!(current.token.expose(), emulator.issued()[2].token);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rotation_under_load_has_no_failures() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_test_writer()
        .try_init();
    let lifetime = token_lifetime();
    let cluster = start_cluster().await;

    let emulator = start_password_emulator(&cluster, lifetime);
    let tokens = app_service_tokens(&emulator);
    let host = start_host(&cluster, tokens.clone()).await;

    // Watch the server's session count for the role while the requests run.
    let stop = Arc::new(AtomicBool::new(false));
    let max_backends = Arc::new(AtomicI64::new(0));
    let monitor = {
        let (cluster, stop, max_backends) = (cluster.clone(), stop.clone(), max_backends.clone());
        tokio::spawn(async move {
            while !stop.load(Ordering::SeqCst) {
                let count = cluster.backend_count(ROLE).await;
                max_backends.fetch_max(count, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        })
    };

    let requests = Arc::new(AtomicUsize::new(0));
    let failures = Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let workers: Vec<_> = (0..WORKERS)
        .map(|worker| {
            let (host, stop, requests, failures) = (
                host.clone(),
                stop.clone(),
                requests.clone(),
                failures.clone(),
            );
            tokio::spawn(async move {
                while !stop.load(Ordering::SeqCst) {
                    let path = if worker % 2 == 0 {
                        "/api/clients?limit=5"
                    } else {
                        "/api/health"
                    };
                    let request = Request::get(path)
                        .header("host", "localhost")
                        .body(Bytes::new())
                        .unwrap();
                    let response = host.handle(request).await;
                    requests.fetch_add(1, Ordering::SeqCst);
                    if response.status() != 200 {
                        let body = String::from_utf8_lossy(response.body()).into_owned();
                        failures
                            .lock()
                            .unwrap()
                            .push(format!("{path}: {} {body}", response.status()));
                    }
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
            })
        })
        .collect();

    // Run until the emulator has issued the first token plus ROTATIONS replacements, and a
    // little longer so requests also run on the last token.
    let started = Instant::now();
    let give_up = lifetime / 2 * (ROTATIONS as u32 + 3);
    while emulator.issued().len() < ROTATIONS + 1 && started.elapsed() < give_up {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    stop.store(true, Ordering::SeqCst);
    for worker in workers {
        worker.await.unwrap();
    }
    monitor.await.unwrap();

    let elapsed = started.elapsed();
    let issued = emulator.issued().len();
    let total = requests.load(Ordering::SeqCst);
    let failures = failures.lock().unwrap().clone();
    eprintln!(
        "token rotation: lifetime {} s, {issued} tokens issued, {} endpoint calls, {total} requests in {:.1} s, {} failed, max {} sessions for {ROLE}",
        lifetime.as_secs(),
        emulator.calls(),
        elapsed.as_secs_f64(),
        failures.len(),
        max_backends.load(Ordering::SeqCst),
    );

    assert!(
        issued > ROTATIONS,
        "only {issued} tokens were issued in {elapsed:?}"
    );
    assert!(
        failures.is_empty(),
        "{} of {total} requests failed, first: {}",
        failures.len(),
        failures[0]
    );
    assert_eq!(
        emulator.calls(),
        issued,
        "every endpoint call issued a token"
    );
    // The first token, then one per half-lifetime, plus one for a boundary crossed while
    // the loop drained.
    let expected_max =
        1 + (elapsed.as_secs_f64() / (lifetime.as_secs_f64() / 2.0)).floor() as usize + 1;
    assert!(
        issued <= expected_max,
        "{issued} tokens in {elapsed:?} is more than one per rotation"
    );
    assert!(total > 100, "only {total} requests ran");
    let max_backends = max_backends.load(Ordering::SeqCst);
    assert!(max_backends >= 1, "no session of {ROLE} was ever seen");
    assert!(
        max_backends <= POOL_MAX_SIZE as i64,
        "{max_backends} sessions for a pool of {POOL_MAX_SIZE}"
    );
}
