//! Delivery: one worker per receiver takes the oldest delivery of its outbox, sends it, and only
//! then removes it, so the receiver gets every notification in order and none is lost to a crash
//! (one sent just before a crash is sent again, with the same `X-Hark-Notification-Id`).
//!
//! - Timeouts, connection errors, 429 and 5xx are retried with exponential backoff and jitter,
//!   waiting at least as long as a `Retry-After` asks; the outbox waits behind the failing delivery.
//! - A redirect is not followed (a webhook that moved is a configuration to fix, and following it
//!   blindly could post alerts elsewhere): it is dead-lettered with the target in the reason, as is
//!   any other 4xx, with the response's status and body.
//! - A token bucket holds the receiver to `rate_limit_per_minute`.
//! - `https://` receivers are verified against the system's roots, Mozilla's roots built in, and
//!   the `ca_file`s of the config (`notify.ca_file`, the receiver's own). A certificate Hark does
//!   not trust is retried like a receiver that is down: it is a configuration to fix, on either
//!   side, and it heals without a restart once it is fixed (the receiver's certificate replaced,
//!   or a `ca_file` rewritten: it is read again after each certificate failure). Meanwhile it is
//!   logged as an error, counted as `hark_errors_total{stage="notify",error_type="tls"}`, and
//!   shown as the receiver's `last_error` in `GET /v1/outbox`.
//! - Every receiver has its own worker and outbox: one that fails holds up only itself.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use hark_core::config::ca_file::{read_ca_file, CaFileError};
use hark_kafka::Backoff;
use reqwest::header::{HeaderMap, HeaderValue, CONTENT_TYPE, LOCATION, RETRY_AFTER, USER_AGENT};
use reqwest::StatusCode;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use crate::config::ReceiverConfig;
use crate::metrics::NotifyMetrics;
use crate::payload::{target_url, Delivery};
use crate::signature::{sign, NOTIFICATION_ID_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER};
use crate::store::{DeadLetter, LastError, Store};
use crate::NotifyError;

/// How much of a refusing receiver's answer the dead letter keeps.
const MAX_RESPONSE_BODY: usize = 4096;
/// The longest wait a `Retry-After` can impose between two attempts.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(3600);

/// What one attempt came to.
#[derive(Debug, Clone, PartialEq)]
pub enum Attempt {
    Delivered,
    /// Worth trying again; the receiver may have said when.
    Retry {
        reason: String,
        retry_after: Option<Duration>,
        failure: Failure,
    },
    /// Trying again will not help.
    Refused {
        reason: String,
        status: Option<u16>,
        body: Option<String>,
    },
}

/// What went wrong with an attempt that is retried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// No answer within `timeout_ms`.
    Timeout,
    /// The TLS handshake failed, mostly on a certificate Hark does not trust.
    Tls,
    /// Any other failure to connect, send or read the answer.
    Connection,
    /// The receiver answered 429 or 5xx.
    Status,
}

impl Failure {
    /// The `error_type` of `hark_errors_total{stage="notify"}`: TLS apart, since it needs an
    /// operator where the others mostly need patience.
    pub fn error_type(self) -> &'static str {
        match self {
            Failure::Tls => "tls",
            Failure::Timeout | Failure::Connection | Failure::Status => "delivery",
        }
    }
}

/// Requests per minute, with bursts up to the same number.
struct TokenBucket {
    capacity: f64,
    tokens: f64,
    per_second: f64,
    last: tokio::time::Instant,
}

impl TokenBucket {
    fn new(per_minute: u32) -> TokenBucket {
        let capacity = per_minute as f64;
        TokenBucket { capacity, tokens: capacity, per_second: capacity / 60.0, last: tokio::time::Instant::now() }
    }

    /// How long to wait before the next request may go; takes its token.
    fn take(&mut self) -> Duration {
        let now = tokio::time::Instant::now();
        self.tokens = (self.tokens + now.duration_since(self.last).as_secs_f64() * self.per_second).min(self.capacity);
        self.last = now;
        self.tokens -= 1.0;
        if self.tokens >= 0.0 {
            Duration::ZERO
        } else {
            Duration::from_secs_f64(-self.tokens / self.per_second)
        }
    }
}

