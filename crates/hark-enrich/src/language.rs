//! Language identification: which language a mention is written in, as an ISO 639-1 code.
//!
//! Social-media texts are short, so the work is done in stages, cheapest first:
//! 1. **Script.** Letters are counted per writing system. A script that only one candidate
//!    language uses decides at once (Hangul is Korean, kana Japanese, Han without kana Chinese,
//!    Thai, Devanagari); otherwise only the candidates that write in that script stay in the race
//!    (Cyrillic: Russian or Ukrainian; Arabic: Arabic or Persian; Latin: the rest).
//! 2. **Long texts** go to `whatlang` first, a trigram detector some ten times faster than
//!    lingua; its answer stands when it is sure of it.
//! 3. **Short texts**, and long ones whatlang is unsure of, go to `lingua`'s high-accuracy mode,
//!    the best there is on a few words.
//! 4. **The platform's hint** (`lang_hint`) wins when the text itself leaves it a fair chance.
//!
//! Only the 20 languages of [`crate::config::DEFAULT_LANGUAGES`] are compiled in (all 75 of
//! lingua's would make a 290 MB binary); the configured candidate set is any subset of them.

use std::collections::HashMap;
use std::str::FromStr;

use hark_core::Language as DetectedLanguage;
use lingua::{IsoCode639_1, Language, LanguageDetector, LanguageDetectorBuilder};

use crate::error::EnrichError;
use crate::text::round3;

/// Texts with at least this many letters (of the deciding script) are long enough for whatlang.
/// This and [`WHATLANG_SURE`] were chosen on the tuning texts (the dev and demo sets): from 20
/// letters on, whatlang restricted to one script's candidates was right on every text where its
/// confidence reached 0.5, so asking lingua (ten times the cost) there would have gained nothing.
const LONG_TEXT_LETTERS: usize = 20;

/// whatlang's confidence from which its answer stands without asking lingua.
const WHATLANG_SURE: f64 = 0.5;

/// The hint is taken when lingua gives it at least this share of the top language's confidence.
const HINT_SHARE: f64 = 0.35;

/// A writing system, as far as telling languages apart needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Script {
    Latin,
    Cyrillic,
    Arabic,
    Devanagari,
    Thai,
    Hangul,
    Kana,
    Han,
    Other,
}

fn script_of(c: char) -> Script {
    match c as u32 {
        0x0041..=0x024F | 0x1E00..=0x1EFF => Script::Latin,
        0x0400..=0x052F => Script::Cyrillic,
        0x0600..=0x06FF | 0x0750..=0x077F | 0xFB50..=0xFDFF | 0xFE70..=0xFEFF => Script::Arabic,
        0x0900..=0x097F => Script::Devanagari,
        0x0E00..=0x0E7F => Script::Thai,
        0x1100..=0x11FF | 0x3130..=0x318F | 0xAC00..=0xD7AF => Script::Hangul,
        0x3040..=0x30FF | 0x31F0..=0x31FF => Script::Kana,
        0x3400..=0x4DBF | 0x4E00..=0x9FFF | 0xF900..=0xFAFF | 0x20000..=0x2FFFF => Script::Han,
        _ => Script::Other,
    }
}

/// The script each compiled-in language is written in. Japanese is listed under kana: a
/// Japanese text almost always has some, and Han alone reads as Chinese.
fn script_of_language(language: Language) -> Script {
    use Language::*;
    match language {
        Russian | Ukrainian => Script::Cyrillic,
        Arabic | Persian => Script::Arabic,
        Hindi => Script::Devanagari,
        Thai => Script::Thai,
        Korean => Script::Hangul,
        Japanese => Script::Kana,
        Chinese => Script::Han,
        _ => Script::Latin,
    }
}

