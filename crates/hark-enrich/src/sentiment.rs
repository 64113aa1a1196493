//! Sentiment models. [`SentimentModel`] is what the enricher calls; [`LexiconModel`] is the fast
//! built-in backend: per-language lexicons (en it pl ru zh es de fr) and an emoji lexicon, read
//! with negation, intensifiers and contrast words, plus a naive-Bayes model for Chinese. The data
//! files are in `data/` and are built by the scripts in `train/` (see `data/README.md`).

use std::collections::HashMap;

use hark_core::{Sentiment, SentimentLabel};

use crate::text::{first_chars, round3, tokens, tsv_rows, Token};

/// A model that labels a text negative, neutral or positive.
pub trait SentimentModel: Send + Sync {
    /// `lang` is the detected ISO 639-1 code (or `und`); models may use it or not.
    fn score(&self, text: &str, lang: &str) -> Sentiment;
    /// [`Self::score`] of a text whose [`tokens`] are already made: the enricher splits each
    /// text once for every model that reads words.
    fn score_tokens(&self, text: &str, _tokens: &[Token], lang: &str) -> Sentiment {
        self.score(text, lang)
    }
    /// Scores many `(text, lang)` pairs at once; models that batch (the transformer) override it.
    fn score_batch(&self, items: &[(&str, &str)]) -> Vec<Sentiment> {
        items.iter().map(|(text, lang)| self.score(text, lang)).collect()
    }
    /// Name and version, e.g. `lexicon-v2`; written into every enriched mention.
    fn name(&self) -> &str;
}

const LEXICON: &str = include_str!("../data/sentiment-lexicon-v2.tsv");
const EMOJI: &str = include_str!("../data/sentiment-emoji-v2.tsv");
const MODIFIERS: &str = include_str!("../data/sentiment-modifiers-v1.tsv");
const ZH_NAIVE_BAYES: &str = include_str!("../data/sentiment-zh-nb-v2.tsv");
const CLASSIFIER: &str = include_str!("../data/sentiment-classifier-v2.tsv");

/// Emoji that mark the praise around them as sarcasm.
const IRONY: [char; 3] = ['🙄', '🙃', '😒'];

/// The languages that have a lexicon of their own.
pub const LANGUAGES: [&str; 8] = ["en", "it", "pl", "ru", "zh", "es", "de", "fr"];

/// A negated sentiment word keeps part of its strength, reversed ("not good" is mildly negative).
const NEGATION: f64 = -0.74;
/// Longest CJK lexicon entry, in characters.
const MAX_CJK_TERM: usize = 6;
/// Entries from public lexicons count less than the hand-written ones: they were made for general
/// text, not for mentions of brands, and machine translation left errors in some of them.
const PUBLIC_WEIGHT: f64 = 0.3;

#[derive(Debug, Clone, Copy, PartialEq)]
enum Entry {
    Score(f64),
    /// An emoji's score: negators and intensifiers before it do not change it ("never again 😡").
    Emoji(f64),
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
            let list = self.prefixes.entry(first_chars(stem, 4).to_string()).or_default();
            list.push((stem.to_string(), entry));
            // Longest stem first, so the first match is the most specific one.
            list.sort_by_key(|(stem, _)| std::cmp::Reverse(stem.len()));
        } else {
            // The same word twice (two languages in the table for `und`): keep the stronger reading;
            // a modifier beats any score.
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
        self.prefixes.get(first_chars(word, 4))?.iter().find(|(stem, _)| word.starts_with(stem.as_str())).map(|(_, entry)| *entry)
    }

    /// Greedy longest matches in a run of CJK characters.
    fn cjk_run(&self, run: &str, out: &mut Vec<Option<Entry>>) {
        let bounds: Vec<usize> = run.char_indices().map(|(i, _)| i).chain([run.len()]).collect();
        let chars = bounds.len() - 1;
        let mut i = 0;
        while i < chars {
            let longest = (1..=MAX_CJK_TERM.min(chars - i))
                .rev()
                .find_map(|len| self.cjk.get(&run[bounds[i]..bounds[i + len]]).map(|entry| (len, *entry)));
            match longest {
                Some((len, entry)) => {
                    out.push(Some(entry));
                    i += len;
                }
                None => i += 1,
            }
        }
    }
}

/// A binarised naive-Bayes model over CJK characters and character pairs (trained for Chinese).
#[derive(Default)]
struct NaiveBayes {
    /// log P(feature | positive) − log P(feature | negative); a single character is keyed `(c, None)`.
    weights: HashMap<(char, Option<char>), f64>,
}

