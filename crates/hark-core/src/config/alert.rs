//! Spike detection and single-mention alert rules: the `[alert]` section.
//!
//! Two families of rules share one list:
//! - window rules (`spike`, `threshold`) aggregate a metric per brand (and optionally platform or
//!   language) over event-time windows and compare it with a learned baseline or a fixed bound;
//! - single-mention rules (`influencer`, `viral`, `keyword`) fire on one mention.
//!
//! [`AlertConfig::check`] says in words what is wrong with a rule, so a bad rule stops the
//! service at start and is refused on reload while the running rules stay.

use serde::{Deserialize, Serialize};

use crate::enriched::SentimentLabel;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AlertConfig {
    /// Address of `/metrics`, `/healthz`, `/readyz` and `POST /-/reload` when the stage runs alone.
    pub listen: String,
    pub group_id: String,
    pub batch_size: usize,
    pub batch_wait_ms: u64,
    /// Length of the event-time windows (`created_at`) that window rules aggregate over.
    pub window_secs: u64,
    /// How far behind the newest event time a mention may arrive and still count. Later ones are
    /// counted in `hark_discarded_total{stage="alert",reason="late"}`.
    pub allowed_lateness_secs: u64,
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
            group_id: "hark-alert".into(),
            batch_size: 1000,
            batch_wait_ms: 20,
            window_secs: 300,
            allowed_lateness_secs: 120,
            sample_ids: 5,
            series_idle_secs: 7 * 86_400,
            rules: Vec::new(),
        }
    }
}

/// What a rule looks at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AlertKind {
    /// A window metric far above its learned baseline.
    Spike,
    /// A window metric at or above a fixed bound (`above`).
    Threshold,
    /// One mention with a sentiment in `sentiments` (default negative) from an author with at
    /// least `min_followers`.
    Influencer,
    /// One mention whose engagement (likes + shares + comments) reached `min_engagement`.
    Viral,
    /// Mentions containing a word or phrase of `keywords`.
    Keyword,
}

impl AlertKind {
    pub fn is_window(self) -> bool {
        matches!(self, AlertKind::Spike | AlertKind::Threshold)
    }
}

/// The window metrics. Spam mentions count only in `spam_share`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AlertMetric {
    /// Mentions per window.
    Volume,
    /// Share of mentions with negative sentiment.
    NegativeShare,
    /// Mentions with intent `complaint` per window.
    Complaints,
    /// Share of mentions flagged spam.
    SpamShare,
    /// Sum of the authors' followers per window.
    Reach,
}

impl AlertMetric {
    pub fn as_str(self) -> &'static str {
        match self {
            AlertMetric::Volume => "volume",
            AlertMetric::NegativeShare => "negative_share",
            AlertMetric::Complaints => "complaints",
            AlertMetric::SpamShare => "spam_share",
            AlertMetric::Reach => "reach",
        }
    }

    pub fn is_share(self) -> bool {
        matches!(self, AlertMetric::NegativeShare | AlertMetric::SpamShare)
    }
}

/// A dimension a window rule keeps apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AlertDimension {
    Brand,
    Platform,
    Lang,
}

impl AlertDimension {
    pub fn as_str(self) -> &'static str {
        match self {
            AlertDimension::Brand => "brand",
            AlertDimension::Platform => "platform",
            AlertDimension::Lang => "lang",
        }
    }
}

/// One alert rule. Which fields apply depends on `kind`; [`AlertConfig::check`] refuses a field
/// that does not apply, so a misplaced option is not silently ignored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlertRule {
    /// Letters, digits, `-`, `_` or `.`; part of every alert's fingerprint.
    pub name: String,
    pub kind: AlertKind,
    /// Window rules: what is measured.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metric: Option<AlertMetric>,
    /// Window rules: the series kept apart; `brand` is always among them.
    #[serde(default = "default_by")]
    pub by: Vec<AlertDimension>,
    /// Only these brands (case-insensitive); empty: every brand.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub brands: Vec<String>,
    /// Window rules: a window with fewer counted mentions never fires, and (for shares) does not
    /// teach the baseline.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_volume: Option<u64>,
    /// Spike: robust z-score from which a window is anomalous.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub z: Option<f64>,
    /// Spike: the observed value must also be at least this multiple of the expected one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_ratio: Option<f64>,
    /// Threshold: the bound (a count, a share between 0 and 1, or followers).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub above: Option<f64>,
    /// Window rules: consecutive anomalous windows before the alert fires.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub for_windows: Option<u32>,
    /// Window rules: consecutive normal windows before a firing alert resolves.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resolve_after: Option<u32>,
    /// Spike: windows of history before the rule may fire (the baseline's warm-up).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub warmup_windows: Option<u32>,
    /// Influencer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_followers: Option<u64>,
    /// Influencer and keyword: only mentions with these sentiments (influencer default: negative).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sentiments: Vec<String>,
    /// Viral.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_engagement: Option<u64>,
    /// Keyword: words or phrases (case-insensitive, whole words).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub keywords: Vec<String>,
    /// Single-mention rules: event time after the last matching mention at which the alert resolves.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hold_secs: Option<u64>,
    /// Copied into every alert's labels (e.g. `severity = "critical"`).
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub labels: std::collections::BTreeMap<String, String>,
    /// Copied into every alert's annotations (e.g. `runbook_url`).
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub annotations: std::collections::BTreeMap<String, String>,
}

