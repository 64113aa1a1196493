//! What the web console shows of the alert stage: every series' closed windows of the last day
//! (the value, the band the detector expected, whether an alert was firing), and the mentions
//! that alerts cite as samples. Both are kept in Redis with bounds, written with each batch, and
//! served on the admin listener:
//!
//! | method and path | what it answers |
//! |---|---|
//! | `GET /v1/series` | `{"window_secs", "brands"}`: the brands with windows kept |
//! | `GET /v1/series?brand=B&hours=24` | the same and `series`: each series of the brand with its windows of the last `hours` (1 to 48) of event time, oldest first |
//! | `GET /v1/mentions?ids=a,b` | `{"mentions": [enriched.v1], "missing": [ids no longer kept]}`, at most 100 ids |
//!
//! **Bounds.** Under `<redis.key_prefix>alert:<group>:console:`: a sorted set of windows per
//! series (trimmed to [`KEEP_SECS`] of event time before its newest window), a hash of series per
//! brand, a sorted set of brands (the newest [`MAX_BRANDS`]), and one key per sample mention;
//! every key expires after [`KEEP_SECS`] without writes. The alert state does not depend on any
//! of it: a write lost with a batch that is retried is written again by the retry.

use std::collections::BTreeMap;

use crate::config::AlertMetric;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use redis::aio::ConnectionManager;
use redis::AsyncCommands;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::engine::at;

/// How long windows and sample mentions are kept: a day to show, and a day of slack.
pub const KEEP_SECS: i64 = 2 * 86_400;
/// The most brands listed; the least recently seen go first.
pub const MAX_BRANDS: isize = 10_000;
/// The most mentions one `/v1/mentions` request may ask for.
pub const MAX_IDS: usize = 100;

/// A band of this many standard deviations around the expected value is drawn as normal.
const BAND_DEVIATIONS: f64 = 2.0;

/// How a series judges its windows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SeriesKind {
    Spike,
    Threshold,
}

/// One series as the console lists it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SeriesInfo {
    pub fingerprint: String,
    pub rule: String,
    pub metric: AlertMetric,
    pub kind: SeriesKind,
    pub labels: BTreeMap<String, String>,
}

/// One closed window of a series: what it held against what was expected, in the metric's unit
/// (shares as fractions).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WindowPoint {
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    pub observed: f64,
    /// The baseline's value (spike rules, once learning has begun) or the rule's bound (threshold).
    pub expected: Option<f64>,
    /// The normal band: ±[`BAND_DEVIATIONS`] standard deviations of the window's noise around
    /// the baseline; for a threshold rule, up to its bound.
    pub low: Option<f64>,
    pub high: Option<f64>,
    pub volume: u64,
    pub hits: u64,
    /// An alert of the series was firing once this window was judged.
    pub firing: bool,
}

impl WindowPoint {
    /// A closed window with no band yet, not firing.
    pub fn closed(start: i64, end: i64, observed: f64, volume: u64, hits: u64) -> WindowPoint {
        WindowPoint { start: at(start), end: at(end), observed, expected: None, low: None, high: None, volume, hits, firing: false }
    }

    /// The window with the band it was judged against.
    pub fn with_band(self, expected: f64, low: Option<f64>, high: f64) -> WindowPoint {
        WindowPoint { expected: Some(expected), low, high: Some(high), ..self }
    }
}

/// The band of a spike window from its score: the noise is measured in counts for counts and
/// shares, and in log-followers for reach.
pub fn spike_band(metric: AlertMetric, score: &crate::baseline::Score, hits: f64, volume: u64) -> (f64, f64) {
    let sd = score.variance.max(0.0).sqrt() * BAND_DEVIATIONS;
    match metric {
        AlertMetric::Reach => {
            let level = hits.ln_1p() - score.excess;
            ((level - sd).exp_m1().max(0.0), (level + sd).exp_m1())
        }
        m if m.is_share() => {
            let n = (volume as f64).max(1.0);
            ((score.expected - sd / n).max(0.0), (score.expected + sd / n).min(1.0))
        }
        _ => ((score.expected - sd).max(0.0), score.expected + sd),
    }
}

