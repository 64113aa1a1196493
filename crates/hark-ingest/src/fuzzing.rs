//! What must hold for any input to the body parser and the mention validator, as functions of
//! raw bytes: the fuzz targets in `fuzz/` call them with libFuzzer's inputs (`cargo +nightly fuzz
//! run <target>`), and this module's test calls them on stable with the seed corpus in
//! `fuzz/corpus/` and random variations of it, so CI exercises them in every test run.
//! Each function panics when a property fails.

use chrono::{DateTime, Utc};
use hark_core::{MentionError, Validator};
use serde_json::Value;

use crate::body::{self, BodyError, BodyLimits, Line, LineSplitter};

/// Limits small enough for short inputs to reach them.
const LIMITS: BodyLimits = BodyLimits { max_body_bytes: 1 << 20, max_records: 8, max_record_bytes: 64 };

/// The NDJSON line splitter finds the same lines however the body is cut into chunks: the first
/// byte of `data` chooses the chunk sizes, the rest is the body.
pub fn ndjson_lines(data: &[u8]) {
    let Some((&seed, body)) = data.split_first() else { return };
    let max_line_bytes = 1 + usize::from(seed % 32);
    let sizes = [1 + usize::from(seed >> 5), 1, 3, 2 + usize::from(seed % 7)];
    let mut splitter = LineSplitter::new(max_line_bytes);
    let mut found: Vec<Result<Vec<u8>, usize>> = Vec::new();
    let mut take = |line: Line| match line {
        Line::Record(bytes) => found.push(Ok(bytes.to_vec())),
        Line::TooLong { bytes } => found.push(Err(bytes)),
    };
    let (mut rest, mut size) = (body, sizes.iter().cycle());
    while !rest.is_empty() {
        let (chunk, after) = rest.split_at((*size.next().expect("cycle")).min(rest.len()));
        let mut pos = 0;
        while let Some(line) = splitter.next_line(chunk, &mut pos) {
            take(line);
        }
        assert_eq!(pos, chunk.len(), "the whole chunk is taken");
        rest = after;
    }
    if let Some(line) = splitter.finish() {
        take(line);
    }
    // The same lines cut from the whole body at once.
    let expected: Vec<Result<Vec<u8>, usize>> = body
        .split(|&b| b == b'\n')
        .map(|line| line.strip_suffix(b"\r").unwrap_or(line))
        .filter(|line| !line.iter().all(u8::is_ascii_whitespace))
        .map(|line| if line.len() > max_line_bytes { Err(line.len()) } else { Ok(line.to_vec()) })
        .collect();
    assert_eq!(found, expected);
}

/// An `application/json` body is split into exactly the elements serde_json sees in it, counted
/// against the cap, and each element parses to the value it has in the whole document.
pub fn json_body(data: &[u8]) {
    let split = body::split_json(data, LIMITS);
    let whole: Option<Value> = std::str::from_utf8(data).ok().and_then(|text| serde_json::from_str(text).ok());
    match (&split, whole) {
        (Ok(records), Some(Value::Array(elements))) => {
            assert!(elements.len() <= LIMITS.max_records && records.len() == elements.len());
            let parsed: Vec<Result<Value, MentionError>> = records.batches().flat_map(|batch| batch.records).collect();
            for (record, element) in parsed.iter().zip(&elements) {
                match record {
                    Ok(value) => assert_eq!(value, element),
                    Err(e) => assert_eq!(e.kind(), "too_long", "{e}"),
                }
            }
        }
        (Ok(records), Some(Value::Object(_))) => assert_eq!(records.len(), 1),
        (Err(BodyError::TooManyRecords { .. }), Some(Value::Array(elements))) => assert!(elements.len() > LIMITS.max_records),
        (Err(BodyError::Empty), Some(Value::Array(elements))) => assert!(elements.is_empty()),
        (Err(BodyError::NotObjectOrArray), Some(value)) => assert!(!value.is_array() && !value.is_object()),
        // serde_json refuses nesting past 128 levels as a whole document; an element of an
        // array is refused alone, when it is parsed.
        // serde_json also refuses, as a `Value`, numbers out of range that are valid JSON.
        (Ok(_) | Err(BodyError::NotObjectOrArray), None) => {
            assert!(serde_json::from_slice::<serde::de::IgnoredAny>(data).is_ok(), "{split:?} for a body that is not JSON")
        }
        // Counting stops at the cap, before the rest of the body is read.
        (Err(BodyError::Empty | BodyError::InvalidUtf8 | BodyError::InvalidJson(_) | BodyError::TooManyRecords { .. }), None) => {}
        (split, whole) => panic!("split {split:?} for a body serde_json reads as {whole:?}"),
    }
}

