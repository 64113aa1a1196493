//! The pieces behind the `hark` command, kept in a library so tests and benchmarks run the
//! same code: [`serve`] runs stages, [`replay`] sends a file through ingest, [`summary`] counts
//! what came out of routing, [`enrich_file`] runs the enricher over files (`enrich-file`, `eval`),
//! [`alert_eval`] measures the alert rules,
//! [`bench`] measures the whole pipeline, and [`bench_hostile`] ingest's memory under hostile bodies.

pub mod alert_eval;
pub mod bench;
pub mod bench_hostile;
pub mod config;
pub mod enrich_file;
pub mod replay;
pub mod serve;
pub mod summary;
