//! The [`Enricher`]: every model run on a mention, the same code in the enrich stage, in
//! `hark enrich-file`, in `hark eval`, and in tests and benchmarks.

use chrono::Utc;
use hark_core::{
    config::{EnrichConfig, TransformerConfig, TransformerPolicy},
    Enrichment, Influence, InfluenceTier, Mention, Sentiment,
};
use rayon::prelude::*;

use crate::{
    brands::BrandMatcher, intent::IntentClassifier, language::LanguageIdentifier, offensive::OffensiveScorer,
    sentiment::SentimentModel, spam::SpamScorer, LexiconModel,
};

/// Why an enricher could not be built from its configuration.
#[derive(Debug, thiserror::Error)]
pub enum EnrichError {
    #[error("enrich.languages: `{0}` is not a language Hark can detect (see `hark enrich-file --help` for the list)")]
    UnknownLanguage(String),
    #[error("enrich.languages is empty")]
    NoLanguages,
    #[error("sentiment model `{model}`: {reason}")]
    Model { model: String, reason: String },
}

fn load_transformer(config: &TransformerConfig) -> Result<Box<dyn SentimentModel>, EnrichError> {
    #[cfg(feature = "transformer")]
    {
        crate::transformer::TransformerModel::load(config).map(|m| Box::new(m) as Box<dyn SentimentModel>)
    }
    #[cfg(not(feature = "transformer"))]
    {
        let _ = config;
        Err(EnrichError::Model {
            model: "transformer".into(),
            reason: "this build of Hark has no transformer backend; build it with `--features transformer`".into(),
        })
    }
}

/// A second sentiment model and which mentions it sees.
struct Escalation {
    model: Box<dyn SentimentModel>,
    policy: TransformerPolicy,
    min_confidence: f64,
}

pub struct Enricher {
    language: LanguageIdentifier,
    sentiment: Box<dyn SentimentModel>,
    escalation: Option<Escalation>,
    intent: IntentClassifier,
    spam: SpamScorer,
    offensive: OffensiveScorer,
    brands: BrandMatcher,
    influence: hark_core::config::InfluenceTiers,
    version: String,
}

impl Enricher {
    /// The models `config` asks for: the built-in ones, and the transformer when configured.
    pub fn new(config: &EnrichConfig) -> Result<Self, EnrichError> {
        let language = LanguageIdentifier::new(&config.languages)?;
        let mut enricher = Enricher {
            language,
            sentiment: Box::new(LexiconModel::new()),
            escalation: None,
            intent: IntentClassifier::new(),
            spam: SpamScorer::new(config),
            offensive: OffensiveScorer::new(config.offensive_threshold),
            brands: BrandMatcher::new(&config.brands),
            influence: config.influence.clone(),
            version: String::new(),
        };
        enricher.version = enricher.describe();
        if let Some(transformer) = &config.transformer {
            let model = load_transformer(transformer)?;
            enricher = enricher.with_escalation(model, transformer.policy, transformer.min_confidence);
        }
        Ok(enricher)
    }

    /// Sends some mentions' sentiment to a second model (the transformer), per `policy`.
    pub fn with_escalation(mut self, model: Box<dyn SentimentModel>, policy: TransformerPolicy, min_confidence: f64) -> Self {
        self.escalation = Some(Escalation { model, policy, min_confidence });
        self.version = self.describe();
        self
    }

    fn describe(&self) -> String {
        let sentiment = match &self.escalation {
            Some(e) => format!("{}+{}", self.sentiment.name(), e.model.name()),
            None => self.sentiment.name().to_string(),
        };
        format!(
            "lang={};sentiment={};intent={};spam={};offensive={}",
            LanguageIdentifier::version(),
            sentiment,
            IntentClassifier::version(),
            self.spam.version(),
            OffensiveScorer::version()
        )
    }

    /// The versions of the models, as written into `enrichment_version`.
    pub fn version(&self) -> &str {
        &self.version
    }

    pub fn enrich(&self, mention: &Mention) -> Enrichment {
        self.enrich_batch(std::slice::from_ref(mention)).pop().expect("one enrichment per mention")
    }

    /// Enriches a batch on every core; the escalation model, if any, sees its share of the batch at once.
    pub fn enrich_batch(&self, mentions: &[Mention]) -> Vec<Enrichment> {
        let mut enrichments: Vec<Enrichment> = mentions.par_iter().map(|m| self.enrich_fast(m)).collect();
        if let Some(escalation) = &self.escalation {
            let chosen: Vec<usize> = (0..mentions.len())
                .filter(|&i| match escalation.policy {
                    TransformerPolicy::All => true,
                    TransformerPolicy::Uncertain => enrichments[i].sentiment.confidence < escalation.min_confidence,
                })
                .collect();
            if !chosen.is_empty() {
                let items: Vec<(&str, &str)> =
                    chosen.iter().map(|&i| (mentions[i].text.as_str(), enrichments[i].lang.code.as_str())).collect();
                let scored = escalation.model.score_batch(&items);
                for (i, sentiment) in chosen.into_iter().zip(scored) {
                    let enrichment = &mut enrichments[i];
                    enrichment.intent = self.intent.classify(&mentions[i].text, &enrichment.lang.code, &sentiment);
                    enrichment.sentiment = sentiment;
                }
            }
        }
        enrichments
    }

    fn enrich_fast(&self, mention: &Mention) -> Enrichment {
        let lang = self.language.identify(&mention.text, mention.lang_hint.as_deref());
        let sentiment: Sentiment = self.sentiment.score(&mention.text, &lang.code);
        let intent = self.intent.classify(&mention.text, &lang.code, &sentiment);
        let spam = self.spam.score(mention, &lang.code);
        let offensive = self.offensive.score(&mention.text, &lang.code);
        let followers = mention.author.followers.unwrap_or(0);
        Enrichment {
            influence: Influence { tier: self.tier(followers), followers },
            brands: self.brands.matches(mention),
            lang,
            sentiment,
            intent,
            spam,
            offensive,
            enriched_at: Utc::now(),
            enrichment_version: self.version.clone(),
            extra: Default::default(),
        }
    }

    fn tier(&self, followers: u64) -> InfluenceTier {
        let t = &self.influence;
        match followers {
            f if f >= t.mega => InfluenceTier::Mega,
            f if f >= t.macro_ => InfluenceTier::Macro,
            f if f >= t.micro => InfluenceTier::Micro,
            _ => InfluenceTier::Nano,
        }
    }
}
