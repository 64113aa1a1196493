//! Duplicate detection in Redis: the same `platform`+`id`, or the same normalised text from the
//! same author, within the dedupe window.
//!
//! The seam between "seen" and "sent" is where mentions get lost or doubled, so a mention is
//! marked in three steps, each one Redis round trip per batch:
//! 1. [`Deduper::claim`]: `pending` markers with a short TTL, atomically for both keys (a Lua script);
//! 2. the caller produces the claimed mentions and waits for the broker's acknowledgement;
//! 3. [`Deduper::commit`] turns acknowledged claims into `done` markers for the whole window;
//!    [`Deduper::release`] deletes the claims of mentions the broker did not take.
//!
//! A crash between 1 and 3 leaves only a short-lived claim: the client's retry gets through once
//! it expires, so nothing is lost, and a copy arriving meanwhile is told to retry, not accepted twice.

use std::time::Duration;

use hark_core::{config::RedisConfig, Mention};
use redis::{aio::ConnectionManager, RedisError};

/// Claims both keys unless either is taken. Returns [0, ""] when claimed, else [which key (1 or 2),
/// the value found there].
const CLAIM: &str = r#"
local found = redis.call('GET', KEYS[1])
if found then return {1, found} end
found = redis.call('GET', KEYS[2])
if found then return {2, found} end
redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[1])
redis.call('SET', KEYS[2], ARGV[2], 'PX', ARGV[1])
return {0, ''}
"#;

/// Deletes both keys if they still hold this claim's token.
const RELEASE: &str = r#"
for _, key in ipairs(KEYS) do
  if redis.call('GET', key) == ARGV[1] then redis.call('DEL', key) end
end
return 0
"#;

const DONE: &str = "done";

/// What Redis says about one mention.
#[derive(Debug, Clone, PartialEq)]
pub enum Claim {
    /// This request now holds the mention; produce it, then commit or release.
    Claimed(Keys),
    /// Seen before within the window.
    Duplicate { by: DuplicateBy, of_index: Option<usize> },
    /// Another request is sending a copy right now; retry later.
    InFlight,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum DuplicateBy {
    Id,
    Text,
}

/// The two Redis keys of a mention and the token of this request's claim on them.
#[derive(Debug, Clone, PartialEq)]
pub struct Keys {
    id: String,
    text: String,
    token: String,
}

#[derive(Clone)]
pub struct Deduper {
    conn: ConnectionManager,
    prefix: String,
    window: Duration,
    claim_ttl: Duration,
    claim_sha: String,
    release_sha: String,
}

impl Deduper {
    pub async fn connect(redis: &RedisConfig, window: Duration, claim_ttl: Duration) -> Result<Self, RedisError> {
        // Short limits: while Redis is down or frozen a request is answered 503 within about a
        // second (the client resends it) instead of hanging; a healthy claim of a 1,000-record
        // batch takes a few milliseconds.
        let limits = hark_redis::Limits { connect: Duration::from_millis(500), response: Duration::from_secs(1), retries: 1 };
        let conn = hark_redis::connect(redis, limits).await?;
        Ok(Deduper {
            conn,
            prefix: redis.key_prefix.clone(),
            window,
            claim_ttl,
            claim_sha: redis::Script::new(CLAIM).get_hash().to_string(),
            release_sha: redis::Script::new(RELEASE).get_hash().to_string(),
        })
    }

    /// Both keys share a hash tag (platform and author), so the script also runs on Redis Cluster.
    fn keys(&self, mention: &Mention, token: &str) -> Keys {
        let tag = format!("{}:{}", mention.platform, mention.author.id);
        Keys {
            id: format!("{}dedupe:{{{tag}}}:id:{}", self.prefix, mention.id),
            text: format!("{}dedupe:{{{tag}}}:text:{}", self.prefix, mention.text_fingerprint()),
            token: token.to_string(),
        }
    }

    /// Claims every mention in one round trip. `request` names this request: claims are
    /// `p:<request>:<index>`, so a copy later in the same batch is reported as a duplicate of
    /// the earlier record.
    pub async fn claim(&self, mentions: &[(usize, &Mention)], request: &str) -> Result<Vec<Claim>, RedisError> {
        if mentions.is_empty() {
            return Ok(Vec::new());
        }
        let keys: Vec<Keys> = mentions.iter().map(|(index, m)| self.keys(m, &format!("p:{request}:{index}"))).collect();
        let answers: Vec<(i64, String)> = self
            .run_script(&self.claim_sha, CLAIM, |pipe, sha| {
                for k in &keys {
                    pipe.cmd("EVALSHA").arg(sha).arg(2).arg(&k.id).arg(&k.text).arg(self.claim_ttl.as_millis() as u64).arg(&k.token);
                }
            })
            .await?;
        let own = format!("p:{request}:");
        Ok(keys
            .into_iter()
            .zip(answers)
            .map(|(keys, (which, found))| {
                let by = if which == 1 { DuplicateBy::Id } else { DuplicateBy::Text };
                match which {
                    0 => Claim::Claimed(keys),
                    _ if found == DONE => Claim::Duplicate { by, of_index: None },
                    _ => match found.strip_prefix(&own) {
                        Some(index) => Claim::Duplicate { by, of_index: index.parse().ok() },
                        None => Claim::InFlight,
                    },
                }
            })
            .collect())
    }

