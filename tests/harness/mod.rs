//! What the end-to-end tests share: a fresh namespace on the real broker and Redis for each test,
//! `hark` processes started from the built binary, and independent Kafka clients (Python
//! `confluent-kafka`, in `tests/tools/`) to write to and read from topics from outside Hark.

use std::{
    collections::HashMap,
    io::Write,
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    sync::OnceLock,
    time::{Duration, Instant},
};

use hark::config::Config;
use hark_core::config::TopicsConfig;
use hark_route::config::{RouteMatch, RouteRule};
pub use hark_testkit::{brokers, eventually, free_port, poll_until, redis_url, repo, test_ca, BrokerServer, RedisServer};
use serde_json::Value;

fn python() -> PathBuf {
    std::env::var_os("HARK_PYTHON").map(PathBuf::from).unwrap_or_else(|| repo().join(".hark/venv/bin/python"))
}

/// Starts the broker and Redis through the deploy script (idempotent), once per test binary.
fn services() {
    static STARTED: OnceLock<()> = OnceLock::new();
    STARTED.get_or_init(|| {
        let status = Command::new("bash").arg(repo().join("deploy/local.sh")).arg("start").status().expect("running deploy/local.sh");
        assert!(status.success(), "deploy/local.sh start failed; run deploy/local.sh install first");
    });
}

/// The `hark` binary of this build profile, brought up to date once per test binary (cargo
/// does not rebuild another package's binary for these tests); or `HARK_BIN` when the caller
/// built it already (`deploy/local.sh test`): a build from inside a test sees cargo's test
/// environment and rebuilds part of the tree for it.
fn hark_binary() -> PathBuf {
    static BINARY: OnceLock<PathBuf> = OnceLock::new();
    BINARY
        .get_or_init(|| {
            if let Some(binary) = std::env::var_os("HARK_BIN") {
                return PathBuf::from(binary);
            }
            // The test executable is target/<profile>/deps/<name>; the binary sits in target/<profile>.
            let exe = std::env::current_exe().expect("test executable path");
            let profile_dir = exe.parent().and_then(Path::parent).expect("target/<profile>");
            let mut build = Command::new(env!("CARGO"));
            build.args(["build", "-p", "hark", "--bin", "hark"]).current_dir(repo());
            if profile_dir.file_name().is_some_and(|name| name == "release") {
                build.arg("--release");
            }
            assert!(build.status().expect("running cargo").success(), "building hark failed");
            profile_dir.join("hark")
        })
        .clone()
}

/// A `hark` command of this build, for tests of the command-line tools.
pub fn hark_command() -> Command {
    Command::new(hark_binary())
}

/// Topic names, groups, Redis keys and ports that belong to one test alone, as a real `Config`
/// written to the file the spawned processes read.
pub struct Env {
    pub run: String,
    pub config_path: PathBuf,
    pub config: Config,
}

