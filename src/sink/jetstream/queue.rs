//! The queue between the stream handlers and the publisher's thread: bounded in records and
//! in bytes ([`PublishQueue`], waiting while full: backpressure), the stream's handler into it
//! ([`PublishHandler`]), and the figures both sides share ([`PublishStats`]).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc::{SyncSender, TrySendError};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use crate::Error;
use crate::client::{Delivery, Dialect, Flow, Handler};
use crate::core::RecordKind;
use crate::metrics::PublishSnapshot;
use crate::nats::Message;
use crate::nats::api::MSG_ID;

/// What the queue's senders and the publisher's thread share: the figures, the byte bound, and
/// the flags and wake-up of a stop.
#[derive(Default, Debug)]
pub(super) struct Shared {
    pub(super) queued: AtomicU64,
    /// Bytes of the queued messages, and their bound.
    pub(super) queued_bytes: AtomicUsize,
    pub(super) queue_bytes: usize,
    pub(super) in_window: AtomicU64,
    pub(super) taken: AtomicU64,
    pub(super) delivered: AtomicU64,
    pub(super) duplicates: AtomicU64,
    pub(super) resends: AtomicU64,
    pub(super) reconnects: AtomicU64,
    pub(super) connected: AtomicBool,
    /// Set by `finish`: milliseconds since `started` after which the drain gives up.
    pub(super) drain_deadline_ms: AtomicU64,
    pub(super) failed: Mutex<Option<Error>>,
    /// Per partition, the latest record time acknowledged (copied from the sans-IO side).
    pub(super) acked: Mutex<std::collections::BTreeMap<u32, i64>>,
    /// Set by `close_queue` (and `finish`): a send waiting for room gives up.
    pub(super) queue_closed: AtomicBool,
    /// The connected server's `max_payload` (0 before the first connection: NATS's default,
    /// 1 MiB, applies), and the records skipped for being over it.
    pub(super) max_payload: AtomicUsize,
    pub(super) skipped: AtomicU64,
    /// Senders waiting for room, and where they wait (woken when the worker takes one; only
    /// then, so the hot path pays no wake-up when nobody waits).
    pub(super) waiting: AtomicUsize,
    pub(super) room: Condvar,
    pub(super) room_lock: Mutex<()>,
}

/// What a message counts against [`PublisherConfig::queue_bytes`].
pub(super) fn queued_size(m: &Message) -> usize {
    m.payload.len().saturating_add(m.id.len())
}

impl Shared {
    /// Takes `size` bytes of the queue's bound, if there is room: always when the queue holds
    /// no bytes (a record larger than the bound goes alone).
    pub(super) fn reserve_bytes(&self, size: usize) -> bool {
        let mut now = self.queued_bytes.load(Ordering::SeqCst);
        loop {
            if now > 0 && now.saturating_add(size) > self.queue_bytes {
                return false;
            }
            match self.queued_bytes.compare_exchange_weak(
                now,
                now + size,
                Ordering::SeqCst,
                Ordering::SeqCst,
            ) {
                Ok(_) => return true,
                Err(seen) => now = seen,
            }
        }
    }

    pub(super) fn snapshot(&self) -> PublishSnapshot {
        let l = |a: &AtomicU64| a.load(Ordering::Relaxed);
        PublishSnapshot {
            queue_depth: l(&self.queued),
            in_flight: l(&self.in_window),
            taken: l(&self.taken),
            delivered: l(&self.delivered),
            duplicates: l(&self.duplicates),
            resends: l(&self.resends),
            reconnects: l(&self.reconnects),
            connected: self.connected.load(Ordering::Relaxed),
            skipped: l(&self.skipped),
        }
    }
}

/// Where the handlers put records: cheap to clone, `send` blocks while the queue is full.
#[derive(Clone, Debug)]
pub struct PublishQueue {
    pub(super) tx: SyncSender<Message>,
    pub(super) shared: Arc<Shared>,
}

