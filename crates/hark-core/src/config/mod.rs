//! The one configuration every Hark service reads: a TOML file, then `HARK__<SECTION>__<KEY>`
//! environment variables on top (e.g. `HARK__KAFKA__BROKERS`, `HARK__REDIS__URL`,
//! `HARK__INGEST__LISTEN`). Every field has a default, so an empty file is a working local setup.
//! `deploy/hark.example.toml` documents each option.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::Path;

use secret::{redact_url, Secret, SecretError, SecretSource, REDACTED};

pub mod alert;
pub mod auth;
pub mod enrich;
pub mod ingest;
pub mod notify;
pub mod route;
pub mod secret;

pub use alert::AlertConfig;
pub use auth::{AuthConfig, TokenKind};
pub use enrich::{BrandQuery, EnrichConfig, InfluenceTiers, TransformerConfig, TransformerPolicy, DEFAULT_LANGUAGES};
pub use ingest::IngestConfig;
pub use notify::NotifyConfig;
pub use route::{RouteConfig, RouteMatch, RouteRule};

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
    fn is_secret_property(key: &str) -> bool {
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

    fn check(&self) -> Result<(), String> {
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
            notify::read_ca_file(path).map_err(|e| format!("redis.{e}"))?;
        }
        Ok(())
    }
}

/// A rule or receiver name: it appears in topic names, metric labels and URLs.
pub(crate) fn valid_name(name: &str) -> bool {
    !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
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

    fn check(&self) -> Result<(), ConfigError> {
        let invalid = |msg: String| Err(ConfigError::Invalid(msg));
        if self.kafka.brokers.trim().is_empty() {
            return invalid("kafka.brokers is empty".into());
        }
        if !matches!(self.log.format.as_str(), "text" | "json") {
            return invalid(format!("log.format must be `text` or `json`, not `{}`", self.log.format));
        }
        self.enrich.check().map_err(ConfigError::Invalid)?;
        self.route.check().map_err(ConfigError::Invalid)?;
        self.redis.check().map_err(ConfigError::Invalid)?;
        if self.ingest.claim_ttl_secs * 1000 <= self.kafka.message_timeout_ms() {
            return invalid(format!(
                "ingest.claim_ttl_secs ({}) must be longer than the producer's message.timeout.ms ({} ms): a client's retry could \
                 otherwise be accepted while the first copy is still being produced",
                self.ingest.claim_ttl_secs,
                self.kafka.message_timeout_ms()
            ));
        }
        let set_twice = self
            .kafka
            .properties
            .keys()
            .find(|k| self.kafka.properties_env.contains_key(*k) || self.kafka.properties_file.contains_key(*k));
        if let Some(key) = set_twice {
            return invalid(format!("kafka property `{key}` is set in `properties` and again in `properties_env` or `properties_file`"));
        }
        self.alert.check().map_err(ConfigError::Invalid)?;
        self.notify.check().map_err(ConfigError::Invalid)?;
        self.auth.check().map_err(ConfigError::Invalid)?;
        Ok(())
    }

    /// The topic a rule routes to.
    pub fn rule_topic(&self, rule: &RouteRule) -> String {
        rule.topic.clone().unwrap_or_else(|| format!("{}{}", self.topics.routed_prefix, rule.name))
    }
}

/// The example config's commented-out settings (`# key = value`, `# [[table]]`), uncommented; its
/// prose comments stay. For the tests that check that the examples load.
#[cfg(test)]
pub(crate) fn uncomment_settings(text: &str) -> String {
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
        assert_eq!(config.rule_topic(&config.route.rules[0]), "hark.routed.complaints");

        let typo = Config::from_toml("[kafka]\nbroker = \"x\"\n", env(&[])).unwrap_err();
        assert!(typo.to_string().contains("unknown field `broker`"), "{typo}");
        let bad = Config::from_toml("[[route.rules]]\nname = \"a\"\nwhen = { sentiments = [\"angry\"] }\n", env(&[]));
        assert!(bad.unwrap_err().to_string().contains("unknown sentiment `angry`"));
        let twice = Config::from_toml("[[route.rules]]\nname = \"a\"\n[[route.rules]]\nname = \"a\"\n", env(&[]));
        assert!(twice.unwrap_err().to_string().contains("declared twice"));
        let claim = Config::from_toml("[ingest]\nclaim_ttl_secs = 60\n", env(&[])).unwrap_err().to_string();
        assert!(claim.contains("must be longer than the producer's message.timeout.ms (120000 ms)"), "{claim}");
        Config::from_toml("[ingest]\nclaim_ttl_secs = 60\n[kafka.properties]\n\"message.timeout.ms\" = \"30000\"\n", env(&[])).unwrap();
    }
}
