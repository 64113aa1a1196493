//! How well the alert rules do on labelled synthetic streams ([`crate::synth`]): recall of large
//! waves by the spike rules, detection delay, and false crisis alerts per brand-week.
//!
//! - A *crisis alert* is a firing alert of a spike, threshold or keyword rule; influencer and
//!   viral alerts are about one mention and are not counted here.
//! - A crisis alert is *true* when its `detected_at` (the watermark when it fired) falls between
//!   the start of an incident of its brand and [`GRACE_SECS`] after its end; any other is false,
//!   noise episodes (blips, spam waves) included.
//! - A large wave is *caught* when a spike rule fires for it; its delay is `detected_at` minus
//!   the incident's start, in event time: when Hark knew, not when the evidence began.
//!
//! Defaults are chosen on tuning seeds (`--grid`) and the tables are reported on other seeds.

use std::fmt::Write;

use chrono::{DateTime, TimeZone, Utc};
use hark_core::AlertState;

use crate::{
    config::{AlertConfig, AlertRule, SpikeRule},
    engine::{Engine, PartitionState},
    rules::RuleSet,
    synth::{self, field::Pool, Stream},
};

/// How long after an incident's end an alert still counts as its detection.
pub const GRACE_SECS: i64 = 30 * 60;

/// The spike settings under evaluation (every spike rule gets them).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Params {
    pub window_secs: u64,
    pub z: f64,
    /// `None`: each metric's default.
    pub min_ratio: Option<f64>,
    pub for_windows: u32,
    pub max_windows: u32,
    pub min_volume: u64,
    /// Also a spike rule on negative mentions (at `z` + [`NEGATIVES_EXTRA_Z`]).
    pub negatives: bool,
}

impl Default for Params {
    fn default() -> Self {
        use crate::config::defaults;
        Params {
            window_secs: 300,
            z: defaults::Z,
            min_ratio: None,
            for_windows: defaults::FOR_WINDOWS,
            max_windows: defaults::MAX_WINDOWS,
            min_volume: defaults::MIN_VOLUME,
            negatives: false,
        }
    }
}

/// How much higher `z` the negative-mentions rule has than the others (chosen on the tuning
/// seeds): negative mentions rise with the volume and with the share, so the rule overlaps the two
/// others and adds to their false alarms.
const NEGATIVES_EXTRA_Z: f64 = 0.5;

/// The rules of the detector's own table: spikes of negative share, volume and complaint share per
/// brand, and of negative mentions when `params` says so.
pub fn spike_rules(params: &Params) -> AlertConfig {
    let rule = |name: &str, metric: &str| -> AlertRule {
        let mut rule: SpikeRule = toml::from_str(&format!("name = \"{name}\"\nmetric = \"{metric}\"")).expect("valid rule");
        rule.z = params.z;
        rule.min_ratio = params.min_ratio;
        rule.for_windows = params.for_windows;
        rule.max_windows = params.max_windows;
        rule.min_volume = params.min_volume;
        // An hour of history at any window length.
        rule.warmup_windows = (3600 / params.window_secs) as u32;
        if metric == "negatives" {
            rule.z += NEGATIVES_EXTRA_Z;
        }
        AlertRule::Spike(rule)
    };
    let mut rules =
        vec![rule("negative-spike", "negative_share"), rule("volume-spike", "volume"), rule("complaint-spike", "complaint_share")];
    if params.negatives {
        rules.push(rule("negatives-spike", "negatives"));
    }
    AlertConfig { window_secs: params.window_secs, rules, ..AlertConfig::default() }
}

/// The figures of one stream, or of several added up.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Outcome {
    pub name: String,
    pub brand_days: f64,
    pub large: usize,
    /// Large waves a spike rule fired for.
    pub caught: usize,
    /// Detection delays of the caught large waves, in minutes of event time.
    pub delays: Vec<f64>,
    /// Other incidents (smaller ones) any crisis rule fired for, of how many.
    pub other_caught: usize,
    pub other: usize,
    pub crisis_alerts: usize,
    pub false_alerts: usize,
    /// The large waves no spike rule fired for, in words.
    pub missed: Vec<String>,
}

