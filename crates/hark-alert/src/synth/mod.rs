//! Labelled synthetic streams for measuring the detector, from two independent generators:
//!
//! - [`lab`]: the generator the first defaults were tuned on (one brand, sine-shaped days,
//!   Poisson arrivals, labels assigned directly);
//! - [`field`]: written afterwards to test what `lab` cannot: several brands from 0.2 to 50
//!   mentions a minute, other daily shapes and a weekly cycle, overdispersed arrivals, and real
//!   multilingual texts whose labels come from Hark's own enricher, errors included.
//!
//! Both give a [`Stream`]: the mentions in event-time order and the incidents in them.

pub mod field;
pub mod lab;

use chrono::{DateTime, Utc};
use hark_core::{enriched::InfluenceTier, mention::Author, EnrichedMention, Mention};

/// The first second of every stream: a Monday, 2026-01-05 00:00 UTC.
pub const EPOCH: i64 = 1_767_571_200;

/// An episode of a stream: an incident that should alert, or noise that should not.
#[derive(Debug, Clone, PartialEq)]
pub struct Incident {
    /// The brand's name as the mentions carry it.
    pub brand: String,
    pub start: i64,
    pub end: i64,
    /// What happens, in words.
    pub what: String,
    /// Should alert. Noise (a five-minute blip, a spam wave) should not.
    pub incident: bool,
    /// A large wave in the sense of the detector's goal: volume ×3 or more, or the negative
    /// share doubled, for 45 minutes or more.
    pub large: bool,
}

/// One generated stream.
#[derive(Debug, Clone)]
pub struct Stream {
    pub name: String,
    /// Days of the stream, the warm-up included.
    pub days: f64,
    pub brands: Vec<String>,
    pub episodes: Vec<Incident>,
    pub mentions: Vec<EnrichedMention>,
}

/// A generated mention of `brand` by a new author (the enrichment is the generator's business).
pub fn mention(
    brand: &str,
    id: String,
    platform: &str,
    text: String,
    created_at: DateTime<Utc>,
    rng: &mut fastrand::Rng,
    followers: u64,
) -> Mention {
    Mention {
        id,
        platform: platform.into(),
        text,
        created_at,
        author: Author { id: format!("a{}", rng.u32(..)), handle: None, followers: Some(followers), extra: Default::default() },
        url: None,
        brand: Some(brand.to_string()),
        lang_hint: None,
        engagement: None,
        ingested_at: None,
        ingested_by: None,
        extra: Default::default(),
    }
}

/// The influence tier of an author, with the enricher's default thresholds.
pub fn tier(followers: u64) -> InfluenceTier {
    match followers {
        f if f >= 1_000_000 => InfluenceTier::Mega,
        f if f >= 100_000 => InfluenceTier::Macro,
        f if f >= 10_000 => InfluenceTier::Micro,
        _ => InfluenceTier::Nano,
    }
}

/// A Poisson draw: Knuth's method for small means, a rounded normal for large ones.
pub fn poisson(rng: &mut fastrand::Rng, mean: f64) -> u64 {
    if mean <= 0.0 {
        return 0;
    }
    if mean > 30.0 {
        return (mean + mean.sqrt() * normal(rng)).round().max(0.0) as u64;
    }
    let limit = (-mean).exp();
    let (mut k, mut p) = (0, rng.f64());
    while p > limit {
        k += 1;
        p *= rng.f64();
    }
    k
}

/// A standard normal draw (Box–Muller).
pub fn normal(rng: &mut fastrand::Rng) -> f64 {
    (-2.0 * rng.f64().max(1e-12).ln()).sqrt() * (std::f64::consts::TAU * rng.f64()).cos()
}
