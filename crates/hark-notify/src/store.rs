//! Everything the notifier must not forget across a restart, in Redis under
//! `<redis.key_prefix>notify:`:
//!
//! | key | type | holds |
//! |---|---|---|
//! | `alerts` | hash | fingerprint → the alert's latest state |
//! | `groups` | hash | group key → [`GroupState`] (the notification log: what was sent, when next) |
//! | `silences` | hash | id → [`Silence`] |
//! | `outbox:<receiver>` | list | [`Delivery`]s waiting, oldest first |
//! | `dead` | hash | delivery id → [`DeadLetter`] |
//! | `last-error` | hash | receiver → its latest failed attempt ([`LastError`]), kept after later successes |
//! | `last-delivered` | hash | receiver → when it last acknowledged a delivery |
//! | `seq` | string | the counter notification ids are numbered from |
//!
//! A group's flush writes its outbox entries and its new state in one `MULTI`, so a crash leaves
//! either both or neither: no notification is lost, and none is queued twice.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use hark_core::config::RedisConfig;
use hark_core::{Alert, AlertState};
use redis::aio::ConnectionManager;
use serde::{Deserialize, Serialize};

use crate::matcher::Matcher;
use crate::payload::Delivery;
use crate::NotifyError;

/// An alert as the notifier keeps it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredAlert {
    pub alert: Alert,
    /// When the notifier read this state from the topic.
    pub received_at: DateTime<Utc>,
}

/// A group's notification log and timer.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct GroupState {
    pub receiver: String,
    pub next_flush_at: Option<DateTime<Utc>>,
    pub last_sent_at: Option<DateTime<Utc>>,
    /// Fingerprints the receiver was told are firing and not yet told are resolved.
    pub notified: BTreeSet<String>,
}

/// Mutes the alerts all its matchers match, from `starts_at` to `ends_at`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Silence {
    pub id: String,
    pub matchers: Vec<Matcher>,
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
    #[serde(default)]
    pub created_by: String,
    #[serde(default)]
    pub comment: String,
    pub created_at: DateTime<Utc>,
}

impl Silence {
    pub fn is_active(&self, now: DateTime<Utc>) -> bool {
        self.starts_at <= now && now < self.ends_at
    }
}

/// A delivery the receiver refused for good (a 4xx other than 429, a redirect, too many attempts).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeadLetter {
    pub delivery: Delivery,
    pub reason: String,
    /// The receiver's answer, when there was one.
    pub status: Option<u16>,
    pub response_body: Option<String>,
    pub attempts: u32,
    pub failed_at: DateTime<Utc>,
}

/// A receiver's latest failed attempt, for `GET /v1/outbox`: what an operator looks at first when
/// a receiver's outbox does not drain (a certificate not trusted, a receiver down).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LastError {
    pub reason: String,
    pub at: DateTime<Utc>,
    /// The notification it was trying to deliver, and how many attempts it had had.
    pub notification_id: String,
    pub attempts: u32,
}

#[derive(Clone)]
pub struct Store {
    conn: ConnectionManager,
    prefix: String,
    /// This instance's fencing token while it holds the notify lease, else 0 (see [`crate::lease`]).
    fencing_token: Arc<AtomicU64>,
}

/// Runs the commands after ARGV[1] (each as its argument count, then the arguments) only while
/// the fencing token in KEYS[1] is ARGV[1]: all of them, or none.
const FENCED: &str = r#"
if redis.call('GET', KEYS[1]) ~= ARGV[1] then
    return redis.error_reply('FENCED a newer notifier holds the lease')
end
local i = 2
while i <= #ARGV do
    local n = tonumber(ARGV[i])
    redis.call(unpack(ARGV, i + 1, i + n))
    i = i + n + 1
end
return 1
"#;

/// Writes to the outboxes and group state, made only by the lease holder.
#[derive(Default)]
struct Fenced {
    commands: Vec<Vec<String>>,
}

impl Fenced {
    fn cmd(mut self, args: &[&str]) -> Fenced {
        self.commands.push(args.iter().map(|a| a.to_string()).collect());
        self
    }
}

impl Store {
    /// The notifier's keys go under `<redis.key_prefix>notify:`.
    pub async fn connect(redis: &RedisConfig) -> Result<Store, NotifyError> {
        let limits = hark_redis::Limits { connect: Duration::from_secs(2), response: Duration::from_secs(5), retries: 2 };
        let conn = hark_redis::connect(redis, limits).await?;
        Ok(Store { conn, prefix: format!("{}notify:", redis.key_prefix), fencing_token: Arc::new(AtomicU64::new(0)) })
    }

