//! The alert stage as a service: the stage loop over the enriched topic, the state store, and
//! rule reloads without a restart.
//!
//! A reload (SIGHUP, or `POST /-/reload` on the service's admin listener) reads the config file again
//! with the environment on top. A config that does not pass its checks is refused with the reason
//! and the running rules stay; a valid one takes effect from the next batch. Window settings
//! (`window_secs`, `allowed_lateness_secs`) shape the stored windows and need a restart.

use std::{
    sync::{Arc, RwLock},
    time::Duration,
};

use axum::{extract::State, http::StatusCode, routing::post, Json, Router};
use hark_core::config::{Shared, TopicsConfig};
use hark_kafka::{StageError, StageLoop};
use hark_telemetry::Metrics;
use redis::aio::ConnectionManager;
use tokio_util::sync::CancellationToken;

use crate::{
    config::AlertConfig,
    console::{self, ConsoleApi},
    engine::Engine,
    processor::{AlertProcessor, SharedEngine},
    rules::RuleSet,
    store::{Store, StoreError},
};

#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    #[error("alert state store: {0}")]
    Store(#[from] StoreError),
    #[error(transparent)]
    Stage(#[from] StageError),
}

#[derive(Debug, thiserror::Error)]
pub enum ReloadError {
    #[error("no config file to reload: the process was started without --config")]
    NoFile,
    #[error("{0}")]
    Invalid(String),
    #[error("alert.{0} changed: it shapes the stored windows, so it takes a restart (the running rules stay)")]
    NeedsRestart(&'static str),
}

/// Reads the `[alert]` section again (the config file, the environment on top), or says why it
/// cannot be used. The `hark` binary gives it; without one (no config file) reloads are refused.
pub type LoadAlertConfig = Arc<dyn Fn() -> Result<AlertConfig, String> + Send + Sync>;

/// Swaps the running rules for those of the config file.
#[derive(Clone)]
pub struct Reloader {
    load: Option<LoadAlertConfig>,
    engine: SharedEngine,
    running: Arc<RwLock<AlertConfig>>,
}

impl Reloader {
    /// Reads the file again; on success the new rules run from the next batch. Returns the number
    /// of rules now running.
    pub fn reload(&self) -> Result<usize, ReloadError> {
        let load = self.load.as_ref().ok_or(ReloadError::NoFile)?;
        self.apply(load().map_err(ReloadError::Invalid)?)
    }

    /// Runs a checked `[alert]` section.
    pub fn apply(&self, alert: AlertConfig) -> Result<usize, ReloadError> {
        alert.check().map_err(|e| ReloadError::Invalid(format!("invalid config: {e}")))?;
        let mut running = self.running.write().expect("config lock");
        if alert.window_secs != running.window_secs {
            return Err(ReloadError::NeedsRestart("window_secs"));
        }
        if alert.allowed_lateness_secs != running.allowed_lateness_secs {
            return Err(ReloadError::NeedsRestart("allowed_lateness_secs"));
        }
        let rules = alert.rules.len();
        *self.engine.write().expect("engine lock") = Arc::new(Engine::new(RuleSet::new(&alert)));
        *running = alert;
        Ok(rules)
    }

    /// The running `[alert]` section.
    pub fn running(&self) -> AlertConfig {
        self.running.read().expect("config lock").clone()
    }

    /// Reloads on every SIGHUP until `shutdown`. The handler is in place when this returns.
    pub fn reload_on_sighup(self, shutdown: CancellationToken) {
        let Ok(mut hangup) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()) else {
            tracing::warn!(stage = "alert", "cannot listen for SIGHUP; reload with POST /-/reload");
            return;
        };
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    _ = shutdown.cancelled() => return,
                    _ = hangup.recv() => { let _ = self.log_reload("SIGHUP"); }
                }
            }
        });
    }

    fn log_reload(&self, trigger: &str) -> Result<usize, String> {
        match self.reload() {
            Ok(rules) => {
                tracing::info!(stage = "alert", trigger, rules, "alert rules reloaded");
                Ok(rules)
            }
            Err(e) => {
                tracing::error!(stage = "alert", trigger, error = %e, "alert rules not reloaded; the running rules stay");
                Err(e.to_string())
            }
        }
    }

    /// `POST /-/reload`: 200 with the number of rules, or 400 with the reason the config was refused.
    pub fn router(&self) -> Router {
        Router::new().route("/-/reload", post(reload_handler).with_state(self.clone()))
    }
}

