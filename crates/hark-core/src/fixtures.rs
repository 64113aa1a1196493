//! Mentions for tests, benchmarks and examples, so each names only what it varies:
//! `fixtures::mention("text").author("a", 500).brand(Some("SkyNordic")).build()`, and enriched
//! ones with the labels a test needs: `….enriched().sentiment(SentimentLabel::Negative).build()`.
//! Mentions are built through `mention.v1`'s JSON, as a client sends it. Only with the `fixtures`
//! feature (and in tests).

use serde_json::{json, Value};

use crate::{
    EnrichedMention, Enrichment, Influence, InfluenceTier, Intent, IntentLabel, Language, Mention, Offensive, Sentiment, SentimentLabel,
    SpamScore,
};

/// A mention being built; every field not set has a plain default (id `1`, platform `twitter`,
/// author `a`, 2026-11-20T10:00:00Z).
#[derive(Debug, Clone)]
pub struct MentionBuilder {
    value: Value,
}

/// A mention with `text`.
pub fn mention(text: &str) -> MentionBuilder {
    MentionBuilder {
        value: json!({"id": "1", "platform": "twitter", "text": text, "created_at": "2026-11-20T10:00:00Z", "author": {"id": "a"}}),
    }
}

impl MentionBuilder {
    pub fn id(mut self, id: &str) -> Self {
        self.value["id"] = json!(id);
        self
    }

    pub fn platform(mut self, platform: &str) -> Self {
        self.value["platform"] = json!(platform);
        self
    }

    /// The author's id and follower count.
    pub fn author(mut self, id: &str, followers: u64) -> Self {
        self.value["author"] = json!({"id": id, "followers": followers});
        self
    }

    pub fn handle(mut self, handle: &str) -> Self {
        self.value["author"]["handle"] = json!(handle);
        self
    }

    pub fn following(mut self, following: u64) -> Self {
        self.value["author"]["following"] = json!(following);
        self
    }

    pub fn brand(mut self, brand: Option<&str>) -> Self {
        self.value["brand"] = json!(brand);
        self
    }

    /// `created_at` as RFC 3339.
    pub fn at(mut self, created_at: &str) -> Self {
        self.value["created_at"] = json!(created_at);
        self
    }

    /// Likes, with no shares or comments.
    pub fn likes(mut self, likes: u64) -> Self {
        self.value["engagement"] = json!({"likes": likes, "shares": 0, "comments": 0});
        self
    }

    pub fn build(self) -> Mention {
        serde_json::from_value(self.value).expect("a fixture is a valid mention.v1")
    }

    /// The mention with labels: English, neutral, `other`, neither spam nor offensive, counted
    /// under its `brand` field, enriched when it was written.
    pub fn enriched(self) -> EnrichedBuilder {
        let mention = self.build();
        let followers = mention.author.followers.unwrap_or(0);
        let enrichment = Enrichment {
            lang: Language { code: "en".into(), confidence: 1.0 },
            sentiment: Sentiment { label: SentimentLabel::Neutral, score: 0.0, confidence: 1.0, model: "test".into() },
            intent: Intent { label: IntentLabel::Other, confidence: 1.0 },
            spam: SpamScore { score: 0.0, is_spam: false, reasons: Vec::new() },
            offensive: Offensive::default(),
            influence: Influence { tier: InfluenceTier::Nano, followers },
            brands: Vec::new(),
            brand: mention.brand.clone(),
            enriched_at: mention.created_at,
            enrichment_version: "test".into(),
            extra: Default::default(),
        };
        EnrichedBuilder { enriched: EnrichedMention { mention, enrichment } }
    }
}

/// An enriched mention being built.
#[derive(Debug, Clone)]
pub struct EnrichedBuilder {
    enriched: EnrichedMention,
}

impl EnrichedBuilder {
    pub fn lang(mut self, code: &str) -> Self {
        self.enriched.enrichment.lang.code = code.into();
        self
    }

    pub fn sentiment(mut self, label: SentimentLabel) -> Self {
        self.enriched.enrichment.sentiment.label = label;
        self
    }

    pub fn intent(mut self, label: IntentLabel) -> Self {
        self.enriched.enrichment.intent.label = label;
        self
    }

    /// The spam score; spam from 0.7, the enricher's default threshold.
    pub fn spam(mut self, score: f64) -> Self {
        self.enriched.enrichment.spam = SpamScore { score, is_spam: score >= 0.7, reasons: Vec::new() };
        self
    }

    pub fn tier(mut self, tier: InfluenceTier) -> Self {
        self.enriched.enrichment.influence.tier = tier;
        self
    }

    pub fn build(self) -> EnrichedMention {
        self.enriched
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_what_a_test_sets() {
        let m = mention("hello").id("7").author("b", 500).following(20).brand(Some("SkyNordic")).build();
        assert_eq!((m.id.as_str(), m.text.as_str(), m.author.id.as_str()), ("7", "hello", "b"));
        assert_eq!(
            (m.author.followers, m.author.extra["following"].as_u64(), m.brand.as_deref()),
            (Some(500), Some(20), Some("SkyNordic"))
        );
        assert_eq!(mention("x").build().platform, "twitter");
    }

    #[test]
    fn enriched_mentions_carry_the_mentions_brand_and_the_labels_set() {
        let m = mention("late again").brand(Some("Acme")).author("b", 50).enriched().sentiment(SentimentLabel::Negative).spam(0.9).build();
        assert_eq!((m.enrichment.brand.as_deref(), m.enrichment.influence.followers), (Some("Acme"), 50));
        assert_eq!(m.enrichment.sentiment.label, SentimentLabel::Negative);
        assert!(m.enrichment.spam.is_spam);
        assert_eq!(m.enrichment.enriched_at, m.mention.created_at);
    }
}
