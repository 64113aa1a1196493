//! `hark enrich` killed with SIGKILL in the middle of a stream, then restarted: no mention is lost,
//! and after dropping redeliveries by their `hark-mention-id` header each arrives exactly once.

use std::{collections::HashMap, time::{Duration, Instant}};

use hark_e2e::{read_topics, synthetic_mentions, Env, Hark};

const MENTIONS: usize = 20_000;

async fn sent(enrich: &Hark) -> f64 {
    enrich.metric("hark_sent_total", &[("stage", "enrich")]).await
}

#[tokio::test(flavor = "multi_thread")]
async fn sigkill_mid_stream_loses_nothing() {
    let env = Env::new("kill");
    let mut ingest = env.spawn("ingest", &[]);
    let mut enrich = env.spawn("enrich", &[]);
    ingest.wait_ready().await;
    enrich.wait_ready().await;

    let lines = synthetic_mentions(&env.run, MENTIONS);
    for chunk in lines.chunks(2000) {
        let (status, report) = ingest.post("application/x-ndjson", chunk.join("\n")).await;
        assert_eq!((status, report["accepted"].as_u64()), (200, Some(chunk.len() as u64)), "{report}");
    }

    // Kill once some, but not all, of the stream is through.
    let deadline = Instant::now() + Duration::from_secs(120);
    while sent(&enrich).await < 2000.0 {
        assert!(Instant::now() < deadline, "enrich made no progress");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let before_kill = sent(&enrich).await;
    enrich.kill();
    assert!(before_kill < MENTIONS as f64, "enrich finished before the kill; raise MENTIONS");

    // Restart and wait until the new process has caught up (its output stops growing).
    let mut enrich = env.spawn("enrich", &[]);
    enrich.wait_ready().await;
    let (mut last, mut still_since) = (-1.0, Instant::now());
    let deadline = Instant::now() + Duration::from_secs(180);
    while still_since.elapsed() < Duration::from_secs(10) || last <= 0.0 {
        assert!(Instant::now() < deadline, "restarted enrich did not catch up");
        let now = sent(&enrich).await;
        if now != last {
            (last, still_since) = (now, Instant::now());
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }

    let enriched = read_topics(&[&env.enriched], usize::MAX, Duration::from_secs(180), Some(Duration::from_secs(5)));
    let mut copies: HashMap<&str, usize> = HashMap::new();
    for record in &enriched {
        *copies.entry(record.mention_id()).or_default() += 1;
    }
    let missing: Vec<String> = (0..MENTIONS).map(|i| format!("twitter:{}-{i}", env.run)).filter(|id| !copies.contains_key(id.as_str())).collect();
    assert!(missing.is_empty(), "{} mentions lost, e.g. {:?}", missing.len(), &missing[..missing.len().min(5)]);
    assert_eq!(copies.len(), MENTIONS, "after dropping redeliveries by id, each mention exactly once");
    eprintln!(
        "killed after {before_kill} enriched; {} messages read, {} redeliveries (at least once, deduplicated by hark-mention-id)",
        enriched.len(),
        enriched.len() - MENTIONS
    );
    assert!(ingest.is_running());
}