    /// Marks acknowledged mentions as seen for the whole window.
    pub async fn commit(&self, claims: &[&Keys]) -> Result<(), RedisError> {
        if claims.is_empty() {
            return Ok(());
        }
        let mut pipe = redis::pipe();
        let window = self.window.as_millis() as u64;
        for k in claims {
            pipe.cmd("SET").arg(&k.id).arg(DONE).arg("PX").arg(window).ignore();
            pipe.cmd("SET").arg(&k.text).arg(DONE).arg("PX").arg(window).ignore();
        }
        pipe.query_async::<()>(&mut self.conn.clone()).await
    }

    /// Frees the claims of mentions that were not produced, so a retry is not taken for a duplicate.
    pub async fn release(&self, claims: &[&Keys]) -> Result<(), RedisError> {
        if claims.is_empty() {
            return Ok(());
        }
        let _: Vec<i64> = self
            .run_script(&self.release_sha, RELEASE, |pipe, sha| {
                for k in claims {
                    pipe.cmd("EVALSHA").arg(sha).arg(2).arg(&k.id).arg(&k.text).arg(&k.token);
                }
            })
            .await?;
        Ok(())
    }

    /// Readiness: Redis answers PING.
    pub async fn ping(&self) -> Result<(), String> {
        redis::cmd("PING").query_async::<String>(&mut self.conn.clone()).await.map(|_| ()).map_err(|e| format!("redis: {e}"))
    }

    /// Runs a pipeline of EVALSHA calls, loading the script first if Redis does not know it
    /// (a fresh or restarted server).
    async fn run_script<T: redis::FromRedisValue>(
        &self,
        sha: &str,
        source: &str,
        fill: impl Fn(&mut redis::Pipeline, &str),
    ) -> Result<T, RedisError> {
        let mut pipe = redis::pipe();
        fill(&mut pipe, sha);
        match pipe.query_async(&mut self.conn.clone()).await {
            Err(e) if e.kind() == redis::ErrorKind::Server(redis::ServerErrorKind::NoScript) => {
                redis::cmd("SCRIPT").arg("LOAD").arg(source).query_async::<String>(&mut self.conn.clone()).await?;
                pipe.query_async(&mut self.conn.clone()).await
            }
            other => other,
        }
    }
}

/// These tests talk to the real Redis that `deploy/local.sh start` runs (`HARK__REDIS__URL`).
#[cfg(test)]
mod tests {
    use super::*;
    use hark_core::fixtures;

    fn mention(id: &str, author: &str, text: &str) -> Mention {
        fixtures::mention(text).id(id).author(author, 0).build()
    }

    async fn deduper() -> Deduper {
        let url = std::env::var("HARK__REDIS__URL").unwrap_or_else(|_| "redis://127.0.0.1:6379/".into());
        let redis = RedisConfig { url, key_prefix: format!("hark-test-{:016x}:", fastrand::u64(..)), ..RedisConfig::default() };
        Deduper::connect(&redis, Duration::from_secs(60), Duration::from_millis(300))
            .await
            .expect("a Redis server at HARK__REDIS__URL (start one with deploy/local.sh start)")
    }

    fn claimed(claim: &Claim) -> &Keys {
        match claim {
            Claim::Claimed(keys) => keys,
            other => panic!("expected a claim, got {other:?}"),
        }
    }

    #[tokio::test]
    async fn copies_in_one_batch_point_at_the_first() {
        let d = deduper().await;
        let (a, same_id, repost, other) = (
            mention("1", "u1", "Late again"),
            mention("1", "u1", "Late again"),
            mention("2", "u1", " late AGAIN "),
            mention("3", "u2", "Late again"),
        );
        let claims = d.claim(&[(0, &a), (1, &same_id), (2, &repost), (3, &other)], "r1").await.unwrap();
        claimed(&claims[0]);
        assert_eq!(claims[1], Claim::Duplicate { by: DuplicateBy::Id, of_index: Some(0) });
        assert_eq!(claims[2], Claim::Duplicate { by: DuplicateBy::Text, of_index: Some(0) });
        claimed(&claims[3]); // same text, other author: not a duplicate
    }

    #[tokio::test]
    async fn committed_mentions_are_duplicates_and_released_ones_are_free() {
        let d = deduper().await;
        let (a, b) = (mention("1", "u1", "one"), mention("2", "u1", "two"));
        let claims = d.claim(&[(0, &a), (1, &b)], "r1").await.unwrap();
        d.commit(&[claimed(&claims[0])]).await.unwrap();
        d.release(&[claimed(&claims[1])]).await.unwrap();
        let again = d.claim(&[(0, &a), (1, &b)], "r2").await.unwrap();
        assert_eq!(again[0], Claim::Duplicate { by: DuplicateBy::Id, of_index: None });
        claimed(&again[1]);
    }

    #[tokio::test]
    async fn a_claim_in_flight_blocks_copies_until_it_expires() {
        let d = deduper().await;
        let a = mention("1", "u1", "one");
        claimed(&d.claim(&[(0, &a)], "crashed").await.unwrap()[0]);
        assert_eq!(d.claim(&[(0, &a)], "retry").await.unwrap()[0], Claim::InFlight);
        tokio::time::sleep(Duration::from_millis(400)).await;
        claimed(&d.claim(&[(0, &a)], "retry").await.unwrap()[0]);
    }

    #[tokio::test]
    async fn scripts_are_reloaded_after_redis_forgets_them() {
        let d = deduper().await;
        redis::cmd("SCRIPT").arg("FLUSH").query_async::<()>(&mut d.conn.clone()).await.unwrap();
        claimed(&d.claim(&[(0, &mention("9", "u9", "nine"))], "r").await.unwrap()[0]);
    }
}
