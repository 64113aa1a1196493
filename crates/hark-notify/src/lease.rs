//! Which notify instance sends. Any number of notifiers may run on one `redis.key_prefix`: every
//! one reads `topics.alerts` into Redis and serves the API, but only the holder of a lease in
//! Redis dispatches and delivers. The others try for it every third of `notify.lease_secs`, so
//! when the holder dies (SIGKILL, a lost host) another takes over within the lease time, and
//! a holder that stops cleanly hands it over at once.
//!
//! Each time the lease is taken it comes with a new **fencing token** (a counter in Redis). Every
//! write to the outboxes and group state runs in a script that first checks the token is still
//! the newest, so a holder that was paused past its lease (a long GC-like stall, a frozen VM) and
//! wakes up cannot pop a delivery the new holder has not sent, nor queue a notification twice:
//! its writes are refused and it steps down. What it may still do is send the request it was in
//! the middle of: the new holder then sends the same delivery again, with the same notification
//! id and body, which is the at-least-once the receivers already dedupe.

use std::time::{Duration, Instant};

use crate::{NotifyError, Store};

/// Takes the lease when it is free (with a new fencing token), or renews it when this instance
/// holds it with the given token. KEYS: lease, token counter. ARGV: instance, lease ms, current
/// token. Returns the token held, or 0 when another instance holds the lease.
const TAKE_OR_RENEW: &str = r#"
local holder = redis.call('GET', KEYS[1])
if holder and holder == ARGV[1] .. ':' .. ARGV[3] then
    redis.call('PEXPIRE', KEYS[1], ARGV[2])
    return tonumber(ARGV[3])
end
if holder then
    return 0
end
local token = redis.call('INCR', KEYS[2])
redis.call('SET', KEYS[1], ARGV[1] .. ':' .. token, 'PX', ARGV[2])
return token
"#;

/// Gives the lease up if this instance holds it with the given token. KEYS: lease. ARGV: instance, token.
const RELEASE: &str = r#"
if redis.call('GET', KEYS[1]) == ARGV[1] .. ':' .. ARGV[2] then
    return redis.call('DEL', KEYS[1])
end
return 0
"#;

/// This instance's claim on the lease.
pub struct Lease {
    store: Store,
    /// Unique per process start, so a restarted instance is a new one.
    instance: String,
    ttl: Duration,
    /// When the lease was last taken or renewed; `None` while not held.
    renewed_at: Option<Instant>,
}

impl Lease {
    pub fn new(store: Store, ttl: Duration) -> Lease {
        let instance = format!("{}-{:08x}", std::process::id(), fastrand::u32(..));
        Lease { store, instance, ttl, renewed_at: None }
    }

    /// How often to try for the lease, or to renew it.
    pub fn interval(&self) -> Duration {
        self.ttl / 3
    }

    pub fn instance(&self) -> &str {
        &self.instance
    }

    /// Takes or renews the lease; true while this instance holds it. A Redis error keeps a held
    /// lease for as long as it would last in Redis, and no longer.
    pub async fn hold(&mut self) -> bool {
        let token = self.store.fencing_token();
        let result: Result<u64, NotifyError> = async {
            Ok(redis::Script::new(TAKE_OR_RENEW)
                .key(self.store.key("lease"))
                .key(self.store.key("lease-token"))
                .arg(&self.instance)
                .arg(self.ttl.as_millis() as u64)
                .arg(token)
                .invoke_async(&mut self.store.conn())
                .await?)
        }
        .await;
        match result {
            Ok(0) => {
                self.step_down();
                false
            }
            Ok(new) => {
                if new != token {
                    tracing::info!(instance = %self.instance, token = new, "this notifier took the lease: it dispatches and delivers");
                }
                self.store.set_fencing_token(new);
                self.renewed_at = Some(Instant::now());
                true
            }
            Err(e) => {
                tracing::warn!(instance = %self.instance, error = %e, "cannot reach Redis to renew the notify lease");
                if self.renewed_at.is_some_and(|at| at.elapsed() < self.ttl) {
                    return true;
                }
                self.step_down();
                false
            }
        }
    }

    fn step_down(&mut self) {
        if self.renewed_at.take().is_some() {
            tracing::warn!(instance = %self.instance, "this notifier lost the lease: another one sends now");
        }
        self.store.set_fencing_token(0);
    }

    /// Hands the lease over at once (a clean stop), so another instance need not wait for it to lapse.
    pub async fn release(&mut self) {
        let token = self.store.fencing_token();
        if token != 0 {
            let released: Result<u64, _> = redis::Script::new(RELEASE)
                .key(self.store.key("lease"))
                .arg(&self.instance)
                .arg(token)
                .invoke_async(&mut self.store.conn())
                .await;
            if let Err(e) = released {
                tracing::warn!(error = %e, "cannot release the notify lease; it lapses by itself");
            }
        }
        self.renewed_at = None;
        self.store.set_fencing_token(0);
    }
}
