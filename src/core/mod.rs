//! The sans-IO core: compressed bytes in, classified records out, nothing else.
//!
//! # In scope
//! - [`GzipDecoder`]: RFC 1952 members (every header field, trailer checks) over miniz_oxide's
//!   raw inflate (or zlib-rs, [`Inflater`]), fed in pieces of any size, handing out bytes as
//!   soon as they exist.
//! - [`LineSplitter`]: `\n` splitting with one `\r` stripped, heartbeats, a bounded carry buffer.
//! - [`classify`] and [`record_id`]: what a record is and which id it carries, from a few bytes
//!   (`classify.rs`, `ids.rs`).
//! - [`FrameDecoder`]: the three above as one push decoder emitting [`Event`]s.
//! - [`GzipEncoder`]: the sending side, for the simulator and the tests.
//!
//! # Out of scope
//! Sockets, HTTP, TLS, threads, clocks and `std::io::Read`: the connection shell feeds this
//! core whatever bytes it read and decides what to do with the events. That is what lets the
//! whole decode path be unit-tested at every split point and fuzzed without a network.

pub(crate) mod brackets;
mod classify;
mod crc32;
mod frame;
mod gzip;
mod gzip_encoder;
mod ids;
mod inflate;
pub(crate) mod json;
mod lines;

pub use classify::{ComplianceKind, Level, RecordKind, SystemMessage, classify};
pub use crc32::Crc32;
pub use frame::{BodyEncoding, DecoderConfig, Event, FrameDecoder, MAX_RECORD_LIMIT, Record};
pub use gzip::{Decoded, GzipDecoder, gunzip_capped};
pub use gzip_encoder::{GzipEncoder, MINIMAL_HEADER};
pub(crate) use ids::activity_id_and_time;
pub use ids::record_id;
pub use inflate::{Inflater, WINDOW};
pub use lines::{DEFAULT_MAX_RECORD, Line, LineSplitter};
