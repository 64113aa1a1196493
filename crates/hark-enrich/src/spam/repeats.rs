//! "The same text from N authors in M minutes": a bounded, time-windowed count of the distinct
//! authors who posted each text, keyed by the dedupe fingerprint (`Mention::text_fingerprint`).
//!
//! This count is per process: each `hark enrich-file` or `hark eval` run starts empty and sees
//! only the mentions it enriches. The enrich stage counts in Redis instead, over all its
//! instances ([`crate::repeat_store`]).
//!
//! The clock is the mention's own `created_at`, never the wall clock, so replaying the same
//! mentions in the same order gives the same answers. A mention counts the authors of earlier-
//! processed mentions with the same text whose `created_at` lies in the window that ends at its
//! own `created_at`.
//!
//! The map is split into shards, each behind its own mutex and picked by the fingerprint, so
//! threads scoring different texts rarely wait on each other. Memory is bounded: each shard holds
//! at most `capacity / SHARDS` texts (expired ones go first, then the longest unseen) and each text
//! at most `max_authors` authors.

use std::collections::HashMap;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::Mutex;

const SHARDS: usize = 64;

/// Texts kept at most, over all shards.
pub const DEFAULT_CAPACITY: usize = 65_536;

pub struct RepeatTracker {
    shards: Box<[Mutex<Shard>]>,
    window_secs: i64,
    capacity_per_shard: usize,
    max_authors: usize,
}

#[derive(Default)]
struct Shard {
    texts: HashMap<u128, Sightings>,
    /// The newest `created_at` this shard has seen: expiry runs on it.
    clock: i64,
}

/// Who posted one text, and when (the newest post of each author).
struct Sightings {
    authors: Vec<(u64, i64)>,
    newest: i64,
}

impl RepeatTracker {
    /// Counts authors within `window_secs`; a text keeps at most `max_authors` of them, so a
    /// count saturates there.
    pub fn new(window_secs: u64, capacity: usize, max_authors: usize) -> Self {
        let shards = (0..SHARDS).map(|_| Mutex::new(Shard::default())).collect();
        RepeatTracker {
            shards,
            window_secs: window_secs.min(i64::MAX as u64) as i64,
            capacity_per_shard: (capacity / SHARDS).max(1),
            max_authors: max_authors.max(1),
        }
    }

    /// Records that `author` posted the text with `fingerprint` at `at` (seconds), and returns how
    /// many distinct authors, this one included, posted it within the window ending at `at`.
    pub fn record(&self, fingerprint: u128, author: &str, at: i64) -> usize {
        let author = hash_author(author);
        let shard = &self.shards[(fingerprint as usize) % SHARDS];
        // A panic elsewhere while holding the lock leaves the counts usable: take them anyway.
        let mut shard = shard.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        shard.clock = shard.clock.max(at);
        if shard.texts.len() >= self.capacity_per_shard && !shard.texts.contains_key(&fingerprint) {
            shard.evict(self.window_secs, self.capacity_per_shard);
        }

        let sightings = shard.texts.entry(fingerprint).or_insert_with(|| Sightings { authors: Vec::new(), newest: at });
        sightings.newest = sightings.newest.max(at);
        let oldest_kept = sightings.newest.saturating_sub(self.window_secs);
        sightings.authors.retain(|&(_, seen)| seen >= oldest_kept);
        match sightings.authors.iter_mut().find(|(a, _)| *a == author) {
            Some((_, seen)) => *seen = (*seen).max(at),
            None => {
                if sightings.authors.len() >= self.max_authors {
                    // Full: the author seen longest ago makes room.
                    if let Some(oldest) = sightings.authors.iter().enumerate().min_by_key(|(_, (_, s))| *s).map(|(i, _)| i) {
                        sightings.authors.swap_remove(oldest);
                    }
                }
                sightings.authors.push((author, at));
            }
        }
        let from = at.saturating_sub(self.window_secs);
        sightings.authors.iter().filter(|&&(_, seen)| seen >= from && seen <= at).count().max(1)
    }

    /// How many texts are tracked now (for tests and metrics).
    pub fn len(&self) -> usize {
        self.shards.iter().map(|s| s.lock().unwrap_or_else(|p| p.into_inner()).texts.len()).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl Shard {
    /// Makes room for one more text: drops the expired ones, then, if that was not enough, the
    /// tenth seen longest ago (so eviction runs once per many inserts, not on each).
    fn evict(&mut self, window_secs: i64, capacity: usize) {
        let expired_before = self.clock.saturating_sub(window_secs);
        self.texts.retain(|_, s| s.newest >= expired_before);
        if self.texts.len() < capacity {
            return;
        }
        let mut newest: Vec<i64> = self.texts.values().map(|s| s.newest).collect();
        let cut = (capacity / 10).min(newest.len() - 1);
        let (_, &mut cutoff, _) = newest.select_nth_unstable(cut);
        // Drops at least `cut + 1` texts; more when many share the cutoff second.
        self.texts.retain(|_, s| s.newest > cutoff);
    }
}

fn hash_author(author: &str) -> u64 {
    // SipHash with fixed keys: the same author id gives the same key in every run.
    let mut hasher = DefaultHasher::new();
    author.hash(&mut hasher);
    hasher.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn counts_distinct_authors_within_the_window() {
        let tracker = RepeatTracker::new(600, 1000, 64);
        assert_eq!(tracker.record(7, "a", 0), 1);
        assert_eq!(tracker.record(7, "a", 10), 1, "the same author twice is one author");
        assert_eq!(tracker.record(7, "b", 20), 2);
        assert_eq!(tracker.record(7, "c", 700), 1, "a and b posted more than 600 s before");
        assert_eq!(tracker.record(8, "d", 700), 1, "another text counts apart");
    }

    #[test]
    fn late_arrivals_count_only_earlier_posts() {
        let tracker = RepeatTracker::new(600, 1000, 64);
        tracker.record(1, "a", 1000);
        tracker.record(1, "b", 1100);
        // Created before b's post: b does not count for it.
        assert_eq!(tracker.record(1, "c", 1050), 2);
    }

    #[test]
    fn memory_stays_bounded() {
        let tracker = RepeatTracker::new(600, SHARDS * 10, 4);
        for i in 0..100_000u128 {
            tracker.record(i.wrapping_mul(0x9E37_79B9_7F4A_7C15), "a", 5);
        }
        assert!(tracker.len() <= SHARDS * 10, "{} texts kept", tracker.len());
        for author in 0..100 {
            tracker.record(42, &author.to_string(), 5);
        }
        assert_eq!(tracker.record(42, "last", 5), 4, "a text keeps at most max_authors");
    }

    #[test]
    fn threads_share_one_count() {
        let tracker = Arc::new(RepeatTracker::new(600, 10_000, 1000));
        let handles: Vec<_> = (0..8)
            .map(|t| {
                let tracker = Arc::clone(&tracker);
                std::thread::spawn(move || {
                    for i in 0..100 {
                        tracker.record(u128::MAX, &format!("author-{t}-{i}"), 100);
                        tracker.record(t as u128 * 1000 + i, "other", 100);
                    }
                })
            })
            .collect();
        for handle in handles {
            handle.join().unwrap();
        }
        assert_eq!(tracker.record(u128::MAX, "author-0-0", 100), 800, "every thread's authors counted once");
        assert_eq!(tracker.len(), 801);
    }
}
