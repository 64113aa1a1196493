//! Hark's language identifier next to plain lingua (high-accuracy mode over the same 20
//! candidates) on labelled files: accuracy and single-thread speed of each.
//!
//! cargo run --release -p hark-enrich --example language_compare -- FILE.jsonl [FILE.jsonl ...]

use std::time::Instant;

use hark_enrich::config::DEFAULT_LANGUAGES;
use hark_enrich::{language::LanguageIdentifier, record::mention_from_line};
use lingua::{IsoCode639_1, Language, LanguageDetectorBuilder};

fn main() {
    let codes: Vec<String> = DEFAULT_LANGUAGES.map(String::from).to_vec();
    let hark = LanguageIdentifier::new(&codes).unwrap();
    let languages: Vec<Language> = codes.iter().map(|c| Language::from_iso_code_639_1(&c.parse::<IsoCode639_1>().unwrap())).collect();
    let lingua = LanguageDetectorBuilder::from_languages(&languages).with_preloaded_language_models().build();

    println!("{:<48} {:>6}  {:>16} {:>12}  {:>16} {:>12}", "file", "n", "lingua accuracy", "mentions/s", "hark accuracy", "mentions/s");
    for path in std::env::args().skip(1) {
        let text = std::fs::read_to_string(&path).unwrap();
        let rows: Vec<(String, String)> = text
            .lines()
            .enumerate()
            .filter_map(|(i, line)| {
                let mention = mention_from_line(line, i + 1).ok()?;
                let lang = mention.extra.get("lang")?.as_str()?.to_string();
                Some((mention.text, lang))
            })
            .collect();
        let measure = |detect: &dyn Fn(&str) -> String| {
            let start = Instant::now();
            let correct = rows.iter().filter(|(text, lang)| detect(text) == *lang).count();
            (correct as f64 / rows.len() as f64, rows.len() as f64 / start.elapsed().as_secs_f64())
        };
        let (lingua_accuracy, lingua_rate) =
            measure(&|text| lingua.detect_language_of(text).map(|l| l.iso_code_639_1().to_string()).unwrap_or_else(|| "und".into()));
        let (hark_accuracy, hark_rate) = measure(&|text| hark.identify(text, None).code);
        println!(
            "{:<48} {:>6}  {:>16.3} {:>12.0}  {:>16.3} {:>12.0}",
            path.rsplit('/').next().unwrap_or(&path),
            rows.len(),
            lingua_accuracy,
            lingua_rate,
            hark_accuracy,
            hark_rate
        );
    }
}
