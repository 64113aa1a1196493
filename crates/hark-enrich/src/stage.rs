//! The enrich stage's processor: raw-topic messages in, `enriched.v1` messages out. A message that
//! is not a readable mention is poison and goes to the dead-letter topic (see `hark_kafka::stage`
//! for the delivery guarantee). So is a mention dated further ahead of the stage's clock than
//! `ingest.max_future_skew_secs`: ingest refuses those, but anyone can write to the raw topic,
//! and one far-future event time would close every alert window of its brand at once.
//!
//! Every label depends on the mention alone, but for the spam repeat count ("the same text from N
//! authors"), which the stage takes from Redis ([`RepeatStore`]): the same for a mention whichever
//! instance enriches it, and the same again when it is redelivered. Without Redis the batch is
//! held ([`Unavailable`]) until it answers.

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use hark_core::{check_not_in_future, topics, EnrichedMention, Enrichment, Mention};
use hark_kafka::{decode, Input, Outgoing, Output, Poison, PoisonKind, Processor, Unavailable};
use hark_telemetry::{Metrics, Stage};
use prometheus::{Counter, IntCounter};

use crate::{repeat_store::RepeatStore, spam::Repeats, Enricher};

pub struct EnrichProcessor {
    enricher: Arc<Enricher>,
    output_topic: String,
    max_future_skew: Duration,
    /// The shared repeat count; `None` counts within this process (tests, the signal turned off).
    repeats: Option<Arc<RepeatStore>>,
    encoder_metrics: Option<EncoderMetrics>,
}

/// The encoder tier's own metrics: its share of the stage's mentions
/// (`hark_encoder_mentions_total` / `hark_received_total{stage="enrich"}`) and its speed
/// (mentions per second of `hark_encoder_seconds_total`); its failures are the stage's errors.
struct EncoderMetrics {
    metrics: Metrics,
    mentions: IntCounter,
    seconds: Counter,
}

impl EnrichProcessor {
    /// `max_future_skew`: how far ahead of now a mention may be dated (`ingest.max_future_skew_secs`).
    pub fn new(enricher: Arc<Enricher>, output_topic: &str, max_future_skew: Duration) -> Self {
        EnrichProcessor { enricher, output_topic: output_topic.to_string(), max_future_skew, repeats: None, encoder_metrics: None }
    }

    /// Reports the encoder tier, when there is one, in `metrics`' registry.
    pub fn with_metrics(mut self, metrics: &Metrics) -> Self {
        if !self.enricher.has_encoder() {
            return self;
        }
        let mentions = metrics
            .register_own(IntCounter::new("hark_encoder_mentions_total", "Mentions the encoder tier labelled.").expect("valid metric"));
        let seconds = metrics.register_own(
            Counter::new("hark_encoder_seconds_total", "Wall-clock seconds the encoder tier spent embedding.").expect("valid metric"),
        );
        self.encoder_metrics = Some(EncoderMetrics { metrics: metrics.clone(), mentions, seconds });
        self
    }

    fn report_encoder(&self) {
        let (Some(m), Some(usage)) = (&self.encoder_metrics, self.enricher.take_encoder_usage()) else { return };
        m.mentions.inc_by(usage.mentions);
        m.seconds.inc_by(usage.seconds);
        for _ in 0..usage.failed_batches {
            m.metrics.error(Stage::Enrich, "encoder");
        }
    }

    /// Takes the spam repeat count from `store`, shared with every other instance.
    pub fn with_shared_repeats(mut self, store: Arc<RepeatStore>) -> Self {
        self.repeats = Some(store);
        self
    }

    /// Each mention's repeat count: from the shared store for those the signal looks at.
    fn repeats(&self, mentions: &[Mention]) -> Result<Vec<Repeats>, Unavailable> {
        let Some(store) = &self.repeats else { return Ok(vec![Repeats::Tracked; mentions.len()]) };
        let counted: Vec<usize> = (0..mentions.len()).filter(|&i| self.enricher.counts_repeats(&mentions[i])).collect();
        let counts = store
            .count(&counted.iter().map(|&i| &mentions[i]).collect::<Vec<_>>())
            .map_err(|e| Unavailable { dependency: "redis", reason: format!("spam repeat count: {e}") })?;
        // Mentions the signal does not look at get no repeat evidence either way.
        let mut repeats = vec![Repeats::Counted(0); mentions.len()];
        for (i, n) in counted.into_iter().zip(counts) {
            repeats[i] = Repeats::Counted(n);
        }
        Ok(repeats)
    }

