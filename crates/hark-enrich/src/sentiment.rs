//! Sentiment models. [`SentimentModel`] is what the enricher calls; [`LexiconModel`] is the fast
//! built-in backend: a hand-written multilingual lexicon (en it pl ru zh es de fr and emoji, in
//! `data/`) with negation, intensifiers and contrast words.

use std::collections::HashMap;

use hark_core::{Sentiment, SentimentLabel};

use crate::text::{tokens, Token};

/// A model that labels a text negative, neutral or positive.
pub trait SentimentModel: Send + Sync {
    /// `lang` is the detected ISO 639-1 code (or `und`); models may use it or not.
    fn score(&self, text: &str, lang: &str) -> Sentiment;
    /// Scores many `(text, lang)` pairs at once; models that batch (the transformer) override it.
    fn score_batch(&self, items: &[(&str, &str)]) -> Vec<Sentiment> {
        items.iter().map(|(text, lang)| self.score(text, lang)).collect()
    }
    /// Name and version, e.g. `lexicon-v1`; written into every enriched mention.
    fn name(&self) -> &str;
}

const LEXICON: &str = include_str!("../data/sentiment-lexicon-v1.tsv");
const MODIFIERS: &str = include_str!("../data/sentiment-modifiers-v1.tsv");

/// VADER's normalisation constant: maps a sum of scores into -1..1.
const ALPHA: f64 = 15.0;
/// A negated sentiment word keeps part of its strength, reversed ("not good" is mildly negative).
const NEGATION: f64 = -0.74;
/// Scores below this magnitude are neutral.
const NEUTRAL_BAND: f64 = 0.05;
/// Longest CJK lexicon entry, in characters.
const MAX_CJK_TERM: usize = 6;

#[derive(Debug, Clone, Copy, PartialEq)]
enum Entry {
    Score(f64),
    Negator,
    Intensifier(f64),
    Contrast(f64),
    Boundary,
}

/// Terms by kind of match: whole words, word prefixes (`stem*`), and CJK substrings.
#[derive(Default)]
struct Terms {
    words: HashMap<String, Entry>,
    /// Keyed by the first four characters of the prefix, for a fast look-up.
    prefixes: HashMap<String, Vec<(String, Entry)>>,
    cjk: HashMap<String, Entry>,
}

impl Terms {
    fn insert(&mut self, term: &str, entry: Entry) {
        if term.chars().any(crate::text::is_cjk) {
            self.cjk.insert(term.to_string(), entry);
        } else if let Some(stem) = term.strip_suffix('*') {
            let head: String = stem.chars().take(4).collect();
            self.prefixes.entry(head).or_default().push((stem.to_string(), entry));
        } else {
            // The same word in two languages: keep the stronger reading.
            let strength = |e: &Entry| if let Entry::Score(s) = e { s.abs() } else { 10.0 };
            match self.words.get(term) {
                Some(old) if strength(old) >= strength(&entry) => {}
                _ => {
                    self.words.insert(term.to_string(), entry);
                }
            }
        }
    }

    fn word(&self, word: &str) -> Option<Entry> {
        if let Some(entry) = self.words.get(word) {
            return Some(*entry);
        }
        let head: String = word.chars().take(4).collect();
        self.prefixes
            .get(&head)?
            .iter()
            .filter(|(stem, _)| word.starts_with(stem.as_str()))
            .max_by_key(|(stem, _)| stem.len())
            .map(|(_, entry)| *entry)
    }

    /// Greedy longest matches in a run of CJK characters.
    fn cjk_run(&self, run: &str, out: &mut Vec<Entry>) {
        let chars: Vec<char> = run.chars().collect();
        let mut i = 0;
        while i < chars.len() {
            let longest = (1..=MAX_CJK_TERM.min(chars.len() - i)).rev().find_map(|len| {
                let candidate: String = chars[i..i + len].iter().collect();
                self.cjk.get(&candidate).map(|entry| (len, *entry))
            });
            match longest {
                Some((len, entry)) => {
                    out.push(entry);
                    i += len;
                }
                None => i += 1,
            }
        }
    }
}

pub struct LexiconModel {
    terms: Terms,
}

impl Default for LexiconModel {
    fn default() -> Self {
        Self::new()
    }
}

impl LexiconModel {
    /// Builds the model from the lexicon files compiled into the binary.
    pub fn new() -> Self {
        let mut terms = Terms::default();
        for fields in rows(LEXICON) {
            if let [_lang, term, score] = fields[..] {
                if let Ok(score) = score.parse::<f64>() {
                    terms.insert(term, Entry::Score(score));
                }
            }
        }
        for fields in rows(MODIFIERS) {
            if let [_lang, term, kind, factor] = fields[..] {
                let factor: f64 = factor.parse().unwrap_or(1.0);
                let entry = match kind {
                    "negator" => Entry::Negator,
                    "intensifier" | "diminisher" => Entry::Intensifier(factor),
                    "contrast" => Entry::Contrast(factor),
                    _ => continue,
                };
                terms.insert(term, entry);
            }
        }
        LexiconModel { terms }
    }

