//! The detector of one input partition: event time, the window series of every window rule, the
//! open mention-rule alerts, and the alerts each mention causes.
//!
//! **Event time.** A mention counts in the window of its `created_at`. The watermark is the newest
//! event time seen minus `allowed_lateness_secs`, taken per *source* (the raw partition a mention
//! came from, which enrich read in order) and then the oldest of the sources heard from within
//! [`SOURCE_IDLE_SECS`]: one enriched partition merges several raw ones, and in a fast replay one of
//! them can run hours ahead of another. It never runs ahead of the stage's clock either: a
//! mention dated in the future (a bad clock) must not close every brand's windows early. A window
//! closes (is judged) once the watermark passed its end, and every known series of the partition
//! gets a value for it, zero when it had no mention. A mention for a closed window is late: it is
//! counted ([`Observed::late`]) and left out of the windows. A mention dated more than
//! `max_future_skew_secs` ahead of the clock is refused ([`Observed::refused`]) and
//! dead-lettered by the stage. When event time is behind the clock (any replay of past days) the
//! clock plays no part, so the same mentions in the same order give the same alerts, live or
//! replayed, and the same mentions in any order within the lateness bound give the same windows.
//!
//! One partition holds every mention of a brand (the enriched topic is keyed by brand), so
//! series are keyed by brand and never split across partitions.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, TimeZone, Utc};
use hark_core::{check_not_in_future, Alert, AlertState, EnrichedMention};

use crate::config::AlertMetric;
use serde::{Deserialize, Serialize};

use crate::{
    console::{self, ClosedWindow, SeriesInfo, SeriesKind, WindowPoint},
    detector::{Firing, Transition},
    mentions::{self, KeywordHits, Seen, Single},
    rules::{Contribution, Rule, RuleSet, WindowJudge},
    summary,
    windows::{judge_spike, judge_threshold, value, Series},
};

/// A source not heard from for this long (processing time) no longer holds event time back.
pub const SOURCE_IDLE_SECS: i64 = 60;

/// What the partition knows of one source of its mentions.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Source {
    pub max_event: i64,
    /// Processing time of its last mention.
    pub seen_at: i64,
}

/// Everything of a partition but its series, which are stored one by one.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Meta {
    /// The last input offset applied to this state; -1 before the first.
    pub applied_offset: i64,
    pub max_event: Option<i64>,
    /// Newest event time per source (raw partition).
    #[serde(default)]
    pub sources: BTreeMap<i32, Source>,
    /// The latest processing time (seconds) a mention was applied at: the watermark's ceiling.
    #[serde(default)]
    pub clock: Option<i64>,
    /// Windows ending at or before this are closed.
    pub closed_until: Option<i64>,
    pub late: u64,
    pub singles: BTreeMap<String, Single>,
    /// Keyword matches waiting for enough others to fire, per rule and brand fingerprint.
    #[serde(default)]
    pub keyword_hits: BTreeMap<String, KeywordHits>,
    /// The alerts of the last batch applied, which may not have reached the broker yet.
    pub outbox: Vec<Alert>,
}

