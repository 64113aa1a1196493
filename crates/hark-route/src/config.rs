//! `[route]`: the stage's batching and the routing rules.

use hark_kafka::{StageDefaults, StageSettings};
use serde::{Deserialize, Serialize};

use hark_core::config::{valid_name, TopicsConfig};
use hark_core::phrases::PhraseMatch;
use hark_core::{InfluenceTier, IntentLabel, SentimentLabel};

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RouteConfig {
    /// `listen`, `group_id`, `batch_size`, `batch_wait_ms`: reading the enriched topic.
    #[serde(flatten)]
    pub stage: StageSettings<RouteStage>,
    pub rules: Vec<RouteRule>,
}

/// The route stage's own port and consumer group.
#[derive(Debug, Clone, PartialEq)]
pub struct RouteStage;

impl StageDefaults for RouteStage {
    const LISTEN: &'static str = "127.0.0.1:8082";
    const GROUP_ID: &'static str = "hark-route";
}

/// One declarative routing rule: mentions that match every condition in `when` go to `topic`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RouteRule {
    pub name: String,
    /// Defaults to `<topics.routed_prefix><name>`.
    #[serde(default)]
    pub topic: Option<String>,
    #[serde(default)]
    pub when: RouteMatch,
}

/// Conditions of a rule. Lists match when the mention's value is any of them (brands, platforms and
/// languages case-insensitively; labels are the enricher's own words, read into its enums);
/// an empty or absent condition matches everything.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RouteMatch {
    pub brands: Vec<String>,
    pub platforms: Vec<String>,
    pub languages: Vec<String>,
    /// `negative`, `neutral`, `positive`.
    pub sentiments: Vec<SentimentLabel>,
    /// `complaint`, `question`, `praise`, `feedback`, `purchase_intent`, `other`.
    pub intents: Vec<IntentLabel>,
    /// Influence tiers: `nano`, `micro`, `macro`, `mega`.
    pub tiers: Vec<InfluenceTier>,
    /// Only offensive mentions (`true`) or only civil ones (`false`).
    pub offensive: Option<bool>,
    pub min_spam_score: Option<f64>,
    pub max_spam_score: Option<f64>,
    pub min_followers: Option<u64>,
    pub max_followers: Option<u64>,
    /// Any of these words or phrases in the text (case-insensitive), found as `keyword_match`
    /// says (see [`PhraseMatch`]).
    pub keywords: Vec<String>,
    #[serde(skip_serializing_if = "PhraseMatch::is_default")]
    pub keyword_match: PhraseMatch,
}

impl RouteRule {
    /// The topic the rule routes to: its own, or the routed prefix and its name.
    pub fn topic_in(&self, topics: &TopicsConfig) -> String {
        self.topic.clone().unwrap_or_else(|| format!("{}{}", topics.routed_prefix, self.name))
    }
}

impl RouteConfig {
    pub fn check(&self) -> Result<(), String> {
        self.stage.check("route")?;
        let mut names = std::collections::BTreeSet::new();
        for rule in &self.rules {
            if !valid_name(&rule.name) {
                return Err(format!("route rule name `{}` must be letters, digits, `-`, `_` or `.`", rule.name));
            }
            if !names.insert(rule.name.as_str()) {
                return Err(format!("route rule `{}` is declared twice", rule.name));
            }
        }
        Ok(())
    }
}
