//! Spam and bot scoring: a 0–1 score, the flag, and the reasons that raised it.
//!
//! Spam here means bulk unsolicited promotion (giveaway scams, follow-for-follow, money-making
//! offers, copy-paste campaigns); an angry complaint is never spam. The score is a logistic model
//! over evidence that adds up in log-odds:
//!
//! - naive-Bayes log-odds of English words and word pairs, trained on the SMS Spam Collection
//!   by `train/spam_train.py` (`data/spam-nb-v1.tsv`); SMS spam is English, so they apply to
//!   mentions detected as English only;
//! - hand-written terms in every supported language (`data/spam-tokens-v3.tsv`), negative for
//!   complaint vocabulary such as *refund* or *rimborso*;
//! - the non-word [`signals`]: links, hashtag and @mention density, capitals, repetition, the
//!   follower/following ratio;
//! - the structural [`patterns`] (`data/spam-patterns-v1.tsv`): a link to a look-alike of a
//!   brand's domain, an account said to be blocked, a prize with a deadline, a money-making
//!   offer, a price on a throwaway domain, a promo line repeated within the post;
//! - the same text from many authors within a few minutes ([`repeats`]).
//!
//! score = σ(bias + Σ evidence). Every piece that raised the logit by at least
//! [`REASON_MIN_LOG_ODDS`] is a reason, strongest first.

mod patterns;
mod repeats;
mod signals;
mod terms;

pub use repeats::RepeatTracker;

use hark_core::{Mention, SpamScore};

use crate::config::EnrichConfig;

use crate::text::{round3, tokens, Token};
use terms::TermTable;

const NAIVE_BAYES: &str = include_str!("../data/spam-nb-v1.tsv");
const HAND_WRITTEN: &str = include_str!("../data/spam-tokens-v3.tsv");
const PATTERNS: &str = include_str!("../data/spam-patterns-v1.tsv");

/// The logit of a mention with no evidence either way: about 5 % spam.
const BIAS: f64 = -3.0;
/// Naive Bayes counts correlated words as independent evidence; its log-odds are damped and
/// capped so that SMS vocabulary alone does not decide a mention.
const NB_SCALE: f64 = 0.5;
const NB_TOKEN_CAP: f64 = 2.0;
/// SMS spam is written in sentences and SMS chat is terse, so everyday words (*this*, *for*,
/// *who is*) lean spam there but not in mentions: only tokens that lean spam at least this
/// strongly (about 12 to 1) count as spam evidence.
const NB_MIN_SPAM_LOG_ODDS: f64 = 2.5;
const NB_SUM_RANGE: (f64, f64) = (-1.5, 6.0);
/// What "the same text from N authors" adds: enough to flag a mention on its own.
const REPEAT_LOG_ODDS: f64 = 4.5;
/// Texts with fewer words than this ("thank you!", "lol") are naturally posted by many authors.
const REPEAT_MIN_WORDS: usize = 4;
/// The structural patterns read this much of a text: a promotion shows itself early, and a 1 MB
/// text costs no more than a long post.
const PATTERN_CHARS: usize = 10_000;
/// Evidence weaker than this is not worth a moderator's attention as a reason.
pub const REASON_MIN_LOG_ODDS: f64 = 0.5;
const MAX_REASONS: usize = 8;

/// Where a mention's "same text from N authors" count comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Repeats {
    /// The scorer's own tracker, which sees only what this process scores (`hark enrich-file`,
    /// `hark eval`).
    Tracked,
    /// Counted for this mention elsewhere: by the enrich stage, in Redis, over every instance
    /// ([`crate::repeat_store`]).
    Counted(usize),
}

pub struct SpamScorer {
    naive_bayes: TermTable,
    hand_written: TermTable,
    patterns: patterns::Patterns,
    repeats: RepeatTracker,
    repeat_authors: usize,
    repeat_window_secs: u64,
    threshold: f64,
    version: String,
}

