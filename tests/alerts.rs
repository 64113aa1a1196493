//! Crisis alerts through the whole running pipeline: mentions go in over the ingest API with
//! event times spanning an hour of one-minute windows (steady traffic for three brands, then a
//! wave of negative complaints for one of them, then steady traffic again), and a real HTTP
//! receiver started here gets the notifications, checking each request's signature with
//! `hark_notify::verify`.
//!
//! - With the receiver up: exactly one firing and, after the wave, one resolved notification,
//!   both for the brand of the wave, and nothing else.
//! - With the receiver down during the wave and Hark killed (SIGKILL) and restarted meanwhile:
//!   once the receiver is back it gets both, firing before resolved, each once (a redelivery keeps
//!   its `X-Hark-Notification-Id`).
//! - With Redis frozen for a minute while the alert stage has the wave to apply: `hark all` stays
//!   up, ingest refuses at once (503), `/readyz` says not ready, and once Redis is back the alerts
//!   topic holds the same alerts as a run without the outage.
//! - With Redis restarted (append-only file) while the alert fires: it resolves once; after Redis
//!   lost its data (FLUSHALL): nothing stops, and what was kept there is gone, as the README says.
//! - Brands as users name them: mentions without a `brand` field that match a brand query and
//!   mentions tagged `skynordic` or `SkyNordic` count in one series under one partition key.

use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use hark_e2e::{poll_until, read_topics, write_topic, Env, Hark, RedisServer};
use hark_enrich::config::BrandQuery;
use hark_notify::config::{NotifyRoute, ReceiverConfig};
use hark_testkit::{distinct_ids, Received, Receiver, SECRET};
use serde_json::{json, Value};

const BRANDS: [&str; 3] = ["Acme", "Birch", "Cobalt"];
/// The brand whose mentions turn negative.
const WAVE_BRAND: &str = "Acme";
/// Mentions per brand per one-minute window.
const PER_MINUTE: i64 = 10;
/// 2026-11-01T06:00:00Z: the event time of minute 0.
const START: i64 = 1_793_512_800;
/// The minutes of the wave: eight mentions in ten negative instead of one.
const WAVE: std::ops::Range<i64> = 25..29;
/// Event-time minutes sent before the test waits for the firing notification: enough for the
/// watermark (newest event time minus the allowed lateness) to close the wave's first two windows.
const FIRST_PART: std::ops::Range<i64> = 0..30;
/// The rest: steady again, long enough for three normal windows to close after the wave.
const SECOND_PART: std::ops::Range<i64> = 30..45;

/// The run's config: one-minute windows, one negative-share spike rule for every brand, and one
/// signed webhook receiver with short grouping and retry timings.
fn configure(env: &mut Env, receiver_url: &str) {
    env.configure(|config| {
        // Configured brands keep their spelling in alert labels (others would be lowercased).
        config.enrich.brands = BRANDS.iter().map(|name| brand_query(name, &[])).collect();
        config.alert.window_secs = 60;
        config.alert.allowed_lateness_secs = 120;
        config.alert.stage.batch_size = 200;
        config.alert.rules = vec![toml::from_str(
            "name = \"negative-spike\"\nkind = \"spike\"\nmetric = \"negative_share\"\nmin_volume = 5\n\
             for_windows = 2\nresolve_after = 3\nwarmup_windows = 15\nlabels = { severity = \"critical\" }",
        )
        .expect("a valid rule")];
        let n = &mut config.notify;
        n.tick_ms = 100;
        n.group_by = vec!["brand".into()];
        n.group_wait_secs = 1;
        n.group_interval_secs = 1;
        // Longer than the test: a firing alert is not repeated meanwhile.
        n.repeat_interval_secs = 3600;
        let receiver = format!(
            "name = \"ops\"\nkind = \"webhook\"\nurl = \"{receiver_url}\"\nsecret = \"{SECRET}\"\n\
             retry_initial_ms = 100\nretry_max_ms = 500\nrate_limit_per_minute = 6000\n"
        );
        n.receivers = vec![toml::from_str::<ReceiverConfig>(&receiver).unwrap()];
        n.routes = vec![NotifyRoute {
            receiver: "ops".into(),
            matchers: Vec::new(),
            group_by: None,
            group_wait_secs: None,
            group_interval_secs: None,
            repeat_interval_secs: None,
            continue_matching: false,
        }];
    });
}

