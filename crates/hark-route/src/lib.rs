//! Hark's route stage: each enriched mention goes to every topic whose [`RouteRule`] it matches.
//!
//! No mention is dropped silently: spam (enrich's one verdict, `spam.is_spam`) goes to the spam
//! topic (and to no rule), a mention no rule matches goes to the unmatched topic, and a message that is
//! not an `enriched.v1` goes to the dead-letter topic.
//!
//! [`RouteRule`]: config::RouteRule

pub mod config;

use config::{RouteConfig, RouteMatch};
use hark_core::{
    config::TopicsConfig,
    phrases::{PhraseMatcher, Text},
    topics, EnrichedMention,
};
use hark_kafka::{decode, Input, Outgoing, Output, Poison, Processor, Unavailable};
use hark_telemetry::Stage;

/// The label and topic of the two catch-all outputs.
pub const SPAM: &str = "spam";
pub const UNMATCHED: &str = "unmatched";

/// A rule ready to match: its conditions lowercased once.
struct CompiledRule {
    name: String,
    topic: String,
    /// The conditions, their lists lowercased; `keywords` compiled.
    when: RouteMatch,
    keywords: PhraseMatcher,
}

/// The rules of one config, and where the catch-alls go.
pub struct Router {
    rules: Vec<CompiledRule>,
    /// Some rule looks at the text.
    needs_text: bool,
    spam_topic: String,
    unmatched_topic: String,
}

fn lower(list: &[String]) -> Vec<String> {
    list.iter().map(|s| s.to_lowercase()).collect()
}

impl Router {
    pub fn new(config: &RouteConfig, topics: &TopicsConfig) -> Self {
        let rules: Vec<CompiledRule> = config
            .rules
            .iter()
            .map(|rule| CompiledRule {
                name: rule.name.clone(),
                topic: rule.topic_in(topics),
                when: RouteMatch {
                    brands: lower(&rule.when.brands),
                    platforms: lower(&rule.when.platforms),
                    languages: lower(&rule.when.languages),
                    ..rule.when.clone()
                },
                keywords: PhraseMatcher::new(&rule.when.keywords, rule.when.keyword_match),
            })
            .collect();
        Router {
            needs_text: rules.iter().any(|r| !r.keywords.is_empty()),
            rules,
            spam_topic: topics.spam.clone(),
            unmatched_topic: topics.unmatched.clone(),
        }
    }

    /// Every topic the route stage may write to.
    pub fn topics(&self) -> Vec<String> {
        let mut topics: Vec<String> = self.rules.iter().map(|r| r.topic.clone()).collect();
        topics.push(self.spam_topic.clone());
        topics.push(self.unmatched_topic.clone());
        topics.sort();
        topics.dedup();
        topics
    }

    /// The (label, topic) pairs a mention goes to; never empty.
    pub fn route(&self, mention: &EnrichedMention) -> Vec<(&str, &str)> {
        if mention.enrichment.spam.is_spam {
            return vec![(SPAM, &self.spam_topic)];
        }
        let text = Text::new(if self.needs_text { &mention.mention.text } else { "" });
        let matched: Vec<(&str, &str)> = self
            .rules
            .iter()
            .filter(|rule| matches(&rule.when, &rule.keywords, mention, &text))
            .map(|rule| (rule.name.as_str(), rule.topic.as_str()))
            .collect();
        if matched.is_empty() {
            vec![(UNMATCHED, &self.unmatched_topic)]
        } else {
            matched
        }
    }
}

/// A label condition: empty, or the label is one of the list (the config's words were read into
/// the same enums the enricher writes).
fn one_of<T: PartialEq>(list: &[T], value: T) -> bool {
    list.is_empty() || list.contains(&value)
}

