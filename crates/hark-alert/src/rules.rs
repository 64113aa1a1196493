//! The `[alert]` section made ready to run: brand lists lowercased once, keywords compiled, and what every series of a rule has in common.

use std::collections::BTreeMap;

use hark_core::{
    phrases::{PhraseMatcher, Text},
    EnrichedMention, IntentLabel, SentimentLabel,
};

use crate::config::{AlertConfig, AlertDimension, AlertMetric, AlertRule, KeywordRule};

/// One rule, compiled.
#[derive(Debug, Clone)]
pub struct Rule {
    pub config: AlertRule,
    brands: Vec<String>,
    /// Keyword rules: their keywords, ready to match.
    keywords: PhraseMatcher,
    /// What makes a series belong to this rule: a change here starts the rule's series afresh.
    /// Built from the config's own words (serde), so renaming a Rust variant changes nothing.
    pub identity: String,
}

/// A window rule's parts that the windows need.
#[derive(Debug, Clone, Copy)]
pub enum WindowJudge<'a> {
    Spike(&'a crate::config::SpikeRule),
    Threshold(&'a crate::config::ThresholdRule),
}

impl Rule {
    fn new(config: &AlertRule) -> Rule {
        let lower = |list: &[String]| list.iter().map(|s| s.to_lowercase()).collect::<Vec<_>>();
        let keywords = match config {
            AlertRule::Keyword(KeywordRule { keywords, keyword_match, .. }) => PhraseMatcher::new(keywords, *keyword_match),
            _ => PhraseMatcher::default(),
        };
        let identity = serde_json::json!({
            "kind": config.kind_name(),
            "metric": config.metric().map(AlertMetric::as_str),
            "by": config.by().iter().map(|d| d.as_str()).collect::<Vec<_>>(),
            "labels": config.labels(),
        })
        .to_string();
        Rule { config: config.clone(), brands: lower(config.brands()), keywords, identity }
    }

    pub fn name(&self) -> &str {
        self.config.name()
    }

    /// The window rule's settings, or `None` for a mention rule.
    pub fn window(&self) -> Option<WindowJudge<'_>> {
        match &self.config {
            AlertRule::Spike(r) => Some(WindowJudge::Spike(r)),
            AlertRule::Threshold(r) => Some(WindowJudge::Threshold(r)),
            _ => None,
        }
    }

    pub fn is_window(&self) -> bool {
        self.window().is_some()
    }

    pub fn metric(&self) -> AlertMetric {
        self.config.metric().unwrap_or(AlertMetric::Volume)
    }

    /// Whether the rule looks at this brand.
    pub fn covers_brand(&self, brand: &str) -> bool {
        self.brands.is_empty() || self.brands.contains(&brand.to_lowercase())
    }

    /// The first keyword of the rule that occurs in the mention's text, as configured.
    pub fn keyword_in(&self, text: &Text) -> Option<&str> {
        self.keywords.find(text)
    }

    /// The labels of the series a mention falls into: brand, the rule's other dimensions, the
    /// metric, and the rule's own labels.
    pub fn series_labels(&self, m: &EnrichedMention, brand: &str) -> BTreeMap<String, String> {
        let mut labels = self.config.labels().clone();
        for dim in self.config.by() {
            let value = match dim {
                AlertDimension::Brand => brand.to_string(),
                AlertDimension::Platform => m.mention.platform.clone(),
                AlertDimension::Lang => m.enrichment.lang.code.clone(),
            };
            labels.insert(dim.as_str().to_string(), value);
        }
        if self.is_window() {
            labels.insert("metric".into(), self.metric().as_str().into());
        }
        labels
    }
}

/// What a window metric counts of one mention.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Contribution {
    /// Counted in the window's volume (the denominator of a share).
    pub counted: bool,
    /// Counted by the metric (negative for a negative share, a complaint…).
    pub hit: bool,
    /// Added to the metric's sum (followers for reach, 1 for the others).
    pub weight: f64,
}

