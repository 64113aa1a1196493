//! Why an enricher could not be built: the one error type of the crate's constructors, in a
//! file of its own so that the parts (languages, models) and the enricher that assembles them
//! all depend on it, not on each other.

/// Why an enricher could not be built from its configuration.
#[derive(Debug, thiserror::Error)]
pub enum EnrichError {
    #[error("enrich.languages: `{0}` is not a language Hark can detect (it can: {known})", known = crate::config::DEFAULT_LANGUAGES.join(", "))]
    UnknownLanguage(String),
    #[error("enrich.languages is empty")]
    NoLanguages,
    #[error("sentiment model `{model}`: {reason}")]
    Model { model: String, reason: String },
}
