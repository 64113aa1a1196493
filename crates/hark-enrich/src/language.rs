//! Language identification with `lingua`, over a candidate set that is realistic for social media.
//! Only these languages' models are compiled in (all 75 would make a 290 MB binary).

use hark_core::Language as DetectedLanguage;
use lingua::{Language, LanguageDetector, LanguageDetectorBuilder};

/// The languages Hark can tell apart out of the box.
pub const CANDIDATES: [Language; 20] = [
    Language::English, Language::Spanish, Language::Portuguese, Language::French, Language::German,
    Language::Italian, Language::Dutch, Language::Polish, Language::Russian, Language::Ukrainian,
    Language::Turkish, Language::Arabic, Language::Persian, Language::Hindi, Language::Indonesian,
    Language::Japanese, Language::Korean, Language::Chinese, Language::Vietnamese, Language::Thai,
];

pub struct LanguageIdentifier {
    detector: LanguageDetector,
}

impl LanguageIdentifier {
    /// Loads every candidate's model up front, so the first mentions are not slow.
    pub fn new(codes: &[String]) -> Result<Self, crate::enricher::EnrichError> {
        let detector = LanguageDetectorBuilder::from_languages(&CANDIDATES).with_preloaded_language_models().build();
        let _ = codes;
        Ok(LanguageIdentifier { detector })
    }

    /// ISO 639-1 code and confidence; `und` when the text has no letters to judge (emoji, a link).
    pub fn identify(&self, text: &str, _hint: Option<&str>) -> DetectedLanguage {
        if !text.chars().any(char::is_alphabetic) {
            return DetectedLanguage::undetermined();
        }
        match self.detector.compute_language_confidence_values(text).first() {
            Some((language, confidence)) if *confidence > 0.0 => DetectedLanguage {
                code: language.iso_code_639_1().to_string(),
                confidence: (confidence * 1000.0).round() / 1000.0,
            },
            _ => DetectedLanguage::undetermined(),
        }
    }

    pub fn version() -> &'static str {
        "lingua-1.8"
    }
}
