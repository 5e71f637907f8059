//! Log output for tests.

use std::sync::Once;

/// Installs a `tracing` subscriber that writes through the test harness's capture, so log
/// lines appear next to a failing test's output. Filtered by `RUST_LOG` (default `info`).
/// Calling it more than once is harmless.
pub fn capture() {
    static INSTALL: Once = Once::new();
    INSTALL.call_once(|| {
        let filter = tracing_subscriber::EnvFilter::try_from_default_env()
            .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
        // Another crate in the same test binary may have installed a subscriber already.
        let _ = tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_test_writer()
            .try_init();
    });
}
