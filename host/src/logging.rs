//! Log output: one line per event on stdout, filtered by `RUST_LOG` (default `info`).
//!
//! The Functions host records a custom handler's stdout lines as Information and its
//! stderr lines as Error, so logs of every level go to stdout and carry their level in
//! the line.

use tracing_subscriber::EnvFilter;

/// Installs the global subscriber. Later calls do nothing, so tests may call it freely.
pub fn init() {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stdout)
        .with_ansi(false)
        .try_init();
}
