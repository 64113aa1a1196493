//! The [`Enricher`]: every model run on a mention, the same code in the enrich stage, in
//! `hark enrich-file`, in `hark eval`, and in tests and benchmarks.

use chrono::Utc;
use hark_core::{BrandNames, Enrichment, Influence, InfluenceTier, Intent, Mention, Sentiment, SentimentLabel};
use rayon::prelude::*;
use std::sync::Mutex;
use std::time::Instant;

use crate::{
    brands::BrandMatcher,
    config::{EncoderConfig, EnrichConfig, EscalationPolicy, TransformerConfig},
    encoder::{Encoder, EncoderHeads, Heads},
    error::EnrichError,
    intent::IntentClassifier,
    language::LanguageIdentifier,
    learned::{Head, LearnedHeads, Sums},
    offensive::OffensiveScorer,
    sentiment::SentimentModel,
    spam::{Repeats, SpamScorer},
    text::{most_likely, round3, tokens},
    LexiconModel,
};

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
    policy: EscalationPolicy,
    min_confidence: f64,
    /// Languages the model knows; mentions in others keep the fast model's answer.
    languages: Vec<String>,
}

/// The encoder tier (see [`crate::encoder`]) and which mentions it sees.
struct EncoderTier {
    encoder: Encoder,
    heads: Heads,
    policy: EscalationPolicy,
    min_confidence: f64,
    batch_size: usize,
    usage: Mutex<EncoderUsage>,
}

/// What the encoder tier did since it was last asked: the stage turns it into metrics.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct EncoderUsage {
    /// Mentions it labelled.
    pub mentions: u64,
    /// Wall-clock seconds spent embedding them (the engine spreads a batch over every core).
    pub seconds: f64,
    /// Batches the engine failed on (their mentions kept the fast path's labels).
    pub failed_batches: u64,
}

impl EncoderTier {
    fn load(config: &EncoderConfig) -> Result<Self, EnrichError> {
        let encoder = Encoder::load(&config.package)?;
        let heads = EncoderHeads::load(encoder.dimensions())?;
        Ok(EncoderTier {
            encoder,
            heads,
            policy: config.policy,
            min_confidence: config.min_confidence,
            batch_size: config.batch_size,
            usage: Mutex::default(),
        })
    }

    fn wants(&self, e: &Enrichment) -> bool {
        match self.policy {
            EscalationPolicy::All => true,
            EscalationPolicy::Uncertain => e.sentiment.confidence.min(e.intent.confidence) < self.min_confidence,
        }
    }
}