impl Outcome {
    pub fn recall(&self) -> Option<f64> {
        (self.large > 0).then(|| self.caught as f64 / self.large as f64)
    }

    pub fn median_delay(&self) -> Option<f64> {
        let mut d = self.delays.clone();
        if d.is_empty() {
            return None;
        }
        d.sort_by(f64::total_cmp);
        let n = d.len();
        Some(if n % 2 == 1 { d[n / 2] } else { (d[n / 2 - 1] + d[n / 2]) / 2.0 })
    }

    pub fn false_per_brand_week(&self) -> f64 {
        if self.brand_days > 0.0 {
            self.false_alerts as f64 / (self.brand_days / 7.0)
        } else {
            0.0
        }
    }

    fn add(&mut self, other: &Outcome) {
        self.brand_days += other.brand_days;
        self.large += other.large;
        self.caught += other.caught;
        self.delays.extend(&other.delays);
        self.other_caught += other.other_caught;
        self.other += other.other;
        self.crisis_alerts += other.crisis_alerts;
        self.false_alerts += other.false_alerts;
        self.missed.extend(other.missed.iter().cloned());
    }
}

/// Runs the rules over one stream, as a replay: the clock is far behind no mention.
pub fn run(stream: &Stream, config: &AlertConfig) -> Outcome {
    let engine = Engine::new(RuleSet::new(config));
    let crisis: Vec<&str> = config
        .rules
        .iter()
        .filter(|r| matches!(r, AlertRule::Spike(_) | AlertRule::Threshold(_) | AlertRule::Keyword(_)))
        .map(AlertRule::name)
        .collect();
    let spikes: Vec<&str> = config.rules.iter().filter(|r| matches!(r, AlertRule::Spike(_))).map(AlertRule::name).collect();
    let mut state = PartitionState::default();
    let now: DateTime<Utc> = Utc.timestamp_opt(synth::EPOCH + 365 * 86_400, 0).single().expect("valid time");
    let incidents: Vec<_> = stream.episodes.iter().filter(|e| e.incident).collect();
    let mut caught_by_spike: Vec<Option<i64>> = vec![None; incidents.len()];
    let mut caught_by_any = vec![false; incidents.len()];
    let mut out = Outcome {
        name: stream.name.clone(),
        brand_days: stream.days * stream.brands.len() as f64,
        large: incidents.iter().filter(|i| i.large).count(),
        other: incidents.iter().filter(|i| !i.large).count(),
        ..Outcome::default()
    };
    for mention in &stream.mentions {
        let alerts = engine.observe(&mut state, mention, 0, now).alerts;
        // Nothing here shows the console's windows.
        state.closed.clear();
        for alert in alerts {
            if alert.state != AlertState::Firing || !crisis.contains(&alert.rule.as_str()) {
                continue;
            }
            out.crisis_alerts += 1;
            let detected = alert.detected_at.unwrap_or(alert.generated_at).timestamp();
            let brand = alert.labels.get("brand").map(String::as_str).unwrap_or_default();
            let mut true_alert = false;
            for (i, incident) in incidents.iter().enumerate() {
                if incident.brand.eq_ignore_ascii_case(brand) && incident.start <= detected && detected <= incident.end + GRACE_SECS {
                    true_alert = true;
                    caught_by_any[i] = true;
                    if spikes.contains(&alert.rule.as_str()) {
                        caught_by_spike[i].get_or_insert(detected);
                    }
                }
            }
            if !true_alert {
                out.false_alerts += 1;
            }
        }
    }
    for (i, incident) in incidents.iter().enumerate() {
        if incident.large {
            if let Some(t) = caught_by_spike[i] {
                out.caught += 1;
                out.delays.push((t - incident.start) as f64 / 60.0);
            } else {
                out.missed.push(missed_wave(stream, incident));
            }
        } else if caught_by_any[i] {
            out.other_caught += 1;
        }
    }
    out
}

/// A missed wave in words: the stream, what happened unless the stream's name says it (lab's
/// streams are one scenario each), how long, and when (day of the stream, UTC time).
fn missed_wave(stream: &Stream, incident: &synth::Incident) -> String {
    let since = incident.start - synth::EPOCH;
    let when = format!("day {} {:02}:{:02}", since / 86_400 + 1, since % 86_400 / 3600, since % 3600 / 60);
    if stream.name == incident.what {
        format!("{} ({when})", stream.name)
    } else {
        format!("{}: {}, {} min ({when})", stream.name, incident.what, (incident.end - incident.start) / 60)
    }
}

