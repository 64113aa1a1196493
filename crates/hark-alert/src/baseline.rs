//! The learned baseline of one series: what a window is expected to hold, and how much it
//! normally strays from that, so a window can be scored in standard deviations of its own noise.
//!
//! - **Counts** (volume, complaints): expected = a short-memory level × the hour-of-day profile.
//!   The level follows the last hour or so, so a brand seen for the first time has a baseline
//!   within an hour and weekly cycles or growth are followed within hours; the profile (learned
//!   over days, flat until then) keeps the morning rise from looking like a surge. Noise is
//!   Poisson plus overdispersion: variance `μ + φμ²`, with φ learned (real mention streams vary
//!   far more than Poisson from one window to the next).
//! - **Shares** (negative, spam): expected = a level learned from the counts of the last hours;
//!   noise is binomial for the window's volume plus a learned between-window spread τ, so a thin
//!   window counts for little and a thick one for much.
//! - **Reach**: on a log scale, a level and the spread of its residuals (one big author moves it).
//!
//! Every update is robust: a residual is clipped at [`CLIP`] deviations before it teaches, so
//! a wave moves the baseline little and a lasting change of level is still learned over hours.
//! While the series fires, learning is slower still, so a long wave does not become normal.

use crate::config::AlertMetric;
use serde::{Deserialize, Serialize};

/// Residuals are clipped at this many deviations before they move the level, and at
/// [`NOISE_CLIP`] before they teach the noise: a wave moves the level by little more than a
/// deviation an hour, while a real change of level is still learned within hours.
const CLIP: f64 = 1.0;
const NOISE_CLIP: f64 = 3.0;
/// A share's spread τ is a small correction to its binomial noise, learned from squared residuals
/// over n²: a wave that brings many more mentions than usual, each window clipped at NOISE_CLIP
/// deviations, outweighs a day of ordinary windows and took τ from 0.02 to 0.13, blinding the
/// series to the next wave for days. So once this many windows are learned, a share's windows
/// beyond NOISE_CLIP deviations teach its noise nothing. Counts still learn from theirs, clipped:
/// their overdispersion is large in real streams, and leaving big windows out underestimated it
/// (1.21 false alarms per brand-week against 0.54 on the field generator's tuning seeds).
const SHARE_OUTLIERS_TEACH_AFTER: u32 = 12;
/// Memory of the count level and of the share level, in hours.
const LEVEL_MEMORY_HOURS: f64 = 2.0;
const SHARE_MEMORY_HOURS: f64 = 6.0;
/// Memory of the hour-of-day profile and of the noise estimates, in days.
const PROFILE_MEMORY_DAYS: f64 = 7.0;
const NOISE_MEMORY_DAYS: f64 = 1.0;
/// A profile slot is used once it has seen this many days of its hour.
const PROFILE_TRUSTED_AFTER_DAYS: f64 = 1.0;
/// While firing, the memories are this many times longer.
const FIRING_SLOWDOWN: f64 = 4.0;
/// The least overdispersion assumed for counts (φ) and the least spread of a share (τ): no
/// stream is as regular as Poisson or binomial noise alone.
const MIN_PHI: f64 = 0.01;
const MIN_TAU: f64 = 0.02;

/// What the baseline makes of one window.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Score {
    /// The metric's value: a count, a share, or followers reached.
    pub observed: f64,
    pub expected: f64,
    /// What the window holds beyond the expected, in the unit the noise is measured in (counts
    /// for counts and shares, log-followers for reach).
    pub excess: f64,
    /// The window's noise variance in that unit; 0 when the window says nothing (a share of no
    /// mentions).
    pub variance: f64,
}

impl Score {
    /// Standard deviations above the expected value.
    pub fn z(&self) -> f64 {
        if self.variance > 0.0 {
            self.excess / self.variance.sqrt()
        } else {
            0.0
        }
    }
}

/// An exponentially weighted mean that starts as a plain mean.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
struct Ewma {
    value: f64,
    n: u32,
}

