//! Every stage reports the same events, so one dashboard reads them all:
//!
//! | metric | labels | meaning |
//! |---|---|---|
//! | `hark_received_total` | stage | records that reached the stage |
//! | `hark_sent_total` | stage, output | records the stage handed on and the broker acknowledged |
//! | `hark_discarded_total` | stage, reason, intentional | records dropped on purpose (duplicates) or not |
//! | `hark_rejected_total` | stage, reason | records (or, for `request_*` reasons, whole requests) refused because of what the client sent: its fault, not Hark's |
//! | `hark_errors_total` | stage, error_type | records or operations that failed in Hark or a dependency (Redis, the broker, a receiver) |
//! | `hark_dead_lettered_total` | stage, error_type | messages sent to the dead-letter topic |
//! | `hark_stage_duration_seconds` | stage | time to process one request or batch |
//! | `hark_mention_age_seconds` | stage | a mention's `created_at` to the moment the stage handed it on; at notify, the earliest mention behind an alert to its first notification acknowledged (so it includes the platform's own delay and, at notify, the detection time) |
//! | `hark_pipeline_latency_seconds` | stage | ingest acknowledgement to the moment the stage handed it on |
//! | `hark_consumer_lag` | stage, topic, partition | messages behind the partition's end |
//! | `hark_ready` | check | 1 when the `/readyz` check passed at the last scrape, 0 when it failed |
//! | `hark_build_info` | version | always 1: the version running, for joins and upgrades |
//! | `process_*` | | the process's CPU seconds, resident and virtual memory, open file descriptors, start time (Linux) |

use prometheus::{
    core::Collector, exponential_buckets, Encoder, HistogramOpts, HistogramVec, IntCounterVec, IntGaugeVec, Opts, Registry, TextEncoder,
};

/// The stage that emits an event: the `stage` label of every metric.
#[derive(Debug, Clone, Copy, PartialEq, Eq, strum::IntoStaticStr)]
#[strum(serialize_all = "snake_case")]
pub enum Stage {
    Ingest,
    Enrich,
    Route,
    Alert,
    Notify,
}

impl Stage {
    pub fn as_str(self) -> &'static str {
        self.into()
    }
}

