//! Helpers shared by the token tests: providers wired to the loopback identity emulator.

#![allow(dead_code)]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use keyless_devkit::identity::{self, EmulatorConfig, EmulatorHandle};
use keyless_host::token::app_service::{AppServiceSource, IDENTITY_HEADER_VAR};
use keyless_host::token::cache::CachingProvider;
use keyless_host::token::retry::RetryPolicy;
use keyless_host::token::source::EnvLookup;

/// The scope the component requests.
pub const SCOPE: &str = "https://ossrdbms-aad.database.windows.net/.default";

/// Returns `[SCOPE]`.
pub fn scopes() -> Vec<String> {
    vec![SCOPE.to_owned()]
}

/// An `IDENTITY_HEADER` value that tests can change while a provider runs.
#[derive(Clone)]
pub struct HeaderVar(Arc<Mutex<String>>);

impl HeaderVar {
    pub fn set(&self, value: &str) {
        *self.0.lock().unwrap() = value.to_owned();
    }

    /// Returns an environment with only `IDENTITY_HEADER`, read from this value on every lookup.
    pub fn env(&self) -> EnvLookup {
        let value = self.0.clone();
        Arc::new(move |name| (name == IDENTITY_HEADER_VAR).then(|| value.lock().unwrap().clone()))
    }
}

/// Starts an emulator with `lifetime` tokens.
pub async fn emulator(lifetime: Duration) -> EmulatorHandle {
    identity::start(EmulatorConfig {
        token_lifetime: lifetime,
        ..EmulatorConfig::default()
    })
    .await
    .expect("the identity emulator failed to start")
}

/// Returns a caching App Service provider for `emulator` with the default retry policy, and the
/// header variable it reads.
pub fn app_service_provider(emulator: &EmulatorHandle) -> (Arc<CachingProvider>, HeaderVar) {
    app_service_provider_with(emulator, RetryPolicy::default())
}

/// Like [`app_service_provider`] with a chosen retry policy.
pub fn app_service_provider_with(
    emulator: &EmulatorHandle,
    policy: RetryPolicy,
) -> (Arc<CachingProvider>, HeaderVar) {
    let header = HeaderVar(Arc::new(Mutex::new(emulator.identity_header())));
    let source = AppServiceSource::new(&emulator.app_service_endpoint(), None, header.env())
        .expect("valid endpoint");
    (
        Arc::new(CachingProvider::new(Arc::new(source), policy)),
        header,
    )
}

/// Returns a loopback URL on which nothing listens.
pub fn closed_loopback_url() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    format!("http://127.0.0.1:{port}/msi/token")
}
