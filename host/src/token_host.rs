//! The bindgen `keyless:host/token` trait for a request's store, backed by the process's
//! [`TokenProvider`](crate::token::TokenProvider).

use crate::bindings::wit_token::{AccessToken, Host, TokenError, UnavailableError};
use crate::state::RequestState;
use crate::token::TokenError as ProviderError;

impl Host for RequestState {
    async fn get_token(&mut self, scopes: Vec<String>) -> wasmtime::Result<Result<AccessToken, TokenError>> {
        match self.tokens.get_token(&scopes).await {
            Ok(token) => Ok(Ok(AccessToken {
                token: token.token.expose().to_owned(),
                expires_on: token.expires_on,
            })),
            Err(error) => {
                tracing::warn!(scopes = ?scopes, error = %error, "token request failed");
                Ok(Err(token_error_to_wit(error)))
            }
        }
    }
}

/// Maps a provider error onto the WIT `token-error`.
pub fn token_error_to_wit(error: ProviderError) -> TokenError {
    match error {
        ProviderError::NotConfigured(message) => TokenError::NotConfigured(message),
        ProviderError::Denied(message) => TokenError::Denied(message),
        ProviderError::Unavailable { message, retry_after } => TokenError::Unavailable(UnavailableError {
            message,
            retry_after_seconds: u32::try_from(retry_after.as_secs()).unwrap_or(u32::MAX),
        }),
    }
}
