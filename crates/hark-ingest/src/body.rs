//! Splits a request body into batches of records: NDJSON as it streams in, one JSON object, or a
//! JSON array. A record that cannot be read is an error at its own index; its neighbours are
//! unaffected.
//!
//! Memory stays bounded whatever the body holds: NDJSON is cut into lines as chunks arrive and
//! only one batch of parsed records (at most [`BATCH_RECORDS`] records, about [`BATCH_BYTES`]) is
//! held at a time; a line longer than `max_record_bytes` is rejected as that record without being
//! kept. A JSON body is read whole (it must be one document), up to `max_body_bytes`, and its
//! records are counted before any is parsed.

use axum::body::Bytes;
use futures::{Stream, StreamExt};
use hark_core::MentionError;
use serde::de::{Deserializer, Error as _, IgnoredAny, SeqAccess, Visitor};
use serde_json::{value::RawValue, Value};

/// A batch is handed to the pipeline when it has this many records...
pub const BATCH_RECORDS: usize = 500;
/// ...or this many bytes of them as sent, whichever comes first.
pub const BATCH_BYTES: usize = 1024 * 1024;

/// The limits a body is read under (from `ingest.*` in the config).
#[derive(Debug, Clone, Copy)]
pub struct BodyLimits {
    pub max_body_bytes: usize,
    pub max_records: usize,
    pub max_record_bytes: usize,
}

/// Consecutive records of a request, each parsed or with the reason it could not be.
#[derive(Debug, Default)]
pub struct Batch {
    /// The index in the request of the first record.
    pub first_index: usize,
    pub records: Vec<Result<Value, MentionError>>,
    /// The records' bytes as sent.
    bytes: usize,
}

impl Batch {
    fn starting_at(first_index: usize) -> Batch {
        Batch { first_index, ..Default::default() }
    }

    fn is_full(&self) -> bool {
        self.records.len() >= BATCH_RECORDS || self.bytes >= BATCH_BYTES
    }
}

/// Why a body, or the rest of it, is unusable.
#[derive(Debug, PartialEq, thiserror::Error)]
pub enum BodyError {
    #[error("request body is empty")]
    Empty,
    #[error("request body is not valid UTF-8 JSON")]
    InvalidUtf8,
    #[error("request body is not valid JSON: {0} (for one mention per line, send Content-Type: application/x-ndjson)")]
    InvalidJson(String),
    #[error("request body must be a JSON object or an array of objects")]
    NotObjectOrArray,
    #[error(
        "request has more than {limit} records, the limit per request (ingest.max_records_per_request); split it into smaller batches"
    )]
    TooManyRecords { limit: usize },
    #[error("request body is larger than the limit of {limit} bytes; split it into smaller batches")]
    TooLarge { limit: usize },
    #[error("request body could not be read: {0}")]
    Read(String),
}

impl BodyError {
    /// Errors that a smaller request would not have: answered 413.
    pub fn is_too_large(&self) -> bool {
        matches!(self, BodyError::TooManyRecords { .. } | BodyError::TooLarge { .. })
    }
}

/// True for the content types of newline-delimited JSON.
pub fn is_ndjson(content_type: &str) -> bool {
    matches!(mime(content_type).as_str(), "application/x-ndjson" | "application/ndjson" | "application/jsonl" | "application/x-jsonlines")
}

/// True for `application/json` (parameters such as `charset` aside).
pub fn is_json(content_type: &str) -> bool {
    mime(content_type) == "application/json"
}

fn mime(content_type: &str) -> String {
    content_type.split(';').next().unwrap_or("").trim().to_ascii_lowercase()
}

/// One record's bytes parsed: the error says whether they were not UTF-8 or not JSON.
pub fn parse_record(bytes: &[u8]) -> Result<Value, MentionError> {
    let text = std::str::from_utf8(bytes).map_err(|_| MentionError::InvalidUtf8)?;
    serde_json::from_str(text).map_err(|e| MentionError::InvalidJson(e.to_string()))
}

/// A line of NDJSON: its bytes (without the line break), or only its length when it is longer
/// than the limit.
#[derive(Debug, PartialEq)]
pub enum Line<'a> {
    Record(&'a [u8]),
    TooLong { bytes: usize },
}

