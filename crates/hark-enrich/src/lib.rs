//! Hark's enrich stage: what a community manager needs to know about each mention.
//!
//! - [`text`]: the tokenizer the models share.
//! - [`language`]: language and confidence, with `lingua` behind fast shortcuts.
//! - [`sentiment`]: the [`SentimentModel`] trait and the built-in multilingual lexicon model.
//! - [`intent`]: complaint, question, praise, feedback, purchase intent.
//! - [`spam`]: a 0–1 spam score with the reasons that raised it.
//! - [`offensive`]: abuse aimed at people, apart from negative sentiment.
//! - [`brands`]: which configured brand queries a mention matches, and how.
//! - [`enricher`]: the [`Enricher`] that runs them all on a mention.
//! - [`record`]: mentions from NDJSON files; [`eval`]: scoring the models on labelled ones.
//! - [`stage`]: the processor the Kafka stage loop runs over the raw topic; [`repeat_store`]: the
//!   spam repeat count it shares with the other instances, in Redis.

pub mod brands;
pub mod config;
pub mod encoder;
pub mod enricher;
pub mod error;
pub mod eval;
pub mod intent;
pub mod language;
pub mod learned;
pub mod offensive;
pub mod record;
pub mod repeat_store;
pub mod sentiment;
pub mod spam;
pub mod stage;
pub mod text;
#[cfg(feature = "transformer")]
pub mod transformer;

pub use enricher::Enricher;
pub use error::EnrichError;
pub use sentiment::{LexiconModel, SentimentModel};
pub use stage::EnrichProcessor;
