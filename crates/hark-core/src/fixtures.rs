//! Mentions for tests, benchmarks and examples, so each names only what it varies:
//! `fixtures::mention("text").author("a", 500).brand("SkyNordic").build()`. Built through
//! `mention.v1`'s JSON, as a client sends it. Only with the `fixtures` feature (and in tests).

use serde_json::{json, Value};

use crate::Mention;

/// A mention being built; every field not set has a plain default (id `1`, platform `twitter`,
/// author `a`, 2026-11-20T10:00:00Z).
#[derive(Debug, Clone)]
pub struct MentionBuilder {
    value: Value,
}

/// A mention with `text`.
pub fn mention(text: &str) -> MentionBuilder {
    MentionBuilder {
        value: json!({"id": "1", "platform": "twitter", "text": text, "created_at": "2026-11-20T10:00:00Z", "author": {"id": "a"}}),
    }
}

impl MentionBuilder {
    pub fn id(mut self, id: &str) -> Self {
        self.value["id"] = json!(id);
        self
    }

    pub fn platform(mut self, platform: &str) -> Self {
        self.value["platform"] = json!(platform);
        self
    }

    /// The author's id and follower count.
    pub fn author(mut self, id: &str, followers: u64) -> Self {
        self.value["author"] = json!({"id": id, "followers": followers});
        self
    }

    pub fn following(mut self, following: u64) -> Self {
        self.value["author"]["following"] = json!(following);
        self
    }

    pub fn brand(mut self, brand: Option<&str>) -> Self {
        self.value["brand"] = json!(brand);
        self
    }

    /// `created_at` as RFC 3339.
    pub fn at(mut self, created_at: &str) -> Self {
        self.value["created_at"] = json!(created_at);
        self
    }

    pub fn build(self) -> Mention {
        serde_json::from_value(self.value).expect("a fixture is a valid mention.v1")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_what_a_test_sets() {
        let m = mention("hello").id("7").author("b", 500).following(20).brand(Some("SkyNordic")).build();
        assert_eq!((m.id.as_str(), m.text.as_str(), m.author.id.as_str()), ("7", "hello", "b"));
        assert_eq!(
            (m.author.followers, m.author.extra["following"].as_u64(), m.brand.as_deref()),
            (Some(500), Some(20), Some("SkyNordic"))
        );
        assert_eq!(mention("x").build().platform, "twitter");
    }
}
