//! The keys every consuming stage's section shares: where it serves its probes and metrics, its
//! consumer group, and how it batches. `[enrich]`, `[route]`, `[alert]` and `[notify]` each
//! flatten one [`StageSettings`] into their table, so the file keeps `route.group_id` and the
//! checks and the loop's [`StageOptions`] are written once.

use std::{marker::PhantomData, time::Duration};

use serde::{Deserialize, Serialize};

use crate::stage::StageOptions;

/// What differs between stages: their own port and consumer group, and how many messages a
/// batch takes.
pub trait StageDefaults {
    const LISTEN: &'static str;
    const GROUP_ID: &'static str;
    const BATCH_SIZE: usize = 1000;
}

/// `D` names the stage whose defaults fill the keys a file leaves out.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, bound = "D: StageDefaults")]
pub struct StageSettings<D> {
    /// Address of `/metrics`, `/healthz` and `/readyz` when the stage runs alone.
    pub listen: String,
    /// The consumer group reading the stage's input topic; instances of one group share its partitions.
    pub group_id: String,
    /// Messages taken per batch; a batch's offsets are committed together.
    pub batch_size: usize,
    /// How long a batch waits to fill once its first message is in.
    pub batch_wait_ms: u64,
    #[serde(skip)]
    stage: PhantomData<D>,
}

impl<D: StageDefaults> Default for StageSettings<D> {
    fn default() -> Self {
        StageSettings {
            listen: D::LISTEN.into(),
            group_id: D::GROUP_ID.into(),
            batch_size: D::BATCH_SIZE,
            batch_wait_ms: 20,
            stage: PhantomData,
        }
    }
}

impl<D> StageSettings<D> {
    /// What is wrong with the keys, in words for the operator; `section` is the table's name.
    pub fn check(&self, section: &str) -> Result<(), String> {
        if self.batch_size == 0 {
            return Err(format!("{section}.batch_size must be at least 1"));
        }
        if self.group_id.trim().is_empty() {
            return Err(format!("{section}.group_id must not be empty"));
        }
        Ok(())
    }

    /// The stage loop's options for reading `input_topic` and dead-lettering to `dlq_topic`.
    pub fn options(&self, input_topic: &str, dlq_topic: &str) -> StageOptions {
        StageOptions {
            group_id: self.group_id.clone(),
            input_topic: input_topic.into(),
            dlq_topic: dlq_topic.into(),
            batch_size: self.batch_size,
            batch_wait: Duration::from_millis(self.batch_wait_ms),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Clone, PartialEq)]
    struct Example;

    impl StageDefaults for Example {
        const LISTEN: &'static str = "127.0.0.1:9999";
        const GROUP_ID: &'static str = "hark-example";
    }

    /// A section as the stages declare theirs: the shared keys flattened beside its own.
    #[derive(Debug, Default, PartialEq, Serialize, Deserialize)]
    #[serde(default, deny_unknown_fields)]
    struct Section {
        #[serde(flatten)]
        stage: StageSettings<Example>,
        threshold: u32,
    }

    #[test]
    fn keys_left_out_take_the_stages_defaults() {
        let section: Section = toml::from_str("group_id = \"mine\"\nthreshold = 3").unwrap();
        assert_eq!(section.stage.group_id, "mine");
        assert_eq!(section.stage.listen, "127.0.0.1:9999");
        assert_eq!(section.stage.batch_size, 1000);
        assert_eq!(section.threshold, 3);
        assert_eq!(toml::from_str::<Section>("").unwrap(), Section::default());
    }

    #[test]
    fn unknown_keys_are_still_refused() {
        let err = toml::from_str::<Section>("batch_sise = 10").unwrap_err().to_string();
        assert!(err.contains("batch_sise"), "{err}");
    }

    #[test]
    fn written_back_as_one_flat_table() {
        let section: Section = toml::from_str("batch_size = 7").unwrap();
        let text = toml::to_string(&section).unwrap();
        assert!(text.contains("batch_size = 7") && text.contains("group_id = \"hark-example\""), "{text}");
        assert_eq!(toml::from_str::<Section>(&text).unwrap(), section);
    }

    #[test]
    fn checks_name_the_section() {
        let mut settings = StageSettings::<Example>::default();
        assert!(settings.check("route").is_ok());
        settings.batch_size = 0;
        assert_eq!(settings.check("route").unwrap_err(), "route.batch_size must be at least 1");
    }

    #[test]
    fn options_carry_the_settings() {
        let options = StageSettings::<Example>::default().options("in", "dlq");
        assert_eq!((options.group_id.as_str(), options.input_topic.as_str(), options.batch_size), ("hark-example", "in", 1000));
        assert_eq!(options.batch_wait, Duration::from_millis(20));
    }
}
