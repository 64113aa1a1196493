//! `GET /metrics`, `/healthz` (the process runs) and `/readyz` (its broker and Redis answer).
//! Both `/metrics` and `/readyz` run the readiness checks, so a scrape carries each one's result
//! as `hark_ready{check}` and Prometheus can alert on a stage that runs but is not ready.

use axum::{extract::State, http::StatusCode, routing::get, Json, Router};
use futures::future::BoxFuture;
use std::{sync::Arc, time::Duration};

use crate::Metrics;

type Check = Arc<dyn Fn() -> BoxFuture<'static, Result<(), String>> + Send + Sync>;

/// The named checks `/readyz` runs. Each gets a few seconds; a slow dependency is not ready.
#[derive(Clone, Default)]
pub struct Health {
    checks: Vec<(String, Check)>,
}

impl Health {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn add_check<F, Fut>(&mut self, name: &str, check: F)
    where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: std::future::Future<Output = Result<(), String>> + Send + 'static,
    {
        self.checks.push((name.to_string(), Arc::new(move || Box::pin(check()))));
    }

    /// Runs every check; the failures by name.
    pub async fn failures(&self) -> Vec<(String, String)> {
        let runs = self.checks.iter().map(|(name, check)| async move {
            match tokio::time::timeout(Duration::from_secs(3), check()).await {
                Ok(Ok(())) => None,
                Ok(Err(e)) => Some((name.clone(), e)),
                Err(_) => Some((name.clone(), "no answer within 3 s".to_string())),
            }
        });
        futures::future::join_all(runs).await.into_iter().flatten().collect()
    }
}

/// The router of the observability endpoints; services merge their own routes into it.
pub fn endpoint(metrics: Metrics, health: Health) -> Router {
    let observed = Observed { metrics, health };
    Router::new()
        .route("/metrics", get(render_metrics).with_state(observed.clone()))
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(ready).with_state(observed))
}

#[derive(Clone)]
struct Observed {
    metrics: Metrics,
    health: Health,
}

impl Observed {
    /// Runs the readiness checks and records each one's result in `hark_ready{check}`.
    async fn check(&self) -> Vec<(String, String)> {
        let failures = self.health.failures().await;
        for (name, _) in &self.health.checks {
            self.metrics.set_ready(name, !failures.iter().any(|(failed, _)| failed == name));
        }
        failures
    }
}

async fn render_metrics(State(observed): State<Observed>) -> ([(&'static str, &'static str); 1], String) {
    observed.check().await;
    ([("content-type", "text/plain; version=0.0.4")], observed.metrics.render())
}

async fn ready(State(observed): State<Observed>) -> (StatusCode, Json<serde_json::Value>) {
    let failures = observed.check().await;
    if failures.is_empty() {
        (StatusCode::OK, Json(serde_json::json!({"ready": true})))
    } else {
        let failed: serde_json::Map<_, _> = failures.into_iter().map(|(name, e)| (name, serde_json::Value::String(e))).collect();
        (StatusCode::SERVICE_UNAVAILABLE, Json(serde_json::json!({"ready": false, "failed": failed})))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicBool, Ordering};

    /// Serves the endpoints on a free loopback port; their base URL.
    async fn serve(metrics: Metrics, health: Health) -> String {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, endpoint(metrics, health)).await.unwrap() });
        url
    }

    #[tokio::test]
    async fn a_scrape_reports_each_readiness_check_as_hark_ready() {
        let broker_down = Arc::new(AtomicBool::new(true));
        let mut health = Health::new();
        health.add_check("redis", || async { Ok(()) });
        let down = broker_down.clone();
        health.add_check("broker", move || {
            let answer = if down.load(Ordering::SeqCst) { Err("no answer".to_string()) } else { Ok(()) };
            async move { answer }
        });
        let url = serve(Metrics::new(), health).await;

        let text = reqwest::get(format!("{url}/metrics")).await.unwrap().text().await.unwrap();
        assert!(text.contains("hark_ready{check=\"redis\"} 1"), "{text}");
        assert!(text.contains("hark_ready{check=\"broker\"} 0"), "{text}");
        assert_eq!(reqwest::get(format!("{url}/readyz")).await.unwrap().status(), 503);

        broker_down.store(false, Ordering::SeqCst);
        let text = reqwest::get(format!("{url}/metrics")).await.unwrap().text().await.unwrap();
        assert!(text.contains("hark_ready{check=\"broker\"} 1"), "{text}");
        assert_eq!(reqwest::get(format!("{url}/readyz")).await.unwrap().status(), 200);
    }
}
