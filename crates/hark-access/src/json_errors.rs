//! Every error a Hark API answers is `{"error": "..."}`, including the ones the web framework
//! writes itself (a query string or body it cannot read, a body over its limit, an unknown path):
//! those come as plain text, and this rewrites them, keeping the status and the message.

use axum::{extract::Request, http::header, middleware::Next, response::Response};

use crate::{error_response, json_only::is_json};

/// The most of a plain-text error kept as its message.
const MAX_MESSAGE_BYTES: usize = 4096;

/// Middleware: a 4xx or 5xx answer that is not JSON becomes `{"error": <its text>}`.
pub async fn json_errors(request: Request, next: Next) -> Response {
    let response = next.run(request).await;
    let status = response.status();
    if status.as_u16() < 400 || is_json(response.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok())) {
        return response;
    }
    let (parts, body) = response.into_parts();
    let text = match axum::body::to_bytes(body, MAX_MESSAGE_BYTES).await {
        Ok(bytes) if !bytes.is_empty() => String::from_utf8_lossy(&bytes).trim().to_string(),
        _ => status.canonical_reason().unwrap_or("error").to_lowercase(),
    };
    let mut rewritten = error_response(status, text);
    // Keep what the status needs (`Retry-After`, `WWW-Authenticate`, `Allow`).
    for (name, value) in parts.headers.iter().filter(|(name, _)| *name != header::CONTENT_TYPE && *name != header::CONTENT_LENGTH) {
        rewritten.headers_mut().insert(name.clone(), value.clone());
    }
    rewritten.extensions_mut().extend(parts.extensions);
    rewritten
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::{body::Body, http::StatusCode, middleware, response::IntoResponse, routing::get, Router};

    fn plain(status: StatusCode, text: &'static str) -> Response {
        (status, [(header::CONTENT_TYPE, "text/plain; charset=utf-8")], Body::from(text)).into_response()
    }

    async fn answer(app: Router, uri: &str) -> (StatusCode, String, String) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}{uri}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        let response = reqwest::get(url).await.unwrap();
        let content_type = response.headers().get("content-type").map(|v| v.to_str().unwrap().to_string()).unwrap_or_default();
        (response.status(), content_type, response.text().await.unwrap())
    }

    #[tokio::test]
    async fn framework_errors_become_json_and_the_rest_is_left_alone() {
        let app = Router::new()
            .route("/plain", get(|| async { plain(StatusCode::BAD_REQUEST, "Failed to deserialize query string") }))
            .route("/ok", get(|| async { "fine" }))
            .layer(middleware::from_fn(json_errors));
        let (status, content_type, body) = answer(app.clone(), "/plain").await;
        assert_eq!((status, content_type.as_str()), (StatusCode::BAD_REQUEST, "application/json"));
        assert_eq!(serde_json::from_str::<serde_json::Value>(&body).unwrap()["error"], "Failed to deserialize query string");
        let (status, _, body) = answer(app.clone(), "/missing").await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert_eq!(serde_json::from_str::<serde_json::Value>(&body).unwrap()["error"], "not found");
        assert_eq!(answer(app, "/ok").await.2, "fine");
    }
}
