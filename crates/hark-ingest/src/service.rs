//! The ingest pipeline for one batch of records: validate each, drop duplicates, produce the
//! rest to the raw topic, and report what happened to every record.
//!
//! **Delivery guarantee:** a record is reported `accepted` only after the broker acknowledged it,
//! and marked as seen only then (see [`crate::dedupe`]). A record reported `failed` was not taken
//! and may be retried as it is; retrying a whole batch is safe, since accepted records then come
//! back as duplicates.

use std::time::{Duration, Instant};

use chrono::Utc;
use hark_core::{config::Shared, topics, BrandNames, IngestedBy, Mention, MentionError, Validator};
use hark_kafka::{Outgoing, RenewingProducer};
use hark_telemetry::{Metrics, Stage};
use serde::Serialize;
use serde_json::Value;

use crate::config::IngestConfig;
use crate::dedupe::{Claim, Deduper, DuplicateBy};

/// The ingest stage's shared state.
#[derive(Clone)]
pub struct Ingest {
    validator: Validator,
    deduper: Deduper,
    producer: RenewingProducer,
    raw_topic: String,
    /// The configured brands' spellings, for the raw topic's key.
    brands: BrandNames,
    metrics: Metrics,
    /// The source mark of mentions sent without a token.
    unauthenticated: IngestedBy,
}

/// What happened to a request's records.
#[derive(Debug, Default, Serialize, PartialEq)]
pub struct IngestReport {
    pub received: usize,
    pub accepted: usize,
    pub duplicates: usize,
    pub rejected: usize,
    pub failed: usize,
    /// Records not accepted beyond the ones `items` lists (`ingest.max_reported_items`).
    pub items_omitted: usize,
    /// The records that were not accepted, by their index in the request, in order.
    pub items: Vec<Item>,
}

#[derive(Debug, Serialize, PartialEq)]
pub struct Item {
    pub index: usize,
    pub status: Status,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Short machine-readable cause, e.g. `schema`, `duplicate_id`, `broker`.
    pub error_type: String,
    pub reason: String,
}

#[derive(Debug, Clone, Copy, Serialize, PartialEq)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Seen before within the dedupe window: dropped on purpose.
    Duplicate,
    /// Invalid: sending it again will not help.
    Rejected,
    /// Not taken because of a passing fault (broker, Redis, a copy in flight): retry it.
    Failed,
}

impl Ingest {
    /// `brands`: the configured brands' spellings (the raw topic's key); `unauthenticated`: the
    /// mark of mentions sent without a token.
    pub async fn new(
        config: &IngestConfig,
        shared: &Shared,
        brands: BrandNames,
        unauthenticated: IngestedBy,
        producer: RenewingProducer,
        metrics: Metrics,
    ) -> Result<Self, redis::RedisError> {
        let deduper =
            Deduper::connect(&shared.redis, Duration::from_secs(config.dedupe_window_secs), Duration::from_secs(config.claim_ttl_secs))
                .await?;
        Ok(Ingest {
            validator: config.validator(),
            deduper,
            producer,
            raw_topic: shared.topics.raw.clone(),
            brands,
            metrics,
            unauthenticated,
        })
    }

    pub fn deduper(&self) -> &Deduper {
        &self.deduper
    }

    pub fn producer(&self) -> &RenewingProducer {
        &self.producer
    }

    /// The mark of mentions sent without a token.
    pub fn unauthenticated(&self) -> IngestedBy {
        self.unauthenticated.clone()
    }

    /// Runs a batch of parsed (or unreadable) records sent without a token through validation,
    /// dedupe and the broker.
    pub async fn ingest(&self, records: Vec<Result<Value, MentionError>>) -> IngestReport {
        self.ingest_batch(0, records, self.unauthenticated.clone()).await
    }

