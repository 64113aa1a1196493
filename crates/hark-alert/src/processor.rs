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
//! **Redis down.** A batch whose state cannot be read or written is refused as
//! [`Unavailable`]: the stage loop holds it (nothing produced, nothing committed, `/readyz` not
//! ready) and offers it again with backoff until Redis answers, however long that takes. A
//! refused batch leaves nothing behind: the touched partitions' in-memory state is dropped, so
//! the next try starts from what Redis holds — the state before the batch, or after it when the
//! write went through but its answer was lost, in which case the batch's inputs are skipped and
//! its stored outbox is produced. Either way each input is applied once and no alert is lost.

use std::{
    collections::{BTreeMap, HashMap},
    sync::{Arc, Mutex, RwLock},
};

use chrono::Utc;
use hark_core::{Alert, AlertState, EnrichedMention};
use hark_kafka::{decode, Input, Outgoing, Output, Poison, PoisonKind, Processor, Unavailable};
use hark_telemetry::{Metrics, Stage};
use prometheus::IntCounterVec;

use crate::{
    engine::{Engine, PartitionState},
    store::{Store, StoreError},
};

/// Alerts fired and resolved per rule (`hark_alerts_fired_total`, `hark_alerts_resolved_total`).
#[derive(Clone)]
pub struct AlertMetrics {
    fired: IntCounterVec,
    resolved: IntCounterVec,
}

