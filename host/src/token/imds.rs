//! The Azure Instance Metadata Service (IMDS) managed identity endpoint of virtual machines.
//!
//! A request is `GET <endpoint>?api-version=2018-02-01&resource=<uri>` with the header
//! `Metadata: true`; optional `client_id`, `object_id` or `msi_res_id` select a
//! user-assigned identity. The reply has `access_token`, `expires_in` and `expires_on`,
//! all as strings.
//!
//! The endpoint address is configurable. `azure_identity` (1.0) hard-codes
//! `169.254.169.254`, which tests cannot point at a loopback emulator, so this protocol is
//! implemented here with `reqwest`.

use super::response::{read_http_reply, send_error};
use super::source::{
    FetchError, TokenSource, UserAssignedId, direct_http_client, scopes_to_resource,
};
use super::{AccessToken, TokenFuture};

/// The IMDS token endpoint on Azure virtual machines. Used only when the IMDS source is
/// selected explicitly and no other address is configured.
pub const DEFAULT_ENDPOINT: &str = "http://169.254.169.254/metadata/identity/oauth2/token";

/// The path of the token endpoint below an IMDS host.
pub const TOKEN_PATH: &str = "/metadata/identity/oauth2/token";

/// Variable set by AAD Pod Identity to the host that answers IMDS requests in its place,
/// for example `http://10.0.0.4:2579`.
pub const POD_IDENTITY_HOST_VAR: &str = "AZURE_POD_IDENTITY_AUTHORITY_HOST";

/// The protocol version this source speaks.
pub const API_VERSION: &str = "2018-02-01";

/// Fetches tokens from an IMDS endpoint.
pub struct ImdsSource {
    endpoint: reqwest::Url,
    user_assigned: Option<UserAssignedId>,
    client: reqwest::Client,
}

impl ImdsSource {
    /// Creates a source for the token endpoint URL `endpoint`, such as
    /// `http://127.0.0.1:50342/metadata/identity/oauth2/token`. A URL with no path gets
    /// [`TOKEN_PATH`] appended.
    pub fn new(endpoint: &str, user_assigned: Option<UserAssignedId>) -> Result<Self, FetchError> {
        let mut endpoint = reqwest::Url::parse(endpoint).map_err(|error| {
            FetchError::NotConfigured(format!(
                "the IMDS endpoint {endpoint:?} is not a valid URL ({error}); give a URL such as {DEFAULT_ENDPOINT}"
            ))
        })?;
        if endpoint.path() == "/" || endpoint.path().is_empty() {
            endpoint.set_path(TOKEN_PATH);
        }

        Ok(Self {
            endpoint,
            user_assigned,
            client: direct_http_client()?,
        })
    }

    fn request_url(&self, resource: &str) -> reqwest::Url {
        let mut url = self.endpoint.clone();
        {
            let mut query = url.query_pairs_mut();
            query.append_pair("api-version", API_VERSION);
            query.append_pair("resource", resource);
            match &self.user_assigned {
                None => {}
                Some(UserAssignedId::ClientId(id)) => {
                    query.append_pair("client_id", id);
                }
                Some(UserAssignedId::ObjectId(id)) => {
                    query.append_pair("object_id", id);
                }
                Some(UserAssignedId::ResourceId(id)) => {
                    query.append_pair("msi_res_id", id);
                }
            }
        }
        url
    }
}

impl TokenSource for ImdsSource {
    fn fetch<'a>(
        &'a self,
        scopes: &'a [String],
    ) -> TokenFuture<'a, Result<AccessToken, FetchError>> {
        Box::pin(async move {
            let resource = scopes_to_resource(scopes)?;

            let response = self
                .client
                .get(self.request_url(&resource))
                .header("Metadata", "true")
                .send()
                .await
                .map_err(|error| send_error(error, "the IMDS endpoint"))?;

            read_http_reply(response, "the IMDS endpoint").await
        })
    }

    fn identity(&self) -> String {
        match &self.user_assigned {
            None => "imds system-assigned".to_owned(),
            Some(id) => format!("imds {}", id.label()),
        }
    }

    fn describe(&self) -> String {
        format!("imds ({}, {})", self.endpoint, self.identity())
    }
}

impl std::fmt::Debug for ImdsSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ImdsSource")
            .field("endpoint", &self.endpoint.as_str())
            .field("user_assigned", &self.user_assigned)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_only_endpoint_gets_token_path() {
        let source = ImdsSource::new("http://127.0.0.1:2579", None).unwrap();

        assert_eq!(
            source.endpoint.as_str(),
            "http://127.0.0.1:2579/metadata/identity/oauth2/token"
        );
    }

    #[test]
    fn url_for_user_assigned_client() {
        let source = ImdsSource::new(
            "http://127.0.0.1:9",
            Some(UserAssignedId::ClientId("c-1".into())),
        )
        .unwrap();

        let url = source.request_url("https://ossrdbms-aad.database.windows.net");

        assert_eq!(
            url.as_str(),
            "http://127.0.0.1:9/metadata/identity/oauth2/token?api-version=2018-02-01&resource=https%3A%2F%2Fossrdbms-aad.database.windows.net&client_id=c-1"
        );
    }
}