impl SpamScorer {
    /// Uses `spam_threshold` for `is_spam`, and flags the same text from `spam_repeat_authors`
    /// authors within `spam_repeat_window_secs` (0 authors turns that signal off). Its own count
    /// sees only the mentions it scores ([`Repeats::Tracked`]); the enrich stage gives it the
    /// count shared by all instances ([`Repeats::Counted`]).
    pub fn new(config: &EnrichConfig) -> Self {
        SpamScorer {
            naive_bayes: TermTable::naive_bayes(NAIVE_BAYES),
            hand_written: TermTable::hand_written(HAND_WRITTEN),
            patterns: patterns::Patterns::new(
                PATTERNS,
                config.brands.iter().flat_map(|b| std::iter::once(&b.name).chain(&b.keywords).chain(&b.handles)).map(String::as_str),
            ),
            repeats: RepeatTracker::new(
                config.spam_repeat_window_secs,
                repeats::DEFAULT_CAPACITY,
                (config.spam_repeat_authors * 4).max(64),
            ),
            repeat_authors: config.spam_repeat_authors,
            repeat_window_secs: config.spam_repeat_window_secs,
            threshold: config.spam_threshold,
            version: "nb-v1+tokens-v3+rules-v3".into(),
        }
    }

    /// Scores `mention`, whose detected language is `lang`. Records its text in the repeat
    /// tracker, so scoring the same mention twice counts its author once, not twice.
    pub fn score(&self, mention: &Mention, lang: &str) -> SpamScore {
        self.score_with(mention, &tokens(&mention.text), lang, Repeats::Tracked)
    }

    /// Whether the repeat signal looks at this mention at all: not a retweet (sharing, not
    /// copy-paste), and long enough (very short texts repeat by nature).
    pub fn counts_repeats(&self, mention: &Mention) -> bool {
        self.counts_repeats_of(mention, || tokens(&mention.text))
    }

    /// [`Self::counts_repeats`], splitting the text only when it has to (`toks`).
    fn counts_repeats_of<T: AsRef<[Token]>>(&self, mention: &Mention, toks: impl FnOnce() -> T) -> bool {
        if self.repeat_authors == 0 || mention.text.trim_start().starts_with("RT @") {
            return false;
        }
        let words = toks().as_ref().iter().filter(|t| matches!(t, Token::Word(_) | Token::Cjk(_))).count();
        words >= REPEAT_MIN_WORDS
    }

