//! Every metric `gnip-stream` exports, rendered from snapshots: one function from figures to
//! the text a scrape returns. The README's metrics table lists the same names.

use super::exposition::{Exposition, Kind};
use super::snapshot::{JobProgress, RulesProgress, StatsSnapshot};
use crate::protocol::policy::Ending;

/// Which kind of job a [`JobProgress`] is, for the `job` label.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobKind {
    /// A Replay job.
    Replay,
    /// A Recovery job.
    Recovery,
}

impl JobKind {
    fn label(self) -> &'static str {
        match self {
            JobKind::Replay => "replay",
            JobKind::Recovery => "recovery",
        }
    }
}

/// What one scrape shows.
#[derive(Debug, Clone, Copy, Default)]
#[non_exhaustive]
pub struct MetricsView<'a> {
    /// The `product` label: the URL's product segment (`powertrack`, `decahose`, …).
    pub product: &'a str,
    /// Every partition's counters.
    pub partitions: &'a [StatsSnapshot],
    /// Slow-reader warnings given per partition, as `(partition, count)` (left out when empty).
    pub slow_reader_warnings: &'a [(u32, u64)],
    /// A Replay or Recovery job under way.
    pub job: Option<(JobKind, &'a JobProgress)>,
    /// A Rules client's work.
    pub rules: Option<&'a RulesProgress>,
}

impl<'a> MetricsView<'a> {
    /// A view of `partitions` of a `product` stream.
    pub fn new(product: &'a str, partitions: &'a [StatsSnapshot]) -> Self {
        MetricsView {
            product,
            partitions,
            ..MetricsView::default()
        }
    }

    /// With the slow-reader warnings given per partition.
    pub fn slow_reader_warnings(mut self, warnings: &'a [(u32, u64)]) -> Self {
        self.slow_reader_warnings = warnings;
        self
    }

    /// With a job's progress.
    pub fn job(mut self, kind: JobKind, progress: &'a JobProgress) -> Self {
        self.job = Some((kind, progress));
        self
    }

    /// With a Rules client's work.
    pub fn rules(mut self, rules: &'a RulesProgress) -> Self {
        self.rules = Some(rules);
        self
    }
}

/// Every metric's name starts with this.
pub(super) const PREFIX: &str = "gnip_stream_";

/// A family per partition: its name (after the prefix), type, help and value.
type PartitionFamily = (&'static str, Kind, &'static str, fn(&StatsSnapshot) -> f64);

const PARTITION_FAMILIES: &[PartitionFamily] = &[
    (
        "heartbeats_total",
        Kind::Counter,
        "Heartbeats (empty lines) received.",
        |s| s.heartbeats as f64,
    ),
    (
        "duplicates_dropped_total",
        Kind::Counter,
        "Records received again (redundant connection, backfill, Replay resume) and not handed out twice.",
        |s| s.duplicates_dropped as f64,
    ),
    (
        "overlong_records_total",
        Kind::Counter,
        "Records longer than the maximum record size, skipped.",
        |s| s.overlong as f64,
    ),
    (
        "incomplete_records_total",
        Kind::Counter,
        "Records cut off by a disconnect, dropped (backfill or the next connection brings them).",
        |s| s.incomplete as f64,
    ),
    (
        "dedupe_window_bytes",
        Kind::Gauge,
        "Memory the partition's de-duplication window holds (0 when off).",
        |s| s.dedupe_bytes as f64,
    ),
    (
        "last_record_timestamp_seconds",
        Kind::Gauge,
        "When the last record arrived (before the first: when the partition started), seconds since the epoch.",
        |s| s.last_record_unix_ms.unwrap_or(s.started_unix_ms) as f64 / 1000.0,
    ),
    (
        "handler_seconds_total",
        Kind::Counter,
        "Time spent in the record handler; its rate is the handler share over that range.",
        |s| s.handler_time.as_secs_f64(),
    ),
    (
        "handler_share",
        Kind::Gauge,
        "Share of the partition's time spent in the record handler since it started (0..1 per connection).",
        |s| s.handler_share,
    ),
];

