//! Throughput of the language identifier and of the whole enricher, per core (one thread), in
//! mentions/s: `cargo bench -p hark-enrich --bench enricher`. Criterion prints `thrpt` in elem/s,
//! one element being one mention. The texts are the demo set's (560 mentions in eight languages).
//! `lingua-alone` is plain lingua over the same candidates, the baseline: this machine's speed
//! moves from run to run, the ratio between the two much less.
//!
//! With HARK_ENCODER_PACKAGE set (`eval "$(./deploy/local.sh env)"`), `encoder-tier` measures the
//! whole enricher with the encoder tier on every mention, in batches of 64, on one engine thread.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use hark_core::Mention;
use hark_enrich::config::{EncoderConfig, EnrichConfig, EscalationPolicy};
use hark_enrich::{language::LanguageIdentifier, Enricher};
use lingua::{IsoCode639_1, Language, LanguageDetectorBuilder};

fn mentions() -> Vec<Mention> {
    let texts = include_str!("../../../deploy/demo/texts.jsonl");
    texts
        .lines()
        .enumerate()
        .map(|(i, line)| hark_enrich::record::mention_from_line(line, i + 1).expect("demo texts are mentions"))
        .collect()
}

fn bench(c: &mut Criterion) {
    let mentions = mentions();
    let config = EnrichConfig::default();
    let mut group = c.benchmark_group("per-core");
    group.throughput(Throughput::Elements(mentions.len() as u64));
    group.sample_size(20);

    let language = LanguageIdentifier::new(&config.languages).unwrap();
    group.bench_function("language", |b| b.iter(|| mentions.iter().map(|m| language.identify(&m.text, None).confidence).sum::<f64>()));
    let languages: Vec<Language> =
        config.languages.iter().map(|c| Language::from_iso_code_639_1(&c.parse::<IsoCode639_1>().unwrap())).collect();
    let lingua = LanguageDetectorBuilder::from_languages(&languages).with_preloaded_language_models().build();
    group.bench_function("lingua-alone", |b| b.iter(|| mentions.iter().filter(|m| lingua.detect_language_of(&m.text).is_some()).count()));
    let enricher = Enricher::new(&config).unwrap();
    group.bench_function("enricher", |b| b.iter(|| mentions.iter().map(|m| enricher.enrich(m).spam.score).sum::<f64>()));
    // The same without the learned heads: what they cost, measured side by side.
    let hand_built = Enricher::new(&EnrichConfig { learned: false, ..config.clone() }).unwrap();
    group.bench_function("enricher-without-learned", |b| b.iter(|| mentions.iter().map(|m| hand_built.enrich(m).spam.score).sum::<f64>()));
    group.finish();

    if let Some(package) = std::env::var_os("HARK_ENCODER_PACKAGE") {
        // Per core: the engine's OpenMP reads this when it loads.
        std::env::set_var("OMP_NUM_THREADS", "1");
        let encoder = Some(EncoderConfig { package: package.into(), policy: EscalationPolicy::All, min_confidence: 0.6, batch_size: 64 });
        let tier = Enricher::new(&EnrichConfig { encoder, ..config }).unwrap();
        let batch = &mentions[..64];
        let mut group = c.benchmark_group("per-core");
        group.throughput(Throughput::Elements(batch.len() as u64));
        group.sample_size(10);
        group.bench_function("encoder-tier", |b| b.iter(|| tier.enrich_batch(batch).len()));
        group.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
