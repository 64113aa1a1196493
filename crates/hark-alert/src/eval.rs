//! How well the detector does on labelled synthetic streams ([`crate::synth`]): precision,
//! recall and median detection delay per scenario and overall.
//!
//! - An alert is a *true* alert when it fires (in event time: the `created_at` of the mention
//!   that closed the window) between an incident's start and `GRACE` after its end; any other
//!   firing is a false alarm, noise scenarios included.
//! - An incident is detected when at least one alert fires for it; its delay is from the
//!   incident's start to that first alert.
//!
//! Defaults are chosen on development seeds and the table is reported on other seeds.

use std::fmt::Write;

use chrono::{DateTime, Utc};
use hark_core::{
    config::{alert::AlertRule, AlertConfig},
    AlertState, EnrichedMention,
};

use crate::{
    engine::{Engine, PartitionState},
    rules::RuleSet,
    synth::Scenario,
};

/// How long after an incident's end an alert still counts as its detection.
pub const GRACE_SECS: i64 = 30 * 60;

/// The detector settings under evaluation (every spike rule gets them).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Params {
    pub window_secs: u64,
    pub z: f64,
    pub min_ratio: f64,
    pub for_windows: u32,
    pub resolve_after: u32,
    pub min_volume: u64,
}

impl Default for Params {
    fn default() -> Self {
        use hark_core::config::alert::defaults;
        Params {
            window_secs: 300,
            z: defaults::Z,
            min_ratio: defaults::MIN_RATIO,
            for_windows: defaults::FOR_WINDOWS,
            resolve_after: defaults::RESOLVE_AFTER,
            min_volume: defaults::MIN_VOLUME,
        }
    }
}

/// The rules the evaluation runs: spikes of negative share, volume and complaints per brand.
pub fn rules(params: &Params) -> AlertConfig {
    let rule = |name: &str, metric: &str| -> AlertRule {
        let mut rule: AlertRule =
            toml::from_str(&format!("name = \"{name}\"\nkind = \"spike\"\nmetric = \"{metric}\"")).expect("valid rule");
        rule.z = Some(params.z);
        rule.min_ratio = Some(params.min_ratio);
        rule.for_windows = Some(params.for_windows);
        rule.resolve_after = Some(params.resolve_after);
        rule.min_volume = Some(params.min_volume);
        // One day of history at any window length.
        rule.warmup_windows = Some((86_400 / params.window_secs) as u32);
        rule
    };
    AlertConfig {
        window_secs: params.window_secs,
        rules: vec![rule("negative-spike", "negative_share"), rule("volume-spike", "volume"), rule("complaint-spike", "complaints")],
        ..AlertConfig::default()
    }
}

/// One scenario's figures.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Outcome {
    pub scenario: String,
    pub days: f64,
    pub incidents: usize,
    pub detected: usize,
    pub alerts: usize,
    pub true_alerts: usize,
    /// Detection delays of the detected incidents, in minutes.
    pub delays: Vec<f64>,
}

impl Outcome {
    pub fn precision(&self) -> Option<f64> {
        (self.alerts > 0).then(|| self.true_alerts as f64 / self.alerts as f64)
    }
    pub fn recall(&self) -> Option<f64> {
        (self.incidents > 0).then(|| self.detected as f64 / self.incidents as f64)
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
    pub fn false_alarms_per_day(&self) -> f64 {
        (self.alerts - self.true_alerts) as f64 / self.days
    }

    fn add(&mut self, other: &Outcome) {
        self.days += other.days;
        self.incidents += other.incidents;
        self.detected += other.detected;
        self.alerts += other.alerts;
        self.true_alerts += other.true_alerts;
        self.delays.extend(&other.delays);
    }
}

/// Runs the detector over one stream of a scenario.
pub fn run(scenario: &Scenario, stream: &[EnrichedMention], config: &AlertConfig) -> Outcome {
    let engine = Engine::new(RuleSet::new(config));
    let mut state = PartitionState::default();
    let now: DateTime<Utc> = DateTime::UNIX_EPOCH;
    let incidents: Vec<_> = scenario.episodes.iter().filter(|e| e.incident).collect();
    let mut first_detection: Vec<Option<i64>> = vec![None; incidents.len()];
    let mut outcome = Outcome { scenario: scenario.name.to_string(), days: scenario.days as f64, incidents: incidents.len(), ..Outcome::default() };
    for mention in stream {
        let observed = engine.observe(&mut state, mention, now);
        for _firing in observed.alerts.iter().filter(|a| a.state == AlertState::Firing) {
            let fired_at = mention.mention.created_at.timestamp();
            outcome.alerts += 1;
            let mut matched = false;
            for (i, incident) in incidents.iter().enumerate() {
                if incident.start <= fired_at && fired_at <= incident.end + GRACE_SECS {
                    matched = true;
                    first_detection[i].get_or_insert(fired_at);
                }
            }
            if matched {
                outcome.true_alerts += 1;
            }
        }
    }
    for (incident, detection) in incidents.iter().zip(&first_detection) {
        if let Some(t) = detection {
            outcome.detected += 1;
            outcome.delays.push((t - incident.start) as f64 / 60.0);
        }
    }
    outcome
}

/// Every scenario over every seed, with one outcome per scenario (seeds summed) and the total last.
pub fn evaluate(scenarios: &[Scenario], streams: &[Vec<Vec<EnrichedMention>>], config: &AlertConfig) -> Vec<Outcome> {
    let mut rows = Vec::new();
    let mut total = Outcome { scenario: "all scenarios".into(), ..Outcome::default() };
    for (scenario, seeds) in scenarios.iter().zip(streams) {
        let mut row = Outcome { scenario: scenario.name.to_string(), ..Outcome::default() };
        for stream in seeds {
            row.add(&run(scenario, stream, config));
        }
        total.add(&row);
        rows.push(row);
    }
    rows.push(total);
    rows
}

/// The outcomes as a Markdown table.
pub fn table(rows: &[Outcome]) -> String {
    let pct = |x: Option<f64>| x.map_or("–".to_string(), |x| format!("{:.0}%", x * 100.0));
    let mut out = String::from(
        "| scenario | incidents | detected | alerts | precision | recall | median delay | false alarms/day |\n|---|---|---|---|---|---|---|---|\n",
    );
    for r in rows {
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} | {} | {:.2} |",
            r.scenario,
            r.incidents,
            r.detected,
            r.alerts,
            pct(r.precision()),
            pct(r.recall()),
            r.median_delay().map_or("–".to_string(), |d| format!("{d:.0} min")),
            r.false_alarms_per_day()
        );
    }
    out
}

