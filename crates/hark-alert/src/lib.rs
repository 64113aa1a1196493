//! Hark's alert stage: decides when an alert about a brand fires and when it resolves, and writes
//! each change of state to the alerts topic (`alert.v1`, keyed by fingerprint). Delivery to people
//! is the notify stage's job.
//!
//! - [`rules`]: the `[alert]` rules made ready to run.
//! - [`baseline`]: what a series' window is expected to hold, and how much it normally strays.
//! - [`windows`]: event-time windows of the window rules and the judgement of each closed one.
//! - [`detector`]: a series' persistence gate and firing → resolved life.
//! - [`mentions`]: the mention rules (influencer, viral, keyword).
//! - [`engine`]: event time and the alerts each mention causes, per partition.
//! - [`summary`]: the words of an alert.
//! - [`store`]: the state of each partition in Redis, so a restart carries on where it stopped.
//! - [`processor`]: the engine in the Kafka stage loop.
//! - [`console`]: each series' recent windows and the alerts' sample mentions, kept for the web
//!   console and served on the admin listener.
//! - [`service`]: the running stage, with rule reloads on SIGHUP and `POST /-/reload`.
//! - [`synth`] and [`eval`]: labelled synthetic streams from two independent generators, and
//!   recall, delay and false alarms on them.

pub mod baseline;
pub mod config;
pub mod console;
pub mod detector;
pub mod engine;
pub mod eval;
pub mod mentions;
pub mod processor;
pub mod rules;
pub mod service;
pub mod store;
pub mod summary;
pub mod synth;
pub mod windows;

pub use engine::{Engine, PartitionState};
pub use processor::AlertProcessor;
pub use rules::RuleSet;
pub use service::{AlertService, Reloader};
