//! The spam repeat count shared by two enrich instances through the real Redis: a copy-paste
//! campaign split between them is seen whole, and a mention redelivered to the other instance
//! after more copies arrived gets the labels it got the first time.

use std::sync::Arc;

use chrono::Duration;
use hark_core::config::RedisConfig;
use hark_enrich::{repeat_store::RepeatStore, EnrichProcessor, Enricher};
use hark_kafka::{Input, Processor};
use serde_json::Value;

const CAMPAIGN: &str = "Limited offer for every traveller this week, details on our page";

fn redis() -> RedisConfig {
    RedisConfig {
        url: std::env::var("HARK__REDIS__URL").unwrap_or_else(|_| "redis://127.0.0.1:6379/".into()),
        key_prefix: format!("hark:test:repeats-{}-{:06x}:", std::process::id(), fastrand::u32(..0xff_ffff)),
        ..Default::default()
    }
}

/// An enrich instance whose repeat count lives in `redis`.
fn instance(redis: &RedisConfig) -> EnrichProcessor {
    let enricher = Arc::new(Enricher::new(&Default::default()).unwrap());
    let store = RepeatStore::new(redis, 600).unwrap();
    EnrichProcessor::new(enricher, "enriched", Duration::minutes(5)).with_shared_repeats(Arc::new(store))
}

fn post(author: usize, minute: usize) -> Input {
    let mention = serde_json::json!({"id": format!("p{author}"), "platform": "twitter", "text": CAMPAIGN,
        "created_at": format!("2026-11-20T10:{minute:02}:00Z"), "author": {"id": format!("author-{author}")}});
    Input {
        topic: "raw".into(),
        partition: 0,
        offset: author as i64,
        key: None,
        payload: Some(mention.to_string().into_bytes()),
        headers: Vec::new(),
    }
}

/// The spam label and its reasons of one enriched output.
fn spam_of(instance: &EnrichProcessor, input: Input) -> (bool, Vec<String>) {
    let results = instance.process_batch(&[input]).expect("redis answers");
    let output = &results[0].as_ref().expect("not poison")[0];
    let enriched: Value = serde_json::from_slice(&output.record.payload).unwrap();
    let spam = &enriched["enrichment"]["spam"];
    (spam["is_spam"].as_bool().unwrap(), spam["reasons"].as_array().unwrap().iter().map(|r| r.as_str().unwrap().to_string()).collect())
}

#[test]
fn two_instances_count_one_campaign_and_a_redelivery_keeps_its_labels() {
    let redis = redis();
    let (a, b) = (instance(&redis), instance(&redis));
    // Authors 0..4 alternate between the instances: neither sees five on its own.
    let mut verdicts = Vec::new();
    for author in 0..5 {
        let instance = if author % 2 == 0 { &a } else { &b };
        verdicts.push(spam_of(instance, post(author, author)));
    }
    assert!(verdicts[..4].iter().all(|(_, reasons)| !reasons.iter().any(|r| r.starts_with("same text"))), "{verdicts:?}");
    let (fifth_spam, fifth_reasons) = &verdicts[4];
    assert!(*fifth_spam, "the fifth author's copy is spam: {fifth_reasons:?}");
    assert!(fifth_reasons.contains(&"same text from 5 authors in 10 min".to_string()), "{fifth_reasons:?}");

    // More copies arrive; then the second author's mention comes again, to the other instance.
    for author in 5..8 {
        spam_of(&a, post(author, author));
    }
    assert_eq!(spam_of(&a, post(1, 1)), verdicts[1], "a redelivery gets the labels of the first delivery");
    assert_eq!(spam_of(&b, post(4, 4)), verdicts[4]);
}

#[test]
fn without_redis_the_batch_is_held_not_enriched_differently() {
    let mut redis = redis();
    redis.url = "redis://127.0.0.1:1/".into();
    let Err(refused) = instance(&redis).process_batch(&[post(0, 0)]) else { panic!("no Redis: the batch must wait") };
    assert_eq!(refused.dependency, "redis");
}
