//! The detector of one input partition: event-time windows per series, their baselines and
//! detectors, the open single-mention alerts, and the alerts each mention causes.
//!
//! **Event time.** A mention counts in the window of its `created_at`. The watermark is the newest
//! event time seen minus `allowed_lateness_secs`; a window closes (is evaluated) once the watermark
//! passed its end, and every known series of the partition gets a value for it, zero when it had
//! no mention. A mention for a closed window is late: it is counted ([`Observed::late`]) and left
//! out of the windows. Nothing here reads the clock, so the same mentions in the same order give
//! the same alerts, live or replayed, and the same mentions in any order within the lateness bound
//! give the same windows.
//!
//! One partition holds every mention of a brand (the enriched topic is keyed by `mention.brand`),
//! so series are keyed by that field alone and never split across partitions.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, TimeZone, Utc};
use hark_core::{
    config::alert::{AlertKind, AlertMetric},
    Alert, AlertState, EnrichedMention,
};
use serde::{Deserialize, Serialize};

use crate::{
    baseline::Baseline,
    detector::{Detector, Firing, Transition, WindowVerdict},
    rules::{words, Contribution, Rule, RuleSet},
};

/// What one window of a series counted.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Counts {
    pub volume: u64,
    pub hits: u64,
    pub sum: f64,
    pub first_event: Option<i64>,
    /// The earliest hits by (event time, id): the same examples whatever the arrival order.
    samples: Vec<(i64, String)>,
}

impl Counts {
    fn add(&mut self, c: Contribution, t: i64, id: &str, max_samples: usize) {
        self.volume += 1;
        if !c.hit {
            return;
        }
        self.hits += 1;
        self.sum += c.weight;
        self.first_event = Some(self.first_event.map_or(t, |f| f.min(t)));
        let entry = (t, id.to_string());
        let at = self.samples.partition_point(|s| s < &entry);
        if at < max_samples && self.samples.get(at) != Some(&entry) {
            self.samples.insert(at, entry);
            self.samples.truncate(max_samples);
        }
    }
}

/// One rule × labels of a window rule.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Series {
    pub rule: String,
    /// The rule's [`Rule::identity`] when the series was made.
    pub identity: String,
    pub labels: BTreeMap<String, String>,
    /// Windows not yet closed, by start (seconds).
    pub open: BTreeMap<i64, Counts>,
    pub baseline: Baseline,
    pub detector: Detector,
    pub last_seen: i64,
}

/// An open single-mention alert.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Single {
    pub alert: Alert,
    /// Event time at which it resolves unless another mention extends it.
    pub hold_until: i64,
    pub matches: u64,
}

/// Everything of a partition but its series, which are stored one by one.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Meta {
    /// The last input offset applied to this state; -1 before the first.
    pub applied_offset: i64,
    pub max_event: Option<i64>,
    /// Windows ending at or before this are closed.
    pub closed_until: Option<i64>,
    pub late: u64,
    pub singles: BTreeMap<String, Single>,
    /// The alerts of the last batch applied, which may not have reached the broker yet.
    pub outbox: Vec<Alert>,
}

impl Default for Meta {
    fn default() -> Self {
        Meta { applied_offset: -1, max_event: None, closed_until: None, late: 0, singles: BTreeMap::new(), outbox: Vec::new() }
    }
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct PartitionState {
    pub meta: Meta,
    pub series: BTreeMap<String, Series>,
    /// Series changed or removed since the state was last stored.
    pub dirty: BTreeSet<String>,
}

impl PartitionState {
    pub fn watermark(&self, rules: &RuleSet) -> Option<i64> {
        self.meta.max_event.map(|t| t - rules.allowed_lateness_secs)
    }
}

/// What one mention caused.
#[derive(Debug, Default)]
pub struct Observed {
    pub alerts: Vec<Alert>,
    /// The mention came after its window closed and was left out of the window metrics.
    pub late: bool,
}

/// The rules and the logic; the state lives in [`PartitionState`].
pub struct Engine {
    pub rules: RuleSet,
}

fn at(t: i64) -> DateTime<Utc> {
    Utc.timestamp_opt(t, 0).single().unwrap_or_default()
}

fn floor(t: i64, w: i64) -> i64 {
    t.div_euclid(w) * w
}

impl Engine {
    pub fn new(rules: RuleSet) -> Engine {
        Engine { rules }
    }

