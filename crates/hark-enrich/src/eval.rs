//! Measuring the models on labelled mentions (`hark eval`): accuracy, macro-F1, per-language and
//! per-class tables, the confusion matrix and the calibration of the confidence, for every task
//! the file has labels for.
//!
//! Calibration asks whether a label given with confidence 0.8 is right 80 % of the time. Each
//! mention's confidence is that of the label the enricher gave: `lang.confidence`,
//! `sentiment.confidence` and `intent.confidence` as they are; for spam and offensive, whose
//! `score` is the probability of the positive class, the score when flagged and 1 − score when
//! not. The expected calibration error (ECE) sorts these into 10 equal-width bins and averages
//! |accuracy − mean confidence| over the bins, weighted by their share of mentions. On a few
//! hundred mentions chance alone gives an ECE of several hundredths, so the report gives beside it
//! the ECE a perfectly calibrated model would show on average on the same confidences.
//!
//! Labels are read from the record's own fields: `lang` (ISO 639-1), `sentiment`
//! (negative|neutral|positive), `intent`, `spam` and `offensive` (booleans). A record may carry any
//! subset; a task is scored on the records that label it. The per-language tables group by the
//! labelled `lang` where there is one, else by the detected language.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use hark_core::{Enrichment, Mention};
use serde::Serialize;
use serde_json::Value;

/// The tasks `hark eval` scores, in the order it prints them.
pub const TASKS: [&str; 5] = ["lang", "sentiment", "intent", "spam", "offensive"];

/// Truth and prediction of one task on one mention, with the language to group it by.
struct Outcome {
    lang: String,
    truth: String,
    predicted: String,
    /// The enricher's confidence in `predicted`, 0–1.
    confidence: f64,
}

/// What was collected so far; [`Evaluation::report`] turns it into figures.
#[derive(Default)]
pub struct Evaluation {
    outcomes: BTreeMap<&'static str, Vec<Outcome>>,
    models: BTreeMap<&'static str, String>,
}