/// A family per connection.
type ConnectionFamily = (
    &'static str,
    Kind,
    &'static str,
    fn(&super::snapshot::ConnectionSnapshot) -> f64,
);

const CONNECTION_FAMILIES: &[ConnectionFamily] = &[
    (
        "connects_total",
        Kind::Counter,
        "Connection attempts.",
        |c| c.connects as f64,
    ),
    (
        "connected",
        Kind::Gauge,
        "1 while the connection is streaming, else 0.",
        |c| u8::from(c.connected).into(),
    ),
    (
        "backoff_seconds",
        Kind::Gauge,
        "The wait before the next connection attempt now (0 when connected).",
        |c| c.backoff.as_secs_f64(),
    ),
    (
        "received_bytes_total",
        Kind::Counter,
        "Compressed bytes received from the service.",
        |c| c.bytes_wire as f64,
    ),
    (
        "inflated_bytes_total",
        Kind::Counter,
        "Bytes after inflating.",
        |c| c.bytes_inflated as f64,
    ),
    (
        "first_deliveries_total",
        Kind::Counter,
        "Records this connection delivered before the partition's others (de-duplication on).",
        |c| c.first_deliveries as f64,
    ),
];

/// Appends the scrape's text for `view` to `out`.
pub fn render(view: &MetricsView<'_>, out: &mut String) {
    let mut e = Exposition::new(out);
    let mut name = String::with_capacity(64);
    let mut full = |n: &str| -> String {
        name.clear();
        name.push_str(PREFIX);
        name.push_str(n);
        name.clone()
    };
    let product = view.product;
    let numbers: Vec<String> = view
        .partitions
        .iter()
        .map(|s| s.partition.to_string())
        .collect();

    // Records by kind.
    let records = full("records_total");
    e.family(
        &records,
        Kind::Counter,
        "Records handed to the handler, by kind (activity, compliance, system, malformed).",
    );
    for (s, p) in view.partitions.iter().zip(&numbers) {
        for (kind, n) in [
            ("activity", s.activities),
            ("compliance", s.compliance),
            ("system", s.system),
            ("malformed", s.malformed),
        ] {
            e.sample(
                &records,
                &[("product", product), ("partition", p), ("kind", kind)],
                n as f64,
            );
        }
    }
    for (n, kind, help, value) in PARTITION_FAMILIES {
        let n = full(n);
        e.family(&n, *kind, help);
        for (s, p) in view.partitions.iter().zip(&numbers) {
            e.sample(&n, &[("product", product), ("partition", p)], value(s));
        }
    }
    if !view.slow_reader_warnings.is_empty() {
        let n = full("slow_reader_warnings_total");
        e.family(
            &n,
            Kind::Counter,
            "Warnings that the handler share stayed above the threshold (the service drops slow readers).",
        );
        for (partition, count) in view.slow_reader_warnings {
            let p = partition.to_string();
            e.sample(
                &n,
                &[("product", product), ("partition", &p)],
                *count as f64,
            );
        }
    }

    // Per connection.
    let conn_numbers: [&str; 4] = ["1", "2", "3", "4"];
    let conn_label = |c: u8| conn_numbers[usize::from(c.clamp(1, 4)) - 1];
    for (n, kind, help, value) in CONNECTION_FAMILIES {
        let n = full(n);
        e.family(&n, *kind, help);
        for (s, p) in view.partitions.iter().zip(&numbers) {
            for c in &s.connections {
                let labels = [
                    ("product", product),
                    ("partition", p.as_str()),
                    ("connection", conn_label(c.connection)),
                ];
                e.sample(&n, &labels, value(c));
            }
        }
    }
    let n = full("disconnects_total");
    e.family(
        &n,
        Kind::Counter,
        "Connection endings, by reason (every HTTP status counts as http-error).",
    );
    for (s, p) in view.partitions.iter().zip(&numbers) {
        for c in &s.connections {
            for ending in Ending::ALL {
                let labels = [
                    ("product", product),
                    ("partition", p.as_str()),
                    ("connection", conn_label(c.connection)),
                    ("reason", ending.name()),
                ];
                e.sample(&n, &labels, c.disconnects[ending.index()] as f64);
            }
        }
    }

    if let Some((kind, job)) = view.job {
        let labels = [("product", product), ("job", kind.label())];
        e.singles(
            PREFIX,
            &labels,
            &[
                (
                    "job_range_start_timestamp_seconds",
                    Kind::Gauge,
                    "Start of the job's range, seconds since the epoch.",
                    job.range.0 as f64,
                ),
                (
                    "job_range_end_timestamp_seconds",
                    Kind::Gauge,
                    "End of the job's range, seconds since the epoch.",
                    job.range.1 as f64,
                ),
                (
                    "job_reached_timestamp_seconds",
                    Kind::Gauge,
                    "The furthest time the job has reached, seconds since the epoch.",
                    job.reached as f64,
                ),
                (
                    "job_progress_ratio",
                    Kind::Gauge,
                    "Share of the job's range reached, 0..1.",
                    job.fraction(),
                ),
                (
                    "job_records_total",
                    Kind::Counter,
                    "Records the job handed out (after its de-duplication).",
                    job.records as f64,
                ),
                (
                    "job_requests_total",
                    Kind::Counter,
                    "Requests the job made (windows and re-requests).",
                    f64::from(job.requests),
                ),
            ],
        );
    }
    if let Some(r) = view.rules {
        e.singles(
            PREFIX,
            &[("product", product)],
            &[
                (
                    "rules_requests_total",
                    Kind::Counter,
                    "Requests made to the Rules API (retries included).",
                    r.requests as f64,
                ),
                (
                    "rules_created_total",
                    Kind::Counter,
                    "Rules the service created.",
                    r.created as f64,
                ),
                (
                    "rules_deleted_total",
                    Kind::Counter,
                    "Rules the service deleted.",
                    r.deleted as f64,
                ),
                (
                    "rules_rejected_total",
                    Kind::Counter,
                    "Rules the service rejected as invalid.",
                    r.rejected as f64,
                ),
            ],
        );
    }
}

