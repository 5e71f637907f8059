//! Connection pools keyed by (host, port, database, user, TLS mode).
//!
//! The password is not part of the key, so a token that rotates every hour still reuses
//! the same pool. Because of that the pool itself must decide who may reuse a connection:
//! an idle connection is handed only to a caller whose password has logged in to that key
//! before. The pool keeps HMAC-SHA-256 tags of accepted passwords, under a key drawn at
//! random when the process starts, each until the password's expiry, and never the
//! password itself. Any other caller gets a new physical connection that logs in with its
//! own password; once that succeeds the password is accepted too, and the new connection
//! replaces an idle one so the number of server connections stays the same.
//!
//! A connection that ran statements is reset on its next checkout (`ROLLBACK` when a
//! transaction is still open, then `DISCARD ALL`), so session state and open transactions
//! never carry over to another request. A connection dropped in the middle of a statement
//! (its request timed out) or closed by the server is discarded instead of pooled.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use ring::hmac;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio_postgres::config::SslMode;
use tokio_postgres::{Client, NoTls};
use tracing::{debug, info};

use crate::bindings::wit_postgres::{ConnectOptions, Error as WitError, SslMode as WitSslMode};
use crate::secret::Secret;
use crate::token::{AccessToken, TokenProvider};

use super::allow_list::AllowList;
use super::error::{connect_error_pg_to_wit, is_authentication_failure};
use super::tls::TlsConnectors;

/// How long an accepted password stays accepted when its expiry is unknown (it is not a
/// JWT with an `exp` claim).
const UNKNOWN_EXPIRY_LIFETIME: Duration = Duration::from_secs(3600);

/// Upper bound for how long an accepted password stays accepted. Entra ID tokens live
/// at most about 24 hours.
const MAX_ACCEPTED_LIFETIME: Duration = Duration::from_secs(24 * 3600);

/// TLS policy of a pooled connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TlsMode {
    /// Plain TCP.
    Disable,
    /// TLS without certificate verification.
    Require,
    /// TLS with chain and host name verification.
    VerifyFull,
}

impl TlsMode {
    /// The libpq `sslmode` name.
    pub fn name(self) -> &'static str {
        match self {
            TlsMode::Disable => "disable",
            TlsMode::Require => "require",
            TlsMode::VerifyFull => "verify-full",
        }
    }
}

impl From<WitSslMode> for TlsMode {
    fn from(mode: WitSslMode) -> Self {
        match mode {
            WitSslMode::Disable => TlsMode::Disable,
            WitSslMode::Require => TlsMode::Require,
            WitSslMode::VerifyFull => TlsMode::VerifyFull,
        }
    }
}

/// Identifies one pool. Never contains the password.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct PoolKey {
    /// Host name or address, lowercase, without IPv6 brackets.
    pub host: String,
    /// TCP port.
    pub port: u16,
    /// Database name.
    pub database: String,
    /// Role name.
    pub user: String,
    /// TLS policy.
    pub tls: TlsMode,
}

impl PoolKey {
    pub(crate) fn from_options(options: &ConnectOptions) -> Self {
        Self {
            host: options
                .host
                .trim_start_matches('[')
                .trim_end_matches(']')
                .to_ascii_lowercase(),
            port: options.port,
            database: options.database.clone(),
            user: options.user.clone(),
            tls: options.ssl_mode.into(),
        }
    }

    /// `host:port`, with brackets around IPv6 addresses.
    pub fn target(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }
}

/// Limits of every pool.
#[derive(Clone, Debug)]
pub struct PoolSettings {
    /// Maximum connections per key, in use and idle together.
    pub max_size: usize,
    /// How long a caller waits for a connection when the key is at `max_size`.
    pub wait_timeout: Duration,
    /// Limit for TCP connect, TLS and login together.
    pub connect_timeout: Duration,
    /// Idle connections older than this are closed instead of reused.
    pub idle_timeout: Duration,
}

/// All pools of the process, shared by every request.
#[derive(Clone)]
pub struct PgPools {
    inner: Arc<PgPoolsInner>,
}

struct PgPoolsInner {
    pools: Mutex<HashMap<PoolKey, Arc<KeyPool>>>,
    settings: PoolSettings,
    allow_list: AllowList,
    tls: TlsConnectors,
    tokens: Arc<dyn TokenProvider>,
    password_key: hmac::Key,
}

