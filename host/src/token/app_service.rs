//! The App Service and Azure Functions managed identity endpoint.
//!
//! The platform sets `IDENTITY_ENDPOINT` (a URL on the local machine) and `IDENTITY_HEADER`
//! (a shared secret it rotates). A request is
//! `GET $IDENTITY_ENDPOINT?resource=<uri>&api-version=2019-08-01` with the header
//! `X-IDENTITY-HEADER: $IDENTITY_HEADER`; optional `client_id`, `principal_id` or
//! `mi_res_id` select a user-assigned identity.
//!
//! The `azure_identity` crate (1.0) implements this protocol too, but it is not used here.
//! Its credentials keep their own token cache that callers cannot invalidate, so a token
//! the database rejected would be handed out again until it expired. It also rejects a
//! numeric `expires_on`, and it retries on its own schedule, which would stack on top of
//! the retry budget in [`super::retry`].

use reqwest::header::HeaderValue;

use super::response::{read_http_reply, send_error};
use super::source::{
    EnvLookup, FetchError, TokenSource, UserAssignedId, direct_http_client, scopes_to_resource,
};
use super::{AccessToken, TokenFuture};

/// Variable holding the endpoint URL.
pub const IDENTITY_ENDPOINT_VAR: &str = "IDENTITY_ENDPOINT";

/// Variable holding the value of the `X-IDENTITY-HEADER` request header.
pub const IDENTITY_HEADER_VAR: &str = "IDENTITY_HEADER";

/// The protocol version this source speaks.
pub const API_VERSION: &str = "2019-08-01";

/// Fetches tokens from the App Service managed identity endpoint.
pub struct AppServiceSource {
    endpoint: reqwest::Url,
    user_assigned: Option<UserAssignedId>,
    env: EnvLookup,
    client: reqwest::Client,
}

impl AppServiceSource {
    /// Creates a source for `endpoint`. `env` is read on every request for
    /// `IDENTITY_HEADER`, because the platform rotates that value.
    pub fn new(
        endpoint: &str,
        user_assigned: Option<UserAssignedId>,
        env: EnvLookup,
    ) -> Result<Self, FetchError> {
        let endpoint = reqwest::Url::parse(endpoint).map_err(|error| {
            FetchError::NotConfigured(format!(
                "{IDENTITY_ENDPOINT_VAR} is not a valid URL ({endpoint:?}: {error}); the platform sets it to a URL such as http://localhost:8081/msi/token"
            ))
        })?;

        Ok(Self {
            endpoint,
            user_assigned,
            env,
            client: direct_http_client()?,
        })
    }

    /// Creates a source from `IDENTITY_ENDPOINT` in `env`, or returns `None` when it or
    /// `IDENTITY_HEADER` is unset.
    pub fn from_env(
        user_assigned: Option<UserAssignedId>,
        env: EnvLookup,
    ) -> Option<Result<Self, FetchError>> {
        let endpoint = env(IDENTITY_ENDPOINT_VAR)?;
        env(IDENTITY_HEADER_VAR)?;
        Some(Self::new(&endpoint, user_assigned, env))
    }

    fn request_url(&self, resource: &str) -> reqwest::Url {
        let mut url = self.endpoint.clone();
        {
            let mut query = url.query_pairs_mut();
            query.append_pair("resource", resource);
            query.append_pair("api-version", API_VERSION);
            match &self.user_assigned {
                None => {}
                Some(UserAssignedId::ClientId(id)) => {
                    query.append_pair("client_id", id);
                }
                Some(UserAssignedId::ObjectId(id)) => {
                    query.append_pair("principal_id", id);
                }
                Some(UserAssignedId::ResourceId(id)) => {
                    query.append_pair("mi_res_id", id);
                }
            }
        }
        url
    }

    /// Reads `IDENTITY_HEADER` now, not at start, because the platform rotates it.
    fn identity_header(&self) -> Result<HeaderValue, FetchError> {
        let value = (self.env)(IDENTITY_HEADER_VAR).ok_or_else(|| {
            FetchError::NotConfigured(format!(
                "{IDENTITY_HEADER_VAR} is not set; the App Service platform sets it when a managed identity is enabled"
            ))
        })?;

        let mut header = HeaderValue::from_str(&value).map_err(|_| {
            FetchError::NotConfigured(format!(
                "{IDENTITY_HEADER_VAR} contains characters not allowed in an HTTP header"
            ))
        })?;
        header.set_sensitive(true);
        Ok(header)
    }
}

impl TokenSource for AppServiceSource {
    fn fetch<'a>(
        &'a self,
        scopes: &'a [String],
    ) -> TokenFuture<'a, Result<AccessToken, FetchError>> {
        Box::pin(async move {
            let resource = scopes_to_resource(scopes)?;
            let header = self.identity_header()?;

            let response = self
                .client
                .get(self.request_url(&resource))
                .header("X-IDENTITY-HEADER", header)
                .send()
                .await
                .map_err(|error| send_error(error, "the App Service identity endpoint"))?;

            read_http_reply(response, "the App Service identity endpoint").await
        })
    }

    fn identity(&self) -> String {
        match &self.user_assigned {
            None => "app-service system-assigned".to_owned(),
            Some(id) => format!("app-service {}", id.label()),
        }
    }

    fn describe(&self) -> String {
        format!("app-service ({}, {})", self.endpoint, self.identity())
    }
}

impl std::fmt::Debug for AppServiceSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppServiceSource")
            .field("endpoint", &self.endpoint.as_str())
            .field("user_assigned", &self.user_assigned)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    fn source(user_assigned: Option<UserAssignedId>) -> AppServiceSource {
        let env: EnvLookup = Arc::new(|_| Some("header-value".to_owned()));
        AppServiceSource::new("http://127.0.0.1:9/msi/token", user_assigned, env).unwrap()
    }

    #[test]
    fn url_for_system_assigned() {
        let url = source(None).request_url("https://ossrdbms-aad.database.windows.net");

        assert_eq!(
            url.as_str(),
            "http://127.0.0.1:9/msi/token?resource=https%3A%2F%2Fossrdbms-aad.database.windows.net&api-version=2019-08-01"
        );
    }

    #[test]
    fn url_for_user_assigned() {
        let by_object = source(Some(UserAssignedId::ObjectId("o-1".into()))).request_url("r");
        let by_resource =
            source(Some(UserAssignedId::ResourceId("/sub/x".into()))).request_url("r");

        assert!(
            by_object.as_str().ends_with("&principal_id=o-1"),
            "{by_object}"
        );
        assert!(
            by_resource.as_str().ends_with("&mi_res_id=%2Fsub%2Fx"),
            "{by_resource}"
        );
    }

    #[test]
    fn debug_hides_header() {
        let text = format!("{:?}", source(None));

        assert!(!text.contains("header-value"), "{text}");
    }

    #[test]
    fn invalid_endpoint_names_variable() {
        let env: EnvLookup = Arc::new(|_| None);

        let error = AppServiceSource::new("not a url", None, env).unwrap_err();

        assert!(error.to_string().contains("IDENTITY_ENDPOINT"), "{error}");
    }
}
