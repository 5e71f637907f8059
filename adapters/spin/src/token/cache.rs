//! Tokens kept for the life of one component instance.
//!
//! Spin 4.0 creates a fresh instance for each HTTP request, so a token cached here is
//! reused only by later calls within the same request. Each request therefore calls the
//! identity endpoint again. On App Service that endpoint runs on the same machine and
//! caches tokens itself.

use super::wit::AccessToken;

/// Refresh at the latest this many seconds before expiry.
const REFRESH_MARGIN_SECONDS: u64 = 300;

/// A cached token and when it was fetched.
#[derive(Clone)]
pub struct CachedToken {
    /// The token; never logged.
    pub token: AccessToken,
    /// Unix seconds when it was fetched.
    pub fetched_at: u64,
}

impl CachedToken {
    /// When the token should be replaced: halfway through its lifetime or five minutes
    /// before expiry, whichever comes first.
    pub fn refresh_at(&self) -> u64 {
        let lifetime = self.token.expires_on.saturating_sub(self.fetched_at);
        let halfway = self.fetched_at + lifetime / 2;
        halfway.min(self.token.expires_on.saturating_sub(REFRESH_MARGIN_SECONDS))
    }

    /// Checks whether the token can be used without calling the endpoint.
    pub fn is_fresh(&self, now: u64) -> bool {
        now < self.refresh_at()
    }

    /// Checks whether the token has not expired yet, which matters when a refresh fails.
    pub fn is_valid(&self, now: u64) -> bool {
        now < self.token.expires_on
    }
}

/// Tokens by their scope list.
#[derive(Default)]
pub struct TokenCache {
    entries: Vec<(Vec<String>, CachedToken)>,
}

impl TokenCache {
    /// Returns the token cached for `scopes`, if any.
    pub fn get(&self, scopes: &[String]) -> Option<&CachedToken> {
        self.entries.iter().find(|(key, _)| key == scopes).map(|(_, cached)| cached)
    }

    /// Stores `token` for `scopes`, replacing an older one.
    pub fn put(&mut self, scopes: &[String], token: CachedToken) {
        self.entries.retain(|(key, _)| key != scopes);
        self.entries.push((scopes.to_vec(), token));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cached(fetched_at: u64, expires_on: u64) -> CachedToken {
        CachedToken {
            token: AccessToken {
                token: "tok".to_owned(),
                expires_on,
            },
            fetched_at,
        }
    }

    #[test]
    fn day_long_token_refreshes_at_halfway() {
        let token = cached(1_000, 1_000 + 86_400);
        assert_eq!(token.refresh_at(), 1_000 + 43_200);
        assert!(token.is_fresh(1_000 + 43_199));
        assert!(!token.is_fresh(1_000 + 43_200));
    }

    #[test]
    fn short_token_refreshes_before_margin() {
        let token = cached(1_000, 1_000 + 400);
        assert_eq!(token.refresh_at(), 1_100);
    }

    #[test]
    fn stale_token_stays_valid_until_expiry() {
        let token = cached(1_000, 2_000);
        assert!(!token.is_fresh(1_999));
        assert!(token.is_valid(1_999));
        assert!(!token.is_valid(2_000));
    }

    #[test]
    fn cache_is_keyed_by_scopes() {
        let mut cache = TokenCache::default();
        let scopes = vec!["a".to_owned()];
        cache.put(&scopes, cached(1, 2));
        cache.put(&scopes, cached(1, 3));
        assert_eq!(cache.get(&scopes).unwrap().token.expires_on, 3);
        assert!(cache.get(&["b".to_owned()]).is_none());
    }
}
