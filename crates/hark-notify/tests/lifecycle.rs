//! The alert lifecycle against a real receiver and Redis: grouping, dedup, resolved and repeated
//! notifications, silences through the API, routing to each kind of receiver, floods, and configs
//! that cannot work.

mod common;

use std::time::Duration;

use chrono::Utc;
use common::*;
use hark_telemetry::Metrics;
use hark_testkit::poll_until;
use serde_json::{json, Value};
use tokio_util::sync::CancellationToken;

async fn start(config: &Config) -> (CancellationToken, String, hark_notify::Store) {
    let (stop, api, store, _) = start_with_metrics(config).await;
    (stop, api, store)
}

async fn start_with_metrics(config: &Config) -> (CancellationToken, String, hark_notify::Store, Metrics) {
    let metrics = Metrics::new();
    let notifier = notifier(config, metrics.clone()).await.expect("notifier starts");
    let store = notifier.store().clone();
    let api = serve(notifier.router()).await;
    let stop = CancellationToken::new();
    tokio::spawn(notifier.run(false, stop.clone()));
    (stop, api, store, metrics)
}

/// `hark_alerts_firing{rule}` as the process reports it; `None` when it reports no such series.
fn firing(metrics: &Metrics, rule: &str) -> Option<f64> {
    let line = format!("hark_alerts_firing{{rule=\"{rule}\"}} ");
    metrics.render().lines().find_map(|l| l.strip_prefix(&line)?.parse().ok())
}

/// Waits until the firing gauge of each rule is as given.
async fn wait_firing(metrics: &Metrics, expected: &[(&str, Option<f64>)]) {
    poll_until(Duration::from_secs(10), async || {
        let now: Vec<Option<f64>> = expected.iter().map(|(rule, _)| firing(metrics, rule)).collect();
        match now.iter().zip(expected).all(|(got, (_, want))| got == want) {
            true => Ok(()),
            false => Err(format!("hark_alerts_firing {now:?}, expected {expected:?}")),
        }
    })
    .await
}

async fn ingest(store: &hark_notify::Store, alerts: &[&hark_core::Alert]) {
    for a in alerts {
        store.record_alert(a, Utc::now()).await.unwrap();
    }
}

