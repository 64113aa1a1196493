//! What a notification is, and the request bodies each kind of receiver gets for it.
//!
//! A [`Notification`] is one group's news for one receiver: its firing alerts and the alerts that
//! resolved since the last one. [`render`] turns it into the [`Delivery`] requests that go through
//! the receiver's outbox; the bodies are rendered once, so a retry sends the same bytes.

use std::collections::{BTreeMap, BTreeSet};

use crate::config::{ReceiverConfig, ReceiverKind};
use chrono::{DateTime, SecondsFormat, Utc};
use hark_core::{Alert, AlertState};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::matcher::labels_of;

/// One group's notification for one receiver.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Notification {
    /// Unique per notification; receivers dedupe on it.
    pub id: String,
    pub receiver: String,
    /// The group, after Alertmanager's form: `{}/<route index>/<receiver>:{brand="SkyNordic"}`.
    pub group_key: String,
    pub group_labels: BTreeMap<String, String>,
    /// `firing` while any alert of the group fires.
    pub status: AlertState,
    /// Firing alerts first, then the resolved ones.
    pub alerts: Vec<Alert>,
    pub created_at: DateTime<Utc>,
}

/// One request waiting in a receiver's outbox.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Delivery {
    /// The notification's id; a request of its own per alert (PagerDuty) adds `/<fingerprint>`.
    pub id: String,
    pub notification_id: String,
    pub receiver: String,
    pub status: AlertState,
    /// The JSON body, exactly as sent.
    pub body: String,
    pub created_at: DateTime<Utc>,
    /// The event time of the earliest mention behind the alerts this delivery is the first firing news of
    /// (for the mention-age-at-alert metric); `None` for repeats and resolutions.
    #[serde(default)]
    pub first_fired_at: Option<DateTime<Utc>>,
    pub fingerprints: Vec<String>,
}

/// The address a receiver's requests go to.
pub fn target_url(receiver: &ReceiverConfig) -> String {
    match receiver.kind {
        ReceiverKind::Alertmanager => format!("{}/api/v2/alerts", receiver.url.trim_end_matches('/')),
        _ => receiver.url.clone(),
    }
}

fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

fn state_str(state: AlertState) -> &'static str {
    match state {
        AlertState::Firing => "firing",
        AlertState::Resolved => "resolved",
    }
}

/// Where a receiver's operator can look the alert up in Hark.
fn generator_url(external_url: &str, alert: &Alert) -> String {
    format!("{}/v1/alerts?fingerprint={}", external_url.trim_end_matches('/'), alert.fingerprint)
}

/// An alert's annotations with the summary and numbers added, for receivers that only know labels
/// and annotations.
fn annotations_of(alert: &Alert) -> BTreeMap<String, String> {
    let mut a = alert.annotations.clone();
    a.entry("summary".into()).or_insert_with(|| alert.summary.clone());
    if let Some(v) = alert.observed {
        a.entry("observed".into()).or_insert_with(|| v.to_string());
    }
    if let Some(v) = alert.expected {
        a.entry("expected".into()).or_insert_with(|| v.to_string());
    }
    if !alert.sample_mention_ids.is_empty() {
        a.entry("sample_mention_ids".into()).or_insert_with(|| alert.sample_mention_ids.join(","));
    }
    a
}

/// Labels every alert of the notification has with the same value.
fn common<'a>(maps: impl Iterator<Item = BTreeMap<String, String>> + 'a) -> BTreeMap<String, String> {
    let mut maps = maps;
    let Some(mut common) = maps.next() else { return BTreeMap::new() };
    for m in maps {
        common.retain(|k, v| m.get(k) == Some(v));
    }
    common
}