impl Line<'_> {
    /// The record this line is, parsed, and its size as sent.
    fn parse(&self, limit: usize) -> (Result<Value, MentionError>, usize) {
        match *self {
            Line::Record(bytes) => (parse_record(bytes), bytes.len()),
            Line::TooLong { bytes } => (Err(MentionError::RecordTooLong { bytes, limit }), 0),
        }
    }
}

/// Cuts NDJSON lines out of chunks as they arrive. Blank lines are skipped; a trailing `\r` is
/// dropped; a line longer than `max_line_bytes` is counted, not kept. Lines are cut at `\n`
/// bytes only, which never occur inside a multi-byte UTF-8 character, so a chunk boundary
/// anywhere is fine.
#[derive(Debug)]
pub struct LineSplitter {
    max_line_bytes: usize,
    /// The start of a line whose end has not arrived yet (at most `max_line_bytes` + 1 bytes).
    partial: Vec<u8>,
    /// Bytes of the current line seen since it passed the limit; 0 when it has not.
    dropped: usize,
    /// Whether the dropped line was whitespace so far (then it is a blank line, not a record).
    dropped_blank: bool,
    /// Whether the dropped line's last byte so far is `\r` (not counted if the line ends there).
    dropped_cr: bool,
    /// `partial` was handed out as a line and is to be cleared.
    handed_out: bool,
}

impl LineSplitter {
    pub fn new(max_line_bytes: usize) -> LineSplitter {
        LineSplitter { max_line_bytes, partial: Vec::new(), dropped: 0, dropped_blank: true, dropped_cr: false, handed_out: false }
    }

    /// The next complete line in `chunk` from `*pos` on, advancing `*pos`; `None` once the rest
    /// of the chunk is kept for the next one.
    pub fn next_line<'a>(&'a mut self, chunk: &'a [u8], pos: &mut usize) -> Option<Line<'a>> {
        self.clear_handed_out();
        loop {
            let rest = chunk.get(*pos..).unwrap_or_default();
            let Some(end) = rest.iter().position(|&b| b == b'\n') else {
                self.keep(rest);
                *pos = chunk.len();
                return None;
            };
            let piece = &rest[..end];
            *pos += end + 1;
            if self.partial.is_empty() && self.dropped == 0 {
                // The whole line is in this chunk: handed out without a copy.
                match Shape::of(piece, self.max_line_bytes) {
                    Shape::Blank => continue,
                    Shape::TooLong(bytes) => return Some(Line::TooLong { bytes }),
                    Shape::Record(len) => return Some(Line::Record(&piece[..len])),
                }
            }
            self.keep(piece);
            match self.end_line() {
                Shape::Blank => continue,
                Shape::TooLong(bytes) => return Some(Line::TooLong { bytes }),
                Shape::Record(len) => return Some(Line::Record(&self.partial[..len])),
            }
        }
    }

    /// The last line, when the body does not end with a line break.
    pub fn finish(&mut self) -> Option<Line<'_>> {
        self.clear_handed_out();
        match self.end_line() {
            Shape::Blank => None,
            Shape::TooLong(bytes) => Some(Line::TooLong { bytes }),
            Shape::Record(len) => Some(Line::Record(&self.partial[..len])),
        }
    }

    fn clear_handed_out(&mut self) {
        if self.handed_out {
            self.partial.clear();
            self.handed_out = false;
        }
    }

    /// Adds the next piece of the current line, or only counts it once the line is too long.
    fn keep(&mut self, piece: &[u8]) {
        if self.dropped > 0 {
            self.dropped += piece.len();
            self.dropped_blank &= is_blank(piece);
            self.dropped_cr = piece.last().map_or(self.dropped_cr, |&b| b == b'\r');
        } else if self.partial.len() + piece.len() > self.max_line_bytes + 1 {
            // + 1: room for a `\r` whose `\n` is in the next chunk.
            self.dropped = self.partial.len() + piece.len();
            self.dropped_blank = is_blank(&self.partial) && is_blank(piece);
            self.dropped_cr = piece.last().or(self.partial.last()) == Some(&b'\r');
            self.partial.clear();
        } else {
            self.partial.extend_from_slice(piece);
        }
    }

    /// Ends the current line; a record is left in `partial`, to be cleared on the next call.
    fn end_line(&mut self) -> Shape {
        if self.dropped > 0 {
            let (bytes, blank) = (self.dropped - usize::from(self.dropped_cr), self.dropped_blank);
            (self.dropped, self.dropped_blank, self.dropped_cr) = (0, true, false);
            return if blank { Shape::Blank } else { Shape::TooLong(bytes) };
        }
        let shape = Shape::of(&self.partial, self.max_line_bytes);
        match shape {
            Shape::Record(_) => self.handed_out = true,
            Shape::Blank | Shape::TooLong(_) => self.partial.clear(),
        }
        shape
    }
}