/// The validator never panics, its messages stay short whatever the record holds, and a mention
/// it accepts is accepted again, unchanged, when written out and read back.
pub fn validate_record(data: &[u8]) {
    let validator = Validator {
        platforms: vec!["twitter".into(), "x".into()],
        max_text_bytes: 256,
        max_extra_bytes: 256,
        max_future_skew: chrono::Duration::minutes(5),
    };
    let now: DateTime<Utc> = "2026-11-20T12:00:00Z".parse().expect("a timestamp");
    let result = body::parse_record(data).and_then(|value| validator.validate(value, now));
    match result {
        Err(e @ (MentionError::InvalidJson(_) | MentionError::InvalidUtf8)) => assert!(e.to_string().len() < 300, "{e}"),
        Err(e) => assert!(e.to_string().len() < 300, "a message quotes too much: {e}"),
        Ok(mention) => {
            let written = serde_json::to_value(&mention).expect("a mention serialises");
            let again = validator.validate(written, now).expect("an accepted mention, written out, is accepted again");
            assert_eq!(again, mention);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    /// The seed corpus of a fuzz target (`fuzz/corpus/<target>/`), each file one input.
    fn seeds(target: &str) -> Vec<Vec<u8>> {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus").join(target);
        let mut seeds: Vec<Vec<u8>> = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            .map(|entry| std::fs::read(entry.expect("a corpus entry").path()).expect("a corpus file"))
            .collect();
        assert!(!seeds.is_empty(), "no seeds in {}", dir.display());
        seeds.sort();
        seeds
    }

    /// Pieces that tend to matter to a JSON or NDJSON parser.
    const TOKENS: [&[u8]; 18] = [
        b"\n",
        b"\r\n",
        b"\r",
        b" ",
        b"{",
        b"}",
        b"[",
        b"]",
        b",",
        b":",
        b"\"",
        b"\\",
        b"\\u00e9",
        b"\xff",
        b"\xc3",
        b"\xf0\x9f\x90",
        b"\"id\":\"1\"",
        b"null",
    ];

    /// A random variation of a seed: bytes changed, tokens inserted, cut, or two seeds joined.
    fn mutate(seed: &[u8], others: &[Vec<u8>], rng: &mut fastrand::Rng) -> Vec<u8> {
        let mut data = seed.to_vec();
        for _ in 0..rng.usize(1..=4) {
            let at = rng.usize(..=data.len());
            match rng.u8(..5) {
                0 if !data.is_empty() => {
                    let last = data.len() - 1;
                    data[at.min(last)] = rng.u8(..);
                }
                1 => data.splice(at..at, TOKENS[rng.usize(..TOKENS.len())].iter().copied()).for_each(drop),
                2 => data.truncate(at),
                3 => data.extend_from_slice(&others[rng.usize(..others.len())]),
                _ => data.splice(at..at, std::iter::repeat_n(b"[{ \n"[rng.usize(..4)], rng.usize(1..300))).for_each(drop),
            }
        }
        data
    }

    fn exercise(target: &str, property: fn(&[u8])) {
        let seeds = seeds(target);
        let mut rng = fastrand::Rng::with_seed(0x4841_524b);
        for seed in &seeds {
            property(seed);
        }
        for _ in 0..20_000 {
            let seed = &seeds[rng.usize(..seeds.len())];
            property(&mutate(seed, &seeds, &mut rng));
        }
    }

    #[test]
    fn ndjson_lines_on_seeds_and_variations() {
        exercise("ndjson_lines", super::ndjson_lines);
    }

    #[test]
    fn json_body_on_seeds_and_variations() {
        exercise("json_body", super::json_body);
    }

    #[test]
    fn validate_record_on_seeds_and_variations() {
        exercise("validate_record", super::validate_record);
    }
}
