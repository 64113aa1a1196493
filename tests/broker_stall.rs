//! The broker stalls (SIGSTOP, connections open, no answers) while a client sends mentions, gives
//! up, and retries. Ingest's claim on each mention outlives the producer's longest try
//! (`message.timeout.ms`), so while the first request's mentions may still reach the broker a
//! retry is told to wait (`in_flight`), never accepted beside them. The first request's records
//! end either released (the produce timed out: the retry is accepted) or committed (the broker
//! woke in time: the retry finds duplicates), never both, and the client sees each mention
//! accepted once.
//!
//! A produce that timed out may still have reached the broker (here: the request waits in the
//! stalled broker's socket). Apache Kafka and Redpanda refuse it once the producer has moved to a
//! new epoch (KIP-360); the local broker refuses the new epoch instead, so ingest renews its
//! producer and the stale request lands beside the retry: a second copy with the same
//! `hark-mention-id`, which the stages downstream drop as a redelivery. The test allows that
//! copy for the released mentions only.

use std::time::Duration;

use hark_e2e::{eventually, poll_until, read_topics_from, synthetic_mentions, BrokerServer, Env, Hark};
use serde_json::Value;

/// The producer's longest try in this test, and the claim that must outlive it.
const MESSAGE_TIMEOUT_MS: u64 = 4_000;
const CLAIM_TTL_SECS: u64 = 6;

async fn post(hark: &Hark, lines: &[String], timeout: Duration) -> Result<(u16, Value), reqwest::Error> {
    let client = reqwest::Client::builder().timeout(timeout).build().unwrap();
    let response = client
        .post(format!("{}/v1/mentions", hark.url))
        .header("content-type", "application/x-ndjson")
        .body(lines.join("\n"))
        .send()
        .await?;
    Ok((response.status().as_u16(), response.json().await?))
}

/// Sends `lines` and gives up after a second, as a client whose own timeout is short.
async fn send_and_give_up(hark: &Hark, lines: &[String]) {
    let gave_up = post(hark, lines, Duration::from_secs(1)).await;
    assert!(gave_up.is_err(), "the stalled broker cannot have acknowledged: {gave_up:?}");
}

/// Retries until ingest answers 200, as a client does after a 503; the last report.
async fn retry_until_taken(hark: &Hark, lines: &[String]) -> Value {
    poll_until(Duration::from_secs(30), async || {
        let (status, report) = post(hark, lines, Duration::from_secs(20)).await.expect("ingest answers");
        assert!(status == 200 || status == 503, "{status}: {report}");
        match status {
            200 => Ok(report),
            _ => Err(format!("still refused: {report}")),
        }
    })
    .await
}

fn error_types(report: &Value) -> Vec<&str> {
    report["items"].as_array().unwrap().iter().map(|item| item["error_type"].as_str().unwrap()).collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_retry_during_a_broker_stall_finds_each_mention_once() {
    let broker = BrokerServer::start();
    let mut env = Env::new("broker-stall");
    env.configure(|config| {
        config.kafka.brokers = broker.address.clone();
        config.kafka.properties.insert("message.timeout.ms".into(), MESSAGE_TIMEOUT_MS.to_string());
        config.ingest.claim_ttl_secs = CLAIM_TTL_SECS;
    });
    let ingest = env.start("ingest", &[("HARK__KAFKA__BROKERS", &broker.address)]).await;
    let lines = synthetic_mentions(&env.run, 10);
    let (released, committed) = lines.split_at(5);

    // The broker stalls past the producer's timeout: the first request's mentions are released.
    broker.freeze();
    send_and_give_up(&ingest, released).await;
    let (status, report) = post(&ingest, released, Duration::from_secs(20)).await.expect("ingest answers");
    assert_eq!((status, report["accepted"].as_u64()), (503, Some(0)), "{report}");
    assert!(error_types(&report).iter().all(|t| *t == "in_flight"), "a copy is being produced: wait, {report}");
    let timed_out =
        || async { ingest.metric("hark_errors_total", &[("stage", "ingest"), ("error_type", "broker")]).await >= released.len() as f64 };
    eventually(Duration::from_secs(20), "the stalled produce timing out", timed_out).await;
    broker.thaw();
    let report = retry_until_taken(&ingest, released).await;
    assert_eq!(report["accepted"].as_u64(), Some(released.len() as u64), "released, so the retry goes through: {report}");

    // The broker wakes before the timeout: the first request's mentions are committed.
    broker.freeze();
    send_and_give_up(&ingest, committed).await;
    tokio::time::sleep(Duration::from_millis(1000)).await;
    broker.thaw();
    let report = retry_until_taken(&ingest, committed).await;
    assert_eq!(report["accepted"].as_u64(), Some(0), "committed, so the retry finds duplicates: {report}");
    assert!(error_types(&report).iter().all(|t| *t == "duplicate_id"), "{report}");

    let raw =
        read_topics_from(&broker.address, &[&env.topics().raw], 2 * lines.len(), Duration::from_secs(30), Some(Duration::from_secs(3)));
    let copies = |i: usize| raw.iter().filter(|r| r.mention_id() == format!("twitter:{}-{i}", env.run)).count();
    for i in 0..released.len() {
        assert!((1..=2).contains(&copies(i)), "released mention {i}: {} copies", copies(i));
    }
    for i in released.len()..lines.len() {
        assert_eq!(copies(i), 1, "committed mention {i} on the raw topic once");
    }
}
