//! The NATS server-operation parser fed in arbitrary pieces equals itself fed whole.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| gnip_stream::__fuzz::nats(data));
