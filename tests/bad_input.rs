//! Bad input over HTTP: each kind gets a clear per-record error or status code, the good records
//! next to it go through, and the service keeps running.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use hark_e2e::{read_topics, Env};
use serde_json::{json, Value};

fn mention(id: &str, text: Value) -> Value {
    json!({"id": id, "platform": "twitter", "text": text, "created_at": "2026-11-20T10:00:00Z",
           "author": {"id": format!("author-{id}"), "followers": 10}, "brand": "SkyNordic"})
}

fn line(v: Value) -> Vec<u8> {
    v.to_string().into_bytes()
}

#[tokio::test(flavor = "multi_thread")]
async fn each_bad_record_is_rejected_alone_and_the_rest_go_through() {
    let env = Env::new("bad-input");
    let mut hark = env.start("ingest", &[]).await;

    let mut far_future = mention("ff", json!("from the future"));
    far_future["created_at"] = json!("2031-01-01T00:00:00Z");
    let mut unknown_platform = mention("up", json!("hello"));
    unknown_platform["platform"] = json!("myspace");
    let mut wrong_type = mention("wt", json!("hello"));
    wrong_type["author"]["followers"] = json!("many");
    let mut missing = mention("mi", json!("hello"));
    missing.as_object_mut().unwrap().remove("created_at");
    let records: Vec<(Vec<u8>, Option<&str>)> = vec![
        (line(mention("good-1", json!("first good one"))), None),
        (b"{\"id\": \"broken\", \"platform\":".to_vec(), Some("record is not valid JSON")),
        (b"{\"id\": \"x\xff\xfe\"}".to_vec(), Some("record is not valid UTF-8")),
        (line(missing), Some("missing required field `created_at`")),
        (line(wrong_type), Some("field `author.followers` must be a non-negative integer, got a string")),
        (line(mention("empty", json!("   "))), Some("field `text` must not be empty")),
        (line(mention("number", json!(42))), Some("field `text` must be a string, got a number")),
        (line(mention("huge", json!("x".repeat(40_000)))), Some("field `text` is 40000 bytes, more than the limit of 32768")),
        (line(unknown_platform), Some("unknown platform `myspace`")),
        (line(far_future), Some("field `created_at` is")),
        (line(mention("good-1", json!("first good one"))), Some("the same platform and id as record 0 of this request")),
        (line(mention("good-2", json!("second good one"))), None),
    ];
    let mut body = Vec::new();
    for (record, _) in &records {
        body.extend_from_slice(record);
        body.push(b'\n');
    }
    let (status, report) = hark.post("application/x-ndjson", body).await;
    assert_eq!(status, 200, "{report}");
    assert_eq!(
        (report["accepted"].as_u64(), report["duplicates"].as_u64(), report["rejected"].as_u64()),
        (Some(2), Some(1), Some(9)),
        "{report}"
    );
    let items = report["items"].as_array().unwrap();
    for (index, (_, expected)) in records.iter().enumerate() {
        let item = items.iter().find(|item| item["index"] == index);
        match (expected, item) {
            (None, None) => {}
            (Some(reason), Some(item)) => assert!(item["reason"].as_str().unwrap().starts_with(reason), "record {index}: {item}"),
            _ => panic!("record {index}: expected {expected:?}, got {item:?}"),
        }
    }

    // One invalid object alone: 422 with the reason.
    let (status, report) = hark.post("application/json", mention("alone", json!("")).to_string()).await;
    assert_eq!(status, 422);
    assert_eq!(report["items"][0]["reason"], "field `text` must not be empty");
    // A JSON array: the valid element goes through beside the invalid one.
    let array = json!([mention("arr-1", json!("in an array")), {"id": "arr-2"}]).to_string();
    let (status, report) = hark.post("application/json", array).await;
    assert_eq!((status, report["accepted"].as_u64()), (200, Some(1)));
    // Bodies that cannot be split into records, and a type Hark does not take.
    let (status, report) = hark.post("application/json", "{\"id\": ").await;
    assert_eq!(status, 400);
    assert!(report["error"].as_str().unwrap().starts_with("request body is not valid JSON"));
    let (status, _) = hark.post("application/json", "").await;
    assert_eq!(status, 400);
    let (status, _) = hark.post("application/xml", "<mention/>").await;
    assert_eq!(status, 415);
    // 50 MB: refused as a whole with a clear 413, before the body is read.
    let answer = post_declaring(&hark.url, 50 * 1024 * 1024).await;
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    assert!(answer.contains("larger than the limit of 16777216 bytes"), "{answer}");

    // The service is still up, and exactly the good records reached the raw topic.
    assert!(hark.is_running());
    let raw = read_topics(&[&env.topics().raw], 4, Duration::from_secs(30), Some(Duration::from_secs(3)));
    let mut ids: Vec<&str> = raw.iter().map(|r| r.mention_id()).collect();
    ids.sort();
    assert_eq!(ids, ["twitter:arr-1", "twitter:good-1", "twitter:good-2"]);
    assert_eq!(hark.metric("hark_rejected_total", &[("stage", "ingest"), ("reason", "text_too_long")]).await, 1.0);
}

/// Sends a request that declares `length` bytes of body, writes the first 64 KiB of it, and
/// returns the raw answer, as a client streaming a large upload sees it.
async fn post_declaring(url: &str, length: usize) -> String {
    let address = url.trim_start_matches("http://");
    let mut stream = tokio::net::TcpStream::connect(address).await.unwrap();
    let head =
        format!("POST /v1/mentions HTTP/1.1\r\nHost: {address}\r\nContent-Type: application/x-ndjson\r\nContent-Length: {length}\r\n\r\n");
    stream.write_all(head.as_bytes()).await.unwrap();
    let _ = stream.write_all(&vec![b' '; 64 * 1024]).await;
    let mut answer = vec![0; 4096];
    let n = tokio::time::timeout(Duration::from_secs(10), stream.read(&mut answer)).await.unwrap().unwrap();
    String::from_utf8_lossy(&answer[..n]).into_owned()
}

#[tokio::test(flavor = "multi_thread")]
async fn readiness_names_the_dependency_that_does_not_answer() {
    let env = Env::new("readyz");
    // Nothing listens on port 1: the stage starts, is alive, and is not ready.
    let mut enrich = env.spawn("enrich", &[("HARK__KAFKA__BROKERS", "127.0.0.1:1"), ("HARK__KAFKA__CREATE_TOPICS", "false")]);
    let client = reqwest::Client::new();
    let mut answer = None;
    for _ in 0..100 {
        if let Ok(r) = client.get(format!("{}/readyz", enrich.url)).send().await {
            answer = Some((r.status().as_u16(), r.json::<Value>().await.unwrap()));
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let (status, body) = answer.expect("enrich serves /readyz");
    assert_eq!(status, 503, "{body}");
    assert!(body["failed"]["enrich-broker"].as_str().unwrap().starts_with("broker:"), "{body}");
    let healthz = client.get(format!("{}/healthz", enrich.url)).send().await.unwrap();
    assert_eq!(healthz.status().as_u16(), 200);
    assert!(enrich.is_running());
}