// ---------------------------------------------------------------------------------------------
// The receiver

/// A `[[enrich.brands]]` query.
fn brand_query(name: &str, keywords: &[&str]) -> BrandQuery {
    BrandQuery {
        name: name.into(),
        keywords: keywords.iter().map(|k| k.to_string()).collect(),
        products: Vec::new(),
        hashtags: Vec::new(),
        handles: Vec::new(),
        exclude: Vec::new(),
        max_edit_distance: 1,
    }
}

/// Waits until requests with `n` distinct notification ids were accepted, while Hark runs.
async fn wait_notified(receiver: &Receiver, n: usize, timeout: Duration, hark: &mut Hark) -> Vec<Received> {
    poll_until(timeout, async || {
        hark.assert_running();
        let accepted = receiver.accepted();
        match distinct_ids(&accepted).len() >= n {
            true => Ok(accepted),
            false => Err(format!("{n} notifications expected, got {:#?}", receiver.received())),
        }
    })
    .await
}

/// Waits until at least one request arrived, accepted or not.
async fn wait_any(receiver: &Receiver, timeout: Duration, hark: &mut Hark) -> Vec<Received> {
    poll_until(timeout, async || {
        hark.assert_running();
        let received = receiver.received();
        match received.is_empty() {
            false => Ok(received),
            true => Err("no notification attempt".into()),
        }
    })
    .await
}

// ---------------------------------------------------------------------------------------------
// The stream

fn minute_at(minute: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(START + minute * 60, 0).unwrap()
}

const POSITIVE: [&str; 5] = [
    "great service today, thank you so much",
    "love the new app, works perfectly",
    "fast delivery and friendly staff, very happy",
    "really good experience, thanks for the help",
    "excellent support, thank you all",
];
const NEGATIVE: [&str; 5] = [
    "terrible service, my order arrived broken and nobody helps",
    "worst experience ever, refund still not processed",
    "awful, the product stopped working after one day",
    "rude staff and a refund that never came, very disappointed",
    "my flight was cancelled again, terrible and useless",
];

/// One minute of mentions for every brand: one in ten negative, eight in ten for the wave's brand
/// during the wave. Ids, authors and texts are distinct, so nothing is a duplicate.
fn minute_of_mentions(run: &str, minute: i64) -> Vec<String> {
    let mut lines = Vec::new();
    for i in 0..PER_MINUTE {
        for brand in BRANDS {
            let negative = if brand == WAVE_BRAND && WAVE.contains(&minute) { i >= 2 } else { i == 3 };
            let texts = if negative { &NEGATIVE } else { &POSITIVE };
            let n = (minute * PER_MINUTE + i) as usize;
            let created_at = DateTime::from_timestamp(START + minute * 60 + i * 6, 0).unwrap();
            lines.push(
                json!({
                    "id": format!("{run}-{brand}-{minute}-{i}"),
                    "platform": "twitter",
                    "text": format!("@{brand} {} (order {n})", texts[n % texts.len()]),
                    "created_at": created_at.to_rfc3339(),
                    "author": {"id": format!("{brand}-author-{n}"), "followers": 200 + n},
                    "brand": brand,
                })
                .to_string(),
            );
        }
    }
    lines
}