    pub(crate) fn key(&self, name: &str) -> String {
        format!("{}{name}", self.prefix)
    }

    pub(crate) fn fencing_token(&self) -> u64 {
        self.fencing_token.load(Ordering::SeqCst)
    }

    pub(crate) fn set_fencing_token(&self, token: u64) {
        self.fencing_token.store(token, Ordering::SeqCst);
    }

    /// The notifier instance that holds the lease (`<pid>-<random>:<fencing token>`), if any.
    pub async fn lease_holder(&self) -> Result<Option<String>, NotifyError> {
        Ok(redis::cmd("GET").arg(self.key("lease")).query_async(&mut self.conn()).await?)
    }

    /// Runs the writes if this instance still holds the newest fencing token; else nothing is
    /// written and the answer is [`NotifyError::Fenced`].
    async fn write_fenced(&self, writes: Fenced) -> Result<(), NotifyError> {
        let token = self.fencing_token();
        if token == 0 {
            return Err(NotifyError::Fenced);
        }
        // Hashed once: every outbox write runs it.
        static SCRIPT: std::sync::LazyLock<redis::Script> = std::sync::LazyLock::new(|| redis::Script::new(FENCED));
        let mut invocation = SCRIPT.key(self.key("lease-token"));
        invocation.arg(token);
        for command in &writes.commands {
            invocation.arg(command.len()).arg(command);
        }
        match invocation.invoke_async::<()>(&mut self.conn()).await {
            // The error reply is the script's own word; redis-rs does not know it as a code.
            Err(e) if e.to_string().contains("FENCED") => {
                self.set_fencing_token(0);
                Err(NotifyError::Fenced)
            }
            other => Ok(other?),
        }
    }

    fn outbox_key(&self, receiver: &str) -> String {
        self.key(&format!("outbox:{receiver}"))
    }

    pub(crate) fn conn(&self) -> ConnectionManager {
        self.conn.clone()
    }

    pub async fn ping(&self) -> Result<(), String> {
        redis::cmd("PING").query_async::<String>(&mut self.conn()).await.map(|_| ()).map_err(|e| format!("redis: {e}"))
    }

    /// Keeps the alert's state unless a newer one (by `generated_at`) is already stored, so a
    /// redelivered old message cannot undo a resolution. True when it was stored.
    pub async fn record_alert(&self, alert: &Alert, now: DateTime<Utc>) -> Result<bool, NotifyError> {
        let key = self.key("alerts");
        let old: Option<String> = redis::cmd("HGET").arg(&key).arg(&alert.fingerprint).query_async(&mut self.conn()).await?;
        if let Some(old) = old.and_then(|o| serde_json::from_str::<StoredAlert>(&o).ok()) {
            if old.alert.generated_at > alert.generated_at {
                return Ok(false);
            }
            if old.alert == *alert {
                return Ok(true);
            }
        }
        let stored = serde_json::to_string(&StoredAlert { alert: alert.clone(), received_at: now })?;
        redis::cmd("HSET").arg(&key).arg(&alert.fingerprint).arg(stored).query_async::<()>(&mut self.conn()).await?;
        Ok(true)
    }

    pub async fn alerts(&self) -> Result<Vec<StoredAlert>, NotifyError> {
        let all: HashMap<String, String> = redis::cmd("HGETALL").arg(self.key("alerts")).query_async(&mut self.conn()).await?;
        let mut alerts: Vec<StoredAlert> = all
            .values()
            .filter_map(|v| match serde_json::from_str(v) {
                Ok(a) => Some(a),
                Err(e) => {
                    tracing::warn!(error = %e, "unreadable alert in Redis, skipped");
                    None
                }
            })
            .collect();
        alerts.sort_by(|a, b| (a.alert.starts_at, &a.alert.fingerprint).cmp(&(b.alert.starts_at, &b.alert.fingerprint)));
        Ok(alerts)
    }

    /// Forgets resolved alerts older than the retention.
    pub async fn forget_alerts(&self, fingerprints: &[String]) -> Result<(), NotifyError> {
        if fingerprints.is_empty() {
            return Ok(());
        }
        redis::cmd("HDEL").arg(self.key("alerts")).arg(fingerprints).query_async::<()>(&mut self.conn()).await?;
        Ok(())
    }

    pub async fn groups(&self) -> Result<BTreeMap<String, GroupState>, NotifyError> {
        let all: HashMap<String, String> = redis::cmd("HGETALL").arg(self.key("groups")).query_async(&mut self.conn()).await?;
        Ok(all.into_iter().filter_map(|(k, v)| serde_json::from_str(&v).ok().map(|s| (k, s))).collect())
    }

