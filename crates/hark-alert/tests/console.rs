//! The console's data in the real Redis: after a stream with a negative wave has gone through the
//! processor, `/v1/series` serves the brand's windows with the expected band and the alert period,
//! once per window even when a batch is applied twice, and `/v1/mentions` serves the mentions the
//! alert cites.

mod common;

use std::sync::{Arc, RwLock};

use common::*;
use hark_alert::{console, engine::Engine, processor::AlertProcessor, store::Store, RuleSet};
use hark_core::{Alert, AlertState};
use hark_kafka::Processor;
use hark_telemetry::Metrics;
use serde_json::Value;

/// Serves the console API on a free port; its base URL.
async fn serve(config: &Config) -> String {
    let limits = hark_redis::Limits { connect: std::time::Duration::from_secs(2), response: std::time::Duration::from_secs(2), retries: 1 };
    let redis = hark_redis::connect(&config.redis, limits).await.expect("redis");
    let keys = console::Keys::new(&config.redis.key_prefix, &config.section.stage.group_id);
    let app = console::ConsoleApi::new(redis, keys, config.section.window_secs as i64).router();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    url
}

async fn get(url: &str) -> (u16, Value) {
    let response = reqwest::get(url).await.expect("the console API answers");
    (response.status().as_u16(), response.json().await.expect("JSON"))
}

#[tokio::test(flavor = "multi_thread")]
async fn the_console_serves_each_window_once_with_its_band_and_the_alerts_samples() {
    let config = config("console");
    let inputs = acme_inputs();
    let run = || {
        let engine = Arc::new(RwLock::new(Arc::new(Engine::new(RuleSet::new(&config.section)))));
        let store = Store::new(&config.redis, &config.section.stage.group_id).unwrap();
        let processor = AlertProcessor::new(engine, Some(store), &config.topics.alerts, Metrics::new());
        let mut alerts: Vec<Alert> = Vec::new();
        for batch in inputs.chunks(100) {
            let outputs = tokio::task::block_in_place(|| processor.process_batch(batch)).expect("redis answers");
            alerts.extend(
                outputs
                    .into_iter()
                    .flat_map(|r| r.expect("no poison"))
                    .map(|o| serde_json::from_slice::<Alert>(&o.record.payload).unwrap()),
            );
        }
        alerts
    };
    run();
    // The alert state lost and the stream applied again (every window closed a second time):
    // each window is replaced, never listed twice.
    let state_key = Store::new(&config.redis, &config.section.stage.group_id).unwrap().key("enriched", 0);
    let mut redis = redis::Client::open(config.redis.url.as_str()).unwrap().get_connection().unwrap();
    redis::cmd("DEL").arg(&state_key).query::<()>(&mut redis).unwrap();
    let alerts = run();
    let fired = alerts.iter().find(|a| a.state == AlertState::Firing).expect("the wave fires");
    let url = serve(&config).await;

    let (status, listing) = get(&format!("{url}/v1/series")).await;
    assert_eq!(status, 200);
    assert_eq!(listing["brands"], serde_json::json!(["Acme"]));
    assert!(listing.get("series").is_none(), "series only for a brand");

    let (_, acme) = get(&format!("{url}/v1/series?brand=Acme&hours=24")).await;
    let series = acme["series"].as_array().unwrap();
    assert_eq!(series.len(), 1, "{acme}");
    assert_eq!(series[0]["rule"], "negative-spike");
    assert_eq!(series[0]["metric"], "negative_share");
    assert_eq!(series[0]["kind"], "spike");
    let points = series[0]["points"].as_array().unwrap();
    let starts: Vec<&str> = points.iter().map(|p| p["start"].as_str().unwrap()).collect();
    let mut unique = starts.clone();
    unique.dedup();
    assert_eq!(starts, unique, "one point per window, in order");
    // Minutes 0..120 with the last ones still open (allowed lateness).
    assert!((110..=120).contains(&points.len()), "{} windows", points.len());
    let in_wave: Vec<&Value> = points.iter().filter(|p| p["firing"] == true).collect();
    assert!(!in_wave.is_empty(), "the alert period is marked");
    for p in &in_wave {
        let minute = (chrono::DateTime::parse_from_rfc3339(p["start"].as_str().unwrap()).unwrap().timestamp() - START) / 60;
        assert!((WAVE.start..WAVE.end + 5).contains(&minute), "firing at minute {minute}");
    }
    let warm = points.iter().find(|p| p["firing"] == true).unwrap();
    let (observed, high) = (warm["observed"].as_f64().unwrap(), warm["high"].as_f64().unwrap());
    assert!(observed > high, "the firing window is above its band: {warm}");
    assert!(warm["low"].as_f64().unwrap() <= warm["expected"].as_f64().unwrap());
    assert!(points[0]["expected"].is_null(), "nothing expected before the baseline has a window");

    let (_, narrow) = get(&format!("{url}/v1/series?brand=Acme&hours=1")).await;
    assert_eq!(narrow["series"][0]["points"].as_array().unwrap().len(), 60, "an hour of one-minute windows");
    let (status, _) = get(&format!("{url}/v1/series?brand=Acme&hours=0")).await;
    assert_eq!(status, 400);

    let ids = format!("{},twitter:nobody", fired.sample_mention_ids.join(","));
    let (status, found) = get(&format!("{url}/v1/mentions?ids={ids}")).await;
    assert_eq!(status, 200);
    let texts: Vec<&str> = found["mentions"].as_array().unwrap().iter().map(|m| m["mention"]["text"].as_str().unwrap()).collect();
    assert_eq!(texts.len(), fired.sample_mention_ids.len(), "every sample is kept: {found}");
    assert!(texts.iter().all(|t| *t == "cancelled again, terrible service"));
    assert_eq!(found["missing"], serde_json::json!(["twitter:nobody"]));
    let (status, _) = get(&format!("{url}/v1/mentions?ids=")).await;
    assert_eq!(status, 400);
}
