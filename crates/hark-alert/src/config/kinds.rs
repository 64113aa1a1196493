//! The kinds of alert rule, each with its own fields and defaults, and what window rules measure.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use hark_core::phrases::PhraseMatch;
use hark_core::{IntentLabel, SentimentLabel};

/// The window metrics. Spam mentions count only in `spam_share`.
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
pub enum AlertMetric {
    /// Mentions per window.
    Volume,
    /// Share of mentions with negative sentiment.
    NegativeShare,
    /// Mentions with negative sentiment per window: it rises with the volume and with the share,
    /// so a wave of angry mentions shows in it before it shows in either alone.
    Negatives,
    /// Mentions with intent `complaint` per window.
    Complaints,
    /// Share of mentions with intent `complaint`: unlike the count, it does not rise with volume.
    ComplaintShare,
    /// Share of mentions flagged spam.
    SpamShare,
    /// Sum of the authors' followers per window.
    Reach,
}

impl AlertMetric {
    pub fn as_str(self) -> &'static str {
        self.into()
    }

    pub fn is_share(self) -> bool {
        matches!(self, AlertMetric::NegativeShare | AlertMetric::SpamShare | AlertMetric::ComplaintShare)
    }
}

/// A dimension a window rule keeps apart.
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
pub enum AlertDimension {
    Brand,
    Platform,
    Lang,
}

impl AlertDimension {
    pub fn as_str(self) -> &'static str {
        self.into()
    }
}

pub(crate) type Labels = BTreeMap<String, String>;

/// A window metric far above its learned baseline, judged over the last few windows at once so
/// that a thin brand's wave is seen over an hour and a big brand's within ten minutes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SpikeRule {
    /// Letters, digits, `-`, `_` or `.`; part of every alert's fingerprint.
    pub name: String,
    pub metric: AlertMetric,
    /// The series kept apart; `brand` is always among them.
    #[serde(default = "default_by")]
    pub by: Vec<AlertDimension>,
    /// Only these brands (case-insensitive); empty: every brand.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub brands: Vec<String>,
    /// Fewer counted mentions than this over the windows judged never fire.
    #[serde(default = "defaults::min_volume")]
    pub min_volume: u64,
    /// How unusual the windows must be together, in standard deviations of their noise.
    #[serde(default = "defaults::z")]
    pub z: f64,
    /// The observed value must also be at least this multiple of the expected one (default: 2
    /// for counts and reach, whose noise is large and slow; 1.5 for shares, which the
    /// enricher's label errors compress).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_ratio: Option<f64>,
    /// The fewest windows the evidence may come from: one window alone never fires with 2.
    #[serde(default = "defaults::for_windows")]
    pub for_windows: u32,
    /// The most windows judged together (12 five-minute windows: an hour).
    #[serde(default = "defaults::max_windows")]
    pub max_windows: u32,
    /// Consecutive normal windows before a firing alert resolves.
    #[serde(default = "defaults::resolve_after")]
    pub resolve_after: u32,
    /// Windows of history before the rule may fire.
    #[serde(default = "defaults::warmup_windows")]
    pub warmup_windows: u32,
    /// Copied into every alert's labels (e.g. `severity = "critical"`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: Labels,
    /// Copied into every alert's annotations (e.g. `runbook_url`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: Labels,
}

/// A window metric at or above a fixed bound.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ThresholdRule {
    pub name: String,
    pub metric: AlertMetric,
    #[serde(default = "default_by")]
    pub by: Vec<AlertDimension>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub brands: Vec<String>,
    /// The bound: a count, a share between 0 and 1, or followers.
    pub above: f64,
    /// A window with fewer counted mentions never fires.
    #[serde(default = "defaults::min_volume")]
    pub min_volume: u64,
    /// Consecutive windows at or above the bound before the alert fires.
    #[serde(default = "defaults::for_windows")]
    pub for_windows: u32,
    #[serde(default = "defaults::resolve_after")]
    pub resolve_after: u32,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: Labels,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: Labels,
}

/// Which mentions a mention rule counts: one whose sentiment is among `sentiments` *or* whose
/// intent is among `intents`; both empty: every mention. One label alone misses too much: a
/// sarcastic complaint is often not labelled negative.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MentionFilter {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sentiments: Vec<SentimentLabel>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub intents: Vec<IntentLabel>,
}

