//! The figures a running stream, a Replay or Recovery job and the Rules client report: plain
//! values copied out of the live counters, for a statistics line, a progress line or a scrape.

use std::time::Duration;

use crate::protocol::policy::Ending;

/// One connection's counters at one moment (a partition has 1 to 4, see
/// `ClientConfig::redundant`).
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct ConnectionSnapshot {
    /// Which of the partition's connections (from 1).
    pub connection: u8,
    /// Connection attempts made.
    pub connects: u64,
    /// Connection endings, indexed by [`Ending::index`].
    pub disconnects: [u64; Ending::COUNT],
    /// Compressed bytes received.
    pub bytes_wire: u64,
    /// Bytes after inflating.
    pub bytes_inflated: u64,
    /// Records this connection delivered first, with de-duplication on (0 when off).
    pub first_deliveries: u64,
    /// Streaming now (the service answered 200 and the connection has not ended).
    pub connected: bool,
    /// The backoff being waited out now (zero when connected).
    pub backoff: Duration,
}

/// One partition's counters at one moment: the partition's records, and the sums of its
/// connections' counters (the connections themselves in [`StatsSnapshot::connections`]).
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct StatsSnapshot {
    /// The partition (0 when the stream has none).
    pub partition: u32,
    /// Time since the partition's threads started.
    pub elapsed: Duration,
    /// When the partition's threads started (Unix milliseconds).
    pub started_unix_ms: u64,
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
    /// The longest backoff any of its connections is waiting out now (zero when connected).
    pub backoff: Duration,
    /// Time spent inside the handler, a call still under way included (summed over the
    /// partition's connections).
    pub handler_time: Duration,
    /// Share of the partition's time spent inside the handler since it started, 0..1 (up to
    /// the number of connections when they are redundant). The service drops readers that fall
    /// behind: when this nears 1, hand records to another thread and return at once.
    pub handler_share: f64,
    /// Each connection's own counters, in connection order.
    pub connections: Vec<ConnectionSnapshot>,
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

    /// This partition's figures followed by a `later` run's of the same partition (a Replay
    /// job's next request): counters add up, gauges and times are the later run's, and the
    /// elapsed times add up (so the handler share stays a share of the job's time).
    pub fn then(&self, later: &StatsSnapshot) -> StatsSnapshot {
        let add = |a: u64, b: u64| a.saturating_add(b);
        let mut disconnects = self.disconnects;
        for (d, l) in disconnects.iter_mut().zip(later.disconnects) {
            *d = add(*d, l);
        }
        let mut firsts = self.first_by_connection;
        for (f, l) in firsts.iter_mut().zip(later.first_by_connection) {
            *f = add(*f, l);
        }
        let connections = later
            .connections
            .iter()
            .map(|l| {
                let mut c = l.clone();
                if let Some(e) = self
                    .connections
                    .iter()
                    .find(|e| e.connection == l.connection)
                {
                    c.connects = add(e.connects, l.connects);
                    for (d, p) in c.disconnects.iter_mut().zip(e.disconnects) {
                        *d = add(*d, p);
                    }
                    c.bytes_wire = add(e.bytes_wire, l.bytes_wire);
                    c.bytes_inflated = add(e.bytes_inflated, l.bytes_inflated);
                    c.first_deliveries = add(e.first_deliveries, l.first_deliveries);
                }
                c
            })
            .collect();
        let elapsed = self.elapsed + later.elapsed;
        let handler_time = self.handler_time + later.handler_time;
        StatsSnapshot {
            partition: later.partition,
            elapsed,
            started_unix_ms: self.started_unix_ms,
            connects: add(self.connects, later.connects),
            disconnects,
            bytes_wire: add(self.bytes_wire, later.bytes_wire),
            bytes_inflated: add(self.bytes_inflated, later.bytes_inflated),
            activities: add(self.activities, later.activities),
            compliance: add(self.compliance, later.compliance),
            system: add(self.system, later.system),
            malformed: add(self.malformed, later.malformed),
            heartbeats: add(self.heartbeats, later.heartbeats),
            overlong: add(self.overlong, later.overlong),
            incomplete: add(self.incomplete, later.incomplete),
            duplicates_dropped: add(self.duplicates_dropped, later.duplicates_dropped),
            first_by_connection: firsts,
            dedupe_bytes: later.dedupe_bytes,
            last_record_unix_ms: later.last_record_unix_ms.or(self.last_record_unix_ms),
            backoff: later.backoff,
            handler_time,
            handler_share: share(handler_time, elapsed),
            connections,
        }
    }
}

