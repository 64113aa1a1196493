//! Mention rules: an angry influencer, a viral mention, watch-listed words.
//!
//! An influencer or viral alert is about one mention (its id is a label) and stays open for
//! `hold_secs` of event time, absorbing redeliveries. A keyword alert is about a brand: it fires
//! once `min_mentions` matching mentions fall within `within_secs`, and every later match only
//! extends it, so a crisis pages once, not once per mention.

use std::collections::{BTreeMap, VecDeque};

use chrono::{DateTime, Utc};
use hark_core::{phrases::Text, Alert, AlertState, EnrichedMention, IntentLabel};

use crate::config::AlertRule;
use serde::{Deserialize, Serialize};

use crate::{
    engine::{at, Meta},
    rules::{Rule, RuleSet},
    summary::{excerpt, thousands},
};

/// An open mention-rule alert.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Single {
    pub alert: Alert,
    /// Event time at which it resolves unless another mention extends it.
    pub hold_until: i64,
    pub matches: u64,
}

/// Recent keyword matches of one rule and brand that have not fired yet: (event time, id, keyword).
pub type KeywordHits = VecDeque<(i64, String, String)>;

/// One mention as the mention rules see it.
pub struct Seen<'a> {
    pub mention: &'a EnrichedMention,
    pub brand: &'a str,
    pub t: i64,
    pub id: &'a str,
    pub watermark: Option<i64>,
    pub now: DateTime<Utc>,
}

/// What the mention rules made of one mention.
#[derive(Debug, Default)]
pub struct Matched {
    pub alerts: Vec<Alert>,
    /// It matched a rule, so an alert may cite it as a sample.
    pub sample: bool,
}

/// Applies every mention rule to one mention.
pub fn observe(rules: &RuleSet, meta: &mut Meta, seen: &Seen) -> Matched {
    let m = seen.mention;
    let needs_words = rules.rules.iter().any(|r| matches!(r.config, AlertRule::Keyword(_)));
    let text = Text::new(if needs_words { &m.mention.text } else { "" });
    let (sentiment, intent) = (m.enrichment.sentiment.label, m.enrichment.intent.label);
    let mut matched = Matched::default();
    for rule in rules.rules.iter().filter(|r| !r.is_window() && r.covers_brand(seen.brand)) {
        let mut labels = rule.config.labels().clone();
        labels.insert("brand".into(), seen.brand.to_string());
        let candidate = match &rule.config {
            AlertRule::Influencer(r) => {
                // 0 for a source not trusted for author metrics (see hark_core::provenance).
                let followers = m.mention.followers();
                if followers < r.min_followers || !r.when.matches(sentiment, intent) {
                    continue;
                }
                matched.sample = true;
                labels.insert("mention".into(), seen.id.to_string());
                let who = m.mention.author.handle.as_deref().map_or_else(|| m.mention.author.id.clone(), |h| format!("@{h}"));
                let what = if intent == IntentLabel::Other { "mention".to_string() } else { intent.as_str().replace('_', " ") };
                let summary = format!(
                    "{} {what} about {} by {who} ({} followers) on {}: \"{}\"",
                    sentiment.as_str(),
                    seen.brand,
                    thousands(followers as f64),
                    m.mention.platform,
                    excerpt(&m.mention.text)
                );
                Candidate::one_mention(labels, summary, followers, r.min_followers, r.hold_secs, seen)
            }
            AlertRule::Viral(r) => {
                // 0 for a source not trusted for author metrics.
                let engagement = m.mention.engagement_total();
                if engagement < r.min_engagement {
                    continue;
                }
                matched.sample = true;
                labels.insert("mention".into(), seen.id.to_string());
                let summary = format!(
                    "mention of {} with {} engagements (likes + shares + comments, threshold {}) on {}: \"{}\"",
                    seen.brand,
                    thousands(engagement as f64),
                    thousands(r.min_engagement as f64),
                    m.mention.platform,
                    excerpt(&m.mention.text)
                );
                Candidate::one_mention(labels, summary, engagement, r.min_engagement, r.hold_secs, seen)
            }
            AlertRule::Keyword(r) => {
                if !r.when.matches(sentiment, intent) {
                    continue;
                }
                let Some(keyword) = rule.keyword_in(&text) else { continue };
                matched.sample = true;
                let fingerprint = Alert::fingerprint_of(rule.name(), &labels);
                if let Some(open) = meta.singles.get_mut(&fingerprint) {
                    extend(open, seen, r.hold_secs, rules.sample_ids);
                    continue;
                }
                // Matches that are already too old to group with anything do not count.
                if seen.watermark.is_some_and(|wm| seen.t + (r.within_secs as i64) <= wm) {
                    continue;
                }
                let hits = meta.keyword_hits.entry(fingerprint.clone()).or_default();
                if !hits.iter().any(|(_, id, _)| id == seen.id) {
                    let at = hits.partition_point(|(t, _, _)| *t <= seen.t);
                    hits.insert(at, (seen.t, seen.id.to_string(), keyword.to_string()));
                }
                // The first span of `within_secs` that holds enough matches fires.
                let within = r.within_secs as i64;
                let group: Option<Vec<(i64, String, String)>> = hits.iter().enumerate().find_map(|(i, (first, _, _))| {
                    let span: Vec<_> = hits.iter().skip(i).take_while(|(t, _, _)| *t < first + within).cloned().collect();
                    (span.len() >= r.min_mentions as usize).then_some(span)
                });
                let Some(group) = group else { continue };
                let keywords: std::collections::BTreeSet<&str> = group.iter().map(|(_, _, k)| k.as_str()).collect();
                let summary = format!(
                    "{} mentions of {} with watch-listed words ({}) within {} min: \"{}\"",
                    group.len(),
                    seen.brand,
                    keywords.into_iter().collect::<Vec<_>>().join(", "),
                    r.within_secs / 60,
                    excerpt(&m.mention.text)
                );
                let starts = group.first().map_or(seen.t, |g| g.0);
                let ids = group.iter().take(rules.sample_ids).map(|(_, id, _)| id.clone()).collect();
                let count = group.len() as f64;
                meta.keyword_hits.remove(&fingerprint);
                Candidate { labels, summary, observed: count, threshold: f64::from(r.min_mentions), hold: r.hold_secs, starts, ids }
            }
            AlertRule::Spike(_) | AlertRule::Threshold(_) => continue,
        };
        if let Some(alert) = open(rule, meta, seen, candidate) {
            matched.alerts.push(alert);
        }
    }
    matched
}