/// Sends the minutes in order, one request each, and checks that every mention was accepted.
async fn replay(env: &Env, hark: &Hark, minutes: std::ops::Range<i64>) -> u64 {
    let mut accepted = 0;
    for minute in minutes {
        let lines = minute_of_mentions(&env.run, minute);
        let (status, report) = hark.post("application/x-ndjson", lines.join("\n")).await;
        assert_eq!(status, 200, "{report}");
        assert_eq!(report["accepted"].as_u64(), Some(lines.len() as u64), "{report}");
        accepted += lines.len() as u64;
    }
    accepted
}

// ---------------------------------------------------------------------------------------------
// Checks

/// The only alerts in the notifications: the wave brand's, firing in the first, resolved in the
/// second, with the numbers and times of the wave.
fn check_notifications(firing: &Received, resolved: &Received) {
    for (request, status) in [(firing, "firing"), (resolved, "resolved")] {
        assert!(request.signature_ok, "signature did not verify: {request:?}");
        let body = &request.json();
        assert_eq!(body["version"], "hark.notification.v1", "{body}");
        assert_eq!(body["status"], status, "{body}");
        assert_eq!(body["group_labels"]["brand"], WAVE_BRAND, "{body}");
        assert_eq!(body["id"].as_str(), Some(request.id().as_str()), "the header names the body's notification");
        let alerts = body["alerts"].as_array().unwrap();
        assert_eq!(alerts.len(), 1, "{body}");
        let alert = &alerts[0];
        assert_eq!(alert["state"], status, "{body}");
        assert_eq!(alert["rule"], "negative-spike");
        assert_eq!(alert["labels"]["brand"], WAVE_BRAND);
        assert_eq!(alert["labels"]["severity"], "critical");
        let starts_at: DateTime<Utc> = alert["starts_at"].as_str().unwrap().parse().unwrap();
        assert_eq!(starts_at, minute_at(WAVE.start), "the alert starts with the wave's first window");
    }
    let alert = &firing.json()["alerts"][0];
    let (observed, expected) = (alert["observed"].as_f64().unwrap(), alert["expected"].as_f64().unwrap());
    assert!(observed >= 0.7 && expected <= 0.2, "observed {observed}, expected {expected}");
    let samples = alert["sample_mention_ids"].as_array().unwrap();
    assert!(!samples.is_empty(), "{alert}");
    assert!(samples.iter().all(|s| s.as_str().unwrap().contains(&format!("-{WAVE_BRAND}-"))), "{samples:?}");
    assert_eq!(resolved.json()["alerts"][0]["fingerprint"], alert["fingerprint"]);
    let ends_at: DateTime<Utc> = resolved.json()["alerts"][0]["ends_at"].as_str().unwrap().parse().unwrap();
    assert_eq!(ends_at, minute_at(WAVE.end), "the alert ends with the wave's last window");
}

/// The alerts topic holds the wave brand's firing and resolved alert and nothing else.
fn check_alerts_topic(env: &Env) {
    let records = read_topics(&[&env.topics().alerts], 2, Duration::from_secs(60), Some(Duration::from_secs(3)));
    let mut states: Vec<(String, String)> = records
        .iter()
        .map(|r| (r.value["labels"]["brand"].as_str().unwrap_or("").to_string(), r.value["state"].as_str().unwrap_or("").to_string()))
        .collect();
    // A restart may write a state change again (at least once); the notifier dedupes them.
    states.dedup();
    assert_eq!(
        states,
        vec![(WAVE_BRAND.to_string(), "firing".to_string()), (WAVE_BRAND.to_string(), "resolved".to_string())],
        "{records:#?}"
    );
}

/// Waits until the alert stage of `hark` counted `n` mentions in.
async fn wait_alert_stage_received(hark: &mut Hark, n: u64, timeout: Duration) {
    poll_until(timeout, async || {
        hark.assert_running();
        let got = hark.metric("hark_received_total", &[("stage", "alert")]).await;
        match got >= n as f64 {
            true => Ok(()),
            false => Err(format!("the alert stage got {got} of {n} mentions")),
        }
    })
    .await
}

