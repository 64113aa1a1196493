//! Throughput of the transformer sentiment backend on one CPU core, in mentions per second, for
//! batches of 1, 8 and 32 English mentions from the dev set.
//!
//! `deploy/transformer.sh bench`, or by hand: `HARK_TRANSFORMER_MODEL=<model folder>
//! LD_LIBRARY_PATH=<torch>/lib cargo bench -p hark-enrich --features transformer --bench transformer`.
//! `HARK_BENCH_THREADS` sets libtorch's threads (default 1, so the figure is per core).

use std::path::PathBuf;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use hark_enrich::config::{EscalationPolicy, TransformerConfig};
use hark_enrich::{transformer::TransformerModel, SentimentModel};

fn dev_set_english() -> Vec<String> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/mentions-dev.jsonl");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    text.lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter(|m| m["lang"] == "en")
        .filter_map(|m| m["text"].as_str().map(String::from))
        .collect()
}

fn bench(c: &mut Criterion) {
    let threads = std::env::var("HARK_BENCH_THREADS").ok().and_then(|t| t.parse().ok()).unwrap_or(1);
    tch::set_num_threads(threads);
    let model_dir =
        std::env::var_os("HARK_TRANSFORMER_MODEL").expect("set HARK_TRANSFORMER_MODEL to the folder `deploy/transformer.sh model` writes");
    let texts = dev_set_english();
    let mut group = c.benchmark_group(format!("transformer_sentiment_{threads}_thread"));
    group.sample_size(10);
    for batch_size in [1usize, 8, 32] {
        let config = TransformerConfig {
            model_dir: model_dir.clone().into(),
            device: "cpu".into(),
            batch_size,
            policy: EscalationPolicy::All,
            min_confidence: 0.6,
            max_tokens: 128,
            languages: vec!["en".into()],
        };
        let model = TransformerModel::load(&config).expect("the model loads");
        let mut next = 0;
        group.throughput(Throughput::Elements(batch_size as u64));
        group.bench_function(BenchmarkId::new("batch", batch_size), |b| {
            b.iter(|| {
                let items: Vec<(&str, &str)> = (0..batch_size).map(|i| (texts[(next + i) % texts.len()].as_str(), "en")).collect();
                next += batch_size;
                model.score_batch(&items)
            })
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