    /// Applies one mention; `now` only stamps `generated_at`.
    pub fn observe(&self, state: &mut PartitionState, m: &EnrichedMention, now: DateTime<Utc>) -> Observed {
        let mut out = Observed::default();
        let Some(brand) = m.canonical_brand() else { return out };
        let t = m.mention.created_at.timestamp();
        let w = self.rules.window_secs;
        let lateness = self.rules.allowed_lateness_secs;
        let closed_until = *state.meta.closed_until.get_or_insert(floor(t - lateness, w));
        let id = m.mention.stable_id();

        if t < closed_until {
            state.meta.late += 1;
            out.late = true;
        } else {
            let window = floor(t, w);
            for rule in self.rules.rules.iter().filter(|r| r.kind().is_window() && r.covers_brand(&brand)) {
                let c = Contribution::of(rule.metric(), m);
                if !c.counted {
                    continue;
                }
                let labels = rule.series_labels(m, &brand);
                let key = Alert::fingerprint_of(rule.name(), &labels);
                let series = state.series.entry(key.clone()).or_insert_with(|| Series {
                    rule: rule.name().to_string(),
                    identity: rule.identity.clone(),
                    labels,
                    open: BTreeMap::new(),
                    baseline: Baseline::default(),
                    detector: Detector::default(),
                    last_seen: t,
                });
                series.open.entry(window).or_default().add(c, t, &id, self.rules.sample_ids);
                series.last_seen = series.last_seen.max(t);
                state.dirty.insert(key);
            }
        }
        self.single_mention_rules(state, m, &brand, t, &id, now, &mut out);

        state.meta.max_event = Some(state.meta.max_event.map_or(t, |e| e.max(t)));
        self.advance(state, now, &mut out.alerts);
        out
    }

