//! Ingest's limits: a request rate per token (GCRA, with a burst), and a bound on the ingest
//! requests handled at once in the process. Past either the answer is 429 with `Retry-After` at
//! once: nothing waits in a queue, so a flood costs memory for the requests in hand only.

use std::{collections::HashMap, num::NonZeroU32, sync::Arc, time::Duration};

use crate::config::{AuthConfig, TokenKind};
use axum::{
    extract::{Request, State},
    http::{header, HeaderValue, StatusCode},
    middleware::Next,
    response::Response,
};
use governor::{clock::Clock, DefaultDirectRateLimiter, Quota, RateLimiter};
use hark_telemetry::Stage;
use tokio::sync::Semaphore;

use crate::{error_response, Access, Caller, Outcome};

/// The rate limiter of each ingest token, and of unauthenticated ingest.
pub struct IngestLimits {
    per_token: HashMap<String, DefaultDirectRateLimiter>,
    unauthenticated: DefaultDirectRateLimiter,
    in_flight: Arc<Semaphore>,
    max_concurrent: usize,
}

impl IngestLimits {
    pub fn new(config: &AuthConfig) -> IngestLimits {
        let quota = |per_sec: u32, burst: u32| {
            let per_sec = NonZeroU32::new(per_sec).unwrap_or(NonZeroU32::MIN);
            Quota::per_second(per_sec).allow_burst(NonZeroU32::new(burst).unwrap_or(per_sec))
        };
        let default = quota(config.ingest_requests_per_sec, config.ingest_burst);
        let per_token = config
            .tokens
            .iter()
            .filter(|t| t.kind == TokenKind::Ingest)
            .map(|t| {
                let own = quota(t.requests_per_sec.unwrap_or(config.ingest_requests_per_sec), t.burst.unwrap_or(config.ingest_burst));
                (t.name.clone(), RateLimiter::direct(own))
            })
            .collect();
        IngestLimits {
            per_token,
            unauthenticated: RateLimiter::direct(default),
            in_flight: Arc::new(Semaphore::new(config.max_concurrent_ingest)),
            max_concurrent: config.max_concurrent_ingest,
        }
    }

    /// None when the caller may send now; else how long until it may.
    fn wait(&self, caller: &Caller) -> Option<Duration> {
        let limiter = caller.token.as_deref().and_then(|name| self.per_token.get(name)).unwrap_or(&self.unauthenticated);
        limiter.check().err().map(|not_until| not_until.wait_time_from(governor::clock::DefaultClock::default().now()))
    }
}

/// Middleware, inside [`crate::guard::authenticate`]: the caller's rate, then a slot among the
/// requests in hand, held until the response is ready.
pub async fn limit_ingest(State(access): State<Access>, request: Request, next: Next) -> Response {
    let limits = access.limits();
    let caller = request.extensions().get::<Caller>().cloned().unwrap_or(Caller { token: None, trusted_author_metrics: false });
    if let Some(wait) = limits.wait(&caller) {
        let seconds = wait.as_secs_f64().ceil().max(1.0) as u64;
        let message = format!(
            "rate limit of token `{}` exceeded: retry in {seconds} s (auth.ingest_requests_per_sec, or the token's requests_per_sec)",
            caller.label()
        );
        return too_many(&access, Outcome::RateLimited, seconds, message);
    }
    let Ok(_slot) = limits.in_flight.clone().try_acquire_owned() else {
        let message = format!("{} ingest requests are in hand already (auth.max_concurrent_ingest): retry shortly", limits.max_concurrent);
        return too_many(&access, Outcome::Overloaded, 1, message);
    };
    next.run(request).await
}

fn too_many(access: &Access, outcome: Outcome, retry_after_secs: u64, message: String) -> Response {
    // A client over its rate is refused for what it sent; a full house is Hark's own limit.
    match outcome {
        Outcome::RateLimited => access.metrics().rejected(Stage::Ingest, &format!("request_{}", outcome.as_str()), 1),
        _ => access.metrics().error(Stage::Ingest, outcome.as_str()),
    }
    let mut response = error_response(StatusCode::TOO_MANY_REQUESTS, message);
    response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(retry_after_secs));
    response.extensions_mut().insert(outcome);
    response
}
