//! The Gnip-side parsers of outside input (Rules API answers and files, error bodies, Replay
//! summaries, record times and keys, the metrics scrape head): no panics, each keeps its promise.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| gnip_stream::__fuzz::gnip_bodies(data));
