//! Access tokens for the component's `token` import.
//!
//! A [`TokenProvider`] turns a list of scopes into a token. Providers are chosen at start
//! from the configuration; the WIT glue only sees this trait.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use crate::secret::Secret;

/// A future returned by a [`TokenProvider`].
pub type TokenFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// An access token with its expiry.
#[derive(Clone, Debug)]
pub struct AccessToken {
    /// The token itself.
    pub token: Secret,
    /// Expiry as Unix time in seconds.
    pub expires_on: u64,
}

/// Reason a provider returned no token. Messages never contain a credential.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TokenError {
    /// No source applies here, or the scope is not served. Retrying does not help.
    NotConfigured(String),
    /// The identity endpoint rejected the request. Retrying does not help.
    Denied(String),
    /// A temporary failure; the caller may retry after `retry_after`.
    Unavailable {
        message: String,
        retry_after: Duration,
    },
}

impl std::fmt::Display for TokenError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TokenError::NotConfigured(message) => {
                write!(f, "token source not configured: {message}")
            }
            TokenError::Denied(message) => write!(f, "token request denied: {message}"),
            TokenError::Unavailable {
                message,
                retry_after,
            } => write!(
                f,
                "token endpoint unavailable: {message} (retry after {} s)",
                retry_after.as_secs()
            ),
        }
    }
}

impl std::error::Error for TokenError {}

/// Supplies access tokens to components.
pub trait TokenProvider: Send + Sync + 'static {
    /// Returns a token valid for all of `scopes`, from a cache where the provider has one.
    fn get_token<'a>(
        &'a self,
        scopes: &'a [String],
    ) -> TokenFuture<'a, Result<AccessToken, TokenError>>;

    /// Called when the database rejected `password` at login. When `password` is a token
    /// this provider issued, the provider drops it, fetches a new one and returns it, so
    /// the caller can retry the login once. Returns `None` for passwords it never issued.
    fn refresh_rejected<'a>(
        &'a self,
        password: &'a Secret,
    ) -> TokenFuture<'a, Option<AccessToken>> {
        let _ = password;
        Box::pin(async { None })
    }

    /// A short description for the start-up log, such as `static (from KEYLESS_STATIC_TOKEN)`.
    /// Never contains a credential.
    fn describe(&self) -> String;
}

pub mod app_service;
pub mod azure_cli;
pub mod cache;
pub mod config;
pub mod imds;
pub mod response;
pub mod retry;
pub mod select;
pub mod source;
pub mod static_source;
pub mod workload_identity;

pub use config::{TokenArgs, TokenSourceKind};
