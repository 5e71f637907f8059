//! State shared between the emulator's server task and its handle.

use std::collections::VecDeque;
use std::sync::atomic::AtomicUsize;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use super::config::{EmulatorConfig, ExpiresOnFormat, Failure, IssueHook, IssuedToken};

/// The settings the handle can change while the server runs.
#[derive(Clone)]
pub(crate) struct Settings {
    pub token_lifetime: Duration,
    pub expires_on_format: ExpiresOnFormat,
    pub identity_header: String,
    pub federated_assertion: String,
    pub client_id: String,
    pub tenant_id: String,
    pub on_issue: Option<IssueHook>,
}

/// One token request as the emulator received it.
#[derive(Clone, Debug)]
pub struct RecordedRequest {
    /// The HTTP method.
    pub method: String,
    /// The request path.
    pub path: String,
    /// Query parameters in order.
    pub query: Vec<(String, String)>,
    /// The `X-IDENTITY-HEADER` value, when the request had one.
    pub identity_header: Option<String>,
    /// The `Metadata` header value, when the request had one (IMDS).
    pub metadata_header: Option<String>,
    /// Form fields of a POST body, in order.
    pub form: Vec<(String, String)>,
}

impl RecordedRequest {
    /// Returns the first query parameter called `name`.
    pub fn query_param(&self, name: &str) -> Option<&str> {
        find(&self.query, name)
    }

    /// Returns the first form field called `name`.
    pub fn form_field(&self, name: &str) -> Option<&str> {
        find(&self.form, name)
    }
}

fn find<'a>(pairs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    pairs
        .iter()
        .find(|(key, _)| key == name)
        .map(|(_, value)| value.as_str())
}

pub(crate) struct Shared {
    pub settings: Mutex<Settings>,
    pub failures: Mutex<VecDeque<Failure>>,
    pub calls: AtomicUsize,
    pub issued: Mutex<Vec<IssuedToken>>,
    pub requests: Mutex<Vec<RecordedRequest>>,
}

impl Shared {
    pub fn new(config: EmulatorConfig) -> Self {
        Self {
            settings: Mutex::new(Settings {
                token_lifetime: config.token_lifetime,
                expires_on_format: config.expires_on_format,
                identity_header: config.identity_header,
                federated_assertion: config.federated_assertion,
                client_id: config.client_id,
                tenant_id: config.tenant_id,
                on_issue: config.on_issue,
            }),
            failures: Mutex::new(VecDeque::new()),
            calls: AtomicUsize::new(0),
            issued: Mutex::new(Vec::new()),
            requests: Mutex::new(Vec::new()),
        }
    }
}

/// Locks `mutex`, ignoring poisoning: every critical section leaves the data consistent.
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}
