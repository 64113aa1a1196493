//! Intent: what the author wants (complaint, question, praise, feedback, purchase intent, other),
//! the label community managers route on.
//!
//! The classifier is a small linear model over features a person can read:
//!
//! - **cues**: phrases typical of each intent, per language (`data/intent-cues-v1.tsv`): *refund*,
//!   *still waiting*, *rimborso*, *возврат*, 退款 for complaints; *does anyone know*, *czy*, 请问
//!   for questions; *please add*, *sarebbe bello*, 建议 for feedback; *just booked*, *хочу купить*,
//!   想买 for purchase intent; *giveaway*, *link in bio* for other…
//! - **sentence shape**: a question mark (`?`, `？`, `¿`), whether the text opens with a question,
//!   whether a question is long enough to be a real one rather than a rhetorical "seriously?".
//! - **sentiment**: a complaint is usually negative and praise positive, but the sentiment alone
//!   does not decide (an angry question is a question; a suggestion may be cross or cheerful).
//! - **links and exclamations**, which mark promotional posts (intent `other`).
//! - **disagreements** between cues and sentiment: complaint cues in a "positive" text are
//!   usually sarcasm, praise cues in a "negative" one a story with a happy end.
//!
//! Each intent's score is the weighted sum of the features (`data/intent-weights-v1.tsv`, fitted by
//! `train/intent_fit.py`); the label is the highest score and the confidence its softmax share.

use std::collections::HashMap;

use aho_corasick::{AhoCorasick, AhoCorasickKind};
use hark_core::{Intent, IntentLabel, Sentiment, SentimentLabel};
use strum::VariantArray;

use crate::text::{first_chars, form_of, match_form, round3, Token};

const CUES: &str = include_str!("../data/intent-cues-v1.tsv");
const WEIGHTS: &str = include_str!("../data/intent-weights-v1.tsv");

/// Languages the cue file covers. For any other language (or `und`) every cue counts, at a discount.
const CUE_LANGUAGES: [&str; 8] = ["en", "it", "pl", "ru", "zh", "es", "de", "fr"];
/// The weight of a cue from another language when the text's language has no cues of its own.
const FOREIGN_CUE_WEIGHT: f64 = 0.5;
/// A long text can pile up cues of every kind; capping the sums keeps one label from running away.
const CUE_CAP: f64 = 3.0;
/// A question with at least this many words asks something; a shorter one ("seriously?") is
/// usually rhetorical.
const LONG_QUESTION_WORDS: usize = 4;
/// Only the start of a huge text is read: intent shows early, and this bounds the work.
const MAX_CHARS: usize = 4000;

/// The features, in the order of the weight file's rows.
pub const FEATURES: [&str; 17] = [
    "bias",
    "cue_complaint",
    "cue_question",
    "cue_praise",
    "cue_feedback",
    "cue_purchase_intent",
    "cue_other",
    "question_mark",
    "opens_with_question",
    "long_question",
    "negative",
    "positive",
    "sentiment_score",
    "links",
    "exclamations",
    "complaint_cues_when_positive",
    "praise_cues_when_negative",
];

/// One feature vector, indexed like [`FEATURES`].
pub type Features = [f64; FEATURES.len()];

/// One phrase of the cue file.
struct Cue {
    /// `None` for cues of every language (`*`).
    lang: Option<String>,
    label: IntentLabel,
    weight: f64,
}

pub struct IntentClassifier {
    matcher: AhoCorasick,
    /// Indexed by the matcher's pattern ids.
    cues: Vec<Cue>,
    /// `weights[label][feature]`, labels in [`IntentLabel::VARIANTS`] order.
    weights: [Features; 6],
}

impl Default for IntentClassifier {
    fn default() -> Self {
        Self::new()
    }
}

impl IntentClassifier {
    /// Builds the classifier from the cue and weight files compiled into the binary.
    pub fn new() -> Self {
        let (patterns, cues) = parse_cues(CUES);
        // A DFA: more memory (a few MB) than the default NFA, and several times faster.
        let matcher = AhoCorasick::builder()
            .kind(Some(AhoCorasickKind::DFA))
            .build(&patterns)
            .expect("the compiled-in intent cues form a valid automaton");
        IntentClassifier { matcher, cues, weights: parse_weights(WEIGHTS) }
    }

