//! The notify lease against the real Redis: one holder at a time, a new fencing token at each
//! takeover, and a former holder's outbox writes refused.

mod common;

use std::time::Duration;

use chrono::Utc;
use common::*;
use hark_notify::{Lease, NotifyError, Store};

#[tokio::test]
async fn a_former_holder_that_wakes_after_its_lease_lapsed_changes_no_outbox() {
    let prefix = prefix("lease");
    let config = config(&prefix, "");
    let (old_store, new_store) = (Store::connect(&config.redis).await.unwrap(), Store::connect(&config.redis).await.unwrap());
    let mut old = Lease::new(old_store.clone(), Duration::from_millis(900));
    let mut new = Lease::new(new_store.clone(), Duration::from_millis(900));
    assert!(old.hold().await);
    assert!(!new.hold().await, "one holder at a time");
    assert!(old.hold().await, "the holder renews");

    // The holder queues a notification, then stalls past its lease; the other takes over.
    let group = hark_notify::store::GroupState::default();
    let delivery = |id: &str| hark_notify::Delivery {
        id: id.into(),
        notification_id: id.into(),
        receiver: "ops".into(),
        status: hark_core::AlertState::Firing,
        body: "{}".into(),
        created_at: Utc::now(),
        first_fired_at: None,
        fingerprints: Vec::new(),
    };
    old_store.commit_flush("g", Some(&group), &[delivery("n-1")]).await.unwrap();
    tokio::time::sleep(Duration::from_millis(1200)).await;
    assert!(new.hold().await, "the lapsed lease is taken");

    // Back from its stall, the former holder tries to pop the head and to queue another: refused.
    assert!(matches!(old_store.outbox_done("ops", Utc::now()).await, Err(NotifyError::Fenced)));
    assert!(matches!(old_store.commit_flush("g", Some(&group), &[delivery("n-2")]).await, Err(NotifyError::Fenced)));
    let waiting: Vec<String> = new_store.outbox("ops").await.unwrap().into_iter().map(|d| d.id).collect();
    assert_eq!(waiting, ["n-1"], "the new holder finds the outbox as the old one left it before the takeover");
    assert!(!old.hold().await, "and the former holder knows it no longer holds the lease");
    new_store.outbox_done("ops", Utc::now()).await.unwrap();
    assert_eq!(new_store.outbox_len("ops").await.unwrap(), 0);

    // A clean stop hands the lease over at once.
    new.release().await;
    assert!(old.hold().await);
    old.release().await;
    new_store.delete_all().await.unwrap();
}
