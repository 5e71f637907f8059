//! The exported `token` interface, reading Spin variables and calling the identity
//! endpoint through Spin's outbound HTTP.

use std::cell::RefCell;
use std::time::{SystemTime, UNIX_EPOCH};

use super::cache::{CachedToken, TokenCache};
use super::config::{TokenSource, token_source};
use super::reply::{DEFAULT_RETRY_AFTER_SECONDS, request_url, scopes_to_resource, token_from_reply};
use super::wit::{AccessToken, Guest, TokenError, UnavailableError};
use crate::Adapter;

/// Lifetime reported for a static token. The token has no known expiry, so one hour is
/// reported, as the custom-handler host does.
const STATIC_TOKEN_LIFETIME_SECONDS: u64 = 3600;

thread_local! {
    /// Tokens fetched by this instance. A component instance is single-threaded.
    static CACHE: RefCell<TokenCache> = RefCell::new(TokenCache::default());
}

impl Guest for Adapter {
    fn get_token(scopes: Vec<String>) -> Result<AccessToken, TokenError> {
        let now = unix_now();
        match token_source(|name| spin_sdk::variables::get(name).map_err(|error| error.to_string()))? {
            TokenSource::Static { token } => Ok(AccessToken {
                token,
                expires_on: now + STATIC_TOKEN_LIFETIME_SECONDS,
            }),
            TokenSource::AppService {
                endpoint,
                header,
                client_id,
            } => app_service_token(&scopes, &endpoint, &header, client_id.as_deref(), now),
        }
    }
}

/// Returns a cached token while it is fresh and fetches one otherwise. When the fetch fails
/// and the cached token has not expired, the cached token is returned.
fn app_service_token(
    scopes: &[String],
    endpoint: &str,
    header: &str,
    client_id: Option<&str>,
    now: u64,
) -> Result<AccessToken, TokenError> {
    let cached = CACHE.with_borrow(|cache| cache.get(scopes).cloned());
    if let Some(cached) = &cached
        && cached.is_fresh(now)
    {
        return Ok(cached.token.clone());
    }

    match fetch(scopes, endpoint, header, client_id, now) {
        Ok(token) => {
            let entry = CachedToken {
                token: token.clone(),
                fetched_at: now,
            };
            CACHE.with_borrow_mut(|cache| cache.put(scopes, entry));
            Ok(token)
        }
        Err(error) => match cached {
            Some(cached) if cached.is_valid(now) => Ok(cached.token),
            _ => Err(error),
        },
    }
}

fn fetch(
    scopes: &[String],
    endpoint: &str,
    header: &str,
    client_id: Option<&str>,
    now: u64,
) -> Result<AccessToken, TokenError> {
    let resource = scopes_to_resource(scopes)?;
    let url = request_url(endpoint, &resource, client_id);

    let request = spin_sdk::http::Request::get(url)
        .header("X-IDENTITY-HEADER", header)
        .build();
    // NOTE: spin-sdk 5.2's `send` sets no timeout, so a hanging endpoint blocks the request
    // until Spin's own limits end it.
    let response: spin_sdk::http::Response =
        spin_sdk::http::run(spin_sdk::http::send(request)).map_err(|error| {
            TokenError::Unavailable(UnavailableError {
                message: format!("calling the managed identity endpoint {endpoint} failed: {error}"),
                retry_after_seconds: DEFAULT_RETRY_AFTER_SECONDS,
            })
        })?;

    let retry_after = response.header("retry-after").and_then(|value| value.as_str());
    token_from_reply(*response.status(), retry_after, response.body(), now)
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_secs())
}
