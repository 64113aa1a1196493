//! Brand matching: which configured brand queries a mention matches, and how — its own `brand`
//! field, an @handle, a #hashtag, a keyword or product name in the text, or a misspelling of a
//! keyword — so mentions that don't tag the brand are still caught. A query's `exclude` phrases
//! veto its text matches ("lumina lamp" is not about Lumina Wear).

use hark_core::{BrandMatch, BrandMatchKind, Mention};

use crate::config::BrandQuery;

use crate::text::is_cjk;

/// Keywords shorter than this are never matched fuzzily: one edit turns "veloce" into "velocity"
/// country, but "sky" into "ski", "spy" and "say".
const MIN_FUZZY_LETTERS: usize = 5;

/// A query with its terms normalised once.
struct CompiledQuery {
    name: String,
    name_lower: String,
    /// Word sequences (lowercase words joined by one space) or CJK strings, with their kind.
    phrases: Vec<(String, BrandMatchKind)>,
    hashtags: Vec<String>,
    handles: Vec<String>,
    exclude: Vec<String>,
    /// Single-word keywords (spaces removed) long enough for fuzzy matching.
    fuzzy: Vec<String>,
    max_edit_distance: usize,
}

pub struct BrandMatcher {
    queries: Vec<CompiledQuery>,
}

/// Lowercase words of a text, split at anything that is not a letter, digit or apostrophe.
fn words(text: &str) -> Vec<String> {
    text.to_lowercase()
        .split(|c: char| !(c.is_alphanumeric() || c == '\'') || is_cjk(c))
        .filter(|w| !w.is_empty())
        .map(String::from)
        .collect()
}

fn normalise_phrase(phrase: &str) -> String {
    if phrase.chars().any(is_cjk) {
        phrase.to_lowercase()
    } else {
        words(phrase).join(" ")
    }
}

impl BrandMatcher {
    pub fn new(queries: &[BrandQuery]) -> Self {
        let queries = queries
            .iter()
            .map(|q| {
                let mut phrases: Vec<(String, BrandMatchKind)> = Vec::new();
                for (terms, kind) in [(&q.keywords, BrandMatchKind::Keyword), (&q.products, BrandMatchKind::Product)] {
                    phrases.extend(terms.iter().map(|t| normalise_phrase(t)).filter(|t| !t.is_empty()).map(|t| (t, kind)));
                }
                let tag = |t: &String| t.trim_start_matches(['#', '@']).to_lowercase();
                let fuzzy = q
                    .keywords
                    .iter()
                    .map(|k| words(k).concat())
                    .filter(|k| k.chars().count() >= MIN_FUZZY_LETTERS && !k.chars().any(is_cjk))
                    .collect();
                CompiledQuery {
                    name: q.name.clone(),
                    name_lower: q.name.to_lowercase(),
                    phrases,
                    hashtags: q.hashtags.iter().map(tag).collect(),
                    handles: q.handles.iter().map(tag).collect(),
                    exclude: q.exclude.iter().map(|t| normalise_phrase(t)).filter(|t| !t.is_empty()).collect(),
                    fuzzy,
                    max_edit_distance: q.max_edit_distance as usize,
                }
            })
            .collect();
        BrandMatcher { queries }
    }

    /// Every brand the mention matches, with the first match of each kind.
    pub fn matches(&self, mention: &Mention) -> Vec<BrandMatch> {
        if self.queries.is_empty() {
            return Vec::new();
        }
        let text = Text::new(&mention.text);
        let mut found = Vec::new();
        for query in &self.queries {
            let mut this: Vec<BrandMatch> = Vec::new();
            if let Some(brand) = &mention.brand {
                if brand.to_lowercase() == query.name_lower {
                    push(&mut this, &query.name, BrandMatchKind::Field, brand);
                }
            }
            if query.exclude.iter().any(|phrase| text.contains(phrase)) {
                found.append(&mut this);
                continue;
            }
            for handle in text.handles.iter().filter(|h| query.handles.contains(h)) {
                push(&mut this, &query.name, BrandMatchKind::Handle, handle);
            }
            for hashtag in text.hashtags.iter().filter(|h| query.hashtags.contains(h)) {
                push(&mut this, &query.name, BrandMatchKind::Hashtag, hashtag);
            }
            for (phrase, kind) in &query.phrases {
                if text.contains(phrase) {
                    push(&mut this, &query.name, *kind, phrase);
                }
            }
            let exact = this.iter().any(|m| m.kind == BrandMatchKind::Keyword);
            if query.max_edit_distance > 0 && !exact {
                let close = text.words.iter().find(|word| {
                    query.fuzzy.iter().any(|keyword| {
                        let (w, k) = (word.chars().count(), keyword.chars().count());
                        w.abs_diff(k) <= query.max_edit_distance
                            && w >= MIN_FUZZY_LETTERS
                            && strsim::damerau_levenshtein(word, keyword) <= query.max_edit_distance
                    })
                });
                if let Some(word) = close {
                    push(&mut this, &query.name, BrandMatchKind::Misspelling, word);
                }
            }
            found.append(&mut this);
        }
        found
    }
}

