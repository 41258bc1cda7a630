//! Where one connection's decoded events go: statistics, system messages to the observer,
//! Replay's resume de-duplication, and the user's handler, which can stop the stream at the
//! record it was handed.

use std::ops::ControlFlow;
use std::sync::atomic::Ordering;
use std::time::Instant;

use super::api::{ClientEvent, Delivery, Flow};
use super::stats::PartitionStats;
use super::worker::{Partition, ReplayProgress};
use crate::core::{Event, RecordKind};
use crate::protocol::dedupe::RecordKey;
use crate::protocol::messages::{Meaning, meaning};
use crate::protocol::replay::ReplaySummary;

/// One connection's event sink.
pub(crate) struct Dispatch<'a> {
    p: &'a Partition,
    replay: &'a mut ReplayProgress,
    /// The service said it is closing this connection.
    pub closing: bool,
    /// Replay's completion message arrived.
    pub completed: bool,
    /// The handler returned [`Flow::Stop`].
    pub stop: bool,
    /// Whether a record arrived since the last-record time was stamped (once per read: a
    /// clock read per record would cost more than the stamp is worth).
    pub any_record: bool,
}

impl<'a> Dispatch<'a> {
    pub fn new(p: &'a Partition, replay: &'a mut ReplayProgress) -> Self {
        replay.resume.start_connection();
        Dispatch {
            p,
            replay,
            closing: false,
            completed: false,
            stop: false,
            any_record: false,
        }
    }

    /// Handles one event; `Break` when the handler asked to stop, so the decoder hands out
    /// nothing more.
    pub fn on(&mut self, e: Event<'_>) -> ControlFlow<()> {
        let s = &self.p.stats;
        let record = match e {
            Event::Heartbeat => {
                PartitionStats::add(&s.heartbeats, 1);
                return ControlFlow::Continue(());
            }
            Event::Overlong { .. } => {
                PartitionStats::add(&s.overlong, 1);
                return ControlFlow::Continue(());
            }
            Event::Incomplete { .. } => {
                PartitionStats::add(&s.incomplete, 1);
                return ControlFlow::Continue(());
            }
            Event::Record(r) => r,
        };
        let replay = self.p.config.replay.is_some();
        match record.kind() {
            RecordKind::System(m) => {
                PartitionStats::add(&s.system, 1);
                let text = m.message();
                match meaning(m.level(), &text) {
                    Meaning::ClosingConnection => self.closing = true,
                    Meaning::ReplayCompleted if replay => {
                        self.completed = true;
                        self.replay.summary = Some(ReplaySummary::parse(record.bytes(), &text));
                    }
                    _ => {}
                }
                self.p.event(ClientEvent::SystemMessage {
                    level: m.level(),
                    message: text.into_owned(),
                });
            }
            RecordKind::Activity | RecordKind::Compliance(_)
                if replay && self.replay.resume.is_duplicate(&record) =>
            {
                PartitionStats::add(&s.duplicates_dropped, 1);
                return ControlFlow::Continue(());
            }
            kind => {
                if let Some(window) = &self.p.dedupe {
                    // System messages have no key and always go through.
                    if let Some(key) = RecordKey::of(&record) {
                        let fresh = {
                            let mut w = window.lock().unwrap_or_else(|e| e.into_inner());
                            let fresh = w.insert(key.as_u64());
                            s.dedupe_bytes
                                .store(w.memory_bytes() as u64, Ordering::Relaxed);
                            fresh
                        };
                        if !fresh {
                            PartitionStats::add(&s.duplicates_dropped, 1);
                            return ControlFlow::Continue(());
                        }
                        PartitionStats::add(&s.conn(self.p.connection).first_deliveries, 1);
                    }
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
        self.any_record = true;
        let started = Instant::now();
        // Marked while under way, so a handler that never returns still shows in the share.
        let since = &s.conn(self.p.connection).handler_since_ns;
        since.store(
            started.saturating_duration_since(s.started).as_nanos() as u64 + 1,
            Ordering::Relaxed,
        );
        let flow = self.p.handler.on_record(&Delivery {
            partition: self.p.partition,
            connection: self.p.connection,
            record,
        });
        since.store(0, Ordering::Relaxed);
        PartitionStats::add(&s.handler_ns, started.elapsed().as_nanos() as u64);
        if flow == Flow::Stop {
            self.stop = true;
            return ControlFlow::Break(());
        }
        ControlFlow::Continue(())
    }
}
