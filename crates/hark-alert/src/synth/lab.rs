//! The first stream generator ("lab"): one brand per stream, a sine-shaped daily cycle, Poisson
//! arrivals, labels assigned directly (no enricher), and incidents injected at known times
//! (negative waves, volume surges, complaint waves, of several sizes and shapes) or noise that is
//! not an incident (one-window blips, spam waves, thin brands). The detector's first defaults
//! were chosen on it; [`super::field`] is the independent second generator.
//!
//! Every stream is a pure function of its scenario and seed, so the evaluation is repeatable.

use chrono::{DateTime, TimeZone, Utc};

use super::{poisson, Incident, Stream, EPOCH};
use hark_core::{
    enriched::{Enrichment, Influence, Intent, Language, Offensive, Sentiment, SpamScore},
    EnrichedMention, IntentLabel, SentimentLabel,
};

/// How an incident's intensity develops over its span.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Shape {
    /// Full strength from the start to the end.
    Step,
    /// Rises linearly to full strength over the first half, then holds.
    Ramp,
}

/// What an injected episode changes.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Effect {
    /// Negative share moves to this value; volume is multiplied by `volume`.
    Negative { share: f64, volume: f64 },
    /// Volume is multiplied.
    Volume { factor: f64 },
    /// Complaint share moves to this value.
    Complaints { share: f64 },
    /// Spam share moves to this value, on top of the normal traffic.
    Spam { share: f64 },
}

/// One episode in a stream.
#[derive(Debug, Clone, PartialEq)]
pub struct Episode {
    pub start: i64,
    pub end: i64,
    pub effect: Effect,
    pub shape: Shape,
    /// True for incidents (should alert), false for noise (should not).
    pub incident: bool,
}

/// A stream recipe.
#[derive(Debug, Clone)]
pub struct Scenario {
    pub name: &'static str,
    pub brand: &'static str,
    pub days: i64,
    /// Mean mentions per minute at the daily average.
    pub per_minute: f64,
    /// Peak-to-mean amplitude of the daily cycle (0.6: from 0.4× at night to 1.6× in the evening).
    pub daily_amplitude: f64,
    pub negative_share: f64,
    pub complaint_share: f64,
    pub spam_share: f64,
    /// Episodes: given as (day, hour, minutes long, effect, shape, incident).
    pub episodes: Vec<Episode>,
}

fn episode(day: i64, hour: f64, minutes: i64, effect: Effect, shape: Shape, incident: bool) -> Episode {
    let start = EPOCH + day * 86_400 + (hour * 3600.0) as i64;
    Episode { start, end: start + minutes * 60, effect, shape, incident }
}

