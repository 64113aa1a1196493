//! The whole pipeline over the real broker and Redis: the shipped demo file goes in over HTTP
//! (with its redeliveries, reposts and invalid records, and a second time as a retry), and an
//! independent consumer checks that every valid unique mention comes out of enrich and route
//! exactly once, with its fields, matching the `proto/` contracts, and the rest is accounted for.

use std::{
    collections::{BTreeMap, BTreeSet, HashMap},
    time::Duration,
};

use hark_e2e::{read_topics, repo, validate, Env};
use serde_json::Value;

#[tokio::test(flavor = "multi_thread")]
async fn every_valid_unique_mention_arrives_exactly_once() {
    let env = Env::new("pipeline");
    let hark = env.start("all", &[]).await;

    let file = std::fs::read_to_string(repo().join("deploy/demo/mentions.ndjson")).unwrap();
    let expected: Value = serde_json::from_str(&std::fs::read_to_string(repo().join("deploy/demo/expected.json")).unwrap()).unwrap();
    let lines: Vec<&str> = file.lines().filter(|l| !l.trim().is_empty()).collect();

    // Four NDJSON requests; each record's fate is in the response, by index.
    let (mut accepted, mut duplicates, mut rejected) = (0, 0, 0);
    let mut not_accepted = BTreeSet::new();
    for (chunk_no, chunk) in lines.chunks(250).enumerate() {
        let (status, report) = hark.post("application/x-ndjson", chunk.join("\n")).await;
        assert_eq!(status, 200, "{report}");
        accepted += report["accepted"].as_u64().unwrap();
        duplicates += report["duplicates"].as_u64().unwrap();
        rejected += report["rejected"].as_u64().unwrap();
        for item in report["items"].as_array().unwrap() {
            not_accepted.insert(chunk_no * 250 + item["index"].as_u64().unwrap() as usize);
            assert!(!item["reason"].as_str().unwrap().is_empty());
        }
    }
    assert_eq!(accepted, expected["unique"].as_u64().unwrap());
    assert_eq!(duplicates, expected["redeliveries"].as_u64().unwrap() + expected["reposts"].as_u64().unwrap());
    assert_eq!(rejected, expected["invalid"].as_u64().unwrap());

    // A client retrying a whole batch gets nothing accepted twice.
    let (status, retry) = hark.post("application/x-ndjson", lines[..250].join("\n")).await;
    assert_eq!(status, 200);
    assert_eq!(retry["accepted"], 0, "{retry}");

    // What should come out: the accepted records, by stable id, with their text.
    let inputs: BTreeMap<String, Value> = lines
        .iter()
        .enumerate()
        .filter(|(i, _)| !not_accepted.contains(i))
        .map(|(_, line)| {
            let v: Value = serde_json::from_str(line).unwrap();
            (format!("{}:{}", v["platform"].as_str().unwrap(), v["id"].as_str().unwrap()), v)
        })
        .collect();
    assert_eq!(inputs.len() as u64, accepted);

    // Enriched topic: each accepted mention exactly once, with its fields, valid against enriched.v1.
    let enriched = read_topics(&[&env.topics().enriched], inputs.len() + 1, Duration::from_secs(120), Some(Duration::from_secs(4)));
    let mut by_id: HashMap<&str, usize> = HashMap::new();
    for record in &enriched {
        *by_id.entry(record.mention_id()).or_default() += 1;
        let input = &inputs[record.mention_id()];
        let mention = &record.value["mention"];
        assert_eq!(mention["text"], input["text"]);
        assert_eq!(mention["author"]["id"], input["author"]["id"]);
        assert!(mention["ingested_at"].is_string());
        // Keyed by the canonical brand: lowercase here, where no brand query is configured.
        assert_eq!(
            record.key.as_deref(),
            Some(
                input["brand"]
                    .as_str()
                    .map(str::to_lowercase)
                    .unwrap_or_else(|| format!(
                        "author:{}:{}",
                        input["platform"].as_str().unwrap(),
                        input["author"]["id"].as_str().unwrap()
                    ))
                    .as_str()
            )
        );
        assert_eq!(record.headers["hark-schema"], "enriched.v1");
        // Every label the enrich stage promises is there (optional in the contract for older messages).
        let enrichment = &record.value["enrichment"];
        for field in ["intent", "offensive", "influence", "brands"] {
            assert!(!enrichment[field].is_null(), "{field} missing in {enrichment}");
        }
        let followers = input["author"]["followers"].as_u64().unwrap_or(0);
        assert_eq!(enrichment["influence"]["followers"], followers);
    }
    assert_eq!(enriched.len(), inputs.len(), "enriched messages");
    assert!(by_id.values().all(|&n| n == 1));
    assert_eq!(by_id.keys().copied().collect::<BTreeSet<_>>(), inputs.keys().map(String::as_str).collect());
    validate("enriched.v1.schema.json", &enriched.iter().map(|r| &r.value).collect::<Vec<_>>()).unwrap();

    // Routed topics: every mention leaves routing, once per route, where its rule says.
    let routed_topics = [env.routed("complaints"), env.routed("influencers"), env.topics().unmatched.clone(), env.topics().spam.clone()];
    let topics: Vec<&str> = routed_topics.iter().map(String::as_str).collect();
    let routed = read_topics(&topics, usize::MAX, Duration::from_secs(120), Some(Duration::from_secs(6)));
    let mut routes: BTreeMap<(&str, &str), usize> = BTreeMap::new();
    for record in &routed {
        *routes.entry((record.mention_id(), record.headers["hark-route-rule"].as_str())).or_default() += 1;
        let enrichment = &record.value["enrichment"];
        let spam = enrichment["spam"]["score"].as_f64().unwrap();
        let followers = record.value["mention"]["author"]["followers"].as_u64().unwrap_or(0);
        match record.headers["hark-route-rule"].as_str() {
            "spam" => assert!(spam >= 0.7),
            "complaints" => assert_eq!(enrichment["sentiment"]["label"], "negative"),
            "influencers" => assert!(followers >= 100_000),
            "unmatched" => assert!(enrichment["sentiment"]["label"] != "negative" && followers < 100_000 && spam < 0.7),
            other => panic!("unexpected route {other}"),
        }
    }
    assert!(routes.values().all(|&n| n == 1), "a mention was routed twice to one rule");
    let routed_ids: BTreeSet<&str> = routes.keys().map(|(id, _)| *id).collect();
    assert_eq!(routed_ids, inputs.keys().map(String::as_str).collect(), "every mention leaves routing");
    assert!(routes.keys().any(|(_, rule)| *rule == "complaints") && routes.keys().any(|(_, rule)| *rule == "influencers"));

    // Nothing was dead-lettered, and the metrics say the same as the topics.
    assert!(read_topics(&[&env.topics().dlq], 1, Duration::from_secs(5), None).is_empty());
    assert_eq!(hark.metric("hark_sent_total", &[("stage", "ingest")]).await, accepted as f64);
    assert_eq!(
        hark.metric("hark_discarded_total", &[("stage", "ingest"), ("intentional", "true")]).await,
        (duplicates + retry["duplicates"].as_u64().unwrap()) as f64
    );
    assert_eq!(hark.metric("hark_sent_total", &[("stage", "enrich"), ("output", "enriched")]).await, accepted as f64);
    assert_eq!(hark.metric("hark_sent_total", &[("stage", "route")]).await, routed.len() as f64);
    // The `myspace` record is in the first 250 lines, so the resent batch rejected it again.
    // The client's fault: counted as rejections, apart from Hark's own failures.
    assert_eq!(hark.metric("hark_rejected_total", &[("stage", "ingest"), ("reason", "unknown_platform")]).await, 2.0);
    assert_eq!(hark.metric("hark_errors_total", &[("stage", "ingest")]).await, 0.0);
}

