//! Offensive scoring: abuse aimed at people (insults, slurs, threats), kept apart from negative
//! sentiment and from spam. "Worst airline ever, refund me now" is harsh but civil: it scores 0.
//!
//! The word lists (`data/offensive-terms-v2.tsv`, en it pl ru zh es de fr: Hark's own and the
//! reviewed insults of public profanity lists, built by `train/offensive_build_terms.py`) give
//! each term a kind and a weight. An *insult* is a word for a person (*idiot*, *cafone*, *хамло*,
//! 傻逼); it counts for more when the text aims it at someone: a second-person word (*you*, *ты*,
//! 你), an @handle, a word for a person, staff in the third person included (*driver*, *kasjer…*,
//! *продав…*, 店员, *the guy*), or an exclamation (*what a*, *co za*, *какой*, 真是个, *qué*), from
//! `data/offensive-targets-v2.tsv`. Elided words are read without their article as well
//! (*un'imbecille*, *l'idiot*).
//! Profanity that names nobody (*shit*, *merda*) and harsh words (*stupid*, *incompetent*) stay
//! below the threshold on their own; abuse phrases (*fuck you*, *vaffanculo*), threats and slurs
//! flag a mention by themselves. The weights combine as a noisy OR, score = 1 − ∏(1 − w), and
//! each term found is a reason.
//!
//! Terms are matched in the detected language's list. For a language without a list, every list
//! is used except words shorter than four letters, which too often mean something harmless in
//! another language (French *con* is Spanish and Italian *with*).

use std::collections::{HashMap, HashSet};

use hark_core::Offensive;

use crate::text::{round3, tokens, tsv_rows, Phrases, Stems, Token};

const TERMS: &str = include_str!("../data/offensive-terms-v2.tsv");
const TARGETS: &str = include_str!("../data/offensive-targets-v2.tsv");

/// How much an aimed insult's distance to 1 shrinks: a 0.45 insult aimed at someone is 0.725.
const AIMED_FACTOR: f64 = 0.5;
const MAX_REASONS: usize = 8;

#[derive(Debug, Clone, Copy, PartialEq)]
enum Kind {
    Insult,
    Harsh,
    Profanity,
    Abuse,
    Threat,
    Slur,
}

impl Kind {
    fn parse(kind: &str) -> Option<Kind> {
        Some(match kind {
            "insult" => Kind::Insult,
            "harsh" => Kind::Harsh,
            "profanity" => Kind::Profanity,
            "abuse" => Kind::Abuse,
            "threat" => Kind::Threat,
            "slur" => Kind::Slur,
            _ => return None,
        })
    }

    fn name(self) -> &'static str {
        match self {
            Kind::Insult => "insult",
            Kind::Harsh => "harsh word",
            Kind::Profanity => "profanity",
            Kind::Abuse => "abuse",
            Kind::Threat => "threat",
            Kind::Slur => "slur",
        }
    }
}

#[derive(Clone, Copy)]
struct Term {
    kind: Kind,
    weight: f64,
}

/// One language's terms and target words (or every language's, for the fallback).
#[derive(Default)]
struct Lexicon {
    phrases: Phrases<Term>,
    /// Prefixes (`idiot*`), tried when no exact entry matches a word.
    stems: Stems<Term>,
    /// Chinese terms, matched inside runs of CJK characters.
    cjk: Vec<(String, Term)>,
    /// Second-person words and words for a person.
    targets: Words,
    /// Exclamations that aim an insult (*what a*, *co za*, *какой*), unless the text speaks of
    /// its writer (*what an idiot I am*).
    exclamatives: Words,
    first_person: Words,
}

/// Words, phrases, stems (`kasjer*`: *kasjerka*, *kasjerem*) and Chinese terms to look for.
#[derive(Default)]
struct Words {
    words: HashSet<String>,
    phrases: Phrases<()>,
    stems: Stems<()>,
    cjk: Vec<String>,
}

impl Words {
    fn add(&mut self, term: &str) {
        let term = term.to_lowercase();
        if term.chars().any(crate::text::is_cjk) {
            self.cjk.push(term);
        } else if let Some(stem) = term.strip_suffix('*') {
            self.stems.insert(stem, ());
        } else if term.contains(' ') {
            self.phrases.insert(&term, ());
        } else {
            self.words.insert(term);
        }
    }

