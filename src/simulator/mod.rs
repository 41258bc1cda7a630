//! A loopback server that behaves like the service, for tests, the demo and benchmarks
//! (feature `simulator`), and its record sources: the deterministic [`generator`] and the
//! shared [`corpus`] of real payloads (also built for the tests, feature `testing`).
//!
//! It follows `protocol.md`: the stream URL shapes, Basic auth, 406 without gzip, partitions,
//! one gzip member per connection sync-flushed after every write, `\r\n`-terminated records,
//! heartbeats on idle, connection-rate limits with 429, `backfillMinutes`, redundant-connection
//! limits with the "Forced Disconnect" message, Replay with its date rules and completion
//! message, a slow-reader backlog limit, and faults scripted per connection. Where the
//! documentation is silent, the choice made is said in a comment at the place it is made.
//!
//! ```
//! # #[cfg(feature = "simulator")] {
//! use gnip_stream::simulator::{Simulator, SimulatorConfig};
//! let sim = Simulator::start(SimulatorConfig::default())?;
//! let url = sim.stream_url(gnip_stream::Product::PowerTrack, "acme", "prod");
//! assert!(url.starts_with("http://127.0.0.1:"));
//! sim.shutdown(); // also on drop: every thread is joined
//! # }
//! # Ok::<(), std::io::Error>(())
//! ```

// The record sources: built with the simulator and for the tests (feature `testing`).
#[cfg(feature = "simulator")]
pub mod corpus;
pub mod generator;

// The server: feature `simulator`.
#[cfg(feature = "simulator")]
mod admit;
#[cfg(feature = "simulator")]
mod config;
#[cfg(feature = "simulator")]
mod connections;
#[cfg(feature = "simulator")]
mod feed;
#[cfg(feature = "simulator")]
mod http;
#[cfg(feature = "simulator")]
mod live;
#[cfg(feature = "simulator")]
mod recovery;
#[cfg(feature = "simulator")]
mod replay;
#[cfg(feature = "simulator")]
mod route;
#[cfg(feature = "simulator")]
mod rule_book;
#[cfg(feature = "simulator")]
mod rule_syntax;
#[cfg(feature = "simulator")]
mod rules;
#[cfg(feature = "simulator")]
mod rules_v2;
#[cfg(feature = "simulator")]
mod server;
#[cfg(feature = "simulator")]
mod state;
#[cfg(feature = "simulator")]
mod streamer;
#[cfg(feature = "simulator")]
mod v2_feed;
#[cfg(feature = "simulator")]
pub use v2_feed::{like_id, v2_record_index};

#[cfg(feature = "simulator")]
pub use config::{Connection, DEMO_BEARER_TOKEN, Fault, Rate, SimulatorConfig, Which, Wrapper};
#[cfg(feature = "simulator")]
pub use feed::{RecordSource, record_id_for, record_index, record_index_for};
#[cfg(feature = "simulator")]
pub use server::{MAX_LOGGED_REQUESTS, Simulator};
#[cfg(feature = "simulator")]
pub use state::LoggedRequest;
