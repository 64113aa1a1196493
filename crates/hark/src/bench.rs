//! `hark bench`: pushes mentions through all three stages over the real broker and Redis and
//! prints throughput and ingest→routed latency; then, in the same run, the broker's raw
//! produce→consume throughput for messages of the same size, so the ratio shows how close Hark
//! is to the transport's limit.
//!
//! Everything runs in this one process on fresh topics, so the figures include the HTTP API,
//! Redis round trips, enrichment and two more broker hops, on whatever cores the machine has.

use std::{
    collections::HashSet,
    time::{Duration, Instant},
};

use crate::config::Config;
use anyhow::Context;
use chrono::{DateTime, Utc};
use hark_telemetry::{Metrics, Stage};
use rdkafka::{consumer::Consumer, message::Message};
use serde::Deserialize;
use tokio_util::sync::CancellationToken;

use crate::serve;

#[derive(clap::Args, Debug, Clone)]
pub struct BenchArgs {
    /// Mentions to push through the pipeline.
    #[arg(long, default_value_t = 200_000)]
    pub mentions: usize,
    /// Mentions per ingest request.
    #[arg(long, default_value_t = 1000)]
    pub batch: usize,
    /// Ingest requests in flight at once.
    #[arg(long, default_value_t = 4)]
    pub concurrency: usize,
    /// After the flood, mentions sent at a steady rate to measure latency below saturation.
    #[arg(long, default_value_t = 10_000)]
    pub paced_mentions: usize,
    /// The steady rate, in mentions per second.
    #[arg(long, default_value_t = 1000)]
    pub paced_rate: usize,
}

/// Texts to build mentions from: the demo set's, in eight languages.
const TEXTS: &str = include_str!("../../../deploy/demo/texts.jsonl");

#[derive(Deserialize)]
struct DemoText {
    text: String,
    brand: String,
    platform: String,
}

/// `n` distinct valid mentions (distinct ids and authors, so none is a duplicate), as NDJSON lines.
pub fn synthetic_mentions(n: usize, prefix: &str) -> Vec<String> {
    let texts: Vec<DemoText> = TEXTS.lines().filter_map(|l| serde_json::from_str(l).ok()).collect();
    let now = Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    (0..n)
        .map(|i| {
            let t = &texts[i % texts.len()];
            serde_json::json!({
                "id": format!("{prefix}-{i}"), "platform": t.platform, "text": t.text, "created_at": now,
                "author": {"id": format!("{prefix}-a{i}"), "handle": format!("user{i}"), "followers": (i * 37) % 50_000},
                "brand": t.brand,
            })
            .to_string()
        })
        .collect()
}

