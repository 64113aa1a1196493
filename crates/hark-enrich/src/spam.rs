//! Spam and bot scoring (`rules-v1`): signals that each raise the score, combined as a noisy OR
//! (`1 - ∏(1 - w)`), so the score stays in 0–1 and every signal that fired is a reason a
//! moderator can read. Spam means bulk unsolicited promotion; an angry complaint is not spam.

use std::collections::HashMap;

use hark_core::{Mention, SpamScore};

use crate::text::{tokens, Token};

const SPAM_TOKENS: &str = include_str!("../data/spam-tokens-v1.tsv");

pub struct SpamScorer {
    words: HashMap<String, f64>,
    /// Multi-word phrases, matched on the space-joined token sequence.
    phrases: Vec<(String, f64)>,
    /// CJK terms, matched as substrings.
    cjk: Vec<(String, f64)>,
    threshold: f64,
}

impl SpamScorer {
    /// `threshold`: the score from which a mention is flagged `is_spam`.
    pub fn new(config: &hark_core::config::EnrichConfig) -> Self {
        let threshold = config.spam_threshold;
        let (mut words, mut phrases, mut cjk) = (HashMap::new(), Vec::new(), Vec::new());
        for line in SPAM_TOKENS.lines().filter(|l| !l.starts_with('#') && !l.trim().is_empty()) {
            let fields: Vec<&str> = line.split('\t').map(str::trim).collect();
            let [term, weight, ..] = fields[..] else { continue };
            let Ok(weight) = weight.parse::<f64>() else { continue };
            let term = term.to_lowercase();
            if term.chars().any(crate::text::is_cjk) {
                cjk.push((term, weight));
            } else if term.contains(' ') {
                // Normalise the phrase the way the text will be tokenised.
                let normalised: Vec<String> =
                    tokens(&term).into_iter().filter_map(|t| if let Token::Word(w) = t { Some(w) } else { None }).collect();
                phrases.push((normalised.join(" "), weight));
            } else {
                words.insert(term, weight);
            }
        }
        SpamScorer { words, phrases, cjk, threshold }
    }

    pub fn score(&self, mention: &Mention, _lang: &str) -> SpamScore {
        let text = &mention.text;
        let mut signals: Vec<(f64, String)> = Vec::new();

        let links = text.split_whitespace().filter(|w| w.starts_with("http://") || w.starts_with("https://") || w.starts_with("www.")).count();
        if links >= 2 {
            signals.push(((0.2 * (links - 1) as f64).min(0.6), format!("{links} links")));
        }
        let hashtags = text.split_whitespace().filter(|w| w.starts_with('#') && w.len() > 1).count();
        if hashtags >= 4 {
            signals.push(((0.12 * (hashtags - 3) as f64).min(0.5), format!("{hashtags} hashtags")));
        }
        let handles = text.split_whitespace().filter(|w| w.starts_with('@') && w.len() > 1).count();
        if handles >= 5 {
            signals.push(((0.1 * (handles - 4) as f64).min(0.4), format!("{handles} @mentions")));
        }
        let letters: Vec<char> = text.chars().filter(|c| c.is_alphabetic() && (c.is_uppercase() || c.is_lowercase())).collect();
        if letters.len() >= 12 && letters.iter().filter(|c| c.is_uppercase()).count() * 10 > letters.len() * 7 {
            signals.push((0.25, "mostly capital letters".into()));
        }
        if has_long_repeat(text) {
            signals.push((0.1, "a character repeated 5+ times".into()));
        }
        let following = mention.author.extra.get("following").and_then(|v| v.as_u64()).unwrap_or(0);
        let followers = mention.followers();
        if following >= 1000 && following > 20 * followers.max(1) {
            signals.push((0.25, format!("author follows {following} accounts but has {followers} followers")));
        }

        let words: Vec<String> =
            tokens(text).into_iter().filter_map(|t| if let Token::Word(w) = t { Some(w) } else { None }).collect();
        let mut seen = std::collections::HashSet::new();
        for word in &words {
            if let Some(weight) = self.words.get(word) {
                if seen.insert(word.clone()) {
                    signals.push((*weight, format!("token '{word}'")));
                }
            }
        }
        let joined = format!(" {} ", words.join(" "));
        for (phrase, weight) in &self.phrases {
            if joined.contains(&format!(" {phrase} ")) {
                signals.push((*weight, format!("phrase '{phrase}'")));
            }
        }
        let lower = text.to_lowercase();
        for (term, weight) in &self.cjk {
            if lower.contains(term.as_str()) {
                signals.push((*weight, format!("token '{term}'")));
            }
        }

        // Strongest first, so the first reasons are the ones that mattered most.
        signals.sort_by(|a, b| b.0.total_cmp(&a.0));
        let score = 1.0 - signals.iter().map(|(w, _)| 1.0 - w.clamp(0.0, 1.0)).product::<f64>();
        let score = (score * 1000.0).round() / 1000.0;
        SpamScore { score, is_spam: score >= self.threshold, reasons: signals.into_iter().map(|(_, r)| r).collect() }
    }

    pub fn version(&self) -> &'static str {
        "rules-v1"
    }
}

fn has_long_repeat(text: &str) -> bool {
    let mut run = (None, 0);
    for c in text.chars() {
        run = if Some(c) == run.0 { (run.0, run.1 + 1) } else { (Some(c), 1) };
        if run.1 >= 5 && !c.is_whitespace() && !c.is_ascii_digit() {
            return true;
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn score(mention: &Mention) -> SpamScore {
        SpamScorer::new(&Default::default()).score(mention, "en")
    }

    fn mention(text: &str, followers: u64, following: u64) -> Mention {
        serde_json::from_value(json!({"id": "1", "platform": "twitter", "text": text, "created_at": "2026-11-20T10:00:00Z",
            "author": {"id": "a", "followers": followers, "following": following}}))
        .unwrap()
    }

    #[test]
    fn promotion_scores_high_with_reasons() {
        let s = score(&mention(
            "FREE GIVEAWAY!!! click the link https://a.example/x https://b.example/y #win #free #iphone #giveaway #follow",
            3, 4000));
        assert!(s.is_spam, "{s:?}");
        assert!(s.reasons.iter().any(|r| r == "2 links"), "{:?}", s.reasons);
        assert!(s.reasons.iter().any(|r| r == "5 hashtags"), "{:?}", s.reasons);
        assert!(s.reasons.iter().any(|r| r.starts_with("author follows 4000")), "{:?}", s.reasons);
    }

    #[test]
    fn angry_complaint_is_not_spam() {
        let s = score(&mention("@SkyNordic my bag is lost for 5 days and nobody answers. Refund me now", 300, 200));
        assert!(!s.is_spam && s.score < 0.3, "{s:?}");
    }

    #[test]
    fn score_stays_in_range() {
        let s = score(&mention(&"FREE crypto giveaway click here ".repeat(1000), 0, 10_000));
        assert!((0.0..=1.0).contains(&s.score));
    }
}
