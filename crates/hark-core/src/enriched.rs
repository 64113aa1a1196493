//! A mention plus what the enrich stage learned about it (`enriched.v1` in `proto/`).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::Mention;

/// The message on the enriched and routed topics. The mention stays untouched under `mention`,
/// so a field a client sent can never collide with one Hark adds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EnrichedMention {
    pub mention: Mention,
    pub enrichment: Enrichment,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Enrichment {
    pub lang: Language,
    pub sentiment: Sentiment,
    pub spam: SpamScore,
    pub enriched_at: DateTime<Utc>,
    /// The versions of the models that produced this, so a consumer can tell a re-enrichment.
    pub enrichment_version: String,
    /// Fields later versions add (they are optional in `enriched.v1`).
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// ISO 639-1 code, or `und` when no language can be told.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Language {
    pub code: String,
    pub confidence: f64,
}

impl Language {
    pub fn undetermined() -> Self {
        Language { code: "und".into(), confidence: 0.0 }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SentimentLabel {
    Negative,
    Neutral,
    Positive,
}

impl SentimentLabel {
    pub fn as_str(self) -> &'static str {
        match self {
            SentimentLabel::Negative => "negative",
            SentimentLabel::Neutral => "neutral",
            SentimentLabel::Positive => "positive",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Sentiment {
    pub label: SentimentLabel,
    /// -1 (most negative) to 1 (most positive).
    pub score: f64,
    pub confidence: f64,
    /// Name and version of the model that produced it.
    pub model: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SpamScore {
    /// 0 (surely not spam) to 1 (surely spam).
    pub score: f64,
    pub is_spam: bool,
    /// What raised the score, in words a moderator can read ("3 links").
    pub reasons: Vec<String>,
}