impl MentionFilter {
    pub fn matches(&self, sentiment: SentimentLabel, intent: IntentLabel) -> bool {
        (self.sentiments.is_empty() && self.intents.is_empty()) || self.sentiments.contains(&sentiment) || self.intents.contains(&intent)
    }

    fn negative_or_complaint() -> MentionFilter {
        MentionFilter { sentiments: vec![SentimentLabel::Negative], intents: vec![IntentLabel::Complaint] }
    }
}

/// One mention from an author with at least `min_followers` that the filter accepts (default:
/// negative or a complaint).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InfluencerRule {
    pub name: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub brands: Vec<String>,
    #[serde(default = "defaults::min_followers")]
    pub min_followers: u64,
    #[serde(default = "MentionFilter::negative_or_complaint")]
    pub when: MentionFilter,
    /// Event time after the mention at which the alert resolves.
    #[serde(default = "defaults::hold_secs")]
    pub hold_secs: u64,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: Labels,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: Labels,
}

/// One mention whose likes + shares + comments reached `min_engagement`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ViralRule {
    pub name: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub brands: Vec<String>,
    pub min_engagement: u64,
    #[serde(default = "defaults::hold_secs")]
    pub hold_secs: u64,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: Labels,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: Labels,
}

/// Watch-listed words: one alert per brand once `min_mentions` mentions that the filter accepts
/// contain one of `keywords` within `within_secs` of event time; it resolves `hold_secs` after the
/// last such mention. A single mention of "recall" in a question is not a crisis; five angry ones
/// in half an hour may be.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeywordRule {
    pub name: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub brands: Vec<String>,
    /// Words or phrases, case-insensitive, found as `keyword_match` says (see [`PhraseMatch`]).
    pub keywords: Vec<String>,
    #[serde(default, skip_serializing_if = "PhraseMatch::is_default")]
    pub keyword_match: PhraseMatch,
    #[serde(default = "defaults::keyword_min_mentions")]
    pub min_mentions: u32,
    #[serde(default = "defaults::keyword_within_secs")]
    pub within_secs: u64,
    #[serde(default)]
    pub when: MentionFilter,
    #[serde(default = "defaults::hold_secs")]
    pub hold_secs: u64,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: Labels,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: Labels,
}

fn default_by() -> Vec<AlertDimension> {
    vec![AlertDimension::Brand]
}

/// Defaults of the optional rule fields. The spike defaults were chosen with `hark alert-eval`
/// on tuning seeds of both stream generators (see the README).
pub mod defaults {
    pub const MIN_VOLUME: u64 = 10;
    pub const Z: f64 = 4.25;
    pub const MIN_RATIO_COUNTS: f64 = 2.0;
    pub const MIN_RATIO_SHARES: f64 = 1.5;
    pub const FOR_WINDOWS: u32 = 2;
    pub const MAX_WINDOWS: u32 = 12;
    pub const RESOLVE_AFTER: u32 = 3;
    pub const WARMUP_WINDOWS: u32 = 12;
    pub const HOLD_SECS: u64 = 3600;
    pub const MIN_FOLLOWERS: u64 = 100_000;
    pub const KEYWORD_MIN_MENTIONS: u32 = 3;
    pub const KEYWORD_WITHIN_SECS: u64 = 1800;

    pub fn min_volume() -> u64 {
        MIN_VOLUME
    }
    pub fn z() -> f64 {
        Z
    }
    pub fn for_windows() -> u32 {
        FOR_WINDOWS
    }
    pub fn max_windows() -> u32 {
        MAX_WINDOWS
    }
    pub fn resolve_after() -> u32 {
        RESOLVE_AFTER
    }
    pub fn warmup_windows() -> u32 {
        WARMUP_WINDOWS
    }
    pub fn hold_secs() -> u64 {
        HOLD_SECS
    }
    pub fn min_followers() -> u64 {
        MIN_FOLLOWERS
    }
    pub fn keyword_min_mentions() -> u32 {
        KEYWORD_MIN_MENTIONS
    }
    pub fn keyword_within_secs() -> u64 {
        KEYWORD_WITHIN_SECS
    }
}

impl SpikeRule {
    pub fn min_ratio(&self) -> f64 {
        self.min_ratio.unwrap_or(if self.metric.is_share() { defaults::MIN_RATIO_SHARES } else { defaults::MIN_RATIO_COUNTS })
    }
}
