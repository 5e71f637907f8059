//! [`Host`]: the compiled component and the per-request instance lifecycle.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderValue, Request, Response, StatusCode, header};
use http_body_util::{BodyExt, Full};
use tokio::sync::oneshot;
use tokio::time::timeout_at;
use wasmtime::component::{HasSelf, Linker, ResourceTable};
use wasmtime::error::Context as _;
use wasmtime::{Engine, Store, StoreLimitsBuilder, Trap};
use wasmtime_wasi::WasiCtx;
use wasmtime_wasi_http::WasiHttpCtx;
use wasmtime_wasi_http::WasiHttpView;
use wasmtime_wasi_http::p2::bindings::http::types::Scheme;

use crate::bindings::{FunctionPre, wit_postgres, wit_token};
use crate::config::HostConfig;
use crate::postgres::PgPools;
use crate::precompiled;
use crate::problem::problem_response;
use crate::state::RequestState;
use crate::token::TokenProvider;

/// Interval of the epoch counter that bounds how long guest code runs without yielding.
const EPOCH_TICK: Duration = Duration::from_millis(50);

/// Header with the Functions host's id for an invocation.
pub const INVOCATION_ID_HEADER: &str = "x-azure-functions-invocationid";

/// Builds the engine the server runs components with. `handler precompile` builds its
/// engine here too, so precompiled files match the server's settings. The compile cache
/// does not change the compiled code and is not part of the settings' hash.
pub fn engine(compile_cache_dir: Option<&Path>) -> anyhow::Result<Engine> {
    let mut engine_config = wasmtime::Config::new();
    engine_config.wasm_component_model(true);
    engine_config.epoch_interruption(true);
    if let Some(directory) = compile_cache_dir {
        let mut cache_config = wasmtime::CacheConfig::new();
        cache_config.with_directory(directory);
        let cache = wasmtime::Cache::new(cache_config).with_context(|| {
            format!(
                "cannot use {} as the compile cache; fix --compile-cache-dir",
                directory.display()
            )
        })?;
        engine_config.cache(Some(cache));
    }
    Ok(Engine::new(&engine_config).context("creating the wasmtime engine")?)
}

/// Runs the component: loaded and linked once, instantiated afresh for every request.
#[derive(Clone)]
pub struct Host {
    inner: Arc<HostInner>,
}

struct HostInner {
    pre: FunctionPre<RequestState>,
    config: HostConfig,
    pools: PgPools,
    tokens: Arc<dyn TokenProvider>,
    load_time: Duration,
    source: precompiled::Source,
    _ticker: EpochTicker,
}

impl Host {
    /// Loads the component at `config.component` (precompiled when a matching `.cwasm`
    /// lies next to it, else compiled), links the WASI, `wasi:http`, `token` and
    /// `postgres` imports and pre-instantiates it.
    pub fn new(config: HostConfig, tokens: Arc<dyn TokenProvider>) -> anyhow::Result<Host> {
        let engine = engine(config.compile_cache_dir.as_deref())?;
        let loaded = precompiled::load(&engine, &config.component)?;
        let component = loaded.component;

        let mut linker = Linker::<RequestState>::new(&engine);
        wasmtime_wasi::p2::add_to_linker_async(&mut linker)?;
        wasmtime_wasi_http::p2::add_only_http_to_linker_async(&mut linker)?;
        wit_token::add_to_linker::<_, HasSelf<RequestState>>(&mut linker, |state| state)?;
        wit_postgres::add_to_linker::<_, HasSelf<RequestState>>(&mut linker, |state| state)?;

        let instance_pre = linker.instantiate_pre(&component).with_context(|| {
            format!(
                "the component {} imports something this host does not provide",
                config.component.display()
            )
        })?;
        let pre = FunctionPre::new(instance_pre).with_context(|| {
            format!(
                "the component {} does not export wasi:http/incoming-handler@0.2",
                config.component.display()
            )
        })?;

        let pools = PgPools::from_config(&config, tokens.clone())?;
        let ticker = EpochTicker::start(engine.clone());
        Ok(Host {
            inner: Arc::new(HostInner {
                pre,
                config,
                pools,
                tokens,
                load_time: loaded.elapsed,
                source: loaded.source,
                _ticker: ticker,
            }),
        })
    }

