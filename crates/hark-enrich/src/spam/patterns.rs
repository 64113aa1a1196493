//! The structural spam signals that need words as well as shape (`data/spam-patterns-v1.tsv`):
//! a link whose host embeds a brand's name but is not the brand's own domain, an account said to
//! be blocked or in need of verification, a prize with a deadline, a money-making offer, a low
//! price or a big discount on a throwaway domain, and a promo line repeated within one post.
//!
//! The word groups only say which kind of thing a text talks about; each signal fires on a
//! combination (prize *and* deadline, account *and* blocked), because each group alone is
//! everyday complaint vocabulary (*free*, *today*, *account*, *blocked*).

use std::collections::HashMap;

use crate::text::{tsv_rows, Phrases, Stems};

use super::signals::{link_host, top_level_domain, Signal, CHEAP_TLDS, COMMON_TLDS};

const PRIZE: u8 = 1;
const DEADLINE: u8 = 2;
const MONEY: u8 = 4;
const ACCOUNT: u8 = 8;
const THREAT: u8 = 16;

fn group(name: &str) -> Option<u8> {
    Some(match name {
        "prize" => PRIZE,
        "deadline" => DEADLINE,
        "money" => MONEY,
        "account" => ACCOUNT,
        "threat" => THREAT,
        _ => return None,
    })
}

/// Brand names shorter than this are not looked for in hosts: "sky" is in too many of them.
const MIN_BRAND_CHARS: usize = 4;

pub struct Patterns {
    /// Each word, phrase, stem or Chinese term with the groups (bits) it belongs to.
    phrases: Phrases<u8>,
    stems: Stems<u8>,
    cjk: Vec<(String, u8)>,
    /// Parts look-alike and phishing hosts are made of (*secure*, *login*, *promo*, *gift*).
    host_words: Vec<String>,
    /// The configured brands' names, keywords and handles, as [`brand_key`] writes them.
    brands: Vec<String>,
}

/// A brand name as it appears in a host: lowercase ASCII letters and digits only
/// ("Veloce Mobile" → "velocemobile"), or None when too short to be telling.
pub fn brand_key(name: &str) -> Option<String> {
    let key: String = name.chars().filter(char::is_ascii_alphanumeric).map(|c| c.to_ascii_lowercase()).collect();
    (key.len() >= MIN_BRAND_CHARS).then_some(key)
}

/// The keys a brand name stands for in hosts: the whole name, and its first word when that is
/// long enough to be distinctive ("veloce" of "Veloce Mobile").
fn brand_keys(name: &str) -> impl Iterator<Item = String> {
    let first = name.split_whitespace().nth(1).and(name.split_whitespace().next()).filter(|w| w.chars().count() >= 5);
    brand_key(name).into_iter().chain(first.and_then(brand_key))
}

