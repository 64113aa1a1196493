//! The spam signals that are not words: links, hashtag and @mention density, capitals,
//! repetition, and an author who follows far more accounts than follow them. Each one that fires
//! is a [`Signal`]: what it adds to the spam logit and the reason a moderator reads.

use hark_core::Mention;

pub struct Signal {
    pub log_odds: f64,
    pub reason: String,
}

fn signal(log_odds: f64, reason: String) -> Signal {
    Signal { log_odds, reason }
}

/// Top-level domains that throwaway promotion sites favour (cheap or free to register).
pub(super) const CHEAP_TLDS: &[&str] = &[
    "top", "xyz", "click", "win", "vip", "club", "online", "site", "tk", "ml", "ga", "cf", "gq", "gd", "nf", "cr", "vu", "info", "live",
    "shop", "store", "link", "buzz", "icu", "cc", "bid", "loan", "work", "cam", "rest",
];

/// Other top-level domains a bare `name.tld` in a post is taken to be a link for.
pub(super) const COMMON_TLDS: &[&str] = &[
    "com", "net", "org", "io", "co", "me", "ly", "gl", "app", "dev", "pro", "biz", "tv", "ws", "to", "eu", "uk", "us", "ca", "au", "in",
    "jp", "kr", "cn", "ru", "su", "ua", "pl", "de", "fr", "es", "it", "nl", "be", "ch", "at", "pt", "br", "mx", "ar", "se", "no", "dk",
    "fi", "cz", "tr", "news",
];

const SHORTENERS: &[&str] = &["bit.ly", "tinyurl.com", "goo.gl", "cutt.ly", "is.gd", "ow.ly", "rb.gy", "shorturl.at", "tiny.cc"];