fn default_by() -> Vec<AlertDimension> {
    vec![AlertDimension::Brand]
}

/// Defaults of the optional rule fields, chosen from `hark alert-eval` (see the README).
pub mod defaults {
    pub const MIN_VOLUME: u64 = 10;
    pub const Z: f64 = 3.0;
    pub const MIN_RATIO: f64 = 1.5;
    pub const FOR_WINDOWS: u32 = 2;
    pub const RESOLVE_AFTER: u32 = 3;
    pub const WARMUP_WINDOWS: u32 = 288;
    pub const HOLD_SECS: u64 = 3600;
    pub const MIN_FOLLOWERS: u64 = 100_000;
}

impl AlertRule {
    pub fn min_volume(&self) -> u64 {
        self.min_volume.unwrap_or(defaults::MIN_VOLUME)
    }
    pub fn z(&self) -> f64 {
        self.z.unwrap_or(defaults::Z)
    }
    pub fn min_ratio(&self) -> f64 {
        self.min_ratio.unwrap_or(defaults::MIN_RATIO)
    }
    pub fn for_windows(&self) -> u32 {
        self.for_windows.unwrap_or(defaults::FOR_WINDOWS)
    }
    pub fn resolve_after(&self) -> u32 {
        self.resolve_after.unwrap_or(defaults::RESOLVE_AFTER)
    }
    pub fn warmup_windows(&self) -> u32 {
        self.warmup_windows.unwrap_or(defaults::WARMUP_WINDOWS)
    }
    pub fn hold_secs(&self) -> u64 {
        self.hold_secs.unwrap_or(defaults::HOLD_SECS)
    }
    pub fn min_followers(&self) -> u64 {
        self.min_followers.unwrap_or(defaults::MIN_FOLLOWERS)
    }

