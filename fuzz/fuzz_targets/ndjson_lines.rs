//! The NDJSON line splitter: the same lines however the body is cut into chunks.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| hark_ingest::fuzzing::ndjson_lines(data));
