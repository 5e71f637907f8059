//! deploy/grant.sql run with psql against a real PostgreSQL server.
//!
//! Azure's `pgaadauth_create_principal` exists only on Azure Database for PostgreSQL, so the
//! test defines a stand-in with the same signature that creates a plain login role. Every
//! other statement of the file runs as written, and the test then logs in as the new role
//! and checks each privilege the component uses, and some it must not have.

use std::path::PathBuf;
use std::process::{Command, Output};

use keyless_devkit::postgres::{ClusterOptions, TestCluster, random_password};

const APP_ROLE: &str = "keyless-func";
const APP_DATABASE: &str = "keyless";

/// Stand-in for Azure's function: same name and argument types, creates a login role.
const CREATE_PRINCIPAL_STUB: &str = "
create function pgaadauth_create_principal(role_name text, is_admin boolean, is_mfa boolean)
returns text language plpgsql as $$
begin
    execute format('create role %I login', role_name);
    return format('Created role for %s', role_name);
end
$$;";

fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

fn run_grant_sql(cluster: &TestCluster) -> Output {
    let connection = format!(
        "host={} port={} user={} dbname=postgres sslmode=disable",
        cluster.host(),
        cluster.port(),
        cluster.superuser()
    );
    Command::new("psql")
        .arg(connection)
        .args([
            "-X",
            "-q",
            "-v",
            &format!("app_name={APP_ROLE}"),
            "-v",
            &format!("app_database={APP_DATABASE}"),
        ])
        .arg("-f")
        .arg(repo_root().join("deploy/grant.sql"))
        .env("PGPASSWORD", cluster.superuser_password())
        .output()
        .expect("failed to run psql")
}

async fn prepared_cluster() -> TestCluster {
    let cluster = TestCluster::start(ClusterOptions::default())
        .unwrap_or_else(|err| panic!("cluster failed to start: {err:#}"));
    cluster.create_database(APP_DATABASE).await;
    cluster.load_sample(APP_DATABASE).await;
    cluster
        .client("postgres")
        .await
        .batch_execute(CREATE_PRINCIPAL_STUB)
        .await
        .unwrap();
    cluster
}

#[tokio::test]
async fn grant_sql_gives_component_privileges() {
    let cluster = prepared_cluster().await;

    let output = run_grant_sql(&cluster);
    assert!(
        output.status.success(),
        "grant.sql failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );

    let password = random_password(24);
    cluster.set_password(APP_ROLE, &password, None).await;
    let app = cluster
        .try_connect_as(APP_DATABASE, APP_ROLE, &password)
        .await
        .unwrap();

    let count: i64 = app
        .query_one("select count(*) from clients", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(count, 5);

    let id: i64 = app
        .query_one(
            "insert into clients (email, name) values ('new@example.com', 'New') returning id",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    let updated = app
        .execute(
            "update clients set phone = '+1 555 0100' where id = $1",
            &[&id],
        )
        .await
        .unwrap();
    assert_eq!(updated, 1);
    let deleted = app
        .execute("delete from clients where id = $1", &[&id])
        .await
        .unwrap();
    assert_eq!(deleted, 1);

    let upserted = app
        .execute(
            "insert into client_summary (id, total, newest_created_at, refreshed_at)
             select true, count(*), max(created_at), now() from clients
             on conflict (id) do update set total = excluded.total,
                 newest_created_at = excluded.newest_created_at,
                 refreshed_at = excluded.refreshed_at",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(upserted, 1);
    let total: Option<i64> = app
        .query_one("select total from client_summary", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(total, Some(5));
}

#[tokio::test]
async fn grant_sql_withholds_other_privileges() {
    let cluster = prepared_cluster().await;
    let output = run_grant_sql(&cluster);
    assert!(
        output.status.success(),
        "grant.sql failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let password = random_password(24);
    cluster.set_password(APP_ROLE, &password, None).await;
    let app = cluster
        .try_connect_as(APP_DATABASE, APP_ROLE, &password)
        .await
        .unwrap();

    for statement in [
        "delete from client_summary",
        "truncate clients",
        "drop table clients",
        "alter table clients add column x int",
    ] {
        let error = app.batch_execute(statement).await.expect_err(statement);
        let code = error.as_db_error().map(|db| db.code().code().to_string());
        assert!(
            matches!(code.as_deref(), Some("42501")),
            "{statement} must fail with insufficient_privilege, got {code:?}"
        );
    }

    let is_superuser: bool = app
        .query_one(
            "select rolsuper from pg_roles where rolname = current_user",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert!(!is_superuser);
}

#[tokio::test]
async fn grant_sql_stops_when_role_exists() {
    let cluster = prepared_cluster().await;
    let first = run_grant_sql(&cluster);
    assert!(
        first.status.success(),
        "{}",
        String::from_utf8_lossy(&first.stderr)
    );

    let second = run_grant_sql(&cluster);

    assert!(!second.status.success());
    let stderr = String::from_utf8_lossy(&second.stderr);
    assert!(stderr.contains("already exists"), "{stderr}");
}
