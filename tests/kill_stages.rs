//! Each stage killed with SIGKILL in the middle of a stream, then restarted, and instances
//! joining and leaving a stage's group mid-stream (rebalances): no mention is lost, and after
//! dropping redeliveries by their `hark-mention-id` header each arrives exactly once.

use std::{
    collections::HashMap,
    time::{Duration, Instant},
};

use hark_e2e::{eventually, read_topics, synthetic_mentions, Env, Hark, Record};

const MENTIONS: usize = 20_000;

async fn sent(stage: &Hark, name: &str) -> f64 {
    stage.metric("hark_sent_total", &[("stage", name)]).await
}

/// Waits until the stage has handed on `at_least` messages.
async fn wait_for_progress(stage: &Hark, name: &str, at_least: f64) {
    eventually(Duration::from_secs(120), &format!("{name} making progress"), || async { sent(stage, name).await >= at_least }).await;
}

/// Waits until a restarted stage has caught up: its output stopped growing for 10 s.
async fn wait_until_idle(stage: &Hark, name: &str) {
    let (mut last, mut still_since) = (-1.0, Instant::now());
    let deadline = Instant::now() + Duration::from_secs(180);
    while still_since.elapsed() < Duration::from_secs(10) || last <= 0.0 {
        assert!(Instant::now() < deadline, "restarted {name} did not catch up");
        let now = sent(stage, name).await;
        if now != last {
            (last, still_since) = (now, Instant::now());
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// SIGKILLs a consuming stage once it has handed on 2,000 messages, starts it again, and waits
/// until the new process has caught up. How many the killed one had handed on.
async fn kill_and_restart(env: &Env, stage: &mut Hark, name: &str) -> f64 {
    wait_for_progress(stage, name, 2000.0).await;
    let before_kill = sent(stage, name).await;
    stage.kill();
    assert!(before_kill < MENTIONS as f64, "{name} finished before the kill; raise MENTIONS");
    *stage = env.start(name, &[]).await;
    wait_until_idle(stage, name).await;
    before_kill
}

/// Every mention of the run is there, once after dropping redeliveries; the redelivery count.
fn assert_each_once(env: &Env, records: &[Record]) -> usize {
    let mut copies: HashMap<&str, usize> = HashMap::new();
    for record in records {
        *copies.entry(record.mention_id()).or_default() += 1;
    }
    let missing: Vec<String> =
        (0..MENTIONS).map(|i| format!("twitter:{}-{i}", env.run)).filter(|id| !copies.contains_key(id.as_str())).collect();
    assert!(missing.is_empty(), "{} mentions lost, e.g. {:?}", missing.len(), &missing[..missing.len().min(5)]);
    assert_eq!(copies.len(), MENTIONS, "after dropping redeliveries by id, each mention exactly once");
    records.len() - MENTIONS
}

async fn post_all(ingest: &Hark, env: &Env) {
    for chunk in synthetic_mentions(&env.run, MENTIONS).chunks(2000) {
        let (status, report) = ingest.post("application/x-ndjson", chunk.join("\n")).await;
        assert_eq!((status, report["accepted"].as_u64()), (200, Some(chunk.len() as u64)), "{report}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn sigkill_of_enrich_mid_stream_loses_nothing() {
    let env = Env::new("kill-enrich");
    let ingest = env.start("ingest", &[]).await;
    let mut enrich = env.start("enrich", &[]).await;
    post_all(&ingest, &env).await;
    let before_kill = kill_and_restart(&env, &mut enrich, "enrich").await;

    let enriched = read_topics(&[&env.topics().enriched], usize::MAX, Duration::from_secs(180), Some(Duration::from_secs(5)));
    let redeliveries = assert_each_once(&env, &enriched);
    eprintln!("enrich killed after {before_kill} enriched; {redeliveries} redeliveries");
}

#[tokio::test(flavor = "multi_thread")]
async fn sigkill_of_route_mid_stream_loses_nothing() {
    let env = Env::new("kill-route");
    let ingest = env.start("ingest", &[]).await;
    let _enrich = env.start("enrich", &[]).await;
    let mut route = env.start("route", &[]).await;
    post_all(&ingest, &env).await;
    let before_kill = kill_and_restart(&env, &mut route, "route").await;

    // The test's rules send each mention to `complaints`, `influencers` or `unmatched` (or `spam`);
    // count each mention once per rule.
    let topics = [env.routed("complaints"), env.routed("influencers"), env.topics().unmatched.clone(), env.topics().spam.clone()];
    let names: Vec<&str> = topics.iter().map(String::as_str).collect();
    let routed = read_topics(&names, usize::MAX, Duration::from_secs(180), Some(Duration::from_secs(5)));
    let mut per_rule: HashMap<(&str, &str), usize> = HashMap::new();
    for record in &routed {
        *per_rule.entry((record.mention_id(), record.headers["hark-route-rule"].as_str())).or_default() += 1;
    }
    let first_routes: Vec<Record> = {
        let mut seen = std::collections::HashSet::new();
        routed.iter().filter(|r| seen.insert(r.mention_id().to_string())).cloned().collect()
    };
    assert_each_once(&env, &first_routes);
    eprintln!("route killed after {before_kill} routed; {} redeliveries", routed.len() - per_rule.len());
}

#[tokio::test(flavor = "multi_thread")]
async fn sigkill_of_ingest_mid_request_loses_nothing() {
    let env = Env::new("kill-ingest");
    // A short claim, so a retry after the crash is not held back for long (and so a short
    // produce timeout, which the claim must outlive).
    let claim = [("HARK__INGEST__CLAIM_TTL_SECS", "2"), ("HARK__KAFKA__PROPERTIES", r#"{ "message.timeout.ms" = "1500" }"#)];
    let mut ingest = env.start("ingest", &claim).await;
    let lines = synthetic_mentions(&env.run, MENTIONS);
    let url = format!("{}/v1/mentions", ingest.url);

    // A client that sends 500 at a time and resends a batch until every record in it is
    // accepted or a duplicate, as the API asks (connection errors and 503 included).
    let client = tokio::spawn(async move {
        let http = reqwest::Client::new();
        let mut retries = 0;
        for chunk in lines.chunks(500) {
            loop {
                let answer = http.post(&url).header("content-type", "application/x-ndjson").body(chunk.join("\n")).send().await;
                let done = match answer {
                    Ok(r) if r.status() == 200 => {
                        let report: serde_json::Value = r.json().await.unwrap();
                        report["accepted"].as_u64().unwrap() + report["duplicates"].as_u64().unwrap() == chunk.len() as u64
                    }
                    _ => false,
                };
                if done {
                    break;
                }
                retries += 1;
                tokio::time::sleep(Duration::from_millis(300)).await;
            }
        }
        retries
    });

    wait_for_progress(&ingest, "ingest", 3000.0).await;
    let before_kill = sent(&ingest, "ingest").await;
    ingest.kill();
    assert!(before_kill < MENTIONS as f64, "ingest finished before the kill; raise MENTIONS");
    let _restarted = env.start("ingest", &claim).await; // held: dropping it would kill it
    let retries = tokio::time::timeout(Duration::from_secs(180), client).await.expect("client finished").unwrap();
    assert!(retries > 0, "the kill should have failed at least one request");

    let raw = read_topics(&[&env.topics().raw], usize::MAX, Duration::from_secs(180), Some(Duration::from_secs(5)));
    let redeliveries = assert_each_once(&env, &raw);
    eprintln!("ingest killed after {before_kill} accepted; {retries} client retries; {redeliveries} redeliveries on the raw topic");
}

#[tokio::test(flavor = "multi_thread")]
async fn enrich_instances_joining_and_leaving_mid_stream_lose_nothing() {
    let env = Env::new("rebalance-enrich");
    let ingest = env.start("ingest", &[]).await;
    let first = env.start("enrich", &[]).await;
    // The stream comes in four parts, one after each change of the group, so every instance
    // that joins has mentions to take whichever partitions it gets.
    let lines = synthetic_mentions(&env.run, MENTIONS);
    let mut parts = lines.chunks(MENTIONS / 4);
    let mut post_next = || {
        let part = parts.next().expect("four parts");
        let ingest = &ingest;
        async move {
            for chunk in part.chunks(2000) {
                let (status, report) = ingest.post("application/x-ndjson", chunk.join("\n")).await;
                assert_eq!((status, report["accepted"].as_u64()), (200, Some(chunk.len() as u64)), "{report}");
            }
        }
    };

    // A second instance joins under load (a rebalance), works, and leaves (another); then a
    // third joins and is SIGKILLed, so its partitions come back only after its session times out.
    post_next().await;
    wait_for_progress(&first, "enrich", 2000.0).await;
    let mut second = env.start_another("enrich").await;
    post_next().await;
    wait_for_progress(&second, "enrich", 1.0).await;
    second.stop();
    let mut third = env.start_another("enrich").await;
    post_next().await;
    wait_for_progress(&third, "enrich", 1.0).await;
    third.kill();
    post_next().await;
    wait_until_idle(&first, "enrich").await;

    let enriched = read_topics(&[&env.topics().enriched], usize::MAX, Duration::from_secs(180), Some(Duration::from_secs(5)));
    let redeliveries = assert_each_once(&env, &enriched);
    eprintln!("three enrich instances, two rebalances and a kill: {redeliveries} redeliveries");
}