/// Rows of outcomes, one per group of streams, and the total last.
pub fn evaluate(groups: &[(String, Vec<Stream>)], config: &AlertConfig) -> Vec<Outcome> {
    let mut rows = Vec::new();
    let mut total = Outcome { name: "all".into(), ..Outcome::default() };
    for (name, streams) in groups {
        let mut row = Outcome { name: name.clone(), ..Outcome::default() };
        for stream in streams {
            row.add(&run(stream, config));
        }
        total.add(&row);
        rows.push(row);
    }
    rows.push(total);
    rows
}

/// The outcomes as a Markdown table.
pub fn table(rows: &[Outcome]) -> String {
    let mut out = String::from(
        "| streams | large waves | caught by spike rules | recall | median delay | smaller incidents caught | crisis alerts | false | false per brand-week |\n|---|---|---|---|---|---|---|---|---|\n",
    );
    for r in rows {
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} of {} | {} | {} | {:.2} |",
            r.name,
            r.large,
            r.caught,
            r.recall().map_or("–".to_string(), |x| format!("{:.0}%", x * 100.0)),
            r.median_delay().map_or("–".to_string(), |d| format!("{d:.0} min")),
            r.other_caught,
            r.other,
            r.crisis_alerts,
            r.false_alerts,
            r.false_per_brand_week()
        );
    }
    if let Some(missed) = rows.last().map(|total| &total.missed).filter(|m| !m.is_empty()) {
        let _ = writeln!(out, "\nLarge waves no spike rule fired for:\n");
        for wave in missed {
            let _ = writeln!(out, "- {wave}");
        }
    }
    out
}

/// The lab generator's streams, one group per scenario.
pub fn lab_groups(seeds: &[u64]) -> Vec<(String, Vec<Stream>)> {
    synth::lab::scenarios().iter().map(|s| (s.name.to_string(), seeds.iter().map(|seed| s.stream(*seed)).collect())).collect()
}

/// The field generator's streams, one group per brand, and the cold starts.
pub fn field_groups(seeds: &[u64], pool: &Pool) -> Vec<(String, Vec<Stream>)> {
    let mut groups: Vec<(String, Vec<Stream>)> = Vec::new();
    for seed in seeds {
        for (i, stream) in synth::field::generate(*seed, pool).into_iter().enumerate() {
            if groups.len() <= i {
                groups.push((stream.name.clone(), Vec::new()));
            }
            groups[i].1.push(stream);
        }
    }
    groups.push((
        "cold start: a new brand's wave in its first 3–6 hours".into(),
        seeds.iter().flat_map(|s| synth::field::cold_start(*s, pool)).collect(),
    ));
    groups
}

/// The settings `--grid` compares around the defaults.
fn grid() -> Vec<Params> {
    let d = Params::default();
    let mut grid = Vec::new();
    for z in [4.0, 4.25, 4.5, 5.0] {
        grid.push(Params { z, ..d });
    }
    grid.push(Params { min_ratio: Some(1.25), ..d });
    grid.push(Params { negatives: true, ..d });
    grid.push(Params { window_secs: 60, for_windows: 8, max_windows: 60, ..d });
    grid.push(Params { window_secs: 60, for_windows: 8, max_windows: 60, min_ratio: Some(1.25), ..d });
    grid.push(Params { window_secs: 60, for_windows: 6, max_windows: 60, z: 5.0, ..d });
    grid.push(Params { window_secs: 120, for_windows: 4, max_windows: 30, ..d });
    grid.push(Params { max_windows: 6, ..d });
    grid.push(Params { for_windows: 3, ..d });
    grid.push(Params { min_volume: 5, ..d });
    grid
}

