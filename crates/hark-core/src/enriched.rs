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
    // The four fields below came after the first release: messages written before them read
    // with defaults (`other`, not offensive, nano, no brands).
    #[serde(default)]
    pub intent: Intent,
    pub spam: SpamScore,
    #[serde(default)]
    pub offensive: Offensive,
    #[serde(default)]
    pub influence: Influence,
    /// The configured brands whose queries matched the mention, and how.
    #[serde(default)]
    pub brands: Vec<BrandMatch>,
    /// The one brand the mention is counted under ([`crate::brand`]): its `brand` field, else
    /// the first brand query it matched, in the canonical spelling. None for no brand.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub brand: Option<String>,
    pub enriched_at: DateTime<Utc>,
    /// The versions of the models that produced this, so a consumer can tell a re-enrichment.
    pub enrichment_version: String,
    /// Fields later versions add (they are optional in `enriched.v1`).
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl EnrichedMention {
    /// The brand the mention counts under; for a message enriched before `enrichment.brand`
    /// existed, its `brand` field in lowercase.
    pub fn canonical_brand(&self) -> Option<String> {
        self.enrichment.brand.clone().or_else(|| self.mention.brand.as_deref().and_then(crate::brand::normalise))
    }
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

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, strum::IntoStaticStr, strum::EnumString, strum::VariantArray)]
#[serde(rename_all = "lowercase")]
#[strum(serialize_all = "lowercase")]
pub enum SentimentLabel {
    Negative,
    Neutral,
    Positive,
}

impl SentimentLabel {
    pub fn as_str(self) -> &'static str {
        self.into()
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

/// What the author wants: the label a community manager acts on.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    strum::IntoStaticStr,
    strum::EnumString,
    strum::VariantArray,
)]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum IntentLabel {
    Complaint,
    Question,
    Praise,
    Feedback,
    PurchaseIntent,
    Other,
}

impl IntentLabel {
    pub fn as_str(self) -> &'static str {
        self.into()
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Intent {
    pub label: IntentLabel,
    pub confidence: f64,
}

impl Default for Intent {
    fn default() -> Self {
        Intent { label: IntentLabel::Other, confidence: 0.0 }
    }
}

/// Abuse aimed at people. Kept apart from negative sentiment: a harsh but civil complaint is
/// neither offensive nor spam.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Offensive {
    /// 0 (civil) to 1 (surely abusive).
    pub score: f64,
    pub is_offensive: bool,
    /// What raised the score ("insult 'idiot' aimed at a person").
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub reasons: Vec<String>,
}

/// Size of the author's audience, in the tiers influencer marketing uses.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    strum::IntoStaticStr,
    strum::EnumString,
    strum::VariantArray,
)]
#[serde(rename_all = "lowercase")]
#[strum(serialize_all = "lowercase")]
pub enum InfluenceTier {
    Nano,
    Micro,
    Macro,
    Mega,
}

impl InfluenceTier {
    pub fn as_str(self) -> &'static str {
        self.into()
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Influence {
    pub tier: InfluenceTier,
    pub followers: u64,
}

impl Default for Influence {
    fn default() -> Self {
        Influence { tier: InfluenceTier::Nano, followers: 0 }
    }
}

/// How a brand query matched a mention.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BrandMatchKind {
    /// The mention's own `brand` field names the brand.
    Field,
    Keyword,
    Product,
    Hashtag,
    Handle,
    /// A word within the query's edit distance of a keyword (e.g. "skynordik").
    Misspelling,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BrandMatch {
    pub brand: String,
    #[serde(rename = "matched_by")]
    pub kind: BrandMatchKind,
    /// The text that matched, as it stands in the mention (or the brand field's value).
    pub term: String,
}
