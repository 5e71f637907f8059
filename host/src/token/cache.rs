//! A token cache in front of a [`TokenSource`].
//!
//! Tokens are cached per (identity, scope set). For each key:
//!
//! - One fetch runs at a time. Callers that find no valid token wait for the fetch in
//!   progress and take its result, so 100 concurrent cold requests cause one endpoint call.
//!   A failure is shared the same way: callers that were already waiting get the error
//!   instead of starting 99 more fetches.
//! - A token is refreshed once half its lifetime has passed. The rule "the earlier of half
//!   the lifetime and 5 minutes before expiry" gives the same instant for any token that
//!   lives 10 minutes or more, and for shorter tokens 5 minutes before expiry is already
//!   past, so half the lifetime is used for all tokens. The first caller after that instant
//!   refreshes inline while the others keep getting the current token.
//! - When a refresh fails, the current token stays in use while it is valid, the failure
//!   is logged at warn, and the next refresh is tried after the `retry_after` the failure
//!   reported.
//! - [`TokenProvider::refresh_rejected`] replaces a token the database rejected with a new
//!   one. When that fetch fails, the rejected token stays cached (pooled connections that
//!   logged in with it still work) and is refreshed again after the failure's
//!   `retry_after`. Tokens are matched by SHA-256 digest, so the comparison never branches
//!   on the token's bytes.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

use crate::secret::Secret;

use super::retry::{RetryPolicy, fetch_with_retry};
use super::source::TokenSource;
use super::{AccessToken, TokenError, TokenFuture, TokenProvider};

/// A token is handed out only while it has at least this long left, or a quarter of its
/// lifetime for tokens shorter than 40 s, so a login that starts right after `get_token`
/// does not race the expiry.
pub const EXPIRY_MARGIN: Duration = Duration::from_secs(10);

/// Shortest wait before retrying a failed proactive refresh.
const MIN_REFRESH_RETRY: Duration = Duration::from_secs(1);

type TokenDigest = [u8; 32];

/// The key of a cache entry: the identity and the sorted, de-duplicated scopes.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct CacheKey {
    identity: String,
    scopes: Vec<String>,
}

/// A token with the times that govern its reuse, in Unix milliseconds.
struct CachedToken {
    token: AccessToken,
    digest: TokenDigest,
    /// After this instant the token should be replaced.
    refresh_at_ms: u64,
    /// After this instant the token is no longer handed out.
    usable_until_ms: u64,
    /// Set after a failed refresh: no new refresh starts before this instant.
    retry_refresh_at: Option<Instant>,
}

impl CachedToken {
    fn new(token: AccessToken, now_ms: u64) -> Self {
        let expires_on_ms = token.expires_on.saturating_mul(1000);
        let lifetime_ms = expires_on_ms.saturating_sub(now_ms);
        let margin_ms = (EXPIRY_MARGIN.as_millis() as u64).min(lifetime_ms / 4);
        Self {
            digest: digest(&token.token),
            refresh_at_ms: now_ms + lifetime_ms / 2,
            usable_until_ms: expires_on_ms.saturating_sub(margin_ms),
            retry_refresh_at: None,
            token,
        }
    }

    fn is_usable(&self, now_ms: u64) -> bool {
        now_ms < self.usable_until_ms
    }

    fn is_refresh_due(&self, now_ms: u64) -> bool {
        now_ms >= self.refresh_at_ms && self.retry_refresh_at.is_none_or(|at| Instant::now() >= at)
    }
}

#[derive(Default)]
struct EntryState {
    current: Option<CachedToken>,
    /// The digest of the token `current` replaced, so a rejection of the previous token
    /// gets the current one instead of another fetch.
    previous_digest: Option<TokenDigest>,
    /// The last failed cold fetch, shared with the callers that waited for it.
    last_failure: Option<(Instant, TokenError)>,
}

/// One cache key's token and the lock that serialises its fetches.
#[derive(Default)]
struct Entry {
    state: Mutex<EntryState>,
    fetch_lock: tokio::sync::Mutex<()>,
}