/// What `hark alert-eval` prints: with `grid`, the totals of several settings first; then the
/// table of each generator with the defaults, and with `config`'s own rules when given.
pub fn report(seeds: &[u64], pool: &Pool, grid_too: bool, config: Option<&AlertConfig>) -> String {
    let lab = lab_groups(seeds);
    let field = if pool.is_usable() { field_groups(seeds, pool) } else { Vec::new() };
    let mut out = format!("seeds {seeds:?}\n\n");
    if grid_too {
        out.push_str("| window | z | min_ratio | for_windows | max_windows | min_volume | negatives-spike | lab recall | lab delay | lab false/brand-week | field recall | field delay | field false/brand-week |\n|---|---|---|---|---|---|---|---|---|---|---|---|---|\n");
        for params in grid() {
            let rules = spike_rules(&params);
            let l = evaluate(&lab, &rules).pop().expect("a total");
            let f = evaluate(&field, &rules).pop().expect("a total");
            let pct = |x: Option<f64>| x.map_or("–".to_string(), |x| format!("{:.1}%", x * 100.0));
            let delay = |o: &Outcome| o.median_delay().map_or("–".to_string(), |d| format!("{d:.0} min"));
            let _ = writeln!(
                out,
                "| {}m | {} | {} | {} | {} | {} | {} | {} | {} | {:.2} | {} | {} | {:.2} |",
                params.window_secs / 60,
                params.z,
                params.min_ratio.map_or("per metric".to_string(), |r| r.to_string()),
                params.for_windows,
                params.max_windows,
                params.min_volume,
                if params.negatives { "z + 0.5" } else { "–" },
                pct(l.recall()),
                delay(&l),
                l.false_per_brand_week(),
                pct(f.recall()),
                delay(&f),
                f.false_per_brand_week()
            );
        }
        out.push('\n');
    }
    let defaults = spike_rules(&Params::default());
    let _ = writeln!(out, "## lab generator, spike rules with the defaults\n\n{}", table(&evaluate(&lab, &defaults)));
    if !field.is_empty() {
        let _ = writeln!(out, "## field generator, spike rules with the defaults\n\n{}", table(&evaluate(&field, &defaults)));
    }
    if let Some(config) = config {
        let _ = writeln!(out, "## lab generator, the configuration's rules\n\n{}", table(&evaluate(&lab, config)));
        if !field.is_empty() {
            let _ = writeln!(out, "## field generator, the configuration's rules\n\n{}", table(&evaluate(&field, config)));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_catch_large_waves_and_stay_quiet_on_steady_traffic() {
        let all = synth::lab::scenarios();
        let pick = |name: &str| all.iter().find(|s| s.name.starts_with(name)).unwrap().clone();
        let config = spike_rules(&Params::default());
        let steady = run(&pick("steady").stream(101), &config);
        assert!(steady.false_alerts <= 1, "steady traffic raised {} alerts", steady.false_alerts);
        let large = run(&pick("negative wave, large").stream(101), &config);
        assert_eq!(large.caught, large.large, "{large:?}");
        assert!(large.missed.is_empty(), "{large:?}");
        let small_brand = run(&pick("negative wave on a small brand").stream(101), &config);
        assert_eq!(small_brand.missed.len(), small_brand.large - small_brand.caught, "each missed wave is listed: {small_brand:?}");
        assert!(large.median_delay().unwrap() <= 12.0, "{large:?}");
        let blips = run(&pick("noise: one-window").stream(101), &config);
        assert!(blips.false_alerts <= 1, "one-window blips raised {} alerts", blips.false_alerts);
    }

    #[test]
    fn a_missed_wave_says_what_and_when() {
        let start = synth::EPOCH + 86_400 + 14 * 3600 + 5 * 60;
        let incident = |what: &str| synth::Incident {
            brand: "Volta".into(),
            start,
            end: start + 3600,
            what: what.into(),
            incident: true,
            large: true,
        };
        let stream = |name: &str| Stream { name: name.into(), days: 2.0, brands: Vec::new(), episodes: Vec::new(), mentions: Vec::new() };
        assert_eq!(
            missed_wave(&stream("volume surge ×3, 60 min"), &incident("volume surge ×3, 60 min")),
            "volume surge ×3, 60 min (day 2 14:05)"
        );
        assert_eq!(
            missed_wave(&stream("Volta (4 / min)"), &incident("volume surge ×3.2")),
            "Volta (4 / min): volume surge ×3.2, 60 min (day 2 14:05)"
        );
    }
}