impl Default for Meta {
    fn default() -> Self {
        Meta {
            applied_offset: -1,
            max_event: None,
            sources: BTreeMap::new(),
            clock: None,
            closed_until: None,
            late: 0,
            singles: BTreeMap::new(),
            keyword_hits: BTreeMap::new(),
            outbox: Vec::new(),
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct PartitionState {
    pub meta: Meta,
    pub series: BTreeMap<String, Series>,
    /// Series changed or removed since the state was last stored.
    pub dirty: BTreeSet<String>,
    /// Windows closed since the state was last stored, for the console ([`crate::console`]).
    pub closed: Vec<ClosedWindow>,
}

impl PartitionState {
    /// The newest event time of the slowest live source, never ahead of the clock, less the
    /// allowed lateness.
    pub fn watermark(&self, rules: &RuleSet) -> Option<i64> {
        let newest = self.meta.max_event?;
        let clock = self.meta.clock.unwrap_or(i64::MAX);
        let slowest_live =
            self.meta.sources.values().filter(|s| s.seen_at >= clock.saturating_sub(SOURCE_IDLE_SECS)).map(|s| s.max_event).min();
        let newest = slowest_live.unwrap_or(newest).min(newest).min(clock);
        Some(newest - rules.allowed_lateness_secs)
    }
}

/// What one mention caused.
#[derive(Debug, Default)]
pub struct Observed {
    pub alerts: Vec<Alert>,
    /// The mention came after its window closed and was left out of the window metrics.
    pub late: bool,
    /// Why the mention was not applied at all (dated too far in the future).
    pub refused: Option<String>,
    /// An alert may cite the mention as a sample: it is kept for the console.
    pub sample: bool,
}

/// The rules and the logic; the state lives in [`PartitionState`].
pub struct Engine {
    pub rules: RuleSet,
}

pub(crate) fn at(t: i64) -> DateTime<Utc> {
    Utc.timestamp_opt(t, 0).single().unwrap_or_default()
}

fn floor(t: i64, w: i64) -> i64 {
    t.div_euclid(w) * w
}

impl Engine {
    pub fn new(rules: RuleSet) -> Engine {
        Engine { rules }
    }

    /// Applies one mention from `source` (its raw partition) at processing time `now`.
    pub fn observe(&self, state: &mut PartitionState, m: &EnrichedMention, source: i32, now: DateTime<Utc>) -> Observed {
        let mut out = Observed::default();
        let t = m.mention.created_at.timestamp();
        let clock = now.timestamp();
        if let Err(e) = check_not_in_future(m.mention.created_at, now, chrono::Duration::seconds(self.rules.max_future_skew_secs)) {
            out.refused =
                Some(format!("{e}: ahead of the alert stage's clock (alert.max_future_skew_secs is {})", self.rules.max_future_skew_secs));
            return out;
        }
        let Some(brand) = m.canonical_brand() else { return out };
        state.meta.clock = Some(state.meta.clock.map_or(clock, |c| c.max(clock)));
        let w = self.rules.window_secs;
        let lateness = self.rules.allowed_lateness_secs;
        let closed_until = *state.meta.closed_until.get_or_insert(floor(t.min(clock) - lateness, w));
        let id = m.mention.stable_id();

        if t < closed_until {
            state.meta.late += 1;
            out.late = true;
        } else {
            let window = floor(t, w);
            for rule in self.rules.rules.iter().filter(|r| r.is_window() && r.covers_brand(&brand)) {
                let c = Contribution::of(rule.metric(), m);
                if !c.counted {
                    continue;
                }
                let labels = rule.series_labels(m, &brand);
                let key = Alert::fingerprint_of(rule.name(), &labels);
                let series = state.series.entry(key.clone()).or_insert_with(|| Series::new(rule.name(), &rule.identity, labels, t));
                out.sample |= series.open.entry(window).or_default().add(c, t, &id, self.rules.sample_ids);
                series.last_seen = series.last_seen.max(t);
                state.dirty.insert(key);
            }
        }
        let seen = Seen { mention: m, brand: &brand, t, id: &id, watermark: state.watermark(&self.rules), now };
        let matched = mentions::observe(&self.rules, &mut state.meta, &seen);
        out.sample |= matched.sample;
        out.alerts.extend(matched.alerts);

        state.meta.max_event = Some(state.meta.max_event.map_or(t, |e| e.max(t)));
        let s = state.meta.sources.entry(source).or_insert(Source { max_event: t, seen_at: clock });
        s.max_event = s.max_event.max(t);
        s.seen_at = s.seen_at.max(clock);
        self.advance(state, now, &mut out.alerts);
        out
    }

    /// Closes every window the watermark has passed and resolves expired mention-rule alerts.
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
        alerts.extend(mentions::expire(&self.rules, &mut state.meta, watermark, now));
    }

    fn close_window(&self, state: &mut PartitionState, start: i64, now: DateTime<Utc>, alerts: &mut Vec<Alert>) {
        let w = self.rules.window_secs;
        let end = start + w;
        let idle = self.rules.series_idle_secs;
        let mut forget = Vec::new();
        for (key, series) in state.series.iter_mut() {
            let Some(rule) = self.rules.rule(&series.rule).filter(|r| r.identity == series.identity) else { continue };
            let counts = series.open.remove(&start).unwrap_or_default();
            let metric = rule.metric();
            let point = WindowPoint::closed(start, end, value(metric, &counts), counts.volume, counts.hits);
            let (transition, point, kind) = match rule.window() {
                Some(WindowJudge::Threshold(r)) => {
                    let judgement = judge_threshold(r, start, end, &counts);
                    let transition = series.detector.step(judgement, r.for_windows, r.resolve_after, self.rules.sample_ids);
                    (transition, point.with_band(r.above, None, r.above), SeriesKind::Threshold)
                }
                Some(WindowJudge::Spike(r)) => {
                    let judgement = judge_spike(r, series, start, end, &counts, self.rules.windows_per_day());
                    // None while the baseline has not seen a window yet.
                    let point = match series.recent.back().filter(|w| w.start == start) {
                        Some(scored) => {
                            let (low, high) = console::spike_band(metric, &scored.score, counts.measure(metric), counts.volume);
                            point.with_band(scored.score.expected, Some(low), high)
                        }
                        None => point,
                    };
                    // The span judged already is the persistence gate.
                    (series.detector.step(judgement, 1, r.resolve_after, self.rules.sample_ids), point, SeriesKind::Spike)
                }
                None => continue,
            };
            let point = WindowPoint { firing: series.detector.firing.is_some(), ..point };
            let info = SeriesInfo { fingerprint: key.clone(), rule: series.rule.clone(), metric, kind, labels: series.labels.clone() };
            state.closed.push(ClosedWindow { series: info, point });
            match transition {
                Some(Transition::Fired(firing)) => alerts.push(window_alert(rule, series, &firing, None, end, w, now)),
                Some(Transition::Resolved { firing, ends_at }) => {
                    // Evidence after this must be new: the wave that fired must not fire again.
                    series.recent.clear();
                    alerts.push(window_alert(rule, series, &firing, Some(ends_at), end, w, now))
                }
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
        let watermark = state.watermark(&self.rules);
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
                let mut alert = alert_base(&series, firing, state.meta.closed_until.unwrap_or(firing.last_anomalous_end), now);
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
                let wm = watermark.unwrap_or(single.hold_until);
                single.hold_until = wm;
                alerts.push(mentions::resolve(single, wm, now));
            }
        }
        state.meta.keyword_hits.retain(|_, hits| !hits.is_empty());
        alerts
    }
}

fn alert_base(series: &Series, firing: &Firing, detected_at: i64, now: DateTime<Utc>) -> Alert {
    let e = &firing.evidence;
    Alert {
        fingerprint: Alert::fingerprint_of(&series.rule, &series.labels),
        rule: series.rule.clone(),
        state: AlertState::Firing,
        labels: series.labels.clone(),
        annotations: BTreeMap::new(),
        summary: String::new(),
        observed: Some(e.observed),
        expected: Some(e.expected),
        starts_at: at(e.start),
        ends_at: None,
        sample_mention_ids: e.samples.clone(),
        first_event_at: e.first_event.map(at),
        detected_at: Some(at(detected_at)),
        generated_at: now,
    }
}

/// The alert of a window rule's transition; `closed` is the end of the window that caused it,
/// which the watermark has just passed.
fn window_alert(
    rule: &Rule,
    series: &Series,
    firing: &Firing,
    ends_at: Option<i64>,
    closed: i64,
    window_secs: i64,
    now: DateTime<Utc>,
) -> Alert {
    let mut alert = alert_base(series, firing, closed, now);
    alert.annotations = rule.config.annotations().clone();
    let brand = series.labels.get("brand").map_or("", String::as_str);
    let scope: Vec<String> = ["platform", "lang"].iter().filter_map(|k| series.labels.get(*k).map(|v| format!("{k} {v}"))).collect();
    let scope = if scope.is_empty() { String::new() } else { format!(" ({})", scope.join(", ")) };
    let metric: AlertMetric = rule.metric();
    let threshold = matches!(rule.window(), Some(WindowJudge::Threshold(_)));
    let fired = summary::window_summary(metric, threshold, firing, window_secs / 60, brand, &scope);
    alert.summary = match ends_at {
        None => fired,
        Some(end) => {
            alert.state = AlertState::Resolved;
            alert.ends_at = Some(at(end));
            summary::resolved_summary(metric, firing, end, &fired, brand, &scope)
        }
    };
    alert
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::AlertConfig;
    use hark_core::{fixtures, SentimentLabel};

    const T0: i64 = 1_793_491_200;

    /// Processing time well after every mention: a replay.
    fn later() -> DateTime<Utc> {
        at(T0 + 30 * 86_400)
    }

    fn mention(id: &str, t: i64, negative: bool, followers: u64, engagement: u64, text: &str) -> EnrichedMention {
        let label = if negative { SentimentLabel::Negative } else { SentimentLabel::Neutral };
        fixtures::mention(text)
            .id(id)
            .author(&format!("a-{id}"), followers)
            .handle("someone")
            .brand(Some("Acme"))
            .at(&at(t).to_rfc3339())
            .likes(engagement)
            .enriched()
            .sentiment(label)
            .build()
    }

    fn engine(rules: &str) -> Engine {
        let config: AlertConfig = toml::from_str(&format!("window_secs = 60\nallowed_lateness_secs = 30\n{rules}")).unwrap();
        config.check().unwrap();
        Engine::new(RuleSet::new(&config))
    }

    fn run_at(engine: &Engine, mentions: &[EnrichedMention], now: impl Fn(&EnrichedMention) -> DateTime<Utc>) -> (Vec<Alert>, u64) {
        let mut state = PartitionState::default();
        let alerts = mentions.iter().flat_map(|m| engine.observe(&mut state, m, 0, now(m)).alerts).collect();
        (alerts, state.meta.late)
    }

    fn run(engine: &Engine, mentions: &[EnrichedMention]) -> (Vec<Alert>, u64) {
        run_at(engine, mentions, |_| later())
    }

    fn states(alerts: &[Alert]) -> Vec<(&str, AlertState)> {
        alerts.iter().map(|a| (a.rule.as_str(), a.state)).collect()
    }

    #[test]
    fn mention_rules_fire_once_and_resolve_after_their_hold() {
        let e = engine(
            "[[rules]]\nname = \"influencer\"\nkind = \"influencer\"\nmin_followers = 1000\nhold_secs = 600\n\
             [[rules]]\nname = \"viral\"\nkind = \"viral\"\nmin_engagement = 500\nhold_secs = 600\n\
             [[rules]]\nname = \"words\"\nkind = \"keyword\"\nkeywords = [\"recall\"]\nmin_mentions = 2\nwithin_secs = 60\nhold_secs = 600\n",
        );
        let big = mention("1", T0, true, 50_000, 0, "worst airline ever");
        let (alerts, _) = run(
            &e,
            &[
                big.clone(),
                big.clone(),                                     // a redelivered copy: no second alert
                mention("2", T0 + 10, false, 50_000, 0, "nice"), // neither negative nor a complaint
                mention("3", T0 + 20, false, 10, 900, "look at this"),
                mention("4", T0 + 30, false, 10, 0, "Product RECALL"),
                mention("5", T0 + 40, false, 10, 0, "another recall notice"), // the second within a minute: fires
                mention("7", T0 + 50, false, 10, 0, "recall again"),          // extends the open keyword alert
                mention("6", T0 + 2000, false, 10, 0, "later"),
                big, // far behind: its alert resolved already, it must not fire again
            ],
        );
        assert_eq!(
            states(&alerts),
            [
                ("influencer", AlertState::Firing),
                ("viral", AlertState::Firing),
                ("words", AlertState::Firing),
                ("influencer", AlertState::Resolved),
                ("viral", AlertState::Resolved),
                ("words", AlertState::Resolved),
            ]
        );
        assert!(alerts[0].summary.contains("negative mention about Acme by @someone (50k followers)"), "{}", alerts[0].summary);
        assert_eq!(alerts[0].labels.get("mention").map(String::as_str), Some("twitter:1"));
        assert_eq!(alerts[2].starts_at, at(T0 + 30), "the keyword alert starts with its first match");
        assert!(!alerts[2].labels.contains_key("mention"), "one keyword alert per brand");
        assert_eq!(alerts[5].sample_mention_ids, ["twitter:4", "twitter:5", "twitter:7"]);
        assert_eq!(alerts[5].ends_at, Some(at(T0 + 50 + 600)));
        assert!(alerts[5].summary.starts_with("resolved (2 matching mentions)"), "{}", alerts[5].summary);
        assert_eq!(alerts[0].fingerprint, alerts[3].fingerprint);
    }

    #[test]
    fn untrusted_author_metrics_fire_no_influencer_or_viral_alert() {
        let e = engine(
            "[[rules]]\nname = \"influencer\"\nkind = \"influencer\"\nmin_followers = 1000000\nhold_secs = 600\n\
             [[rules]]\nname = \"viral\"\nkind = \"viral\"\nmin_engagement = 500\nhold_secs = 600\n",
        );
        let from = |id: &str, trusted: bool| {
            let mut m = mention(id, T0, true, 2_500_000, 90_000, "worst airline ever");
            m.mention.ingested_by = Some(hark_core::IngestedBy { token: Some("crawler".into()), trusted_author_metrics: trusted });
            m
        };
        assert!(run(&e, &[from("1", false)]).0.is_empty(), "claims of an untrusted source fire nothing");
        assert_eq!(states(&run(&e, &[from("2", true)]).0), [("influencer", AlertState::Firing), ("viral", AlertState::Firing)]);
    }

    #[test]
    fn keyword_matches_far_apart_do_not_fire() {
        let e = engine("[[rules]]\nname = \"words\"\nkind = \"keyword\"\nkeywords = [\"recall\"]\nmin_mentions = 3\nwithin_secs = 600\n");
        let sparse: Vec<_> = (0..6).map(|i| mention(&i.to_string(), T0 + i * 700, true, 10, 0, "a recall")).collect();
        assert!(run(&e, &sparse).0.is_empty());
        let dense: Vec<_> = (0..3).map(|i| mention(&i.to_string(), T0 + i * 100, true, 10, 0, "a recall")).collect();
        assert_eq!(states(&run(&e, &dense).0), [("words", AlertState::Firing)]);
    }

    #[test]
    fn an_influencer_complaint_fires_whatever_its_sentiment() {
        let e = engine("[[rules]]\nname = \"influencer\"\nkind = \"influencer\"\nmin_followers = 1000\n");
        let mut complaint = mention("1", T0, false, 50_000, 0, "my bag is still missing, third call today");
        complaint.enrichment.intent.label = hark_core::IntentLabel::Complaint;
        assert_eq!(states(&run(&e, &[complaint]).0), [("influencer", AlertState::Firing)]);
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
    fn spike_fires_on_persistent_evidence_and_resolves() {
        let (alerts, late) = run(&engine(SPIKE), &wave());
        assert_eq!(late, 0);
        assert_eq!(states(&alerts), [("neg", AlertState::Firing), ("neg", AlertState::Resolved)]);
        let firing = &alerts[0];
        assert_eq!(firing.starts_at, at(T0 + 60 * 60));
        assert_eq!(firing.first_event_at, Some(at(T0 + 60 * 60)));
        assert_eq!(firing.detected_at, Some(at(T0 + 62 * 60)), "two windows of evidence");
        assert_eq!(firing.observed, Some(0.8));
        assert!(firing.summary.starts_with("negative share 80% vs expected 10% (16 of 20 mentions since"), "{}", firing.summary);
        assert_eq!(firing.sample_mention_ids.len(), 10);
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
    fn a_future_dated_mention_neither_moves_event_time_nor_counts() {
        let e = engine(SPIKE);
        let live = |m: &EnrichedMention| m.mention.created_at + chrono::Duration::seconds(1);
        let ordered = wave();
        let (expected, _) = run_at(&e, &ordered, live);
        // 250 s ahead (within the 300 s skew) at minute 30, and a day ahead at minute 40.
        let mut skewed = ordered.clone();
        skewed.insert(300, mention("ahead", T0 + 30 * 60 + 250, false, 10, 0, "x"));
        skewed.insert(401, mention("far", T0 + 40 * 60 + 86_400, false, 10, 0, "x"));
        let mut state = PartitionState::default();
        let mut alerts = Vec::new();
        let mut refused = Vec::new();
        for m in &skewed {
            let clock = if m.mention.id == "ahead" || m.mention.id == "far" { at(T0 + 30 * 60 + 1) } else { live(m) };
            let observed = e.observe(&mut state, m, 0, clock);
            alerts.extend(observed.alerts);
            refused.extend(observed.refused.map(|r| (m.mention.id.clone(), r)));
        }
        assert_eq!(state.meta.late, 0, "no on-time mention became late");
        assert_eq!(refused.len(), 1);
        assert_eq!(refused[0].0, "far");
        assert!(refused[0].1.contains("ahead of the alert stage's clock"), "{}", refused[0].1);
        assert_eq!(states(&alerts), states(&expected));
    }

    #[test]
    fn a_source_far_ahead_does_not_make_the_others_late() {
        let e = engine(SPIKE);
        let ordered = wave();
        let (expected, _) = run(&e, &ordered);
        // Two raw partitions merged as a fast replay would: both start together, and the second
        // source (one mention in three) is read twice as fast, so it runs far ahead in event time.
        let (ahead, behind): (Vec<_>, Vec<_>) = ordered.iter().enumerate().partition(|(i, _)| i % 3 == 0);
        let (mut a, mut b) = (ahead.iter(), behind.iter());
        let mut merged = Vec::new();
        loop {
            let next: Vec<(i32, EnrichedMention)> =
                [a.next().map(|m| (1, m.1.clone())), a.next().map(|m| (1, m.1.clone())), b.next().map(|m| (0, m.1.clone()))]
                    .into_iter()
                    .flatten()
                    .collect();
            if next.is_empty() {
                break;
            }
            merged.extend(next);
        }
        let mut state = PartitionState::default();
        let mut alerts = Vec::new();
        for (source, m) in &merged {
            alerts.extend(e.observe(&mut state, m, *source, later()).alerts);
        }
        assert_eq!(state.meta.late, 0);
        assert_eq!(states(&alerts), states(&expected));
    }

    #[test]
    fn thin_series_and_warm_up_never_fire() {
        // The wave's windows hold 50 mentions, an hour of windows 600: never enough.
        let thin = engine(&SPIKE.replace("min_volume = 5", "min_volume = 601"));
        assert!(run(&thin, &wave()).0.is_empty());
        let cold = engine(&SPIKE.replace("warmup_windows = 30", "warmup_windows = 100"));
        assert!(run(&cold, &wave()).0.is_empty());
    }

    #[test]
    fn a_removed_rule_resolves_its_firing_alerts() {
        let e = engine(SPIKE);
        let mut state = PartitionState::default();
        let fired: Vec<Alert> = wave()[..640].iter().flat_map(|m| e.observe(&mut state, m, 0, later()).alerts).collect();
        assert_eq!(states(&fired), [("neg", AlertState::Firing)]);
        let without = engine("");
        let retired = without.retire_unknown_rules(&mut state, later());
        assert_eq!(states(&retired), [("neg", AlertState::Resolved)]);
        assert_eq!(retired[0].fingerprint, fired[0].fingerprint);
        assert!(state.series.is_empty());
    }
}
