//! The engine in the Kafka stage loop ([`hark_kafka::StageLoop`]): each enriched mention goes
//! through its partition's [`Engine`] state, and the alerts it causes (a window closing, a
//! single-mention rule) are the outputs of that input, produced to the alerts topic keyed by
//! fingerprint.
//!
//! **Delivery guarantee: at least once per alert change; state exactly once.** The state of each
//! partition is written to Redis with the last input offset applied, before the loop produces the
//! batch's alerts and commits its offsets. After a crash the group re-reads uncommitted input:
//! inputs at or below the stored offset are skipped (they are in the state already), and the
//! stored outbox (the alerts of the last applied batch, which may not have reached the broker) is
//! produced again when that batch is read again. A receiver may see an alert change twice, never
//! zero times; the fingerprint, state and `starts_at` tell the copies apart.
//!
//! If Redis cannot be written for [`STORE_RETRY`], the batch panics on purpose: the stage stops
//! with an error before anything of the batch is committed, and is read again after the restart.

use std::{
    collections::{BTreeMap, HashMap},
    sync::{Arc, Mutex, RwLock},
    time::Duration,
};

use chrono::Utc;
use hark_core::{Alert, AlertState, EnrichedMention};
use hark_kafka::{Input, Outgoing, Output, Poison, Processor};
use hark_telemetry::{Metrics, Stage};
use prometheus::IntCounterVec;

use crate::{
    engine::{Engine, PartitionState},
    store::Store,
};

/// How long a batch waits for Redis before the stage stops.
pub const STORE_RETRY: Duration = Duration::from_secs(30);

/// Alerts fired and resolved per rule (`hark_alerts_fired_total`, `hark_alerts_resolved_total`).
#[derive(Clone)]
pub struct AlertMetrics {
    fired: IntCounterVec,
    resolved: IntCounterVec,
}

impl AlertMetrics {
    pub fn new(metrics: &Metrics) -> AlertMetrics {
        let counter = |name: &str, help: &str| {
            let c = IntCounterVec::new(prometheus::Opts::new(name, help), &["rule"]).expect("valid metric");
            // A second registration (a second stage in one process) keeps counting in its own vector.
            let _ = metrics.registry().register(Box::new(c.clone()));
            c
        };
        AlertMetrics {
            fired: counter("hark_alerts_fired_total", "Alerts that started firing, per rule."),
            resolved: counter("hark_alerts_resolved_total", "Alerts that resolved, per rule."),
        }
    }

    fn count(&self, alert: &Alert) {
        let vec = if alert.state == AlertState::Firing { &self.fired } else { &self.resolved };
        vec.with_label_values(&[alert.rule.as_str()]).inc();
    }
}

/// The rules in force; a reload swaps them between batches.
pub type SharedEngine = Arc<RwLock<Arc<Engine>>>;

struct Partition {
    state: PartitionState,
    /// The writer token of the stored state when this copy matched it.
    token: Option<String>,
}

struct Inner {
    partitions: HashMap<(String, i32), Partition>,
    store: Option<Store>,
}

pub struct AlertProcessor {
    engine: SharedEngine,
    inner: Mutex<Inner>,
    alerts_topic: String,
    metrics: Metrics,
    alert_metrics: AlertMetrics,
}

impl AlertProcessor {
    /// `store`: where state survives restarts; `None` keeps it in memory only.
    pub fn new(engine: SharedEngine, store: Option<Store>, alerts_topic: &str, metrics: Metrics) -> AlertProcessor {
        AlertProcessor {
            engine,
            inner: Mutex::new(Inner { partitions: HashMap::new(), store }),
            alerts_topic: alerts_topic.to_string(),
            alert_metrics: AlertMetrics::new(&metrics),
            metrics,
        }
    }

    fn output(&self, alert: &Alert) -> Output {
        self.alert_metrics.count(alert);
        Output {
            record: Outgoing {
                topic: self.alerts_topic.clone(),
                key: Some(alert.fingerprint.clone()),
                headers: vec![("hark-alert-state".into(), format!("{:?}", alert.state).to_lowercase())],
                payload: serde_json::to_vec(alert).expect("an alert serialises"),
            },
            label: alert.rule.clone(),
            created_at: alert.first_event_at,
            ingested_at: None,
        }
    }

    /// Runs `op` against the store until it succeeds or [`STORE_RETRY`] has passed.
    fn with_store<T>(&self, store: &mut Store, what: &str, mut op: impl FnMut(&mut Store) -> Result<T, crate::store::StoreError>) -> T {
        let started = std::time::Instant::now();
        let mut backoff = Duration::from_millis(100);
        loop {
            match op(store) {
                Ok(value) => return value,
                Err(e) if started.elapsed() < STORE_RETRY => {
                    tracing::warn!(stage = "alert", error = %e, "{what} failed; will retry");
                    self.metrics.error(Stage::Alert, "redis");
                    std::thread::sleep(backoff);
                    backoff = (backoff * 2).min(Duration::from_secs(5));
                }
                Err(e) => panic!("alert state: {what} failed for {STORE_RETRY:?}, stopping so the batch is read again: {e}"),
            }
        }
    }