impl AlertMetrics {
    pub fn new(metrics: &Metrics) -> AlertMetrics {
        let counter = |name: &str, help: &str| {
            metrics.register_own(IntCounterVec::new(prometheus::Opts::new(name, help), &["rule"]).expect("valid metric"))
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

    /// Makes the in-memory state of a partition match the stored one. Returns the stored outbox
    /// when it must be produced again: the state came from the store and the batch starts at or
    /// before the last offset applied, so the batch that made those alerts was never committed
    /// (offsets are committed only after the alerts were acknowledged).
    fn prepare(&self, inner: &mut Inner, topic: &str, partition: i32, first_offset: i64) -> Result<Vec<Alert>, StoreError> {
        let key = (topic.to_string(), partition);
        let Some(store) = inner.store.as_mut() else {
            let p = inner.partitions.entry(key).or_insert_with(|| Partition { state: PartitionState::default(), token: None });
            p.state.meta.outbox.clear();
            return Ok(Vec::new());
        };
        let stored_writer = store.writer(topic, partition)?;
        if let Some(p) = inner.partitions.get_mut(&key) {
            if p.token.is_some() && p.token == stored_writer {
                // Ours, and the last batch was produced before this one started.
                p.state.meta.outbox.clear();
                return Ok(Vec::new());
            }
        }
        let (state, token) = match store.load(topic, partition) {
            Ok(loaded) => loaded,
            Err(e @ StoreError::Corrupt { .. }) => {
                tracing::error!(stage = "alert", error = %e, "starting the partition's alert state afresh");
                self.metrics.error(Stage::Alert, "state");
                (PartitionState::default(), stored_writer)
            }
            Err(e) => return Err(e),
        };
        let mut state = state;
        let uncommitted = first_offset <= state.meta.applied_offset;
        if !uncommitted {
            state.meta.outbox.clear();
        } else if !state.meta.outbox.is_empty() {
            tracing::info!(
                stage = "alert",
                topic,
                partition,
                alerts = state.meta.outbox.len(),
                "producing the alerts of an uncommitted batch again after a restart or rebalance"
            );
        }
        let outbox = state.meta.outbox.clone();
        inner.partitions.insert(key, Partition { state, token });
        Ok(outbox)
    }

    /// Applies the batch to the partitions' state and stores it: the outputs per input, and the
    /// alerts among them (counted by the caller once the batch is stored).
    fn apply(&self, inner: &mut Inner, inputs: &[Input], touched: &BTreeMap<(String, i32), i64>) -> Result<Applied, StoreError> {
        let engine = self.engine.read().expect("engine lock").clone();
        let now = Utc::now();
        let mut results: Vec<Result<Vec<Output>, Poison>> = Vec::with_capacity(inputs.len());
        let mut produced: Vec<Alert> = Vec::new();

        // Alerts that come before any input of the batch: the outbox again, rules retired by a reload.
        let mut leading: HashMap<(String, i32), Vec<Alert>> = HashMap::new();
        for ((topic, partition), first_offset) in touched {
            let mut alerts = self.prepare(inner, topic, *partition, *first_offset)?;
            let p = inner.partitions.get_mut(&(topic.clone(), *partition)).expect("prepared");
            let retired = engine.retire_unknown_rules(&mut p.state, now);
            p.state.meta.outbox.extend(retired.iter().cloned());
            alerts.extend(retired);
            leading.insert((topic.clone(), *partition), alerts);
        }

        let mut carried: Vec<Output> = Vec::new();
        // Mentions alerts may cite, kept for the console: (id, enriched.v1 JSON).
        let mut samples: Vec<(String, String)> = Vec::new();
        for input in inputs {
            let key = (input.topic.clone(), input.partition);
            let leading_alerts = leading.remove(&key).unwrap_or_default();
            let mut outputs: Vec<Output> = leading_alerts.iter().map(|a| self.output(a)).collect();
            produced.extend(leading_alerts);
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
            // Messages enriched before the header existed count as one source.
            let source = input.header(hark_core::topics::HEADER_SOURCE_PARTITION).and_then(|s| s.parse().ok()).unwrap_or(-1);
            let observed = engine.observe(&mut p.state, &mention, source, now);
            if let Some(reason) = observed.refused {
                // A clock far ahead would close every brand's windows early: the mention goes to
                // the dead-letter topic, and the alerts this input carried go with the next one.
                carried.append(&mut outputs);
                results.push(Err(Poison::new(PoisonKind::FutureTimestamp, reason)));
                continue;
            }
            if observed.late {
                self.metrics.discarded(Stage::Alert, "late", true, 1);
            }
            if observed.sample {
                samples.push((
                    mention.mention.stable_id(),
                    String::from_utf8_lossy(input.payload.as_deref().unwrap_or_default()).into_owned(),
                ));
            }
            for alert in &observed.alerts {
                tracing::info!(stage = "alert", rule = %alert.rule, fingerprint = %alert.fingerprint,
                    state = ?alert.state, summary = %alert.summary, "alert");
                outputs.push(self.output(alert));
            }
            produced.extend(observed.alerts.iter().cloned());
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

        let Inner { partitions, store } = inner;
        let closed: Vec<_> = touched
            .keys()
            .flat_map(|(t, p)| std::mem::take(&mut partitions.get_mut(&(t.clone(), *p)).expect("prepared").state.closed))
            .collect();
        if let Some(store) = store.as_mut() {
            // Before the state: a batch retried after a failed write writes them again.
            store.save_console(&closed, &samples)?;
            for (topic, partition) in touched.keys() {
                let p = partitions.get_mut(&(topic.clone(), *partition)).expect("prepared");
                p.token = Some(store.save(topic, *partition, &p.state, p.token.as_deref())?);
                p.state.dirty.clear();
            }
        }
        Ok((results, produced))
    }
}

/// A stored batch: the outputs per input, and the alerts among them.
type Applied = (Vec<Result<Vec<Output>, Poison>>, Vec<Alert>);

impl Processor for AlertProcessor {
    fn stage(&self) -> Stage {
        Stage::Alert
    }

    fn process_batch(&self, inputs: &[Input]) -> Result<Vec<Result<Vec<Output>, Poison>>, Unavailable> {
        let mut inner = self.inner.lock().expect("processor lock");
        let mut touched: BTreeMap<(String, i32), i64> = BTreeMap::new();
        for input in inputs {
            let first = touched.entry((input.topic.clone(), input.partition)).or_insert(input.offset);
            *first = (*first).min(input.offset);
        }
        match self.apply(&mut inner, inputs, &touched) {
            Ok((results, produced)) => {
                for alert in &produced {
                    self.alert_metrics.count(alert);
                }
                Ok(results)
            }
            Err(e) => {
                // The copy in memory may be ahead of Redis (a write that failed) or behind it (a
                // write whose answer was lost): forget it, so the next try reads what Redis holds.
                for key in touched.keys() {
                    inner.partitions.remove(key);
                }
                Err(Unavailable { dependency: "redis", reason: format!("alert state: {e}") })
            }
        }
    }
}

fn parse(input: &Input) -> Result<EnrichedMention, Poison> {
    decode(input.payload.as_deref(), "an enriched.v1")
}
