//! `kafka.exactly_once = true`: the enrich stage runs its transactional path (each batch's outputs
//! and offsets in one Kafka transaction) against the real broker, and every mention comes out.
//!
//! The local broker accepts the transaction calls but does not hide aborted records from
//! `read_committed` readers, so this proves the path runs and commits; exactly-once isolation
//! itself needs Apache Kafka or Redpanda.

use std::time::Duration;

use hark_e2e::{read_topics, synthetic_mentions, write_topic, Env};

#[tokio::test(flavor = "multi_thread")]
async fn transactional_enrich_delivers_every_mention_once() {
    let env = Env::new("txn");
    let enrich = env.start("enrich", &[("HARK__KAFKA__EXACTLY_ONCE", "true")]).await;

    let lines = synthetic_mentions(&env.run, 300);
    let bytes: Vec<&[u8]> = lines.iter().map(|l| l.as_bytes()).collect();
    write_topic(&env.topics().raw, "SkyNordic", &bytes);

    let enriched = read_topics(&[&env.topics().enriched], 301, Duration::from_secs(90), Some(Duration::from_secs(4)));
    let mut ids: Vec<&str> = enriched.iter().map(|r| r.mention_id()).collect();
    ids.sort();
    ids.dedup();
    assert_eq!((ids.len(), enriched.len()), (300, 300), "every mention once");
    assert_eq!(enrich.metric("hark_errors_total", &[("stage", "enrich"), ("error_type", "transaction")]).await, 0.0);
    let log = std::fs::read_to_string(&enrich.log).unwrap();
    assert!(log.contains("exactly_once=true"), "the stage did not start in transactional mode: {log}");
}
