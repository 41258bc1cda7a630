//! gzip + records with arbitrary chunking: whole and piecewise decoding agree; valid streams
//! decode to exactly the naive oracle's records (see `gnip_stream::__fuzz::gzip_records`).
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| gnip_stream::__fuzz::gzip_records(data));
