//! Window rules: what each event-time window of a series counted, and the judgement of each
//! window once it closes — by a fixed bound (`threshold`) or against the learned baseline
//! (`spike`).
//!
//! **How a spike is judged.** Each closed window gets a [`Score`]: its excess over the
//! baseline and its noise variance. The last `for_windows` to `max_windows` windows are then
//! judged together: their excesses summed, each capped at [`WINDOW_CAP`] standard deviations,
//! over the square root of their summed variances. The cap is the persistence gate: it is set so
//! that fewer than `for_windows` windows can never reach `z` alone, however extreme (a blip),
//! while `for_windows` strong windows fire (ten minutes with the defaults) and a thin brand's
//! wave is seen over an hour of windows that are each only a little high.

use std::collections::{BTreeMap, VecDeque};

use crate::config::{AlertMetric, SpikeRule, ThresholdRule};
use serde::{Deserialize, Serialize};

use crate::{
    baseline::{Baseline, Score},
    detector::{Detector, Evidence, Judgement},
    rules::Contribution,
};

/// The most one window adds to a span's evidence, in its own standard deviations:
/// `z / sqrt(for_windows - CAP_SLACK)`, so that `for_windows` windows at the cap reach `z` and
/// one window fewer cannot.
const CAP_SLACK: f64 = 0.5;
/// The last `for_windows` windows below this many standard deviations above their baseline are
/// back to normal.
const NORMAL_BELOW_Z: f64 = 1.0;

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
    /// Counts one mention; true when it became one of the window's samples.
    pub fn add(&mut self, c: Contribution, t: i64, id: &str, max_samples: usize) -> bool {
        self.volume += 1;
        if !c.hit {
            return false;
        }
        self.hits += 1;
        self.sum += c.weight;
        self.first_event = Some(self.first_event.map_or(t, |f| f.min(t)));
        let entry = (t, id.to_string());
        let at = self.samples.partition_point(|s| s < &entry);
        if at < max_samples && self.samples.get(at) != Some(&entry) {
            self.samples.insert(at, entry);
            self.samples.truncate(max_samples);
            return true;
        }
        false
    }

    /// What the metric measures of the window: hits for counts and shares, followers for reach.
    pub(crate) fn measure(&self, metric: AlertMetric) -> f64 {
        if metric == AlertMetric::Reach {
            self.sum
        } else {
            self.hits as f64
        }
    }

    fn sample_ids(&self) -> Vec<String> {
        self.samples.iter().map(|(_, id)| id.clone()).collect()
    }
}

/// A closed window of a spike series, kept while it can still be judged with later ones.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Scored {
    pub start: i64,
    pub score: Score,
    pub volume: u64,
    pub hits: u64,
    pub first_event: Option<i64>,
    pub samples: Vec<String>,
}

/// One rule × labels of a window rule.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Series {
    pub rule: String,
    /// The rule's [`crate::rules::Rule::identity`] when the series was made.
    pub identity: String,
    pub labels: BTreeMap<String, String>,
    /// Windows not yet closed, by start (seconds).
    pub open: BTreeMap<i64, Counts>,
    pub baseline: Baseline,
    /// Spike rules: the last closed windows, oldest first.
    #[serde(default)]
    pub recent: VecDeque<Scored>,
    pub detector: Detector,
    pub last_seen: i64,
}

impl Series {
    pub fn new(rule: &str, identity: &str, labels: BTreeMap<String, String>, t: i64) -> Series {
        Series {
            rule: rule.to_string(),
            identity: identity.to_string(),
            labels,
            open: BTreeMap::new(),
            baseline: Baseline::default(),
            recent: VecDeque::new(),
            detector: Detector::default(),
            last_seen: t,
        }
    }
}

/// A window's value in the metric's unit: a count, a share, or followers reached.
pub(crate) fn value(metric: AlertMetric, counts: &Counts) -> f64 {
    match metric {
        AlertMetric::NegativeShare | AlertMetric::SpamShare | AlertMetric::ComplaintShare => {
            if counts.volume == 0 {
                0.0
            } else {
                counts.hits as f64 / counts.volume as f64
            }
        }
        AlertMetric::Volume | AlertMetric::Complaints | AlertMetric::Negatives => counts.hits as f64,
        AlertMetric::Reach => counts.sum,
    }
}