impl Patterns {
    /// The groups of `tsv` (`group lang term`), and the configured brand names to look for in hosts.
    pub fn new<'a>(tsv: &str, configured_brands: impl Iterator<Item = &'a str>) -> Self {
        let mut phrases: HashMap<String, u8> = HashMap::new();
        let mut stems: HashMap<String, u8> = HashMap::new();
        let mut cjk: HashMap<String, u8> = HashMap::new();
        let mut host_words = Vec::new();
        for fields in tsv_rows(tsv) {
            let [name, _lang, term, ..] = fields[..] else { continue };
            let term = term.to_lowercase();
            if name == "host" {
                host_words.push(term);
                continue;
            }
            let Some(bit) = group(name) else { continue };
            let table = if term.chars().any(crate::text::is_cjk) {
                &mut cjk
            } else if term.ends_with('*') {
                &mut stems
            } else {
                &mut phrases
            };
            *table.entry(term.trim_end_matches('*').to_string()).or_default() |= bit;
        }
        let mut patterns = Patterns {
            phrases: Phrases::default(),
            stems: Stems::default(),
            cjk: cjk.into_iter().collect(),
            host_words,
            brands: Vec::new(),
        };
        for (term, bits) in phrases {
            patterns.phrases.insert(&term, bits);
        }
        for (stem, bits) in stems {
            patterns.stems.insert(&stem, bits);
        }
        let mut brands: Vec<String> = configured_brands.flat_map(brand_keys).collect();
        brands.sort();
        brands.dedup();
        patterns.brands = brands;
        patterns
    }

    /// The groups (bits) the text's words and Chinese runs belong to.
    fn groups(&self, words: &[&str], cjk_runs: &[&str]) -> u8 {
        let mut bits = 0;
        for (i, word) in words.iter().enumerate() {
            let mut exact = false;
            for (len, b) in self.phrases.starting_at(words, i) {
                exact |= len == 1;
                bits |= b;
            }
            if !exact {
                if let Some((_, b)) = self.stems.longest(word) {
                    bits |= b;
                }
            }
        }
        for run in cjk_runs {
            for (term, b) in &self.cjk {
                if bits & b != *b && run.contains(term.as_str()) {
                    bits |= b;
                }
            }
        }
        bits
    }

    /// Every structural signal that fires. `brand` is the mention's own brand field; `words`
    /// and `cjk_runs` its tokens; `promo_terms` whether a hand-written spam term was found.
    pub fn signals(&self, text: &str, brand: Option<&str>, words: &[&str], cjk_runs: &[&str], promo_terms: bool) -> Vec<Signal> {
        let mut out = Vec::new();
        let chunks: Vec<&str> = text.split_whitespace().collect();
        let hosts: Vec<String> = chunks.iter().filter_map(|c| link_host(c)).map(|h| h.to_ascii_lowercase()).collect();
        let bits = self.groups(words, cjk_runs);
        let has = |b: u8| bits & b != 0;

        // Brands to look for: the configured ones, the mention's own, and the accounts it tags
        // (a phishing reply tags the brand it impersonates).
        let mut lookalike: Option<(&str, String)> = None;
        if !hosts.is_empty() {
            // Only mentions with a link get here, so the copy is rare.
            let brands: Vec<String> = brand
                .into_iter()
                .flat_map(brand_keys)
                .chain(chunks.iter().filter_map(|c| c.strip_prefix('@')).filter_map(brand_key))
                .chain(self.brands.iter().cloned())
                .collect();
            lookalike = hosts.iter().find_map(|host| Some((host.as_str(), imitated_brand(host, &brands)?.to_string())));
        }
        let phishing_host = hosts.iter().find_map(|h| self.host_word(h));
        let cheap_link = hosts.iter().any(|h| CHEAP_TLDS.contains(&top_level_domain(h).as_str()));
        if let Some((host, imitated)) = &lookalike {
            let (log_odds, also) = match phishing_host {
                Some(word) => (2.5, format!(", with '{word}'")),
                None => (2.0, String::new()),
            };
            out.push(Signal { log_odds, reason: format!("link to {host}, a look-alike of '{imitated}'{also}") });
        } else if let Some(word) = phishing_host.filter(|w| LOGIN_WORDS.contains(w)) {
            out.push(Signal { log_odds: 1.0, reason: format!("link host with '{word}'") });
        }

        if has(ACCOUNT) && has(THREAT) {
            if hosts.is_empty() {
                out.push(Signal { log_odds: 0.8, reason: "account said to be blocked or to need verifying".into() });
            } else {
                out.push(Signal { log_odds: 2.0, reason: "account said to be blocked or to need verifying, with a link".into() });
            }
        }
        if has(PRIZE) && has(DEADLINE) {
            out.push(Signal { log_odds: 1.2, reason: "prize with a deadline".into() });
        }
        // The scans below read the whole text, so they run only where they can add something.
        let throwaway = cheap_link || lookalike.is_some();
        let amount = (has(MONEY) || throwaway) && money_amount(text);
        // A sum of money beside earning or investing words is the offer itself ("$200 into $8,400").
        if has(MONEY) && (amount || !hosts.is_empty() || promo_terms) {
            let log_odds = if amount { 1.5 } else { 1.0 };
            out.push(Signal { log_odds, reason: "money-making or investment offer".into() });
        }
        if throwaway && (amount || super::signals::big_discount(&chunks).is_some()) {
            out.push(Signal { log_odds: 1.0, reason: "price or discount on a throwaway domain".into() });
        }
        if !hosts.is_empty() || promo_terms || has(PRIZE | MONEY) {
            if let Some(times) = repeated_line(text) {
                out.push(Signal { log_odds: (0.6 * times as f64).min(1.5), reason: format!("promo line repeated {times} times") });
            }
        }
        out
    }

    /// The first host word in the host's parts (split at `-` and `.`), if any.
    fn host_word(&self, host: &str) -> Option<&str> {
        host.split(['-', '.']).find_map(|part| self.host_words.iter().find(|w| part == w.as_str()).map(String::as_str))
    }
}

/// Host words that only a login or account page has, so telling even with no brand in sight.
const LOGIN_WORDS: &[&str] = &["secure", "security", "login", "signin", "verify", "verification", "auth", "unlock", "recovery", "wallet"];

/// The brand a host imitates: one whose key is inside the host's name, when the host is not a
/// known brand's own domain (`pastapronto.it`, `help.skynordic.com`: a label equal to a key,
/// followed by a top-level domain or two, as in `co.uk`).
fn imitated_brand<'a>(host: &str, brands: &'a [String]) -> Option<&'a str> {
    let squashed: String = host.chars().filter(char::is_ascii_alphanumeric).collect();
    let imitated = brands.iter().find(|brand| squashed.contains(brand.as_str()))?;
    let labels: Vec<&str> = host.split('.').collect();
    let own = labels.iter().enumerate().any(|(i, label)| {
        let rest = &labels[i + 1..];
        let is_tld = |l: &&str| COMMON_TLDS.contains(l) || l.len() == 2;
        // `pl.co`, `fr.gd`: a country code under another registry's domain is a trick, not a
        // second-level domain such as `co.uk`.
        let second_level = match rest {
            [_] => true,
            [registry, _] => matches!(*registry, "co" | "com" | "org" | "net" | "gov" | "ac"),
            _ => false,
        };
        second_level && rest.iter().all(is_tld) && brands.contains(&label.replace('-', ""))
    });
    (!own).then_some(imitated.as_str())
}

