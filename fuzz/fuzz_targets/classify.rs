//! Classification and id extraction: no panics, ids borrowed and numeric, agreement with
//! serde_json on every order-independent question.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| gnip_stream::__fuzz::classify_record(data));