impl Env {
    pub fn new(name: &str) -> Env {
        services();
        let run = format!("{name}-{:08x}", fastrand::u32(..));
        let mut config = Config::default();
        config.kafka.brokers = brokers();
        config.kafka.partitions = 3;
        let t = &mut config.topics;
        for (topic, suffix) in [
            (&mut t.raw, "raw"),
            (&mut t.enriched, "enriched"),
            (&mut t.dlq, "dlq"),
            (&mut t.spam, "spam"),
            (&mut t.unmatched, "routed.unmatched"),
            (&mut t.routed_prefix, "routed."),
            (&mut t.alerts, "alerts"),
        ] {
            *topic = format!("e2e.{run}.{suffix}");
        }
        config.redis.url = redis_url();
        config.redis.key_prefix = format!("hark-e2e-{run}:");
        config.ingest.listen = format!("127.0.0.1:{}", free_port());
        config.ingest.admin_listen = format!("127.0.0.1:{}", free_port());
        config.enrich.stage.listen = format!("127.0.0.1:{}", free_port());
        config.enrich.stage.group_id = format!("e2e-{run}-enrich");
        config.enrich.stage.batch_size = 500;
        config.route.stage.listen = format!("127.0.0.1:{}", free_port());
        config.route.stage.group_id = format!("e2e-{run}-route");
        config.alert.stage.listen = format!("127.0.0.1:{}", free_port());
        config.alert.admin_listen = format!("127.0.0.1:{}", free_port());
        config.alert.stage.group_id = format!("e2e-{run}-alert");
        config.notify.stage.listen = format!("127.0.0.1:{}", free_port());
        config.notify.admin_listen = format!("127.0.0.1:{}", free_port());
        config.notify.external_url = format!("http://{}", config.notify.admin_listen);
        config.notify.stage.group_id = format!("e2e-{run}-notify");
        config.route.rules = vec![
            RouteRule {
                name: "complaints".into(),
                topic: None,
                when: RouteMatch { sentiments: vec![hark_core::SentimentLabel::Negative], ..Default::default() },
            },
            RouteRule { name: "influencers".into(), topic: None, when: RouteMatch { min_followers: Some(100_000), ..Default::default() } },
        ];
        let dir = repo().join("target/e2e");
        std::fs::create_dir_all(&dir).unwrap();
        let config_path = dir.join(format!("{run}.toml"));
        let env = Env { run, config_path, config };
        env.write_config();
        env
    }

    /// Changes this test's config (alert rules, receivers, timings) and rewrites the file the
    /// processes started afterwards read.
    pub fn configure(&mut self, edit: impl FnOnce(&mut Config)) {
        edit(&mut self.config);
        self.write_config();
    }

    fn write_config(&self) {
        std::fs::write(&self.config_path, toml::to_string(&self.config).unwrap()).unwrap();
    }

    pub fn topics(&self) -> &TopicsConfig {
        &self.config.topics
    }

    pub fn routed(&self, rule: &str) -> String {
        format!("{}{rule}", self.config.topics.routed_prefix)
    }

    /// Starts `hark <command>` and waits until its `/readyz` answers 200.
    pub async fn start(&self, command: &str, extra_env: &[(&str, &str)]) -> Hark {
        let mut hark = self.spawn(command, extra_env);
        hark.wait_ready().await;
        hark
    }

    /// Starts `hark <command>` with this test's config, extra environment on top.
    pub fn spawn(&self, command: &str, extra_env: &[(&str, &str)]) -> Hark {
        let log = repo().join(format!("target/e2e/{}-{command}.log", self.run));
        let file = std::fs::OpenOptions::new().create(true).append(true).open(&log).unwrap();
        let mut cmd = Command::new(hark_binary());
        cmd.arg("--config").arg(&self.config_path).arg(command).stdout(file.try_clone().unwrap()).stderr(file);
        for (k, v) in extra_env {
            cmd.env(k, v);
        }
        let listen = match command {
            "enrich" => &self.config.enrich.stage.listen,
            "route" => &self.config.route.stage.listen,
            "alert" => &self.config.alert.stage.listen,
            "notify" => &self.config.notify.stage.listen,
            _ => &self.config.ingest.listen,
        };
        // The admin listener of processes with an admin API (the notify API, `/-/reload`).
        let admin_listen = match command {
            "all" => Some(&self.config.ingest.admin_listen),
            "alert" => Some(&self.config.alert.admin_listen),
            "notify" => Some(&self.config.notify.admin_listen),
            _ => None,
        };
        Hark {
            child: cmd.spawn().expect("starting hark"),
            url: format!("http://{listen}"),
            admin_url: admin_listen.map(|a| format!("http://{a}")),
            log,
        }
    }