impl PublishQueue {
    /// Queues `m`, waiting while the queue is full. `Err` when the publisher has stopped (it
    /// failed: [`Publisher::finish`](super::Publisher::finish) says why) or its queue was closed
    /// ([`Publisher::close_queue`](super::Publisher::close_queue), a stop) while this waited; the record is then not taken.
    pub fn send(&self, m: Message) -> Result<(), Message> {
        let s = &self.shared;
        s.taken.fetch_add(1, Ordering::Relaxed);
        s.queued.fetch_add(1, Ordering::Relaxed);
        let refused = |m: Message| {
            s.queued.fetch_sub(1, Ordering::Relaxed);
            s.taken.fetch_sub(1, Ordering::Relaxed);
            Err(m)
        };
        let size = queued_size(&m);
        let mut m = m;
        loop {
            // Room in bytes first (reserved, so two senders cannot both take the last of it),
            // then a slot.
            let sent = if s.reserve_bytes(size) {
                match self.tx.try_send(m) {
                    Ok(()) => return Ok(()),
                    Err(e) => {
                        s.queued_bytes.fetch_sub(size, Ordering::SeqCst);
                        match e {
                            TrySendError::Disconnected(back) => return refused(back),
                            TrySendError::Full(back) => back,
                        }
                    }
                }
            } else {
                m
            };
            if s.queue_closed.load(Ordering::SeqCst) {
                return refused(sent);
            }
            m = sent;
            // Wait for room: the worker wakes a waiter when it takes a record; the
            // timeout covers a wake-up that came between the try and the wait.
            s.waiting.fetch_add(1, Ordering::SeqCst);
            let guard = s.room_lock.lock().unwrap_or_else(|e| e.into_inner());
            let _ = s.room.wait_timeout(guard, Duration::from_millis(50));
            s.waiting.fetch_sub(1, Ordering::SeqCst);
        }
    }

    /// The figures now.
    pub fn snapshot(&self) -> PublishSnapshot {
        self.shared.snapshot()
    }

    /// Whether `m` fits the connected server's `max_payload` with its headers; when it does
    /// not, `Err` with its size in bytes (no server of a cluster takes it: publishing it would
    /// only cost the connection, audit M2).
    pub fn fits(&self, m: &Message) -> Result<(), usize> {
        let max = match self.shared.max_payload.load(Ordering::Relaxed) {
            0 => 1 << 20,
            n => n,
        };
        // `NATS/1.0\r\n` + `Nats-Msg-Id: {id}\r\n` + `\r\n`, then the payload.
        let size = 10 + MSG_ID.len() + 2 + m.id.len() + 2 + 2 + m.payload.len();
        if size > max { Err(size) } else { Ok(()) }
    }
}

/// The stream's handler into a publisher: activities and compliance events go into the queue
/// on their partition's subject (system messages and malformed lines are not published); a
/// stopped publisher, or a partition without a subject, stops the stream.
#[derive(Debug, Clone)]
pub struct PublishHandler {
    queue: PublishQueue,
    subjects: Arc<BTreeMap<u32, Arc<str>>>,
    dialect: Dialect,
}

impl PublishHandler {
    /// Records of partition `p` go to `subjects[p]` through `queue`, each with the message id
    /// of its `dialect`'s record key.
    pub fn new(
        queue: PublishQueue,
        subjects: Arc<BTreeMap<u32, Arc<str>>>,
        dialect: Dialect,
    ) -> Self {
        PublishHandler {
            queue,
            subjects,
            dialect,
        }
    }
}

impl Handler for PublishHandler {
    fn on_record(&self, d: &Delivery<'_>) -> Flow {
        if !matches!(
            d.record().kind(),
            RecordKind::Activity | RecordKind::Compliance(_)
        ) {
            return Flow::Continue;
        }
        let Some(subject) = self.subjects.get(&d.partition()) else {
            return Flow::Stop;
        };
        let message = Message::of_record_in(self.dialect, subject, d.record()).map(|mut m| {
            m.partition = d.partition();
            m
        });
        let Some(m) = message else {
            return Flow::Continue;
        };
        if let Err(size) = self.queue.fits(&m) {
            // One record no server takes must not stop every partition: logged and counted.
            self.queue.shared.skipped.fetch_add(1, Ordering::Relaxed);
            log::warn!(
                "JetStream: record {} of partition {} is {size} bytes with its headers, over the server's max_payload: not published",
                m.id,
                m.partition
            );
            return Flow::Continue;
        }
        match self.queue.send(m) {
            Err(_) => Flow::Stop,
            Ok(()) => Flow::Continue,
        }
    }
}

/// The publisher's figures for other threads (a metrics scrape): no sender, so it never keeps
/// the queue open.
#[derive(Clone, Debug)]
pub struct PublishStats(pub(super) Arc<Shared>);

impl PublishStats {
    /// The figures now.
    pub fn snapshot(&self) -> PublishSnapshot {
        self.0.snapshot()
    }

    /// Per partition, the latest record time JetStream acknowledged: the checkpoint a restart
    /// sizes its backfill from (`stream --jetstream --state FILE`).
    pub fn acked_times(&self) -> std::collections::BTreeMap<u32, i64> {
        self.0
            .acked
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }
}
