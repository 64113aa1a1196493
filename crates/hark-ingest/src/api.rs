//! `POST /v1/mentions`: one JSON object or a JSON array (`Content-Type: application/json`, also
//! assumed when the header is missing), or NDJSON (`application/x-ndjson`, `application/ndjson`,
//! `application/jsonl`, `application/x-jsonlines`). Other types, `text/plain` included, are
//! refused with 415: a web page can post `text/plain` to any address without asking, and it must
//! not be able to feed mentions to Hark.
//!
//! Records go through the pipeline a batch at a time ([`crate::body`]); the answer adds up the
//! batches. Status codes: 200 when every record was dealt with (accepted, duplicate, or rejected
//! next to an accepted one); 422 when every record was rejected; 503 with `Retry-After` when some
//! records failed for a passing reason and should be sent again; 400 for a body that cannot be
//! split into records; 413 past `ingest.max_body_bytes` or `ingest.max_records_per_request`;
//! 415 for another content type. The JSON body says which record (by index) went which way, and
//! why, for up to `ingest.max_reported_items` records; `items_omitted` counts the rest.
//!
//! A JSON body is held whole while its batches go through; all requests together hold at most
//! `ingest.max_buffered_json_bytes` of them, and a request waits for its share before reading
//! its body. NDJSON needs no such share: a request holds one batch at a time.
//!
//! **413 and what was taken.** A JSON body is counted before any record is parsed, so its 413
//! means nothing was ingested. NDJSON is processed as it arrives: when the records pass the cap
//! (or a body without a declared length passes the byte limit), the records before that point
//! have been processed, and the 413 answer carries their report next to `error`. Sending the
//! whole batch again, split into smaller requests, is safe: the accepted records come back as
//! duplicates.

use axum::{
    body::Body,
    extract::{Request, State},
    http::{header, HeaderMap, StatusCode},
    middleware::{self, Next},
    response::{IntoResponse, Response},
    routing::post,
    Extension, Json, Router,
};
use hark_core::IngestedBy;
use serde::Serialize;
use serde_json::json;
use std::sync::Arc;
use tokio::sync::Semaphore;

use crate::{
    body::{self, BodyError, BodyLimits, NdjsonBatches},
    service::{Ingest, IngestReport},
};

/// What the route needs from `[ingest]` in the config.
#[derive(Debug, Clone, Copy)]
pub struct ApiLimits {
    pub body: BodyLimits,
    pub max_reported_items: usize,
    /// JSON bodies held in memory at once, all requests together.
    pub max_buffered_json_bytes: usize,
}

impl ApiLimits {
    pub fn from_config(config: &crate::config::IngestConfig) -> ApiLimits {
        ApiLimits {
            body: BodyLimits {
                max_body_bytes: config.max_body_bytes,
                max_records: config.max_records_per_request,
                max_record_bytes: config.max_record_bytes,
            },
            max_reported_items: config.max_reported_items,
            max_buffered_json_bytes: config.max_buffered_json_bytes,
        }
    }
}

/// The route's state.
#[derive(Clone)]
struct Api {
    ingest: Ingest,
    limits: ApiLimits,
    /// Kibibytes of JSON bodies that may be held at once: a JSON request takes its share before
    /// reading its body and waits while others hold it all.
    json_buffer: Arc<Semaphore>,
}

pub fn router(ingest: Ingest, limits: ApiLimits) -> Router {
    let json_buffer = Arc::new(Semaphore::new(kib(limits.max_buffered_json_bytes).max(1)));
    Router::new()
        .route("/v1/mentions", post(post_mentions))
        .layer(middleware::from_fn_with_state(limits.body.max_body_bytes, reject_declared_oversize))
        .layer(middleware::from_fn_with_state(ingest.clone(), count_refused_requests))
        .with_state(Api { ingest, limits, json_buffer })
}

fn kib(bytes: usize) -> usize {
    bytes.div_ceil(1024)
}

/// Counts a request refused as a whole for what was sent, as `hark_rejected_total{reason="request_…"}`
/// (the records of a 422 are counted one by one).
async fn count_refused_requests(State(ingest): State<Ingest>, request: Request, next: Next) -> Response {
    let response = next.run(request).await;
    let why = match response.status() {
        StatusCode::BAD_REQUEST => Some("invalid_body"),
        StatusCode::PAYLOAD_TOO_LARGE => Some("too_large"),
        StatusCode::UNSUPPORTED_MEDIA_TYPE => Some("unsupported_media_type"),
        _ => None,
    };
    if let Some(why) = why {
        ingest.request_rejected(why);
    }
    response
}

/// Answers 413 from the declared `Content-Length`, before any of the body is read. (A chunked
/// body is cut off once it passes the limit.)
async fn reject_declared_oversize(State(max_body_bytes): State<usize>, request: Request, next: Next) -> Response {
    if declared_length(request.headers()).is_some_and(|length| length > max_body_bytes) {
        return error(StatusCode::PAYLOAD_TOO_LARGE, BodyError::TooLarge { limit: max_body_bytes }.to_string());
    }
    next.run(request).await
}

