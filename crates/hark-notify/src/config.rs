//! Alert delivery: receivers, grouping, retries and the outbox: the `[notify]` section.
//!
//! Alerts from `topics.alerts` are matched against `routes` in order; the first route that matches
//! (and every later one while a matched route says `continue = true`) sends the alert to its
//! receiver, grouped by `group_by` labels. Timing follows Alertmanager: a new group waits
//! `group_wait_secs` before its first notification, changes go out at most every
//! `group_interval_secs`, and a group still firing is repeated every `repeat_interval_secs`.

use hark_kafka::{StageDefaults, StageSettings};
use serde::{Deserialize, Serialize};

use hark_core::config::ca_file::read_ca_file;
use hark_core::config::secret::{redact_url, SecretSource, REDACTED};
use hark_core::config::valid_name;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct NotifyConfig {
    /// `listen`, `group_id`, `batch_size`, `batch_wait_ms`: reading the alerts topic.
    #[serde(flatten)]
    pub stage: StageSettings<NotifyStage>,
    /// Address of the notify API (alerts, silences, dead letters, outbox) and the probes.
    pub admin_listen: String,
    /// Hark's address as receivers should link to it (`generatorURL`, `externalURL`).
    pub external_url: String,
    /// How often groups are looked at for a due notification.
    pub tick_ms: u64,
    /// Defaults for routes that do not set their own.
    pub group_by: Vec<String>,
    pub group_wait_secs: u64,
    pub group_interval_secs: u64,
    pub repeat_interval_secs: u64,
    /// How long a resolved alert is kept (listed, and sent as resolved to every group that had it).
    pub resolved_retention_secs: u64,
    /// Several notifiers may run on one Redis prefix; the one holding this lease sends. When it
    /// dies, another takes over within this time.
    pub lease_secs: u64,
    /// PEM file of CA certificates trusted for every receiver's `https://` URL, on top of the
    /// system's roots: for receivers behind a private CA.
    pub ca_file: Option<String>,
    pub receivers: Vec<ReceiverConfig>,
    pub routes: Vec<NotifyRoute>,
}

/// The notify stage's own port and consumer group; alerts come a few at a time.
#[derive(Debug, Clone, PartialEq)]
pub struct NotifyStage;

impl StageDefaults for NotifyStage {
    const LISTEN: &'static str = "127.0.0.1:8084";
    const GROUP_ID: &'static str = "hark-notify";
    const BATCH_SIZE: usize = 100;
}

impl Default for NotifyConfig {
    fn default() -> Self {
        NotifyConfig {
            stage: StageSettings::default(),
            admin_listen: "127.0.0.1:8094".into(),
            external_url: "http://127.0.0.1:8094".into(),
            tick_ms: 1000,
            group_by: vec!["brand".into()],
            group_wait_secs: 30,
            group_interval_secs: 300,
            repeat_interval_secs: 4 * 3600,
            resolved_retention_secs: 3600,
            lease_secs: 10,
            ca_file: None,
            receivers: Vec::new(),
            routes: Vec::new(),
        }
    }
}

/// How a receiver wants its notifications.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, strum::IntoStaticStr, strum::EnumString, strum::VariantArray)]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum ReceiverKind {
    /// Hark's own JSON (`hark.notification.v1`).
    Webhook,
    /// The payload Alertmanager's webhook receiver sends (version 4), for existing webhook consumers.
    AlertmanagerWebhook,
    /// A Slack incoming webhook.
    Slack,
    /// PagerDuty Events API v2: one trigger or resolve event per alert, `dedup_key` = fingerprint.
    Pagerduty,
    /// A running Alertmanager: alerts are pushed to its API v2 (`POST <url>/api/v2/alerts`).
    Alertmanager,
}