    #[allow(clippy::too_many_arguments)] // the mention's parts, computed once by `observe`
    fn single_mention_rules(
        &self,
        state: &mut PartitionState,
        m: &EnrichedMention,
        brand: &str,
        t: i64,
        id: &str,
        now: DateTime<Utc>,
        out: &mut Observed,
    ) {
        let watermark = state.watermark(&self.rules);
        let needs_words = self.rules.rules.iter().any(|r| r.kind() == AlertKind::Keyword);
        let text = if needs_words { m.mention.text.to_lowercase() } else { String::new() };
        let text_words = if needs_words { words(&text) } else { Vec::new() };
        for rule in self.rules.rules.iter().filter(|r| !r.kind().is_window() && r.covers_brand(brand)) {
            let hold = rule.config.hold_secs() as i64;
            // Its alert would already have resolved: a late copy must not fire again.
            if watermark.is_some_and(|wm| t + hold <= wm) {
                continue;
            }
            let mut labels = rule.config.labels.clone();
            labels.insert("brand".into(), brand.to_string());
            let sentiment = m.enrichment.sentiment.label;
            let (observed, threshold, summary) = match rule.kind() {
                AlertKind::Influencer => {
                    let followers = m.mention.followers();
                    if !rule.sentiment_matches(sentiment) || followers < rule.config.min_followers() {
                        continue;
                    }
                    labels.insert("mention".into(), id.to_string());
                    let who = m.mention.author.handle.as_deref().map_or_else(|| m.mention.author.id.clone(), |h| format!("@{h}"));
                    let summary = format!(
                        "{} mention of {brand} by {who} ({} followers) on {}: \"{}\"",
                        sentiment.as_str(),
                        thousands(followers as f64),
                        m.mention.platform,
                        excerpt(&m.mention.text)
                    );
                    (followers as f64, rule.config.min_followers() as f64, summary)
                }
                AlertKind::Viral => {
                    let e = m.mention.engagement.clone().unwrap_or_default();
                    let engagement = e.likes.unwrap_or(0) + e.shares.unwrap_or(0) + e.comments.unwrap_or(0);
                    let min = rule.config.min_engagement.unwrap_or(u64::MAX);
                    if engagement < min {
                        continue;
                    }
                    labels.insert("mention".into(), id.to_string());
                    let summary = format!(
                        "mention of {brand} with {} engagements (likes + shares + comments, threshold {}) on {}: \"{}\"",
                        thousands(engagement as f64),
                        thousands(min as f64),
                        m.mention.platform,
                        excerpt(&m.mention.text)
                    );
                    (engagement as f64, min as f64, summary)
                }
                AlertKind::Keyword => {
                    if !rule.sentiment_matches(sentiment) {
                        continue;
                    }
                    let Some(keyword) = rule.keyword_in(&text, &text_words) else { continue };
                    labels.insert("keyword".into(), keyword.to_string());
                    let summary = format!("\"{keyword}\" in a mention of {brand} on {}: \"{}\"", m.mention.platform, excerpt(&m.mention.text));
                    (1.0, 1.0, summary)
                }
                AlertKind::Spike | AlertKind::Threshold => continue,
            };
            let fingerprint = Alert::fingerprint_of(rule.name(), &labels);
            if let Some(open) = state.meta.singles.get_mut(&fingerprint) {
                // One alert per fingerprint while it is open: a further match only extends it.
                open.hold_until = open.hold_until.max(t + hold);
                open.matches += 1;
                if open.alert.sample_mention_ids.len() < self.rules.sample_ids && !open.alert.sample_mention_ids.iter().any(|s| s == id) {
                    open.alert.sample_mention_ids.push(id.to_string());
                }
                continue;
            }
            let alert = Alert {
                fingerprint: fingerprint.clone(),
                rule: rule.name().to_string(),
                state: AlertState::Firing,
                labels,
                annotations: rule.config.annotations.clone(),
                summary,
                observed: Some(observed),
                expected: Some(threshold),
                starts_at: at(t),
                ends_at: None,
                sample_mention_ids: vec![id.to_string()],
                first_event_at: Some(at(t)),
                generated_at: now,
            };
            out.alerts.push(alert.clone());
            state.meta.singles.insert(fingerprint, Single { alert, hold_until: t + hold, matches: 1 });
        }
    }

    /// Closes every window the watermark has passed and resolves expired single-mention alerts.
    fn advance(&self, state: &mut PartitionState, now: DateTime<Utc>, alerts: &mut Vec<Alert>) {
        let Some(watermark) = state.watermark(&self.rules) else { return };
        let w = self.rules.window_secs;
        let target = floor(watermark, w);
        let mut closed = state.meta.closed_until.unwrap_or(target);
        // After a long silence, closing every empty window would take long and teach nothing:
        // close enough for idle series to be forgotten and firing ones to resolve, then jump.
        let last_to_close = target.min(closed + self.rules.series_idle_secs + w);
        while closed < last_to_close {
            self.close_window(state, closed, now, alerts);
            closed += w;
        }
        state.meta.closed_until = Some(target.max(closed));

        let expired: Vec<String> =
            state.meta.singles.iter().filter(|(_, s)| s.hold_until <= watermark).map(|(k, _)| k.clone()).collect();
        for key in expired {
            if let Some(single) = state.meta.singles.remove(&key) {
                alerts.push(resolve_single(single, now));
            }
        }
    }

