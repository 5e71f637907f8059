//! The seam between the cache and the places tokens come from.
//!
//! A [`TokenSource`] makes one request to one identity endpoint (or runs the Azure CLI
//! once) and classifies the outcome. Retries live in [`super::retry`] and caching in
//! [`super::cache`], so every source gets the same policy.

use std::sync::Arc;

use super::{AccessToken, TokenFuture};

/// The reason a single fetch failed. Messages never contain a credential.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FetchError {
    /// A failure worth retrying: 404, 410, 429, 5xx, a connect error or a timeout.
    /// `retry_after` is the endpoint's `Retry-After`, when it sent one.
    Retryable {
        message: String,
        retry_after: Option<std::time::Duration>,
    },
    /// The endpoint rejected the request (any other 4xx, a failed `az` call).
    Denied(String),
    /// The source cannot work with this configuration (missing variable or file).
    NotConfigured(String),
}

impl std::fmt::Display for FetchError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FetchError::Retryable { message, .. } => f.write_str(message),
            FetchError::Denied(message) => f.write_str(message),
            FetchError::NotConfigured(message) => f.write_str(message),
        }
    }
}

/// One place tokens come from: an identity endpoint or a local tool.
pub trait TokenSource: Send + Sync + 'static {
    /// Requests a token for `scopes` once, without retrying.
    fn fetch<'a>(
        &'a self,
        scopes: &'a [String],
    ) -> TokenFuture<'a, Result<AccessToken, FetchError>>;

    /// Returns the identity the tokens belong to, for example `app-service system-assigned`.
    /// Part of the cache key. Never contains a credential.
    fn identity(&self) -> String;

    /// Returns a short description for the start-up log. Never contains a credential.
    fn describe(&self) -> String;
}

/// A user-assigned managed identity, chosen by one of its three identifiers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum UserAssignedId {
    /// The identity's client (application) ID.
    ClientId(String),
    /// The identity's object (principal) ID.
    ObjectId(String),
    /// The identity's Azure resource ID, `/subscriptions/.../userAssignedIdentities/<name>`.
    ResourceId(String),
}

impl UserAssignedId {
    /// Returns a label for logs and cache keys, such as `client_id=0b1c...`. IDs are not secrets.
    pub fn label(&self) -> String {
        match self {
            UserAssignedId::ClientId(id) => format!("client_id={id}"),
            UserAssignedId::ObjectId(id) => format!("object_id={id}"),
            UserAssignedId::ResourceId(id) => format!("resource_id={id}"),
        }
    }
}

/// Reads an environment variable. Sources take one so tests can supply values without
/// changing the process environment.
pub type EnvLookup = Arc<dyn Fn(&str) -> Option<String> + Send + Sync>;

/// Returns an [`EnvLookup`] over the process environment that treats empty values as unset.
pub fn process_env() -> EnvLookup {
    Arc::new(|name| std::env::var(name).ok().filter(|value| !value.is_empty()))
}

/// Builds the HTTP client for identity endpoints on the local machine or network. It
/// ignores `HTTP_PROXY`/`HTTPS_PROXY`, because these endpoints must be reached directly.
pub fn direct_http_client() -> Result<reqwest::Client, FetchError> {
    reqwest::Client::builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(|error| {
            FetchError::NotConfigured(format!("creating the HTTP client failed: {error}"))
        })
}

/// Turns a scope list into the single `resource` that managed identity endpoints take.
///
/// Managed identity endpoints issue a token for one resource, so more than one scope is
/// rejected. A trailing `/.default` is removed: `https://ossrdbms-aad.database.windows.net/.default`
/// becomes `https://ossrdbms-aad.database.windows.net`.
pub fn scopes_to_resource(scopes: &[String]) -> Result<String, FetchError> {
    let [scope] = scopes else {
        return Err(FetchError::NotConfigured(format!(
            "managed identity tokens cover exactly one scope, but {} were requested ({}); request one scope such as https://ossrdbms-aad.database.windows.net/.default",
            scopes.len(),
            scopes.join(" ")
        )));
    };

    let resource = scope.strip_suffix("/.default").unwrap_or(scope);
    if resource.is_empty() {
        return Err(FetchError::NotConfigured(format!(
            "invalid scope {scope:?}: it names no resource"
        )));
    }
    Ok(resource.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resource_strips_default_suffix() {
        let scopes = vec!["https://ossrdbms-aad.database.windows.net/.default".to_owned()];

        assert_eq!(
            scopes_to_resource(&scopes).unwrap(),
            "https://ossrdbms-aad.database.windows.net"
        );
    }

    #[test]
    fn resource_keeps_plain_resource() {
        let scopes = vec!["https://management.azure.com".to_owned()];

        assert_eq!(
            scopes_to_resource(&scopes).unwrap(),
            "https://management.azure.com"
        );
    }

    #[test]
    fn resource_rejects_two_scopes() {
        let scopes = vec!["a/.default".to_owned(), "b/.default".to_owned()];

        assert!(matches!(
            scopes_to_resource(&scopes),
            Err(FetchError::NotConfigured(_))
        ));
        assert!(matches!(
            scopes_to_resource(&[]),
            Err(FetchError::NotConfigured(_))
        ));
    }
}
