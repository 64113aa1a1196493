//! The second stream generator ("field"), written independently of [`super::lab`] to test the
//! detector on what `lab` does not have:
//!
//! - five brands per stream, from 0.2 to 50 mentions a minute at the day's average;
//! - a daily shape drawn per brand (evening peak at a random hour, lunch and evening peaks,
//!   office hours, or nearly flat) and a weekly cycle (weekends from half to 1.3 times weekdays);
//! - overdispersed arrivals: the Poisson rate is multiplied by a log-normal noise that wanders
//!   from one five-minute block to the next (correlation 0.8, spread drawn per brand);
//! - real multilingual texts drawn by their human sentiment label, whose labels then come from
//!   Hark's own enricher ([`Pool`]): a wave of angry texts is only as negative as the enricher
//!   reads it, and some praise is read as complaint;
//! - per brand and week, two large incidents (a negative wave with more volume, a volume surge,
//!   or the negative share doubled at about the same volume; 45 to 180 minutes, sudden or
//!   ramping), one small incident, and two five-minute blips that are noise.
//!
//! Nine days: two of warm-up before the week the figures are about, though alerts are counted
//! from the first hour (a brand seen for the first time is part of the test).

use chrono::{DateTime, TimeZone, Utc};
use hark_core::{
    enriched::{Enrichment, Influence},
    EnrichedMention,
};

use super::{normal, poisson, Incident, Stream, EPOCH};

/// A text the generator can draw: its human label, and what Hark's enricher made of it.
#[derive(Debug, Clone)]
pub struct PoolText {
    pub text: String,
    /// The human label: the generator draws negative texts for negative mentions.
    pub negative: bool,
    pub spam: bool,
    /// The enricher's labels of the text (influence is set per mention).
    pub enrichment: Enrichment,
}

/// The texts to draw from, by human label.
#[derive(Debug, Clone, Default)]
pub struct Pool {
    negative: Vec<PoolText>,
    other: Vec<PoolText>,
    spam: Vec<PoolText>,
}

impl Pool {
    pub fn new(texts: Vec<PoolText>) -> Pool {
        let mut pool = Pool::default();
        for t in texts {
            if t.spam {
                pool.spam.push(t);
            } else if t.negative {
                pool.negative.push(t);
            } else {
                pool.other.push(t);
            }
        }
        pool
    }

    pub fn is_usable(&self) -> bool {
        !self.negative.is_empty() && !self.other.is_empty()
    }

    fn draw(&self, rng: &mut fastrand::Rng, spam: bool, negative: bool) -> &PoolText {
        let list = if spam && !self.spam.is_empty() {
            &self.spam
        } else if negative {
            &self.negative
        } else {
            &self.other
        };
        &list[rng.usize(..list.len())]
    }
}

/// The day's shape of a brand's traffic.
#[derive(Debug, Clone, Copy)]
enum DailyShape {
    /// One peak at `hour`, `amplitude` above and below the mean.
    Peak {
        hour: f64,
        amplitude: f64,
    },
    /// Lunch and evening peaks over a quiet night.
    TwoPeaks,
    /// High from 09:00 to 18:00, low otherwise.
    Office,
    Flat,
}

impl DailyShape {
    fn factor(self, hour: f64) -> f64 {
        let bump = |centre: f64, width: f64| (-((hour - centre) / width).powi(2)).exp();
        match self {
            DailyShape::Peak { hour: peak, amplitude } => 1.0 + amplitude * ((hour - peak) / 24.0 * std::f64::consts::TAU).cos(),
            DailyShape::TwoPeaks => 0.35 + 1.1 * bump(12.5, 1.5) + 1.5 * bump(20.5, 2.0),
            DailyShape::Office => {
                if (9.0..18.0).contains(&hour) {
                    1.7
                } else {
                    0.45
                }
            }
            DailyShape::Flat => 1.0,
        }
    }
}

/// What an episode does to a brand's traffic while it lasts.
#[derive(Debug, Clone, Copy)]
struct Effect {
    volume: f64,
    negative_share: Option<f64>,
    /// Minutes to reach full strength (0: at once).
    ramp_minutes: f64,
}

struct Brand {
    name: String,
    per_minute: f64,
    shape: DailyShape,
    weekend: f64,
    noise_sd: f64,
    negative_share: f64,
    spam_share: f64,
    episodes: Vec<(Incident, Effect)>,
}

/// Brands' names and mean rates (mentions a minute).
const BRANDS: [(&str, f64); 5] =
    [("Kettle & Co", 0.2), ("Nordlys Bank", 1.0), ("Volta Cars", 4.0), ("Mira Foods", 15.0), ("Arvo Air", 50.0)];
pub const DAYS: i64 = 9;

/// One stream of the field generator per brand, for the given seed.
pub fn generate(seed: u64, pool: &Pool) -> Vec<Stream> {
    let mut rng = fastrand::Rng::with_seed(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ 0xf1e1d);
    let brands: Vec<(Brand, u64)> = BRANDS.iter().map(|(name, rate)| (brand(&mut rng, name, *rate), rng.u64(..))).collect();
    brands.iter().map(|(b, stream_seed)| stream(b, *stream_seed, pool, DAYS)).collect()
}

