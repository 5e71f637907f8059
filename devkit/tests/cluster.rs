//! Tests of the throwaway PostgreSQL cluster against a real server.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use keyless_devkit::postgres::{ClusterOptions, TestCluster};
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;
use tokio_postgres::config::SslMode;
use tokio_postgres::error::SqlState;
use tokio_postgres::{Client, NoTls};

fn start(tls: bool) -> TestCluster {
    keyless_devkit::logs::capture();
    TestCluster::start(ClusterOptions {
        tls,
        ..Default::default()
    })
    .unwrap_or_else(|err| panic!("cluster failed to start: {err:#}"))
}

fn login_config(cluster: &TestCluster, user: &str, password: &str) -> tokio_postgres::Config {
    let mut config = tokio_postgres::Config::new();
    config
        .host(cluster.host())
        .port(cluster.port())
        .user(user)
        .password(password)
        .dbname("postgres")
        .connect_timeout(Duration::from_secs(10));
    config
}

async fn connect_plain(
    cluster: &TestCluster,
    user: &str,
    password: &str,
) -> Result<Client, tokio_postgres::Error> {
    let (client, connection) = login_config(cluster, user, password).connect(NoTls).await?;
    tokio::spawn(connection);
    Ok(client)
}

fn rustls_trusting(ca_pem: &std::path::Path) -> tokio_postgres_rustls::MakeRustlsConnect {
    let mut roots = rustls::RootCertStore::empty();
    let ca = CertificateDer::from_pem_file(ca_pem).expect("the CA file is PEM");
    roots.add(ca).expect("the test CA is a valid trust anchor");
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("ring supports the default protocol versions")
        .with_root_certificates(roots)
        .with_no_client_auth();
    tokio_postgres_rustls::MakeRustlsConnect::new(config)
}

fn sqlstate(err: &tokio_postgres::Error) -> Option<&SqlState> {
    err.as_db_error().map(|db| db.code())
}

#[tokio::test]
async fn scram_login_accepts_right_password() {
    let cluster = start(false);
    cluster
        .create_login_role("app_user", "correct horse", None)
        .await;

    let client = connect_plain(&cluster, "app_user", "correct horse")
        .await
        .expect("login with the right password succeeds");
    let row = client
        .query_one("select current_user::text", &[])
        .await
        .unwrap();
    let user: String = row.get(0);
    assert_eq!(user, "app_user");

    let admin = cluster.client("postgres").await;
    let row = admin
        .query_one(
            "select rolpassword like 'SCRAM-SHA-256$%' from pg_authid where rolname = 'app_user'",
            &[],
        )
        .await
        .unwrap();
    let is_scram: bool = row.get(0);
    assert!(is_scram, "the stored password is a SCRAM-SHA-256 verifier");
}

#[tokio::test]
async fn scram_login_rejects_wrong_password() {
    let cluster = start(false);
    cluster
        .create_login_role("app_user", "correct horse", None)
        .await;

    let err = connect_plain(&cluster, "app_user", "wrong horse")
        .await
        .expect_err("login with a wrong password fails");
    assert_eq!(
        sqlstate(&err),
        Some(&SqlState::INVALID_PASSWORD),
        "error: {err:?}"
    );
}

#[tokio::test]
async fn superuser_needs_its_password() {
    let cluster = start(false);

    let client = connect_plain(&cluster, cluster.superuser(), cluster.superuser_password())
        .await
        .expect("the superuser logs in with its password");
    let row = client
        .query_one("show password_encryption", &[])
        .await
        .unwrap();
    let encryption: String = row.get(0);
    assert_eq!(encryption, "scram-sha-256");

    let err = connect_plain(&cluster, cluster.superuser(), "not the password")
        .await
        .expect_err("the superuser cannot log in with a wrong password");
    assert_eq!(
        sqlstate(&err),
        Some(&SqlState::INVALID_PASSWORD),
        "error: {err:?}"
    );
}

