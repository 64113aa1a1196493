//! The words of an alert: what a person reads in Slack or a pager, with the observed value
//! against the expected one.

use crate::config::AlertMetric;

use crate::detector::Firing;

/// "negative share 62% vs expected 21% (31 of 50 mentions in 15m) for SkyNordic (platform x)".
pub fn window_summary(metric: AlertMetric, threshold: bool, firing: &Firing, window_minutes: i64, brand: &str, scope: &str) -> String {
    let e = &firing.evidence;
    let value = |x: f64| describe(metric, x);
    let against = if threshold { "at or above the threshold" } else { "vs expected" };
    match metric {
        AlertMetric::NegativeShare | AlertMetric::SpamShare | AlertMetric::ComplaintShare => format!(
            "{} {} {against} {} ({} of {} mentions since {}) for {brand}{scope}",
            metric_words(metric),
            value(e.observed),
            value(e.expected),
            e.hits,
            e.volume,
            clock(e.start),
        ),
        _ => format!(
            "{} {} per {window_minutes}m {against} {} (since {}) for {brand}{scope}",
            value(e.observed),
            metric_words(metric),
            value(e.expected),
            clock(e.start),
        ),
    }
}

/// The summary of a resolved window alert.
pub fn resolved_summary(metric: AlertMetric, firing: &Firing, ends_at: i64, fired: &str, brand: &str, scope: &str) -> String {
    format!(
        "resolved: {} for {brand}{scope} back to normal after {}m (peak {}; it fired with: {fired})",
        metric_words(metric),
        (ends_at - firing.evidence.start) / 60,
        describe(metric, firing.peak)
    )
}

/// "14:35 UTC".
fn clock(t: i64) -> String {
    crate::engine::at(t).format("%H:%M UTC").to_string()
}

pub fn metric_words(metric: AlertMetric) -> &'static str {
    match metric {
        AlertMetric::Volume => "mentions",
        AlertMetric::NegativeShare => "negative share",
        AlertMetric::Complaints => "complaints",
        AlertMetric::Negatives => "negative mentions",
        AlertMetric::SpamShare => "spam share",
        AlertMetric::ComplaintShare => "complaint share",
        AlertMetric::Reach => "followers reached",
    }
}

fn describe(metric: AlertMetric, x: f64) -> String {
    match metric {
        AlertMetric::NegativeShare | AlertMetric::SpamShare | AlertMetric::ComplaintShare => format!("{:.0}%", x * 100.0),
        AlertMetric::Reach => thousands(x),
        AlertMetric::Volume | AlertMetric::Complaints | AlertMetric::Negatives => {
            if x.fract() == 0.0 {
                format!("{x:.0}")
            } else {
                format!("{x:.1}")
            }
        }
    }
}

/// 1234567 → "1.2M", 45200 → "45k", 950 → "950".
pub fn thousands(x: f64) -> String {
    if x >= 1e6 {
        format!("{:.1}M", x / 1e6)
    } else if x >= 1e4 {
        format!("{:.0}k", x / 1e3)
    } else {
        format!("{x:.0}")
    }
}

/// The first 120 characters of a text on one line.
pub fn excerpt(text: &str) -> String {
    let mut s: String = text.chars().take(120).collect();
    if s.len() < text.len() {
        s.push('…');
    }
    s.replace(['\n', '\r'], " ")
}
