//! A webhook receiver on 127.0.0.1 that records every request and checks Hark's signature on it,
//! for tests of alert delivery. It can be told how to answer the next requests, be down (503),
//! stop listening altogether (connection refused) and listen again on the same port.

use std::collections::{HashSet, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use hark_notify::signature::{NOTIFICATION_ID_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER};
use serde_json::Value;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// The secret receivers in tests are configured with.
pub const SECRET: &str = "test-secret-7f3a";

/// How the receiver answers a request.
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
    /// Whether the receiver answered 2xx.
    pub accepted: bool,
}

impl Received {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).expect("the body is JSON")
    }

    /// The notification id header.
    pub fn id(&self) -> String {
        self.headers.get(NOTIFICATION_ID_HEADER).and_then(|v| v.to_str().ok()).unwrap_or_default().to_string()
    }
}

/// The notification ids among `requests`, each once, in the order they first came.
pub fn distinct_ids(requests: &[Received]) -> Vec<String> {
    let mut seen = HashSet::new();
    requests.iter().map(Received::id).filter(|id| seen.insert(id.clone())).collect()
}

struct Inner {
    script: VecDeque<Behaviour>,
    /// What requests get once the script is used up.
    otherwise: Behaviour,
    received: Vec<Received>,
}

/// The server task while it listens, and how to stop it.
type Serving = Option<(CancellationToken, JoinHandle<()>)>;

/// The recording receiver. Clones share the same records.
#[derive(Clone)]
pub struct Receiver {
    pub addr: SocketAddr,
    inner: Arc<Mutex<Inner>>,
    server: Arc<Mutex<Serving>>,
}

impl Receiver {
    /// A receiver that accepts every request.
    pub async fn start() -> Receiver {
        Receiver::start_on("127.0.0.1:0".parse().unwrap()).await
    }

    /// Starts on a given address (a receiver coming back on the port it had).
    pub async fn start_on(addr: SocketAddr) -> Receiver {
        let inner = Inner { script: VecDeque::new(), otherwise: Behaviour::Accept, received: Vec::new() };
        let mut receiver = Receiver { addr, inner: Arc::new(Mutex::new(inner)), server: Arc::default() };
        receiver.listen_again().await;
        receiver
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Answers the next requests this way, in order; then as before.
    pub fn script(&self, behaviours: impl IntoIterator<Item = Behaviour>) {
        self.inner.lock().unwrap().script.extend(behaviours);
    }

    /// Up: accepts what the script does not say otherwise. Down: answers 503.
    pub fn set_up(&self, up: bool) {
        self.inner.lock().unwrap().otherwise =
            if up { Behaviour::Accept } else { Behaviour::Status { status: 503, retry_after: None, body: "down".into() } };
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

    /// Stops listening and waits until the port is closed: requests are refused until
    /// [`Receiver::listen_again`].
    pub async fn stop(&self) {
        let server = self.server.lock().unwrap().take();
        if let Some((stop, task)) = server {
            stop.cancel();
            tokio::time::timeout(Duration::from_secs(20), task).await.expect("receiver shut down").unwrap();
        }
    }

    /// Listens (again) on the receiver's address, keeping what it recorded.
    pub async fn listen_again(&mut self) {
        let listener = TcpListener::bind(self.addr).await.expect("the receiver's port is free");
        self.addr = listener.local_addr().unwrap();
        let app = axum::Router::new().fallback(record).with_state(self.inner.clone());
        let stop = CancellationToken::new();
        let until = stop.clone();
        let task = tokio::spawn(async move {
            axum::serve(listener, app).with_graceful_shutdown(until.cancelled_owned()).await.unwrap();
        });
        *self.server.lock().unwrap() = Some((stop, task));
    }
}

async fn record(State(inner): State<Arc<Mutex<Inner>>>, uri: Uri, headers: HeaderMap, body: Bytes) -> Response {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
    let signature_ok =
        hark_notify::verify(SECRET.as_bytes(), &header(TIMESTAMP_HEADER), &header(SIGNATURE_HEADER), &body, Utc::now().timestamp(), 300)
            .is_ok();
    let behaviour = {
        let mut inner = inner.lock().unwrap();
        let behaviour = inner.script.pop_front().unwrap_or_else(|| inner.otherwise.clone());
        let accepted = matches!(behaviour, Behaviour::Accept);
        inner.received.push(Received {
            path: uri.path().to_string(),
            headers,
            body: body.to_vec(),
            at: Instant::now(),
            signature_ok,
            accepted,
        });
        behaviour
    };
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
