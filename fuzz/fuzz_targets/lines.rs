//! The record splitter fed in arbitrary pieces equals the naive oracle on the whole input.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| gnip_stream::__fuzz::lines(data));
