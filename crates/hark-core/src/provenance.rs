//! Where a mention came from, as Hark itself recorded it: the ingest token that sent it, and
//! whether that source is believed about the author's reach (`author.followers`, `engagement`).
//!
//! Ingest sets [`IngestedBy`] on every mention it accepts and drops any value a client sent, so
//! the mark cannot be forged over HTTP. A mention without it (written to the raw topic by another
//! producer inside the broker's trust boundary, or from before the field existed) is trusted.

use serde::{Deserialize, Serialize};

/// `ingested_by` in `mention.v1`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IngestedBy {
    /// The name of the ingest token; absent when ingest ran without tokens.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
    /// Whether `author.followers` and `engagement` count: for an untrusted source they are kept
    /// as data but give no influence tier, reach, or influencer or viral alert.
    pub trusted_author_metrics: bool,
}

impl IngestedBy {
    /// A mention sent without a token.
    pub fn unauthenticated(trusted_author_metrics: bool) -> IngestedBy {
        IngestedBy { token: None, trusted_author_metrics }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Validator;
    use serde_json::json;

    fn validator() -> Validator {
        Validator {
            platforms: vec!["twitter".into()],
            max_text_bytes: 1000,
            max_extra_bytes: 16 * 1024,
            max_future_skew: chrono::Duration::seconds(300),
        }
    }

    #[test]
    fn a_client_cannot_set_the_mark_and_untrusted_followers_count_as_none() {
        let record = json!({"id": "1", "platform": "twitter", "text": "hi", "created_at": "2026-11-20T10:00:00Z",
            "author": {"id": "a", "followers": 2_500_000},
            "ingested_by": {"token": "crawler", "trusted_author_metrics": true}});
        let mut mention = validator().validate(record, chrono::Utc::now()).unwrap();
        assert_eq!(mention.ingested_by, None, "the client's mark is dropped");
        assert!(mention.author_metrics_trusted(), "no mark: written inside the trust boundary");
        assert_eq!(mention.followers(), 2_500_000);

        mention.ingested_by = Some(IngestedBy { token: Some("scraper".into()), trusted_author_metrics: false });
        assert_eq!(mention.followers(), 0);
        assert_eq!(mention.author.followers, Some(2_500_000), "the claim is kept as data");
        let round_trip: crate::Mention = serde_json::from_str(&serde_json::to_string(&mention).unwrap()).unwrap();
        assert_eq!(round_trip, mention);
    }
}
