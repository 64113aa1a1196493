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

use hark_kafka::{StageDefaults, StageSettings};
use serde::{Deserialize, Serialize};

mod kinds;
pub use kinds::*;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AlertConfig {
    /// `listen`, `group_id`, `batch_size`, `batch_wait_ms`: reading the enriched topic.
    #[serde(flatten)]
    pub stage: StageSettings<AlertStage>,
    /// Address of `POST /-/reload` (and the probes) when the stage runs alone.
    pub admin_listen: String,
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

/// The alert stage's own port and consumer group.
#[derive(Debug, Clone, PartialEq)]
pub struct AlertStage;

impl StageDefaults for AlertStage {
    const LISTEN: &'static str = "127.0.0.1:8083";
    const GROUP_ID: &'static str = "hark-alert";
}

impl Default for AlertConfig {
    fn default() -> Self {
        AlertConfig {
            stage: StageSettings::default(),
            admin_listen: "127.0.0.1:8093".into(),
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
        self.stage.check("alert")?;
        if self.allowed_lateness_secs > 86_400 {
            return Err(format!("alert.allowed_lateness_secs must be at most a day, not {}", self.allowed_lateness_secs));
        }
        let mut names = std::collections::BTreeSet::new();
        for rule in &self.rules {
            if !hark_core::config::valid_name(rule.name()) {
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
    use hark_core::{IntentLabel, SentimentLabel};

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
