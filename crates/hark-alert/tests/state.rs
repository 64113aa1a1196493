//! The processor's state in the real Redis: a crash after the state was stored but before the
//! batch was committed makes the group read the batch again; the new processor must skip what
//! its state already holds, produce the lost batch's alerts again, and then give exactly the
//! alerts a run without the crash gives. The same when Redis freezes mid-stream: the batch is
//! refused while it is away and taken once it is back, nothing applied twice or lost.

mod common;

use std::sync::{Arc, RwLock};

use common::*;
use hark_alert::{
    engine::Engine,
    processor::AlertProcessor,
    store::{Store, StoreError},
    PartitionState, RuleSet,
};
use hark_core::{Alert, AlertState};
use hark_kafka::{Input, Processor};
use hark_telemetry::Metrics;

fn processor(config: &Config, metrics: &Metrics, with_store: bool) -> AlertProcessor {
    let engine = Arc::new(RwLock::new(Arc::new(Engine::new(RuleSet::new(&config.section)))));
    let store = with_store.then(|| Store::new(&config.redis, &config.section.stage.group_id).unwrap());
    AlertProcessor::new(engine, store, &config.topics.alerts, metrics.clone())
}

/// Acme's stream as the inputs of partition 0, in batches of 100.
fn batches() -> Vec<Vec<Input>> {
    acme_inputs().chunks(100).map(<[Input]>::to_vec).collect()
}

fn alerts_of(p: &AlertProcessor, batch: &[Input]) -> Vec<Alert> {
    p.process_batch(batch)
        .expect("redis answers")
        .into_iter()
        .flat_map(|r| r.expect("no poison"))
        .map(|o| serde_json::from_slice(&o.record.payload).unwrap())
        .collect()
}

/// What identifies an alert change, without the wall-clock `generated_at`.
fn identity(a: &Alert) -> (String, AlertState, String, Option<String>, String, Vec<String>) {
    (
        a.fingerprint.clone(),
        a.state,
        a.starts_at.to_rfc3339(),
        a.ends_at.map(|t| t.to_rfc3339()),
        a.summary.clone(),
        a.sample_mention_ids.clone(),
    )
}

#[test]
fn a_crash_before_commit_loses_no_alert_and_counts_nothing_twice() {
    let config = config("state");
    let batches = batches();

    let reference: Vec<Alert> = {
        let p = processor(&config, &Metrics::new(), false);
        batches.iter().flat_map(|b| alerts_of(&p, b)).collect()
    };
    assert_eq!(reference.iter().map(|a| a.state).collect::<Vec<_>>(), [AlertState::Firing, AlertState::Resolved]);

    // The first processor stores its state batch by batch, and dies after the batch that fired.
    let metrics = Metrics::new();
    let first = processor(&config, &metrics, true);
    let mut seen = Vec::new();
    let mut crashed_at = None;
    for (i, batch) in batches.iter().enumerate() {
        let alerts = alerts_of(&first, batch);
        let fired = !alerts.is_empty();
        seen.extend(alerts);
        if fired {
            crashed_at = Some(i);
            break;
        }
    }
    let crashed_at = crashed_at.expect("the wave fired");
    drop(first);

    // The new processor gets the uncommitted batch again, then the rest.
    let metrics = Metrics::new();
    let second = processor(&config, &metrics, true);
    let replayed = alerts_of(&second, &batches[crashed_at]);
    assert_eq!(
        replayed.iter().map(identity).collect::<Vec<_>>(),
        seen.iter().map(identity).collect::<Vec<_>>(),
        "the lost batch's alerts are produced again"
    );
    assert_eq!(metrics.counter_value("hark_discarded_total", &[("reason", "already_applied")]), batches[crashed_at].len() as u64);
    let rest: Vec<Alert> = batches[crashed_at + 1..].iter().flat_map(|b| alerts_of(&second, b)).collect();

    let mut after_crash = seen.clone();
    after_crash.extend(rest);
    assert_eq!(after_crash.iter().map(identity).collect::<Vec<_>>(), reference.iter().map(identity).collect::<Vec<_>>());

    // The state is in Redis under the configured prefix.
    let mut store = Store::new(&config.redis, &config.section.stage.group_id).unwrap();
    assert!(store.key("enriched", 0).starts_with(&config.redis.key_prefix));
    let (state, writer) = store.load("enriched", 0).unwrap();
    assert!(writer.is_some());
    assert_eq!(state.meta.applied_offset, (120 * 12 - 1) as i64);
    assert_eq!(state.series.len(), 1, "one series: negative share of Acme");
}

