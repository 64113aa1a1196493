//! Who may use the running services, over real HTTP: bearer tokens per listener (401 without or
//! with an unknown token, 403 for a token of the other kind), admin routes only on the admin
//! listener and only as JSON (the cross-site `text/plain` silence is refused), a token's rate
//! limit (429 with `Retry-After`), the refusal to serve an open listener off loopback, and the
//! trust mark ingest puts on each mention: an untrusted source's claimed followers fire no
//! influencer alert and give no influence tier, a trusted one's do.

use std::time::Duration;

use hark_access::config::{TokenConfig, TokenKind};
use hark_e2e::{metric_value, read_topics, Env, Hark};
use reqwest::{Client, StatusCode};
use serde_json::{json, Value};

const CRAWLER: &str = "crawler-secret-7f3a9c1e5b";
const SCRAPER: &str = "scraper-secret-2d8e4b6a0c";
const OPS: &str = "ops-secret-9a1c3e5f7b2d";
const SECRETS: [(&str, &str); 3] = [("HARK_TOKEN_CRAWLER", CRAWLER), ("HARK_TOKEN_SCRAPER", SCRAPER), ("HARK_TOKEN_OPS", OPS)];

fn token(name: &str, kind: TokenKind, trusted: bool) -> TokenConfig {
    TokenConfig {
        name: name.into(),
        kind,
        token_env: Some(format!("HARK_TOKEN_{}", name.to_ascii_uppercase())),
        token_file: None,
        trusted_author_metrics: trusted,
        requests_per_sec: None,
        burst: None,
    }
}

/// A trusted and an untrusted ingest token, and an admin token.
fn with_tokens(env: &mut Env) {
    env.configure(|config| {
        config.auth.tokens = vec![
            token("crawler", TokenKind::Ingest, true),
            token("scraper", TokenKind::Ingest, false),
            token("ops", TokenKind::Admin, false),
        ];
    });
}

fn mention(run: &str, id: &str, followers: u64) -> Value {
    json!({"id": format!("{run}-{id}"), "platform": "twitter", "created_at": chrono::Utc::now().to_rfc3339(),
           "text": "Worst airline ever, they lost my luggage and nobody helps. Terrible service, I want a refund!",
           "author": {"id": format!("author-{id}"), "handle": id, "followers": followers}, "brand": "Acme"})
}

async fn send(request: reqwest::RequestBuilder) -> (StatusCode, reqwest::header::HeaderMap, Value) {
    let response = request.send().await.expect("request");
    let (status, headers) = (response.status(), response.headers().clone());
    (status, headers, response.json().await.unwrap_or(Value::Null))
}

