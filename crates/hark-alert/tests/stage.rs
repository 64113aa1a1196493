//! The alert stage against the real broker and Redis: enriched mentions with a negative wave for
//! one brand go in; exactly one firing and, after the wave, one resolved alert come out on the
//! alerts topic, read by an independent consumer. A second test stops the stage in the middle of
//! the wave and starts a new one, which must carry on from the state in Redis.

mod common;

use std::time::Duration;

use common::*;
use hark_alert::AlertService;
use hark_telemetry::Metrics;
use serde_json::Value;
use tokio_util::sync::CancellationToken;

/// Starts the stage in this process; cancel the token to stop it.
async fn start(config: &Config, metrics: Metrics) -> (CancellationToken, tokio::task::JoinHandle<()>) {
    hark_kafka::ensure_topics(&config.kafka, &AlertService::topics(&config.topics)).await.expect("topics created");
    let service = AlertService::new(&config.shared, &config.section, None, metrics).expect("service");
    let shutdown = CancellationToken::new();
    let stop = shutdown.clone();
    let task = tokio::spawn(async move { service.run(stop).await.expect("stage ran") });
    (shutdown, task)
}

async fn read_alerts(config: &Config, expect: usize) -> Vec<(String, Value)> {
    let topic = config.topics.alerts.clone();
    tokio::task::spawn_blocking(move || read(&topic, expect, Duration::from_secs(5), Duration::from_secs(90))).await.unwrap()
}

fn states(alerts: &[(String, Value)]) -> Vec<(String, String)> {
    alerts.iter().map(|(_, a)| (a["labels"]["brand"].as_str().unwrap().to_string(), a["state"].as_str().unwrap().to_string())).collect()
}

/// The firing and resolved alert of Acme's wave: keyed by fingerprint, schema-valid, with the
/// numbers and examples that triggered it.
fn check_wave_alerts(alerts: &[(String, Value)]) {
    assert_eq!(
        states(alerts),
        vec![("Acme".to_string(), "firing".to_string()), ("Acme".to_string(), "resolved".to_string())],
        "{alerts:#?}"
    );
    let (key, firing) = &alerts[0];
    let (_, resolved) = &alerts[1];
    for (_, alert) in alerts {
        check_schema(alert);
        assert_eq!(alert["fingerprint"].as_str(), Some(key.as_str()));
        assert_eq!(alert["rule"], "negative-spike");
        assert_eq!(alert["starts_at"], firing["starts_at"]);
    }
    let wave_start = chrono::DateTime::from_timestamp(START + WAVE.start * 60, 0).unwrap();
    let starts_at: chrono::DateTime<chrono::Utc> = firing["starts_at"].as_str().unwrap().parse().unwrap();
    assert_eq!(starts_at, wave_start, "the alert starts with the wave's first window");
    let observed = firing["observed"].as_f64().unwrap();
    let expected = firing["expected"].as_f64().unwrap();
    assert!(observed > 0.7 && expected < 0.2, "observed {observed}, expected {expected}");
    assert!(firing["summary"].as_str().unwrap().contains("negative share 75% vs expected 1"), "{}", firing["summary"]);
    let samples = firing["sample_mention_ids"].as_array().unwrap();
    assert!(!samples.is_empty() && samples.iter().all(|s| s.as_str().unwrap().starts_with("twitter:Acme-9")), "{samples:?}");
    let ends_at: chrono::DateTime<chrono::Utc> = resolved["ends_at"].as_str().unwrap().parse().unwrap();
    assert_eq!(ends_at, chrono::DateTime::from_timestamp(START + WAVE.end * 60, 0).unwrap());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_negative_wave_fires_once_and_resolves_once() {
    let config = config("wave");
    let metrics = Metrics::new();
    let (shutdown, task) = start(&config, metrics.clone()).await;
    let records = stream(0..120);
    let topic = config.topics.enriched.clone();
    tokio::task::spawn_blocking(move || produce(&topic, &records)).await.unwrap();

    let alerts = read_alerts(&config, 2).await;
    check_wave_alerts(&alerts);
    assert_eq!(metrics.counter_value("hark_alerts_fired_total", &[("rule", "negative-spike")]), 1);
    assert_eq!(metrics.counter_value("hark_alerts_resolved_total", &[("rule", "negative-spike")]), 1);
    assert_eq!(metrics.counter_value("hark_received_total", &[("stage", "alert")]), 120 * 24);

    // A mention for a window that closed long ago is late: counted, not in any window.
    let topic = config.topics.enriched.clone();
    tokio::task::spawn_blocking(move || produce(&topic, &[("Acme".into(), enriched("Acme", 5, 99, true))])).await.unwrap();
    let late = || metrics.counter_value("hark_discarded_total", &[("stage", "alert"), ("reason", "late")]);
    hark_testkit::eventually(Duration::from_secs(30), "the late mention counted", || std::future::ready(late() > 0)).await;
    shutdown.cancel();
    task.await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_instance_carries_on_from_the_state_in_redis() {
    let config = config("restart");
    // First instance: the baseline and the first half of the wave; it fires.
    let (shutdown, task) = start(&config, Metrics::new()).await;
    let records = stream(0..(WAVE.start + 4));
    let topic = config.topics.enriched.clone();
    tokio::task::spawn_blocking(move || produce(&topic, &records)).await.unwrap();
    let alerts = read_alerts(&config, 1).await;
    assert_eq!(states(&alerts), vec![("Acme".to_string(), "firing".to_string())]);
    shutdown.cancel();
    task.await.unwrap();

    // Second instance, same group and Redis: the rest. Without the stored baseline and open
    // alert it could neither tell the wave nor resolve it; with them it resolves, once.
    let (shutdown, task) = start(&config, Metrics::new()).await;
    let records = stream((WAVE.start + 4)..120);
    let topic = config.topics.enriched.clone();
    tokio::task::spawn_blocking(move || produce(&topic, &records)).await.unwrap();
    let alerts = read_alerts(&config, 2).await;
    check_wave_alerts(&alerts);
    shutdown.cancel();
    task.await.unwrap();
}