#[tokio::test]
async fn valid_until_in_past_rejects_login() {
    let cluster = start(false);
    let an_hour_ago = SystemTime::now() - Duration::from_secs(3600);
    cluster
        .create_login_role("expired_user", "token-1", Some(an_hour_ago))
        .await;

    let err = connect_plain(&cluster, "expired_user", "token-1")
        .await
        .expect_err("login after VALID UNTIL fails");
    assert_eq!(
        sqlstate(&err),
        Some(&SqlState::INVALID_PASSWORD),
        "error: {err:?}"
    );

    let in_an_hour = SystemTime::now() + Duration::from_secs(3600);
    cluster
        .set_password("expired_user", "token-2", Some(in_an_hour))
        .await;
    let client = connect_plain(&cluster, "expired_user", "token-2")
        .await
        .expect("login with the renewed password succeeds");
    let row = client.query_one("select 1::int4", &[]).await.unwrap();
    assert_eq!(row.get::<_, i32>(0), 1);

    let err = connect_plain(&cluster, "expired_user", "token-1")
        .await
        .expect_err("the replaced password no longer works");
    assert_eq!(
        sqlstate(&err),
        Some(&SqlState::INVALID_PASSWORD),
        "error: {err:?}"
    );
}

#[tokio::test]
async fn valid_until_is_stored_to_the_second() {
    let cluster = start(false);
    let expiry = SystemTime::UNIX_EPOCH + Duration::from_secs(4_102_444_800); // 2100-01-01
    cluster
        .create_login_role("dated_user", "pw", Some(expiry))
        .await;

    let admin = cluster.client("postgres").await;
    let row = admin
        .query_one(
            "select extract(epoch from rolvaliduntil)::int8 from pg_roles where rolname = 'dated_user'",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(row.get::<_, i64>(0), 4_102_444_800);
}

#[tokio::test]
async fn tls_cluster_accepts_verified_connection() {
    let cluster = start(true);
    cluster
        .create_login_role("tls_user", "secret words", None)
        .await;

    let mut config = login_config(&cluster, "tls_user", "secret words");
    config.ssl_mode(SslMode::Require);
    let (client, connection) = config
        .connect(rustls_trusting(cluster.ca_pem_path()))
        .await
        .expect("a TLS connection verified against the test CA succeeds");
    tokio::spawn(connection);

    let row = client
        .query_one(
            "select ssl from pg_stat_ssl where pid = pg_backend_pid()",
            &[],
        )
        .await
        .unwrap();
    let uses_tls: bool = row.get(0);
    assert!(uses_tls, "pg_stat_ssl reports the session as TLS");
}

#[tokio::test]
async fn tls_cluster_rejects_unknown_ca() {
    let cluster = start(true);
    let other = start(true);
    cluster
        .create_login_role("tls_user", "secret words", None)
        .await;

    let mut config = login_config(&cluster, "tls_user", "secret words");
    config.ssl_mode(SslMode::Require);
    let result = config.connect(rustls_trusting(other.ca_pem_path())).await;
    let err = result
        .err()
        .expect("a server certificate from another CA is rejected");
    assert!(
        format!("{err:?}").contains("InvalidCertificate(UnknownIssuer)"),
        "unexpected error: {err:?}"
    );
}

#[tokio::test]
async fn drop_stops_server_and_removes_directory() {
    let cluster = start(true);
    let dir = cluster.dir().to_path_buf();
    let postmaster = postmaster_pid(&dir);
    assert!(is_running(postmaster));

    drop(cluster);

    assert!(!dir.exists(), "{} still exists after drop", dir.display());
    assert!(
        !is_running(postmaster),
        "the postmaster {postmaster} still runs"
    );
}

/// Reads the postmaster's process id from `postmaster.pid` in the cluster directory.
fn postmaster_pid(dir: &std::path::Path) -> u32 {
    let text = std::fs::read_to_string(dir.join("data").join("postmaster.pid"))
        .expect("a running cluster has postmaster.pid");
    text.lines()
        .next()
        .and_then(|line| line.trim().parse().ok())
        .expect("the first line of postmaster.pid is the process id")
}

/// Checks whether a process exists and is not a zombie awaiting its parent's wait. A port
/// check would not do: a parallel test may already listen on the freed port.
fn is_running(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        // The state follows the parenthesised command name, which may contain spaces.
        Ok(stat) => stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.trim_start().chars().next())
            .is_some_and(|state| state != 'Z' && state != 'X'),
        Err(_) => false,
    }
}

#[tokio::test]
async fn backend_count_counts_role_sessions() {
    let cluster = start(false);
    cluster.create_login_role("counted", "pw", None).await;
    assert_eq!(cluster.backend_count("counted").await, 0);

    let first = connect_plain(&cluster, "counted", "pw").await.unwrap();
    let second = connect_plain(&cluster, "counted", "pw").await.unwrap();
    assert_eq!(cluster.backend_count("counted").await, 2);

    drop(first);
    drop(second);
}

