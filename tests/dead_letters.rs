//! Poison messages on a topic go to the dead-letter topic with the reason and their origin in
//! headers; the good messages around them go on, and no stage crashes. A mention dated years
//! ahead, written straight to the raw topic past ingest's clock-skew check, is poison too.

use std::time::Duration;

use hark_e2e::{read_topics, write_topic, Env};

#[tokio::test(flavor = "multi_thread")]
async fn poison_goes_to_the_dead_letter_topic_and_the_rest_goes_on() {
    let env = Env::new("dlq");
    let mut enrich = env.start("enrich", &[]).await;
    let mut route = env.start("route", &[]).await;

    let good = |id: &str| {
        format!(
            r#"{{"id":"{id}","platform":"twitter","text":"lost my bag again","created_at":"2026-11-20T10:00:00Z","author":{{"id":"a-{id}"}},"brand":"SkyNordic"}}"#
        )
    };
    let (good_1, good_2) = (good("g1"), good("g2"));
    let future = good("f1").replace("2026-11-20T10:00:00Z", "2036-11-20T10:00:00Z");
    // One key, so all land in one partition in this order.
    write_topic(
        &env.topics().raw,
        "SkyNordic",
        &[good_1.as_bytes(), b"{not json", b"\xff\xfe\xfd", br#"{"id": 5}"#, future.as_bytes(), good_2.as_bytes()],
    );
    // A message on the enriched topic that is not an enriched.v1 is the route stage's poison.
    write_topic(&env.topics().enriched, "SkyNordic", &[br#"{"mention": 1}"#]);

    let dead = read_topics(&[&env.topics().dlq], 5, Duration::from_secs(60), None);
    assert_eq!(dead.len(), 5, "{dead:?}");
    let by_type = |t: &str| dead.iter().find(|r| r.headers["hark-dlq-error-type"] == t).unwrap_or_else(|| panic!("no {t} in {dead:?}"));
    let json = by_type("invalid_json");
    assert_eq!(json.value["_raw"], "{not json");
    assert_eq!(json.headers["hark-dlq-stage"], "enrich");
    assert_eq!(json.headers["hark-source-topic"], env.topics().raw);
    assert_eq!(
        json.headers["hark-source-offset"].parse::<i64>().unwrap(),
        by_type("invalid_utf8").headers["hark-source-offset"].parse::<i64>().unwrap() - 1
    );
    assert!(json.headers["hark-dlq-reason"].starts_with("value is not valid JSON"));
    assert!(json.headers.contains_key("hark-source-partition"));
    let reason = |stage: &str| {
        dead.iter()
            .find(|r| r.headers["hark-dlq-error-type"] == "schema" && r.headers["hark-dlq-stage"] == stage)
            .map(|r| r.headers["hark-dlq-reason"].clone())
    };
    assert!(reason("enrich").unwrap().starts_with("value is not a mention.v1: invalid type: integer `5`"), "{dead:?}");
    assert!(reason("route").unwrap().starts_with("value is not an enriched.v1"), "{dead:?}");
    let future_dead = by_type("future_timestamp");
    assert_eq!(future_dead.headers["hark-dlq-stage"], "enrich");
    assert!(future_dead.headers["hark-dlq-reason"].contains("in the future"), "{future_dead:?}");
    assert_eq!(future_dead.value["id"], "f1", "the message is dead-lettered unchanged");

    let routed = read_topics(&[&env.routed("complaints"), &env.topics().unmatched], 2, Duration::from_secs(60), None);
    let mut ids: Vec<&str> = routed.iter().map(|r| r.mention_id()).collect();
    ids.sort();
    assert_eq!(ids, ["twitter:g1", "twitter:g2"]);
    assert!(enrich.is_running() && route.is_running());
    assert_eq!(enrich.metric("hark_dead_lettered_total", &[("stage", "enrich")]).await, 4.0);
}
