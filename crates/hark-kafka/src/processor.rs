//! What a stage implements to run in the stage loop ([`crate::StageLoop`]): a [`Processor`] turns
//! a batch of [`Input`] messages into [`Output`] messages, refuses a message it cannot read as
//! [`Poison`], or refuses the whole batch for now as [`Unavailable`].

use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use hark_telemetry::Stage;

use crate::{client::Outgoing, decode::PoisonKind};

/// One message from the input topic, copied out of the consumer's buffer.
#[derive(Debug, Clone)]
pub struct Input {
    pub topic: String,
    pub partition: i32,
    pub offset: i64,
    pub key: Option<Vec<u8>>,
    pub payload: Option<Vec<u8>>,
    /// The message's headers whose values are text.
    pub headers: Vec<(String, String)>,
}

impl Input {
    /// The value of header `name`, if the message has it.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }
}

/// Why an input message cannot be processed; it goes to the dead-letter topic.
#[derive(Debug, Clone, PartialEq)]
pub struct Poison {
    /// For metrics and the `hark-dlq-error-type` header.
    pub kind: PoisonKind,
    pub reason: String,
}

impl Poison {
    pub fn new(kind: PoisonKind, reason: impl Into<String>) -> Poison {
        Poison { kind, reason: reason.into() }
    }
}

/// A message the processor wants produced, with what the loop reports once it is acknowledged.
#[derive(Debug, Clone)]
pub struct Output {
    pub record: Outgoing,
    /// The `output` label of `hark_sent_total` (the route rule, or `enriched`).
    pub label: String,
    pub created_at: Option<DateTime<Utc>>,
    pub ingested_at: Option<DateTime<Utc>>,
}

/// Why a processor cannot take a batch right now (a dependency is down). The loop offers the
/// same batch again later; the processor must keep nothing of the failed try.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{dependency} unavailable: {reason}")]
pub struct Unavailable {
    /// Short name for metrics (`hark_errors_total{error_type=…}`), e.g. `redis`.
    pub dependency: &'static str,
    pub reason: String,
}

/// What a stage does to each message. Runs on a blocking thread, so it may use every core.
pub trait Processor: Send + Sync + 'static {
    fn stage(&self) -> Stage;
    /// One result per input, in order; or the whole batch refused for now.
    fn process_batch(&self, inputs: &[Input]) -> Result<Vec<Result<Vec<Output>, Poison>>, Unavailable>;
}

/// Whether a stage is waiting for a dependency, for `/readyz`.
#[derive(Clone, Default)]
pub struct Readiness {
    waiting: Arc<Mutex<Option<Unavailable>>>,
}

impl Readiness {
    /// Ready unless the stage holds a batch it could not process.
    pub fn check(&self) -> Result<(), String> {
        match &*self.waiting.lock().expect("readiness lock") {
            None => Ok(()),
            Some(why) => Err(format!("stage waiting: {why}")),
        }
    }

    pub(crate) fn set(&self, waiting: Option<Unavailable>) {
        *self.waiting.lock().expect("readiness lock") = waiting;
    }
}
