//! Each token source against its protocol on the loopback identity emulator, or against a
//! stand-in `az` script.

mod token_support;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use keyless_devkit::identity::ExpiresOnFormat;
use keyless_host::token::app_service::AppServiceSource;
use keyless_host::token::azure_cli::AzureCliSource;
use keyless_host::token::cache::CachingProvider;
use keyless_host::token::imds::ImdsSource;
use keyless_host::token::retry::RetryPolicy;
use keyless_host::token::select::select_provider_with_env;
use keyless_host::token::source::{EnvLookup, UserAssignedId};
use keyless_host::token::workload_identity::WorkloadIdentitySource;
use keyless_host::token::{TokenArgs, TokenError, TokenProvider, TokenSourceKind};
use token_support::{SCOPE, app_service_provider, emulator, scopes};

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

#[tokio::test]
async fn app_service_expires_on_string() {
    let emulator = emulator(Duration::from_secs(3600)).await;
    emulator.set_expires_on_format(ExpiresOnFormat::String);
    let (provider, _header) = app_service_provider(&emulator);

    let token = provider.get_token(&scopes()).await.unwrap();

    let issued = &emulator.issued()[0];
    assert_eq!(token.token.expose(), issued.token);
    assert_eq!(
        token.expires_on,
        issued
            .expires_on
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs()
    );
}

#[tokio::test]
async fn app_service_expires_on_number() {
    let emulator = emulator(Duration::from_secs(3600)).await;
    emulator.set_expires_on_format(ExpiresOnFormat::Number);
    let (provider, _header) = app_service_provider(&emulator);

    let token = provider.get_token(&scopes()).await.unwrap();

    let issued = &emulator.issued()[0];
    assert_eq!(token.token.expose(), issued.token);
    assert_eq!(
        token.expires_on,
        issued
            .expires_on
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs()
    );
}

#[tokio::test]
async fn app_service_sends_current_header() {
    let emulator = emulator(Duration::from_secs(3600)).await;
    let (provider, header) = app_service_provider(&emulator);
    provider.get_token(&scopes()).await.unwrap();

    // The platform rotates IDENTITY_HEADER; the next request must carry the new value.
    emulator.set_identity_header("rotated-header-2");
    header.set("rotated-header-2");
    provider
        .get_token(&["https://management.azure.com/.default".to_owned()])
        .await
        .unwrap();

    let sent: Vec<_> = emulator
        .requests()
        .iter()
        .map(|r| r.identity_header.clone().unwrap())
        .collect();
    assert_eq!(sent, ["emulator-identity-header", "rotated-header-2"]);
    let request = &emulator.requests()[0];
    assert_eq!(request.query_param("api-version"), Some("2019-08-01"));
    assert_eq!(
        request.query_param("resource"),
        Some("https://ossrdbms-aad.database.windows.net")
    );
}

#[tokio::test]
async fn app_service_missing_header_denied() {
    let emulator = emulator(Duration::from_secs(3600)).await;
    let env: EnvLookup = Arc::new(|_| None);
    let source = AppServiceSource::new(&emulator.app_service_endpoint(), None, env).unwrap();
    let provider = CachingProvider::new(Arc::new(source), RetryPolicy::default());

    let error = provider.get_token(&scopes()).await.unwrap_err();

    assert!(
        matches!(&error, TokenError::NotConfigured(message) if message.contains("IDENTITY_HEADER")),
        "{error:?}"
    );
    assert_eq!(emulator.calls(), 0);
}

#[tokio::test]
async fn app_service_user_assigned_client_id() {
    let emulator = emulator(Duration::from_secs(3600)).await;
    let header = emulator.identity_header();
    let env: EnvLookup = Arc::new(move |_| Some(header.clone()));
    let identity = UserAssignedId::ClientId("0b1c2d3e-aaaa-bbbb-cccc-111122223333".to_owned());
    let source =
        AppServiceSource::new(&emulator.app_service_endpoint(), Some(identity), env).unwrap();
    let provider = CachingProvider::new(Arc::new(source), RetryPolicy::default());

    provider.get_token(&scopes()).await.unwrap();

    let request = &emulator.requests()[0];
    assert_eq!(
        request.query_param("client_id"),
        Some("0b1c2d3e-aaaa-bbbb-cccc-111122223333")
    );
}