    /// `lang` is the detected ISO 639-1 code (or `und`); `sentiment` what the sentiment model said.
    pub fn classify(&self, text: &str, lang: &str, sentiment: &Sentiment) -> Intent {
        let text = first_chars(text, MAX_CHARS);
        self.classify_form(text, &match_form(text), lang, sentiment)
    }

    /// [`Self::classify`] of a text whose [`tokens`](crate::text::tokens) are already made.
    pub fn classify_tokens(&self, text: &str, tokens: &[Token], lang: &str, sentiment: &Sentiment) -> Intent {
        // Only the first MAX_CHARS characters are read: a longer text is split again, cut there.
        if text.len() > MAX_CHARS {
            return self.classify(text, lang, sentiment);
        }
        self.classify_form(text, &form_of(tokens), lang, sentiment)
    }

    /// A text already cut to MAX_CHARS characters, with its [`match_form`].
    fn classify_form(&self, text: &str, form: &str, lang: &str, sentiment: &Sentiment) -> Intent {
        if !form.chars().any(char::is_alphanumeric) {
            // Emoji, links or nothing at all: no request to route. Emoji-only posts still carry
            // feeling (the sentiment says which), so the label is not certain.
            let confidence = if text.trim().is_empty() { 1.0 } else { 0.5 };
            return Intent { label: IntentLabel::Other, confidence };
        }
        let probabilities = self.probabilities(&self.features_of(text, form, lang, sentiment));
        let (best, p) = crate::text::most_likely(&probabilities);
        Intent { label: IntentLabel::VARIANTS[best], confidence: round3(p) }
    }

    /// The features of a text: what the weights multiply. Public so the fitting script can read
    /// them (`examples/intent_eval.rs --features`).
    pub fn features(&self, text: &str, lang: &str, sentiment: &Sentiment) -> Features {
        let text = first_chars(text, MAX_CHARS);
        self.features_of(text, &match_form(text), lang, sentiment)
    }

    /// [`Self::features`] of a text already truncated, with its [`match_form`].
    fn features_of(&self, text: &str, form: &str, lang: &str, sentiment: &Sentiment) -> Features {
        let mut f = [0.0; FEATURES.len()];
        f[0] = 1.0;

        let known_lang = CUE_LANGUAGES.contains(&lang);
        let mut found: Vec<usize> = self.matcher.find_overlapping_iter(form).map(|m| m.pattern().as_usize()).collect();
        // Each phrase counts once, however often it occurs.
        found.sort_unstable();
        found.dedup();
        for id in found {
            let cue = &self.cues[id];
            let weight = match (&cue.lang, known_lang) {
                (None, _) => cue.weight,
                (Some(l), true) if l == lang => cue.weight,
                (Some(_), true) => continue,
                (Some(_), false) => cue.weight * FOREIGN_CUE_WEIGHT,
            };
            f[1 + label_index(cue.label)] += weight;
        }
        for cue_sum in &mut f[1..7] {
            *cue_sum = cue_sum.min(CUE_CAP);
        }

        let shape = QuestionShape::of(text);
        f[7] = shape.has_question as u8 as f64;
        f[8] = shape.opens_with_question as u8 as f64;
        f[9] = shape.long_question as u8 as f64;

        f[10] = (sentiment.label == SentimentLabel::Negative) as u8 as f64;
        f[11] = (sentiment.label == SentimentLabel::Positive) as u8 as f64;
        f[12] = sentiment.score.clamp(-1.0, 1.0);

        f[13] = (text.split_whitespace().filter(|w| is_link(w)).count() as f64).min(3.0);
        f[14] = (text.matches(['!', '！']).count() as f64 / 2.0).min(3.0);

        // Sarcasm ("love paying €5 for a cold pizza 👏") reads positive to a lexicon, and a praise
        // that tells a mishap ("lost my phone, they sent it back") reads negative: let the cues
        // outweigh the sentiment when the two disagree.
        f[15] = f[1] * f[11];
        f[16] = f[3] * f[10];
        f
    }

