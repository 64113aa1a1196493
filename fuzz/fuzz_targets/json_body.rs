//! The JSON body splitter: exactly serde_json's elements, counted against the cap.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| hark_ingest::fuzzing::json_body(data));