impl ReceiverKind {
    pub fn as_str(self) -> &'static str {
        self.into()
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReceiverConfig {
    /// Letters, digits, `-`, `_` or `.`; routes name it, metrics carry it.
    pub name: String,
    pub kind: ReceiverKind,
    /// Where requests go: the webhook URL, PagerDuty's enqueue URL, or the Alertmanager's base URL.
    /// `http://` or `https://` (TLS with the system's roots, plus `ca_file`s). A Slack webhook's URL
    /// is itself a secret: give it with `url_env` or `url_file` instead.
    #[serde(default)]
    pub url: String,
    #[serde(default)]
    pub url_env: Option<String>,
    #[serde(default)]
    pub url_file: Option<String>,
    /// PEM file of CA certificates trusted for this receiver only, on top of `notify.ca_file` and
    /// the system's roots.
    #[serde(default)]
    pub ca_file: Option<String>,
    /// Requests carry `X-Hark-Signature: v1=<hex HMAC-SHA256 of "<timestamp>.<body>">`.
    /// Give the secret inline, or the environment variable (`secret_env`) or file (`secret_file`) holding it.
    #[serde(default)]
    pub secret: Option<String>,
    #[serde(default)]
    pub secret_env: Option<String>,
    #[serde(default)]
    pub secret_file: Option<String>,
    /// PagerDuty's integration (routing) key; or `routing_key_env`, `routing_key_file`.
    #[serde(default)]
    pub routing_key: Option<String>,
    #[serde(default)]
    pub routing_key_env: Option<String>,
    #[serde(default)]
    pub routing_key_file: Option<String>,
    #[serde(default = "yes")]
    pub send_resolved: bool,
    /// One request's time limit.
    #[serde(default = "default_timeout_ms")]
    pub timeout_ms: u64,
    /// First retry delay; doubles per attempt (with jitter) up to `retry_max_ms`.
    #[serde(default = "default_retry_initial_ms")]
    pub retry_initial_ms: u64,
    #[serde(default = "default_retry_max_ms")]
    pub retry_max_ms: u64,
    /// Attempts before a delivery is dead-lettered; 0 retries for as long as it takes, so a receiver
    /// down for hours still gets every notification, in order.
    #[serde(default)]
    pub max_attempts: u32,
    /// Requests per minute at most; a flood waits in the outbox instead of hammering the receiver.
    #[serde(default = "default_rate_limit")]
    pub rate_limit_per_minute: u32,
    /// Alertmanager only: firing alerts are pushed again this often (it resolves alerts that are not).
    #[serde(default = "default_repush_secs")]
    pub repush_interval_secs: u64,
}

fn yes() -> bool {
    true
}
fn default_timeout_ms() -> u64 {
    10_000
}
fn default_retry_initial_ms() -> u64 {
    500
}
fn default_retry_max_ms() -> u64 {
    60_000
}
fn default_rate_limit() -> u32 {
    60
}
fn default_repush_secs() -> u64 {
    60
}

/// Which alerts go to a receiver, and how they are grouped.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NotifyRoute {
    pub receiver: String,
    /// Label matchers, all of which must hold: `brand=SkyNordic`, `severity!=info`,
    /// `rule=~"negative-.*"`, `brand!~"Test.*"`. The rule's name is the label `alertname` (and `rule`).
    #[serde(default)]
    pub matchers: Vec<String>,
    #[serde(default)]
    pub group_by: Option<Vec<String>>,
    #[serde(default)]
    pub group_wait_secs: Option<u64>,
    #[serde(default)]
    pub group_interval_secs: Option<u64>,
    #[serde(default)]
    pub repeat_interval_secs: Option<u64>,
    /// Keep looking at later routes after this one matched.
    #[serde(default, rename = "continue")]
    pub continue_matching: bool,
}

/// How a matcher compares a label with its value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum MatchOp {
    #[serde(rename = "=")]
    Equal,
    #[serde(rename = "!=")]
    NotEqual,
    #[serde(rename = "=~")]
    Regex,
    #[serde(rename = "!~")]
    NotRegex,
}

/// One label matcher as written (`name op value`), parsed but with its regex not yet compiled.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MatcherSpec {
    pub name: String,
    pub op: MatchOp,
    pub value: String,
}

impl MatcherSpec {
    /// Parses `name=value`, `name!=value`, `name=~regex` or `name!~regex`; the value may be quoted.
    pub fn parse(text: &str) -> Result<MatcherSpec, String> {
        let text = text.trim();
        let at = text.find(['=', '!']).ok_or_else(|| format!("matcher `{text}` has no operator (=, !=, =~, !~)"))?;
        let (name, rest) = text.split_at(at);
        let (op, value) = if let Some(v) = rest.strip_prefix("=~") {
            (MatchOp::Regex, v)
        } else if let Some(v) = rest.strip_prefix("!~") {
            (MatchOp::NotRegex, v)
        } else if let Some(v) = rest.strip_prefix("!=") {
            (MatchOp::NotEqual, v)
        } else if let Some(v) = rest.strip_prefix('=') {
            (MatchOp::Equal, v)
        } else {
            return Err(format!("matcher `{text}` has no operator (=, !=, =~, !~)"));
        };
        let name = name.trim();
        if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return Err(format!("matcher `{text}`: label name must be letters, digits or `_`"));
        }
        let value = value.trim();
        let value = match value.strip_prefix('"') {
            Some(inner) => inner.strip_suffix('"').ok_or_else(|| format!("matcher `{text}`: unclosed quote"))?,
            None => value,
        };
        Ok(MatcherSpec { name: name.to_string(), op, value: value.to_string() })
    }
}

