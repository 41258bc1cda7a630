//! Where one connection's records go once its session has decided what they are: statistics,
//! system messages to the observer, the partition's de-duplication window shared with its other
//! connections, and the user's handler (timed, for the slow-reader share).

use std::sync::Mutex;
use std::sync::atomic::Ordering;
use std::time::Instant;

use super::handler::{ClientEvent, Delivery, Events, Flow, Handler};
use super::stats::PartitionStats;
use crate::core::{Level, Record, RecordKind};
use crate::protocol::dedupe::DedupeWindow;
use crate::protocol::dialect::Dialect;
use crate::protocol::session::{Output, Skipped};

/// One connection's [`Output`]: borrowed from the connection for one attempt.
pub(crate) struct Deliver<'a> {
    /// Whose record keys.
    pub dialect: Dialect,
    pub events: &'a Events,
    pub handler: &'a dyn Handler,
    /// The partition's window, when de-duplication is on.
    pub dedupe: Option<&'a Mutex<DedupeWindow>>,
}

impl Deliver<'_> {
    fn stats(&self) -> &PartitionStats {
        &self.events.stats
    }

    /// Whether the partition's window has seen `record` (then it is counted and dropped).
    fn seen_before(&self, record: &Record<'_>) -> bool {
        // Off: the key is not even looked for (finding it walks the record).
        let Some(window) = self.dedupe else {
            return false;
        };
        let Some(key) = self.dialect.record_key(record) else {
            // No key (system messages): always goes through.
            return false;
        };
        let s = self.stats();
        let fresh = {
            let mut w = window.lock().unwrap_or_else(|e| e.into_inner());
            let fresh = w.insert(key.as_u64());
            s.dedupe_bytes
                .store(w.memory_bytes() as u64, Ordering::Relaxed);
            fresh
        };
        if !fresh {
            PartitionStats::add(&s.duplicates_dropped, 1);
            return true;
        }
        PartitionStats::add(&s.conn(self.events.connection).first_deliveries, 1);
        false
    }
}

impl Output for Deliver<'_> {
    fn on_record(&mut self, record: &Record<'_>) -> Flow {
        let s = self.stats();
        match record.kind() {
            RecordKind::System(_) => {}
            kind => {
                if self.seen_before(record) {
                    return Flow::Continue;
                }
                PartitionStats::add(
                    match kind {
                        RecordKind::Activity => &s.activities,
                        RecordKind::Compliance(_) => &s.compliance,
                        _ => &s.malformed,
                    },
                    1,
                );
            }
        }
        let started = Instant::now();
        // Marked while under way, so a handler that never returns still shows in the share.
        let since = &s.conn(self.events.connection).handler_since_ns;
        since.store(
            started.saturating_duration_since(s.started).as_nanos() as u64 + 1,
            Ordering::Relaxed,
        );
        let flow = self.handler.on_record(&Delivery {
            partition: self.events.partition,
            connection: self.events.connection,
            record: *record,
        });
        since.store(0, Ordering::Relaxed);
        PartitionStats::add(&s.handler_ns, started.elapsed().as_nanos() as u64);
        flow
    }

    fn on_system(&mut self, level: Level, text: &str) {
        PartitionStats::add(&self.stats().system, 1);
        self.events.send(ClientEvent::SystemMessage {
            level,
            message: text.to_owned(),
        });
    }

    fn on_skipped(&mut self, what: Skipped) {
        let s = self.stats();
        PartitionStats::add(
            match what {
                Skipped::Heartbeat => &s.heartbeats,
                Skipped::Overlong { .. } => &s.overlong,
                Skipped::Incomplete { .. } => &s.incomplete,
                Skipped::Resent => &s.duplicates_dropped,
            },
            1,
        );
    }
}
