//! Takes alert state changes from `topics.alerts` into the store, through the stage loop every
//! stage runs (`hark_kafka::StageLoop`): a batch's offsets are committed only once its alerts are
//! stored in Redis, so a crash reads them again (storing an alert twice changes nothing); with
//! Redis away the batch is held (not ready, nothing committed) and offered again; a message that
//! is not an `alert.v1` goes to the dead-letter topic with the reason, like any stage's poison.

use std::sync::Arc;

use chrono::Utc;
use hark_core::Alert;
use hark_kafka::{decode, Input, Output, Poison, Processor, Unavailable};
use hark_telemetry::Stage;
use tokio::runtime::Handle;
use tokio::sync::Notify;

use crate::store::Store;

/// The notify stage's processor: stores each alert, produces nothing.
pub struct AlertIntake {
    store: Store,
    /// The runtime the store's connection lives on; batches are processed on a blocking thread.
    runtime: Handle,
    /// Woken once a batch brought alerts, so the dispatcher looks at them at once.
    arrived: Arc<Notify>,
}

impl AlertIntake {
    /// Needs a Tokio runtime.
    pub fn new(store: Store, arrived: Arc<Notify>) -> AlertIntake {
        AlertIntake { store, runtime: Handle::current(), arrived }
    }
}

impl Processor for AlertIntake {
    fn stage(&self) -> Stage {
        Stage::Notify
    }

    fn process_batch(&self, inputs: &[Input]) -> Result<Vec<Result<Vec<Output>, Poison>>, Unavailable> {
        let alerts: Vec<Result<Alert, Poison>> = inputs.iter().map(|input| decode(input.payload.as_deref(), "an alert.v1")).collect();
        for alert in alerts.iter().flatten() {
            self.runtime
                .block_on(self.store.record_alert(alert, Utc::now()))
                .map_err(|e| Unavailable { dependency: "redis", reason: format!("notify store: {e}") })?;
        }
        if alerts.iter().any(Result::is_ok) {
            self.arrived.notify_one();
        }
        Ok(alerts.into_iter().map(|alert| alert.map(|_| Vec::new())).collect())
    }
}
