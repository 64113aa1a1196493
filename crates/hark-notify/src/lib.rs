//! Hark's alert delivery (the notify stage): alert state changes from `topics.alerts` become
//! notifications to the receivers in `[notify]`, with Alertmanager's lifecycle and a durable,
//! signed, retried delivery.
//!
//! ```text
//! hark.alerts ──▶ intake ──▶ Redis: alerts   ──▶ dispatcher (routes, groups, silences, timers)
//!                                                   │ one MULTI: outbox entries + group state
//!                                                   ▼
//!                             Redis: outbox:<receiver> ──▶ deliverer ──▶ receiver (signed HTTP)
//!                                                              └──▶ dead letters (4xx, redirect)
//! ```
//!
//! - [`matcher`]: label matchers for routes and silences.
//! - [`store`]: what survives a restart, in Redis.
//! - [`dispatch`]: grouping, dedup, `group_wait` / `group_interval` / `repeat_interval`, silences.
//! - [`payload`]: the bodies of each receiver kind (Hark JSON, Alertmanager webhook v4, Slack,
//!   PagerDuty Events v2, Alertmanager API v2).
//! - [`deliver`]: one worker per receiver: in order, retries with backoff, rate limit, dead letters,
//!   TLS with the system's roots and the config's `ca_file`s.
//! - [`signature`]: how requests are signed, and [`signature::verify`] for receivers.
//! - [`api`]: alerts, silences, dead letters and outboxes over HTTP.
//! - [`intake`]: the Kafka side, through the stage loop every stage runs.
//! - [`lease`]: which of several notifiers sends, and the fencing that keeps a stale one from writing.
//!
//! **Delivery guarantee: at least once, in order, per receiver.** A notification is queued in the
//! receiver's outbox in the same Redis transaction that records it in the group's notification
//! log, and leaves the outbox only after the receiver acknowledged it (2xx) or refused it for good
//! (dead letter). A crash between the acknowledgement and the removal sends it once more, with the
//! same `X-Hark-Notification-Id` (and the same body), so a receiver that remembers ids sees each
//! notification once. PagerDuty and Alertmanager dedupe on their own keys (fingerprint, labels).
//! Any number of notifiers may run per `redis.key_prefix`: one holds the lease and sends, the
//! others take over within `notify.lease_secs` when it dies, and a fencing token keeps a stale
//! holder from changing an outbox ([`lease`]).

pub mod api;
pub mod config;
pub mod deliver;
pub mod dispatch;
pub mod intake;
pub mod lease;
pub mod matcher;
pub mod metrics;
pub mod payload;
pub mod signature;
pub mod store;

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use config::NotifyConfig;
use hark_core::{config::Shared, Alert};
use hark_kafka::{StageError, StageLoop};
use hark_telemetry::Metrics;
use tokio::sync::Notify;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use deliver::pause;
pub use deliver::{Attempt, Deliverer, Failure};
pub use dispatch::{Dispatcher, TickReport};
use intake::AlertIntake;
pub use lease::Lease;
pub use metrics::NotifyMetrics;
pub use payload::{Delivery, Notification};
pub use signature::{sign, verify, SignatureError};
pub use store::{DeadLetter, LastError, Silence, Store};

