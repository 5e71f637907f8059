//! Tokens and identity headers never show up in `Debug` output or in log lines.

mod token_support;

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use keyless_devkit::identity::{EmulatorConfig, Failure, IssuedToken};
use keyless_host::token::TokenProvider;
use token_support::{app_service_provider, emulator, scopes};

/// A log sink the test reads back.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn debug_output_hides_tokens() {
    let emulator = emulator(Duration::from_secs(3600)).await;
    let (provider, _header) = app_service_provider(&emulator);
    let token = provider.get_token(&scopes()).await.unwrap();
    let secret = token.token.expose().to_owned();
    let issued: IssuedToken = emulator.issued()[0].clone();

    let outputs = [
        format!("{token:?}"),
        format!("{provider:?}"),
        format!("{issued:?}"),
        format!("{emulator:?}"),
        format!("{:?}", EmulatorConfig::default()),
    ];

    for output in outputs {
        assert!(!output.contains(&secret), "token in {output}");
        assert!(
            !output.contains("emulator-identity-header"),
            "identity header in {output}"
        );
        assert!(
            !output.contains("emulator-federated-assertion"),
            "assertion in {output}"
        );
    }
}

#[tokio::test]
async fn logs_hide_tokens_and_headers() {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let emulator = emulator(Duration::from_secs(3600)).await;
    emulator.push_failure(Failure::server_error());
    let (provider, header) = app_service_provider(&emulator);
    let first = provider.get_token(&scopes()).await.unwrap();
    let second = provider.refresh_rejected(&first.token).await.unwrap();
    header.set("wrong-header-value");
    let _ = provider
        .get_token(&["https://management.azure.com/.default".to_owned()])
        .await;

    let logs = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    assert!(logs.contains("token fetch failed, retrying"), "{logs}");
    assert!(
        logs.contains("the database rejected a cached access token"),
        "{logs}"
    );
    assert!(!logs.contains(first.token.expose()));
    assert!(!logs.contains(second.token.expose()));
    assert!(!logs.contains("emulator-identity-header"), "{logs}");
    assert!(!logs.contains("wrong-header-value"), "{logs}");
}
