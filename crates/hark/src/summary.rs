//! `hark summary`: reads what the route stage produced (every routed topic, spam, unmatched) and
//! the dead-letter topic from the beginning, and counts mentions per language, sentiment, intent,
//! influence tier, matched brand and route.
//! Redeliveries are counted once, by their `hark-mention-id` header.

use std::{
    collections::{BTreeMap, HashSet},
    time::{Duration, Instant},
};

use hark_core::{topics, EnrichedMention};

use crate::config::Config;
use rdkafka::{consumer::Consumer, message::Message};

#[derive(Debug, Default)]
pub struct RouteSummary {
    pub mentions: usize,
    pub redeliveries: usize,
    pub dead_lettered: usize,
    pub languages: BTreeMap<String, usize>,
    pub sentiments: BTreeMap<String, usize>,
    pub intents: BTreeMap<String, usize>,
    pub tiers: BTreeMap<String, usize>,
    /// Brand queries matched (a mention can match several, or none).
    pub brands: BTreeMap<String, usize>,
    /// Offensive mentions.
    pub offensive: usize,
    pub routes: BTreeMap<String, usize>,
}

/// Reads until `expect` distinct mentions were seen, or `timeout` passed.
pub async fn collect(config: &Config, expect: usize, timeout: Duration) -> anyhow::Result<RouteSummary> {
    let consumer = hark_kafka::reader(&config.kafka, &format!("hark-summary-{:08x}", fastrand::u32(..)))?;
    let mut topics = hark_route::Router::new(&config.route, &config.topics).topics();
    topics.push(config.topics.dlq.clone());
    let names: Vec<&str> = topics.iter().map(String::as_str).collect();
    consumer.subscribe(&names)?;

    let deadline = Instant::now() + timeout;
    let mut summary = RouteSummary::default();
    let mut seen = HashSet::new();
    let mut routed = HashSet::new();
    while summary.mentions < expect {
        let left = deadline.saturating_duration_since(Instant::now());
        let Ok(message) = tokio::time::timeout(left, consumer.recv()).await else { break };
        let message = message?;
        if message.topic() == config.topics.dlq {
            summary.dead_lettered += 1;
            continue;
        }
        let Some(Ok(enriched)) = message.payload().map(serde_json::from_slice::<EnrichedMention>) else { continue };
        let id = hark_kafka::header(&message, topics::HEADER_MENTION_ID).unwrap_or_else(|| enriched.mention.stable_id());
        let rule = hark_kafka::header(&message, topics::HEADER_ROUTE_RULE).unwrap_or_else(|| message.topic().to_string());
        if !routed.insert((id.clone(), rule.clone())) {
            summary.redeliveries += 1;
            continue;
        }
        *summary.routes.entry(rule).or_default() += 1;
        if seen.insert(id) {
            summary.mentions += 1;
            let e = &enriched.enrichment;
            *summary.languages.entry(e.lang.code.clone()).or_default() += 1;
            *summary.sentiments.entry(e.sentiment.label.as_str().to_string()).or_default() += 1;
            *summary.intents.entry(e.intent.label.as_str().to_string()).or_default() += 1;
            *summary.tiers.entry(e.influence.tier.as_str().to_string()).or_default() += 1;
            let brands: std::collections::BTreeSet<&str> = e.brands.iter().map(|b| b.brand.as_str()).collect();
            for brand in brands {
                *summary.brands.entry(brand.to_string()).or_default() += 1;
            }
            summary.offensive += usize::from(e.offensive.is_offensive);
        }
    }
    Ok(summary)
}

impl std::fmt::Display for RouteSummary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(
            f,
            "{} mentions routed ({} redeliveries dropped, {} dead-lettered)",
            self.mentions, self.redeliveries, self.dead_lettered
        )?;
        let rows = [
            ("language", &self.languages),
            ("sentiment", &self.sentiments),
            ("intent", &self.intents),
            ("tier", &self.tiers),
            ("brand query", &self.brands),
            ("route", &self.routes),
        ];
        for (title, counts) in rows {
            let mut rows: Vec<(&String, &usize)> = counts.iter().collect();
            rows.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
            let cells: Vec<String> = rows.iter().map(|(k, v)| format!("{k} {v}")).collect();
            writeln!(f, "  per {title:<11} {}", cells.join(", "))?;
        }
        writeln!(f, "  offensive       {}", self.offensive)
    }
}