pub struct Enricher {
    language: LanguageIdentifier,
    sentiment: Box<dyn SentimentModel>,
    escalation: Option<Escalation>,
    encoder: Option<EncoderTier>,
    intent: IntentClassifier,
    /// Blended into sentiment and intent where they know the language; `None` when configured off.
    learned: Option<LearnedHeads>,
    spam: SpamScorer,
    offensive: OffensiveScorer,
    brands: BrandMatcher,
    brand_names: BrandNames,
    influence: crate::config::InfluenceTiers,
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
            encoder: config.encoder.as_ref().map(EncoderTier::load).transpose()?,
            intent: IntentClassifier::new(),
            learned: if config.learned { Some(LearnedHeads::load()?) } else { None },
            spam: SpamScorer::new(config),
            offensive: OffensiveScorer::new(config.offensive_threshold),
            brands: BrandMatcher::new(&config.brands),
            brand_names: BrandNames::new(config.brands.iter().map(|b| b.name.as_str())),
            influence: config.influence.clone(),
            version: String::new(),
        };
        enricher.version = enricher.describe();
        if let Some(transformer) = &config.transformer {
            let model = load_transformer(transformer)?;
            enricher = enricher.with_escalation(model, transformer);
        }
        Ok(enricher)
    }

    /// Sends some mentions' sentiment to a second model (the transformer), as `config` says.
    pub fn with_escalation(mut self, model: Box<dyn SentimentModel>, config: &TransformerConfig) -> Self {
        self.escalation =
            Some(Escalation { model, policy: config.policy, min_confidence: config.min_confidence, languages: config.languages.clone() });
        self.version = self.describe();
        self
    }

    fn describe(&self) -> String {
        let learned = if self.learned.is_some() { format!("+{}", LearnedHeads::version()) } else { String::new() };
        let encoder = if self.encoder.is_some() { format!("+{}", EncoderHeads::version()) } else { String::new() };
        let sentiment = match &self.escalation {
            Some(e) => format!("{}{learned}+{}", self.sentiment.name(), e.model.name()),
            None => format!("{}{learned}", self.sentiment.name()),
        };
        format!(
            "lang={};sentiment={sentiment}{encoder};intent={}{learned}{encoder};spam={}{learned}{encoder};offensive={}{learned}{encoder}",
            LanguageIdentifier::version(),
            IntentClassifier::version(),
            self.spam.version(),
            OffensiveScorer::version()
        )
    }

    /// The versions of the models, as written into `enrichment_version`.
    pub fn version(&self) -> &str {
        &self.version
    }

    /// Enriches one mention on the calling thread.
    pub fn enrich(&self, mention: &Mention) -> Enrichment {
        if self.escalation.is_none() && self.encoder.is_none() {
            return self.enrich_fast(mention, Repeats::Tracked);
        }
        self.enrich_batch(std::slice::from_ref(mention)).pop().expect("one enrichment per mention")
    }

    /// Enriches a batch on every core; the escalation model and the encoder tier, if any, see
    /// their share of the batch at once.
    pub fn enrich_batch(&self, mentions: &[Mention]) -> Vec<Enrichment> {
        self.enrich_batch_with(mentions, &vec![Repeats::Tracked; mentions.len()])
    }

    pub fn has_encoder(&self) -> bool {
        self.encoder.is_some()
    }

    /// What the encoder tier did since the last call; `None` without the tier.
    pub fn take_encoder_usage(&self) -> Option<EncoderUsage> {
        let tier = self.encoder.as_ref()?;
        let mut usage = tier.usage.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        Some(std::mem::take(&mut *usage))
    }

    /// Whether the spam scorer's repeat signal looks at this mention (see [`SpamScorer::counts_repeats`]).
    pub fn counts_repeats(&self, mention: &Mention) -> bool {
        self.spam.counts_repeats(mention)
    }

    /// [`Enricher::enrich_batch`] with each mention's repeat count given (one per mention).
    pub fn enrich_batch_with(&self, mentions: &[Mention], repeats: &[Repeats]) -> Vec<Enrichment> {
        let mut enrichments: Vec<Enrichment> = mentions.par_iter().zip(repeats).map(|(m, r)| self.enrich_fast(m, *r)).collect();
        if let Some(escalation) = &self.escalation {
            let chosen: Vec<usize> = (0..mentions.len())
                .filter(|&i| escalation.languages.contains(&enrichments[i].lang.code))
                .filter(|&i| match escalation.policy {
                    EscalationPolicy::All => true,
                    EscalationPolicy::Uncertain => enrichments[i].sentiment.confidence < escalation.min_confidence,
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
        if let Some(tier) = &self.encoder {
            let chosen: Vec<usize> = (0..mentions.len()).filter(|&i| tier.wants(&enrichments[i])).collect();
            for part in chosen.chunks(tier.batch_size) {
                let texts: Vec<&str> = part.iter().map(|&i| mentions[i].text.as_str()).collect();
                let started = Instant::now();
                let embedded = tier.encoder.embed(&texts);
                let seconds = started.elapsed().as_secs_f64();
                let labelled = match embedded {
                    Ok(embeddings) => {
                        for (&i, embedding) in part.iter().zip(&embeddings) {
                            self.second_opinion(&tier.heads, embedding, &mut enrichments[i]);
                        }
                        true
                    }
                    // The fast path's answers stand; the engine says only that it failed, not why.
                    Err(e) => {
                        tracing::warn!(error = %e, mentions = part.len(), "encoder tier failed; fast-path labels kept");
                        false
                    }
                };
                let mut usage = tier.usage.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
                usage.seconds += seconds;
                if labelled {
                    usage.mentions += part.len() as u64;
                } else {
                    usage.failed_batches += 1;
                }
            }
        }
        enrichments
    }

    /// Mixes the encoder tier's heads into a mention's fast-path labels.
    fn second_opinion(&self, heads: &Heads, embedding: &[f32], e: &mut Enrichment) {
        let head = &heads.sentiment;
        let p = head.mixed(embedding, &head.spread(e.sentiment.label.as_str(), e.sentiment.confidence));
        e.sentiment = sentiment_of(&head.classes, &p, &e.sentiment, EncoderHeads::version());
        let head = &heads.intent;
        let p = head.mixed(embedding, &head.spread(e.intent.label.as_str(), e.intent.confidence));
        e.intent = intent_of(&head.classes, &p, &e.intent);
        let p = heads.spam.mixed(embedding, &[1.0 - e.spam.score, e.spam.score]);
        e.spam = self.spam.raised(e.spam.clone(), p[heads.spam.index("spam")], "encoder spam head");
        let p = heads.offensive.mixed(embedding, &[1.0 - e.offensive.score, e.offensive.score]);
        e.offensive =
            self.offensive.rescored(std::mem::take(&mut e.offensive), p[heads.offensive.index("offensive")], "encoder offensive head");
    }

    fn enrich_fast(&self, mention: &Mention, repeats: Repeats) -> Enrichment {
        let lang = self.language.identify(&mention.text, mention.lang_hint.as_deref());
        // Split once: sentiment, intent, spam and offensive all read these words.
        let tokens = tokens(&mention.text);
        let mut sentiment: Sentiment = self.sentiment.score_tokens(&mention.text, &tokens, &lang.code);
        let mut intent = self.intent.classify_tokens(&mention.text, &tokens, &lang.code, &sentiment);
        let mut spam = self.spam.score_with(mention, &tokens, &lang.code, repeats);
        let mut offensive = self.offensive.score_tokens(&mention.text, &tokens, &lang.code);
        if let Some(learned) = self.learned.as_ref().filter(|l| l.knows(&lang.code)) {
            let sums = learned.sums(&learned.features(&mention.text));
            (sentiment, intent) = blend(learned, &sums, sentiment, intent);
            let p = raising_head(&learned.spam, &sums, spam.score, "spam");
            spam = self.spam.raised(spam, p, "learned spam head");
            let p = raising_head(&learned.offensive, &sums, offensive.score, "offensive");
            offensive = self.offensive.raised(offensive, p, "learned offensive head");
        }
        // Self-claimed followers of an untrusted source count as none (see hark_core::provenance).
        let followers = mention.followers();
        let brands = self.brands.matches(mention);
        // The brand it counts under: its own field first, else the first query it matched.
        let brand = match mention.brand.as_deref().and_then(|b| self.brand_names.canonical(b)) {
            Some(own) => Some(own),
            None => brands.first().map(|b| b.brand.clone()),
        };
        Enrichment {
            influence: Influence { tier: self.tier(followers), followers },
            brands,
            brand,
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

/// The hand-built answers mixed with the learned heads' (see [`crate::learned`]). Intent was
/// classified with the hand-built sentiment, as the heads' blend weights were tuned.
fn blend(learned: &LearnedHeads, sums: &Sums, sentiment: Sentiment, intent: Intent) -> (Sentiment, Intent) {
    let head = &learned.sentiment;
    let p = head.blend(&head.probabilities(sums), sentiment.label.as_str(), sentiment.confidence);
    let sentiment = sentiment_of(&head.classes, &p, &sentiment, LearnedHeads::version());
    let head = &learned.intent;
    let p = head.blend(&head.probabilities(sums), intent.label.as_str(), intent.confidence);
    (sentiment, intent_of(&head.classes, &p, &intent))
}

/// The sentiment a blended distribution over `classes` gives; `was` names the model it refines,
/// and `by` the model that refined it.
fn sentiment_of(classes: &[String], p: &[f64], was: &Sentiment, by: &str) -> Sentiment {
    let (best, confidence) = most_likely(p);
    let of = |label: SentimentLabel| classes.iter().position(|c| c == label.as_str()).map_or(0.0, |i| p[i]);
    Sentiment {
        label: classes[best].parse().unwrap_or(was.label),
        // As the lexicon model's: how much more positive than negative.
        score: round3(of(SentimentLabel::Positive) - of(SentimentLabel::Negative)),
        confidence: round3(confidence),
        model: format!("{}+{by}", was.model),
    }
}

/// The intent a blended distribution over `classes` gives.
fn intent_of(classes: &[String], p: &[f64], was: &Intent) -> Intent {
    let (best, confidence) = most_likely(p);
    Intent { label: classes[best].parse().unwrap_or(was.label), confidence: round3(confidence) }
}

/// A learned head's probability of its `positive` class (spam, offensive), blended with the
/// rules' answer: positive at their score from 0.5, else the other class at one minus it (as the
/// training script reads them). The enricher only ever raises the rules' score with it.
fn raising_head(head: &Head, sums: &Sums, rules: f64, positive: &str) -> f64 {
    let i = head.index(positive);
    let (label, confidence) = if rules >= 0.5 { (positive, rules) } else { (head.classes[1 - i].as_str(), 1.0 - rules) };
    head.blend(&head.probabilities(sums), label, confidence)[i]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::BrandQuery;
    use hark_core::fixtures;
    use hark_core::{InfluenceTier, SentimentLabel};
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    fn mention(text: &str, followers: u64) -> Mention {
        fixtures::mention(text).author("a", followers).build()
    }

    /// A text's enrichment with the learned heads, and without them.
    fn with_and_without_learned(text: &str) -> (Enrichment, Enrichment) {
        let enrich = |learned| {
            let enricher = Enricher::new(&EnrichConfig { learned, ..EnrichConfig::default() }).unwrap();
            enricher.enrich(&fixtures::mention(text).build())
        };
        (enrich(true), enrich(false))
    }

    #[test]
    fn the_learned_head_catches_a_fake_support_account_the_rules_miss() {
        let (with, without) = with_and_without_learned(
            "Ciao, sono del servizio clienti di Arvo Air: per il rimborso del volo scrivimi in privato numero della carta e codice ricevuto via SMS.",
        );
        assert!(with.spam.is_spam && with.spam.reasons[0].starts_with("learned spam head"), "{:?}", with.spam);
        assert!(!without.spam.is_spam, "{:?}", without.spam);
    }

    #[test]
    fn the_learned_head_flags_an_insult_no_list_has() {
        let (with, without) = with_and_without_learned("Whoever runs their support desk is a spineless worm.");
        assert!(with.offensive.is_offensive && with.offensive.reasons[0].starts_with("learned offensive head"), "{:?}", with.offensive);
        assert!(!without.offensive.is_offensive, "{:?}", without.offensive);
    }

    #[test]
    fn influence_tiers_follow_the_configured_thresholds() {
        let enricher = Enricher::new(&EnrichConfig::default()).unwrap();
        let tier = |followers| enricher.enrich(&mention("ok", followers)).influence.tier;
        assert_eq!(tier(0), InfluenceTier::Nano);
        assert_eq!(tier(9_999), InfluenceTier::Nano);
        assert_eq!(tier(10_000), InfluenceTier::Micro);
        assert_eq!(tier(100_000), InfluenceTier::Macro);
        assert_eq!(tier(5_000_000), InfluenceTier::Mega);
    }

    #[test]
    fn brand_queries_and_versions_reach_the_enrichment() {
        let config = EnrichConfig {
            brands: vec![BrandQuery {
                name: "PastaPronto".into(),
                keywords: vec!["pasta pronto".into()],
                products: vec![],
                hashtags: vec![],
                handles: vec![],
                exclude: vec![],
                max_edit_distance: 1,
            }],
            ..Default::default()
        };
        let enricher = Enricher::new(&config).unwrap();
        let e = enricher.enrich(&mention("Ordered from Pasta Pronto, cold again", 10));
        assert_eq!(e.brands.len(), 1);
        assert_eq!(e.brands[0].brand, "PastaPronto");
        for model in ["lang=", "sentiment=", "intent=", "spam=", "offensive="] {
            assert!(e.enrichment_version.contains(model), "{}", e.enrichment_version);
        }
    }

    #[test]
    fn the_canonical_brand_is_the_field_in_the_configured_spelling_else_the_first_query_matched() {
        let query = |name: &str, keyword: &str| BrandQuery {
            name: name.into(),
            keywords: vec![keyword.into()],
            products: vec![],
            hashtags: vec![],
            handles: vec![],
            exclude: vec![],
            max_edit_distance: 1,
        };
        let config =
            EnrichConfig { brands: vec![query("SkyNordic", "skynordic"), query("PastaPronto", "pasta pronto")], ..Default::default() };
        let enricher = Enricher::new(&config).unwrap();
        let brand_of = |text: &str, field: Option<&str>| {
            let mut m = mention(text, 10);
            m.brand = field.map(String::from);
            enricher.enrich(&m).brand
        };
        assert_eq!(brand_of("flew skynordic, late again", None).as_deref(), Some("SkyNordic"));
        assert_eq!(brand_of("late again", Some("skynordic")).as_deref(), Some("SkyNordic"));
        assert_eq!(brand_of("late again", Some("SKYNORDIC")).as_deref(), Some("SkyNordic"));
        assert_eq!(brand_of("pasta pronto after the skynordic flight", Some("Lumina Wear")).as_deref(), Some("lumina wear"));
        assert_eq!(brand_of("nothing to see", None), None);
    }

    #[test]
    fn an_unknown_language_in_the_config_is_a_clear_error() {
        let config = EnrichConfig { languages: vec!["en".into(), "tlh".into()], ..Default::default() };
        let error = Enricher::new(&config).err().expect("tlh is not compiled in");
        assert!(error.to_string().contains("`tlh`"), "{error}");
    }

    /// A second model that answers "positive, sure" and counts what it saw.
    struct Counting(Arc<AtomicUsize>);

    impl SentimentModel for Counting {
        fn score(&self, _: &str, _: &str) -> Sentiment {
            unreachable!("the enricher sends batches")
        }
        fn score_batch(&self, items: &[(&str, &str)]) -> Vec<Sentiment> {
            self.0.fetch_add(items.len(), Ordering::SeqCst);
            let sure = Sentiment { label: SentimentLabel::Positive, score: 0.9, confidence: 0.99, model: "second".into() };
            vec![sure; items.len()]
        }
        fn name(&self) -> &str {
            "second"
        }
    }

    #[test]
    fn only_what_the_policy_picks_goes_to_the_second_model() {
        let seen = Arc::new(AtomicUsize::new(0));
        let config = TransformerConfig {
            model_dir: "unused".into(),
            device: "cpu".into(),
            batch_size: 8,
            policy: EscalationPolicy::Uncertain,
            min_confidence: 0.6,
            max_tokens: 16,
            languages: vec!["en".into()],
        };
        let enricher = Enricher::new(&EnrichConfig::default()).unwrap().with_escalation(Box::new(Counting(seen.clone())), &config);
        let fast = Enricher::new(&EnrichConfig::default()).unwrap();
        let mentions: Vec<Mention> = [
            "The flight leaves at ten from gate twelve",
            "Il volo parte alle dieci dal gate dodici",
            "worst airline ever, terrible, awful service",
        ]
        .iter()
        .map(|t| mention(t, 1))
        .collect();
        let unsure: Vec<bool> = mentions
            .iter()
            .map(|m| {
                let e = fast.enrich(m);
                e.lang.code == "en" && e.sentiment.confidence < 0.6
            })
            .collect();
        let out = enricher.enrich_batch(&mentions);
        assert_eq!(seen.load(Ordering::SeqCst), unsure.iter().filter(|u| **u).count());
        for (e, unsure) in out.iter().zip(&unsure) {
            assert_eq!(e.sentiment.model == "second", *unsure, "{:?}", e.sentiment);
        }
        assert!(unsure[0] && !unsure[1], "an unsure English text goes, an Italian one never does");
        assert!(enricher.version().contains("+second"));
    }
}
