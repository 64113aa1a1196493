//! Receivers that fail: 5xx, 429 with Retry-After, hangs, garbage, 4xx, redirects, and a receiver
//! that is down while the notifier restarts. Every case against a real HTTP server.

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use chrono::Utc;
use common::*;
use hark_notify::Notifier;
use hark_telemetry::Metrics;
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_util::sync::CancellationToken;

const TIMING: &str = "tick_ms = 100\ngroup_wait_secs = 0\ngroup_interval_secs = 1\nrepeat_interval_secs = 3600\n";

async fn start(config: &Config) -> (CancellationToken, String, Notifier) {
    let notifier = notifier(config, Metrics::new()).await.expect("notifier starts");
    let api = serve(notifier.router()).await;
    (CancellationToken::new(), api, notifier)
}

fn one_receiver(url: &str, extra: &str) -> String {
    format!("{TIMING}{}[[notify.routes]]\nreceiver = \"ops\"\n", webhook("ops", "webhook", url, extra))
}

async fn dead_letters(api: &str) -> Vec<Value> {
    let v: Value = reqwest::get(format!("{api}/v1/dead-letters")).await.unwrap().json().await.unwrap();
    v["dead_letters"].as_array().unwrap().clone()
}

async fn wait_dead_letters(api: &str, timeout: Duration) -> Vec<Value> {
    hark_testkit::wait_for(timeout, "a dead letter", || async { Some(dead_letters(api).await).filter(|l| !l.is_empty()) }).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_errors_rate_limits_and_hangs_are_retried_with_the_same_request() {
    let receiver = Receiver::start().await;
    receiver.script([
        Behaviour::Status { status: 503, retry_after: None, body: "busy".into() },
        Behaviour::Status { status: 429, retry_after: Some("2".into()), body: "slow down".into() },
        Behaviour::Hang(Duration::from_secs(5)),
        Behaviour::Status { status: 500, retry_after: None, body: "oops".into() },
    ]);
    let (stop, _api, notifier) = start(&config(&prefix("retries"), &one_receiver(&receiver.url("/"), "timeout_ms = 700"))).await;
    let metrics = notifier.metrics().clone();
    notifier.ingest(&alert("negative-spike", "SkyNordic", Utc::now())).await.unwrap();
    let store = notifier.store().clone();
    tokio::spawn(notifier.run(false, stop.clone()));

    let accepted = receiver.wait_accepted(1, Duration::from_secs(20)).await;
    let all = receiver.received();
    assert_eq!(all.len(), 5, "four failures, then the delivery");
    assert!(
        all.iter().all(|r| r.id() == accepted[0].id() && r.body == accepted[0].body && r.signature_ok),
        "every attempt is the same signed request"
    );
    let after_429 = all[2].at - all[1].at;
    assert!(after_429 >= Duration::from_millis(1950), "Retry-After: 2 was honoured: {after_429:?}");
    let after_hang = all[3].at - all[2].at;
    assert!(after_hang >= Duration::from_millis(700) && after_hang < Duration::from_secs(5), "the hang timed out: {after_hang:?}");
    // The receiver reports a request before Hark has read the response, so the count may trail a moment.
    eventually(Duration::from_secs(5), "the delivery counted", || async { metrics.requests("ops", "sent") == 1 }).await;
    assert_eq!(metrics.requests("ops", "retried"), 4);
    assert_eq!(metrics.requests("ops", "failed"), 0);
    stop.cancel();
    store.delete_all().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_delivery_is_dead_lettered_with_the_response_and_can_be_replayed() {
    let receiver = Receiver::start().await;
    receiver.script([Behaviour::Status { status: 400, retry_after: None, body: "{\"error\":\"unknown field brand\"}".into() }]);
    let (stop, api, notifier) = start(&config(&prefix("dead"), &one_receiver(&receiver.url("/"), ""))).await;
    notifier.ingest(&alert("negative-spike", "SkyNordic", Utc::now())).await.unwrap();
    // A second brand: the outbox goes on past the dead letter.
    notifier.ingest(&alert("negative-spike", "Other", Utc::now())).await.unwrap();
    let store = notifier.store().clone();
    tokio::spawn(notifier.run(false, stop.clone()));

    let accepted = receiver.wait_accepted(1, Duration::from_secs(10)).await;
    let letters = wait_dead_letters(&api, Duration::from_secs(5)).await;
    assert_eq!(letters.len(), 1);
    assert_eq!(letters[0]["status"], 400);
    assert_eq!(letters[0]["response_body"], "{\"error\":\"unknown field brand\"}");
    assert!(letters[0]["reason"].as_str().unwrap().contains("refused the request: 400"));
    assert_eq!(receiver.received().len(), 2, "a 400 is not retried");
    let id = letters[0]["delivery"]["id"].as_str().unwrap().to_string();
    assert_ne!(id, accepted[0].id());

    let replay = reqwest::Client::new().post(format!("{api}/v1/dead-letters/{id}/replay")).send().await.unwrap();
    assert_eq!(replay.status(), 200);
    let got = receiver.wait_accepted(2, Duration::from_secs(10)).await;
    assert_eq!(got[1].id(), id, "the replay is the same notification");
    assert!(dead_letters(&api).await.is_empty());
    assert_eq!(store.outbox_len("ops").await.unwrap(), 0);
    let missing = reqwest::Client::new().post(format!("{api}/v1/dead-letters/nope/replay")).send().await.unwrap();
    assert_eq!(missing.status(), 404);
    stop.cancel();
    store.delete_all().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replayed_dead_letter_gets_all_its_attempts_again() {
    let receiver = Receiver::start().await;
    let failure = || Behaviour::Status { status: 500, retry_after: None, body: "oops".into() };
    receiver.script([failure(), failure(), failure(), failure()]);
    let (stop, api, notifier) = start(&config(&prefix("replay-attempts"), &one_receiver(&receiver.url("/"), "max_attempts = 2"))).await;
    notifier.ingest(&alert("negative-spike", "SkyNordic", Utc::now())).await.unwrap();
    let store = notifier.store().clone();
    tokio::spawn(notifier.run(false, stop.clone()));

    let letters = wait_dead_letters(&api, Duration::from_secs(10)).await;
    assert!(letters[0]["reason"].as_str().unwrap().starts_with("gave up after 2 attempts"), "{}", letters[0]["reason"]);
    let id = letters[0]["delivery"]["id"].as_str().unwrap().to_string();
    let replay = reqwest::Client::new().post(format!("{api}/v1/dead-letters/{id}/replay")).send().await.unwrap();
    assert_eq!(replay.status(), 200);
    // The replay is the outbox's head at once, with the same id: it starts counting afresh.
    eventually(Duration::from_secs(10), "the replay tried twice and dead-lettered again", || async {
        receiver.received().len() >= 4 && !dead_letters(&api).await.is_empty()
    })
    .await;
    let again = dead_letters(&api).await;
    assert!(again[0]["reason"].as_str().unwrap().starts_with("gave up after 2 attempts"), "{}", again[0]["reason"]);
    assert_eq!(receiver.received().len(), 4, "two attempts, then two more after the replay");
    stop.cancel();
    store.delete_all().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redirects_are_not_followed() {
    let receiver = Receiver::start().await;
    let elsewhere = Receiver::start().await;
    receiver.script([Behaviour::Redirect(elsewhere.url("/stolen"))]);
    let (stop, api, notifier) = start(&config(&prefix("redirect"), &one_receiver(&receiver.url("/"), ""))).await;
    notifier.ingest(&alert("negative-spike", "SkyNordic", Utc::now())).await.unwrap();
    let store = notifier.store().clone();
    tokio::spawn(notifier.run(false, stop.clone()));
    let letters = wait_dead_letters(&api, Duration::from_secs(10)).await;
    let reason = letters[0]["reason"].as_str().unwrap();
    assert!(reason.contains("307") && reason.contains("/stolen") && reason.contains("redirects are not followed"), "{reason}");
    assert!(elsewhere.received().is_empty(), "nothing went to the redirect target");
    assert_eq!(receiver.received().len(), 1);
    stop.cancel();
    store.delete_all().await.unwrap();
}

/// A server that answers every connection with bytes that are not HTTP.
async fn garbage_server() -> (SocketAddr, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let connections = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let count = connections.clone();
    tokio::spawn(async move {
        loop {
            let (mut socket, _) = listener.accept().await.unwrap();
            count.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            tokio::spawn(async move {
                let mut buf = [0u8; 1024];
                let _ = socket.read(&mut buf).await;
                let _ = socket.write_all(b"\x00\xff\xfeSSH-2.0-garbage\r\n\r\n{{{{").await;
            });
        }
    });
    (addr, connections)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_answers_are_retried_then_dead_lettered_after_max_attempts() {
    let (addr, connections) = garbage_server().await;
    let (stop, api, notifier) = start(&config(&prefix("garbage"), &one_receiver(&format!("http://{addr}/"), "max_attempts = 3"))).await;
    notifier.ingest(&alert("negative-spike", "SkyNordic", Utc::now())).await.unwrap();
    let store = notifier.store().clone();
    tokio::spawn(notifier.run(false, stop.clone()));
    let letters = wait_dead_letters(&api, Duration::from_secs(10)).await;
    let reason = letters[0]["reason"].as_str().unwrap();
    assert!(reason.starts_with("gave up after 3 attempts: request failed"), "{reason}");
    assert_eq!(letters[0]["attempts"], 3);
    assert_eq!(connections.load(std::sync::atomic::Ordering::SeqCst), 3);
    stop.cancel();
    store.delete_all().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_receiver_down_gets_every_notification_in_order_once_back_even_across_a_restart() {
    // A port with nothing listening: connections are refused until the receiver comes up on it.
    let addr = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap().local_addr().unwrap();
    let prefix = prefix("down");
    let config = config(&prefix, &one_receiver(&format!("http://{addr}/hook"), ""));
    let (stop, _api, notifier) = start(&config).await;
    let store = notifier.store().clone();
    tokio::spawn(notifier.run(false, stop.clone()));

    let brands = ["A", "B", "C"];
    let alerts: Vec<_> = brands.iter().map(|b| alert("negative-spike", b, Utc::now())).collect();
    for a in &alerts {
        store.record_alert(a, Utc::now()).await.unwrap();
        tokio::time::sleep(Duration::from_millis(1200)).await;
    }
    store.record_alert(&resolved(&alerts[0]), Utc::now()).await.unwrap();
    eventually(Duration::from_secs(10), "four notifications waiting", || {
        let store = store.clone();
        async move { store.outbox_len("ops").await.unwrap() == 4 }
    })
    .await;
    let queued: Vec<String> = store.outbox("ops").await.unwrap().into_iter().map(|d| d.id).collect();

    // The notifier stops with its outbox full and a new one takes over.
    stop.cancel();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (stop, _api, notifier) = start(&config).await;
    let store = notifier.store().clone();
    tokio::spawn(notifier.run(false, stop.clone()));
    let receiver = Receiver::start_on(addr).await;
    let got = receiver.wait_accepted(4, Duration::from_secs(15)).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let ids: Vec<String> = receiver.accepted().iter().map(|r| r.id()).collect();
    assert_eq!(ids, queued, "every notification, in the order queued, once");
    let statuses: Vec<(String, String)> = got
        .iter()
        .map(|r| (r.json()["group_labels"]["brand"].as_str().unwrap().to_string(), r.json()["status"].as_str().unwrap().to_string()))
        .collect();
    assert_eq!(
        statuses,
        [("A", "firing"), ("B", "firing"), ("C", "firing"), ("A", "resolved")].map(|(b, s)| (b.to_string(), s.to_string()))
    );
    assert!(got.iter().all(|r| r.signature_ok));
    stop.cancel();
    store.delete_all().await.unwrap();
}
