//! The loop every consuming stage runs: take a batch from the input topic, process it, produce
//! the outputs, and only then commit the batch's offsets.
//!
//! **Delivery guarantee: at least once.** A batch's offsets are committed only after the broker
//! acknowledged every message produced from it, so a crash at any point (SIGKILL included) makes
//! the group re-read the uncommitted batch: nothing is lost, and a redelivered mention carries the
//! same `hark-mention-id` header so consumers can drop the copy.
//!
//! **Exactly once** (`kafka.exactly_once = true`): each batch's outputs and offsets go into one
//! Kafka transaction (`send_offsets_to_transaction`), for brokers that isolate aborted
//! transactions (Apache Kafka, Redpanda); consumers then read with `isolation.level=read_committed`.
//!
//! A message the processor cannot read (a poison message) goes to the dead-letter topic with the
//! reason and its origin in headers, and its offset is committed like any other, so one bad record
//! never stalls a partition.
//!
//! A processor that cannot take a batch for a passing reason (its state store is down) says so
//! with [`Unavailable`](crate::Unavailable): the loop then holds the batch, commits nothing, reports the stage not
//! ready ([`StageLoop::readiness`]) and offers the same batch again with [`Backoff`] until the
//! processor takes it or the stage shuts down. Nothing of a waiting batch is produced.
//!
//! **Rebalances.** The consumer serves rebalances only while the loop waits for messages, so a
//! batch being processed or delivered keeps its partitions until it is committed. Every message
//! collected is processed and delivered, and offsets are committed only for the partitions the
//! instance holds at commit time ([`held_only`]): a partition that went to another instance while
//! the batch was collected is read there again from the last committed offset (a redelivery, with
//! the same `hark-mention-id`). Leaving such messages out instead lost them when the partition came
//! back to this instance and its fetch went on past them.

use std::{collections::BTreeMap, sync::Arc, time::Duration};

use chrono::{DateTime, Utc};
use hark_core::{config::KafkaConfig, topics};
use hark_telemetry::{Metrics, Stage};
use rdkafka::{
    consumer::{CommitMode, Consumer, ConsumerContext, Rebalance, StreamConsumer},
    error::{KafkaError, KafkaResult},
    message::{Headers, Message},
    producer::Producer,
    statistics::Statistics,
    ClientContext, Offset, TopicPartitionList,
};
use tokio_util::sync::CancellationToken;

use crate::{
    backoff::Backoff,
    client::{base_config, send_all, Outgoing, RenewingProducer},
    processor::{Input, Output, Poison, Processor, Readiness},
};

/// The first and the longest wait between two tries of a batch or of its delivery.
const RETRY_FIRST: Duration = Duration::from_millis(100);
const RETRY_MAX: Duration = Duration::from_secs(5);

#[derive(Debug, Clone)]
pub struct StageOptions {
    pub group_id: String,
    pub input_topic: String,
    pub dlq_topic: String,
    pub batch_size: usize,
    pub batch_wait: Duration,
}

#[derive(Debug, thiserror::Error)]
pub enum StageError {
    #[error("kafka: {0}")]
    Kafka(#[from] KafkaError),
    #[error("processing task failed: {0}")]
    Task(#[from] tokio::task::JoinError),
}

/// Consumer callbacks: consumer lag into metrics, failed commits and rebalances into logs.
struct StageContext {
    metrics: Metrics,
    stage: Stage,
}

/// A topic's name and a partition number.
type TopicPartition = (String, i32);

/// The messages of the partitions in `held`; all of them when `held` is unknown.
fn held_only<'a>(batch: &'a [Input], held: Option<&[TopicPartition]>) -> Vec<&'a Input> {
    batch.iter().filter(|i| held.is_none_or(|held| held.iter().any(|(t, p)| *t == i.topic && *p == i.partition))).collect()
}

impl ClientContext for StageContext {
    fn stats(&self, statistics: Statistics) {
        for (topic, stats) in &statistics.topics {
            for (partition, p) in &stats.partitions {
                if *partition >= 0 && p.consumer_lag >= 0 {
                    self.metrics.set_consumer_lag(self.stage, topic, *partition, p.consumer_lag);
                }
            }
        }
    }
}