    fn close_window(&self, state: &mut PartitionState, start: i64, now: DateTime<Utc>, alerts: &mut Vec<Alert>) {
        let w = self.rules.window_secs;
        let hour = (start.rem_euclid(86_400) / 3600) as usize;
        let per_day = self.rules.windows_per_day();
        let idle = self.rules.series_idle_secs;
        let mut forget = Vec::new();
        for (key, series) in state.series.iter_mut() {
            let Some(rule) = self.rules.rule(&series.rule).filter(|r| r.identity == series.identity) else { continue };
            let counts = series.open.remove(&start).unwrap_or_default();
            let metric = rule.metric();
            let observed = match metric {
                AlertMetric::NegativeShare | AlertMetric::SpamShare => {
                    if counts.volume == 0 { 0.0 } else { counts.hits as f64 / counts.volume as f64 }
                }
                AlertMetric::Volume | AlertMetric::Complaints => counts.hits as f64,
                AlertMetric::Reach => counts.sum,
            };
            let enough = counts.volume >= rule.config.min_volume();
            let (anomalous, expected) = match rule.kind() {
                AlertKind::Threshold => (enough && observed >= rule.config.above.unwrap_or(f64::INFINITY), rule.config.above.unwrap_or(0.0)),
                _ => {
                    let expectation = series.baseline.expect(metric, hour, per_day, observed, counts.volume);
                    let warm = series.baseline.windows >= rule.config.warmup_windows();
                    let anomalous = expectation.is_some_and(|e| {
                        warm && enough && e.z >= rule.config.z() && observed >= rule.config.min_ratio() * e.expected && observed > e.expected
                    });
                    // A share of a thin window says little: it does not teach the baseline.
                    if !metric.is_share() || enough {
                        series.baseline.learn(metric, hour, per_day, observed, counts.volume);
                    }
                    (anomalous, expectation.map_or(observed, |e| e.expected))
                }
            };
            let verdict = WindowVerdict {
                start,
                end: start + w,
                anomalous,
                observed,
                expected,
                volume: counts.volume,
                hits: counts.hits,
                first_event: counts.first_event,
                samples: counts.samples.into_iter().map(|(_, id)| id).collect(),
            };
            let transition = series.detector.step(verdict, rule.config.for_windows(), rule.config.resolve_after(), self.rules.sample_ids);
            match transition {
                Some(Transition::Fired(firing)) => alerts.push(window_alert(rule, series, &firing, None, w, now)),
                Some(Transition::Resolved { firing, ends_at }) => alerts.push(window_alert(rule, series, &firing, Some(ends_at), w, now)),
                None => {}
            }
            if series.detector.is_quiet() && series.open.is_empty() && series.last_seen < start - idle {
                forget.push(key.clone());
            }
            state.dirty.insert(key.clone());
        }
        for key in forget {
            state.series.remove(&key);
        }
    }

