//! The transformer sentiment backend (cargo feature `transformer`): a BERT sequence-classification
//! model run by rust-bert on libtorch, loaded from local files only.
//!
//! The model folder (`[enrich.transformer] model_dir`) holds what `deploy/transformer.sh model`
//! writes: `config.json` (with `id2label` naming negative, neutral and positive), the weights
//! (`model.safetensors`, or rust-bert's `rust_model.ot`), `vocab.txt`, and optionally
//! `tokenizer_config.json` for `do_lower_case`.
//!
//! Batches are padded to their longest text and scored with an attention mask built here:
//! rust-bert's own sequence-classification pipeline passes none, so padding would change its
//! answers. Texts are sorted by length before batching, so little padding is computed at all.

use std::{
    fs,
    panic::{catch_unwind, AssertUnwindSafe},
    path::{Path, PathBuf},
    sync::Mutex,
};

use hark_core::{Sentiment, SentimentLabel};

use crate::config::TransformerConfig;
use rust_bert::bert::{BertConfig, BertForSequenceClassification};
use rust_tokenizers::{
    tokenizer::{BertTokenizer, Tokenizer, TruncationStrategy},
    vocab::Vocab,
};
use tch::{nn::VarStore, Device, Kind, Tensor};

use crate::text::{first_chars, round3};
use crate::{error::EnrichError, sentiment::SentimentModel};

/// Texts are cut to this many characters per allowed token before tokenizing: a word piece
/// covers at least one character, so nothing that could be kept is lost, and a 1 MB post costs
/// no more tokenizer work than a long one.
const CHARS_PER_TOKEN: usize = 16;

/// Why a transformer model could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum TransformerError {
    #[error("model_dir `{0}` does not exist or is not a folder")]
    NoModelDir(PathBuf),
    #[error("model_dir `{dir}` has no `{file}`")]
    MissingFile { dir: PathBuf, file: &'static str },
    #[error("`{path}` is not a valid BERT config: {reason}")]
    InvalidConfig { path: PathBuf, reason: String },
    #[error("`{path}`: labels must be negative, neutral and positive (or a subset), found {found:?}")]
    UnknownLabels { path: PathBuf, found: Vec<String> },
    #[error("`{path}` could not be read as a vocabulary: {reason}")]
    InvalidVocab { path: PathBuf, reason: String },
    #[error("`{path}` does not fit the model in config.json: {reason}")]
    InvalidWeights { path: PathBuf, reason: String },
    #[error("device = \"{0}\": use `cpu`, `cuda`, `cuda:N` or `auto`")]
    UnknownDevice(String),
    #[error("device = \"{0}\" but libtorch sees no CUDA device (use `cpu`, or `auto` to fall back to the CPU)")]
    NoCuda(String),
    #[error("max_tokens = {max_tokens}: must be between 3 and the model's {limit} positions")]
    MaxTokens { max_tokens: usize, limit: i64 },
    #[error("batch_size must be at least 1")]
    BatchSize,
}

impl From<TransformerError> for EnrichError {
    fn from(error: TransformerError) -> Self {
        EnrichError::Model { model: "transformer".into(), reason: error.to_string() }
    }
}

/// The network and the variable store that owns its weights. libtorch tensors may be sent
/// between threads but not shared, so forward passes take turns behind a mutex; each one uses
/// libtorch's own threads.
struct Network {
    model: BertForSequenceClassification,
    _weights: VarStore,
}

pub struct TransformerModel {
    network: Mutex<Network>,
    tokenizer: BertTokenizer,
    pad_id: i64,
    device: Device,
    /// The label of each output of the classifier.
    labels: Vec<SentimentLabel>,
    max_tokens: usize,
    batch_size: usize,
    name: String,
}

impl TransformerModel {
    /// Loads the model `config.model_dir` names onto `config.device`.
    pub fn load(config: &TransformerConfig) -> Result<TransformerModel, EnrichError> {
        Ok(Self::load_model(config)?)
    }