    /// Softmax of the label scores, in [`IntentLabel::VARIANTS`] order.
    fn probabilities(&self, features: &Features) -> [f64; 6] {
        let mut scores = [0.0; 6];
        for (score, weights) in scores.iter_mut().zip(&self.weights) {
            *score = weights.iter().zip(features).map(|(w, x)| w * x).sum();
        }
        let max = scores.iter().cloned().fold(f64::MIN, f64::max);
        let exp: Vec<f64> = scores.iter().map(|s| (s - max).exp()).collect();
        let total: f64 = exp.iter().sum();
        let mut p = [0.0; 6];
        for (p, e) in p.iter_mut().zip(&exp) {
            *p = e / total;
        }
        p
    }

    pub fn version() -> &'static str {
        "intent-rules-v1"
    }
}

/// Where the text's questions are.
#[derive(Debug, Default, PartialEq)]
struct QuestionShape {
    has_question: bool,
    /// The first sentence is a question ("does the jacket come in petite?").
    opens_with_question: bool,
    /// Some question has at least [`LONG_QUESTION_WORDS`] words.
    long_question: bool,
}

impl QuestionShape {
    fn of(text: &str) -> Self {
        let mut shape = QuestionShape::default();
        let mut sentence_start = 0;
        let mut first = true;
        for (i, c) in text.char_indices() {
            if !matches!(c, '.' | '!' | '?' | '。' | '！' | '？' | '\n') {
                continue;
            }
            let sentence = &text[sentence_start..i];
            sentence_start = i + c.len_utf8();
            let words = word_count(sentence);
            if words == 0 {
                continue;
            }
            // Spanish opens a question with "¿", which may stand mid-sentence after a vocative.
            let is_question = matches!(c, '?' | '？') || sentence.contains('¿');
            if is_question {
                shape.has_question = true;
                shape.opens_with_question |= first;
                shape.long_question |= words >= LONG_QUESTION_WORDS;
            }
            first = false;
        }
        let rest = &text[sentence_start..];
        if rest.contains('¿') && word_count(rest) > 0 {
            shape.has_question = true;
            shape.opens_with_question |= first;
            shape.long_question |= word_count(rest) >= LONG_QUESTION_WORDS;
        }
        shape
    }
}

/// Words in a sentence, roughly: runs of letters and digits, and one word per two Chinese or
/// Japanese characters (those scripts do not separate words). @handles count as words here.
fn word_count(sentence: &str) -> usize {
    let (mut words, mut cjk, mut in_word) = (0usize, 0usize, false);
    for c in sentence.chars() {
        if crate::text::is_cjk(c) {
            cjk += 1;
            in_word = false;
        } else if c.is_alphanumeric() {
            words += !in_word as usize;
            in_word = true;
        } else {
            in_word = c == '\'' || c == '’';
        }
    }
    words + cjk.div_ceil(2)
}

fn is_link(word: &str) -> bool {
    let word = word.trim_start_matches(|c: char| !c.is_alphanumeric());
    if word.starts_with("http://") || word.starts_with("https://") || word.starts_with("www.") {
        return true;
    }
    // Bare domains such as "promo-codes.xyz": a dot between letters and a short alphabetic tail.
    match word.trim_end_matches(|c: char| !c.is_alphanumeric()).rsplit_once('.') {
        Some((host, tld)) => {
            !host.is_empty()
                && host.chars().last().is_some_and(|c| c.is_ascii_alphanumeric())
                && (2..=6).contains(&tld.len())
                && tld.chars().all(|c| c.is_ascii_lowercase())
        }
        None => false,
    }
}

fn label_index(label: IntentLabel) -> usize {
    IntentLabel::VARIANTS.iter().position(|&l| l == label).expect("VARIANTS lists every label")
}

fn parse_label(name: &str) -> Option<IntentLabel> {
    name.parse().ok()
}