pub struct Deliverer {
    receiver: ReceiverConfig,
    secret: Option<Vec<u8>>,
    client: reqwest::Client,
    /// `notify.ca_file` and the receiver's own, and the certificates (DER) the client trusts from them.
    ca_files: Vec<String>,
    trusted: Vec<Vec<u8>>,
    store: Store,
    metrics: NotifyMetrics,
    pub wake: Arc<Notify>,
}

impl Deliverer {
    /// `ca_file` is `notify.ca_file`, trusted for every receiver.
    pub fn new(receiver: ReceiverConfig, ca_file: Option<&str>, store: Store, metrics: NotifyMetrics) -> Result<Deliverer, NotifyError> {
        // `NotifyConfig::read_secrets` has put the secret in place, wherever the config said it was.
        let secret = receiver.secret.as_ref().map(|s| s.as_bytes().to_vec());
        let ca_files: Vec<String> = ca_file.into_iter().chain(receiver.ca_file.as_deref()).map(str::to_string).collect();
        let invalid = |e: &dyn std::error::Error| NotifyError::Invalid(format!("notify receiver `{}`: {}", receiver.name, error_chain(e)));
        let trusted = read_ca_files(&ca_files).map_err(|e| invalid(&e))?;
        let client = build_client(&receiver, &trusted).map_err(|e| invalid(&e))?;
        Ok(Deliverer { receiver, secret, client, ca_files, trusted, store, metrics, wake: Arc::new(Notify::new()) })
    }

    pub fn name(&self) -> &str {
        &self.receiver.name
    }

    /// Sends one delivery once.
    pub async fn attempt(&self, delivery: &Delivery) -> Attempt {
        let mut headers = HeaderMap::new();
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        headers.insert(USER_AGENT, HeaderValue::from_static(concat!("hark-notify/", env!("CARGO_PKG_VERSION"))));
        if let Ok(id) = HeaderValue::from_str(&delivery.id) {
            headers.insert(NOTIFICATION_ID_HEADER, id);
        }
        if let Some(secret) = &self.secret {
            let timestamp = Utc::now().timestamp();
            let signature = sign(secret, timestamp, delivery.body.as_bytes());
            headers.insert(TIMESTAMP_HEADER, HeaderValue::from(timestamp));
            headers.insert(SIGNATURE_HEADER, HeaderValue::from_str(&signature).expect("hex is a valid header"));
        }
        let sent = self.client.post(target_url(&self.receiver)).headers(headers).body(delivery.body.clone()).send().await;
        let response = match sent {
            Ok(r) => r,
            Err(e) if e.is_timeout() => {
                let reason = format!("no answer within {} ms", self.receiver.timeout_ms);
                return Attempt::Retry { reason, retry_after: None, failure: Failure::Timeout };
            }
            Err(e) => {
                let (reason, failure) = match tls_error(&e) {
                    Some(tls) => (tls_reason(tls), Failure::Tls),
                    None => (format!("request failed: {}", error_chain(&e)), Failure::Connection),
                };
                return Attempt::Retry { reason, retry_after: None, failure };
            }
        };
        let status = response.status();
        if status.is_success() {
            return Attempt::Delivered;
        }
        let retry_after = response.headers().get(RETRY_AFTER).and_then(|v| v.to_str().ok()).and_then(parse_retry_after);
        if status.is_redirection() {
            let location = response.headers().get(LOCATION).and_then(|v| v.to_str().ok()).unwrap_or("nowhere").to_string();
            return Attempt::Refused {
                reason: format!("the receiver answered {status} redirecting to {location}; redirects are not followed: set the receiver's url to the final address"),
                status: Some(status.as_u16()),
                body: None,
            };
        }
        let body = read_limited(response).await;
        if status == StatusCode::TOO_MANY_REQUESTS || status.is_server_error() {
            return Attempt::Retry { reason: format!("the receiver answered {status}"), retry_after, failure: Failure::Status };
        }
        Attempt::Refused { reason: format!("the receiver refused the request: {status}"), status: Some(status.as_u16()), body: Some(body) }
    }

