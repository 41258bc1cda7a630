//! `gnip-stream stream --jetstream` (feature `jetstream`): records into JetStream instead of
//! stdout, on every partition or, with `--leases`, on those this host holds; its options, the
//! exit statuses, and what `jetstream-init` and `publish` (`jetstream_tools.rs`) share.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use gnip_stream::Error;
use gnip_stream::client::jetstream::{
    DEFAULT_ACK_TIMEOUT, DEFAULT_DRAIN_TIMEOUT, DEFAULT_QUEUE, Message, NatsOptions, PublishQueue,
    PublishReport, PublishStats, Publisher, PublisherConfig,
};
use gnip_stream::client::{
    Client, ClientConfig, Delivery, Flow, PartitionReport, StatsHandle, StatsSnapshot,
};
use gnip_stream::core::RecordKind;
use gnip_stream::metrics::render_publish;
use gnip_stream::nats::lease::{DEFAULT_HOSTS_PER_PARTITION, DEFAULT_LEASE_TTL_MS};
use gnip_stream::nats::servers::DEFAULT_SUBJECT;
use gnip_stream::nats::{DEFAULT_PUBLISH_WINDOW, SubjectTemplate};

use super::args::{Args, Usage, usage};
use super::log;
use super::monitor::Monitor;
use super::report::{exit_code, print_event, say_partition_errors, start_error, stats_report};
use super::stream::StreamArgs;
use super::{AUTH, FATAL, OK, USAGE};

/// JetStream refused (no stream captures the subject, permission, payload too large), or
/// records were left unacknowledged at stop.
pub const REFUSED: u8 = 7;

/// `stream`'s JetStream options.
#[derive(Debug, Clone)]
pub struct JetStreamArgs {
    pub urls: Option<String>,
    pub subject: String,
    pub ca_file: Option<PathBuf>,
    pub window: usize,
    pub ack_timeout: Duration,
    pub queue: usize,
    pub drain_timeout: Duration,
    pub leases: Option<String>,
    pub host_id: Option<String>,
    pub lease_ttl: Duration,
    pub hosts_per_partition: u8,
}

impl Default for JetStreamArgs {
    fn default() -> Self {
        JetStreamArgs {
            urls: None,
            subject: DEFAULT_SUBJECT.into(),
            ca_file: None,
            window: DEFAULT_PUBLISH_WINDOW,
            ack_timeout: DEFAULT_ACK_TIMEOUT,
            queue: DEFAULT_QUEUE,
            drain_timeout: DEFAULT_DRAIN_TIMEOUT,
            leases: None,
            host_id: None,
            lease_ttl: Duration::from_millis(DEFAULT_LEASE_TTL_MS),
            hosts_per_partition: DEFAULT_HOSTS_PER_PARTITION,
        }
    }
}

/// The lease-only flags, for the message when they come without `--leases`.
const LEASE_FLAGS: [&str; 3] = ["--host-id", "--lease-ttl", "--hosts-per-partition"];

impl JetStreamArgs {
    pub fn is_on(&self) -> bool {
        self.urls.is_some()
    }

    /// Takes `flag` if it is one of the JetStream options.
    pub fn flag(&mut self, flag: &str, it: &mut Args<'_>) -> Result<bool, Usage> {
        match flag {
            "--jetstream" => self.urls = Some(it.value(flag)?.to_owned()),
            "--subject" => self.subject = it.value(flag)?.to_owned(),
            "--nats-ca-file" => self.ca_file = Some(PathBuf::from(it.value(flag)?)),
            "--publish-window" => self.window = it.number_in(flag, 1..=1_000_000)?,
            "--ack-timeout" => self.ack_timeout = it.seconds(flag, false)?,
            "--queue" => self.queue = it.number_in(flag, 1..=10_000_000)?,
            "--drain-timeout" => self.drain_timeout = it.seconds(flag, true)?,
            "--leases" => self.leases = Some(it.value(flag)?.to_owned()),
            "--host-id" => self.host_id = Some(it.value(flag)?.to_owned()),
            "--lease-ttl" => self.lease_ttl = it.seconds(flag, false)?,
            "--hosts-per-partition" => self.hosts_per_partition = it.number_in(flag, 1..=8)?,
            _ => return Ok(false),
        }
        Ok(true)
    }

    /// The combinations that make no sense.
    pub fn check(&self, command: &'static str, a: &StreamArgs) -> Result<(), Usage> {
        let given = |f: &str| -> bool {
            let d = JetStreamArgs::default();
            match f {
                "--host-id" => self.host_id.is_some(),
                "--lease-ttl" => self.lease_ttl != d.lease_ttl,
                _ => self.hosts_per_partition != d.hosts_per_partition,
            }
        };
        if !self.is_on() {
            if self.leases.is_some() || self.subject != DEFAULT_SUBJECT {
                return Err(usage(command, "--leases and --subject go with --jetstream"));
            }
            return Ok(());
        }
        if self.leases.is_none() {
            if let Some(f) = LEASE_FLAGS.iter().find(|f| given(f)) {
                return Err(usage(command, format!("{f} goes with --leases BUCKET")));
            }
        }
        if a.count || a.max_records.is_some() {
            return Err(usage(
                command,
                "--count and --max-records are about stdout; with --jetstream records go to JetStream",
            ));
        }
        if self.leases.is_some() && a.redundant > 1 {
            return Err(usage(
                command,
                "--redundant with --leases: use --hosts-per-partition (redundancy across hosts)",
            ));
        }
        SubjectTemplate::parse(&self.subject)
            .map_err(|e| usage(command, format!("--subject: {e}")))?;
        Ok(())
    }

