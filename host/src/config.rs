//! Settings of a [`crate::Host`], built from the command line in `main.rs` or directly
//! by tests.

use std::path::PathBuf;
use std::time::Duration;

/// Default maximum number of connections per pool key.
pub const DEFAULT_POOL_MAX_SIZE: usize = 10;

/// Default wall-clock limit for one request, in seconds. The Functions platform cuts HTTP
/// requests at 230 s, so the host gives up before that.
pub const DEFAULT_REQUEST_TIMEOUT_SECS: u64 = 120;

/// Default limit for a request body, in bytes (10 MiB).
pub const DEFAULT_MAX_REQUEST_BODY_BYTES: usize = 10 * 1024 * 1024;

/// Default limit for the component's linear memory, in bytes (256 MiB).
pub const DEFAULT_MAX_MEMORY_BYTES: usize = 256 * 1024 * 1024;

/// Default time a caller waits for a free pooled connection, in seconds.
pub const DEFAULT_POOL_WAIT_TIMEOUT_SECS: u64 = 10;

/// Everything the host needs to run the component.
#[derive(Clone, Debug)]
pub struct HostConfig {
    /// The component file (`.wasm`).
    pub component: PathBuf,

    /// Environment variables the component sees, for example `PGHOST` and `PGUSER`.
    pub component_env: Vec<(String, String)>,

    /// Database servers the component may connect to, each as `host:port`
    /// (`[addr]:port` for IPv6 addresses).
    pub allowed_db_hosts: Vec<String>,

    /// Extra PEM root certificates trusted for `verify-full`, in addition to the Azure roots.
    pub db_ca_file: Option<PathBuf>,

    /// Maximum number of connections per pool key (host, port, database, user, TLS mode).
    pub pool_max_size: usize,

    /// How long `open` waits for a connection when a pool key is at `pool_max_size`.
    pub pool_wait_timeout: Duration,

    /// Wall-clock limit for one request, enforced on guest code and host calls alike.
    pub request_timeout: Duration,

    /// Largest request body the host accepts; larger ones get 413.
    pub max_request_body_bytes: usize,

    /// Largest linear memory one component instance may grow to.
    pub max_memory_bytes: usize,

    /// Directory where compiled machine code is cached between starts; `None` compiles
    /// the component on every start.
    pub compile_cache_dir: Option<PathBuf>,
}

impl Default for HostConfig {
    /// The command line's defaults, with the component at `keyless.wasm` and nothing
    /// on the allow-list.
    fn default() -> Self {
        Self {
            component: PathBuf::from("keyless.wasm"),
            component_env: Vec::new(),
            allowed_db_hosts: Vec::new(),
            db_ca_file: None,
            pool_max_size: DEFAULT_POOL_MAX_SIZE,
            pool_wait_timeout: Duration::from_secs(DEFAULT_POOL_WAIT_TIMEOUT_SECS),
            request_timeout: Duration::from_secs(DEFAULT_REQUEST_TIMEOUT_SECS),
            max_request_body_bytes: DEFAULT_MAX_REQUEST_BODY_BYTES,
            max_memory_bytes: DEFAULT_MAX_MEMORY_BYTES,
            compile_cache_dir: None,
        }
    }
}
