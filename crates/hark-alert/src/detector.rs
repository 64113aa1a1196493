//! The life of one window-rule series: normal → pending → firing → resolved, which is normal again.
//!
//! Each closed window comes with a [`Judgement`]: anomalous (with the evidence), normal, or
//! neither (still high, not high enough to count as anomalous on its own). `for_windows`
//! anomalous judgements in a row fire the alert; `resolve_after` normal ones in a row resolve it,
//! so a flapping series does not resolve and fire again every window.

use serde::{Deserialize, Serialize};

/// What made a window anomalous: the windows judged together, and what they held.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Evidence {
    /// Start of the earliest window the evidence comes from.
    pub start: i64,
    /// Event time of the earliest mention counted by the metric in those windows.
    pub first_event: Option<i64>,
    pub observed: f64,
    pub expected: f64,
    /// Counted mentions, and those the metric counts (negative ones for a negative share…).
    pub volume: u64,
    pub hits: u64,
    pub samples: Vec<String>,
}

/// One closed window as the detector sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct Judgement {
    pub end: i64,
    pub anomalous: Option<Evidence>,
    /// Back to normal: counts towards resolving.
    pub normal: bool,
}

/// A series' alert while it fires.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Firing {
    pub evidence: Evidence,
    /// The largest value seen while firing.
    pub peak: f64,
    /// End of the last anomalous window.
    pub last_anomalous_end: i64,
}

/// What a window changed.
#[derive(Debug, Clone, PartialEq)]
pub enum Transition {
    Fired(Firing),
    /// The alert that resolved, and when its condition stopped holding.
    Resolved {
        firing: Firing,
        ends_at: i64,
    },
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Detector {
    /// Anomalous windows in a row, and the evidence of the first of them.
    anomalous_run: u32,
    run_evidence: Option<Evidence>,
    /// Normal windows in a row while firing.
    normal_run: u32,
    pub firing: Option<Firing>,
}

impl Detector {
    /// True while nothing is pending or firing: the series can be forgotten when idle.
    pub fn is_quiet(&self) -> bool {
        self.firing.is_none() && self.anomalous_run == 0
    }

    pub fn step(&mut self, j: Judgement, for_windows: u32, resolve_after: u32, max_samples: usize) -> Option<Transition> {
        if let Some(evidence) = j.anomalous {
            self.anomalous_run += 1;
            self.normal_run = 0;
            if let Some(firing) = &mut self.firing {
                firing.peak = firing.peak.max(evidence.observed);
                firing.last_anomalous_end = j.end;
                return None;
            }
            let run = self.run_evidence.get_or_insert_with(|| evidence.clone());
            // The run began where its first evidence began; the latest window says how bad it is.
            let merged = Evidence {
                start: run.start.min(evidence.start),
                first_event: [run.first_event, evidence.first_event].into_iter().flatten().min(),
                samples: merge_samples(&run.samples, &evidence.samples, max_samples),
                ..evidence
            };
            *run = merged.clone();
            if self.anomalous_run < for_windows {
                return None;
            }
            self.run_evidence = None;
            let firing = Firing { peak: merged.observed, last_anomalous_end: j.end, evidence: merged };
            self.firing = Some(firing.clone());
            return Some(Transition::Fired(firing));
        }
        self.anomalous_run = 0;
        self.run_evidence = None;
        self.firing.as_ref()?;
        if !j.normal {
            self.normal_run = 0;
            return None;
        }
        self.normal_run += 1;
        if self.normal_run < resolve_after {
            return None;
        }
        self.normal_run = 0;
        let firing = self.firing.take()?;
        let ends_at = firing.last_anomalous_end;
        Some(Transition::Resolved { firing, ends_at })
    }
}

fn merge_samples(a: &[String], b: &[String], max: usize) -> Vec<String> {
    let mut out: Vec<String> = a.to_vec();
    for id in b {
        if out.len() < max && !out.contains(id) {
            out.push(id.clone());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn window(i: i64, c: char) -> Judgement {
        let evidence = Evidence {
            start: i * 300,
            first_event: Some(i * 300 + 7),
            observed: 0.8,
            expected: 0.2,
            volume: 40,
            hits: 32,
            samples: vec![format!("twitter:{i}")],
        };
        Judgement { end: (i + 1) * 300, anomalous: (c == 'x').then_some(evidence), normal: c == '.' }
    }

    fn run(pattern: &str, for_windows: u32, resolve_after: u32) -> Vec<(usize, &'static str)> {
        let mut d = Detector::default();
        pattern
            .chars()
            .enumerate()
            .filter_map(|(i, c)| {
                d.step(window(i as i64, c), for_windows, resolve_after, 3).map(|t| match t {
                    Transition::Fired(_) => (i, "fired"),
                    Transition::Resolved { .. } => (i, "resolved"),
                })
            })
            .collect()
    }

    #[test]
    fn fires_after_persistence_and_resolves_after_normal_windows() {
        assert_eq!(run("..xxx....", 2, 3), vec![(3, "fired"), (7, "resolved")]);
        // A lone anomalous window is noise.
        assert_eq!(run("..x.x..x.", 2, 3), vec![]);
        // A short dip while firing does not resolve it.
        assert_eq!(run(".xx.x.x....", 2, 3), vec![(2, "fired"), (9, "resolved")]);
        // Still high but not anomalous (`~`) neither fires nor resolves.
        assert_eq!(run("x~~~..~...", 1, 3), vec![(0, "fired"), (9, "resolved")]);
        assert_eq!(run("x", 1, 1), vec![(0, "fired")]);
    }

    #[test]
    fn firing_remembers_where_the_run_began() {
        let mut d = Detector::default();
        assert!(d.step(window(4, 'x'), 2, 1, 3).is_none());
        let Some(Transition::Fired(f)) = d.step(window(5, 'x'), 2, 1, 3) else { panic!("should fire") };
        assert_eq!(f.evidence.start, 1200);
        assert_eq!(f.evidence.first_event, Some(1207));
        assert_eq!(f.evidence.samples, vec!["twitter:4", "twitter:5"]);
        let Some(Transition::Resolved { ends_at, .. }) = d.step(window(6, '.'), 2, 1, 3) else { panic!("should resolve") };
        assert_eq!(ends_at, 1800);
        assert!(d.is_quiet());
    }
}