/// A closed window, and the series it belongs to, waiting to be written with its batch.
#[derive(Debug, Clone, PartialEq)]
pub struct ClosedWindow {
    pub series: SeriesInfo,
    pub point: WindowPoint,
}

/// The keys under one alert group.
#[derive(Debug, Clone)]
pub struct Keys {
    base: String,
}

impl Keys {
    pub fn new(key_prefix: &str, group: &str) -> Keys {
        Keys { base: format!("{key_prefix}alert:{group}:console:") }
    }
    fn brands(&self) -> String {
        format!("{}brands", self.base)
    }
    fn series_of(&self, brand: &str) -> String {
        format!("{}series:{brand}", self.base)
    }
    fn points(&self, fingerprint: &str) -> String {
        format!("{}points:{fingerprint}", self.base)
    }
    fn mention(&self, id: &str) -> String {
        format!("{}mention:{id}", self.base)
    }
}

/// The commands that keep a batch's windows and sample mentions, for one pipeline.
pub fn write(keys: &Keys, windows: &[ClosedWindow], mentions: &[(String, String)], pipe: &mut redis::Pipeline) {
    for ClosedWindow { series, point } in windows {
        let brand = series.labels.get("brand").map_or("", String::as_str);
        let start = point.start.timestamp();
        let points = keys.points(&series.fingerprint);
        // A retried batch closes the same window again: it replaces, never adds.
        pipe.zrembyscore(&points, start, start).ignore();
        pipe.zadd(&points, serde_json::to_string(point).expect("points serialise"), start).ignore();
        pipe.zrembyscore(&points, "-inf", format!("({}", start - KEEP_SECS)).ignore();
        pipe.expire(&points, KEEP_SECS).ignore();
        let series_key = keys.series_of(brand);
        pipe.hset(&series_key, &series.fingerprint, serde_json::to_string(series).expect("series serialise")).ignore();
        pipe.expire(&series_key, KEEP_SECS).ignore();
        pipe.zadd(keys.brands(), brand, start).ignore();
    }
    if !windows.is_empty() {
        pipe.zremrangebyrank(keys.brands(), 0, -MAX_BRANDS - 1).ignore();
        pipe.expire(keys.brands(), KEEP_SECS).ignore();
    }
    for (id, mention) in mentions {
        pipe.set_ex(keys.mention(id), mention, KEEP_SECS as u64).ignore();
    }
}

/// Serves the console's data of the alert stage.
#[derive(Clone)]
pub struct ConsoleApi {
    redis: ConnectionManager,
    keys: Keys,
    window_secs: i64,
}

impl ConsoleApi {
    pub fn new(redis: ConnectionManager, keys: Keys, window_secs: i64) -> ConsoleApi {
        ConsoleApi { redis, keys, window_secs }
    }

    pub fn router(&self) -> Router {
        Router::new().route("/v1/series", get(series)).route("/v1/mentions", get(mentions)).with_state(self.clone())
    }
}

type ApiResult = Result<Json<Value>, (StatusCode, Json<Value>)>;

fn error(status: StatusCode, message: impl std::fmt::Display) -> (StatusCode, Json<Value>) {
    (status, Json(json!({ "error": message.to_string() })))
}

fn unavailable(e: redis::RedisError) -> (StatusCode, Json<Value>) {
    error(StatusCode::SERVICE_UNAVAILABLE, format!("redis: {e}"))
}

#[derive(Deserialize)]
struct SeriesQuery {
    brand: Option<String>,
    hours: Option<i64>,
}