    /// Time spent loading or compiling the component in [`Host::new`].
    pub fn load_time(&self) -> Duration {
        self.inner.load_time
    }

    /// Whether [`Host::new`] loaded a precompiled file or compiled the component.
    pub fn component_source(&self) -> &precompiled::Source {
        &self.inner.source
    }

    /// The settings the host runs with.
    pub fn config(&self) -> &HostConfig {
        &self.inner.config
    }

    /// The token provider's description for logs.
    pub fn token_source(&self) -> String {
        self.inner.tokens.describe()
    }

    /// The database pools, for inspection in tests.
    pub fn pools(&self) -> &PgPools {
        &self.inner.pools
    }

    /// Runs one request through a fresh component instance. A trap, a panic, a missing
    /// response or a broken response body becomes 500, running past the request timeout
    /// 504; both as `application/problem+json`, with the cause in the log only.
    pub async fn handle(&self, request: Request<Bytes>) -> Response<Bytes> {
        let invocation_id = request
            .headers()
            .get(INVOCATION_ID_HEADER)
            .and_then(|value| value.to_str().ok())
            .unwrap_or("-")
            .to_owned();

        match self.run(request).await {
            Ok(response) => response,
            Err(failure) => {
                tracing::error!(%invocation_id, kind = failure.kind(), error = %failure, "the component failed to handle the request");
                failure.response(self.inner.config.request_timeout)
            }
        }
    }

    async fn run(&self, mut request: Request<Bytes>) -> Result<Response<Bytes>, Failure> {
        let deadline = tokio::time::Instant::now() + self.inner.config.request_timeout;
        let mut store = self.new_store();

        // wasi:http needs an authority; a request line without one gets the Host header's
        // value, and a request with neither gets `localhost`.
        if request.uri().authority().is_none() && !request.headers().contains_key(header::HOST) {
            request
                .headers_mut()
                .insert(header::HOST, HeaderValue::from_static("localhost"));
        }

        let (sender, receiver) = oneshot::channel();
        let body = Full::new(request.body().clone()).map_err(|never| -> wasmtime_wasi_http::Error { match never {} });
        let incoming = store
            .data_mut()
            .http()
            .new_incoming_request(Scheme::Http, request.map(|_| body))
            .map_err(|error| Failure::Host(error.into()))?;
        let outparam = store
            .data_mut()
            .http()
            .new_response_outparam(sender)
            .map_err(|error| Failure::Host(error.into()))?;

        // The guest runs in its own task because it may keep running after it has set
        // the response, for example to stream the body.
        let pre = self.inner.pre.clone();
        let mut guest = tokio::spawn(async move {
            let function = pre.instantiate_async(&mut store).await?;
            function
                .wasi_http_incoming_handler()
                .call_handle(&mut store, incoming, outparam)
                .await
        });

        let response = match timeout_at(deadline, receiver).await {
            Err(_) => {
                guest.abort();
                return Err(Failure::Timeout);
            }
            Ok(Ok(Ok(response))) => response,
            Ok(Ok(Err(code))) => return Err(Failure::ErrorCode(format!("{code:?}"))),
            Ok(Err(_)) => {
                // The outparam was dropped unset: the guest returned, trapped or panicked.
                return Err(match timeout_at(deadline, &mut guest).await {
                    Ok(Ok(Ok(()))) => Failure::MissingResponse,
                    Ok(Ok(Err(error))) => Failure::from_guest_error(error),
                    Ok(Err(join_error)) => Failure::Host(anyhow::anyhow!("the guest task failed: {join_error}")),
                    Err(_) => {
                        guest.abort();
                        Failure::Timeout
                    }
                });
            }
        };

        let (parts, body) = response.into_parts();
        let body = match timeout_at(deadline, body.collect()).await {
            Err(_) => {
                guest.abort();
                return Err(Failure::Timeout);
            }
            Ok(Err(code)) => return Err(Failure::ErrorCode(format!("response body failed: {code:?}"))),
            Ok(Ok(collected)) => collected.to_bytes(),
        };

        // Waiting for the guest to return drops its store, so its database connections
        // are back in the pool before the client sees the response.
        match timeout_at(deadline, &mut guest).await {
            Ok(Ok(Ok(()))) => {}
            Ok(Ok(Err(error))) => {
                tracing::error!(error = %format!("{error:#}"), "the component failed after sending its response");
            }
            Ok(Err(join_error)) => tracing::error!(error = %join_error, "the guest task failed after the response"),
            Err(_) => {
                guest.abort();
                tracing::warn!("the component was still running at the request deadline and was stopped");
            }
        }

        Ok(Response::from_parts(parts, body))
    }

