//! Where records go: each sink is a [`Handler`](crate::client::Handler) the command (or a
//! library user) hands to [`Client::start`](crate::client::Client::start). The data path reads
//! in folder names: `core` → `protocol` → `client` (the source) → `sink` → `cli`.
//!
//! | file | job |
//! |---|---|
//! | `ndjson.rs` | [`NdjsonSink`]: records one a line into stdout (or any writer), a record limit, count-only |
//! | `archive/` | [`archive::Archive`]: crash-safe rotating files per partition, a checkpoint and keys per partition, `--on-close` |
//! | `jetstream/` | delivery into NATS JetStream: the publisher, its handler, partition leases (feature `jetstream`) |
//!
//! ```no_run
//! use std::sync::Arc;
//! use gnip_stream::client::{Client, ClientConfig, Delivery};
//! use gnip_stream::sink::NdjsonSink;
//! use gnip_stream::Product;
//!
//! let out = Arc::new(NdjsonSink::stdout(Some(1000), false));
//! let o = Arc::clone(&out);
//! let config = ClientConfig::stream(Product::Decahose, "acme", "prod").credentials("u", "p");
//! let running = Client::start(config, move |d: &Delivery<'_>| o.deliver(d))?;
//! running.join();
//! out.flush(true);
//! # Ok::<(), gnip_stream::Error>(())
//! ```

#[cfg(feature = "archive")]
pub mod archive;
#[cfg(feature = "jetstream")]
pub mod jetstream;
mod ndjson;

pub use ndjson::NdjsonSink;