    /// The first of these in the text, as written there.
    fn find(&self, words: &[&str], cjk_runs: &[&str]) -> Option<String> {
        let is_one = |w: &str| self.words.contains(w) || self.stems.longest(w).is_some();
        if let Some(word) = words.iter().find(|w| is_one(w) || elided(w).is_some_and(is_one)) {
            return Some(word.to_string());
        }
        for i in 0..words.len() {
            if let Some(len) = self.phrases.starting_at(words, i).map(|(len, _)| len).max() {
                return Some(words[i..i + len].join(" "));
            }
        }
        self.cjk.iter().find(|t| cjk_runs.iter().any(|run| run.contains(t.as_str()))).cloned()
    }
}

impl Lexicon {
    fn add_term(&mut self, term: &str, entry: Term) {
        if term.chars().any(crate::text::is_cjk) {
            self.cjk.push((term.to_string(), entry));
        } else if let Some(stem) = term.strip_suffix('*') {
            self.stems.insert(stem, entry);
        } else {
            self.phrases.insert(term, entry);
        }
    }

    fn add_target(&mut self, term: &str, kind: &str) {
        match kind {
            "exclamative" => self.exclamatives.add(term),
            "first_person" => self.first_person.add(term),
            _ => self.targets.add(term),
        }
    }

    /// The distinct terms in the text: (the words as they stand in the text, the term).
    fn find(&self, words: &[&str], cjk_runs: &[&str]) -> Vec<(String, Term)> {
        let mut found: Vec<(String, Term)> = Vec::new();
        let mut push = |text: String, term: Term| {
            if !found.iter().any(|(t, _)| *t == text) {
                found.push((text, term));
            }
        };
        for (i, word) in words.iter().enumerate() {
            let mut exact = false;
            for (len, term) in self.phrases.starting_at(words, i) {
                exact |= len == 1;
                push(words[i..i + len].join(" "), *term);
            }
            if exact {
                continue;
            }
            if let Some((_, term)) = self.stems.longest(word) {
                push(word.to_string(), *term);
            } else if let Some(bare) = elided(word) {
                // "un'imbecille", "l'idiot": the word without its article.
                let alone = [bare];
                let term =
                    self.phrases.starting_at(&alone, 0).next().map(|(_, t)| *t).or_else(|| self.stems.longest(bare).map(|(_, t)| *t));
                if let Some(term) = term {
                    push(bare.to_string(), term);
                }
            }
        }
        for run in cjk_runs {
            for (text, term) in &self.cjk {
                if run.contains(text.as_str()) {
                    push(text.clone(), *term);
                }
            }
        }
        found
    }

    /// What shows the text is aimed at someone: an @handle, else a target word.
    fn target(&self, text: &str, words: &[&str], cjk_runs: &[&str]) -> Option<String> {
        let handle = text.split_whitespace().find(|c| c.starts_with('@') && c.chars().nth(1).is_some_and(char::is_alphanumeric));
        if let Some(handle) = handle {
            return Some(handle.trim_end_matches(|c: char| !c.is_alphanumeric() && c != '_').to_string());
        }
        if let Some(target) = self.targets.find(words, cjk_runs) {
            return Some(target);
        }
        if self.first_person.find(words, cjk_runs).is_some() {
            return None;
        }
        self.exclamatives.find(words, cjk_runs)
    }
}

/// The word after an elided article or preposition (*un'*, *l'*, *dell'*, *d'*, *qu'*), when there
/// is one.
fn elided(word: &str) -> Option<&str> {
    let (article, bare) = word.split_once('\'')?;
    (article.chars().count() <= 5 && bare.chars().count() >= 3).then_some(bare)
}

pub struct OffensiveScorer {
    by_lang: HashMap<String, Lexicon>,
    /// For languages without a list of their own.
    fallback: Lexicon,
    threshold: f64,
}

impl OffensiveScorer {
    /// `threshold`: the score from which a mention is flagged `is_offensive`.
    pub fn new(threshold: f64) -> Self {
        let mut by_lang: HashMap<String, Lexicon> = HashMap::new();
        let mut fallback = Lexicon::default();
        for fields in tsv_rows(TERMS) {
            let [lang, term, kind, weight, ..] = fields[..] else { continue };
            let (Some(kind), Ok(weight)) = (Kind::parse(kind), weight.parse::<f64>()) else { continue };
            let (term, entry) = (term.to_lowercase(), Term { kind, weight: weight.clamp(0.0, 0.99) });
            by_lang.entry(lang.to_string()).or_default().add_term(&term, entry);
            if term.chars().any(crate::text::is_cjk) || term.trim_end_matches('*').chars().count() >= 4 {
                fallback.add_term(&term, entry);
            }
        }
        for fields in tsv_rows(TARGETS) {
            let [lang, term, kind, ..] = fields[..] else { continue };
            by_lang.entry(lang.to_string()).or_default().add_target(term, kind);
            if term.chars().any(crate::text::is_cjk) || term.chars().count() >= 3 {
                fallback.add_target(term, kind);
            }
        }
        OffensiveScorer { by_lang, fallback, threshold }
    }