async fn series(State(api): State<ConsoleApi>, Query(q): Query<SeriesQuery>) -> ApiResult {
    let mut redis = api.redis.clone();
    let brands: Vec<String> = redis.zrevrange(api.keys.brands(), 0, -1).await.map_err(unavailable)?;
    let mut answer = json!({ "window_secs": api.window_secs, "brands": brands });
    let Some(brand) = q.brand else { return Ok(Json(answer)) };
    let hours = q.hours.unwrap_or(24);
    if !(1..=KEEP_SECS / 3600).contains(&hours) {
        return Err(error(StatusCode::BAD_REQUEST, format!("`hours` must be 1 to {}", KEEP_SECS / 3600)));
    }
    let infos: BTreeMap<String, String> = redis.hgetall(api.keys.series_of(&brand)).await.map_err(unavailable)?;
    let mut series = Vec::new();
    for raw in infos.values() {
        let Ok(info) = serde_json::from_str::<SeriesInfo>(raw) else { continue };
        // The last `hours` before the series' newest window, so a replay of past days shows too.
        let newest: Vec<(String, f64)> = redis.zrevrange_withscores(api.keys.points(&info.fingerprint), 0, 0).await.map_err(unavailable)?;
        let Some((_, newest)) = newest.first() else { continue };
        let from = *newest as i64 - hours * 3600 + api.window_secs;
        let raw_points: Vec<String> = redis.zrangebyscore(api.keys.points(&info.fingerprint), from, "+inf").await.map_err(unavailable)?;
        let points: Vec<WindowPoint> = raw_points.iter().filter_map(|p| serde_json::from_str(p).ok()).collect();
        let mut v = serde_json::to_value(&info).expect("series serialise");
        v["points"] = json!(points);
        series.push(v);
    }
    answer["series"] = json!(series);
    Ok(Json(answer))
}

#[derive(Deserialize)]
struct MentionsQuery {
    #[serde(default)]
    ids: String,
}

async fn mentions(State(api): State<ConsoleApi>, Query(q): Query<MentionsQuery>) -> ApiResult {
    let ids: Vec<&str> = q.ids.split(',').map(str::trim).filter(|id| !id.is_empty()).collect();
    if ids.is_empty() || ids.len() > MAX_IDS {
        return Err(error(StatusCode::BAD_REQUEST, format!("`ids` must name 1 to {MAX_IDS} mentions, comma-separated")));
    }
    let keys: Vec<String> = ids.iter().map(|id| api.keys.mention(id)).collect();
    let found: Vec<Option<String>> = api.redis.clone().mget(&keys).await.map_err(unavailable)?;
    let mut mentions = Vec::new();
    let mut missing = Vec::new();
    for (id, raw) in ids.iter().zip(found) {
        match raw.and_then(|raw| serde_json::from_str::<Value>(&raw).ok()) {
            Some(mention) => mentions.push(mention),
            None => missing.push(*id),
        }
    }
    Ok(Json(json!({ "mentions": mentions, "missing": missing })))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::baseline::Score;

    #[test]
    fn a_share_band_is_in_the_share_unit_and_stays_within_0_and_1() {
        // 20 of 100 expected negative, variance 16 counts: ±2 × 4 / 100.
        let score = Score { observed: 0.3, expected: 0.2, excess: 10.0, variance: 16.0 };
        let (low, high) = spike_band(AlertMetric::NegativeShare, &score, 30.0, 100);
        assert!((low - 0.12).abs() < 1e-9 && (high - 0.28).abs() < 1e-9, "{low} {high}");
        let wide = Score { observed: 0.9, expected: 0.9, excess: 0.0, variance: 400.0 };
        assert_eq!(spike_band(AlertMetric::NegativeShare, &wide, 9.0, 10).1, 1.0);
    }

    #[test]
    fn a_count_band_never_goes_below_zero() {
        let score = Score { observed: 3.0, expected: 2.0, excess: 1.0, variance: 4.0 };
        assert_eq!(spike_band(AlertMetric::Volume, &score, 3.0, 3), (0.0, 6.0));
    }
}
