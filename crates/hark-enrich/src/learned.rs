//! The learned text heads (`learned-v6`): linear classifiers of sentiment, intent, spam and offensive trained
//! here on labelled mentions in eight languages (`train/learned_train.py`, data in
//! `data/README.md`), blended with the hand-built models' answers.
//!
//! Features are hashed into 2^16 buckets: lowercased words (ASCII digits as 0), word pairs,
//! character 2- to 4-grams of each word with its edges, and each punctuation mark or emoji. A
//! text's distinct buckets each weigh 1/√n. Each head is a multinomial logistic regression; its
//! probabilities are mixed with the hand-built model's (its confidence on its label, the rest
//! shared) by a weight chosen on cross-validation folds, then tempered (p^(1/T), normalised) so
//! that the winning probability, the label's `confidence`, is right as often as it says. Character n-grams carry what word lists
//! miss: inflections, typos, Chinese without spaces, words no list has.

use crate::error::EnrichError;

static MODEL: &[u8] = include_bytes!("../data/learned-v6.bin");

/// One label's classifier.
#[derive(Debug, Clone)]
pub struct Head {
    pub classes: Vec<String>,
    /// The learned head's share of the blended probabilities.
    pub blend: f64,
    /// Above 1 the blend was too sure of itself, below 1 not sure enough.
    temperature: f64,
    scale: f32,
    bias: Vec<f32>,
    /// Where this head's weights start within a bucket's row of [`LearnedHeads::weights`].
    offset: usize,
}

/// A text's features: its distinct buckets.
pub struct Features(Vec<u32>);

/// Each head's weighted sum over a text's features, from one pass over them.
pub struct Sums {
    sums: [i32; ROW],
    /// The weight of each feature: 1/√n.
    value: f64,
}

/// The weights of one bucket for every head's every class (3 + 6 + 2 + 2), side by side and padded to
/// 16 bytes: a text's features cost one memory access each, not one per head.
const ROW: usize = 16;

#[derive(Debug, Clone)]
pub struct LearnedHeads {
    bucket_mask: u32,
    languages: Vec<String>,
    /// Bucket-major: the weights of bucket `b` are `weights[b * ROW..][..ROW]`.
    weights: Vec<i8>,
    pub sentiment: Head,
    pub intent: Head,
    /// Classes `ham` and `spam`.
    pub spam: Head,
    /// Classes `clean` and `offensive`.
    pub offensive: Head,
}

impl LearnedHeads {
    pub fn version() -> &'static str {
        "learned-v6"
    }

    pub fn load() -> Result<Self, EnrichError> {
        let error = |reason: &str| EnrichError::Model { model: Self::version().into(), reason: reason.into() };
        let mut r = Reader { bytes: MODEL };
        if r.take(8) != Some(b"HARKLIN2".as_slice()) {
            return Err(error("not a learned model file"));
        }
        let bits = r.u32().ok_or_else(|| error("truncated"))?;
        let languages = r.strings().ok_or_else(|| error("truncated"))?;
        let n_heads = r.u32().ok_or_else(|| error("truncated"))?;
        let buckets = 1usize << bits;
        let mut weights = vec![0i8; buckets * ROW];
        let (mut sentiment, mut intent, mut spam, mut offensive) = (None, None, None, None);
        let mut offset = 0;
        for _ in 0..n_heads {
            let (name, mut head, head_weights) = r.head(buckets).ok_or_else(|| error("truncated head"))?;
            let k = head.classes.len();
            if offset + k > ROW {
                return Err(error("more classes than a row holds"));
            }
            for (b, row) in head_weights.chunks_exact(k).enumerate() {
                weights[b * ROW + offset..][..k].copy_from_slice(row);
            }
            head.offset = offset;
            offset += k;
            match name.as_str() {
                "sentiment" => sentiment = Some(head),
                "intent" => intent = Some(head),
                "spam" => spam = Some(head),
                "offensive" => offensive = Some(head),
                _ => return Err(error("unknown head")),
            }
        }
        Ok(LearnedHeads {
            bucket_mask: (1u32 << bits) - 1,
            languages,
            weights,
            sentiment: sentiment.ok_or_else(|| error("no sentiment head"))?,
            intent: intent.ok_or_else(|| error("no intent head"))?,
            spam: spam.ok_or_else(|| error("no spam head"))?,
            offensive: offensive.ok_or_else(|| error("no offensive head"))?,
        })
    }

    /// Whether the heads were trained on `lang`; other languages keep the hand-built answers.
    pub fn knows(&self, lang: &str) -> bool {
        self.languages.iter().any(|l| l == lang)
    }

    pub fn features(&self, text: &str) -> Features {
        let mask = self.bucket_mask;
        let mut out = Vec::with_capacity(text.len() * 3);
        // One pass over the lowercased text, word by word; `previous` keeps the last word for pairs.
        let (mut word, mut previous): (Vec<char>, Vec<char>) = (vec![' '], Vec::new());
        let finish_word = |word: &mut Vec<char>, previous: &mut Vec<char>, out: &mut Vec<u32>| {
            if word.len() == 1 {
                return;
            }
            word.push(' ');
            let inner = &word[1..word.len() - 1];
            out.push(Fnv::new("w:").chars(inner).finish() as u32 & mask);
            for n in 2..=4 {
                out.extend(word.windows(n).map(|gram| Fnv::new("c:").chars(gram).finish() as u32 & mask));
            }
            if !previous.is_empty() {
                out.push(Fnv::new("b:").chars(previous).chars(&[' ']).chars(inner).finish() as u32 & mask);
            }
            previous.clear();
            previous.extend_from_slice(inner);
            word.truncate(1);
        };
        // The whole string, not char by char: a final sigma lowercases as the training script's does.
        for c in text.to_lowercase().chars() {
            if c.is_alphanumeric() {
                word.push(if c.is_ascii_digit() { '0' } else { c });
            } else {
                finish_word(&mut word, &mut previous, &mut out);
            }
        }
        finish_word(&mut word, &mut previous, &mut out);
        for c in text.chars().filter(|c| !c.is_alphanumeric() && !c.is_whitespace()) {
            out.push(Fnv::new("p:").chars(&[c]).finish() as u32 & mask);
        }
        out.sort_unstable();
        out.dedup();
        Features(out)
    }

    /// Every head's sums over the text's features, for [`Head::probabilities`].
    pub fn sums(&self, features: &Features) -> Sums {
        let mut sums = [0i32; ROW];
        for &b in &features.0 {
            for (sum, w) in sums.iter_mut().zip(&self.weights[b as usize * ROW..][..ROW]) {
                *sum += i32::from(*w);
            }
        }
        let value = if features.0.is_empty() { 0.0 } else { 1.0 / (features.0.len() as f64).sqrt() };
        Sums { sums, value }
    }
}