    /// Delivers the outbox until `shutdown`.
    pub async fn run(mut self, shutdown: CancellationToken) {
        let name = self.receiver.name.clone();
        let mut bucket = TokenBucket::new(self.receiver.rate_limit_per_minute);
        let mut attempts: u32 = 0;
        let mut retries = schedule(&self.receiver);
        let mut current: Option<String> = None;
        while !shutdown.is_cancelled() {
            let head = match self.store.outbox_head(&name).await {
                Ok(h) => h,
                Err(e) => {
                    tracing::warn!(receiver = %name, error = %e, "cannot read the outbox");
                    self.metrics.shared.error(hark_telemetry::Stage::Notify, "redis");
                    pause(&shutdown, Duration::from_secs(1)).await;
                    continue;
                }
            };
            if let Ok(len) = self.store.outbox_len(&name).await {
                self.metrics.set_outbox(&name, len);
            }
            let Some(delivery) = head else {
                tokio::select! {
                    _ = self.wake.notified() => {}
                    _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                    _ = shutdown.cancelled() => {}
                }
                continue;
            };
            if current.as_deref() != Some(delivery.id.as_str()) {
                current = Some(delivery.id.clone());
                attempts = 0;
                retries = schedule(&self.receiver);
            }
            let wait = bucket.take();
            if !wait.is_zero() && pause(&shutdown, wait).await {
                break;
            }
            // Saturating: with `max_attempts = 0` a receiver may fail for as long as it likes.
            attempts = attempts.saturating_add(1);
            let outcome = self.attempt(&delivery).await;
            match &outcome {
                Attempt::Delivered => {}
                Attempt::Retry { reason, .. } | Attempt::Refused { reason, .. } => self.remember_failure(&delivery, reason, attempts).await,
            }
            let done = match outcome {
                Attempt::Delivered => {
                    let now = Utc::now();
                    let queued = (now - delivery.created_at).num_milliseconds() as f64 / 1000.0;
                    let age = delivery.first_fired_at.map(|t| (now - t).num_milliseconds() as f64 / 1000.0);
                    tracing::info!(receiver = %name, id = %delivery.id, attempts, "delivered");
                    self.metrics.delivered(&name, queued, age);
                    self.store.outbox_done(&name, now).await
                }
                Attempt::Retry { reason, .. } if self.receiver.max_attempts > 0 && attempts >= self.receiver.max_attempts => {
                    self.dead_letter(&delivery, format!("gave up after {attempts} attempts: {reason}"), None, None, attempts).await
                }
                Attempt::Retry { reason, retry_after, failure } => {
                    let wait = retry_wait(&mut retries, retry_after);
                    let retry_in_ms = wait.as_millis() as u64;
                    if failure == Failure::Tls {
                        // Not a passing outage: someone has to act, so it is an error, every time.
                        tracing::error!(receiver = %name, id = %delivery.id, attempts, %reason, retry_in_ms, "TLS with the receiver failed, will retry");
                        self.reload_ca_files();
                    } else {
                        tracing::warn!(receiver = %name, id = %delivery.id, attempts, %reason, retry_in_ms, "delivery failed, will retry");
                    }
                    self.metrics.request(&name, "retried");
                    self.metrics.shared.error(hark_telemetry::Stage::Notify, failure.error_type());
                    pause(&shutdown, wait).await;
                    continue;
                }
                Attempt::Refused { reason, status, body } => self.dead_letter(&delivery, reason, status, body, attempts).await,
            };
            match done {
                // The next head counts its attempts from zero, even a replay of this very delivery.
                Ok(()) => current = None,
                // Another notifier holds the lease now and sends this delivery itself.
                Err(NotifyError::Fenced) => return,
                Err(e) => {
                    // The delivery stays at the head and goes again: at least once.
                    tracing::warn!(receiver = %name, error = %e, "cannot update the outbox");
                    self.metrics.shared.error(hark_telemetry::Stage::Notify, "redis");
                    pause(&shutdown, Duration::from_secs(1)).await;
                }
            }
        }
    }

    /// Keeps the failure as the receiver's last error, for `GET /v1/outbox`.
    async fn remember_failure(&self, delivery: &Delivery, reason: &str, attempts: u32) {
        let error = LastError { reason: reason.to_string(), at: Utc::now(), notification_id: delivery.id.clone(), attempts };
        if let Err(e) = self.store.record_error(&self.receiver.name, &error).await {
            // Only the API's view of it is lost; the delivery itself goes on as it would.
            tracing::warn!(receiver = %self.receiver.name, error = %e, "cannot record the receiver's last error");
        }
    }

