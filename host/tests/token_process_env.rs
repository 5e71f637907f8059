//! `select_provider` with the real process environment: `auto` picks App Service from
//! `IDENTITY_ENDPOINT` and `IDENTITY_HEADER`, and the header is re-read from the
//! environment on every request.
//!
//! This file contains a single test because it changes the process environment, which
//! other tests running in parallel threads would observe.

mod token_support;

use std::time::Duration;

use keyless_host::token::select::select_provider;
use keyless_host::token::{TokenArgs, TokenProvider};
use token_support::{emulator, scopes};

#[tokio::test]
async fn auto_app_service_rereads_header() {
    let emulator = emulator(Duration::from_secs(3600)).await;
    // SAFETY: this test binary runs no other test, and nothing else reads the environment
    // on another thread while these calls run.
    unsafe {
        for name in ["KEYLESS_STATIC_TOKEN", "KEYLESS_STATIC_TOKEN_FILE"] {
            std::env::remove_var(name);
        }
        std::env::set_var("IDENTITY_ENDPOINT", emulator.app_service_endpoint());
        std::env::set_var("IDENTITY_HEADER", emulator.identity_header());
    }

    let provider = select_provider(&TokenArgs::default()).unwrap();
    provider.get_token(&scopes()).await.unwrap();
    emulator.set_identity_header("rotated-by-platform");
    // SAFETY: as above.
    unsafe { std::env::set_var("IDENTITY_HEADER", "rotated-by-platform") };
    provider
        .get_token(&["https://management.azure.com/.default".to_owned()])
        .await
        .unwrap();

    assert!(
        provider.describe().starts_with("app-service"),
        "{}",
        provider.describe()
    );
    let sent: Vec<_> = emulator
        .requests()
        .iter()
        .map(|r| r.identity_header.clone().unwrap())
        .collect();
    assert_eq!(sent, ["emulator-identity-header", "rotated-by-platform"]);
}