impl Head {
    /// The head's probability of each of its classes.
    pub fn probabilities(&self, sums: &Sums) -> Vec<f64> {
        let logits: Vec<f64> = sums.sums[self.offset..]
            .iter()
            .zip(&self.bias)
            .map(|(s, b)| f64::from(*b) + f64::from(self.scale) * f64::from(*s) * sums.value)
            .collect();
        softmax(&logits)
    }

    /// This head's probabilities mixed with a hand-built answer, `label` at `confidence` (see [`spread`]).
    pub fn blend(&self, learned: &[f64], label: &str, confidence: f64) -> Vec<f64> {
        mix(learned, &spread(&self.classes, label, confidence), self.blend, self.temperature)
    }

    /// The position of `class` among the head's classes.
    pub fn index(&self, class: &str) -> usize {
        self.classes.iter().position(|c| c == class).expect("the model file names every class")
    }
}

/// How much more likely the hand-built label stays than each other class, at least.
const HAND_FLOOR: f64 = 0.01;

/// A hand-built answer, `label` at `confidence`, as a distribution over `classes`: the rest
/// shared by the other classes. A label is never made less likely than the others (the lexicon
/// says "neutral" at low confidence when it finds nothing).
pub fn spread(classes: &[String], label: &str, confidence: f64) -> Vec<f64> {
    let confidence = confidence.clamp(HAND_FLOOR + 1.0 / classes.len() as f64, 1.0);
    let rest = (1.0 - confidence) / (classes.len() - 1) as f64;
    classes.iter().map(|class| if class == label { confidence } else { rest }).collect()
}

/// A learned model's probabilities mixed with another answer's, `blend` of them the learned
/// ones, then tempered: p^(1/T), normalised (above 1 less sure, below 1 surer).
pub fn mix(learned: &[f64], other: &[f64], blend: f64, temperature: f64) -> Vec<f64> {
    let tempered: Vec<f64> =
        learned.iter().zip(other).map(|(p, q)| (blend * p + (1.0 - blend) * q).max(1e-12).powf(1.0 / temperature)).collect();
    let sum: f64 = tempered.iter().sum();
    tempered.iter().map(|p| p / sum).collect()
}

pub(crate) fn softmax(logits: &[f64]) -> Vec<f64> {
    let max = logits.iter().cloned().fold(f64::MIN, f64::max);
    let exps: Vec<f64> = logits.iter().map(|l| (l - max).exp()).collect();
    let sum: f64 = exps.iter().sum();
    exps.iter().map(|e| e / sum).collect()
}

/// 64-bit FNV-1a over the UTF-8 bytes of a prefix and characters, as the training script hashes.
struct Fnv(u64);

impl Fnv {
    fn new(prefix: &str) -> Self {
        let mut h = Fnv(0xcbf2_9ce4_8422_2325);
        h.bytes(prefix.as_bytes());
        h
    }

    fn bytes(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 ^= u64::from(*b);
            self.0 = self.0.wrapping_mul(0x0100_0000_01b3);
        }
    }

    fn chars(mut self, chars: &[char]) -> Self {
        let mut buf = [0u8; 4];
        for c in chars {
            self.bytes(c.encode_utf8(&mut buf).as_bytes());
        }
        self
    }

    fn finish(self) -> u64 {
        self.0
    }
}