/// True when the mention meets every condition (`keywords` are `when.keywords` compiled).
fn matches(when: &RouteMatch, keywords: &PhraseMatcher, m: &EnrichedMention, text: &Text) -> bool {
    // Rule lists are lowercased once in `Router::new`; the mention's value is lowercased here.
    let any_of = |list: &[String], value: Option<&str>| list.is_empty() || value.is_some_and(|v| list.contains(&v.to_lowercase()));
    let spam = m.enrichment.spam.score;
    let followers = m.mention.followers();
    // A brand condition holds for the brand the mention counts under (its `brand` field or its
    // first brand query, however spelt) or any other brand query it matched.
    let brand_ok =
        any_of(&when.brands, m.canonical_brand().as_deref()) || m.enrichment.brands.iter().any(|b| any_of(&when.brands, Some(&b.brand)));
    brand_ok
        && one_of(&when.intents, m.enrichment.intent.label)
        && one_of(&when.tiers, m.enrichment.influence.tier)
        && when.offensive.is_none_or(|wanted| m.enrichment.offensive.is_offensive == wanted)
        && any_of(&when.platforms, Some(&m.mention.platform))
        && any_of(&when.languages, Some(&m.enrichment.lang.code))
        && one_of(&when.sentiments, m.enrichment.sentiment.label)
        && when.min_spam_score.is_none_or(|min| spam >= min)
        && when.max_spam_score.is_none_or(|max| spam <= max)
        && when.min_followers.is_none_or(|min| followers >= min)
        && when.max_followers.is_none_or(|max| followers <= max)
        && (keywords.is_empty() || keywords.find(text).is_some())
}

/// The route stage's processor for the Kafka stage loop.
pub struct RouteProcessor {
    router: Router,
}

impl RouteProcessor {
    pub fn new(router: Router) -> Self {
        RouteProcessor { router }
    }

    fn process(&self, input: &Input) -> Result<Vec<Output>, Poison> {
        let payload = input.payload.as_deref().unwrap_or_default();
        let enriched: EnrichedMention = decode(input.payload.as_deref(), "an enriched.v1")?;
        let mention_id = enriched.mention.stable_id();
        Ok(self
            .router
            .route(&enriched)
            .into_iter()
            .map(|(label, topic)| Output {
                record: Outgoing {
                    topic: topic.to_string(),
                    key: input.key.as_ref().map(|k| String::from_utf8_lossy(k).into_owned()),
                    headers: vec![
                        (topics::HEADER_SCHEMA.into(), topics::SCHEMA_ENRICHED.into()),
                        (topics::HEADER_MENTION_ID.into(), mention_id.clone()),
                        (topics::HEADER_ENRICHMENT_VERSION.into(), enriched.enrichment.enrichment_version.clone()),
                        (topics::HEADER_ROUTE_RULE.into(), label.to_string()),
                    ],
                    // The message is passed on byte for byte: routing adds nothing to it.
                    payload: payload.to_vec(),
                },
                label: label.to_string(),
                created_at: Some(enriched.mention.created_at),
                ingested_at: enriched.mention.ingested_at,
            })
            .collect())
    }
}

impl Processor for RouteProcessor {
    fn stage(&self) -> Stage {
        Stage::Route
    }

