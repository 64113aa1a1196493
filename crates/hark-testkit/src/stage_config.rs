//! The sections of a config file that one stage's tests need: the shared `[kafka]`, `[topics]`
//! and `[redis]`, and the stage's own, each read with its own defaults, as the `hark` binary
//! reads them.

use std::ops::{Deref, DerefMut};

use hark_core::config::Shared;
use serde::de::DeserializeOwned;

/// The shared sections (reached through `Deref`: `config.redis`) and the stage's own section.
#[derive(Debug, Clone)]
pub struct StageConfig<S> {
    pub shared: Shared,
    pub section: S,
}

impl<S: DeserializeOwned + Default> StageConfig<S> {
    /// Reads `text`; the stage's section is the table `section`, checked by `check`.
    pub fn parse(text: &str, section: &str, check: impl Fn(&S) -> Result<(), String>) -> Result<Self, String> {
        let table: toml::Table = text.parse().map_err(|e: toml::de::Error| e.to_string())?;
        let section: S = match table.get(section) {
            Some(value) => value.clone().try_into().map_err(|e: toml::de::Error| e.to_string())?,
            None => S::default(),
        };
        check(&section)?;
        let shared = toml::Value::Table(table).try_into().map_err(|e: toml::de::Error| e.to_string())?;
        Ok(StageConfig { shared, section })
    }
}

impl<S> Deref for StageConfig<S> {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.shared
    }
}

impl<S> DerefMut for StageConfig<S> {
    fn deref_mut(&mut self) -> &mut Shared {
        &mut self.shared
    }
}
