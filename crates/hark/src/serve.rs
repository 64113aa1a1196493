//! Running stages as services: one stage per process (`hark ingest`), or all of them in one
//! process (`hark all`), stopped cleanly by SIGINT or SIGTERM.
//!
//! A process has up to two listeners, each with `/metrics`, `/healthz` and `/readyz`:
//! - `listen` (the first stage's): the ingest API where ingest runs, ingest tokens;
//! - `admin_listen` (the first stage's that has one), where alert or notify runs: the notify API,
//!   the alert stage's console data and `POST /-/reload`, admin tokens, JSON for requests that
//!   change something; and the web console's page (`hark-console`).
//!
//! Both serve `/openapi.json`.
//!
//! The access rules ([`hark_access`]) are checked before anything starts: a listener open to
//! anyone (no tokens of its kind) on a non-loopback address is refused.

use std::sync::Arc;

use anyhow::Context;
use hark_access::{check_exposure, config::TokenKind, Access};
use hark_core::{BrandNames, IngestedBy};

use hark_enrich::EnrichProcessor;
use hark_ingest::Ingest;
use hark_kafka::{broker_check, ensure_topics, StageLoop};
use hark_route::{RouteProcessor, Router};
use hark_telemetry::{endpoint, Health, Metrics, Stage};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::config::Config;

/// Every topic the given stages read or write.
pub fn topics_of(config: &Config, stages: &[Stage]) -> Vec<String> {
    let t = &config.topics;
    let mut topics = vec![t.raw.clone()];
    if stages.contains(&Stage::Enrich) || stages.contains(&Stage::Route) {
        topics.extend([t.enriched.clone(), t.dlq.clone()]);
    }
    if stages.contains(&Stage::Route) {
        topics.extend(Router::new(&config.route, &config.topics).topics());
    }
    if stages.contains(&Stage::Alert) {
        topics.extend(hark_alert::AlertService::topics(&config.topics));
    }
    if stages.contains(&Stage::Notify) {
        topics.extend([t.alerts.clone(), t.dlq.clone()]);
    }
    // Stages share topics; a CreateTopics request naming one twice is refused by the broker.
    topics.sort();
    topics.dedup();
    topics
}

/// A listener's address and the setting it comes from (`ingest.listen`), for messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Address {
    pub setting: &'static str,
    pub address: String,
}

/// The addresses a process with these stages listens on: the first stage's `listen`, and where
/// alert or notify runs, the first stage's `admin_listen` (enrich and route have none).
pub fn addresses(config: &Config, stages: &[Stage]) -> Option<(Address, Option<Address>)> {
    let at = |setting, address: &String| Address { setting, address: address.clone() };
    let listen = stages.iter().map(|stage| match stage {
        Stage::Ingest => at("ingest.listen", &config.ingest.listen),
        Stage::Enrich => at("enrich.listen", &config.enrich.stage.listen),
        Stage::Route => at("route.listen", &config.route.stage.listen),
        Stage::Alert => at("alert.listen", &config.alert.stage.listen),
        Stage::Notify => at("notify.listen", &config.notify.stage.listen),
    });
    let has_admin_routes = stages.iter().any(|s| matches!(s, Stage::Alert | Stage::Notify));
    let admin = stages.iter().find_map(|stage| match stage {
        Stage::Ingest => Some(at("ingest.admin_listen", &config.ingest.admin_listen)),
        Stage::Alert => Some(at("alert.admin_listen", &config.alert.admin_listen)),
        Stage::Notify => Some(at("notify.admin_listen", &config.notify.admin_listen)),
        Stage::Enrich | Stage::Route => None,
    });
    listen.into_iter().next().map(|listen| (listen, admin.filter(|_| has_admin_routes)))
}

/// The access rules of a process with these stages, or why it must not start: a secret that
/// cannot be read, or a listener open to anyone off loopback.
pub fn access(config: &Config, stages: &[Stage], metrics: &Metrics) -> anyhow::Result<Access> {
    let (listen, admin) = addresses(config, stages).context("no stage to run")?;
    if stages.contains(&Stage::Ingest) {
        check_exposure(&config.auth, listen.setting, &listen.address, TokenKind::Ingest)?;
    }
    if let Some(admin) = &admin {
        check_exposure(&config.auth, admin.setting, &admin.address, TokenKind::Admin)?;
    }
    Ok(Access::new(&config.auth, metrics)?)
}

