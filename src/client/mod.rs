//! The streaming client, the IO shell around `core` and `protocol`: one thread per partition,
//! each connecting, streaming, classifying the ending and reconnecting by the
//! [`policy`](crate::protocol::policy) table, with backfill, a connection-rate limiter, stall
//! detection, a stop handle and live statistics.
//!
//! | file | job |
//! |---|---|
//! | `api.rs` | [`Client`], [`Running`], [`PartitionReport`] |
//! | `handler.rs` | the [`Handler`] and [`Observer`] it calls, the [`StopHandle`] |
//! | `config.rs` | [`ClientConfig`]: settings with documented defaults, validated |
//! | `connection.rs` | one connection's thread: limiter, request, body reads into its session, policy |
//! | `deliver.rs` | the session's records → statistics, observer, de-duplication, handler |
//! | `http.rs` | the shared ureq agent, TLS roots, Basic auth, ureq errors as endings |
//! | `transport.rs` | the stall-bounded body reads, the connect timeout while establishing |
//! | `wake.rs` | the sockets a stop shuts down, so blocked reads end at once |
//! | `stats.rs` | live per-partition and per-connection counters |
//! | `metrics_server.rs` | [`MetricsServer`]: the bounded `GET /metrics` endpoint |
//! | `replay_job.rs` | [`ReplayJob`]: a long Replay in windows, with re-requests and progress |
//! | `rules.rs` | [`RulesClient`]: the Rules API, batched, one request at a time, retried |
//!
//! ```no_run
//! use gnip_stream::client::{Client, ClientConfig, Flow, RecordKind};
//! use gnip_stream::Product;
//!
//! let config = ClientConfig::stream(Product::Decahose, "acme", "prod")
//!     .credentials("user@example.com", "password")
//!     .backfill_minutes(5);
//! let running = Client::start(config, |d: &gnip_stream::client::Delivery<'_>| {
//!     if d.record().kind() == RecordKind::Activity {
//!         println!("partition {}: {}", d.partition(), String::from_utf8_lossy(d.record().bytes()));
//!     }
//!     Flow::Continue
//! })?;
//! let stop = running.stop_handle(); // e.g. for a signal handler
//! # stop.stop();
//! for report in running.join() {
//!     println!("partition {} ended: {:?} ({} records)", report.partition, report.ending, report.stats.records());
//! }
//! # Ok::<(), gnip_stream::Error>(())
//! ```

mod api;
mod config;
mod connection;
#[cfg(feature = "connections")]
mod connections;
mod deliver;
pub(crate) mod dial;
mod handler;
pub(crate) mod http;
mod metrics_server;
mod replay_job;
mod rules;
mod stats;
mod transport;
mod wake;

pub use api::{Client, PartitionReport, Running};
pub use config::{ClientConfig, DedupeConfig, MAX_REDUNDANT, ReplayRange};
#[cfg(feature = "connections")]
pub use connections::ConnectionsClient;
pub use handler::{ClientEvent, Delivery, Flow, Handler, Observer, StopHandle};
pub use metrics_server::{MAX_CONCURRENT_SCRAPES, MetricsServer, SCRAPE_DEADLINE};
pub use replay_job::{DEFAULT_REPLAY_WINDOW, JobProgress, ReplayJob, ReplayJobReport, StepReport};
pub use rules::{AddSummary, DeleteSummary, RulesClient, RulesConfig, SyncSummary};
pub use stats::{ConnectionSnapshot, PartitionStats, StatsHandle, StatsSnapshot};
// The types the client's API names, from the sans-IO layers below it (which are otherwise
// `unversioned`): a user needs nothing else for `Client::start`, `ReplayJob` and `RulesClient`.
pub use crate::core::{ComplianceKind, Level, Record, RecordKind, SystemMessage};
pub use crate::metrics::RulesProgress;
pub use crate::protocol::dialect::Dialect;
pub use crate::protocol::endpoint::{REPLAY_HOST, STREAM_HOST};
pub use crate::protocol::policy::{BackoffConfig, BackoffKind, Ending};
pub use crate::protocol::replay::{ReplaySummary, Step};
pub use crate::protocol::rules::{Rule, RuleSet, RulesBackoff, SyncPlan, ValidateOutcome};
