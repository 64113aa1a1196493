//! Throughput of the built-in sentiment model on the dev-set texts, in mentions per second on one
//! core: `cargo bench -p hark-enrich --bench sentiment`. The dev set lives beside the repository
//! (`../shared/data/mentions-dev.jsonl`); without it the committed held-out files are used.

use std::path::Path;
use std::time::Instant;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use hark_enrich::{LexiconModel, SentimentModel};

/// `(text, lang)` of every mention in the first of these files that exists.
fn mentions() -> Vec<(String, String)> {
    let crate_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    let candidates = [crate_dir.join("../../../shared/data/mentions-dev.jsonl"), crate_dir.join("eval/sentiment-heldout-it.jsonl")];
    let file = candidates.iter().find(|p| p.exists()).expect("no labelled mentions to benchmark on");
    let mut out: Vec<(String, String)> = std::fs::read_to_string(file)
        .expect("readable mentions file")
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter_map(|row| Some((row["text"].as_str()?.to_string(), row["lang"].as_str()?.to_string())))
        .collect();
    // The committed fallback is Italian only; add the Chinese held-out texts for a mix of scripts.
    if !file.ends_with("mentions-dev.jsonl") {
        for lang in ["pl", "ru"] {
            let path = crate_dir.join(format!("eval/sentiment-heldout-{lang}.jsonl"));
            for line in std::fs::read_to_string(path).unwrap_or_default().lines() {
                if let Ok(row) = serde_json::from_str::<serde_json::Value>(line) {
                    out.push((row["text"].as_str().unwrap_or("").to_string(), lang.to_string()));
                }
            }
        }
    }
    out
}

/// CPU time this thread has run, from `/proc/thread-self/schedstat` (Linux), in seconds.
fn thread_cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    let nanos: f64 = stat.split_whitespace().next()?.parse().ok()?;
    Some(nanos / 1e9)
}

fn bench(c: &mut Criterion) {
    let model = LexiconModel::new();
    let mentions = mentions();
    let score_all = || {
        for (text, lang) in &mentions {
            criterion::black_box(model.score(text, lang));
        }
    };

    // A plain figure first, so the mentions/s is printed whatever criterion's output format. On a
    // busy machine wall time undercounts a core's speed, so the CPU time the thread actually got
    // is printed too where Linux reports it.
    let (start, cpu_start) = (Instant::now(), thread_cpu_seconds());
    let rounds = 50;
    for _ in 0..rounds {
        score_all();
    }
    let scored = (rounds * mentions.len()) as f64;
    let wall = scored / start.elapsed().as_secs_f64();
    print!("{}: {wall:.0} mentions/s of wall time on one thread", model.name());
    if let (Some(a), Some(b)) = (cpu_start, thread_cpu_seconds()) {
        print!(", {:.0} mentions/s per second of CPU time", scored / (b - a));
    }
    println!(" ({} mentions)", mentions.len());

    let mut group = c.benchmark_group("sentiment");
    group.throughput(Throughput::Elements(mentions.len() as u64));
    group.bench_function(model.name().to_string(), |b| b.iter(score_all));
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
