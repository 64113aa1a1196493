//! The transformer sentiment backend against the real model `deploy/transformer.sh model` builds.
//!
//! Run with `deploy/transformer.sh test`, or by hand:
//! `HARK_TRANSFORMER_MODEL=.hark/models/minilm-l6-en-sentiment-v1 LD_LIBRARY_PATH=<torch>/lib
//!  cargo test -p hark-enrich --features transformer --test transformer`.

use std::{
    fs,
    path::{Path, PathBuf},
};

use hark_core::SentimentLabel;
use hark_enrich::config::{EscalationPolicy, TransformerConfig};
use hark_enrich::{transformer::TransformerModel, SentimentModel};

/// The model folder. Missing is a failure, not a skip: with the feature on, these tests are the
/// only check that the backend works.
fn model_dir() -> PathBuf {
    match std::env::var_os("HARK_TRANSFORMER_MODEL") {
        Some(dir) => PathBuf::from(dir),
        None => panic!(
            "HARK_TRANSFORMER_MODEL is not set. Build the model with `deploy/transformer.sh model` \
             (it writes .hark/models/minilm-l6-en-sentiment-v1) and run `deploy/transformer.sh test`, \
             or set HARK_TRANSFORMER_MODEL to that folder"
        ),
    }
}

fn config(dir: &Path) -> TransformerConfig {
    TransformerConfig {
        model_dir: dir.to_path_buf(),
        device: "cpu".into(),
        batch_size: 8,
        policy: EscalationPolicy::All,
        min_confidence: 0.6,
        max_tokens: 64,
        languages: vec!["en".into()],
    }
}

fn model() -> TransformerModel {
    TransformerModel::load(&config(&model_dir())).expect("the model loads")
}

fn load_error(config: &TransformerConfig) -> String {
    match TransformerModel::load(config) {
        Ok(_) => panic!("{config:?} loaded, but should not"),
        Err(e) => e.to_string(),
    }
}

