//! The bare inflaters, the limit the benchmarks hold the client to: raw inflate of one gzip
//! member's deflate bytes (after its 10-byte header), fed `read` bytes at a time into a 64 KiB
//! output buffer, no lines, no HTTP. Each returns the bytes it inflated.

use std::hint::black_box;

use miniz_oxide::inflate::stream::{InflateState, inflate};
use miniz_oxide::{DataFormat, MZFlush, MZStatus};

/// miniz_oxide's streaming inflate.
pub fn miniz(wire: &[u8], read: usize) -> u64 {
    let mut state = InflateState::new_boxed(DataFormat::Raw);
    let mut out = vec![0u8; 64 * 1024];
    let mut total = 0u64;
    for chunk in wire[10..].chunks(read) {
        let mut rest = chunk;
        loop {
            let r = inflate(&mut state, rest, &mut out, MZFlush::None);
            rest = &rest[r.bytes_consumed..];
            total += r.bytes_written as u64;
            black_box(&out[..r.bytes_written]);
            match r.status {
                Ok(MZStatus::Ok) if r.bytes_consumed + r.bytes_written > 0 => {}
                _ => break,
            }
        }
    }
    total
}

/// zlib-rs's inflate.
#[cfg(feature = "zlib-rs")]
pub fn zlib_rs(wire: &[u8], read: usize) -> u64 {
    let mut inf = zlib_rs::Inflate::new(false, 15);
    let mut out = vec![0u8; 64 * 1024];
    let mut total = 0u64;
    for chunk in wire[10..].chunks(read) {
        let mut rest = chunk;
        loop {
            let (in0, out0) = (inf.total_in(), inf.total_out());
            let r = inf.decompress(rest, &mut out, zlib_rs::InflateFlush::NoFlush);
            let used = (inf.total_in() - in0) as usize;
            let made = (inf.total_out() - out0) as usize;
            rest = &rest[used..];
            total += made as u64;
            black_box(&out[..made]);
            match r {
                Ok(_) if used + made > 0 => {}
                _ => break,
            }
        }
    }
    total
}
