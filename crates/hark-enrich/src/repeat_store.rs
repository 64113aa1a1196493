//! The spam scorer's "same text from N authors" count, shared by every enrich instance through
//! Redis, so the answer does not depend on which instance enriches a mention or how many run.
//!
//! Per text fingerprint, a sorted set of its authors scored by their newest post's `created_at`
//! (trimmed to the window, expiring after two windows without a post). A mention's count is the
//! number of authors in the window that ends at its own `created_at`, this one included, as
//! [`crate::spam::RepeatTracker`] counts within one process. The first count of a mention is then
//! pinned under its id for [`RepeatStore::pin_secs`], so a redelivery (after a crash or a
//! rebalance, to this instance or another) gets the same count and so the same spam verdict and
//! routes, even when more copies arrived meanwhile. One Lua script per batch: one round trip.
//!
//! Needs Redis 6.2 or later (`ZADD GT`).

use std::sync::Mutex;
use std::time::Duration;

use hark_core::{config::RedisConfig, Mention};
use hark_redis::BlockingConnection;
use redis::RedisResult;

/// KEYS: per mention, its text's sorted set and its pinned count. ARGV: the window, the pin's
/// lifetime, then per mention its author and `created_at` (seconds). Returns the counts in order.
const COUNT_AUTHORS: &str = r#"
local window, pin = tonumber(ARGV[1]), tonumber(ARGV[2])
local counts = {}
for i = 1, #KEYS / 2 do
    local texts, pinned = KEYS[2 * i - 1], KEYS[2 * i]
    local author, t = ARGV[2 * i + 1], tonumber(ARGV[2 * i + 2])
    local n = redis.call('GET', pinned)
    if not n then
        redis.call('ZADD', texts, 'GT', t, author)
        redis.call('ZREMRANGEBYSCORE', texts, '-inf', '(' .. (t - window))
        n = redis.call('ZCOUNT', texts, t - window, '+inf')
        redis.call('EXPIRE', texts, 2 * window)
        redis.call('SET', pinned, n, 'EX', pin)
    end
    counts[i] = tonumber(n)
end
return counts
"#;

pub struct RepeatStore {
    /// Taken by the batch being enriched.
    redis: Mutex<BlockingConnection>,
    prefix: String,
    window_secs: u64,
}

impl RepeatStore {
    /// Counts authors within `window_secs` (`enrich.spam_repeat_window_secs`).
    pub fn new(redis: &RedisConfig, window_secs: u64) -> RedisResult<RepeatStore> {
        Ok(RepeatStore {
            redis: Mutex::new(BlockingConnection::new(redis, Duration::from_secs(5))?),
            prefix: format!("{}enrich:", redis.key_prefix),
            window_secs: window_secs.max(1),
        })
    }

    /// How long a mention's first count is kept for its redeliveries: two windows, at least an hour.
    pub fn pin_secs(&self) -> u64 {
        (2 * self.window_secs).max(3600)
    }

    /// The distinct authors of each mention's text within the window ending at its `created_at`.
    pub fn count(&self, mentions: &[&Mention]) -> RedisResult<Vec<usize>> {
        if mentions.is_empty() {
            return Ok(Vec::new());
        }
        static SCRIPT: std::sync::LazyLock<redis::Script> = std::sync::LazyLock::new(|| redis::Script::new(COUNT_AUTHORS));
        let mut invocation = SCRIPT.prepare_invoke();
        invocation.arg(self.window_secs).arg(self.pin_secs());
        for m in mentions {
            invocation.key(format!("{}repeat:{}", self.prefix, m.text_fingerprint()));
            invocation.key(format!("{}repeat-count:{}", self.prefix, m.stable_id()));
            invocation.arg(&m.author.id).arg(m.created_at.timestamp());
        }
        let mut redis = self.redis.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        redis.run(|c| invocation.invoke::<Vec<usize>>(c))
    }
}
