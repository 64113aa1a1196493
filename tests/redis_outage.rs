//! Redis stops while ingest runs: records are reported `failed` with a 503 and `Retry-After`
//! (never accepted without dedupe, never lost), and once Redis is back the client's retry goes
//! through, exactly once.

use std::time::Duration;

use hark_e2e::{read_topics, synthetic_mentions, Env, RedisServer};

#[tokio::test(flavor = "multi_thread")]
async fn redis_outage_refuses_records_and_the_retry_gets_through() {
    let env = Env::new("redis-outage");
    let mut redis = RedisServer::start();
    let port = redis.port();
    let mut ingest = env.start("ingest", &[("HARK__REDIS__URL", &redis.url)]).await;
    let lines = synthetic_mentions(&env.run, 3);

    let (status, report) = ingest.post("application/x-ndjson", lines[0].clone()).await;
    assert_eq!((status, report["accepted"].as_u64()), (200, Some(1)), "{report}");

    redis.kill();
    let response = reqwest::Client::new()
        .post(format!("{}/v1/mentions", ingest.url))
        .header("content-type", "application/x-ndjson")
        .body(lines[1..].join("\n"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 503);
    assert_eq!(response.headers()["retry-after"], "1");
    let report: serde_json::Value = response.json().await.unwrap();
    assert_eq!((report["accepted"].as_u64(), report["failed"].as_u64()), (Some(0), Some(2)), "{report}");
    assert_eq!(report["items"][0]["error_type"], "redis");
    assert!(ingest.is_running());

    // Redis back (empty: a restart without persistence); the client resends everything.
    let _redis = RedisServer::start_on(port);
    let mut accepted = 0;
    for _ in 0..20 {
        let (status, report) = ingest.post("application/x-ndjson", lines[1..].join("\n")).await;
        if status == 200 {
            accepted = report["accepted"].as_u64().unwrap();
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    assert_eq!(accepted, 2);
    let raw = read_topics(&[&env.topics().raw], 4, Duration::from_secs(30), Some(Duration::from_secs(3)));
    let mut ids: Vec<&str> = raw.iter().map(|r| r.mention_id()).collect();
    ids.sort();
    let expected: Vec<String> = (0..3).map(|i| format!("twitter:{}-{i}", env.run)).collect();
    assert_eq!(ids, expected, "each mention on the raw topic once");
}