/// A folder of links to the model's files, less `without`, with `replace` written instead.
fn model_copy(name: &str, without: &[&str], replace: &[(&str, &str)]) -> PathBuf {
    let source = fs::canonicalize(model_dir()).unwrap();
    let dir = std::env::temp_dir().join(format!("hark-transformer-test-{}-{name}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).unwrap();
    for entry in fs::read_dir(&source).unwrap() {
        let file = entry.unwrap().file_name();
        let file_name = file.to_string_lossy();
        if !without.contains(&file_name.as_ref()) && !replace.iter().any(|(n, _)| *n == file_name) {
            std::os::unix::fs::symlink(source.join(&file), dir.join(&file)).unwrap();
        }
    }
    for (file, text) in replace {
        fs::write(dir.join(file), text).unwrap();
    }
    dir
}

const POSITIVE: [&str; 4] = [
    "I love this phone, the camera is amazing and the battery lasts all day!",
    "Thank you so much for the quick refund, great customer service",
    "Best pasta I have had in years, absolutely delicious",
    "so happy with my new jacket, fits perfectly and looks great",
];
const NEGATIVE: [&str; 4] = [
    "This is the worst airline ever, lost my bag and nobody cares",
    "Terrible service, I waited two hours and the food was cold. Never again.",
    "my phone keeps crashing after the update, this is awful",
    "I hate this app, it is broken and useless",
];

#[test]
fn clear_texts_get_the_right_label() {
    let model = model();
    for text in POSITIVE {
        let s = model.score(text, "en");
        assert_eq!(s.label, SentimentLabel::Positive, "{text:?} scored {s:?}");
        assert!(s.score > 0.0 && s.confidence > 0.5, "{text:?} scored {s:?}");
    }
    for text in NEGATIVE {
        let s = model.score(text, "en");
        assert_eq!(s.label, SentimentLabel::Negative, "{text:?} scored {s:?}");
        assert!(s.score < 0.0 && s.confidence > 0.5, "{text:?} scored {s:?}");
    }
    assert_eq!(model.name(), "minilm-l6-en-sentiment-v1");
}

/// Texts of very different lengths in one batch are padded; without the attention mask the
/// short ones would read the padding and score differently from when they are alone.
#[test]
fn a_padded_batch_scores_like_one_text_at_a_time() {
    let model = model();
    let long = "I ordered the blue one three weeks ago, paid for express delivery, called support four \
                times and every time they promised it would arrive tomorrow, and it still is not here";
    let texts: Vec<&str> = [POSITIVE.as_slice(), NEGATIVE.as_slice(), &[long, "ok", "meh.", "The update is out today."]].concat();
    let batch = model.probabilities(&texts);
    for (text, in_batch) in texts.iter().zip(&batch) {
        let alone = &model.probabilities(&[text])[0];
        for (a, b) in alone.iter().zip(in_batch) {
            assert!((a - b).abs() < 1e-4, "{text:?}: alone {alone:?}, in a padded batch {in_batch:?}");
        }
    }
    let items: Vec<(&str, &str)> = texts.iter().map(|t| (*t, "en")).collect();
    let labels: Vec<_> = model.score_batch(&items).into_iter().map(|s| s.label).collect();
    let one_by_one: Vec<_> = texts.iter().map(|t| model.score(t, "en").label).collect();
    assert_eq!(labels, one_by_one);
}

/// The probabilities PyTorch computed when the model was exported (`reference.jsonl`): the
/// weights, the tokenizer and the label order all came through.
#[test]
fn probabilities_match_the_exporting_pytorch() {
    let dir = model_dir();
    let reference = fs::read_to_string(dir.join("reference.jsonl")).expect("reference.jsonl in the model folder");
    let rows: Vec<serde_json::Value> = reference.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let max_tokens = rows[0]["max_tokens"].as_u64().unwrap() as usize;
    let model = TransformerModel::load(&TransformerConfig { max_tokens, ..config(&dir) }).unwrap();
    let texts: Vec<&str> = rows.iter().map(|r| r["text"].as_str().unwrap()).collect();
    for (row, ours) in rows.iter().zip(model.probabilities(&texts)) {
        let theirs: Vec<f64> = row["probabilities"].as_array().unwrap().iter().map(|p| p.as_f64().unwrap()).collect();
        assert_eq!(ours.len(), theirs.len());
        for (a, b) in ours.iter().zip(&theirs) {
            assert!((f64::from(*a) - b).abs() < 2e-3, "{:?}: ours {ours:?}, PyTorch {theirs:?}", row["text"]);
        }
    }
}

#[test]
fn empty_and_huge_texts_are_scored_without_failing() {
    let model = model();
    for empty in ["", "   \n\t"] {
        let s = model.score(empty, "en");
        assert_eq!((s.label, s.score), (SentimentLabel::Neutral, 0.0));
    }
    // 1 MB: cut to max_tokens, so it costs what a long post costs.
    let sentence = "this is the worst service I have ever had ";
    let huge = sentence.repeat((1 << 20) / sentence.len() + 1);
    let huge = &huge[..1 << 20];
    let started = std::time::Instant::now();
    let scored = model.score_batch(&[(huge, "en"), ("", "en"), ("I love it", "en"), ("😀😀😀", "und")]);
    assert_eq!(scored.len(), 4);
    assert_eq!(scored[0].label, SentimentLabel::Negative, "{:?}", scored[0]);
    assert_eq!(scored[1].label, SentimentLabel::Neutral);
    assert_eq!(scored[2].label, SentimentLabel::Positive, "{:?}", scored[2]);
    assert!(started.elapsed().as_secs() < 30, "a 1 MB text took {:?}", started.elapsed());
    assert!(scored.iter().all(|s| (-1.0..=1.0).contains(&s.score) && (0.0..=1.0).contains(&s.confidence)));
    assert!(model.score_batch(&[]).is_empty());
}

#[test]
fn a_missing_model_dir_is_named() {
    let missing = std::env::temp_dir().join("hark-no-such-model");
    let error = load_error(&config(&missing));
    assert!(error.contains("hark-no-such-model") && error.contains("does not exist"), "{error}");
}

#[test]
fn a_missing_file_is_named() {
    for file in ["config.json", "vocab.txt", "model.safetensors"] {
        let dir = model_copy(&format!("no-{file}"), &[file], &[]);
        let error = load_error(&config(&dir));
        assert!(error.contains(&format!("no `{file}`")), "without {file}: {error}");
        fs::remove_dir_all(dir).unwrap();
    }
}

#[test]
fn invalid_files_are_errors() {
    let cases: [(&str, &str, &str); 4] = [
        ("config.json", "{ not json", "config.json` is not a valid BERT config"),
        ("config.json", r#"{"hidden_size": 384}"#, "config.json` is not a valid BERT config"),
        ("model.safetensors", "these are not weights", "model.safetensors` does not fit"),
        ("vocab.txt", "", "could not be read as a vocabulary"),
    ];
    for (i, (file, text, expected)) in cases.into_iter().enumerate() {
        let dir = model_copy(&format!("bad-{i}"), &[], &[(file, text)]);
        let error = load_error(&config(&dir));
        assert!(error.contains(expected), "{file} = {text:?}: {error}");
        fs::remove_dir_all(dir).unwrap();
    }

    // A config whose shapes do not match the weights.
    let original = fs::read_to_string(model_dir().join("config.json")).unwrap();
    let mut wrong: serde_json::Value = serde_json::from_str(&original).unwrap();
    wrong["intermediate_size"] = 1000.into();
    let dir = model_copy("wrong-shape", &[], &[("config.json", &wrong.to_string())]);
    let error = load_error(&config(&dir));
    assert!(error.contains("does not fit the model"), "{error}");

    // Labels that are not sentiment labels.
    let mut labels: serde_json::Value = serde_json::from_str(&original).unwrap();
    labels["id2label"] = serde_json::json!({"0": "LABEL_0", "1": "LABEL_1", "2": "LABEL_2"});
    let dir2 = model_copy("labels", &[], &[("config.json", &labels.to_string())]);
    let error = load_error(&config(&dir2));
    assert!(error.contains("labels must be negative, neutral and positive") && error.contains("LABEL_0"), "{error}");
    fs::remove_dir_all(dir).unwrap();
    fs::remove_dir_all(dir2).unwrap();
}

#[test]
fn bad_settings_are_errors() {
    let dir = model_dir();
    let error = load_error(&TransformerConfig { max_tokens: 100_000, ..config(&dir) });
    assert!(error.contains("max_tokens = 100000"), "{error}");
    let error = load_error(&TransformerConfig { batch_size: 0, ..config(&dir) });
    assert!(error.contains("batch_size"), "{error}");
    let error = load_error(&TransformerConfig { device: "tpu".into(), ..config(&dir) });
    assert!(error.contains("device = \"tpu\""), "{error}");
}

/// CUDA requested: loads on the GPU where there is one, and is a clear error where there is none.
#[test]
fn cuda_is_used_or_refused() {
    let requested = TransformerConfig { device: "cuda".into(), ..config(&model_dir()) };
    if tch::Cuda::is_available() {
        let model = TransformerModel::load(&requested).unwrap();
        assert!(model.device().is_cuda());
        assert_eq!(model.score(POSITIVE[0], "en").label, SentimentLabel::Positive);
    } else {
        let error = load_error(&requested);
        assert!(error.contains("no CUDA device"), "{error}");
        let auto = TransformerModel::load(&TransformerConfig { device: "auto".into(), ..config(&model_dir()) });
        assert_eq!(auto.unwrap().device(), tch::Device::Cpu);
    }
}
