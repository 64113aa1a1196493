//! Hark's Kafka plumbing, shared by every stage.
//!
//! - [`backoff`]: the capped exponential backoff of every retry in the stage loop.
//! - [`client`]: producers, consumers and admin calls built from the one `[kafka]` config.
//! - [`settings`]: the keys every consuming stage's config section shares.
//! - [`stage`]: the consume → process → produce → commit loop of the enrich and route stages,
//!   with its delivery guarantee and dead-lettering of poison messages.

pub mod backoff;
pub mod client;
pub mod decode;
pub mod processor;
pub mod settings;
pub mod stage;

pub use backoff::Backoff;
pub use client::{broker_check, ensure_topics, header, producer, reader, send_all, Outgoing, RenewingProducer};
pub use decode::{decode, PoisonKind};
pub use processor::{Input, Output, Poison, Processor, Readiness, Unavailable};
pub use settings::{StageDefaults, StageSettings};
pub use stage::{StageError, StageLoop, StageOptions};
