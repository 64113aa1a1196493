//! The life of one window-rule series: normal → pending (anomalous windows, not yet enough) →
//! firing → (enough normal windows) → resolved, which is normal again.
//!
//! The persistence gate (`for_windows` anomalous windows in a row before firing) keeps a single
//! noisy window from paging anyone; `resolve_after` normal windows in a row keep a flapping
//! series from resolving and firing again every window.

use serde::{Deserialize, Serialize};

/// One closed window as the detector sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct WindowVerdict {
    pub start: i64,
    pub end: i64,
    pub anomalous: bool,
    pub observed: f64,
    pub expected: f64,
    /// Counted mentions in the window.
    pub volume: u64,
    /// Mentions of the window that the metric counts (negative ones for a negative share…).
    pub hits: u64,
    /// Event time (seconds) of the earliest counted mention, if any.
    pub first_event: Option<i64>,
    pub samples: Vec<String>,
}

/// A series' alert while it fires.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Firing {
    /// Start of the first anomalous window of the run.
    pub starts_at: i64,
    pub first_event: Option<i64>,
    /// The window that fired the alert.
    pub observed: f64,
    pub expected: f64,
    pub volume: u64,
    pub hits: u64,
    /// The largest value seen while firing.
    pub peak: f64,
    pub samples: Vec<String>,
    /// End of the last anomalous window.
    pub last_anomalous_end: i64,
}

/// What a window changed.
#[derive(Debug, Clone, PartialEq)]
pub enum Transition {
    Fired(Firing),
    /// The alert that resolved, and when its condition stopped holding.
    Resolved { firing: Firing, ends_at: i64 },
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Detector {
    /// Anomalous windows in a row, and what the run has seen so far.
    anomalous_run: u32,
    run_start: i64,
    run_first_event: Option<i64>,
    run_samples: Vec<String>,
    /// Normal windows in a row while firing.
    normal_run: u32,
    pub firing: Option<Firing>,
}

impl Detector {
    /// True while nothing is pending or firing: the series can be forgotten when idle.
    pub fn is_quiet(&self) -> bool {
        self.firing.is_none() && self.anomalous_run == 0
    }

    pub fn step(&mut self, w: WindowVerdict, for_windows: u32, resolve_after: u32, max_samples: usize) -> Option<Transition> {
        if w.anomalous {
            if self.anomalous_run == 0 {
                self.run_start = w.start;
                self.run_first_event = None;
                self.run_samples.clear();
            }
            self.anomalous_run += 1;
            self.normal_run = 0;
            self.run_first_event = match (self.run_first_event, w.first_event) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
            for id in &w.samples {
                if self.run_samples.len() < max_samples && !self.run_samples.contains(id) {
                    self.run_samples.push(id.clone());
                }
            }
            if let Some(firing) = &mut self.firing {
                firing.peak = firing.peak.max(w.observed);
                firing.last_anomalous_end = w.end;
                return None;
            }
            if self.anomalous_run >= for_windows {
                let firing = Firing {
                    starts_at: self.run_start,
                    first_event: self.run_first_event,
                    observed: w.observed,
                    expected: w.expected,
                    volume: w.volume,
                    hits: w.hits,
                    peak: w.observed,
                    samples: self.run_samples.clone(),
                    last_anomalous_end: w.end,
                };
                self.firing = Some(firing.clone());
                return Some(Transition::Fired(firing));
            }
            return None;
        }
        self.anomalous_run = 0;
        let firing = self.firing.as_ref()?;
        self.normal_run += 1;
        if self.normal_run < resolve_after {
            return None;
        }
        let ends_at = firing.last_anomalous_end;
        self.normal_run = 0;
        let firing = self.firing.take()?;
        Some(Transition::Resolved { firing, ends_at })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn window(i: i64, anomalous: bool) -> WindowVerdict {
        WindowVerdict {
            start: i * 300,
            end: (i + 1) * 300,
            anomalous,
            observed: if anomalous { 0.8 } else { 0.2 },
            expected: 0.2,
            volume: 40,
            hits: 32,
            first_event: Some(i * 300 + 7),
            samples: vec![format!("twitter:{i}")],
        }
    }

    fn run(pattern: &str, for_windows: u32, resolve_after: u32) -> Vec<(usize, &'static str)> {
        let mut d = Detector::default();
        pattern
            .chars()
            .enumerate()
            .filter_map(|(i, c)| {
                d.step(window(i as i64, c == 'x'), for_windows, resolve_after, 3).map(|t| match t {
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
        assert_eq!(run("x", 1, 1), vec![(0, "fired")]);
    }

    #[test]
    fn firing_remembers_where_the_run_began() {
        let mut d = Detector::default();
        assert!(d.step(window(4, true), 2, 1, 3).is_none());
        let Some(Transition::Fired(f)) = d.step(window(5, true), 2, 1, 3) else { panic!("should fire") };
        assert_eq!(f.starts_at, 1200);
        assert_eq!(f.first_event, Some(1207));
        assert_eq!(f.samples, vec!["twitter:4", "twitter:5"]);
        let Some(Transition::Resolved { ends_at, .. }) = d.step(window(6, false), 2, 1, 3) else { panic!("should resolve") };
        assert_eq!(ends_at, 1800);
        assert!(d.is_quiet());
    }
}
