//! The learned baseline of one series: what a window's value is expected to be, and how far it
//! normally strays, per hour of day (UTC) so that the evening peak is not an incident.
//!
//! Values are first put on a scale where their noise is roughly constant: counts through the
//! Anscombe transform `2·√(x + 3/8)` (Poisson noise then has a standard deviation near 1), reach
//! through `ln(1 + x)`, shares as they are. On that scale each hour-of-day slot keeps an EWMA of the
//! level and an EWMA of the absolute residual (a running analogue of the median absolute
//! deviation). Updates are robust: a residual is clipped at [`CLIP`] deviations, so a spike moves
//! the baseline little and a lasting change of level is still learned over days.

use hark_core::config::alert::AlertMetric;
use serde::{Deserialize, Serialize};

/// Residuals are clipped at this many deviations before they update the baseline.
const CLIP: f64 = 3.0;
/// Mean absolute deviation of a normal distribution, in standard deviations: scales the EWMA of
/// absolute residuals to a standard deviation, as 1.4826 scales a MAD.
const MEAN_ABS_TO_SD: f64 = 1.2533;
/// Updates before a slot's own estimate is trusted over the all-hours one, in days of windows.
const SLOT_TRUSTED_AFTER_DAYS: f64 = 2.0;
/// Memory of a slot's EWMA, in days, and of the all-hours EWMA, in hours.
const SLOT_MEMORY_DAYS: f64 = 7.0;
const GLOBAL_MEMORY_HOURS: f64 = 6.0;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
struct Ewma {
    level: f64,
    abs_dev: f64,
    n: u32,
}

impl Ewma {
    fn update(&mut self, y: f64, memory: f64, floor: f64) {
        let alpha = (1.0 / f64::from(self.n + 1)).max(1.0 / memory);
        if self.n == 0 {
            self.level = y;
            self.abs_dev = floor / MEAN_ABS_TO_SD;
        } else {
            let scale = (self.abs_dev * MEAN_ABS_TO_SD).max(floor);
            let residual = if self.n >= 3 { (y - self.level).clamp(-CLIP * scale, CLIP * scale) } else { y - self.level };
            self.level += alpha * residual;
            self.abs_dev += alpha * (residual.abs() - self.abs_dev);
        }
        self.n = self.n.saturating_add(1);
    }
}

/// What the baseline expects of one window.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Expectation {
    /// In the metric's own unit (count, share, followers).
    pub expected: f64,
    /// Robust z-score of the observed value.
    pub z: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Baseline {
    slots: Vec<Ewma>,
    global: Ewma,
    /// Windows seen, for the warm-up gate.
    pub windows: u32,
}

impl Default for Baseline {
    fn default() -> Self {
        Baseline { slots: vec![Ewma::default(); 24], global: Ewma::default(), windows: 0 }
    }
}

/// The variance-stabilised value of a metric.
fn transform(metric: AlertMetric, x: f64) -> f64 {
    match metric {
        AlertMetric::Volume | AlertMetric::Complaints => 2.0 * (x.max(0.0) + 0.375).sqrt(),
        AlertMetric::Reach => x.max(0.0).ln_1p(),
        AlertMetric::NegativeShare | AlertMetric::SpamShare => x,
    }
}

fn inverse(metric: AlertMetric, y: f64) -> f64 {
    match metric {
        AlertMetric::Volume | AlertMetric::Complaints => ((y / 2.0).powi(2) - 0.375).max(0.0),
        AlertMetric::Reach => y.exp_m1().max(0.0),
        AlertMetric::NegativeShare | AlertMetric::SpamShare => y,
    }
}

/// The smallest deviation the noise of one window allows: Poisson for counts, binomial for a
/// share of `volume` mentions, and a loose floor for reach (one large author moves it a lot).
fn noise_floor(metric: AlertMetric, level: f64, volume: u64) -> f64 {
    match metric {
        AlertMetric::Volume | AlertMetric::Complaints => 1.0,
        AlertMetric::Reach => 0.5,
        AlertMetric::NegativeShare | AlertMetric::SpamShare => {
            let p = level.clamp(0.02, 0.98);
            (p * (1.0 - p) / volume.max(1) as f64).sqrt().max(0.01)
        }
    }
}