/// The host of a whitespace-separated chunk if it is a link: `http(s)://…`, `www.…`, or a bare
/// `name.tld/…` with a known top-level domain (so "delivery.nobody", a missing space, is not one).
pub(super) fn link_host(chunk: &str) -> Option<&str> {
    if !chunk.contains('.') {
        return None;
    }
    let chunk = chunk.trim_matches(|c: char| !c.is_alphanumeric() && c != '/');
    let explicit = chunk.strip_prefix("https://").or_else(|| chunk.strip_prefix("http://"));
    let rest = explicit.unwrap_or(chunk);
    let rest = rest.strip_prefix("www.").unwrap_or(rest);
    let host = rest.split(['/', '?', '#']).next().unwrap_or("");
    if explicit.is_some() || chunk.starts_with("www.") {
        return Some(host);
    }
    let labels: Vec<&str> = host.split('.').collect();
    let valid_labels = labels.len() >= 2
        && labels.iter().all(|l| !l.is_empty() && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'))
        && labels[0].chars().any(|c| c.is_ascii_alphabetic());
    let tld = labels.last()?.to_ascii_lowercase();
    (valid_labels && (CHEAP_TLDS.contains(&tld.as_str()) || COMMON_TLDS.contains(&tld.as_str()))).then_some(host)
}

pub(super) fn top_level_domain(host: &str) -> String {
    host.rsplit('.').next().unwrap_or("").to_ascii_lowercase()
}

/// Every non-word signal that fires for `mention`; `words` are its word tokens in order.
pub fn signals(mention: &Mention, words: &[&str]) -> Vec<Signal> {
    let text = &mention.text;
    let mut out = Vec::new();
    let chunks: Vec<&str> = text.split_whitespace().collect();

    let hosts: Vec<&str> = chunks.iter().filter_map(|c| link_host(c)).collect();
    match hosts.len() {
        0 => {}
        1 => out.push(signal(0.9, "1 link".into())),
        n => out.push(signal((0.9 + 0.6 * (n - 1) as f64).min(2.5), format!("{n} links"))),
    }
    if let Some(host) = hosts.iter().find(|h| CHEAP_TLDS.contains(&top_level_domain(h).as_str())) {
        out.push(signal(1.0, format!("link to a .{} domain", top_level_domain(host))));
    }
    if hosts.iter().any(|h| SHORTENERS.contains(&h.to_ascii_lowercase().as_str())) {
        out.push(signal(0.8, "shortened link".into()));
    }

    let hashtags = chunks.iter().filter(|c| c.starts_with('#') && c.chars().nth(1).is_some_and(char::is_alphanumeric)).count();
    if hashtags >= 3 {
        out.push(signal((0.6 * (hashtags - 2) as f64).min(2.4), format!("{hashtags} hashtags")));
    }
    let handles = chunks.iter().filter(|c| c.starts_with('@') && c.len() > 1).count();
    if handles >= 3 {
        out.push(signal((0.6 * (handles - 2) as f64).min(2.4), format!("{handles} @mentions")));
    }
    if chunks.len() >= 4 && (hashtags + handles) * 2 >= chunks.len() {
        out.push(signal(0.8, "mostly hashtags and @mentions".into()));
    }

    let (mut upper, mut cased) = (0usize, 0usize);
    for c in text.chars().filter(|c| c.is_uppercase() || c.is_lowercase()) {
        cased += 1;
        upper += c.is_uppercase() as usize;
    }
    if cased >= 12 && upper * 10 >= cased * 7 {
        out.push(signal(0.8, "mostly capital letters".into()));
    }

    if let Some(percent) = big_discount(&chunks) {
        out.push(signal(0.8, format!("discount of {percent}%")));
    }
    if let Some((phrase, times)) = repeated_phrase(words) {
        out.push(signal((0.6 * times as f64).min(2.0), format!("'{phrase}' repeated {times} times")));
    }
    if has_long_run(text) {
        out.push(signal(0.3, "a character repeated 5+ times".into()));
    }

    let following = mention.author.extra.get("following").and_then(|v| v.as_u64()).unwrap_or(0);
    // The profile as claimed, trusted or not: a claim of a bot-like profile is itself the signal.
    let followers = mention.author.followers.unwrap_or(0);
    if following >= 1000 && following > 20 * followers.max(1) {
        out.push(signal(1.5, format!("author follows {following} accounts but has {followers} followers")));
    }
    out
}

/// A percentage of 50 or more written as promotions write discounts: "70%", "-90%", "100 %" followed
/// by "off". Lower figures are everyday talk ("battery at 20%").
pub(super) fn big_discount(chunks: &[&str]) -> Option<u32> {
    chunks.iter().enumerate().find_map(|(i, chunk)| {
        let number = chunk.trim_start_matches(['-', '–', '(']);
        let (digits, rest) = number.split_at(number.find(|c: char| !c.is_ascii_digit()).unwrap_or(number.len()));
        let percent_sign = rest.starts_with('%') || (rest.is_empty() && chunks.get(i + 1).is_some_and(|n| n.starts_with('%')));
        let value: u32 = digits.parse().ok()?;
        (percent_sign && (50..=100).contains(&value)).then_some(value)
    })
}

/// The phrase repeated most often, when a three-word phrase occurs twice or a two-word one three
/// times ("link in bio! link in bio!").
fn repeated_phrase(words: &[&str]) -> Option<(String, usize)> {
    let mut best: Option<(String, usize)> = None;
    for (n, min_times) in [(3, 2), (2, 3)] {
        if words.len() < n * min_times {
            continue;
        }
        // Sorted, equal phrases sit together: count the runs (no hashing; fine for 1 MB texts).
        let mut grams: Vec<&[&str]> = words.windows(n).collect();
        grams.sort_unstable();
        let (mut most, mut times, mut run) = (grams[0], 1, 1);
        for pair in grams.windows(2) {
            run = if pair[0] == pair[1] { run + 1 } else { 1 };
            // Sorted order makes the first of equally frequent phrases the alphabetical first,
            // so the reason is the same every run.
            if run > times {
                (most, times) = (pair[1], run);
            }
        }
        if times >= min_times && best.as_ref().is_none_or(|(_, t)| times > *t) {
            best = Some((most.join(" "), times));
        }
    }
    best
}

/// One letter or symbol five times in a row ("sooooo", "!!!!!"); digits and spaces do not count.
fn has_long_run(text: &str) -> bool {
    let mut run: (Option<char>, usize) = (None, 0);
    for c in text.chars() {
        run = if Some(c) == run.0 { (run.0, run.1 + 1) } else { (Some(c), 1) };
        if run.1 >= 5 && !c.is_whitespace() && !c.is_ascii_digit() {
            return true;
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bare_domains_are_links_only_with_a_known_tld() {
        assert_eq!(link_host("luminawear-gifts.top"), Some("luminawear-gifts.top"));
        assert_eq!(link_host("👉bit.ly/sky-nordic-gift"), Some("bit.ly"));
        assert_eq!(link_host("https://newsdesk.example/q3"), Some("newsdesk.example"));
        assert_eq!(link_host("www.example.org,"), Some("example.org"));
        assert_eq!(link_host("delivery.nobody"), None);
        assert_eq!(link_host("3.5"), None);
        assert_eq!(link_host("e.g."), None);
    }

    #[test]
    fn repeated_phrases() {
        let words = ["link", "in", "bio", "link", "in", "bio", "link", "in", "bio"];
        assert_eq!(repeated_phrase(&words), Some(("link in bio".into(), 3)));
        assert_eq!(repeated_phrase(&["no", "no", "no", "signal"]), None);
        assert_eq!(repeated_phrase(&["no", "signal", "no", "signal"]), None);
    }

    #[test]
    fn discounts_of_half_or_more() {
        let chunks = |t: &'static str| t.split_whitespace().collect::<Vec<_>>();
        assert_eq!(big_discount(&chunks("70% off designer brands")), Some(70));
        assert_eq!(big_discount(&chunks("LUMINA90 -90% su tutto")), Some(90));
        assert_eq!(big_discount(&chunks("PASTA100 = 100 % remboursé")), Some(100));
        assert_eq!(big_discount(&chunks("battery at 20% by noon")), None);
        assert_eq!(big_discount(&chunks("I am 100 sure")), None);
    }
}
