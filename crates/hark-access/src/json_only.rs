//! Admin requests that change something (POST, PUT, PATCH, DELETE) must say
//! `Content-Type: application/json`. A web page can make a browser send a `text/plain` or form
//! POST to any address, loopback included, without asking; a JSON one it must ask about first
//! (a CORS preflight, which Hark never grants). So this stops a page from creating a silence or
//! replaying a dead letter through the browser of someone on the Hark host.

use axum::{
    extract::Request,
    http::{header, Method, StatusCode},
    middleware::Next,
    response::Response,
};

use crate::{error_response, Outcome};

/// Middleware: 415 for a changing request that is not declared JSON.
pub async fn require_json(request: Request, next: Next) -> Response {
    let changes = matches!(*request.method(), Method::POST | Method::PUT | Method::PATCH | Method::DELETE);
    if changes && !is_json(request.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok())) {
        let mut response = error_response(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            format!(
                "{} {} needs `Content-Type: application/json` (also with an empty body): admin requests that change something must be JSON",
                request.method(),
                request.uri().path()
            ),
        );
        response.extensions_mut().insert(Outcome::UnsupportedMediaType);
        return response;
    }
    next.run(request).await
}

/// Whether a `Content-Type` value is JSON, parameters aside.
pub(crate) fn is_json(content_type: Option<&str>) -> bool {
    content_type.and_then(|v| v.split(';').next()).is_some_and(|mime| mime.trim().eq_ignore_ascii_case("application/json"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_content_types() {
        assert!(is_json(Some("application/json")));
        assert!(is_json(Some("Application/JSON; charset=utf-8")));
        for other in [
            None,
            Some("text/plain"),
            Some("application/x-www-form-urlencoded"),
            Some("multipart/form-data; boundary=x"),
            Some("application/jsonp"),
        ] {
            assert!(!is_json(other), "{other:?}");
        }
    }
}
