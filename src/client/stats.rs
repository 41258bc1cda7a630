//! Live per-partition statistics: atomics written by the partition's connection threads,
//! readable from any thread, and copied into a [`StatsSnapshot`].

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::time::{Duration, Instant};

pub use crate::metrics::{ConnectionSnapshot, StatsSnapshot};
use crate::protocol::policy::Ending;

/// Counters of one of a partition's connections.
#[derive(Debug, Default)]
pub(crate) struct ConnectionStats {
    pub connects: AtomicU64,
    pub disconnects: [AtomicU64; Ending::COUNT],
    pub bytes_wire: AtomicU64,
    pub bytes_inflated: AtomicU64,
    pub first_deliveries: AtomicU64,
    pub connected: AtomicBool,
    pub backoff_ms: AtomicU64,
    /// Nanoseconds (since the partition started, plus one) at which the handler call under
    /// way began; 0 when none is.
    pub handler_since_ns: AtomicU64,
}

/// Counters of one partition. Every field is updated by its own threads and can be read at
/// any time from any other (`Relaxed`: each counter is exact, a snapshot is not one instant).
#[derive(Debug)]
pub struct PartitionStats {
    partition: u32,
    pub(crate) started: Instant,
    started_unix_ms: u64,
    pub(crate) connections: Vec<ConnectionStats>,
    pub(crate) activities: AtomicU64,
    pub(crate) compliance: AtomicU64,
    pub(crate) system: AtomicU64,
    pub(crate) malformed: AtomicU64,
    pub(crate) heartbeats: AtomicU64,
    pub(crate) overlong: AtomicU64,
    pub(crate) incomplete: AtomicU64,
    pub(crate) duplicates_dropped: AtomicU64,
    pub(crate) dedupe_bytes: AtomicU64,
    pub(crate) last_record_unix_ms: AtomicU64,
    pub(crate) handler_ns: AtomicU64,
}

impl PartitionStats {
    pub(crate) fn new(partition: u32, connections: u8) -> Self {
        PartitionStats {
            partition,
            started: Instant::now(),
            started_unix_ms: crate::clock::now_unix_ms(),
            connections: (0..connections.max(1))
                .map(|_| ConnectionStats::default())
                .collect(),
            activities: AtomicU64::new(0),
            compliance: AtomicU64::new(0),
            system: AtomicU64::new(0),
            malformed: AtomicU64::new(0),
            heartbeats: AtomicU64::new(0),
            overlong: AtomicU64::new(0),
            incomplete: AtomicU64::new(0),
            duplicates_dropped: AtomicU64::new(0),
            dedupe_bytes: AtomicU64::new(0),
            last_record_unix_ms: AtomicU64::new(0),
            handler_ns: AtomicU64::new(0),
        }
    }

    pub(crate) fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Relaxed);
    }

    /// The counters of connection `c` (from 1; out-of-range numbers share the last).
    pub(crate) fn conn(&self, c: u8) -> &ConnectionStats {
        let i = usize::from(c.max(1) - 1).min(self.connections.len() - 1);
        &self.connections[i]
    }

    /// A copy of every counter now.
    pub fn snapshot(&self) -> StatsSnapshot {
        let get = |c: &AtomicU64| c.load(Relaxed);
        let elapsed = self.started.elapsed();
        let now_ns = elapsed.as_nanos() as u64 + 1;
        let mut handler_ns = get(&self.handler_ns);
        let mut disconnects = [0u64; Ending::COUNT];
        let mut first_by_connection = [0u64; 4];
        let mut connections = Vec::with_capacity(self.connections.len());
        for (i, c) in self.connections.iter().enumerate() {
            let since = get(&c.handler_since_ns);
            if since != 0 {
                // A call under way counts too: a handler stuck for a minute is a slow reader.
                handler_ns += now_ns.saturating_sub(since);
            }
            let mut d = [0u64; Ending::COUNT];
            for ((d, total), counter) in d.iter_mut().zip(&mut disconnects).zip(&c.disconnects) {
                *d = get(counter);
                *total += *d;
            }
            let first = get(&c.first_deliveries);
            if let Some(f) = first_by_connection.get_mut(i) {
                *f = first;
            }
            connections.push(ConnectionSnapshot {
                connection: i as u8 + 1,
                connects: get(&c.connects),
                disconnects: d,
                bytes_wire: get(&c.bytes_wire),
                bytes_inflated: get(&c.bytes_inflated),
                first_deliveries: first,
                connected: c.connected.load(Relaxed),
                backoff: Duration::from_millis(get(&c.backoff_ms)),
            });
        }
        let handler_time = Duration::from_nanos(handler_ns);
        let sum = |f: fn(&ConnectionSnapshot) -> u64| connections.iter().map(f).sum::<u64>();
        StatsSnapshot {
            partition: self.partition,
            elapsed,
            started_unix_ms: self.started_unix_ms,
            connects: sum(|c| c.connects),
            disconnects,
            bytes_wire: sum(|c| c.bytes_wire),
            bytes_inflated: sum(|c| c.bytes_inflated),
            activities: get(&self.activities),
            compliance: get(&self.compliance),
            system: get(&self.system),
            malformed: get(&self.malformed),
            heartbeats: get(&self.heartbeats),
            overlong: get(&self.overlong),
            incomplete: get(&self.incomplete),
            duplicates_dropped: get(&self.duplicates_dropped),
            first_by_connection,
            dedupe_bytes: get(&self.dedupe_bytes),
            last_record_unix_ms: match get(&self.last_record_unix_ms) {
                0 => None,
                ms => Some(ms),
            },
            backoff: connections
                .iter()
                .map(|c| c.backoff)
                .max()
                .unwrap_or_default(),
            handler_time,
            handler_share: crate::metrics::share(handler_time, elapsed),
            connections,
        }
    }
}

/// Every partition's live counters, shareable with another thread (a metrics server, a
/// monitor) while the client runs: from [`Running::stats_handle`](super::Running::stats_handle).
#[derive(Debug, Clone)]
pub struct StatsHandle(pub(crate) Arc<[Arc<PartitionStats>]>);

impl StatsHandle {
    /// Every partition's counters now, in partition order.
    pub fn snapshot(&self) -> Vec<StatsSnapshot> {
        self.0.iter().map(|p| p.snapshot()).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connections_add_up_and_a_call_under_way_counts() {
        let s = PartitionStats::new(3, 2);
        PartitionStats::add(&s.conn(1).connects, 2);
        PartitionStats::add(&s.conn(2).connects, 1);
        PartitionStats::add(&s.conn(2).disconnects[Ending::Stalled.index()], 1);
        PartitionStats::add(&s.conn(2).bytes_wire, 100);
        s.conn(2).backoff_ms.store(1500, Relaxed);
        // Connection 9 does not exist: it books on the last.
        PartitionStats::add(&s.conn(9).first_deliveries, 4);
        s.conn(1).handler_since_ns.store(1, Relaxed);
        std::thread::sleep(Duration::from_millis(20));
        let snap = s.snapshot();
        assert_eq!(
            (snap.partition, snap.connects, snap.bytes_wire),
            (3, 3, 100)
        );
        assert_eq!(snap.disconnects_for(Ending::Stalled), 1);
        assert_eq!(snap.backoff, Duration::from_millis(1500));
        assert_eq!(snap.first_by_connection, [0, 4, 0, 0]);
        assert_eq!(snap.connections.len(), 2);
        assert_eq!(snap.connections[1].connection, 2);
        assert!(snap.handler_time >= Duration::from_millis(20));
    }
}
