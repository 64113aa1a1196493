//! Spike detection and single-mention alert rules: the `[alert]` section.
//!
//! Two families of rules share one list, told apart by `kind`:
//! - window rules (`spike`, `threshold`) aggregate a metric per brand (and optionally platform or
//!   language) over event-time windows and compare it with a learned baseline or a fixed bound;
//! - mention rules (`influencer`, `viral`, `keyword`) look at single mentions.
//!
//! Each kind is its own struct and refuses fields it does not know, so a misplaced option (a `z`
//! on a keyword rule) is an error at load. [`AlertConfig::check`] says in words what else is wrong,
//! so a bad rule stops the service at start and is refused on reload while the running rules stay.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::enriched::{IntentLabel, SentimentLabel};
use crate::phrases::PhraseMatch;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AlertConfig {
    /// Address of `/metrics`, `/healthz` and `/readyz` when the stage runs alone.
    pub listen: String,
    /// Address of `POST /-/reload` (and the probes) when the stage runs alone.
    pub admin_listen: String,
    pub group_id: String,
    pub batch_size: usize,
    pub batch_wait_ms: u64,
    /// Length of the event-time windows (`created_at`) that window rules aggregate over.
    pub window_secs: u64,
    /// How far behind the newest event time a mention may arrive and still count. Later ones are
    /// counted in `hark_discarded_total{stage="alert",reason="late"}`.
    pub allowed_lateness_secs: u64,
    /// How far ahead of the stage's clock a mention's `created_at` may be. Later ones are
    /// dead-lettered (`future_timestamp`), and the watermark never runs ahead of the clock by more,
    /// so one bad clock cannot close every brand's windows early.
    pub max_future_skew_secs: u64,
    /// Mention ids kept as examples in each alert.
    pub sample_ids: usize,
    /// A series (rule × labels) without a mention for this long is forgotten, unless it is firing.
    pub series_idle_secs: u64,
    pub rules: Vec<AlertRule>,
}

impl Default for AlertConfig {
    fn default() -> Self {
        AlertConfig {
            listen: "127.0.0.1:8083".into(),
            admin_listen: "127.0.0.1:8093".into(),
            group_id: "hark-alert".into(),
            batch_size: 1000,
            batch_wait_ms: 20,
            window_secs: 300,
            allowed_lateness_secs: 120,
            max_future_skew_secs: 300,
            sample_ids: 5,
            series_idle_secs: 7 * 86_400,
            rules: Vec::new(),
        }
    }
}

/// One alert rule; `kind` picks the variant.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum AlertRule {
    /// A window metric far above what the series' learned baseline expects.
    Spike(SpikeRule),
    /// A window metric at or above a fixed bound.
    Threshold(ThresholdRule),
    /// One mention from an author with many followers that is negative or a complaint.
    Influencer(InfluencerRule),
    /// One mention whose engagement (likes + shares + comments) reached a bound.
    Viral(ViralRule),
    /// Watch-listed words in several mentions of a brand within a span of event time.
    Keyword(KeywordRule),
}

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

type Labels = BTreeMap<String, String>;

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
    pub const Z: f64 = 4.5;
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

/// `$body` with `$r` bound to the rule's own struct, whatever its kind: for the fields every kind has.
macro_rules! each_kind {
    ($rule:expr, $r:ident => $body:expr) => {
        match $rule {
            AlertRule::Spike($r) => $body,
            AlertRule::Threshold($r) => $body,
            AlertRule::Influencer($r) => $body,
            AlertRule::Viral($r) => $body,
            AlertRule::Keyword($r) => $body,
        }
    };
}

impl AlertRule {
    pub fn name(&self) -> &str {
        each_kind!(self, r => &r.name)
    }

    pub fn brands(&self) -> &[String] {
        each_kind!(self, r => &r.brands)
    }

    pub fn labels(&self) -> &Labels {
        each_kind!(self, r => &r.labels)
    }

    pub fn annotations(&self) -> &Labels {
        each_kind!(self, r => &r.annotations)
    }

    /// Window rules: what they measure.
    pub fn metric(&self) -> Option<AlertMetric> {
        match self {
            AlertRule::Spike(r) => Some(r.metric),
            AlertRule::Threshold(r) => Some(r.metric),
            _ => None,
        }
    }

    /// The series a rule keeps apart; mention rules keep brands apart only.
    pub fn by(&self) -> &[AlertDimension] {
        match self {
            AlertRule::Spike(r) => &r.by,
            AlertRule::Threshold(r) => &r.by,
            _ => &[AlertDimension::Brand],
        }
    }