/// Runs the stages until `shutdown` is cancelled or one of them fails.
/// `config_file`: the file the process started with, read again when the alert rules are reloaded.
pub async fn run(
    config: Config,
    config_file: Option<std::path::PathBuf>,
    stages: &[Stage],
    metrics: Metrics,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let access = access(&config, stages, &metrics)?;
    let shared = config.shared();
    if config.kafka.create_topics {
        ensure_topics(&config.kafka, &topics_of(&config, stages)).await.context("creating topics")?;
    }
    let mut health = Health::new();
    // The ingest API; the admin API (notify's and `/-/reload`).
    let mut app = axum::Router::new();
    let mut admin_app = axum::Router::new();
    let mut tasks: JoinSet<anyhow::Result<()>> = JoinSet::new();

    if stages.contains(&Stage::Ingest) {
        let producer = hark_kafka::RenewingProducer::new(&config.kafka, None)?;
        let redis = hark_core::config::secret::redact_url(&config.redis.url, false);
        let brands = BrandNames::new(config.enrich.brands.iter().map(|b| b.name.as_str()));
        let unauthenticated = IngestedBy::unauthenticated(config.auth.trust_unauthenticated_author_metrics);
        let ingest = Ingest::new(&config.ingest, &shared, brands, unauthenticated, producer.clone(), metrics.clone())
            .await
            .with_context(|| format!("connecting to Redis at {redis}"))?;
        let deduper = ingest.deduper().clone();
        health.add_check("redis", move || {
            let deduper = deduper.clone();
            async move { deduper.ping().await }
        });
        health.add_check("broker", move || broker_check(producer.clone()));
        app = app.merge(access.ingest(hark_ingest::router(ingest, hark_ingest::api::ApiLimits::from_config(&config.ingest))));
    }
    if stages.contains(&Stage::Enrich) {
        // Loading the language models takes a few seconds of CPU.
        let enrich_config = config.enrich.clone();
        let enricher = Arc::new(tokio::task::spawn_blocking(move || hark_enrich::Enricher::new(&enrich_config)).await??);
        let options = config.enrich.stage.options(&config.topics.raw, &config.topics.dlq);
        let max_future_skew = chrono::Duration::seconds(config.ingest.max_future_skew_secs);
        let mut processor = EnrichProcessor::new(enricher, &config.topics.enriched, max_future_skew).with_metrics(&metrics);
        if config.enrich.spam_repeat_authors > 0 {
            // The repeat count is shared through Redis, so every instance gives a mention the same labels.
            let store = hark_enrich::repeat_store::RepeatStore::new(&config.redis, config.enrich.spam_repeat_window_secs)
                .context("the enrich stage's Redis (spam repeat count)")?;
            processor = processor.with_shared_repeats(Arc::new(store));
        }
        let stage = StageLoop::new(&config.kafka, options, processor, metrics.clone())?;
        let producer = stage.producer();
        health.add_check("enrich-broker", move || broker_check(producer.clone()));
        // Not ready while a batch waits for Redis.
        let readiness = stage.readiness();
        health.add_check("enrich-stage", move || std::future::ready(readiness.check()));
        let shutdown = shutdown.clone();
        tasks.spawn(async move { stage.run(shutdown).await.context("enrich stage") });
    }
    if stages.contains(&Stage::Route) {
        let options = config.route.stage.options(&config.topics.enriched, &config.topics.dlq);
        let stage =
            StageLoop::new(&config.kafka, options, RouteProcessor::new(Router::new(&config.route, &config.topics)), metrics.clone())?;
        let producer = stage.producer();
        health.add_check("route-broker", move || broker_check(producer.clone()));
        let shutdown = shutdown.clone();
        tasks.spawn(async move { stage.run(shutdown).await.context("route stage") });
    }

    if stages.contains(&Stage::Alert) {
        // A reload reads the file the process started with again, the environment on top.
        let load = config_file.map(|path| {
            Arc::new(move || Config::load(Some(&path)).map(|c| c.alert).map_err(|e| e.to_string())) as hark_alert::service::LoadAlertConfig
        });
        let service = hark_alert::AlertService::new(&shared, &config.alert, load, metrics.clone())?;
        let producer = service.stage.producer();
        health.add_check("alert-broker", move || broker_check(producer.clone()));
        health.add_check("alert-redis", service.redis_check());
        health.add_check("alert-stage", service.stage_check());
        // POST /-/reload; SIGHUP reloads too.
        admin_app = admin_app.merge(access.admin(service.reloader.router().merge(service.console_router())));
        let shutdown = shutdown.clone();
        tasks.spawn(async move { service.run(shutdown).await.context("alert stage") });
    }

    if stages.contains(&Stage::Notify) {
        let notifier = hark_notify::Notifier::new(&shared, &config.notify, metrics.clone()).await.context("starting notify")?;
        let store = notifier.store().clone();
        health.add_check("notify-redis", move || {
            let store = store.clone();
            async move { store.ping().await }
        });
        health.add_check("notify-intake", notifier.intake_check());
        admin_app = admin_app.merge(access.admin(notifier.router()));
        let shutdown = shutdown.clone();
        tasks.spawn(async move { notifier.run(true, shutdown).await.context("notify stage") });
    }

    let (listen, admin_listen) = addresses(&config, stages).context("no stage to run")?;
    // Open on both listeners: the console's files and the API document hold no data.
    let observability = access.observability(endpoint(metrics, health)).merge(hark_console::openapi_router());
    let mut servers = vec![(listen, app.merge(observability.clone()))];
    servers.extend(admin_listen.map(|admin| (admin, admin_app.merge(hark_console::router()).merge(observability))));
    for (Address { setting, address }, app) in servers {
        let app = app.layer(axum::middleware::from_fn(hark_access::json_errors::json_errors));
        let listener = tokio::net::TcpListener::bind(&address).await.with_context(|| format!("listening on {address} ({setting})"))?;
        tracing::info!(%address, setting, ?stages, "serving");
        let server_shutdown = shutdown.clone();
        tasks.spawn(async move {
            axum::serve(listener, app).with_graceful_shutdown(server_shutdown.cancelled_owned()).await.context("http server")
        });
    }

    // The first task to end (an error, or all of them after shutdown) stops the rest.
    let mut result = Ok(());
    while let Some(joined) = tasks.join_next().await {
        let outcome = joined.map_err(anyhow::Error::from).and_then(|r| r);
        if let Err(e) = outcome {
            tracing::error!(error = format!("{e:#}"), "stopping");
            if result.is_ok() {
                result = Err(e);
            }
        }
        shutdown.cancel();
    }
    result
}

/// A token cancelled by SIGINT or SIGTERM.
pub fn shutdown_on_signals() -> CancellationToken {
    let token = CancellationToken::new();
    let cancel = token.clone();
    tokio::spawn(async move {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).expect("SIGTERM handler");
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
        tracing::info!("shutting down");
        cancel.cancel();
    });
    token
}