/// The candidates that write in one script, and detectors for them when there are several.
struct ScriptGroup {
    languages: Vec<Language>,
    /// lingua in high-accuracy mode; `None` for a single language.
    precise: Option<LanguageDetector>,
    /// whatlang over the same candidates (those it knows), with a way back to lingua's names.
    fast: Option<(whatlang::Detector, Vec<(whatlang::Lang, Language)>)>,
}

/// whatlang's name for a language; it says `cmn` and `pes` where lingua says `zho` and `fas`.
fn whatlang_of(language: Language) -> Option<whatlang::Lang> {
    match language {
        Language::Chinese => Some(whatlang::Lang::Cmn),
        Language::Persian => Some(whatlang::Lang::Pes),
        other => whatlang::Lang::from_code(other.iso_code_639_3().to_string()),
    }
}

impl ScriptGroup {
    /// The language among one script's candidates, or `None` when they cannot tell.
    fn identify(&self, words: &str, letters: usize, share: f64, hint: Option<&str>) -> Option<DetectedLanguage> {
        let Some(precise) = &self.precise else {
            return Some(found(self.languages[0], share));
        };
        if let (Some((fast, names)), true) = (&self.fast, letters >= LONG_TEXT_LETTERS) {
            if let Some(info) = fast.detect(words) {
                let language = names.iter().find(|(w, _)| *w == info.lang()).map(|(_, l)| *l);
                if let (Some(language), true) = (language, info.confidence() >= WHATLANG_SURE) {
                    return Some(found(language, share * info.confidence()));
                }
            }
        }
        let values = precise.compute_language_confidence_values(words);
        let &(top, top_confidence) = values.first()?;
        if let Some(hinted) = hint.and_then(|h| parse_language(h.split(['-', '_']).next().unwrap_or(h)).ok()) {
            if let Some(&(_, confidence)) = values.iter().find(|(language, _)| *language == hinted) {
                if confidence >= HINT_SHARE * top_confidence {
                    return Some(found(hinted, share * confidence.max(top_confidence)));
                }
            }
        }
        (top_confidence > 0.0).then(|| found(top, share * top_confidence))
    }
}

pub struct LanguageIdentifier {
    groups: HashMap<Script, ScriptGroup>,
}

/// A candidate-language code as lingua knows it; an error names codes that are not compiled in.
fn parse_language(code: &str) -> Result<Language, EnrichError> {
    let iso = IsoCode639_1::from_str(&code.to_ascii_lowercase()).map_err(|_| EnrichError::UnknownLanguage(code.to_string()))?;
    Ok(Language::from_iso_code_639_1(&iso))
}

impl LanguageIdentifier {
    /// Builds the detectors for `codes` (ISO 639-1), loading every model up front so the first
    /// mentions are not slow.
    pub fn new(codes: &[String]) -> Result<Self, EnrichError> {
        if codes.is_empty() {
            return Err(EnrichError::NoLanguages);
        }
        let mut by_script: HashMap<Script, Vec<Language>> = HashMap::new();
        for code in codes {
            let language = parse_language(code)?;
            let languages = by_script.entry(script_of_language(language)).or_default();
            if !languages.contains(&language) {
                languages.push(language);
            }
        }
        let groups = by_script
            .into_iter()
            .map(|(script, languages)| {
                let precise = (languages.len() > 1)
                    .then(|| LanguageDetectorBuilder::from_languages(&languages).with_preloaded_language_models().build());
                let known: Vec<(whatlang::Lang, Language)> = languages.iter().filter_map(|l| whatlang_of(*l).map(|w| (w, *l))).collect();
                // whatlang only decides among all of the group's candidates, or it would force
                // a language it does not know onto one it does.
                let fast = (languages.len() > 1 && known.len() == languages.len())
                    .then(|| (whatlang::Detector::with_allowlist(known.iter().map(|(w, _)| *w).collect()), known));
                (script, ScriptGroup { languages, precise, fast })
            })
            .collect();
        Ok(LanguageIdentifier { groups })
    }