fn declared_length(headers: &HeaderMap) -> Option<usize> {
    headers.get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.parse::<u64>().ok()).map(|n| n.try_into().unwrap_or(usize::MAX))
}

async fn post_mentions(
    State(api): State<Api>,
    // Set by the access layer from the caller's token; without that layer, the unauthenticated mark.
    source: Option<Extension<IngestedBy>>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let source = source.map_or_else(|| api.ingest.unauthenticated(), |Extension(source)| source);
    let content_type = headers.get(header::CONTENT_TYPE).map(|v| v.to_str().unwrap_or("(not text)")).unwrap_or("application/json");
    if body::is_ndjson(content_type) {
        post_ndjson(&api.ingest, &source, api.limits, body).await
    } else if body::is_json(content_type) {
        let declared = declared_length(&headers);
        // The share of the JSON buffer this body may need: its declared length, else the most a body may be.
        let share = kib(declared.unwrap_or(api.limits.body.max_body_bytes)).clamp(1, kib(api.limits.max_buffered_json_bytes).max(1));
        let Ok(_held) = api.json_buffer.acquire_many(share.try_into().unwrap_or(u32::MAX)).await else {
            return error(StatusCode::SERVICE_UNAVAILABLE, "ingest is shutting down".into());
        };
        post_json(&api.ingest, &source, api.limits, declared, body).await
    } else {
        error(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            format!(
                "unsupported Content-Type `{content_type}`: send application/json (one mention or an array) or \
                 application/x-ndjson (one mention per line; application/ndjson, application/jsonl and \
                 application/x-jsonlines are taken too)"
            ),
        )
    }
}

async fn post_ndjson(ingest: &Ingest, source: &IngestedBy, limits: ApiLimits, body: Body) -> Response {
    let mut batches = NdjsonBatches::new(body.into_data_stream(), limits.body);
    let mut report = IngestReport::default();
    loop {
        match batches.next_batch().await {
            Ok(Some(batch)) => report.absorb(ingest_detached(ingest, batch, source).await, limits.max_reported_items),
            Ok(None) => return answer(report),
            Err(e) if report.received == 0 => return error(status_of(&e), e.to_string()),
            Err(e) => {
                let taken = report.received;
                let message = format!(
                    "{e}. Records 0 to {} were processed as this answer reports; the rest were not: send them again \
                     (resending the processed ones is safe, they come back as duplicates)",
                    taken - 1
                );
                return (status_of(&e), Json(Partial { error: message, report })).into_response();
            }
        }
    }
}

async fn post_json(ingest: &Ingest, source: &IngestedBy, limits: ApiLimits, declared: Option<usize>, body: Body) -> Response {
    let body = match body::read_to_limit(body.into_data_stream(), limits.body.max_body_bytes, declared).await {
        Ok(body) => body,
        Err(e) => return error(status_of(&e), e.to_string()),
    };
    let records = match body::split_json(&body, limits.body) {
        Ok(records) => records,
        Err(e @ BodyError::TooManyRecords { .. }) => return error(status_of(&e), format!("{e}; nothing was ingested")),
        Err(e) => return error(status_of(&e), e.to_string()),
    };
    let mut report = IngestReport::default();
    for batch in records.batches() {
        report.absorb(ingest_detached(ingest, batch, source).await, limits.max_reported_items);
    }
    answer(report)
}

/// Ingests one batch in a task of its own, so that a client that hangs up mid-request does not
/// cancel it halfway: its claims are committed or released, never left to expire while the
/// mentions may be on the broker.
async fn ingest_detached(ingest: &Ingest, batch: body::Batch, source: &IngestedBy) -> IngestReport {
    let (ingest, source) = (ingest.clone(), source.clone());
    tokio::spawn(async move { ingest.ingest_batch(batch.first_index, batch.records, source).await })
        .await
        .expect("ingesting a batch does not panic")
}

fn status_of(error: &BodyError) -> StatusCode {
    if error.is_too_large() {
        StatusCode::PAYLOAD_TOO_LARGE
    } else {
        StatusCode::BAD_REQUEST
    }
}

/// A 413 answer after some records were processed: why, and what happened to those.
#[derive(Serialize)]
struct Partial {
    error: String,
    #[serde(flatten)]
    report: IngestReport,
}

fn answer(report: IngestReport) -> Response {
    let status = if report.failed > 0 {
        StatusCode::SERVICE_UNAVAILABLE
    } else if report.rejected == report.received {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    let mut response = (status, Json(report)).into_response();
    if status == StatusCode::SERVICE_UNAVAILABLE {
        response.headers_mut().insert(header::RETRY_AFTER, header::HeaderValue::from_static("1"));
    }
    response
}

fn error(status: StatusCode, message: String) -> Response {
    (status, Json(json!({ "error": message }))).into_response()
}
