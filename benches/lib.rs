//! Hark's benchmarks live in this package's `[[bench]]` targets; see `pipeline.rs`.
