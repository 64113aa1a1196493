//! `cargo bench -p hark-bench`: mentions through ingest → enrich → route over the real broker and
//! Redis on loopback (start them with `deploy/local.sh start`), with throughput, ingest→routed
//! latency p50/p99 and the broker's raw produce→consume throughput for the same message size.
//! The same run as `hark bench`; `HARK_BENCH_MENTIONS` sets the count (default 200,000), and the
//! usual `HARK_*` variables point it at another broker or Redis.

fn main() -> anyhow::Result<()> {
    // `cargo bench` passes `--bench`; a filter argument means another target was asked for.
    if std::env::args().skip(1).any(|a| !a.starts_with('-')) {
        return Ok(());
    }
    let mentions = std::env::var("HARK_BENCH_MENTIONS").ok().and_then(|v| v.parse().ok()).unwrap_or(200_000);
    let config = hark::config::Config::load(None)?;
    let args = hark::bench::BenchArgs { mentions, batch: 1000, concurrency: 4, paced_mentions: 10_000, paced_rate: 1000 };
    tokio::runtime::Runtime::new()?.block_on(hark::bench::run(config, &args))
}