/// The requests a receiver gets for a notification. `now` dates pushes to an Alertmanager, which
/// needs an `endsAt` in the future for a firing alert.
pub fn render(
    receiver: &ReceiverConfig,
    n: &Notification,
    external_url: &str,
    now: DateTime<Utc>,
    first_fired_at: Option<DateTime<Utc>>,
) -> Vec<Delivery> {
    let delivery = |id: String, status: AlertState, body: Value, fingerprints: Vec<String>| Delivery {
        id,
        notification_id: n.id.clone(),
        receiver: receiver.name.clone(),
        status,
        body: body.to_string(),
        created_at: n.created_at,
        first_fired_at,
        fingerprints,
    };
    let all_fingerprints = || n.alerts.iter().map(|a| a.fingerprint.clone()).collect::<Vec<_>>();
    match receiver.kind {
        ReceiverKind::Webhook => vec![delivery(n.id.clone(), n.status, hark_body(n), all_fingerprints())],
        ReceiverKind::AlertmanagerWebhook => {
            vec![delivery(n.id.clone(), n.status, alertmanager_webhook_body(n, external_url), all_fingerprints())]
        }
        ReceiverKind::Slack => vec![delivery(n.id.clone(), n.status, slack_body(n, external_url), all_fingerprints())],
        ReceiverKind::Pagerduty => n
            .alerts
            .iter()
            .map(|a| {
                let body = pagerduty_body(receiver.routing_key.as_deref().unwrap_or_default(), a, external_url);
                delivery(format!("{}/{}", n.id, a.fingerprint), a.state, body, vec![a.fingerprint.clone()])
            })
            .collect(),
        ReceiverKind::Alertmanager => {
            // Alertmanager resolves an alert whose endsAt has passed; firing alerts are pushed again
            // every repush interval, so an endsAt four intervals ahead keeps them firing while Hark
            // runs and lets them resolve on their own if Hark stops.
            let hold = chrono::Duration::seconds(4 * receiver.repush_interval_secs as i64);
            let body = Value::Array(n.alerts.iter().map(|a| alertmanager_api_alert(a, external_url, now + hold)).collect());
            vec![delivery(n.id.clone(), n.status, body, all_fingerprints())]
        }
    }
}

/// Hark's own notification body (`hark.notification.v1`): the alerts in their `alert.v1` form.
fn hark_body(n: &Notification) -> Value {
    json!({
        "version": "hark.notification.v1",
        "id": n.id,
        "receiver": n.receiver,
        "group_key": n.group_key,
        "group_labels": n.group_labels,
        "status": state_str(n.status),
        "alerts": n.alerts,
        "created_at": rfc3339(n.created_at),
    })
}

/// Alertmanager's webhook payload, version 4, so existing webhook consumers work unchanged.
fn alertmanager_webhook_body(n: &Notification, external_url: &str) -> Value {
    let alerts: Vec<Value> = n
        .alerts
        .iter()
        .map(|a| {
            json!({
                "status": state_str(a.state),
                "labels": labels_of(a),
                "annotations": annotations_of(a),
                "startsAt": rfc3339(a.starts_at),
                // Alertmanager writes the zero time for an alert without an end.
                "endsAt": a.ends_at.map(rfc3339).unwrap_or_else(|| "0001-01-01T00:00:00Z".into()),
                "generatorURL": generator_url(external_url, a),
                "fingerprint": a.fingerprint,
            })
        })
        .collect();
    json!({
        "version": "4",
        "groupKey": n.group_key,
        "truncatedAlerts": 0,
        "status": state_str(n.status),
        "receiver": n.receiver,
        "groupLabels": n.group_labels,
        "commonLabels": common(n.alerts.iter().map(labels_of)),
        "commonAnnotations": common(n.alerts.iter().map(annotations_of)),
        "externalURL": external_url,
        "alerts": alerts,
    })
}

/// A Slack incoming-webhook message: a headline and one line per alert.
fn slack_body(n: &Notification, external_url: &str) -> Value {
    let firing = n.alerts.iter().filter(|a| a.state == AlertState::Firing).count();
    let rules: BTreeSet<&str> = n.alerts.iter().map(|a| a.rule.as_str()).collect();
    let scope: Vec<String> = n.group_labels.values().cloned().collect();
    let headline = match n.status {
        AlertState::Firing => format!("[FIRING:{firing}] {} {}", scope.join(" "), rules.into_iter().collect::<Vec<_>>().join(", ")),
        AlertState::Resolved => format!("[RESOLVED] {} {}", scope.join(" "), rules.into_iter().collect::<Vec<_>>().join(", ")),
    };
    let mut text = format!("*{}*", slack_escape(headline.trim()));
    for a in &n.alerts {
        let mark = if a.state == AlertState::Firing { "🔥" } else { "✅" };
        let link = format!("<{}|{}>", slack_escape(&generator_url(external_url, a)), slack_escape(&a.rule));
        text.push_str(&format!("\n{mark} {link} {}", slack_escape(&a.summary)));
    }
    json!({ "text": text })
}