impl ConsumerContext for StageContext {
    fn post_rebalance(&self, _consumer: &rdkafka::consumer::BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        match rebalance {
            Rebalance::Assign(tpl) => tracing::info!(stage = self.stage.as_str(), partitions = tpl.count(), "partitions assigned"),
            Rebalance::Revoke(tpl) => tracing::info!(stage = self.stage.as_str(), partitions = tpl.count(), "partitions revoked"),
            Rebalance::Error(e) => tracing::warn!(stage = self.stage.as_str(), error = %e, "rebalance failed"),
        }
    }

    fn commit_callback(&self, result: KafkaResult<()>, _offsets: &TopicPartitionList) {
        if let Err(e) = result {
            // The batch will be read again after a restart: at least once still holds.
            tracing::warn!(stage = self.stage.as_str(), error = %e, "offset commit failed");
            self.metrics.error(self.stage, "commit");
        }
    }
}

/// A running consuming stage. Build it with [`StageLoop::new`], then [`StageLoop::run`] it.
pub struct StageLoop<P: Processor> {
    consumer: Arc<StreamConsumer<StageContext>>,
    producer: RenewingProducer,
    processor: Arc<P>,
    options: StageOptions,
    metrics: Metrics,
    exactly_once: bool,
    readiness: Readiness,
}

impl<P: Processor> StageLoop<P> {
    pub fn new(kafka: &KafkaConfig, options: StageOptions, processor: P, metrics: Metrics) -> Result<Self, StageError> {
        let stage = processor.stage();
        let mut config = base_config(kafka);
        config
            .set("group.id", &options.group_id)
            .set("enable.auto.commit", "false")
            .set("enable.auto.offset.store", "false")
            .set("auto.offset.reset", "earliest")
            .set("isolation.level", "read_committed")
            .set("session.timeout.ms", kafka.session_timeout_ms.to_string())
            .set("heartbeat.interval.ms", kafka.heartbeat_interval_ms.to_string())
            .set("statistics.interval.ms", "5000")
            // Bounds how long a fetch waits for data: a broker that holds fetches for the whole
            // wait would otherwise add up to 500 ms (the default) per stage.
            .set("fetch.wait.max.ms", "100");
        for (key, value) in &kafka.properties {
            config.set(key, value);
        }
        let context = StageContext { metrics: metrics.clone(), stage };
        let consumer: StreamConsumer<StageContext> = config.create_with_context(context)?;
        let transactional_id = kafka.exactly_once.then(|| format!("{}-{}-{:08x}", options.group_id, std::process::id(), fastrand::u32(..)));
        let producer = RenewingProducer::new(kafka, transactional_id.as_deref())?;
        Ok(StageLoop {
            consumer: Arc::new(consumer),
            producer,
            processor: Arc::new(processor),
            options,
            metrics,
            exactly_once: kafka.exactly_once,
            readiness: Readiness::default(),
        })
    }

    /// The stage's producer, for readiness checks.
    pub fn producer(&self) -> RenewingProducer {
        self.producer.clone()
    }

    /// Not ready while the stage holds a batch its processor could not take.
    pub fn readiness(&self) -> Readiness {
        self.readiness.clone()
    }

    /// Runs until `shutdown` is cancelled. A batch in flight is finished (delivered and committed)
    /// before it returns, unless its outputs cannot be delivered, in which case its offsets stay
    /// uncommitted and the batch is read again after the restart.
    pub async fn run(self, shutdown: CancellationToken) -> Result<(), StageError> {
        let stage = self.processor.stage().as_str();
        self.consumer.subscribe(&[self.options.input_topic.as_str()])?;
        if self.exactly_once {
            let producer = self.producer.current();
            tokio::task::spawn_blocking(move || producer.init_transactions(Duration::from_secs(30))).await??;
        }
        tracing::info!(stage, topic = %self.options.input_topic, group = %self.options.group_id,
            exactly_once = self.exactly_once, "stage started");
        loop {
            let batch = tokio::select! {
                _ = shutdown.cancelled() => break,
                batch = self.next_batch() => batch,
            };
            if batch.is_empty() {
                continue;
            }
            if !self.handle(batch, &shutdown).await? {
                break;
            }
        }
        tracing::info!(stage, "stage stopped");
        Ok(())
    }