/// Why a URL is not one Hark can send to (parsed as the HTTP client parses it); `None` when it is.
fn http_url_problem(url: &str) -> Option<String> {
    if url.contains(char::is_whitespace) {
        return Some("it contains whitespace".into());
    }
    match url::Url::parse(url) {
        Err(e) => Some(format!("it is not a URL ({e})")),
        Ok(u) if !matches!(u.scheme(), "http" | "https") => Some(format!("the scheme `{}` is not http or https", u.scheme())),
        Ok(u) if u.host_str().is_none_or(str::is_empty) => Some("it has no host".into()),
        Ok(_) => None,
    }
}

impl NotifyConfig {
    /// What is wrong with the section, in words for the operator.
    pub fn check(&self) -> Result<(), String> {
        self.stage.check("notify")?;
        if self.tick_ms == 0 || self.group_interval_secs == 0 || self.repeat_interval_secs == 0 || self.lease_secs < 3 {
            return Err("notify: tick_ms, group_interval_secs and repeat_interval_secs must be at least 1, lease_secs at least 3".into());
        }
        if let Some(problem) = http_url_problem(&self.external_url) {
            return Err(format!("notify.external_url `{}` must be an http:// or https:// URL: {problem}", self.external_url));
        }
        if let Some(path) = &self.ca_file {
            read_ca_file(path).map_err(|e| format!("notify.{e}"))?;
        }
        let mut names = std::collections::BTreeSet::new();
        for r in &self.receivers {
            let at = format!("notify receiver `{}`", r.name);
            if !valid_name(&r.name) {
                return Err(format!("{at}: the name must be letters, digits, `-`, `_` or `.`"));
            }
            if !names.insert(r.name.as_str()) {
                return Err(format!("{at} is declared twice"));
            }
            let [url, secret, routing_key] = r.secret_sources(&at);
            // Which form a secret takes is checked here; its value is read when notify starts
            // (`read_secrets`), so other stages sharing this file need not have it.
            for source in [url, secret, routing_key] {
                source.check_form().map_err(|e| e.to_string())?;
            }
            if !url.is_given() {
                return Err(format!("{at}: needs `url` (or `url_env`, `url_file`)"));
            }
            if let Some(problem) = (!r.url.is_empty()).then(|| http_url_problem(&r.url)).flatten() {
                return Err(format!("{at}: url `{}` must be an http:// or https:// URL: {problem}", redact_url(&r.url, true)));
            }
            if let Some(path) = &r.ca_file {
                read_ca_file(path).map_err(|e| format!("{at}: {e}"))?;
            }
            let signed = matches!(r.kind, ReceiverKind::Webhook | ReceiverKind::AlertmanagerWebhook);
            if signed && !secret.is_given() {
                return Err(format!(
                    "{at}: a {} receiver needs `secret` (or `secret_env`, `secret_file`) to sign its requests",
                    r.kind.as_str()
                ));
            }
            if r.kind == ReceiverKind::Pagerduty && !routing_key.is_given() {
                return Err(format!("{at}: a pagerduty receiver needs `routing_key` (or `routing_key_env`, `routing_key_file`)"));
            }
            if r.timeout_ms == 0 || r.retry_initial_ms == 0 || r.retry_max_ms < r.retry_initial_ms {
                return Err(format!("{at}: timeout_ms and retry_initial_ms must be at least 1, retry_max_ms at least retry_initial_ms"));
            }
            if r.rate_limit_per_minute == 0 || r.repush_interval_secs == 0 {
                return Err(format!("{at}: rate_limit_per_minute and repush_interval_secs must be at least 1"));
            }
        }
        for (i, route) in self.routes.iter().enumerate() {
            let at = format!("notify.routes[{i}]");
            if !names.contains(route.receiver.as_str()) {
                return Err(format!("{at}: unknown receiver `{}`", route.receiver));
            }
            for m in &route.matchers {
                MatcherSpec::parse(m).map_err(|e| format!("{at}: {e}"))?;
            }
            if route.group_interval_secs == Some(0) || route.repeat_interval_secs == Some(0) {
                return Err(format!("{at}: group_interval_secs and repeat_interval_secs must be at least 1"));
            }
        }
        Ok(())
    }

