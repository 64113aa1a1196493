//! Label matchers (`brand=SkyNordic`, `rule=~"negative-.*"`), as routes and silences use them.

use std::collections::BTreeMap;

use crate::config::{MatchOp, MatcherSpec};
use hark_core::Alert;
use regex::Regex;
use serde::{Deserialize, Serialize};

use crate::NotifyError;

/// A parsed matcher with its regex compiled. A label the alert lacks matches as the empty string,
/// as in Alertmanager, so `team!=ops` holds for an alert without a `team` label.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(try_from = "MatcherSpec", into = "MatcherSpec")]
pub struct Matcher {
    spec: MatcherSpec,
    regex: Option<Regex>,
}

impl Matcher {
    pub fn new(spec: MatcherSpec) -> Result<Matcher, NotifyError> {
        let regex = match spec.op {
            MatchOp::Regex | MatchOp::NotRegex => Some(
                // Anchored: `=~Sky` matches the value `Sky`, not `SkyNordic`.
                Regex::new(&format!("^(?:{})$", spec.value))
                    .map_err(|e| NotifyError::Invalid(format!("matcher `{}`: invalid regex: {e}", spec.name)))?,
            ),
            MatchOp::Equal | MatchOp::NotEqual => None,
        };
        Ok(Matcher { spec, regex })
    }

    /// Parses the text form, e.g. `brand=SkyNordic`.
    pub fn parse(text: &str) -> Result<Matcher, NotifyError> {
        Matcher::new(MatcherSpec::parse(text).map_err(NotifyError::Invalid)?)
    }

    pub fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        let value = labels.get(&self.spec.name).map(String::as_str).unwrap_or("");
        match (self.spec.op, &self.regex) {
            (MatchOp::Equal, _) => value == self.spec.value,
            (MatchOp::NotEqual, _) => value != self.spec.value,
            (MatchOp::Regex, Some(re)) => re.is_match(value),
            (MatchOp::NotRegex, Some(re)) => !re.is_match(value),
            (_, None) => unreachable!("regex matchers are built with their regex"),
        }
    }
}

impl TryFrom<MatcherSpec> for Matcher {
    type Error = NotifyError;
    fn try_from(spec: MatcherSpec) -> Result<Self, Self::Error> {
        Matcher::new(spec)
    }
}

impl From<Matcher> for MatcherSpec {
    fn from(m: Matcher) -> Self {
        m.spec
    }
}

/// Whether every matcher holds (an empty list matches everything).
pub fn matches_all(matchers: &[Matcher], labels: &BTreeMap<String, String>) -> bool {
    matchers.iter().all(|m| m.matches(labels))
}

/// The labels routes and silences match against: the alert's own, plus its rule as
/// `alertname` (Alertmanager's convention) and `rule`.
pub fn labels_of(alert: &Alert) -> BTreeMap<String, String> {
    let mut labels = alert.labels.clone();
    labels.entry("alertname".into()).or_insert_with(|| alert.rule.clone());
    labels.entry("rule".into()).or_insert_with(|| alert.rule.clone());
    labels
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn operators_and_missing_labels() {
        let l = labels(&[("brand", "SkyNordic"), ("platform", "tiktok")]);
        assert!(Matcher::parse("brand=SkyNordic").unwrap().matches(&l));
        assert!(!Matcher::parse("brand=Sky").unwrap().matches(&l));
        assert!(Matcher::parse("brand!=Other").unwrap().matches(&l));
        assert!(Matcher::parse("brand=~\"Sky.*\"").unwrap().matches(&l));
        assert!(!Matcher::parse("brand=~Sky").unwrap().matches(&l), "regexes are anchored");
        assert!(Matcher::parse("platform!~twitter|x").unwrap().matches(&l));
        assert!(Matcher::parse("team!=ops").unwrap().matches(&l), "a missing label is the empty string");
        assert!(Matcher::parse("team=").unwrap().matches(&l));
        let err = Matcher::parse("brand=~(").unwrap_err().to_string();
        assert!(err.contains("invalid regex"), "{err}");
    }
}