    /// Resolves and drops what belongs to rules that are gone or whose identity changed (after
    /// a reload), so no alert stays firing forever.
    pub fn retire_unknown_rules(&self, state: &mut PartitionState, now: DateTime<Utc>) -> Vec<Alert> {
        let mut alerts = Vec::new();
        let stale: Vec<String> = state
            .series
            .iter()
            .filter(|(_, s)| self.rules.rule(&s.rule).is_none_or(|r| r.identity != s.identity))
            .map(|(k, _)| k.clone())
            .collect();
        for key in stale {
            let Some(series) = state.series.remove(&key) else { continue };
            state.dirty.insert(key);
            if let Some(firing) = &series.detector.firing {
                let mut alert = alert_base(&series, firing, now);
                alert.state = AlertState::Resolved;
                alert.ends_at = Some(at(state.meta.closed_until.unwrap_or(firing.last_anomalous_end)));
                alert.summary = format!("resolved: rule `{}` was removed or changed", series.rule);
                alerts.push(alert);
            }
        }
        let gone: Vec<String> =
            state.meta.singles.iter().filter(|(_, s)| self.rules.rule(&s.alert.rule).is_none()).map(|(k, _)| k.clone()).collect();
        for key in gone {
            if let Some(mut single) = state.meta.singles.remove(&key) {
                single.hold_until = state.watermark(&self.rules).unwrap_or(single.hold_until);
                alerts.push(resolve_single(single, now));
            }
        }
        alerts
    }
}

fn alert_base(series: &Series, firing: &Firing, now: DateTime<Utc>) -> Alert {
    Alert {
        fingerprint: Alert::fingerprint_of(&series.rule, &series.labels),
        rule: series.rule.clone(),
        state: AlertState::Firing,
        labels: series.labels.clone(),
        annotations: BTreeMap::new(),
        summary: String::new(),
        observed: Some(firing.observed),
        expected: Some(firing.expected),
        starts_at: at(firing.starts_at),
        ends_at: None,
        sample_mention_ids: firing.samples.clone(),
        first_event_at: firing.first_event.map(at),
        generated_at: now,
    }
}

fn window_alert(rule: &Rule, series: &Series, firing: &Firing, ends_at: Option<i64>, window_secs: i64, now: DateTime<Utc>) -> Alert {
    let mut alert = alert_base(series, firing, now);
    alert.annotations = rule.config.annotations.clone();
    let brand = series.labels.get("brand").map_or("", String::as_str);
    let scope: Vec<String> =
        ["platform", "lang"].iter().filter_map(|k| series.labels.get(*k).map(|v| format!("{k} {v}"))).collect();
    let scope = if scope.is_empty() { String::new() } else { format!(" ({})", scope.join(", ")) };
    let minutes = window_secs / 60;
    let metric = rule.metric();
    let value = |x: f64| describe(metric, x);
    let against = if rule.kind() == AlertKind::Threshold { "at or above the threshold" } else { "vs expected" };
    let base = match metric {
        AlertMetric::NegativeShare | AlertMetric::SpamShare => format!(
            "{} {} {against} {} ({} of {} mentions in {minutes}m)",
            metric_words(metric),
            value(firing.observed),
            value(firing.expected),
            firing.hits,
            firing.volume
        ),
        _ => format!("{} {} in {minutes}m {against} {}", value(firing.observed), metric_words(metric), value(firing.expected)),
    };
    alert.summary = match ends_at {
        None => format!("{base} for {brand}{scope}"),
        Some(end) => {
            alert.state = AlertState::Resolved;
            alert.ends_at = Some(at(end));
            format!(
                "resolved: {} for {brand}{scope} back to normal after {}m (peak {}; it fired at {base})",
                metric_words(metric),
                (end - firing.starts_at) / 60,
                value(firing.peak)
            )
        }
    };
    alert
}

fn resolve_single(single: Single, now: DateTime<Utc>) -> Alert {
    let mut alert = single.alert;
    alert.state = AlertState::Resolved;
    alert.ends_at = Some(at(single.hold_until));
    alert.generated_at = now;
    alert.summary = format!("resolved ({} matching mention{}): {}", single.matches, if single.matches == 1 { "" } else { "s" }, alert.summary);
    alert
}

fn metric_words(metric: AlertMetric) -> &'static str {
    match metric {
        AlertMetric::Volume => "mentions",
        AlertMetric::NegativeShare => "negative share",
        AlertMetric::Complaints => "complaints",
        AlertMetric::SpamShare => "spam share",
        AlertMetric::Reach => "followers reached",
    }
}

fn describe(metric: AlertMetric, x: f64) -> String {
    match metric {
        AlertMetric::NegativeShare | AlertMetric::SpamShare => format!("{:.0}%", x * 100.0),
        AlertMetric::Reach => thousands(x),
        AlertMetric::Volume | AlertMetric::Complaints => {
            if x.fract() == 0.0 { format!("{x:.0}") } else { format!("{x:.1}") }
        }
    }
}

/// 1234567 → "1.2M", 45200 → "45k", 950 → "950".
fn thousands(x: f64) -> String {
    if x >= 1e6 {
        format!("{:.1}M", x / 1e6)
    } else if x >= 1e4 {
        format!("{:.0}k", x / 1e3)
    } else {
        format!("{x:.0}")
    }
}

