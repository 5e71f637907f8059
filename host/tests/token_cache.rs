//! The token cache against the App Service protocol on the loopback identity emulator:
//! single flight, retries, the retry budget, proactive refresh, keep-old-on-failure and
//! `refresh_rejected`.

mod token_support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use keyless_devkit::identity::Failure;
use keyless_host::secret::Secret;
use keyless_host::token::app_service::AppServiceSource;
use keyless_host::token::cache::CachingProvider;
use keyless_host::token::retry::RetryPolicy;
use keyless_host::token::{TokenError, TokenProvider};
use token_support::{
    app_service_provider, app_service_provider_with, closed_loopback_url, emulator, scopes,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hundred_cold_requests_one_call() {
    let emulator = emulator(Duration::from_secs(3600)).await;
    emulator.push_failure(Failure::slow(300));
    let (provider, _header) = app_service_provider(&emulator);

    let tasks: Vec<_> = (0..100)
        .map(|_| {
            let provider = provider.clone();
            tokio::spawn(async move { provider.get_token(&scopes()).await })
        })
        .collect();
    let mut tokens = Vec::new();
    for task in tasks {
        tokens.push(
            task.await
                .unwrap()
                .expect("every concurrent request gets a token"),
        );
    }

    assert_eq!(emulator.calls(), 1);
    let first = tokens[0].token.expose().to_owned();
    assert!(tokens.iter().all(|token| token.token.expose() == first));
    assert_eq!(emulator.issued()[0].token, first);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hundred_cold_requests_share_failure() {
    let emulator = emulator(Duration::from_secs(3600)).await;
    for _ in 0..100 {
        emulator.push_failure(Failure::server_error());
    }
    let (provider, _header) = app_service_provider(&emulator);

    let tasks: Vec<_> = (0..100)
        .map(|_| {
            let provider = provider.clone();
            tokio::spawn(async move { provider.get_token(&scopes()).await })
        })
        .collect();
    let mut results = Vec::new();
    for task in tasks {
        results.push(task.await.unwrap());
    }

    assert!(
        results
            .iter()
            .all(|result| matches!(result, Err(TokenError::Unavailable { .. })))
    );
    // One fetch with its retries within the 1.5 s budget: 50+100+200+400+800 ms of backoff
    // allows at most 6 attempts.
    assert!(emulator.calls() <= 6, "calls: {}", emulator.calls());
}

#[tokio::test]
async fn cached_token_reused() {
    let emulator = emulator(Duration::from_secs(3600)).await;
    let (provider, _header) = app_service_provider(&emulator);

    let first = provider.get_token(&scopes()).await.unwrap();
    let second = provider.get_token(&scopes()).await.unwrap();

    assert_eq!(first.token, second.token);
    assert_eq!(emulator.calls(), 1);
}

#[tokio::test]
async fn scope_sets_cached_separately() {
    let emulator = emulator(Duration::from_secs(3600)).await;
    let (provider, _header) = app_service_provider(&emulator);

    let database = provider.get_token(&scopes()).await.unwrap();
    let other = provider
        .get_token(&["https://management.azure.com/.default".to_owned()])
        .await
        .unwrap();
    provider.get_token(&scopes()).await.unwrap();

    assert_ne!(database.token, other.token);
    assert_eq!(emulator.calls(), 2);
    let resources: Vec<_> = emulator
        .requests()
        .iter()
        .map(|r| r.query_param("resource").unwrap().to_owned())
        .collect();
    assert_eq!(
        resources,
        [
            "https://ossrdbms-aad.database.windows.net",
            "https://management.azure.com"
        ]
    );
}

#[tokio::test]
async fn throttled_then_ok_recovers() {
    let emulator = emulator(Duration::from_secs(3600)).await;
    emulator.push_failure(Failure::throttled(1));
    let (provider, _header) = app_service_provider(&emulator);
    let started = Instant::now();

    let token = provider.get_token(&scopes()).await;

    let elapsed = started.elapsed();
    assert!(token.is_ok(), "{token:?}");
    assert_eq!(emulator.calls(), 2);
    assert!(
        elapsed >= Duration::from_secs(1),
        "Retry-After: 1 was not honoured ({elapsed:?})"
    );
    assert!(elapsed < Duration::from_millis(1500), "took {elapsed:?}");
}

#[tokio::test]
async fn server_error_then_ok_recovers() {
    let emulator = emulator(Duration::from_secs(3600)).await;
    emulator.push_failure(Failure::server_error());
    emulator.push_failure(Failure::gone());
    let (provider, _header) = app_service_provider(&emulator);
    let started = Instant::now();

    let token = provider.get_token(&scopes()).await;

    assert!(token.is_ok(), "{token:?}");
    assert_eq!(emulator.calls(), 3);
    assert!(
        started.elapsed() < Duration::from_millis(1500),
        "took {:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn slow_attempt_times_out_then_recovers() {
    let emulator = emulator(Duration::from_secs(3600)).await;
    emulator.push_failure(Failure::slow(2000));
    let policy = RetryPolicy {
        attempt_timeout: Duration::from_millis(300),
        total_budget: Duration::from_millis(1500),
    };
    let (provider, _header) = app_service_provider_with(&emulator, policy);

    let token = provider.get_token(&scopes()).await;

    assert!(token.is_ok(), "{token:?}");
    assert_eq!(emulator.calls(), 2);
}

#[tokio::test]
async fn long_retry_after_gives_up_early() {
    let emulator = emulator(Duration::from_secs(3600)).await;
    emulator.push_failure(Failure::throttled(30));
    let (provider, _header) = app_service_provider(&emulator);
    let started = Instant::now();

    let error = provider.get_token(&scopes()).await.unwrap_err();

    assert_eq!(emulator.calls(), 1);
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "took {:?}",
        started.elapsed()
    );
    let TokenError::Unavailable {
        retry_after,
        message,
    } = error
    else {
        panic!("expected Unavailable, got {error:?}");
    };
    assert_eq!(retry_after, Duration::from_secs(30));
    assert!(message.contains("429"), "{message}");
}

#[tokio::test]
async fn unreachable_endpoint_fails_fast() {
    let source = AppServiceSource::new(
        &closed_loopback_url(),
        None,
        Arc::new(|_| Some("h".to_owned())),
    )
    .unwrap();
    let provider = CachingProvider::new(Arc::new(source), RetryPolicy::default());
    let started = Instant::now();

    let error = provider.get_token(&scopes()).await.unwrap_err();

    let elapsed = started.elapsed();
    assert!(elapsed < Duration::from_secs(2), "took {elapsed:?}");
    assert!(matches!(error, TokenError::Unavailable { .. }), "{error:?}");
    assert!(
        error
            .to_string()
            .contains("connecting to the App Service identity endpoint"),
        "{error}"
    );
}

#[tokio::test]
async fn client_error_not_retried() {
    let emulator = emulator(Duration::from_secs(3600)).await;
    let (provider, header) = app_service_provider(&emulator);
    header.set("wrong-header");

    let error = provider.get_token(&scopes()).await.unwrap_err();

    assert_eq!(emulator.calls(), 1);
    let TokenError::Denied(message) = &error else {
        panic!("expected Denied, got {error:?}");
    };
    assert!(message.contains("401"), "{message}");
    assert!(!message.contains("wrong-header"), "{message}");
}

#[tokio::test]
async fn proactive_refresh_at_half_life() {
    let emulator = emulator(Duration::from_secs(10)).await;
    let (provider, _header) = app_service_provider(&emulator);

    let first = provider.get_token(&scopes()).await.unwrap();
    tokio::time::sleep(Duration::from_millis(5100)).await;
    let second = provider.get_token(&scopes()).await.unwrap();
    let third = provider.get_token(&scopes()).await.unwrap();

    assert_ne!(first.token, second.token);
    assert_eq!(second.token, third.token);
    assert_eq!(emulator.calls(), 2);
}

#[tokio::test]
async fn failed_refresh_keeps_old_token() {
    let emulator = emulator(Duration::from_secs(10)).await;
    let (provider, _header) = app_service_provider(&emulator);
    let first = provider.get_token(&scopes()).await.unwrap();
    tokio::time::sleep(Duration::from_millis(5100)).await;
    for _ in 0..20 {
        emulator.push_failure(Failure::server_error());
    }

    let during_outage = provider.get_token(&scopes()).await;

    assert_eq!(during_outage.unwrap().token, first.token);
    let calls_after_failed_refresh = emulator.calls();
    assert!(calls_after_failed_refresh > 1);

    // The next refresh waits for the failure's retry-after (1 s); until then the old
    // token is served without calling the endpoint.
    let again = provider.get_token(&scopes()).await.unwrap();
    assert_eq!(again.token, first.token);
    assert_eq!(emulator.calls(), calls_after_failed_refresh);
}

#[tokio::test]
async fn refresh_after_outage_ends() {
    let emulator = emulator(Duration::from_secs(10)).await;
    let (provider, _header) = app_service_provider(&emulator);
    let first = provider.get_token(&scopes()).await.unwrap();
    tokio::time::sleep(Duration::from_millis(5100)).await;
    for _ in 0..6 {
        emulator.push_failure(Failure::server_error());
    }

    let during_outage = provider.get_token(&scopes()).await.unwrap();
    while emulator.pending_failures() > 0 {
        provider.get_token(&scopes()).await.unwrap();
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let after_outage = provider.get_token(&scopes()).await.unwrap();

    assert_eq!(during_outage.token, first.token);
    assert_ne!(after_outage.token, first.token);
    assert_eq!(
        after_outage.token.expose(),
        emulator.issued().last().unwrap().token
    );
}

#[tokio::test]
async fn expired_token_not_served() {
    let emulator = emulator(Duration::from_secs(2)).await;
    let (provider, _header) = app_service_provider(&emulator);
    provider.get_token(&scopes()).await.unwrap();
    tokio::time::sleep(Duration::from_millis(2100)).await;
    for _ in 0..20 {
        emulator.push_failure(Failure::server_error());
    }

    let error = provider.get_token(&scopes()).await.unwrap_err();

    assert!(matches!(error, TokenError::Unavailable { .. }), "{error:?}");
}

#[tokio::test]
async fn rejected_token_replaced() {
    let emulator = emulator(Duration::from_secs(3600)).await;
    let (provider, _header) = app_service_provider(&emulator);
    let first = provider.get_token(&scopes()).await.unwrap();

    let replacement = provider
        .refresh_rejected(&first.token)
        .await
        .expect("our token is replaced");
    let cached = provider.get_token(&scopes()).await.unwrap();

    assert_ne!(replacement.token, first.token);
    assert_eq!(cached.token, replacement.token);
    assert_eq!(emulator.calls(), 2);
}

#[tokio::test]
async fn rejected_previous_token_gets_current() {
    let emulator = emulator(Duration::from_secs(3600)).await;
    let (provider, _header) = app_service_provider(&emulator);
    let first = provider.get_token(&scopes()).await.unwrap();
    let second = provider.refresh_rejected(&first.token).await.unwrap();

    let again = provider
        .refresh_rejected(&first.token)
        .await
        .expect("the previous token is recognised");

    assert_eq!(again.token, second.token);
    assert_eq!(emulator.calls(), 2);
}

#[tokio::test]
async fn rejected_foreign_password_ignored() {
    let emulator = emulator(Duration::from_secs(3600)).await;
    let (provider, _header) = app_service_provider(&emulator);
    provider.get_token(&scopes()).await.unwrap();

    let outcome = provider
        .refresh_rejected(&Secret::new("a password from elsewhere"))
        .await;

    assert!(outcome.is_none());
    assert_eq!(emulator.calls(), 1);
}

#[tokio::test]
async fn rejected_token_kept_when_endpoint_fails() {
    let emulator = emulator(Duration::from_secs(3600)).await;
    let (provider, _header) = app_service_provider(&emulator);
    let first = provider.get_token(&scopes()).await.unwrap();
    for _ in 0..20 {
        emulator.push_failure(Failure::server_error());
    }

    let replacement = provider.refresh_rejected(&first.token).await;
    let still_cached = provider.get_token(&scopes()).await;

    assert!(replacement.is_none());
    assert_eq!(still_cached.unwrap().token, first.token);
}

#[tokio::test]
async fn rejected_token_refreshed_after_outage() {
    let emulator = emulator(Duration::from_secs(3600)).await;
    let (provider, _header) = app_service_provider(&emulator);
    let first = provider.get_token(&scopes()).await.unwrap();
    for _ in 0..20 {
        emulator.push_failure(Failure::server_error());
    }
    assert!(provider.refresh_rejected(&first.token).await.is_none());
    emulator.clear_failures();

    // The failed replacement marks the token for refresh once the failure's retry-after
    // (1 s) has passed; before that the rejected token is still served.
    let before_retry = provider.get_token(&scopes()).await.unwrap();
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let after_retry = provider.get_token(&scopes()).await.unwrap();

    assert_eq!(before_retry.token, first.token);
    assert_ne!(after_retry.token, first.token);
    assert_eq!(
        after_retry.token.expose(),
        emulator.issued().last().unwrap().token
    );
}
