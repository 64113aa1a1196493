//! Receivers at `https://` URLs, against a TLS peer that is not Hark's code: certificates made by
//! the `openssl` command at test time (`tests/tools/test_ca.sh`), served by Python's `ssl` and `http.server`
//! (`tests/tools/tls_receiver.py`), which checks the signature itself.

mod common;

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::Utc;
use common::*;
use hark_notify::Notifier;
use hark_telemetry::Metrics;
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};
use tokio_util::sync::CancellationToken;

const TIMING: &str = "tick_ms = 100\ngroup_wait_secs = 0\ngroup_interval_secs = 1\nrepeat_interval_secs = 3600\n";

/// A directory of this test's own, removed when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new(test: &str) -> TempDir {
        let dir = std::env::temp_dir().join(format!("hark-tls-{test}-{}-{:08x}", std::process::id(), fastrand::u32(..)));
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }

    fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Makes the CA `<ca>` in `dir` (once), and with `server` a certificate for 127.0.0.1 and
/// localhost signed by it, with the repository's `tests/tools/test_ca.sh` (Debian's openssl).
fn test_ca(dir: &Path, ca: &str, server: Option<&str>) {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/tools/test_ca.sh");
    let out = std::process::Command::new(script).arg(dir).arg(ca).args(server).output().expect("sh and openssl (deploy/local.sh install)");
    assert!(out.status.success(), "test_ca.sh {ca} {server:?}: {}", String::from_utf8_lossy(&out.stderr));
}

/// A CA of its own, as `<name>-ca.pem` and `<name>-ca.key`.
fn make_ca(dir: &Path, name: &str) -> PathBuf {
    test_ca(dir, name, None);
    dir.join(format!("{name}-ca.pem"))
}

/// A server certificate for 127.0.0.1 and localhost signed by the CA `ca`: (certificate, key).
fn make_server_cert(dir: &Path, ca: &str, name: &str) -> (PathBuf, PathBuf) {
    test_ca(dir, ca, Some(name));
    (dir.join(format!("{name}.pem")), dir.join(format!("{name}.key")))
}

/// The Python receiver, serving HTTPS on 127.0.0.1 with the given certificate.
struct TlsReceiver {
    port: u16,
    received: Arc<Mutex<Vec<Value>>>,
    _process: Child,
}

