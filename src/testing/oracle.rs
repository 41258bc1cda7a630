//! The naive oracle the tests and fuzz targets compare the decoder with: owned events, the
//! obvious line split of a whole text, seeded piece sizes, and decoding in given pieces.

use std::ops::ControlFlow;

use crate::Error;
use crate::core::{DecoderConfig, Event, FrameDecoder, Line};
use crate::rng::Rng;

/// An [`Event`] that owns its bytes, for comparing runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Owned {
    /// A record's bytes.
    Record(Vec<u8>),
    /// A heartbeat.
    Heartbeat,
    /// A skipped overlong line and its length.
    Overlong(u64),
    /// A dropped unterminated line and its length.
    Incomplete(u64),
}

impl Owned {
    /// The owned form of `e`.
    pub fn of(e: Event<'_>) -> Owned {
        match e {
            Event::Record(r) => Owned::Record(r.bytes().to_vec()),
            Event::Heartbeat => Owned::Heartbeat,
            Event::Overlong { len } => Owned::Overlong(len),
            Event::Incomplete { len } => Owned::Incomplete(len),
        }
    }

    /// The owned form of a splitter's line.
    pub fn of_line(l: Line<'_>) -> Owned {
        match l {
            Line::Record(r) => Owned::Record(r.to_vec()),
            Line::Heartbeat => Owned::Heartbeat,
            Line::Overlong { len } => Owned::Overlong(len),
        }
    }
}

/// The oracle: what the decoded lines of `plain` must be, computed the obvious way on the whole
/// text. The unterminated tail, if any, comes last as [`Owned::Incomplete`].
pub fn naive_lines(plain: &[u8], max_record: usize) -> Vec<Owned> {
    let mut parts: Vec<&[u8]> = plain.split(|&b| b == b'\n').collect();
    let tail = parts.pop().unwrap_or_default();
    let mut out: Vec<Owned> = parts
        .into_iter()
        .map(|raw| {
            let line = raw.strip_suffix(b"\r").unwrap_or(raw);
            if line.is_empty() {
                Owned::Heartbeat
            } else if line.len() > max_record {
                Owned::Overlong(line.len() as u64)
            } else {
                Owned::Record(line.to_vec())
            }
        })
        .collect();
    if !tail.is_empty() {
        out.push(Owned::Incomplete(tail.len() as u64));
    }
    out
}

/// Piece sizes for splitting input, from a seed: mostly small, sometimes single bytes or large.
pub fn pieces(seed: u64, len: usize) -> Vec<usize> {
    let mut rng = Rng::new(seed);
    let mut cuts = Vec::new();
    let mut at = 0;
    while at < len {
        let size = match rng.below(4) {
            0 => 1,
            1 => 1 + rng.below(16) as usize,
            2 => 1 + rng.below(512) as usize,
            _ => 1 + rng.below(8192) as usize,
        };
        let size = size.min(len - at);
        cuts.push(size);
        at += size;
    }
    cuts
}

/// Decodes `wire` fed in the given piece sizes, then finishes: every event, and the first error
/// (from a feed or from finish).
pub fn decode_in_pieces(
    wire: &[u8],
    sizes: &[usize],
    config: DecoderConfig,
) -> (Vec<Owned>, Result<(), Error>) {
    let mut dec = match FrameDecoder::with_config(config) {
        Ok(d) => d,
        Err(e) => return (Vec::new(), Err(e)),
    };
    let mut events = Vec::new();
    let mut at = 0;
    for &n in sizes {
        let piece = &wire[at..at + n];
        at += n;
        if let Err(e) = dec.feed(piece, |e| events.push(Owned::of(e))) {
            // The bytes after an error are not decoded; what came before stays delivered.
            dec.reset();
            return (events, Err(e));
        }
        assert!(
            dec.pending_len() <= wire.len() as u64 * 1032 + 1,
            "pending grows without bound"
        );
    }
    let end = dec.finish(|e| events.push(Owned::of(e)));
    (events, end)
}

/// [`decode_in_pieces`], but the event callback stops the decoder at seeded events (about one
/// in `1 + stop_seed % 4`) and the rest of each piece is fed again after every stop. Stopping
/// and going on must change nothing: the events and the outcome equal [`decode_in_pieces`]'s.
pub fn decode_with_stops(
    wire: &[u8],
    sizes: &[usize],
    config: DecoderConfig,
    stop_seed: u64,
) -> (Vec<Owned>, Result<(), Error>) {
    let mut dec = match FrameDecoder::with_config(config) {
        Ok(d) => d,
        Err(e) => return (Vec::new(), Err(e)),
    };
    let mut rng = Rng::new(stop_seed);
    let every = 1 + stop_seed % 4;
    let mut events = Vec::new();
    let mut at = 0;
    for &n in sizes {
        let mut piece = &wire[at..at + n];
        at += n;
        loop {
            let fed = dec.feed_until(piece, |e| {
                events.push(Owned::of(e));
                if rng.below(every) == 0 {
                    ControlFlow::Break(())
                } else {
                    ControlFlow::Continue(())
                }
            });
            match fed {
                Err(e) => {
                    dec.reset();
                    return (events, Err(e));
                }
                Ok(fed) => {
                    assert!(fed.consumed <= piece.len(), "consumed more than given");
                    piece = &piece[fed.consumed..];
                    if !fed.stopped {
                        assert!(piece.is_empty(), "a call that did not stop used all input");
                        break;
                    }
                }
            }
        }
    }
    let end = dec.finish(|e| events.push(Owned::of(e)));
    (events, end)
}
