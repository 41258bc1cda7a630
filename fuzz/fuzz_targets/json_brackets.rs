//! The 64-byte-block bracket matcher: vector and portable masks agree everywhere, and on every
//! valid value the end is the token walker's.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| gnip_stream::__fuzz::json_brackets(data));