    /// Writes a group's new state (or removes it) together with the deliveries of its notification.
    pub async fn commit_flush(&self, group_key: &str, state: Option<&GroupState>, deliveries: &[Delivery]) -> Result<(), NotifyError> {
        let mut writes = Fenced::default();
        for d in deliveries {
            writes = writes.cmd(&["RPUSH", &self.outbox_key(&d.receiver), &serde_json::to_string(d)?]);
        }
        writes = match state {
            Some(s) => writes.cmd(&["HSET", &self.key("groups"), group_key, &serde_json::to_string(s)?]),
            None => writes.cmd(&["HDEL", &self.key("groups"), group_key]),
        };
        self.write_fenced(writes).await
    }

    /// A fresh notification number.
    pub async fn next_seq(&self) -> Result<u64, NotifyError> {
        Ok(redis::cmd("INCR").arg(self.key("seq")).query_async(&mut self.conn()).await?)
    }

    /// The oldest waiting delivery of a receiver, left in place until [`Store::outbox_done`].
    pub async fn outbox_head(&self, receiver: &str) -> Result<Option<Delivery>, NotifyError> {
        let head: Option<String> = redis::cmd("LINDEX").arg(self.outbox_key(receiver)).arg(0).query_async(&mut self.conn()).await?;
        match head {
            None => Ok(None),
            Some(text) => match serde_json::from_str(&text) {
                Ok(d) => Ok(Some(d)),
                Err(e) => {
                    // Not ours to guess at: move it aside so the outbox keeps flowing.
                    tracing::error!(receiver, error = %e, "unreadable outbox entry moved to the dead letters");
                    let at = format!("{receiver}:{}", Utc::now().timestamp_millis());
                    let writes =
                        Fenced::default().cmd(&["HSET", &self.key("dead-raw"), &at, &text]).cmd(&["LPOP", &self.outbox_key(receiver)]);
                    self.write_fenced(writes).await?;
                    Ok(None)
                }
            },
        }
    }

    /// Removes the head of the outbox once it was delivered (at `at`).
    pub async fn outbox_done(&self, receiver: &str, at: DateTime<Utc>) -> Result<(), NotifyError> {
        let writes = Fenced::default().cmd(&["LPOP", &self.outbox_key(receiver)]).cmd(&[
            "HSET",
            &self.key("last-delivered"),
            receiver,
            &at.to_rfc3339(),
        ]);
        self.write_fenced(writes).await
    }

    /// Remembers a receiver's latest failed attempt.
    pub async fn record_error(&self, receiver: &str, error: &LastError) -> Result<(), NotifyError> {
        redis::cmd("HSET")
            .arg(self.key("last-error"))
            .arg(receiver)
            .arg(serde_json::to_string(error)?)
            .query_async::<()>(&mut self.conn())
            .await?;
        Ok(())
    }

    /// A receiver's latest failed attempt and latest delivery, when it had any.
    pub async fn receiver_status(&self, receiver: &str) -> Result<(Option<LastError>, Option<DateTime<Utc>>), NotifyError> {
        let error: Option<String> = redis::cmd("HGET").arg(self.key("last-error")).arg(receiver).query_async(&mut self.conn()).await?;
        let delivered: Option<String> =
            redis::cmd("HGET").arg(self.key("last-delivered")).arg(receiver).query_async(&mut self.conn()).await?;
        let error = error.and_then(|e| serde_json::from_str(&e).ok());
        let delivered = delivered.and_then(|t| DateTime::parse_from_rfc3339(&t).ok()).map(|t| t.with_timezone(&Utc));
        Ok((error, delivered))
    }

    pub async fn outbox_len(&self, receiver: &str) -> Result<u64, NotifyError> {
        Ok(redis::cmd("LLEN").arg(self.outbox_key(receiver)).query_async(&mut self.conn()).await?)
    }

    /// Every waiting delivery of a receiver, oldest first.
    pub async fn outbox(&self, receiver: &str) -> Result<Vec<Delivery>, NotifyError> {
        let all: Vec<String> = redis::cmd("LRANGE").arg(self.outbox_key(receiver)).arg(0).arg(-1).query_async(&mut self.conn()).await?;
        Ok(all.iter().filter_map(|t| serde_json::from_str(t).ok()).collect())
    }