async fn reload_handler(State(reloader): State<Reloader>) -> (StatusCode, Json<serde_json::Value>) {
    let result = tokio::task::spawn_blocking(move || reloader.log_reload("http")).await;
    match result {
        Ok(Ok(rules)) => (StatusCode::OK, Json(serde_json::json!({"reloaded": true, "rules": rules}))),
        Ok(Err(error)) => (StatusCode::BAD_REQUEST, Json(serde_json::json!({"reloaded": false, "error": error}))),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, Json(serde_json::json!({"reloaded": false, "error": e.to_string()}))),
    }
}

/// A readiness probe's answer, to come.
pub type Probe = std::pin::Pin<Box<dyn std::future::Future<Output = Result<(), String>> + Send>>;

/// The alert stage, ready to run.
pub struct AlertService {
    pub stage: StageLoop<AlertProcessor>,
    pub reloader: Reloader,
    /// For readiness probes and the console's reads; the state store keeps its own connection.
    redis: ConnectionManager,
    console: ConsoleApi,
}

impl AlertService {
    /// `load`: reads the `[alert]` section again on reload. Needs a Tokio runtime.
    pub fn new(
        shared: &Shared,
        config: &AlertConfig,
        load: Option<LoadAlertConfig>,
        metrics: Metrics,
    ) -> Result<AlertService, ServiceError> {
        let engine: SharedEngine = Arc::new(RwLock::new(Arc::new(Engine::new(RuleSet::new(config)))));
        let store = Store::new(&shared.redis, &config.stage.group_id)?;
        let processor = AlertProcessor::new(engine.clone(), Some(store), &shared.topics.alerts, metrics.clone());
        let options = config.stage.options(&shared.topics.enriched, &shared.topics.dlq);
        let stage = StageLoop::new(&shared.kafka, options, processor, metrics)?;
        let reloader = Reloader { load, engine, running: Arc::new(RwLock::new(config.clone())) };
        let probe = hark_redis::Limits { connect: Duration::from_millis(500), response: Duration::from_secs(1), retries: 1 };
        // Connects on the first probe, so the stage starts (and waits) while Redis is down.
        let redis = hark_redis::connect_lazy(&shared.redis, probe).map_err(StoreError::from)?;
        let keys = console::Keys::new(&shared.redis.key_prefix, &config.stage.group_id);
        let console = ConsoleApi::new(redis.clone(), keys, config.window_secs as i64);
        Ok(AlertService { stage, reloader, redis, console })
    }

    /// The topics the stage reads and writes.
    pub fn topics(topics: &TopicsConfig) -> Vec<String> {
        vec![topics.enriched.clone(), topics.alerts.clone(), topics.dlq.clone()]
    }

    /// The console's data of this stage: `/v1/series` and `/v1/mentions` ([`crate::console`]).
    pub fn console_router(&self) -> Router {
        self.console.router()
    }

    /// A readiness check of the state store: a PING through one connection manager, so probes
    /// reuse a connection instead of opening one each, and a stopped Redis answers within a second.
    pub fn redis_check(&self) -> impl Fn() -> Probe + Send + Sync + 'static {
        let redis = self.redis.clone();
        move || {
            let mut redis = redis.clone();
            Box::pin(
                async move { redis::cmd("PING").query_async::<String>(&mut redis).await.map(|_| ()).map_err(|e| format!("redis: {e}")) },
            )
        }
    }

    /// Not ready while the stage holds a batch because its state cannot be read or written.
    pub fn stage_check(&self) -> impl Fn() -> std::future::Ready<Result<(), String>> + Send + Sync + 'static {
        let readiness = self.stage.readiness();
        move || std::future::ready(readiness.check())
    }

    /// Runs the stage until `shutdown`, reloading rules on SIGHUP.
    pub async fn run(self, shutdown: CancellationToken) -> Result<(), StageError> {
        self.reloader.clone().reload_on_sighup(shutdown.clone());
        self.stage.run(shutdown).await
    }
}
