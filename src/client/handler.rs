//! What the client calls and what stops it: the [`Handler`] that receives records, the
//! [`Observer`] that receives connection events, the [`StopHandle`], and the per-connection
//! event reporter that logs, counts and forwards those events.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use super::stats::PartitionStats;
use super::wake::Sockets;
use crate::Error;
use crate::core::{Level, Record};
use crate::protocol::policy::{BackoffKind, Ending};
pub use crate::protocol::session::Flow;

/// A record handed to the handler, with the partition and the connection it came from.
#[derive(Debug, Clone, Copy)]
pub struct Delivery<'a> {
    pub(crate) partition: u32,
    pub(crate) connection: u8,
    pub(crate) record: Record<'a>,
}

impl<'a> Delivery<'a> {
    /// The partition (1..=N; 0 when the stream has none).
    pub fn partition(&self) -> u32 {
        self.partition
    }

    /// The connection of the partition that delivered it (1..=`redundant`; with
    /// de-duplication, the one that had it first).
    pub fn connection(&self) -> u8 {
        self.connection
    }

    /// The record: bytes borrowed from the decoder, kind, id.
    pub fn record(&self) -> &Record<'a> {
        &self.record
    }
}

/// Receives every record (activities, compliance events, system messages, malformed lines) on
/// the partition's own thread. Closures `Fn(&Delivery) -> Flow + Send + Sync` are handlers.
///
/// Keep it fast: the service drops readers that fall behind (see
/// [`StatsSnapshot::handler_share`](super::StatsSnapshot::handler_share)); send heavy work to another thread.
pub trait Handler: Send + Sync {
    /// Called once per record, in stream order per partition.
    fn on_record(&self, delivery: &Delivery<'_>) -> Flow;
}

impl<F: Fn(&Delivery<'_>) -> Flow + Send + Sync> Handler for F {
    fn on_record(&self, delivery: &Delivery<'_>) -> Flow {
        self(delivery)
    }
}

/// Something that happened to a connection, for an [`Observer`] (also logged through `log`).
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum ClientEvent {
    /// About to connect (the URL has no credentials in it).
    Connecting {
        /// The request URL.
        url: String,
        /// `backfillMinutes` sent, if any.
        backfill_minutes: Option<u8>,
    },
    /// The service answered 200: streaming.
    Connected,
    /// The connection ended.
    Disconnected {
        /// How.
        ending: Ending,
        /// The error behind it, if there was one.
        error: Option<Error>,
    },
    /// Waiting before the next attempt.
    BackingOff {
        /// How long.
        delay: Duration,
        /// Which schedule (`None`: a wait imposed by the connection-rate limiter).
        kind: Option<BackoffKind>,
    },
    /// A system message from the service.
    SystemMessage {
        /// Its level.
        level: Level,
        /// Its text.
        message: String,
    },
}

/// Receives [`ClientEvent`]s. Closures `Fn(u32, u8, &ClientEvent) + Send + Sync` are observers;
/// the arguments are the partition (0 when none), the connection (1..=`redundant`) and the event.
pub trait Observer: Send + Sync {
    /// Called on the connection's thread.
    fn on_event(&self, partition: u32, connection: u8, event: &ClientEvent);
}

impl<F: Fn(u32, u8, &ClientEvent) + Send + Sync> Observer for F {
    fn on_event(&self, partition: u32, connection: u8, event: &ClientEvent) {
        self(partition, connection, event)
    }
}

/// Stops every partition of a client, from any thread (not from a signal handler itself: it
/// shuts sockets down under a lock; the command's handler wakes a thread that calls it). A
/// partition streaming ends at once (its socket is shut down); one waiting for a response head
/// or backing off, within one read tick (250 ms by default).
#[derive(Debug, Clone, Default)]
pub struct StopHandle(pub(crate) Arc<Sockets>);

impl StopHandle {
    /// Asks every partition to stop.
    pub fn stop(&self) {
        self.0.stop();
    }

    /// Whether a stop was asked for.
    pub fn is_stopped(&self) -> bool {
        self.0.is_stopped()
    }
}

/// One connection's events: logged through `log`, its connected flag kept, and handed to the
/// observer.
#[derive(Clone)]
pub(crate) struct Events {
    pub partition: u32,
    /// Which of the partition's connections (from 1).
    pub connection: u8,
    pub stats: Arc<PartitionStats>,
    pub observer: Option<Arc<dyn Observer>>,
}

impl Events {
    /// Logs `e` through `log` and hands it to the observer.
    pub fn send(&self, e: ClientEvent) {
        let (p, c) = (self.partition, self.connection);
        match &e {
            ClientEvent::Connected | ClientEvent::Disconnected { .. } => self
                .stats
                .conn(c)
                .connected
                .store(matches!(e, ClientEvent::Connected), Ordering::Relaxed),
            _ => {}
        }
        match &e {
            ClientEvent::Connecting {
                url,
                backfill_minutes,
            } => {
                log::info!("partition {p}/{c}: connecting to {url} (backfill {backfill_minutes:?})")
            }
            ClientEvent::Connected => log::info!("partition {p}/{c}: connected"),
            ClientEvent::Disconnected { ending, error } => match error {
                Some(err) => log::warn!("partition {p}/{c}: {}: {err}", ending.name()),
                None => log::info!("partition {p}/{c}: {}", ending.name()),
            },
            ClientEvent::BackingOff { delay, kind } => {
                log::info!(
                    "partition {p}/{c}: waiting {:.2} s ({kind:?})",
                    delay.as_secs_f64()
                )
            }
            ClientEvent::SystemMessage { level, message } => {
                log::warn!(
                    "partition {p}/{c}: system message ({}): {message}",
                    level.name()
                )
            }
        }
        if let Some(o) = &self.observer {
            o.on_event(p, c, &e);
        }
    }
}
