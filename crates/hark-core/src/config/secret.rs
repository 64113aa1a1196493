//! Secrets in the configuration: receiver signing keys, PagerDuty routing keys, Slack webhook
//! URLs, the Redis password, Kafka credentials, API tokens.
//!
//! Each can be written three ways: inline (`secret = "…"`, convenient for a first try), from an
//! environment variable (`secret_env = "HARK_OPS_SECRET"`), or from a file (`secret_file =
//! "/run/secrets/ops"`, as Docker, Kubernetes and systemd credentials mount them). The config
//! keeps only where a secret comes from; it is read when a stage starts, and a [`Secret`] never
//! prints its value. `hark config` shows inline secrets as [`REDACTED`].

use std::fmt;

/// What `hark config` prints instead of a secret.
pub const REDACTED: &str = "<redacted>";

/// A secret's value. `Debug` and `Display` do not show it; [`Secret::expose`] does, for the one
/// place that needs it (a request header, a connection string).
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Secret {
        Secret(value.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}

/// Why a secret cannot be read. Every variant names the setting, never the value.
#[derive(Debug, PartialEq, thiserror::Error)]
pub enum SecretError {
    #[error("{setting}: give only one of `{name}`, `{name}_env` and `{name}_file`")]
    Conflicting { setting: String, name: String },
    #[error("{setting}: the environment variable `{var}` named by `{name}_env` is not set")]
    EnvMissing { setting: String, name: String, var: String },
    #[error("{setting}: the file `{path}` named by `{name}_file` cannot be read: {reason}")]
    FileUnreadable { setting: String, name: String, path: String, reason: String },
    #[error("{setting}: `{name}` is empty")]
    Empty { setting: String, name: String },
}

/// Where one secret comes from: the three fields `<name>`, `<name>_env` and `<name>_file` of a
/// config section, at most one of them set.
#[derive(Debug, Clone, Copy)]
pub struct SecretSource<'a> {
    /// Where the fields are, for messages: `notify receiver "ops"`, `redis`.
    pub setting: &'a str,
    /// The inline field's name, e.g. `secret`, `routing_key`.
    pub name: &'a str,
    pub inline: Option<&'a str>,
    pub env: Option<&'a str>,
    pub file: Option<&'a str>,
}

impl SecretSource<'_> {
    /// True when one of the three fields is set.
    pub fn is_given(&self) -> bool {
        self.inline.is_some() || self.env.is_some() || self.file.is_some()
    }

    /// Checks that at most one form is used, and that an inline value is not empty, without
    /// reading the environment or files.
    pub fn check_form(&self) -> Result<(), SecretError> {
        let (setting, name) = (self.setting.to_string(), self.name.to_string());
        match (self.inline, self.env, self.file) {
            (Some(_), Some(_), _) | (Some(_), _, Some(_)) | (_, Some(_), Some(_)) => Err(SecretError::Conflicting { setting, name }),
            (Some(""), _, _) | (_, Some(""), _) | (_, _, Some("")) => Err(SecretError::Empty { setting, name }),
            _ => Ok(()),
        }
    }

    /// The secret, or `None` when none of the three fields is set.
    pub fn read(&self) -> Result<Option<Secret>, SecretError> {
        self.read_with(|var| std::env::var(var).ok())
    }

    /// [`SecretSource::read`] with the environment looked up by `env`.
    pub fn read_with(&self, env: impl Fn(&str) -> Option<String>) -> Result<Option<Secret>, SecretError> {
        let (setting, name) = (self.setting.to_string(), self.name.to_string());
        let value = match (self.inline, self.env, self.file) {
            (None, None, None) => return Ok(None),
            (Some(value), None, None) => value.to_string(),
            (None, Some(var), None) => env(var).ok_or_else(|| SecretError::EnvMissing { setting, name, var: var.to_string() })?,
            (None, None, Some(path)) => {
                let text = std::fs::read_to_string(path).map_err(|e| SecretError::FileUnreadable {
                    setting,
                    name,
                    path: path.to_string(),
                    reason: e.to_string(),
                })?;
                // Files written by `echo` or an editor end in a newline that is not part of the secret.
                text.strip_suffix('\n').map(|t| t.strip_suffix('\r').unwrap_or(t)).unwrap_or(&text).to_string()
            }
            _ => return Err(SecretError::Conflicting { setting, name }),
        };
        if value.is_empty() {
            return Err(SecretError::Empty { setting: self.setting.to_string(), name: self.name.to_string() });
        }
        Ok(Some(Secret(value)))
    }
}

