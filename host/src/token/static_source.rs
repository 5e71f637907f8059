//! A fixed token or password for local databases.

use std::path::PathBuf;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::secret::Secret;

use super::{AccessToken, TokenError, TokenFuture, TokenProvider};

/// Name of the variable that contains a static token. It is read from the environment only,
/// never from a flag, so the value does not show up in process listings.
pub const STATIC_TOKEN_VAR: &str = "KEYLESS_STATIC_TOKEN";

/// How long a static token is reported as valid, counted from each request.
const STATIC_TOKEN_LIFETIME: Duration = Duration::from_secs(3600);

/// Source of the static token.
#[derive(Clone, Debug)]
pub enum StaticToken {
    /// A value read once at start from `KEYLESS_STATIC_TOKEN`.
    Value(Secret),
    /// A file read on every request.
    File(PathBuf),
}

/// Returns the same token for every scope. Its expiry is reported as one hour from now.
#[derive(Debug)]
pub struct StaticTokenProvider {
    source: StaticToken,
}

impl StaticTokenProvider {
    /// Creates a provider for `source`.
    pub fn new(source: StaticToken) -> Self {
        Self { source }
    }

    /// Builds a provider from `file` or, when it is `None`, from `KEYLESS_STATIC_TOKEN`.
    /// Returns `None` when neither is set.
    pub fn from_env(file: Option<PathBuf>) -> Option<Self> {
        if let Some(path) = file {
            return Some(Self::new(StaticToken::File(path)));
        }

        let value = std::env::var(STATIC_TOKEN_VAR)
            .ok()
            .filter(|value| !value.is_empty())?;
        Some(Self::new(StaticToken::Value(Secret::new(value))))
    }

    fn read(&self) -> Result<Secret, TokenError> {
        match &self.source {
            StaticToken::Value(secret) => Ok(secret.clone()),
            StaticToken::File(path) => {
                let content = std::fs::read_to_string(path).map_err(|error| {
                    TokenError::NotConfigured(format!(
                        "cannot read the static token file {}: {error}; set KEYLESS_STATIC_TOKEN_FILE to a readable file",
                        path.display()
                    ))
                })?;

                let token = content.trim_end_matches(['\r', '\n']);
                if token.is_empty() {
                    return Err(TokenError::NotConfigured(format!(
                        "the static token file {} is empty",
                        path.display()
                    )));
                }
                Ok(Secret::new(token))
            }
        }
    }
}

impl TokenProvider for StaticTokenProvider {
    fn get_token<'a>(
        &'a self,
        _scopes: &'a [String],
    ) -> TokenFuture<'a, Result<AccessToken, TokenError>> {
        Box::pin(async move {
            let token = self.read()?;
            let now = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .unwrap_or_default();
            Ok(AccessToken {
                token,
                expires_on: (now + STATIC_TOKEN_LIFETIME).as_secs(),
            })
        })
    }

    fn describe(&self) -> String {
        match &self.source {
            StaticToken::Value(_) => format!("static (from {STATIC_TOKEN_VAR})"),
            StaticToken::File(path) => format!("static (from file {})", path.display()),
        }
    }
}
