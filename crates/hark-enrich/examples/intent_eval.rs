//! Scores labelled JSONL files (fields `lang`, `text`, `intent`, optionally `sentiment`) with the
//! built-in intent classifier and prints accuracy, macro-F1, per-language accuracy and the confusion
//! matrix. The sentiment the classifier sees is the built-in sentiment model's, as in the enricher.
//!
//! ```text
//! cargo run --release -p hark-enrich --example intent_eval -- [--gold-sentiment] [--errors] FILE.jsonl...
//! cargo run --release -p hark-enrich --example intent_eval -- --features FILE.jsonl > features.tsv
//! ```
//!
//! `--gold-sentiment` feeds the file's own sentiment label instead (what intent would score with a
//! perfect sentiment model); `--errors` lists the mistakes; `--features` prints each mention's
//! feature vector and label for `train/intent_fit.py` instead of scoring.

use std::collections::BTreeMap;

use hark_core::{IntentLabel, Sentiment, SentimentLabel};
use hark_enrich::intent::{IntentClassifier, FEATURES};
use hark_enrich::{LexiconModel, SentimentModel};
use serde_json::Value;
use strum::VariantArray;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let flag = |name: &str| args.iter().any(|a| a == name);
    let (gold_sentiment, show_errors, dump_features) = (flag("--gold-sentiment"), flag("--errors"), flag("--features"));
    let files: Vec<&String> = args.iter().filter(|a| !a.starts_with("--")).collect();
    if files.is_empty() {
        eprintln!("usage: intent_eval [--gold-sentiment] [--errors] [--features] FILE.jsonl...");
        std::process::exit(2);
    }

    let classifier = IntentClassifier::new();
    let sentiment_model = LexiconModel::new();
    if dump_features {
        println!("id\tlang\tintent\t{}", FEATURES.join("\t"));
    }
    for file in files {
        let body = std::fs::read_to_string(file).unwrap_or_else(|e| panic!("cannot read {file}: {e}"));
        let mut tally = Tally::default();
        for (n, line) in body.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
            let record: Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("{file}:{}: {e}", n + 1));
            let field = |name: &str| record.get(name).and_then(Value::as_str).unwrap_or("");
            let (text, lang, gold) = (field("text"), field("lang"), field("intent"));
            let Some(gold) = gold.parse::<IntentLabel>().ok() else { continue };
            let sentiment = match (gold_sentiment, label_of(field("sentiment"))) {
                (true, Some(label)) => Sentiment { label, score: label_score(label), confidence: 1.0, model: "gold".into() },
                _ => sentiment_model.score(text, lang),
            };
            if dump_features {
                let features = classifier.features(text, lang, &sentiment);
                let values: Vec<String> = features.iter().map(|v| format!("{v:.3}")).collect();
                println!("{}\t{lang}\t{}\t{}", field("id"), gold.as_str(), values.join("\t"));
                continue;
            }
            let predicted = classifier.classify(text, lang, &sentiment);
            if show_errors && predicted.label != gold {
                println!(
                    "  {lang} gold={} got={} ({:.2}) sent={}: {text}",
                    gold.as_str(),
                    predicted.label.as_str(),
                    predicted.confidence,
                    sentiment.label.as_str()
                );
            }
            tally.add(lang, gold, predicted.label);
        }
        if !dump_features {
            let source = if gold_sentiment { "gold".to_string() } else { sentiment_model.name().to_string() };
            tally.print(file, &format!("{source} sentiment"));
        }
    }
}

fn label_of(name: &str) -> Option<SentimentLabel> {
    [SentimentLabel::Negative, SentimentLabel::Neutral, SentimentLabel::Positive].into_iter().find(|l| l.as_str() == name)
}

fn label_score(label: SentimentLabel) -> f64 {
    match label {
        SentimentLabel::Negative => -0.6,
        SentimentLabel::Neutral => 0.0,
        SentimentLabel::Positive => 0.6,
    }
}

fn index(label: IntentLabel) -> usize {
    IntentLabel::VARIANTS.iter().position(|&l| l == label).expect("VARIANTS lists every label")
}

#[derive(Default)]
struct Tally {
    /// confusion[gold][predicted]
    confusion: [[usize; 6]; 6],
    /// lang -> (right, total)
    per_lang: BTreeMap<String, (usize, usize)>,
}

impl Tally {
    fn add(&mut self, lang: &str, gold: IntentLabel, predicted: IntentLabel) {
        self.confusion[index(gold)][index(predicted)] += 1;
        let entry = self.per_lang.entry(lang.to_string()).or_default();
        entry.0 += (gold == predicted) as usize;
        entry.1 += 1;
    }

    fn print(&self, file: &str, sentiment: &str) {
        let total: usize = self.confusion.iter().flatten().sum();
        let right: usize = (0..6).map(|i| self.confusion[i][i]).sum();
        let mut f1s = Vec::new();
        println!("{file} ({total} mentions, {sentiment})");
        println!("  {:<16} {:>9} {:>7} {:>6} {:>5}", "label", "precision", "recall", "F1", "n");
        for (i, label) in IntentLabel::VARIANTS.iter().enumerate() {
            let tp = self.confusion[i][i] as f64;
            let predicted: usize = (0..6).map(|g| self.confusion[g][i]).sum();
            let actual: usize = self.confusion[i].iter().sum();
            let precision = if predicted > 0 { tp / predicted as f64 } else { 0.0 };
            let recall = if actual > 0 { tp / actual as f64 } else { 0.0 };
            let f1 = if precision + recall > 0.0 { 2.0 * precision * recall / (precision + recall) } else { 0.0 };
            if actual > 0 {
                f1s.push(f1);
            }
            println!("  {:<16} {precision:>9.3} {recall:>7.3} {f1:>6.3} {actual:>5}", label.as_str());
        }
        let macro_f1 = f1s.iter().sum::<f64>() / f1s.len().max(1) as f64;
        println!("  accuracy {:.3}  macro-F1 {macro_f1:.3}", right as f64 / total.max(1) as f64);
        let langs: Vec<String> = self.per_lang.iter().map(|(l, (r, n))| format!("{l} {:.3} ({n})", *r as f64 / *n as f64)).collect();
        println!("  per language: {}", langs.join(", "));
        println!("  confusion (rows gold, columns predicted: C Q P F B O)");
        for (i, label) in IntentLabel::VARIANTS.iter().enumerate() {
            let row: Vec<String> = self.confusion[i].iter().map(|n| format!("{n:>4}")).collect();
            println!("  {:<16}{}", label.as_str(), row.join(""));
        }
    }
}
