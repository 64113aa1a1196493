//! Scores labelled JSONL files (fields `lang`, `text`, `sentiment`) with the built-in sentiment
//! model and prints accuracy and macro-F1 per language, plus how well confidence separates right
//! from wrong answers (the enricher escalates mentions below a confidence threshold).
//!
//! ```text
//! cargo run --release -p hark-enrich --example sentiment_eval -- [--dump OUT.tsv] FILE.jsonl ...
//! ```
//!
//! `--dump` writes, per mention, what the model found and whether its label was right: the input
//! of `train/sentiment_train_classifier.py`.

use std::collections::BTreeMap;

use std::io::Write;

use hark_enrich::sentiment::{features, FEATURES};
use hark_enrich::{LexiconModel, SentimentModel};

const LABELS: [&str; 3] = ["negative", "neutral", "positive"];
/// The enricher's default escalation threshold.
const THRESHOLD: f64 = 0.6;

#[derive(Default)]
struct Tally {
    /// confusion[gold][predicted]
    confusion: [[usize; 3]; 3],
    confident: usize,
    confident_right: usize,
    unsure_right: usize,
}

impl Tally {
    fn add(&mut self, gold: usize, predicted: usize, confidence: f64) {
        self.confusion[gold][predicted] += 1;
        let right = gold == predicted;
        if confidence >= THRESHOLD {
            self.confident += 1;
            self.confident_right += right as usize;
        } else {
            self.unsure_right += right as usize;
        }
    }

    fn total(&self) -> usize {
        self.confusion.iter().flatten().sum()
    }

    fn accuracy(&self) -> f64 {
        (0..3).map(|i| self.confusion[i][i]).sum::<usize>() as f64 / self.total().max(1) as f64
    }

    /// Mean F1 over the labels that occur in the gold data.
    fn macro_f1(&self) -> f64 {
        let mut f1s = Vec::new();
        for c in 0..3 {
            let gold: usize = self.confusion[c].iter().sum();
            if gold == 0 {
                continue;
            }
            let predicted: usize = (0..3).map(|g| self.confusion[g][c]).sum();
            let hits = self.confusion[c][c] as f64;
            let (p, r) = (hits / predicted.max(1) as f64, hits / gold as f64);
            f1s.push(if p + r > 0.0 { 2.0 * p * r / (p + r) } else { 0.0 });
        }
        f1s.iter().sum::<f64>() / f1s.len().max(1) as f64
    }

    fn row(&self, name: &str) -> String {
        let unsure = self.total() - self.confident;
        format!(
            "{name:<6} {:>6} {:>8.1} {:>8.1} {:>9.1} {:>10.1} {:>9.1}",
            self.total(),
            100.0 * self.accuracy(),
            100.0 * self.macro_f1(),
            100.0 * self.confident as f64 / self.total().max(1) as f64,
            100.0 * self.confident_right as f64 / self.confident.max(1) as f64,
            100.0 * self.unsure_right as f64 / unsure.max(1) as f64,
        )
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let model = LexiconModel::new();
    let mut files: Vec<String> = std::env::args().skip(1).collect();
    let mut dump = None;
    if files.first().map(String::as_str) == Some("--dump") && files.len() > 1 {
        let mut out = std::io::BufWriter::new(std::fs::File::create(&files[1])?);
        writeln!(out, "id\tlang\tgold\tpredicted\t{}", FEATURES[1..].join("\t"))?;
        dump = Some(out);
        files.drain(..2);
    }
    if files.is_empty() {
        return Err("usage: sentiment_eval [--dump OUT.tsv] FILE.jsonl [FILE.jsonl ...]".into());
    }
    for file in files {
        let mut by_lang: BTreeMap<String, Tally> = BTreeMap::new();
        let mut all = Tally::default();
        for (n, line) in std::fs::read_to_string(&file)?.lines().enumerate() {
            let row: serde_json::Value = serde_json::from_str(line).map_err(|e| format!("{file}:{}: {e}", n + 1))?;
            let (Some(lang), Some(text), Some(gold)) = (row["lang"].as_str(), row["text"].as_str(), row["sentiment"].as_str()) else {
                continue;
            };
            let Some(gold) = LABELS.iter().position(|l| *l == gold) else { continue };
            let s = model.score(text, lang);
            let predicted = LABELS.iter().position(|l| *l == s.label.as_str()).unwrap_or(1);
            by_lang.entry(lang.to_string()).or_default().add(gold, predicted, s.confidence);
            all.add(gold, predicted, s.confidence);
            if let Some(out) = dump.as_mut() {
                let x: Vec<String> = features(&model.evidence(text, lang))[1..].iter().map(|f| format!("{f:.4}")).collect();
                let id = row["id"].as_str().unwrap_or("");
                writeln!(out, "{id}\t{lang}\t{}\t{}\t{}", LABELS[gold], LABELS[predicted], x.join("\t"))?;
            }
        }
        println!("{file} ({})", model.name());
        println!("lang        n   acc %  macroF1  conf≥0.6 %  acc≥0.6 %  acc<0.6 %");
        for (lang, tally) in &by_lang {
            println!("{}", tally.row(lang));
        }
        println!("{}\n", all.row("all"));
    }
    Ok(())
}
