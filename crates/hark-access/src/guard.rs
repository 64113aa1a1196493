//! The authentication layer: who is calling, and may they use this listener's routes.
//!
//! A listener needs one kind of token (its routes' kind). When no token of that kind is
//! configured, the routes are open (allowed on loopback only, see [`crate::exposure`]). Otherwise:
//! no `Authorization: Bearer` or an unknown token is 401 with `WWW-Authenticate: Bearer`; a known
//! token of another kind is 403. An allowed request carries the [`Caller`] as a request extension,
//! and on ingest also the [`IngestedBy`] mark the ingest handler sets on every mention.

use std::sync::Arc;

use axum::{
    extract::{Request, State},
    http::{header, HeaderValue, StatusCode},
    middleware::Next,
    response::Response,
};
use hark_core::IngestedBy;

use crate::config::TokenKind;

use crate::{error_response, Access, Outcome};

/// Which listener's rule a request is judged by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, strum::IntoStaticStr)]
#[strum(serialize_all = "snake_case")]
pub enum Listener {
    /// `POST /v1/mentions`: ingest tokens.
    Ingest,
    /// The notify API and `POST /-/reload`: admin tokens.
    Admin,
    /// `GET /metrics` with `auth.protect_metrics`: metrics or admin tokens.
    Metrics,
}

impl Listener {
    pub fn as_str(self) -> &'static str {
        self.into()
    }

    /// The kind of token the listener is for.
    fn kind(self) -> TokenKind {
        match self {
            Listener::Ingest => TokenKind::Ingest,
            Listener::Admin => TokenKind::Admin,
            Listener::Metrics => TokenKind::Metrics,
        }
    }

    fn accepts(self, kind: TokenKind) -> bool {
        kind == self.kind() || (self == Listener::Metrics && kind == TokenKind::Admin)
    }
}

/// The caller of an allowed request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    /// The token's name; None when the routes are open (no tokens of their kind configured).
    pub token: Option<Arc<str>>,
    pub trusted_author_metrics: bool,
}

impl Caller {
    /// The `token` label of the request metrics.
    pub fn label(&self) -> &str {
        self.token.as_deref().unwrap_or("none")
    }
}

/// Why a request was refused.
enum Refusal {
    Missing,
    Unknown,
    WrongKind { token: String, kind: TokenKind },
}

/// Middleware: authenticates the request for `listener`; see the module's documentation.
pub async fn authenticate(State((access, listener)): State<(Access, Listener)>, mut request: Request, next: Next) -> Response {
    let caller = match identify(&access, listener, request.headers().get(header::AUTHORIZATION)) {
        Ok(caller) => caller,
        Err(refusal) => return refuse(&access, listener, refusal),
    };
    if listener == Listener::Ingest {
        request
            .extensions_mut()
            .insert(IngestedBy { token: caller.token.as_deref().map(String::from), trusted_author_metrics: caller.trusted_author_metrics });
    }
    request.extensions_mut().insert(caller.clone());
    let response = next.run(request).await;
    // An inner layer that refused the request (rate limit, content type) says so on its response.
    let outcome = response.extensions().get::<Outcome>().copied().unwrap_or(Outcome::Allowed);
    access.count(listener, caller.label(), outcome);
    response
}

fn identify(access: &Access, listener: Listener, authorization: Option<&HeaderValue>) -> Result<Caller, Refusal> {
    let open = match listener {
        Listener::Metrics => !access.config().protect_metrics,
        _ => !access.config().has_tokens(listener.kind()),
    };
    if open {
        return Ok(Caller { token: None, trusted_author_metrics: access.config().trust_unauthenticated_author_metrics });
    }
    let presented = authorization.and_then(|v| v.to_str().ok()).and_then(bearer).ok_or(Refusal::Missing)?;
    let token = access.tokens().find(presented).ok_or(Refusal::Unknown)?;
    if !listener.accepts(token.kind) {
        return Err(Refusal::WrongKind { token: token.name.clone(), kind: token.kind });
    }
    Ok(Caller { token: Some(token.name.as_str().into()), trusted_author_metrics: token.trusted_author_metrics })
}

/// The token of an `Authorization: Bearer <token>` value (the scheme is case-insensitive).
fn bearer(value: &str) -> Option<&str> {
    let (scheme, token) = value.trim().split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

fn refuse(access: &Access, listener: Listener, refusal: Refusal) -> Response {
    let wanted = match listener {
        Listener::Metrics => "a `metrics` or `admin` token".to_string(),
        other => format!("an `{}` token", other.kind().as_str()),
    };
    let (status, outcome, label, message, challenge) = match refusal {
        Refusal::Missing => (
            StatusCode::UNAUTHORIZED,
            Outcome::Unauthorized,
            "none".to_string(),
            format!("missing bearer token: send `Authorization: Bearer <token>` with {wanted}"),
            "Bearer realm=\"hark\"",
        ),
        Refusal::Unknown => (
            StatusCode::UNAUTHORIZED,
            Outcome::Unauthorized,
            "unknown".to_string(),
            format!("unknown token: send {wanted} from the [auth] section of Hark's config"),
            "Bearer realm=\"hark\", error=\"invalid_token\"",
        ),
        Refusal::WrongKind { token, kind } => (
            StatusCode::FORBIDDEN,
            Outcome::Forbidden,
            token.clone(),
            format!("token `{token}` is an `{}` token; {} routes take {wanted}", kind.as_str(), listener.as_str()),
            "",
        ),
    };
    access.count(listener, &label, outcome);
    if listener == Listener::Ingest {
        access.metrics().rejected(hark_telemetry::Stage::Ingest, &format!("request_{}", outcome.as_str()), 1);
    }
    tracing::info!(listener = listener.as_str(), token = %label, outcome = outcome.as_str(), "request refused");
    let mut response = error_response(status, message);
    if !challenge.is_empty() {
        response.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static(challenge));
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_values() {
        assert_eq!(bearer("Bearer abc"), Some("abc"));
        assert_eq!(bearer("bearer   abc "), Some("abc"));
        assert_eq!(bearer("Basic abc"), None);
        assert_eq!(bearer("Bearer "), None);
        assert_eq!(bearer("Bearer"), None);
    }
}
