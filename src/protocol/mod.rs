//! What the service is and says, sans-IO: shared by the client and the simulator, so every fact
//! about the service is written once.
//!
//! # In scope
//! - [`dialect`]: the seam between the client and a service dialect (Gnip 2.0 today): auth,
//!   paths, query names, what a line is, record keys, error bodies, the policy table, limits.
//! - [`product`]: products, partitions, connection-rate limits, the backfill maximum.
//! - [`limit`]: what a connection-rate limit is (a leaf both dialects' products use).
//! - [`endpoint`]: stream and Replay URLs and their query parameters, built and parsed.
//! - [`messages`]: the service's message texts and what each means.
//! - [`policy`]: the ending → action table, backoff schedules, the connection-rate limiter,
//!   backfill sizing, the timeouts' defaults.
//! - [`replay`]: Replay's completion summary, resume point and resume de-duplication.
//! - [`restart`]: restart plans: a checkpoint's gap → backfill minutes, a Recovery range, the
//!   span nothing can fetch.
//! - [`rules`]: the Rules API: URLs, bodies, batching, responses, rule files, the sync diff.
//! - [`dedupe`]: the bounded set of record keys that recognises a record seen before, and
//!   the keys themselves (`record_key.rs`, re-exported there): what identifies a record.
//! - [`session`]: one connection's life as a state machine: bytes and instants in, records and
//!   an ending out.
//! - [`slow_reader`]: when a handler's share of the time makes a reader the service drops.
//! - [`time`]: calendar arithmetic and the service's timestamp formats.
//! - [`v2`]: the X API v2 enterprise streams as data: products, line shapes, record keys,
//!   error bodies.
//!
//! # Out of scope
//! Sockets, threads, clocks, files and the environment: functions here take bytes, ids, times
//! and `Instant`s as arguments. The IO shell (`client`, `simulator`, the command) reads the
//! clock and the network and asks this layer what they mean.

pub mod dedupe;
pub mod dialect;
pub mod endpoint;
pub mod limit;
pub mod messages;
pub mod policy;
pub mod product;
mod record_key;
pub mod replay;
pub mod restart;
pub mod rules;
pub mod session;
pub mod slow_reader;
pub mod time;
pub mod v2;