/// `url` with its password, and its query string (where webhook services put tokens), replaced by
/// [`REDACTED`]; with `whole_path`, the path too (a Slack webhook's path is its secret).
pub fn redact_url(url: &str, whole_path: bool) -> String {
    let Ok(mut parsed) = url::Url::parse(url) else {
        // Not a URL: nothing can be told apart, so show none of it.
        return REDACTED.to_string();
    };
    if parsed.password().is_some() {
        let _ = parsed.set_password(Some(REDACTED));
    }
    if parsed.query().is_some() {
        parsed.set_query(Some(REDACTED));
    }
    if whole_path && parsed.path() != "/" {
        parsed.set_path(&format!("/{REDACTED}"));
    }
    // The URL type escapes `<` and `>`; the marker reads better as it is.
    parsed.to_string().replace("%3Credacted%3E", REDACTED)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn source<'a>(inline: Option<&'a str>, env: Option<&'a str>, file: Option<&'a str>) -> SecretSource<'a> {
        SecretSource { setting: "notify receiver `ops`", name: "secret", inline, env, file }
    }

    #[test]
    fn a_secret_comes_from_one_of_three_places_and_never_prints() {
        let from_env = |var: &str| (var == "OPS_SECRET").then(|| "from-env".to_string());
        assert_eq!(source(None, None, None).read_with(from_env).unwrap(), None);
        let inline = source(Some("inline"), None, None).read_with(from_env).unwrap().unwrap();
        assert_eq!(inline.expose(), "inline");
        assert_eq!(format!("{inline:?}"), REDACTED);
        assert_eq!(source(None, Some("OPS_SECRET"), None).read_with(from_env).unwrap().unwrap().expose(), "from-env");

        let path = std::env::temp_dir().join(format!("hark-secret-{}", std::process::id()));
        std::fs::write(&path, "from-file\r\n").unwrap();
        let file = path.display().to_string();
        assert_eq!(source(None, None, Some(&file)).read_with(from_env).unwrap().unwrap().expose(), "from-file");
        std::fs::remove_file(&path).unwrap();

        let err = source(None, Some("NOPE"), None).read_with(from_env).unwrap_err();
        assert_eq!(err.to_string(), "notify receiver `ops`: the environment variable `NOPE` named by `secret_env` is not set");
        let err = source(None, None, Some(&file)).read_with(from_env).unwrap_err();
        assert!(err.to_string().contains("named by `secret_file` cannot be read"), "{err}");
        let err = source(Some("a"), Some("OPS_SECRET"), None).read_with(from_env).unwrap_err();
        assert_eq!(err.to_string(), "notify receiver `ops`: give only one of `secret`, `secret_env` and `secret_file`");
        assert!(matches!(source(Some(""), None, None).read_with(from_env), Err(SecretError::Empty { .. })));
    }

    #[test]
    fn urls_keep_their_host_and_lose_their_secrets() {
        assert_eq!(redact_url("redis://:hunter2@cache:6379/0", false), "redis://:<redacted>@cache:6379/0");
        assert_eq!(redact_url("rediss://app:hunter2@cache/", false), "rediss://app:<redacted>@cache/");
        assert_eq!(redact_url("redis://cache:6379/", false), "redis://cache:6379/");
        assert_eq!(redact_url("https://hooks.slack.com/services/T0/B0/XyZ", true), "https://hooks.slack.com/<redacted>");
        assert_eq!(redact_url("https://hooks.example/in?token=abc", false), "https://hooks.example/in?<redacted>");
        assert_eq!(redact_url("not a url hunter2", false), REDACTED);
    }
}
