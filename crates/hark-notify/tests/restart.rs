//! At least once across a crash: a notifier process is SIGKILLed while its receiver is down and
//! its outbox full, an alert arrives while no notifier runs, then the receiver comes back and a
//! new process starts. The receiver must get every notification, in order; one it gets twice
//! must carry the same id and body.
//!
//! The test binary is its own notifier process: started with `HARK_TEST_NOTIFIER_CONFIG` set, it
//! runs the notifier with that config until it is killed.

mod common;

use std::collections::BTreeMap;
use std::process::{Child, Command};
use std::time::Duration;

use chrono::Utc;
use common::*;
use hark_notify::Store;
use hark_telemetry::Metrics;
use tokio_util::sync::CancellationToken;

// Not `HARK_NOTIFY_*`: that would be read as a `[notify]` override.
const CHILD_ENV: &str = "HARK_TEST_NOTIFIER_CONFIG";

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    if let Ok(text) = std::env::var(CHILD_ENV) {
        let config = with_services(&text);
        let notifier = notifier(&config, Metrics::new()).await.expect("child notifier");
        notifier.run(false, CancellationToken::new()).await.expect("child notifier runs");
        return;
    }
    print!("test a_killed_notifier_loses_nothing_and_keeps_the_order ... ");
    a_killed_notifier_loses_nothing_and_keeps_the_order().await;
    println!("ok");
    print!("test two_notifiers_send_each_notification_once_and_the_second_takes_over_when_the_first_is_killed ... ");
    two_notifiers_send_each_notification_once_and_the_second_takes_over_when_the_first_is_killed().await;
    println!("ok");
}

fn spawn_notifier(config_text: &str) -> Child {
    Command::new(std::env::current_exe().unwrap()).env(CHILD_ENV, config_text).spawn().expect("starting the notifier process")
}

/// The config of a notifier process sending to a webhook at `addr` (as TOML), and its store.
async fn notifier_config(test: &str, addr: std::net::SocketAddr) -> (String, Store) {
    let prefix = prefix(test);
    let notify = format!(
        "tick_ms = 100\ngroup_wait_secs = 0\ngroup_interval_secs = 1\nrepeat_interval_secs = 3600\nlease_secs = 3\n{}[[notify.routes]]\nreceiver = \"ops\"\n",
        webhook("ops", "webhook", &format!("http://{addr}/hook"), "")
    );
    let store = Store::connect(&config(&prefix, &notify).redis).await.unwrap();
    (format!("[redis]\nkey_prefix = \"{prefix}\"\n[notify]\n{notify}"), store)
}

async fn wait_outbox(store: &Store, n: u64) {
    eventually(Duration::from_secs(15), "the outbox holding the notifications", || async { store.outbox_len("ops").await.unwrap() >= n })
        .await;
}

