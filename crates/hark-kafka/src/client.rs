//! Kafka clients built from the `[kafka]` config, and the few admin calls Hark makes.
//!
//! Hark needs only `bootstrap.servers`; anything else (SASL, TLS, compression) is passed to
//! librdkafka unchanged from `kafka.properties`.

use std::{
    sync::{Arc, RwLock},
    time::Duration,
};

use hark_core::config::KafkaConfig;
use rdkafka::{
    admin::{AdminClient, AdminOptions, NewTopic, TopicReplication},
    client::DefaultClientContext,
    consumer::StreamConsumer,
    error::{KafkaError, RDKafkaErrorCode},
    message::{Header, Headers, Message, OwnedHeaders},
    producer::{FutureProducer, FutureRecord, Producer},
    util::Timeout,
    ClientConfig,
};

/// The settings every Hark client shares.
pub fn base_config(kafka: &KafkaConfig) -> ClientConfig {
    let mut config = ClientConfig::new();
    config.set("bootstrap.servers", &kafka.brokers).set("client.id", &kafka.client_id);
    for (key, value) in &kafka.properties {
        config.set(key, value);
    }
    config
}

/// An idempotent producer: librdkafka's own retries neither duplicate nor reorder messages.
/// With a `transactional_id` it can also run Kafka transactions.
pub fn producer(kafka: &KafkaConfig, transactional_id: Option<&str>) -> Result<FutureProducer, KafkaError> {
    let mut config = base_config(kafka);
    config.set("enable.idempotence", "true").set("linger.ms", "5").set("message.timeout.ms", kafka.message_timeout_ms().to_string());
    if let Some(id) = transactional_id {
        // librdkafka requires message.timeout.ms <= transaction.timeout.ms.
        config.set("transactional.id", id).set("transaction.timeout.ms", "120000");
    }
    // Properties set by the user win over Hark's defaults.
    for (key, value) in &kafka.properties {
        config.set(key, value);
    }
    config.create()
}

/// An idempotent producer that replaces itself once it cannot send any more. After a broker stall
/// past `message.timeout.ms` librdkafka asks the broker for a new producer epoch; a broker that
/// refuses (fenced, or the id unknown) leaves the producer failing every later send the same way,
/// and librdkafka's fatal errors do the same: the stage would wedge. After a failed send such a
/// producer is replaced by a fresh one (a new producer id) for the next sends. Transactional producers are not renewed:
/// their stage stops with the error instead, and a restart fences the old one.
/// The answers after which an idempotent producer's id is no good any more.
const PRODUCER_ID_LOST: [RDKafkaErrorCode; 4] = [
    RDKafkaErrorCode::ProducerFenced,
    RDKafkaErrorCode::InvalidProducerEpoch,
    RDKafkaErrorCode::UnknownProducerId,
    RDKafkaErrorCode::InvalidProducerIdMapping,
];

#[derive(Clone)]
pub struct RenewingProducer {
    kafka: Arc<KafkaConfig>,
    transactional_id: Option<String>,
    current: Arc<RwLock<FutureProducer>>,
}

impl RenewingProducer {
    pub fn new(kafka: &KafkaConfig, transactional_id: Option<&str>) -> Result<Self, KafkaError> {
        Ok(RenewingProducer {
            kafka: Arc::new(kafka.clone()),
            transactional_id: transactional_id.map(String::from),
            current: Arc::new(RwLock::new(producer(kafka, transactional_id)?)),
        })
    }

    /// The producer in use now.
    pub fn current(&self) -> FutureProducer {
        self.current.read().unwrap_or_else(|poisoned| poisoned.into_inner()).clone()
    }