    /// The receiver of the given name.
    pub fn receiver(&self, name: &str) -> Option<&ReceiverConfig> {
        self.receivers.iter().find(|r| r.name == name)
    }

    /// Reads every receiver's secrets from where they are (environment, files) into the config,
    /// for the notify stage; the URLs read are checked as inline ones are at load.
    pub fn read_secrets(&mut self) -> Result<(), String> {
        for r in &mut self.receivers {
            let at = format!("notify receiver `{}`", r.name);
            let [url, secret, routing_key] = r.secret_sources(&at).map(|source| source.read().map_err(|e| e.to_string()));
            let (url, secret, routing_key) = (url?, secret?, routing_key?);
            if let Some(url) = url {
                if let Some(problem) = http_url_problem(url.expose()) {
                    return Err(format!("{at}: url `{}` must be an http:// or https:// URL: {problem}", redact_url(url.expose(), true)));
                }
                r.url = url.expose().to_string();
            }
            r.secret = secret.map(|s| s.expose().to_string());
            r.routing_key = routing_key.map(|s| s.expose().to_string());
            (r.url_env, r.url_file, r.secret_env, r.secret_file, r.routing_key_env, r.routing_key_file) = Default::default();
        }
        Ok(())
    }

    /// A copy fit to print: inline secrets replaced, URLs without their secret parts.
    pub fn redacted(&self) -> NotifyConfig {
        let mut copy = self.clone();
        for r in &mut copy.receivers {
            if !r.url.is_empty() {
                r.url = redact_url(&r.url, r.kind == ReceiverKind::Slack);
            }
            for inline in [&mut r.secret, &mut r.routing_key].into_iter().flatten() {
                *inline = REDACTED.to_string();
            }
        }
        copy
    }
}

