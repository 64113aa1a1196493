//! Splitting a mention's text into the pieces the models look at.

/// One piece of text: a lowercase word, a run of CJK characters, or a single emoji/symbol.
#[derive(Debug, Clone, PartialEq)]
pub enum Token {
    Word(String),
    /// Han, kana or Hangul characters; such scripts do not separate words with spaces.
    Cjk(String),
    Symbol(char),
    /// End of a clause (`, . ; ! ?` and their CJK forms): negation does not reach past it.
    Boundary,
}

pub fn is_cjk(c: char) -> bool {
    matches!(c as u32,
        0x3040..=0x30FF | 0x3400..=0x4DBF | 0x4E00..=0x9FFF | 0xF900..=0xFAFF | 0xAC00..=0xD7AF | 0x20000..=0x2FFFF)
}

fn is_word_char(c: char) -> bool {
    (c.is_alphanumeric() && !is_cjk(c)) || c == '\'' || c == '’'
}

/// Tokens in order. Links, @handles and #hashtags are skipped: the models judge the words.
pub fn tokens(text: &str) -> Vec<Token> {
    let mut out = Vec::new();
    for chunk in text.split_whitespace() {
        if chunk.starts_with("http://") || chunk.starts_with("https://") || chunk.starts_with("www.") || chunk.starts_with('@') {
            continue;
        }
        let chunk = chunk.strip_prefix('#').unwrap_or(chunk);
        let mut chars = chunk.chars().peekable();
        while let Some(c) = chars.next() {
            if is_cjk(c) {
                let mut run = c.to_string();
                while let Some(&next) = chars.peek().filter(|n| is_cjk(**n)) {
                    run.push(next);
                    chars.next();
                }
                out.push(Token::Cjk(run));
            } else if is_word_char(c) {
                let mut word: String = c.to_lowercase().collect();
                while let Some(&next) = chars.peek().filter(|n| is_word_char(**n)) {
                    word.extend(next.to_lowercase());
                    chars.next();
                }
                // Without copying the word when there is nothing to replace or trim.
                let word = if word.contains('’') { word.replace('’', "'") } else { word };
                let trimmed = word.trim_matches('\'');
                out.push(Token::Word(if trimmed.len() == word.len() { word } else { trimmed.to_string() }));
            } else if matches!(c, ',' | '.' | '!' | '?' | '，' | '。' | '！' | '？' | '；') {
                if out.last() != Some(&Token::Boundary) {
                    out.push(Token::Boundary);
                }
            } else if !c.is_whitespace()
                && !c.is_ascii_punctuation()
                && !matches!(c, '\u{fe0f}' | '\u{200d}' | '，' | '。' | '！' | '？' | '；')
            {
                out.push(Token::Symbol(c));
            } else if c == ':' || c == ';' {
                // Emoticons such as ":)" and ":(" are one symbol-like word.
                if let Some(&next) = chars.peek().filter(|n| matches!(n, ')' | '(' | 'D' | '/' | 'P' | '|')) {
                    out.push(Token::Word(format!("{c}{next}").to_lowercase()));
                    chars.next();
                }
            }
        }
    }
    out.retain(|t| !matches!(t, Token::Word(w) if w.is_empty()));
    out
}

/// The text as the phrase matchers see it: its tokens in order, each followed by a space, words
/// without diacritics (see [`fold_diacritics`]), and `|` at the start, at each clause boundary and
/// at the end. So `" refund "` matches the whole word, `" refund"` any word that starts with it,
/// `"| does "` a clause that opens with *does*, and a Chinese phrase its characters anywhere.
pub fn match_form(text: &str) -> String {
    form_of(&tokens(text))
}

/// [`match_form`] of a text's [`tokens`], when they are already made.
pub fn form_of(tokens: &[Token]) -> String {
    let mut out = String::with_capacity(tokens.len() * 8 + 8);
    out.push_str("| ");
    for token in tokens {
        match token {
            Token::Word(word) => out.extend(word.chars().map(fold_diacritics)),
            Token::Cjk(run) => out.push_str(run),
            Token::Symbol(c) => out.push(*c),
            Token::Boundary => {
                if out.ends_with("| ") {
                    continue;
                }
                out.push('|');
            }
        }
        out.push(' ');
    }
    if !out.ends_with("| ") {
        out.push('|');
    }
    out
}

/// A lowercase letter without its accent (`é` → `e`, `ł` → `l`, `ё` → `е`), since people often
/// type without them (*przez miesiac nosilam*). Other characters are returned unchanged.
pub fn fold_diacritics(c: char) -> char {
    match c {
        'à' | 'á' | 'â' | 'ã' | 'ä' | 'å' | 'ą' | 'ă' => 'a',
        'ç' | 'ć' | 'č' => 'c',
        'è' | 'é' | 'ê' | 'ë' | 'ę' | 'ě' => 'e',
        'ì' | 'í' | 'î' | 'ï' => 'i',
        'ł' => 'l',
        'ñ' | 'ń' | 'ň' => 'n',
        'ò' | 'ó' | 'ô' | 'õ' | 'ö' | 'ő' => 'o',
        'ś' | 'š' | 'ș' => 's',
        'ù' | 'ú' | 'û' | 'ü' | 'ů' | 'ű' => 'u',
        'ý' | 'ÿ' => 'y',
        'ź' | 'ż' | 'ž' => 'z',
        'ё' => 'е',
        _ => c,
    }
}

/// Word stems (prefixes of four characters or more, such as `ужасн` or `idiot`) and what each
/// stands for. A lookup finds the longest stem that starts a word; words whose first letter or
/// length rules out every stem cost no hashing, which keeps per-word lookups cheap.
pub struct Stems<T> {
    by_stem: std::collections::HashMap<String, T>,
    initials: Vec<char>,
    /// Lengths of the stems in characters, longest first.
    lengths: Vec<usize>,
}

