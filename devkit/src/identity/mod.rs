//! A loopback emulator of the Azure managed identity and Entra token endpoints.
//!
//! It speaks three protocols on one port:
//!
//! - App Service: `GET /msi/token?resource=<uri>&api-version=2019-08-01` with
//!   `X-IDENTITY-HEADER`. A missing header is a 400 and a wrong one a 401, in App
//!   Service's `{"statusCode", "message"}` shape.
//! - IMDS: `GET /metadata/identity/oauth2/token?api-version=..&resource=..` with
//!   `Metadata: true`, replying with every value as a string.
//! - Workload identity: `POST /{tenant}/oauth2/v2.0/token` with a form-encoded client
//!   assertion, replying with `expires_in` as a number.
//!
//! Tokens are random and JWT-shaped. Tests can queue failures (429 with `Retry-After`,
//! 410, 500, slow replies), rotate the expected `X-IDENTITY-HEADER`, change the token
//! lifetime and the `expires_on` format, count calls, and install a hook that makes every
//! issued token a PostgreSQL role's password until the token's expiry.
//!
//! ```no_run
//! # async fn example() -> anyhow::Result<()> {
//! use keyless_devkit::identity::{self, EmulatorConfig, Failure};
//!
//! let emulator = identity::start(EmulatorConfig::default()).await?;
//! emulator.push_failure(Failure::throttled(1));
//! println!("IDENTITY_ENDPOINT={}", emulator.app_service_endpoint());
//! println!("IDENTITY_HEADER={}", emulator.identity_header());
//! # Ok(())
//! # }
//! ```

mod config;
mod handle;
mod jwt;
mod server;
mod state;

use std::sync::Arc;

use anyhow::Context;

pub use config::{EmulatorConfig, ExpiresOnFormat, Failure, HookFuture, IssueHook, IssuedToken};
pub use handle::EmulatorHandle;
pub use jwt::random_token;
pub use state::RecordedRequest;

/// Starts the emulator on `config.listen` and returns once it accepts connections.
pub async fn start(config: EmulatorConfig) -> anyhow::Result<EmulatorHandle> {
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .with_context(|| {
            format!(
                "failed to listen on {} for the identity emulator",
                config.listen
            )
        })?;
    let addr = listener
        .local_addr()
        .context("failed to read the identity emulator's address")?;

    let shared = Arc::new(state::Shared::new(config));
    let server = tokio::spawn(server::serve(listener, shared.clone()));
    tracing::info!(%addr, "identity emulator listening");

    Ok(EmulatorHandle {
        addr,
        shared,
        server,
        background: None,
    })
}

/// Starts the emulator on a thread with its own Tokio runtime and returns once it accepts
/// connections. The issue hook runs on that runtime too.
///
/// A real identity endpoint is another process, so a busy test runtime does not slow its
/// replies. With [`start`] on the test's runtime, CPU-heavy work such as WebAssembly
/// requests can delay the emulator past a client's timeout. Dropping the handle stops the
/// thread's runtime.
pub fn start_in_background(config: EmulatorConfig) -> anyhow::Result<EmulatorHandle> {
    let (ready_sender, ready_receiver) = std::sync::mpsc::channel();
    let (stop_sender, stop_receiver) = tokio::sync::oneshot::channel::<()>();

    std::thread::Builder::new()
        .name("identity-emulator".to_owned())
        .spawn(move || {
            let runtime = match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(runtime) => runtime,
                Err(error) => {
                    let error =
                        anyhow::Error::new(error).context("failed to build the emulator's runtime");
                    let _ = ready_sender.send(Err(error));
                    return;
                }
            };
            runtime.block_on(async move {
                let started = start(config).await;
                let is_running = started.is_ok();
                let _ = ready_sender.send(started);
                if is_running {
                    let _ = stop_receiver.await;
                }
            });
        })
        .context("failed to start the identity emulator's thread")?;

    let mut handle = ready_receiver
        .recv()
        .context("the identity emulator's thread ended before it started")??;
    handle.background = Some(stop_sender);
    Ok(handle)
}

/// Builds an [`IssueHook`] from an async function of the token and its expiry.
pub fn hook<F, Fut>(function: F) -> IssueHook
where
    F: Fn(String, std::time::SystemTime) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = Result<(), String>> + Send + 'static,
{
    Arc::new(move |issued: IssuedToken| -> HookFuture {
        Box::pin(function(issued.token, issued.expires_on))
    })
}
