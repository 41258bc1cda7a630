//! A loopback server that behaves like the service, for tests, the demo and benchmarks.
//!
//! It follows `protocol.md`: the stream URL shapes, Basic auth, 406 without gzip, partitions,
//! one gzip member per connection sync-flushed after every write, `\r\n`-terminated records,
//! heartbeats on idle, connection-rate limits with 429, `backfillMinutes`, redundant-connection
//! limits with the "Forced Disconnect" message, Replay with its date rules and completion
//! message, a slow-reader backlog limit, and faults scripted per connection. Where the
//! documentation is silent, the choice made is said in a comment at the place it is made.
//!
//! ```
//! use gnip_stream::simulator::{Simulator, SimulatorConfig};
//! let sim = Simulator::start(SimulatorConfig::default())?;
//! let url = sim.stream_url(gnip_stream::Product::PowerTrack, "acme", "prod");
//! assert!(url.starts_with("http://127.0.0.1:"));
//! sim.shutdown(); // also on drop: every thread is joined
//! # Ok::<(), std::io::Error>(())
//! ```

mod admit;
mod config;
mod feed;
mod http;
mod live;
mod recovery;
mod replay;
mod route;
mod rule_book;
mod rule_syntax;
mod rules;
mod server;
mod state;
mod streamer;

pub use config::{Connection, Fault, Rate, SimulatorConfig, Which, Wrapper};
pub use feed::{RecordSource, record_id_for};
pub use server::Simulator;
pub use state::LoggedRequest;
