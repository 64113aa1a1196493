//! Throughput of the intent classifier on the dev set's texts, in mentions per second on one core.
//!
//! ```text
//! cargo bench -p hark-enrich --bench intent
//! ```

use std::time::Instant;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use hark_core::Sentiment;
use hark_enrich::intent::IntentClassifier;
use hark_enrich::{LexiconModel, SentimentModel};

/// The dev set's texts with their language and the sentiment the built-in model gives them, so the
/// bench times intent alone.
fn mentions() -> Vec<(String, String, Sentiment)> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/data/mentions-dev.jsonl");
    let fallback = concat!(env!("CARGO_MANIFEST_DIR"), "/eval/intent-heldout.jsonl");
    let body = std::fs::read_to_string(path).or_else(|_| std::fs::read_to_string(fallback)).expect("a labelled mentions file");
    let sentiment = LexiconModel::new();
    body.lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .map(|v| {
            let text = v["text"].as_str().unwrap_or("").to_string();
            let lang = v["lang"].as_str().unwrap_or("und").to_string();
            let s = sentiment.score(&text, &lang);
            (text, lang, s)
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let classifier = IntentClassifier::new();
    let mentions = mentions();

    // A plain figure first, printed the way the README's throughput table reports it.
    let rounds = 20;
    let start = Instant::now();
    for _ in 0..rounds {
        for (text, lang, s) in &mentions {
            std::hint::black_box(classifier.classify(text, lang, s));
        }
    }
    let per_second = (rounds * mentions.len()) as f64 / start.elapsed().as_secs_f64();
    println!("intent {}: {per_second:.0} mentions/s on one core ({} texts)", IntentClassifier::version(), mentions.len());

    let mut group = c.benchmark_group("intent");
    group.throughput(Throughput::Elements(mentions.len() as u64));
    group.bench_function("classify_dev_set", |b| {
        b.iter(|| {
            for (text, lang, s) in &mentions {
                std::hint::black_box(classifier.classify(text, lang, s));
            }
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