/// Text as Slack shows it literally: brands, handles and mention excerpts come from the public, and
/// Slack reads `<!channel>` as a ping and `<https://x|click>` as a disguised link. Slack's own
/// rule is to escape these three characters; without `<` and `>` no markup can open.
fn slack_escape(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            c => escaped.push(c),
        }
    }
    escaped
}

/// A PagerDuty Events v2 event for one alert: trigger while firing, resolve after; the fingerprint is
/// the `dedup_key`, so PagerDuty folds repeats into one incident.
fn pagerduty_body(routing_key: &str, a: &Alert, external_url: &str) -> Value {
    if a.state == AlertState::Resolved {
        return json!({ "routing_key": routing_key, "event_action": "resolve", "dedup_key": a.fingerprint });
    }
    // PagerDuty knows four severities; anything else (or none) is an error.
    let severity =
        a.labels.get("severity").map(String::as_str).filter(|s| ["critical", "error", "warning", "info"].contains(s)).unwrap_or("error");
    json!({
        "routing_key": routing_key,
        "event_action": "trigger",
        "dedup_key": a.fingerprint,
        "client": "Hark",
        "client_url": generator_url(external_url, a),
        "payload": {
            "summary": a.summary.chars().take(1024).collect::<String>(),
            "source": a.labels.get("brand").cloned().unwrap_or_else(|| "hark".into()),
            "severity": severity,
            "timestamp": rfc3339(a.starts_at),
            "component": a.labels.get("platform"),
            "group": a.labels.get("brand"),
            "class": a.rule,
            "custom_details": {
                "labels": labels_of(a),
                "annotations": a.annotations,
                "observed": a.observed,
                "expected": a.expected,
                "sample_mention_ids": a.sample_mention_ids,
            },
        },
    })
}