    fn load_model(config: &TransformerConfig) -> Result<TransformerModel, TransformerError> {
        let dir = &config.model_dir;
        if !dir.is_dir() {
            return Err(TransformerError::NoModelDir(dir.clone()));
        }
        let require = |file: &'static str| {
            let path = dir.join(file);
            if path.is_file() {
                Ok(path)
            } else {
                Err(TransformerError::MissingFile { dir: dir.clone(), file })
            }
        };
        let config_path = require("config.json")?;
        let vocab_path = require("vocab.txt")?;
        let weights_path = require("model.safetensors")
            .or_else(|_| require("rust_model.ot"))
            .map_err(|_| TransformerError::MissingFile { dir: dir.clone(), file: "model.safetensors" })?;

        let bert_config = read_config(&config_path)?;
        let labels = read_labels(&config_path, &bert_config)?;
        if config.batch_size == 0 {
            return Err(TransformerError::BatchSize);
        }
        let limit = bert_config.max_position_embeddings;
        if config.max_tokens < 3 || config.max_tokens as i64 > limit {
            return Err(TransformerError::MaxTokens { max_tokens: config.max_tokens, limit });
        }

        let lower_case = read_lower_case(&dir.join("tokenizer_config.json"));
        let tokenizer = BertTokenizer::from_file(&vocab_path, lower_case, lower_case)
            .map_err(|e| TransformerError::InvalidVocab { path: vocab_path.clone(), reason: e.to_string() })?;
        let pad_id = tokenizer.vocab().token_to_id(tokenizer.vocab().get_pad_value());

        let device = select_device(&config.device)?;
        let mut weights = VarStore::new(device);
        // rust-bert checks the shapes it builds against nothing; a config that does not match
        // the weights shows up in `load`, or as a panic in libtorch, which we turn into an error.
        let model = catch_unwind(AssertUnwindSafe(|| BertForSequenceClassification::new(weights.root(), &bert_config)))
            .map_err(|panic| TransformerError::InvalidConfig { path: config_path.clone(), reason: panic_message(&panic) })?
            .map_err(|e| TransformerError::InvalidConfig { path: config_path.clone(), reason: e.to_string() })?;
        weights.load(&weights_path).map_err(|e| TransformerError::InvalidWeights { path: weights_path.clone(), reason: e.to_string() })?;