impl<T> Default for Stems<T> {
    fn default() -> Self {
        Stems { by_stem: Default::default(), initials: Vec::new(), lengths: Vec::new() }
    }
}

impl<T> Stems<T> {
    /// Adds a stem; one shorter than four characters is ignored, as it would swallow short words.
    pub fn insert(&mut self, stem: &str, value: T) {
        let (Some(initial), length) = (stem.chars().next(), stem.chars().count()) else { return };
        if length < 4 {
            return;
        }
        if !self.initials.contains(&initial) {
            self.initials.push(initial);
        }
        if !self.lengths.contains(&length) {
            self.lengths.push(length);
            self.lengths.sort_unstable_by(|a, b| b.cmp(a));
        }
        self.by_stem.insert(stem.to_string(), value);
    }

    /// The longest stem that `word` starts with, and its value.
    pub fn longest(&self, word: &str) -> Option<(&str, &T)> {
        if !word.chars().next().is_some_and(|c| self.initials.contains(&c)) {
            return None;
        }
        self.lengths.iter().find_map(|&length| {
            let end = if length == word.chars().count() { word.len() } else { word.char_indices().nth(length)?.0 };
            self.by_stem.get_key_value(&word[..end]).map(|(stem, value)| (stem.as_str(), value))
        })
    }
}

/// Words and multi-word phrases (`free giveaway`, `shut up`) and what each stands for, kept by
/// their first word so that a text costs one lookup per word.
pub struct Phrases<T> {
    by_first_word: std::collections::HashMap<String, Vec<(Vec<String>, T)>>,
}

impl<T> Default for Phrases<T> {
    fn default() -> Self {
        Phrases { by_first_word: Default::default() }
    }
}

impl<T> Phrases<T> {
    /// Adds a term, split into words the way [`words`] reads a text.
    pub fn insert(&mut self, term: &str, value: T) {
        if let Some((first, rest)) = words(term).split_first() {
            self.by_first_word.entry(first.clone()).or_default().push((rest.to_vec(), value));
        }
    }

    /// The terms that start at `words[i]`: how many words each spans, and its value.
    pub fn starting_at<'a>(&'a self, words: &'a [&str], i: usize) -> impl Iterator<Item = (usize, &'a T)> + 'a {
        let after = &words[i + 1..];
        self.by_first_word.get(words[i]).into_iter().flatten().filter_map(move |(rest, value)| {
            let matched = after.len() >= rest.len() && rest.iter().zip(after).all(|(a, b)| a == b);
            matched.then_some((rest.len() + 1, value))
        })
    }
}

/// The rows of one of the crate's tab-separated data files: comment (`#`) and blank lines left
/// out, fields trimmed.
pub fn tsv_rows(tsv: &str) -> impl Iterator<Item = Vec<&str>> {
    tsv.lines().filter(|l| !l.starts_with('#') && !l.trim().is_empty()).map(|l| l.split('\t').map(str::trim).collect())
}

/// The first `n` characters of `s` (all of it when shorter), cut between characters, without
/// allocating.
pub fn first_chars(s: &str, n: usize) -> &str {
    s.char_indices().nth(n).map_or(s, |(i, _)| &s[..i])
}

/// A score as Hark writes it: three decimals are all a reader or a rule can use.
pub fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

/// The position and value of the largest probability (the first of equals).
pub fn most_likely(p: &[f64]) -> (usize, f64) {
    p.iter().enumerate().fold((0, f64::MIN), |best, (i, &p)| if p > best.1 { (i, p) } else { best })
}

/// The words of a text as [`tokens`] reads them, without CJK runs, symbols or boundaries.
pub fn words(text: &str) -> Vec<String> {
    tokens(text).into_iter().filter_map(|t| if let Token::Word(w) = t { Some(w) } else { None }).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_chars_keeps_whole_characters() {
        assert_eq!(first_chars("héllo wörld", 4), "héll");
        assert_eq!(first_chars("ab", 10), "ab");
        assert_eq!(first_chars("😀😀😀", 2), "😀😀");
    }

    #[test]
    fn words_cjk_runs_emoji_and_emoticons() {
        let t = tokens("@SkyNordic Don’t FLY #SkyNordic 太差了，😡😡 :( https://x.co/a");
        assert_eq!(
            t,
            vec![
                Token::Word("don't".into()),
                Token::Word("fly".into()),
                Token::Word("skynordic".into()),
                Token::Cjk("太差了".into()),
                Token::Boundary,
                Token::Symbol('😡'),
                Token::Symbol('😡'),
                Token::Word(":(".into()),
            ]
        );
    }

    #[test]
    fn longest_stem_that_starts_a_word() {
        let mut stems = Stems::default();
        stems.insert("żółw", 1);
        stems.insert("żółwik", 2);
        stems.insert("abc", 3);
        assert_eq!(stems.longest("żółwiki"), Some(("żółwik", &2)));
        assert_eq!(stems.longest("żółwie"), Some(("żółw", &1)));
        assert_eq!(stems.longest("żółw"), Some(("żółw", &1)));
        assert_eq!(stems.longest("żół"), None);
        assert_eq!(stems.longest("abcd"), None, "stems under four characters are ignored");
    }

    #[test]
    fn match_form_marks_clauses_and_folds_accents() {
        assert_eq!(match_form("@Veloce Zwrot pieniędzy? Już!"), "| zwrot pieniedzy | juz | ");
        assert_eq!(match_form("有人知道吗？谢谢"), "| 有人知道吗 | 谢谢 |");
        assert_eq!(match_form(""), "| ");
        assert_eq!(match_form("Est-ce que c'est prêt"), "| est ce que c'est pret |");
    }
}