    pub(super) fn nats(&self) -> Result<NatsOptions, Error> {
        let mut o = NatsOptions::from_env(self.urls.as_deref().unwrap_or(""))?;
        o.ca_file = self.ca_file.clone();
        Ok(o)
    }
}

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
    log::event("error", "jetstream_failed")
        .field("error", e.to_string())
        .emit(&format!("gnip-stream: {e}"));
    status_for(e)
}

/// The handler: activities and compliance events into the queue (system messages and
/// heartbeats are not published); a stopped publisher stops the stream.
pub(super) fn handler(
    queue: PublishQueue,
    subjects: Arc<BTreeMap<u32, Arc<str>>>,
) -> impl Fn(&Delivery<'_>) -> Flow + Send + Sync + 'static {
    move |d: &Delivery<'_>| {
        if !matches!(
            d.record().kind(),
            RecordKind::Activity | RecordKind::Compliance(_)
        ) {
            return Flow::Continue;
        }
        let Some(subject) = subjects.get(&d.partition()) else {
            return Flow::Stop;
        };
        match Message::of_record(subject, d.record()).map(|m| queue.send(m)) {
            Some(Err(_)) => Flow::Stop,
            _ => Flow::Continue,
        }
    }
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
        Delivering {
            publisher,
            subjects: Arc::default(),
            started: Instant::now(),
        }
    }

    pub(super) fn start(
        a: &StreamArgs,
        config: &ClientConfig,
        partitions: &[u32],
    ) -> Result<Self, u8> {
        let js = &a.jetstream;
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
        let publisher = Publisher::start(pc, &list).map_err(|e| fail(&e))?;
        log::event("info", "jetstream_connected")
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
        log::event(
            if r.unacknowledged == 0 { "info" } else { "error" },
            "jetstream_summary",
        )
        .field("taken", s.taken)
        .field("acknowledged", s.delivered)
        .field("duplicates", s.duplicates)
        .field("resends", s.resends)
        .field("reconnects", s.reconnects)
        .field("unacknowledged", r.unacknowledged)
        .field("elapsed_seconds", self.started.elapsed().as_secs_f64())
        .emit(&format!(
            "gnip-stream: JetStream: {} records taken, {} acknowledged ({} duplicates), {} resends, {} reconnects, {} not acknowledged",
            s.taken, s.delivered, s.duplicates, s.resends, s.reconnects, r.unacknowledged
        ));
        if let Some(e) = &r.error {
            return fail(e);
        }
        if r.unacknowledged > 0 {
            log::event("error", "unacknowledged").field("records", r.unacknowledged).emit(
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
    p: &gnip_stream::metrics::PublishSnapshot,
) -> (log::Event, String) {
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
    a: &StreamArgs,
    monitor: &mut Monitor,
    product: &'static str,
    stats: Arc<dyn Fn() -> Vec<StatsSnapshot> + Send + Sync>,
    publish: PublishStats,
) -> Result<(), u8> {
    monitor.extra = Some(Arc::new(move |out: &mut String| {
        render_publish(&publish.snapshot(), product, out)
    }));
    monitor.serve(
        a.metrics_listen.as_deref(),
        product,
        Arc::new(move || (stats(), None)),
    )
}

/// `stream --jetstream`: every partition (or, with `--leases`, those this host holds) into
/// JetStream until stopped.
pub fn run_stream(a: &StreamArgs, config: ClientConfig, monitor: Monitor) -> u8 {
    if a.jetstream.leases.is_some() {
        return super::leased::run_leased(a, config, monitor);
    }
    let mut monitor = monitor;
    let partitions = config.partition_list();
    let d = match Delivering::start(a, &config, &partitions) {
        Ok(d) => d,
        Err(code) => return code,
    };
    let Some(queue) = d.queue() else {
        return d.finish(a.jetstream.drain_timeout, FATAL);
    };
    let product = config.product().path_name();
    let live: Arc<OnceLock<StatsHandle>> = Arc::default();
    let l = Arc::clone(&live);
    let stats = Arc::new(move || l.get().map(StatsHandle::snapshot).unwrap_or_default());
    if let Err(code) = serve_metrics(a, &mut monitor, product, stats, d.publisher.stats()) {
        return code;
    }
    let running = match Client::start_observed(
        config,
        handler(queue.clone(), Arc::clone(&d.subjects)),
        Some(Arc::new(print_event)),
    ) {
        Ok(r) => r,
        Err(e) => {
            drop(queue);
            d.finish(a.jetstream.drain_timeout, OK);
            return start_error(&e);
        }
    };
    let _ = live.set(running.stats_handle());
    let started = Instant::now();
    let interval = a.stats_interval.unwrap_or(Duration::ZERO);
    let stop = running.stop_handle();
    super::supervise::supervise(
        &running,
        None,
        interval,
        started,
        |r| stats_line(started.elapsed(), &r.stats(), &d.publisher.snapshot()),
        false,
        || {
            monitor.check(&running.stats());
            if d.publisher.failure().is_some() {
                stop.stop();
            }
        },
    );
    let reports = running.join();
    drop(queue);
    let code = stream_status(&reports);
    d.finish(a.jetstream.drain_timeout, code)
}

/// The stream's own exit status, with its errors said (a stop is not an error).
pub(super) fn stream_status(reports: &[PartitionReport]) -> u8 {
    say_partition_errors(reports);
    exit_code(reports)
}

#[cfg(test)]
mod tests {
    use super::super::jetstream_tools::{InitArgs, JsCommand};
    use super::super::{Command, parse};
    use super::*;

    fn p(s: &str) -> Result<Command, Usage> {
        parse(&s.split_whitespace().map(str::to_owned).collect::<Vec<_>>())
    }

    #[test]
    fn the_contract_parses() {
        let Ok(Command::Stream(a)) = p(
            "stream --url u --jetstream nats://a:1,tls://b:2 --subject x.{product}.{partition} --nats-ca-file ca.pem --publish-window 64 --ack-timeout 2 --queue 100 --drain-timeout 0 --backfill-on-start 3 --leases L --host-id h1 --lease-ttl 6 --hosts-per-partition 2",
        ) else {
            panic!()
        };
        let j = &a.jetstream;
        assert_eq!(j.urls.as_deref(), Some("nats://a:1,tls://b:2"));
        assert_eq!(
            (j.window, j.ack_timeout, j.queue, j.drain_timeout),
            (64, Duration::from_secs(2), 100, Duration::ZERO)
        );
        assert_eq!(
            (
                j.leases.as_deref(),
                j.host_id.as_deref(),
                j.lease_ttl,
                j.hosts_per_partition
            ),
            (Some("L"), Some("h1"), Duration::from_secs(6), 2)
        );
        assert_eq!(a.backfill_on_start, 3);
        let Ok(Command::JetStream(JsCommand::Init(InitArgs {
            replicas,
            duplicate_window_ns,
            lease,
            ..
        }))) = p(
            "jetstream-init --jetstream nats://a:1 --stream S --subjects gnip.> --replicas 1 --duplicate-window 2m --lease-bucket L --lease-ttl 30",
        )
        else {
            panic!()
        };
        assert_eq!(
            (replicas, duplicate_window_ns, lease),
            (
                1,
                120_000_000_000,
                Some(("L".into(), Duration::from_secs(30)))
            )
        );
        assert!(matches!(
            p("publish --jetstream nats://a:1 --subject s.x --file f.ndjson"),
            Ok(Command::JetStream(JsCommand::Publish(_)))
        ));
    }

    #[test]
    fn usage_errors_say_what_is_wrong() {
        for (args, says) in [
            ("stream --url u --leases L", "go with --jetstream"),
            (
                "stream --url u --jetstream n --host-id h",
                "--host-id goes with --leases",
            ),
            (
                "stream --url u --jetstream n --lease-ttl 5",
                "--lease-ttl goes with --leases",
            ),
            (
                "stream --url u --jetstream n --count",
                "with --jetstream records go",
            ),
            (
                "stream --url u --jetstream n --subject a.{label}",
                "only {product} and {partition}",
            ),
            ("stream --url u --jetstream n --subject a.>", "wildcard"),
            (
                "stream --url u --jetstream n --leases L --redundant 2",
                "--hosts-per-partition",
            ),
            ("stream --url u --backfill-on-start 6", "1 to 5"),
            ("stream --url u --jetstream n --publish-window 0", "1 to"),
            (
                "replay --url u --from 202601010000 --to 202601010100 --jetstream n",
                "unknown option",
            ),
            (
                "jetstream-init --stream S --subjects x",
                "--jetstream URLS is required",
            ),
            (
                "jetstream-init --jetstream n --subjects x",
                "--stream NAME is required",
            ),
            (
                "jetstream-init --jetstream n --stream S --subjects x --lease-bucket L",
                "go together",
            ),
            (
                "jetstream-init --jetstream n --stream S --subjects x --duplicate-window 10x",
                "not a duration",
            ),
            (
                "jetstream-init --jetstream n --stream S --subjects x --replicas 7",
                "1 to 5",
            ),
            ("publish --jetstream n", "--subject S is required"),
            (
                "publish --jetstream n --subject s --stream S",
                "unknown option",
            ),
        ] {
            let e = p(args).unwrap_err();
            assert!(e.message.contains(says), "{args}: {}", e.message);
        }
    }
}
