//! `keyless-dev up`: PostgreSQL, schema and handler, until Ctrl-C.

use std::ffi::OsString;
use std::net::{Ipv4Addr, TcpListener};
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use nix::sys::signal::Signal;
use tokio::signal::unix::{SignalKind, signal};

use super::cli::UpArgs;
use super::{database, handler, hints, token_wiring};
use crate::component::{target_dir, workspace_root};
use crate::identity::EmulatorHandle;
use crate::postgres::{ClusterOptions, TestCluster, random_password, schema_path};

/// Length of the random password that plays the access token.
const TOKEN_LENGTH: usize = 64;

/// Runs `keyless-dev up` until SIGINT or SIGTERM, or until the handler exits. Every path
/// out of this function stops the handler and PostgreSQL and removes the temporary
/// directory.
pub async fn run_up(args: UpArgs) -> Result<()> {
    // Registering the handlers first turns Ctrl-C during setup into an orderly stop
    // instead of killing this process and leaving PostgreSQL running.
    let mut interrupt = signal(SignalKind::interrupt()).context("failed to handle SIGINT")?;
    let mut terminate = signal(SignalKind::terminate()).context("failed to handle SIGTERM")?;

    let root = workspace_root();
    let handler_path = resolve_handler(&root, args.handler.as_deref())?;
    let component_path = resolve_component(&root, args.component.as_deref())?;
    let schema_file = args.schema.clone().unwrap_or_else(schema_path);
    let schema_sql = std::fs::read_to_string(&schema_file)
        .with_context(|| format!("failed to read the schema {}", schema_file.display()))?;
    ensure_port_free(args.port)?;

    let options = ClusterOptions {
        tls: args.tls,
        ..Default::default()
    };
    let cluster = tokio::task::spawn_blocking(move || TestCluster::start(options))
        .await
        .context("the PostgreSQL start task failed")??;
    tracing::info!(
        port = cluster.port(),
        dir = %cluster.dir().display(),
        tls = args.tls,
        "PostgreSQL started"
    );

    let result = serve(
        &args,
        &cluster,
        &handler_path,
        &component_path,
        &schema_sql,
        &mut interrupt,
        &mut terminate,
    )
    .await;

    // pg_ctl stop blocks, so the cluster is dropped off the async workers.
    tokio::task::spawn_blocking(move || drop(cluster))
        .await
        .context("the PostgreSQL stop task failed")?;
    tracing::info!("PostgreSQL stopped and its directory removed");
    result
}

/// Prepares the database and the token source, then runs the handler until a signal or
/// its exit. The emulator, when there is one, stops after the handler.
#[allow(clippy::too_many_arguments)]
async fn serve(
    args: &UpArgs,
    cluster: &TestCluster,
    handler_path: &Path,
    component_path: &Path,
    schema_sql: &str,
    interrupt: &mut tokio::signal::unix::Signal,
    terminate: &mut tokio::signal::unix::Signal,
) -> Result<()> {
    let token = random_password(TOKEN_LENGTH);
    let token_file = cluster.dir().join("access-token");
    database::write_secret_file(&token_file, &token)?;
    database::prepare(cluster, &args.database, &args.role, &token, schema_sql).await?;
    tracing::info!(database = %args.database, role = %args.role, "database ready");

    let tokens = token_wiring::wire(args, cluster, &token_file).await?;
    let mut env = handler_env(args, cluster, component_path);
    env.extend(tokens.env);
    let result = run_handler(
        args,
        cluster,
        handler_path,
        &env,
        &token_file,
        tokens.emulator.as_ref(),
        interrupt,
        terminate,
    )
    .await;

    if tokens.emulator.is_some() {
        drop(tokens.emulator);
        tracing::info!("identity emulator stopped");
    }
    result
}

