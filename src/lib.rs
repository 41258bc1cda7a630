//! A blocking client for the X (Twitter) enterprise streams formerly sold as Gnip: PowerTrack,
//! Decahose/Firehose and Replay. One thread per partition, no async runtime.
//!
//! ```no_run
//! # #[cfg(feature = "client")]
//! # fn main() -> Result<(), gnip_stream::Error> {
//! use gnip_stream::client::{Client, ClientConfig, Delivery, Flow};
//! use gnip_stream::core::RecordKind;
//! use gnip_stream::Product;
//! use std::sync::mpsc;
//!
//! // Hand records to a worker: the service drops readers that fall behind.
//! let (tx, rx) = mpsc::sync_channel::<Vec<u8>>(10_000);
//! let worker = std::thread::spawn(move || rx.iter().count());
//! let tx = std::sync::Mutex::new(tx);
//!
//! let config = ClientConfig::stream(Product::Firehose, "acme", "prod") // all 20 partitions
//!     .credentials("user@example.com", "password")
//!     .backfill_minutes(5);                                           // bridge reconnect gaps
//! let running = Client::start(config, move |d: &Delivery<'_>| {
//!     match d.record().kind() {
//!         RecordKind::Activity | RecordKind::Compliance(_) => {
//!             let _ = tx.lock().unwrap().send(d.record().bytes().to_vec());
//!         }
//!         RecordKind::System(m) => eprintln!("{}: {}", m.level().name(), m.message()),
//!         _ => {} // malformed lines, and kinds a later version may add
//!     }
//!     Flow::Continue
//! })?;
//! let stop = running.stop_handle(); // Clone + Send: from a signal handler or another thread
//! # stop.stop();
//! for report in running.join() {
//!     eprintln!("partition {}: {} ({} records)", report.partition, report.ending.name(), report.stats.records());
//! }
//! # drop(worker);
//! # Ok(())
//! # }
//! # #[cfg(not(feature = "client"))]
//! # fn main() {}
//! ```
//!
//! The decode path underneath is sans-IO and usable alone, [`core`]: an incremental gzip
//! decoder, a zero-copy record splitter and a cheap record classifier in
//! [`core::FrameDecoder`].
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
//! assert_eq!(seen[0], (true, Some("900000000000000001".to_owned())));
//! assert_eq!(seen[1], (false, Some("7".to_owned()))); // a compliance event (a delete)
//! # Ok::<(), gnip_stream::Error>(())
//! ```
//!
//! # Errors
//! One enum, [`Error`], with [`Error::is_retryable`]. The client never returns a retryable error
//! to the caller while it can reconnect: each partition's [`client::PartitionReport`] carries the
//! last error, and its `ending` says why it stopped.
//!
//! # Reconnection and backoff
//! One table decides what follows each [`client::Ending`]: an established stream that drops, stalls (nothing,
//! not even a heartbeat, for 35 s) or is force-disconnected is reconnected at once; network
//! errors back off linearly (+250 ms, up to 16 s), 5xx exponentially (5 s to 320 s), 429 from
//! 60 s doubling; 401, 406, other 4xx, TLS failures and Replay completion stop. Waits carry
//! ±20 % jitter, and the schedules start over only after a connection stayed healthy, so a
//! server that accepts and drops cannot cause a storm. A process-wide limiter per stream and
//! partition keeps every attempt, redundant clients included, within the product's connection
//! rate (60 a minute PowerTrack, 10 a minute Decahose/Firehose/Compliance, 5 per 5 minutes
//! Replay). With [`client::ClientConfig::backfill_minutes`], every reconnect asks for
//! `backfillMinutes` sized to the gap since the last byte; the overlap arrives twice, as the
//! service documents. Replay resumes a dropped job from the minute of its last record and drops
//! the records it already handed out, by id.
//!
//! # TLS, credentials, proxies
//! rustls with Mozilla's roots, or the roots of a PEM file ([`client::ClientConfig::ca_file`]);
//! no way to skip verification. Credentials never appear in `Debug`, logs, errors or URLs, and
//! are refused over plain `http://` except to loopback. ureq reads proxies from the
//! environment (`HTTPS_PROXY`, `ALL_PROXY`, `NO_PROXY`, and lowercase forms).
//!
//! # Modules
//! A user needs [`client`] (the client, [`client::ReplayJob`], [`client::RulesClient`] and
//! every type their signatures name), [`sink`] (where records go: [`sink::NdjsonSink`], and with
//! feature `jetstream` `sink::jetstream`), [`core`] (the sans-IO decoder, for a transport of
//! your own), [`simulator`] (a loopback stand-in for the service) and [`Error`]. What the
//! bundled command needs beyond that (the service's protocol tables, NATS, the metrics
//! exposition) is in `unversioned`, hidden and outside semver: it can change in any release.
//!
//! # Features
//! | feature | default | what it brings |
//! |---|---|---|
//! | `client` | on | [`client`] and [`sink`]: ureq (rustls on ring, no gzip), base64 |
//! | `bundled-roots` | on | Mozilla's root certificates built in; without it, the system's CA bundle |
//! | `simulator` | on | the loopback service ([`simulator::Simulator`]) the demo, tests and benchmarks use |
//! | `cli` | on | the `gnip-stream` command (libc for signals) |
//! | `jetstream` | off | delivery into NATS JetStream (`sink::jetstream`, `stream --jetstream`) |
//! | `zlib-rs` | off | zlib-rs as an alternative raw inflater ([`core::Inflater`]) |
//! | `testing` | off | test support for this crate's tests, benchmarks and fuzz targets (hidden) |
//!
//! Without default features the crate is the sans-IO core on `miniz_oxide`, `serde_json` and
//! `memchr` alone.
//!
//! # Limits
//! A record may be at most [`core::DEFAULT_MAX_RECORD`] bytes (1 MiB, configurable); longer
//! ones are skipped and counted. Decoder memory is fixed: about 11 KiB of decompressor tables,
//! the 32 KiB deflate window (records are handed out straight from it) and a carry buffer no
//! larger than the maximum record.
#![deny(unsafe_code)] // allowed only for the SSE2/AVX2/NEON masks of core/brackets.rs, each with a SAFETY proof
#![deny(missing_docs)]

