//! Who may call Hark's HTTP APIs, and how much: the layers a service wraps its routers in.
//!
//! - [`tokens`]: the configured bearer tokens (`[auth]`), their secrets read at start.
//! - [`guard`]: 401 / 403 by token and kind; the [`Caller`] and, on ingest, the mention's
//!   [`hark_core::IngestedBy`] mark as request extensions.
//! - [`limits`]: ingest's per-token rate and concurrency limit (429 with `Retry-After`).
//! - [`json_only`]: admin requests that change something must be JSON (415), against CSRF.
//! - [`exposure`]: no open listener off loopback unless the config allows it.
//! - [`json_errors`]: every error answer is `{"error": ...}`, the framework's own too.
//!
//! Every request the layers judge is counted in `hark_http_requests_total{listener, token,
//! outcome}` (token `none` without one, `unknown` for a token that is not configured); ingest's
//! refusals also in `hark_rejected_total{stage="ingest"}` (a client over its rate, a token
//! missing or wrong) or `hark_errors_total{stage="ingest"}` (Hark full).

pub mod config;
pub mod exposure;
pub mod guard;
pub mod json_errors;
pub mod json_only;
pub mod limits;
pub mod tokens;

use std::sync::Arc;

use crate::config::{AuthConfig, TokenKind};
use axum::{
    http::StatusCode,
    middleware,
    response::{IntoResponse, Response},
    Json, Router,
};
use hark_telemetry::Metrics;
use prometheus::{IntCounterVec, Opts};

pub use exposure::{check_exposure, is_loopback};
pub use guard::{Caller, Listener};
pub use tokens::{Token, Tokens};

#[derive(Debug, thiserror::Error)]
pub enum AccessError {
    #[error(transparent)]
    Secret(#[from] hark_core::config::secret::SecretError),
    #[error("auth token `{token}`: its secret is {bytes} bytes; use at least {min} random bytes (e.g. the output of `openssl rand -hex 32`)", min = tokens::MIN_SECRET_BYTES)]
    ShortSecret { token: String, bytes: usize },
    #[error("auth tokens `{first}` and `{second}` have the same secret; give each its own")]
    SameSecret { first: String, second: String },
    #[error(
        "{setting} = \"{address}\" is not a loopback address, and no `{kind}` token is configured, so anyone who reaches it could use it. \
         Add one: [[auth.tokens]] with name = \"...\", kind = \"{kind}\" and token_env = \"VAR\" (an environment variable holding the secret) \
         or token_file = \"/path\"; or bind {setting} to 127.0.0.1; or, if something in front of Hark authenticates, \
         set [auth] allow_unauthenticated = true (HARK__AUTH__ALLOW_UNAUTHENTICATED=true)",
        kind = kind.as_str()
    )]
    Exposed { setting: String, address: String, kind: TokenKind },
    #[error("auth.protect_metrics = true needs a `metrics` or `admin` token in [[auth.tokens]] to read /metrics with")]
    NoMetricsToken,
    #[error("registering the request metrics: {0}")]
    Metrics(#[from] prometheus::Error),
}

/// How a request ended, as the `outcome` label says it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, strum::IntoStaticStr)]
#[strum(serialize_all = "snake_case")]
pub enum Outcome {
    Allowed,
    Unauthorized,
    Forbidden,
    RateLimited,
    Overloaded,
    UnsupportedMediaType,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        self.into()
    }
}

/// The access rules of one process: its tokens, limits and request counter. Cheap to clone.
#[derive(Clone)]
pub struct Access {
    inner: Arc<Inner>,
}

struct Inner {
    config: AuthConfig,
    tokens: Tokens,
    limits: limits::IngestLimits,
    metrics: Metrics,
    requests: IntCounterVec,
}

impl Access {
    /// Reads the tokens' secrets from the process environment and their files. One per `metrics`.
    pub fn new(config: &AuthConfig, metrics: &Metrics) -> Result<Access, AccessError> {
        Access::with_env(config, &|var| std::env::var(var).ok(), metrics)
    }

    /// As [`Access::new`], with `env` in place of the process environment.
    pub fn with_env(config: &AuthConfig, env: &dyn Fn(&str) -> Option<String>, metrics: &Metrics) -> Result<Access, AccessError> {
        if config.protect_metrics && !(config.has_tokens(TokenKind::Metrics) || config.has_tokens(TokenKind::Admin)) {
            return Err(AccessError::NoMetricsToken);
        }
        let tokens = Tokens::load(config, env)?;
        let requests = IntCounterVec::new(
            Opts::new("hark_http_requests_total", "HTTP requests judged by the access rules, by listener, token name and outcome."),
            &["listener", "token", "outcome"],
        )?;
        metrics.registry().register(Box::new(requests.clone()))?;
        let inner = Inner { config: config.clone(), tokens, limits: limits::IngestLimits::new(config), metrics: metrics.clone(), requests };
        Ok(Access { inner: Arc::new(inner) })
    }

    pub fn config(&self) -> &AuthConfig {
        &self.inner.config
    }

    pub fn tokens(&self) -> &Tokens {
        &self.inner.tokens
    }

    fn limits(&self) -> &limits::IngestLimits {
        &self.inner.limits
    }

    fn metrics(&self) -> &Metrics {
        &self.inner.metrics
    }

    fn count(&self, listener: Listener, token: &str, outcome: Outcome) {
        self.inner.requests.with_label_values(&[listener.as_str(), token, outcome.as_str()]).inc();
    }

    /// Ingest's routes: ingest tokens, then the caller's rate and the concurrency limit.
    pub fn ingest(&self, routes: Router) -> Router {
        // The last layer added runs first.
        routes
            .layer(middleware::from_fn_with_state(self.clone(), limits::limit_ingest))
            .layer(middleware::from_fn_with_state((self.clone(), Listener::Ingest), guard::authenticate))
    }

    /// Admin routes: admin tokens, and JSON for requests that change something.
    pub fn admin(&self, routes: Router) -> Router {
        routes
            .layer(middleware::from_fn(json_only::require_json))
            .layer(middleware::from_fn_with_state((self.clone(), Listener::Admin), guard::authenticate))
    }

    /// The probes and `/metrics`: `/metrics` takes a metrics or admin token with
    /// `auth.protect_metrics`; `/healthz` and `/readyz` stay open for orchestrators.
    pub fn observability(&self, endpoint: Router) -> Router {
        if !self.config().protect_metrics {
            return endpoint;
        }
        let access = self.clone();
        endpoint.layer(middleware::from_fn(move |request: axum::extract::Request, next: middleware::Next| {
            let access = access.clone();
            async move {
                if request.uri().path() != "/metrics" {
                    return next.run(request).await;
                }
                guard::authenticate(axum::extract::State((access, Listener::Metrics)), request, next).await
            }
        }))
    }
}

/// An error as `{"error": "..."}` with its status, as every Hark API answers.
pub fn error_response(status: StatusCode, message: String) -> Response {
    (status, Json(serde_json::json!({ "error": message }))).into_response()
}