impl TlsReceiver {
    async fn start(cert: &Path, key: &Path) -> TlsReceiver {
        let python = std::env::var("HARK_PYTHON").unwrap_or_else(|_| "python3".into());
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/tools/tls_receiver.py");
        let mut process = Command::new(&python)
            .arg(script)
            .arg("--cert")
            .arg(cert)
            .arg("--key")
            .arg(key)
            .args(["--secret", SECRET])
            .stdout(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {python}: {e}"));
        let mut lines = BufReader::new(process.stdout.take().unwrap()).lines();
        let first = tokio::time::timeout(Duration::from_secs(10), lines.next_line()).await.expect("the receiver starts").unwrap();
        let port = first.as_deref().and_then(|l| l.strip_prefix("listening ")).and_then(|p| p.parse().ok()).expect("`listening <port>`");
        let received = Arc::new(Mutex::new(Vec::new()));
        let into = received.clone();
        tokio::spawn(async move {
            while let Ok(Some(line)) = lines.next_line().await {
                into.lock().unwrap().push(serde_json::from_str(&line).expect("one JSON record a line"));
            }
        });
        TlsReceiver { port, received, _process: process }
    }

    fn url(&self, host: &str, path: &str) -> String {
        format!("https://{host}:{}{path}", self.port)
    }

    fn received(&self) -> Vec<Value> {
        self.received.lock().unwrap().clone()
    }

    async fn wait_received(&self, n: usize, timeout: Duration) -> Vec<Value> {
        eventually(timeout, &format!("{n} requests at the HTTPS receiver"), || async { self.received().len() >= n }).await;
        self.received()
    }
}

async fn start(config: &Config) -> (CancellationToken, String, Notifier) {
    let notifier = notifier(config, Metrics::new()).await.expect("notifier starts");
    let api = serve(notifier.router()).await;
    (CancellationToken::new(), api, notifier)
}

fn route(receiver: &str) -> String {
    format!("[[notify.routes]]\nreceiver = \"{receiver}\"\ncontinue = true\n")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_receiver_behind_a_private_ca_gets_signed_firing_and_resolved_notifications_over_https() {
    let dir = TempDir::new("private-ca");
    let ca = make_ca(&dir.0, "private");
    let (cert, key) = make_server_cert(&dir.0, "private", "server");
    let receiver = TlsReceiver::start(&cert, &key).await;
    let extra = format!("ca_file = \"{}\"", ca.display());
    let toml = format!("{TIMING}{}{}", webhook("ops", "webhook", &receiver.url("localhost", "/hook"), &extra), route("ops"));
    let (stop, _api, notifier) = start(&config(&prefix("tls-private-ca"), &toml)).await;
    let (store, metrics) = (notifier.store().clone(), notifier.metrics().clone());
    let firing = alert("negative-spike", "SkyNordic", Utc::now());
    notifier.ingest(&firing).await.unwrap();
    tokio::spawn(notifier.run(false, stop.clone()));

    let got = receiver.wait_received(1, Duration::from_secs(15)).await;
    store.record_alert(&resolved(&firing), Utc::now()).await.unwrap();
    let got = receiver.wait_received(got.len() + 1, Duration::from_secs(15)).await;
    assert_eq!(got.len(), 2, "{got:#?}");
    for (request, status) in got.iter().zip(["firing", "resolved"]) {
        assert_eq!(request["path"], "/hook");
        assert_eq!(request["signature_ok"], true, "the receiver verified the signature: {request}");
        assert_eq!(request["body"]["status"], status);
        assert_eq!(request["body"]["alerts"][0]["fingerprint"], firing.fingerprint.as_str());
    }
    assert_ne!(got[0]["id"], got[1]["id"]);
    // The receiver reports a request before Hark has read the response, so the count may trail a moment.
    eventually(Duration::from_secs(5), "two deliveries counted", || async { metrics.requests("ops", "sent") == 2 }).await;
    assert_eq!(metrics.shared.counter_value("hark_errors_total", &[("stage", "notify"), ("error_type", "tls")]), 0);
    stop.cancel();
    store.delete_all().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_untrusted_certificate_is_retried_visibly_without_holding_up_other_receivers_and_heals_when_its_ca_file_is_fixed() {
    let dir = TempDir::new("untrusted");
    let trusted_ca = make_ca(&dir.0, "trusted");
    make_ca(&dir.0, "unknown");
    let (cert, key) = make_server_cert(&dir.0, "trusted", "trusted-server");
    let trusted = TlsReceiver::start(&cert, &key).await;
    let (cert, key) = make_server_cert(&dir.0, "unknown", "unknown-server");
    let untrusted = TlsReceiver::start(&cert, &key).await;
    let plain = Receiver::start().await;
    // The untrusted receiver's own ca_file first holds a CA that did not sign its certificate.
    let own_ca = dir.path("untrusted-receiver-ca.pem");
    std::fs::copy(&trusted_ca, &own_ca).unwrap();

    let toml = format!(
        "{TIMING}ca_file = \"{}\"\n{}{}{}{}{}{}",
        trusted_ca.display(),
        webhook("untrusted", "webhook", &untrusted.url("127.0.0.1", "/hook"), &format!("ca_file = \"{}\"", own_ca.display())),
        webhook("trusted", "webhook", &trusted.url("127.0.0.1", "/hook"), ""),
        webhook("plain", "webhook", &plain.url("/hook"), ""),
        route("untrusted"),
        route("trusted"),
        route("plain"),
    );
    let (stop, api, notifier) = start(&config(&prefix("tls-untrusted"), &toml)).await;
    let (store, metrics) = (notifier.store().clone(), notifier.metrics().clone());
    notifier.ingest(&alert("negative-spike", "SkyNordic", Utc::now())).await.unwrap();
    tokio::spawn(notifier.run(false, stop.clone()));

    // The others get theirs while the untrusted one fails, and go on getting new ones.
    plain.wait_accepted(1, Duration::from_secs(15)).await;
    trusted.wait_received(1, Duration::from_secs(15)).await;
    let outbox = || async { reqwest::get(format!("{api}/v1/outbox")).await.unwrap().json::<Value>().await.unwrap() };
    eventually(Duration::from_secs(10), "the untrusted receiver's last error", || async {
        !outbox().await["receivers"]["untrusted"]["last_error"].is_null()
    })
    .await;
    store.record_alert(&alert("negative-spike", "Nordlys", Utc::now()), Utc::now()).await.unwrap();
    plain.wait_accepted(2, Duration::from_secs(15)).await;
    trusted.wait_received(2, Duration::from_secs(15)).await;

    let view = outbox().await;
    let untrusted_view = &view["receivers"]["untrusted"];
    assert_eq!(view["waiting"]["untrusted"], 2, "{view}");
    assert_eq!(untrusted_view["waiting"], 2, "{view}");
    assert!(untrusted_view["last_delivered_at"].is_null(), "{view}");
    let reason = untrusted_view["last_error"]["reason"].as_str().unwrap();
    assert!(reason.contains("invalid peer certificate: UnknownIssuer") && reason.contains("ca_file"), "{reason}");
    let at: chrono::DateTime<Utc> = serde_json::from_value(untrusted_view["last_error"]["at"].clone()).unwrap();
    assert!((Utc::now() - at).num_seconds() < 10, "{at}");
    assert!(view["receivers"]["plain"]["last_error"].is_null() && !view["receivers"]["plain"]["last_delivered_at"].is_null(), "{view}");
    assert!(untrusted.received().is_empty(), "nothing reached the receiver Hark does not trust");
    let tls_errors = metrics.shared.counter_value("hark_errors_total", &[("stage", "notify"), ("error_type", "tls")]);
    assert!(tls_errors >= 1 && metrics.requests("untrusted", "retried") >= tls_errors, "{tls_errors}");
    assert_eq!(metrics.requests("untrusted", "sent"), 0);
    assert_eq!(metrics.requests("untrusted", "failed"), 0, "a certificate error is retried, not dead-lettered");
    eventually(Duration::from_secs(5), "two deliveries to plain counted", || async { metrics.requests("plain", "sent") == 2 }).await;

    // The operator puts the right CA in the receiver's ca_file; no restart.
    std::fs::copy(dir.path("unknown-ca.pem"), &own_ca).unwrap();
    let got = untrusted.wait_received(2, Duration::from_secs(15)).await;
    assert!(got.iter().all(|r| r["signature_ok"] == true), "{got:#?}");
    let brands: Vec<&str> = got.iter().map(|r| r["body"]["group_labels"]["brand"].as_str().unwrap()).collect();
    assert_eq!(brands, ["SkyNordic", "Nordlys"], "in order, once the certificate is trusted");
    eventually(Duration::from_secs(5), "the untrusted receiver's outbox drained", || async {
        outbox().await["receivers"]["untrusted"]["waiting"] == 0
    })
    .await;
    stop.cancel();
    store.delete_all().await.unwrap();
}