    /// Reads the `ca_file`s again and, when they changed, trusts what they hold now: an operator
    /// who fixes a CA file does not have to restart Hark. A file that became unreadable keeps the
    /// certificates read before.
    fn reload_ca_files(&mut self) {
        if self.ca_files.is_empty() {
            return;
        }
        let name = &self.receiver.name;
        let trusted = match read_ca_files(&self.ca_files) {
            Ok(t) if t == self.trusted => return,
            Ok(t) => t,
            Err(e) => {
                tracing::warn!(receiver = %name, error = %e, "cannot read the ca_file again; the certificates read before stay trusted");
                return;
            }
        };
        match build_client(&self.receiver, &trusted) {
            Ok(client) => {
                tracing::info!(receiver = %name, files = ?self.ca_files, "ca_file changed: its new certificates are trusted");
                self.client = client;
                self.trusted = trusted;
            }
            Err(e) => {
                tracing::warn!(receiver = %name, error = %error_chain(&e), "the changed ca_file cannot be used; the certificates read before stay trusted")
            }
        }
    }

    async fn dead_letter(
        &self,
        delivery: &Delivery,
        reason: String,
        status: Option<u16>,
        body: Option<String>,
        attempts: u32,
    ) -> Result<(), NotifyError> {
        tracing::error!(receiver = %self.receiver.name, id = %delivery.id, %reason, "delivery dead-lettered");
        self.metrics.request(&self.receiver.name, "failed");
        let error_type = match status {
            Some(s) if (300..400).contains(&s) => "redirect",
            Some(_) => "refused",
            None => "attempts",
        };
        self.metrics.shared.dead_lettered(hark_telemetry::Stage::Notify, error_type);
        let letter = DeadLetter { delivery: delivery.clone(), reason, status, response_body: body, attempts, failed_at: Utc::now() };
        self.store.dead_letter_head(&letter).await
    }
}

/// The certificates of every `ca_file`, in order.
fn read_ca_files(paths: &[String]) -> Result<Vec<Vec<u8>>, CaFileError> {
    let mut trusted = Vec::new();
    for path in paths {
        trusted.extend(read_ca_file(path)?);
    }
    Ok(trusted)
}

/// The receiver's HTTP client: its timeouts, no redirects, and the extra CA certificates trusted
/// next to the built-in roots.
fn build_client(receiver: &ReceiverConfig, trusted: &[Vec<u8>]) -> Result<reqwest::Client, reqwest::Error> {
    let mut builder = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_millis(receiver.timeout_ms))
        .connect_timeout(Duration::from_millis(receiver.timeout_ms.min(5000)));
    for der in trusted {
        builder = builder.add_root_certificate(reqwest::Certificate::from_der(der)?);
    }
    builder.build()
}