    /// The `enriched.v1` message for a mention and its enrichment.
    /// `source`: the raw partition the mention came from, so the alert stage can keep event time
    /// per source (see `hark_alert::engine`).
    fn output(&self, mention: Mention, enrichment: Enrichment, source: i32) -> Output {
        let headers = vec![
            (topics::HEADER_SOURCE_PARTITION.into(), source.to_string()),
            (topics::HEADER_SCHEMA.into(), topics::SCHEMA_ENRICHED.into()),
            (topics::HEADER_MENTION_ID.into(), mention.stable_id()),
            (topics::HEADER_ENRICHMENT_VERSION.into(), enrichment.enrichment_version.clone()),
        ];
        let (created_at, ingested_at) = (Some(mention.created_at), mention.ingested_at);
        let key = Some(mention.partition_key(enrichment.brand.as_deref()));
        let enriched = EnrichedMention { mention, enrichment };
        let payload = serde_json::to_vec(&enriched).expect("an enriched mention always serialises");
        Output {
            record: Outgoing { topic: self.output_topic.clone(), key, headers, payload },
            label: "enriched".into(),
            created_at,
            ingested_at,
        }
    }
}

impl EnrichProcessor {
    fn check_time(&self, mention: Mention, now: DateTime<Utc>) -> Result<Mention, Poison> {
        match check_not_in_future(mention.created_at, now, self.max_future_skew) {
            Ok(()) => Ok(mention),
            Err(e) => Err(Poison::new(PoisonKind::FutureTimestamp, e.to_string())),
        }
    }
}

impl Processor for EnrichProcessor {
    fn stage(&self) -> Stage {
        Stage::Enrich
    }

    fn process_batch(&self, inputs: &[Input]) -> Result<Vec<Result<Vec<Output>, Poison>>, Unavailable> {
        // Parse everything first, so the enricher sees the readable mentions as one batch.
        let now = Utc::now();
        let mut mentions = Vec::with_capacity(inputs.len());
        let mut sources = Vec::with_capacity(inputs.len());
        let poison: Vec<Option<Poison>> = inputs
            .iter()
            .map(|input| match parse_mention(input.payload.as_deref()).and_then(|m| self.check_time(m, now)) {
                Ok(mention) => {
                    mentions.push(mention);
                    sources.push(input.partition);
                    None
                }
                Err(poison) => Some(poison),
            })
            .collect();
        let repeats = self.repeats(&mentions)?;
        let enrichments = self.enricher.enrich_batch_with(&mentions, &repeats);
        self.report_encoder();
        let mut outputs = mentions.into_iter().zip(enrichments).zip(sources).map(|((m, e), source)| self.output(m, e, source));
        Ok(poison
            .into_iter()
            .map(|poison| match poison {
                Some(poison) => Err(poison),
                None => Ok(vec![outputs.next().expect("one output per readable input")]),
            })
            .collect())
    }
}

/// A mention from a message value, or the reason it is poison.
pub fn parse_mention(payload: Option<&[u8]>) -> Result<Mention, Poison> {
    decode(payload, "a mention.v1")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(payload: &[u8]) -> Input {
        Input { topic: "raw".into(), partition: 0, offset: 7, key: None, payload: Some(payload.to_vec()), headers: Vec::new() }
    }

    #[test]
    fn good_and_poison_messages_side_by_side() {
        let processor = EnrichProcessor::new(Arc::new(Enricher::new(&Default::default()).unwrap()), "enriched", Duration::minutes(5));
        let good = br#"{"id":"1","platform":"twitter","text":"Servizio pessimo, volo cancellato","created_at":"2026-11-20T10:00:00Z","author":{"id":"a"},"brand":"SkyNordic","label":"kept"}"#;
        let results = processor.process_batch(&[input(good), input(b"{not json"), input(b"\xff\xfe"), input(br#"{"id":"2"}"#)]).unwrap();
        let out = results[0].as_ref().unwrap();
        // Keyed by the canonical brand: lowercase, as no brand query is configured here.
        assert_eq!(out[0].record.key.as_deref(), Some("skynordic"));
        let enriched: serde_json::Value = serde_json::from_slice(&out[0].record.payload).unwrap();
        assert_eq!(enriched["enrichment"]["lang"]["code"], "it");
        assert_eq!(enriched["enrichment"]["sentiment"]["label"], "negative");
        assert_eq!(enriched["mention"]["label"], "kept");
        assert_eq!(results[1].as_ref().unwrap_err().kind, PoisonKind::InvalidJson);
        assert_eq!(results[2].as_ref().unwrap_err().kind, PoisonKind::InvalidUtf8);
        assert_eq!(results[3].as_ref().unwrap_err().kind, PoisonKind::Schema);
    }

    #[test]
    fn a_mention_dated_past_the_allowed_skew_is_poison() {
        let processor = EnrichProcessor::new(Arc::new(Enricher::new(&Default::default()).unwrap()), "enriched", Duration::minutes(5));
        let at = |t: DateTime<Utc>| {
            format!(r#"{{"id":"1","platform":"twitter","text":"late again","created_at":"{}","author":{{"id":"a"}}}}"#, t.to_rfc3339())
        };
        let now = Utc::now();
        let results = processor
            .process_batch(&[input(at(now + Duration::minutes(3)).as_bytes()), input(at(now + Duration::days(400)).as_bytes())])
            .unwrap();
        assert!(results[0].is_ok(), "within the skew");
        let poison = results[1].as_ref().unwrap_err();
        assert_eq!(poison.kind, PoisonKind::FutureTimestamp);
        assert!(poison.reason.contains("in the future"), "{}", poison.reason);
    }
}