/// Adds a match unless the brand already has one of that kind.
fn push(this: &mut Vec<BrandMatch>, brand: &str, kind: BrandMatchKind, term: &str) {
    if !this.iter().any(|m| m.kind == kind) {
        this.push(BrandMatch { brand: brand.to_string(), kind, term: term.to_string() });
    }
}

/// A mention's text, taken apart once for every query.
struct Text {
    /// Words outside @handles and #hashtags, joined by single spaces and padded with one at each end.
    joined: String,
    words: Vec<String>,
    lower: String,
    handles: Vec<String>,
    hashtags: Vec<String>,
}

impl Text {
    fn new(text: &str) -> Self {
        let (mut handles, mut hashtags, mut plain) = (Vec::new(), Vec::new(), Vec::new());
        for token in text.split_whitespace() {
            let tag = |t: &str| words(t).first().cloned();
            if let Some(rest) = token.strip_prefix('@') {
                handles.extend(tag(rest));
            } else if let Some(rest) = token.strip_prefix('#') {
                hashtags.extend(tag(rest));
            } else if !token.starts_with("http://") && !token.starts_with("https://") {
                plain.push(token);
            }
        }
        let words = words(&plain.join(" "));
        Text { joined: format!(" {} ", words.join(" ")), words, lower: text.to_lowercase(), handles, hashtags }
    }

    /// Whether a normalised phrase occurs: as whole words, or as a substring for CJK.
    fn contains(&self, phrase: &str) -> bool {
        if phrase.chars().any(is_cjk) {
            self.lower.contains(phrase)
        } else {
            self.joined.contains(&format!(" {phrase} "))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hark_core::fixtures;

    fn mention(text: &str, brand: Option<&str>) -> Mention {
        fixtures::mention(text).brand(brand).build()
    }

    fn matcher() -> BrandMatcher {
        let query = |name: &str| BrandQuery {
            name: name.into(),
            keywords: vec![],
            products: vec![],
            hashtags: vec![],
            handles: vec![],
            exclude: vec![],
            max_edit_distance: 1,
        };
        BrandMatcher::new(&[
            BrandQuery {
                keywords: vec!["SkyNordic".into(), "Sky Nordic".into(), "北欧航空".into()],
                products: vec!["EuroBonus Plus".into()],
                hashtags: vec!["#skynordic".into()],
                handles: vec!["@SkyNordic".into()],
                ..query("SkyNordic")
            },
            BrandQuery { keywords: vec!["Lumina".into()], exclude: vec!["lumina lamp".into()], ..query("Lumina Wear") },
        ])
    }

    fn kinds(text: &str, brand: Option<&str>) -> Vec<(String, BrandMatchKind, String)> {
        matcher().matches(&mention(text, brand)).into_iter().map(|m| (m.brand, m.kind, m.term)).collect()
    }

    #[test]
    fn every_kind_of_match_is_named() {
        use BrandMatchKind::*;
        let s = |x: &str| x.to_string();
        assert_eq!(kinds("@SkyNordic lost my bag", None), vec![(s("SkyNordic"), Handle, s("skynordic"))]);
        assert_eq!(
            kinds("never again #SkyNordic", Some("SkyNordic")),
            vec![(s("SkyNordic"), Field, s("SkyNordic")), (s("SkyNordic"), Hashtag, s("skynordic"))]
        );
        assert_eq!(kinds("Flew Sky Nordic to Oslo", None), vec![(s("SkyNordic"), Keyword, s("sky nordic"))]);
        assert_eq!(kinds("my eurobonus plus points vanished", None), vec![(s("SkyNordic"), Product, s("eurobonus plus"))]);
        assert_eq!(kinds("北欧航空的服务太差了", None), vec![(s("SkyNordic"), Keyword, s("北欧航空"))]);
        assert_eq!(kinds("skynordik lost my bag again", None), vec![(s("SkyNordic"), Misspelling, s("skynordik"))]);
    }

    #[test]
    fn words_must_match_whole_and_exclusions_veto() {
        assert!(kinds("the skyline of Oslo", None).is_empty());
        assert!(kinds("Luminary ideas", None).is_empty(), "two edits away and not a word match");
        assert_eq!(kinds("love my Lumina hoodie", None).len(), 1);
        assert!(kinds("my lumina lamp broke", None).is_empty());
        // The brand field is the platform's word, not the text's: exclusions do not undo it.
        assert_eq!(kinds("my lumina lamp broke", Some("lumina wear")).len(), 1);
    }

    #[test]
    fn nothing_configured_matches_nothing_and_huge_text_is_fine() {
        assert!(BrandMatcher::new(&[]).matches(&mention("SkyNordic", Some("SkyNordic"))).is_empty());
        let huge = "skynordik ".repeat(100_000);
        assert_eq!(kinds(&huge, None).len(), 1);
    }
}