    /// The sum of the text's sentiment, before normalisation.
    fn raw_score(&self, text: &str) -> f64 {
        let mut entries: Vec<Option<Entry>> = Vec::new();
        for token in tokens(text) {
            match token {
                Token::Word(word) => entries.push(self.terms.word(&word)),
                Token::Symbol(c) => entries.push(self.terms.word(c.encode_utf8(&mut [0; 4]))),
                Token::Boundary => entries.push(Some(Entry::Boundary)),
                Token::Cjk(run) => {
                    let mut found = Vec::new();
                    self.terms.cjk_run(&run, &mut found);
                    entries.extend(found.into_iter().map(Some));
                }
            }
        }
        let (mut sum, mut negated_for, mut boost, mut weight) = (0.0, 0usize, 1.0, 1.0);
        for entry in entries {
            match entry {
                Some(Entry::Negator) => negated_for = 4,
                Some(Entry::Boundary) => {
                    negated_for = 0;
                    boost = 1.0;
                }
                Some(Entry::Intensifier(f)) => boost = f,
                Some(Entry::Contrast(f)) => {
                    // What follows "but" outweighs what came before it.
                    sum *= 0.5;
                    weight = f;
                }
                Some(Entry::Score(s)) => {
                    let mut value = s * boost * weight;
                    if negated_for > 0 {
                        // A negation flips the first sentiment word it reaches, not the ones after.
                        value *= NEGATION;
                        negated_for = 1;
                    }
                    sum += value;
                    boost = 1.0;
                }
                None => {}
            }
            negated_for = negated_for.saturating_sub(1);
        }
        let exclamations = text.matches('!').count().min(4) as f64;
        if sum != 0.0 {
            sum += sum.signum() * 0.3 * exclamations;
        }
        sum
    }
}

impl SentimentModel for LexiconModel {
    fn score(&self, text: &str, _lang: &str) -> Sentiment {
        let sum = self.raw_score(text);
        let score = sum / (sum * sum + ALPHA).sqrt();
        let label = if score >= NEUTRAL_BAND {
            SentimentLabel::Positive
        } else if score <= -NEUTRAL_BAND {
            SentimentLabel::Negative
        } else {
            SentimentLabel::Neutral
        };
        // A heuristic, not a calibrated probability: strong scores are surer, and a text with no
        // sentiment words at all is neutral with middling confidence.
        let confidence = if label == SentimentLabel::Neutral { 0.5 } else { (0.5 + score.abs() / 2.0).min(1.0) };
        Sentiment { label, score: round3(score), confidence: round3(confidence), model: self.name().to_string() }
    }

    fn name(&self) -> &str {
        "lexicon-v1"
    }
}

fn rows(file: &str) -> impl Iterator<Item = Vec<&str>> {
    file.lines().filter(|l| !l.starts_with('#') && !l.trim().is_empty()).map(|l| l.split('\t').map(str::trim).collect())
}

fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn label(text: &str) -> SentimentLabel {
        LexiconModel::new().score(text, "und").label
    }

    #[test]
    fn lexicon_files_load() {
        let model = LexiconModel::new();
        assert!(model.terms.words.len() > 500, "{}", model.terms.words.len());
        assert!(!model.terms.cjk.is_empty());
        assert!(!model.terms.prefixes.is_empty());
    }

    #[test]
    fn polarity_in_several_languages_and_emoji() {
        assert_eq!(label("This is the worst airline ever, terrible service"), SentimentLabel::Negative);
        assert_eq!(label("Love the new linen set, perfect fit, thank you!"), SentimentLabel::Positive);
        assert_eq!(label("Servizio pessimo, che schifo"), SentimentLabel::Negative);
        assert_eq!(label("Отличный сервис, спасибо!"), SentimentLabel::Positive);
        assert_eq!(label("太差了，非常失望"), SentimentLabel::Negative);
        assert_eq!(label("😡😡😡"), SentimentLabel::Negative);
        assert_eq!(label("The flight leaves at 10:40 from gate 12"), SentimentLabel::Neutral);
    }

    #[test]
    fn negation_flips_and_intensifiers_strengthen() {
        let model = LexiconModel::new();
        assert!(model.raw_score("good") > 0.0);
        assert!(model.raw_score("not good") < 0.0);
        assert!(model.raw_score("very good") > model.raw_score("good"));
        assert_eq!(label("nie polecam"), SentimentLabel::Negative);
        // Negation stops at the clause boundary and after the first word it flips.
        assert_eq!(label("doesn't work, terrible"), SentimentLabel::Negative);
        assert_eq!(label("no problem, thanks!"), SentimentLabel::Positive);
    }

    #[test]
    fn empty_and_huge_texts_are_fine() {
        assert_eq!(label(""), SentimentLabel::Neutral);
        let huge = "bad ".repeat(250_000);
        assert_eq!(label(&huge), SentimentLabel::Negative);
    }
}
