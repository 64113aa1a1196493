//! The domain types every Hark service shares, and the contracts of the topics between them.
//!
//! - [`mention`]: what a mention is, how it is validated, and its stable identity.
//! - [`provenance`]: which source sent a mention, and whether its author metrics are believed.
//! - [`brand`]: one canonical name per brand, however users spell it.
//! - [`enriched`]: a mention plus what the enrich stage learned about it.
//! - [`alert`]: what the alerting stage produces.
//! - [`phrases`]: finding configured words and phrases in a text (routes, keyword alerts).
//! - [`topics`]: header names and message keys shared by producers and consumers.
//! - [`config`]: the settings every stage shares (broker, topics, Redis).

pub mod alert;
pub mod brand;
pub mod config;
pub mod enriched;
#[cfg(any(test, feature = "fixtures"))]
pub mod fixtures;
pub mod mention;
pub mod phrases;
pub mod provenance;
pub mod topics;

pub use alert::{Alert, AlertState};
pub use brand::BrandNames;
pub use enriched::{
    BrandMatch, BrandMatchKind, EnrichedMention, Enrichment, Influence, InfluenceTier, Intent, IntentLabel, Language, Offensive, Sentiment,
    SentimentLabel, SpamScore,
};
pub use mention::{check_not_in_future, Author, Mention, MentionError, Validator};
pub use provenance::IngestedBy;
