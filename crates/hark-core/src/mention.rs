//! A mention: one post, comment or review that talks about a brand, as a platform delivered it.
//!
//! Records arrive as untrusted JSON. [`Validator::validate`] checks one record at a time and says,
//! in words a person can act on, what is wrong with it, so one bad record never takes its
//! neighbours down with it.

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use unicode_normalization::UnicodeNormalization;

/// One mention (`mention.v1` in `proto/`). Unknown fields are kept in `extra` and passed on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Mention {
    /// The platform's own id of the post.
    pub id: String,
    pub platform: String,
    pub text: String,
    pub created_at: DateTime<Utc>,
    pub author: Author,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub brand: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lang_hint: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub engagement: Option<Engagement>,
    /// Set by the ingest stage when the broker acknowledged the mention.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ingested_at: Option<DateTime<Utc>>,
    /// Set by the ingest stage: the source that sent the mention ([`crate::provenance`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ingested_by: Option<crate::IngestedBy>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Author {
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub handle: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub followers: Option<u64>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Engagement {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub likes: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shares: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comments: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub views: Option<u64>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl Mention {
    /// The id that names this mention everywhere in Hark: `<platform>:<id>`.
    pub fn stable_id(&self) -> String {
        format!("{}:{}", self.platform, self.id)
    }

    /// The message key on Hark's mention topics: the mention's canonical brand
    /// ([`crate::brand`]), so one brand's mentions stay in order in one partition however it is
    /// spelt; a mention of no brand is keyed by its author instead.
    pub fn partition_key(&self, canonical_brand: Option<&str>) -> String {
        match canonical_brand {
            Some(brand) => brand.to_string(),
            None => format!("author:{}:{}", self.platform, self.author.id),
        }
    }

    /// A fingerprint of the text as a repost or syndicated copy would repeat it: Unicode-normalised,
    /// case-folded, with links removed (syndication rewrites them) and whitespace collapsed.
    pub fn text_fingerprint(&self) -> String {
        let normalised: String = self.text.nfkc().collect::<String>().to_lowercase();
        let words: Vec<&str> = normalised
            .split_whitespace()
            .filter(|w| !(w.starts_with("http://") || w.starts_with("https://") || w.starts_with("www.")))
            .collect();
        let hash = xxhash_rust::xxh3::xxh3_128(words.join(" ").as_bytes());
        format!("{hash:032x}")
    }

    /// Followers of the author as far as Hark believes them: 0 when the platform did not say,
    /// or when the source is not trusted for author metrics (the claim stays in `author.followers`).
    pub fn followers(&self) -> u64 {
        if self.author_metrics_trusted() {
            self.author.followers.unwrap_or(0)
        } else {
            0
        }
    }

    /// Whether the source's `author.followers` and `engagement` are believed ([`crate::provenance`]).
    pub fn author_metrics_trusted(&self) -> bool {
        self.ingested_by.as_ref().is_none_or(|by| by.trusted_author_metrics)
    }
}

/// Why a record is not a valid mention. The text is meant for the person who sent it.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum MentionError {
    #[error("record is not valid JSON: {0}")]
    InvalidJson(String),
    #[error("record is not valid UTF-8")]
    InvalidUtf8,
    #[error("record must be a JSON object, got {0}")]
    NotAnObject(&'static str),
    #[error("missing required field `{0}`")]
    Missing(&'static str),
    #[error("field `{field}` must be {expected}, got {got}")]
    WrongType { field: &'static str, expected: &'static str, got: String },
    #[error("field `{0}` must not be empty")]
    Empty(&'static str),
    #[error("field `text` is {bytes} bytes, more than the limit of {limit}")]
    TextTooLong { bytes: usize, limit: usize },
    #[error("unknown platform `{0}` (accepted: see ingest.platforms in the config)")]
    UnknownPlatform(String),
    #[error("field `created_at` is not an RFC 3339 timestamp: `{0}`")]
    BadTimestamp(String),
    #[error("field `created_at` is {0} in the future (more than the allowed clock skew)")]
    FutureTimestamp(String),
}

/// The clock-skew rule: a mention may be dated at most `max_skew` after `now`. Ingest applies it
/// when validating; the enrich stage again, for messages written to the raw topic by others.
pub fn check_not_in_future(created_at: DateTime<Utc>, now: DateTime<Utc>, max_skew: Duration) -> Result<(), MentionError> {
    if created_at > now + max_skew {
        return Err(MentionError::FutureTimestamp(human_duration(created_at - now)));
    }
    Ok(())
}

impl MentionError {
    /// A short machine-readable name, used as the `error_type` label of error metrics.
    pub fn kind(&self) -> &'static str {
        match self {
            MentionError::InvalidJson(_) => "invalid_json",
            MentionError::InvalidUtf8 => "invalid_utf8",
            MentionError::NotAnObject(_) | MentionError::Missing(_) | MentionError::WrongType { .. } => "schema",
            MentionError::Empty(_) => "empty_field",
            MentionError::TextTooLong { .. } => "text_too_long",
            MentionError::UnknownPlatform(_) => "unknown_platform",
            MentionError::BadTimestamp(_) | MentionError::FutureTimestamp(_) => "bad_timestamp",
        }
    }
}

/// Checks untrusted records against `mention.v1` and the limits in the config.
#[derive(Debug, Clone)]
pub struct Validator {
    pub platforms: Vec<String>,
    pub max_text_bytes: usize,
    pub max_future_skew: Duration,
}

impl Validator {
    /// Parses and validates one record's bytes (one NDJSON line, say).
    pub fn validate_bytes(&self, bytes: &[u8], now: DateTime<Utc>) -> Result<Mention, MentionError> {
        let text = std::str::from_utf8(bytes).map_err(|_| MentionError::InvalidUtf8)?;
        let value: Value = serde_json::from_str(text).map_err(|e| MentionError::InvalidJson(e.to_string()))?;
        self.validate(value, now)
    }

    /// Validates one parsed record. Numeric ids are accepted and turned into strings, since some
    /// exports write them as numbers.
    pub fn validate(&self, value: Value, now: DateTime<Utc>) -> Result<Mention, MentionError> {
        let Value::Object(mut record) = value else {
            return Err(MentionError::NotAnObject(type_name(&value)));
        };
        id_field(&mut record, "id", "id")?;
        let platform = required_str(&record, "platform", "platform")?;
        if !self.platforms.iter().any(|p| p == platform) {
            return Err(MentionError::UnknownPlatform(platform.to_string()));
        }
        let text = required_str(&record, "text", "text")?;
        if text.len() > self.max_text_bytes {
            return Err(MentionError::TextTooLong { bytes: text.len(), limit: self.max_text_bytes });
        }
        let created_at = required_str(&record, "created_at", "created_at")?;
        let created_at =
            DateTime::parse_from_rfc3339(created_at).map_err(|_| MentionError::BadTimestamp(created_at.to_string()))?.with_timezone(&Utc);
        check_not_in_future(created_at, now, self.max_future_skew)?;
        match record.get_mut("author") {
            None | Some(Value::Null) => return Err(MentionError::Missing("author")),
            Some(Value::Object(author)) => {
                id_field(author, "id", "author.id")?;
                optional_str(author, "handle", "author.handle")?;
                optional_count(author, "followers", "author.followers")?;
            }
            Some(other) => return Err(wrong_type("author", "an object", other)),
        }
        for (key, field) in [("url", "url"), ("brand", "brand"), ("lang_hint", "lang_hint")] {
            optional_str(&record, key, field)?;
        }
        match record.get("engagement") {
            None | Some(Value::Null) => {}
            Some(Value::Object(counts)) => {
                for (key, field) in [
                    ("likes", "engagement.likes"),
                    ("shares", "engagement.shares"),
                    ("comments", "engagement.comments"),
                    ("views", "engagement.views"),
                ] {
                    optional_count(counts, key, field)?;
                }
            }
            Some(other) => return Err(wrong_type("engagement", "an object", other)),
        }
        // Hark sets these itself: when the broker acknowledged the mention, and who sent it.
        record.remove("ingested_at");
        record.remove("ingested_by");
        record.insert("created_at".into(), Value::String(created_at.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)));
        serde_json::from_value(Value::Object(record)).map_err(|e| MentionError::InvalidJson(e.to_string()))
    }
}

fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn wrong_type(field: &'static str, expected: &'static str, got: &Value) -> MentionError {
    MentionError::WrongType { field, expected, got: type_name(got).to_string() }
}

fn required_str<'a>(record: &'a Map<String, Value>, key: &str, field: &'static str) -> Result<&'a str, MentionError> {
    match record.get(key) {
        None | Some(Value::Null) => Err(MentionError::Missing(field)),
        Some(Value::String(s)) if s.trim().is_empty() => Err(MentionError::Empty(field)),
        Some(Value::String(s)) => Ok(s),
        Some(other) => Err(wrong_type(field, "a string", other)),
    }
}

fn optional_str(record: &Map<String, Value>, key: &str, field: &'static str) -> Result<(), MentionError> {
    match record.get(key) {
        None | Some(Value::Null) | Some(Value::String(_)) => Ok(()),
        Some(other) => Err(wrong_type(field, "a string", other)),
    }
}

/// An id may be a non-empty string or a non-negative integer; integers become strings.
fn id_field(record: &mut Map<String, Value>, key: &str, field: &'static str) -> Result<(), MentionError> {
    match record.get(key) {
        None | Some(Value::Null) => Err(MentionError::Missing(field)),
        Some(Value::String(s)) if s.trim().is_empty() => Err(MentionError::Empty(field)),
        Some(Value::String(s)) if s.len() > 512 => {
            Err(MentionError::WrongType { field, expected: "at most 512 bytes", got: format!("{} bytes", s.len()) })
        }
        Some(Value::String(_)) => Ok(()),
        Some(Value::Number(n)) if n.is_u64() => {
            let s = n.to_string();
            record.insert(key.to_string(), Value::String(s));
            Ok(())
        }
        Some(other) => Err(wrong_type(field, "a string", other)),
    }
}

fn optional_count(record: &Map<String, Value>, key: &str, field: &'static str) -> Result<(), MentionError> {
    match record.get(key) {
        None | Some(Value::Null) => Ok(()),
        Some(Value::Number(n)) if n.is_u64() => Ok(()),
        Some(Value::Number(n)) => Err(MentionError::WrongType { field, expected: "a non-negative integer", got: n.to_string() }),
        Some(other) => Err(wrong_type(field, "a non-negative integer", other)),
    }
}

fn human_duration(d: Duration) -> String {
    let secs = d.num_seconds();
    match secs {
        s if s >= 86_400 => format!("{} days", s / 86_400),
        s if s >= 3_600 => format!("{} hours", s / 3_600),
        s if s >= 60 => format!("{} minutes", s / 60),
        s => format!("{s} seconds"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn validator() -> Validator {
        Validator { platforms: vec!["twitter".into(), "weibo".into()], max_text_bytes: 100, max_future_skew: Duration::minutes(5) }
    }

    fn now() -> DateTime<Utc> {
        "2026-11-20T12:00:00Z".parse().unwrap()
    }

    fn good() -> Value {
        json!({"id": "1", "platform": "twitter", "text": "hello @SkyNordic", "created_at": "2026-11-20T10:00:00+02:00",
               "author": {"id": "a1", "handle": "anna", "followers": 10}, "brand": "SkyNordic", "custom": {"x": 1}})
    }

    fn error_for(change: impl FnOnce(&mut Map<String, Value>)) -> MentionError {
        let mut record = good();
        change(record.as_object_mut().unwrap());
        validator().validate(record, now()).unwrap_err()
    }

    #[test]
    fn valid_record_keeps_unknown_fields_and_normalises_time() {
        let m = validator().validate(good(), now()).unwrap();
        assert_eq!(m.stable_id(), "twitter:1");
        assert_eq!(m.created_at.to_rfc3339(), "2026-11-20T08:00:00+00:00");
        assert_eq!(m.extra["custom"], json!({"x": 1}));
        let back = serde_json::to_value(&m).unwrap();
        assert_eq!(back["custom"], json!({"x": 1}));
        assert_eq!(back["created_at"], json!("2026-11-20T08:00:00Z"));
    }

    #[test]
    fn numeric_ids_become_strings() {
        let mut record = good();
        record["id"] = json!(1789);
        record["author"]["id"] = json!(42);
        let m = validator().validate(record, now()).unwrap();
        assert_eq!((m.id.as_str(), m.author.id.as_str()), ("1789", "42"));
    }

    #[test]
    fn each_defect_has_its_own_readable_error() {
        assert_eq!(
            error_for(|r| {
                r.remove("text");
            }),
            MentionError::Missing("text")
        );
        assert_eq!(
            error_for(|r| {
                r.insert("text".into(), json!("   "));
            }),
            MentionError::Empty("text")
        );
        assert_eq!(
            error_for(|r| {
                r.insert("text".into(), json!(5));
            })
            .to_string(),
            "field `text` must be a string, got a number"
        );
        assert_eq!(
            error_for(|r| {
                r.insert("text".into(), json!("x".repeat(101)));
            }),
            MentionError::TextTooLong { bytes: 101, limit: 100 }
        );
        assert_eq!(
            error_for(|r| {
                r.insert("platform".into(), json!("myspace"));
            }),
            MentionError::UnknownPlatform("myspace".into())
        );
        assert_eq!(
            error_for(|r| {
                r.insert("created_at".into(), json!("yesterday"));
            }),
            MentionError::BadTimestamp("yesterday".into())
        );
        assert_eq!(
            error_for(|r| {
                r.insert("created_at".into(), json!("2031-01-01T00:00:00Z"));
            }),
            MentionError::FutureTimestamp("1502 days".into())
        );
        assert_eq!(
            error_for(|r| {
                r.remove("author");
            }),
            MentionError::Missing("author")
        );
        assert_eq!(
            error_for(|r| {
                r["author"]["followers"] = json!(-3);
            })
            .to_string(),
            "field `author.followers` must be a non-negative integer, got -3"
        );
        assert_eq!(
            error_for(|r| {
                r["author"]["followers"] = json!("many");
            })
            .to_string(),
            "field `author.followers` must be a non-negative integer, got a string"
        );
        assert_eq!(
            error_for(|r| {
                r.insert("id".into(), json!({"a": 1}));
            })
            .kind(),
            "schema"
        );
        assert_eq!(validator().validate(json!([1, 2]), now()).unwrap_err(), MentionError::NotAnObject("an array"));
        assert_eq!(validator().validate_bytes(b"{\"id\": \xff}", now()).unwrap_err(), MentionError::InvalidUtf8);
        assert_eq!(validator().validate_bytes(b"{\"id\": ", now()).unwrap_err().kind(), "invalid_json");
    }

    #[test]
    fn small_clock_skew_is_accepted() {
        let mut record = good();
        record["created_at"] = json!("2026-11-20T12:03:00Z");
        assert!(validator().validate(record, now()).is_ok());
    }

    #[test]
    fn client_supplied_ingested_at_is_dropped() {
        let mut record = good();
        record["ingested_at"] = json!("2020-01-01T00:00:00Z");
        assert_eq!(validator().validate(record, now()).unwrap().ingested_at, None);
    }

    #[test]
    fn fingerprint_ignores_case_spacing_and_links() {
        let mut a = validator().validate(good(), now()).unwrap();
        let mut b = a.clone();
        a.text = "Great flight  with @SkyNordic https://t.co/abc".into();
        b.text = "great FLIGHT with @skynordic https://t.co/xyz ".into();
        assert_eq!(a.text_fingerprint(), b.text_fingerprint());
        b.text = "bad flight with @skynordic".into();
        assert_ne!(a.text_fingerprint(), b.text_fingerprint());
    }

    #[test]
    fn partition_key_is_the_canonical_brand_or_the_author() {
        let m = validator().validate(good(), now()).unwrap();
        assert_eq!(m.partition_key(Some("SkyNordic")), "SkyNordic");
        assert_eq!(m.partition_key(None), "author:twitter:a1");
    }
}