/// An alert a mention rule would open.
struct Candidate {
    labels: BTreeMap<String, String>,
    summary: String,
    observed: f64,
    threshold: f64,
    hold: u64,
    starts: i64,
    ids: Vec<String>,
}

impl Candidate {
    /// The alert of a rule about one mention (influencer, viral): it starts at the mention.
    fn one_mention(labels: BTreeMap<String, String>, summary: String, observed: u64, threshold: u64, hold: u64, seen: &Seen) -> Candidate {
        Candidate {
            labels,
            summary,
            observed: observed as f64,
            threshold: threshold as f64,
            hold,
            starts: seen.t,
            ids: vec![seen.id.to_string()],
        }
    }
}

/// Opens the candidate's alert unless one with its fingerprint is open (then it is extended).
fn open(rule: &Rule, meta: &mut Meta, seen: &Seen, c: Candidate) -> Option<Alert> {
    let hold = c.hold as i64;
    // Its alert would already have resolved: a late copy must not fire again.
    if seen.watermark.is_some_and(|wm| seen.t + hold <= wm) {
        return None;
    }
    let fingerprint = Alert::fingerprint_of(rule.name(), &c.labels);
    if let Some(open) = meta.singles.get_mut(&fingerprint) {
        extend(open, seen, c.hold, usize::MAX);
        return None;
    }
    let alert = Alert {
        fingerprint: fingerprint.clone(),
        rule: rule.name().to_string(),
        state: AlertState::Firing,
        labels: c.labels,
        annotations: rule.config.annotations().clone(),
        summary: c.summary,
        observed: Some(c.observed),
        expected: Some(c.threshold),
        starts_at: at(c.starts),
        ends_at: None,
        sample_mention_ids: c.ids,
        first_event_at: Some(at(c.starts)),
        detected_at: Some(at(seen.watermark.unwrap_or(seen.t).max(c.starts))),
        generated_at: seen.now,
    };
    meta.singles.insert(fingerprint, Single { alert: alert.clone(), hold_until: seen.t + hold, matches: 1 });
    Some(alert)
}

/// One more matching mention for an open alert: it stays open longer.
fn extend(open: &mut Single, seen: &Seen, hold_secs: u64, max_samples: usize) {
    open.hold_until = open.hold_until.max(seen.t + hold_secs as i64);
    open.matches += 1;
    let ids = &mut open.alert.sample_mention_ids;
    if ids.len() < max_samples && !ids.iter().any(|s| s == seen.id) {
        ids.push(seen.id.to_string());
    }
}

/// Resolves open alerts whose hold the watermark has passed, and forgets keyword matches that
/// can no longer group with a new one.
pub fn expire(rules: &RuleSet, meta: &mut Meta, watermark: i64, now: DateTime<Utc>) -> Vec<Alert> {
    let mut expired: Vec<(i64, String)> =
        meta.singles.iter().filter(|(_, s)| s.hold_until <= watermark).map(|(k, s)| (s.hold_until, k.clone())).collect();
    // In the order they ended.
    expired.sort();
    let longest = rules
        .rules
        .iter()
        .filter_map(|r| match &r.config {
            AlertRule::Keyword(k) => Some(k.within_secs as i64),
            _ => None,
        })
        .max()
        .unwrap_or(0);
    meta.keyword_hits.retain(|_, hits| {
        while hits.front().is_some_and(|(t, _, _)| *t + longest < watermark) {
            hits.pop_front();
        }
        !hits.is_empty()
    });
    expired.into_iter().filter_map(|(_, key)| meta.singles.remove(&key)).map(|s| resolve(s, watermark, now)).collect()
}

/// The resolved copy of an open alert.
pub fn resolve(single: Single, watermark: i64, now: DateTime<Utc>) -> Alert {
    let mut alert = single.alert;
    alert.state = AlertState::Resolved;
    alert.ends_at = Some(at(single.hold_until));
    alert.detected_at = Some(at(watermark));
    alert.generated_at = now;
    alert.summary =
        format!("resolved ({} matching mention{}): {}", single.matches, if single.matches == 1 { "" } else { "s" }, alert.summary);
    alert
}