fn brand(rng: &mut fastrand::Rng, name: &str, per_minute: f64) -> Brand {
    let shape = match rng.u8(0..4) {
        0 => DailyShape::Peak { hour: 10.0 + 12.0 * rng.f64(), amplitude: 0.3 + 0.5 * rng.f64() },
        1 => DailyShape::TwoPeaks,
        2 => DailyShape::Office,
        _ => DailyShape::Flat,
    };
    let negative_share = 0.12 + 0.23 * rng.f64();
    let mut episodes = Vec::new();
    // Each day of the week from day 2 gets at most one episode, at a random time.
    let mut days: Vec<i64> = (2..DAYS).collect();
    rng.shuffle(&mut days);
    let kinds = ["large", "large", "small", "blip", "blip"];
    for (kind, day) in kinds.iter().zip(days) {
        let start = EPOCH + day * 86_400 + rng.i64(0..(86_400 - 4 * 3600));
        let ramp_minutes = if rng.bool() { 0.0 } else { 10.0 + 20.0 * rng.f64() };
        let (minutes, effect, what, incident, large) = match *kind {
            "large" => match rng.u8(0..3) {
                0 => {
                    let share = (2.0 * negative_share).max(0.55 + 0.3 * rng.f64()).min(0.9);
                    let volume = 2.0 + 4.0 * rng.f64();
                    let e = Effect { volume, negative_share: Some(share), ramp_minutes };
                    (rng.i64(45..=180), e, format!("negative wave: ×{volume:.1} volume, {:.0}% negative", share * 100.0), true, true)
                }
                1 => {
                    let volume = 3.0 + 2.0 * rng.f64();
                    let e = Effect { volume, negative_share: None, ramp_minutes };
                    (rng.i64(45..=120), e, format!("volume surge ×{volume:.1}"), true, true)
                }
                _ => {
                    let share = (negative_share * (2.0 + 0.5 * rng.f64())).min(0.9);
                    let volume = 1.0 + 0.3 * rng.f64();
                    let e = Effect { volume, negative_share: Some(share), ramp_minutes };
                    (rng.i64(60..=180), e, format!("negative share doubled to {:.0}% (×{volume:.1} volume)", share * 100.0), true, true)
                }
            },
            "small" => {
                let share = negative_share + 0.1;
                let e = Effect { volume: 1.5, negative_share: Some(share), ramp_minutes: 0.0 };
                (60, e, "small wave: ×1.5 volume, +10 points negative".into(), true, false)
            }
            _ => {
                let volume = 3.0 + rng.f64();
                let e = Effect { volume, negative_share: None, ramp_minutes: 0.0 };
                (rng.i64(2..=5), e, format!("blip: ×{volume:.1} volume for minutes"), false, false)
            }
        };
        let incident = Incident { brand: name.to_string(), start, end: start + minutes * 60, what, incident, large };
        episodes.push((incident, effect));
    }
    Brand {
        name: name.to_string(),
        per_minute,
        shape,
        weekend: 0.5 + 0.8 * rng.f64(),
        noise_sd: 0.1 + 0.25 * rng.f64(),
        negative_share,
        spam_share: 0.02 + 0.06 * rng.f64(),
        episodes,
    }
}

/// A brand seen for the first time: a day of its traffic with a large negative wave from its
/// third to sixth hour, so the baseline has at most a few hours of history.
pub fn cold_start(seed: u64, pool: &Pool) -> Vec<Stream> {
    let mut rng = fastrand::Rng::with_seed(seed ^ 0xc01d);
    BRANDS[1..]
        .iter()
        .map(|(name, rate)| {
            let mut b = brand(&mut rng, name, *rate);
            let start = EPOCH + rng.i64(3 * 3600..5 * 3600);
            let share = (2.0 * b.negative_share).max(0.6);
            let incident = Incident {
                brand: name.to_string(),
                start,
                end: start + 90 * 60,
                what: "negative wave in the brand's first hours".into(),
                incident: true,
                large: true,
            };
            b.episodes = vec![(incident, Effect { volume: 3.0, negative_share: Some(share), ramp_minutes: 0.0 })];
            stream(&b, rng.u64(..), pool, 1)
        })
        .collect()
}