impl NaiveBayes {
    fn load(file: &str) -> Self {
        let mut weights = HashMap::new();
        for fields in tsv_rows(file) {
            if let [feature, weight] = fields[..] {
                let mut chars = feature.chars();
                if let (Some(first), Ok(weight)) = (chars.next(), weight.parse::<f64>()) {
                    weights.insert((first, chars.next()), weight);
                }
            }
        }
        NaiveBayes { weights }
    }

    /// Log-odds of positive over negative, divided by √(features seen) so long texts are not surer
    /// merely for being long. 0 when the text has no known feature.
    fn evidence(&self, text: &str) -> f64 {
        let mut seen = Vec::new();
        let mut prev: Option<char> = None;
        for c in text.chars() {
            if crate::text::is_cjk(c) {
                seen.push((c, None));
                if let Some(p) = prev {
                    seen.push((p, Some(c)));
                }
                prev = Some(c);
            } else {
                prev = None;
            }
        }
        // Binarised: each feature counts once however often it occurs.
        seen.sort_unstable();
        seen.dedup();
        let (sum, n) = seen.iter().filter_map(|f| self.weights.get(f)).fold((0.0, 0usize), |(sum, n), w| (sum + w, n + 1));
        if n == 0 {
            0.0
        } else {
            sum / (n as f64).sqrt()
        }
    }
}

/// What the model found in a text, before it is turned into a label.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Evidence {
    /// Total strength of the positive and of the negative lexicon contributions, after negation,
    /// intensifiers and contrast words.
    pub positive: f64,
    pub negative: f64,
    /// Sentiment terms (words, emoji, CJK terms) found.
    pub hits: usize,
    /// Negators found (*not*, *nie*, *не*, 没…): complaints are full of them even where they negate
    /// no sentiment word ("no signal", "not one update").
    pub negators: usize,
    /// The naive-Bayes log-odds for Chinese text (0 for other languages).
    pub naive_bayes: f64,
    pub question: bool,
    pub exclamations: usize,
    /// Links and bare domains, typical of promotions (which are neutral).
    pub links: usize,
    /// The text starts by addressing an account (`@brand ...`), as complaints often do.
    pub addressed: bool,
    /// Whether the text's language has a lexicon that found nothing, so the all-language table was
    /// used (a hint that the language was misdetected).
    pub fallback: bool,
}

impl Evidence {
    /// The positive-minus-negative sum of the lexicon terms.
    pub fn sum(&self) -> f64 {
        self.positive - self.negative
    }
}

/// The classifier's inputs, in the order of `data/sentiment-classifier-v2.tsv`.
pub const FEATURES: [&str; 13] = [
    "bias",
    "log_positive",
    "log_negative",
    "no_hits",
    "naive_bayes",
    "negators",
    "question",
    "exclamations",
    "links",
    "addressed",
    "fallback",
    "conflict",
    "balance",
];

/// Sentiment mass beyond this adds nothing: a real mention never has more, and a 1 MB text of
/// repeated words is then judged by the balance of its terms, not by their count.
const MAX_MASS: f64 = 20.0;

/// The classifier's inputs computed from the evidence.
pub fn features(e: &Evidence) -> [f64; 13] {
    let mass = e.positive + e.negative;
    [
        1.0,
        e.positive.min(MAX_MASS).ln_1p(),
        e.negative.min(MAX_MASS).ln_1p(),
        (e.hits == 0) as u8 as f64,
        e.naive_bayes.clamp(-4.0, 4.0),
        (e.negators.min(3)) as f64,
        e.question as u8 as f64,
        // One "!" is enthusiasm; "!!!" is mostly promotion.
        (e.exclamations >= 3) as u8 as f64,
        (e.links.min(2)) as f64,
        e.addressed as u8 as f64,
        e.fallback as u8 as f64,
        if mass > 0.0 { e.positive.min(e.negative) / mass } else { 0.0 },
        if mass > 0.0 { (e.positive - e.negative) / mass } else { 0.0 },
    ]
}

/// A multinomial logistic regression over [`FEATURES`]: one weight per feature and label.
struct Classifier {
    /// weights[label][feature], labels in the order negative, neutral, positive.
    weights: [[f64; 13]; 3],
}

