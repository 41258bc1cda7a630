//! Live per-partition statistics: atomics written by the partition's thread, readable from any.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::{Duration, Instant};

use crate::protocol::policy::Ending;

/// Counters of one partition. Every field is updated by its own thread and can be read at any
/// time from any other (`Relaxed`: each counter is exact, a snapshot is not a single instant).
#[derive(Debug)]
pub struct PartitionStats {
    partition: u32,
    started: Instant,
    pub(crate) connects: AtomicU64,
    pub(crate) disconnects: [AtomicU64; Ending::COUNT],
    pub(crate) bytes_wire: AtomicU64,
    pub(crate) bytes_inflated: AtomicU64,
    pub(crate) activities: AtomicU64,
    pub(crate) compliance: AtomicU64,
    pub(crate) system: AtomicU64,
    pub(crate) malformed: AtomicU64,
    pub(crate) heartbeats: AtomicU64,
    pub(crate) overlong: AtomicU64,
    pub(crate) incomplete: AtomicU64,
    pub(crate) duplicates_dropped: AtomicU64,
    pub(crate) first_by_connection: [AtomicU64; 4],
    pub(crate) dedupe_bytes: AtomicU64,
    pub(crate) last_record_unix_ms: AtomicU64,
    pub(crate) backoff_ms: AtomicU64,
    pub(crate) handler_ns: AtomicU64,
}

impl PartitionStats {
    pub(crate) fn new(partition: u32) -> Self {
        PartitionStats {
            partition,
            started: Instant::now(),
            connects: AtomicU64::new(0),
            disconnects: Default::default(),
            bytes_wire: AtomicU64::new(0),
            bytes_inflated: AtomicU64::new(0),
            activities: AtomicU64::new(0),
            compliance: AtomicU64::new(0),
            system: AtomicU64::new(0),
            malformed: AtomicU64::new(0),
            heartbeats: AtomicU64::new(0),
            overlong: AtomicU64::new(0),
            incomplete: AtomicU64::new(0),
            duplicates_dropped: AtomicU64::new(0),
            first_by_connection: Default::default(),
            dedupe_bytes: AtomicU64::new(0),
            last_record_unix_ms: AtomicU64::new(0),
            backoff_ms: AtomicU64::new(0),
            handler_ns: AtomicU64::new(0),
        }
    }

    pub(crate) fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Relaxed);
    }

    /// A copy of every counter now.
    pub fn snapshot(&self) -> StatsSnapshot {
        let get = |c: &AtomicU64| c.load(Relaxed);
        let elapsed = self.started.elapsed();
        let handler = Duration::from_nanos(get(&self.handler_ns));
        let mut disconnects = [0u64; Ending::COUNT];
        for (d, c) in disconnects.iter_mut().zip(&self.disconnects) {
            *d = get(c);
        }
        StatsSnapshot {
            partition: self.partition,
            elapsed,
            connects: get(&self.connects),
            disconnects,
            bytes_wire: get(&self.bytes_wire),
            bytes_inflated: get(&self.bytes_inflated),
            activities: get(&self.activities),
            compliance: get(&self.compliance),
            system: get(&self.system),
            malformed: get(&self.malformed),
            heartbeats: get(&self.heartbeats),
            overlong: get(&self.overlong),
            incomplete: get(&self.incomplete),
            duplicates_dropped: get(&self.duplicates_dropped),
            first_by_connection: [
                get(&self.first_by_connection[0]),
                get(&self.first_by_connection[1]),
                get(&self.first_by_connection[2]),
                get(&self.first_by_connection[3]),
            ],
            dedupe_bytes: get(&self.dedupe_bytes),
            last_record_unix_ms: match get(&self.last_record_unix_ms) {
                0 => None,
                ms => Some(ms),
            },
            backoff: Duration::from_millis(get(&self.backoff_ms)),
            handler_time: handler,
            handler_share: if elapsed.is_zero() {
                0.0
            } else {
                handler.as_secs_f64() / elapsed.as_secs_f64()
            },
        }
    }
}

/// One partition's counters at one moment.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct StatsSnapshot {
    /// The partition (0 when the stream has none).
    pub partition: u32,
    /// Time since the partition's thread started.
    pub elapsed: Duration,
    /// Connection attempts made.
    pub connects: u64,
    /// Connection endings, indexed by [`Ending::index`].
    pub disconnects: [u64; Ending::COUNT],
    /// Compressed bytes received.
    pub bytes_wire: u64,
    /// Bytes after inflating.
    pub bytes_inflated: u64,
    /// Activities handed to the handler.
    pub activities: u64,
    /// Compliance events handed to the handler.
    pub compliance: u64,
    /// System messages handed to the handler.
    pub system: u64,
    /// Lines that were not JSON objects, handed to the handler.
    pub malformed: u64,
    /// Heartbeats received.
    pub heartbeats: u64,
    /// Records longer than the maximum, skipped.
    pub overlong: u64,
    /// Records cut off by a disconnect, dropped.
    pub incomplete: u64,
    /// Records received again (on another connection of the partition, by backfill, or after a
    /// Replay resume) and not handed out twice.
    pub duplicates_dropped: u64,
    /// How often each connection (1 to 4) delivered a record first, with de-duplication on.
    pub first_by_connection: [u64; 4],
    /// Bytes the partition's de-duplication window holds now (0 when off).
    pub dedupe_bytes: u64,
    /// When the last record arrived (Unix milliseconds).
    pub last_record_unix_ms: Option<u64>,
    /// The backoff being waited out now (zero when connected).
    pub backoff: Duration,
    /// Time spent inside the handler.
    pub handler_time: Duration,
    /// Share of the thread's time spent inside the handler, 0..1. The service drops readers that
    /// fall behind: when this nears 1, hand records to another thread and return at once.
    pub handler_share: f64,
}

impl StatsSnapshot {
    /// Records of every kind handed to the handler.
    pub fn records(&self) -> u64 {
        self.activities + self.compliance + self.system + self.malformed
    }

    /// Endings of one kind so far.
    pub fn disconnects_for(&self, ending: Ending) -> u64 {
        self.disconnects[ending.index()]
    }
}