/// The streams of every scenario for the given seeds.
pub fn streams(scenarios: &[Scenario], seeds: &[u64]) -> Vec<Vec<Vec<EnrichedMention>>> {
    scenarios.iter().map(|s| seeds.iter().map(|seed| s.generate(*seed)).collect()).collect()
}

/// What `hark alert-eval` prints: with `grid`, the overall figures of several settings around
/// the defaults first; then the table of the defaults per scenario.
pub fn report(seeds: &[u64], grid: bool) -> String {
    let scenarios = crate::synth::scenarios();
    let streams = streams(&scenarios, seeds);
    let mut out = format!("seeds {seeds:?}; {} scenarios of {} days each\n\n", scenarios.len(), scenarios[0].days);
    if grid {
        out.push_str("| window | z | for_windows | min_ratio | precision | recall | median delay | false alarms/day |\n|---|---|---|---|---|---|---|---|\n");
        let d = Params::default();
        let mut grid: Vec<Params> = Vec::new();
        for z in [2.5, 3.0, 4.0] {
            for for_windows in [1, 2, 3] {
                grid.push(Params { z, for_windows, ..d });
            }
        }
        grid.push(Params { min_volume: 5, ..d });
        grid.push(Params { min_ratio: 1.2, ..d });
        grid.push(Params { window_secs: 600, for_windows: 1, ..d });
        grid.push(Params { window_secs: 600, ..d });
        for params in grid {
            let rows = evaluate(&scenarios, &streams, &rules(&params));
            let all = rows.last().expect("a total row");
            let pct = |x: Option<f64>| x.map_or("–".to_string(), |x| format!("{:.1}%", x * 100.0));
            let _ = writeln!(
                out,
                "| {}m | {} | {} | {} | {} | {} | {} | {:.2} |",
                params.window_secs / 60,
                params.z,
                params.for_windows,
                params.min_ratio,
                pct(all.precision()),
                pct(all.recall()),
                all.median_delay().map_or("–".into(), |d| format!("{d:.0} min")),
                all.false_alarms_per_day()
            );
        }
        out.push('\n');
    }
    let params = Params::default();
    let _ = writeln!(
        out,
        "defaults: window {}m, z {}, min_ratio {}, for_windows {}, resolve_after {}, min_volume {}\n",
        params.window_secs / 60,
        params.z,
        params.min_ratio,
        params.for_windows,
        params.resolve_after,
        params.min_volume
    );
    out.push_str(&table(&evaluate(&scenarios, &streams, &rules(&params))));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::synth::scenarios;

    #[test]
    fn defaults_catch_large_waves_and_stay_quiet_on_steady_traffic() {
        let all = scenarios();
        let pick = |name: &str| all.iter().find(|s| s.name.starts_with(name)).unwrap().clone();
        let config = rules(&Params::default());
        let steady = pick("steady");
        let quiet = run(&steady, &steady.generate(101), &config);
        assert!(quiet.alerts <= 1, "steady traffic raised {} alerts", quiet.alerts);
        let large = pick("negative wave, large");
        let caught = run(&large, &large.generate(101), &config);
        assert_eq!(caught.detected, caught.incidents, "{caught:?}");
        assert!(caught.median_delay().unwrap() <= 20.0, "{caught:?}");
        let blips = pick("noise: one-window");
        let noise = run(&blips, &blips.generate(101), &config);
        assert!(noise.alerts <= 1, "one-window blips raised {} alerts", noise.alerts);
    }
}
