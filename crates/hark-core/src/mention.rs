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

    /// Likes + shares + comments as far as Hark believes them: 0 when the platform did not say,
    /// or when the source is not trusted for author metrics (the claim stays in `engagement`).
    pub fn engagement_total(&self) -> u64 {
        match &self.engagement {
            Some(e) if self.author_metrics_trusted() => e.likes.unwrap_or(0) + e.shares.unwrap_or(0) + e.comments.unwrap_or(0),
            _ => 0,
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
    #[error("field `{field}` is {bytes} bytes, more than the limit of {limit}")]
    TooLong { field: &'static str, bytes: usize, limit: usize },
    #[error("the fields Hark does not know take {bytes} bytes as JSON, more than the limit of {limit} (ingest.max_extra_bytes)")]
    ExtraTooLarge { bytes: usize, limit: usize },
    #[error("record is {bytes} bytes, more than the limit of {limit} (ingest.max_record_bytes)")]
    RecordTooLong { bytes: usize, limit: usize },
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
            MentionError::TooLong { .. } | MentionError::ExtraTooLarge { .. } | MentionError::RecordTooLong { .. } => "too_long",
            MentionError::UnknownPlatform(_) => "unknown_platform",
            MentionError::BadTimestamp(_) | MentionError::FutureTimestamp(_) => "bad_timestamp",
        }
    }
}

/// The most bytes each string field may hold (the `maxLength`s of `proto/mention.v1.schema.json`),
/// so that no field of an accepted mention, nor any error message quoting one, is unbounded.
/// `text` has its own, configurable limit.
pub mod limits {
    pub const ID: usize = 512;
    pub const PLATFORM: usize = 32;
    /// An RFC 3339 timestamp with nanoseconds and an offset is 35 bytes.
    pub const CREATED_AT: usize = 64;
    pub const HANDLE: usize = 256;
    pub const URL: usize = 4096;
    pub const BRAND: usize = 256;
    pub const LANG_HINT: usize = 64;
}

/// The fields of each object that `mention.v1` names; the others count towards `max_extra_bytes`.
const KNOWN_FIELDS: [&str; 10] =
    ["id", "platform", "text", "created_at", "author", "url", "brand", "lang_hint", "engagement", "ingested_at"];
const KNOWN_AUTHOR_FIELDS: [&str; 3] = ["id", "handle", "followers"];
const KNOWN_ENGAGEMENT_FIELDS: [&str; 4] = ["likes", "shares", "comments", "views"];

