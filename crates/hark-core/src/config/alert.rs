//! Spike detection and single-mention alert rules: the `[alert]` section.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AlertConfig {}

impl AlertConfig {
    /// What is wrong with the section, in words for the operator.
    pub fn check(&self) -> Result<(), String> {
        Ok(())
    }
}
