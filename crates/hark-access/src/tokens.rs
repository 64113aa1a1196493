//! The configured bearer tokens with their secrets, read once at start, and the lookup of the
//! token a request presents.
//!
//! Only a SHA-256 digest of each secret is kept. A presented token is hashed and compared with
//! every digest in constant time, so neither the secret's bytes nor its length can be learnt
//! from how long a refusal takes.

use crate::config::{AuthConfig, TokenConfig, TokenKind};
use hark_core::config::secret::{SecretError, SecretSource};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::AccessError;

/// Shorter secrets are refused: they could be guessed.
pub const MIN_SECRET_BYTES: usize = 16;

/// One configured token.
#[derive(Debug, Clone)]
pub struct Token {
    pub name: String,
    pub kind: TokenKind,
    pub trusted_author_metrics: bool,
    digest: [u8; 32],
}

/// Every configured token.
#[derive(Debug, Clone, Default)]
pub struct Tokens {
    tokens: Vec<Token>,
}

impl Tokens {
    /// Reads each token's secret from its environment variable (looked up with `env`) or file.
    pub fn load(config: &AuthConfig, env: &dyn Fn(&str) -> Option<String>) -> Result<Tokens, AccessError> {
        let mut tokens: Vec<Token> = Vec::with_capacity(config.tokens.len());
        for token in &config.tokens {
            let secret = read_secret(token, env)?;
            if secret.len() < MIN_SECRET_BYTES {
                return Err(AccessError::ShortSecret { token: token.name.clone(), bytes: secret.len() });
            }
            let digest: [u8; 32] = Sha256::digest(secret.as_bytes()).into();
            if let Some(other) = tokens.iter().find(|t| t.digest == digest) {
                return Err(AccessError::SameSecret { first: other.name.clone(), second: token.name.clone() });
            }
            tokens.push(Token { name: token.name.clone(), kind: token.kind, trusted_author_metrics: token.trusted_author_metrics, digest });
        }
        Ok(Tokens { tokens })
    }

    /// The token whose secret is `presented`, if any.
    pub fn find(&self, presented: &str) -> Option<&Token> {
        let digest: [u8; 32] = Sha256::digest(presented.as_bytes()).into();
        // Every digest is compared, matching or not, so the time does not depend on which matched.
        let mut found = None;
        for token in &self.tokens {
            if bool::from(token.digest.ct_eq(&digest)) {
                found = Some(token);
            }
        }
        found
    }

    pub fn iter(&self) -> impl Iterator<Item = &Token> {
        self.tokens.iter()
    }
}

fn read_secret(token: &TokenConfig, env: &dyn Fn(&str) -> Option<String>) -> Result<String, AccessError> {
    let setting = format!("auth token `{}`", token.name);
    let source =
        SecretSource { setting: &setting, name: "token", inline: None, env: token.token_env.as_deref(), file: token.token_file.as_deref() };
    // The config check refuses a token without either form, so there is always one.
    let secret = source.read_with(env)?.ok_or(SecretError::Empty { setting, name: "token".into() })?;
    Ok(secret.expose().trim().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(tokens: &str) -> AuthConfig {
        toml::from_str(tokens).unwrap()
    }

    #[test]
    fn secrets_come_from_the_environment_or_a_file_and_are_found_by_value() {
        let file = std::env::temp_dir().join(format!("hark-access-token-{}", std::process::id()));
        std::fs::write(&file, "ops-secret-0123456789abcdef\n").unwrap();
        let config = config(&format!(
            "[[tokens]]\nname = \"crawler\"\nkind = \"ingest\"\ntoken_env = \"CRAWLER\"\n\
             [[tokens]]\nname = \"ops\"\nkind = \"admin\"\ntoken_file = \"{}\"\n",
            file.display()
        ));
        let env = |var: &str| (var == "CRAWLER").then(|| "crawler-secret-0123456789".to_string());
        let tokens = Tokens::load(&config, &env).unwrap();
        std::fs::remove_file(&file).unwrap();
        assert_eq!(tokens.find("crawler-secret-0123456789").map(|t| t.name.as_str()), Some("crawler"));
        assert_eq!(tokens.find("ops-secret-0123456789abcdef").map(|t| (t.name.as_str(), t.kind)), Some(("ops", TokenKind::Admin)));
        assert!(tokens.find("crawler-secret-012345678").is_none());
        assert!(tokens.find("").is_none());
    }

    #[test]
    fn missing_short_and_shared_secrets_are_refused_with_the_token_name() {
        let one = config("[[tokens]]\nname = \"crawler\"\nkind = \"ingest\"\ntoken_env = \"CRAWLER\"\n");
        let err = Tokens::load(&one, &|_| None).unwrap_err().to_string();
        assert!(err.contains("auth token `crawler`") && err.contains("`CRAWLER` named by `token_env` is not set"), "{err}");
        let err = Tokens::load(&one, &|_| Some("short".into())).unwrap_err().to_string();
        assert!(err.contains("5 bytes") && err.contains("at least 16"), "{err}");

        let two = config(
            "[[tokens]]\nname = \"a\"\nkind = \"ingest\"\ntoken_env = \"A\"\n[[tokens]]\nname = \"b\"\nkind = \"admin\"\ntoken_env = \"B\"\n",
        );
        let err = Tokens::load(&two, &|_| Some("the-same-secret-for-both".into())).unwrap_err().to_string();
        assert!(err.contains("`a` and `b` have the same secret"), "{err}");

        let missing = config("[[tokens]]\nname = \"f\"\nkind = \"admin\"\ntoken_file = \"/nonexistent/hark.token\"\n");
        let err = Tokens::load(&missing, &|_| None).unwrap_err().to_string();
        assert!(err.contains("/nonexistent/hark.token"), "{err}");
    }
}