    /// The kind's name as written in the config.
    pub fn kind_name(&self) -> &'static str {
        match self {
            AlertRule::Spike(_) => "spike",
            AlertRule::Threshold(_) => "threshold",
            AlertRule::Influencer(_) => "influencer",
            AlertRule::Viral(_) => "viral",
            AlertRule::Keyword(_) => "keyword",
        }
    }

    /// What is wrong with the rule, in words for the operator.
    fn check(&self, alert: &AlertConfig) -> Result<(), String> {
        let fail = |msg: String| Err(format!("alert rule `{}`: {msg}", self.name()));
        let check_by = |by: &[AlertDimension]| -> Result<(), String> {
            if !by.contains(&AlertDimension::Brand) {
                return fail("`by` must include \"brand\"".into());
            }
            let mut dims = by.to_vec();
            dims.sort();
            dims.dedup();
            if dims.len() != by.len() {
                return fail("`by` names a dimension twice".into());
            }
            Ok(())
        };
        let hold = |hold_secs: u64| -> Result<(), String> {
            // A shorter hold would resolve an alert while mentions it should absorb may still
            // arrive, and each of them would open a new one.
            if hold_secs < alert.allowed_lateness_secs {
                return fail(format!(
                    "`hold_secs` ({hold_secs}) must be at least alert.allowed_lateness_secs ({})",
                    alert.allowed_lateness_secs
                ));
            }
            Ok(())
        };
        match self {
            AlertRule::Spike(r) => {
                check_by(&r.by)?;
                if !(r.z.is_finite() && r.z > 0.0) {
                    return fail(format!("`z` must be a positive number, not {}", r.z));
                }
                if let Some(ratio) = r.min_ratio.filter(|x| !(x.is_finite() && *x >= 1.0)) {
                    return fail(format!("`min_ratio` must be at least 1, not {ratio}"));
                }
                if r.for_windows == 0 || r.resolve_after == 0 {
                    return fail("`for_windows` and `resolve_after` must be at least 1".into());
                }
                if r.max_windows < r.for_windows || r.max_windows > 288 {
                    return fail(format!("`max_windows` must be from for_windows ({}) to 288, not {}", r.for_windows, r.max_windows));
                }
            }
            AlertRule::Threshold(r) => {
                check_by(&r.by)?;
                if !r.above.is_finite() || r.above < 0.0 || (r.metric.is_share() && r.above > 1.0) {
                    let range = if r.metric.is_share() { " to 1 for a share" } else { "" };
                    return fail(format!("`above` must be a number from 0{range}, not {}", r.above));
                }
                if r.for_windows == 0 || r.resolve_after == 0 {
                    return fail("`for_windows` and `resolve_after` must be at least 1".into());
                }
            }
            AlertRule::Influencer(r) => hold(r.hold_secs)?,
            AlertRule::Viral(r) => hold(r.hold_secs)?,
            AlertRule::Keyword(r) => {
                hold(r.hold_secs)?;
                if r.keywords.iter().all(|k| k.trim().is_empty()) {
                    return fail("a keyword rule needs at least one non-empty entry in `keywords`".into());
                }
                if r.min_mentions == 0 || r.within_secs == 0 {
                    return fail("`min_mentions` and `within_secs` must be at least 1".into());
                }
            }
        }
        for key in self.labels().keys() {
            if matches!(key.as_str(), "alertname" | "rule" | "brand" | "platform" | "lang" | "metric" | "mention") {
                return fail(format!("label `{key}` is set by Hark and cannot be overridden"));
            }
        }
        Ok(())
    }
}

