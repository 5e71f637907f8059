//! `handler`: the Azure Functions custom handler executable.

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Instant;

use clap::Parser;
use keyless_host::Host;
use keyless_host::cli::{Cli, Command, PrecompileArgs};
use keyless_host::invocation::FunctionApp;
use keyless_host::precompiled::Source as ComponentSource;
use keyless_host::server::Routes;
use keyless_host::token::select::select_provider;
use keyless_host::token::{TokenArgs, TokenProvider};
use tokio::net::TcpListener;
use tracing::{error, info, warn};

fn main() -> ExitCode {
    keyless_host::logging::init();
    let cli = Cli::parse();

    if let Some(Command::Precompile(args)) = &cli.command {
        return precompile(args);
    }

    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(error) => {
            error!(error = %error, "cannot start the async runtime");
            return ExitCode::FAILURE;
        }
    };

    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            error!("{message}");
            eprintln!("handler: {message}");
            ExitCode::from(2)
        }
    }
}

/// `handler precompile`: writes the `.cwasm` file for the server's engine and prints its
/// path.
fn precompile(args: &PrecompileArgs) -> ExitCode {
    let started = Instant::now();
    let result = keyless_host::runtime::engine(None)
        .and_then(|engine| keyless_host::precompiled::precompile(&engine, &args.component, &args.output));
    match result {
        Ok(path) => {
            info!(
                component = %args.component.display(),
                file = %path.display(),
                compile_ms = started.elapsed().as_millis() as u64,
                "component precompiled"
            );
            println!("{}", path.display());
            ExitCode::SUCCESS
        }
        Err(error) => {
            error!(error = %format!("{error:#}"), "precompiling failed");
            eprintln!("handler precompile: {error:#}");
            ExitCode::from(2)
        }
    }
}

async fn run(cli: Cli) -> Result<(), String> {
    let started = Instant::now();
    let config = cli.host_config()?;
    let address = cli.listen_addr()?;
    info!(version = env!("CARGO_PKG_VERSION"), component = %config.component.display(), "starting");

    let tokens = token_provider(&cli.token)?;

    // host.json and the function.json files decide which requests arrive as JSON
    // invocations; without them only forwarded requests are served.
    let app_root = FunctionApp::default_root();
    let app = FunctionApp::load(&app_root)
        .map_err(|error| format!("{error}; fix the file or start the handler in the function app folder"))?;
    let json_functions: Vec<&str> = app
        .functions()
        .filter(|function| {
            !function.disabled && function.dispatch == keyless_host::invocation::Dispatch::JsonInvocation
        })
        .map(|function| function.name.as_str())
        .collect();
    info!(
        root = %app_root.display(),
        route_prefix = app.route_prefix(),
        forwarding = app.forwarding_enabled(),
        json_invocations = %json_functions.join(","),
        "function app loaded"
    );

    let host = Host::new(config, tokens).map_err(|error| format!("{error:#}"))?;
    let load_ms = host.load_time().as_millis() as u64;
    match host.component_source() {
        ComponentSource::Precompiled(file) => {
            info!(file = %file.display(), load_ms, source = "precompiled", "component loaded");
        }
        ComponentSource::Compiled => info!(
            component = %host.config().component.display(),
            load_ms,
            source = "compiled",
            "component loaded"
        ),
    }
    let allowed_db_hosts = host.config().allowed_db_hosts.join(",");
    if allowed_db_hosts.is_empty() {
        warn!("the database allow-list is empty, so every connect fails; set PGHOST or KEYLESS_ALLOWED_DB_HOSTS");
    } else {
        info!(%allowed_db_hosts, "database allow-list");
    }
    info!(token_source = %host.token_source(), "token source");

    let listener = TcpListener::bind(address)
        .await
        .map_err(|error| format!("cannot listen on {address}: {error}; choose another --port or --listen-address"))?;
    let local = listener.local_addr().map_err(|error| error.to_string())?;
    info!(address = %local, startup_ms = started.elapsed().as_millis() as u64, "listening");

    let grace = std::time::Duration::from_secs(cli.shutdown_timeout_secs);
    keyless_host::server::serve(Routes::new(host, app), listener, shutdown_signal(), grace).await;
    info!("stopped");
    Ok(())
}

/// Chooses the token provider from `--token-source` and the environment. This is the only
/// place that picks one.
fn token_provider(args: &TokenArgs) -> Result<Arc<dyn TokenProvider>, String> {
    select_provider(args).map_err(|error| error.to_string())
}

/// Completes on SIGTERM (sent by the Functions host) or SIGINT (Ctrl-C).
async fn shutdown_signal() {
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(error) => {
                error!(error = %error, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };

    tokio::select! {
        _ = tokio::signal::ctrl_c() => info!(signal = "SIGINT", "shutting down"),
        () = terminate => info!(signal = "SIGTERM", "shutting down"),
    }
}