impl Classifier {
    fn load(file: &str) -> Self {
        let mut weights = [[0.0; 13]; 3];
        for fields in tsv_rows(file) {
            if let [name, negative, neutral, positive] = fields[..] {
                if let Some(i) = FEATURES.iter().position(|f| *f == name) {
                    for (label, w) in [negative, neutral, positive].iter().enumerate() {
                        weights[label][i] = w.parse().unwrap_or(0.0);
                    }
                }
            }
        }
        Classifier { weights }
    }

    /// Probabilities of negative, neutral and positive.
    fn probabilities(&self, evidence: &Evidence) -> [f64; 3] {
        let x = features(evidence);
        let z = self.weights.map(|w| w.iter().zip(&x).map(|(w, x)| w * x).sum::<f64>());
        let max = z.iter().cloned().fold(f64::MIN, f64::max);
        let e = z.map(|z| (z - max).exp());
        let total: f64 = e.iter().sum();
        e.map(|e| e / total)
    }
}

pub struct LexiconModel {
    /// One table per language in [`LANGUAGES`], each with the emoji and cross-language terms.
    by_lang: HashMap<&'static str, Terms>,
    /// Every language's terms in one table, for `und`, other languages and mixed texts.
    all: Terms,
    zh: NaiveBayes,
    classifier: Classifier,
}

impl Default for LexiconModel {
    fn default() -> Self {
        Self::new()
    }
}

impl LexiconModel {
    /// Builds the model from the data files compiled into the binary.
    pub fn new() -> Self {
        let mut by_lang: HashMap<&'static str, Terms> = LANGUAGES.iter().map(|l| (*l, Terms::default())).collect();
        let mut all = Terms::default();
        let mut add = |lang: &str, term: &str, entry: Entry| {
            match by_lang.get_mut(lang) {
                Some(terms) => terms.insert(term, entry),
                // `*`: emoji, emoticons and words used alike in every language.
                None => by_lang.values_mut().for_each(|terms| terms.insert(term, entry)),
            }
            all.insert(term, entry);
        };
        let weight = |source: &str| if source == "public" { PUBLIC_WEIGHT } else { 1.0 };
        for fields in tsv_rows(EMOJI) {
            if let [emoji, score, source] = fields[..] {
                // The tokenizer drops variation selectors and joiners, so ❤️ is matched as ❤.
                let emoji: String = emoji.chars().filter(|c| !matches!(c, '\u{fe0f}' | '\u{200d}')).collect();
                if let (1, Ok(score)) = (emoji.chars().count(), score.parse::<f64>()) {
                    add("*", &emoji, Entry::Score(score * weight(source)));
                }
            }
        }
        for fields in tsv_rows(LEXICON) {
            if let [lang, term, score, source] = fields[..] {
                if let Ok(score) = score.parse::<f64>() {
                    add(lang, term, Entry::Score(score * weight(source)));
                }
            }
        }
        for fields in tsv_rows(MODIFIERS) {
            if let [lang, term, kind, factor] = fields[..] {
                let factor: f64 = factor.parse().unwrap_or(1.0);
                let entry = match kind {
                    "negator" => Entry::Negator,
                    "intensifier" | "diminisher" => Entry::Intensifier(factor),
                    "contrast" => Entry::Contrast(factor),
                    _ => continue,
                };
                add(lang, term, entry);
            }
        }
        LexiconModel { by_lang, all, zh: NaiveBayes::load(ZH_NAIVE_BAYES), classifier: Classifier::load(CLASSIFIER) }
    }

    /// What the model finds in `text`, read with the lexicon of `lang` (an ISO 639-1 code; `und`
    /// or a language without a lexicon of its own uses every language's terms).
    pub fn evidence(&self, text: &str, lang: &str) -> Evidence {
        self.evidence_of(text, &tokens(text), lang)
    }

    /// [`Self::evidence`] with the text's [`tokens`] already made.
    fn evidence_of(&self, text: &str, tokens: &[Token], lang: &str) -> Evidence {
        let code = lang.split(['-', '_']).next().unwrap_or("");
        let lang = LANGUAGES.iter().copied().find(|l| l.eq_ignore_ascii_case(code)).unwrap_or("");
        let mut evidence = match self.by_lang.get(lang) {
            Some(terms) => {
                let own = read(terms, tokens);
                // A mention whose language was misdetected (short texts are hard) still gets read.
                if own.hits == 0 {
                    Evidence { fallback: true, ..read(&self.all, tokens) }
                } else {
                    own
                }
            }
            None => read(&self.all, tokens),
        };
        let other_cjk = ["ja", "ko"].iter().any(|l| l.eq_ignore_ascii_case(code));
        if lang == "zh" || (!other_cjk && text.chars().any(crate::text::is_cjk)) {
            evidence.naive_bayes = self.zh.evidence(text);
        }
        if text.contains(IRONY) {
            // "Wirklich toller Service 🙄": praise next to an eye-roll is sarcasm.
            evidence.negative += evidence.positive;
            evidence.positive = 0.0;
        }
        evidence.question = text.contains(['?', '？']);
        evidence.exclamations = text.matches(['!', '！']).count();
        evidence.links = text.split_whitespace().filter(|chunk| is_link(chunk)).count();
        evidence.addressed = text.trim_start().starts_with('@');
        evidence
    }
}

