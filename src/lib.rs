//! A blocking client for the X (Twitter) enterprise streams formerly sold as Gnip: PowerTrack,
//! Decahose/Firehose and Replay.
//!
//! This release holds the sans-IO decode path, [`core`]: an incremental gzip decoder, a
//! zero-copy record splitter and a cheap record classifier, tied together in
//! [`core::FrameDecoder`]. The network client builds on it.
//!
//! ```
//! use gnip_stream::core::{Event, FrameDecoder, GzipEncoder, RecordKind};
//!
//! // What the service sends: one gzip stream, flushed after every record.
//! let mut wire = Vec::new();
//! let mut gz = GzipEncoder::new(6);
//! gz.write_flush(b"{\"created_at\":\"Mon\",\"id_str\":\"900000000000000001\"}\r\n", &mut wire);
//! gz.write_flush(b"\r\n", &mut wire); // heartbeat
//! gz.write_flush(b"{\"delete\":{\"status\":{\"id_str\":\"7\"}}}\r\n", &mut wire);
//!
//! let mut decoder = FrameDecoder::new();
//! let mut seen = Vec::new();
//! // Bytes arrive in whatever pieces the network makes.
//! for piece in wire.chunks(5) {
//!     decoder.feed(piece, |event| {
//!         if let Event::Record(record) = event {
//!             let is_activity = record.kind() == RecordKind::Activity;
//!             seen.push((is_activity, record.id().map(str::to_owned)));
//!         }
//!     })?;
//! }
//! assert_eq!(seen.len(), 2);
//! assert_eq!(seen[0], (true, Some("900000000000000001".to_owned())));
//! assert_eq!(seen[1], (false, Some("7".to_owned()))); // a compliance event (a delete)
//! # Ok::<(), gnip_stream::Error>(())
//! ```
//!
//! # Errors
//! One enum, [`Error`]. Stream errors (corrupt gzip, truncation) are retryable on a new
//! connection; the decoder stays failed until reset, having delivered every record before the
//! bad bytes.
//!
//! # Limits
//! A record may be at most [`core::DEFAULT_MAX_RECORD`] bytes (1 MiB, configurable); longer
//! ones are skipped and reported. Decoder memory is fixed: about 11 KiB of decompressor tables,
//! the 32 KiB deflate window (records are handed out straight from it) and a carry buffer no
//! larger than the maximum record.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

#[cfg(feature = "client")]
pub mod client;
pub mod core;
pub mod corpus;
mod error;
pub mod generator;
pub mod policy;
mod product;
#[cfg(feature = "simulator")]
pub mod simulator;
pub mod time;

#[doc(hidden)]
pub mod __fuzz;

pub use error::Error;
pub use product::{ConnectionLimit, Product, REPLAY_CONNECTION_LIMIT};

/// The README's Rust examples, compiled and run as doctests so they stay true.
#[cfg(all(doctest, feature = "simulator"))]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