/// The TLS error behind a failed request, if that is what it was. The client wraps it in
/// `io::Error`s (one in another), whose `source()` skips the error they wrap, so the walk goes
/// into an `io::Error`'s wrapped error instead.
fn tls_error<'a>(e: &'a (dyn std::error::Error + 'static)) -> Option<&'a rustls::Error> {
    let mut next = Some(e);
    while let Some(err) = next {
        if let Some(tls) = err.downcast_ref::<rustls::Error>() {
            return Some(tls);
        }
        next = match err.downcast_ref::<std::io::Error>().and_then(|io| io.get_ref()) {
            Some(wrapped) => Some(wrapped as &(dyn std::error::Error + 'static)),
            None => err.source(),
        };
    }
    None
}

/// A TLS failure in words, with what to do about an untrusted certificate.
fn tls_reason(tls: &rustls::Error) -> String {
    let hint = match tls {
        rustls::Error::InvalidCertificate(_) => {
            " (the receiver's certificate is not trusted: if it comes from a private CA, give that CA's certificate in ca_file)"
        }
        _ => "",
    };
    format!("TLS handshake failed: {tls}{hint}")
}

/// The wait before the next retry: the receiver's backoff, and never shorter than what the
/// receiver asked for in `Retry-After` (up to [`MAX_RETRY_AFTER`]).
fn retry_wait(retries: &mut Backoff, retry_after: Option<Duration>) -> Duration {
    let wait = retries.next_delay();
    match retry_after {
        Some(asked) => wait.max(asked.min(MAX_RETRY_AFTER)),
        None => wait,
    }
}

/// The retry schedule of one notification at the head of a receiver's outbox.
fn schedule(receiver: &ReceiverConfig) -> Backoff {
    Backoff::new(Duration::from_millis(receiver.retry_initial_ms), Duration::from_millis(receiver.retry_max_ms)).with_jitter()
}

/// Sleeps, or less if `shutdown` comes first; true when it did.
pub(crate) async fn pause(shutdown: &CancellationToken, wait: Duration) -> bool {
    tokio::select! {
        _ = tokio::time::sleep(wait) => false,
        _ = shutdown.cancelled() => true,
    }
}

/// The first few KiB of a response, as text; a body that cannot be read says so.
async fn read_limited(response: reqwest::Response) -> String {
    match response.bytes().await {
        Ok(bytes) => {
            let cut = &bytes[..bytes.len().min(MAX_RESPONSE_BODY)];
            String::from_utf8_lossy(cut).into_owned()
        }
        Err(e) => format!("(the body could not be read: {e})"),
    }
}

/// `Retry-After` in seconds or as an HTTP date.
pub fn parse_retry_after(value: &str) -> Option<Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = httpdate::parse_http_date(value).ok()?;
    Some(at.duration_since(std::time::SystemTime::now()).unwrap_or(Duration::ZERO))
}

/// An error with its causes, for a reason a person reads.
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_in_seconds_or_as_a_date() {
        assert_eq!(parse_retry_after("7"), Some(Duration::from_secs(7)));
        let later = std::time::SystemTime::now() + Duration::from_secs(30);
        let asked = parse_retry_after(&httpdate::fmt_http_date(later)).unwrap();
        assert!(asked <= Duration::from_secs(30) && asked >= Duration::from_secs(28), "{asked:?}");
        assert_eq!(parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"), Some(Duration::ZERO));
        assert_eq!(parse_retry_after("soon"), None);
    }

    #[test]
    fn retries_follow_the_receivers_backoff_and_honour_retry_after() {
        let r: ReceiverConfig =
            toml::from_str("name = \"r\"\nkind = \"slack\"\nurl = \"http://x/\"\nretry_initial_ms = 100\nretry_max_ms = 1000").unwrap();
        for _ in 0..50 {
            let mut retries = schedule(&r);
            let waits: Vec<u128> = (0..6).map(|_| retry_wait(&mut retries, None).as_millis()).collect();
            assert!((50..=100).contains(&waits[0]) && (200..=400).contains(&waits[2]) && (500..=1000).contains(&waits[5]), "{waits:?}");
        }
        assert_eq!(retry_wait(&mut schedule(&r), Some(Duration::from_secs(5))), Duration::from_secs(5));
        assert_eq!(retry_wait(&mut schedule(&r), Some(Duration::from_secs(86_400))), MAX_RETRY_AFTER);
    }

    #[test]
    fn a_tls_error_is_found_inside_nested_io_errors_and_named_with_what_to_do() {
        let tls = rustls::Error::InvalidCertificate(rustls::CertificateError::UnknownIssuer);
        let inner = std::io::Error::new(std::io::ErrorKind::InvalidData, tls.clone());
        let outer = std::io::Error::other(inner);
        assert_eq!(tls_error(&outer), Some(&tls));
        let reason = tls_reason(&tls);
        assert!(
            reason.starts_with("TLS handshake failed: invalid peer certificate: UnknownIssuer") && reason.contains("ca_file"),
            "{reason}"
        );
        assert!(!tls_reason(&rustls::Error::HandshakeNotComplete).contains("ca_file"));
        assert_eq!(tls_error(&std::io::Error::other("connection refused")), None);
        assert_eq!((Failure::Tls.error_type(), Failure::Timeout.error_type()), ("tls", "delivery"));
    }

    #[tokio::test]
    async fn token_bucket_allows_a_burst_then_spaces_requests() {
        let mut bucket = TokenBucket::new(60);
        for _ in 0..60 {
            assert_eq!(bucket.take(), Duration::ZERO);
        }
        let wait = bucket.take();
        assert!(wait.as_secs_f64() > 0.9 && wait.as_secs_f64() <= 1.0, "{wait:?}");
    }
}
