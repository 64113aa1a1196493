//! What the notifier's tests share: a real HTTP receiver that records what it gets and can be
//! told to misbehave, a fresh Redis key prefix per test, configs, and alerts.
#![allow(dead_code)]

use std::collections::{BTreeMap, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use hark_core::{Alert, Config};
use hark_notify::signature::{NOTIFICATION_ID_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER};
use serde_json::{json, Value};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

pub const SECRET: &str = "test-secret-7f3a";

/// What the receiver does with the next request.
#[derive(Debug, Clone)]
pub enum Behaviour {
    Accept,
    Status { status: u16, retry_after: Option<String>, body: String },
    Hang(Duration),
    Redirect(String),
}

/// One request as the receiver got it.
#[derive(Debug, Clone)]
pub struct Received {
    pub path: String,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
    pub at: Instant,
    /// Whether the signature verified with [`SECRET`].
    pub signature_ok: bool,
    /// What the receiver answered (after the behaviour).
    pub accepted: bool,
}

impl Received {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).expect("the body is JSON")
    }

    pub fn id(&self) -> String {
        self.headers.get(NOTIFICATION_ID_HEADER).and_then(|v| v.to_str().ok()).unwrap_or_default().to_string()
    }
}

#[derive(Default)]
struct Inner {
    script: VecDeque<Behaviour>,
    received: Vec<Received>,
}

/// An HTTP receiver on 127.0.0.1, recording every request and verifying its signature.
#[derive(Clone)]
pub struct Receiver {
    pub addr: SocketAddr,
    inner: Arc<Mutex<Inner>>,
    stop: CancellationToken,
}

impl Receiver {
    pub async fn start() -> Receiver {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        Receiver::serve(listener)
    }

    /// Starts on a given address (a receiver coming back on the port it had).
    pub async fn start_on(addr: SocketAddr) -> Receiver {
        let listener = TcpListener::bind(addr).await.unwrap();
        Receiver::serve(listener)
    }

