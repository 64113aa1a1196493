//! Hark's alert stage: decides when an alert about a brand fires and when it resolves, and writes
//! each change of state to the alerts topic (`alert.v1`, keyed by fingerprint). Delivery to people
//! is the notify stage's job.
//!
//! - [`rules`]: the `[alert]` rules made ready to run.
//! - [`baseline`]: the learned, hour-of-day baseline of a series and its robust z-score.
//! - [`detector`]: a series' persistence gate and firing → resolved life.
//! - [`engine`]: event-time windows, single-mention rules and the alerts they cause, per partition.
//! - [`store`]: the state of each partition in Redis, so a restart carries on where it stopped.
//! - [`processor`]: the engine in the Kafka stage loop.
//! - [`service`]: the running stage, with rule reloads on SIGHUP and `POST /-/reload`.
//! - [`synth`] and [`eval`]: labelled synthetic streams, and precision, recall and delay on them.

pub mod baseline;
pub mod detector;
pub mod engine;
pub mod eval;
pub mod processor;
pub mod rules;
pub mod service;
pub mod store;
pub mod synth;

pub use engine::{Engine, PartitionState};
pub use processor::AlertProcessor;
pub use rules::RuleSet;
pub use service::{AlertService, Reloader};