impl Contribution {
    /// Spam counts only in the spam share: a bot wave is not a crisis of opinion.
    pub fn of(metric: AlertMetric, m: &EnrichedMention) -> Contribution {
        let spam = m.enrichment.spam.is_spam;
        let e = &m.enrichment;
        match metric {
            AlertMetric::SpamShare => Contribution { counted: true, hit: spam, weight: 1.0 },
            _ if spam => Contribution::default(),
            AlertMetric::Volume => Contribution { counted: true, hit: true, weight: 1.0 },
            AlertMetric::NegativeShare | AlertMetric::Negatives => {
                Contribution { counted: true, hit: e.sentiment.label == SentimentLabel::Negative, weight: 1.0 }
            }
            AlertMetric::Complaints | AlertMetric::ComplaintShare => {
                Contribution { counted: true, hit: e.intent.label == IntentLabel::Complaint, weight: 1.0 }
            }
            AlertMetric::Reach => Contribution { counted: true, hit: true, weight: m.mention.followers() as f64 },
        }
    }
}

/// Every rule of a config, with the window settings they share.
#[derive(Debug, Clone)]
pub struct RuleSet {
    pub rules: Vec<Rule>,
    pub window_secs: i64,
    pub allowed_lateness_secs: i64,
    pub max_future_skew_secs: i64,
    pub sample_ids: usize,
    pub series_idle_secs: i64,
}

impl RuleSet {
    /// Compiles a checked section (see [`AlertConfig::check`]).
    pub fn new(config: &AlertConfig) -> RuleSet {
        RuleSet {
            rules: config.rules.iter().map(Rule::new).collect(),
            window_secs: config.window_secs as i64,
            allowed_lateness_secs: config.allowed_lateness_secs as i64,
            max_future_skew_secs: config.max_future_skew_secs as i64,
            sample_ids: config.sample_ids,
            series_idle_secs: config.series_idle_secs as i64,
        }
    }

    pub fn rule(&self, name: &str) -> Option<&Rule> {
        self.rules.iter().find(|r| r.name() == name)
    }

    pub fn windows_per_day(&self) -> f64 {
        86_400.0 / self.window_secs as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keywords_match_whole_words_in_any_case() {
        let rule = Rule::new(
            &toml::from_str::<AlertRule>("name = \"k\"\nkind = \"keyword\"\nkeywords = [\"recall\", \"food poisoning\", \"召回\"]")
                .unwrap(),
        );
        let find = |text: &str| rule.keyword_in(&Text::new(text)).map(String::from);
        assert_eq!(find("Product RECALL announced").as_deref(), Some("recall"));
        assert_eq!(find("got food   poisoning!").as_deref(), Some("food poisoning"));
        assert_eq!(find("recalled the order"), None);
        assert_eq!(find("这款产品被召回了").as_deref(), Some("召回"));
    }

    #[test]
    fn negatives_count_negative_mentions_and_never_spam() {
        use hark_core::{fixtures, SentimentLabel};
        let of = |sentiment, spam| {
            let m = fixtures::mention("text").enriched().sentiment(sentiment).spam(spam).build();
            let c = Contribution::of(AlertMetric::Negatives, &m);
            (c.counted, c.hit)
        };
        assert_eq!(of(SentimentLabel::Negative, 0.0), (true, true));
        assert_eq!(of(SentimentLabel::Neutral, 0.0), (true, false));
        assert_eq!(of(SentimentLabel::Negative, 0.99), (false, false), "a bot wave is not a crisis of opinion");
    }

    #[test]
    fn identity_follows_the_config_words() {
        let rule = Rule::new(&toml::from_str::<AlertRule>("name = \"s\"\nkind = \"spike\"\nmetric = \"negative_share\"").unwrap());
        assert_eq!(rule.identity, r#"{"by":["brand"],"kind":"spike","labels":{},"metric":"negative_share"}"#);
    }
}
