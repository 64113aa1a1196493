//! The mention validator: no panic, short messages, accepted mentions accepted again.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| hark_ingest::fuzzing::validate_record(data));