    /// ISO 639-1 code and confidence; `und` when the text has no letters of a candidate's script
    /// (emoji only, a bare link, a handle). `hint` is the platform's `lang_hint`, if any; an
    /// unknown or non-candidate hint is ignored.
    pub fn identify(&self, text: &str, hint: Option<&str>) -> DetectedLanguage {
        let words = prose(text);
        let mut letters: HashMap<Script, usize> = HashMap::new();
        for c in words.chars().filter(|c| c.is_alphabetic()) {
            *letters.entry(script_of(c)).or_default() += 1;
        }
        // Japanese mixes kana with Han; a few kana in a Han text make it Japanese.
        if letters.contains_key(&Script::Kana) && self.groups.contains_key(&Script::Kana) {
            let han = letters.remove(&Script::Han).unwrap_or(0);
            *letters.entry(Script::Kana).or_default() += han;
        }
        // One CJK character carries about as much as a short word: weigh it so.
        let weight = |script: Script| if matches!(script, Script::Han | Script::Kana | Script::Hangul) { 3 } else { 1 };
        let total: usize = letters.iter().map(|(s, n)| n * weight(*s)).sum();
        let mut scripts: Vec<(Script, usize)> = letters
            .iter()
            .filter(|(script, _)| self.groups.contains_key(script))
            .map(|(script, n)| (*script, n * weight(*script)))
            .collect();
        scripts.sort_by_key(|(script, n)| std::cmp::Reverse((*n, *script == Script::Latin)));
        // The strongest script decides; when its candidates cannot tell (a few Latin brand names
        // in a Chinese sentence), the next one does.
        for (script, count) in scripts {
            let share = count as f64 / total as f64;
            if let Some(language) = self.groups[&script].identify(&words, letters[&script], share, hint) {
                return language;
            }
        }
        DetectedLanguage::undetermined()
    }

    pub fn version() -> &'static str {
        "lingua-1.8+whatlang-0.16+script-v2"
    }
}

fn found(language: Language, confidence: f64) -> DetectedLanguage {
    DetectedLanguage { code: language.iso_code_639_1().to_string(), confidence: round3(confidence) }
}

/// The words of a text that say something about its language: links, @handles (also inside a
/// word, as in Weibo's `回复@name:text`), e-mail addresses and #hashtags (mostly brand and campaign
/// names) dropped. Hashtags stay when they are all there is.
fn prose(text: &str) -> String {
    let is_link = |w: &str| w.starts_with("http://") || w.starts_with("https://") || w.starts_with("www.");
    let words: Vec<String> = text.split_whitespace().filter(|w| !is_link(w)).map(without_handles).filter(|w| !w.is_empty()).collect();
    let kept: Vec<&str> = words.iter().map(String::as_str).filter(|w| !w.starts_with('#')).collect();
    if kept.iter().any(|w| w.chars().any(char::is_alphabetic)) {
        return kept.join(" ");
    }
    words.iter().map(|w| w.trim_start_matches('#')).collect::<Vec<_>>().join(" ")
}

