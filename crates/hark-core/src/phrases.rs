//! Finding configured words and phrases in a mention's text: one matcher for route rules and
//! alert keyword rules, so the same keyword list means the same thing in both.
//!
//! Matching is case-insensitive. In [`PhraseMatch::Words`] (the default) a phrase matches whole
//! words in order, and a word ending in `*` matches any word it begins (`recall*` finds
//! "recalled"); in [`PhraseMatch::Substring`] a phrase matches anywhere, inside words too.
//! Phrases in scripts written without spaces (Chinese, Japanese, Korean, Thai) have no word
//! boundaries to go by and match as substrings in either mode.

use serde::{Deserialize, Serialize};

/// How a phrase is looked for in a text.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PhraseMatch {
    #[default]
    Words,
    Substring,
}

impl PhraseMatch {
    pub fn is_default(&self) -> bool {
        *self == PhraseMatch::default()
    }
}

/// A text made ready for matching once, whatever number of matchers look at it.
pub struct Text {
    lowercase: String,
    words: Vec<String>,
}

impl Text {
    pub fn new(text: &str) -> Text {
        let lowercase = text.to_lowercase();
        let words = lowercase.split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty()).map(String::from).collect();
        Text { lowercase, words }
    }
}

/// One phrase, as configured and as matched.
#[derive(Debug, Clone)]
enum Pattern {
    /// Lowercased words; the last may be a prefix (`recall*`).
    Words {
        words: Vec<String>,
        last_is_prefix: bool,
    },
    Substring(String),
}

/// A list of phrases compiled for one [`PhraseMatch`] mode.
#[derive(Debug, Clone, Default)]
pub struct PhraseMatcher {
    phrases: Vec<(String, Pattern)>,
}

impl PhraseMatcher {
    pub fn new(phrases: &[String], mode: PhraseMatch) -> PhraseMatcher {
        let phrases = phrases
            .iter()
            .map(|p| p.trim())
            .filter(|p| !p.is_empty() && p.chars().any(char::is_alphanumeric))
            .map(|phrase| {
                let lower = phrase.to_lowercase();
                let pattern = if mode == PhraseMatch::Substring || lower.chars().any(unspaced_script) {
                    Pattern::Substring(lower.trim_end_matches('*').to_string())
                } else {
                    let last_is_prefix = lower.ends_with('*');
                    let words = Text::new(&lower).words;
                    Pattern::Words { words, last_is_prefix }
                };
                (phrase.to_string(), pattern)
            })
            .collect();
        PhraseMatcher { phrases }
    }

    pub fn is_empty(&self) -> bool {
        self.phrases.is_empty()
    }

    /// The first phrase found in `text`, as configured.
    pub fn find(&self, text: &Text) -> Option<&str> {
        self.phrases.iter().find(|(_, pattern)| pattern.is_in(text)).map(|(phrase, _)| phrase.as_str())
    }
}

impl Pattern {
    fn is_in(&self, text: &Text) -> bool {
        match self {
            Pattern::Substring(s) => text.lowercase.contains(s.as_str()),
            Pattern::Words { words, last_is_prefix } => text.words.windows(words.len()).any(|window| {
                let (last, rest) = words.split_last().expect("a phrase has a word");
                let (seen_last, seen_rest) = window.split_last().expect("same length");
                seen_rest == rest && if *last_is_prefix { seen_last.starts_with(last.as_str()) } else { seen_last == last }
            }),
        }
    }
}

/// Han, kana, Hangul syllables and Thai: scripts where a word is not set off by spaces.
fn unspaced_script(c: char) -> bool {
    matches!(c as u32, 0x3040..=0x30ff | 0x3400..=0x4dbf | 0x4e00..=0x9fff | 0xac00..=0xd7af | 0x0e00..=0x0e7f)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn find<'a>(phrases: &'a PhraseMatcher, text: &str) -> Option<&'a str> {
        phrases.find(&Text::new(text))
    }

    fn matcher(phrases: &[&str], mode: PhraseMatch) -> PhraseMatcher {
        PhraseMatcher::new(&phrases.iter().map(|p| p.to_string()).collect::<Vec<_>>(), mode)
    }

    #[test]
    fn words_match_whole_words_in_order() {
        let m = matcher(&["recall", "Food Poisoning"], PhraseMatch::Words);
        assert_eq!(find(&m, "A RECALL of the brakes"), Some("recall"));
        assert_eq!(find(&m, "got food-poisoning there"), Some("Food Poisoning"));
        assert_eq!(find(&m, "they recalled it"), None);
        assert_eq!(find(&m, "poisoning from food"), None);
    }

    #[test]
    fn a_star_matches_the_words_a_prefix_begins() {
        let m = matcher(&["recall*", "отзыв*"], PhraseMatch::Words);
        assert_eq!(find(&m, "they recalled it"), Some("recall*"));
        assert_eq!(find(&m, "много отзывов"), Some("отзыв*"));
        assert_eq!(find(&m, "precall"), None);
    }

    #[test]
    fn substrings_match_inside_words() {
        let m = matcher(&["recall"], PhraseMatch::Substring);
        assert_eq!(find(&m, "they recalled it"), Some("recall"));
        assert_eq!(find(&m, "precall"), Some("recall"));
    }

    #[test]
    fn unspaced_scripts_match_as_substrings_in_either_mode() {
        let m = matcher(&["召回"], PhraseMatch::Words);
        assert_eq!(find(&m, "汽车召回了"), Some("召回"));
    }

    #[test]
    fn empty_and_punctuation_only_phrases_never_match() {
        let m = matcher(&["", "  ", "!!"], PhraseMatch::Words);
        assert!(m.is_empty());
        assert_eq!(find(&m, "anything !!"), None);
    }
}
