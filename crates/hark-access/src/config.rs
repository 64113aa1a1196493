//! Who may call Hark's HTTP APIs: the `[auth]` section.
//!
//! Every token has a name (shown in logs and in the `token` label of `hark_http_requests_total`),
//! a kind, and a secret read at start from an environment variable (`token_env`) or a file
//! (`token_file`), never from the config file itself. Callers send it as `Authorization: Bearer
//! <secret>`.
//!
//! - `ingest` tokens may `POST /v1/mentions` on the ingest listener (`ingest.listen`).
//! - `admin` tokens may use the admin listener (`*.admin_listen`): the notify API and `POST /-/reload`.
//! - `metrics` tokens may only read `/metrics`, and only matter with `protect_metrics = true`.
//!
//! A listener whose kind of token is not configured is open to whoever reaches it, which Hark
//! allows on a loopback address only, unless `allow_unauthenticated = true`.

use serde::{Deserialize, Serialize};

use hark_core::config::valid_name;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AuthConfig {
    /// Serve a listener on a non-loopback address without tokens of its kind (behind a proxy
    /// that authenticates, say). Without it Hark refuses to start such a listener.
    pub allow_unauthenticated: bool,
    /// Require a `metrics` or `admin` token for `GET /metrics` (the probes stay open).
    pub protect_metrics: bool,
    /// Whether `followers` and `engagement` sent without a token (no ingest tokens configured)
    /// are believed, as they are in a local setup.
    pub trust_unauthenticated_author_metrics: bool,
    /// Ingest requests (not records) per second each token may send, and the burst it may send
    /// at once; per token, unless the token sets its own. Past it: 429 with `Retry-After`.
    pub ingest_requests_per_sec: u32,
    pub ingest_burst: u32,
    /// Ingest requests handled at the same time by the process, all tokens together; one more
    /// is answered 429 at once rather than queued.
    pub max_concurrent_ingest: usize,
    pub tokens: Vec<TokenConfig>,
}

impl Default for AuthConfig {
    fn default() -> Self {
        AuthConfig {
            allow_unauthenticated: false,
            protect_metrics: false,
            trust_unauthenticated_author_metrics: true,
            ingest_requests_per_sec: 100,
            ingest_burst: 200,
            max_concurrent_ingest: 64,
            tokens: Vec::new(),
        }
    }
}

/// What a token may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, strum::IntoStaticStr, strum::EnumString, strum::VariantArray)]
#[serde(rename_all = "lowercase")]
#[strum(serialize_all = "lowercase")]
pub enum TokenKind {
    Ingest,
    Admin,
    Metrics,
}

impl TokenKind {
    pub fn as_str(self) -> &'static str {
        self.into()
    }
}

/// One bearer token. Exactly one of `token_env` and `token_file` names its secret.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenConfig {
    pub name: String,
    pub kind: TokenKind,
    /// Environment variable holding the secret.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_env: Option<String>,
    /// File holding the secret (surrounding whitespace is ignored).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_file: Option<String>,
    /// Ingest tokens: whether the source's `author.followers` and `engagement` are believed.
    /// Untrusted mentions keep them as data, but they give no influence tier and fire no
    /// influencer or viral alert.
    #[serde(default)]
    pub trusted_author_metrics: bool,
    /// Ingest tokens: this token's own rate, instead of `auth.ingest_requests_per_sec` / `ingest_burst`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requests_per_sec: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub burst: Option<u32>,
}

impl AuthConfig {
    /// Whether any token of this kind is configured.
    pub fn has_tokens(&self, kind: TokenKind) -> bool {
        self.tokens.iter().any(|t| t.kind == kind)
    }

    pub fn check(&self) -> Result<(), String> {
        if self.ingest_requests_per_sec == 0 || self.ingest_burst == 0 || self.max_concurrent_ingest == 0 {
            return Err("auth: ingest_requests_per_sec, ingest_burst and max_concurrent_ingest must be at least 1".into());
        }
        let mut names = std::collections::BTreeSet::new();
        for token in &self.tokens {
            if !valid_name(&token.name) {
                return Err(format!("auth token name `{}` must be letters, digits, `-`, `_` or `.`", token.name));
            }
            // The `token` label of the request metrics says `none` and `unknown` for requests without a known token.
            if matches!(token.name.as_str(), "none" | "unknown") {
                return Err(format!("auth token name `{}` is reserved; choose another", token.name));
            }
            if !names.insert(token.name.as_str()) {
                return Err(format!("auth token `{}` is declared twice", token.name));
            }
            match (&token.token_env, &token.token_file) {
                (Some(_), None) | (None, Some(_)) => {}
                _ => {
                    return Err(format!(
                        "auth token `{}`: set exactly one of `token_env` (an environment variable holding the secret) and `token_file` (a file holding it)",
                        token.name
                    ))
                }
            }
            if token.requests_per_sec == Some(0) || token.burst == Some(0) {
                return Err(format!("auth token `{}`: requests_per_sec and burst must be at least 1", token.name));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<AuthConfig, String> {
        let config: AuthConfig = toml::from_str(text).map_err(|e| e.to_string())?;
        config.check().map(|()| config)
    }

    #[test]
    fn tokens_name_their_secret_once() {
        let config = parse(
            "[[tokens]]\nname = \"crawler\"\nkind = \"ingest\"\ntoken_env = \"HARK_TOKEN_CRAWLER\"\ntrusted_author_metrics = true\n\
             [[tokens]]\nname = \"ops\"\nkind = \"admin\"\ntoken_file = \"/etc/hark/ops.token\"\n",
        )
        .unwrap();
        assert!(config.has_tokens(TokenKind::Ingest) && config.has_tokens(TokenKind::Admin) && !config.has_tokens(TokenKind::Metrics));
        assert!(config.tokens[0].trusted_author_metrics && !config.tokens[1].trusted_author_metrics);

        for (text, error) in [
            ("[[tokens]]\nname = \"a\"\nkind = \"ingest\"\n", "set exactly one of `token_env`"),
            ("[[tokens]]\nname = \"a\"\nkind = \"ingest\"\ntoken_env = \"A\"\ntoken_file = \"/a\"\n", "set exactly one"),
            ("[[tokens]]\nname = \"a\"\nkind = \"ingest\"\ntoken = \"secret\"\n", "unknown field `token`"),
            ("[[tokens]]\nname = \"a\"\nkind = \"root\"\ntoken_env = \"A\"\n", "unknown variant `root`"),
            ("[[tokens]]\nname = \"a b\"\nkind = \"admin\"\ntoken_env = \"A\"\n", "must be letters"),
            ("[[tokens]]\nname = \"a\"\nkind = \"admin\"\ntoken_env = \"A\"\n[[tokens]]\nname = \"a\"\nkind = \"ingest\"\ntoken_env = \"B\"\n", "declared twice"),
            ("max_concurrent_ingest = 0\n", "at least 1"),
            ("[[tokens]]\nname = \"none\"\nkind = \"admin\"\ntoken_env = \"A\"\n", "is reserved"),
        ] {
            let got = parse(text).unwrap_err();
            assert!(got.contains(error), "{text}: {got}");
        }
    }
}