/// Reads a text's tokens with one table of terms.
fn read(terms: &Terms, tokens: &[Token]) -> Evidence {
    let mut entries: Vec<Option<Entry>> = Vec::with_capacity(tokens.len());
    for token in tokens {
        match token {
            Token::Word(word) => entries.push(terms.word(word)),
            Token::Symbol(c) => entries.push(terms.word(c.encode_utf8(&mut [0; 4])).map(|entry| match entry {
                Entry::Score(s) => Entry::Emoji(s),
                other => other,
            })),
            Token::Boundary => entries.push(Some(Entry::Boundary)),
            Token::Cjk(run) => terms.cjk_run(run, &mut entries),
        }
    }
    let mut evidence = Evidence::default();
    let (mut negated_for, mut boost, mut weight) = (0usize, 1.0, 1.0);
    for entry in entries {
        match entry {
            Some(Entry::Negator) => {
                negated_for = 4;
                evidence.negators += 1;
            }
            Some(Entry::Boundary) => {
                negated_for = 0;
                boost = 1.0;
            }
            Some(Entry::Intensifier(f)) => boost = f,
            Some(Entry::Contrast(f)) => {
                // What follows "but" outweighs what came before it.
                evidence.positive *= 0.5;
                evidence.negative *= 0.5;
                weight = f;
            }
            Some(entry @ (Entry::Score(s) | Entry::Emoji(s))) => {
                let mut value = s * weight;
                if matches!(entry, Entry::Score(_)) {
                    value *= boost;
                    if negated_for > 0 {
                        // A negation flips the first sentiment word it reaches, not the ones after.
                        value *= NEGATION;
                        negated_for = 1;
                    }
                    boost = 1.0;
                }
                evidence.hits += 1;
                if value > 0.0 {
                    evidence.positive += value;
                } else {
                    evidence.negative -= value;
                }
            }
            None => {}
        }
        negated_for = negated_for.saturating_sub(1);
    }
    evidence
}

/// A URL or a bare domain such as `veloce-promo.xyz/win`.
fn is_link(chunk: &str) -> bool {
    if chunk.contains("://") || chunk.starts_with("www.") {
        return true;
    }
    let host = chunk.split('/').next().unwrap_or("").trim_end_matches(['.', ',', '!', ')']);
    match host.rsplit_once('.') {
        Some((name, tld)) => {
            !name.is_empty()
                && !name.starts_with('@')
                && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.')
                && (2..=6).contains(&tld.len())
                && tld.chars().all(|c| c.is_ascii_lowercase())
        }
        None => false,
    }
}

impl SentimentModel for LexiconModel {
    fn score(&self, text: &str, lang: &str) -> Sentiment {
        self.score_tokens(text, &tokens(text), lang)
    }

    fn score_tokens(&self, text: &str, tokens: &[Token], lang: &str) -> Sentiment {
        let evidence = self.evidence_of(text, tokens, lang);
        let [negative, neutral, positive] = self.classifier.probabilities(&evidence);
        let (label, confidence) = if evidence.hits == 0 && evidence.naive_bayes == 0.0 {
            // Nothing with a polarity was found: the classifier's lean then comes only from cues
            // such as "starts with @brand", so say neutral, with the (low) confidence it has in that.
            (SentimentLabel::Neutral, neutral)
        } else if negative >= neutral && negative >= positive {
            (SentimentLabel::Negative, negative)
        } else if positive >= neutral {
            (SentimentLabel::Positive, positive)
        } else {
            (SentimentLabel::Neutral, neutral)
        };
        // The classifier's probabilities were fitted on labelled mentions, so the probability of the
        // label is its confidence; the score is how much more positive than negative it is.
        let score = positive - negative;
        Sentiment { label, score: round3(score), confidence: round3(confidence), model: self.name().to_string() }
    }