impl Ewma {
    fn update(&mut self, x: f64, memory: f64) {
        let alpha = (1.0 / f64::from(self.n + 1)).max(1.0 / memory.max(1.0));
        self.value += alpha * (x - self.value);
        self.n = self.n.saturating_add(1);
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Baseline {
    /// Counts: level per window with the profile divided out. Shares: hits per window.
    level: Ewma,
    /// Shares: counted mentions per window (the share's level is `level / volume`).
    volume: Ewma,
    /// Counts: each hour of the day's mean per window, over days.
    profile: Vec<Ewma>,
    /// Noise: mean squared residual, mean expected value and mean squared expected value, for
    /// the overdispersion φ (counts), the spread τ² (shares) or the variance (reach).
    sq_residual: Ewma,
    mean_expected: Ewma,
    sq_expected: Ewma,
    /// Lag-one autocorrelation of the standardised residuals: mean of r(t)·r(t−1) and of r(t)²,
    /// and the last r. Slow noise (a rate that wanders for an hour) makes windows in a row
    /// agree, and a span of them is then weaker evidence than independent windows would be.
    #[serde(default)]
    lag_product: Ewma,
    #[serde(default)]
    sq_standardised: Ewma,
    #[serde(default)]
    last_standardised: Option<f64>,
    /// Windows learned, for the warm-up gate.
    pub windows: u32,
}

impl Default for Baseline {
    fn default() -> Self {
        Baseline {
            level: Ewma::default(),
            volume: Ewma::default(),
            profile: vec![Ewma::default(); 24],
            sq_residual: Ewma::default(),
            mean_expected: Ewma::default(),
            sq_expected: Ewma::default(),
            lag_product: Ewma::default(),
            sq_standardised: Ewma::default(),
            last_standardised: None,
            windows: 0,
        }
    }
}

/// The windows a memory in hours spans.
fn windows(hours: f64, windows_per_day: f64) -> f64 {
    hours * windows_per_day / 24.0
}

impl Baseline {
    /// How `hour` compares with the average hour, once every hour has been seen for a day.
    fn profile_factor(&self, hour: usize, windows_per_day: f64) -> f64 {
        let trusted = |e: &Ewma| f64::from(e.n) >= PROFILE_TRUSTED_AFTER_DAYS * windows(1.0, windows_per_day);
        if !self.profile.iter().all(trusted) {
            return 1.0;
        }
        let mean = self.profile.iter().map(|e| e.value).sum::<f64>() / 24.0;
        if mean > 0.0 {
            (self.profile[hour].value / mean).clamp(0.05, 20.0)
        } else {
            1.0
        }
    }

    fn phi(&self) -> f64 {
        let (sq, mu, mu2) = (self.sq_residual.value, self.mean_expected.value, self.sq_expected.value);
        if mu2 <= 0.0 {
            MIN_PHI
        } else {
            ((sq - mu) / mu2).clamp(MIN_PHI, 2.0)
        }
    }

    fn tau2(&self) -> f64 {
        let (sq, binomial, n2) = (self.sq_residual.value, self.mean_expected.value, self.sq_expected.value);
        if n2 <= 0.0 {
            MIN_TAU * MIN_TAU
        } else {
            ((sq - binomial) / n2).clamp(MIN_TAU * MIN_TAU, 0.25)
        }
    }

    /// Scores a window of `hour` (0–23, UTC) in which the metric observed `hits` (or the sum of
    /// followers for reach) among `volume` counted mentions. `None` before anything was learned.
    pub fn score(&self, metric: AlertMetric, hour: usize, windows_per_day: f64, hits: f64, volume: u64) -> Option<Score> {
        if self.windows == 0 {
            return None;
        }
        let n = volume as f64;
        Some(match metric {
            AlertMetric::Volume | AlertMetric::Complaints | AlertMetric::Negatives => {
                let mu = (self.level.value * self.profile_factor(hour, windows_per_day)).max(0.05);
                Score { observed: hits, expected: mu, excess: hits - mu, variance: mu + self.phi() * mu * mu }
            }
            AlertMetric::NegativeShare | AlertMetric::SpamShare | AlertMetric::ComplaintShare => {
                let p = self.share();
                let observed = if volume == 0 { 0.0 } else { hits / n };
                let variance = n * p * (1.0 - p) + n * n * self.tau2();
                Score { observed, expected: p, excess: hits - n * p, variance }
            }
            AlertMetric::Reach => {
                let spread = self.sq_residual.value.sqrt().max(0.5);
                Score {
                    observed: hits,
                    expected: self.level.value.exp_m1().max(0.0),
                    excess: hits.ln_1p() - self.level.value,
                    variance: spread * spread,
                }
            }
        })
    }

    /// How much more a span of `windows` windows varies than that many independent ones: the
    /// factor on its variance for the learned lag-one autocorrelation ρ (an AR(1) noise).
    pub fn span_inflation(&self, windows: u32) -> f64 {
        if self.sq_standardised.n < 12 || self.sq_standardised.value <= 0.0 {
            return 1.0;
        }
        // A few hours say little about slow noise: ρ is shrunk towards 0 until a day is seen.
        let seen = f64::from(self.sq_standardised.n);
        let rho = (self.lag_product.value / self.sq_standardised.value).clamp(0.0, 0.9) * seen / (seen + 144.0);
        let k = f64::from(windows.max(1));
        let mut sum = k;
        for j in 1..windows {
            sum += 2.0 * (k - f64::from(j)) * rho.powi(j as i32);
        }
        sum / k
    }

    /// The share's level, kept off 0 and 1 so its binomial noise never vanishes.
    fn share(&self) -> f64 {
        if self.volume.value <= 0.0 {
            0.5
        } else {
            (self.level.value / self.volume.value).clamp(0.02, 0.98)
        }
    }

    /// Learns from one window; `firing` slows learning down.
    pub fn learn(&mut self, metric: AlertMetric, hour: usize, windows_per_day: f64, hits: f64, volume: u64, firing: bool) {
        let slow = if firing { FIRING_SLOWDOWN } else { 1.0 };
        let noise_memory = windows(24.0 * NOISE_MEMORY_DAYS, windows_per_day) * slow;
        let score = self.score(metric, hour, windows_per_day, hits, volume);
        // A share's window beyond NOISE_CLIP deviations teaches its noise nothing (see
        // SHARE_OUTLIERS_TEACH_AFTER); counts learn from it, clipped.
        let outlier = metric.is_share()
            && self.windows >= SHARE_OUTLIERS_TEACH_AFTER
            && score.is_some_and(|s| s.variance > 0.0 && s.z().abs() > NOISE_CLIP);
        let score_noise = score.filter(|_| !outlier);
        if outlier {
            self.last_standardised = None;
        }
        if let Some(s) = score_noise.filter(|s| s.variance > 0.0) {
            let r = s.z().clamp(-NOISE_CLIP, NOISE_CLIP);
            if let Some(last) = self.last_standardised {
                self.lag_product.update(r * last, noise_memory);
            }
            self.sq_standardised.update(r * r, noise_memory);
            self.last_standardised = Some(r);
        }
        let n = volume as f64;
        match metric {
            AlertMetric::Volume | AlertMetric::Complaints | AlertMetric::Negatives => {
                let factor = self.profile_factor(hour, windows_per_day);
                let clipped = match score {
                    Some(s) if self.windows >= 3 => s.expected + s.excess.clamp(-CLIP * s.variance.sqrt(), CLIP * s.variance.sqrt()),
                    _ => hits,
                };
                // The profile keeps each hour's own mean over days; its shape, not its scale, is used.
                self.profile[hour].update(clipped, windows(24.0 * PROFILE_MEMORY_DAYS, windows_per_day) / 24.0 * slow);
                self.level.update(clipped / factor, windows(LEVEL_MEMORY_HOURS, windows_per_day) * slow);
                if let Some(s) = score_noise {
                    let residual = s.excess.clamp(-NOISE_CLIP * s.variance.sqrt(), NOISE_CLIP * s.variance.sqrt());
                    self.sq_residual.update(residual * residual, noise_memory);
                    self.mean_expected.update(s.expected, noise_memory);
                    self.sq_expected.update(s.expected * s.expected, noise_memory);
                }
            }
            AlertMetric::NegativeShare | AlertMetric::SpamShare | AlertMetric::ComplaintShare => {
                if volume == 0 {
                    return;
                }
                let memory = windows(SHARE_MEMORY_HOURS, windows_per_day) * slow;
                let clipped = match score {
                    Some(s) if self.windows >= 3 => {
                        let limit = CLIP * s.variance.sqrt();
                        n * s.expected + s.excess.clamp(-limit, limit)
                    }
                    _ => hits,
                };
                self.level.update(clipped, memory);
                self.volume.update(n, memory);
                if let Some(s) = score_noise {
                    let residual = s.excess.clamp(-NOISE_CLIP * s.variance.sqrt(), NOISE_CLIP * s.variance.sqrt());
                    self.sq_residual.update(residual * residual, noise_memory);
                    self.mean_expected.update(n * s.expected * (1.0 - s.expected), noise_memory);
                    self.sq_expected.update(n * n, noise_memory);
                }
            }
            AlertMetric::Reach => {
                let y = hits.ln_1p();
                let residual = match score {
                    Some(s) if self.windows >= 3 => s.excess.clamp(-CLIP * s.variance.sqrt(), CLIP * s.variance.sqrt()),
                    _ => y - self.level.value,
                };
                if self.level.n == 0 {
                    self.level.update(y, 1.0);
                } else {
                    self.level.update(self.level.value + residual, windows(SHARE_MEMORY_HOURS, windows_per_day) * slow);
                }
                self.sq_residual.update(residual * residual, noise_memory);
            }
        }
        self.windows = self.windows.saturating_add(1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PER_DAY: f64 = 288.0;

    fn learn_days(b: &mut Baseline, days: usize, value: impl Fn(usize) -> f64) {
        for _ in 0..days {
            for w in 0..288 {
                let x = value(w / 12);
                b.learn(AlertMetric::Volume, w / 12, PER_DAY, x, x as u64, false);
            }
        }
    }

    #[test]
    fn learns_each_hour_of_the_day_apart() {
        let mut b = Baseline::default();
        // Three days: 40 mentions per window from 18:00 to 21:59, 10 otherwise.
        learn_days(&mut b, 3, |hour| if (18..22).contains(&hour) { 40.0 } else { 10.0 });
        // The level follows the last hour (10), the profile knows the evening is four times that.
        let evening = b.score(AlertMetric::Volume, 19, PER_DAY, 40.0, 40).unwrap();
        let morning = b.score(AlertMetric::Volume, 9, PER_DAY, 40.0, 40).unwrap();
        assert!((evening.expected - 40.0).abs() < 8.0, "{evening:?}");
        assert!(evening.z().abs() < 1.5, "{evening:?}");
        assert!((morning.expected - 10.0).abs() < 2.0, "{morning:?}");
        assert!(morning.z() > 4.0, "40 in the morning is a spike: {morning:?}");
    }

    #[test]
    fn a_new_series_has_a_baseline_within_an_hour() {
        let mut b = Baseline::default();
        for _ in 0..12 {
            b.learn(AlertMetric::Volume, 0, PER_DAY, 20.0, 20, false);
        }
        let surge = b.score(AlertMetric::Volume, 1, PER_DAY, 60.0, 60).unwrap();
        assert!((surge.expected - 20.0).abs() < 1.0, "{surge:?}");
        assert!(surge.z() > 4.0, "{surge:?}");
    }

    #[test]
    fn a_spike_barely_moves_the_baseline() {
        let mut b = Baseline::default();
        for _ in 0..100 {
            b.learn(AlertMetric::NegativeShare, 0, PER_DAY, 10.0, 50, false);
        }
        for _ in 0..6 {
            b.learn(AlertMetric::NegativeShare, 0, PER_DAY, 45.0, 50, false);
        }
        let s = b.score(AlertMetric::NegativeShare, 0, PER_DAY, 45.0, 50).unwrap();
        assert!(s.expected < 0.3, "{s:?}");
        assert!(s.z() > 4.0, "{s:?}");
    }

    #[test]
    fn share_noise_shrinks_with_volume() {
        let mut b = Baseline::default();
        for _ in 0..50 {
            b.learn(AlertMetric::NegativeShare, 0, PER_DAY, 200.0, 1000, false);
        }
        let thin = b.score(AlertMetric::NegativeShare, 0, PER_DAY, 4.0, 10).unwrap();
        let thick = b.score(AlertMetric::NegativeShare, 0, PER_DAY, 400.0, 1000).unwrap();
        assert!(thick.z() > thin.z() * 2.0, "thin {thin:?} thick {thick:?}");
    }

    #[test]
    fn a_long_share_wave_does_not_widen_the_share_noise() {
        let mut rng = fastrand::Rng::with_seed(9);
        let mut b = Baseline::default();
        let mut window = |b: &mut Baseline, n: u64, share: f64| {
            let hits = (0..n).filter(|_| rng.f64() < share).count() as f64;
            b.learn(AlertMetric::NegativeShare, 0, PER_DAY, hits, n, false);
        };
        // A day and more of quiet and busy hours, then an hour of a wave that brings many more
        // mentions, more than twice as negative, then back to normal.
        for w in 0..400 {
            window(&mut b, if w % 24 < 12 { 30 } else { 120 }, 0.25);
        }
        for _ in 0..12 {
            window(&mut b, 450, 0.55);
        }
        for _ in 0..12 {
            window(&mut b, 120, 0.25);
        }
        // The spread stays near its floor (τ = 0.02); had the wave taught it, it would pass 0.05.
        let s = b.score(AlertMetric::NegativeShare, 0, PER_DAY, 30.0, 120).unwrap();
        let spread = (s.variance - 120.0 * s.expected * (1.0 - s.expected)).max(0.0).sqrt() / 120.0;
        assert!(spread < 0.03, "the spread grew to {spread:.3}");
        let next = b.score(AlertMetric::NegativeShare, 0, PER_DAY, 55.0, 120).unwrap();
        assert!(next.z() > 4.0, "a 46 % window is still seen: {next:?}");
    }

    #[test]
    fn slow_noise_makes_spans_weaker_evidence() {
        let mut rng = fastrand::Rng::with_seed(5);
        let mut b = Baseline::default();
        let mut wander = 0.0f64;
        for w in 0..2000 {
            wander = 0.9 * wander + 0.15 * super::super::synth::normal(&mut rng);
            let x = (100.0 * wander.exp()).round();
            b.learn(AlertMetric::Volume, (w / 12) % 24, PER_DAY, x, x as u64, false);
        }
        assert!(b.span_inflation(12) > 2.0, "{}", b.span_inflation(12));
        assert_eq!(Baseline::default().span_inflation(12), 1.0);
    }

    #[test]
    fn overdispersion_is_learned() {
        let mut rng = fastrand::Rng::with_seed(3);
        let mut b = Baseline::default();
        // 100 a window on average, varying by ±30 % from window to window.
        for w in 0..1000 {
            let x = (100.0 * (0.7 + 0.6 * rng.f64())).round();
            b.learn(AlertMetric::Volume, (w / 12) % 24, PER_DAY, x, x as u64, false);
        }
        let s = b.score(AlertMetric::Volume, 0, PER_DAY, 130.0, 130).unwrap();
        assert!(s.z() < 2.5, "a +30 % window is within this stream's noise: {s:?}");
    }
}