impl Entry {
    fn state(&self) -> std::sync::MutexGuard<'_, EntryState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn store(&self, token: &AccessToken) {
        let mut state = self.state();
        let previous = state
            .current
            .replace(CachedToken::new(token.clone(), unix_now_ms()));
        if let Some(previous) = previous {
            state.previous_digest = Some(previous.digest);
        }
        state.last_failure = None;
    }
}

/// A [`TokenProvider`] that caches and refreshes the tokens of one [`TokenSource`].
pub struct CachingProvider {
    source: Arc<dyn TokenSource>,
    policy: RetryPolicy,
    entries: Mutex<HashMap<CacheKey, Arc<Entry>>>,
}

impl CachingProvider {
    /// Wraps `source`; every fetch is retried within `policy`.
    pub fn new(source: Arc<dyn TokenSource>, policy: RetryPolicy) -> Self {
        Self {
            source,
            policy,
            entries: Mutex::new(HashMap::new()),
        }
    }

    fn entry(&self, key: &CacheKey) -> Arc<Entry> {
        let mut entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        entries.entry(key.clone()).or_default().clone()
    }

    fn key(&self, scopes: &[String]) -> CacheKey {
        let mut scopes = scopes.to_vec();
        scopes.sort();
        scopes.dedup();
        CacheKey {
            identity: self.source.identity(),
            scopes,
        }
    }

    async fn get_token_(&self, scopes: &[String]) -> Result<AccessToken, TokenError> {
        let key = self.key(scopes);
        let entry = self.entry(&key);
        let requested_at = Instant::now();

        // Fast path: a valid token that is not yet due for refresh.
        let stale = {
            let state = entry.state();
            let now = unix_now_ms();
            match &state.current {
                Some(cached) if cached.is_usable(now) && !cached.is_refresh_due(now) => {
                    return Ok(cached.token.clone());
                }
                Some(cached) if cached.is_usable(now) => Some(cached.token.clone()),
                _ => None,
            }
        };

        if let Some(stale) = stale {
            return Ok(self.refresh_or_keep(&key, &entry, stale).await);
        }

        self.fetch_cold(&key, &entry, requested_at).await
    }

    /// Refreshes a token that is due, unless another caller is already doing so, and
    /// falls back to `stale` (still valid) when the refresh fails.
    async fn refresh_or_keep(
        &self,
        key: &CacheKey,
        entry: &Entry,
        stale: AccessToken,
    ) -> AccessToken {
        let Ok(_guard) = entry.fetch_lock.try_lock() else {
            return stale;
        };

        // Another caller may have finished a refresh between our check and the lock.
        {
            let state = entry.state();
            if let Some(cached) = &state.current
                && !cached.is_refresh_due(unix_now_ms())
            {
                return cached.token.clone();
            }
        }

        match fetch_with_retry(self.source.as_ref(), &key.scopes, self.policy).await {
            Ok(token) => {
                tracing::info!(identity = %key.identity, scopes = ?key.scopes, expires_on = token.expires_on, "access token refreshed");
                entry.store(&token);
                token
            }
            Err(error) => {
                let retry_after = retry_delay(&error);
                tracing::warn!(identity = %key.identity, scopes = ?key.scopes, error = %error, retry_in_s = retry_after.as_secs(), expires_on = stale.expires_on, "access token refresh failed, keeping the current token");
                if let Some(cached) = entry.state().current.as_mut() {
                    cached.retry_refresh_at = Some(Instant::now() + retry_after);
                }
                stale
            }
        }
    }

