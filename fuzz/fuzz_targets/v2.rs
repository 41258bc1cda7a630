//! The X API v2 parsers of outside input (stream lines, error bodies, rules and connections
//! answers): no panics, the line shapes agree with serde_json.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| gnip_stream::__fuzz::v2_bodies(data));