impl PgPools {
    /// Creates an empty set of pools.
    pub fn new(
        settings: PoolSettings,
        allow_list: AllowList,
        tls: TlsConnectors,
        tokens: Arc<dyn TokenProvider>,
    ) -> Self {
        let password_key = hmac::Key::generate(hmac::HMAC_SHA256, &ring::rand::SystemRandom::new())
            .expect("the system random number generator works");
        Self {
            inner: Arc::new(PgPoolsInner {
                pools: Mutex::new(HashMap::new()),
                settings,
                allow_list,
                tls,
                tokens,
                password_key,
            }),
        }
    }

    /// Checks `options` against the allow-list, then returns a pooled connection the
    /// caller's password may use, or a new one that logged in with that password.
    pub async fn get(&self, options: &ConnectOptions) -> Result<PooledClient, WitError> {
        let key = PoolKey::from_options(options);
        self.inner
            .allow_list
            .ensure_allowed(&options.host, options.port)
            .map_err(WitError::HostNotAllowed)?;

        let pool = self.pool_for(&key);
        let permit = tokio::time::timeout(self.inner.settings.wait_timeout, pool.in_use.clone().acquire_owned())
            .await
            .map_err(|_| {
                WitError::Other(format!(
                    "pool timeout: no connection to {} as {} became free within {} s; raise --pool-max-size or keep connections open for less time",
                    key.target(),
                    key.user,
                    self.inner.settings.wait_timeout.as_secs()
                ))
            })?
            .expect("the pool semaphore is never closed");

        let password = Secret::new(options.password.clone());
        let tag = self.password_tag(&password);
        let accepted = pool.is_accepted(&tag);
        if accepted {
            while let Some(client) = pool.take_idle(self.inner.settings.idle_timeout) {
                match reset_if_used(client).await {
                    Some(client) => {
                        debug!(target = %key.target(), "reusing a pooled connection");
                        return Ok(PooledClient::new(client, pool, permit));
                    }
                    None => pool.forget_one(),
                }
            }
        }

        pool.reserve_physical(self.inner.settings.max_size);
        let client = match self.login(&key, &password, tag, accepted, &pool).await {
            Ok(client) => client,
            Err(error) => {
                pool.forget_one();
                return Err(error);
            }
        };
        Ok(PooledClient::new(
            IdleClient {
                client,
                used: false,
                idle_since: Instant::now(),
            },
            pool,
            permit,
        ))
    }

    /// Opens a physical connection with `password`; when the server rejects it and the
    /// token provider issued it, retries once with the provider's replacement token.
    async fn login(
        &self,
        key: &PoolKey,
        password: &Secret,
        tag: PasswordTag,
        accepted: bool,
        pool: &KeyPool,
    ) -> Result<Client, WitError> {
        let (client, accepted_tag, expires_at) = match self.connect(key, password).await {
            Ok(client) => (client, tag, password_expiry(password)),
            Err(error) if is_authentication_failure(&error) => {
                let Some(replacement) = self.inner.tokens.refresh_rejected(password).await else {
                    return Err(connect_error_pg_to_wit(&error, &key.target()));
                };
                info!(target = %key.target(), user = %key.user, "the database rejected the token; retrying once with a new token");
                let client = self
                    .connect(key, &replacement.token)
                    .await
                    .map_err(|error| connect_error_pg_to_wit(&error, &key.target()))?;
                let tag = self.password_tag(&replacement.token);
                (client, tag, token_expiry(&replacement))
            }
            Err(error) => return Err(connect_error_pg_to_wit(&error, &key.target())),
        };

        pool.accept(accepted_tag, expires_at);
        if !accepted {
            // The password was new to this key: the new connection takes the place of an
            // idle one so a rotating token does not add server connections.
            if pool.evict_one_idle() {
                debug!(target = %key.target(), "closed an idle connection in favour of one for a new password");
            }
        }
        Ok(client)
    }

    async fn connect(&self, key: &PoolKey, password: &Secret) -> Result<Client, tokio_postgres::Error> {
        let mut config = tokio_postgres::Config::new();
        config
            .host(&key.host)
            .port(key.port)
            .dbname(&key.database)
            .user(&key.user)
            .password(password.expose())
            .application_name("keyless")
            .connect_timeout(self.inner.settings.connect_timeout);

        // Each connection's I/O runs in its own task until the client is dropped.
        let client = match key.tls {
            TlsMode::Disable => {
                config.ssl_mode(SslMode::Disable);
                let (client, connection) = config.connect(NoTls).await?;
                tokio::spawn(drive_connection(connection, key.target()));
                client
            }
            TlsMode::Require | TlsMode::VerifyFull => {
                config.ssl_mode(SslMode::Require);
                let connector = if key.tls == TlsMode::Require {
                    self.inner.tls.require.clone()
                } else {
                    self.inner.tls.verify_full.clone()
                };
                let (client, connection) = config.connect(connector).await?;
                tokio::spawn(drive_connection(connection, key.target()));
                client
            }
        };
        Ok(client)
    }