async fn a_killed_notifier_loses_nothing_and_keeps_the_order() {
    let addr: std::net::SocketAddr = ([127, 0, 0, 1], hark_testkit::free_port()).into();
    let (config_text, store) = notifier_config("restart", addr).await;

    let mut first = spawn_notifier(&config_text);
    let brands = ["A", "B", "C", "D", "E"];
    let alerts: Vec<_> = brands.iter().map(|b| alert("negative-spike", b, Utc::now())).collect();
    for a in &alerts {
        store.record_alert(a, Utc::now()).await.unwrap();
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    wait_outbox(&store, 5).await;
    for a in &alerts[..2] {
        store.record_alert(&resolved(a), Utc::now()).await.unwrap();
    }
    wait_outbox(&store, 7).await;
    first.kill().unwrap(); // SIGKILL
    first.wait().unwrap();
    let queued: Vec<String> = store.outbox("ops").await.unwrap().into_iter().map(|d| d.id).collect();
    assert_eq!(queued.len(), 7);

    // While no notifier runs, another alert arrives.
    store.record_alert(&alert("negative-spike", "F", Utc::now()), Utc::now()).await.unwrap();

    let receiver = Receiver::start_on(addr).await;
    let mut second = spawn_notifier(&config_text);
    receiver.wait_accepted(8, Duration::from_secs(20)).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    second.kill().unwrap();
    second.wait().unwrap();

    let got = receiver.accepted();
    // Once each, or twice with the same id and body.
    let mut bodies: BTreeMap<String, Vec<u8>> = BTreeMap::new();
    let mut order: Vec<String> = Vec::new();
    for r in &got {
        assert!(r.signature_ok, "every request is signed");
        match bodies.get(&r.id()) {
            Some(body) => assert_eq!(body, &r.body, "a redelivery is the same notification"),
            None => {
                bodies.insert(r.id(), r.body.clone());
                order.push(r.id());
            }
        }
    }
    assert_eq!(order.len(), 8, "seven queued before the kill and one after: {order:?}");
    assert_eq!(order[..7], queued[..], "the queued ones first, in order");
    let last = got.last().unwrap().json();
    assert_eq!((last["group_labels"]["brand"].as_str(), last["status"].as_str()), (Some("F"), Some("firing")));
    let statuses: Vec<(String, String)> = order
        .iter()
        .map(|id| {
            let body: serde_json::Value = serde_json::from_slice(&bodies[id]).unwrap();
            (body["group_labels"]["brand"].as_str().unwrap().to_string(), body["status"].as_str().unwrap().to_string())
        })
        .collect();
    let expected = [
        ("A", "firing"),
        ("B", "firing"),
        ("C", "firing"),
        ("D", "firing"),
        ("E", "firing"),
        ("A", "resolved"),
        ("B", "resolved"),
        ("F", "firing"),
    ];
    assert_eq!(statuses, expected.map(|(b, s)| (b.to_string(), s.to_string())));
    store.delete_all().await.unwrap();
}

/// The process id in the lease holder's name (`<pid>-<random>:<token>`).
async fn sender_pid(store: &Store) -> Option<u32> {
    store.lease_holder().await.unwrap()?.split('-').next()?.parse().ok()
}

/// Two notifier processes on one prefix, 30 incidents queued while the receiver is down, then a
/// receiver that answers in half a second, and the sending notifier SIGKILLed halfway. Every
/// incident reaches the receiver under one notification id, in the order queued; at most the
/// request in flight at the kill arrives twice, with the same id and body.
async fn two_notifiers_send_each_notification_once_and_the_second_takes_over_when_the_first_is_killed() {
    let addr: std::net::SocketAddr = ([127, 0, 0, 1], hark_testkit::free_port()).into();
    let (config_text, store) = notifier_config("two-notifiers", addr).await;
    let mut notifiers = [spawn_notifier(&config_text), spawn_notifier(&config_text)];

    let incidents = 30;
    for i in 0..incidents {
        store.record_alert(&alert("angry-influencer", &format!("brand-{i:02}"), Utc::now()), Utc::now()).await.unwrap();
    }
    wait_outbox(&store, incidents).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let queued: Vec<String> = store.outbox("ops").await.unwrap().into_iter().map(|d| d.id).collect();
    assert_eq!(queued.len(), incidents as usize, "one notification per incident, though two notifiers dispatch: {queued:?}");

    let receiver = Receiver::start_on(addr).await;
    receiver.script(std::iter::repeat_n(Behaviour::Hang(Duration::from_millis(500)), 2 * incidents as usize));
    eventually(Duration::from_secs(30), "a third of the notifications", || async { receiver.received().len() >= 10 }).await;
    let sender = sender_pid(&store).await.expect("one notifier holds the lease");
    let (killed, other) = if notifiers[0].id() == sender { (0, 1) } else { (1, 0) };
    assert_eq!(notifiers[killed].id(), sender, "the lease holder is one of the two");
    notifiers[killed].kill().unwrap(); // SIGKILL: the lease lapses instead of being handed over
    notifiers[killed].wait().unwrap();

    let distinct = || receiver.received().iter().map(|r| r.id()).collect::<std::collections::BTreeSet<_>>().len();
    eventually(Duration::from_secs(40), "every notification after the takeover", || async { distinct() >= incidents as usize }).await;
    assert_eq!(sender_pid(&store).await, Some(notifiers[other].id()), "the other notifier took over");
    tokio::time::sleep(Duration::from_secs(1)).await;
    for n in &mut notifiers {
        let _ = n.kill();
        let _ = n.wait();
    }

    let got = receiver.received();
    let mut first_seen: Vec<String> = Vec::new();
    let mut bodies: BTreeMap<String, Vec<u8>> = BTreeMap::new();
    for r in &got {
        assert!(r.signature_ok);
        match bodies.get(&r.id()) {
            Some(body) => assert_eq!(body, &r.body, "a redelivery is the same notification"),
            None => {
                bodies.insert(r.id(), r.body.clone());
                first_seen.push(r.id());
            }
        }
    }
    assert_eq!(first_seen, queued, "each incident once, in the order queued");
    assert!(got.len() <= incidents as usize + 1, "only the request in flight at the kill may come twice: {} requests", got.len());
    let brands: std::collections::BTreeSet<String> = bodies
        .values()
        .map(|b| serde_json::from_slice::<serde_json::Value>(b).unwrap()["group_labels"]["brand"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(brands.len(), incidents as usize, "no incident under two ids");
    store.delete_all().await.unwrap();
}