impl ReceiverConfig {
    /// Where its URL, signing secret and routing key come from.
    fn secret_sources<'a>(&'a self, at: &'a str) -> [SecretSource<'a>; 3] {
        let source = |name, inline: Option<&'a String>, env: &'a Option<String>, file: &'a Option<String>| SecretSource {
            setting: at,
            name,
            inline: inline.map(String::as_str),
            env: env.as_deref(),
            file: file.as_deref(),
        };
        [
            source("url", Some(&self.url).filter(|u| !u.is_empty()), &self.url_env, &self.url_file),
            source("secret", self.secret.as_ref(), &self.secret_env, &self.secret_file),
            source("routing_key", self.routing_key.as_ref(), &self.routing_key_env, &self.routing_key_file),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<NotifyConfig, String> {
        let config: NotifyConfig = toml::from_str(text).map_err(|e| e.to_string())?;
        config.check().map(|_| config)
    }

    #[test]
    fn matchers_parse_every_operator_and_quotes() {
        let m = MatcherSpec::parse("brand=SkyNordic").unwrap();
        assert_eq!((m.name.as_str(), m.op, m.value.as_str()), ("brand", MatchOp::Equal, "SkyNordic"));
        assert_eq!(MatcherSpec::parse("sev != info").unwrap().op, MatchOp::NotEqual);
        let r = MatcherSpec::parse("rule=~\"neg.*\"").unwrap();
        assert_eq!((r.op, r.value.as_str()), (MatchOp::Regex, "neg.*"));
        assert_eq!(MatcherSpec::parse("brand!~Test.*").unwrap().op, MatchOp::NotRegex);
        assert!(MatcherSpec::parse("brand").unwrap_err().contains("no operator"));
        assert!(MatcherSpec::parse("=x").unwrap_err().contains("label name"));
        assert!(MatcherSpec::parse("a=\"x").unwrap_err().contains("unclosed quote"));
    }

    #[test]
    fn invalid_receivers_and_routes_are_clear_errors() {
        let ok = "[[receivers]]\nname = \"ops\"\nkind = \"webhook\"\nurl = \"http://127.0.0.1:9/hook\"\nsecret = \"s\"\n\
                  [[routes]]\nreceiver = \"ops\"\nmatchers = [\"brand=SkyNordic\"]\n";
        let config = parse(ok).unwrap();
        assert_eq!(config.receivers[0].rate_limit_per_minute, 60);
        assert!(config.receivers[0].send_resolved);

        let unsigned = "[[receivers]]\nname = \"ops\"\nkind = \"webhook\"\nurl = \"http://x/\"\n";
        assert!(parse(unsigned).unwrap_err().contains("needs `secret`"));
        let kind = "[[receivers]]\nname = \"ops\"\nkind = \"email\"\nurl = \"http://x/\"\n";
        assert!(parse(kind).unwrap_err().contains("unknown variant `email`"));
        let pd = "[[receivers]]\nname = \"pd\"\nkind = \"pagerduty\"\nurl = \"http://x/\"\n";
        assert!(parse(pd).unwrap_err().contains("routing_key"));
        let route = "[[routes]]\nreceiver = \"nobody\"\n";
        assert!(parse(route).unwrap_err().contains("unknown receiver `nobody`"));
        let matcher = ok.replace("brand=SkyNordic", "brand");
        assert!(parse(&matcher).unwrap_err().contains("notify.routes[0]: matcher `brand` has no operator"));
        let twice = format!("{ok}{}", &ok[..ok.find("[[routes]]").unwrap()]);
        assert!(parse(&twice).unwrap_err().contains("declared twice"));
    }

    #[test]
    fn receiver_urls_hark_cannot_send_to_are_refused_with_the_receiver_name() {
        let slack = |url: &str| format!("[[receivers]]\nname = \"chat\"\nkind = \"slack\"\nurl = \"{url}\"\n");
        assert!(parse(&slack("https://hooks.slack.com/services/T0/B0/x")).is_ok());
        assert!(parse(&slack("http://127.0.0.1:9000/hook")).is_ok());
        let cases = [
            ("ftp://x/", "the scheme `ftp` is not http or https"),
            ("hooks.slack.com/services/x", "it is not a URL"),
            ("https://", "it is not a URL"),
            ("http://x y/", "whitespace"),
            ("unix:/run/hook.sock", "the scheme `unix` is not http or https"),
        ];
        for (url, why) in cases {
            let err = parse(&slack(url)).unwrap_err();
            // A Slack URL is a secret: the message shows only its scheme and host, if that much.
            assert!(err.starts_with("notify receiver `chat`: url `") && err.contains(why) && !err.contains("services/x"), "{url}: {err}");
        }
        let external = parse("external_url = \"ws://hark\"\n").unwrap_err();
        assert!(external.contains("notify.external_url") && external.contains("`ws`"), "{external}");
    }

    /// A file of this test's own in the temp directory, holding `text`.
    fn temp_file(name: &str, text: &str) -> String {
        let path = std::env::temp_dir().join(format!("hark-config-{}-{name}", std::process::id()));
        std::fs::write(&path, text).unwrap();
        path.display().to_string()
    }

    #[test]
    fn a_ca_file_that_cannot_be_read_or_holds_no_certificate_is_a_config_error() {
        let with_ca = |global: &str, own: &str| {
            format!("{global}[[receivers]]\nname = \"pd\"\nkind = \"pagerduty\"\nurl = \"https://pd.example\"\nrouting_key = \"k\"\n{own}")
        };
        // The check reads PEM; whether the DER inside is a usable CA is the TLS library's to say.
        let pem = temp_file("ca.pem", "-----BEGIN CERTIFICATE-----\nMIIBszCCAVmgAwIBAgIUS0E=\n-----END CERTIFICATE-----\n");
        let config = parse(&with_ca(&format!("ca_file = \"{pem}\"\n"), &format!("ca_file = \"{pem}\"\n"))).unwrap();
        assert_eq!(config.ca_file.as_deref(), Some(pem.as_str()));
        assert_eq!(read_ca_file(&pem).unwrap().len(), 1);

        let missing = "/nonexistent/hark/ca.pem";
        let err = parse(&with_ca("", &format!("ca_file = \"{missing}\"\n"))).unwrap_err();
        assert!(err.starts_with("notify receiver `pd`: ca_file `/nonexistent/hark/ca.pem` cannot be read"), "{err}");
        let err = parse(&with_ca(&format!("ca_file = \"{missing}\"\n"), "")).unwrap_err();
        assert!(err.starts_with("notify.ca_file `/nonexistent/hark/ca.pem` cannot be read"), "{err}");

        let key_only = temp_file("key.pem", "-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIA==\n-----END PRIVATE KEY-----\n");
        let err = parse(&with_ca("", &format!("ca_file = \"{key_only}\"\n"))).unwrap_err();
        assert!(err.contains("holds no certificate"), "{err}");
        let broken = temp_file("broken.pem", "-----BEGIN CERTIFICATE-----\nMIIB\n");
        let err = parse(&with_ca("", &format!("ca_file = \"{broken}\"\n"))).unwrap_err();
        assert!(err.contains("is not valid PEM"), "{err}");
        for f in [pem, key_only, broken] {
            let _ = std::fs::remove_file(f);
        }
    }
}
