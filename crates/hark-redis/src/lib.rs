//! Connecting to Redis the same way from every stage that keeps state there (ingest's dedupe
//! markers, the alert stage's baselines, notify's outboxes and silences).
//!
//! `redis.url` is `redis://` or `rediss://` (TLS). Over TLS the server's certificate is checked
//! against the system's roots, or against `redis.ca_file` alone when it is set (a private CA). The
//! password is in the URL, or read here from `redis.password_env` or `redis.password_file`.

use std::time::Duration;

use hark_core::config::RedisConfig;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{RedisError, RedisResult};

/// A client for `config`, not yet connected.
pub fn client(config: &RedisConfig) -> RedisResult<redis::Client> {
    let url =
        config.connection_url().map_err(|e| RedisError::from((redis::ErrorKind::InvalidClientConfig, "redis password", e.to_string())))?;
    let url = url.expose();
    match &config.ca_file {
        None => redis::Client::open(url),
        Some(path) => {
            let pem = std::fs::read(path).map_err(|e| {
                RedisError::from((redis::ErrorKind::InvalidClientConfig, "redis.ca_file cannot be read", format!("{path}: {e}")))
            })?;
            let certificates = redis::TlsCertificates { client_tls: None, root_cert: Some(pem) };
            redis::Client::build_with_tls(url, certificates)
        }
    }
}

/// How long a stage waits for Redis before it treats a call as failed.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub connect: Duration,
    pub response: Duration,
    /// Reconnection attempts within one call.
    pub retries: usize,
}

impl Limits {
    fn manager_config(self) -> ConnectionManagerConfig {
        ConnectionManagerConfig::new()
            .set_connection_timeout(Some(self.connect))
            .set_response_timeout(Some(self.response))
            .set_number_of_retries(self.retries)
    }
}

/// A connection that reconnects by itself; fails if Redis cannot be reached now.
pub async fn connect(config: &RedisConfig, limits: Limits) -> RedisResult<ConnectionManager> {
    ConnectionManager::new_with_config(client(config)?, limits.manager_config()).await
}

/// The same, connecting on first use, for a stage that must start (and wait) while Redis is down.
pub fn connect_lazy(config: &RedisConfig, limits: Limits) -> RedisResult<ConnectionManager> {
    ConnectionManager::new_lazy_with_config(client(config)?, limits.manager_config())
}

/// A blocking connection for work done inside a stage's batch (the alert state, the spam repeat
/// count), which runs on a blocking thread: made on first use, each call bounded by `timeout`,
/// and made again after an error, so a Redis that comes back is found by the next call.
pub struct BlockingConnection {
    client: redis::Client,
    connection: Option<redis::Connection>,
    timeout: Duration,
}

impl BlockingConnection {
    /// Not connected yet: the stage starts (and waits) while Redis is down.
    pub fn new(config: &RedisConfig, timeout: Duration) -> RedisResult<BlockingConnection> {
        Ok(BlockingConnection { client: client(config)?, connection: None, timeout })
    }

    /// Runs `call` on the connection; after an error the connection is dropped.
    pub fn run<T>(&mut self, call: impl FnOnce(&mut redis::Connection) -> RedisResult<T>) -> RedisResult<T> {
        if self.connection.is_none() {
            let connection = self.client.get_connection_with_timeout(self.timeout)?;
            connection.set_read_timeout(Some(self.timeout))?;
            connection.set_write_timeout(Some(self.timeout))?;
            self.connection = Some(connection);
        }
        let result = call(self.connection.as_mut().expect("just connected"));
        if result.is_err() {
            self.connection = None;
        }
        result
    }
}
