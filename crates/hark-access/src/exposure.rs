//! The exposure rule: a listener whose routes need a kind of token that is not configured is open
//! to whoever reaches it, so Hark serves it on a loopback address only, unless the config says
//! `auth.allow_unauthenticated = true`.

use crate::config::{AuthConfig, TokenKind};

use crate::AccessError;

/// Refuses `address` (the value of the setting named `setting`, e.g. `ingest.listen`) when it is
/// not loopback and no token of `kind` is configured.
pub fn check_exposure(config: &AuthConfig, setting: &str, address: &str, kind: TokenKind) -> Result<(), AccessError> {
    if config.allow_unauthenticated || config.has_tokens(kind) || is_loopback(address) {
        return Ok(());
    }
    Err(AccessError::Exposed { setting: setting.to_string(), address: address.to_string(), kind })
}

/// Whether `address` (`host:port`) can only be reached from this machine. A host name other than
/// `localhost` may resolve to anything, so it counts as exposed.
pub fn is_loopback(address: &str) -> bool {
    if let Ok(socket) = address.parse::<std::net::SocketAddr>() {
        return socket.ip().is_loopback();
    }
    let host = address.rsplit_once(':').map_or(address, |(host, _)| host);
    host.eq_ignore_ascii_case("localhost")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_addresses() {
        for address in ["127.0.0.1:8080", "127.3.2.1:1", "[::1]:8080", "localhost:8080"] {
            assert!(is_loopback(address), "{address}");
        }
        for address in ["0.0.0.0:8080", "[::]:8080", "10.0.0.5:8080", "hark.internal:8080", "localhost.evil.example:80"] {
            assert!(!is_loopback(address), "{address}");
        }
    }

    #[test]
    fn an_open_listener_off_loopback_is_refused_with_the_fix() {
        let mut config = AuthConfig::default();
        assert!(check_exposure(&config, "ingest.listen", "127.0.0.1:8080", TokenKind::Ingest).is_ok());
        let err = check_exposure(&config, "ingest.listen", "0.0.0.0:8080", TokenKind::Ingest).unwrap_err().to_string();
        assert!(err.contains("ingest.listen = \"0.0.0.0:8080\""), "{err}");
        assert!(err.contains("kind = \"ingest\"") && err.contains("token_env") && err.contains("allow_unauthenticated = true"), "{err}");

        config.allow_unauthenticated = true;
        assert!(check_exposure(&config, "ingest.listen", "0.0.0.0:8080", TokenKind::Ingest).is_ok());
        config.allow_unauthenticated = false;
        config.tokens = toml::from_str::<AuthConfig>("[[tokens]]\nname = \"ops\"\nkind = \"admin\"\ntoken_env = \"OPS\"\n").unwrap().tokens;
        assert!(check_exposure(&config, "notify.admin_listen", "0.0.0.0:8094", TokenKind::Admin).is_ok());
        assert!(
            check_exposure(&config, "ingest.listen", "0.0.0.0:8080", TokenKind::Ingest).is_err(),
            "an admin token does not open ingest"
        );
    }
}
