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