    fn serve(listener: TcpListener) -> Receiver {
        let addr = listener.local_addr().unwrap();
        let inner = Arc::new(Mutex::new(Inner::default()));
        let stop = CancellationToken::new();
        let app = axum::Router::new().fallback(record).with_state(inner.clone());
        let until = stop.clone();
        tokio::spawn(async move {
            axum::serve(listener, app).with_graceful_shutdown(until.cancelled_owned()).await.unwrap();
        });
        Receiver { addr, inner, stop }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Answers the next requests this way, in order; then accepts again.
    pub fn script(&self, behaviours: impl IntoIterator<Item = Behaviour>) {
        self.inner.lock().unwrap().script.extend(behaviours);
    }

    pub fn received(&self) -> Vec<Received> {
        self.inner.lock().unwrap().received.clone()
    }

    /// Requests the receiver answered 2xx.
    pub fn accepted(&self) -> Vec<Received> {
        self.received().into_iter().filter(|r| r.accepted).collect()
    }

    /// Waits until `n` requests were accepted (or panics after `timeout`).
    pub async fn wait_accepted(&self, n: usize, timeout: Duration) -> Vec<Received> {
        let deadline = Instant::now() + timeout;
        loop {
            let got = self.accepted();
            if got.len() >= n {
                return got;
            }
            assert!(
                Instant::now() < deadline,
                "waited {timeout:?} for {n} notifications, got {}: {:#?}",
                got.len(),
                got.iter().map(|r| String::from_utf8_lossy(&r.body).into_owned()).collect::<Vec<_>>()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub fn stop(&self) {
        self.stop.cancel();
    }
}

async fn record(State(inner): State<Arc<Mutex<Inner>>>, uri: axum::http::Uri, headers: HeaderMap, body: Bytes) -> Response {
    let signature_ok = match (headers.get(TIMESTAMP_HEADER), headers.get(SIGNATURE_HEADER)) {
        (Some(ts), Some(sig)) => hark_notify::verify(
            SECRET.as_bytes(),
            ts.to_str().unwrap_or(""),
            sig.to_str().unwrap_or(""),
            &body,
            Utc::now().timestamp(),
            300,
        )
        .is_ok(),
        _ => false,
    };
    let behaviour = inner.lock().unwrap().script.pop_front().unwrap_or(Behaviour::Accept);
    let accepted = matches!(behaviour, Behaviour::Accept);
    inner.lock().unwrap().received.push(Received {
        path: uri.path().to_string(),
        headers,
        body: body.to_vec(),
        at: Instant::now(),
        signature_ok,
        accepted,
    });
    match behaviour {
        Behaviour::Accept => (StatusCode::OK, "ok").into_response(),
        Behaviour::Status { status, retry_after, body } => {
            let mut response = (StatusCode::from_u16(status).unwrap(), body).into_response();
            if let Some(r) = retry_after {
                response.headers_mut().insert("retry-after", HeaderValue::from_str(&r).unwrap());
            }
            response
        }
        Behaviour::Hang(d) => {
            tokio::time::sleep(d).await;
            (StatusCode::OK, "too late").into_response()
        }
        Behaviour::Redirect(to) => {
            let mut response = StatusCode::TEMPORARY_REDIRECT.into_response();
            response.headers_mut().insert("location", HeaderValue::from_str(&to).unwrap());
            response
        }
    }
}

/// A Redis key prefix of this test's own.
pub fn prefix(test: &str) -> String {
    format!("hark-test:{test}:{:08x}:", fastrand::u32(..))
}

/// A config from the `[notify]` TOML given (receivers, routes, timing), on the test's prefix, with
/// the broker and Redis from the environment.
pub fn config(prefix: &str, notify_toml: &str) -> Config {
    let text = format!("[redis]\nkey_prefix = \"{prefix}\"\n[notify]\n{notify_toml}");
    let env = std::env::vars().filter(|(k, _)| k == "HARK__REDIS__URL" || k == "HARK__KAFKA__BROKERS");
    Config::from_toml(&text, env).expect("valid test config")
}

/// A webhook receiver's TOML table.
pub fn webhook(name: &str, kind: &str, url: &str, extra: &str) -> String {
    format!("[[notify.receivers]]\nname = \"{name}\"\nkind = \"{kind}\"\nurl = \"{url}\"\nsecret = \"{SECRET}\"\nretry_initial_ms = 50\nretry_max_ms = 400\nrate_limit_per_minute = 6000\n{extra}\n")
}

/// An alert of `rule` for `brand`, firing since `starts_at`.
pub fn alert(rule: &str, brand: &str, starts_at: DateTime<Utc>) -> Alert {
    let labels: BTreeMap<String, String> = [("brand".to_string(), brand.to_string())].into();
    serde_json::from_value(json!({
        "fingerprint": Alert::fingerprint_of(rule, &labels),
        "rule": rule,
        "state": "firing",
        "labels": labels,
        "summary": format!("{rule} for {brand}: 42 negative mentions in 5 min vs 6 expected"),
        "observed": 42.0,
        "expected": 6.0,
        "starts_at": starts_at,
        "ends_at": null,
        "sample_mention_ids": ["twitter:1", "tiktok:2"],
        "generated_at": Utc::now(),
    }))
    .unwrap()
}

/// The same alert, resolved now.
pub fn resolved(alert: &Alert) -> Alert {
    let mut a = alert.clone();
    a.state = hark_core::AlertState::Resolved;
    a.ends_at = Some(Utc::now());
    a.generated_at = Utc::now();
    a
}

/// Serves a router on 127.0.0.1:0; its base URL.
pub async fn serve(router: axum::Router) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    format!("http://{addr}")
}

/// Waits until `check` holds, polling; panics with `what` after `timeout`.
pub async fn eventually<F, Fut>(timeout: Duration, what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + timeout;
    while !check().await {
        assert!(Instant::now() < deadline, "timed out after {timeout:?} waiting for: {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
