//! Throughput of the spam and offensive scorers on one core, in mentions per second, over the
//! dev set's 480 mentions (8 languages): `cargo bench -p hark-enrich --bench spam`.
//!
//! Each pass gives the mentions new `created_at` times and authors, so the repeat tracker keeps
//! inserting and expiring texts as it does on a live stream.

use std::path::PathBuf;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use hark_core::Mention;
use hark_enrich::config::EnrichConfig;
use hark_enrich::{offensive::OffensiveScorer, spam::SpamScorer};
use serde_json::{json, Value};

fn dev_set() -> Vec<(String, String, u64)> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/mentions-dev.jsonl");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    text.lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .map(|m| {
            (
                m["text"].as_str().unwrap_or("").to_string(),
                m["lang"].as_str().unwrap_or("und").to_string(),
                m["followers"].as_u64().unwrap_or(0),
            )
        })
        .collect()
}

fn mentions(rows: &[(String, String, u64)], pass: usize) -> Vec<(Mention, String)> {
    rows.iter()
        .enumerate()
        .map(|(i, (text, lang, followers))| {
            let at = chrono::DateTime::from_timestamp(1_764_000_000 + (pass * rows.len() + i) as i64, 0).unwrap();
            let m: Mention = serde_json::from_value(json!({"id": format!("{pass}-{i}"), "platform": "bench", "text": text,
                "created_at": at, "author": {"id": format!("a{}", (pass * 7 + i) % 1000), "followers": followers, "following": 300}}))
            .unwrap();
            (m, lang.clone())
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let rows = dev_set();
    let batches: Vec<Vec<(Mention, String)>> = (0..16).map(|pass| mentions(&rows, pass)).collect();
    let spam = SpamScorer::new(&EnrichConfig::default());
    let offensive = OffensiveScorer::new(0.5);

    let mut group = c.benchmark_group("spam_offensive_1_core");
    group.throughput(Throughput::Elements(rows.len() as u64));
    let mut pass = 0;
    group.bench_function("spam", |b| {
        b.iter(|| {
            pass = (pass + 1) % batches.len();
            batches[pass].iter().map(|(m, lang)| spam.score(m, lang).score).sum::<f64>()
        })
    });
    group.bench_function("offensive", |b| b.iter(|| batches[0].iter().map(|(m, lang)| offensive.score(&m.text, lang).score).sum::<f64>()));
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