    fn new_store(&self) -> Store<RequestState> {
        let config = &self.inner.config;
        let wasi = WasiCtx::builder()
            .envs(&config.component_env)
            .inherit_stdout()
            .inherit_stderr()
            .build();
        let limits = StoreLimitsBuilder::new()
            .memory_size(config.max_memory_bytes)
            .trap_on_grow_failure(true)
            .build();

        let state = RequestState {
            wasi,
            http: WasiHttpCtx::new(),
            table: ResourceTable::new(),
            http_hooks: crate::state::DenyOutgoingHttp,
            limits,
            pools: self.inner.pools.clone(),
            tokens: self.inner.tokens.clone(),
        };
        let mut store = Store::new(self.inner.pre.engine(), state);
        store.limiter(|state| &mut state.limits);

        // The epoch deadline stops guest code that runs without calling the host. The tokio
        // deadline in `run` bounds time spent in host calls.
        let ticks = config.request_timeout.as_millis().div_ceil(EPOCH_TICK.as_millis()) + 1;
        store.set_epoch_deadline(u64::try_from(ticks).unwrap_or(u64::MAX));
        store.epoch_deadline_trap();
        store
    }
}

/// Reasons a request got no response from the component.
#[derive(Debug)]
enum Failure {
    /// The guest trapped (including a Rust panic, which traps) or a host call failed.
    Trap(anyhow::Error),
    /// The host failed to set up the request.
    Host(anyhow::Error),
    /// The guest returned without setting a response.
    MissingResponse,
    /// The guest set a `wasi:http` error code instead of a response.
    ErrorCode(String),
    /// The request deadline passed.
    Timeout,
}

impl Failure {
    fn from_guest_error(error: wasmtime::Error) -> Self {
        if error.downcast_ref::<Trap>() == Some(&Trap::Interrupt) {
            return Failure::Timeout;
        }
        Failure::Trap(error.into())
    }

    fn kind(&self) -> &'static str {
        match self {
            Failure::Trap(_) => "trap",
            Failure::Host(_) => "host",
            Failure::MissingResponse => "missing-response",
            Failure::ErrorCode(_) => "error-code",
            Failure::Timeout => "timeout",
        }
    }

    fn response(&self, request_timeout: Duration) -> Response<Bytes> {
        match self {
            Failure::Timeout => problem_response(
                StatusCode::GATEWAY_TIMEOUT,
                &format!("the function did not finish within {} s", request_timeout.as_secs()),
            ),
            _ => problem_response(
                StatusCode::INTERNAL_SERVER_ERROR,
                "the function failed while handling the request; the host log has the cause",
            ),
        }
    }
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Failure::Trap(error) | Failure::Host(error) => write!(f, "{error:#}"),
            Failure::MissingResponse => f.write_str("the component returned without setting a response"),
            Failure::ErrorCode(code) => write!(f, "the component returned error code {code}"),
            Failure::Timeout => f.write_str("the request deadline passed"),
        }
    }
}

/// Advances the engine's epoch every [`EPOCH_TICK`] on a plain thread, so the deadline
/// applies even when guest code keeps a tokio worker busy. Stops when dropped.
struct EpochTicker {
    stop: Arc<AtomicBool>,
}

impl EpochTicker {
    fn start(engine: Engine) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let stopped = stop.clone();
        thread::Builder::new()
            .name("keyless-epoch".to_owned())
            .spawn(move || {
                while !stopped.load(Ordering::Relaxed) {
                    thread::sleep(EPOCH_TICK);
                    engine.increment_epoch();
                }
            })
            .expect("the epoch thread starts");
        Self { stop }
    }
}

impl Drop for EpochTicker {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}