    /// [`SpamScorer::score`] with the text's [`tokens`] already made and the repeat count from
    /// `repeats`.
    pub fn score_with(&self, mention: &Mention, toks: &[Token], lang: &str, repeats: Repeats) -> SpamScore {
        let mut words = Vec::new();
        let mut cjk_runs = Vec::new();
        let mut symbols = Vec::new();
        for token in toks {
            match token {
                Token::Word(w) => words.push(w.as_str()),
                Token::Cjk(run) => cjk_runs.push(run.as_str()),
                Token::Symbol(c) => symbols.push(*c),
                Token::Boundary => {}
            }
        }

        // (log-odds, reason) of everything that moved the score.
        let mut evidence: Vec<(f64, String)> = Vec::new();
        let mut nb_correction = 0.0;
        if lang == "en" {
            let lettered: Vec<&str> = words.iter().copied().filter(|w| w.chars().any(char::is_alphabetic)).collect();
            let hits = self.naive_bayes.find(&self.naive_bayes.keep(&lettered), &[], &[]);
            let damped: Vec<(f64, String)> = hits
                .into_iter()
                .filter(|h| h.log_odds < 0.0 || h.log_odds >= NB_MIN_SPAM_LOG_ODDS)
                .map(|h| ((h.log_odds * NB_SCALE).clamp(-NB_TOKEN_CAP, NB_TOKEN_CAP), format!("token '{}'", h.term)))
                .collect();
            let sum: f64 = damped.iter().map(|(w, _)| w).sum();
            nb_correction = sum.clamp(NB_SUM_RANGE.0, NB_SUM_RANGE.1) - sum;
            // Reasons keep each token's own weight; the cap applies to their sum (below).
            evidence.extend(damped);
        }
        let mut promo_terms = false;
        for hit in self.hand_written.find(&words, &cjk_runs, &symbols) {
            promo_terms |= hit.log_odds >= 1.0;
            evidence.push((hit.log_odds, format!("token '{}'", hit.term)));
        }
        for signal in signals::signals(mention, &words) {
            evidence.push((signal.log_odds, signal.reason));
        }
        let text = crate::text::first_chars(&mention.text, PATTERN_CHARS);
        for signal in self.patterns.signals(text, mention.brand.as_deref(), &words, &cjk_runs, promo_terms) {
            evidence.push((signal.log_odds, signal.reason));
        }
        if let Some(authors) = self.repeated_by(mention, toks, repeats) {
            let minutes = self.repeat_window_secs.div_ceil(60);
            evidence.push((REPEAT_LOG_ODDS, format!("same text from {authors} authors in {minutes} min")));
        }

        let logit = BIAS + nb_correction + evidence.iter().map(|(w, _)| w).sum::<f64>();
        let score = round3(sigmoid(logit));
        // A term in both tables ("free") is one reason, with both weights.
        evidence.sort_by(|a, b| a.1.cmp(&b.1));
        evidence.dedup_by(|later, kept| {
            let same = later.1 == kept.1;
            if same {
                kept.0 += later.0;
            }
            same
        });
        evidence.retain(|(w, _)| *w >= REASON_MIN_LOG_ODDS);
        // Strongest first; ties in alphabetical order, so the list is the same every run.
        evidence.sort_by(|a, b| b.0.total_cmp(&a.0).then_with(|| a.1.cmp(&b.1)));
        let reasons = evidence.into_iter().take(MAX_REASONS).map(|(_, r)| r).collect();
        SpamScore { score, is_spam: score >= self.threshold, reasons }
    }

    /// `rules` with its score raised to `learned`, a learned head's probability of spam (named `by` in the
    /// reasons), where that is higher. The head adds to the rules' evidence and never takes from it: a campaign
    /// of repeats, for one, shows in no single text.
    pub fn raised(&self, rules: SpamScore, learned: f64, by: &str) -> SpamScore {
        let score = round3(learned);
        if score <= rules.score {
            return rules;
        }
        let mut reasons = rules.reasons;
        reasons.insert(0, format!("{by} {score:.2}"));
        reasons.truncate(MAX_REASONS);
        SpamScore { score, is_spam: score >= self.threshold, reasons }
    }

    /// How many authors posted this text within the window, when that reaches the configured number.
    fn repeated_by(&self, mention: &Mention, toks: &[Token], repeats: Repeats) -> Option<usize> {
        if !self.counts_repeats_of(mention, || toks) {
            return None;
        }
        let authors = match repeats {
            Repeats::Counted(authors) => authors,
            Repeats::Tracked => {
                let fingerprint = u128::from_str_radix(&mention.text_fingerprint(), 16).ok()?;
                self.repeats.record(fingerprint, &mention.author.id, mention.created_at.timestamp())
            }
        };
        (authors >= self.repeat_authors).then_some(authors)
    }

    /// The versions of the trained weights, the term list and the rules.
    pub fn version(&self) -> &str {
        &self.version
    }
}