#[test]
fn a_former_owner_cannot_overwrite_the_state_a_newer_owner_wrote() {
    let config = config("fenced");
    let (mut old_owner, mut new_owner) = (
        Store::new(&config.redis, &config.section.stage.group_id).unwrap(),
        Store::new(&config.redis, &config.section.stage.group_id).unwrap(),
    );
    let at = |offset: i64| {
        let mut state = PartitionState::default();
        state.meta.applied_offset = offset;
        state
    };
    let (_, read) = old_owner.load("enriched", 0).unwrap();
    let old_token = old_owner.save("enriched", 0, &at(10), read.as_deref()).unwrap();

    // A rebalance: the new owner reads what the old one wrote, and goes on.
    let (state, read) = new_owner.load("enriched", 0).unwrap();
    assert_eq!((state.meta.applied_offset, read.as_deref()), (10, Some(old_token.as_str())));
    let new_token = new_owner.save("enriched", 0, &at(20), read.as_deref()).unwrap();

    // The old owner, back from a stall, saves the batch it had in hand: refused, nothing moves back.
    let stale = old_owner.save("enriched", 0, &at(15), Some(&old_token)).unwrap_err();
    assert!(matches!(stale, StoreError::Stale { .. }), "{stale}");
    let (state, writer) = new_owner.load("enriched", 0).unwrap();
    assert_eq!((state.meta.applied_offset, writer.as_deref()), (20, Some(new_token.as_str())), "applied_offset never moves backwards");
    new_owner.save("enriched", 0, &at(30), Some(&new_token)).unwrap();
}

#[test]
fn a_poison_message_is_dead_lettered_and_the_rest_goes_on() {
    let config = config("poison");
    let p = processor(&config, &Metrics::new(), false);
    let mut batch = batches().remove(0);
    batch[3].payload = Some(b"{not json".to_vec());
    let results = p.process_batch(&batch).unwrap();
    assert_eq!(results.len(), batch.len());
    let poison = results[3].as_ref().unwrap_err();
    assert_eq!(poison.kind, hark_kafka::PoisonKind::InvalidJson);
    assert!(results.iter().enumerate().all(|(i, r)| i == 3 || r.is_ok()));
}

#[test]
fn a_frozen_redis_holds_the_batch_and_the_alerts_come_out_unchanged_once_it_is_back() {
    let redis = hark_testkit::RedisServer::start();
    let mut config = config("frozen");
    config.redis.url = redis.url.clone();
    let batches = batches();
    let reference: Vec<Alert> = {
        let p = processor(&config, &Metrics::new(), false);
        batches.iter().flat_map(|b| alerts_of(&p, b)).collect()
    };

    let p = processor(&config, &Metrics::new(), true);
    let mut got = alerts_of(&p, &batches[0]);
    redis.freeze();
    let refused = p.process_batch(&batches[1]).expect_err("no state store: the batch is refused");
    assert_eq!(refused.dependency, "redis");
    assert!(p.process_batch(&batches[1]).is_err(), "still refused while Redis is away");
    redis.thaw();
    for batch in &batches[1..] {
        got.extend(alerts_of(&p, batch));
    }
    assert_eq!(got.iter().map(identity).collect::<Vec<_>>(), reference.iter().map(identity).collect::<Vec<_>>());
}