#[derive(Debug, thiserror::Error)]
pub enum NotifyError {
    #[error("redis: {0}")]
    Redis(#[from] redis::RedisError),
    #[error("kafka: {0}")]
    Kafka(#[from] rdkafka::error::KafkaError),
    #[error("reading the alerts topic: {0}")]
    Stage(#[from] StageError),
    #[error("json: {0}")]
    Json(#[from] serde_json::Error),
    /// A configuration or request that cannot work, in words for the operator.
    #[error("{0}")]
    Invalid(String),
    /// An outbox or group write refused because another notifier holds the lease now.
    #[error("another notifier holds the lease; this one no longer sends")]
    Fenced,
}

/// The notify stage: the store, the dispatcher and one deliverer per receiver.
pub struct Notifier {
    config: NotifyConfig,
    store: Store,
    metrics: NotifyMetrics,
    /// Wakes the dispatcher early when an alert arrives.
    alert_arrived: Arc<Notify>,
    /// Reads `topics.alerts` into the store.
    intake: StageLoop<AlertIntake>,
}

impl Notifier {
    /// Connects to Redis and builds every receiver; an unusable receiver or route is an error here.
    pub async fn new(shared: &Shared, config: &NotifyConfig, metrics: Metrics) -> Result<Notifier, NotifyError> {
        config.check().map_err(NotifyError::Invalid)?;
        // Receivers' URLs, signing secrets and routing keys, from the environment or files.
        let mut config = config.clone();
        config.read_secrets().map_err(NotifyError::Invalid)?;
        let store = Store::connect(&shared.redis).await?;
        let metrics = NotifyMetrics::new(metrics);
        // Built here once so that a route or receiver that cannot work is an error at start.
        Notifier::senders(&config, &store, &metrics)?;
        let alert_arrived = Arc::new(Notify::new());
        let options = config.stage.options(&shared.topics.alerts, &shared.topics.dlq);
        let intake =
            StageLoop::new(&shared.kafka, options, AlertIntake::new(store.clone(), alert_arrived.clone()), metrics.shared.clone())?;
        Ok(Notifier { config, store, metrics, alert_arrived, intake })
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    pub fn metrics(&self) -> &NotifyMetrics {
        &self.metrics
    }

    /// Not ready while the intake holds a batch because Redis cannot store it.
    pub fn intake_check(&self) -> impl Fn() -> std::future::Ready<Result<(), String>> + Send + Sync + 'static {
        let readiness = self.intake.readiness();
        move || std::future::ready(readiness.check())
    }

    /// The HTTP API, to merge into the stage's router.
    pub fn router(&self) -> axum::Router {
        api::router(self.store.clone(), self.config.receivers.iter().map(|r| r.name.clone()).collect())
    }

    /// Takes an alert state change as if read from the topic.
    pub async fn ingest(&self, alert: &Alert) -> Result<(), NotifyError> {
        self.store.record_alert(alert, Utc::now()).await?;
        self.alert_arrived.notify_one();
        Ok(())
    }

    /// The parts only the lease holder runs: the dispatcher and one deliverer per receiver.
    fn senders(config: &NotifyConfig, store: &Store, metrics: &NotifyMetrics) -> Result<(Dispatcher, Vec<Deliverer>), NotifyError> {
        let dispatcher = Dispatcher::new(config, store.clone())?;
        let deliverers = config
            .receivers
            .iter()
            .map(|r| Deliverer::new(r.clone(), config.ca_file.as_deref(), store.clone(), metrics.clone()))
            .collect::<Result<_, _>>()?;
        Ok((dispatcher, deliverers))
    }

    /// Runs, with `read_topic`, the consumer of `topics.alerts`, and, while this instance holds
    /// the lease ([`lease`]), the dispatcher and the deliverers; until `shutdown` (or the consumer fails).
    pub async fn run(self, read_topic: bool, shutdown: CancellationToken) -> Result<(), NotifyError> {
        let Notifier { config, store, metrics, alert_arrived, intake } = self;
        let mut tasks: JoinSet<Result<(), NotifyError>> = JoinSet::new();
        if read_topic {
            let shutdown = shutdown.clone();
            tasks.spawn(async move { Ok(intake.run(shutdown).await?) });
        }
        let leader_shutdown = shutdown.clone();
        tasks.spawn(async move {
            let mut lease = Lease::new(store.clone(), Duration::from_secs(config.lease_secs));
            while !leader_shutdown.is_cancelled() {
                if !lease.hold().await {
                    pause(&leader_shutdown, lease.interval()).await;
                    continue;
                }
                // This instance sends until it loses the lease or stops.
                let term = leader_shutdown.child_token();
                let (dispatcher, deliverers) = Notifier::senders(&config, &store, &metrics)?;
                let mut senders = send(dispatcher, deliverers, Duration::from_millis(config.tick_ms), &metrics, &alert_arrived, &term);
                while !pause(&term, lease.interval()).await && lease.hold().await {}
                term.cancel();
                while senders.join_next().await.is_some() {}
            }
            lease.release().await;
            Ok(())
        });
        let mut result = Ok(());
        while let Some(joined) = tasks.join_next().await {
            let outcome = joined.unwrap_or_else(|e| Err(NotifyError::Invalid(format!("notify task failed: {e}"))));
            if let Err(e) = outcome {
                if result.is_ok() {
                    result = Err(e);
                }
            }
            shutdown.cancel();
        }
        result
    }
}

/// Starts the lease holder's work: a deliverer per receiver, and the dispatcher's tick (early
/// when an alert arrives), until `term`.
fn send(
    dispatcher: Dispatcher,
    deliverers: Vec<Deliverer>,
    tick: Duration,
    metrics: &NotifyMetrics,
    alert_arrived: &Arc<Notify>,
    term: &CancellationToken,
) -> JoinSet<()> {
    let mut tasks = JoinSet::new();
    let wakes: Vec<(String, Arc<Notify>)> = deliverers.iter().map(|d| (d.name().to_string(), d.wake.clone())).collect();
    for deliverer in deliverers {
        tasks.spawn(deliverer.run(term.clone()));
    }
    let (metrics, alert_arrived, term) = (metrics.clone(), alert_arrived.clone(), term.clone());
    tasks.spawn(async move {
        while !term.is_cancelled() {
            match dispatcher.tick(Utc::now()).await {
                Ok(report) => {
                    metrics.set_firing(&report.firing);
                    for (name, wake) in &wakes {
                        if report.receivers.contains(name) {
                            wake.notify_one();
                        }
                    }
                }
                Err(NotifyError::Fenced) => term.cancel(),
                Err(e) => {
                    tracing::warn!(error = %e, "dispatch failed, trying again next tick");
                    metrics.shared.error(hark_telemetry::Stage::Notify, "redis");
                }
            }
            tokio::select! {
                _ = tokio::time::sleep(tick) => {}
                _ = alert_arrived.notified() => {}
                _ = term.cancelled() => {}
            }
        }
        metrics.set_firing(&Default::default());
    });
    tasks
}
