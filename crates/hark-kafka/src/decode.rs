//! Decoding a stage's input message into the type of its topic's contract, with one vocabulary
//! for why a message cannot be decoded: every stage dead-letters the same broken message with the
//! same `error_type`.

use serde::de::DeserializeOwned;

use crate::Poison;

/// Why a message goes to the dead-letter topic: the `hark-dlq-error-type` header and the
/// `error_type` label of the dead-letter and error metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, strum::IntoStaticStr, strum::EnumIter)]
#[strum(serialize_all = "snake_case")]
pub enum PoisonKind {
    /// The message has no value.
    Empty,
    InvalidUtf8,
    InvalidJson,
    /// JSON, but not the topic's contract (`mention.v1`, `enriched.v1`).
    Schema,
    /// Dated further ahead than the allowed clock skew.
    FutureTimestamp,
}

impl PoisonKind {
    pub fn as_str(self) -> &'static str {
        self.into()
    }
}

/// The message value as a `T`, the contract named `contract` (for the reason), or why not.
pub fn decode<T: DeserializeOwned>(payload: Option<&[u8]>, contract: &str) -> Result<T, Poison> {
    let payload = payload.ok_or_else(|| Poison::new(PoisonKind::Empty, "message has no value"))?;
    let text = std::str::from_utf8(payload).map_err(|e| Poison::new(PoisonKind::InvalidUtf8, format!("value is not valid UTF-8: {e}")))?;
    serde_json::from_str(text).map_err(|e| match e.classify() {
        serde_json::error::Category::Data => Poison::new(PoisonKind::Schema, format!("value is not {contract}: {e}")),
        _ => Poison::new(PoisonKind::InvalidJson, format!("value is not valid JSON: {e}")),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    #[allow(dead_code)]
    struct Contract {
        id: String,
    }

    fn kind(payload: Option<&[u8]>) -> PoisonKind {
        decode::<Contract>(payload, "a contract.v1").unwrap_err().kind
    }

    #[test]
    fn each_way_a_message_breaks_has_its_kind() {
        assert_eq!(kind(None), PoisonKind::Empty);
        assert_eq!(kind(Some(b"\xff\xfe")), PoisonKind::InvalidUtf8);
        assert_eq!(kind(Some(b"{not json")), PoisonKind::InvalidJson);
        assert_eq!(kind(Some(b"{\"id\": \"a\"")), PoisonKind::InvalidJson, "cut short");
        assert_eq!(kind(Some(b"{\"id\": 5}")), PoisonKind::Schema);
        let poison = decode::<Contract>(Some(b"[1]"), "a contract.v1").unwrap_err();
        assert!(poison.reason.starts_with("value is not a contract.v1: "), "{poison:?}");
        assert_eq!(decode::<Contract>(Some(b"{\"id\": \"a\"}"), "a contract.v1").unwrap().id, "a");
    }

    #[test]
    fn kinds_are_snake_case() {
        use strum::IntoEnumIterator;
        let names: Vec<&str> = PoisonKind::iter().map(PoisonKind::as_str).collect();
        assert_eq!(names, ["empty", "invalid_utf8", "invalid_json", "schema", "future_timestamp"]);
    }
}