        let name = fs::canonicalize(dir)
            .ok()
            .and_then(|d| d.file_name().map(|n| n.to_string_lossy().into_owned()))
            .unwrap_or_else(|| "transformer".into());
        Ok(TransformerModel {
            network: Mutex::new(Network { model, _weights: weights }),
            tokenizer,
            pad_id,
            device,
            labels,
            max_tokens: config.max_tokens,
            batch_size: config.batch_size,
            name,
        })
    }

    /// Where the model runs.
    pub fn device(&self) -> Device {
        self.device
    }

    /// Class probabilities (in the order of `config.json`'s `id2label`) for each text.
    pub fn probabilities(&self, texts: &[&str]) -> Vec<Vec<f32>> {
        let cut: Vec<&str> = texts.iter().map(|t| first_chars(t, self.max_tokens * CHARS_PER_TOKEN)).collect();
        let encoded = self.tokenizer.encode_list(&cut, self.max_tokens, &TruncationStrategy::LongestFirst, 0);
        // Similar lengths together: each batch is padded to its longest text.
        let mut order: Vec<usize> = (0..texts.len()).collect();
        order.sort_by_key(|&i| encoded[i].token_ids.len());
        let mut out = vec![Vec::new(); texts.len()];
        for chunk in order.chunks(self.batch_size) {
            let ids: Vec<&[i64]> = chunk.iter().map(|&i| encoded[i].token_ids.as_slice()).collect();
            let probs = self.forward(&ids).unwrap_or_else(|reason| {
                tracing::error!(model = %self.name, %reason, "transformer forward pass failed; batch left neutral");
                vec![Vec::new(); chunk.len()]
            });
            for (&i, p) in chunk.iter().zip(probs) {
                out[i] = p;
            }
        }
        out
    }

    /// One padded, masked forward pass over token id sequences.
    fn forward(&self, ids: &[&[i64]]) -> Result<Vec<Vec<f32>>, String> {
        let longest = ids.iter().map(|s| s.len()).max().unwrap_or(0);
        let mut input = Vec::with_capacity(ids.len() * longest);
        let mut mask = Vec::with_capacity(ids.len() * longest);
        for seq in ids {
            input.extend_from_slice(seq);
            input.extend(std::iter::repeat(self.pad_id).take(longest - seq.len()));
            mask.extend(std::iter::repeat(1i64).take(seq.len()));
            mask.extend(std::iter::repeat(0i64).take(longest - seq.len()));
        }
        let shape = [ids.len() as i64, longest as i64];
        let network = self.network.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        catch_unwind(AssertUnwindSafe(|| {
            let input = Tensor::from_slice(&input).view(shape).to(self.device);
            let mask = Tensor::from_slice(&mask).view(shape).to(self.device);
            let logits = tch::no_grad(|| network.model.forward_t(Some(&input), Some(&mask), None, None, None, false).logits);
            let probs = logits.softmax(-1, Kind::Float).to(Device::Cpu);
            let flat = Vec::<f32>::try_from(probs.flatten(0, -1)).map_err(|e| e.to_string())?;
            Ok(flat.chunks(self.labels.len()).map(<[f32]>::to_vec).collect())
        }))
        .map_err(|panic| panic_message(&panic))?
    }

    fn sentiment(&self, probs: &[f32]) -> Sentiment {
        let Some((best, &confidence)) = probs.iter().enumerate().max_by(|a, b| a.1.total_cmp(b.1)) else {
            return self.neutral(0.0);
        };
        let p = |label| self.labels.iter().zip(probs).filter(|(l, _)| **l == label).map(|(_, p)| f64::from(*p)).sum::<f64>();
        let score = p(SentimentLabel::Positive) - p(SentimentLabel::Negative);
        Sentiment { label: self.labels[best], score: round3(score), confidence: round3(f64::from(confidence)), model: self.name.clone() }
    }

    fn neutral(&self, confidence: f64) -> Sentiment {
        Sentiment { label: SentimentLabel::Neutral, score: 0.0, confidence, model: self.name.clone() }
    }
}

impl SentimentModel for TransformerModel {
    fn score(&self, text: &str, lang: &str) -> Sentiment {
        self.score_batch(&[(text, lang)]).remove(0)
    }

    fn score_batch(&self, items: &[(&str, &str)]) -> Vec<Sentiment> {
        // A text with nothing in it has no sentiment; the model is not asked.
        let texts: Vec<&str> = items.iter().map(|(text, _)| *text).filter(|t| !t.trim().is_empty()).collect();
        let mut scored = self.probabilities(&texts).into_iter();
        items
            .iter()
            .map(|(text, _)| {
                if text.trim().is_empty() {
                    self.neutral(1.0)
                } else {
                    scored.next().map(|p| self.sentiment(&p)).unwrap_or_else(|| self.neutral(0.0))
                }
            })
            .collect()
    }

    fn name(&self) -> &str {
        &self.name
    }
}

fn read_config(path: &Path) -> Result<BertConfig, TransformerError> {
    let invalid = |reason: String| TransformerError::InvalidConfig { path: path.to_path_buf(), reason };
    let text = fs::read_to_string(path).map_err(|e| invalid(e.to_string()))?;
    serde_json::from_str(&text).map_err(|e| invalid(e.to_string()))
}

/// The sentiment label of each classifier output, from `id2label`.
fn read_labels(path: &Path, config: &BertConfig) -> Result<Vec<SentimentLabel>, TransformerError> {
    let id2label = config
        .id2label
        .as_ref()
        .ok_or_else(|| TransformerError::InvalidConfig { path: path.to_path_buf(), reason: "no id2label".into() })?;
    let mut names: Vec<(i64, &String)> = id2label.iter().map(|(id, name)| (*id, name)).collect();
    names.sort();
    let found = || names.iter().map(|(_, n)| n.to_string()).collect();
    let dense = names.iter().enumerate().all(|(i, (id, _))| *id == i as i64);
    let labels: Option<Vec<SentimentLabel>> = names
        .iter()
        .map(|(_, name)| match name.to_lowercase().as_str() {
            "negative" => Some(SentimentLabel::Negative),
            "neutral" => Some(SentimentLabel::Neutral),
            "positive" => Some(SentimentLabel::Positive),
            _ => None,
        })
        .collect();
    match labels {
        Some(labels) if dense && !labels.is_empty() => Ok(labels),
        _ => Err(TransformerError::UnknownLabels { path: path.to_path_buf(), found: found() }),
    }
}