/// Reads the model file's little-endian fields.
struct Reader<'a> {
    bytes: &'a [u8],
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if self.bytes.len() < n {
            return None;
        }
        let (head, rest) = self.bytes.split_at(n);
        self.bytes = rest;
        Some(head)
    }

    fn u32(&mut self) -> Option<u32> {
        Some(u32::from_le_bytes(self.take(4)?.try_into().ok()?))
    }

    fn f32(&mut self) -> Option<f32> {
        Some(f32::from_le_bytes(self.take(4)?.try_into().ok()?))
    }

    fn strings(&mut self) -> Option<Vec<String>> {
        let n = self.u32()?;
        (0..n)
            .map(|_| {
                let len = usize::from(*self.take(1)?.first()?);
                String::from_utf8(self.take(len)?.to_vec()).ok()
            })
            .collect()
    }

    /// A head, and its weights as the file has them: bucket-major, one per class.
    fn head(&mut self, buckets: usize) -> Option<(String, Head, Vec<i8>)> {
        let name = self.strings()?.pop()?;
        let classes = self.strings()?;
        let blend = f64::from(self.f32()?);
        let temperature = f64::from(self.f32()?);
        let scale = self.f32()?;
        let bias = (0..classes.len()).map(|_| self.f32()).collect::<Option<Vec<f32>>>()?;
        let weights = self.take(buckets * classes.len())?.iter().map(|b| *b as i8).collect();
        Some((name, Head { classes, blend, temperature, scale, bias, offset: 0 }, weights))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The training script wrote these texts with the buckets it computed: Rust must agree, or
    /// the weights mean nothing.
    #[test]
    fn features_are_the_training_scripts() {
        let heads = LearnedHeads::load().unwrap();
        let check = include_str!("../data/learned-v6-check.tsv");
        let mut n = 0;
        for line in check.lines() {
            let (buckets, text) = line.split_once('\t').unwrap();
            let text: String = serde_json::from_str(text).unwrap();
            let expected: Vec<u32> = buckets.split(' ').map(|b| b.parse().unwrap()).collect();
            assert_eq!(heads.features(&text).0, expected, "{text}");
            n += 1;
        }
        assert!(n >= 50, "{n} texts checked");
    }

    /// The shared table holds each head's weights as the file lays them out, one head after the
    /// other: the sums of one pass equal each head's own, computed straight from the file.
    #[test]
    fn one_pass_over_the_shared_table_sums_each_head_as_the_file_has_it() {
        let heads = LearnedHeads::load().unwrap();
        let mut r = Reader { bytes: MODEL };
        r.take(8).unwrap();
        let buckets = 1usize << r.u32().unwrap();
        r.strings().unwrap();
        let texts = ["my order never arrived, refund please", "Ottimo servizio, grazie!", "限时抢购 点击链接", ""];
        for _ in 0..r.u32().unwrap() {
            let (name, _, weights) = r.head(buckets).unwrap();
            let head = match name.as_str() {
                "sentiment" => &heads.sentiment,
                "intent" => &heads.intent,
                "spam" => &heads.spam,
                _ => &heads.offensive,
            };
            let k = head.classes.len();
            for text in texts {
                let features = heads.features(text);
                let mut own = vec![0i32; k];
                for &b in &features.0 {
                    for (sum, w) in own.iter_mut().zip(&weights[b as usize * k..][..k]) {
                        *sum += i32::from(*w);
                    }
                }
                assert_eq!(&heads.sums(&features).sums[head.offset..][..k], own.as_slice(), "{name}: {text}");
            }
        }
    }

    #[test]
    fn probabilities_are_a_distribution_and_blends_keep_the_hand_built_answer_at_zero_weight() {
        let heads = LearnedHeads::load().unwrap();
        let p = heads.intent.probabilities(&heads.sums(&heads.features("my order never arrived, refund please")));
        assert_eq!(p.len(), 6);
        assert!((p.iter().sum::<f64>() - 1.0).abs() < 1e-9);
        let mut head = heads.intent.clone();
        head.temperature = 1.0;
        head.blend = 0.0;
        let hand = head.blend(&p, "praise", 0.9);
        assert_eq!(hand[head.index("praise")], 0.9);
        assert!((hand[head.index("other")] - 0.02).abs() < 1e-9);
        head.blend = 1.0;
        let learned = head.blend(&p, "praise", 0.9);
        assert!(learned.iter().zip(&p).all(|(a, b)| (a - b).abs() < 1e-9));
        head.temperature = 2.0;
        let softer = head.blend(&p, "praise", 0.9);
        let best = |q: &[f64]| crate::text::most_likely(q).1;
        assert!(best(&softer) < best(&learned), "a higher temperature makes the answer less sure");
    }

    #[test]
    fn a_text_without_features_gets_the_priors() {
        let heads = LearnedHeads::load().unwrap();
        let p = heads.sentiment.probabilities(&heads.sums(&heads.features("")));
        assert!((p.iter().sum::<f64>() - 1.0).abs() < 1e-9);
    }
}