/// The cue file's rows as matcher patterns (in [`match_form`]) and what each one means.
///
/// A pattern is one or more words. A trailing `*` makes the last word a prefix (`refund*` matches
/// *refunded*); a leading `^` anchors it at the start of a clause (`^does`). Chinese and Japanese
/// patterns match anywhere, since those scripts do not separate words.
fn parse_cues(file: &str) -> (Vec<String>, Vec<Cue>) {
    let mut patterns = Vec::new();
    let mut cues = Vec::new();
    for fields in crate::text::tsv_rows(file) {
        let line = fields.join("\t");
        let [lang, label, weight, phrase] = fields[..] else { panic!("intent cue line without 4 fields: {line}") };
        let label = parse_label(label).unwrap_or_else(|| panic!("unknown intent label in cue file: {label}"));
        let weight: f64 = weight.parse().unwrap_or_else(|_| panic!("bad weight in intent cue line: {line}"));
        let (anchored, phrase) = match phrase.strip_prefix('^') {
            Some(rest) => (true, rest),
            None => (false, phrase),
        };
        let (prefix, phrase) = match phrase.strip_suffix('*') {
            Some(rest) => (true, rest),
            None => (false, phrase),
        };
        let body = match_form(phrase);
        let body = body.trim_matches(|c| c == ' ' || c == '|');
        let cjk = body.chars().all(|c| crate::text::is_cjk(c) || c == ' ');
        let pattern = if cjk {
            body.replace(' ', "")
        } else {
            format!("{}{}{}", if anchored { "| " } else { " " }, body, if prefix { "" } else { " " })
        };
        patterns.push(pattern);
        cues.push(Cue { lang: (lang != "*").then(|| lang.to_string()), label, weight });
    }
    (patterns, cues)
}