    fn pool_for(&self, key: &PoolKey) -> Arc<KeyPool> {
        let mut pools = self.inner.pools.lock().expect("pool map lock is not poisoned");
        pools
            .entry(key.clone())
            .or_insert_with(|| {
                Arc::new(KeyPool {
                    in_use: Arc::new(Semaphore::new(self.inner.settings.max_size)),
                    state: Mutex::new(KeyPoolState::default()),
                })
            })
            .clone()
    }

    fn password_tag(&self, password: &Secret) -> PasswordTag {
        let tag = hmac::sign(&self.inner.password_key, password.expose().as_bytes());
        let mut bytes = [0u8; 32];
        bytes.copy_from_slice(tag.as_ref());
        PasswordTag(bytes)
    }

    /// Number of physical connections (in use and idle) for `key`, for tests and logs.
    pub fn physical_connections(&self, key: &PoolKey) -> usize {
        let pools = self.inner.pools.lock().expect("pool map lock is not poisoned");
        pools.get(key).map_or(0, |pool| pool.lock().physical)
    }
}

async fn drive_connection<S, T>(connection: tokio_postgres::Connection<S, T>, target: String)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
    T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    if let Err(error) = connection.await {
        debug!(%target, error = %super::error::error_chain(&error), "database connection ended with an error");
    }
}

/// HMAC-SHA-256 of a password under the process's random key.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
struct PasswordTag([u8; 32]);

struct KeyPool {
    /// One permit per connection handed out; limits concurrent use to `max_size`.
    in_use: Arc<Semaphore>,
    state: Mutex<KeyPoolState>,
}

#[derive(Default)]
struct KeyPoolState {
    idle: VecDeque<IdleClient>,
    /// Connections in use, idle, or being opened.
    physical: usize,
    accepted: HashMap<PasswordTag, SystemTime>,
}

struct IdleClient {
    client: Client,
    used: bool,
    idle_since: Instant,
}

impl KeyPool {
    fn lock(&self) -> MutexGuard<'_, KeyPoolState> {
        self.state.lock().expect("pool lock is not poisoned")
    }

    fn is_accepted(&self, tag: &PasswordTag) -> bool {
        let mut state = self.lock();
        let now = SystemTime::now();
        state.accepted.retain(|_, expires_at| *expires_at > now);
        state.accepted.contains_key(tag)
    }

    fn accept(&self, tag: PasswordTag, expires_at: SystemTime) {
        self.lock().accepted.insert(tag, expires_at);
    }

    /// Takes the most recently returned idle connection that is open and not too old.
    fn take_idle(&self, idle_timeout: Duration) -> Option<IdleClient> {
        let mut state = self.lock();
        while let Some(idle) = state.idle.pop_back() {
            if !idle.client.is_closed() && idle.idle_since.elapsed() < idle_timeout {
                return Some(idle);
            }
            state.physical -= 1;
        }
        None
    }

    /// Counts a connection about to be opened, closing an idle one first when the key is
    /// full. The caller holds an `in_use` permit, so when `physical` is at `max_size` at
    /// least one of the others is idle.
    fn reserve_physical(&self, max_size: usize) {
        let mut state = self.lock();
        if state.physical >= max_size && state.idle.pop_front().is_some() {
            state.physical -= 1;
        }
        state.physical += 1;
    }

    fn evict_one_idle(&self) -> bool {
        let mut state = self.lock();
        if state.idle.pop_front().is_some() {
            state.physical -= 1;
            return true;
        }
        false
    }

    fn forget_one(&self) {
        let mut state = self.lock();
        state.physical = state.physical.saturating_sub(1);
    }
}

/// Resets a connection that ran statements; returns `None` when it is broken.
async fn reset_if_used(mut idle: IdleClient) -> Option<IdleClient> {
    if !idle.used {
        return Some(idle);
    }

    // DISCARD ALL fails inside a transaction block (open or aborted), so end it first.
    if idle.client.batch_execute("DISCARD ALL").await.is_err() {
        idle.client.batch_execute("ROLLBACK").await.ok()?;
        idle.client.batch_execute("DISCARD ALL").await.ok()?;
    }
    idle.used = false;
    Some(idle)
}

