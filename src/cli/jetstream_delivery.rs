//! What `stream --jetstream` (plain and leased) and `publish` share: the publisher and its
//! subjects, the handler that queues records, the statistics line and metrics with the
//! publisher's figures, and the exit statuses of NATS and JetStream errors.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use gnip_stream::Error;
use gnip_stream::client::{ClientConfig, PartitionReport, StatsSnapshot};
use gnip_stream::sink::jetstream::{
    PublishQueue, PublishReport, PublishStats, Publisher, PublisherConfig,
};
use gnip_stream::unversioned::metrics::render_publish;
use gnip_stream::unversioned::nats::SubjectTemplate;

use super::jetstream_args::{JetStreamArgs, REFUSED};
use super::monitor::Monitor;
use super::report::{exit_code, say_partition_errors, stats_report};
use super::stderr;
use super::{AUTH, FATAL, USAGE};

/// The exit status for an error from NATS or JetStream.
fn status_for(e: &Error) -> u8 {
    match e {
        Error::NatsAuth { .. } => AUTH,
        Error::JetStream { .. } => REFUSED,
        Error::BadInput { .. } | Error::InvalidConfig { .. } => USAGE,
        _ => FATAL,
    }
}

pub(super) fn fail(e: &Error) -> u8 {
    stderr::event("error", "jetstream_failed")
        .field("error", e.to_string())
        .emit(&format!("gnip-stream: {e}"));
    status_for(e)
}

/// What the lease mode and the plain mode share: the publisher, its subjects, the metrics.
pub(super) struct Delivering {
    pub(super) publisher: Publisher,
    pub(super) subjects: Arc<BTreeMap<u32, Arc<str>>>,
    started: Instant,
}

impl Delivering {
    /// A publisher with no stream subjects (`publish`).
    pub(super) fn new(publisher: Publisher) -> Self {
        // The publisher's warnings (a record passed over) go to stderr as events.
        stderr::log_library();
        Delivering {
            publisher,
            subjects: Arc::default(),
            started: Instant::now(),
        }
    }

    pub(super) fn start(
        js: &JetStreamArgs,
        config: &ClientConfig,
        partitions: &[u32],
    ) -> Result<Self, u8> {
        stderr::log_library();
        let template = SubjectTemplate::parse(&js.subject).map_err(|e| fail(&e))?;
        let product = config.product().path_name();
        let subjects: BTreeMap<u32, Arc<str>> = partitions
            .iter()
            .map(|&p| (p, Arc::from(template.subject(product, p))))
            .collect();
        let list: Vec<String> = subjects.values().map(|s| s.to_string()).collect();
        let nats = js.nats().map_err(|e| fail(&e))?;
        let mut pc = PublisherConfig::new(nats);
        pc.window = js.window;
        pc.ack_timeout = js.ack_timeout;
        pc.queue = js.queue;
        pc.queue_bytes = js.queue_bytes;
        let publisher = Publisher::start(pc, &list).map_err(|e| fail(&e))?;
        stderr::event("info", "jetstream_connected")
            .field("subjects", list.clone())
            .emit(&format!(
                "gnip-stream: publishing to JetStream: {}",
                list.join(", ")
            ));
        Ok(Delivering {
            publisher,
            subjects: Arc::new(subjects),
            started: Instant::now(),
        })
    }

    pub(super) fn queue(&self) -> Option<PublishQueue> {
        self.publisher.queue()
    }

    /// Waits for the last acks; says how it ended; the exit status it makes (0 when the
    /// stream's own status is 0 and everything was acknowledged).
    pub(super) fn finish(self, drain: Duration, stream_status: u8) -> u8 {
        let r: PublishReport = self.publisher.finish(drain);
        let s = r.stats;
        stderr::event(
            if r.unacknowledged == 0 { "info" } else { "error" },
            "jetstream_summary",
        )
        .field("taken", s.taken)
        .field("acknowledged", s.delivered)
        .field("duplicates", s.duplicates)
        .field("resends", s.resends)
        .field("reconnects", s.reconnects)
        .field("skipped", s.skipped)
        .field("unacknowledged", r.unacknowledged)
        .field("elapsed_seconds", self.started.elapsed().as_secs_f64())
        .emit(&format!(
            "gnip-stream: JetStream: {} records taken, {} acknowledged ({} duplicates), {} resends, {} reconnects, {} not acknowledged, {} not published (too large)",
            s.taken, s.delivered, s.duplicates, s.resends, s.reconnects, r.unacknowledged, s.skipped
        ));
        if let Some(e) = &r.error {
            return fail(e);
        }
        if r.unacknowledged > 0 {
            stderr::event("error", "unacknowledged").field("records", r.unacknowledged).emit(
                &format!(
                    "gnip-stream: {} records taken from the service were not acknowledged by JetStream within --drain-timeout",
                    r.unacknowledged
                ),
            );
            return REFUSED;
        }
        stream_status
    }
}

/// The statistics line with the publisher's figures after the stream's.
pub(super) fn stats_line(
    elapsed: Duration,
    stats: &[StatsSnapshot],
    p: &gnip_stream::unversioned::metrics::PublishSnapshot,
) -> (stderr::Event, String) {
    let (event, text) = stats_report(elapsed, stats);
    let event = event
        .field("jetstream_queue", p.queue_depth)
        .field("jetstream_in_flight", p.in_flight)
        .field("jetstream_acks", p.delivered)
        .field("jetstream_duplicates", p.duplicates)
        .field("jetstream_resends", p.resends)
        .field("jetstream_reconnects", p.reconnects);
    let text = format!(
        "{text} | jetstream: queue {}, in flight {}, acks {}, duplicates {}, resends {}, reconnects {}",
        p.queue_depth, p.in_flight, p.delivered, p.duplicates, p.resends, p.reconnects
    );
    (event, text)
}

/// The metrics endpoint with the publisher's families added.
pub(super) fn serve_metrics(
    listen: Option<&str>,
    monitor: &mut Monitor,
    product: &'static str,
    stats: Arc<dyn Fn() -> Vec<StatsSnapshot> + Send + Sync>,
    publish: PublishStats,
) -> Result<(), u8> {
    monitor.extra = Some(Arc::new(move |out: &mut String| {
        render_publish(&publish.snapshot(), product, out)
    }));
    monitor.serve(listen, product, Arc::new(move || (stats(), None)))
}

/// The stream's own exit status, with its errors said (a stop is not an error).
pub(super) fn stream_status(reports: &[PartitionReport]) -> u8 {
    say_partition_errors(reports);
    exit_code(reports)
}
