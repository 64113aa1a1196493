//! An alert about a brand (`alert.v1` in `proto/`), as the alerting stage produces it.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AlertState {
    Firing,
    Resolved,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Alert {
    /// Stable for rule + labels: 16 hex characters.
    pub fingerprint: String,
    pub rule: String,
    pub state: AlertState,
    pub labels: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
    pub summary: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expected: Option<f64>,
    pub starts_at: DateTime<Utc>,
    pub ends_at: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sample_mention_ids: Vec<String>,
    /// Event time (`created_at`) of the earliest mention that made the alert fire, so a receiver
    /// can tell how old the news is. Optional in `alert.v1`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_event_at: Option<DateTime<Utc>>,
    /// Event time (the alert stage's watermark) at which the alert changed state: how long after
    /// an incident began it was seen, measured on the stream's own clock, live or replayed.
    /// Optional in `alert.v1`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detected_at: Option<DateTime<Utc>>,
    pub generated_at: DateTime<Utc>,
}

impl Alert {
    /// The fingerprint of a rule and its labels: the same alert keeps the same one across restarts.
    pub fn fingerprint_of(rule: &str, labels: &BTreeMap<String, String>) -> String {
        let mut text = rule.to_string();
        for (k, v) in labels {
            text.push('\u{1f}');
            text.push_str(k);
            text.push('=');
            text.push_str(v);
        }
        format!("{:016x}", xxhash_rust::xxh3::xxh3_64(text.as_bytes()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprint_depends_on_rule_and_labels_only() {
        let labels: BTreeMap<String, String> = [("brand".to_string(), "SkyNordic".to_string())].into();
        let a = Alert::fingerprint_of("negative-spike", &labels);
        assert_eq!(a.len(), 16);
        assert_eq!(a, Alert::fingerprint_of("negative-spike", &labels.clone()));
        assert_ne!(a, Alert::fingerprint_of("volume-spike", &labels));
    }
}