/// What a complete line is, before it is handed out.
enum Shape {
    Blank,
    TooLong(usize),
    /// The record's length, without a trailing `\r`.
    Record(usize),
}

impl Shape {
    fn of(line: &[u8], max_line_bytes: usize) -> Shape {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if is_blank(line) {
            Shape::Blank
        } else if line.len() > max_line_bytes {
            Shape::TooLong(line.len())
        } else {
            Shape::Record(line.len())
        }
    }
}

fn is_blank(bytes: &[u8]) -> bool {
    bytes.iter().all(u8::is_ascii_whitespace)
}

/// NDJSON read from a stream of chunks, handed out a batch at a time.
pub struct NdjsonBatches<S> {
    body: S,
    limits: BodyLimits,
    splitter: LineSplitter,
    chunk: Bytes,
    pos: usize,
    bytes_read: usize,
    /// Records found so far (the index of the next one).
    records: usize,
    ended: bool,
    /// Why reading stopped, told once the records before it were handed out.
    stopped: Option<BodyError>,
}

impl<S, E> NdjsonBatches<S>
where
    S: Stream<Item = Result<Bytes, E>> + Unpin,
    E: std::fmt::Display,
{
    pub fn new(body: S, limits: BodyLimits) -> Self {
        NdjsonBatches {
            body,
            limits,
            splitter: LineSplitter::new(limits.max_record_bytes),
            chunk: Bytes::new(),
            pos: 0,
            bytes_read: 0,
            records: 0,
            ended: false,
            stopped: None,
        }
    }

    /// The next batch; `Ok(None)` at the end of the body. An error past a limit comes after the
    /// batch of the records before it.
    pub async fn next_batch(&mut self) -> Result<Option<Batch>, BodyError> {
        if let Some(error) = self.stopped.take() {
            return Err(error);
        }
        let mut batch = Batch::starting_at(self.records);
        while !batch.is_full() {
            let line = match self.splitter.next_line(&self.chunk, &mut self.pos) {
                Some(line) => Some(line),
                None if self.ended => match self.splitter.finish() {
                    Some(line) => Some(line),
                    None => break,
                },
                None => None,
            };
            let Some(line) = line else {
                match self.body.next().await {
                    None => self.ended = true,
                    Some(Err(e)) => return Err(BodyError::Read(e.to_string())),
                    Some(Ok(chunk)) => {
                        self.bytes_read += chunk.len();
                        if self.bytes_read > self.limits.max_body_bytes {
                            return self.stop(batch, BodyError::TooLarge { limit: self.limits.max_body_bytes });
                        }
                        (self.chunk, self.pos) = (chunk, 0);
                    }
                }
                continue;
            };
            if self.records == self.limits.max_records {
                self.drain().await;
                return self.stop(batch, BodyError::TooManyRecords { limit: self.limits.max_records });
            }
            let (record, bytes) = line.parse(self.limits.max_record_bytes);
            batch.records.push(record);
            batch.bytes += bytes;
            self.records += 1;
        }
        match (batch.records.is_empty(), self.records) {
            (true, 0) => Err(BodyError::Empty),
            (true, _) => Ok(None),
            (false, _) => Ok(Some(batch)),
        }
    }

    /// Hands out the records before `error` first, if any.
    fn stop(&mut self, batch: Batch, error: BodyError) -> Result<Option<Batch>, BodyError> {
        if batch.records.is_empty() {
            return Err(error);
        }
        self.stopped = Some(error);
        Ok(Some(batch))
    }

    /// Reads and drops the rest of the body (up to the body limit), so that a client still
    /// sending it receives the answer rather than a reset connection.
    async fn drain(&mut self) {
        while self.bytes_read <= self.limits.max_body_bytes {
            match self.body.next().await {
                Some(Ok(chunk)) => self.bytes_read += chunk.len(),
                _ => break,
            }
        }
    }
}