    fn name(&self) -> &str {
        "lexicon-v2"
    }
}

#[cfg(test)]
mod tests {
    use std::sync::OnceLock;

    use super::*;
    use SentimentLabel::{Negative, Neutral, Positive};

    fn model() -> &'static LexiconModel {
        static MODEL: OnceLock<LexiconModel> = OnceLock::new();
        MODEL.get_or_init(LexiconModel::new)
    }

    fn label_in(text: &str, lang: &str) -> SentimentLabel {
        model().score(text, lang).label
    }

    fn label(text: &str) -> SentimentLabel {
        label_in(text, "und")
    }

    #[test]
    fn lexicon_files_load() {
        let model = model();
        assert!(model.all.words.len() > 20_000, "{}", model.all.words.len());
        assert!(!model.all.cjk.is_empty());
        assert!(!model.all.prefixes.is_empty());
        assert!(model.zh.weights.len() > 10_000);
        for lang in LANGUAGES {
            assert!(model.by_lang[lang].words.len() + model.by_lang[lang].cjk.len() > 1_000, "{lang}");
        }
    }

    #[test]
    fn polarity_in_several_languages_and_emoji() {
        assert_eq!(label("This is the worst airline ever, terrible service"), Negative);
        assert_eq!(label("Love the new linen set, perfect fit, thank you!"), Positive);
        assert_eq!(label("Servizio pessimo, che schifo"), Negative);
        assert_eq!(label("Отличный сервис, спасибо!"), Positive);
        assert_eq!(label("太差了，非常失望"), Negative);
        assert_eq!(label("😡😡😡"), Negative);
        assert_eq!(label("The flight leaves at 10:40 from gate 12"), Neutral);
    }

    #[test]
    fn each_language_with_its_own_lexicon() {
        let cases = [
            ("en", "the crew was lovely and the seats were comfortable", Positive),
            ("en", "lost my luggage and the support is useless, awful", Negative),
            ("it", "pizza buonissima e consegna velocissima, bravi", Positive),
            ("it", "ordine in ritardo e cibo freddo, pessimo servizio", Negative),
            ("pl", "świetna obsługa i pyszne jedzenie, polecam", Positive),
            ("pl", "fatalna jakość, bluza rozpruła się po tygodniu, porażka", Negative),
            ("ru", "отличная связь и вежливая поддержка, спасибо", Positive),
            ("ru", "ужасное качество, деньги на ветер", Negative),
            ("zh", "服务很好，非常满意，下次还会再来", Positive),
            ("zh", "质量很差，客服态度恶劣，太失望了", Negative),
            ("es", "un servicio excelente, todo perfecto, gracias", Positive),
            ("es", "servicio horrible, la peor compañía, un desastre", Negative),
            ("de", "super Service, sehr freundlich und schnell", Positive),
            ("de", "schrecklicher Service, total enttäuscht, nie wieder", Negative),
            ("fr", "service excellent, livreur très sympa, merci", Positive),
            ("fr", "service nul, commande froide, c'est honteux", Negative),
        ];
        for (lang, text, expected) in cases {
            assert_eq!(label_in(text, lang), expected, "{lang}: {text}");
        }
    }

    #[test]
    fn neutral_questions_and_announcements() {
        assert_eq!(label_in("does the wide leg trouser come in petite length?", "en"), Neutral);
        assert_eq!(label_in("PastaPronto consegna anche a Monza o solo a Milano?", "it"), Neutral);
        assert_eq!(label_in("Lumina Wear ouvre une boutique à Lyon le 10 mars", "fr"), Neutral);
    }

    #[test]
    fn emoji_only_posts() {
        assert_eq!(label("😡😡😡"), Negative);
        assert_eq!(label("🤬"), Negative);
        assert_eq!(label("😍😍😍"), Positive);
        assert_eq!(label("❤️❤️"), Positive);
        assert_eq!(label("👍🏽"), Positive);
        // A negator before an emoji does not flip it.
        assert_eq!(label_in("never again 😡😡", "en"), Negative);
        // Skin tones and variation selectors do not change the reading.
        assert_eq!(model().evidence("👍🏽", "und").positive, model().evidence("👍", "und").positive);
    }

    #[test]
    fn negation_flips_in_every_language() {
        let cases = [
            ("en", "good", "not good"),
            ("it", "buono", "non buono"),
            ("pl", "dobre", "nie dobre"),
            ("ru", "хороший", "не хороший"),
            ("zh", "满意", "不太满意"),
            ("es", "bueno", "no es bueno"),
            ("de", "gut", "nicht gut"),
            ("fr", "bon", "pas bon"),
        ];
        for (lang, plain, negated) in cases {
            let plain_sum = model().evidence(plain, lang).sum();
            let negated_sum = model().evidence(negated, lang).sum();
            assert!(plain_sum > 0.0, "{lang}: {plain} = {plain_sum}");
            assert!(negated_sum < 0.0, "{lang}: {negated} = {negated_sum}");
        }
        assert_eq!(label_in("nie polecam", "pl"), Negative);
        assert_eq!(label_in("non lo consiglio a nessuno", "it"), Negative);
        assert_eq!(label_in("не советую, не понравилось", "ru"), Negative);
    }

    #[test]
    fn intensifiers_and_contrast() {
        let sum = |text: &str, lang: &str| model().evidence(text, lang).sum();
        assert!(sum("very good", "en") > sum("good", "en"));
        assert!(sum("molto buono", "it") > sum("buono", "it"));
        assert!(sum("очень хорошо", "ru") > sum("хорошо", "ru"));
        // What follows "but" outweighs what came before it.
        assert!(sum("the food was good but the delivery was terrible", "en") < 0.0);
        assert!(sum("il cibo era pessimo ma il rider gentilissimo", "it") > sum("il cibo era pessimo", "it"));
        // Negation stops at the clause boundary and after the first word it flips.
        assert_eq!(label("doesn't work, terrible"), Negative);
        assert_eq!(label("no problem, thanks!"), Positive);
    }

    #[test]
    fn eye_roll_makes_praise_sarcastic() {
        assert_eq!(label_in("Wirklich toller Service", "de"), Positive);
        assert_eq!(label_in("Wirklich toller Service 🙄", "de"), Negative);
        assert_eq!(label_in("great, another delay, thanks a lot 🙃", "en"), Negative);
    }

    #[test]
    fn language_fallback() {
        // A misdetected or unknown language still gets read, with every language's terms.
        assert_eq!(label_in("Servizio pessimo, che schifo", "en"), Negative);
        assert_eq!(label_in("Servizio pessimo, che schifo", "xx"), Negative);
        assert_eq!(label_in("Отличный сервис, спасибо!", "pt-BR"), Positive);
        assert!(model().evidence("Servizio pessimo", "en").fallback);
        assert!(!model().evidence("Servizio pessimo", "it").fallback);
        assert!(!model().evidence("Servizio pessimo", "und").fallback);
    }

    #[test]
    fn confidence_is_a_probability_and_tracks_certainty() {
        let sure = model().score("worst airline ever, terrible, awful service, never again 😡😡", "en");
        let unsure = model().score("the flight was ok I guess, but the food not so much", "en");
        for s in [&sure, &unsure] {
            assert!((0.0..=1.0).contains(&s.confidence), "{s:?}");
            assert!((-1.0..=1.0).contains(&s.score), "{s:?}");
            assert_eq!(s.model, "lexicon-v2");
        }
        assert_eq!(sure.label, Negative);
        assert!(sure.confidence > 0.7, "{sure:?}");
        assert!(sure.confidence > unsure.confidence + 0.2, "{sure:?} {unsure:?}");
        assert!(unsure.confidence < 0.6, "{unsure:?}");
        assert!(sure.score < -0.5);
    }

    #[test]
    fn links_make_promotions_neutral() {
        assert!(is_link("https://x.co/a"));
        assert!(is_link("veloce-freedata.xyz"));
        assert!(!is_link("10:40"));
        assert!(!is_link("end."));
        let promo = "Get unlimited data FREE for 1 year!!! promo code VELOCE100 👉 veloce-freedata.xyz #giveaway";
        assert_eq!(label_in(promo, "en"), Neutral);
    }

    #[test]
    fn empty_and_huge_texts_are_fine() {
        assert_eq!(label(""), Neutral);
        assert_eq!(label("   \n\t "), Neutral);
        // About 1 MB each.
        let huge = "bad ".repeat(250_000);
        assert_eq!(label(&huge), Negative);
        let huge_zh = "质量很差".repeat(90_000);
        assert_eq!(label_in(&huge_zh, "zh"), Negative);
        let noise: String = (0..1_000_000u32).map(|i| char::from_u32(0x20 + i % 0x2FF0).unwrap_or(' ')).collect();
        let s = model().score(&noise, "und");
        assert!((0.0..=1.0).contains(&s.confidence));
    }
}