/// A word less its `@handle` parts: a handle runs to the next `:` (Weibo's reply form) or to the
/// end of the word.
fn without_handles(word: &str) -> String {
    let mut parts = word.split('@');
    let mut out = parts.next().unwrap_or_default().to_string();
    for part in parts {
        if let Some((_, rest)) = part.split_once([':', '：']) {
            out.push_str(rest);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::DEFAULT_LANGUAGES;
    use std::sync::OnceLock;

    fn identifier() -> &'static LanguageIdentifier {
        static ID: OnceLock<LanguageIdentifier> = OnceLock::new();
        ID.get_or_init(|| LanguageIdentifier::new(&DEFAULT_LANGUAGES.map(String::from)).unwrap())
    }

    fn code(text: &str) -> String {
        identifier().identify(text, None).code
    }

    #[test]
    fn scripts_decide_where_only_one_candidate_writes_them() {
        assert_eq!(code("太差了，非常失望"), "zh");
        assert_eq!(code("最悪のサービスでした"), "ja");
        assert_eq!(code("배송이 너무 늦어요"), "ko");
        assert_eq!(code("บริการแย่มาก"), "th");
        assert_eq!(code("सेवा बहुत खराब है"), "hi");
        // A Latin brand name does not outweigh a Chinese sentence, nor does a handle inside a word.
        assert_eq!(code("SkyNordic 的服务太差了"), "zh");
        assert_eq!(code("回复@是兔吖:Veloce客服效率很高"), "zh");
        assert_eq!(code("Veloce的eSIM支持iPhone 15吗？"), "zh");
    }

    #[test]
    fn languages_sharing_a_script_are_told_apart() {
        assert_eq!(code("Servizio pessimo, volo cancellato senza preavviso"), "it");
        assert_eq!(code("Nie polecam, paczka zaginęła"), "pl");
        assert_eq!(code("Ужасный сервис, багаж потеряли"), "ru");
        assert_eq!(code("Жахливий сервіс, багаж загубили"), "uk");
        assert_eq!(code("The flight was delayed again"), "en");
    }

    #[test]
    fn links_handles_and_emoji_alone_are_undetermined() {
        for text in ["", "😡😡😡", "https://example.com/a", "@SkyNordic", "12:40 → 15:10", "   "] {
            assert_eq!(identifier().identify(text, None).code, "und", "{text:?}");
        }
        // Hashtags are what is left: they are read.
        assert_ne!(code("#pessimo #servizio #vergogna"), "und");
    }

    #[test]
    fn a_plausible_hint_wins_and_an_unknown_one_is_ignored() {
        let id = identifier();
        // "No" alone is Spanish, Italian, English... the platform knows better.
        assert_eq!(id.identify("no grazie", Some("it")).code, "it");
        assert_eq!(id.identify("Servizio pessimo, volo cancellato", Some("xx-bogus")).code, "it");
        assert_eq!(id.identify("Servizio pessimo, volo cancellato", Some("klingon")).code, "it");
        // A hint cannot turn a clearly Polish sentence into Russian, nor Cyrillic into Latin.
        assert_eq!(id.identify("Nie polecam, paczka zaginęła", Some("ru")).code, "pl");
        assert_eq!(id.identify("Ужасный сервис", Some("en")).code, "ru");
    }

    #[test]
    fn candidate_set_is_configurable_and_checked() {
        let only = LanguageIdentifier::new(&["en".into(), "it".into()]).unwrap();
        assert!(matches!(only.identify("Nie polecam, paczka zaginęła", None).code.as_str(), "en" | "it"));
        assert_eq!(only.identify("太差了", None).code, "und");
        assert!(matches!(LanguageIdentifier::new(&["sv".into()]), Err(EnrichError::UnknownLanguage(c)) if c == "sv"));
        assert!(matches!(LanguageIdentifier::new(&["nope".into()]), Err(EnrichError::UnknownLanguage(_))));
        assert!(matches!(LanguageIdentifier::new(&[]), Err(EnrichError::NoLanguages)));
    }

    #[test]
    fn huge_text_is_fine() {
        let huge = "il volo è stato cancellato ancora una volta ".repeat(25_000);
        assert_eq!(code(&huge), "it");
    }

    #[test]
    fn long_texts_are_read_by_either_detector_alike() {
        let long = "Ho prenotato il volo tre mesi fa e oggi mi dicono che non c'è posto: nessuno al banco sa dirmi quando partirò.";
        assert!(prose(long).chars().filter(|c| c.is_alphabetic()).count() >= LONG_TEXT_LETTERS);
        assert_eq!(code(long), "it");
        let polish = "Zamówiłam sukienkę dwa tygodnie temu, a paczka wciąż nie dotarła i nikt nie odpowiada na maile.";
        assert_eq!(code(polish), "pl");
    }
}