#[tokio::test]
async fn create_database_and_apply_schema() {
    let cluster = start(false);
    cluster.create_database("Mixed Case").await;
    cluster
        .apply_schema(
            "Mixed Case",
            "create table t (x int); insert into t values (7);",
        )
        .await;

    let client = cluster.client("Mixed Case").await;
    let row = client.query_one("select x from t", &[]).await.unwrap();
    assert_eq!(row.get::<_, i32>(0), 7);
}

#[tokio::test]
async fn apply_schema_error_names_sqlstate() {
    let cluster = start(false);
    let err = cluster
        .try_apply_schema("postgres", "select * from no_such_table")
        .await
        .expect_err("a bad statement fails");
    let text = format!("{err:#}");
    assert!(text.contains("42P01"), "error lacks the SQLSTATE: {text}");
    assert!(
        text.contains("no_such_table"),
        "error lacks the server message: {text}"
    );
}

#[test]
fn parallel_clusters_get_distinct_ports() {
    let handles: Vec<_> = (0..3)
        .map(|_| std::thread::spawn(|| start(false)))
        .collect();
    let clusters: Vec<TestCluster> = handles.into_iter().map(|h| h.join().unwrap()).collect();

    let mut ports: Vec<u16> = clusters.iter().map(|c| c.port()).collect();
    ports.sort_unstable();
    ports.dedup();
    assert_eq!(ports.len(), 3, "ports: {ports:?}");

    let dirs: Vec<_> = clusters.iter().map(|c| c.dir().to_path_buf()).collect();
    assert_ne!(dirs[0], dirs[1]);
    assert_ne!(dirs[1], dirs[2]);
}

#[test]
fn debug_output_hides_superuser_password() {
    let cluster = start(false);
    let text = format!("{cluster:?}");
    assert!(!text.contains(cluster.superuser_password()), "{text}");
    assert!(text.contains("<redacted>"), "{text}");
}

/// Set in the child process of `killed_owner_leaves_nothing_behind`.
const HOLDER_ENV: &str = "KEYLESS_DEVKIT_CLUSTER_HOLDER";

/// Child side of `killed_owner_leaves_nothing_behind`: starts a cluster, prints its
/// directory, and waits to be killed. Does nothing in a normal test run.
#[test]
#[ignore = "run only as the child of killed_owner_leaves_nothing_behind"]
fn cluster_holder_child() {
    if std::env::var_os(HOLDER_ENV).is_none() {
        return;
    }
    let cluster = start(false);
    println!("HOLDER {}", cluster.dir().display());
    if std::env::var_os(HOLDER_ENV).is_some_and(|mode| mode == "drop-and-exit") {
        // Drop on another thread and exit at once, as a test binary does when a background
        // thread still holds the last reference to a cluster.
        std::thread::spawn(move || drop(cluster));
        std::thread::sleep(Duration::from_millis(20));
        std::process::exit(0);
    }
    std::thread::sleep(Duration::from_secs(300));
}

/// Runs `cluster_holder_child` in a child process in `mode` and returns the child and the
/// cluster directory it printed.
fn spawn_holder(mode: &str) -> (std::process::Child, std::path::PathBuf) {
    use std::io::BufRead;

    let mut child = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "cluster_holder_child",
            "--ignored",
            "--nocapture",
        ])
        .env(HOLDER_ENV, mode)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();

    let stdout = std::io::BufReader::new(child.stdout.take().unwrap());
    let line = stdout
        .lines()
        .map(|line| line.unwrap())
        .find(|line| line.starts_with("HOLDER "))
        .expect("the child prints the cluster's directory");
    let dir = std::path::PathBuf::from(line.trim_start_matches("HOLDER "));
    (child, dir)
}

/// Waits up to 30 seconds for `dir` to disappear.
fn wait_for_removal(dir: &std::path::Path) {
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while dir.exists() && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn killed_owner_leaves_nothing_behind() {
    let (mut child, dir) = spawn_holder("wait");
    let postmaster = postmaster_pid(&dir);
    assert!(is_running(postmaster));

    child.kill().unwrap();
    child.wait().unwrap();

    wait_for_removal(&dir);
    assert!(
        !dir.exists(),
        "{} still exists after its owner was killed",
        dir.display()
    );
    assert!(
        !is_running(postmaster),
        "the postmaster {postmaster} outlived its owner"
    );
}

#[test]
fn exit_during_drop_leaves_nothing_behind() {
    let (mut child, dir) = spawn_holder("drop-and-exit");
    child.wait().unwrap();

    wait_for_removal(&dir);
    assert!(
        !dir.exists(),
        "{} still exists after its owner exited while dropping it",
        dir.display()
    );
}