    /// Moves the head of the outbox to the dead letters, in one step.
    pub async fn dead_letter_head(&self, letter: &DeadLetter) -> Result<(), NotifyError> {
        let writes = Fenced::default()
            .cmd(&["HSET", &self.key("dead"), &letter.delivery.id, &serde_json::to_string(letter)?])
            .cmd(&["LPOP", &self.outbox_key(&letter.delivery.receiver)]);
        self.write_fenced(writes).await
    }

    /// Dead letters, oldest first.
    pub async fn dead_letters(&self) -> Result<Vec<DeadLetter>, NotifyError> {
        let all: HashMap<String, String> = redis::cmd("HGETALL").arg(self.key("dead")).query_async(&mut self.conn()).await?;
        let mut letters: Vec<DeadLetter> = all.values().filter_map(|v| serde_json::from_str(v).ok()).collect();
        letters.sort_by(|a, b| (a.failed_at, &a.delivery.id).cmp(&(b.failed_at, &b.delivery.id)));
        Ok(letters)
    }

    /// Puts a dead letter back at the end of its receiver's outbox. `None` when there is no such letter.
    pub async fn replay_dead_letter(&self, id: &str) -> Result<Option<Delivery>, NotifyError> {
        let text: Option<String> = redis::cmd("HGET").arg(self.key("dead")).arg(id).query_async(&mut self.conn()).await?;
        let Some(letter) = text.and_then(|t| serde_json::from_str::<DeadLetter>(&t).ok()) else { return Ok(None) };
        let mut pipe = redis::pipe();
        pipe.atomic()
            .cmd("RPUSH")
            .arg(self.outbox_key(&letter.delivery.receiver))
            .arg(serde_json::to_string(&letter.delivery)?)
            .ignore()
            .cmd("HDEL")
            .arg(self.key("dead"))
            .arg(id)
            .ignore();
        pipe.query_async::<()>(&mut self.conn()).await?;
        Ok(Some(letter.delivery))
    }

    pub async fn save_silence(&self, silence: &Silence) -> Result<(), NotifyError> {
        redis::cmd("HSET")
            .arg(self.key("silences"))
            .arg(&silence.id)
            .arg(serde_json::to_string(silence)?)
            .query_async::<()>(&mut self.conn())
            .await?;
        Ok(())
    }

    pub async fn silences(&self) -> Result<Vec<Silence>, NotifyError> {
        let all: HashMap<String, String> = redis::cmd("HGETALL").arg(self.key("silences")).query_async(&mut self.conn()).await?;
        let mut silences: Vec<Silence> = all.values().filter_map(|v| serde_json::from_str(v).ok()).collect();
        silences.sort_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
        Ok(silences)
    }

    pub async fn silence(&self, id: &str) -> Result<Option<Silence>, NotifyError> {
        let text: Option<String> = redis::cmd("HGET").arg(self.key("silences")).arg(id).query_async(&mut self.conn()).await?;
        Ok(text.and_then(|t| serde_json::from_str(&t).ok()))
    }

    /// Deletes every key of this notifier (tests and benchmarks clean up with it).
    pub async fn delete_all(&self) -> Result<u64, NotifyError> {
        let pattern = format!("{}*", self.prefix);
        let mut cursor: u64 = 0;
        let mut deleted = 0;
        loop {
            let (next, keys): (u64, Vec<String>) =
                redis::cmd("SCAN").arg(cursor).arg("MATCH").arg(&pattern).arg("COUNT").arg(500).query_async(&mut self.conn()).await?;
            if !keys.is_empty() {
                deleted += redis::cmd("DEL").arg(&keys).query_async::<u64>(&mut self.conn()).await?;
            }
            if next == 0 {
                return Ok(deleted);
            }
            cursor = next;
        }
    }

    /// Removes the given silences.
    pub async fn forget_silences(&self, ids: &[String]) -> Result<(), NotifyError> {
        if ids.is_empty() {
            return Ok(());
        }
        redis::cmd("HDEL").arg(self.key("silences")).arg(ids).query_async::<()>(&mut self.conn()).await?;
        Ok(())
    }
}

/// Whether an alert fires and no active silence mutes it.
pub fn silenced_by<'a>(labels: &BTreeMap<String, String>, silences: &'a [Silence], now: DateTime<Utc>) -> Vec<&'a str> {
    silences.iter().filter(|s| s.is_active(now) && crate::matcher::matches_all(&s.matchers, labels)).map(|s| s.id.as_str()).collect()
}

/// Whether a stored alert is firing.
pub fn is_firing(a: &StoredAlert) -> bool {
    a.alert.state == AlertState::Firing
}
