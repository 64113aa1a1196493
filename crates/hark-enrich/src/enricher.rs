//! The [`Enricher`]: every model run on one mention, the same code in the enrich stage and in
//! tests and benchmarks.

use chrono::Utc;
use hark_core::{Enrichment, Mention};

use crate::{language::LanguageIdentifier, sentiment::SentimentModel, spam::SpamScorer, LexiconModel};

pub struct Enricher {
    language: LanguageIdentifier,
    sentiment: Box<dyn SentimentModel>,
    spam: SpamScorer,
    version: String,
}

impl Enricher {
    /// The default models: lingua, the built-in lexicon, and the spam rules.
    pub fn new(spam_threshold: f64) -> Self {
        Self::with_sentiment(Box::new(LexiconModel::new()), spam_threshold)
    }

    pub fn with_sentiment(sentiment: Box<dyn SentimentModel>, spam_threshold: f64) -> Self {
        let version = format!(
            "lang={};sentiment={};spam={}",
            LanguageIdentifier::version(),
            sentiment.name(),
            SpamScorer::version()
        );
        Enricher { language: LanguageIdentifier::new(), sentiment, spam: SpamScorer::new(spam_threshold), version }
    }

    /// The versions of the models, as written into `enrichment_version`.
    pub fn version(&self) -> &str {
        &self.version
    }

    pub fn enrich(&self, mention: &Mention) -> Enrichment {
        let lang = self.language.identify(&mention.text);
        let sentiment = self.sentiment.score(&mention.text, &lang.code);
        let spam = self.spam.score(mention);
        Enrichment {
            lang,
            sentiment,
            spam,
            enriched_at: Utc::now(),
            enrichment_version: self.version.clone(),
            extra: Default::default(),
        }
    }
}