    /// Fetches a token when none is valid, one caller at a time.
    async fn fetch_cold(
        &self,
        key: &CacheKey,
        entry: &Entry,
        requested_at: Instant,
    ) -> Result<AccessToken, TokenError> {
        let _guard = entry.fetch_lock.lock().await;

        // The caller that held the lock before us may have fetched a token, or failed
        // after we started waiting; either result is ours too.
        {
            let state = entry.state();
            if let Some(cached) = &state.current
                && cached.is_usable(unix_now_ms())
            {
                return Ok(cached.token.clone());
            }
            if let Some((failed_at, error)) = &state.last_failure
                && *failed_at >= requested_at
            {
                return Err(error.clone());
            }
        }

        match fetch_with_retry(self.source.as_ref(), &key.scopes, self.policy).await {
            Ok(token) => {
                tracing::info!(identity = %key.identity, scopes = ?key.scopes, expires_on = token.expires_on, "access token fetched");
                entry.store(&token);
                Ok(token)
            }
            Err(error) => {
                tracing::warn!(identity = %key.identity, scopes = ?key.scopes, error = %error, "access token fetch failed");
                entry.state().last_failure = Some((Instant::now(), error.clone()));
                Err(error)
            }
        }
    }

    async fn refresh_rejected_(&self, password: &Secret) -> Option<AccessToken> {
        let rejected = digest(password);
        let (key, entry) = self.find_entry(&rejected)?;
        let _guard = entry.fetch_lock.lock().await;

        // Another caller may have replaced the rejected token while we waited.
        {
            let state = entry.state();
            if let Some(cached) = &state.current
                && cached.digest != rejected
                && cached.is_usable(unix_now_ms())
            {
                return Some(cached.token.clone());
            }
        }

        // The rejected token stays cached until a replacement arrives: pooled connections
        // that logged in with it still work, so dropping it would fail every request while
        // the endpoint is slow or down.
        tracing::warn!(identity = %key.identity, scopes = ?key.scopes, "the database rejected a cached access token, fetching a new one");
        match fetch_with_retry(self.source.as_ref(), &key.scopes, self.policy).await {
            Ok(token) => {
                entry.store(&token);
                Some(token)
            }
            Err(error) => {
                let retry_after = retry_delay(&error);
                tracing::warn!(identity = %key.identity, scopes = ?key.scopes, error = %error, retry_in_s = retry_after.as_secs(), "fetching a replacement for a rejected access token failed");
                if let Some(cached) = entry.state().current.as_mut()
                    && cached.digest == rejected
                {
                    cached.refresh_at_ms = 0;
                    cached.retry_refresh_at = Some(Instant::now() + retry_after);
                }
                None
            }
        }
    }

    /// Finds the entry whose current or previous token has digest `rejected`.
    fn find_entry(&self, rejected: &TokenDigest) -> Option<(CacheKey, Arc<Entry>)> {
        let entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        entries
            .iter()
            .find(|(_, entry)| {
                let state = entry.state();
                let is_current = state
                    .current
                    .as_ref()
                    .is_some_and(|cached| cached.digest == *rejected);
                is_current || state.previous_digest == Some(*rejected)
            })
            .map(|(key, entry)| (key.clone(), entry.clone()))
    }
}

impl TokenProvider for CachingProvider {
    fn get_token<'a>(
        &'a self,
        scopes: &'a [String],
    ) -> TokenFuture<'a, Result<AccessToken, TokenError>> {
        Box::pin(self.get_token_(scopes))
    }

    fn refresh_rejected<'a>(
        &'a self,
        password: &'a Secret,
    ) -> TokenFuture<'a, Option<AccessToken>> {
        Box::pin(self.refresh_rejected_(password))
    }

    fn describe(&self) -> String {
        self.source.describe()
    }
}

impl std::fmt::Debug for CachingProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let cached = self
            .entries
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len();
        f.debug_struct("CachingProvider")
            .field("source", &self.source.describe())
            .field("policy", &self.policy)
            .field("cached_keys", &cached)
            .finish()
    }
}

/// Returns how long to wait before the next refresh after `error`.
fn retry_delay(error: &TokenError) -> Duration {
    match error {
        TokenError::Unavailable { retry_after, .. } => (*retry_after).max(MIN_REFRESH_RETRY),
        _ => MIN_REFRESH_RETRY,
    }
}

/// Milliseconds since the Unix epoch.
fn unix_now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .as_millis() as u64
}

fn digest(secret: &Secret) -> TokenDigest {
    Sha256::digest(secret.expose().as_bytes()).into()
}
