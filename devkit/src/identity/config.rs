//! Settings of the identity endpoint emulator.

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

/// The JSON type of `expires_on` in App Service replies.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ExpiresOnFormat {
    /// Epoch seconds in a JSON string, as App Service sends them (`"expires_on": "1700000000"`).
    #[default]
    String,
    /// Epoch seconds as a JSON number (`"expires_on": 1700000000`).
    Number,
}

/// A failure the emulator returns instead of a token. Failures are queued and each
/// token request takes the next one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Failure {
    /// An HTTP error status, with a `Retry-After` header in seconds when set.
    Status {
        /// The status code, for example 429, 410 or 500.
        code: u16,
        /// The `Retry-After` value in seconds.
        retry_after: Option<u64>,
    },
    /// A normal reply sent only after this delay.
    Slow(Duration),
}

impl Failure {
    /// 429 Too Many Requests with `Retry-After: seconds`.
    pub fn throttled(seconds: u64) -> Self {
        Failure::Status {
            code: 429,
            retry_after: Some(seconds),
        }
    }

    /// 410 Gone, which the platform sends while the identity endpoint starts.
    pub fn gone() -> Self {
        Failure::Status {
            code: 410,
            retry_after: None,
        }
    }

    /// 500 Internal Server Error.
    pub fn server_error() -> Self {
        Failure::Status {
            code: 500,
            retry_after: None,
        }
    }

    /// Returns a normal reply delayed by `millis` milliseconds.
    pub fn slow(millis: u64) -> Self {
        Failure::Slow(Duration::from_millis(millis))
    }
}

/// A token the emulator issued, handed to the [`IssueHook`].
#[derive(Clone)]
pub struct IssuedToken {
    /// The token.
    pub token: String,
    /// The instant the token stops being valid, in whole seconds.
    pub expires_on: SystemTime,
}

impl std::fmt::Debug for IssuedToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IssuedToken")
            .field(
                "token",
                &format_args!("[redacted, {} bytes]", self.token.len()),
            )
            .field("expires_on", &self.expires_on)
            .finish()
    }
}

/// The future an [`IssueHook`] returns. An error turns the token reply into a 500.
pub type HookFuture = Pin<Box<dyn Future<Output = Result<(), String>> + Send>>;

/// Called with every token before the emulator sends it, for example to make the token
/// the password of a PostgreSQL role with `VALID UNTIL` at its expiry.
pub type IssueHook = Arc<dyn Fn(IssuedToken) -> HookFuture + Send + Sync>;

/// Initial settings. Most can be changed later through the
/// [`EmulatorHandle`](super::EmulatorHandle) setters.
#[derive(Clone)]
pub struct EmulatorConfig {
    /// Address to listen on. Port 0 picks a free port.
    pub listen: SocketAddr,
    /// Lifetime of issued tokens.
    pub token_lifetime: Duration,
    /// The JSON type of `expires_on` in App Service replies.
    pub expires_on_format: ExpiresOnFormat,
    /// The `X-IDENTITY-HEADER` value App Service requests must carry.
    pub identity_header: String,
    /// The `client_assertion` workload identity requests must carry.
    pub federated_assertion: String,
    /// The `client_id` workload identity requests must carry.
    pub client_id: String,
    /// The tenant in the workload identity token path.
    pub tenant_id: String,
    /// Called for every issued token.
    pub on_issue: Option<IssueHook>,
}

impl Default for EmulatorConfig {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            token_lifetime: Duration::from_secs(3600),
            expires_on_format: ExpiresOnFormat::String,
            identity_header: "emulator-identity-header".to_owned(),
            federated_assertion: "emulator-federated-assertion".to_owned(),
            client_id: "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee".to_owned(),
            tenant_id: "11111111-2222-3333-4444-555555555555".to_owned(),
            on_issue: None,
        }
    }
}

impl std::fmt::Debug for EmulatorConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EmulatorConfig")
            .field("listen", &self.listen)
            .field("token_lifetime", &self.token_lifetime)
            .field("expires_on_format", &self.expires_on_format)
            .field("client_id", &self.client_id)
            .field("tenant_id", &self.tenant_id)
            .field("on_issue", &self.on_issue.is_some())
            .finish_non_exhaustive()
    }
}