    /// Scores `text`, written in `lang` (ISO 639-1, or `und`).
    pub fn score(&self, text: &str, lang: &str) -> Offensive {
        self.score_tokens(text, &tokens(text), lang)
    }

    /// [`Self::score`] of a text whose [`tokens`] are already made.
    pub fn score_tokens(&self, text: &str, toks: &[Token], lang: &str) -> Offensive {
        let lexicon = self.by_lang.get(lang).unwrap_or(&self.fallback);
        let words: Vec<&str> = toks.iter().filter_map(|t| if let Token::Word(w) = t { Some(w.as_str()) } else { None }).collect();
        let cjk: Vec<&str> = toks.iter().filter_map(|t| if let Token::Cjk(r) = t { Some(r.as_str()) } else { None }).collect();

        let found = lexicon.find(&words, &cjk);
        let target = if found.iter().any(|(_, t)| t.kind == Kind::Insult) { lexicon.target(text, &words, &cjk) } else { None };
        let mut weighted: Vec<(f64, String)> = found
            .into_iter()
            .map(|(matched, term)| match (&target, term.kind) {
                (Some(cue), Kind::Insult) => {
                    (1.0 - (1.0 - term.weight) * AIMED_FACTOR, format!("insult '{matched}' aimed at someone ('{cue}')"))
                }
                _ => (term.weight, format!("{} '{matched}'", term.kind.name())),
            })
            .collect();
        let score = 1.0 - weighted.iter().map(|(w, _)| 1.0 - w).product::<f64>();
        let score = round3(score);
        weighted.sort_by(|a, b| b.0.total_cmp(&a.0).then_with(|| a.1.cmp(&b.1)));
        let reasons = weighted.into_iter().take(MAX_REASONS).map(|(_, r)| r).collect();
        Offensive { score, is_offensive: score >= self.threshold && score > 0.0, reasons }
    }

    /// `rules` raised to `p`, a learned head's blended probability, where that is higher: what the
    /// lists found still counts.
    pub fn raised(&self, rules: Offensive, p: f64, by: &str) -> Offensive {
        if round3(p) <= rules.score {
            return rules;
        }
        self.rescored(rules, p, by)
    }

    /// `rules` rescored at `p`, a learned head's blended probability (named `by` in the reasons
    /// when it flags what the lists did not).
    pub fn rescored(&self, rules: Offensive, p: f64, by: &str) -> Offensive {
        let score = round3(p);
        let is_offensive = score >= self.threshold && score > 0.0;
        let mut reasons = rules.reasons;
        if is_offensive && !rules.is_offensive {
            reasons.insert(0, format!("{by} {score:.2}"));
            reasons.truncate(MAX_REASONS);
        }
        Offensive { score, is_offensive, reasons }
    }

    pub fn version() -> &'static str {
        "offensive-v2"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn score(text: &str, lang: &str) -> Offensive {
        OffensiveScorer::new(0.5).score(text, lang)
    }

    #[test]
    fn insults_aimed_at_people_are_offensive_with_reasons() {
        let o = score("@PastaPronto your driver threw my bag at the door and drove off, what a moron", "en");
        assert!(o.is_offensive, "{o:?}");
        assert_eq!(o.reasons, ["insult 'moron' aimed at someone ('@PastaPronto')"]);
        for (text, lang) in [
            ("il vostro rider è un cafone maleducato", "it"),
            ("ten kto to wymyślił to skończony kretyn", "pl"),
            ("курьер PastaPronto — тупой баран", "ru"),
            ("PastaPronto的骑手是不是脑子有病", "zh"),
            ("el tío del mostrador es un imbécil", "es"),
            ("Die Typen im Shop sind komplette Vollidioten", "de"),
            ("Le conseiller est un gros con", "fr"),
        ] {
            let o = score(text, lang);
            assert!(o.is_offensive && o.reasons[0].contains("aimed at someone"), "{text}: {o:?}");
        }
    }