/// Reads a whole body into memory, refusing it once it passes `limit` bytes. `expected` (the
/// declared length) sizes the buffer once.
pub async fn read_to_limit<S, E>(mut body: S, limit: usize, expected: Option<usize>) -> Result<Vec<u8>, BodyError>
where
    S: Stream<Item = Result<Bytes, E>> + Unpin,
    E: std::fmt::Display,
{
    let mut buffer = Vec::with_capacity(expected.unwrap_or(0).min(limit));
    while let Some(chunk) = body.next().await {
        let chunk = chunk.map_err(|e| BodyError::Read(e.to_string()))?;
        if buffer.len() + chunk.len() > limit {
            return Err(BodyError::TooLarge { limit });
        }
        buffer.extend_from_slice(&chunk);
    }
    Ok(buffer)
}

/// The records of an `application/json` body (one object, or an array whose elements are
/// records), still unparsed: each is parsed when its batch is taken.
#[derive(Debug)]
pub struct JsonRecords<'a> {
    records: Vec<&'a RawValue>,
    max_record_bytes: usize,
}

/// Checks a JSON body and finds its records, refusing more than `limits.max_records` of them
/// before any is parsed.
pub fn split_json(body: &[u8], limits: BodyLimits) -> Result<JsonRecords<'_>, BodyError> {
    if is_blank(body) {
        return Err(BodyError::Empty);
    }
    let text = std::str::from_utf8(body).map_err(|_| BodyError::InvalidUtf8)?;
    let invalid = |e: serde_json::Error| BodyError::InvalidJson(e.to_string());
    // JSON's own whitespace (not Unicode's): anything else before the value is an error of the JSON.
    let first = text.bytes().find(|b| !matches!(b, b' ' | b'\t' | b'\n' | b'\r'));
    let records = match first.unwrap_or(b' ') {
        b'[' => {
            let too_many = std::cell::Cell::new(false);
            let mut deserializer = serde_json::Deserializer::from_str(text);
            let records = deserializer
                .deserialize_seq(Elements { max: limits.max_records, too_many: &too_many })
                .and_then(|records| deserializer.end().map(|()| records));
            match records {
                Err(_) if too_many.get() => return Err(BodyError::TooManyRecords { limit: limits.max_records }),
                Err(e) => return Err(invalid(e)),
                Ok(records) if records.is_empty() => return Err(BodyError::Empty),
                Ok(records) => records,
            }
        }
        b'{' => vec![serde_json::from_str::<&RawValue>(text).map_err(invalid)?],
        _ => {
            serde_json::from_str::<IgnoredAny>(text).map_err(invalid)?;
            return Err(BodyError::NotObjectOrArray);
        }
    };
    Ok(JsonRecords { records, max_record_bytes: limits.max_record_bytes })
}

impl JsonRecords<'_> {
    pub fn len(&self) -> usize {
        self.records.len()
    }

    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }

    /// The records in batches, each parsed as its batch is taken.
    pub fn batches(&self) -> impl Iterator<Item = Batch> + '_ {
        let mut next = 0;
        std::iter::from_fn(move || {
            let mut batch = Batch::starting_at(next);
            while next < self.records.len() && !batch.is_full() {
                let raw = self.records[next].get();
                let record = if raw.len() > self.max_record_bytes {
                    Err(MentionError::RecordTooLong { bytes: raw.len(), limit: self.max_record_bytes })
                } else {
                    parse_record(raw.as_bytes())
                };
                batch.records.push(record);
                batch.bytes += raw.len();
                next += 1;
            }
            (!batch.records.is_empty()).then_some(batch)
        })
    }
}

/// The elements of a JSON array as unparsed slices of the body, no more than `max`.
struct Elements<'c> {
    max: usize,
    too_many: &'c std::cell::Cell<bool>,
}

