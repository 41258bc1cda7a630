//! URL splitting against ureq's http::Uri (differential): the guarded host is the connected one.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| gnip_stream::__fuzz::urls(data));