/// Waits until the receiver's outbox holds `n` notifications (the notify API's `/v1/outbox`).
async fn wait_outbox(hark: &mut Hark, n: u64, timeout: Duration) {
    poll_until(timeout, async || {
        hark.assert_running();
        let waiting = match reqwest::get(format!("{}/v1/outbox", hark.admin())).await {
            Ok(r) => r.json::<Value>().await.ok().and_then(|v| v["waiting"]["ops"].as_u64()).unwrap_or(0),
            Err(_) => 0,
        };
        match waiting >= n {
            true => Ok(()),
            false => Err(format!("{waiting} of {n} notifications in the outbox")),
        }
    })
    .await
}

// ---------------------------------------------------------------------------------------------
// The tests

#[tokio::test(flavor = "multi_thread")]
async fn a_negative_wave_gives_one_firing_and_one_resolved_signed_notification() {
    let receiver = Receiver::start().await;
    let mut env = Env::new("alerts");
    configure(&mut env, &receiver.url("/hooks/hark"));
    let mut hark = env.start("all", &[]).await;

    // Baseline and the wave: the alert fires once the wave's first two windows closed.
    let mut sent = replay(&env, &hark, FIRST_PART).await;
    let accepted = wait_notified(&receiver, 1, Duration::from_secs(60), &mut hark).await;
    assert_eq!(accepted[0].json()["status"], "firing", "{accepted:#?}");

    // Steady traffic again: three normal windows later it resolves.
    sent += replay(&env, &hark, SECOND_PART).await;
    let accepted = wait_notified(&receiver, 2, Duration::from_secs(60), &mut hark).await;

    // Everything was looked at, and the alerts topic says the same as the receiver.
    wait_alert_stage_received(&mut hark, sent, Duration::from_secs(60)).await;
    check_alerts_topic(&env);
    // The notifier had its group_wait and group_interval (1 s each) to send anything else.
    tokio::time::sleep(Duration::from_secs(3)).await;

    let received = receiver.received();
    assert!(received.iter().all(|r| r.accepted), "the receiver was up throughout");
    assert_eq!(received.len(), 2, "exactly one firing and one resolved notification: {received:#?}");
    assert_eq!(distinct_ids(&accepted).len(), 2);
    check_notifications(&received[0], &received[1]);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_receiver_down_during_the_wave_gets_both_notifications_after_a_restart_of_hark() {
    let mut receiver = Receiver::start().await;
    receiver.set_up(false);
    let mut env = Env::new("alerts-down");
    configure(&mut env, &receiver.url("/hooks/hark"));
    let mut hark = env.start("all", &[]).await;

    // The wave, while the receiver answers 503: the firing notification is tried and refused.
    replay(&env, &hark, FIRST_PART).await;
    let refused = wait_any(&receiver, Duration::from_secs(60), &mut hark).await;
    assert!(refused.iter().all(|r| !r.accepted && r.json()["status"] == "firing"), "{refused:#?}");

    // Hark dies without any shutdown code; the receiver stops listening altogether.
    hark.kill();
    receiver.stop().await;

    // A new Hark carries on: the rest of the stream resolves the alert, and both notifications
    // wait in the outbox for the receiver, which is still unreachable.
    let mut hark = env.start("all", &[]).await;
    replay(&env, &hark, SECOND_PART).await;
    wait_outbox(&mut hark, 2, Duration::from_secs(90)).await;
    check_alerts_topic(&env);

    // The receiver comes back, up: both arrive, firing first.
    receiver.set_up(true);
    receiver.listen_again().await;
    let accepted = wait_notified(&receiver, 2, Duration::from_secs(60), &mut hark).await;
    wait_outbox(&mut hark, 0, Duration::from_secs(30)).await;
    tokio::time::sleep(Duration::from_secs(3)).await;

    let received = receiver.received();
    assert!(received.iter().all(|r| r.signature_ok), "every request, refused or not, is signed: {received:#?}");
    // Every attempt, refused or accepted, was one of two notifications: retries and the
    // redelivery after the restart kept their id.
    let ids = distinct_ids(&received);
    assert_eq!(ids.len(), 2, "{received:#?}");
    let accepted_now = receiver.accepted();
    assert_eq!(distinct_ids(&accepted_now), distinct_ids(&accepted));
    let firing: Vec<&Received> = accepted_now.iter().filter(|r| r.id() == ids[0]).collect();
    let resolved: Vec<&Received> = accepted_now.iter().filter(|r| r.id() == ids[1]).collect();
    // Each accepted once, or again with the same id and the same notification.
    for copies in [&firing, &resolved] {
        assert!(copies.iter().all(|r| r.body == copies[0].body), "a redelivery changed the notification: {copies:#?}");
    }
    let first_resolved = accepted_now.iter().position(|r| r.id() == ids[1]).unwrap();
    let last_firing = accepted_now.iter().rposition(|r| r.id() == ids[0]).unwrap();
    assert!(last_firing < first_resolved, "firing is delivered before resolved: {accepted_now:#?}");
    check_notifications(firing[0], resolved[0]);
}

/// What identifies an alert change on the alerts topic, without the wall-clock `generated_at`.
fn alert_changes(env: &Env, n: usize) -> Vec<(String, String, String, String)> {
    let records = read_topics(&[&env.topics().alerts], n, Duration::from_secs(60), Some(Duration::from_secs(3)));
    let field = |r: &hark_e2e::Record, name: &str| r.value[name].as_str().unwrap_or("").to_string();
    let mut changes: Vec<_> =
        records.iter().map(|r| (field(r, "fingerprint"), field(r, "state"), field(r, "starts_at"), field(r, "ends_at"))).collect();
    changes.sort();
    changes
}

/// Writes the minutes straight to the raw topic, as ingest would, one key per brand.
fn write_raw(env: &Env, minutes: std::ops::Range<i64>) -> u64 {
    let lines: Vec<String> = minutes.flat_map(|minute| minute_of_mentions(&env.run, minute)).collect();
    for brand in BRANDS {
        let of_brand: Vec<&[u8]> = lines.iter().filter(|l| l.contains(&format!("\"brand\":\"{brand}\""))).map(|l| l.as_bytes()).collect();
        write_topic(&env.topics().raw, brand, &of_brand);
    }
    lines.len() as u64
}

#[tokio::test(flavor = "multi_thread")]
async fn a_frozen_redis_delays_the_alerts_and_changes_none() {
    const OUTAGE: Duration = Duration::from_secs(60);
    let receiver = Receiver::start().await;
    let redis = RedisServer::start();
    let mut calm = Env::new("alerts-calm");
    configure(&mut calm, &receiver.url("/hooks/hark"));
    let mut outage = Env::new("alerts-outage");
    configure(&mut outage, &receiver.url("/hooks/hark"));
    let mut calm_hark = calm.start("all", &[]).await;
    let mut hark = outage.start("all", &[("HARK__REDIS__URL", &redis.url)]).await;

    // The quiet start through ingest; the alert stage has stored its state for it.
    let before = 0..20;
    let mut sent = replay(&outage, &hark, before.clone()).await;
    replay(&calm, &calm_hark, before).await;
    wait_alert_stage_received(&mut hark, sent, Duration::from_secs(60)).await;

    redis.freeze();
    let frozen_at = Instant::now();
    // The wave and the calm after it reach the alert stage while Redis is away.
    sent += write_raw(&outage, 20..45);
    write_raw(&calm, 20..45);

    let started = Instant::now();
    let response = reqwest::Client::new()
        .post(format!("{}/v1/mentions", hark.url))
        .header("content-type", "application/x-ndjson")
        .body(minute_of_mentions(&outage.run, 99)[0].clone())
        .send()
        .await
        .unwrap();
    let took = started.elapsed();
    assert_eq!(response.status().as_u16(), 503);
    assert!(took < Duration::from_secs(3), "ingest answered after {took:?}");
    assert_eq!(response.headers()["retry-after"], "1");
    let report: Value = response.json().await.unwrap();
    assert_eq!(report["items"][0]["status"], "failed", "{report}");

    let ready = reqwest::get(format!("{}/readyz", hark.url)).await.unwrap();
    assert_eq!(ready.status().as_u16(), 503);
    let ready: Value = ready.json().await.unwrap();
    assert!(ready["failed"]["alert-redis"].is_string(), "{ready}");
    while frozen_at.elapsed() < OUTAGE {
        assert!(hark.is_running(), "hark exited during the outage; log: {}", std::fs::read_to_string(&hark.log).unwrap_or_default());
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    let ready: Value = reqwest::get(format!("{}/readyz", hark.url)).await.unwrap().json().await.unwrap();
    // The wave waits in the first stage that needs Redis: enrich (its spam repeat count is there).
    assert!(ready["failed"]["enrich-stage"].is_string(), "the stage holds its batch: {ready}");
    redis.thaw();

    wait_alert_stage_received(&mut hark, sent, Duration::from_secs(60)).await;
    wait_alert_stage_received(&mut calm_hark, sent, Duration::from_secs(60)).await;
    let expected = alert_changes(&calm, 2);
    assert_eq!(expected.iter().map(|c| c.1.as_str()).collect::<Vec<_>>(), ["firing", "resolved"], "{expected:?}");
    assert_eq!(alert_changes(&outage, 2), expected, "the same alerts as the run without the outage, each once");
    hark.wait_ready().await;
    assert!(hark.is_running());
}

#[tokio::test(flavor = "multi_thread")]
async fn one_brand_however_it_is_written_is_one_series_and_one_key() {
    let mut env = Env::new("alerts-brands");
    env.configure(|config| {
        config.enrich.brands = vec![brand_query("SkyNordic", &["skynordic", "sky nordic"])];
        config.alert.window_secs = 60;
        config.alert.allowed_lateness_secs = 30;
        // Four mentions of the brand in one minute fire; three (one spelling missing) would not.
        config.alert.rules = vec![toml::from_str(
            "name = \"busy\"\nkind = \"threshold\"\nmetric = \"volume\"\nmin_volume = 1\nabove = 4\nfor_windows = 1\nresolve_after = 1",
        )
        .expect("a valid rule")];
    });
    let hark = env.start("all", &[]).await;
    let mention = |i: usize, minute: i64, text: &str, brand: Option<&str>| {
        let mut m = json!({"id": format!("{}-{i}", env.run), "platform": "twitter", "text": text,
            "created_at": minute_at(minute).to_rfc3339(), "author": {"id": format!("b-{i}")}});
        if let Some(brand) = brand {
            m["brand"] = json!(brand);
        }
        m.to_string()
    };
    let lines = [
        mention(0, 0, "flying sky nordic tomorrow", None),
        mention(1, 0, "skynordic lost my bag", None),
        mention(2, 0, "on my way", Some("skynordic")),
        mention(3, 0, "on my way too", Some("SkyNordic")),
    ];
    let (status, report) = hark.post("application/x-ndjson", lines.join("\n")).await;
    assert_eq!((status, report["accepted"].as_u64()), (200, Some(4)), "{report}");
    // Mentions without a brand field take another raw partition, so they may be enriched later
    // than a mention sent after them: the one that closes the window goes once all four are through.
    let first = read_topics(&[&env.topics().enriched], 4, Duration::from_secs(60), Some(Duration::from_secs(3)));
    assert_eq!(first.len(), 4);
    let (status, report) = hark.post("application/x-ndjson", mention(4, 2, "home again", Some("SKYNORDIC"))).await;
    assert_eq!((status, report["accepted"].as_u64()), (200, Some(1)), "{report}");

    let enriched = read_topics(&[&env.topics().enriched], 5, Duration::from_secs(60), Some(Duration::from_secs(3)));
    assert_eq!(enriched.len(), 5);
    for record in &enriched {
        assert_eq!(record.key.as_deref(), Some("SkyNordic"), "{:?}", record.value);
        assert_eq!(record.value["enrichment"]["brand"], "SkyNordic", "{:?}", record.value);
    }
    // The brand-less mentions came through other raw partitions, which hold event time back
    // while they are live (hark_alert::engine::SOURCE_IDLE_SECS): once they have been quiet for
    // that long, the next mention closes the window.
    tokio::time::sleep(Duration::from_secs(hark_alert::engine::SOURCE_IDLE_SECS as u64 + 5)).await;
    let (status, report) = hark.post("application/x-ndjson", mention(5, 3, "landed", Some("SkyNordic"))).await;
    assert_eq!((status, report["accepted"].as_u64()), (200, Some(1)), "{report}");
    let alerts = read_topics(&[&env.topics().alerts], 1, Duration::from_secs(60), Some(Duration::from_secs(3)));
    assert_eq!(alerts.len(), 1, "{alerts:#?}");
    let alert = &alerts[0].value;
    assert_eq!((alert["rule"].as_str(), alert["state"].as_str()), (Some("busy"), Some("firing")), "{alert}");
    assert_eq!(alert["labels"]["brand"], "SkyNordic", "{alert}");
    assert_eq!(alert["observed"].as_f64(), Some(4.0), "{alert}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_redis_restart_mid_wave_loses_no_resolution_and_a_data_loss_stops_nothing() {
    let receiver = Receiver::start().await;
    let mut env = Env::new("alerts-redis-restart");
    configure(&mut env, &receiver.url("/hooks/hark"));
    let mut redis = RedisServer::start_with_aof(&hark_e2e::repo().join(format!("target/e2e/{}-redis", env.run)));
    let mut hark = env.start("all", &[("HARK__REDIS__URL", &redis.url)]).await;

    // The wave fires; Redis restarts while the alert is open (its state, the outbox and the
    // notifier's view of the alert are in Redis, kept by the append-only file).
    let mut sent = replay(&env, &hark, FIRST_PART).await;
    wait_notified(&receiver, 1, Duration::from_secs(60), &mut hark).await;
    redis.restart();
    // The calm after the wave: the same alert resolves, once.
    let ready = || async { reqwest::get(format!("{}/readyz", hark.url)).await.unwrap().status() == 200 };
    hark_e2e::eventually(Duration::from_secs(30), "ready again after the Redis restart", ready).await;
    sent += replay(&env, &hark, SECOND_PART).await;
    let accepted = wait_notified(&receiver, 2, Duration::from_secs(60), &mut hark).await;
    check_notifications(&accepted[0], &accepted[1]);
    wait_alert_stage_received(&mut hark, sent, Duration::from_secs(60)).await;
    check_alerts_topic(&env);

    // Redis loses everything. Nothing stops; what was kept there is gone (README, "Redis"):
    // ingest accepts a mention it had accepted before, as new.
    redis.flush_all();
    let again = minute_of_mentions(&env.run, 0);
    let (status, report) = hark.post("application/x-ndjson", again.join("\n")).await;
    assert_eq!((status, report["accepted"].as_u64()), (200, Some(again.len() as u64)), "dedupe markers are gone: {report}");
    sent += again.len() as u64;
    // The alert stage starts its partitions afresh and goes on; the notifier lists no alerts.
    sent += replay(&env, &hark, 45..50).await;
    wait_alert_stage_received(&mut hark, sent, Duration::from_secs(60)).await;
    let alerts: Value = reqwest::get(format!("{}/v1/alerts", hark.admin())).await.unwrap().json().await.unwrap();
    assert_eq!(alerts["alerts"], json!([]), "{alerts}");
    assert_eq!(reqwest::get(format!("{}/readyz", hark.url)).await.unwrap().status(), 200);
    assert!(hark.is_running());
    assert_eq!(receiver.received().len(), 2, "nothing sent twice after the loss");
}