impl<'de> Visitor<'de> for Elements<'_> {
    type Value = Vec<&'de RawValue>;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("an array of records")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut records = Vec::new();
        while let Some(record) = seq.next_element::<&RawValue>()? {
            if records.len() == self.max {
                self.too_many.set(true);
                return Err(A::Error::custom("too many records"));
            }
            records.push(record);
        }
        Ok(records)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: BodyLimits = BodyLimits { max_body_bytes: 1 << 20, max_records: 100, max_record_bytes: 16 };

    /// Every line `splitter` finds when `body` arrives in the given chunks, as text.
    fn lines_of(body: &[u8], chunk_sizes: &[usize], max_line_bytes: usize) -> Vec<String> {
        let mut splitter = LineSplitter::new(max_line_bytes);
        let mut lines = Vec::new();
        let mut show = |line: Line| match line {
            Line::Record(bytes) => lines.push(String::from_utf8_lossy(bytes).into_owned()),
            Line::TooLong { bytes } => lines.push(format!("<{bytes} bytes>")),
        };
        let mut rest = body;
        let mut sizes = chunk_sizes.iter().cycle();
        while !rest.is_empty() {
            let (chunk, after) = rest.split_at((*sizes.next().unwrap()).min(rest.len()));
            let mut pos = 0;
            while let Some(line) = splitter.next_line(chunk, &mut pos) {
                show(line);
            }
            rest = after;
        }
        if let Some(line) = splitter.finish() {
            show(line);
        }
        lines
    }

    #[test]
    fn lines_are_the_same_however_the_body_is_cut() {
        let body = "{\"a\":1}\n\n  \r\n{\"t\":\"żółw 🐢\"}\r\n[1]\nlast".as_bytes();
        let expected = ["{\"a\":1}", "{\"t\":\"żółw 🐢\"}", "[1]", "last"];
        // Every cut, so chunk ends fall inside `\r\n` and inside the 2- and 4-byte characters.
        for size in 1..=body.len() {
            assert_eq!(lines_of(body, &[size], 64), expected, "chunks of {size}");
        }
        assert_eq!(lines_of(body, &[3, 1, 7, 2], 64), expected);
        assert!(lines_of(b"\n\r\n   \n", &[2], 64).is_empty());
    }

    #[test]
    fn an_overlong_line_is_counted_not_kept() {
        let body = format!("{}\nshort\n{}\r\n   {}\nend", "x".repeat(40), "y".repeat(17), " ".repeat(40));
        for size in [1, 5, 16, 17, 100] {
            let lines = lines_of(body.as_bytes(), &[size], 16);
            // A blank line stays blank however long; a `\r` before the `\n` is not counted.
            assert_eq!(lines, ["<40 bytes>", "short", "<17 bytes>", "end"], "chunks of {size}");
        }
        // At the limit exactly, and at the limit with a `\r`, the line is kept.
        assert_eq!(lines_of(b"0123456789abcdef\r\n0123456789abcdef", &[1], 16), ["0123456789abcdef", "0123456789abcdef"]);
    }

    fn stream(body: &[u8], chunk: usize) -> impl Stream<Item = Result<Bytes, std::convert::Infallible>> + Unpin {
        let chunks: Vec<_> = body.chunks(chunk).map(|c| Ok(Bytes::copy_from_slice(c))).collect();
        futures::stream::iter(chunks)
    }

    async fn all_batches(body: &[u8], limits: BodyLimits) -> (Vec<Batch>, Option<BodyError>) {
        let mut batches = NdjsonBatches::new(stream(body, 7), limits);
        let mut found = Vec::new();
        loop {
            match batches.next_batch().await {
                Ok(Some(batch)) => found.push(batch),
                Ok(None) => return (found, None),
                Err(e) => return (found, Some(e)),
            }
        }
    }

    #[tokio::test]
    async fn ndjson_records_fail_alone() {
        let body = b"{\"a\":1}\n\n{\"b\":\r\n\xff\xfe\n[1]\r\n{\"long\":\"xxxxxxxxxxxx\"}\n";
        let (batches, error) = all_batches(body, LIMITS).await;
        assert_eq!(error, None);
        let records = &batches[0].records;
        assert_eq!(records.len(), 5);
        assert!(records[0].is_ok());
        assert_eq!(records[1].as_ref().unwrap_err().kind(), "invalid_json");
        assert_eq!(records[2].as_ref().unwrap_err(), &MentionError::InvalidUtf8);
        assert!(records[3].is_ok()); // an array line is a record; validation rejects it later
        assert_eq!(records[4].as_ref().unwrap_err(), &MentionError::RecordTooLong { bytes: 23, limit: 16 });
        assert_eq!(all_batches(b" \n\r\n", LIMITS).await.1, Some(BodyError::Empty));
    }

    #[tokio::test]
    async fn ndjson_comes_in_batches_with_their_first_index() {
        let body = "{}\n".repeat(BATCH_RECORDS * 2 + 3);
        let (batches, error) = all_batches(body.as_bytes(), BodyLimits { max_records: 10_000, ..LIMITS }).await;
        assert_eq!(error, None);
        let shape: Vec<(usize, usize)> = batches.iter().map(|b| (b.first_index, b.records.len())).collect();
        assert_eq!(shape, [(0, BATCH_RECORDS), (BATCH_RECORDS, BATCH_RECORDS), (BATCH_RECORDS * 2, 3)]);
    }

    #[tokio::test]
    async fn past_the_record_limit_the_records_before_come_first() {
        let (batches, error) = all_batches("{}\n".repeat(150).as_bytes(), LIMITS).await;
        assert_eq!(batches.iter().map(|b| b.records.len()).sum::<usize>(), 100);
        assert_eq!(error, Some(BodyError::TooManyRecords { limit: 100 }));
        let (batches, error) = all_batches("{}\n".repeat(100).as_bytes(), LIMITS).await;
        assert_eq!((batches[0].records.len(), error), (100, None));
        let (batches, error) = all_batches("{}\n".repeat(200).as_bytes(), BodyLimits { max_body_bytes: 300, ..LIMITS }).await;
        assert!(batches[0].records.len() < 100);
        assert_eq!(error, Some(BodyError::TooLarge { limit: 300 }));
    }

    #[test]
    fn json_body_is_object_or_array() {
        assert_eq!(split_json(b"{\"a\":1}", LIMITS).unwrap().len(), 1);
        assert_eq!(split_json(b" [{\"a\":1}, 5] ", LIMITS).unwrap().len(), 2);
        assert_eq!(split_json(b"  ", LIMITS).unwrap_err(), BodyError::Empty);
        assert_eq!(split_json(b"[]", LIMITS).unwrap_err(), BodyError::Empty);
        assert_eq!(split_json(b"\"x\"", LIMITS).unwrap_err(), BodyError::NotObjectOrArray);
        assert!(matches!(split_json(b"x", LIMITS).unwrap_err(), BodyError::InvalidJson(_)));
        assert!(matches!(split_json(b"{\"a\":1}\n{\"a\":2}", LIMITS).unwrap_err(), BodyError::InvalidJson(_)));
        assert!(matches!(split_json(b"[{\"a\":1}] x", LIMITS).unwrap_err(), BodyError::InvalidJson(_)));
        assert_eq!(split_json(b"{\"a\":\"\xff\"}", LIMITS).unwrap_err(), BodyError::InvalidUtf8);
    }

    #[test]
    fn json_records_are_counted_before_any_is_parsed() {
        let array = format!("[{}{{}}]", "{},".repeat(100));
        assert_eq!(split_json(array.as_bytes(), LIMITS).unwrap_err(), BodyError::TooManyRecords { limit: 100 });
        let array = format!("[{}{{}}]", "{},".repeat(99));
        let records = split_json(array.as_bytes(), LIMITS).unwrap();
        assert_eq!(records.batches().map(|b| b.records.len()).collect::<Vec<_>>(), [100]);
    }

    #[test]
    fn json_elements_fail_alone() {
        let deep = format!("{}{}", "[".repeat(1000), "]".repeat(1000));
        let body = format!("[{{\"a\":1}}, {{\"long\":\"xxxxxxxxxxxx\"}}, {deep}]");
        let records = split_json(body.as_bytes(), LIMITS).unwrap();
        let batch = records.batches().next().unwrap();
        assert!(batch.records[0].is_ok());
        assert_eq!(batch.records[1].as_ref().unwrap_err().kind(), "too_long");
        let nested = split_json(body.as_bytes(), BodyLimits { max_record_bytes: 1 << 20, ..LIMITS }).unwrap();
        let error = nested.batches().next().unwrap().records.remove(2).unwrap_err();
        assert!(error.to_string().contains("recursion limit"), "{error}");
    }

    #[test]
    fn content_types() {
        assert!(is_ndjson("application/x-ndjson; charset=utf-8"));
        assert!(is_ndjson("Application/JSONL"));
        assert!(!is_ndjson("application/json"));
        assert!(is_json("application/json; charset=utf-8"));
        assert!(!is_json("text/plain"));
        assert!(!is_json("application/jsonp"));
    }
}