/// Whether the text names a sum of money: a number with a currency sign or word beside it
/// ("$200", "500€", "0,99 €", "3000 zł", "100к", "1欧").
fn money_amount(text: &str) -> bool {
    const SIGNS: &[char] = &['$', '€', '£', '¥', '₽', '元', '欧'];
    const WORDS: &[&str] = &["zł", "zl", "pln", "eur", "euro", "euros", "usd", "dollars", "руб", "рублей", "usdt", "btc", "块", "к"];
    let mut previous = ' ';
    let mut last_sign = false;
    let mut rest = text;
    while let Some(c) = rest.chars().next() {
        let after = &rest[c.len_utf8()..];
        if c.is_ascii_digit() && !previous.is_ascii_digit() {
            if last_sign {
                return true;
            }
            // After the number: its digits and separators, then one space at most.
            let end = after.find(|c: char| !(c.is_ascii_digit() || matches!(c, '.' | ',' | '+'))).unwrap_or(after.len());
            let tail = after[end..].strip_prefix(' ').unwrap_or(&after[end..]);
            if tail.starts_with(SIGNS) {
                return true;
            }
            let word_end = tail.find(|c: char| !c.is_alphabetic() || crate::text::is_cjk(c)).unwrap_or(tail.len());
            let word = if word_end == 0 { tail.chars().next().map_or("", |c| &tail[..c.len_utf8()]) } else { &tail[..word_end] };
            if WORDS.iter().any(|w| word.eq_ignore_ascii_case(w) || word.to_lowercase() == *w) {
                return true;
            }
        }
        if !c.is_whitespace() {
            last_sign = SIGNS.contains(&c);
        }
        previous = c;
        rest = after;
    }
    false
}

/// How often the most repeated line or sentence of three words or more occurs, when twice or more.
fn repeated_line(text: &str) -> Option<usize> {
    let mut lines: Vec<String> = text
        .split(['\n', '.', '!', '?', '。', '！', '？', '|'])
        .map(|line| {
            let words: Vec<String> = crate::text::words(line);
            words.join(" ")
        })
        .filter(|line| line.split(' ').count() >= 3)
        .collect();
    if lines.len() < 2 {
        return None;
    }
    lines.sort_unstable();
    let (mut best, mut run) = (1, 1);
    for pair in lines.windows(2) {
        run = if pair[0] == pair[1] { run + 1 } else { 1 };
        best = best.max(run);
    }
    (best >= 2).then_some(best)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn look_alike_hosts_but_not_the_brands_own() {
        let brands = vec!["pastapronto".to_string(), "skynordic".to_string(), "veloce".to_string()];
        assert_eq!(imitated_brand("pastapronto-codes.click", &brands), Some("pastapronto"));
        assert_eq!(imitated_brand("skynordic.secure-login.xyz", &brands), Some("skynordic"));
        assert_eq!(imitated_brand("skynordic-bilety.pl.co", &brands), Some("skynordic"));
        assert_eq!(imitated_brand("skynordic.pl.co", &brands), Some("skynordic"));
        assert_eq!(imitated_brand("veloce-freedata.xyz", &brands), Some("veloce"));
        assert_eq!(imitated_brand("pastapronto.it", &brands), None);
        let with_first_word = vec!["velocemobile".to_string(), "veloce".to_string()];
        assert_eq!(imitated_brand("velocemobile.com", &with_first_word), None, "the brand's own domain, by its full name");
        assert_eq!(imitated_brand("veloce-promo.com", &with_first_word), Some("veloce"));
        assert_eq!(imitated_brand("help.skynordic.com", &brands), None);
        assert_eq!(imitated_brand("skynordic.co.uk", &brands), None);
        assert_eq!(imitated_brand("newsdesk.example", &brands), None);
    }

    #[test]
    fn sums_of_money() {
        for text in ["turned $200 into $8,400", "300GB a 0,99€", "Zarabiaj 3000 zł", "от 100к в месяц", "100G流量只要1欧", "19 € only"]
        {
            assert!(money_amount(text), "{text}");
        }
        for text in ["flight 420 was late", "20% battery", "gate B12", "3 days"] {
            assert!(!money_amount(text), "{text}");
        }
    }

    #[test]
    fn repeated_lines() {
        assert_eq!(repeated_line("Get 70% off at shop.top! Get 70% off at shop.top!"), Some(2));
        assert_eq!(repeated_line("link in bio\nlink in bio\nlink in bio"), Some(3));
        assert_eq!(repeated_line("no no no. really no."), None);
        assert_eq!(repeated_line("one line only"), None);
    }
}