/// Checks untrusted records against `mention.v1` and the limits in the config.
#[derive(Debug, Clone)]
pub struct Validator {
    pub platforms: Vec<String>,
    pub max_text_bytes: usize,
    /// The fields Hark does not know (kept and passed on), all objects together, as JSON.
    pub max_extra_bytes: usize,
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
        check_length("platform", platform, limits::PLATFORM)?;
        if !self.platforms.iter().any(|p| p == platform) {
            return Err(MentionError::UnknownPlatform(platform.to_string()));
        }
        let text = required_str(&record, "text", "text")?;
        if text.len() > self.max_text_bytes {
            return Err(MentionError::TextTooLong { bytes: text.len(), limit: self.max_text_bytes });
        }
        let created_at = required_str(&record, "created_at", "created_at")?;
        check_length("created_at", created_at, limits::CREATED_AT)?;
        let created_at =
            DateTime::parse_from_rfc3339(created_at).map_err(|_| MentionError::BadTimestamp(created_at.to_string()))?.with_timezone(&Utc);
        check_not_in_future(created_at, now, self.max_future_skew)?;
        match record.get_mut("author") {
            None | Some(Value::Null) => return Err(MentionError::Missing("author")),
            Some(Value::Object(author)) => {
                id_field(author, "id", "author.id")?;
                optional_str(author, "handle", "author.handle", limits::HANDLE)?;
                optional_count(author, "followers", "author.followers")?;
            }
            Some(other) => return Err(wrong_type("author", "an object", other)),
        }
        for (key, limit) in [("url", limits::URL), ("brand", limits::BRAND), ("lang_hint", limits::LANG_HINT)] {
            optional_str(&record, key, key, limit)?;
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
        let extra_bytes = unknown_fields_size(&record, &KNOWN_FIELDS)
            + nested_unknown_fields_size(&record, "author", &KNOWN_AUTHOR_FIELDS)
            + nested_unknown_fields_size(&record, "engagement", &KNOWN_ENGAGEMENT_FIELDS);
        if extra_bytes > self.max_extra_bytes {
            return Err(MentionError::ExtraTooLarge { bytes: extra_bytes, limit: self.max_extra_bytes });
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

fn optional_str(record: &Map<String, Value>, key: &str, field: &'static str, limit: usize) -> Result<(), MentionError> {
    match record.get(key) {
        None | Some(Value::Null) => Ok(()),
        Some(Value::String(s)) => check_length(field, s, limit),
        Some(other) => Err(wrong_type(field, "a string", other)),
    }
}

fn check_length(field: &'static str, value: &str, limit: usize) -> Result<(), MentionError> {
    if value.len() > limit {
        return Err(MentionError::TooLong { field, bytes: value.len(), limit });
    }
    Ok(())
}

/// The bytes the fields of `object` not in `known` take as JSON (`"key":value,` each).
fn unknown_fields_size(object: &Map<String, Value>, known: &[&str]) -> usize {
    object
        .iter()
        .filter(|(key, _)| !known.contains(&key.as_str()))
        .map(|(key, value)| json_size(&Value::from(key.as_str())) + 2 + json_size(value))
        .sum()
}

fn nested_unknown_fields_size(record: &Map<String, Value>, key: &str, known: &[&str]) -> usize {
    match record.get(key) {
        Some(Value::Object(object)) => unknown_fields_size(object, known),
        _ => 0,
    }
}

/// The length of `value` serialised, counted without building the text.
fn json_size(value: &Value) -> usize {
    struct Counter(usize);
    impl std::io::Write for Counter {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0 += bytes.len();
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut counter = Counter(0);
    serde_json::to_writer(&mut counter, value).expect("a Value always serialises");
    counter.0
}

/// An id may be a non-empty string or a non-negative integer; integers become strings.
fn id_field(record: &mut Map<String, Value>, key: &str, field: &'static str) -> Result<(), MentionError> {
    match record.get(key) {
        None | Some(Value::Null) => Err(MentionError::Missing(field)),
        Some(Value::String(s)) if s.trim().is_empty() => Err(MentionError::Empty(field)),
        Some(Value::String(s)) => check_length(field, s, limits::ID),
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
        Validator {
            platforms: vec!["twitter".into(), "weibo".into()],
            max_text_bytes: 100,
            max_extra_bytes: 200,
            max_future_skew: Duration::minutes(5),
        }
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
    fn every_string_field_has_a_length_limit() {
        let too_long = |field: &'static str, limit: usize| MentionError::TooLong { field, bytes: limit + 1, limit };
        let long = |limit: usize| json!("x".repeat(limit + 1));
        assert_eq!(error_for(|r| r["id"] = long(limits::ID)), too_long("id", limits::ID));
        assert_eq!(error_for(|r| r["author"]["id"] = long(limits::ID)), too_long("author.id", limits::ID));
        assert_eq!(error_for(|r| r["author"]["handle"] = long(limits::HANDLE)), too_long("author.handle", limits::HANDLE));
        assert_eq!(error_for(|r| r["platform"] = long(limits::PLATFORM)), too_long("platform", limits::PLATFORM));
        assert_eq!(error_for(|r| r["created_at"] = long(limits::CREATED_AT)), too_long("created_at", limits::CREATED_AT));
        for (field, limit) in [("url", limits::URL), ("brand", limits::BRAND), ("lang_hint", limits::LANG_HINT)] {
            let error = error_for(|r| {
                r.insert(field.into(), long(limit));
            });
            assert_eq!(error, too_long(field, limit));
            assert_eq!(error.kind(), "too_long");
        }
        // At the limit is fine.
        let mut record = good();
        record["brand"] = json!("b".repeat(limits::BRAND));
        assert!(validator().validate(record, now()).is_ok());
    }

    #[test]
    fn unknown_fields_are_limited_together() {
        // Each unknown field counts as `"key":value,`: good()'s `"custom":{"x":1},` is 17 bytes,
        // author's `"bio":"…",` is n + 9 and engagement's `"saves":5,` 10; the limit is 200.
        let fill = |r: &mut Map<String, Value>, n: usize| {
            r["author"]["bio"] = json!("b".repeat(n));
            r.insert("engagement".into(), json!({"likes": 1, "saves": 5}));
        };
        let at_limit = 200 - 17 - 9 - 10;
        let mut record = good();
        fill(record.as_object_mut().unwrap(), at_limit);
        assert!(validator().validate(record, now()).is_ok());
        let error = error_for(|r| fill(r, at_limit + 1));
        assert_eq!(error, MentionError::ExtraTooLarge { bytes: 201, limit: 200 });
        assert_eq!(error.kind(), "too_long");
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
