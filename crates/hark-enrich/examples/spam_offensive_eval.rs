//! Precision, recall and F1 of the spam and offensive scorers:
//!
//! - spam on the held-out split of the SMS Spam Collection (`eval/spam-sms-heldout.tsv`, written
//!   by `train/spam_train.py` and never used to train or tune);
//! - spam and offensive on a labelled mentions file (fields `lang`, `text`, `spam`, `offensive`,
//!   and optionally `followers`), such as the dev set. The gold `lang` is passed to the scorers,
//!   so language detection errors do not blur these figures.
//!
//! ```text
//! cargo run --release -p hark-enrich --example spam_offensive_eval -- \
//!     crates/hark-enrich/eval/spam-sms-heldout.tsv ../shared/data/mentions-dev.jsonl [--errors]
//! ```
//!
//! `--errors` also lists the mentions that are wrong, and on labelled mentions the negatives
//! scoring 0.3 or more (the near misses).

use std::collections::BTreeMap;

use hark_core::Mention;
use hark_enrich::config::EnrichConfig;
use hark_enrich::{offensive::OffensiveScorer, spam::SpamScorer};
use serde_json::{json, Value};

#[derive(Default, Clone, Copy)]
struct Counts {
    tp: usize,
    fp: usize,
    fn_: usize,
    tn: usize,
}

impl Counts {
    fn add(&mut self, gold: bool, predicted: bool) {
        match (gold, predicted) {
            (true, true) => self.tp += 1,
            (false, true) => self.fp += 1,
            (true, false) => self.fn_ += 1,
            (false, false) => self.tn += 1,
        }
    }

    /// Precision, recall and F1; a ratio with nothing to divide by is shown as "-".
    fn line(&self) -> String {
        let ratio = |num: usize, den: usize| (den > 0).then(|| num as f64 / den as f64);
        let (p, r) = (ratio(self.tp, self.tp + self.fp), ratio(self.tp, self.tp + self.fn_));
        let f1 = match (p, r) {
            (Some(p), Some(r)) if p + r > 0.0 => Some(2.0 * p * r / (p + r)),
            (Some(_), Some(_)) => Some(0.0),
            _ => None,
        };
        let show = |x: Option<f64>| x.map_or("  -  ".to_string(), |x| format!("{x:.3}"));
        format!(
            "n={:4} positives={:3}  P={} R={} F1={}  (tp {} fp {} fn {})",
            self.tp + self.fp + self.fn_ + self.tn,
            self.tp + self.fn_,
            show(p),
            show(r),
            show(f1),
            self.tp,
            self.fp,
            self.fn_
        )
    }
}

fn mention(id: &str, text: &str, followers: u64, seconds: i64) -> Mention {
    let created_at = chrono::DateTime::from_timestamp(1_764_000_000 + seconds, 0).unwrap();
    serde_json::from_value(json!({"id": id, "platform": "eval", "text": text, "created_at": created_at,
        "author": {"id": id, "followers": followers}}))
    .expect("a valid mention")
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let show_errors = args.iter().any(|a| a == "--errors");
    let config = EnrichConfig::default();
    let spam = SpamScorer::new(&config);
    let offensive = OffensiveScorer::new(config.offensive_threshold);
    println!(
        "spam {} (threshold {}), offensive {} (threshold {})",
        spam.version(),
        config.spam_threshold,
        OffensiveScorer::version(),
        config.offensive_threshold
    );

    for path in args.iter().filter(|a| !a.starts_with("--")) {
        let content = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path}: {e}"));
        if path.ends_with(".tsv") {
            let mut counts = Counts::default();
            for (i, line) in content.lines().filter(|l| !l.starts_with('#')).enumerate() {
                let Some((label, text)) = line.split_once('\t') else { continue };
                let score = spam.score(&mention(&format!("sms-{i}"), text, 0, i as i64 * 3600), "en");
                counts.add(label == "spam", score.is_spam);
                if show_errors && (label == "spam") != score.is_spam {
                    println!("  {label} {:.2} {text} {:?}", score.score, score.reasons);
                }
            }
            println!("{path}\n  spam       {}", counts.line());
            continue;
        }

        let (mut spam_by_lang, mut offensive_by_lang) = (BTreeMap::new(), BTreeMap::new());
        for (i, line) in content.lines().filter(|l| !l.trim().is_empty()).enumerate() {
            let row: Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("{path} line {}: {e}", i + 1));
            let (text, lang) = (row["text"].as_str().unwrap_or(""), row["lang"].as_str().unwrap_or("und"));
            let followers = row["followers"].as_u64().unwrap_or(0);
            let m = mention(row["id"].as_str().unwrap_or("?"), text, followers, i as i64 * 3600);
            if let Some(gold) = row["spam"].as_bool() {
                let s = spam.score(&m, lang);
                spam_by_lang.entry(lang.to_string()).or_insert_with(Counts::default).add(gold, s.is_spam);
                if show_errors && (gold != s.is_spam || (!gold && s.score >= 0.3)) {
                    println!("  spam gold={gold} {:.2} [{lang}] {text} {:?}", s.score, s.reasons);
                }
            }
            if let Some(gold) = row["offensive"].as_bool() {
                let o = offensive.score(text, lang);
                offensive_by_lang.entry(lang.to_string()).or_insert_with(Counts::default).add(gold, o.is_offensive);
                if show_errors && (gold != o.is_offensive || (!gold && o.score >= 0.3)) {
                    println!("  offensive gold={gold} {:.2} [{lang}] {text} {:?}", o.score, o.reasons);
                }
            }
        }
        println!("{path}");
        for (task, by_lang) in [("spam", &spam_by_lang), ("offensive", &offensive_by_lang)] {
            let mut all = Counts::default();
            for c in by_lang.values() {
                (all.tp, all.fp, all.fn_, all.tn) = (all.tp + c.tp, all.fp + c.fp, all.fn_ + c.fn_, all.tn + c.tn);
            }
            println!("  {task:10} {}", all.line());
            for (lang, c) in by_lang {
                println!("    {lang:8} {}", c.line());
            }
        }
    }
}