/// Appends the command's heap gauges: the bytes allocated now (`live`) and at most so far
/// (`peak`), which the command counts with its own allocator (a library user has its own).
pub fn render_heap(live: usize, peak: usize, out: &mut String) {
    Exposition::new(out).singles(
        PREFIX,
        &[],
        &[
            (
                "heap_bytes",
                Kind::Gauge,
                "Bytes the command has allocated on the heap now.",
                live as f64,
            ),
            (
                "heap_peak_bytes",
                Kind::Gauge,
                "The most bytes the command has had allocated on the heap at once.",
                peak as f64,
            ),
        ],
    );
}

#[cfg(test)]
mod tests {
    use super::super::snapshot::ConnectionSnapshot;
    use super::*;
    use std::time::Duration;

    fn partition(p: u32, connections: u8) -> StatsSnapshot {
        let conn = |c: u8| ConnectionSnapshot {
            connection: c,
            connects: 2,
            disconnects: [1, 0, 0, 0, 0, 0, 0, 0, 0, 0],
            bytes_wire: 1000,
            bytes_inflated: 9000,
            first_deliveries: u64::from(c) * 10,
            connected: c == 1,
            backoff: Duration::from_millis(if c == 1 { 0 } else { 1500 }),
        };
        StatsSnapshot {
            partition: p,
            elapsed: Duration::from_secs(10),
            started_unix_ms: 1_764_000_000_000,
            connects: 2 * u64::from(connections),
            disconnects: [u64::from(connections), 0, 0, 0, 0, 0, 0, 0, 0, 0],
            bytes_wire: 1000,
            bytes_inflated: 9000,
            activities: 40,
            compliance: 2,
            system: 1,
            malformed: 0,
            heartbeats: 3,
            overlong: 1,
            incomplete: 0,
            duplicates_dropped: 5,
            first_by_connection: [10, 20, 0, 0],
            dedupe_bytes: 4096,
            last_record_unix_ms: None,
            backoff: Duration::ZERO,
            handler_time: Duration::from_millis(2500),
            handler_share: 0.25,
            connections: (1..=connections).map(conn).collect(),
        }
    }

