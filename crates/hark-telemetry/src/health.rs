//! `GET /metrics`, `/healthz` (the process runs) and `/readyz` (its broker and Redis answer).

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
    Router::new()
        .route("/metrics", get(render_metrics).with_state(metrics))
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(ready).with_state(health))
}

async fn render_metrics(State(metrics): State<Metrics>) -> ([(&'static str, &'static str); 1], String) {
    ([("content-type", "text/plain; version=0.0.4")], metrics.render())
}

async fn ready(State(health): State<Health>) -> (StatusCode, Json<serde_json::Value>) {
    let failures = health.failures().await;
    if failures.is_empty() {
        (StatusCode::OK, Json(serde_json::json!({"ready": true})))
    } else {
        let failed: serde_json::Map<_, _> = failures.into_iter().map(|(name, e)| (name, serde_json::Value::String(e))).collect();
        (StatusCode::SERVICE_UNAVAILABLE, Json(serde_json::json!({"ready": false, "failed": failed})))
    }
}
