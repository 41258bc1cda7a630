//! A gzip writer that flushes on demand: what the simulator sends and the tests decode.

use miniz_oxide::deflate::core::CompressorOxide;
use miniz_oxide::deflate::stream::deflate;
use miniz_oxide::{DataFormat, MZFlush, MZStatus};

use super::crc32::Crc32;

/// Produces one gzip member, incrementally, with a sync flush wherever the caller asks: the way
/// the service sends its stream, so each record can be inflated as soon as it arrives.
///
/// The header is the minimal one (no optional fields, MTIME 0, OS 255 "unknown").
///
/// ```
/// use gnip_stream::core::GzipEncoder;
/// let mut enc = GzipEncoder::new(6);
/// let mut out = Vec::new();
/// enc.write_flush(b"{}\r\n", &mut out); // header + a complete, flushed deflate block
/// enc.finish(&mut out);                  // final block + CRC-32 + ISIZE
/// assert_eq!(&out[..2], &[0x1f, 0x8b]);
/// ```
pub struct GzipEncoder {
    compressor: Box<CompressorOxide>,
    crc: Crc32,
    size: u32,
    header_done: bool,
    finished: bool,
}

impl std::fmt::Debug for GzipEncoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GzipEncoder")
            .field("size", &self.size)
            .field("finished", &self.finished)
            .finish_non_exhaustive()
    }
}

/// The minimal RFC 1952 header: magic, deflate, no flags, MTIME 0, XFL 0, OS 255.
pub const MINIMAL_HEADER: [u8; 10] = [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 255];

impl GzipEncoder {
    /// A new member at compression `level` (0 = stored .. 9 = smallest; 6 is gzip's default).
    pub fn new(level: u8) -> Self {
        let mut compressor = Box::<CompressorOxide>::default();
        compressor.set_format_and_level(DataFormat::Raw, level.min(10));
        GzipEncoder {
            compressor,
            crc: Crc32::new(),
            size: 0,
            header_done: false,
            finished: false,
        }
    }

    fn header(&mut self, out: &mut Vec<u8>) {
        if !self.header_done {
            out.extend_from_slice(&MINIMAL_HEADER);
            self.header_done = true;
        }
    }

    fn run(&mut self, mut input: &[u8], flush: MZFlush, out: &mut Vec<u8>) {
        self.header(out);
        self.crc.update(input);
        self.size = self.size.wrapping_add(input.len() as u32);
        loop {
            let start = out.len();
            // Deflate expands incompressible input by a few bytes per block at most, so this
            // room is nearly always enough; when it is not, the loop goes round again.
            let room = input.len() + input.len() / 8 + 64;
            out.resize(start + room, 0);
            let r = deflate(&mut self.compressor, input, &mut out[start..], flush);
            out.truncate(start + r.bytes_written);
            input = &input[r.bytes_consumed..];
            let stuck = r.bytes_consumed == 0 && r.bytes_written == 0;
            match r.status {
                Ok(MZStatus::StreamEnd) => return,
                Ok(_) if input.is_empty() && r.bytes_written < room => return,
                Ok(_) if !stuck => {}
                // Buf means nothing to do for this flush mode (a flush with nothing pending).
                Ok(_) | Err(_) => return,
            }
        }
    }

    /// Compresses `input` without flushing: its bytes may stay inside the compressor.
    pub fn write(&mut self, input: &[u8], out: &mut Vec<u8>) {
        self.run(input, MZFlush::None, out);
    }

    /// Compresses `input` and sync-flushes, so a decoder can inflate all of it from `out` alone.
    pub fn write_flush(&mut self, input: &[u8], out: &mut Vec<u8>) {
        self.run(input, MZFlush::Sync, out);
    }

    /// Ends the member: the final deflate block and the trailer. Further writes do nothing.
    pub fn finish(&mut self, out: &mut Vec<u8>) {
        if self.finished {
            return;
        }
        self.run(&[], MZFlush::Finish, out);
        out.extend_from_slice(&self.crc.value().to_le_bytes());
        out.extend_from_slice(&self.size.to_le_bytes());
        self.finished = true;
    }

    /// Bytes accepted so far (mod 2^32, as ISIZE).
    pub fn size(&self) -> u32 {
        self.size
    }
}
