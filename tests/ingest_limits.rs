//! The ingest API's limits over real HTTP, against a real ingest process, broker and Redis:
//! records per request, the length of the answer, the length of every field, the content type,
//! and NDJSON requests of several batches.

use std::time::Duration;

use hark_e2e::{read_topics, synthetic_mentions, Env};
use serde_json::{json, Value};

fn mention(id: &str) -> Value {
    json!({"id": id, "platform": "twitter", "text": format!("text of {id}"), "created_at": "2026-11-20T10:00:00Z",
           "author": {"id": format!("author-{id}")}, "brand": "SkyNordic"})
}

fn ndjson(records: impl IntoIterator<Item = String>) -> String {
    records.into_iter().map(|record| record + "\n").collect()
}

fn items(report: &Value) -> &Vec<Value> {
    report["items"].as_array().unwrap_or_else(|| panic!("no items in {report}"))
}

#[tokio::test(flavor = "multi_thread")]
async fn past_the_record_cap_the_answer_is_413_with_the_cap_and_what_was_taken() {
    let env = Env::new("record-cap");
    let hark = env.start("ingest", &[]).await;

    // Defaults: 10,000 records per request, 1,000 items listed. NDJSON is processed as it
    // arrives, so the first 10,000 were (all rejected here) and the answer says so.
    let (status, report) = hark.post("application/x-ndjson", "{}\n".repeat(10_001)).await;
    assert_eq!(status, 413, "{report}");
    let message = report["error"].as_str().unwrap();
    assert!(message.starts_with("request has more than 10000 records, the limit per request"), "{message}");
    assert!(message.contains("split it into smaller batches"), "{message}");
    assert!(message.contains("Records 0 to 9999 were processed"), "{message}");
    assert_eq!((report["received"].as_u64(), report["rejected"].as_u64()), (Some(10_000), Some(10_000)));
    assert_eq!((items(&report).len(), report["items_omitted"].as_u64()), (1000, Some(9000)));
    assert_eq!(items(&report)[999]["index"], 999);

    // Exactly at the cap is fine.
    let (status, report) = hark.post("application/x-ndjson", "{}\n".repeat(10_000)).await;
    assert_eq!((status, report["received"].as_u64()), (422, Some(10_000)));

    // A JSON array is counted before anything is parsed: nothing of it is ingested.
    let lines = synthetic_mentions(&env.run, 10_001);
    let array = format!("[{}]", lines.join(","));
    let (status, report) = hark.post("application/json", array).await;
    assert_eq!(status, 413, "{report}");
    let message = report["error"].as_str().unwrap();
    assert!(message.contains("more than 10000 records") && message.ends_with("nothing was ingested"), "{message}");
    assert_eq!(report.get("received"), None);
    // The same mentions in two requests go through.
    for half in lines.chunks(5001) {
        let (status, report) = hark.post("application/json", format!("[{}]", half.join(","))).await;
        assert_eq!((status, report["accepted"].as_u64()), (200, Some(half.len() as u64)), "{report}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn an_ndjson_request_of_several_batches_keeps_its_indexes() {
    let mut env = Env::new("batches");
    env.configure(|config| config.ingest.max_reported_items = 10_000);
    let hark = env.start("ingest", &[]).await;

    // 1,234 records (three batches of up to 500): every 97th is broken, record 1,100 repeats
    // record 3 (a batch earlier), and CRLF line ends throughout.
    let n = 1234;
    let mut records: Vec<String> = synthetic_mentions(&env.run, n);
    let broken: Vec<usize> = (0..n).filter(|i| i % 97 == 50).collect();
    for &i in &broken {
        records[i] = format!("{{\"id\": \"broken-{i}\", \"platform\":");
    }
    records[1100] = records[3].clone();
    let body: String = records.iter().map(|r| format!("{r}\r\n")).collect();
    let (status, report) = hark.post("application/x-ndjson", body).await;
    assert_eq!(status, 200, "{report}");
    let expected_items: Vec<(u64, &str, &str)> =
        broken.iter().map(|&i| (i as u64, "rejected", "invalid_json")).chain([(1100, "duplicate", "duplicate_id")]).collect();
    let mut expected_items = expected_items;
    expected_items.sort();
    let found: Vec<(u64, &str, &str)> = items(&report)
        .iter()
        .map(|item| (item["index"].as_u64().unwrap(), item["status"].as_str().unwrap(), item["error_type"].as_str().unwrap()))
        .collect();
    assert_eq!(found, expected_items);
    let accepted = n - broken.len() - 1;
    assert_eq!(
        (report["received"].as_u64(), report["accepted"].as_u64(), report["items_omitted"].as_u64()),
        (Some(n as u64), Some(accepted as u64), Some(0))
    );
    let raw = read_topics(&[&env.topics().raw], accepted, Duration::from_secs(60), Some(Duration::from_secs(3)));
    assert_eq!(raw.len(), accepted);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_answer_lists_up_to_the_limit_and_counts_the_rest() {
    let mut env = Env::new("report-limit");
    env.configure(|config| config.ingest.max_reported_items = 5);
    let hark = env.start("ingest", &[]).await;

    let mut records: Vec<String> = (0..20).map(|i| format!("{{\"id\": \"bad-{i}\"}}")).collect();
    records.push(mention("good").to_string());
    let (status, report) = hark.post("application/x-ndjson", ndjson(records)).await;
    assert_eq!(status, 200, "{report}");
    let indexes: Vec<u64> = items(&report).iter().map(|item| item["index"].as_u64().unwrap()).collect();
    assert_eq!(indexes, [0, 1, 2, 3, 4]);
    assert_eq!((report["rejected"].as_u64(), report["items_omitted"].as_u64()), (Some(20), Some(15)));
}

#[tokio::test(flavor = "multi_thread")]
async fn every_field_has_a_length_limit_told_per_record() {
    let env = Env::new("field-limits");
    let hark = env.start("ingest", &[]).await;

    let with = |id: &str, change: &dyn Fn(&mut Value)| {
        let mut record = mention(id);
        change(&mut record);
        record.to_string()
    };
    let records = vec![
        with("ok-1", &|_| {}),
        with("long-brand", &|r| r["brand"] = json!("b".repeat(257))),
        with("long-url", &|r| r["url"] = json!(format!("https://example.com/{}", "u".repeat(5000)))),
        with(&"i".repeat(513), &|_| {}),
        with("long-handle", &|r| r["author"]["handle"] = json!("h".repeat(300))),
        with("long-extra", &|r| r["scraper_notes"] = json!("n".repeat(20_000))),
        // One line of 300 KB: past ingest.max_record_bytes, rejected without being read whole.
        with("long-line", &|r| r["text"] = json!("\u{1F600}".repeat(75_000))),
        with("ok-2", &|_| {}),
    ];
    let (status, report) = hark.post("application/x-ndjson", ndjson(records)).await;
    assert_eq!(status, 200, "{report}");
    let expected = [
        (1, "field `brand` is 257 bytes, more than the limit of 256"),
        (2, "field `url` is 5020 bytes, more than the limit of 4096"),
        (3, "field `id` is 513 bytes, more than the limit of 512"),
        (4, "field `author.handle` is 300 bytes, more than the limit of 256"),
        (5, "the fields Hark does not know take 20019 bytes as JSON, more than the limit of 16384"),
        (6, "record is 300"),
    ];
    let found = items(&report);
    assert_eq!(found.len(), expected.len(), "{report}");
    for (item, (index, reason)) in found.iter().zip(expected) {
        assert_eq!(
            (item["index"].as_u64(), item["status"].as_str(), item["error_type"].as_str()),
            (Some(index), Some("rejected"), Some("too_long"))
        );
        assert!(item["reason"].as_str().unwrap().starts_with(reason), "{item}");
    }
    assert_eq!(report["accepted"], 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn only_json_and_ndjson_are_taken() {
    let env = Env::new("content-type");
    let hark = env.start("ingest", &[]).await;

    // A web page can post text/plain anywhere without asking: refused.
    let (status, report) = hark.post("text/plain", mention("plain").to_string()).await;
    assert_eq!(status, 415);
    let message = report["error"].as_str().unwrap();
    assert!(
        message.contains("`text/plain`") && message.contains("application/json") && message.contains("application/x-ndjson"),
        "{message}"
    );
    let (status, _) = hark.post("application/x-www-form-urlencoded", mention("form").to_string()).await;
    assert_eq!(status, 415);
    // No Content-Type at all is read as JSON, as curl and most clients send it.
    let response = reqwest::Client::new().post(format!("{}/v1/mentions", hark.url)).body(mention("bare").to_string()).send().await.unwrap();
    assert_eq!(response.status().as_u16(), 200);
    let (status, report) = hark.post("application/json; charset=utf-8", mention("charset").to_string()).await;
    assert_eq!((status, report["accepted"].as_u64()), (200, Some(1)));
}
