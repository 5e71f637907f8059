//! Workload identity: a federated token in a file, exchanged at the Entra token endpoint.
//!
//! Kubernetes (and any platform that projects a service account token) sets
//! `AZURE_FEDERATED_TOKEN_FILE`, `AZURE_CLIENT_ID`, `AZURE_TENANT_ID` and
//! `AZURE_AUTHORITY_HOST`. A request is a form POST to
//! `{authority}/{tenant}/oauth2/v2.0/token` with `grant_type=client_credentials`, the
//! client ID, `client_assertion_type=urn:ietf:params:oauth:client-assertion-type:jwt-bearer`,
//! the file's content as `client_assertion` and the space-separated `scope`. The reply
//! carries `expires_in` as a number.
//!
//! The file is read on every request because the platform replaces it before the
//! assertion expires. `azure_identity` (1.0) has a workload identity credential, but it
//! re-reads the file only every 10 minutes and retries through `azure_core`'s pipeline,
//! which would stack on top of the retry budget in [`super::retry`], so the exchange is
//! implemented here with `reqwest`.

use std::path::PathBuf;

use super::response::{read_http_reply, send_error};
use super::source::{EnvLookup, FetchError, TokenSource};
use super::{AccessToken, TokenFuture};

/// Variable naming the federated token file.
pub const FEDERATED_TOKEN_FILE_VAR: &str = "AZURE_FEDERATED_TOKEN_FILE";

/// Variable holding the application (client) ID the federated credential belongs to.
pub const CLIENT_ID_VAR: &str = "AZURE_CLIENT_ID";

/// Variable holding the Entra tenant ID.
pub const TENANT_ID_VAR: &str = "AZURE_TENANT_ID";

/// Variable holding the Entra authority, for other clouds or a test endpoint.
pub const AUTHORITY_HOST_VAR: &str = "AZURE_AUTHORITY_HOST";

/// The public cloud's authority, used when `AZURE_AUTHORITY_HOST` is unset.
pub const DEFAULT_AUTHORITY: &str = "https://login.microsoftonline.com/";

const ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// Fetches tokens by exchanging a federated token file.
pub struct WorkloadIdentitySource {
    token_url: reqwest::Url,
    client_id: String,
    tenant_id: String,
    token_file: PathBuf,
    client: reqwest::Client,
}

impl WorkloadIdentitySource {
    /// Creates a source. `authority` is a URL such as `https://login.microsoftonline.com/`.
    pub fn new(
        authority: &str,
        tenant_id: &str,
        client_id: &str,
        token_file: PathBuf,
    ) -> Result<Self, FetchError> {
        if tenant_id.is_empty()
            || !tenant_id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.')
        {
            return Err(FetchError::NotConfigured(format!(
                "{TENANT_ID_VAR} {tenant_id:?} is not a tenant ID; expected a GUID or a domain such as contoso.onmicrosoft.com"
            )));
        }

        let authority = format!("{}/", authority.trim_end_matches('/'));
        let token_url = reqwest::Url::parse(&authority)
            .and_then(|base| base.join(&format!("{tenant_id}/oauth2/v2.0/token")))
            .map_err(|error| {
                FetchError::NotConfigured(format!(
                    "{AUTHORITY_HOST_VAR} {authority:?} is not a valid URL ({error}); the public cloud's is {DEFAULT_AUTHORITY}"
                ))
            })?;

        // Entra is reached over the internet, possibly through a proxy, so this client
        // keeps reqwest's proxy support.
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|error| {
                FetchError::NotConfigured(format!("creating the HTTP client failed: {error}"))
            })?;

        Ok(Self {
            token_url,
            client_id: client_id.to_owned(),
            tenant_id: tenant_id.to_owned(),
            token_file,
            client,
        })
    }

    /// Creates a source from the `AZURE_*` variables in `env`, or returns `None` when
    /// `AZURE_FEDERATED_TOKEN_FILE`, `AZURE_CLIENT_ID` or `AZURE_TENANT_ID` is unset.
    pub fn from_env(env: &EnvLookup) -> Option<Result<Self, FetchError>> {
        let token_file = env(FEDERATED_TOKEN_FILE_VAR)?;
        let client_id = env(CLIENT_ID_VAR)?;
        let tenant_id = env(TENANT_ID_VAR)?;
        let authority = env(AUTHORITY_HOST_VAR).unwrap_or_else(|| DEFAULT_AUTHORITY.to_owned());
        Some(Self::new(
            &authority,
            &tenant_id,
            &client_id,
            PathBuf::from(token_file),
        ))
    }

    /// Reads the assertion now, because the platform rotates the file.
    async fn read_assertion(&self) -> Result<String, FetchError> {
        let content = tokio::fs::read_to_string(&self.token_file)
            .await
            .map_err(|error| {
                FetchError::NotConfigured(format!(
                    "cannot read the federated token file {} ({FEDERATED_TOKEN_FILE_VAR}): {error}",
                    self.token_file.display()
                ))
            })?;

        let assertion = content.trim();
        if assertion.is_empty() {
            return Err(FetchError::NotConfigured(format!(
                "the federated token file {} ({FEDERATED_TOKEN_FILE_VAR}) is empty",
                self.token_file.display()
            )));
        }
        Ok(assertion.to_owned())
    }
}

impl TokenSource for WorkloadIdentitySource {
    fn fetch<'a>(
        &'a self,
        scopes: &'a [String],
    ) -> TokenFuture<'a, Result<AccessToken, FetchError>> {
        Box::pin(async move {
            if scopes.is_empty() {
                return Err(FetchError::NotConfigured(
                    "no scope was requested".to_owned(),
                ));
            }
            let assertion = self.read_assertion().await?;
            let scope = scopes.join(" ");

            let form = [
                ("grant_type", "client_credentials"),
                ("client_id", self.client_id.as_str()),
                ("client_assertion_type", ASSERTION_TYPE),
                ("client_assertion", assertion.as_str()),
                ("scope", scope.as_str()),
            ];
            let response = self
                .client
                .post(self.token_url.clone())
                .form(&form)
                .send()
                .await
                .map_err(|error| send_error(error, "the Entra token endpoint"))?;

            read_http_reply(response, "the Entra token endpoint").await
        })
    }

    fn identity(&self) -> String {
        format!(
            "workload-identity tenant={} client_id={}",
            self.tenant_id, self.client_id
        )
    }

    fn describe(&self) -> String {
        format!(
            "workload-identity ({}, client_id={})",
            self.token_url, self.client_id
        )
    }
}

impl std::fmt::Debug for WorkloadIdentitySource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WorkloadIdentitySource")
            .field("token_url", &self.token_url.as_str())
            .field("client_id", &self.client_id)
            .field("token_file", &self.token_file)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_url_joins_authority_and_tenant() {
        for authority in [
            "https://login.microsoftonline.com",
            "https://login.microsoftonline.com/",
        ] {
            let source =
                WorkloadIdentitySource::new(authority, "t-1", "c-1", PathBuf::from("/x")).unwrap();

            assert_eq!(
                source.token_url.as_str(),
                "https://login.microsoftonline.com/t-1/oauth2/v2.0/token"
            );
        }
    }

    #[test]
    fn tenant_with_slash_rejected() {
        let error =
            WorkloadIdentitySource::new(DEFAULT_AUTHORITY, "a/../b", "c", PathBuf::from("/x"))
                .unwrap_err();

        assert!(error.to_string().contains("AZURE_TENANT_ID"), "{error}");
    }
}