fn assert_json_error(body: &Value, words: &str) {
    let message = body["error"].as_str().unwrap_or_else(|| panic!("no JSON error in {body}"));
    assert!(message.contains(words), "{message}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_decide_who_may_use_each_listener() {
    let mut env = Env::new("access-tokens");
    with_tokens(&mut env);
    let hark = env.start("all", &SECRETS).await;
    let http = Client::new();
    let ingest = format!("{}/v1/mentions", hark.url);
    let body = mention(&env.run, "1", 10).to_string();
    let post = || http.post(&ingest).header("content-type", "application/json").body(body.clone());

    let (status, headers, answer) = send(post()).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(headers["www-authenticate"].to_str().unwrap().starts_with("Bearer"));
    assert_json_error(&answer, "missing bearer token");
    let (status, headers, answer) = send(post().bearer_auth("not-a-configured-token")).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(headers["www-authenticate"].to_str().unwrap().contains("invalid_token"));
    assert_json_error(&answer, "unknown token");
    let (status, _, answer) = send(post().bearer_auth(OPS)).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_json_error(&answer, "token `ops` is an `admin` token");
    let (status, _, answer) = send(post().bearer_auth(CRAWLER)).await;
    assert_eq!((status, answer["accepted"].as_u64()), (StatusCode::OK, Some(1)), "{answer}");

    // The token's name in the metrics, never its secret; ingest's refusals as rejections, not errors.
    let metrics = http.get(format!("{}/metrics", hark.url)).send().await.unwrap().text().await.unwrap();
    let requests = |token: &str, outcome: &str| {
        metric_value(&metrics, "hark_http_requests_total", &[("listener", "ingest"), ("token", token), ("outcome", outcome)])
    };
    assert_eq!(requests("crawler", "allowed"), 1.0);
    assert_eq!(requests("ops", "forbidden"), 1.0);
    assert_eq!(requests("none", "unauthorized") + requests("unknown", "unauthorized"), 2.0);
    assert_eq!(metric_value(&metrics, "hark_rejected_total", &[("stage", "ingest"), ("reason", "request_unauthorized")]), 2.0);
    assert_eq!(metric_value(&metrics, "hark_rejected_total", &[("stage", "ingest"), ("reason", "request_forbidden")]), 1.0);
    assert_eq!(metric_value(&metrics, "hark_errors_total", &[("stage", "ingest")]), 0.0);
    assert!(!metrics.contains(CRAWLER) && !metrics.contains(OPS));

    // The admin API is on the admin listener alone, for admin tokens, and changes only as JSON.
    for path in ["/v1/silences", "/v1/alerts", "/v1/outbox", "/v1/dead-letters"] {
        let on_ingest = http.get(format!("{}{path}", hark.url)).bearer_auth(OPS).send().await.unwrap();
        assert_eq!(on_ingest.status(), StatusCode::NOT_FOUND, "{path} must not be on the ingest address");
    }
    let reload = http.post(format!("{}/-/reload", hark.url)).bearer_auth(OPS).header("content-type", "application/json");
    assert_eq!(reload.send().await.unwrap().status(), StatusCode::NOT_FOUND);
    let admin = hark.admin();
    let silences = format!("{admin}/v1/silences");
    let (status, headers, _) = send(http.get(&silences)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(headers.contains_key("www-authenticate"));
    assert_eq!(send(http.get(&silences).bearer_auth(CRAWLER)).await.0, StatusCode::FORBIDDEN);
    assert_eq!(send(http.get(&silences).bearer_auth(OPS)).await.0, StatusCode::OK);
    let silence = json!({"matchers": ["brand=Acme"], "duration_secs": 60, "comment": "csrf"}).to_string();
    let (status, _, answer) = send(http.post(&silences).bearer_auth(OPS).header("content-type", "text/plain").body(silence.clone())).await;
    assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert_json_error(&answer, "Content-Type: application/json");
    let (status, _, created) = send(http.post(&silences).bearer_auth(OPS).header("content-type", "application/json").body(silence)).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let id = created["id"].as_str().unwrap();
    let expire = http.delete(format!("{silences}/{id}")).bearer_auth(OPS);
    assert_eq!(send(expire).await.0, StatusCode::UNSUPPORTED_MEDIA_TYPE, "a DELETE must be JSON too");
    let expire = http.delete(format!("{silences}/{id}")).bearer_auth(OPS).header("content-type", "application/json");
    assert_eq!(send(expire).await.0, StatusCode::OK);

    // Probes stay open on both listeners; so does /metrics without auth.protect_metrics.
    for base in [hark.url.as_str(), admin] {
        for path in ["/healthz", "/readyz", "/metrics"] {
            assert_eq!(http.get(format!("{base}{path}")).send().await.unwrap().status(), StatusCode::OK, "{base}{path}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_tokens_loopback_listeners_are_open_and_a_text_plain_silence_is_refused() {
    let env = Env::new("access-open");
    let hark = env.start("notify", &[]).await;
    let http = Client::new();
    let admin = hark.admin();
    assert_eq!(http.get(format!("{}/v1/silences", hark.url)).send().await.unwrap().status(), StatusCode::NOT_FOUND);
    // What a web page can make a browser send to a loopback Hark without asking: refused.
    let silence = json!({"matchers": ["brand=Acme"], "duration_secs": 60}).to_string();
    let csrf = http.post(format!("{admin}/v1/silences")).header("content-type", "text/plain").body(silence.clone());
    let (status, _, answer) = send(csrf).await;
    assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert_json_error(&answer, "application/json");
    let form = http.post(format!("{admin}/v1/dead-letters/x/replay")).header("content-type", "application/x-www-form-urlencoded");
    assert_eq!(send(form).await.0, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let (status, _, silences) = send(http.get(format!("{admin}/v1/silences"))).await;
    assert_eq!((status, silences["silences"].as_array().map(Vec::len)), (StatusCode::OK, Some(0)), "nothing was created");
    let json = http.post(format!("{admin}/v1/silences")).header("content-type", "application/json").body(silence);
    assert_eq!(send(json).await.0, StatusCode::CREATED);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn past_its_rate_a_token_gets_429_with_retry_after() {
    let mut env = Env::new("access-rate");
    env.configure(|config| {
        config.auth.tokens = vec![TokenConfig { requests_per_sec: Some(1), burst: Some(2), ..token("crawler", TokenKind::Ingest, true) }];
    });
    let hark = env.start("ingest", &SECRETS).await;
    let http = Client::new();
    // Two requests of burst at once, one a second after: of five sent back to back, some are
    // refused (an empty body is refused by ingest itself with 400, so each is cheap).
    let mut statuses = Vec::new();
    let mut refused = None;
    for _ in 0..5 {
        let response = http.post(format!("{}/v1/mentions", hark.url)).bearer_auth(CRAWLER).body("").send().await.unwrap();
        statuses.push(response.status());
        if response.status() == StatusCode::TOO_MANY_REQUESTS && refused.is_none() {
            let retry_after: u64 = response.headers()["retry-after"].to_str().unwrap().parse().unwrap();
            refused = Some((retry_after, response.json::<Value>().await.unwrap()));
        }
    }
    assert_eq!(statuses[0], StatusCode::BAD_REQUEST, "{statuses:?}");
    let (retry_after, body) = refused.unwrap_or_else(|| panic!("no 429 in {statuses:?}"));
    assert!(retry_after >= 1, "{retry_after}");
    assert_json_error(&body, "rate limit of token `crawler` exceeded");
    let limited = statuses.iter().filter(|s| **s == StatusCode::TOO_MANY_REQUESTS).count() as f64;
    assert_eq!(hark.metric("hark_rejected_total", &[("stage", "ingest"), ("reason", "request_rate_limited")]).await, limited);
    assert_eq!(hark.metric("hark_http_requests_total", &[("token", "crawler"), ("outcome", "rate_limited")]).await, limited);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_open_listener_off_loopback_is_refused_unless_allowed() {
    let mut env = Env::new("access-exposed");
    let port = hark_testkit::free_port();
    env.configure(|config| config.ingest.listen = format!("0.0.0.0:{port}"));
    let (status, log) = env.spawn("ingest", &[]).exited(Duration::from_secs(30)).await.expect("a refused start ends");
    assert!(!status.success());
    assert!(log.contains("ingest.listen = \"0.0.0.0:") && log.contains("no `ingest` token is configured"), "{log}");
    assert!(log.contains("[[auth.tokens]]") && log.contains("allow_unauthenticated = true"), "{log}");

    // The admin listener of `hark notify` likewise, with admin tokens.
    env.configure(|config| config.notify.admin_listen = format!("0.0.0.0:{port}"));
    let (status, log) = env.spawn("notify", &[]).exited(Duration::from_secs(30)).await.expect("a refused start ends");
    assert!(!status.success());
    assert!(log.contains("notify.admin_listen") && log.contains("no `admin` token"), "{log}");

    // An admin token answers for the admin listener; allow_unauthenticated for ingest's.
    env.configure(|config| config.auth.tokens = vec![token("ops", TokenKind::Admin, false)]);
    let mut notify = env.spawn("notify", &SECRETS);
    notify.wait_ready().await;
    drop(notify);
    let mut ingest: Hark = env.spawn("ingest", &[SECRETS[2], ("HARK__AUTH__ALLOW_UNAUTHENTICATED", "true")]);
    ingest.url = format!("http://127.0.0.1:{port}");
    ingest.wait_ready().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_untrusted_source_cannot_claim_an_influencer() {
    let mut env = Env::new("access-trust");
    with_tokens(&mut env);
    env.configure(|config| {
        config.alert.rules = vec![toml::from_str("name = \"influencer\"\nkind = \"influencer\"\nmin_followers = 1000000").unwrap()];
    });
    let hark = env.start("all", &SECRETS).await;
    let http = Client::new();
    // The untrusted source claims 2.5M followers and forges the trust mark; same brand, so both go
    // through one partition in this order.
    let mut forged = mention(&env.run, "claimed", 2_500_000);
    forged["ingested_by"] = json!({"token": "crawler", "trusted_author_metrics": true});
    forged["engagement"] = json!({"likes": 90000, "shares": 5000});
    for (secret, body) in [(SCRAPER, forged), (CRAWLER, mention(&env.run, "real", 2_500_000))] {
        let (status, _, answer) = send(http.post(format!("{}/v1/mentions", hark.url)).bearer_auth(secret).json(&body)).await;
        assert_eq!((status, answer["accepted"].as_u64()), (StatusCode::OK, Some(1)), "{answer}");
    }

    let raw = read_topics(&[&env.topics().raw], 2, Duration::from_secs(60), None);
    let by = |id: &str| raw.iter().find(|r| r.value["id"] == format!("{}-{id}", env.run)).map(|r| r.value["ingested_by"].clone());
    assert_eq!(by("claimed"), Some(json!({"token": "scraper", "trusted_author_metrics": false})), "set by ingest, not the client");
    assert_eq!(by("real"), Some(json!({"token": "crawler", "trusted_author_metrics": true})));

    let enriched = read_topics(&[&env.topics().enriched], 2, Duration::from_secs(60), None);
    let tier = |id: &str| {
        enriched
            .iter()
            .find(|r| r.value["mention"]["id"] == format!("{}-{id}", env.run))
            .map(|r| r.value["enrichment"]["influence"].clone())
    };
    assert_eq!(tier("claimed"), Some(json!({"tier": "nano", "followers": 0})));
    assert_eq!(tier("real"), Some(json!({"tier": "mega", "followers": 2_500_000})));

    // The trusted mention's alert comes after the untrusted one was judged (one partition, in
    // order): had the claim fired, its alert would be first.
    let alerts = read_topics(&[&env.topics().alerts], 1, Duration::from_secs(60), None);
    let labels: Vec<&Value> = alerts.iter().map(|r| &r.value["labels"]["mention"]).collect();
    assert_eq!(labels, [&json!(format!("twitter:{}-real", env.run))], "{alerts:?}");
}
