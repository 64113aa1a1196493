//! What every Hark service reports about itself, the same way in every stage.
//!
//! - [`Metrics`]: the event vocabulary (received, sent, discarded, errors, dead-lettered, timings).
//! - [`Health`] and [`endpoint`]: `GET /metrics`, `/healthz` and `/readyz` over axum.
//! - [`init_logging`]: `tracing` output as text or JSON.

mod health;
mod metrics;

pub use health::{endpoint, Health};
pub use metrics::{Metrics, Stage};

use serde::{Deserialize, Serialize};
use tracing_subscriber::EnvFilter;

/// `[log]`: how the process logs.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LogConfig {
    /// `text` or `json`.
    pub format: String,
    /// A `tracing` filter, e.g. `info` or `hark_ingest=debug,info`.
    pub level: String,
}

impl LogConfig {
    pub fn check(&self) -> Result<(), String> {
        if !matches!(self.format.as_str(), "text" | "json") {
            return Err(format!("log.format must be `text` or `json`, not `{}`", self.format));
        }
        Ok(())
    }
}

impl Default for LogConfig {
    fn default() -> Self {
        LogConfig { format: "text".into(), level: "info".into() }
    }
}

/// Installs the global `tracing` subscriber. `RUST_LOG`, when set, wins over the config's level.
pub fn init_logging(config: &LogConfig) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(&config.level));
    // Colours only on a terminal: log files and journald get plain text.
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).with_ansi(ansi);
    // A second call (tests, `hark all`) keeps the first subscriber.
    let _ = if config.format == "json" { builder.json().try_init() } else { builder.try_init() };
}
