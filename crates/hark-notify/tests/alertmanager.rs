//! Hark's alerts in a real Alertmanager (Debian's `prometheus-alertmanager`, 0.25), read from a
//! real Kafka topic: the test starts both ends, produces alert state changes to the topic, and
//! checks through Alertmanager's API v2 that the alert fired and then resolved.

mod common;

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use chrono::{DateTime, Utc};
use common::*;
use hark_telemetry::{Metrics, Stage};
use hark_testkit::poll_until;
use rdkafka::producer::FutureRecord;
use serde_json::Value;
use tokio_util::sync::CancellationToken;

/// An Alertmanager on a free port with its own storage; stopped when dropped.
struct Alertmanager {
    child: Child,
    url: String,
    dir: std::path::PathBuf,
}

impl Drop for Alertmanager {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn alertmanager_binary() -> String {
    std::env::var("HARK_ALERTMANAGER").unwrap_or_else(|_| "/usr/bin/prometheus-alertmanager".into())
}

async fn start_alertmanager() -> Alertmanager {
    let port = hark_testkit::free_port();
    let dir = std::env::temp_dir().join(format!("hark-alertmanager-{:08x}", fastrand::u32(..)));
    std::fs::create_dir_all(dir.join("data")).unwrap();
    let config = dir.join("alertmanager.yml");
    std::fs::write(&config, "route:\n  receiver: blackhole\n  group_wait: 1s\nreceivers:\n  - name: blackhole\n").unwrap();
    let child = Command::new(alertmanager_binary())
        .arg(format!("--config.file={}", config.display()))
        .arg(format!("--storage.path={}", dir.join("data").display()))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        // No cluster: no gossip port, no peers.
        .arg("--cluster.listen-address=")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(dir.join("alertmanager.log")).unwrap())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {} ({e}); install it with deploy/local.sh install", alertmanager_binary()));
    let am = Alertmanager { child, url: format!("http://127.0.0.1:{port}"), dir };
    poll_until(Duration::from_secs(20), async || match reqwest::get(format!("{}/-/ready", am.url)).await {
        Ok(r) if r.status().is_success() => Ok(()),
        _ => Err(format!("Alertmanager not ready: {}", std::fs::read_to_string(am.dir.join("alertmanager.log")).unwrap_or_default())),
    })
    .await;
    am
}

/// The alerts Alertmanager lists with this alertname.
async fn alertmanager_alerts(am: &Alertmanager, alertname: &str) -> Vec<Value> {
    let all: Vec<Value> = reqwest::get(format!("{}/api/v2/alerts", am.url)).await.unwrap().json().await.unwrap();
    all.into_iter().filter(|a| a["labels"]["alertname"] == alertname).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alerts_from_the_topic_fire_and_resolve_in_a_real_alertmanager() {
    let am = start_alertmanager().await;
    let run = format!("{:08x}", fastrand::u32(..));
    let topic = format!("hark-test-notify-alerts-{run}");
    let rule = format!("negative-spike-{run}");
    let receiver = format!(
        "[[notify.receivers]]\nname = \"am\"\nkind = \"alertmanager\"\nurl = \"{}\"\nsecret = \"{SECRET}\"\nrepush_interval_secs = 2\nretry_initial_ms = 50\n",
        am.url
    );
    let toml = format!(
        "tick_ms = 100\ngroup_wait_secs = 0\ngroup_interval_secs = 1\ngroup_id = \"hark-test-notify-{run}\"\n\
         external_url = \"http://hark.example:8084\"\n{receiver}[[notify.routes]]\nreceiver = \"am\"\n"
    );
    let mut config = config(&prefix("alertmanager"), &toml);
    config.topics.alerts = topic.clone();
    config.topics.dlq = format!("{topic}.dlq");
    hark_kafka::ensure_topics(&config.kafka, &[topic.clone(), config.topics.dlq.clone()]).await.unwrap();

    let metrics = Metrics::new();
    let notifier = notifier(&config, metrics.clone()).await.unwrap();
    let store = notifier.store().clone();
    let stop = CancellationToken::new();
    let running = tokio::spawn(notifier.run(true, stop.clone()));

    let producer = hark_kafka::producer(&config.kafka, None).unwrap();
    let send = |key: String, payload: Vec<u8>| {
        let producer = producer.clone();
        let topic = topic.clone();
        async move {
            producer.send(FutureRecord::to(&topic).key(&key).payload(&payload), Duration::from_secs(10)).await.map_err(|(e, _)| e).unwrap();
        }
    };
    // Bad input on the topic is dead-lettered and counted, and does not stop what follows.
    send("junk".into(), b"{not an alert".to_vec()).await;
    let firing = alert(&rule, "SkyNordic", Utc::now() - chrono::Duration::minutes(4));
    send(firing.fingerprint.clone(), serde_json::to_vec(&firing).unwrap()).await;

    let fired = hark_testkit::wait_for(Duration::from_secs(30), "the alert firing in Alertmanager", || async {
        alertmanager_alerts(&am, &rule).await.into_iter().find(|a| a["status"]["state"] == "active")
    })
    .await;
    assert_eq!(fired["labels"]["brand"], "SkyNordic");
    assert_eq!(fired["annotations"]["summary"], firing.summary.as_str());
    assert_eq!(fired["generatorURL"], format!("http://hark.example:8084/v1/alerts?fingerprint={}", firing.fingerprint));
    let starts: DateTime<Utc> = fired["startsAt"].as_str().unwrap().parse().unwrap();
    assert_eq!(starts.timestamp_millis(), firing.starts_at.timestamp_millis());
    let ends: DateTime<Utc> = fired["endsAt"].as_str().unwrap().parse().unwrap();
    assert!(ends > Utc::now(), "a firing alert ends in the future");
    // Counted once the dead-letter topic acknowledged it, which may come after the alert went out.
    let dead_lettered =
        || metrics.counter_value("hark_dead_lettered_total", &[("stage", Stage::Notify.as_str()), ("error_type", "invalid_json")]);
    eventually(Duration::from_secs(10), "the junk dead-lettered", || std::future::ready(dead_lettered() >= 1)).await;
    assert_eq!(dead_lettered(), 1);

    // Re-pushed while it fires: Alertmanager would resolve it on its own past endsAt (8 s here).
    tokio::time::sleep(Duration::from_secs(9)).await;
    let still = alertmanager_alerts(&am, &rule).await;
    assert!(still.iter().any(|a| a["status"]["state"] == "active"), "still firing after endsAt was first due: {still:?}");
    let later: DateTime<Utc> = still[0]["endsAt"].as_str().unwrap().parse().unwrap();
    assert!(later > ends, "endsAt moved on with each push");

    let done = resolved(&firing);
    send(done.fingerprint.clone(), serde_json::to_vec(&done).unwrap()).await;
    // Alertmanager lists a resolved alert no more (or, briefly, with its end in the past).
    let ended = |a: &Value| a["endsAt"].as_str().unwrap().parse::<DateTime<Utc>>().unwrap() <= Utc::now();
    eventually(Duration::from_secs(30), "the alert resolved in Alertmanager", || async {
        alertmanager_alerts(&am, &rule).await.iter().all(ended)
    })
    .await;
    stop.cancel();
    running.await.unwrap().unwrap();
    store.delete_all().await.unwrap();
}