/// The scenarios of the evaluation: nine days each, the first two left to warm-up.
pub fn scenarios() -> Vec<Scenario> {
    use Effect::*;
    use Shape::*;
    let base = Scenario {
        name: "",
        brand: "SkyNordic",
        days: 9,
        per_minute: 4.0,
        daily_amplitude: 0.6,
        negative_share: 0.15,
        complaint_share: 0.08,
        spam_share: 0.05,
        episodes: Vec::new(),
    };
    // Incidents at varied hours (night, morning, evening peak), one a day from day 2.
    let hours = [3.5, 10.25, 19.75, 14.0, 22.5, 7.0, 16.5];
    let at_hours = |effect: Effect, shape: Shape, minutes: i64| -> Vec<Episode> {
        hours.iter().enumerate().map(|(i, h)| episode(2 + i as i64, *h, minutes, effect, shape, true)).collect()
    };
    vec![
        Scenario { name: "steady traffic, no incident", ..base.clone() },
        Scenario {
            name: "negative wave, large (15% → 60%), 60 min",
            episodes: at_hours(Negative { share: 0.6, volume: 1.5 }, Step, 60),
            ..base.clone()
        },
        Scenario {
            name: "negative wave, medium (15% → 35%), 60 min",
            episodes: at_hours(Negative { share: 0.35, volume: 1.2 }, Step, 60),
            ..base.clone()
        },
        Scenario {
            name: "negative wave, small (15% → 25%), 90 min",
            episodes: at_hours(Negative { share: 0.25, volume: 1.0 }, Step, 90),
            ..base.clone()
        },
        Scenario {
            name: "negative wave, ramp to 60% over 60 min",
            episodes: at_hours(Negative { share: 0.6, volume: 1.5 }, Ramp, 120),
            ..base.clone()
        },
        Scenario {
            name: "negative burst, large, 15 min",
            episodes: at_hours(Negative { share: 0.7, volume: 2.0 }, Step, 15),
            ..base.clone()
        },
        Scenario { name: "volume surge ×3, 60 min", episodes: at_hours(Volume { factor: 3.0 }, Step, 60), ..base.clone() },
        Scenario {
            name: "complaint wave (8% → 30%), ramp, 90 min",
            episodes: at_hours(Complaints { share: 0.3 }, Ramp, 90),
            ..base.clone()
        },
        Scenario {
            name: "negative wave on a small brand (1/min), 60 min",
            per_minute: 1.0,
            episodes: at_hours(Negative { share: 0.6, volume: 1.5 }, Step, 60),
            ..base.clone()
        },
        Scenario {
            name: "noise: one-window blips (×3 volume, 60% negative, 5 min)",
            episodes: (0..28)
                .map(|i| episode(2 + i / 4, 1.0 + (i % 4) as f64 * 6.0, 5, Negative { share: 0.6, volume: 3.0 }, Step, false))
                .collect(),
            ..base.clone()
        },
        Scenario {
            name: "noise: spam waves (spam share 60%, 60 min)",
            episodes: hours.iter().enumerate().map(|(i, h)| episode(2 + i as i64, *h, 60, Spam { share: 0.6 }, Step, false)).collect(),
            ..base.clone()
        },
        Scenario { name: "noise: thin brand (0.2/min), no incident", per_minute: 0.2, ..base.clone() },
    ]
}

impl Scenario {
    /// The intensity (0 to 1) of each episode at time `t`.
    fn active(&self, t: i64) -> impl Iterator<Item = (&Episode, f64)> {
        self.episodes.iter().filter(move |e| e.start <= t && t < e.end).map(move |e| {
            let strength = match e.shape {
                Shape::Step => 1.0,
                Shape::Ramp => ((t - e.start) as f64 / ((e.end - e.start) as f64 / 2.0)).min(1.0),
            };
            (e, strength)
        })
    }

    /// The stream of one seed with its episodes, for the evaluation.
    pub fn stream(&self, seed: u64) -> Stream {
        let episodes = self
            .episodes
            .iter()
            .map(|e| {
                let minutes = (e.end - e.start) / 60;
                let large = e.incident
                    && minutes >= 45
                    && match e.effect {
                        Effect::Negative { share, volume } => share >= 2.0 * self.negative_share || volume >= 3.0,
                        Effect::Volume { factor } => factor >= 3.0,
                        Effect::Complaints { .. } | Effect::Spam { .. } => false,
                    };
                Incident {
                    brand: self.brand.to_string(),
                    start: e.start,
                    end: e.end,
                    what: self.name.to_string(),
                    incident: e.incident,
                    large,
                }
            })
            .collect();
        Stream {
            name: self.name.to_string(),
            days: self.days as f64,
            brands: vec![self.brand.to_string()],
            episodes,
            mentions: self.generate(seed),
        }
    }