fn sigmoid(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

#[cfg(test)]
mod tests {
    use super::*;
    use hark_core::fixtures;

    fn scorer() -> SpamScorer {
        SpamScorer::new(&Default::default())
    }

    fn mention(text: &str, followers: u64, following: u64) -> Mention {
        authored(text, "a", followers, following, "2026-11-20T10:00:00Z")
    }

    fn authored(text: &str, author: &str, followers: u64, following: u64, at: &str) -> Mention {
        fixtures::mention(text).author(author, followers).following(following).at(at).build()
    }

    fn has(s: &SpamScore, reason: &str) -> bool {
        s.reasons.iter().any(|r| r == reason)
    }

    #[test]
    fn promotion_scores_high_with_readable_reasons() {
        let s = scorer().score(
            &mention(
                "FREE GIVEAWAY!!! click the link https://a.example/x https://b.example/y #win #free #iphone #giveaway #follow",
                3,
                4000,
            ),
            "en",
        );
        assert!(s.is_spam, "{s:?}");
        assert!(has(&s, "2 links"), "{:?}", s.reasons);
        assert!(has(&s, "5 hashtags"), "{:?}", s.reasons);
        assert!(has(&s, "token 'free giveaway'"), "{:?}", s.reasons);
        assert!(has(&s, "author follows 4000 accounts but has 3 followers"), "{:?}", s.reasons);
        assert!(s.reasons.len() <= MAX_REASONS);
        let mut unique = s.reasons.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), s.reasons.len(), "a term found in both tables is one reason: {:?}", s.reasons);
    }

    #[test]
    fn harsh_complaints_are_not_spam() {
        for (text, lang) in [
            ("@SkyNordic my bag is lost for 5 days and nobody answers. Refund me now", "en"),
            ("WORST AIRLINE EVER, REFUND ME NOW!!!", "en"),
            ("@VeloceMobile stop charging me for a service I cancelled, call me back today", "en"),
            ("Veloce Mobile, ваш консультант в чате — хамло. Верните деньги!", "ru"),
        ] {
            let s = scorer().score(&mention(text, 300, 200), lang);
            assert!(!s.is_spam && s.score < 0.3, "{text}: {s:?}");
        }
    }

    #[test]
    fn each_signal_gives_its_reason() {
        let cases = [
            ("look luminawear-gifts.top now", "link to a .top domain"),
            ("see bit.ly/abc for the story", "shortened link"),
            ("#a #b #c #d hello", "4 hashtags"),
            ("@a @b @c @d hi", "4 @mentions"),
            ("THIS IS ALL IN CAPITALS TODAY", "mostly capital letters"),
            ("link in bio link in bio link in bio", "'link in bio' repeated 3 times"),
            ("free crypto signals, join my telegram", "token 'crypto signals'"),
            ("zarabiaj z telefonu, pisz na priv", "token 'pisz na priv'"),
            ("Бесплатный безлимит на год", "token 'бесплатн…'"),
            ("新人红包免费领取 加微信", "token '加微信'"),
            ("💰💰 money", "token '💰'"),
        ];
        for (text, reason) in cases {
            let s = scorer().score(&mention(text, 100, 100), "xx");
            assert!(has(&s, reason), "{text}: {:?}", s.reasons);
        }
        let s = scorer().score(&mention("Congratulations you have won a prize, claim it", 100, 100), "en");
        assert!(has(&s, "token 'claim'"), "trained weights apply to English: {:?}", s.reasons);
    }

    fn branded(text: &str, brand: &str) -> Mention {
        let mut m = mention(text, 100, 100);
        m.brand = Some(brand.into());
        m
    }

    #[test]
    fn structural_signals_catch_phishing_prizes_money_and_outlets_in_every_language() {
        let cases = [
            ("NordBank Security: your account has been suspended. Verify now at nordbank-secure-login.com", "NordBank", "en", "look-alike"),
            (
                "Veloce Mobile: il tuo account è stato bloccato. Verifica i tuoi dati su velocemobile-verifica.net",
                "Veloce Mobile",
                "it",
                "account said",
            ),
            (
                "Twoje konto PastaPronto zostało zablokowane! Potwierdź dane: pastapronto-weryfikacja.com",
                "PastaPronto",
                "pl",
                "account said",
            ),
            ("Ваш аккаунт SkyNordic заблокирован. Подтвердите данные: skynordic-support.com", "SkyNordic", "ru", "look-alike"),
            ("【Veloce Mobile】您的账号存在异常已被冻结，请点击 velocemobile-kefu.com 验证", "Veloce Mobile", "zh", "account said"),
            (
                "Has sido seleccionado para ganar una tarjeta regalo de Lumina Wear. Solo hoy: luminawear-premios.com",
                "Lumina Wear",
                "es",
                "prize with a deadline",
            ),
            (
                "SkyNordic verlost 2 Tickets! Teilnahme nur bis Mitternacht: skynordic-tickets.net",
                "SkyNordic",
                "de",
                "prize with a deadline",
            ),
            ("Investis 250 € en crypto et gagne 3000 € par semaine, écris-moi en privé", "PastaPronto", "fr", "money-making"),
            ("Lumina Wear outlet: dresses only 19€ at lumina-outlet.shop", "Lumina Wear", "en", "price or discount on a throwaway domain"),
            (
                "Scarpe Lumina a 15€ solo oggi! Scarpe Lumina a 15€ solo oggi! luminasaldi.com",
                "Lumina Wear",
                "it",
                "promo line repeated 2 times",
            ),
        ];
        for (text, brand, lang, reason) in cases {
            let s = scorer().score(&branded(text, brand), lang);
            assert!(s.is_spam && s.reasons.iter().any(|r| r.starts_with(reason) || r.contains(reason)), "{text}: {s:?}");
        }
    }

    #[test]
    fn the_learned_head_only_raises_the_score() {
        let rules = SpamScore { score: 0.4, is_spam: false, reasons: vec!["1 link".into()] };
        let raised = scorer().raised(rules.clone(), 0.83, "learned spam head");
        assert_eq!((raised.score, raised.is_spam), (0.83, true));
        assert_eq!(raised.reasons, ["learned spam head 0.83", "1 link"]);
        assert_eq!(scorer().raised(rules.clone(), 0.2, "learned spam head"), rules, "a repeat campaign the head cannot see stays spam");
    }

    #[test]
    fn complaints_about_blocked_accounts_prizes_and_prices_are_not_spam() {
        for (text, brand, lang) in [
            ("@NordBank my account is blocked since Monday and nobody answers, I need my salary", "NordBank", "en"),
            ("Veloce Mobile mi ha bloccato il conto senza motivo, pago 15€ al mese da anni", "Veloce Mobile", "it"),
            ("SkyNordic заблокировали мой аккаунт, там 3000 миль! Верните доступ", "SkyNordic", "ru"),
            ("Veloce Mobile 我的账号被冻结了，客服说要验证身份，等了三天还没解决", "Veloce Mobile", "zh"),
            ("Lumina Wear me ha bloqueado la cuenta y tenía un cupón de regalo de 20€ que caduca hoy", "Lumina Wear", "es"),
            ("PastaPronto mon compte est bloqué et mon bon d'achat de 10 € expire aujourd'hui. Merci pour rien", "PastaPronto", "fr"),
            ("Veloce Mobile's new plan: 30GB for €9.99 a month, details on velocemobile.com/plans", "Veloce Mobile", "en"),
            ("Lumina Wear summer sale is live, 50% off linen at luminawear.com. Finally!", "Lumina Wear", "en"),
            ("Where is my order? Where is my order? Where is my order? Paid $25 an hour ago", "PastaPronto", "en"),
        ] {
            let s = scorer().score(&branded(text, brand), lang);
            assert!(!s.is_spam, "{text}: {s:?}");
            assert!(!s.reasons.iter().any(|r| r.contains("look-alike")), "the brand's own domain: {s:?}");
        }
    }

    #[test]
    fn configured_brands_and_tagged_accounts_name_the_brand_a_host_imitates() {
        let config = EnrichConfig {
            brands: vec![crate::config::BrandQuery {
                name: "NordBank".into(),
                keywords: vec![],
                products: vec![],
                hashtags: vec![],
                handles: vec![],
                exclude: vec![],
                max_edit_distance: 0,
            }],
            ..Default::default()
        };
        let text = "Security notice: unusual activity, log in at nordbank-help.info";
        let s = SpamScorer::new(&config).score(&mention(text, 100, 100), "en");
        assert!(s.reasons.iter().any(|r| r.starts_with("link to nordbank-help.info, a look-alike of 'nordbank'")), "{s:?}");
        let tagged = scorer().score(&mention(&format!("@NordBank {text}"), 100, 100), "en");
        assert!(tagged.reasons.iter().any(|r| r.contains("look-alike")), "{tagged:?}");
        let unknown = scorer().score(&mention(text, 100, 100), "en");
        assert!(!unknown.reasons.iter().any(|r| r.contains("look-alike")), "{unknown:?}");
    }

    #[test]
    fn same_text_from_many_authors_within_the_window() {
        let scorer = scorer();
        let text = "Great offer on phones today check this out";
        for i in 0..4 {
            let s = scorer.score(&authored(text, &format!("bot{i}"), 10, 10, "2026-11-20T10:00:00Z"), "en");
            assert!(!s.reasons.iter().any(|r| r.starts_with("same text")), "{i}: {:?}", s.reasons);
        }
        let fifth = scorer.score(&authored(text, "bot4", 10, 10, "2026-11-20T10:05:00Z"), "en");
        assert!(has(&fifth, "same text from 5 authors in 10 min"), "{:?}", fifth.reasons);
        assert!(fifth.is_spam, "{fifth:?}");
        // An hour later the earlier posts have left the window.
        let later = scorer.score(&authored(text, "bot5", 10, 10, "2026-11-20T11:05:00Z"), "en");
        assert!(!later.reasons.iter().any(|r| r.starts_with("same text")), "{:?}", later.reasons);
    }

    #[test]
    fn short_texts_and_retweets_are_not_counted_as_repeats() {
        let scorer = scorer();
        for i in 0..10 {
            for text in ["thank you!", "RT @SkyNordic: we fly to Tbilisi from June, book now"] {
                let s = scorer.score(&authored(text, &format!("user{i}"), 10, 10, "2026-11-20T10:00:00Z"), "en");
                assert!(!s.reasons.iter().any(|r| r.starts_with("same text")), "{text}: {:?}", s.reasons);
            }
        }
    }

    #[test]
    fn scorer_is_shared_across_threads() {
        use rayon::prelude::*;
        let scorer = scorer();
        let repeated: Vec<bool> = (0..64)
            .into_par_iter()
            .map(|i| {
                let m = authored("the same copied text from a bot network", &format!("a{i}"), 1, 1, "2026-11-20T10:00:00Z");
                scorer.score(&m, "en").reasons.iter().any(|r| r.starts_with("same text from"))
            })
            .collect();
        // Whatever the order, exactly the fifth author onwards sees five authors.
        assert_eq!(repeated.iter().filter(|r| **r).count(), 60);
    }

    #[test]
    fn empty_and_huge_texts() {
        let s = scorer().score(&mention("", 0, 0), "und");
        assert!(!s.is_spam && s.score < 0.1, "{s:?}");
        let huge = "FREE crypto giveaway click here https://x.example ".repeat(21_000);
        assert!(huge.len() > 1_000_000);
        let s = scorer().score(&mention(&huge, 0, 10_000), "en");
        assert!((0.0..=1.0).contains(&s.score) && s.is_spam);
        assert!(s.reasons.len() <= MAX_REASONS);
        let plain = "ok the flight was fine ".repeat(50_000);
        let s = scorer().score(&mention(&plain, 100, 100), "en");
        assert!((0.0..=1.0).contains(&s.score), "{s:?}");
    }

    #[test]
    fn version_names_the_weights() {
        assert!(scorer().version().contains("nb-v1"));
    }
}
