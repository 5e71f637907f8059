//! `keyless-dev`: runs keyless locally. See `keyless-dev --help`.

use std::io::IsTerminal;
use std::process::ExitCode;

use clap::Parser;
use keyless_devkit::dev::cli::{Cli, Command};

#[tokio::main]
async fn main() -> ExitCode {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .init();

    let cli = Cli::parse();
    let result = match cli.command {
        Command::Up(args) => keyless_devkit::dev::run_up(args).await,
    };

    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            tracing::error!(error = format!("{err:#}"), "keyless-dev failed");
            ExitCode::FAILURE
        }
    }
}