impl AlertConfig {
    /// What is wrong with the section, in words for the operator.
    pub fn check(&self) -> Result<(), String> {
        if self.window_secs == 0 || 86_400 % self.window_secs != 0 {
            return Err(format!("alert.window_secs must divide a day (60, 300, 600, 900, 3600, …), not {}", self.window_secs));
        }
        if self.batch_size == 0 {
            return Err("alert.batch_size must be at least 1".into());
        }
        if self.allowed_lateness_secs > 86_400 {
            return Err(format!("alert.allowed_lateness_secs must be at most a day, not {}", self.allowed_lateness_secs));
        }
        let mut names = std::collections::BTreeSet::new();
        for rule in &self.rules {
            if !super::valid_name(rule.name()) {
                return Err(format!("alert rule name `{}` must be letters, digits, `-`, `_` or `.`", rule.name()));
            }
            if !names.insert(rule.name()) {
                return Err(format!("alert rule `{}` is declared twice", rule.name()));
            }
            rule.check(self)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<AlertConfig, String> {
        let config: AlertConfig = toml::from_str(text).map_err(|e| e.to_string())?;
        config.check().map(|()| config)
    }

    #[test]
    fn rules_of_every_kind_parse() {
        let config = parse(
            r#"
            [[rules]]
            name = "negative-spike"
            kind = "spike"
            metric = "negative_share"
            by = ["brand", "platform"]
            [[rules]]
            name = "complaints-over-50"
            kind = "threshold"
            metric = "complaints"
            above = 50
            [[rules]]
            name = "influencer"
            kind = "influencer"
            min_followers = 50000
            [[rules]]
            name = "viral"
            kind = "viral"
            min_engagement = 10000
            [[rules]]
            name = "crisis-words"
            kind = "keyword"
            keywords = ["recall", "lawsuit"]
            when = { sentiments = ["negative"], intents = ["complaint"] }
            labels = { severity = "critical" }
            "#,
        )
        .unwrap();
        assert_eq!(config.rules.len(), 5);
        let AlertRule::Spike(spike) = &config.rules[0] else { panic!("a spike rule") };
        assert_eq!(spike.z, defaults::Z);
        let AlertRule::Influencer(influencer) = &config.rules[2] else { panic!("an influencer rule") };
        assert!(influencer.when.matches(SentimentLabel::Neutral, IntentLabel::Complaint));
        assert!(influencer.when.matches(SentimentLabel::Negative, IntentLabel::Question));
        assert!(!influencer.when.matches(SentimentLabel::Positive, IntentLabel::Praise));
        let AlertRule::Keyword(keyword) = &config.rules[4] else { panic!("a keyword rule") };
        assert_eq!(keyword.min_mentions, defaults::KEYWORD_MIN_MENTIONS);
    }

    #[test]
    fn invalid_rules_say_what_is_wrong() {
        let cases = [
            ("name = \"a\"\nkind = \"spike\"", "missing field `metric`"),
            ("name = \"a\"\nkind = \"threshold\"\nmetric = \"volume\"", "missing field `above`"),
            ("name = \"a\"\nkind = \"threshold\"\nmetric = \"negative_share\"\nabove = 3", "0 to 1 for a share"),
            ("name = \"a\"\nkind = \"viral\"\nmin_engagement = 5\nmetric = \"volume\"", "unknown field `metric`"),
            ("name = \"a\"\nkind = \"keyword\"\nkeywords = [\"x\"]\nz = 3", "unknown field `z`"),
            ("name = \"a\"\nkind = \"spike\"\nmetric = \"volume\"\nz = -1", "`z` must be a positive number"),
            ("name = \"a\"\nkind = \"spike\"\nmetric = \"volume\"\nby = [\"platform\"]", "must include \"brand\""),
            ("name = \"a\"\nkind = \"keyword\"\nkeywords = [\" \"]", "at least one non-empty"),
            ("name = \"a\"\nkind = \"influencer\"\nwhen = { sentiments = [\"angry\"] }", "unknown variant `angry`"),
            ("name = \"a b\"\nkind = \"viral\"\nmin_engagement = 5", "must be letters"),
            ("name = \"a\"\nkind = \"viral\"\nmin_engagement = 5\nhold_secs = 10", "must be at least alert.allowed_lateness_secs"),
            ("name = \"a\"\nkind = \"spike\"\nmetric = \"volume\"\nfor_windows = 0", "at least 1"),
            ("name = \"a\"\nkind = \"spike\"\nmetric = \"volume\"\nfor_windows = 3\nmax_windows = 2", "`max_windows` must be"),
            ("name = \"a\"\nkind = \"crisis\"", "unknown variant `crisis`"),
        ];
        for (rule, expected) in cases {
            let err = parse(&format!("[[rules]]\n{rule}\n")).unwrap_err();
            assert!(err.contains(expected), "{rule}: {err}");
        }
        let typo = parse("[[rules]]\nname = \"a\"\nkind = \"spike\"\nmetric = \"volume\"\nzz = 3\n").unwrap_err();
        assert!(typo.contains("unknown field `zz`"), "{typo}");
        let twice = parse("[[rules]]\nname = \"a\"\nkind = \"viral\"\nmin_engagement = 1\n[[rules]]\nname = \"a\"\nkind = \"viral\"\nmin_engagement = 1\n");
        assert!(twice.unwrap_err().contains("declared twice"));
        assert!(parse("window_secs = 7\n").unwrap_err().contains("must divide a day"));
    }
}