    fn line<'a>(text: &'a str, prefix: &str) -> &'a str {
        text.lines()
            .find(|l| l.starts_with(prefix))
            .unwrap_or_else(|| panic!("no line {prefix} in\n{text}"))
    }

    #[test]
    fn every_partition_and_connection_has_its_samples() {
        let stats = [partition(1, 2), partition(2, 1)];
        let mut s = String::new();
        render(&MetricsView::new("decahose", &stats), &mut s);
        assert_eq!(
            line(
                &s,
                "gnip_stream_records_total{product=\"decahose\",partition=\"2\",kind=\"activity\"}"
            ),
            "gnip_stream_records_total{product=\"decahose\",partition=\"2\",kind=\"activity\"} 40"
        );
        assert!(
            line(
                &s,
                "gnip_stream_backoff_seconds{product=\"decahose\",partition=\"1\",connection=\"2\"}"
            )
            .ends_with(" 1.5")
        );
        assert!(
            line(
                &s,
                "gnip_stream_connected{product=\"decahose\",partition=\"1\",connection=\"1\"}"
            )
            .ends_with(" 1")
        );
        // Before any record, the last-record time is the partition's start.
        assert!(
            line(
                &s,
                "gnip_stream_last_record_timestamp_seconds{product=\"decahose\",partition=\"1\"}"
            )
            .ends_with(" 1764000000")
        );
        assert!(
            line(&s, "gnip_stream_disconnects_total{product=\"decahose\",partition=\"1\",connection=\"2\",reason=\"dropped\"}")
                .ends_with(" 1")
        );
        // Three connections, ten reasons each.
        assert_eq!(
            s.lines()
                .filter(|l| l.starts_with("gnip_stream_disconnects_total{"))
                .count(),
            30
        );
        assert_eq!(
            s.lines()
                .filter(|l| l.starts_with("gnip_stream_connects_total{"))
                .count(),
            3
        );
        // Every family once, with HELP before TYPE before its samples.
        let mut seen = std::collections::HashSet::new();
        let mut current = "";
        for l in s.lines() {
            if let Some(rest) = l.strip_prefix("# TYPE ") {
                current = rest.split(' ').next().unwrap_or("");
                assert!(seen.insert(current.to_owned()), "{current} twice");
            } else if !l.starts_with('#') {
                assert!(l.starts_with(current), "{l} outside its family {current}");
            }
        }
        assert!(!s.contains("job_"), "no job, no job families");
    }

    #[test]
    fn jobs_and_rules_have_their_families() {
        let stats = [partition(0, 1)];
        let job = JobProgress::new((1000, 2000), 1500, 7, 2, Duration::from_secs(3));
        let rules = RulesProgress::new(3, 10, 2, 1);
        let warnings = [(0, 2)];
        let mut s = String::new();
        let view = MetricsView::new("powertrack", &stats)
            .job(JobKind::Replay, &job)
            .rules(&rules)
            .slow_reader_warnings(&warnings);
        render(&view, &mut s);
        assert_eq!(
            line(&s, "gnip_stream_job_progress_ratio"),
            "gnip_stream_job_progress_ratio{product=\"powertrack\",job=\"replay\"} 0.5"
        );
        assert!(line(&s, "gnip_stream_job_requests_total{").ends_with(" 2"));
        assert!(line(&s, "gnip_stream_rules_created_total{").ends_with(" 10"));
        assert!(line(&s, "gnip_stream_slow_reader_warnings_total{").ends_with(" 2"));
    }

    #[test]
    fn the_heap_gauges_carry_their_two_figures() {
        let mut out = String::new();
        render_heap(402_470, 1_048_576, &mut out);
        assert!(
            out.contains("# TYPE gnip_stream_heap_bytes gauge\n"),
            "{out}"
        );
        assert!(out.contains("\ngnip_stream_heap_bytes 402470\n"), "{out}");
        assert!(
            out.contains("\ngnip_stream_heap_peak_bytes 1048576\n"),
            "{out}"
        );
    }
}
