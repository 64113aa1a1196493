//! Hark's web console: the page people watch during an incident (alerts with their evidence,
//! each brand's windows against the expected band, silences, dead letters, pipeline health), and
//! the OpenAPI document of Hark's HTTP APIs.
//!
//! The page is static HTML, CSS and JavaScript compiled into the binary, so nothing is installed
//! beside Hark and nothing is fetched at run time. It reads the APIs of the listener that serves
//! it, with the admin token the user gives it: notify's `/v1/alerts`, `/v1/silences`,
//! `/v1/dead-letters` and `/v1/outbox`, the alert stage's `/v1/series` and `/v1/mentions`, and
//! `/readyz` and `/metrics`. A panel whose API this process does not serve says so.
//!
//! | path | what it serves |
//! |---|---|
//! | `/` | a redirect to `/console/` |
//! | `/console/`, `/console/{file}` | the console's files (no token needed: they hold no data) |
//! | `/openapi.json` | the OpenAPI 3.1 document of the ingest and admin APIs (`proto/openapi.json`) |

use axum::extract::Path;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::Router;
use include_dir::{include_dir, Dir};

static ASSETS: Dir<'_> = include_dir!("$CARGO_MANIFEST_DIR/assets");

/// The OpenAPI document, as written in `proto/`.
pub const OPENAPI: &str = include_str!("../../../proto/openapi.json");

/// The console's routes, for the admin listener.
pub fn router() -> Router {
    Router::new()
        .route("/", get(|| async { Redirect::to("/console/") }))
        .route("/console", get(|| async { Redirect::to("/console/") }))
        .route("/console/", get(|| async { asset("index.html") }))
        .route("/console/{*file}", get(|Path(file): Path<String>| async move { asset(&file) }))
}

/// `GET /openapi.json`, for both listeners.
pub fn openapi_router() -> Router {
    Router::new().route("/openapi.json", get(|| async { ([(header::CONTENT_TYPE, "application/json")], OPENAPI) }))
}

fn asset(path: &str) -> Response {
    let Some(file) = ASSETS.get_file(path) else {
        return (StatusCode::NOT_FOUND, "no such file in the console").into_response();
    };
    let content_type = match path.rsplit_once('.').map(|(_, ext)| ext) {
        Some("html") => "text/html; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("js") => "text/javascript; charset=utf-8",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        Some("json") => "application/json",
        _ => "application/octet-stream",
    };
    // The page is rebuilt into each binary: a browser must not keep an older one.
    ([(header::CONTENT_TYPE, content_type), (header::CACHE_CONTROL, "no-cache")], file.contents()).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_console_page_and_the_api_document_are_compiled_in() {
        assert!(ASSETS.get_file("index.html").is_some(), "assets/index.html");
        let doc: serde_json::Value = serde_json::from_str(OPENAPI).expect("proto/openapi.json is JSON");
        assert!(doc["openapi"].as_str().is_some_and(|v| v.starts_with("3.1")));
    }
}