fn timing(wait: u64, interval: u64, repeat: u64) -> String {
    format!("tick_ms = 100\ngroup_wait_secs = {wait}\ngroup_interval_secs = {interval}\nrepeat_interval_secs = {repeat}\n")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_brand_one_notification_then_one_per_resolution_all_signed() {
    let receiver = Receiver::start().await;
    let toml =
        format!("{}{}[[notify.routes]]\nreceiver = \"ops\"\n", timing(1, 1, 3600), webhook("ops", "webhook", &receiver.url("/hook"), ""));
    let config = config(&prefix("lifecycle"), &toml);
    let (stop, _api, store, metrics) = start_with_metrics(&config).await;

    let t0 = Utc::now() - chrono::Duration::minutes(3);
    let neg = alert("negative-spike", "SkyNordic", t0);
    let vol = alert("volume-spike", "SkyNordic", t0);
    let other = alert("negative-spike", "Other", t0);
    ingest(&store, &[&neg, &vol, &other]).await;
    // The detector says the same thing again: still one notification per firing alert.
    ingest(&store, &[&alert("negative-spike", "SkyNordic", t0)]).await;

    let got = receiver.wait_accepted(2, Duration::from_secs(10)).await;
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(receiver.received().len(), 2, "one notification per brand group, no duplicates");
    for r in &got {
        assert!(r.signature_ok, "signature verifies");
        assert_eq!(r.json()["id"], r.id(), "the id header is the notification's id");
        assert_eq!(r.json()["version"], "hark.notification.v1");
    }
    let sky = got.iter().find(|r| r.json()["group_labels"]["brand"] == "SkyNordic").expect("SkyNordic's group");
    let alerts = sky.json()["alerts"].as_array().unwrap().clone();
    assert_eq!(alerts.len(), 2, "both SkyNordic alerts went out together");
    assert!(alerts.iter().all(|a| a["state"] == "firing"));
    wait_firing(&metrics, &[("negative-spike", Some(2.0)), ("volume-spike", Some(1.0))]).await;

    ingest(&store, &[&resolved(&neg)]).await;
    let got = receiver.wait_accepted(3, Duration::from_secs(10)).await;
    let third = got[2].json();
    assert_eq!(third["status"], "firing", "volume-spike still fires");
    let states: Vec<(String, String)> = third["alerts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| (a["rule"].as_str().unwrap().to_string(), a["state"].as_str().unwrap().to_string()))
        .collect();
    assert_eq!(states, [("volume-spike".into(), "firing".into()), ("negative-spike".into(), "resolved".into())]);
    wait_firing(&metrics, &[("negative-spike", Some(1.0)), ("volume-spike", Some(1.0))]).await;

    ingest(&store, &[&resolved(&vol)]).await;
    let got = receiver.wait_accepted(4, Duration::from_secs(10)).await;
    assert_eq!(got[3].json()["status"], "resolved");
    assert_eq!(got[3].json()["alerts"].as_array().unwrap().len(), 1);
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(receiver.received().len(), 4, "a resolved alert is announced once");
    let ids: std::collections::BTreeSet<String> = got.iter().map(|r| r.id()).collect();
    assert_eq!(ids.len(), 4, "every notification has its own id");
    wait_firing(&metrics, &[("negative-spike", Some(1.0)), ("volume-spike", None)]).await;
    // An instance that stops sending reports no firing alerts: the next lease holder does.
    stop.cancel();
    wait_firing(&metrics, &[("negative-spike", None), ("volume-spike", None)]).await;
    store.delete_all().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_group_still_firing_is_repeated_every_repeat_interval() {
    let receiver = Receiver::start().await;
    let toml = format!("{}{}[[notify.routes]]\nreceiver = \"ops\"\n", timing(0, 1, 2), webhook("ops", "webhook", &receiver.url("/"), ""));
    let (stop, _api, store) = start(&config(&prefix("repeat"), &toml)).await;
    ingest(&store, &[&alert("negative-spike", "SkyNordic", Utc::now())]).await;
    let got = receiver.wait_accepted(3, Duration::from_secs(15)).await;
    for pair in got.windows(2) {
        let created = |r: &Received| r.json()["created_at"].as_str().unwrap().parse::<chrono::DateTime<Utc>>().unwrap();
        let gap = created(&pair[1]) - created(&pair[0]);
        assert!(gap >= chrono::Duration::seconds(2), "repeats wait repeat_interval: {gap:?}");
        assert_eq!(pair[0].json()["alerts"], pair[1].json()["alerts"]);
        assert_ne!(pair[0].id(), pair[1].id());
    }
    stop.cancel();
    store.delete_all().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silences_are_created_listed_and_expired_through_the_api() {
    let receiver = Receiver::start().await;
    let toml =
        format!("{}{}[[notify.routes]]\nreceiver = \"ops\"\n", timing(0, 1, 3600), webhook("ops", "webhook", &receiver.url("/"), ""));
    let (stop, api, store) = start(&config(&prefix("silences"), &toml)).await;
    let http = reqwest::Client::new();

    let bad = http.post(format!("{api}/v1/silences")).json(&json!({"matchers": ["brand"], "duration_secs": 60})).send().await.unwrap();
    assert_eq!(bad.status(), 400);
    assert!(bad.text().await.unwrap().contains("no operator"));
    // An end past year 9999 could not be written as RFC 3339 when listed.
    let forever = json!({"matchers": ["brand=X"], "starts_at": "9999-12-31T00:00:00Z", "duration_secs": 999_999_999_999u64});
    let bad = http.post(format!("{api}/v1/silences")).json(&forever).send().await.unwrap();
    assert_eq!(bad.status(), 400);
    assert!(bad.text().await.unwrap().contains("year 10000"));
    let created = http
        .post(format!("{api}/v1/silences"))
        .json(&json!({"matchers": ["brand=Other"], "duration_secs": 3600, "comment": "known incident", "created_by": "ops"}))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    let silence: Value = created.json().await.unwrap();
    let id = silence["id"].as_str().unwrap().to_string();

    let other = alert("negative-spike", "Other", Utc::now());
    ingest(&store, &[&other, &alert("negative-spike", "SkyNordic", Utc::now())]).await;
    let got = receiver.wait_accepted(1, Duration::from_secs(10)).await;
    assert_eq!(got[0].json()["group_labels"]["brand"], "SkyNordic");
    tokio::time::sleep(Duration::from_millis(2000)).await;
    assert_eq!(receiver.received().len(), 1, "the silenced brand is not sent");

    let alerts: Value = http.get(format!("{api}/v1/alerts")).send().await.unwrap().json().await.unwrap();
    let listed = alerts["alerts"].as_array().unwrap().iter().find(|a| a["fingerprint"] == other.fingerprint.as_str()).unwrap().clone();
    assert_eq!(listed["silenced_by"], json!([id]));
    let silences: Value = http.get(format!("{api}/v1/silences")).send().await.unwrap().json().await.unwrap();
    assert_eq!(silences["silences"][0]["active"], true);
    assert_eq!(silences["silences"][0]["matchers"][0], json!({"name": "brand", "op": "=", "value": "Other"}));

    let expired = http.delete(format!("{api}/v1/silences/{id}")).send().await.unwrap();
    assert_eq!(expired.status(), 200);
    assert_eq!(http.delete(format!("{api}/v1/silences/nope")).send().await.unwrap().status(), 404);
    let got = receiver.wait_accepted(2, Duration::from_secs(10)).await;
    assert_eq!(got[1].json()["group_labels"]["brand"], "Other", "sent once the silence expired");
    let silences: Value = http.get(format!("{api}/v1/silences")).send().await.unwrap().json().await.unwrap();
    assert_eq!(silences["silences"][0]["active"], false);
    stop.cancel();
    store.delete_all().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn routes_send_each_alert_to_its_receivers_in_their_formats() {
    let hooks = Receiver::start().await;
    let pd = Receiver::start().await;
    let receivers = [
        webhook("pd", "pagerduty", &pd.url("/v2/enqueue"), "routing_key = \"R0UT1NG\""),
        webhook("am-hook", "alertmanager_webhook", &hooks.url("/am"), ""),
        webhook("chat", "slack", &hooks.url("/slack"), ""),
    ]
    .concat();
    let routes = "[[notify.routes]]\nreceiver = \"pd\"\nmatchers = [\"rule=negative-spike\"]\ncontinue = true\n\
                  [[notify.routes]]\nreceiver = \"am-hook\"\nmatchers = [\"brand=~\\\"Sky.*\\\"\"]\n\
                  [[notify.routes]]\nreceiver = \"chat\"\n";
    // A second of group_wait: the three alerts are recorded one by one, and with none a tick between
    // two of them would send Other's group before its second alert is in it.
    let toml = format!("{}external_url = \"http://hark.example:8084\"\n{receivers}{routes}", timing(1, 1, 3600));
    let (stop, _api, store) = start(&config(&prefix("routes"), &toml)).await;

    let sky_neg = alert("negative-spike", "SkyNordic", Utc::now());
    let mut other_vol = alert("volume-spike", "Other", Utc::now());
    // Words from the public, as a mention excerpt brings them: Slack must show them, not act on them.
    other_vol.summary = "volume-spike for Other: \"<!channel> refunds at <https://evil.example|other.com>\"".into();
    let other_neg = alert("negative-spike", "Other", Utc::now());
    ingest(&store, &[&sky_neg, &other_vol, &other_neg]).await;

    let got = pd.wait_accepted(2, Duration::from_secs(10)).await;
    let mut keys: Vec<String> = got.iter().map(|r| r.json()["dedup_key"].as_str().unwrap().to_string()).collect();
    keys.sort();
    let mut expected = vec![sky_neg.fingerprint.clone(), other_neg.fingerprint.clone()];
    expected.sort();
    assert_eq!(keys, expected, "PagerDuty gets one trigger per negative-spike alert, keyed by fingerprint");
    assert!(got.iter().all(|r| r.json()["event_action"] == "trigger" && r.json()["routing_key"] == "R0UT1NG" && r.signature_ok));

    let got = hooks.wait_accepted(2, Duration::from_secs(10)).await;
    let am = got.iter().find(|r| r.path == "/am").expect("the Alertmanager-webhook receiver got SkyNordic");
    let am = am.json();
    assert_eq!((am["version"].as_str(), am["receiver"].as_str(), am["status"].as_str()), (Some("4"), Some("am-hook"), Some("firing")));
    assert_eq!(am["alerts"][0]["labels"]["alertname"], "negative-spike");
    assert_eq!(am["alerts"][0]["fingerprint"], sky_neg.fingerprint.as_str());
    assert_eq!(am["externalURL"], "http://hark.example:8084");
    let slack = got.iter().find(|r| r.path == "/slack").expect("Slack got Other's group").json();
    let text = slack["text"].as_str().unwrap();
    assert!(text.starts_with("*[FIRING:2] Other"), "{text}");
    assert!(text.contains("&lt;!channel&gt; refunds at &lt;https://evil.example|other.com&gt;") && !text.contains("<!channel>"), "{text}");

    ingest(&store, &[&resolved(&sky_neg)]).await;
    let got = pd.wait_accepted(3, Duration::from_secs(10)).await;
    assert_eq!(got[2].json(), json!({"routing_key": "R0UT1NG", "event_action": "resolve", "dedup_key": sky_neg.fingerprint}));
    stop.cancel();
    store.delete_all().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_of_alerts_becomes_one_notification_per_brand() {
    let receiver = Receiver::start().await;
    let toml =
        format!("{}{}[[notify.routes]]\nreceiver = \"ops\"\n", timing(4, 1, 3600), webhook("ops", "webhook", &receiver.url("/"), ""));
    let (stop, _api, store) = start(&config(&prefix("flood"), &toml)).await;
    let brands = ["A", "B", "C", "D", "E"];
    let mut flood = Vec::new();
    for brand in brands {
        for rule in 0..200 {
            flood.push(alert(&format!("rule-{rule}"), brand, Utc::now()));
        }
    }
    ingest(&store, &flood.iter().collect::<Vec<_>>()).await;
    let got = receiver.wait_accepted(5, Duration::from_secs(20)).await;
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(receiver.received().len(), 5, "1,000 alerts, five brands, five notifications");
    for r in got {
        assert_eq!(r.json()["alerts"].as_array().unwrap().len(), 200);
    }
    stop.cancel();
    store.delete_all().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_rate_limit_spaces_requests_past_the_burst() {
    let receiver = Receiver::start().await;
    let limited = webhook("ops", "webhook", &receiver.url("/"), "").replace("rate_limit_per_minute = 6000", "rate_limit_per_minute = 60");
    let toml = format!("{}{limited}[[notify.routes]]\nreceiver = \"ops\"\n", timing(0, 1, 3600));
    let (stop, _api, store) = start(&config(&prefix("ratelimit"), &toml)).await;
    let alerts: Vec<_> = (0..63).map(|i| alert("negative-spike", &format!("brand-{i:02}"), Utc::now())).collect();
    ingest(&store, &alerts.iter().collect::<Vec<_>>()).await;
    let got = receiver.wait_accepted(63, Duration::from_secs(20)).await;
    // A burst of 60 (the bucket holds a minute's worth), then one a second.
    let span = got[62].at - got[0].at;
    assert!(span >= Duration::from_millis(2800), "the last three waited for tokens: {span:?}");
    let gap = got[61].at - got[60].at;
    assert!(gap >= Duration::from_millis(900), "one request a second past the burst: {gap:?}");
    stop.cancel();
    store.delete_all().await.unwrap();
}

#[tokio::test]
async fn receivers_that_cannot_work_are_clear_errors_at_load() {
    let load = |toml: &str| parse(toml).map(|_| ()).unwrap_err();
    let e = load("[[notify.receivers]]\nname = \"ops\"\nkind = \"webhook\"\nurl = \"http://x/\"\n");
    assert!(e.contains("notify receiver `ops`: a webhook receiver needs `secret`"), "{e}");
    let e = load("[[notify.receivers]]\nname = \"ops\"\nkind = \"slack\"\nurl = \"hooks.slack.com/x\"\n");
    assert!(e.contains("must be an http:// or https:// URL"), "{e}");
    let e = load("[[notify.receivers]]\nname = \"ops\"\nkind = \"slack\"\nurl = \"http://x/\"\ntimeout = 3\n");
    assert!(e.contains("unknown field `timeout`"), "{e}");
    let e = load("[[notify.routes]]\nreceiver = \"ghost\"\n");
    assert!(e.contains("unknown receiver `ghost`"), "{e}");

    // What only the running notifier can check: regexes and secrets from the environment.
    let bad_regex = config(
        &prefix("config"),
        &format!("{}[[notify.routes]]\nreceiver = \"ops\"\nmatchers = [\"brand=~(\"]\n", webhook("ops", "slack", "http://x/", "")),
    );
    let e = notifier(&bad_regex, Metrics::new()).await.err().expect("a bad regex is an error").to_string();
    assert!(e.contains("notify.routes[0]: matcher `brand`: invalid regex"), "{e}");
    let toml =
        "[[notify.receivers]]\nname = \"ops\"\nkind = \"webhook\"\nurl = \"http://x/\"\nsecret_env = \"HARK_TEST_UNSET_SECRET_91\"\n";
    let e = notifier(&config(&prefix("config"), toml), Metrics::new()).await.err().expect("a missing secret is an error").to_string();
    assert!(
        e.contains("notify receiver `ops`: the environment variable `HARK_TEST_UNSET_SECRET_91` named by `secret_env` is not set"),
        "{e}"
    );
    let toml = "[[notify.receivers]]\nname = \"pd\"\nkind = \"pagerduty\"\nurl = \"http://x/\"\nrouting_key_file = \"/no/such/key\"\n";
    let e = notifier(&config(&prefix("config"), toml), Metrics::new()).await.err().expect("a missing key file is an error").to_string();
    assert!(e.contains("notify receiver `pd`: the file `/no/such/key` named by `routing_key_file` cannot be read"), "{e}");
}