#[cfg(feature = "client")]
pub mod client;
#[cfg(any(feature = "client", feature = "simulator"))]
mod clock;
pub mod core;
mod error;
mod metrics;
#[cfg(feature = "jetstream")]
mod nats;
mod protocol;
mod rng;
#[cfg(any(feature = "simulator", feature = "testing"))]
pub mod simulator;
#[cfg(feature = "client")]
pub mod sink;
#[cfg(feature = "testing")]
#[doc(hidden)]
pub mod testing;

#[cfg(feature = "testing")]
#[doc(hidden)]
pub mod __fuzz;

pub use error::Error;
pub use protocol::product::{
    ConnectionLimit, MAX_BACKFILL_MINUTES, Product, REPLAY_CONNECTION_LIMIT,
};

/// What the bundled command, the tests and the benchmarks use beyond the public API: the
/// service's protocol tables, NATS and JetStream sans-IO, the metrics exposition, the clock and
/// the jitter source. **Outside semver**: anything here can change in any release (ureq's
/// convention). Hidden from the docs.
#[doc(hidden)]
pub mod unversioned {
    /// The wall clock the IO shell reads.
    #[cfg(any(feature = "client", feature = "simulator"))]
    pub mod clock {
        pub use crate::clock::*;
    }
    /// Statistics snapshots and the Prometheus exposition.
    pub mod metrics {
        pub use crate::metrics::*;
    }
    /// NATS and JetStream, sans-IO.
    #[cfg(feature = "jetstream")]
    pub mod nats {
        pub use crate::nats::*;
    }
    /// The service, sans-IO: products, endpoints, messages, policy, Replay, rules, sessions.
    pub mod protocol {
        pub use crate::protocol::*;
    }
    /// The jitter source.
    pub mod rng {
        pub use crate::rng::*;
    }
}

/// The README's Rust examples, compiled and run as doctests so they stay true.
#[cfg(all(doctest, feature = "simulator", feature = "client"))]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;

/// ARCHITECTURE.md's Rust examples, as doctests.
#[cfg(all(doctest, feature = "simulator", feature = "client"))]
#[doc = include_str!("../ARCHITECTURE.md")]
pub struct ArchitectureDoctests;

/// The Rust examples of the pages in `docs/`, as doctests.
#[cfg(all(doctest, feature = "simulator", feature = "client"))]
pub mod docs_doctests {
    /// docs/command.md.
    #[doc = include_str!("../docs/command.md")]
    pub struct Command;
    /// docs/operations.md.
    #[doc = include_str!("../docs/operations.md")]
    pub struct Operations;
    /// docs/jetstream.md.
    #[doc = include_str!("../docs/jetstream.md")]
    pub struct JetStream;
    /// docs/benchmarks.md.
    #[doc = include_str!("../docs/benchmarks.md")]
    pub struct Benchmarks;
    /// docs/edge.md.
    #[doc = include_str!("../docs/edge.md")]
    pub struct Edge;
}
