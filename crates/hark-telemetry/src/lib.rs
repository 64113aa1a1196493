//! What every Hark service reports about itself, the same way in every stage.
//!
//! - [`Metrics`]: the event vocabulary (received, sent, discarded, errors, dead-lettered, timings).
//! - [`Health`] and [`endpoint`]: `GET /metrics`, `/healthz` and `/readyz` over axum.
//! - [`init_logging`]: `tracing` output as text or JSON.

mod health;
mod metrics;

pub use health::{endpoint, Health};
pub use metrics::{Metrics, Stage};

use hark_core::config::LogConfig;
use tracing_subscriber::EnvFilter;

/// Installs the global `tracing` subscriber. `RUST_LOG`, when set, wins over the config's level.
pub fn init_logging(config: &LogConfig) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(&config.level));
    // Colours only on a terminal: log files and journald get plain text.
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).with_ansi(ansi);
    // A second call (tests, `hark all`) keeps the first subscriber.
    let _ = if config.format == "json" { builder.json().try_init() } else { builder.try_init() };
}