/// Judges a closed window against a fixed bound.
pub fn judge_threshold(rule: &ThresholdRule, start: i64, end: i64, counts: &Counts) -> Judgement {
    let observed = value(rule.metric, counts);
    let anomalous = counts.volume >= rule.min_volume && observed >= rule.above;
    let evidence = Evidence {
        start,
        first_event: counts.first_event,
        observed,
        expected: rule.above,
        volume: counts.volume,
        hits: counts.hits,
        samples: counts.sample_ids(),
    };
    Judgement { end, anomalous: anomalous.then_some(evidence), normal: !anomalous }
}

/// Scores a closed window against the series' baseline, teaches the baseline, and judges the
/// last windows together (see the module's doc).
pub fn judge_spike(rule: &SpikeRule, series: &mut Series, start: i64, end: i64, counts: &Counts, windows_per_day: f64) -> Judgement {
    let metric = rule.metric;
    let hour = (start.rem_euclid(86_400) / 3600) as usize;
    let measure = counts.measure(metric);
    let warm = series.baseline.windows >= rule.warmup_windows;
    let score = series.baseline.score(metric, hour, windows_per_day, measure, counts.volume);
    // A share of a thin window says little: it does not teach the baseline.
    if !metric.is_share() || counts.volume >= rule.min_volume.min(5) {
        let firing = series.detector.firing.is_some();
        series.baseline.learn(metric, hour, windows_per_day, measure, counts.volume, firing);
    }
    let Some(score) = score else {
        series.recent.clear();
        return Judgement { end, anomalous: None, normal: true };
    };
    series.recent.push_back(Scored {
        start,
        score,
        volume: counts.volume,
        hits: counts.hits,
        first_event: counts.first_event,
        samples: counts.sample_ids(),
    });
    while series.recent.len() > rule.max_windows as usize {
        series.recent.pop_front();
    }
    // The last `for_windows` windows together must be high: an hour-long span must not keep
    // an alert firing (or fire it) after the wave is over.
    let latest = series.recent.iter().rev().take(rule.for_windows as usize);
    let (excess, variance) = latest.fold((0.0, 0.0), |(e, v), w| (e + w.score.excess, v + w.score.variance));
    let normal = variance <= 0.0 || excess / variance.sqrt() < NORMAL_BELOW_Z;
    // And the window itself: the first window after a wave is not part of it, even while the
    // last two together still look high.
    let high_now = score.z() >= NORMAL_BELOW_Z;
    if !warm || normal || !high_now {
        return Judgement { end, anomalous: None, normal };
    }
    let anomalous = strongest_span(rule, &series.recent, &series.baseline);
    Judgement { end, anomalous, normal }
}

/// The span of the last windows with the strongest evidence that passes the rule, if any.
///
/// Counts and shares are judged on their hits (mentions, complaints, negative mentions) pooled
/// over the span against the hits expected, through the Anscombe square root: a handful of
/// complaints where one is expected is far likelier than a normal approximation says, and the
/// square root says so. Each window's hits are first capped where that window alone would score
/// the cap (see [`CAP_SLACK`]), and a span's score is shrunk as much as the series' noise is
/// slow ([`Baseline::span_inflation`]).
fn strongest_span(rule: &SpikeRule, recent: &VecDeque<Scored>, baseline: &Baseline) -> Option<Evidence> {
    let metric = rule.metric;
    let cap = rule.z / (f64::from(rule.for_windows) - CAP_SLACK).sqrt();
    let mut best: Option<(f64, Evidence)> = None;
    let (mut x_sum, mut m_sum, mut variance, mut volume, mut hits) = (0.0, 0.0, 0.0, 0u64, 0u64);
    let (mut observed_sum, mut expected_sum) = (0.0, 0.0);
    for (len, w) in recent.iter().rev().enumerate().map(|(i, w)| (i as u32 + 1, w)) {
        let (x, m) = capped_hits(metric, w, cap);
        x_sum += x;
        m_sum += m;
        variance += w.score.variance;
        volume += w.volume;
        hits += w.hits;
        let weight = if metric.is_share() { w.volume as f64 } else { 1.0 };
        observed_sum += w.score.observed * weight;
        expected_sum += w.score.expected * weight;
        if len < rule.for_windows || variance <= 0.0 {
            continue;
        }
        let z = if metric == AlertMetric::Reach {
            (x_sum - m_sum) / variance.sqrt()
        } else {
            anscombe(x_sum, m_sum) / (variance / m_sum.max(1e-3)).sqrt()
        } / baseline.span_inflation(len).sqrt();
        let ratio = if expected_sum > 0.0 { observed_sum / expected_sum } else { f64::INFINITY };
        if z < rule.z || ratio < rule.min_ratio() || volume < rule.min_volume || best.as_ref().is_some_and(|(b, _)| *b >= z) {
            continue;
        }
        let span: Vec<&Scored> = recent.iter().rev().take(len as usize).collect();
        // The evidence begins at the span's first window that held more than expected.
        let begins = span.iter().rev().find(|w| w.score.excess > 0.0).map_or(w.start, |w| w.start);
        let divisor = if metric.is_share() { volume as f64 } else { f64::from(len) };
        let divisor = divisor.max(1.0);
        best = Some((
            z,
            Evidence {
                start: begins,
                first_event: span.iter().filter(|w| w.start >= begins).filter_map(|w| w.first_event).min(),
                observed: observed_sum / divisor,
                expected: expected_sum / divisor,
                volume,
                hits,
                samples: span.iter().rev().filter(|w| w.start >= begins).flat_map(|w| w.samples.iter().cloned()).collect(),
            },
        ));
    }
    best.map(|(_, evidence)| evidence)
}