/// A connection checked out of a pool. Dropping it returns it to the pool, or closes it
/// when it is broken.
pub struct PooledClient {
    idle: Option<IdleClient>,
    pool: Arc<KeyPool>,
    in_flight: bool,
    _permit: OwnedSemaphorePermit,
}

impl PooledClient {
    fn new(idle: IdleClient, pool: Arc<KeyPool>, permit: OwnedSemaphorePermit) -> Self {
        Self {
            idle: Some(idle),
            pool,
            in_flight: false,
            _permit: permit,
        }
    }

    /// Returns the client for one statement and marks it in flight until
    /// [`PooledClient::finish_statement`]. A client dropped while a statement is in flight,
    /// because the request timed out, is closed instead of pooled: its session may still be
    /// running that statement.
    pub fn start_statement(&mut self) -> &Client {
        self.in_flight = true;
        let idle = self.idle.as_mut().expect("the client is present until drop");
        idle.used = true;
        &idle.client
    }

    /// Marks the statement begun with [`PooledClient::start_statement`] as finished.
    pub fn finish_statement(&mut self) {
        self.in_flight = false;
    }
}

impl Drop for PooledClient {
    fn drop(&mut self) {
        let Some(mut idle) = self.idle.take() else { return };
        let mut state = self.pool.lock();
        if idle.client.is_closed() || self.in_flight {
            state.physical -= 1;
            return;
        }
        idle.idle_since = Instant::now();
        state.idle.push_back(idle);
    }
}

/// When an accepted password stops being accepted: the `exp` claim of a JWT, else an
/// hour from now, and never more than 24 hours from now.
///
/// NOTE: until then a password keeps reusing pooled connections even if the server has
/// stopped accepting it for new logins (a changed role password, an earlier `VALID UNTIL`).
/// That matches Entra tokens, which the server checks only at login.
fn password_expiry(password: &Secret) -> SystemTime {
    let now = SystemTime::now();
    let expires_at = jwt_expiry(password.expose()).unwrap_or(now + UNKNOWN_EXPIRY_LIFETIME);
    expires_at.min(now + MAX_ACCEPTED_LIFETIME)
}

fn token_expiry(token: &AccessToken) -> SystemTime {
    let now = SystemTime::now();
    (UNIX_EPOCH + Duration::from_secs(token.expires_on)).min(now + MAX_ACCEPTED_LIFETIME)
}

/// Reads the `exp` claim of a JWT without verifying it. The server verifies the token;
/// the claim only bounds how long the pool trusts an earlier successful login.
fn jwt_expiry(token: &str) -> Option<SystemTime> {
    let mut parts = token.split('.');
    let (_header, payload, _signature) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() {
        return None;
    }

    let payload = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload.trim_end_matches('='))
        .ok()?;
    let claims: serde_json::Value = serde_json::from_slice(&payload).ok()?;
    let exp = claims.get("exp")?.as_u64()?;
    Some(UNIX_EPOCH + Duration::from_secs(exp))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn jwt_with_exp(exp: u64) -> String {
        let encode = |json: &str| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(json);
        format!(
            "{}.{}.c2lnbmF0dXJl",
            encode(r#"{"alg":"RS256"}"#),
            encode(&format!(r#"{{"exp":{exp}}}"#))
        )
    }

    #[test]
    fn jwt_expiry_reads_exp_claim() {
        let token = jwt_with_exp(1_900_000_000);
        assert_eq!(
            jwt_expiry(&token),
            Some(UNIX_EPOCH + Duration::from_secs(1_900_000_000))
        );
    }

    #[test]
    fn jwt_expiry_ignores_other_passwords() {
        assert_eq!(jwt_expiry("correct horse battery staple"), None);
        assert_eq!(jwt_expiry("a.b.c"), None);
        assert_eq!(jwt_expiry("a.b.c.d"), None);
    }

    #[test]
    fn password_expiry_is_bounded() {
        let far = jwt_with_exp(u64::from(u32::MAX) * 4);
        let expiry = password_expiry(&Secret::new(far));
        assert!(expiry <= SystemTime::now() + MAX_ACCEPTED_LIFETIME);

        let plain = password_expiry(&Secret::new("not a jwt"));
        assert!(plain <= SystemTime::now() + UNKNOWN_EXPIRY_LIFETIME);
    }

    #[test]
    fn pool_key_target_brackets_ipv6() {
        let key = PoolKey {
            host: "::1".into(),
            port: 5432,
            database: "d".into(),
            user: "u".into(),
            tls: TlsMode::Disable,
        };
        assert_eq!(key.target(), "[::1]:5432");
    }
}