    #[test]
    fn third_person_insults_about_staff_in_every_language() {
        for (text, lang) in [
            ("the guy at the counter is an idiot, took 20 minutes to find my parcel", "en"),
            ("quel cretino del commesso mi ha dato la taglia sbagliata", "it"),
            ("la cassiera è proprio un'imbecille", "it"),
            ("ta kasjerka to cham i prostaczka", "pl"),
            ("продавщица в магазине просто хамло", "ru"),
            ("快递员是傻逼吧，包裹直接扔门口", "zh"),
            ("el cajero es un imbécil y un maleducado", "es"),
            ("la dependienta es gilipollas, ni me miró", "es"),
            ("der Typ an der Kasse ist ein kompletter Trottel", "de"),
            ("le livreur est un vrai abruti", "fr"),
            ("what a moron, left my food in the rain", "en"),
            ("co za debil, rzucił paczką", "pl"),
        ] {
            let o = score(text, lang);
            assert!(o.is_offensive && o.reasons[0].contains("aimed at someone"), "{text}: {o:?}");
        }
        // An exclamation about the writer is self-mockery, not abuse.
        for (text, lang) in
            [("what an idiot I am, wrong gate again", "en"), ("co za debil ze mnie, jestem spóźniony", "pl"), ("qué idiota soy", "es")]
        {
            assert!(!score(text, lang).is_offensive, "{text}");
        }
    }

    #[test]
    fn words_after_an_elided_article_are_read() {
        assert_eq!(elided("un'imbecille"), Some("imbecille"));
        assert_eq!(elided("don't"), None);
        assert_eq!(elided("idiot"), None);
        let o = score("l'operatore è un'idiota", "it");
        assert!(o.reasons.iter().any(|r| r.starts_with("insult 'idiota' aimed")), "{o:?}");
    }

    #[test]
    fn civil_complaints_are_not_offensive() {
        for (text, lang) in [
            ("worst airline ever, refund me now", "en"),
            ("@VeloceMobile your service is useless and your staff incompetent", "en"),
            ("servizio pessimo, voglio il rimborso", "it"),
            ("худший сервис, верните деньги", "ru"),
            ("太差了，退款！", "zh"),
            ("il commesso è stato incapace di aiutarmi, servizio pessimo", "it"),
            ("le service client est nul, personne ne répond", "fr"),
            ("курьер опоздал на два часа, ужасный сервис", "ru"),
            ("客服态度很差，等了一个小时", "zh"),
            ("la cajera fue muy lenta, qué desastre", "es"),
        ] {
            let o = score(text, lang);
            assert!(!o.is_offensive && o.score < 0.5, "{text}: {o:?}");
        }
        assert_eq!(score("worst airline ever, refund me now", "en").score, 0.0);
    }

    #[test]
    fn profanity_aimed_at_nobody_scores_below_an_aimed_insult() {
        let profanity = score("oh shit, the flight is delayed again", "en");
        let insult = score("you are an idiot", "en");
        assert!(!profanity.is_offensive, "{profanity:?}");
        assert_eq!(profanity.reasons, ["profanity 'shit'"]);
        assert!(insult.is_offensive && insult.score > profanity.score, "{insult:?}");
        // The same insult with nobody it is aimed at stays below the threshold.
        let unaimed = score("idiots everywhere today", "en");
        assert!(unaimed.score < insult.score && !unaimed.is_offensive, "{unaimed:?}");
    }

    #[test]
    fn abuse_threats_and_slurs_flag_on_their_own() {
        for (text, lang, reason) in [
            ("fuck you", "en", "abuse 'fuck you'"),
            ("vaffanculo", "it", "abuse 'vaffanculo'"),
            ("я тебя убью", "ru", "threat 'убью'"),
            ("我要弄死你", "zh", "threat '弄死你'"),
            ("te voy a matar", "es", "threat 'te voy a matar'"),
        ] {
            let o = score(text, lang);
            assert!(o.is_offensive && o.reasons.iter().any(|r| r == reason), "{text}: {o:?}");
        }
    }

    #[test]
    fn languages_without_a_list_use_every_list_but_short_words() {
        assert!(score("what an idiot, @VeloceMobile", "und").is_offensive);
        // French "con" is "with" in Spanish and Italian: only the French list has it.
        assert!(!score("pasta con tonno", "xx").is_offensive);
        assert!(!score("pasta con tonno", "it").is_offensive);
    }

    #[test]
    fn empty_and_huge_texts() {
        let o = score("", "en");
        assert_eq!((o.score, o.is_offensive, o.reasons.len()), (0.0, false, 0));
        let huge = "you idiot, fuck off ".repeat(60_000);
        assert!(huge.len() > 1_000_000);
        let o = score(&huge, "en");
        assert!(o.is_offensive && (0.0..=1.0).contains(&o.score) && o.reasons.len() <= MAX_REASONS, "{o:?}");
    }
}
