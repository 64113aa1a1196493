//! Reads alert state changes from `topics.alerts` into the store.
//!
//! An offset is committed only after the alert it points past is stored in Redis, so a crash
//! re-reads it (storing an alert twice changes nothing). A message that is not an `alert.v1`
//! object is logged, counted (`hark_errors_total{stage="notify",error_type="invalid_alert"}`)
//! and skipped: it cannot become readable by waiting.

use std::time::Duration;

use chrono::Utc;
use hark_core::config::KafkaConfig;
use hark_core::Alert;
use hark_kafka::Backoff;
use hark_telemetry::Stage;
use rdkafka::consumer::{CommitMode, Consumer, StreamConsumer};
use rdkafka::Message;
use tokio_util::sync::CancellationToken;

use crate::metrics::NotifyMetrics;
use crate::store::Store;
use crate::NotifyError;

/// Consumes `topic` in `group_id` until `shutdown`; `on_alert` is told after each stored alert.
pub async fn consume_alerts(
    kafka: &KafkaConfig,
    topic: &str,
    group_id: &str,
    store: Store,
    metrics: NotifyMetrics,
    on_alert: impl Fn(),
    shutdown: CancellationToken,
) -> Result<(), NotifyError> {
    let consumer: StreamConsumer = hark_kafka::reader(kafka, group_id)?;
    consumer.subscribe(&[topic])?;
    tracing::info!(topic, group_id, "reading alerts");
    loop {
        let message = tokio::select! {
            _ = shutdown.cancelled() => return Ok(()),
            m = consumer.recv() => m,
        };
        let message = match message {
            Ok(m) => m,
            Err(e) => {
                tracing::warn!(error = %e, "cannot read the alerts topic");
                metrics.shared.error(Stage::Notify, "broker");
                tokio::time::sleep(Duration::from_millis(500)).await;
                continue;
            }
        };
        metrics.shared.received(Stage::Notify, 1);
        match message.payload().map(serde_json::from_slice::<Alert>) {
            Some(Ok(alert)) => {
                // Redis down: keep trying, the offset waits.
                let mut backoff = Backoff::new(Duration::from_millis(100), Duration::from_secs(5));
                loop {
                    match store.record_alert(&alert, Utc::now()).await {
                        Ok(_) => break,
                        Err(e) => {
                            tracing::warn!(error = %e, fingerprint = %alert.fingerprint, "cannot store an alert, retrying");
                            metrics.shared.error(Stage::Notify, "redis");
                            if !backoff.wait(&shutdown).await {
                                return Ok(());
                            }
                        }
                    }
                }
                on_alert();
            }
            Some(Err(e)) => {
                tracing::warn!(partition = message.partition(), offset = message.offset(), error = %e, "not an alert.v1 message, skipped");
                metrics.shared.error(Stage::Notify, "invalid_alert");
            }
            None => {
                tracing::warn!(partition = message.partition(), offset = message.offset(), "empty message on the alerts topic, skipped");
                metrics.shared.error(Stage::Notify, "invalid_alert");
            }
        }
        if let Err(e) = consumer.commit_message(&message, CommitMode::Async) {
            // The message is read again after a restart: at least once still holds.
            tracing::warn!(error = %e, "offset commit failed");
            metrics.shared.error(Stage::Notify, "commit");
        }
    }
}