    /// Starts one more instance of a stage: the same consumer group, an address of its own.
    pub async fn start_another(&self, command: &str) -> Hark {
        let listen = format!("127.0.0.1:{}", free_port());
        let var = format!("HARK__{}__LISTEN", command.to_ascii_uppercase());
        let mut hark = self.spawn(command, &[(&var, &listen)]);
        hark.url = format!("http://{listen}");
        hark.wait_ready().await;
        hark
    }
}

/// A running `hark` process; killed when dropped.
pub struct Hark {
    child: Child,
    /// The first stage's `listen`: ingest's API, probes and metrics.
    pub url: String,
    /// The admin listener, where the process has one.
    pub admin_url: Option<String>,
    pub log: PathBuf,
}

impl Hark {
    pub async fn wait_ready(&mut self) {
        let client = reqwest::Client::new();
        poll_until(Duration::from_secs(60), async || {
            self.assert_running();
            match client.get(format!("{}/readyz", self.url)).send().await {
                Ok(r) if r.status().is_success() => Ok(()),
                _ => Err(format!("hark not ready; log: {}", std::fs::read_to_string(&self.log).unwrap_or_default())),
            }
        })
        .await
    }

    /// SIGTERM, and waits for the process to finish its batch and leave its group.
    pub fn stop(&mut self) {
        let _ = Command::new("kill").args(["-TERM", &self.child.id().to_string()]).status();
        let _ = self.child.wait();
    }

    /// SIGKILL: no shutdown code runs.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// Panics with the log when the process has exited.
    pub fn assert_running(&mut self) {
        if let Ok(Some(status)) = self.child.try_wait() {
            panic!("hark exited with {status}; log: {}", std::fs::read_to_string(&self.log).unwrap_or_default());
        }
    }