    /// [`Ingest::ingest`] for one batch of a larger request from `source` (every accepted
    /// mention carries it), whose first record is `first_index` in the request: the report's
    /// indexes are the request's.
    pub async fn ingest_batch(&self, first_index: usize, records: Vec<Result<Value, MentionError>>, source: IngestedBy) -> IngestReport {
        let started = Instant::now();
        let now = Utc::now();
        let mut report = IngestReport { received: records.len(), ..Default::default() };
        self.metrics.received(Stage::Ingest, records.len() as u64);

        let mut valid: Vec<(usize, Mention)> = Vec::with_capacity(records.len());
        for (index, record) in (first_index..).zip(records) {
            match record.and_then(|value| self.validator.validate(value, now)) {
                Ok(mention) => valid.push((index, mention)),
                Err(e) => {
                    self.metrics.rejected(Stage::Ingest, e.kind(), 1);
                    report.push(index, Status::Rejected, None, e.kind(), e.to_string());
                }
            }
        }

        let request = format!("{:016x}", fastrand::u64(..));
        let refs: Vec<(usize, &Mention)> = valid.iter().map(|(i, m)| (*i, m)).collect();
        let claims = match self.deduper.claim(&refs, &request).await {
            Ok(claims) => claims,
            Err(e) => {
                // Without dedupe a retry could double a mention: refuse the batch, lose nothing.
                tracing::warn!(error = %e, "redis unavailable; batch refused");
                for (index, mention) in &valid {
                    self.metrics.error(Stage::Ingest, "redis");
                    report.push(*index, Status::Failed, Some(mention.stable_id()), "redis", format!("dedupe store unavailable: {e}"));
                }
                return self.finish(report, started);
            }
        };

        let ingested_at = Utc::now();
        let mut to_send = Vec::new();
        for ((index, mention), claim) in valid.iter_mut().zip(claims) {
            match claim {
                Claim::Claimed(keys) => {
                    mention.ingested_at = Some(ingested_at);
                    mention.ingested_by = Some(source.clone());
                    to_send.push((*index, mention.stable_id(), keys, raw_message(mention, &self.raw_topic, &self.brands)));
                }
                Claim::Duplicate { by, of_index } => {
                    let (error_type, what) = match by {
                        DuplicateBy::Id => ("duplicate_id", "the same platform and id"),
                        DuplicateBy::Text => ("duplicate_text", "the same text from the same author"),
                    };
                    let reason = match of_index {
                        Some(first) => format!("{what} as record {first} of this request"),
                        None => format!("{what} was already ingested within the dedupe window"),
                    };
                    self.metrics.discarded(Stage::Ingest, error_type, true, 1);
                    report.push(*index, Status::Duplicate, Some(mention.stable_id()), error_type, reason);
                }
                Claim::InFlight => {
                    self.metrics.error(Stage::Ingest, "in_flight");
                    report.push(
                        *index,
                        Status::Failed,
                        Some(mention.stable_id()),
                        "in_flight",
                        "a copy of this mention is being ingested right now; retry shortly".into(),
                    );
                }
            }
        }

        let results = self.producer.send_all(to_send.iter().map(|(_, _, _, record)| record)).await;
        let (mut acked, mut unsent) = (Vec::new(), Vec::new());
        for ((index, id, keys, _), result) in to_send.iter().zip(results) {
            match result {
                Ok(()) => acked.push(keys),
                Err(e) => {
                    self.metrics.error(Stage::Ingest, "broker");
                    report.push(*index, Status::Failed, Some(id.clone()), "broker", format!("broker did not take the mention: {e}"));
                    unsent.push(keys);
                }
            }
        }
        report.accepted = acked.len();
        self.metrics.sent(Stage::Ingest, "raw", acked.len() as u64);
        if let Err(e) = self.deduper.commit(&acked).await {
            // The mentions are on the broker; only their dedupe markers expire early.
            tracing::warn!(error = %e, "could not mark accepted mentions as seen");
            self.metrics.error(Stage::Ingest, "redis");
        }
        if let Err(e) = self.deduper.release(&unsent).await {
            tracing::warn!(error = %e, "could not release claims; they expire after claim_ttl_secs");
            self.metrics.error(Stage::Ingest, "redis");
        }
        self.finish(report, started)
    }

    /// Counts a request refused as a whole for what the client sent (`request_<why>`).
    pub fn request_rejected(&self, why: &str) {
        self.metrics.rejected(Stage::Ingest, &format!("request_{why}"), 1);
    }

    fn finish(&self, mut report: IngestReport, started: Instant) -> IngestReport {
        report.items.sort_by_key(|item| item.index);
        self.metrics.observe_duration(Stage::Ingest, started.elapsed().as_secs_f64());
        report
    }
}

impl IngestReport {
    /// Adds the report of a later batch of the same request, listing at most `max_items` items
    /// in all and counting the rest.
    pub fn absorb(&mut self, batch: IngestReport, max_items: usize) {
        self.received += batch.received;
        self.accepted += batch.accepted;
        self.duplicates += batch.duplicates;
        self.rejected += batch.rejected;
        self.failed += batch.failed;
        self.items_omitted += batch.items_omitted;
        for item in batch.items {
            if self.items.len() < max_items {
                self.items.push(item);
            } else {
                self.items_omitted += 1;
            }
        }
    }

    fn push(&mut self, index: usize, status: Status, id: Option<String>, error_type: &str, reason: String) {
        match status {
            Status::Duplicate => self.duplicates += 1,
            Status::Rejected => self.rejected += 1,
            Status::Failed => self.failed += 1,
        }
        self.items.push(Item { index, status, id, error_type: error_type.to_string(), reason });
    }
}

/// The raw-topic message of an accepted mention, keyed by its brand field in the canonical
/// spelling (the enrich stage, which also knows the brand queries' matches, keys its output the same way).
pub fn raw_message(mention: &Mention, topic: &str, brands: &BrandNames) -> Outgoing {
    let brand = mention.brand.as_deref().and_then(|b| brands.canonical(b));
    Outgoing {
        topic: topic.to_string(),
        key: Some(mention.partition_key(brand.as_deref())),
        headers: vec![
            (topics::HEADER_SCHEMA.into(), topics::SCHEMA_MENTION.into()),
            (topics::HEADER_MENTION_ID.into(), mention.stable_id()),
        ],
        payload: serde_json::to_vec(mention).expect("a mention always serialises"),
    }
}