#[test]
fn proto_examples_match_their_schemas() {
    for name in ["mention.v1", "enriched.v1", "alert.v1"] {
        let example: Value =
            serde_json::from_str(&std::fs::read_to_string(repo().join(format!("proto/examples/{name}.json"))).unwrap()).unwrap();
        validate(&format!("{name}.schema.json"), &[&example]).unwrap();
    }
    // The contracts can fail: a mention without text does not validate.
    let mut broken: Value = serde_json::from_str(&std::fs::read_to_string(repo().join("proto/examples/mention.v1.json")).unwrap()).unwrap();
    broken.as_object_mut().unwrap().remove("text");
    assert!(validate("mention.v1.schema.json", &[&broken]).is_err());
}

#[test]
fn rust_types_round_trip_the_examples() {
    // The domain types read the published examples and write back what the schemas accept.
    let read = |name: &str| std::fs::read_to_string(repo().join(format!("proto/examples/{name}.json"))).unwrap();
    let mention: hark_core::Mention = serde_json::from_str(&read("mention.v1")).unwrap();
    let enriched: hark_core::EnrichedMention = serde_json::from_str(&read("enriched.v1")).unwrap();
    let alert: hark_core::Alert = serde_json::from_str(&read("alert.v1")).unwrap();
    let values = [serde_json::to_value(&mention).unwrap(), serde_json::to_value(&enriched).unwrap(), serde_json::to_value(&alert).unwrap()];
    validate("mention.v1.schema.json", &[&values[0]]).unwrap();
    validate("enriched.v1.schema.json", &[&values[1]]).unwrap();
    validate("alert.v1.schema.json", &[&values[2]]).unwrap();
}
