//! Delivery into NATS JetStream (feature `jetstream`), the IO shell around the sans-IO `nats` layer: a
//! blocking NATS connection, the publisher (queue, window, resends, reconnects, drain), the
//! partition leases, and stream creation.
//!
//! | file | job |
//! |---|---|
//! | `conn.rs` | [`NatsConnection`]: TCP/TLS, `INFO`/`CONNECT`, reads under a timeout, requests |
//! | `publisher.rs` | [`Publisher`]: one thread, window of acks, resends, reconnects, drain on finish |
//! | `queue.rs` | [`PublishQueue`]: bounded in records and bytes, waiting while full; [`PublishHandler`], the stream's handler into it |
//! | `leases.rs` | [`Leases`]: the lease thread, partitions gained and lost |
//!
//! ```no_run
//! use gnip_stream::sink::jetstream::{Message, NatsOptions, Publisher, PublisherConfig};
//! use std::sync::Arc;
//! let nats = NatsOptions::from_env("nats://127.0.0.1:4222")?;
//! let publisher = Publisher::start(PublisherConfig::new(nats), &["gnip.powertrack.0".into()])?;
//! let queue = publisher.queue().expect("running");
//! let subject: Arc<str> = "gnip.powertrack.0".into();
//! let record = gnip_stream::core::Record::new(br#"{"id":1,"text":"hi"}"#);
//! if let Some(m) = Message::of_record(&subject, &record) {
//!     let _ = queue.send(m);
//! }
//! drop(queue);
//! let report = publisher.finish(std::time::Duration::from_secs(30));
//! assert_eq!(report.unacknowledged, 0);
//! # Ok::<(), gnip_stream::Error>(())
//! ```

mod conn;
mod leases;
mod publisher;
mod queue;

pub use conn::{DEFAULT_NATS_CONNECT_TIMEOUT, NatsConnection, NatsOptions, Reply};
pub use leases::{LEASE_STOP_WAIT, LeaseConfig, LeaseEvent, Leases, bucket_spec, check_bucket};
pub use publisher::{
    DEFAULT_ACK_TIMEOUT, DEFAULT_DRAIN_TIMEOUT, DEFAULT_QUEUE, DEFAULT_QUEUE_BYTES, MAX_QUEUE,
    MAX_QUEUE_BYTES, PublishReport, Publisher, PublisherConfig, check_captured,
};
pub use queue::{PublishHandler, PublishQueue, PublishStats};
// The message a handler queues (decided sans-IO, in `nats`).
pub use crate::nats::Message;

use std::time::Duration;

use crate::Error;
use crate::nats::api::{self, StreamSpec};

/// What [`ensure_stream`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ensured {
    /// The stream was created.
    Created,
    /// It existed already, configured the same.
    Existed,
}

/// Creates the stream `spec` describes; an existing one with the same subjects, replicas,
/// duplicate window and age is fine, one configured otherwise is [`Error::JetStream`] naming
/// the difference. No responders (JetStream electing its meta leader) is asked again for up to
/// `patience`.
pub fn ensure_stream(
    conn: &mut NatsConnection,
    spec: &StreamSpec,
    patience: Duration,
) -> Result<Ensured, Error> {
    let until = std::time::Instant::now() + patience;
    loop {
        let (h, p) = conn.request(&api::stream_info_subject(&spec.name), &[], b"", patience)?;
        let answer = match api::reply(h.as_deref(), &p) {
            Ok(info) => {
                let config = info.get("config").cloned().unwrap_or_default();
                return match spec.differs_from(&config) {
                    None => Ok(Ensured::Existed),
                    Some(d) => Err(Error::JetStream {
                        message: format!(
                            "stream {} exists with another configuration ({d})",
                            spec.name
                        )
                        .into(),
                    }),
                };
            }
            // Not found: create it.
            Err(e) if e.code == 404 => {
                let (h, p) = conn.request(&spec.create_subject(), &[], &spec.config(), patience)?;
                api::reply(h.as_deref(), &p).map(|_| Ensured::Created)
            }
            Err(e) => Err(e),
        };
        match answer {
            Ok(e) => return Ok(e),
            Err(e) if e.is_retryable() && std::time::Instant::now() < until => {
                std::thread::sleep(Duration::from_millis(200));
            }
            Err(e) => {
                return Err(Error::JetStream {
                    message: format!("creating stream {}: {e}", spec.name).into(),
                });
            }
        }
    }
}
