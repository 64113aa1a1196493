//! Tables of spam terms and their log-odds: the trained naive-Bayes unigrams and bigrams
//! (`data/spam-nb-v1.tsv`) and the hand-written multilingual words, phrases, stems, emoji and
//! Chinese terms (`data/spam-tokens-v3.tsv`). A lookup returns each term found once, however
//! often it occurs, so a long text cannot pile up evidence by repeating one word.

use std::collections::{HashMap, HashSet};

use crate::text::{tsv_rows, Phrases, Stems};

/// One term found in a text: as written in the table, and what it adds to the logit.
pub struct Hit {
    pub term: String,
    pub log_odds: f64,
}

#[derive(Default)]
pub struct TermTable {
    phrases: Phrases<f64>,
    /// Prefixes (`бесплатн*`), matched when no exact word entry matches.
    stems: Stems<f64>,
    /// Chinese terms, matched anywhere inside a run of CJK characters.
    cjk: Vec<(String, f64)>,
    symbols: HashMap<char, f64>,
    /// Words dropped before phrases are formed (the trained table skips them: see spam_train.py).
    skip: HashSet<String>,
}

impl TermTable {
    /// The trained table: `token log_odds spam_docs ham_docs`, or `token skip` for a skipped word.
    pub fn naive_bayes(tsv: &str) -> Self {
        let mut table = TermTable::default();
        for fields in tsv_rows(tsv) {
            let [term, log_odds, ..] = fields[..] else { continue };
            if log_odds == "skip" {
                table.skip.insert(term.to_string());
            } else if let Ok(log_odds) = log_odds.parse() {
                table.phrases.insert(term, log_odds);
            }
        }
        table
    }

    /// The hand-written table: `lang term log_odds`.
    pub fn hand_written(tsv: &str) -> Self {
        let mut table = TermTable::default();
        for fields in tsv_rows(tsv) {
            let [_lang, term, log_odds, ..] = fields[..] else { continue };
            let Ok(log_odds) = log_odds.parse::<f64>() else { continue };
            let term = term.to_lowercase();
            let mut chars = term.chars();
            let symbol = match (chars.next(), chars.next()) {
                (Some(c), None) if !c.is_alphanumeric() => Some(c),
                _ => None,
            };
            if term.chars().any(crate::text::is_cjk) {
                table.cjk.push((term, log_odds));
            } else if let Some(c) = symbol {
                table.symbols.insert(c, log_odds);
            } else if let Some(stem) = term.strip_suffix('*') {
                table.stems.insert(stem, log_odds);
            } else {
                table.phrases.insert(&term, log_odds);
            }
        }
        // Longest first, so 免费领取 is reported rather than its part 免费领 as well.
        table.cjk.sort_by_key(|(term, _)| std::cmp::Reverse(term.chars().count()));
        table
    }

    /// Word tokens of a text, in order, minus the skipped ones.
    pub fn keep<'a>(&self, words: &[&'a str]) -> Vec<&'a str> {
        words.iter().copied().filter(|w| !self.skip.contains(*w)).collect()
    }

    /// The distinct terms of this table in a text, given its word tokens (as [`keep`](Self::keep)
    /// returns them), its CJK runs and its symbols.
    pub fn find(&self, words: &[&str], cjk_runs: &[&str], symbols: &[char]) -> Vec<Hit> {
        let mut found: HashMap<String, f64> = HashMap::new();
        for (i, word) in words.iter().enumerate() {
            let mut exact = false;
            for (len, log_odds) in self.phrases.starting_at(words, i) {
                exact |= len == 1;
                found.insert(words[i..i + len].join(" "), *log_odds);
            }
            if !exact {
                if let Some((stem, log_odds)) = self.stems.longest(word) {
                    found.insert(format!("{stem}…"), *log_odds);
                }
            }
        }
        for run in cjk_runs {
            let mut covered: Vec<(usize, usize)> = Vec::new();
            for (term, log_odds) in &self.cjk {
                for (start, _) in run.match_indices(term.as_str()) {
                    let span = (start, start + term.len());
                    // A shorter term inside a longer one already found adds nothing.
                    if !covered.iter().any(|&(s, e)| s <= span.0 && span.1 <= e) {
                        covered.push(span);
                        found.insert(term.clone(), *log_odds);
                    }
                }
            }
        }
        for c in symbols {
            if let Some(log_odds) = self.symbols.get(c) {
                found.insert(c.to_string(), *log_odds);
            }
        }
        found.into_iter().map(|(term, log_odds)| Hit { term, log_odds }).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::text::{tokens, Token};

    fn terms(table: &TermTable, text: &str) -> Vec<String> {
        let toks = tokens(text);
        let words: Vec<&str> = toks.iter().filter_map(|t| if let Token::Word(w) = t { Some(w.as_str()) } else { None }).collect();
        let cjk: Vec<&str> = toks.iter().filter_map(|t| if let Token::Cjk(w) = t { Some(w.as_str()) } else { None }).collect();
        let symbols: Vec<char> = toks.iter().filter_map(|t| if let Token::Symbol(c) = t { Some(*c) } else { None }).collect();
        let mut found: Vec<String> = table.find(&table.keep(&words), &cjk, &symbols).into_iter().map(|h| h.term).collect();
        found.sort();
        found
    }

    #[test]
    fn words_phrases_stems_cjk_and_emoji() {
        let table = TermTable::hand_written(
            "en\tfree\t0.3\nen\tfree giveaway\t1.5\nru\tбесплатн*\t0.8\nzh\t免费领\t1\nzh\t免费领取\t2\n*\t💰\t1\n",
        );
        assert_eq!(terms(&table, "FREE giveaway, free!"), ["free", "free giveaway"]);
        assert_eq!(terms(&table, "Бесплатный безлимит 💰💰"), ["бесплатн…", "💰"]);
        assert_eq!(terms(&table, "红包免费领取"), ["免费领取"]);
    }

    #[test]
    fn naive_bayes_skips_words_before_forming_bigrams() {
        let table = TermTable::naive_bayes("a b\t2.0\t1\t1\nnow\tskip\t\t\n");
        assert_eq!(terms(&table, "a now b"), ["a b"]);
    }
}