fn label(value: Option<&Value>) -> Option<String> {
    match value? {
        Value::String(s) if !s.is_empty() => Some(s.to_lowercase()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

impl Evaluation {
    /// Adds one labelled mention and what the enricher made of it.
    pub fn add(&mut self, mention: &Mention, enrichment: &Enrichment) {
        let labelled_lang = label(mention.extra.get("lang"));
        let lang = labelled_lang.clone().unwrap_or_else(|| enrichment.lang.code.clone());
        // A binary score is P(positive): the confidence in "not" is its complement.
        let binary = |flagged: bool, score: f64| if flagged { score } else { 1.0 - score };
        let (spam, offensive) = (&enrichment.spam, &enrichment.offensive);
        let predictions = [
            ("lang", enrichment.lang.code.clone(), enrichment.lang.confidence, enrichment_part(enrichment, "lang")),
            (
                "sentiment",
                enrichment.sentiment.label.as_str().to_string(),
                enrichment.sentiment.confidence,
                enrichment.sentiment.model.clone(),
            ),
            ("intent", enrichment.intent.label.as_str().to_string(), enrichment.intent.confidence, enrichment_part(enrichment, "intent")),
            ("spam", spam.is_spam.to_string(), binary(spam.is_spam, spam.score), enrichment_part(enrichment, "spam")),
            (
                "offensive",
                offensive.is_offensive.to_string(),
                binary(offensive.is_offensive, offensive.score),
                enrichment_part(enrichment, "offensive"),
            ),
        ];
        for (task, predicted, confidence, model) in predictions {
            let truth = if task == "lang" { labelled_lang.clone() } else { label(mention.extra.get(task)) };
            if let Some(truth) = truth {
                let confidence = if confidence.is_finite() { confidence.clamp(0.0, 1.0) } else { 0.0 };
                self.outcomes.entry(task).or_default().push(Outcome { lang: lang.clone(), truth, predicted, confidence });
                self.models.entry(task).or_insert(model);
            }
        }
    }

    pub fn report(&self) -> Report {
        let tasks = TASKS
            .iter()
            .filter_map(|task| {
                let outcomes = self.outcomes.get(task)?;
                let overall = Scores::of(outcomes.iter());
                let languages: BTreeSet<&str> = outcomes.iter().map(|o| o.lang.as_str()).collect();
                let per_language =
                    languages.into_iter().map(|lang| (lang.to_string(), Scores::of(outcomes.iter().filter(|o| o.lang == lang)))).collect();
                let calibration = Calibration::of(outcomes.iter());
                Some(TaskReport { task: task.to_string(), model: self.models[task].clone(), overall, per_language, calibration })
            })
            .collect();
        Report { tasks }
    }
}

/// The `name=version` part of `enrichment_version` for one model.
fn enrichment_part(enrichment: &Enrichment, name: &str) -> String {
    enrichment.enrichment_version.split(';').find_map(|part| part.strip_prefix(&format!("{name}="))).unwrap_or("?").to_string()
}

#[derive(Debug, Serialize)]
pub struct Report {
    pub tasks: Vec<TaskReport>,
}

#[derive(Debug, Serialize)]
pub struct TaskReport {
    pub task: String,
    pub model: String,
    pub overall: Scores,
    pub per_language: BTreeMap<String, Scores>,
    pub calibration: Calibration,
}

/// Number of equal-width confidence bins of the reliability table.
pub const CALIBRATION_BINS: usize = 10;

/// How well the confidence of the given label matches how often it is right.
#[derive(Debug, Serialize)]
pub struct Calibration {
    /// Expected calibration error: Σ over bins of (bin's share of mentions) × |accuracy − mean confidence|.
    pub ece: f64,
    /// The ECE a perfectly calibrated model would show by chance alone, on average, with these
    /// confidences on this many mentions: each bin's accuracy then varies around its mean
    /// confidence by sqrt(Σ c(1 − c)) / n, and E|x| of a normal deviation is sqrt(2/π) of that.
    /// An ECE near it is sampling noise, not miscalibration.
    pub chance_ece: f64,
    /// Mean confidence over all mentions, beside the overall accuracy: over- or under-confidence.
    pub mean_confidence: f64,
    /// The reliability table: one row per bin, empty bins included.
    pub bins: Vec<CalibrationBin>,
}

#[derive(Debug, Serialize)]
pub struct CalibrationBin {
    /// Confidences in [lower, upper); the last bin includes 1.
    pub lower: f64,
    pub upper: f64,
    pub n: usize,
    pub mean_confidence: f64,
    pub accuracy: f64,
}

impl Calibration {
    fn of<'a>(outcomes: impl Iterator<Item = &'a Outcome>) -> Calibration {
        // (mentions, sum of confidence, correct, sum of c(1 − c)) per bin.
        let mut sums = [(0usize, 0.0f64, 0usize, 0.0f64); CALIBRATION_BINS];
        for o in outcomes {
            let bin = ((o.confidence * CALIBRATION_BINS as f64) as usize).min(CALIBRATION_BINS - 1);
            sums[bin].0 += 1;
            sums[bin].1 += o.confidence;
            sums[bin].2 += usize::from(o.truth == o.predicted);
            sums[bin].3 += o.confidence * (1.0 - o.confidence);
        }
        let n: usize = sums.iter().map(|s| s.0).sum();
        let (mut ece, mut chance_ece) = (0.0, 0.0);
        let bins = sums
            .iter()
            .enumerate()
            .map(|(i, &(count, confidence, correct, spread))| {
                let mean_confidence = if count == 0 { 0.0 } else { confidence / count as f64 };
                let accuracy = ratio(correct, count);
                ece += ratio(count, n) * (accuracy - mean_confidence).abs();
                if count > 0 {
                    chance_ece += ratio(count, n) * spread.sqrt() / count as f64 * std::f64::consts::FRAC_2_PI.sqrt();
                }
                let width = 1.0 / CALIBRATION_BINS as f64;
                CalibrationBin { lower: i as f64 * width, upper: (i + 1) as f64 * width, n: count, mean_confidence, accuracy }
            })
            .collect();
        let total_confidence: f64 = sums.iter().map(|s| s.1).sum();
        Calibration { ece, chance_ece, mean_confidence: if n == 0 { 0.0 } else { total_confidence / n as f64 }, bins }
    }
}

#[derive(Debug, Serialize)]
pub struct ClassScores {
    pub precision: f64,
    pub recall: f64,
    pub f1: f64,
    pub support: usize,
}

/// Figures over one set of outcomes.
#[derive(Debug, Serialize)]
pub struct Scores {
    pub n: usize,
    pub accuracy: f64,
    /// Unweighted mean of the per-class F1 over the classes the labels have (a class only ever
    /// predicted still lowers the precision of the others).
    pub macro_f1: f64,
    pub per_class: BTreeMap<String, ClassScores>,
    /// `confusion[truth][predicted]` = count.
    pub confusion: BTreeMap<String, BTreeMap<String, usize>>,
}

impl Scores {
    fn of<'a>(outcomes: impl Iterator<Item = &'a Outcome>) -> Scores {
        let mut confusion: BTreeMap<String, BTreeMap<String, usize>> = BTreeMap::new();
        let mut classes = BTreeSet::new();
        let (mut n, mut correct) = (0, 0);
        for o in outcomes {
            n += 1;
            correct += usize::from(o.truth == o.predicted);
            *confusion.entry(o.truth.clone()).or_default().entry(o.predicted.clone()).or_default() += 1;
            classes.insert(o.truth.clone());
            classes.insert(o.predicted.clone());
        }
        let count = |truth: &str, predicted: &str| confusion.get(truth).and_then(|row| row.get(predicted)).copied().unwrap_or(0);
        let per_class: BTreeMap<String, ClassScores> = classes
            .iter()
            .map(|class| {
                let tp = count(class, class);
                let support: usize = confusion.get(class).map(|row| row.values().sum()).unwrap_or(0);
                let predicted: usize = confusion.values().map(|row| row.get(class).copied().unwrap_or(0)).sum();
                let precision = ratio(tp, predicted);
                let recall = ratio(tp, support);
                let f1 = if precision + recall > 0.0 { 2.0 * precision * recall / (precision + recall) } else { 0.0 };
                (class.clone(), ClassScores { precision, recall, f1, support })
            })
            .collect();
        let labelled: Vec<&ClassScores> = per_class.values().filter(|c| c.support > 0).collect();
        let macro_f1 = if labelled.is_empty() { 0.0 } else { labelled.iter().map(|c| c.f1).sum::<f64>() / labelled.len() as f64 };
        Scores { n, accuracy: ratio(correct, n), macro_f1, per_class, confusion }
    }
}

fn ratio(a: usize, b: usize) -> f64 {
    if b == 0 {
        0.0
    } else {
        a as f64 / b as f64
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.tasks.is_empty() {
            return writeln!(f, "no labelled records (fields: {})", TASKS.join(", "));
        }
        for task in &self.tasks {
            let o = &task.overall;
            writeln!(f, "== {} ({}): {} labelled, accuracy {:.3}, macro-F1 {:.3}", task.task, task.model, o.n, o.accuracy, o.macro_f1)?;
            writeln!(f, "  {:<10} {:>6} {:>9} {:>9}", "language", "n", "accuracy", "macro-F1")?;
            for (lang, s) in &task.per_language {
                writeln!(f, "  {:<10} {:>6} {:>9.3} {:>9.3}", lang, s.n, s.accuracy, s.macro_f1)?;
            }
            writeln!(f, "  {:<16} {:>9} {:>9} {:>9} {:>8}", "class", "precision", "recall", "F1", "support")?;
            for (class, c) in &o.per_class {
                writeln!(f, "  {:<16} {:>9.3} {:>9.3} {:>9.3} {:>8}", class, c.precision, c.recall, c.f1, c.support)?;
            }
            let classes: Vec<&String> = o.per_class.keys().collect();
            write!(f, "  {:<16}", "truth \\ said")?;
            for class in &classes {
                write!(f, " {:>9}", abbreviate(class))?;
            }
            writeln!(f)?;
            for truth in &classes {
                write!(f, "  {:<16}", truth)?;
                for predicted in &classes {
                    let n = o.confusion.get(*truth).and_then(|row| row.get(*predicted)).copied().unwrap_or(0);
                    write!(f, " {:>9}", n)?;
                }
                writeln!(f)?;
            }
            let c = &task.calibration;
            writeln!(
                f,
                "  calibration of the given label's confidence: ECE {:.3} (by chance alone {:.3}), mean confidence {:.3} (accuracy {:.3})",
                c.ece, c.chance_ece, c.mean_confidence, o.accuracy
            )?;
            writeln!(f, "  {:<12} {:>6} {:>10} {:>9} {:>7}", "confidence", "n", "mean conf", "accuracy", "gap")?;
            for bin in c.bins.iter().filter(|b| b.n > 0) {
                let range = format!("{:.1}-{:.1}", bin.lower, bin.upper);
                let gap = bin.accuracy - bin.mean_confidence;
                writeln!(f, "  {:<12} {:>6} {:>10.3} {:>9.3} {:>+7.3}", range, bin.n, bin.mean_confidence, bin.accuracy, gap)?;
            }
            writeln!(f)?;
        }
        Ok(())
    }
}

fn abbreviate(class: &str) -> String {
    class.chars().take(9).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn outcome(truth: &str, predicted: &str) -> Outcome {
        sure(truth, predicted, 1.0)
    }

    fn sure(truth: &str, predicted: &str, confidence: f64) -> Outcome {
        Outcome { lang: "en".into(), truth: truth.into(), predicted: predicted.into(), confidence }
    }

    #[test]
    fn calibration_matches_a_hand_computed_example() {
        // Bin 0.9–1.0: 0.95 right, 0.95 right, 1.0 wrong → mean 0.9667, accuracy 0.6667, gap 0.3.
        // Bin 0.6–0.7: 0.6 right, 0.65 wrong → mean 0.625, accuracy 0.5, gap 0.125.
        // Bin 0.3–0.4: 0.3 wrong (a binary "not" with score 0.7) → mean 0.3, accuracy 0, gap 0.3.
        // ECE = 3/6 × 0.3 + 2/6 × 0.125 + 1/6 × 0.3 = 0.15 + 0.041667 + 0.05 = 0.241667.
        let outcomes = [
            sure("a", "a", 0.95),
            sure("a", "a", 0.95),
            sure("a", "b", 1.0),
            sure("b", "b", 0.6),
            sure("b", "a", 0.65),
            sure("a", "b", 0.3),
        ];
        let c = Calibration::of(outcomes.iter());
        assert!((c.ece - 0.241_666_667).abs() < 1e-6, "{}", c.ece);
        assert!((c.mean_confidence - 4.45 / 6.0).abs() < 1e-9);
        assert_eq!(c.bins.len(), 10);
        assert_eq!(c.bins.iter().map(|b| b.n).collect::<Vec<_>>(), [0, 0, 0, 1, 0, 0, 2, 0, 0, 3]);
        let top = &c.bins[9];
        assert!((top.mean_confidence - 2.9 / 3.0).abs() < 1e-9 && (top.accuracy - 2.0 / 3.0).abs() < 1e-9);
        assert!((top.lower - 0.9).abs() < 1e-9 && (top.upper - 1.0).abs() < 1e-9);
        // Perfectly calibrated: right exactly as often as claimed.
        let calibrated =
            |n: usize| -> Vec<Outcome> { (0..n).map(|i| if i % 10 < 7 { sure("a", "a", 0.7) } else { sure("a", "b", 0.7) }).collect() };
        let fair = calibrated(10);
        assert!(Calibration::of(fair.iter()).ece.abs() < 1e-9);
        assert_eq!(Calibration::of(std::iter::empty()).ece, 0.0);
        // By chance alone: one bin of ten at 0.7, sqrt(10 × 0.21) / 10 × sqrt(2/π) = 0.11562.
        assert!((Calibration::of(fair.iter()).chance_ece - 0.115_624).abs() < 1e-5);
        // And a quarter of that on sixteen times as many mentions.
        let more = calibrated(160);
        assert!((Calibration::of(more.iter()).chance_ece - 0.115_624 / 4.0).abs() < 1e-5);
    }

    #[test]
    fn figures_match_a_hand_computed_example() {
        // truth: a a a b b c; said: a a b b c c; and one d said for a c, which lowers c's recall and
        // counts d's precision 0 but is no class of the labels.
        let outcomes = [
            outcome("a", "a"),
            outcome("a", "a"),
            outcome("a", "b"),
            outcome("b", "b"),
            outcome("b", "c"),
            outcome("c", "c"),
            outcome("c", "d"),
        ];
        let s = Scores::of(outcomes.iter());
        assert_eq!(s.n, 7);
        assert!((s.accuracy - 4.0 / 7.0).abs() < 1e-9);
        let a = &s.per_class["a"];
        assert!((a.precision - 1.0).abs() < 1e-9 && (a.recall - 2.0 / 3.0).abs() < 1e-9 && a.support == 3);
        let b = &s.per_class["b"];
        assert!((b.precision - 0.5).abs() < 1e-9 && (b.recall - 0.5).abs() < 1e-9);
        let c = &s.per_class["c"];
        assert!((c.precision - 0.5).abs() < 1e-9 && (c.recall - 0.5).abs() < 1e-9);
        assert_eq!(s.per_class["d"].support, 0);
        let f1 = |p: f64, r: f64| 2.0 * p * r / (p + r);
        let expected = (f1(1.0, 2.0 / 3.0) + 0.5 + 0.5) / 3.0;
        assert!((s.macro_f1 - expected).abs() < 1e-9, "{} vs {expected}", s.macro_f1);
        assert_eq!(s.confusion["a"]["b"], 1);
    }

    #[test]
    fn labels_are_read_from_strings_and_booleans() {
        assert_eq!(label(Some(&Value::Bool(true))).as_deref(), Some("true"));
        assert_eq!(label(Some(&Value::String("Negative".into()))).as_deref(), Some("negative"));
        assert_eq!(label(Some(&Value::Null)), None);
        assert_eq!(label(None), None);
    }
}