pub async fn run(mut config: Config, args: &BenchArgs) -> anyhow::Result<()> {
    let run_id = format!("{:08x}", fastrand::u32(..));
    isolate(&mut config, &run_id);
    // The generator cycles the demo's 560 texts with a new author each time, which the spam
    // scorer would rightly call a copy-paste campaign: that signal is off for the benchmark.
    config.enrich.spam_repeat_authors = 0;
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    config.ingest.listen = listener.local_addr()?.to_string();
    drop(listener);
    let lines = synthetic_mentions(args.mentions, &format!("{run_id}-flood"));
    let paced = synthetic_mentions(args.paced_mentions, &format!("{run_id}-paced"));
    let avg_size = lines.iter().map(String::len).sum::<usize>() / lines.len().max(1);
    println!(
        "hark bench: {} mentions, ~{avg_size} bytes each, broker {}, {} cores",
        args.mentions,
        config.kafka.brokers,
        std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1)
    );

    let outputs: Vec<String> = serve::topics_of(&config, &[Stage::Route])
        .into_iter()
        .filter(|t| *t != config.topics.raw && *t != config.topics.enriched && *t != config.topics.dlq)
        .collect();
    let shutdown = CancellationToken::new();
    let metrics = Metrics::new();
    let stages =
        tokio::spawn(serve::run(config.clone(), None, &[Stage::Ingest, Stage::Enrich, Stage::Route], metrics.clone(), shutdown.clone()));
    wait_ready(&config.ingest.listen).await?;
    let (progress_tx, mut progress) = tokio::sync::watch::channel(0usize);
    let reader = tokio::spawn(read_routed(config.clone(), outputs, args.mentions + args.paced_mentions, progress_tx));
    let url = format!("http://{}/v1/mentions", config.ingest.listen);

    // Phase 1, flood: as fast as ingest takes them; throughput is what comes out of routing.
    let started = Instant::now();
    post_all(&url, &lines, args.batch, args.concurrency).await?;
    let ingest_secs = started.elapsed().as_secs_f64();
    progress.wait_for(|seen| *seen >= args.mentions).await?;
    let flood_secs = started.elapsed().as_secs_f64();
    let busy: Vec<String> = [Stage::Ingest, Stage::Enrich, Stage::Route]
        .map(|stage| format!("{} {:.1} s", stage.as_str(), metrics.busy_seconds(stage)))
        .to_vec();

    // Phase 2, paced: a steady rate below saturation, for latency without queueing.
    let ticks_per_sec = 10;
    let per_tick = (args.paced_rate / ticks_per_sec).max(1);
    let mut tick = tokio::time::interval(Duration::from_millis(1000 / ticks_per_sec as u64));
    for chunk in paced.chunks(per_tick) {
        tick.tick().await;
        post_all(&url, chunk, per_tick, 1).await?;
    }
    let latencies = reader.await??;
    shutdown.cancel();
    stages.await??;

    let raw = broker_throughput(&config, args.mentions, avg_size, &run_id).await?;
    let flood: Vec<f64> = latencies.iter().filter(|(id, _)| id.contains("-flood-")).map(|(_, ms)| *ms).collect();
    let steady: Vec<f64> = latencies.iter().filter(|(id, _)| id.contains("-paced-")).map(|(_, ms)| *ms).collect();
    let pipeline = args.mentions as f64 / flood_secs;
    println!();
    println!("| measure | value |");
    println!("|---|---|");
    println!("| flood: mentions through ingest → enrich → route | {} in {flood_secs:.1} s |", args.mentions);
    println!("| pipeline throughput | {pipeline:.0} mentions/s |");
    println!("| ingest API alone (HTTP + Redis + produce) | {:.0} mentions/s |", args.mentions as f64 / ingest_secs);
    println!("| flood: time each stage spent processing (batches run one after another per stage) | {} |", busy.join(", "));
    println!(
        "| ingest→routed latency p50 / p99 at {} mentions/s | {:.0} ms / {:.0} ms |",
        args.paced_rate,
        percentile(&steady, 0.50),
        percentile(&steady, 0.99)
    );
    println!(
        "| ingest→routed latency p50 / p99 in the flood (mostly queueing) | {:.0} ms / {:.0} ms |",
        percentile(&flood, 0.50),
        percentile(&flood, 0.99)
    );
    println!("| broker raw produce→consume, {avg_size}-byte messages | {raw:.0} messages/s |");
    println!("| pipeline / raw broker (one mention = 3 produces + 3 consumes) | {:.3} |", pipeline / raw);
    Ok(())
}

/// Fresh topics, groups and Redis keys, so a run neither sees nor disturbs another.
pub(crate) fn isolate(config: &mut Config, run_id: &str) {
    let t = &mut config.topics;
    for topic in [&mut t.raw, &mut t.enriched, &mut t.dlq, &mut t.spam, &mut t.unmatched, &mut t.routed_prefix] {
        *topic = format!("bench-{run_id}.{topic}");
    }
    config.enrich.stage.group_id = format!("bench-{run_id}-enrich");
    config.route.stage.group_id = format!("bench-{run_id}-route");
    config.redis.key_prefix = format!("hark-bench-{run_id}:");
    config.ingest.dedupe_window_secs = 600;
    // The bench's own stages, reached by the bench alone: on loopback, without tokens or rate limits.
    if !hark_access::is_loopback(&config.ingest.listen) {
        let port = config.ingest.listen.rsplit_once(':').map_or("8080", |(_, port)| port).to_string();
        config.ingest.listen = format!("127.0.0.1:{port}");
    }
    config.auth = hark_access::config::AuthConfig {
        ingest_requests_per_sec: 1_000_000,
        ingest_burst: 1_000_000,
        ..hark_access::config::AuthConfig::default()
    };
}

