//! Retrying a [`TokenSource`] within a time budget.
//!
//! Failures classified as retryable (404, 410, 429, 5xx, connect errors, timeouts) are
//! retried with exponential backoff starting at [`FIRST_BACKOFF`] and doubling up to
//! [`MAX_BACKOFF`], or after the endpoint's `Retry-After` when it sent one. Each attempt is
//! cut off after `attempt_timeout`, and no attempt starts or waits past `total_budget`
//! counted from the first one. The defaults (1 s per attempt, 1.5 s in total) keep a
//! request that finds the cache cold from hanging when the endpoint is down: a refused
//! connection fails within 1.5 s. Azure's guidance for IMDS suggests backing off over
//! tens of seconds. Here the cache instead retries a failed proactive refresh on a later
//! request while the old token is still valid.

use std::time::{Duration, Instant};

use super::source::{FetchError, TokenSource};
use super::{AccessToken, TokenError};

/// Wait before the second attempt.
pub const FIRST_BACKOFF: Duration = Duration::from_millis(50);

/// Maximum wait between two attempts, unless the endpoint's `Retry-After` requests more.
pub const MAX_BACKOFF: Duration = Duration::from_secs(2);

/// Default time allowed for one attempt.
pub const DEFAULT_ATTEMPT_TIMEOUT: Duration = Duration::from_millis(1000);

/// Default time allowed for all attempts of one fetch together.
pub const DEFAULT_TOTAL_BUDGET: Duration = Duration::from_millis(1500);

/// `retry_after` reported to callers when the endpoint named none.
const DEFAULT_RETRY_AFTER: Duration = Duration::from_secs(1);

/// How long one fetch may take.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Time allowed for one attempt.
    pub attempt_timeout: Duration,
    /// Time allowed for all attempts and the waits between them.
    pub total_budget: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            attempt_timeout: DEFAULT_ATTEMPT_TIMEOUT,
            total_budget: DEFAULT_TOTAL_BUDGET,
        }
    }
}

/// Fetches a token from `source`, retrying retryable failures within `policy`.
pub async fn fetch_with_retry(
    source: &dyn TokenSource,
    scopes: &[String],
    policy: RetryPolicy,
) -> Result<AccessToken, TokenError> {
    let started = Instant::now();
    let deadline = started + policy.total_budget;
    let mut backoff = FIRST_BACKOFF;
    let mut attempt: u32 = 1;

    loop {
        // The last attempt gets whatever is left of the budget, so the budget is kept even
        // when every attempt hangs.
        let remaining = deadline.saturating_duration_since(Instant::now());
        let timeout = policy
            .attempt_timeout
            .min(remaining)
            .max(Duration::from_millis(1));
        let outcome = match tokio::time::timeout(timeout, source.fetch(scopes)).await {
            Ok(outcome) => outcome,
            Err(_) => Err(FetchError::Retryable {
                message: format!(
                    "{} did not answer within {} ms",
                    source.describe(),
                    timeout.as_millis()
                ),
                retry_after: None,
            }),
        };

        let (message, retry_after) = match outcome {
            Ok(token) => return Ok(token),
            Err(FetchError::Denied(message)) => return Err(TokenError::Denied(message)),
            Err(FetchError::NotConfigured(message)) => {
                return Err(TokenError::NotConfigured(message));
            }
            Err(FetchError::Retryable {
                message,
                retry_after,
            }) => (message, retry_after),
        };

        // Stop when the next wait would end past the deadline, and tell the caller how long
        // to wait instead.
        let wait = retry_after.unwrap_or(backoff);
        let remaining = deadline.saturating_duration_since(Instant::now());
        if wait >= remaining {
            let elapsed = started.elapsed().as_millis();
            tracing::warn!(source = %source.describe(), attempt, elapsed_ms = elapsed, error = %message, "token fetch failed, giving up");
            return Err(TokenError::Unavailable {
                message: format!("{message} (gave up after {attempt} attempts in {elapsed} ms)"),
                retry_after: round_up_to_seconds(retry_after.unwrap_or(DEFAULT_RETRY_AFTER)),
            });
        }

        tracing::info!(source = %source.describe(), attempt, wait_ms = wait.as_millis(), error = %message, "token fetch failed, retrying");
        tokio::time::sleep(wait).await;
        backoff = (backoff * 2).min(MAX_BACKOFF);
        attempt += 1;
    }
}

/// Rounds up to whole seconds, at least one, because callers report seconds.
fn round_up_to_seconds(duration: Duration) -> Duration {
    let seconds = duration.as_secs() + u64::from(duration.subsec_nanos() > 0);
    Duration::from_secs(seconds.max(1))
}