/// The metrics of one process. Cheap to clone; clones share the same registry.
#[derive(Clone)]
pub struct Metrics {
    registry: Registry,
    received: IntCounterVec,
    sent: IntCounterVec,
    discarded: IntCounterVec,
    rejected: IntCounterVec,
    errors: IntCounterVec,
    dead_lettered: IntCounterVec,
    duration: HistogramVec,
    mention_age: HistogramVec,
    pipeline_latency: HistogramVec,
    consumer_lag: IntGaugeVec,
    ready: IntGaugeVec,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let registry = Registry::new();
        let counter = |name: &str, help: &str, labels: &[&str]| {
            let c = IntCounterVec::new(Opts::new(name, help), labels).expect("valid metric");
            registry.register(Box::new(c.clone())).expect("metric registered once");
            c
        };
        let received = counter("hark_received_total", "Records that reached the stage.", &["stage"]);
        let sent = counter("hark_sent_total", "Records handed on and acknowledged by the broker.", &["stage", "output"]);
        let discarded = counter(
            "hark_discarded_total",
            "Records dropped, on purpose (intentional=true, e.g. duplicates) or not.",
            &["stage", "reason", "intentional"],
        );
        let rejected = counter(
            "hark_rejected_total",
            "Records, or whole requests (reason request_*), refused because of what the client sent.",
            &["stage", "reason"],
        );
        let errors = counter("hark_errors_total", "Records or operations that failed in Hark or a dependency.", &["stage", "error_type"]);
        let dead_lettered = counter("hark_dead_lettered_total", "Messages sent to the dead-letter topic.", &["stage", "error_type"]);
        let histogram = |name: &str, help: &str, buckets: Vec<f64>| {
            let h = HistogramVec::new(HistogramOpts::new(name, help).buckets(buckets), &["stage"]).expect("valid metric");
            registry.register(Box::new(h.clone())).expect("metric registered once");
            h
        };
        let duration = histogram(
            "hark_stage_duration_seconds",
            "Time to process one request or batch.",
            exponential_buckets(0.0005, 2.0, 16).expect("valid buckets"),
        );
        let mention_age = histogram(
            "hark_mention_age_seconds",
            "Event time (created_at) to the moment the stage handed the mention on.",
            exponential_buckets(0.05, 2.0, 22).expect("valid buckets"),
        );
        let pipeline_latency = histogram(
            "hark_pipeline_latency_seconds",
            "Ingest acknowledgement to the moment the stage handed the mention on.",
            exponential_buckets(0.001, 2.0, 18).expect("valid buckets"),
        );
        let consumer_lag =
            IntGaugeVec::new(Opts::new("hark_consumer_lag", "Messages behind the end of the partition."), &["stage", "topic", "partition"])
                .expect("valid metric");
        registry.register(Box::new(consumer_lag.clone())).expect("metric registered once");
        let ready = IntGaugeVec::new(Opts::new("hark_ready", "1 when the readiness check passed, 0 when it failed."), &["check"])
            .expect("valid metric");
        registry.register(Box::new(ready.clone())).expect("metric registered once");
        let build_info =
            IntGaugeVec::new(Opts::new("hark_build_info", "Always 1; the version of Hark running."), &["version"]).expect("valid metric");
        build_info.with_label_values(&[env!("CARGO_PKG_VERSION")]).set(1);
        registry.register(Box::new(build_info)).expect("metric registered once");
        registry.register(Box::new(prometheus::process_collector::ProcessCollector::for_self())).expect("metric registered once");
        Metrics {
            registry,
            received,
            sent,
            discarded,
            rejected,
            errors,
            dead_lettered,
            duration,
            mention_age,
            pipeline_latency,
            consumer_lag,
            ready,
        }
    }

    pub fn received(&self, stage: Stage, n: u64) {
        self.received.with_label_values(&[stage.as_str()]).inc_by(n);
    }

    pub fn sent(&self, stage: Stage, output: &str, n: u64) {
        self.sent.with_label_values(&[stage.as_str(), output]).inc_by(n);
    }

    pub fn discarded(&self, stage: Stage, reason: &str, intentional: bool, n: u64) {
        let intentional = if intentional { "true" } else { "false" };
        self.discarded.with_label_values(&[stage.as_str(), reason, intentional]).inc_by(n);
    }

    /// Records or a request refused for what the client sent (not a failure of Hark's).
    pub fn rejected(&self, stage: Stage, reason: &str, n: u64) {
        self.rejected.with_label_values(&[stage.as_str(), reason]).inc_by(n);
    }

    pub fn error(&self, stage: Stage, error_type: &str) {
        self.errors.with_label_values(&[stage.as_str(), error_type]).inc();
    }

    pub fn dead_lettered(&self, stage: Stage, error_type: &str) {
        self.dead_lettered.with_label_values(&[stage.as_str(), error_type]).inc();
    }

    pub fn observe_duration(&self, stage: Stage, seconds: f64) {
        self.duration.with_label_values(&[stage.as_str()]).observe(seconds);
    }

    pub fn observe_mention_age(&self, stage: Stage, seconds: f64) {
        self.mention_age.with_label_values(&[stage.as_str()]).observe(seconds);
    }

    pub fn observe_pipeline_latency(&self, stage: Stage, seconds: f64) {
        self.pipeline_latency.with_label_values(&[stage.as_str()]).observe(seconds);
    }

    pub fn set_consumer_lag(&self, stage: Stage, topic: &str, partition: i32, lag: i64) {
        self.consumer_lag.with_label_values(&[stage.as_str(), topic, &partition.to_string()]).set(lag);
    }

    pub fn set_ready(&self, check: &str, ready: bool) {
        self.ready.with_label_values(&[check]).set(i64::from(ready));
    }

    /// The value of a counter, for tests and summaries: the sum over the series whose labels
    /// include all of `labels`.
    pub fn counter_value(&self, name: &str, labels: &[(&str, &str)]) -> u64 {
        self.registry
            .gather()
            .iter()
            .filter(|family| family.name() == name)
            .flat_map(|family| family.get_metric().iter())
            .filter(|metric| labels.iter().all(|(k, v)| metric.get_label().iter().any(|l| l.name() == *k && l.value() == *v)))
            .map(|metric| metric.get_counter().get_value() as u64)
            .sum()
    }

    /// Total seconds a stage spent processing requests or batches (the sum of its duration histogram).
    pub fn busy_seconds(&self, stage: Stage) -> f64 {
        self.duration.with_label_values(&[stage.as_str()]).get_sample_sum()
    }

    /// The registry behind `/metrics`, for a stage that reports metrics of its own as well.
    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// Registers a stage's own collector and gives it back to count with. A second stage of the
    /// same kind in one process (tests) finds the name taken: its collector counts unreported.
    pub fn register_own<C: Collector + Clone + 'static>(&self, collector: C) -> C {
        let _ = self.registry.register(Box::new(collector.clone()));
        collector
    }

    /// The registry in Prometheus text format.
    pub fn render(&self) -> String {
        let mut buf = Vec::new();
        TextEncoder::new().encode(&self.registry.gather(), &mut buf).expect("text encoding cannot fail");
        String::from_utf8(buf).expect("prometheus text is UTF-8")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_render_in_prometheus_text_and_sum_by_label() {
        let m = Metrics::new();
        m.received(Stage::Ingest, 3);
        m.sent(Stage::Route, "complaints", 2);
        m.sent(Stage::Route, "unmatched", 1);
        m.discarded(Stage::Ingest, "duplicate", true, 1);
        m.rejected(Stage::Ingest, "invalid", 2);
        let text = m.render();
        assert!(text.contains("hark_rejected_total{reason=\"invalid\",stage=\"ingest\"} 2"), "{text}");
        assert!(text.contains(&format!("hark_build_info{{version=\"{}\"}} 1", env!("CARGO_PKG_VERSION"))), "{text}");
        assert!(text.contains("process_resident_memory_bytes"), "{text}");
        assert!(text.contains("hark_received_total{stage=\"ingest\"} 3"), "{text}");
        assert!(text.contains("hark_discarded_total{intentional=\"true\",reason=\"duplicate\",stage=\"ingest\"} 1"));
        assert_eq!(m.counter_value("hark_sent_total", &[("stage", "route")]), 3);
        assert_eq!(m.counter_value("hark_sent_total", &[("output", "complaints")]), 2);
    }
}