pub(crate) async fn wait_ready(listen: &str) -> anyhow::Result<()> {
    let client = reqwest::Client::new();
    for _ in 0..300 {
        if let Ok(r) = client.get(format!("http://{listen}/readyz")).send().await {
            if r.status().is_success() {
                return Ok(());
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    anyhow::bail!("hark did not become ready on {listen}")
}

async fn post_all(url: &str, lines: &[String], batch: usize, concurrency: usize) -> anyhow::Result<()> {
    use futures::StreamExt;
    let client = reqwest::Client::builder().timeout(Duration::from_secs(120)).build()?;
    let bodies: Vec<String> = lines.chunks(batch.max(1)).map(|chunk| chunk.join("\n")).collect();
    let results: Vec<anyhow::Result<()>> = futures::stream::iter(bodies)
        .map(|body| {
            let client = client.clone();
            async move {
                let response = client.post(url).header("content-type", "application/x-ndjson").body(body).send().await?;
                anyhow::ensure!(response.status().is_success(), "ingest answered {}", response.status());
                Ok(())
            }
        })
        .buffer_unordered(concurrency.max(1))
        .collect()
        .await;
    results.into_iter().collect()
}

#[derive(Deserialize)]
struct Routed {
    mention: RoutedMention,
}

#[derive(Deserialize)]
struct RoutedMention {
    id: String,
    ingested_at: DateTime<Utc>,
}

/// Reads routed mentions until `expect` distinct ones arrived, reporting the count as it goes;
/// each mention's id and ingest→routed latency in ms.
async fn read_routed(
    config: Config,
    topics: Vec<String>,
    expect: usize,
    progress: tokio::sync::watch::Sender<usize>,
) -> anyhow::Result<Vec<(String, f64)>> {
    let consumer = hark_kafka::reader(&config.kafka, &format!("{}-reader", config.route.stage.group_id))?;
    let names: Vec<&str> = topics.iter().map(String::as_str).collect();
    consumer.subscribe(&names)?;
    let mut seen = HashSet::with_capacity(expect);
    let mut latencies = Vec::with_capacity(expect);
    while seen.len() < expect {
        let message = tokio::time::timeout(Duration::from_secs(120), consumer.recv())
            .await
            .with_context(|| format!("no routed mention for 120 s ({} of {expect} seen)", seen.len()))??;
        let received = Utc::now();
        let Some(Ok(routed)) = message.payload().map(serde_json::from_slice::<Routed>) else { continue };
        if seen.insert(routed.mention.id.clone()) {
            let ms = (received - routed.mention.ingested_at).num_microseconds().unwrap_or(0) as f64 / 1000.0;
            latencies.push((routed.mention.id, ms));
            progress.send_replace(seen.len());
        }
    }
    Ok(latencies)
}

/// Produces `n` messages of `size` bytes to a fresh topic and consumes them: messages per second
/// from the first produce to the last consume.
async fn broker_throughput(config: &Config, n: usize, size: usize, run_id: &str) -> anyhow::Result<f64> {
    let topic = format!("bench-{run_id}.raw-broker");
    hark_kafka::ensure_topics(&config.kafka, std::slice::from_ref(&topic)).await?;
    let producer = hark_kafka::producer(&config.kafka, None)?;
    let consumer = hark_kafka::reader(&config.kafka, &format!("bench-{run_id}-raw"))?;
    consumer.subscribe(&[topic.as_str()])?;
    let payload = vec![b'x'; size];
    let brands = ["SkyNordic", "Veloce Mobile", "Lumina Wear", "PastaPronto"];
    // One message first, so the consumer's group join is not timed.
    let warm_up = hark_kafka::Outgoing { topic: topic.clone(), key: None, headers: Vec::new(), payload: payload.clone() };
    hark_kafka::send_all(&producer, &[warm_up]).await.remove(0)?;
    tokio::time::timeout(Duration::from_secs(60), consumer.recv()).await.context("raw broker test: warm-up message")??;
    let started = Instant::now();
    let produce = async {
        for chunk in (0..n).collect::<Vec<_>>().chunks(5000) {
            let records: Vec<hark_kafka::Outgoing> = chunk
                .iter()
                .map(|i| hark_kafka::Outgoing {
                    topic: topic.clone(),
                    key: Some(brands[i % 4].into()),
                    headers: Vec::new(),
                    payload: payload.clone(),
                })
                .collect();
            for result in hark_kafka::send_all(&producer, &records).await {
                result?;
            }
        }
        anyhow::Ok(())
    };
    let consume = async {
        for received in 0..n {
            tokio::time::timeout(Duration::from_secs(60), consumer.recv())
                .await
                .with_context(|| format!("raw broker test: only {received} of {n} messages came back"))??;
        }
        anyhow::Ok(())
    };
    tokio::try_join!(produce, consume)?;
    Ok(n as f64 / started.elapsed().as_secs_f64())
}

fn percentile(values: &[f64], q: f64) -> f64 {
    if values.is_empty() {
        return f64::NAN;
    }
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    sorted[((sorted.len() - 1) as f64 * q).round() as usize]
}