    fn process_batch(&self, inputs: &[Input]) -> Result<Vec<Result<Vec<Output>, Poison>>, Unavailable> {
        Ok(inputs.iter().map(|input| self.process(input)).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hark_core::fixtures;

    const RULES: &str = r#"
[[route.rules]]
name = "complaints"
when = { sentiments = ["negative"], max_spam_score = 0.5 }

[[route.rules]]
name = "skynordic-influencers"
topic = "cm.influencers"
when = { brands = ["skynordic"], min_followers = 100000 }

[[route.rules]]
name = "crisis-words"
when = { keywords = ["recall", "lawsuit"], languages = ["en", "it"], platforms = ["twitter"] }
"#;

    /// The `[route]` section of a config file's text, checked.
    fn parse(text: &str) -> Result<RouteConfig, String> {
        #[derive(serde::Deserialize)]
        struct File {
            route: RouteConfig,
        }
        let file: File = toml::from_str(text).map_err(|e| e.to_string())?;
        file.route.check().map(|_| file.route)
    }

    fn router_of(text: &str) -> Router {
        Router::new(&parse(text).unwrap(), &TopicsConfig::default())
    }

    fn router() -> Router {
        router_of(RULES)
    }

    /// `brand` "" for none.
    fn enriched(text: &str, brand: &str, followers: u64, sentiment: &str, spam: f64, lang: &str) -> EnrichedMention {
        let brand = Some(brand).filter(|b| !b.is_empty());
        fixtures::mention(text)
            .author("a", followers)
            .brand(brand)
            .enriched()
            .sentiment(sentiment.parse().unwrap())
            .spam(spam)
            .lang(lang)
            .build()
    }

    fn labels(m: &EnrichedMention) -> Vec<String> {
        router().route(m).into_iter().map(|(label, _)| label.to_string()).collect()
    }

    #[test]
    fn a_mention_goes_to_every_matching_rule() {
        let m = enriched("Product RECALL? my bag is lost", "SkyNordic", 250_000, "negative", 0.1, "en");
        assert_eq!(labels(&m), ["complaints", "skynordic-influencers", "crisis-words"]);
        assert_eq!(router().route(&m)[1].1, "cm.influencers");
        assert_eq!(router().route(&m)[0].1, "hark.routed.complaints");
    }

    #[test]
    fn conditions_must_all_hold() {
        assert_eq!(labels(&enriched("recall", "PastaPronto", 10, "neutral", 0.1, "pl")), ["unmatched"]);
        assert_eq!(labels(&enriched("fine", "SkyNordic", 99_999, "positive", 0.1, "en")), ["unmatched"]);
    }

    #[test]
    fn names_match_without_regard_to_case_in_any_script() {
        let router = router_of("[[route.rules]]\nname = \"pizza\"\nwhen = { brands = [\"ПИЦЦА Экспресс\"] }\n");
        assert_eq!(router.route(&enriched("вкусно", "Пицца экспресс", 1, "positive", 0.0, "ru"))[0].0, "pizza");
    }

    #[test]
    fn intent_tier_offensive_and_brand_queries_are_conditions() {
        let router = router_of(
            r#"
[[route.rules]]
name = "care"
when = { intents = ["complaint"], offensive = false, brands = ["Lumina Wear"] }
[[route.rules]]
name = "macro"
when = { tiers = ["macro", "mega"] }
"#,
        );
        let mut m = fixtures::mention("the zip broke after a week")
            .author("a", 150_000)
            .enriched()
            .sentiment(hark_core::SentimentLabel::Negative)
            .intent(hark_core::IntentLabel::Complaint)
            .tier(hark_core::InfluenceTier::Macro)
            .build();
        let route = |m: &EnrichedMention| router.route(m).into_iter().map(|(l, _)| l.to_string()).collect::<Vec<_>>();
        assert_eq!(route(&m), ["macro"], "no brand matched yet");
        m.enrichment.brands.push(hark_core::BrandMatch {
            brand: "Lumina Wear".into(),
            kind: hark_core::BrandMatchKind::Keyword,
            term: "lumina".into(),
        });
        assert_eq!(route(&m), ["care", "macro"]);
        m.enrichment.offensive.is_offensive = true;
        assert_eq!(route(&m), ["macro"]);
        let bad = parse("[[route.rules]]\nname = \"a\"\nwhen = { intents = [\"rant\"] }\n");
        assert!(bad.unwrap_err().contains("unknown variant `rant`"));
    }

    #[test]
    fn spam_goes_to_the_spam_topic_only() {
        assert_eq!(labels(&enriched("lawsuit giveaway", "SkyNordic", 500_000, "negative", 0.9, "en")), ["spam"]);
    }

    #[test]
    fn poison_and_passthrough() {
        let processor = RouteProcessor::new(router());
        let good = serde_json::to_vec(&enriched("lost bag", "SkyNordic", 5, "negative", 0.0, "en")).unwrap();
        let input = |payload: &[u8]| Input {
            topic: "e".into(),
            partition: 0,
            offset: 1,
            key: Some(b"SkyNordic".to_vec()),
            payload: Some(payload.to_vec()),
            headers: Vec::new(),
        };
        let results = processor.process_batch(&[input(&good), input(b"[]")]).unwrap();
        let out = &results[0].as_ref().unwrap()[0];
        assert_eq!(out.record.payload, good);
        assert!(out.record.headers.contains(&("hark-route-rule".into(), "complaints".into())));
        assert_eq!(results[1].as_ref().unwrap_err().kind, hark_kafka::PoisonKind::Schema);
    }
}