/// The weight file: a header naming the labels, then one row per feature.
fn parse_weights(file: &str) -> [Features; 6] {
    let mut weights = [[0.0; FEATURES.len()]; 6];
    let mut rows = crate::text::tsv_rows(file);
    let header = rows.next().expect("intent weight file has a header");
    let columns: Vec<usize> = header[1..]
        .iter()
        .map(|name| label_index(parse_label(name).unwrap_or_else(|| panic!("unknown label in weights: {name}"))))
        .collect();
    let feature_index: HashMap<&str, usize> = FEATURES.iter().enumerate().map(|(i, &f)| (f, i)).collect();
    for fields in rows {
        let feature = feature_index[fields[0]];
        for (&label, value) in columns.iter().zip(&fields[1..]) {
            weights[label][feature] = value.parse().unwrap_or_else(|_| panic!("bad intent weight: {}", fields.join("\t")));
        }
    }
    weights
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sentiment(label: SentimentLabel, score: f64) -> Sentiment {
        Sentiment { label, score, confidence: 0.7, model: "test".into() }
    }

    fn neutral() -> Sentiment {
        sentiment(SentimentLabel::Neutral, 0.0)
    }

    fn intent(text: &str, lang: &str, s: &Sentiment) -> IntentLabel {
        IntentClassifier::new().classify(text, lang, s).label
    }

    #[test]
    fn question_shape() {
        let s = QuestionShape::of("@luminawear does the coat come in petite? asking for my sister");
        assert_eq!(s, QuestionShape { has_question: true, opens_with_question: true, long_question: true });
        let s = QuestionShape::of("Parcel lost for a week and the tracking never moved. Seriously?");
        assert_eq!(s, QuestionShape { has_question: true, opens_with_question: false, long_question: false });
        let s = QuestionShape::of("Veloce, ¿tenéis tarifas para autónomos");
        assert!(s.has_question && s.opens_with_question);
        assert_eq!(QuestionShape::of("no questions here."), QuestionShape::default());
    }

    #[test]
    fn links_are_counted_bare_or_with_scheme() {
        assert!(is_link("https://x.co/a"));
        assert!(is_link("promo-free.xyz"));
        assert!(is_link("👉pastapronto-hb.cn"));
        assert!(!is_link("9,99"));
        assert!(!is_link("end."));
        assert!(!is_link("3.5"));
    }

    #[test]
    fn empty_and_emoji_only_are_other() {
        let c = IntentClassifier::new();
        let empty = c.classify("", "und", &neutral());
        assert_eq!((empty.label, empty.confidence), (IntentLabel::Other, 1.0));
        let emoji = c.classify("😡😡😡", "und", &sentiment(SentimentLabel::Negative, -0.6));
        assert_eq!(emoji.label, IntentLabel::Other);
        assert!(emoji.confidence < 1.0);
    }

    #[test]
    fn huge_text_is_classified() {
        let text = "my refund is still not here, third week of waiting. ".repeat(20_000);
        assert!(text.len() > 1_000_000);
        let i = IntentClassifier::new().classify(&text, "en", &sentiment(SentimentLabel::Negative, -0.8));
        assert_eq!(i.label, IntentLabel::Complaint);
        assert!(i.confidence > 0.0 && i.confidence <= 1.0);
    }

    #[test]
    fn confidence_is_a_probability() {
        let c = IntentClassifier::new();
        for text in ["where can I buy the coat?", "terrible", "news: SkyNordic adds a route", "x"] {
            let i = c.classify(text, "en", &neutral());
            assert!(i.confidence > 1.0 / 6.0 && i.confidence <= 1.0, "{text}: {}", i.confidence);
        }
    }

    #[test]
    fn unknown_language_still_uses_cues() {
        let s = sentiment(SentimentLabel::Negative, -0.6);
        assert_eq!(intent("Still waiting for my refund, third week now.", "und", &s), IntentLabel::Complaint);
        assert_eq!(intent("Does the jacket come in petite sizes?", "xx", &neutral()), IntentLabel::Question);
    }

    /// One case per language and label: `(lang, text, sentiment, expected)`.
    #[test]
    fn each_language_and_label() {
        use IntentLabel::*;
        use SentimentLabel::{Negative as N, Neutral as U, Positive as P};
        let cases: &[(&str, &str, SentimentLabel, IntentLabel)] = &[
            ("en", "@VeloceMobile charged twice this month and support keeps hanging up. I want a refund", N, Complaint),
            ("en", "does anyone know if SkyNordic allows pets in the cabin?", U, Question),
            ("en", "the PastaPronto lasagne is unreal, best delivery in town 😍", P, Praise),
            ("en", "Lumina Wear, please add a size chart in cm, it would be so much easier", U, Feedback),
            ("en", "just booked Oslo with SkyNordic for the summer, can't wait", P, PurchaseIntent),
            ("en", "FREE gift cards!!! click luminawear-gift.top to claim now 🎁", U, Other),
            ("it", "Ordine arrivato freddo e in ritardo di un'ora, e nessun rimborso. Vergognoso", N, Complaint),
            ("it", "Qualcuno sa se Veloce funziona bene in Sardegna?", U, Question),
            ("it", "personale gentilissimo e volo puntuale, grazie SkyNordic!", P, Praise),
            ("it", "Sarebbe bello poter scegliere l'orario di consegna, per il resto tutto ok", U, Feedback),
            ("it", "ho appena prenotato Roma-Oslo con SkyNordic, non vedo l'ora", P, PurchaseIntent),
            ("it", "SkyNordic annuncia una nuova rotta da Bologna a partire da maggio.", U, Other),
            ("pl", "Zamówienie przyszło zimne, a na zwrot pieniędzy czekam już dwa tygodnie.", N, Complaint),
            ("pl", "Czy w Veloce można przenieść numer bez przerwy w usłudze?", U, Question),
            ("pl", "Świetna obsługa, polecam SkyNordic każdemu!", P, Praise),
            ("pl", "Lumina Wear, dodajcie proszę większe rozmiary", U, Feedback),
            ("pl", "Chcę kupić ten płaszcz Lumina Wear, jutro zamawiam", P, PurchaseIntent),
            ("pl", "SkyNordic otwiera nowe połączenie z Gdańska od kwietnia.", U, Other),
            ("ru", "Уже месяц жду возврат денег, поддержка не отвечает. Ужасно", N, Complaint),
            ("ru", "Подскажите, а в Veloce можно сохранить номер при переходе?", U, Question),
            ("ru", "Отличная паста, привезли горячей, спасибо PastaPronto!", P, Praise),
            ("ru", "Было бы удобно, если бы в приложении показывали калории", U, Feedback),
            ("ru", "Хочу купить это пальто Lumina Wear, жду зарплату", P, PurchaseIntent),
            ("ru", "SkyNordic запускает новый рейс из Риги с мая.", U, Other),
            ("zh", "等了两个小时还没送到，客服也不回，要求退款", N, Complaint),
            ("zh", "请问Veloce Mobile的卡在瑞士能用吗？", U, Question),
            ("zh", "这件大衣太好看了，质量也很好，推荐！", P, Praise),
            ("zh", "建议PastaPronto出个小份，一个人吃不完", U, Feedback),
            ("zh", "好想买Lumina Wear的新款大衣，等打折就下单", P, PurchaseIntent),
            ("zh", "SkyNordic宣布开通上海直飞赫尔辛基航线。", U, Other),
            ("es", "Llevo un mes esperando el reembolso y nadie contesta. Una vergüenza", N, Complaint),
            ("es", "¿Alguien sabe si SkyNordic deja llevar la bici?", U, Question),
            ("es", "la lasaña de PastaPronto está buenísima, me encanta!", P, Praise),
            ("es", "Veloce, estaría bien poder pagar con Bizum en la app", U, Feedback),
            ("es", "Acabo de reservar Madrid–Oslo con SkyNordic 🙌", P, PurchaseIntent),
            ("es", "SkyNordic abrirá una nueva ruta desde Sevilla en abril.", U, Other),
            ("de", "Seit drei Wochen warte ich auf die Erstattung, keiner antwortet. Frechheit", N, Complaint),
            ("de", "Weiß jemand, ob man bei SkyNordic Skier mitnehmen kann?", U, Question),
            ("de", "Super Service, die Crew war total freundlich, danke SkyNordic!", P, Praise),
            ("de", "Wäre schön, wenn PastaPronto mehr vegane Gerichte anbieten würde", U, Feedback),
            ("de", "Gerade bei Lumina Wear den Mantel bestellt, freu mich schon", P, PurchaseIntent),
            ("de", "SkyNordic fliegt ab Mai auch von Leipzig nach Oslo.", U, Other),
            ("fr", "Toujours pas remboursé après un mois, le service client ne répond pas. Honteux", N, Complaint),
            ("fr", "Est-ce que PastaPronto livre à Villeurbanne ?", U, Question),
            ("fr", "Équipage adorable et vol parfait, merci SkyNordic !", P, Praise),
            ("fr", "Ce serait bien que Veloce propose le paiement par PayPal", U, Feedback),
            ("fr", "Je viens de réserver Paris–Oslo avec SkyNordic, trop hâte", P, PurchaseIntent),
            ("fr", "SkyNordic ouvre une ligne Nantes–Copenhague en avril.", U, Other),
        ];
        let c = IntentClassifier::new();
        let mut wrong = Vec::new();
        for &(lang, text, s, expected) in cases {
            let score = match s {
                N => -0.6,
                U => 0.0,
                P => 0.6,
            };
            let got = c.classify(text, lang, &sentiment(s, score)).label;
            if got != expected {
                wrong.push(format!("{lang} {text:?}: expected {expected:?}, got {got:?}"));
            }
        }
        assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    }

    #[test]
    fn cue_file_parses_into_patterns() {
        let (patterns, cues) = parse_cues("# c\nen\tquestion\t1\t^does\nen\tcomplaint\t1\trefund*\nzh\tquestion\t1\t请问\n");
        assert_eq!(patterns, vec!["| does ", " refund", "请问"]);
        assert_eq!(cues[1].label, IntentLabel::Complaint);
        assert_eq!(cues[2].lang.as_deref(), Some("zh"));
    }
}
