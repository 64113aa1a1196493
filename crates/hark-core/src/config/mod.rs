//! The settings every stage shares: the broker (`[kafka]`), the topics between the stages
//! (`[topics]`) and Redis (`[redis]`), with how secrets are read. Each stage's own section is
//! declared by its crate (`hark_ingest::config`, `hark_alert::config`…); the `hark` binary
//! assembles the file, the environment's overrides and reloads (`hark::config`).

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

use secret::{redact_url, Secret, SecretError, SecretSource};

pub mod ca_file;
pub mod secret;

/// What every stage is given besides its own section. Read from a whole file, it takes its three
/// sections and leaves the others alone.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct Shared {
    pub kafka: KafkaConfig,
    pub topics: TopicsConfig,
    pub redis: RedisConfig,
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
    /// Properties whose values are secrets, read from environment variables when a stage starts:
    /// `"sasl.password" = "KAFKA_PASSWORD"`.
    pub properties_env: BTreeMap<String, String>,
    /// The same, read from files: `"sasl.password" = "/run/secrets/kafka"`.
    pub properties_file: BTreeMap<String, String>,
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
            properties_env: BTreeMap::new(),
            properties_file: BTreeMap::new(),
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

impl KafkaConfig {
    /// What is wrong with the section, in words for the operator.
    pub fn check(&self) -> Result<(), String> {
        if self.brokers.trim().is_empty() {
            return Err("kafka.brokers is empty".into());
        }
        let set_twice = self.properties.keys().find(|k| self.properties_env.contains_key(*k) || self.properties_file.contains_key(*k));
        if let Some(key) = set_twice {
            return Err(format!("kafka property `{key}` is set in `properties` and again in `properties_env` or `properties_file`"));
        }
        Ok(())
    }

    /// How long a producer keeps trying one message (`message.timeout.ms`): Hark's default, or
    /// the one set in `properties`.
    pub fn message_timeout_ms(&self) -> u64 {
        self.properties.get("message.timeout.ms").and_then(|v| v.parse().ok()).unwrap_or(120_000)
    }

    /// Reads `properties_env` and `properties_file` into `properties`, when a stage starts.
    pub fn read_secrets(&mut self) -> Result<(), SecretError> {
        let (env, file) = (std::mem::take(&mut self.properties_env), std::mem::take(&mut self.properties_file));
        let keys: std::collections::BTreeSet<&String> = env.keys().chain(file.keys()).collect();
        for key in keys {
            let setting = format!("kafka property `{key}`");
            // Both set for one property is a conflict, which `read` reports.
            let (env, file) = (env.get(key).map(String::as_str), file.get(key).map(String::as_str));
            let source = SecretSource { setting: &setting, name: "properties", inline: None, env, file };
            if let Some(value) = source.read()? {
                self.properties.insert(key.clone(), value.expose().to_string());
            }
        }
        Ok(())
    }

    /// True for librdkafka properties whose values are credentials.
    pub fn is_secret_property(key: &str) -> bool {
        ["password", "secret", "jaas", "oauthbearer.config", "key.pem", "certificate.pem"].iter().any(|s| key.contains(s))
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RedisConfig {
    /// `redis://[user:password@]host:port/db`, or `rediss://` for TLS.
    pub url: String,
    /// The password, when it is not in `url`: from an environment variable or a file.
    pub password_env: Option<String>,
    pub password_file: Option<String>,
    /// With `rediss://`: PEM file of the CA certificates to trust instead of the system's roots.
    pub ca_file: Option<String>,
    /// Prefix of every key Hark writes, so several installs can share one Redis.
    pub key_prefix: String,
}

impl Default for RedisConfig {
    fn default() -> Self {
        RedisConfig {
            url: "redis://127.0.0.1:6379/".into(),
            password_env: None,
            password_file: None,
            ca_file: None,
            key_prefix: "hark:".into(),
        }
    }
}

impl RedisConfig {
    fn password_source(&self) -> SecretSource<'_> {
        SecretSource {
            setting: "redis",
            name: "password",
            inline: None,
            env: self.password_env.as_deref(),
            file: self.password_file.as_deref(),
        }
    }

    /// The URL to connect to, with the password from `password_env` or `password_file` in it;
    /// read when a stage connects.
    pub fn connection_url(&self) -> Result<Secret, SecretError> {
        let Some(password) = self.password_source().read()? else { return Ok(Secret::new(self.url.clone())) };
        let mut url = url::Url::parse(&self.url).expect("checked at load");
        url.set_password(Some(password.expose())).expect("checked at load: a redis URL has a host");
        Ok(Secret::new(url.to_string()))
    }

    pub fn check(&self) -> Result<(), String> {
        let url = url::Url::parse(&self.url).map_err(|e| format!("redis.url `{}` is not a URL: {e}", redact_url(&self.url, false)))?;
        if !matches!(url.scheme(), "redis" | "rediss") || url.host_str().is_none_or(str::is_empty) {
            return Err(format!("redis.url `{}` must be redis://host:port/ or rediss://host:port/", redact_url(&self.url, false)));
        }
        self.password_source().check_form().map_err(|e| e.to_string())?;
        if url.password().is_some() && self.password_source().is_given() {
            return Err("redis: the url has a password, and password_env or password_file gives another; keep one".into());
        }
        if let Some(path) = &self.ca_file {
            if url.scheme() != "rediss" {
                return Err(format!("redis.ca_file is set but redis.url is not rediss:// (TLS): `{}`", redact_url(&self.url, false)));
            }
            ca_file::read_ca_file(path).map_err(|e| format!("redis.{e}"))?;
        }
        Ok(())
    }
}

/// A rule or receiver name: it appears in topic names, metric labels and URLs.
pub fn valid_name(name: &str) -> bool {
    !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}
