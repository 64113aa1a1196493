//! `[ingest]`: the HTTP API's addresses, the limits that keep one request's memory bounded,
//! deduplication, and the clock-skew rule for `created_at`.

use serde::{Deserialize, Serialize};

use hark_core::Validator;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct IngestConfig {
    /// Address of the HTTP API, metrics and health endpoints.
    pub listen: String,
    /// Address of `hark all`'s admin API (the notify API, `POST /-/reload`), probes and metrics.
    pub admin_listen: String,
    pub max_body_bytes: usize,
    /// Records in one request; past it the answer is 413 (split the batch).
    pub max_records_per_request: usize,
    /// One record (one NDJSON line, one array element) as sent, escapes included; a longer one
    /// is rejected alone without being held in memory.
    pub max_record_bytes: usize,
    pub max_text_bytes: usize,
    /// The fields Hark does not know (kept and passed on), all of a record's together, as JSON.
    pub max_extra_bytes: usize,
    /// Records not accepted that an answer lists one by one; the rest are counted in `items_omitted`.
    pub max_reported_items: usize,
    /// JSON bodies (read whole, unlike NDJSON) held in memory at once, all requests together;
    /// more requests wait their turn.
    pub max_buffered_json_bytes: usize,
    pub max_future_skew_secs: i64,
    /// How long a mention's id and text fingerprint are remembered for duplicate detection.
    pub dedupe_window_secs: u64,
    /// How long a mention in flight to the broker blocks its copies; a crash frees it after this.
    /// Longer than the producer's `message.timeout.ms`, so a copy cannot get through while the
    /// first is still being produced.
    pub claim_ttl_secs: u64,
    pub platforms: Vec<String>,
}

impl Default for IngestConfig {
    fn default() -> Self {
        IngestConfig {
            listen: "127.0.0.1:8080".into(),
            admin_listen: "127.0.0.1:8090".into(),
            max_body_bytes: 16 * 1024 * 1024,
            max_records_per_request: 10_000,
            // A text at its limit written as `\uXXXX` escapes (6 bytes each), and room for the rest.
            max_record_bytes: 256 * 1024,
            max_text_bytes: 32 * 1024,
            max_extra_bytes: 16 * 1024,
            max_reported_items: 1000,
            max_buffered_json_bytes: 64 * 1024 * 1024,
            max_future_skew_secs: 300,
            dedupe_window_secs: 24 * 3600,
            claim_ttl_secs: 150,
            platforms: [
                "twitter",
                "x",
                "instagram",
                "facebook",
                "tiktok",
                "youtube",
                "reddit",
                "linkedin",
                "threads",
                "mastodon",
                "bluesky",
                "weibo",
                "wechat",
                "douyin",
                "xiaohongshu",
                "bilibili",
                "vk",
                "telegram",
                "trustpilot",
                "google_reviews",
                "app_store",
                "play_store",
                "news",
                "blog",
                "forum",
                "other",
            ]
            .map(String::from)
            .to_vec(),
        }
    }
}

impl IngestConfig {
    pub fn validator(&self) -> Validator {
        Validator {
            platforms: self.platforms.clone(),
            max_text_bytes: self.max_text_bytes,
            max_extra_bytes: self.max_extra_bytes,
            max_future_skew: chrono::Duration::seconds(self.max_future_skew_secs),
        }
    }
}
