//! Hark's ingest stage: mentions in over HTTP, validated one by one, duplicates dropped with
//! Redis, the rest produced to the raw topic keyed by brand.
//!
//! - [`body`]: splitting a request body into records.
//! - [`dedupe`]: the Redis claim → produce → commit protocol.
//! - [`service`]: the batch pipeline and its per-record report.
//! - [`api`]: the axum route.
//! - `fuzzing`: the properties the fuzz targets in `fuzz/` check (feature `fuzzing`, and in tests).

pub mod api;
pub mod body;
pub mod config;
pub mod dedupe;
#[cfg(any(test, feature = "fuzzing"))]
pub mod fuzzing;
pub mod service;

pub use api::router;
pub use service::{Ingest, IngestReport, Item, Status};
