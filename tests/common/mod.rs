//! Helpers shared by the integration tests: framing, compressing and decoding streams.
#![allow(dead_code)] // each test file uses a different subset

use gnip_stream::Error;
use gnip_stream::core::{DecoderConfig, GzipEncoder};
use gnip_stream::testing::oracle::{Owned, decode_in_pieces};

#[cfg(feature = "simulator")]
pub use gnip_stream::simulator::corpus::CorpusFile;

/// The corpus, or `None` after printing why the calling test skips.
#[cfg(feature = "simulator")]
pub fn corpus_or_skip(test: &str) -> Option<Vec<CorpusFile>> {
    match gnip_stream::simulator::corpus::load_default() {
        Ok(files) => Some(files),
        Err(why) => {
            eprintln!("SKIP {test}: {why}");
            None
        }
    }
}

/// Without the `simulator` feature the crate reads no files: the corpus tests skip.
#[cfg(not(feature = "simulator"))]
pub fn corpus_or_skip(test: &str) -> Option<Vec<CorpusFile>> {
    eprintln!("SKIP {test}: corpus loading is built with the simulator feature only");
    None
}

/// A corpus file (stand-in type when corpus loading is not built).
#[cfg(not(feature = "simulator"))]
#[derive(Debug, Clone)]
pub struct CorpusFile {
    pub name: String,
    pub records: Vec<Vec<u8>>,
}

/// `records` as the service frames them: each followed by `\r\n`.
pub fn frame(records: &[Vec<u8>]) -> Vec<u8> {
    let mut plain = Vec::new();
    for r in records {
        plain.extend_from_slice(r);
        plain.extend_from_slice(b"\r\n");
    }
    plain
}

/// gzip-compress `pieces` of plain text, sync-flushing after each (as the service sends), and
/// end the member when `finish`.
pub fn gzip_flushed<'a>(pieces: impl IntoIterator<Item = &'a [u8]>, finish: bool) -> Vec<u8> {
    let mut enc = GzipEncoder::new(6);
    let mut wire = Vec::new();
    for p in pieces {
        enc.write_flush(p, &mut wire);
    }
    if finish {
        enc.finish(&mut wire);
    }
    wire
}

/// Decodes `wire` fed in pieces of `sizes`, with the default config.
pub fn decode(wire: &[u8], sizes: &[usize]) -> (Vec<Owned>, Result<(), Error>) {
    decode_in_pieces(wire, sizes, DecoderConfig::default())
}

/// Decodes `wire` in one piece.
/// [`decode`] with the given inflater.
pub fn decode_with(
    wire: &[u8],
    sizes: &[usize],
    inflater: gnip_stream::core::Inflater,
) -> (Vec<Owned>, Result<(), Error>) {
    decode_in_pieces(wire, sizes, DecoderConfig::default().inflater(inflater))
}

pub fn decode_whole(wire: &[u8]) -> (Vec<Owned>, Result<(), Error>) {
    decode(wire, &[wire.len()])
}

/// Decodes `wire` one byte at a time.
pub fn decode_bytewise(wire: &[u8]) -> (Vec<Owned>, Result<(), Error>) {
    decode(wire, &vec![1; wire.len()])
}

/// Piece sizes that split `len` bytes in two at `cut`.
pub fn two_pieces(len: usize, cut: usize) -> Vec<usize> {
    vec![cut, len - cut]
}

/// Only the records among `events`.
pub fn records(events: &[Owned]) -> Vec<Vec<u8>> {
    events
        .iter()
        .filter_map(|e| match e {
            Owned::Record(r) => Some(r.clone()),
            _ => None,
        })
        .collect()
}

#[cfg(feature = "cli")]
pub mod cli;
#[cfg(feature = "simulator")]
pub mod client;
pub mod net;
#[cfg(feature = "simulator")]
pub mod tls;
#[cfg(feature = "cli")]
pub mod watch;
