//! Rules reload without a restart, and a bad rule never replaces good ones: at start the config
//! is refused with the reason; on reload (SIGHUP or `POST /-/reload`) the running rules stay.

mod common;

use std::{
    io::{Read, Write},
    path::PathBuf,
    sync::Arc,
    time::Duration,
};

use common::parse;
use hark_alert::AlertService;
use hark_telemetry::Metrics;
use tokio_util::sync::CancellationToken;

const RULE: &str = "[[alert.rules]]\nname = \"negative-spike\"\nkind = \"spike\"\nmetric = \"negative_share\"\n";
const SECOND: &str = "[[alert.rules]]\nname = \"crisis-words\"\nkind = \"keyword\"\nkeywords = [\"recall\", \"lawsuit\"]\n";
const BAD: &str = "[[alert.rules]]\nname = \"negative-spike\"\nkind = \"spike\"\nmetric = \"negative_share\"\nz = -2\n";

fn config_file(contents: &str) -> PathBuf {
    let path = std::env::temp_dir().join(format!("hark-alert-reload-{}-{:08x}.toml", std::process::id(), fastrand::u32(..)));
    std::fs::write(&path, contents).unwrap();
    path
}

/// A raw HTTP/1.1 POST, so the test needs no HTTP client of Hark's.
fn post(address: std::net::SocketAddr, path: &str) -> (u16, String) {
    let mut stream = std::net::TcpStream::connect(address).unwrap();
    write!(stream, "POST {path} HTTP/1.1\r\nhost: x\r\ncontent-length: 0\r\nconnection: close\r\n\r\n").unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let status = response.split(' ').nth(1).unwrap().parse().unwrap();
    (status, response.split("\r\n\r\n").nth(1).unwrap_or("").to_string())
}

#[test]
fn a_bad_rule_is_refused_at_start_with_the_reason() {
    let err = parse(BAD).unwrap_err();
    assert_eq!(err, "alert rule `negative-spike`: `z` must be a positive number, not -2");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reload_takes_good_rules_and_keeps_the_running_ones_on_a_bad_file() {
    let path = config_file(RULE);
    let config = parse(RULE).unwrap();
    // What the `hark` binary gives: the file read again.
    let file = path.clone();
    let load: hark_alert::service::LoadAlertConfig =
        Arc::new(move || parse(&std::fs::read_to_string(&file).map_err(|e| e.to_string())?).map(|c| c.section));
    let service = AlertService::new(&config.shared, &config.section, Some(load), Metrics::new()).unwrap();
    let reloader = service.reloader.clone();
    let names = || reloader.running().rules.iter().map(|r| r.name().to_string()).collect::<Vec<_>>();

    // HTTP.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let shutdown = CancellationToken::new();
    let app = reloader.router();
    let stop = shutdown.clone();
    let server = tokio::spawn(async move { axum::serve(listener, app).with_graceful_shutdown(stop.cancelled_owned()).await });

    std::fs::write(&path, format!("{RULE}{SECOND}")).unwrap();
    let (status, body) = tokio::task::spawn_blocking(move || post(address, "/-/reload")).await.unwrap();
    assert_eq!((status, body.as_str()), (200, r#"{"reloaded":true,"rules":2}"#));
    assert_eq!(names(), ["negative-spike", "crisis-words"]);

    std::fs::write(&path, BAD).unwrap();
    let (status, body) = tokio::task::spawn_blocking(move || post(address, "/-/reload")).await.unwrap();
    assert_eq!(status, 400);
    assert!(body.contains("alert rule `negative-spike`: `z` must be a positive number"), "{body}");
    assert_eq!(names(), ["negative-spike", "crisis-words"], "the running rules stay");

    std::fs::write(&path, format!("[alert]\nwindow_secs = 60\n{RULE}")).unwrap();
    let err = reloader.reload().unwrap_err().to_string();
    assert!(err.contains("alert.window_secs changed") && err.contains("restart"), "{err}");

    // SIGHUP.
    reloader.clone().reload_on_sighup(shutdown.clone());
    std::fs::write(&path, RULE).unwrap();
    let pid = std::process::id().to_string();
    assert!(std::process::Command::new("kill").args(["-HUP", &pid]).status().unwrap().success());
    hark_testkit::eventually(Duration::from_secs(10), "SIGHUP reloading the rules", || std::future::ready(names() == ["negative-spike"]))
        .await;
    shutdown.cancel();
    server.await.unwrap().unwrap();
    std::fs::remove_file(path).unwrap();
}
