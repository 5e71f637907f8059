//! Tests of the repository's `schema.sql` against a real server.

use keyless_devkit::postgres::{ClusterOptions, TestCluster};

fn start() -> TestCluster {
    TestCluster::start(ClusterOptions::default())
        .unwrap_or_else(|err| panic!("cluster failed to start: {err:#}"))
}

#[tokio::test]
async fn schema_loads_sample_clients() {
    let cluster = start();
    cluster.load_sample("postgres").await;

    let client = cluster.client("postgres").await;
    let row = client
        .query_one("select count(*), count(distinct email) from clients", &[])
        .await
        .unwrap();
    assert_eq!(row.get::<_, i64>(0), 5);
    assert_eq!(row.get::<_, i64>(1), 5);

    let row = client
        .query_one(
            "select attributes ->> 'tier' from clients where email = 'ana.souza@example.com'",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(row.get::<_, Option<String>>(0).as_deref(), Some("gold"));

    let row = client
        .query_one(
            "select total, newest_created_at is not null from client_summary",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(row.get::<_, Option<i64>>(0), Some(5));
    assert!(row.get::<_, bool>(1));
}

#[tokio::test]
async fn schema_runs_twice_without_duplicates() {
    let cluster = start();
    cluster.load_sample("postgres").await;
    cluster.load_sample("postgres").await;

    let client = cluster.client("postgres").await;
    let row = client
        .query_one("select count(*) from clients", &[])
        .await
        .unwrap();
    assert_eq!(row.get::<_, i64>(0), 5);
    let row = client
        .query_one("select count(*) from client_summary", &[])
        .await
        .unwrap();
    assert_eq!(row.get::<_, i64>(0), 1);
}

#[tokio::test]
async fn schema_keeps_user_data_on_rerun() {
    let cluster = start();
    cluster.load_sample("postgres").await;

    let client = cluster.client("postgres").await;
    client
        .batch_execute(
            "delete from clients where email = 'lukas.meyer@example.org';
             insert into clients (email, name) values ('new@example.com', 'New Client');",
        )
        .await
        .unwrap();
    cluster.load_sample("postgres").await;

    let row = client
        .query_one(
            "select count(*) from clients where email = 'lukas.meyer@example.org'",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(
        row.get::<_, i64>(0),
        0,
        "a deleted sample row is not inserted again"
    );
    let row = client
        .query_one("select count(*) from clients", &[])
        .await
        .unwrap();
    assert_eq!(row.get::<_, i64>(0), 5);
}

#[tokio::test]
async fn client_summary_allows_one_row() {
    let cluster = start();
    cluster.load_sample("postgres").await;

    let client = cluster.client("postgres").await;
    let err = client
        .execute(
            "insert into client_summary (id, total) values (false, 0)",
            &[],
        )
        .await
        .expect_err("a second summary row is rejected");
    let code = err.as_db_error().map(|db| db.code().code().to_string());
    assert_eq!(code.as_deref(), Some("23514"), "error: {err:?}");
}

#[tokio::test]
async fn clients_id_is_generated_always() {
    let cluster = start();
    cluster.load_sample("postgres").await;

    let client = cluster.client("postgres").await;
    let err = client
        .execute(
            "insert into clients (id, email, name) values (100, 'x@example.com', 'X')",
            &[],
        )
        .await
        .expect_err("an explicit id is rejected");
    let code = err.as_db_error().map(|db| db.code().code().to_string());
    assert_eq!(code.as_deref(), Some("428C9"), "error: {err:?}");
}
