//! How fast the notifier groups and delivers, against the real Redis (`HARK__REDIS__URL`) and a
//! receiver on loopback. Prints figures; asserts nothing about speed.
//!
//! `cargo bench -p hark-notify`

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use hark_core::config::{RedisConfig, Shared};
use hark_core::Alert;
use hark_notify::config::NotifyConfig;
use hark_notify::{Dispatcher, Lease, Notifier, Store};
use hark_telemetry::Metrics;
use serde_json::json;
use tokio_util::sync::CancellationToken;

fn alert(rule: &str, brand: &str) -> Alert {
    let labels: BTreeMap<String, String> = [("brand".to_string(), brand.to_string())].into();
    serde_json::from_value(json!({
        "fingerprint": Alert::fingerprint_of(rule, &labels), "rule": rule, "state": "firing", "labels": labels,
        "summary": "42 negative mentions in 5 min vs 6 expected", "observed": 42.0, "expected": 6.0,
        "starts_at": Utc::now(), "ends_at": null, "sample_mention_ids": ["twitter:1"], "generated_at": Utc::now(),
    }))
    .unwrap()
}

/// Redis from `HARK__REDIS__URL` under `prefix`, and a `[notify]` section with one receiver at `url`.
fn config(prefix: &str, url: &str) -> (Shared, NotifyConfig) {
    let notify = format!(
        "tick_ms = 50\ngroup_wait_secs = 0\ngroup_interval_secs = 3600\n\
         [[receivers]]\nname = \"ops\"\nkind = \"webhook\"\nurl = \"{url}\"\nsecret = \"s\"\nrate_limit_per_minute = 10000000\n\
         [[routes]]\nreceiver = \"ops\"\n"
    );
    let mut redis = RedisConfig { key_prefix: prefix.to_string(), ..RedisConfig::default() };
    if let Ok(url) = std::env::var("HARK__REDIS__URL") {
        redis.url = url;
    }
    (Shared { redis, ..Shared::default() }, toml::from_str(&notify).unwrap())
}

async fn receiver(count: Arc<AtomicUsize>) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = axum::Router::new().fallback(move |_body: axum::body::Bytes| {
        let count = count.clone();
        async move {
            count.fetch_add(1, Ordering::SeqCst);
            "ok"
        }
    });
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{addr}/")
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let run = format!("{:08x}", fastrand::u32(..));

    // Dispatch: one tick over many firing alerts, first when every group is new and due, then
    // when nothing is due (the steady state between changes).
    for (alerts, brands) in [(1_000, 10), (10_000, 100)] {
        let prefix = format!("hark-bench:notify:{run}:tick{alerts}:");
        let (shared, notify) = config(&prefix, "http://127.0.0.1:9/");
        let store = Store::connect(&shared.redis).await.unwrap();
        for i in 0..alerts {
            store.record_alert(&alert(&format!("rule-{}", i / brands), &format!("brand-{}", i % brands)), Utc::now()).await.unwrap();
        }
        // Outbox writes are the lease holder's.
        assert!(Lease::new(store.clone(), Duration::from_secs(60)).hold().await);
        let dispatcher = Dispatcher::new(&notify, store.clone()).unwrap();
        let t = Instant::now();
        let report = dispatcher.tick(Utc::now()).await.unwrap();
        let first = t.elapsed();
        let t = Instant::now();
        let idle = dispatcher.tick(Utc::now()).await.unwrap();
        let steady = t.elapsed();
        assert_eq!((report.notifications, idle.notifications), (brands, 0));
        println!(
            "dispatch tick, {alerts} firing alerts in {brands} groups: {:.1} ms queuing {} notifications; {:.1} ms with nothing due",
            first.as_secs_f64() * 1e3,
            report.notifications,
            steady.as_secs_f64() * 1e3
        );
        store.delete_all().await.unwrap();
    }

    // Delivery: alerts of as many brands as notifications, through the outbox to a receiver on
    // loopback, signed, one request at a time (in order).
    let n = 2_000;
    let count = Arc::new(AtomicUsize::new(0));
    let url = receiver(count.clone()).await;
    let prefix = format!("hark-bench:notify:{run}:deliver:");
    let (shared, notify) = config(&prefix, &url);
    let notifier = Notifier::new(&shared, &notify, Metrics::new()).await.unwrap();
    let store = notifier.store().clone();
    for i in 0..n {
        store.record_alert(&alert("negative-spike", &format!("brand-{i}")), Utc::now()).await.unwrap();
    }
    let stop = CancellationToken::new();
    let t = Instant::now();
    tokio::spawn(notifier.run(false, stop.clone()));
    while count.load(Ordering::SeqCst) < n {
        assert!(t.elapsed() < Duration::from_secs(300), "delivery stalled at {}", count.load(Ordering::SeqCst));
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let took = t.elapsed();
    println!(
        "delivery: {n} notifications queued and delivered in {:.2} s: {:.0} notifications/s to one receiver",
        took.as_secs_f64(),
        n as f64 / took.as_secs_f64()
    );
    stop.cancel();
    store.delete_all().await.unwrap();
}