    /// Waits for one message, then takes more until the batch is full or `batch_wait` has passed.
    async fn next_batch(&self) -> Vec<Input> {
        let mut batch = Vec::with_capacity(self.options.batch_size);
        let deadline = loop {
            match self.consumer.recv().await {
                Ok(message) => {
                    batch.push(copy_input(&message));
                    break tokio::time::Instant::now() + self.options.batch_wait;
                }
                Err(e) => self.consume_error(e).await,
            }
        };
        while batch.len() < self.options.batch_size {
            match tokio::time::timeout_at(deadline, self.consumer.recv()).await {
                Err(_elapsed) => break,
                Ok(Ok(message)) => batch.push(copy_input(&message)),
                Ok(Err(e)) => {
                    self.consume_error(e).await;
                    break;
                }
            }
        }
        batch
    }

    async fn consume_error(&self, e: KafkaError) {
        tracing::warn!(stage = self.processor.stage().as_str(), error = %e, "consume failed");
        self.metrics.error(self.processor.stage(), "consume");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    /// Processes, delivers and commits one batch. Returns false when shutdown interrupted
    /// processing or delivery.
    async fn handle(&self, batch: Vec<Input>, shutdown: &CancellationToken) -> Result<bool, StageError> {
        let started = std::time::Instant::now();
        let stage = self.processor.stage();
        self.metrics.received(stage, batch.len() as u64);

        let Some((batch, results)) = self.process(batch, shutdown).await? else {
            return Ok(false);
        };

        let mut records = Vec::with_capacity(results.len());
        let mut reports = Vec::with_capacity(results.len());
        for (input, result) in batch.iter().zip(results) {
            match result {
                Ok(outputs) => {
                    for output in outputs {
                        records.push(output.record);
                        reports.push(Report::Sent { label: output.label, created_at: output.created_at, ingested_at: output.ingested_at });
                    }
                }
                Err(poison) => {
                    tracing::warn!(stage = stage.as_str(), topic = %input.topic, partition = input.partition,
                        offset = input.offset, reason = %poison.reason, "dead-lettering message");
                    records.push(dead_letter(input, &poison, stage, &self.options.dlq_topic));
                    reports.push(Report::DeadLettered { error_type: poison.kind.as_str() });
                }
            }
        }
        // Only what this instance holds now: another owner's committed offset is its own.
        let held: Option<Vec<TopicPartition>> =
            self.consumer.assignment().ok().map(|a| a.elements().iter().map(|e| (e.topic().to_string(), e.partition())).collect());
        let owned = held_only(&batch, held.as_deref());
        if owned.len() < batch.len() {
            tracing::info!(
                stage = stage.as_str(),
                not_committed = batch.len() - owned.len(),
                "messages of partitions now held by another instance: their owner reads them again"
            );
        }
        let offsets = next_offsets(owned.into_iter())?;

        let delivered = if self.exactly_once {
            self.deliver_in_transaction(&records, &offsets, shutdown).await?
        } else {
            let delivered = self.deliver(&records, shutdown).await;
            if delivered {
                self.consumer.commit(&offsets, CommitMode::Async)?;
            }
            delivered
        };
        if !delivered {
            return Ok(false);
        }

        let now = Utc::now();
        for report in reports {
            match report {
                Report::Sent { label, created_at, ingested_at } => {
                    self.metrics.sent(stage, &label, 1);
                    if let Some(t) = created_at {
                        self.metrics.observe_mention_age(stage, seconds_between(t, now));
                    }
                    if let Some(t) = ingested_at {
                        self.metrics.observe_pipeline_latency(stage, seconds_between(t, now));
                    }
                }
                Report::DeadLettered { error_type } => {
                    self.metrics.dead_lettered(stage, error_type);
                    self.metrics.error(stage, error_type);
                }
            }
        }
        self.metrics.observe_duration(stage, started.elapsed().as_secs_f64());
        Ok(true)
    }

    /// Runs the processor over the batch, offering it again with backoff while the processor
    /// is [`Unavailable`](crate::Unavailable). None if shutdown came first: nothing of the batch is committed.
    async fn process(&self, mut batch: Vec<Input>, shutdown: &CancellationToken) -> Result<Option<Processed>, StageError> {
        let stage = self.processor.stage();
        let mut backoff = Backoff::new(RETRY_FIRST, RETRY_MAX);
        loop {
            let processor = self.processor.clone();
            let (returned, outcome) = tokio::task::spawn_blocking(move || {
                let outcome = processor.process_batch(&batch);
                (batch, outcome)
            })
            .await?;
            batch = returned;
            match outcome {
                Ok(results) => {
                    self.readiness.set(None);
                    return Ok(Some((batch, results)));
                }
                Err(why) => {
                    tracing::warn!(stage = stage.as_str(), error = %why, "batch waits; will retry");
                    self.metrics.error(stage, why.dependency);
                    self.readiness.set(Some(why));
                    if !backoff.wait(shutdown).await {
                        return Ok(None);
                    }
                }
            }
        }
    }

    /// Produces every record, retrying the failed ones with backoff until all are acknowledged.
    /// Returns false if shutdown came first.
    async fn deliver(&self, records: &[Outgoing], shutdown: &CancellationToken) -> bool {
        let stage = self.processor.stage();
        let mut pending: Vec<&Outgoing> = records.iter().collect();
        let mut backoff = Backoff::new(RETRY_FIRST, RETRY_MAX);
        loop {
            let results = self.producer.send_all(pending.iter().copied()).await;
            let failed: Vec<&Outgoing> = pending
                .into_iter()
                .zip(results)
                .filter_map(|(record, result)| {
                    let e = result.err()?;
                    tracing::warn!(stage = stage.as_str(), topic = %record.topic, error = %e, "produce failed; will retry");
                    self.metrics.error(stage, "produce");
                    Some(record)
                })
                .collect();
            if failed.is_empty() {
                return true;
            }
            if !backoff.wait(shutdown).await {
                return false;
            }
            pending = failed;
        }
    }

    /// Produces the records and commits the offsets in one transaction, retrying the whole
    /// transaction after an abort.
    async fn deliver_in_transaction(
        &self,
        records: &[Outgoing],
        offsets: &TopicPartitionList,
        shutdown: &CancellationToken,
    ) -> Result<bool, StageError> {
        let stage = self.processor.stage();
        let mut backoff = Backoff::new(RETRY_FIRST, RETRY_MAX);
        loop {
            let producer = self.producer.current();
            tokio::task::spawn_blocking(move || producer.begin_transaction()).await??;
            let all_sent = send_all(&self.producer.current(), records).await.iter().all(|r| r.is_ok());
            let producer = self.producer.current();
            let consumer = self.consumer.clone();
            let offsets = offsets.clone();
            let committed = tokio::task::spawn_blocking(move || -> KafkaResult<bool> {
                if all_sent {
                    // None only before the consumer has joined its group, which a batch implies.
                    let group = consumer.group_metadata().ok_or(KafkaError::NoMessageReceived)?;
                    producer.send_offsets_to_transaction(&offsets, &group, Duration::from_secs(30))?;
                    producer.commit_transaction(Duration::from_secs(30))?;
                    Ok(true)
                } else {
                    producer.abort_transaction(Duration::from_secs(30))?;
                    Ok(false)
                }
            })
            .await?;
            match committed {
                Ok(true) => return Ok(true),
                Ok(false) => tracing::warn!(stage = stage.as_str(), "produce failed; transaction aborted, will retry"),
                Err(e) => {
                    tracing::warn!(stage = stage.as_str(), error = %e, "transaction failed; will retry");
                    let producer = self.producer.current();
                    let _ = tokio::task::spawn_blocking(move || producer.abort_transaction(Duration::from_secs(30))).await;
                }
            }
            self.metrics.error(stage, "transaction");
            if !backoff.wait(shutdown).await {
                return Ok(false);
            }
        }
    }
}

/// A batch and the processor's result for each of its messages.
type Processed = (Vec<Input>, Vec<Result<Vec<Output>, Poison>>);

enum Report {
    Sent { label: String, created_at: Option<DateTime<Utc>>, ingested_at: Option<DateTime<Utc>> },
    DeadLettered { error_type: &'static str },
}

fn copy_input(message: &impl Message) -> Input {
    Input {
        topic: message.topic().to_string(),
        partition: message.partition(),
        offset: message.offset(),
        key: message.key().map(<[u8]>::to_vec),
        payload: message.payload().map(<[u8]>::to_vec),
        headers: message
            .headers()
            .map(|headers| headers.iter().filter_map(|h| Some((h.key.to_string(), String::from_utf8(h.value?.to_vec()).ok()?))).collect())
            .unwrap_or_default(),
    }
}

/// The offsets to commit for a batch: one past the last message of each partition in it.
fn next_offsets<'a>(batch: impl Iterator<Item = &'a Input>) -> KafkaResult<TopicPartitionList> {
    let mut last: BTreeMap<(&str, i32), i64> = BTreeMap::new();
    for input in batch {
        let entry = last.entry((input.topic.as_str(), input.partition)).or_insert(input.offset);
        *entry = (*entry).max(input.offset);
    }
    let mut tpl = TopicPartitionList::new();
    for ((topic, partition), offset) in last {
        tpl.add_partition_offset(topic, partition, Offset::Offset(offset + 1))?;
    }
    Ok(tpl)
}

/// The dead-letter copy of a message: its bytes and key unchanged, the reason and origin in headers.
fn dead_letter(input: &Input, poison: &Poison, stage: Stage, dlq_topic: &str) -> Outgoing {
    Outgoing {
        topic: dlq_topic.to_string(),
        key: input.key.as_ref().map(|k| String::from_utf8_lossy(k).into_owned()),
        headers: vec![
            (topics::HEADER_DLQ_REASON.into(), poison.reason.clone()),
            (topics::HEADER_DLQ_ERROR_TYPE.into(), poison.kind.as_str().into()),
            (topics::HEADER_DLQ_STAGE.into(), stage.as_str().into()),
            (topics::HEADER_SOURCE_TOPIC.into(), input.topic.clone()),
            (topics::HEADER_SOURCE_PARTITION.into(), input.partition.to_string()),
            (topics::HEADER_SOURCE_OFFSET.into(), input.offset.to_string()),
        ],
        payload: input.payload.clone().unwrap_or_default(),
    }
}

fn seconds_between(from: DateTime<Utc>, to: DateTime<Utc>) -> f64 {
    ((to - from).num_microseconds().unwrap_or(i64::MAX) as f64 / 1e6).max(0.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(partition: i32, offset: i64) -> Input {
        Input {
            topic: "raw".into(),
            partition,
            offset,
            key: Some(b"SkyNordic".to_vec()),
            payload: Some(b"{".to_vec()),
            headers: Vec::new(),
        }
    }

    #[test]
    fn commits_one_past_the_highest_offset_of_each_partition() {
        let tpl = next_offsets([input(0, 5), input(1, 9), input(0, 7), input(0, 6)].iter()).unwrap();
        let offsets: Vec<(i32, Offset)> = tpl.elements().iter().map(|e| (e.partition(), e.offset())).collect();
        assert_eq!(offsets, vec![(0, Offset::Offset(8)), (1, Offset::Offset(10))]);
    }

    #[test]
    fn offsets_are_committed_for_held_partitions_only() {
        let batch = [input(0, 1), input(1, 1), input(0, 2), input(2, 7), input(1, 2)];
        let held = [("raw".to_string(), 0), ("raw".to_string(), 2)];
        let owned: Vec<(i32, i64)> = held_only(&batch, Some(&held)).iter().map(|i| (i.partition, i.offset)).collect();
        assert_eq!(owned, [(0, 1), (0, 2), (2, 7)]);
        assert_eq!(held_only(&batch, None).len(), 5, "all of them when the assignment is unknown");
    }

    #[test]
    fn dead_letter_keeps_bytes_and_names_origin() {
        let poison = Poison::new(crate::PoisonKind::InvalidJson, "expected value at line 1");
        let out = dead_letter(&input(3, 42), &poison, Stage::Enrich, "dlq");
        assert_eq!(out.topic, "dlq");
        assert_eq!(out.payload, b"{");
        assert_eq!(out.key.as_deref(), Some("SkyNordic"));
        let header = |name: &str| out.headers.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str());
        assert_eq!(header("hark-dlq-reason"), Some("expected value at line 1"));
        assert_eq!(header("hark-source-partition"), Some("3"));
        assert_eq!(header("hark-source-offset"), Some("42"));
        assert_eq!(header("hark-dlq-stage"), Some("enrich"));
    }
}