    /// [`send_all`] through the current producer, which is renewed if it failed for good.
    pub async fn send_all<'a>(&self, records: impl IntoIterator<Item = &'a Outgoing>) -> Vec<Result<(), KafkaError>> {
        let producer = self.current();
        let results = send_all(&producer, records).await;
        let lost_its_id = results.iter().find_map(|r| match r {
            Err(KafkaError::MessageProduction(code)) if PRODUCER_ID_LOST.contains(code) => Some((*code, code.to_string())),
            _ => None,
        });
        if let Some((code, reason)) = producer.client().fatal_error().or(lost_its_id) {
            self.renew(&producer, code, &reason);
        }
        results
    }

    fn renew(&self, failed: &FutureProducer, code: RDKafkaErrorCode, reason: &str) {
        if self.transactional_id.is_some() {
            return;
        }
        let mut current = self.current.write().unwrap_or_else(|poisoned| poisoned.into_inner());
        // A concurrent send may have renewed it already.
        if current.client().native_ptr() != failed.client().native_ptr() {
            return;
        }
        match producer(&self.kafka, None) {
            Ok(fresh) => {
                tracing::warn!(?code, reason, "the producer cannot send any more; a new one takes its place");
                *current = fresh;
            }
            Err(e) => tracing::error!(error = %e, "the producer failed for good and a new one cannot be made"),
        }
    }
}

/// A consumer that reads from the earliest offset and commits nothing: for tools that look at
/// topics (`hark summary`, `hark bench`), not for stages.
pub fn reader(kafka: &KafkaConfig, group_id: &str) -> Result<StreamConsumer, KafkaError> {
    let mut config = base_config(kafka);
    config
        .set("group.id", group_id)
        .set("enable.auto.commit", "false")
        .set("auto.offset.reset", "earliest")
        .set("session.timeout.ms", kafka.session_timeout_ms.to_string())
        .set("heartbeat.interval.ms", kafka.heartbeat_interval_ms.to_string());
    config.create()
}

/// The value of a message header as text.
pub fn header(message: &impl Message, name: &str) -> Option<String> {
    let headers = message.headers()?;
    headers.iter().find(|h| h.key == name)?.value.map(|v| String::from_utf8_lossy(v).into_owned())
}

/// A message to produce, owned so that a failed send can be retried.
#[derive(Debug, Clone, PartialEq)]
pub struct Outgoing {
    pub topic: String,
    pub key: Option<String>,
    pub headers: Vec<(String, String)>,
    pub payload: Vec<u8>,
}

/// Sends every record and waits for the broker's acknowledgement of each; the result of each,
/// in order. Takes references, so nothing is copied for a send that succeeds.
pub async fn send_all<'a>(producer: &FutureProducer, records: impl IntoIterator<Item = &'a Outgoing>) -> Vec<Result<(), KafkaError>> {
    let sends = records.into_iter().map(|out| {
        let mut headers = OwnedHeaders::new_with_capacity(out.headers.len());
        for (key, value) in &out.headers {
            headers = headers.insert(Header { key, value: Some(value.as_bytes()) });
        }
        let mut record = FutureRecord::<str, [u8]>::to(&out.topic).payload(&out.payload).headers(headers);
        if let Some(key) = &out.key {
            record = record.key(key.as_str());
        }
        async move { producer.send(record, Timeout::Never).await.map(|_| ()).map_err(|(e, _)| e) }
    });
    futures::future::join_all(sends).await
}

/// Creates the topics that are missing. Topics that exist are left as they are.
pub async fn ensure_topics(kafka: &KafkaConfig, topics: &[String]) -> Result<(), KafkaError> {
    let admin: AdminClient<DefaultClientContext> = base_config(kafka).create()?;
    let new_topics: Vec<NewTopic> =
        topics.iter().map(|name| NewTopic::new(name, kafka.partitions, TopicReplication::Fixed(kafka.replication_factor))).collect();
    let options = AdminOptions::new().operation_timeout(Some(Duration::from_secs(10)));
    for result in admin.create_topics(&new_topics, &options).await? {
        match result {
            Ok(_) | Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
            Err((topic, code)) => {
                tracing::error!(%topic, ?code, "cannot create topic");
                return Err(KafkaError::AdminOp(code));
            }
        }
    }
    Ok(())
}

/// Readiness: the broker answers a metadata request through this producer's connection.
pub async fn broker_check(producer: RenewingProducer) -> Result<(), String> {
    let producer = producer.current();
    tokio::task::spawn_blocking(move || {
        producer.client().fetch_metadata(None, Duration::from_secs(2)).map(|_| ()).map_err(|e| format!("broker: {e}"))
    })
    .await
    .map_err(|e| e.to_string())?
}
