//! Mentions from NDJSON files (`hark enrich-file`, `hark eval`).
//!
//! A line that is a full `mention.v1` is taken as it is. Labelled sets and exports from other
//! tools often carry less (the dev set has `text`, `platform`, `followers`, no author or time), so
//! a line needs only `text`: the rest gets defaults that say so (`platform` "other", the author
//! "unknown", `created_at` the moment it was read). Every field of the line is kept as it was:
//! labels and other extras pass through untouched under `mention`.

use chrono::Utc;
use hark_core::{Author, Mention};
use serde_json::{Map, Value};

/// Why a line is not a mention; `line` counts from 1.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("line {line}: {reason}")]
pub struct RecordError {
    pub line: usize,
    pub reason: String,
}

/// The mention on one line of an NDJSON file.
pub fn mention_from_line(text: &str, line: usize) -> Result<Mention, RecordError> {
    let error = |reason: String| RecordError { line, reason };
    let value: Value = serde_json::from_str(text).map_err(|e| error(format!("not valid JSON: {e}")))?;
    let Value::Object(mut record) = value else {
        return Err(error("not a JSON object".into()));
    };
    match record.get("text") {
        Some(Value::String(text)) if text.trim().is_empty() => {
            // mention.v1 (and so enriched.v1) has no empty texts: ingest refuses them too.
            return Err(error("field `text` is empty: nothing to enrich".into()));
        }
        Some(Value::String(_)) => {}
        _ => return Err(error("field `text` must be a string".into())),
    }
    if let Ok(mention) = serde_json::from_value::<Mention>(Value::Object(record.clone())) {
        return Ok(mention);
    }
    // A partial record: fill in what a mention must have, keeping every field that is there.
    let followers = record.get("followers").and_then(Value::as_u64);
    let id = match record.get("id") {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Number(n)) => n.to_string(),
        _ => format!("line-{line}"),
    };
    record.entry("id").or_insert(Value::String(id.clone()));
    record.entry("platform").or_insert(Value::String("other".into()));
    record.entry("created_at").or_insert(Value::String(Utc::now().to_rfc3339()));
    if !record.contains_key("author") {
        let author = Author { id: format!("unknown:{id}"), handle: None, followers, extra: Map::new() };
        record.insert("author".into(), serde_json::to_value(author).expect("an author serialises"));
    }
    serde_json::from_value(Value::Object(record)).map_err(|e| error(format!("not a mention: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn full_mentions_are_taken_as_they_are() {
        let line = r#"{"id":"1","platform":"twitter","text":"hi","created_at":"2026-11-20T10:00:00Z","author":{"id":"a","followers":7},"label":"x"}"#;
        let m = mention_from_line(line, 1).unwrap();
        assert_eq!((m.platform.as_str(), m.author.id.as_str(), m.author.followers), ("twitter", "a", Some(7)));
        assert_eq!(m.extra["label"], "x");
    }

    #[test]
    fn labelled_records_get_defaults_and_keep_their_fields() {
        let line = r#"{"id":"dev-1","lang":"it","platform":"instagram","followers":120000,"text":"Che bello","sentiment":"positive","spam":false}"#;
        let m = mention_from_line(line, 3).unwrap();
        assert_eq!(m.id, "dev-1");
        assert_eq!(m.author.followers, Some(120_000));
        assert_eq!(m.extra["sentiment"], "positive");
        assert_eq!(m.extra["lang"], "it");
        assert_eq!(m.extra["followers"], 120_000);
        assert!(m.lang_hint.is_none(), "a label is not a hint");
    }

    #[test]
    fn bad_lines_say_which_and_why() {
        assert_eq!(mention_from_line("{nope", 4).unwrap_err().line, 4);
        assert!(mention_from_line("[1,2]", 1).unwrap_err().reason.contains("not a JSON object"));
        assert!(mention_from_line(r#"{"text": 5}"#, 1).unwrap_err().reason.contains("`text`"));
        assert!(mention_from_line(r#"{"id": "1"}"#, 1).unwrap_err().reason.contains("`text`"));
        assert!(mention_from_line(r#"{"id": "1", "text": "  "}"#, 1).unwrap_err().reason.contains("empty"));
    }
}