fn stream(brand: &Brand, seed: u64, pool: &Pool, days: i64) -> Stream {
    let mut rng = fastrand::Rng::with_seed(seed);
    // The daily shape's mean over a day, so `per_minute` is the day's average.
    let shape_mean = (0..1440).map(|m| brand.shape.factor(m as f64 / 60.0)).sum::<f64>() / 1440.0;
    let mut noise = 0.0;
    let mut mentions = Vec::new();
    for minute in 0..days * 1440 {
        let t0 = EPOCH + minute * 60;
        if minute % 5 == 0 {
            noise = 0.8 * noise + 0.6 * brand.noise_sd * normal(&mut rng);
        }
        let day = minute / 1440;
        // EPOCH is a Monday: days 5 and 6 of each week are the weekend.
        let week = if day % 7 >= 5 { brand.weekend } else { 1.0 };
        let hour = (minute % 1440) as f64 / 60.0;
        let mut rate = brand.per_minute * brand.shape.factor(hour) / shape_mean * week * (noise - brand.noise_sd.powi(2) / 2.0).exp();
        let mut negative = brand.negative_share;
        for (episode, effect) in brand.episodes.iter().filter(|(e, _)| e.start <= t0 && t0 < e.end) {
            let strength =
                if effect.ramp_minutes > 0.0 { ((t0 - episode.start) as f64 / 60.0 / effect.ramp_minutes).min(1.0) } else { 1.0 };
            rate *= 1.0 + strength * (effect.volume - 1.0);
            if let Some(share) = effect.negative_share {
                negative += strength * (share - brand.negative_share);
            }
        }
        let mut minute_mentions: Vec<EnrichedMention> = (0..poisson(&mut rng, rate))
            .map(|i| {
                let spam = rng.f64() < brand.spam_share;
                let is_negative = rng.f64() < negative;
                let text = pool.draw(&mut rng, spam, is_negative);
                mention(&brand.name, format!("{minute}-{i}"), t0 + rng.i64(0..60), text, &mut rng)
            })
            .collect();
        minute_mentions.sort_by_key(|m| m.mention.created_at);
        mentions.extend(minute_mentions);
    }
    Stream {
        name: format!("{} ({} / min)", brand.name, brand.per_minute),
        days: days as f64,
        brands: vec![brand.name.clone()],
        episodes: brand.episodes.iter().map(|(e, _)| e.clone()).collect(),
        mentions,
    }
}

fn mention(brand: &str, id: String, t: i64, text: &PoolText, rng: &mut fastrand::Rng) -> EnrichedMention {
    let created_at: DateTime<Utc> = Utc.timestamp_opt(t, 0).single().expect("valid time");
    // Most authors are small; one in a hundred has over 100k followers.
    let followers = (10f64.powf(1.5 + 1.2 * normal(rng).abs() + if rng.f64() < 0.01 { 3.0 } else { 0.0 })) as u64;
    let tier = super::tier(followers);
    let mut enrichment = text.enrichment.clone();
    enrichment.influence = Influence { tier, followers };
    // The brand is the mention's, not whatever the text happened to name.
    enrichment.brand = Some(brand.to_string());
    enrichment.enriched_at = created_at;
    EnrichedMention {
        mention: {
            let platform = ["twitter", "instagram", "facebook", "trustpilot", "reddit"][rng.usize(..5)];
            super::mention(brand, id, platform, text.text.clone(), created_at, rng, followers)
        },
        enrichment,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hark_core::{
        enriched::{InfluenceTier, Intent, Language, Offensive, Sentiment, SpamScore},
        IntentLabel, SentimentLabel,
    };

    /// A pool whose "enricher" reads a negative text as negative four times in five.
    pub fn pool() -> Pool {
        let text = |i: usize, negative: bool| {
            let read_negative = negative && !i.is_multiple_of(5);
            PoolText {
                text: format!("text {i}"),
                negative,
                spam: false,
                enrichment: Enrichment {
                    lang: Language { code: "en".into(), confidence: 1.0 },
                    sentiment: Sentiment {
                        label: if read_negative { SentimentLabel::Negative } else { SentimentLabel::Neutral },
                        score: 0.0,
                        confidence: 0.8,
                        model: "test".into(),
                    },
                    intent: Intent { label: if read_negative { IntentLabel::Complaint } else { IntentLabel::Other }, confidence: 0.8 },
                    spam: SpamScore { score: 0.0, is_spam: false, reasons: Vec::new() },
                    offensive: Offensive { score: 0.0, is_offensive: false, reasons: Vec::new() },
                    influence: Influence { tier: InfluenceTier::Nano, followers: 0 },
                    brands: Vec::new(),
                    brand: None,
                    enriched_at: DateTime::UNIX_EPOCH,
                    enrichment_version: "test".into(),
                    extra: Default::default(),
                },
            }
        };
        Pool::new((0..40).map(|i| text(i, i % 2 == 0)).collect())
    }

    #[test]
    fn streams_are_repeatable_and_follow_the_recipe() {
        let pool = pool();
        let a = generate(5, &pool);
        let b = generate(5, &pool);
        assert_eq!(a.len(), BRANDS.len());
        for (x, y) in a.iter().zip(&b) {
            assert_eq!(x.mentions, y.mentions);
            assert!(x.mentions.windows(2).all(|w| w[0].mention.created_at <= w[1].mention.created_at));
            assert_eq!(x.episodes.iter().filter(|e| e.large).count(), 2);
        }
        // The thinnest brand: about 0.2 a minute over nine days (incidents add a little).
        let per_minute = a[0].mentions.len() as f64 / (DAYS as f64 * 1440.0);
        assert!((0.12..0.35).contains(&per_minute), "{per_minute}");
        let per_minute = a[4].mentions.len() as f64 / (DAYS as f64 * 1440.0);
        assert!((35.0..70.0).contains(&per_minute), "{per_minute}");
    }
}
