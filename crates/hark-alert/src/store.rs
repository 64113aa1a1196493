//! The state of each input partition in Redis: baselines, open windows, detectors, open alerts,
//! the last input offset applied, and the alerts of the last batch (its outbox).
//!
//! One hash per partition, `<redis.key_prefix>alert:<group>:<topic>:<partition>`, with a field
//! per series (`s:<fingerprint>`), `meta`, and `writer` (who wrote it last). A batch's changes
//! are written in one `MULTI`, so the stored state always matches the stored offset. Before a
//! batch, `writer` tells whether another instance (after a rebalance) wrote since; if so the state
//! is read again.

use std::collections::BTreeMap;

use hark_core::config::RedisConfig;
use hark_redis::BlockingConnection;
use redis::{Commands, RedisError};

use crate::{
    console::{self, ClosedWindow, Keys},
    engine::{Meta, PartitionState},
    windows::Series,
};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("redis: {0}")]
    Redis(#[from] RedisError),
    #[error("stored alert state under {key} field {field} cannot be read: {source}")]
    Corrupt { key: String, field: String, source: serde_json::Error },
    /// Another instance wrote the partition's state since this one read it (it owns the
    /// partition now, after a rebalance): this instance's write is refused.
    #[error("another instance wrote the alert state under {key} since this one read it; not overwritten")]
    Stale { key: String },
}

/// Writes a partition's state only if its `writer` is still the one this instance read or last
/// wrote. KEYS: the partition's hash. ARGV: the writer expected (empty for none), the new writer,
/// the meta, then field and value pairs (an empty value deletes the field).
const SAVE_IF_UNCHANGED: &str = r#"
if (redis.call('HGET', KEYS[1], 'writer') or '') ~= ARGV[1] then
    return redis.error_reply('STALE')
end
redis.call('HSET', KEYS[1], 'meta', ARGV[3], 'writer', ARGV[2])
for i = 4, #ARGV, 2 do
    if ARGV[i + 1] == '' then
        redis.call('HDEL', KEYS[1], ARGV[i])
    else
        redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1])
    end
end
return 1
"#;

pub struct Store {
    redis: BlockingConnection,
    prefix: String,
    group: String,
    /// Tells this process's writes from another instance's.
    instance: String,
    writes: u64,
    console_keys: Keys,
}

const META: &str = "meta";
const WRITER: &str = "writer";
const SERIES: &str = "s:";

impl Store {
    pub fn new(redis: &RedisConfig, group: &str) -> Result<Store, StoreError> {
        Ok(Store {
            redis: BlockingConnection::new(redis, std::time::Duration::from_secs(5))?,
            prefix: redis.key_prefix.clone(),
            group: group.to_string(),
            instance: format!("{}-{:08x}", std::process::id(), fastrand::u32(..)),
            writes: 0,
            console_keys: Keys::new(&redis.key_prefix, group),
        })
    }

    pub fn key(&self, topic: &str, partition: i32) -> String {
        format!("{}alert:{}:{topic}:{partition}", self.prefix, self.group)
    }

    /// Who last wrote the partition's state.
    pub fn writer(&mut self, topic: &str, partition: i32) -> Result<Option<String>, StoreError> {
        let key = self.key(topic, partition);
        Ok(self.redis.run(|c| c.hget(&key, WRITER))?)
    }

    /// The stored state, and who wrote it; a fresh state when nothing is stored.
    pub fn load(&mut self, topic: &str, partition: i32) -> Result<(PartitionState, Option<String>), StoreError> {
        let key = self.key(topic, partition);
        let fields: BTreeMap<String, String> = self.redis.run(|c| c.hgetall(&key))?;
        let mut state = PartitionState::default();
        let corrupt = |field: &str, source| StoreError::Corrupt { key: key.clone(), field: field.to_string(), source };
        if let Some(meta) = fields.get(META) {
            state.meta = serde_json::from_str::<Meta>(meta).map_err(|e| corrupt(META, e))?;
        }
        for (field, value) in &fields {
            if let Some(fingerprint) = field.strip_prefix(SERIES) {
                let series: Series = serde_json::from_str(value).map_err(|e| corrupt(field, e))?;
                state.series.insert(fingerprint.to_string(), series);
            }
        }
        Ok((state, fields.get(WRITER).cloned()))
    }

    /// Keeps a batch's closed windows and sample mentions for the console ([`crate::console`]).
    pub fn save_console(&mut self, windows: &[ClosedWindow], mentions: &[(String, String)]) -> Result<(), StoreError> {
        if windows.is_empty() && mentions.is_empty() {
            return Ok(());
        }
        let mut pipe = redis::pipe();
        console::write(&self.console_keys, windows, mentions, &mut pipe);
        Ok(self.redis.run(|c| pipe.query::<()>(c))?)
    }

    /// Writes the meta and every dirty series at once, if the stored `writer` is still `expected`
    /// (what this instance read or last wrote): a former owner of the partition that wakes up
    /// late cannot overwrite the newer owner's state ([`StoreError::Stale`]). Returns the new writer.
    pub fn save(&mut self, topic: &str, partition: i32, state: &PartitionState, expected: Option<&str>) -> Result<String, StoreError> {
        let key = self.key(topic, partition);
        self.writes += 1;
        let token = format!("{}:{}", self.instance, self.writes);
        // Hashed once: every batch runs it for each partition it touched.
        static SCRIPT: std::sync::LazyLock<redis::Script> = std::sync::LazyLock::new(|| redis::Script::new(SAVE_IF_UNCHANGED));
        let mut invocation = SCRIPT.key(&key);
        invocation.arg(expected.unwrap_or_default()).arg(&token).arg(serde_json::to_string(&state.meta).expect("state serialises"));
        for fingerprint in &state.dirty {
            let value = state.series.get(fingerprint).map(|s| serde_json::to_string(s).expect("state serialises"));
            invocation.arg(format!("{SERIES}{fingerprint}")).arg(value.unwrap_or_default());
        }
        match self.redis.run(|c| invocation.invoke::<()>(c)) {
            Ok(()) => Ok(token),
            // The error reply is the script's own word; redis-rs does not know it as a code.
            Err(e) if e.to_string().contains("STALE") => Err(StoreError::Stale { key }),
            Err(e) => Err(e.into()),
        }
    }
}