    /// Makes the in-memory state of a partition match the stored one. Returns the stored outbox
    /// when it must be produced again: the state came from the store and the batch starts at or
    /// before the last offset applied, so the batch that made those alerts was never committed
    /// (offsets are committed only after the alerts were acknowledged).
    fn prepare(&self, inner: &mut Inner, topic: &str, partition: i32, first_offset: i64) -> Vec<Alert> {
        let key = (topic.to_string(), partition);
        let Some(store) = inner.store.as_mut() else {
            let p = inner.partitions.entry(key).or_insert_with(|| Partition { state: PartitionState::default(), token: None });
            p.state.meta.outbox.clear();
            return Vec::new();
        };
        let stored_writer = self.with_store(store, "reading the state's writer", |s| s.writer(topic, partition));
        if let Some(p) = inner.partitions.get_mut(&key) {
            if p.token.is_some() && p.token == stored_writer {
                // Ours, and the last batch was produced before this one started.
                p.state.meta.outbox.clear();
                return Vec::new();
            }
        }
        let (state, token) = match store.load(topic, partition) {
            Ok(loaded) => loaded,
            Err(e @ crate::store::StoreError::Corrupt { .. }) => {
                tracing::error!(stage = "alert", error = %e, "starting the partition's alert state afresh");
                self.metrics.error(Stage::Alert, "state");
                (PartitionState::default(), None)
            }
            Err(_) => self.with_store(store, "loading the state", |s| s.load(topic, partition)),
        };
        let mut state = state;
        let uncommitted = first_offset <= state.meta.applied_offset;
        if !uncommitted {
            state.meta.outbox.clear();
        } else if !state.meta.outbox.is_empty() {
            tracing::info!(stage = "alert", topic, partition, alerts = state.meta.outbox.len(),
                "producing the alerts of an uncommitted batch again after a restart or rebalance");
        }
        let outbox = state.meta.outbox.clone();
        inner.partitions.insert(key, Partition { state, token });
        outbox
    }
}

impl Processor for AlertProcessor {
    fn stage(&self) -> Stage {
        Stage::Alert
    }

    fn process_batch(&self, inputs: &[Input]) -> Vec<Result<Vec<Output>, Poison>> {
        let engine = self.engine.read().expect("engine lock").clone();
        let now = Utc::now();
        let mut inner = self.inner.lock().expect("processor lock");
        let mut results: Vec<Result<Vec<Output>, Poison>> = Vec::with_capacity(inputs.len());
        let mut touched: BTreeMap<(String, i32), i64> = BTreeMap::new();
        for input in inputs {
            let first = touched.entry((input.topic.clone(), input.partition)).or_insert(input.offset);
            *first = (*first).min(input.offset);
        }

        // Alerts that come before any input of the batch: the outbox again, rules retired by a reload.
        let mut leading: HashMap<(String, i32), Vec<Alert>> = HashMap::new();
        for ((topic, partition), first_offset) in &touched {
            let mut alerts = self.prepare(&mut inner, topic, *partition, *first_offset);
            let p = inner.partitions.get_mut(&(topic.clone(), *partition)).expect("prepared");
            let retired = engine.retire_unknown_rules(&mut p.state, now);
            p.state.meta.outbox.extend(retired.iter().cloned());
            alerts.extend(retired);
            leading.insert((topic.clone(), *partition), alerts);
        }

        let mut carried: Vec<Output> = Vec::new();
        for input in inputs {
            let key = (input.topic.clone(), input.partition);
            let mut outputs: Vec<Output> = leading.remove(&key).unwrap_or_default().iter().map(|a| self.output(a)).collect();
            let p = inner.partitions.get_mut(&key).expect("prepared");
            if input.offset <= p.state.meta.applied_offset {
                self.metrics.discarded(Stage::Alert, "already_applied", true, 1);
                results.push(Ok(outputs));
                continue;
            }
            p.state.meta.applied_offset = input.offset;
            let mention = match parse(input) {
                Ok(mention) => mention,
                Err(poison) => {
                    // A poison message has no outputs of its own: the alerts it carried go with the next input.
                    carried.append(&mut outputs);
                    results.push(Err(poison));
                    continue;
                }
            };
            outputs.append(&mut carried);
            let observed = engine.observe(&mut p.state, &mention, now);
            if let Some(reason) = observed.refused {
                // A clock far ahead would close every brand's windows early: the mention goes to
                // the dead-letter topic, and the alerts this input carried go with the next one.
                carried.append(&mut outputs);
                results.push(Err(Poison { error_type: "future_timestamp", reason }));
                continue;
            }
            if observed.late {
                self.metrics.discarded(Stage::Alert, "late", true, 1);
            }
            for alert in &observed.alerts {
                tracing::info!(stage = "alert", rule = %alert.rule, fingerprint = %alert.fingerprint,
                    state = ?alert.state, summary = %alert.summary, "alert");
                outputs.push(self.output(alert));
            }
            p.state.meta.outbox.extend(observed.alerts);
            results.push(Ok(outputs));
        }
        if !carried.is_empty() {
            match results.iter_mut().rev().find_map(|r| r.as_mut().ok()) {
                Some(outputs) => outputs.append(&mut carried),
                // Only poison in the batch: the alerts stay in the stored outbox.
                None => tracing::warn!(stage = "alert", alerts = carried.len(), "alerts wait in the outbox for the next batch"),
            }
        }

        let Inner { partitions, store } = &mut *inner;
        if let Some(store) = store.as_mut() {
            for (topic, partition) in touched.keys() {
                let p = partitions.get_mut(&(topic.clone(), *partition)).expect("prepared");
                let token = self.with_store(store, "writing the state", |s| s.save(topic, *partition, &p.state));
                p.token = Some(token);
                p.state.dirty.clear();
            }
        }
        results
    }
}

fn parse(input: &Input) -> Result<EnrichedMention, Poison> {
    let payload = input.payload.as_deref().unwrap_or_default();
    serde_json::from_slice(payload)
        .map_err(|e| Poison { error_type: "invalid_json", reason: format!("not an enriched.v1 mention: {e}") })
}
