//! The shared services the tests run against, as `deploy/local.sh env` names them.

use std::path::{Path, PathBuf};

/// The repository's root folder.
pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).ancestors().nth(2).expect("crates/hark-testkit is inside the repo").to_path_buf()
}

/// The Kafka-protocol broker's address.
pub fn brokers() -> String {
    std::env::var("HARK__KAFKA__BROKERS").unwrap_or_else(|_| "127.0.0.1:9092".into())
}

/// The shared Redis server's URL.
pub fn redis_url() -> String {
    std::env::var("HARK__REDIS__URL").unwrap_or_else(|_| "redis://127.0.0.1:6379/".into())
}

/// A Redis key prefix of one test's own.
pub fn prefix(test: &str) -> String {
    format!("hark-test:{test}:{:08x}:", fastrand::u32(..))
}
