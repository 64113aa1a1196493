//! `POST /v1/mentions`: one JSON object, a JSON array, or NDJSON (`Content-Type: application/x-ndjson`).
//!
//! Status codes: 200 when every record was dealt with (accepted, duplicate, or rejected next to
//! an accepted one); 422 when every record was rejected; 503 with `Retry-After` when some
//! records failed for a passing reason and should be sent again; 400 for a body that cannot be
//! split into records; 413 past `ingest.max_body_bytes`. The JSON body always says which record
//! (by index) went which way, and why.

use axum::{
    body::Bytes,
    extract::{rejection::BytesRejection, DefaultBodyLimit, Request, State},
    http::{header, HeaderMap, StatusCode},
    middleware::{self, Next},
    response::{IntoResponse, Response},
    routing::post,
    Extension, Json, Router,
};
use hark_core::IngestedBy;
use serde_json::json;

use crate::{body, service::Ingest};

pub fn router(ingest: Ingest, max_body_bytes: usize) -> Router {
    Router::new()
        .route("/v1/mentions", post(post_mentions))
        .layer(DefaultBodyLimit::max(max_body_bytes))
        .layer(middleware::from_fn_with_state(max_body_bytes, reject_declared_oversize))
        .with_state((ingest, max_body_bytes))
}

/// Answers 413 from the declared `Content-Length`, before any of the body is read. (A chunked
/// body is cut off by the body limit once it passes the limit.)
async fn reject_declared_oversize(State(max_body_bytes): State<usize>, request: Request, next: Next) -> Response {
    let declared = request.headers().get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
    if declared.is_some_and(|length| length > max_body_bytes as u64) {
        return too_large(max_body_bytes);
    }
    next.run(request).await
}

fn too_large(max_body_bytes: usize) -> Response {
    error(
        StatusCode::PAYLOAD_TOO_LARGE,
        format!("request body is larger than the limit of {max_body_bytes} bytes; split it into smaller batches"),
    )
}

async fn post_mentions(
    State((ingest, max_body_bytes)): State<(Ingest, usize)>,
    // Set by the access layer from the caller's token; without that layer, the unauthenticated mark.
    source: Option<Extension<IngestedBy>>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let body = match body {
        Ok(body) => body,
        Err(rejection) if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE => return too_large(max_body_bytes),
        Err(rejection) => return error(rejection.status(), rejection.body_text()),
    };
    let content_type = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("application/json");
    let records = if body::is_ndjson(content_type) {
        body::split_ndjson(&body)
    } else if content_type.starts_with("application/json") || content_type.starts_with("text/plain") {
        body::split_json(&body)
    } else {
        return error(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            format!("unsupported Content-Type `{content_type}`: send application/json or application/x-ndjson"),
        );
    };
    let records = match records {
        Ok(records) => records,
        Err(e) => return error(StatusCode::BAD_REQUEST, e.to_string()),
    };
    let report = match source {
        Some(Extension(source)) => ingest.ingest_from(records, source).await,
        None => ingest.ingest(records).await,
    };
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
