//! The handle tests use to drive a running emulator.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use super::config::{ExpiresOnFormat, Failure, IssueHook, IssuedToken};
use super::state::{RecordedRequest, Shared, lock};

/// A running emulator. Dropping the handle stops accepting connections.
pub struct EmulatorHandle {
    pub(crate) addr: SocketAddr,
    pub(crate) shared: Arc<Shared>,
    pub(crate) server: tokio::task::JoinHandle<()>,
    /// Stops the runtime thread of [`super::start_in_background`] when sent or dropped.
    pub(crate) background: Option<tokio::sync::oneshot::Sender<()>>,
}

impl EmulatorHandle {
    /// Returns the base URL, `http://127.0.0.1:<port>`. It is also the workload identity authority
    /// (`AZURE_AUTHORITY_HOST`).
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Returns the address the emulator listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Returns the App Service endpoint, the value for `IDENTITY_ENDPOINT`.
    pub fn app_service_endpoint(&self) -> String {
        format!("{}/msi/token", self.url())
    }

    /// Returns the IMDS token endpoint, the value for `--imds-endpoint`.
    pub fn imds_endpoint(&self) -> String {
        format!("{}/metadata/identity/oauth2/token", self.url())
    }

    /// Returns the number of token requests received on any protocol, failed ones included.
    pub fn calls(&self) -> usize {
        self.shared.calls.load(Ordering::SeqCst)
    }

    /// Returns the tokens issued so far, oldest first.
    pub fn issued(&self) -> Vec<IssuedToken> {
        lock(&self.shared.issued).clone()
    }

    /// Returns the token requests received so far, oldest first.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        lock(&self.shared.requests).clone()
    }

    /// Returns the `X-IDENTITY-HEADER` value App Service requests must carry now.
    pub fn identity_header(&self) -> String {
        lock(&self.shared.settings).identity_header.clone()
    }

    /// Changes the `X-IDENTITY-HEADER` value requests must carry, as the platform does
    /// when it rotates `IDENTITY_HEADER`.
    pub fn set_identity_header(&self, value: &str) {
        lock(&self.shared.settings).identity_header = value.to_owned();
    }

    /// Changes the lifetime of tokens issued from now on.
    pub fn set_token_lifetime(&self, lifetime: Duration) {
        lock(&self.shared.settings).token_lifetime = lifetime;
    }

    /// Changes how App Service replies state `expires_on`.
    pub fn set_expires_on_format(&self, format: ExpiresOnFormat) {
        lock(&self.shared.settings).expires_on_format = format;
    }

    /// Changes the `client_assertion` workload identity requests must carry.
    pub fn set_federated_assertion(&self, assertion: &str) {
        lock(&self.shared.settings).federated_assertion = assertion.to_owned();
    }

    /// Returns the `client_id` workload identity requests must carry.
    pub fn client_id(&self) -> String {
        lock(&self.shared.settings).client_id.clone()
    }

    /// Returns the tenant in the workload identity token path.
    pub fn tenant_id(&self) -> String {
        lock(&self.shared.settings).tenant_id.clone()
    }

    /// Replaces the hook called for every issued token.
    pub fn set_on_issue(&self, hook: Option<IssueHook>) {
        lock(&self.shared.settings).on_issue = hook;
    }

    /// Queues a failure. Token requests take queued failures in order, so the failure is
    /// returned by the first request after the ones already queued.
    pub fn push_failure(&self, failure: Failure) {
        lock(&self.shared.failures).push_back(failure);
    }

    /// Removes every queued failure.
    pub fn clear_failures(&self) {
        lock(&self.shared.failures).clear();
    }

    /// Returns the number of queued failures not yet used.
    pub fn pending_failures(&self) -> usize {
        lock(&self.shared.failures).len()
    }
}

impl Drop for EmulatorHandle {
    fn drop(&mut self) {
        self.server.abort();
        if let Some(stop) = self.background.take() {
            let _ = stop.send(());
        }
    }
}

impl std::fmt::Debug for EmulatorHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EmulatorHandle")
            .field("addr", &self.addr)
            .field("calls", &self.calls())
            .finish_non_exhaustive()
    }
}
