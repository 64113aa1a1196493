//! The notifier's HTTP API, served on the admin listener (`notify.admin_listen`; in `hark all`,
//! `ingest.admin_listen`), behind admin tokens and JSON-only changes (`hark-access`):
//!
//! | method and path | what it does |
//! |---|---|
//! | `GET /v1/alerts` | alerts the notifier knows (firing, and resolved ones still kept), with the silences muting each; `?fingerprint=` for one |
//! | `GET /v1/silences` | every silence, active or not |
//! | `POST /v1/silences` | creates one: `{"matchers": ["brand=SkyNordic"], "ends_at": "…" or "duration_secs": 3600, "comment": "…", "created_by": "…"}` |
//! | `DELETE /v1/silences/{id}` | expires it now |
//! | `GET /v1/dead-letters` | deliveries the receivers refused, with status and response body |
//! | `POST /v1/dead-letters/{id}/replay` | puts one back at the end of its receiver's outbox |
//! | `GET /v1/outbox` | deliveries waiting, per receiver; with each receiver's last error (reason, when) and last delivery, and which notifier sends (`sender`, the lease holder) |

use std::collections::BTreeMap;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use chrono::{DateTime, Datelike, Duration, Utc};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::matcher::{labels_of, Matcher};
use crate::store::{silenced_by, Silence, Store};
use crate::NotifyError;

#[derive(Clone)]
struct Api {
    store: Store,
    receivers: Vec<String>,
}

/// The API's routes; merge them into the stage's router.
pub fn router(store: Store, receivers: Vec<String>) -> Router {
    Router::new()
        .route("/v1/alerts", get(list_alerts))
        .route("/v1/silences", get(list_silences).post(create_silence))
        .route("/v1/silences/{id}", delete(expire_silence))
        .route("/v1/dead-letters", get(list_dead_letters))
        .route("/v1/dead-letters/{id}/replay", post(replay_dead_letter))
        .route("/v1/outbox", get(outbox))
        .with_state(Api { store, receivers })
}

/// An API error as `{"error": "..."}` with its status.
struct ApiError(StatusCode, String);

impl From<NotifyError> for ApiError {
    fn from(e: NotifyError) -> Self {
        match e {
            NotifyError::Invalid(msg) => ApiError(StatusCode::BAD_REQUEST, msg),
            other => ApiError(StatusCode::SERVICE_UNAVAILABLE, other.to_string()),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.0, Json(json!({"error": self.1}))).into_response()
    }
}

#[derive(Deserialize)]
struct AlertQuery {
    fingerprint: Option<String>,
}

async fn list_alerts(State(api): State<Api>, Query(q): Query<AlertQuery>) -> Result<Json<Value>, ApiError> {
    let now = Utc::now();
    let silences = api.store.silences().await?;
    let alerts: Vec<Value> = api
        .store
        .alerts()
        .await?
        .into_iter()
        .filter(|a| q.fingerprint.as_deref().is_none_or(|f| f == a.alert.fingerprint))
        .map(|a| {
            let muted = silenced_by(&labels_of(&a.alert), &silences, now);
            let mut v = serde_json::to_value(&a.alert).expect("alerts serialise");
            v["silenced_by"] = json!(muted);
            v["received_at"] = json!(a.received_at);
            v
        })
        .collect();
    Ok(Json(json!({ "alerts": alerts })))
}