/// The Anscombe distance of `x` hits from `m` expected, in Poisson standard deviations.
fn anscombe(x: f64, m: f64) -> f64 {
    2.0 * ((x.max(0.0) + 0.375).sqrt() - (m + 0.375).sqrt())
}

/// A window's hits, capped where the window alone would score `cap` deviations, and the hits
/// expected. Reach is judged on its log scale, where the excess is all there is.
fn capped_hits(metric: AlertMetric, w: &Scored, cap: f64) -> (f64, f64) {
    let sd = w.score.variance.sqrt();
    if metric == AlertMetric::Reach {
        return (w.score.excess.clamp(-cap * sd, cap * sd), 0.0);
    }
    let x = w.hits as f64;
    let m = x - w.score.excess;
    if w.score.variance <= 0.0 || m <= 0.0 {
        return (x, m.max(0.0));
    }
    // Overdispersion widens a Poisson deviation by sqrt(variance / m).
    let root = (m + 0.375).sqrt() + cap * (w.score.variance / m).sqrt() / 2.0;
    (x.min(root * root - 0.375), m)
}

#[cfg(test)]
mod tests {
    use super::*;

    const PER_DAY: f64 = 288.0;

    fn rule() -> SpikeRule {
        toml::from_str("name = \"s\"\nmetric = \"volume\"\nmin_volume = 5").unwrap()
    }

    fn counts(n: u64) -> Counts {
        Counts { volume: n, hits: n, sum: n as f64, first_event: Some(0), samples: Vec::new() }
    }

    /// Feeds windows of the given counts; returns the indexes of anomalous windows.
    fn anomalous(values: &[u64]) -> Vec<usize> {
        let rule = rule();
        let mut series = Series::new("s", "", BTreeMap::new(), 0);
        values
            .iter()
            .enumerate()
            .filter_map(|(i, n)| {
                let start = i as i64 * 300;
                judge_spike(&rule, &mut series, start, start + 300, &counts(*n), PER_DAY).anomalous.map(|_| i)
            })
            .collect()
    }

    #[test]
    fn one_extreme_window_is_not_enough_but_two_strong_ones_are() {
        let mut steady = vec![20; 40];
        steady.push(200);
        steady.extend([20; 5]);
        assert!(anomalous(&steady).is_empty(), "a one-window blip");
        let mut wave = vec![20; 40];
        wave.extend([80, 80, 80]);
        assert_eq!(anomalous(&wave), vec![41, 42]);
    }

    #[test]
    fn a_thin_series_fires_on_a_long_wave() {
        // One mention a window, then four a window for an hour.
        let mut thin: Vec<u64> = (0..60).map(|i| [1, 0, 2, 1, 1][i % 5]).collect();
        thin.extend((0..12).map(|i| [4, 5, 3, 4][i % 4]));
        let fired = anomalous(&thin);
        assert!(!fired.is_empty() && fired[0] >= 62, "{fired:?}");
    }
}