    /// The stream, in event-time order, with the given seed.
    pub fn generate(&self, seed: u64) -> Vec<EnrichedMention> {
        let mut rng = fastrand::Rng::with_seed(seed);
        let mut out = Vec::new();
        for minute in 0..self.days * 1440 {
            let t0 = EPOCH + minute * 60;
            let hour = (minute % 1440) as f64 / 60.0;
            // Peak at 19:00 UTC, trough at 07:00.
            let cycle = 1.0 + self.daily_amplitude * ((hour - 13.0) / 24.0 * std::f64::consts::TAU).sin();
            let mut rate = self.per_minute * cycle;
            let (mut negative, mut complaints, mut spam_extra) = (self.negative_share, self.complaint_share, 0.0);
            for (episode, s) in self.active(t0) {
                match episode.effect {
                    Effect::Negative { share, volume } => {
                        negative += s * (share - self.negative_share);
                        rate *= 1.0 + s * (volume - 1.0);
                    }
                    Effect::Volume { factor } => rate *= 1.0 + s * (factor - 1.0),
                    Effect::Complaints { share } => complaints += s * (share - self.complaint_share),
                    Effect::Spam { share } => spam_extra = s * share,
                }
            }
            let organic = poisson(&mut rng, rate);
            // A spam wave adds bot posts on top of the organic traffic.
            let bots = poisson(&mut rng, rate * spam_extra / (1.0 - spam_extra).max(0.05));
            for i in 0..organic + bots {
                let t = t0 + rng.i64(0..60);
                let spam = i >= organic || rng.f64() < self.spam_share;
                let is_negative = !spam && rng.f64() < negative;
                let is_complaint = !spam && rng.f64() < complaints;
                out.push(mention(self.brand, minute, i, t, is_negative, is_complaint, spam, &mut rng));
            }
        }
        out.sort_by_key(|m| m.mention.created_at);
        out
    }
}

#[allow(clippy::too_many_arguments)]
fn mention(
    brand: &str,
    minute: i64,
    i: u64,
    t: i64,
    negative: bool,
    complaint: bool,
    spam: bool,
    rng: &mut fastrand::Rng,
) -> EnrichedMention {
    let created_at: DateTime<Utc> = Utc.timestamp_opt(t, 0).single().expect("valid time");
    // Log-uniform audience from 10 to 1M followers.
    let followers = 10f64.powf(1.0 + 5.0 * rng.f64()) as u64;
    let (label, score) = if negative {
        (SentimentLabel::Negative, -0.7)
    } else if rng.bool() {
        (SentimentLabel::Positive, 0.6)
    } else {
        (SentimentLabel::Neutral, 0.0)
    };
    let intent = if complaint { IntentLabel::Complaint } else { IntentLabel::Other };
    let tier = super::tier(followers);
    EnrichedMention {
        mention: super::mention(brand, format!("{minute}-{i}"), "twitter", "synthetic mention".into(), created_at, rng, followers),
        enrichment: Enrichment {
            lang: Language { code: "en".into(), confidence: 1.0 },
            sentiment: Sentiment { label, score, confidence: 0.9, model: "synthetic".into() },
            intent: Intent { label: intent, confidence: 0.9 },
            spam: SpamScore { score: if spam { 0.9 } else { 0.05 }, is_spam: spam, reasons: Vec::new() },
            offensive: Offensive { score: 0.0, is_offensive: false, reasons: Vec::new() },
            influence: Influence { tier, followers },
            brands: Vec::new(),
            brand: Some(brand.to_string()),
            enriched_at: created_at,
            enrichment_version: "synthetic".into(),
            extra: Default::default(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streams_are_repeatable_and_follow_the_recipe() {
        let scenario = &scenarios()[1];
        let a = scenario.generate(7);
        assert_eq!(a, scenario.generate(7));
        assert!(a.windows(2).all(|w| w[0].mention.created_at <= w[1].mention.created_at));
        // Four per minute on average over nine days, plus the incidents' extra volume.
        let per_minute = a.len() as f64 / (9.0 * 1440.0);
        assert!((3.8..4.6).contains(&per_minute), "{per_minute}");
        let incident = &scenario.episodes[0];
        let share = |from: i64, to: i64| {
            let inside: Vec<_> =
                a.iter().filter(|m| (from..to).contains(&m.mention.created_at.timestamp()) && !m.enrichment.spam.is_spam).collect();
            inside.iter().filter(|m| m.enrichment.sentiment.label == SentimentLabel::Negative).count() as f64 / inside.len() as f64
        };
        assert!(share(incident.start, incident.end) > 0.5);
        assert!(share(EPOCH, EPOCH + 86_400) < 0.2);
    }
}
