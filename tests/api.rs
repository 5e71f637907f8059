//! Component tests: the release `keyless.wasm` in `keyless_host::Host` against a real
//! PostgreSQL cluster loaded with `schema.sql`.

mod support;

use bytes::Bytes;
use serde_json::{Value as Json, json};
use support::{Api, header, json_body, problem_detail};

/// Number of sample clients that `schema.sql` inserts.
const SAMPLE_COUNT: usize = 5;

fn ids(page: &Json) -> Vec<i64> {
    page["items"]
        .as_array()
        .expect("items is an array")
        .iter()
        .map(|item| item["id"].as_i64().expect("id is an integer"))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn list_pages_through_all_clients() {
    let api = Api::start().await;

    let mut seen = Vec::new();
    let mut path = "/api/clients?limit=2".to_string();
    let mut pages = 0;
    loop {
        let response = api.send("GET", &path).await;
        assert_eq!(response.status(), 200);
        assert_eq!(header(&response, "content-type"), Some("application/json"));
        let page = json_body(&response);
        let page_ids = ids(&page);
        assert!(page_ids.len() <= 2, "{page}");
        seen.extend(page_ids);
        pages += 1;

        match page["next"].as_str() {
            Some(cursor) => path = format!("/api/clients?limit=2&after={cursor}"),
            None => break,
        }
        assert!(pages < 10, "pagination does not end");
    }

    assert_eq!(pages, 3);
    assert_eq!(seen.len(), SAMPLE_COUNT);
    let mut sorted = seen.clone();
    sorted.sort_unstable();
    sorted.dedup();
    assert_eq!(seen, sorted, "ids are unique and ascending");

    let all = json_body(&api.send("GET", "/api/clients").await);
    assert_eq!(ids(&all), seen);
    assert_eq!(all["next"], Json::Null);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_renders_sample_client() {
    let api = Api::start().await;
    let all = json_body(&api.send("GET", "/api/clients").await);
    let first_id = ids(&all)[0];

    let response = api.send("GET", &format!("/api/clients/{first_id}")).await;
    assert_eq!(response.status(), 200);
    assert_eq!(
        json_body(&response),
        json!({
            "id": first_id,
            "email": "ana.souza@example.com",
            "name": "Ana Souza",
            "phone": "+55 11 91234-5678",
            "created_at": "2024-03-04T09:15:00.000000Z",
            "attributes": {"tier": "gold", "newsletter": true, "tags": ["retail", "sao-paulo"]},
        })
    );

    let priya = all["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|item| item["email"] == "priya.raman@example.net")
        .expect("sample client Priya");
    assert_eq!(priya["phone"], Json::Null);
    assert_eq!(priya["created_at"], "2024-11-28T22:47:05.000000Z");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_replace_delete_round_trip() {
    let api = Api::start().await;

    let created = api
        .send_json(
            "POST",
            "/api/clients",
            &json!({
                "email": "new.client@example.com",
                "name": "New Client",
                "phone": "+1 555 0100",
                "attributes": {"tier": "trial", "seats": 3},
            }),
        )
        .await;
    assert_eq!(
        created.status(),
        201,
        "{}",
        String::from_utf8_lossy(created.body())
    );
    let client = json_body(&created);
    let id = client["id"].as_i64().expect("new id");
    let location = header(&created, "location")
        .expect("Location header")
        .to_string();
    assert_eq!(location, format!("/api/clients/{id}"));
    assert_eq!(client["email"], "new.client@example.com");
    assert_eq!(client["attributes"], json!({"tier": "trial", "seats": 3}));
    let created_at = client["created_at"]
        .as_str()
        .expect("created_at")
        .to_string();
    assert!(created_at.ends_with('Z'), "{created_at}");
    assert_eq!(
        created_at.len(),
        "2024-01-01T00:00:00.000000Z".len(),
        "{created_at}"
    );

    let fetched = api.send("GET", &location).await;
    assert_eq!(fetched.status(), 200);
    assert_eq!(json_body(&fetched), client);

    let replaced = api
        .send_json(
            "PUT",
            &location,
            &json!({"email": "renamed@example.com", "name": "Renamed"}),
        )
        .await;
    assert_eq!(
        replaced.status(),
        200,
        "{}",
        String::from_utf8_lossy(replaced.body())
    );
    assert_eq!(
        json_body(&replaced),
        json!({
            "id": id,
            "email": "renamed@example.com",
            "name": "Renamed",
            "phone": null,
            "created_at": created_at,
            "attributes": {},
        })
    );

    let deleted = api.send("DELETE", &location).await;
    assert_eq!(deleted.status(), 204);
    assert!(deleted.body().is_empty());

    let detail = problem_detail(&api.send("GET", &location).await, 404);
    assert_eq!(detail, format!("no client with id {id}"));
    let detail = problem_detail(&api.send("DELETE", &location).await, 404);
    assert_eq!(detail, format!("no client with id {id}"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_reports_database_and_expiry() {
    let api = Api::start().await;
    let response = api.send("GET", "/api/health").await;
    assert_eq!(response.status(), 200);

    let health = json_body(&response);
    assert_eq!(health["status"], "ok");
    assert_eq!(health["database"], "ok");
    let expires = health["token_expires_on"]
        .as_str()
        .expect("token_expires_on");
    assert_eq!(expires.len(), 20, "{expires}");
    assert!(expires.ends_with('Z'), "{expires}");
    assert_eq!(expires.as_bytes()[10], b'T', "{expires}");
    assert_eq!(health.as_object().unwrap().len(), 3, "{health}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refresh_summary_counts_clients() {
    let api = Api::start().await;
    let created = api
        .send_json(
            "POST",
            "/api/clients",
            &json!({"email": "z@example.com", "name": "Z"}),
        )
        .await;
    assert_eq!(created.status(), 201);
    let newest = json_body(&created)["created_at"].clone();

    let response = api.send("POST", "/internal/jobs/refresh-summary").await;
    assert_eq!(
        response.status(),
        200,
        "{}",
        String::from_utf8_lossy(response.body())
    );
    let summary = json_body(&response);
    assert_eq!(summary["total"], SAMPLE_COUNT as i64 + 1);
    assert_eq!(summary["newest_created_at"], newest);
    assert!(
        summary["refreshed_at"]
            .as_str()
            .is_some_and(|text| text.ends_with('Z'))
    );

    let stored = api
        .cluster
        .client(support::DATABASE)
        .await
        .query_one("select total from client_summary", &[])
        .await
        .expect("summary row");
    assert_eq!(stored.get::<_, i64>(0), SAMPLE_COUNT as i64 + 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_is_400() {
    let api = Api::start().await;

    let detail = problem_detail(&api.send("GET", "/api/clients?limit=501").await, 400);
    assert!(detail.contains("limit `501`"), "{detail}");
    let detail = problem_detail(&api.send("GET", "/api/clients?after=zzz").await, 400);
    assert!(detail.contains("after `zzz`"), "{detail}");
    let detail = problem_detail(&api.send("GET", "/api/clients/abc").await, 400);
    assert!(detail.contains("`abc`"), "{detail}");
    let detail = problem_detail(
        &api.send("GET", "/api/clients/99999999999999999999").await,
        400,
    );
    assert!(detail.contains("`99999999999999999999`"), "{detail}");

    let invalid = api
        .send_body(
            "POST",
            "/api/clients",
            Some("application/json"),
            Bytes::from_static(b"{\"email\":"),
        )
        .await;
    assert!(problem_detail(&invalid, 400).starts_with("request body is not valid JSON"));

    let not_utf8 = api
        .send_body(
            "POST",
            "/api/clients",
            Some("application/json"),
            Bytes::from_static(b"\xff\xfe"),
        )
        .await;
    problem_detail(&not_utf8, 400);

    let unknown = api
        .send_json(
            "POST",
            "/api/clients",
            &json!({"email": "a@x", "name": "A", "vip": true}),
        )
        .await;
    assert!(problem_detail(&unknown, 400).contains("unknown field `vip`"));

    let bad_email = api
        .send_json(
            "POST",
            "/api/clients",
            &json!({"email": "no-at-sign", "name": "A"}),
        )
        .await;
    assert!(problem_detail(&bad_email, 400).contains("`no-at-sign`"));

    let bad_attributes = api
        .send_json(
            "PUT",
            "/api/clients/1",
            &json!({"email": "a@x", "name": "A", "attributes": [1]}),
        )
        .await;
    assert!(problem_detail(&bad_attributes, 400).contains("`attributes`"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_routes_and_methods() {
    let api = Api::start().await;

    let detail = problem_detail(&api.send("GET", "/api/orders").await, 404);
    assert!(detail.contains("/api/orders"), "{detail}");
    problem_detail(&api.send("GET", "/api/clients/1/notes").await, 404);
    let detail = problem_detail(&api.send("GET", "/api/clients/123456789").await, 404);
    assert_eq!(detail, "no client with id 123456789");

    for (method, path, allow) in [
        ("PATCH", "/api/clients", "GET, POST"),
        ("POST", "/api/clients/1", "GET, PUT, DELETE"),
        ("DELETE", "/api/health", "GET"),
        ("GET", "/internal/jobs/refresh-summary", "POST"),
    ] {
        let response = api.send(method, path).await;
        let detail = problem_detail(&response, 405);
        assert_eq!(header(&response, "allow"), Some(allow), "{method} {path}");
        assert!(detail.contains(method), "{detail}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn duplicate_email_is_409() {
    let api = Api::start().await;
    let response = api
        .send_json(
            "POST",
            "/api/clients",
            &json!({"email": "lukas.meyer@example.org", "name": "Someone Else"}),
        )
        .await;
    let detail = problem_detail(&response, 409);
    assert_eq!(detail, "a client with this email already exists");

    let all = json_body(&api.send("GET", "/api/clients").await);
    let ana = ids(&all)[0];
    let response = api
        .send_json(
            "PUT",
            &format!("/api/clients/{ana}"),
            &json!({"email": "lukas.meyer@example.org", "name": "Ana"}),
        )
        .await;
    assert_eq!(
        problem_detail(&response, 409),
        "a client with this email already exists"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_body_is_413() {
    let api = Api::start().await;
    let body = Bytes::from(vec![b' '; 64 * 1024 + 1]);
    let response = api
        .send_body("POST", "/api/clients", Some("application/json"), body)
        .await;
    let detail = problem_detail(&response, 413);
    assert!(detail.contains("65536"), "{detail}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn non_json_content_type_is_415() {
    let api = Api::start().await;
    let body = Bytes::from_static(br#"{"email": "a@example.com", "name": "A"}"#);
    let response = api
        .send_body("POST", "/api/clients", Some("text/plain"), body.clone())
        .await;
    assert!(problem_detail(&response, 415).contains("`text/plain`"));

    let response = api.send_body("PUT", "/api/clients/1", None, body).await;
    assert!(problem_detail(&response, 415).contains("no content type"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_password_is_503_without_secrets() {
    let wrong = "eyJ.wrong-token-for-this-role.sig";
    let api = Api::start_with_token(wrong).await;

    for (method, path) in [
        ("GET", "/api/health"),
        ("GET", "/api/clients"),
        ("DELETE", "/api/clients/1"),
    ] {
        let response = api.send(method, path).await;
        let detail = problem_detail(&response, 503);
        assert_eq!(
            header(&response, "retry-after"),
            Some("5"),
            "{method} {path}"
        );
        assert!(detail.contains("28P01"), "{detail}");

        let text = String::from_utf8_lossy(response.body());
        assert!(!text.contains(wrong), "the presented token leaked: {text}");
        assert!(
            !text.contains(support::TOKEN),
            "the role's password leaked: {text}"
        );
    }
}
