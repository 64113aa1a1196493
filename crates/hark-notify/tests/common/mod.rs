//! What the notifier's tests share beside the test kit (the recording receiver, key prefixes,
//! `eventually`): configs and alerts.
#![allow(dead_code, unused_imports)]

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use hark_core::Alert;
use hark_notify::config::NotifyConfig;
use hark_notify::{Notifier, NotifyError};
use hark_telemetry::Metrics;
use hark_testkit::StageConfig;
pub use hark_testkit::{eventually, prefix, Behaviour, Received, Receiver, SECRET};
use serde_json::json;
use tokio::net::TcpListener;

/// The shared sections and `[notify]`.
pub type Config = StageConfig<NotifyConfig>;

/// The notifier's sections of a config file's text, checked.
pub fn parse(text: &str) -> Result<Config, String> {
    StageConfig::parse(text, "notify", NotifyConfig::check)
}

/// The config of `text`, with the broker and Redis the tests run against.
pub fn with_services(text: &str) -> Config {
    let mut config = parse(text).expect("valid test config");
    config.kafka.brokers = hark_testkit::brokers();
    config.redis.url = hark_testkit::redis_url();
    config
}

/// A config from the `[notify]` TOML given (receivers, routes, timing), on the test's prefix, with
/// the broker and Redis the tests run against.
pub fn config(prefix: &str, notify_toml: &str) -> Config {
    with_services(&format!("[redis]\nkey_prefix = \"{prefix}\"\n[notify]\n{notify_toml}"))
}

/// A notifier of `config`.
pub async fn notifier(config: &Config, metrics: Metrics) -> Result<Notifier, NotifyError> {
    Notifier::new(&config.shared, &config.section, metrics).await
}

/// A webhook receiver's TOML table.
pub fn webhook(name: &str, kind: &str, url: &str, extra: &str) -> String {
    format!("[[notify.receivers]]\nname = \"{name}\"\nkind = \"{kind}\"\nurl = \"{url}\"\nsecret = \"{SECRET}\"\nretry_initial_ms = 50\nretry_max_ms = 400\nrate_limit_per_minute = 6000\n{extra}\n")
}

/// An alert of `rule` for `brand`, firing since `starts_at`.
pub fn alert(rule: &str, brand: &str, starts_at: DateTime<Utc>) -> Alert {
    let labels: BTreeMap<String, String> = [("brand".to_string(), brand.to_string())].into();
    serde_json::from_value(json!({
        "fingerprint": Alert::fingerprint_of(rule, &labels),
        "rule": rule,
        "state": "firing",
        "labels": labels,
        "summary": format!("{rule} for {brand}: 42 negative mentions in 5 min vs 6 expected"),
        "observed": 42.0,
        "expected": 6.0,
        "starts_at": starts_at,
        "ends_at": null,
        "sample_mention_ids": ["twitter:1", "tiktok:2"],
        "generated_at": Utc::now(),
    }))
    .unwrap()
}

/// The same alert, resolved now.
pub fn resolved(alert: &Alert) -> Alert {
    let mut a = alert.clone();
    a.state = hark_core::AlertState::Resolved;
    a.ends_at = Some(Utc::now());
    a.generated_at = Utc::now();
    a
}

/// Serves a router on 127.0.0.1:0; its base URL.
pub async fn serve(router: axum::Router) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    format!("http://{addr}")
}