    /// What is wrong with the rule, in words for the operator.
    fn check(&self, alert: &AlertConfig) -> Result<(), String> {
        let name = &self.name;
        let fail = |msg: String| Err(format!("alert rule `{name}`: {msg}"));
        let kind = format!("{:?}", self.kind).to_lowercase();
        let not_for = |field: &str| format!("`{field}` does not apply to a {kind} rule");
        let window = self.kind.is_window();
        if window && self.metric.is_none() {
            return fail(format!("a {kind} rule needs a `metric` (volume, negative_share, complaints, spam_share, reach)"));
        }
        if !window {
            for (field, set) in [
                ("metric", self.metric.is_some()),
                ("min_volume", self.min_volume.is_some()),
                ("for_windows", self.for_windows.is_some()),
                ("resolve_after", self.resolve_after.is_some()),
                ("by", self.by != default_by()),
            ] {
                if set {
                    return fail(not_for(field));
                }
            }
        } else if self.hold_secs.is_some() {
            return fail(not_for("hold_secs"));
        }
        if self.kind != AlertKind::Spike {
            for (field, set) in
                [("z", self.z.is_some()), ("min_ratio", self.min_ratio.is_some()), ("warmup_windows", self.warmup_windows.is_some())]
            {
                if set {
                    return fail(not_for(field));
                }
            }
        }
        for (field, set, kinds) in [
            ("above", self.above.is_some(), &[AlertKind::Threshold][..]),
            ("min_followers", self.min_followers.is_some(), &[AlertKind::Influencer][..]),
            ("min_engagement", self.min_engagement.is_some(), &[AlertKind::Viral][..]),
            ("keywords", !self.keywords.is_empty(), &[AlertKind::Keyword][..]),
            ("sentiments", !self.sentiments.is_empty(), &[AlertKind::Influencer, AlertKind::Keyword][..]),
        ] {
            if set && !kinds.contains(&self.kind) {
                return fail(not_for(field));
            }
        }
        match self.kind {
            AlertKind::Threshold if self.above.is_none() => return fail("a threshold rule needs `above`".into()),
            AlertKind::Viral if self.min_engagement.is_none() => return fail("a viral rule needs `min_engagement`".into()),
            AlertKind::Keyword if self.keywords.iter().all(|k| k.trim().is_empty()) => {
                return fail("a keyword rule needs at least one non-empty entry in `keywords`".into())
            }
            _ => {}
        }
        if let (Some(above), Some(metric)) = (self.above, self.metric) {
            if !above.is_finite() || above < 0.0 || (metric.is_share() && above > 1.0) {
                return fail(format!("`above` must be a number from 0{}, not {above}", if metric.is_share() { " to 1 for a share" } else { "" }));
            }
        }
        if let Some(z) = self.z {
            if !(z.is_finite() && z > 0.0) {
                return fail(format!("`z` must be a positive number, not {z}"));
            }
        }
        if let Some(ratio) = self.min_ratio {
            if !(ratio.is_finite() && ratio >= 1.0) {
                return fail(format!("`min_ratio` must be at least 1, not {ratio}"));
            }
        }
        if self.for_windows == Some(0) || self.resolve_after == Some(0) {
            return fail("`for_windows` and `resolve_after` must be at least 1".into());
        }
        if !self.by.contains(&AlertDimension::Brand) {
            return fail("`by` must include \"brand\"".into());
        }
        let mut dims = self.by.clone();
        dims.sort();
        dims.dedup();
        if dims.len() != self.by.len() {
            return fail("`by` names a dimension twice".into());
        }
        for label in &self.sentiments {
            if !SentimentLabel::ALL.iter().any(|l| l.as_str() == label.to_ascii_lowercase()) {
                return fail(format!("unknown sentiment `{label}`"));
            }
        }
        if !self.kind.is_window() && self.hold_secs() < alert.allowed_lateness_secs {
            // A shorter hold would resolve an alert while mentions it should absorb may still
            // arrive, and each of them would open a new one.
            return fail(format!(
                "`hold_secs` ({}) must be at least alert.allowed_lateness_secs ({})",
                self.hold_secs(),
                alert.allowed_lateness_secs
            ));
        }
        for key in self.labels.keys() {
            if matches!(key.as_str(), "alertname" | "rule" | "brand" | "platform" | "lang" | "metric" | "mention" | "keyword") {
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
            if !super::valid_name(&rule.name) {
                return Err(format!("alert rule name `{}` must be letters, digits, `-`, `_` or `.`", rule.name));
            }
            if !names.insert(rule.name.as_str()) {
                return Err(format!("alert rule `{}` is declared twice", rule.name));
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
            labels = { severity = "critical" }
            "#,
        )
        .unwrap();
        assert_eq!(config.rules.len(), 5);
        assert_eq!(config.rules[0].z(), defaults::Z);
        assert_eq!(config.rules[2].sentiments, Vec::<String>::new());
    }

    #[test]
    fn invalid_rules_say_what_is_wrong() {
        let cases = [
            ("name = \"a\"\nkind = \"spike\"", "needs a `metric`"),
            ("name = \"a\"\nkind = \"threshold\"\nmetric = \"volume\"", "needs `above`"),
            ("name = \"a\"\nkind = \"threshold\"\nmetric = \"negative_share\"\nabove = 3", "0 to 1 for a share"),
            ("name = \"a\"\nkind = \"viral\"\nmin_engagement = 5\nmetric = \"volume\"", "`metric` does not apply to a viral rule"),
            ("name = \"a\"\nkind = \"spike\"\nmetric = \"volume\"\nz = -1", "`z` must be a positive number"),
            ("name = \"a\"\nkind = \"spike\"\nmetric = \"volume\"\nby = [\"platform\"]", "must include \"brand\""),
            ("name = \"a\"\nkind = \"keyword\"\nkeywords = [\" \"]", "at least one non-empty"),
            ("name = \"a\"\nkind = \"influencer\"\nsentiments = [\"angry\"]", "unknown sentiment `angry`"),
            ("name = \"a b\"\nkind = \"viral\"\nmin_engagement = 5", "must be letters"),
            ("name = \"a\"\nkind = \"viral\"\nmin_engagement = 5\nhold_secs = 10", "must be at least alert.allowed_lateness_secs"),
            ("name = \"a\"\nkind = \"spike\"\nmetric = \"volume\"\nfor_windows = 0", "at least 1"),
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
