//! The one configuration every Hark service reads: a TOML file, then `HARK_<SECTION>_<KEY>`
//! environment variables on top (e.g. `HARK_KAFKA_BROKERS`, `HARK_REDIS_URL`,
//! `HARK_INGEST_LISTEN`). Every field has a default, so an empty file is a working local setup.
//! `deploy/hark.example.toml` documents each option.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::Path;

use crate::mention::Validator;

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read { path: String, source: std::io::Error },
    #[error("invalid config: {0}")]
    Parse(#[from] toml::de::Error),
    #[error("invalid config: {0}")]
    Invalid(String),
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    pub kafka: KafkaConfig,
    pub topics: TopicsConfig,
    pub redis: RedisConfig,
    pub ingest: IngestConfig,
    pub enrich: EnrichConfig,
    pub route: RouteConfig,
    pub log: LogConfig,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct KafkaConfig {
    /// `bootstrap.servers`.
    pub brokers: String,
    pub client_id: String,
    /// Create Hark's topics at start when they are missing.
    pub create_topics: bool,
    pub partitions: i32,
    pub replication_factor: i32,
    pub session_timeout_ms: u32,
    pub heartbeat_interval_ms: u32,
    /// Use Kafka transactions (consume-process-produce exactly once) in enrich and route.
    /// Needs a broker that isolates aborted transactions (Apache Kafka, Redpanda).
    pub exactly_once: bool,
    /// Passed to librdkafka unchanged, e.g. `"security.protocol" = "SASL_SSL"`.
    pub properties: BTreeMap<String, String>,
}

impl Default for KafkaConfig {
    fn default() -> Self {
        KafkaConfig {
            brokers: "127.0.0.1:9092".into(),
            client_id: "hark".into(),
            create_topics: true,
            partitions: 6,
            replication_factor: 1,
            session_timeout_ms: 6000,
            heartbeat_interval_ms: 1000,
            exactly_once: false,
            properties: BTreeMap::new(),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TopicsConfig {
    pub raw: String,
    pub enriched: String,
    pub dlq: String,
    pub spam: String,
    /// Where a mention goes when no route rule matches it, so none is dropped silently.
    pub unmatched: String,
    /// A rule without its own `topic` routes to `<routed_prefix><rule name>`.
    pub routed_prefix: String,
    pub alerts: String,
}

impl Default for TopicsConfig {
    fn default() -> Self {
        TopicsConfig {
            raw: "hark.mentions.raw".into(),
            enriched: "hark.mentions.enriched".into(),
            dlq: "hark.mentions.dlq".into(),
            spam: "hark.mentions.spam".into(),
            unmatched: "hark.routed.unmatched".into(),
            routed_prefix: "hark.routed.".into(),
            alerts: "hark.alerts".into(),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RedisConfig {
    pub url: String,
    /// Prefix of every key Hark writes, so several installs can share one Redis.
    pub key_prefix: String,
}

impl Default for RedisConfig {
    fn default() -> Self {
        RedisConfig { url: "redis://127.0.0.1:6379/".into(), key_prefix: "hark:".into() }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct IngestConfig {
    /// Address of the HTTP API, metrics and health endpoints.
    pub listen: String,
    pub max_body_bytes: usize,
    pub max_text_bytes: usize,
    pub max_future_skew_secs: i64,
    /// How long a mention's id and text fingerprint are remembered for duplicate detection.
    pub dedupe_window_secs: u64,
    /// How long a mention in flight to the broker blocks its copies; a crash frees it after this.
    pub claim_ttl_secs: u64,
    pub platforms: Vec<String>,
}

impl Default for IngestConfig {
    fn default() -> Self {
        IngestConfig {
            listen: "127.0.0.1:8080".into(),
            max_body_bytes: 16 * 1024 * 1024,
            max_text_bytes: 32 * 1024,
            max_future_skew_secs: 300,
            dedupe_window_secs: 24 * 3600,
            claim_ttl_secs: 30,
            platforms: [
                "twitter", "x", "instagram", "facebook", "tiktok", "youtube", "reddit", "linkedin", "threads",
                "mastodon", "bluesky", "weibo", "wechat", "douyin", "xiaohongshu", "bilibili", "vk", "telegram",
                "trustpilot", "google_reviews", "app_store", "play_store", "news", "blog", "forum", "other",
            ]
            .map(String::from)
            .to_vec(),
        }
    }
}

impl IngestConfig {
    pub fn validator(&self) -> Validator {
        Validator {
            platforms: self.platforms.clone(),
            max_text_bytes: self.max_text_bytes,
            max_future_skew: chrono::Duration::seconds(self.max_future_skew_secs),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EnrichConfig {
    pub listen: String,
    pub group_id: String,
    /// Mentions taken from the raw topic per batch; a batch's offsets are committed together.
    pub batch_size: usize,
    pub batch_wait_ms: u64,
    /// Spam score from which a mention is flagged `is_spam`.
    pub spam_threshold: f64,
}

impl Default for EnrichConfig {
    fn default() -> Self {
        EnrichConfig {
            listen: "127.0.0.1:8081".into(),
            group_id: "hark-enrich".into(),
            batch_size: 1000,
            batch_wait_ms: 20,
            spam_threshold: 0.7,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RouteConfig {
    pub listen: String,
    pub group_id: String,
    pub batch_size: usize,
    pub batch_wait_ms: u64,
    /// Mentions with a spam score at or above this go to the spam topic and to no rule.
    pub spam_threshold: f64,
    pub rules: Vec<RouteRule>,
}

impl Default for RouteConfig {
    fn default() -> Self {
        RouteConfig {
            listen: "127.0.0.1:8082".into(),
            group_id: "hark-route".into(),
            batch_size: 1000,
            batch_wait_ms: 20,
            spam_threshold: 0.7,
            rules: Vec::new(),
        }
    }
}

/// One declarative routing rule: mentions that match every condition in `when` go to `topic`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RouteRule {
    pub name: String,
    /// Defaults to `<topics.routed_prefix><name>`.
    #[serde(default)]
    pub topic: Option<String>,
    #[serde(default)]
    pub when: RouteMatch,
}

/// Conditions of a rule. Lists match when the mention's value is any of them (case-insensitive);
/// an empty or absent condition matches everything.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RouteMatch {
    pub brands: Vec<String>,
    pub platforms: Vec<String>,
    pub languages: Vec<String>,
    pub sentiments: Vec<String>,
    pub min_spam_score: Option<f64>,
    pub max_spam_score: Option<f64>,
    pub min_followers: Option<u64>,
    pub max_followers: Option<u64>,
    /// Any of these words or phrases in the text (case-insensitive).
    pub keywords: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LogConfig {
    /// `text` or `json`.
    pub format: String,
    /// A `tracing` filter, e.g. `info` or `hark_ingest=debug,info`.
    pub level: String,
}

impl Default for LogConfig {
    fn default() -> Self {
        LogConfig { format: "text".into(), level: "info".into() }
    }
}

const SECTIONS: [&str; 7] = ["kafka", "topics", "redis", "ingest", "enrich", "route", "log"];

impl Config {
    /// Reads the file (if any), applies the environment's `HARK_*` overrides, and checks the result.
    pub fn load(path: Option<&Path>) -> Result<Config, ConfigError> {
        let text = match path {
            Some(path) => std::fs::read_to_string(path)
                .map_err(|source| ConfigError::Read { path: path.display().to_string(), source })?,
            None => String::new(),
        };
        Config::from_toml(&text, std::env::vars())
    }

    /// Parses `text` with the given environment on top. `HARK_<SECTION>_<KEY>=value` sets
    /// `<section>.<key>`; the value is read as TOML (numbers, booleans, arrays) or else as a string.
    pub fn from_toml(text: &str, env: impl IntoIterator<Item = (String, String)>) -> Result<Config, ConfigError> {
        let mut table: toml::Table = text.parse()?;
        for (name, value) in env {
            let Some(rest) = name.strip_prefix("HARK_") else { continue };
            let rest = rest.to_ascii_lowercase();
            let Some((section, key)) = rest.split_once('_') else { continue };
            if !SECTIONS.contains(&section) {
                continue;
            }
            let value = parse_env_value(&value);
            let section = table
                .entry(section)
                .or_insert_with(|| toml::Value::Table(toml::Table::new()))
                .as_table_mut()
                .ok_or_else(|| ConfigError::Invalid(format!("`{section}` must be a table")))?;
            section.insert(key.to_string(), value);
        }
        let config: Config = toml::Value::Table(table).try_into()?;
        config.check()?;
        Ok(config)
    }

    fn check(&self) -> Result<(), ConfigError> {
        let invalid = |msg: String| Err(ConfigError::Invalid(msg));
        if self.kafka.brokers.trim().is_empty() {
            return invalid("kafka.brokers is empty".into());
        }
        if !matches!(self.log.format.as_str(), "text" | "json") {
            return invalid(format!("log.format must be `text` or `json`, not `{}`", self.log.format));
        }
        for (name, threshold) in [
            ("enrich.spam_threshold", self.enrich.spam_threshold),
            ("route.spam_threshold", self.route.spam_threshold),
        ] {
            if !(0.0..=1.0).contains(&threshold) {
                return invalid(format!("{name} must be between 0 and 1, not {threshold}"));
            }
        }
        if self.enrich.batch_size == 0 || self.route.batch_size == 0 {
            return invalid("batch_size must be at least 1".into());
        }
        let mut names = std::collections::BTreeSet::new();
        for rule in &self.route.rules {
            let valid_name = !rule.name.is_empty()
                && rule.name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
            if !valid_name {
                return invalid(format!("route rule name `{}` must be letters, digits, `-`, `_` or `.`", rule.name));
            }
            if !names.insert(rule.name.as_str()) {
                return invalid(format!("route rule `{}` is declared twice", rule.name));
            }
            for label in &rule.when.sentiments {
                if !matches!(label.to_ascii_lowercase().as_str(), "negative" | "neutral" | "positive") {
                    return invalid(format!("route rule `{}`: unknown sentiment `{label}`", rule.name));
                }
            }
        }
        Ok(())
    }

    /// The topic a rule routes to.
    pub fn rule_topic(&self, rule: &RouteRule) -> String {
        rule.topic.clone().unwrap_or_else(|| format!("{}{}", self.topics.routed_prefix, rule.name))
    }
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
                ("HARK_KAFKA_BROKERS", "b:2"),
                ("HARK_REDIS_URL", "redis://r:1/"),
                ("HARK_INGEST_DEDUPE_WINDOW_SECS", "60"),
                ("HARK_KAFKA_EXACTLY_ONCE", "true"),
                ("HARK_PYTHON", "/usr/bin/python3"),
            ]),
        )
        .unwrap();
        assert_eq!(config.kafka.brokers, "b:2");
        assert_eq!(config.redis.url, "redis://r:1/");
        assert_eq!(config.ingest.dedupe_window_secs, 60);
        assert_eq!(config.ingest.max_text_bytes, 10);
        assert!(config.kafka.exactly_once);
    }

    #[test]
    fn rules_get_default_topics_and_typos_are_errors() {
        let config = Config::from_toml(
            "[[route.rules]]\nname = \"complaints\"\nwhen = { sentiments = [\"negative\"], brands = [\"SkyNordic\"] }\n",
            env(&[]),
        )
        .unwrap();
        assert_eq!(config.rule_topic(&config.route.rules[0]), "hark.routed.complaints");

        let typo = Config::from_toml("[kafka]\nbroker = \"x\"\n", env(&[])).unwrap_err();
        assert!(typo.to_string().contains("unknown field `broker`"), "{typo}");
        let bad = Config::from_toml("[[route.rules]]\nname = \"a\"\nwhen = { sentiments = [\"angry\"] }\n", env(&[]));
        assert!(bad.unwrap_err().to_string().contains("unknown sentiment `angry`"));
        let twice = Config::from_toml("[[route.rules]]\nname = \"a\"\n[[route.rules]]\nname = \"a\"\n", env(&[]));
        assert!(twice.unwrap_err().to_string().contains("declared twice"));
    }
}