/// `do_lower_case` from the tokenizer config; uncased (true) when it is absent, as in BERT's own default.
fn read_lower_case(path: &Path) -> bool {
    fs::read_to_string(path)
        .ok()
        .and_then(|text| serde_json::from_str::<serde_json::Value>(&text).ok())
        .and_then(|value| value.get("do_lower_case").and_then(serde_json::Value::as_bool))
        .unwrap_or(true)
}

fn select_device(device: &str) -> Result<Device, TransformerError> {
    let cuda = |index: usize| {
        if tch::Cuda::is_available() && index < tch::Cuda::device_count() as usize {
            Ok(Device::Cuda(index))
        } else {
            Err(TransformerError::NoCuda(device.to_string()))
        }
    };
    match device {
        "cpu" => Ok(Device::Cpu),
        "auto" => Ok(Device::cuda_if_available()),
        "cuda" => cuda(0),
        other => match other.strip_prefix("cuda:").and_then(|n| n.parse().ok()) {
            Some(index) => cuda(index),
            None => Err(TransformerError::UnknownDevice(other.to_string())),
        },
    }
}

fn panic_message(panic: &Box<dyn std::any::Any + Send>) -> String {
    panic
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_else(|| "libtorch failed".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn devices_are_parsed() {
        assert!(matches!(select_device("cpu"), Ok(Device::Cpu)));
        assert!(matches!(select_device("tpu"), Err(TransformerError::UnknownDevice(_))));
        assert!(matches!(select_device("cuda:x"), Err(TransformerError::UnknownDevice(_))));
        if !tch::Cuda::is_available() {
            assert!(matches!(select_device("cuda"), Err(TransformerError::NoCuda(_))));
            assert!(matches!(select_device("auto"), Ok(Device::Cpu)));
        }
    }

    /// Why the mask is there: the same padded batch without it (what rust-bert's own batch
    /// `predict` does) gives the short text other probabilities than it gets alone.
    #[test]
    fn without_a_mask_padding_changes_the_answer() {
        let dir = std::env::var_os("HARK_TRANSFORMER_MODEL")
            .expect("HARK_TRANSFORMER_MODEL is not set: build the model with `deploy/transformer.sh model`");
        let config = TransformerConfig {
            model_dir: dir.into(),
            device: "cpu".into(),
            batch_size: 8,
            policy: crate::config::EscalationPolicy::All,
            min_confidence: 0.6,
            max_tokens: 64,
            languages: vec!["en".into()],
        };
        let model = TransformerModel::load_model(&config).unwrap();
        let short = "ok thanks";
        let long = "the parcel arrived two weeks late, the box was crushed and half of the order was missing";
        let alone = &model.probabilities(&[short])[0];

        let encoded = model.tokenizer.encode_list(&[short, long], 64, &TruncationStrategy::LongestFirst, 0);
        let (a, b) = (&encoded[0].token_ids, &encoded[1].token_ids);
        let mut padded = a.clone();
        padded.resize(b.len(), model.pad_id);
        let input = Tensor::from_slice(&[padded, b.clone()].concat()).view([2, b.len() as i64]);
        let network = model.network.lock().unwrap();
        let logits = tch::no_grad(|| network.model.forward_t(Some(&input), None, None, None, None, false).logits);
        let unmasked = Vec::<f32>::try_from(logits.softmax(-1, Kind::Float).get(0)).unwrap();
        let largest_change = alone.iter().zip(&unmasked).map(|(x, y)| (x - y).abs()).fold(0.0, f32::max);
        assert!(largest_change > 1e-3, "alone {alone:?}, padded without a mask {unmasked:?}");
    }
}
