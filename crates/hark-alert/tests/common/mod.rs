//! What the alert stage's tests share: a namespace of their own on the real broker and Redis, a
//! config with one negative-spike rule on one-minute windows, enriched mentions with a negative
//! wave at a known time, and a plain rdkafka producer and consumer (not Hark's client code) to
//! write the input and read the alerts from outside the stage.

#![allow(dead_code)]

use std::time::{Duration, Instant};

use hark_alert::config::AlertConfig;
use hark_testkit::StageConfig;
use rdkafka::{
    consumer::{BaseConsumer, Consumer},
    producer::{BaseRecord, DefaultProducerContext, Producer, ThreadedProducer},
    ClientConfig, Message,
};
use serde_json::{json, Value};

pub use hark_testkit::{brokers, redis_url};

/// The shared sections and `[alert]`.
pub type Config = StageConfig<AlertConfig>;

/// The alert stage's sections of a config file's text, checked.
pub fn parse(text: &str) -> Result<Config, String> {
    StageConfig::parse(text, "alert", AlertConfig::check)
}

/// A config whose topics, group and Redis keys belong to this test run only.
pub fn config(test: &str) -> Config {
    let run = format!("{test}-{}-{:06x}", std::process::id(), fastrand::u32(..0xff_ffff));
    let text = format!(
        r#"
        [kafka]
        brokers = "{brokers}"
        partitions = 3
        [topics]
        enriched = "hark.test.{run}.enriched"
        alerts = "hark.test.{run}.alerts"
        dlq = "hark.test.{run}.dlq"
        [redis]
        url = "{redis}"
        key_prefix = "hark:test:{run}:"
        [alert]
        group_id = "hark-alert-{run}"
        listen = "127.0.0.1:0"
        batch_size = 200
        window_secs = 60
        allowed_lateness_secs = 30
        [[alert.rules]]
        name = "negative-spike"
        kind = "spike"
        metric = "negative_share"
        min_volume = 5
        warmup_windows = 30
        for_windows = 2
        resolve_after = 3
        "#,
        brokers = brokers(),
        redis = redis_url(),
    );
    parse(&text).expect("test config is valid")
}

/// 2026-11-01T00:00:00Z: the event time of the streams' first minute.
pub const START: i64 = 1_793_491_200;

/// The minutes of the negative wave of brand "Acme" (75% negative instead of one in seven).
pub const WAVE: std::ops::Range<i64> = 90..98;

/// One enriched mention, written as JSON by hand (not by Hark's types).
pub fn enriched(brand: &str, minute: i64, i: i64, negative: bool) -> Value {
    let created_at = chrono::DateTime::from_timestamp(START + minute * 60 + i * 4, 0).unwrap().to_rfc3339();
    json!({
        "mention": {
            "id": format!("{brand}-{minute}-{i}"), "platform": "twitter",
            "text": if negative { "cancelled again, terrible service" } else { "on my way, thanks" },
            "created_at": created_at, "author": {"id": format!("a{minute}-{i}"), "followers": 100 + i},
            "brand": brand
        },
        "enrichment": {
            "lang": {"code": "en", "confidence": 0.99},
            "sentiment": {"label": if negative { "negative" } else { "positive" }, "score": if negative { -0.8 } else { 0.5 }, "confidence": 0.9, "model": "test"},
            "intent": {"label": if negative { "complaint" } else { "other" }, "confidence": 0.9},
            "spam": {"score": 0.01, "is_spam": false, "reasons": []},
            "offensive": {"score": 0.0, "is_offensive": false},
            "influence": {"tier": "nano", "followers": 100 + i},
            "brands": [],
            "brand": brand,
            "enriched_at": created_at,
            "enrichment_version": "test"
        }
    })
}

/// Twelve mentions a minute for each of "Acme" and "Birch" over `minutes`; one in seven is
/// negative, except in Acme's wave, where three in four are.
pub fn stream(minutes: std::ops::Range<i64>) -> Vec<(String, Value)> {
    let mut out = Vec::new();
    for minute in minutes {
        for brand in ["Acme", "Birch"] {
            for i in 0..12 {
                let negative = if brand == "Acme" && WAVE.contains(&minute) { i % 4 != 0 } else { (minute * 12 + i) % 7 == 0 };
                out.push((brand.to_string(), enriched(brand, minute, i, negative)));
            }
        }
    }
    out
}

/// Acme's stream of minutes 0 to 120 as the processor's inputs from partition 0 of `enriched`,
/// offsets from 0.
pub fn acme_inputs() -> Vec<hark_kafka::Input> {
    stream(0..120)
        .into_iter()
        .filter(|(brand, _)| brand == "Acme")
        .enumerate()
        .map(|(offset, (key, value))| hark_kafka::Input {
            topic: "enriched".into(),
            partition: 0,
            offset: offset as i64,
            key: Some(key.into_bytes()),
            payload: Some(value.to_string().into_bytes()),
            headers: Vec::new(),
        })
        .collect()
}

/// Writes each value keyed by its brand (as the enrich stage does) and waits for the acks.
pub fn produce(topic: &str, records: &[(String, Value)]) {
    let producer: ThreadedProducer<DefaultProducerContext> =
        ClientConfig::new().set("bootstrap.servers", brokers()).set("linger.ms", "5").create().expect("producer");
    for (key, value) in records {
        let payload = value.to_string();
        let mut record = BaseRecord::to(topic).key(key.as_str()).payload(payload.as_str());
        loop {
            match producer.send(record) {
                Ok(()) => break,
                Err((_, back)) => {
                    record = back;
                    producer.poll(Duration::from_millis(50));
                }
            }
        }
    }
    producer.flush(Duration::from_secs(30)).expect("every record acknowledged");
}

/// Reads a topic from the beginning until `expect` messages arrived (then `idle` more without a
/// new one) or `timeout` passed. Key and parsed value of each.
pub fn read(topic: &str, expect: usize, idle: Duration, timeout: Duration) -> Vec<(String, Value)> {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", brokers())
        .set("group.id", format!("hark-alert-test-reader-{:08x}", fastrand::u32(..)))
        .set("auto.offset.reset", "earliest")
        .set("enable.auto.commit", "false")
        .create()
        .expect("consumer");
    consumer.subscribe(&[topic]).expect("subscribe");
    let deadline = Instant::now() + timeout;
    let mut out = Vec::new();
    let mut last = Instant::now();
    while Instant::now() < deadline {
        if out.len() >= expect && last.elapsed() >= idle {
            break;
        }
        if let Some(Ok(message)) = consumer.poll(Duration::from_millis(200)) {
            let key = message.key().map(|k| String::from_utf8_lossy(k).into_owned()).unwrap_or_default();
            let value: Value = serde_json::from_slice(message.payload().unwrap_or_default()).expect("an alert is JSON");
            out.push((key, value));
            last = Instant::now();
        }
    }
    out
}

/// Checks a value against `proto/alert.v1.schema.json`.
pub fn check_schema(alert: &Value) {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../proto/alert.v1.schema.json");
    let schema: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let validator = jsonschema::validator_for(&schema).expect("schema compiles");
    let errors: Vec<String> = validator.iter_errors(alert).map(|e| e.to_string()).collect();
    assert!(errors.is_empty(), "{alert} does not match alert.v1: {errors:?}");
}