#[tokio::test]
async fn imds_reads_string_values() {
    let emulator = emulator(Duration::from_secs(7200)).await;
    let source = ImdsSource::new(
        &emulator.imds_endpoint(),
        Some(UserAssignedId::ObjectId("obj-1".to_owned())),
    )
    .unwrap();
    let provider = CachingProvider::new(Arc::new(source), RetryPolicy::default());

    let token = provider.get_token(&scopes()).await.unwrap();

    let issued = &emulator.issued()[0];
    assert_eq!(token.token.expose(), issued.token);
    assert_eq!(
        token.expires_on,
        issued
            .expires_on
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs()
    );
    let request = &emulator.requests()[0];
    assert_eq!(request.metadata_header.as_deref(), Some("true"));
    assert_eq!(request.query_param("api-version"), Some("2018-02-01"));
    assert_eq!(request.query_param("object_id"), Some("obj-1"));
}

#[tokio::test]
async fn imds_selected_explicitly_uses_configured_endpoint() {
    let emulator = emulator(Duration::from_secs(3600)).await;
    let args = TokenArgs {
        token_source: TokenSourceKind::Imds,
        imds_endpoint: Some(emulator.url()),
        ..TokenArgs::default()
    };

    let provider = select_provider_with_env(&args, Arc::new(|_| None)).unwrap();
    provider.get_token(&scopes()).await.unwrap();

    assert_eq!(emulator.calls(), 1);
    assert_eq!(
        emulator.requests()[0].path,
        "/metadata/identity/oauth2/token"
    );
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "keyless-{name}-{}-{}",
        std::process::id(),
        unix_now()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[tokio::test]
async fn workload_identity_reads_assertion_each_time() {
    let emulator = emulator(Duration::from_secs(3600)).await;
    let dir = temp_dir("federated");
    let token_file = dir.join("token");
    std::fs::write(&token_file, "emulator-federated-assertion\n").unwrap();
    let source = WorkloadIdentitySource::new(
        &emulator.url(),
        &emulator.tenant_id(),
        &emulator.client_id(),
        token_file.clone(),
    )
    .unwrap();
    let provider = CachingProvider::new(Arc::new(source), RetryPolicy::default());

    let first = provider.get_token(&scopes()).await.unwrap();
    // The platform replaces the projected token file; the next exchange must use it.
    std::fs::write(&token_file, "rotated-assertion").unwrap();
    emulator.set_federated_assertion("rotated-assertion");
    let second = provider
        .refresh_rejected(&first.token)
        .await
        .expect("a new token after rotation");

    assert_ne!(first.token, second.token);
    assert_eq!(second.token.expose(), emulator.issued()[1].token);
    let requests = emulator.requests();
    assert_eq!(
        requests[0].path,
        format!("/{}/oauth2/v2.0/token", emulator.tenant_id())
    );
    assert_eq!(
        requests[0].form_field("client_assertion"),
        Some("emulator-federated-assertion")
    );
    assert_eq!(
        requests[1].form_field("client_assertion"),
        Some("rotated-assertion")
    );
    assert_eq!(
        requests[0].form_field("grant_type"),
        Some("client_credentials")
    );
    assert_eq!(requests[0].form_field("scope"), Some(SCOPE));
    let lifetime = first.expires_on - unix_now();
    assert!(
        (3590..=3600).contains(&lifetime),
        "expires_in gave a lifetime of {lifetime} s"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test]
async fn workload_identity_wrong_assertion_denied() {
    let emulator = emulator(Duration::from_secs(3600)).await;
    let dir = temp_dir("federated-wrong");
    let token_file = dir.join("token");
    std::fs::write(&token_file, "not-the-expected-assertion").unwrap();
    let source = WorkloadIdentitySource::new(
        &emulator.url(),
        &emulator.tenant_id(),
        &emulator.client_id(),
        token_file,
    )
    .unwrap();
    let provider = CachingProvider::new(Arc::new(source), RetryPolicy::default());

    let error = provider.get_token(&scopes()).await.unwrap_err();

    assert!(
        matches!(&error, TokenError::Denied(message) if message.contains("AADSTS700211")),
        "{error:?}"
    );
    assert!(!error.to_string().contains("not-the-expected-assertion"));
    assert_eq!(emulator.calls(), 1);
    std::fs::remove_dir_all(&dir).unwrap();
}

fn fake_az(dir: &Path, body: &str) -> PathBuf {
    let path = dir.join("az");
    std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).unwrap();
    std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    path
}

#[tokio::test]
async fn azure_cli_expires_on_number() {
    let dir = temp_dir("az-number");
    let expires_on = unix_now() + 3000;
    let args_file = dir.join("args");
    let script = format!(
        "echo \"$@\" > {}\necho '{{\"accessToken\":\"cli-token-1\",\"expiresOn\":\"2000-01-01 00:00:00.000000\",\"expires_on\":{expires_on},\"tokenType\":\"Bearer\"}}'",
        args_file.display()
    );
    let provider = CachingProvider::new(
        Arc::new(AzureCliSource::new(fake_az(&dir, &script))),
        RetryPolicy::default(),
    );

    let token = provider.get_token(&scopes()).await.unwrap();

    assert_eq!(token.token.expose(), "cli-token-1");
    assert_eq!(token.expires_on, expires_on);
    let args = std::fs::read_to_string(&args_file).unwrap();
    assert_eq!(
        args.trim(),
        format!("account get-access-token --output json --scope {SCOPE}")
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test]
async fn azure_cli_expires_on_local_date() {
    let dir = temp_dir("az-date");
    let script = "date -d '+50 minutes' '+{\"accessToken\":\"cli-token-2\",\"expiresOn\":\"%Y-%m-%d %H:%M:%S.000000\"}'";
    let provider = CachingProvider::new(
        Arc::new(AzureCliSource::new(fake_az(&dir, script))),
        RetryPolicy::default(),
    );

    let token = provider.get_token(&scopes()).await.unwrap();

    assert_eq!(token.token.expose(), "cli-token-2");
    let lifetime = token.expires_on as i64 - unix_now() as i64;
    assert!((2990..=3000).contains(&lifetime), "lifetime {lifetime} s");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test]
async fn azure_cli_failure_denied() {
    let dir = temp_dir("az-fail");
    let script = "echo \"ERROR: Please run 'az login' to setup account.\" >&2\nexit 1";
    let provider = CachingProvider::new(
        Arc::new(AzureCliSource::new(fake_az(&dir, script))),
        RetryPolicy::default(),
    );

    let error = provider.get_token(&scopes()).await.unwrap_err();

    assert!(
        matches!(&error, TokenError::Denied(message) if message.contains("az login")),
        "{error:?}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test]
async fn auto_finds_az_on_path() {
    let dir = temp_dir("az-path");
    fake_az(
        &dir,
        "echo '{\"accessToken\":\"cli-token-3\",\"expires_on\":4000000000}'",
    );
    let path = format!("/nonexistent:{}", dir.display());
    let env: EnvLookup = Arc::new(move |name| (name == "PATH").then(|| path.clone()));

    let provider = select_provider_with_env(&TokenArgs::default(), env).unwrap();
    let token = provider.get_token(&scopes()).await.unwrap();

    assert!(
        provider.describe().starts_with("azure-cli"),
        "{}",
        provider.describe()
    );
    assert_eq!(token.token.expose(), "cli-token-3");
    std::fs::remove_dir_all(&dir).unwrap();
}
