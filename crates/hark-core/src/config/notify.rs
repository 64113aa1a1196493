//! Alert delivery: receivers, grouping, retries and the outbox: the `[notify]` section.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct NotifyConfig {}

impl NotifyConfig {
    /// What is wrong with the section, in words for the operator.
    pub fn check(&self) -> Result<(), String> {
        Ok(())
    }
}
