//! The notifier's own metrics, next to the shared vocabulary (`hark_received_total{stage="notify"}`
//! counts alert states read, `hark_sent_total{stage="notify",output=<receiver>}` notifications
//! delivered, `hark_mention_age_seconds{stage="notify"}` the event time of the earliest mention
//! behind an alert (`first_event_at`) to its first notification being acknowledged):
//!
//! | metric | labels | what it counts |
//! |---|---|---|
//! | `hark_notify_requests_total` | receiver, outcome | requests by outcome: `sent`, `retried` (a failure that will be tried again), `failed` (dead-lettered) |
//! | `hark_notify_delivery_seconds` | receiver | notification queued → receiver acknowledged (includes retries and outbox wait) |
//! | `hark_notify_outbox` | receiver | deliveries waiting |
//! | `hark_alerts_firing` | rule | alerts firing now (silenced ones too), as the lease holder last saw them; other instances report none, so a sum over instances is right |
//!
//! A retried failure also counts in `hark_errors_total{stage="notify"}`: as `error_type="tls"` when
//! the TLS handshake failed (mostly a certificate not trusted), `"delivery"` otherwise.

use hark_telemetry::{Metrics, Stage};
use prometheus::{exponential_buckets, HistogramOpts, HistogramVec, IntCounterVec, IntGaugeVec, Opts};

#[derive(Clone)]
pub struct NotifyMetrics {
    pub shared: Metrics,
    requests: IntCounterVec,
    delivery: HistogramVec,
    outbox: IntGaugeVec,
    firing: IntGaugeVec,
}

impl NotifyMetrics {
    pub fn new(shared: Metrics) -> NotifyMetrics {
        let requests = IntCounterVec::new(
            Opts::new("hark_notify_requests_total", "Requests to receivers by outcome: sent, retried, failed."),
            &["receiver", "outcome"],
        )
        .expect("valid metric");
        let delivery = HistogramVec::new(
            HistogramOpts::new("hark_notify_delivery_seconds", "Notification queued to receiver acknowledged.")
                .buckets(exponential_buckets(0.005, 2.0, 20).expect("valid buckets")),
            &["receiver"],
        )
        .expect("valid metric");
        let outbox =
            IntGaugeVec::new(Opts::new("hark_notify_outbox", "Deliveries waiting per receiver."), &["receiver"]).expect("valid metric");
        let firing =
            IntGaugeVec::new(Opts::new("hark_alerts_firing", "Alerts firing now, per rule, as the lease holder sees them."), &["rule"])
                .expect("valid metric");
        // One notifier per registry: a second registration is a programming error.
        let registry = shared.registry();
        registry.register(Box::new(requests.clone())).expect("notify metrics registered once");
        registry.register(Box::new(delivery.clone())).expect("notify metrics registered once");
        registry.register(Box::new(outbox.clone())).expect("notify metrics registered once");
        registry.register(Box::new(firing.clone())).expect("notify metrics registered once");
        NotifyMetrics { shared, requests, delivery, outbox, firing }
    }

    pub fn request(&self, receiver: &str, outcome: &str) {
        self.requests.with_label_values(&[receiver, outcome]).inc();
    }

    pub fn delivered(&self, receiver: &str, queued_seconds: f64, first_fired_seconds: Option<f64>) {
        self.request(receiver, "sent");
        self.shared.sent(Stage::Notify, receiver, 1);
        self.delivery.with_label_values(&[receiver]).observe(queued_seconds.max(0.0));
        if let Some(age) = first_fired_seconds {
            self.shared.observe_mention_age(Stage::Notify, age.max(0.0));
        }
    }

    pub fn set_outbox(&self, receiver: &str, len: u64) {
        self.outbox.with_label_values(&[receiver]).set(len as i64);
    }

    /// The alerts firing per rule; empty when this instance stops sending (another reports them).
    pub fn set_firing(&self, firing: &std::collections::BTreeMap<String, u64>) {
        self.firing.reset();
        for (rule, n) in firing {
            self.firing.with_label_values(&[rule]).set(*n as i64);
        }
    }

    pub fn requests(&self, receiver: &str, outcome: &str) -> u64 {
        self.requests.with_label_values(&[receiver, outcome]).get()
    }
}
