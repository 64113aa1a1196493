//! Splits a request body into records: one JSON object, a JSON array, or NDJSON.
//! A record that cannot be read is an error at its own index; its neighbours are unaffected.

use hark_core::MentionError;
use serde_json::Value;

/// The records of a body, each parsed or with the reason it could not be.
pub type Records = Vec<Result<Value, MentionError>>;

/// Why a whole body is unusable (no record in it can be told apart from the others).
#[derive(Debug, PartialEq, thiserror::Error)]
pub enum BodyError {
    #[error("request body is empty")]
    Empty,
    #[error("request body is not valid UTF-8 JSON")]
    InvalidUtf8,
    #[error("request body is not valid JSON: {0} (for one mention per line, send Content-Type: application/x-ndjson)")]
    InvalidJson(String),
    #[error("request body must be a JSON object or an array of objects")]
    NotObjectOrArray,
}

/// True for the content types of newline-delimited JSON.
pub fn is_ndjson(content_type: &str) -> bool {
    let mime = content_type.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    matches!(mime.as_str(), "application/x-ndjson" | "application/ndjson" | "application/jsonl" | "application/x-jsonlines")
}

/// NDJSON: each non-blank line is a record; its index counts records, not lines.
pub fn split_ndjson(body: &[u8]) -> Result<Records, BodyError> {
    let records: Records = body
        .split(|&b| b == b'\n')
        .map(|line| line.strip_suffix(b"\r").unwrap_or(line))
        .filter(|line| !line.iter().all(u8::is_ascii_whitespace))
        .map(|line| {
            let text = std::str::from_utf8(line).map_err(|_| MentionError::InvalidUtf8)?;
            serde_json::from_str(text).map_err(|e| MentionError::InvalidJson(e.to_string()))
        })
        .collect();
    if records.is_empty() {
        return Err(BodyError::Empty);
    }
    Ok(records)
}

/// `application/json`: one object, or an array whose elements are records.
pub fn split_json(body: &[u8]) -> Result<Records, BodyError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(BodyError::Empty);
    }
    let text = std::str::from_utf8(body).map_err(|_| BodyError::InvalidUtf8)?;
    match serde_json::from_str(text).map_err(|e| BodyError::InvalidJson(e.to_string()))? {
        Value::Array(items) if items.is_empty() => Err(BodyError::Empty),
        Value::Array(items) => Ok(items.into_iter().map(Ok).collect()),
        object @ Value::Object(_) => Ok(vec![Ok(object)]),
        _ => Err(BodyError::NotObjectOrArray),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ndjson_lines_fail_alone() {
        let body = b"{\"a\":1}\n\n{\"b\":\r\n\xff\xfe\n[1]\r\n";
        let records = split_ndjson(body).unwrap();
        assert_eq!(records.len(), 4);
        assert!(records[0].is_ok());
        assert_eq!(records[1].as_ref().unwrap_err().kind(), "invalid_json");
        assert_eq!(records[2].as_ref().unwrap_err(), &MentionError::InvalidUtf8);
        assert!(records[3].is_ok()); // an array line is a record; validation rejects it later
    }

    #[test]
    fn json_body_is_object_or_array() {
        assert_eq!(split_json(b"{\"a\":1}").unwrap().len(), 1);
        assert_eq!(split_json(b"[{\"a\":1}, 5]").unwrap().len(), 2);
        assert_eq!(split_json(b"  ").unwrap_err(), BodyError::Empty);
        assert_eq!(split_json(b"[]").unwrap_err(), BodyError::Empty);
        assert_eq!(split_json(b"\"x\"").unwrap_err(), BodyError::NotObjectOrArray);
        assert!(matches!(split_json(b"{\"a\":1}\n{\"a\":2}").unwrap_err(), BodyError::InvalidJson(_)));
        assert_eq!(split_json(b"{\"a\":\"\xff\"}").unwrap_err(), BodyError::InvalidUtf8);
    }

    #[test]
    fn content_types() {
        assert!(is_ndjson("application/x-ndjson; charset=utf-8"));
        assert!(is_ndjson("Application/JSONL"));
        assert!(!is_ndjson("application/json"));
    }
}