/// One alert as Alertmanager's `POST /api/v2/alerts` takes it.
fn alertmanager_api_alert(a: &Alert, external_url: &str, firing_until: DateTime<Utc>) -> Value {
    let ends_at = match a.state {
        AlertState::Firing => firing_until,
        AlertState::Resolved => a.ends_at.unwrap_or(a.generated_at),
    };
    json!({
        "labels": labels_of(a),
        "annotations": annotations_of(a),
        "startsAt": rfc3339(a.starts_at),
        "endsAt": rfc3339(ends_at),
        "generatorURL": generator_url(external_url, a),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn alert(rule: &str, brand: &str, state: AlertState) -> Alert {
        let labels: BTreeMap<String, String> = [("brand".to_string(), brand.to_string())].into();
        let resolved = state == AlertState::Resolved;
        serde_json::from_value(json!({
            "fingerprint": Alert::fingerprint_of(rule, &labels),
            "rule": rule,
            "state": if resolved { "resolved" } else { "firing" },
            "labels": labels,
            "summary": "negative share 0.62 vs 0.11 expected",
            "observed": 0.62,
            "expected": 0.11,
            "starts_at": "2026-11-30T10:00:00Z",
            "ends_at": if resolved { Some("2026-11-30T10:30:00Z") } else { None },
            "sample_mention_ids": ["twitter:1"],
            "generated_at": "2026-11-30T10:00:00Z",
        }))
        .unwrap()
    }

    fn receiver(kind: &str) -> ReceiverConfig {
        toml::from_str(&format!("name = \"r\"\nkind = \"{kind}\"\nurl = \"http://127.0.0.1:9/x/\"\nrouting_key = \"rk\"")).unwrap()
    }

    fn notification() -> Notification {
        Notification {
            id: "abc-1".into(),
            receiver: "r".into(),
            group_key: "{}/0:{brand=\"SkyNordic\"}".into(),
            group_labels: [("brand".to_string(), "SkyNordic".to_string())].into(),
            status: AlertState::Firing,
            alerts: vec![
                alert("negative-spike", "SkyNordic", AlertState::Firing),
                alert("volume-spike", "SkyNordic", AlertState::Resolved),
            ],
            created_at: Utc::now(),
        }
    }

    #[test]
    fn alertmanager_webhook_v4_has_every_field() {
        let d = render(&receiver("alertmanager_webhook"), &notification(), "http://hark:8084", Utc::now(), None);
        let body: Value = serde_json::from_str(&d[0].body).unwrap();
        assert_eq!(body["version"], "4");
        assert_eq!(body["status"], "firing");
        assert_eq!(body["groupLabels"]["brand"], "SkyNordic");
        assert_eq!(body["commonLabels"], json!({"brand": "SkyNordic"}), "alertname differs, so it is not common");
        assert_eq!(body["externalURL"], "http://hark:8084");
        let a = &body["alerts"][0];
        assert_eq!(a["labels"]["alertname"], "negative-spike");
        assert_eq!(a["annotations"]["summary"], "negative share 0.62 vs 0.11 expected");
        assert_eq!(a["endsAt"], "0001-01-01T00:00:00Z");
        assert!(a["generatorURL"].as_str().unwrap().starts_with("http://hark:8084/v1/alerts?fingerprint="));
        assert_eq!(body["alerts"][1]["status"], "resolved");
        assert_eq!(body["alerts"][1]["endsAt"], "2026-11-30T10:30:00.000Z");
        for key in ["groupKey", "receiver", "commonAnnotations", "truncatedAlerts"] {
            assert!(body.get(key).is_some(), "{key}");
        }
    }

    #[test]
    fn pagerduty_gets_one_event_per_alert_keyed_by_fingerprint() {
        let n = notification();
        let d = render(&receiver("pagerduty"), &n, "http://hark", Utc::now(), None);
        assert_eq!(d.len(), 2);
        let trigger: Value = serde_json::from_str(&d[0].body).unwrap();
        assert_eq!(
            (trigger["event_action"].as_str(), trigger["dedup_key"].as_str()),
            (Some("trigger"), Some(n.alerts[0].fingerprint.as_str()))
        );
        assert_eq!(trigger["routing_key"], "rk");
        assert_eq!(trigger["payload"]["severity"], "error");
        let resolve: Value = serde_json::from_str(&d[1].body).unwrap();
        assert_eq!(resolve, json!({"routing_key": "rk", "event_action": "resolve", "dedup_key": n.alerts[1].fingerprint}));
        assert_ne!(d[0].id, d[1].id);
    }

    #[test]
    fn alertmanager_push_keeps_firing_alerts_ahead_and_ends_resolved_ones() {
        let r = receiver("alertmanager");
        assert_eq!(target_url(&r), "http://127.0.0.1:9/x/api/v2/alerts");
        let now = Utc::now();
        let d = render(&r, &notification(), "http://hark", now, None);
        let body: Value = serde_json::from_str(&d[0].body).unwrap();
        let ends: DateTime<Utc> = body[0]["endsAt"].as_str().unwrap().parse().unwrap();
        assert!(ends > now + chrono::Duration::seconds(200));
        assert_eq!(body[0]["labels"]["alertname"], "negative-spike");
        assert_eq!(body[1]["endsAt"], "2026-11-30T10:30:00.000Z");
    }

    #[test]
    fn slack_and_hark_bodies() {
        let n = notification();
        let slack: Value = serde_json::from_str(&render(&receiver("slack"), &n, "http://hark", Utc::now(), None)[0].body).unwrap();
        let text = slack["text"].as_str().unwrap();
        assert!(text.starts_with("*[FIRING:1] SkyNordic negative-spike, volume-spike*"), "{text}");
        assert!(text.contains("<http://hark/v1/alerts?fingerprint="), "the alert's own link stays a link: {text}");
        let hark: Value = serde_json::from_str(&render(&receiver("webhook"), &n, "http://hark", Utc::now(), None)[0].body).unwrap();
        assert_eq!(hark["version"], "hark.notification.v1");
        let back: Alert = serde_json::from_value(hark["alerts"][0].clone()).unwrap();
        assert_eq!(back, n.alerts[0]);
    }

    #[test]
    fn slack_shows_text_from_the_public_literally() {
        let mut n = notification();
        n.group_labels.insert("brand".into(), "<!channel> Sky&Nordic".into());
        n.alerts[0].summary = "angry post: \"<!here> refunds at <http://evil.example|skynordic.com>\"".into();
        let body: Value = serde_json::from_str(&render(&receiver("slack"), &n, "http://hark", Utc::now(), None)[0].body).unwrap();
        let text = body["text"].as_str().unwrap();
        assert!(text.contains("&lt;!channel&gt; Sky&amp;Nordic"), "{text}");
        assert!(text.contains("&lt;!here&gt; refunds at &lt;http://evil.example|skynordic.com&gt;"), "{text}");
        // The only markup left is Hark's own: the bold headline and one link per alert.
        assert_eq!(text.matches('<').count(), n.alerts.len(), "{text}");
        assert!(!text.contains("<!"), "{text}");
    }
}
