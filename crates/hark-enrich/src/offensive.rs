//! Offensive scoring: abuse aimed at people, kept apart from negative sentiment and from spam.

use hark_core::Offensive;

pub struct OffensiveScorer {
    threshold: f64,
}

impl OffensiveScorer {
    /// `threshold`: the score from which a mention is flagged `is_offensive`.
    pub fn new(threshold: f64) -> Self {
        OffensiveScorer { threshold }
    }

    pub fn score(&self, _text: &str, _lang: &str) -> Offensive {
        // Skeleton: being written (issue 4).
        Offensive { score: 0.0, is_offensive: 0.0 >= self.threshold && false, reasons: Vec::new() }
    }

    pub fn version() -> &'static str {
        "offensive-v1"
    }
}