fn excerpt(text: &str) -> String {
    let mut s: String = text.chars().take(120).collect();
    if s.len() < text.len() {
        s.push('…');
    }
    s.replace(['\n', '\r'], " ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use hark_core::config::AlertConfig;

    const T0: i64 = 1_793_491_200;

    fn mention(id: &str, t: i64, negative: bool, followers: u64, engagement: u64, text: &str) -> EnrichedMention {
        let created_at = at(t).to_rfc3339();
        serde_json::from_value(serde_json::json!({
            "mention": {"id": id, "platform": "twitter", "text": text, "created_at": created_at,
                "author": {"id": format!("a-{id}"), "handle": "someone", "followers": followers}, "brand": "Acme",
                "engagement": {"likes": engagement, "shares": 0, "comments": 0}},
            "enrichment": {"lang": {"code": "en", "confidence": 1.0},
                "sentiment": {"label": if negative { "negative" } else { "neutral" }, "score": 0.0, "confidence": 1.0, "model": "t"},
                "intent": {"label": "other", "confidence": 1.0}, "spam": {"score": 0.0, "is_spam": false, "reasons": []},
                "offensive": {"score": 0.0, "is_offensive": false}, "influence": {"tier": "nano", "followers": followers},
                "brands": [], "brand": "Acme", "enriched_at": created_at, "enrichment_version": "t"}
        }))
        .unwrap()
    }

    fn engine(rules: &str) -> Engine {
        let config: AlertConfig = toml::from_str(&format!("window_secs = 60\nallowed_lateness_secs = 30\n{rules}")).unwrap();
        config.check().unwrap();
        Engine::new(RuleSet::new(&config))
    }

    fn run(engine: &Engine, mentions: &[EnrichedMention]) -> (Vec<Alert>, u64) {
        let mut state = PartitionState::default();
        let alerts = mentions.iter().flat_map(|m| engine.observe(&mut state, m, DateTime::UNIX_EPOCH).alerts).collect();
        (alerts, state.meta.late)
    }

    fn states(alerts: &[Alert]) -> Vec<(&str, AlertState)> {
        alerts.iter().map(|a| (a.rule.as_str(), a.state)).collect()
    }

    #[test]
    fn single_mention_rules_fire_once_and_resolve_after_their_hold() {
        let e = engine(
            "[[rules]]\nname = \"influencer\"\nkind = \"influencer\"\nmin_followers = 1000\nhold_secs = 600\n\
             [[rules]]\nname = \"viral\"\nkind = \"viral\"\nmin_engagement = 500\nhold_secs = 600\n\
             [[rules]]\nname = \"words\"\nkind = \"keyword\"\nkeywords = [\"recall\"]\nhold_secs = 600\n",
        );
        let big = mention("1", T0, true, 50_000, 0, "worst airline ever");
        let (alerts, _) = run(&e, &[
            big.clone(),
            big.clone(), // a redelivered copy: no second alert
            mention("2", T0 + 10, false, 50_000, 0, "nice"), // not negative
            mention("3", T0 + 20, false, 10, 900, "look at this"),
            mention("4", T0 + 30, false, 10, 0, "Product RECALL"),
            mention("5", T0 + 40, false, 10, 0, "another recall notice"), // extends the open keyword alert
            mention("6", T0 + 2000, false, 10, 0, "later"),
            big, // far behind: its alert resolved already, it must not fire again
        ]);
        assert_eq!(states(&alerts), [
            ("influencer", AlertState::Firing),
            ("viral", AlertState::Firing),
            ("words", AlertState::Firing),
            ("influencer", AlertState::Resolved),
            ("viral", AlertState::Resolved),
            ("words", AlertState::Resolved),
        ]);
        assert!(alerts[0].summary.contains("negative mention of Acme by @someone (50k followers)"), "{}", alerts[0].summary);
        assert_eq!(alerts[0].labels.get("mention").map(String::as_str), Some("twitter:1"));
        assert_eq!(alerts[2].labels.get("keyword").map(String::as_str), Some("recall"));
        assert_eq!(alerts[5].sample_mention_ids, ["twitter:4", "twitter:5"]);
        assert_eq!(alerts[5].ends_at, Some(at(T0 + 40 + 600)));
        assert!(alerts[5].summary.starts_with("resolved (2 matching mentions)"), "{}", alerts[5].summary);
        assert_eq!(alerts[0].fingerprint, alerts[3].fingerprint);
    }

    /// Ten mentions a minute, 1 in 10 negative, with a wave of 8 in 10 from minute 60 to 65.
    fn wave() -> Vec<EnrichedMention> {
        (0..90)
            .flat_map(|minute| {
                (0..10).map(move |i| {
                    let negative = if (60..65).contains(&minute) { i < 8 } else { i == minute % 10 };
                    mention(&format!("{minute}-{i}"), T0 + minute * 60 + i * 6, negative, 10, 0, "x")
                })
            })
            .collect()
    }

    const SPIKE: &str = "[[rules]]\nname = \"neg\"\nkind = \"spike\"\nmetric = \"negative_share\"\nmin_volume = 5\nwarmup_windows = 30\n";

    #[test]
    fn spike_fires_after_the_persistence_gate_and_resolves() {
        let (alerts, late) = run(&engine(SPIKE), &wave());
        assert_eq!(late, 0);
        assert_eq!(states(&alerts), [("neg", AlertState::Firing), ("neg", AlertState::Resolved)]);
        let firing = &alerts[0];
        assert_eq!(firing.starts_at, at(T0 + 60 * 60));
        assert_eq!(firing.first_event_at, Some(at(T0 + 60 * 60)));
        assert_eq!(firing.observed, Some(0.8));
        assert!(firing.summary.starts_with("negative share 80% vs expected 10% (8 of 10 mentions in 1m) for Acme"), "{}", firing.summary);
        assert_eq!(firing.sample_mention_ids.len(), 5);
        assert_eq!(alerts[1].ends_at, Some(at(T0 + 65 * 60)));
        assert_eq!(firing.labels.get("metric").map(String::as_str), Some("negative_share"));
    }

    #[test]
    fn reordering_within_the_lateness_bound_changes_nothing_and_later_mentions_are_counted_late() {
        let e = engine(SPIKE);
        let ordered = wave();
        // Swap neighbours 20 seconds apart: out of order, but within the 30 s allowed.
        let mut shuffled = ordered.clone();
        for pair in shuffled.chunks_mut(4) {
            pair.swap(0, 3);
        }
        let (a, late_a) = run(&e, &ordered);
        let (b, late_b) = run(&e, &shuffled);
        assert_eq!((late_a, late_b), (0, 0));
        assert_eq!(a, b);

        let mut with_late = ordered;
        with_late.insert(300, mention("late", T0 + 10, true, 10, 0, "x"));
        let (c, late) = run(&e, &with_late);
        assert_eq!(late, 1);
        assert_eq!(c, a, "a late mention does not change the windows");
    }

    #[test]
    fn thin_series_and_warm_up_never_fire() {
        let thin = engine(&SPIKE.replace("min_volume = 5", "min_volume = 11"));
        assert!(run(&thin, &wave()).0.is_empty());
        let cold = engine(&SPIKE.replace("warmup_windows = 30", "warmup_windows = 100"));
        assert!(run(&cold, &wave()).0.is_empty());
    }

    #[test]
    fn a_removed_rule_resolves_its_firing_alerts() {
        let e = engine(SPIKE);
        let mut state = PartitionState::default();
        let fired: Vec<Alert> = wave()[..630].iter().flat_map(|m| e.observe(&mut state, m, DateTime::UNIX_EPOCH).alerts).collect();
        assert_eq!(states(&fired), [("neg", AlertState::Firing)]);
        let without = engine("");
        let retired = without.retire_unknown_rules(&mut state, DateTime::UNIX_EPOCH);
        assert_eq!(states(&retired), [("neg", AlertState::Resolved)]);
        assert_eq!(retired[0].fingerprint, fired[0].fingerprint);
        assert!(state.series.is_empty());
    }
}
