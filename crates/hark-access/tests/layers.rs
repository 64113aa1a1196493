//! The layers around real routes over real HTTP: the bound on ingest requests in hand (one more
//! is 429 at once, not queued), `/metrics` behind a token with `protect_metrics`, and the caller's
//! trust mark handed to the route.

use std::sync::{Arc, Mutex};

use axum::{routing::post, Extension, Router};
use hark_access::config::AuthConfig;
use hark_access::Access;
use hark_core::IngestedBy;
use hark_telemetry::{endpoint, Health, Metrics};
use reqwest::StatusCode;
use tokio::sync::{oneshot, Notify};

async fn serve(app: Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    format!("http://{address}")
}

fn auth(text: &str) -> AuthConfig {
    let config: AuthConfig = toml::from_str(text).unwrap();
    config.check().unwrap();
    config
}

const SECRETS: &[(&str, &str)] =
    &[("CRAWLER", "crawler-secret-0123456789"), ("SCRAPER", "scraper-secret-0123456789"), ("PROM", "prom-secret-0123456789ab")];

fn env(var: &str) -> Option<String> {
    SECRETS.iter().find(|(name, _)| *name == var).map(|(_, secret)| secret.to_string())
}

#[tokio::test]
async fn past_max_concurrent_ingest_a_request_is_refused_at_once() {
    let config = auth("max_concurrent_ingest = 1\n");
    let access = Access::with_env(&config, &env, &Metrics::new()).unwrap();
    // The route holds its request until released, and says when it has it.
    let release = Arc::new(Notify::new());
    let (entered_tx, entered_rx) = oneshot::channel::<()>();
    let entered = Arc::new(Mutex::new(Some(entered_tx)));
    let held = release.clone();
    let route = Router::new().route(
        "/v1/mentions",
        post(move || {
            let (held, entered) = (held.clone(), entered.clone());
            async move {
                let first = entered.lock().unwrap().take();
                if let Some(tx) = first {
                    let _ = tx.send(());
                    held.notified().await;
                }
                "taken"
            }
        }),
    );
    let url = format!("{}/v1/mentions", serve(access.ingest(route)).await);
    let http = reqwest::Client::new();
    let first = tokio::spawn({
        let (http, url) = (http.clone(), url.clone());
        async move { http.post(&url).send().await.unwrap().status() }
    });
    entered_rx.await.unwrap();

    let refused = http.post(&url).send().await.unwrap();
    assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(refused.headers()["retry-after"], "1");
    let body: serde_json::Value = refused.json().await.unwrap();
    assert!(body["error"].as_str().unwrap().contains("auth.max_concurrent_ingest"), "{body}");

    release.notify_one();
    assert_eq!(first.await.unwrap(), StatusCode::OK);
    assert_eq!(http.post(&url).send().await.unwrap().status(), StatusCode::OK, "the slot is free again");
}

#[tokio::test]
async fn protected_metrics_take_a_metrics_token_and_probes_stay_open() {
    let config = auth(
        "protect_metrics = true\n[[tokens]]\nname = \"prometheus\"\nkind = \"metrics\"\ntoken_env = \"PROM\"\n\
         [[tokens]]\nname = \"crawler\"\nkind = \"ingest\"\ntoken_env = \"CRAWLER\"\n",
    );
    let metrics = Metrics::new();
    let access = Access::with_env(&config, &env, &metrics).unwrap();
    let base = serve(access.observability(endpoint(metrics, Health::new()))).await;
    let http = reqwest::Client::new();
    let get = |path: &str, token: Option<&str>| {
        let request = http.get(format!("{base}{path}"));
        match token {
            Some(token) => request.bearer_auth(token),
            None => request,
        }
    };
    assert_eq!(get("/metrics", None).send().await.unwrap().status(), StatusCode::UNAUTHORIZED);
    assert_eq!(get("/metrics", Some("crawler-secret-0123456789")).send().await.unwrap().status(), StatusCode::FORBIDDEN);
    let scraped = get("/metrics", Some("prom-secret-0123456789ab")).send().await.unwrap();
    assert_eq!(scraped.status(), StatusCode::OK);
    let text = scraped.text().await.unwrap();
    assert!(text.contains("hark_http_requests_total{listener=\"metrics\",outcome=\"forbidden\",token=\"crawler\"} 1"), "{text}");
    for probe in ["/healthz", "/readyz"] {
        assert_eq!(get(probe, None).send().await.unwrap().status(), StatusCode::OK, "{probe}");
    }

    let without_token = auth("protect_metrics = true\n");
    let err = Access::with_env(&without_token, &env, &Metrics::new()).err().expect("refused").to_string();
    assert!(err.contains("needs a `metrics` or `admin` token"), "{err}");
}

#[tokio::test]
async fn the_route_gets_the_trust_mark_of_the_callers_token() {
    let config = auth(
        "[[tokens]]\nname = \"crawler\"\nkind = \"ingest\"\ntoken_env = \"CRAWLER\"\ntrusted_author_metrics = true\n\
         [[tokens]]\nname = \"scraper\"\nkind = \"ingest\"\ntoken_env = \"SCRAPER\"\n",
    );
    let access = Access::with_env(&config, &env, &Metrics::new()).unwrap();
    let route = Router::new().route("/v1/mentions", post(|Extension(by): Extension<IngestedBy>| async move { axum::Json(by) }));
    let url = format!("{}/v1/mentions", serve(access.ingest(route)).await);
    let http = reqwest::Client::new();
    for (secret, expected) in [
        ("crawler-secret-0123456789", IngestedBy { token: Some("crawler".into()), trusted_author_metrics: true }),
        ("scraper-secret-0123456789", IngestedBy { token: Some("scraper".into()), trusted_author_metrics: false }),
    ] {
        let by: IngestedBy = http.post(&url).bearer_auth(secret).send().await.unwrap().json().await.unwrap();
        assert_eq!(by, expected);
    }
}