impl Baseline {
    fn estimate(&self, hour: usize, windows_per_day: f64) -> &Ewma {
        let slot = &self.slots[hour];
        let trusted = f64::from(slot.n) >= SLOT_TRUSTED_AFTER_DAYS * windows_per_day / 24.0;
        if trusted { slot } else { &self.global }
    }

    /// What the baseline expects of a window in `hour` (0–23, UTC) that observed `x` over
    /// `volume` counted mentions. `None` before anything was learned.
    pub fn expect(&self, metric: AlertMetric, hour: usize, windows_per_day: f64, x: f64, volume: u64) -> Option<Expectation> {
        let e = self.estimate(hour, windows_per_day);
        if e.n == 0 {
            return None;
        }
        let scale = (e.abs_dev * MEAN_ABS_TO_SD).max(noise_floor(metric, e.level, volume));
        let z = (transform(metric, x) - e.level) / scale;
        Some(Expectation { expected: inverse(metric, e.level), z })
    }

    /// Learns from one window.
    pub fn learn(&mut self, metric: AlertMetric, hour: usize, windows_per_day: f64, x: f64, volume: u64) {
        let y = transform(metric, x);
        let floor = noise_floor(metric, self.global.level, volume);
        self.slots[hour].update(y, SLOT_MEMORY_DAYS * windows_per_day / 24.0, floor);
        self.global.update(y, GLOBAL_MEMORY_HOURS * windows_per_day / 24.0, floor);
        self.windows = self.windows.saturating_add(1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PER_DAY: f64 = 288.0;

    #[test]
    fn learns_each_hour_of_the_day_apart() {
        let mut b = Baseline::default();
        // Three days: 40 mentions per window from 18:00 to 21:59, 10 otherwise.
        for day in 0..3 {
            for w in 0..288 {
                let hour = w / 12;
                let x = if (18..22).contains(&hour) { 40.0 } else { 10.0 };
                let _ = day;
                b.learn(AlertMetric::Volume, hour, PER_DAY, x, x as u64);
            }
        }
        let evening = b.expect(AlertMetric::Volume, 19, PER_DAY, 40.0, 40).unwrap();
        let morning = b.expect(AlertMetric::Volume, 9, PER_DAY, 40.0, 40).unwrap();
        assert!((evening.expected - 40.0).abs() < 2.0, "{evening:?}");
        assert!(evening.z.abs() < 1.0, "{evening:?}");
        assert!((morning.expected - 10.0).abs() < 1.0, "{morning:?}");
        assert!(morning.z > 4.0, "40 in the morning is a spike: {morning:?}");
    }

    #[test]
    fn a_spike_barely_moves_the_baseline() {
        let mut b = Baseline::default();
        for _ in 0..100 {
            b.learn(AlertMetric::NegativeShare, 0, PER_DAY, 0.2, 50);
        }
        for _ in 0..6 {
            b.learn(AlertMetric::NegativeShare, 0, PER_DAY, 0.9, 50);
        }
        let e = b.expect(AlertMetric::NegativeShare, 0, PER_DAY, 0.9, 50).unwrap();
        assert!(e.expected < 0.3, "{e:?}");
        assert!(e.z > 4.0, "{e:?}");
    }

    #[test]
    fn share_noise_shrinks_with_volume() {
        let mut b = Baseline::default();
        for _ in 0..50 {
            b.learn(AlertMetric::NegativeShare, 0, PER_DAY, 0.2, 1000);
        }
        let thin = b.expect(AlertMetric::NegativeShare, 0, PER_DAY, 0.4, 10).unwrap();
        let thick = b.expect(AlertMetric::NegativeShare, 0, PER_DAY, 0.4, 1000).unwrap();
        assert!(thick.z > thin.z * 3.0, "thin {thin:?} thick {thick:?}");
    }
}