/// Runs the handler, prints the commands to try once it is ready, and waits for a signal or
/// the handler's exit.
#[allow(clippy::too_many_arguments)]
async fn run_handler(
    args: &UpArgs,
    cluster: &TestCluster,
    handler_path: &Path,
    env: &[(String, OsString)],
    token_file: &Path,
    emulator: Option<&EmulatorHandle>,
    interrupt: &mut tokio::signal::unix::Signal,
    terminate: &mut tokio::signal::unix::Signal,
) -> Result<()> {
    let mut child = handler::spawn(handler_path, env, &args.handler_args)?;
    tracing::info!(handler = %handler_path.display(), port = args.port, "handler started");

    let ready = tokio::select! {
        ready = handler::wait_until_ready(&mut child, args.port, Duration::from_secs(args.ready_timeout_secs)) => ready,
        _ = interrupt.recv() => Err(anyhow::anyhow!("interrupted before the handler was ready")),
        _ = terminate.recv() => Err(anyhow::anyhow!("terminated before the handler was ready")),
    };
    if let Err(err) = ready {
        let status = handler::stop(&mut child).await?;
        tracing::info!(%status, "handler stopped");
        return Err(err);
    }

    let base_url = format!("http://127.0.0.1:{}", args.port);
    let ca_file = args.tls.then(|| cluster.ca_pem_path());
    let psql = hints::psql_line(
        cluster.port(),
        &args.database,
        &args.role,
        token_file,
        ca_file,
    );
    let notes = emulator
        .map(|emulator| {
            hints::emulator_lines(&emulator.app_service_endpoint(), args.token_lifetime_secs)
        })
        .unwrap_or_default();
    hints::print(&base_url, &psql, &notes);

    // Ctrl-C in a terminal signals the whole foreground process group, so the handler may
    // exit from the same SIGINT a moment before this process receives it.
    tokio::select! {
        biased;
        _ = interrupt.recv() => stop_after_signal(&mut child, "SIGINT").await,
        _ = terminate.recv() => stop_after_signal(&mut child, "SIGTERM").await,
        status = child.wait() => {
            let status = status.context("failed to wait for the handler")?;
            let stopped_by_signal = matches!(status.signal(), Some(number) if number == Signal::SIGINT as i32 || number == Signal::SIGTERM as i32);
            if status.success() || stopped_by_signal {
                tracing::info!(%status, "handler exited");
                Ok(())
            } else {
                bail!("the handler exited unexpectedly ({status}); its output is above")
            }
        }
    }
}

async fn stop_after_signal(child: &mut tokio::process::Child, signal_name: &str) -> Result<()> {
    tracing::info!(signal = signal_name, "stopping");
    let status = handler::stop(child).await?;
    tracing::info!(%status, "handler stopped");
    Ok(())
}

/// Returns the environment for the handler: where the database is, where the component
/// is and which port to listen on. The handler passes the `PG*` variables to the component.
fn handler_env(args: &UpArgs, cluster: &TestCluster, component: &Path) -> Vec<(String, OsString)> {
    let mut env: Vec<(String, OsString)> = vec![
        ("PGHOST".into(), cluster.host().into()),
        ("PGPORT".into(), cluster.port().to_string().into()),
        ("PGDATABASE".into(), args.database.clone().into()),
        ("PGUSER".into(), args.role.clone().into()),
        ("KEYLESS_COMPONENT".into(), component.as_os_str().to_owned()),
        (
            "FUNCTIONS_CUSTOMHANDLER_PORT".into(),
            args.port.to_string().into(),
        ),
    ];
    if args.tls {
        env.push(("PGSSLMODE".into(), "verify-full".into()));
        env.push((
            "KEYLESS_DB_CA_FILE".into(),
            cluster.ca_pem_path().as_os_str().to_owned(),
        ));
    } else {
        env.push(("PGSSLMODE".into(), "disable".into()));
    }
    if std::env::var_os("RUST_LOG").is_none() {
        env.push(("RUST_LOG".into(), "info".into()));
    }
    env
}

/// Returns `explicit`, or the release handler, or the debug handler when only that exists.
fn resolve_handler(root: &Path, explicit: Option<&Path>) -> Result<PathBuf> {
    if let Some(path) = explicit {
        if !path.is_file() {
            bail!(
                "handler binary {} not found; build it with `cargo build --release -p keyless-host` or fix --handler",
                path.display()
            );
        }
        return Ok(path.to_path_buf());
    }

    let target = target_dir(root);
    let release = target.join("release").join("handler");
    let debug = target.join("debug").join("handler");
    if release.is_file() {
        Ok(release)
    } else if debug.is_file() {
        Ok(debug)
    } else {
        bail!(
            "handler binary not found at {} or {}; build it with `cargo build --release -p \
             keyless-host` or pass --handler",
            release.display(),
            debug.display()
        )
    }
}

/// Returns `explicit` or the release component, which must exist.
fn resolve_component(root: &Path, explicit: Option<&Path>) -> Result<PathBuf> {
    let path = match explicit {
        Some(path) => path.to_path_buf(),
        None => target_dir(root)
            .join("wasm32-wasip2")
            .join("release")
            .join("keyless.wasm"),
    };
    if !path.is_file() {
        bail!(
            "component {} not found; build it with `cargo build --release --target \
             wasm32-wasip2 -p keyless` or pass --component",
            path.display()
        );
    }
    Ok(path)
}

/// Fails early when something already listens on 127.0.0.1:`port`.
fn ensure_port_free(port: u16) -> Result<()> {
    TcpListener::bind((Ipv4Addr::LOCALHOST, port))
        .map(drop)
        .with_context(|| {
            format!("port {port} on 127.0.0.1 is not available; stop what uses it or pass --port")
        })
}
