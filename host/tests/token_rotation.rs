//! End-to-end token rotation: the component serves requests through `keyless_host::Host`
//! against a real PostgreSQL whose role password is always the newest token the identity
//! emulator issued, with `VALID UNTIL` at that token's expiry, as Entra ID tokens are
//! checked at login.
//!
//! The emulator issues tokens that live `KEYLESS_ROTATION_LIFETIME_SECS` seconds (default
//! 60), and the cache replaces them at half-life, so one rotation takes half the lifetime
//! and the default run takes about 5.5 × 30 s ≈ 165 s. Setting the variable to 20 gives
//! the same checks in about 55 s.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::Request;
use keyless_devkit::component::component_wasm;
use keyless_devkit::identity::{self, EmulatorConfig};
use keyless_devkit::postgres::{ClusterOptions, TestCluster, random_password};
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
    // The role starts with a password nobody knows: only issued tokens log in.
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rotation_under_load_has_no_failures() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_test_writer()
        .try_init();
    let lifetime = token_lifetime();
    let cluster = start_cluster().await;

    // Every issued token becomes the role's only password, valid until the token expires.
    // The emulator runs on its own thread like a real endpoint in another process, and its
    // hook keeps one superuser session open there and lets the server hash the password.
    let hook_cluster = cluster.clone();
    let superuser = Arc::new(tokio::sync::OnceCell::<tokio_postgres::Client>::new());
    let emulator = identity::start_in_background(EmulatorConfig {
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
    .expect("start the identity emulator");

    let header = emulator.identity_header();
    let env: EnvLookup = Arc::new(move |_| Some(header.clone()));
    let source =
        AppServiceSource::new(&emulator.app_service_endpoint(), None, env).expect("emulator URL");
    let tokens = Arc::new(CachingProvider::new(
        Arc::new(source),
        RetryPolicy::default(),
    ));

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
    let host =
        Arc::new(Host::new(config, tokens.clone()).expect("load the component into the host"));

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