async fn list_silences(State(api): State<Api>) -> Result<Json<Value>, ApiError> {
    let now = Utc::now();
    let silences: Vec<Value> = api
        .store
        .silences()
        .await?
        .into_iter()
        .map(|s| {
            let active = s.is_active(now);
            let mut v = serde_json::to_value(&s).expect("silences serialise");
            v["active"] = json!(active);
            v
        })
        .collect();
    Ok(Json(json!({ "silences": silences })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewSilence {
    matchers: Vec<String>,
    #[serde(default)]
    starts_at: Option<DateTime<Utc>>,
    #[serde(default)]
    ends_at: Option<DateTime<Utc>>,
    #[serde(default)]
    duration_secs: Option<u64>,
    #[serde(default)]
    comment: String,
    #[serde(default)]
    created_by: String,
}

async fn create_silence(State(api): State<Api>, body: axum::body::Bytes) -> Result<(StatusCode, Json<Value>), ApiError> {
    let new: NewSilence = serde_json::from_slice(&body).map_err(|e| ApiError(StatusCode::BAD_REQUEST, format!("invalid silence: {e}")))?;
    if new.matchers.is_empty() {
        return Err(ApiError(StatusCode::BAD_REQUEST, "a silence needs at least one matcher".into()));
    }
    let matchers = new.matchers.iter().map(|m| Matcher::parse(m)).collect::<Result<Vec<_>, _>>()?;
    let now = Utc::now();
    let starts_at = new.starts_at.unwrap_or(now);
    let ends_at = match (new.ends_at, new.duration_secs) {
        (Some(_), Some(_)) => return Err(ApiError(StatusCode::BAD_REQUEST, "give `ends_at` or `duration_secs`, not both".into())),
        (Some(t), None) => t,
        (None, Some(secs)) => starts_at
            .checked_add_signed(Duration::seconds(secs.min(10 * 365 * 86_400) as i64))
            .ok_or_else(|| ApiError(StatusCode::BAD_REQUEST, "a silence must end before the year 10000".into()))?,
        (None, None) => return Err(ApiError(StatusCode::BAD_REQUEST, "a silence needs `ends_at` or `duration_secs`".into())),
    };
    // Past year 9999 a time has no RFC 3339 form: the silence could not be listed.
    if ends_at.year() > 9999 {
        return Err(ApiError(StatusCode::BAD_REQUEST, "a silence must end before the year 10000".into()));
    }
    if ends_at <= starts_at {
        return Err(ApiError(StatusCode::BAD_REQUEST, "`ends_at` must be after `starts_at`".into()));
    }
    let id = format!("{:016x}", fastrand::u64(..));
    let silence = Silence { id, matchers, starts_at, ends_at, created_by: new.created_by, comment: new.comment, created_at: now };
    api.store.save_silence(&silence).await?;
    tracing::info!(id = %silence.id, matchers = ?new.matchers, %ends_at, "silence created");
    Ok((StatusCode::CREATED, Json(serde_json::to_value(&silence).expect("silences serialise"))))
}

async fn expire_silence(State(api): State<Api>, Path(id): Path<String>) -> Result<Json<Value>, ApiError> {
    let Some(mut silence) = api.store.silence(&id).await? else {
        return Err(ApiError(StatusCode::NOT_FOUND, format!("no silence `{id}`")));
    };
    let now = Utc::now();
    if silence.ends_at > now {
        silence.ends_at = now;
        if silence.starts_at > now {
            silence.starts_at = now;
        }
        api.store.save_silence(&silence).await?;
    }
    tracing::info!(%id, "silence expired");
    Ok(Json(serde_json::to_value(&silence).expect("silences serialise")))
}

async fn list_dead_letters(State(api): State<Api>) -> Result<Json<Value>, ApiError> {
    Ok(Json(json!({ "dead_letters": api.store.dead_letters().await? })))
}

async fn replay_dead_letter(State(api): State<Api>, Path(id): Path<String>) -> Result<Json<Value>, ApiError> {
    match api.store.replay_dead_letter(&id).await? {
        Some(delivery) => Ok(Json(json!({ "replayed": delivery.id, "receiver": delivery.receiver }))),
        None => Err(ApiError(StatusCode::NOT_FOUND, format!("no dead letter `{id}`"))),
    }
}

/// `{"waiting": {receiver: n}, "receivers": {receiver: {"waiting", "last_error", "last_delivered_at"}}}`:
/// a receiver whose outbox does not drain says why in `last_error` (kept after later deliveries,
/// so compare its `at` with `last_delivered_at`).
async fn outbox(State(api): State<Api>) -> Result<Json<Value>, ApiError> {
    let mut waiting = BTreeMap::new();
    let mut receivers = BTreeMap::new();
    for r in &api.receivers {
        let len = api.store.outbox_len(r).await?;
        let (last_error, last_delivered_at) = api.store.receiver_status(r).await?;
        waiting.insert(r.clone(), len);
        receivers.insert(r.clone(), json!({ "waiting": len, "last_error": last_error, "last_delivered_at": last_delivered_at }));
    }
    let sender = api.store.lease_holder().await?;
    Ok(Json(json!({ "waiting": waiting, "receivers": receivers, "sender": sender })))
}
