//! Intent: what the author wants (complaint, question, praise, feedback, purchase intent, other),
//! the label community managers route on.

use hark_core::{Intent, IntentLabel, Sentiment};

pub struct IntentClassifier {}

impl Default for IntentClassifier {
    fn default() -> Self {
        Self::new()
    }
}

impl IntentClassifier {
    pub fn new() -> Self {
        IntentClassifier {}
    }

    /// `lang` is the detected ISO 639-1 code; `sentiment` what the sentiment model said.
    pub fn classify(&self, _text: &str, _lang: &str, _sentiment: &Sentiment) -> Intent {
        // Skeleton: being written (issue 4).
        Intent { label: IntentLabel::Other, confidence: 0.0 }
    }

    pub fn version() -> &'static str {
        "intent-rules-v1"
    }
}