/// `part` as a share of `whole` (0 when `whole` is zero).
pub fn share(part: Duration, whole: Duration) -> f64 {
    if whole.is_zero() {
        0.0
    } else {
        part.as_secs_f64() / whole.as_secs_f64()
    }
}

/// Where a Replay or Recovery job stands, for a progress line or a scrape.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct JobProgress {
    /// The whole range.
    pub range: (i64, i64),
    /// The furthest time reached: the end of the last completed window, or the time of the
    /// newest record since.
    pub reached: i64,
    /// Records handed out so far.
    pub records: u64,
    /// Requests made so far (windows and re-requests).
    pub requests: u32,
    /// Since the job started.
    pub elapsed: Duration,
    /// The job's partitions' counters so far (a Replay job's requests added up), when known.
    pub stats: Vec<StatsSnapshot>,
}

impl JobProgress {
    /// Progress figures (for jobs run outside `ReplayJob`, such as a Recovery).
    pub fn new(
        range: (i64, i64),
        reached: i64,
        records: u64,
        requests: u32,
        elapsed: Duration,
    ) -> Self {
        JobProgress {
            range,
            reached,
            records,
            requests,
            elapsed,
            stats: Vec::new(),
        }
    }

    /// The same figures with the partitions' counters.
    pub fn with_stats(mut self, stats: Vec<StatsSnapshot>) -> Self {
        self.stats = stats;
        self
    }

    /// Share of the range reached, 0..=1.
    pub fn fraction(&self) -> f64 {
        let span = (self.range.1 - self.range.0).max(1) as f64;
        ((self.reached - self.range.0) as f64 / span).clamp(0.0, 1.0)
    }

    /// Time left at the pace so far (`None` before anything is reached).
    pub fn estimate_left(&self) -> Option<Duration> {
        let f = self.fraction();
        (f > 0.0).then(|| self.elapsed.mul_f64((1.0 - f) / f))
    }
}

/// What a Rules client has done so far.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct RulesProgress {
    /// Requests made to the Rules API (retries included).
    pub requests: u64,
    /// Rules the service created.
    pub created: u64,
    /// Rules the service deleted.
    pub deleted: u64,
    /// Rules the service rejected as invalid.
    pub rejected: u64,
}

impl RulesProgress {
    /// The figures.
    pub fn new(requests: u64, created: u64, deleted: u64, rejected: u64) -> Self {
        RulesProgress {
            requests,
            created,
            deleted,
            rejected,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn snap(partition: u32, records: u64, secs: u64) -> StatsSnapshot {
        StatsSnapshot {
            partition,
            elapsed: Duration::from_secs(secs),
            started_unix_ms: 1_000,
            connects: 1,
            disconnects: [1, 0, 0, 0, 0, 0, 0, 0, 0, 0],
            bytes_wire: 10,
            bytes_inflated: 100,
            activities: records,
            compliance: 0,
            system: 1,
            malformed: 0,
            heartbeats: 2,
            overlong: 0,
            incomplete: 0,
            duplicates_dropped: 0,
            first_by_connection: [0; 4],
            dedupe_bytes: 0,
            last_record_unix_ms: Some(secs * 1000),
            backoff: Duration::ZERO,
            handler_time: Duration::from_secs(secs / 2),
            handler_share: 0.5,
            connections: vec![ConnectionSnapshot {
                connection: 1,
                connects: 1,
                disconnects: [1, 0, 0, 0, 0, 0, 0, 0, 0, 0],
                bytes_wire: 10,
                bytes_inflated: 100,
                first_deliveries: 0,
                connected: false,
                backoff: Duration::ZERO,
            }],
        }
    }

    #[test]
    fn a_later_run_adds_its_counters_and_keeps_its_gauges() {
        let sum = snap(0, 5, 10).then(&snap(0, 7, 30));
        assert_eq!((sum.activities, sum.connects, sum.bytes_wire), (12, 2, 20));
        assert_eq!(sum.disconnects_for(Ending::Dropped), 2);
        assert_eq!(sum.connections[0].bytes_inflated, 200);
        assert_eq!(sum.last_record_unix_ms, Some(30_000));
        assert_eq!(sum.elapsed, Duration::from_secs(40));
        assert_eq!(sum.handler_share, 20.0 / 40.0);
        assert_eq!(sum.started_unix_ms, 1_000);
    }

    #[test]
    fn progress_is_the_share_of_the_range_reached() {
        let p = JobProgress::new((100, 200), 150, 9, 1, Duration::from_secs(10));
        assert_eq!(p.fraction(), 0.5);
        assert_eq!(p.estimate_left(), Some(Duration::from_secs(10)));
        assert_eq!(
            JobProgress::new((100, 200), 100, 0, 1, Duration::ZERO).estimate_left(),
            None
        );
    }
}