    /// Waits for a process that is expected to stop on its own (a refused start): how it
    /// exited and its log, or `None` if it still runs after `timeout`.
    pub async fn exited(&mut self, timeout: Duration) -> Option<(std::process::ExitStatus, String)> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.child.try_wait().expect("waiting for hark") {
                return Some((status, std::fs::read_to_string(&self.log).unwrap_or_default()));
            }
            if Instant::now() > deadline {
                return None;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Sum of a metric's series whose labels include all of `labels`, scraped from `/metrics`.
    pub async fn metric(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        let text = reqwest::get(format!("{}/metrics", self.url)).await.unwrap().text().await.unwrap();
        metric_value(&text, name, labels)
    }

    /// The admin listener's base URL; panics for a process without one.
    pub fn admin(&self) -> &str {
        self.admin_url.as_deref().expect("this hark process has no admin listener")
    }
}

/// Sum of a metric's series in Prometheus text whose labels include all of `labels`.
pub fn metric_value(text: &str, name: &str, labels: &[(&str, &str)]) -> f64 {
    text.lines()
        .filter(|line| line.starts_with(&format!("{name}{{")) || line.starts_with(&format!("{name} ")))
        .filter(|line| labels.iter().all(|(k, v)| line.contains(&format!("{k}=\"{v}\""))))
        .filter_map(|line| line.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

impl Hark {
    pub async fn post(&self, content_type: &str, body: impl Into<reqwest::Body>) -> (u16, Value) {
        let response = reqwest::Client::new()
            .post(format!("{}/v1/mentions", self.url))
            .header("content-type", content_type)
            .body(body)
            .send()
            .await
            .expect("posting to ingest");
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }
}

impl Drop for Hark {
    fn drop(&mut self) {
        self.kill();
    }
}

/// One message as the independent reader saw it.
#[derive(Debug, Clone)]
pub struct Record {
    pub topic: String,
    pub partition: i64,
    pub offset: i64,
    pub key: Option<String>,
    pub headers: HashMap<String, String>,
    pub value: Value,
}

impl Record {
    pub fn mention_id(&self) -> &str {
        self.headers.get("hark-mention-id").map(String::as_str).unwrap_or("")
    }
}

/// Reads `topics` from the beginning with the independent client, until `expect` messages arrived,
/// `timeout` passed, or (with `idle`) no message came for that long.
pub fn read_topics(topics: &[&str], expect: usize, timeout: Duration, idle: Option<Duration>) -> Vec<Record> {
    read_topics_from(&brokers(), topics, expect, timeout, idle)
}

/// [`read_topics`] from the broker at `brokers` (a test's own [`BrokerServer`]).
pub fn read_topics_from(brokers: &str, topics: &[&str], expect: usize, timeout: Duration, idle: Option<Duration>) -> Vec<Record> {
    let mut cmd = Command::new(python());
    cmd.arg(repo().join("tests/tools/kafka_read.py")).args(["--brokers", brokers, "--topics", &topics.join(",")]).args([
        "--expect",
        &expect.to_string(),
        "--timeout",
        &timeout.as_secs().to_string(),
    ]);
    if let Some(idle) = idle {
        cmd.args(["--idle", &idle.as_secs().to_string()]);
    }
    let output = cmd.stderr(Stdio::inherit()).output().expect("running kafka_read.py");
    assert!(output.status.success(), "kafka_read.py failed");
    String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .map(|line| {
            let v: Value = serde_json::from_str(line).unwrap();
            Record {
                topic: v["topic"].as_str().unwrap().to_string(),
                partition: v["partition"].as_i64().unwrap(),
                offset: v["offset"].as_i64().unwrap(),
                key: v["key"].as_str().map(String::from),
                headers: v["headers"].as_object().unwrap().iter().map(|(k, v)| (k.clone(), v.as_str().unwrap_or("").to_string())).collect(),
                value: v["value"].clone(),
            }
        })
        .collect()
}

/// Writes each line as one message with the independent client (raw bytes, so poison can be sent).
pub fn write_topic(topic: &str, key: &str, lines: &[&[u8]]) {
    let mut child = Command::new(python())
        .arg(repo().join("tests/tools/kafka_write.py"))
        .args(["--brokers", &brokers(), "--topic", topic, "--key", key])
        .stdin(Stdio::piped())
        .spawn()
        .expect("running kafka_write.py");
    let mut stdin = child.stdin.take().unwrap();
    for line in lines {
        stdin.write_all(line).unwrap();
        stdin.write_all(b"\n").unwrap();
    }
    drop(stdin);
    assert!(child.wait().unwrap().success(), "kafka_write.py failed");
}

/// Checks values against a `proto/` schema with an independent validator; the errors, if any.
pub fn validate(schema: &str, values: &[&Value]) -> Result<(), String> {
    let mut child = Command::new(python())
        .arg(repo().join("tests/tools/validate_schema.py"))
        .arg(repo().join("proto").join(schema))
        .stdin(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("running validate_schema.py");
    let mut stdin = child.stdin.take().unwrap();
    for value in values {
        writeln!(stdin, "{value}").unwrap();
    }
    drop(stdin);
    let output = child.wait_with_output().unwrap();
    if output.status.success() {
        Ok(())
    } else {
        Err(String::from_utf8_lossy(&output.stderr).into_owned())
    }
}

/// `n` valid, distinct mentions as NDJSON lines (distinct ids, authors and texts).
pub fn synthetic_mentions(run: &str, n: usize) -> Vec<String> {
    let brands = ["SkyNordic", "Veloce Mobile", "Lumina Wear", "PastaPronto"];
    let texts = [
        "my flight was cancelled again, terrible",
        "great service, thank you",
        "where is my order?",
        "il volo è in ritardo di due ore",
        "świetna obsługa, polecam",
    ];
    (0..n)
        .map(|i| {
            serde_json::json!({"id": format!("{run}-{i}"), "platform": "twitter", "text": format!("{} #{i}", texts[i % texts.len()]),
                "created_at": "2026-11-20T10:00:00Z", "author": {"id": format!("a{i}"), "followers": i}, "brand": brands[i % 4]})
            .to_string()
        })
        .collect()
}
