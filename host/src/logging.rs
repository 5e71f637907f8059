//! Log output: one line per event, filtered by `RUST_LOG` (default `info`). ERROR and WARN
//! lines go to stderr, every other level to stdout.
//!
//! The Functions host records a custom handler's stdout lines as Information and its
//! stderr lines as Error (Warning when the line contains "warn"), so the split keeps each
//! line's severity in Application Insights. Every line also carries its level as text.

use tracing::Level;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::writer::MakeWriterExt as _;

/// Installs the global subscriber. Later calls do nothing, so tests may call it freely.
pub fn init() {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let writer = std::io::stderr
        .with_max_level(Level::WARN)
        .or_else(std::io::stdout);
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer)
        .with_ansi(false)
        .try_init();
}
