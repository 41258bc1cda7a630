//! JetStream in the command (feature `jetstream`): `stream --jetstream` (records into
//! JetStream, optionally on leased partitions), `jetstream-init` (the stream and the lease
//! bucket) and `publish` (NDJSON from a file or stdin).

use std::collections::BTreeMap;
use std::io::BufRead;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, mpsc};
use std::time::{Duration, Instant};

use gnip_stream::Error;
use gnip_stream::client::jetstream::{
    DEFAULT_ACK_TIMEOUT, DEFAULT_DRAIN_TIMEOUT, DEFAULT_QUEUE, Ensured, LeaseConfig, LeaseEvent,
    Leases, Message, NatsConnection, NatsOptions, PublishQueue, PublishReport, Publisher,
    PublisherConfig, bucket_spec, ensure_stream,
};
use gnip_stream::client::{
    Client, ClientConfig, Delivery, Flow, PartitionReport, Running, StatsHandle, StatsSnapshot,
};
use gnip_stream::core::{Record, RecordKind};
use gnip_stream::metrics::render_publish;
use gnip_stream::nats::api::{StreamSpec, parse_duration_ns};
use gnip_stream::nats::lease::{DEFAULT_HOSTS_PER_PARTITION, DEFAULT_LEASE_TTL_MS};
use gnip_stream::nats::servers::DEFAULT_SUBJECT;
use gnip_stream::nats::{DEFAULT_PUBLISH_WINDOW, SubjectTemplate};
use gnip_stream::protocol::endpoint::{StreamPath, UrlParts};
use gnip_stream::protocol::product::MAX_BACKFILL_MINUTES;

use super::args::{Arg, Args, Usage, usage};
use super::log;
use super::monitor::Monitor;
use super::report::{exit_code, print_event, start_error, stats_report};
use super::stream::StreamArgs;
use super::{AUTH, Command, FATAL, OK, USAGE};

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

    fn nats(&self) -> Result<NatsOptions, Error> {
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

fn fail(e: &Error) -> u8 {
    log::event("error", "jetstream_failed")
        .field("error", e.to_string())
        .emit(&format!("gnip-stream: {e}"));
    status_for(e)
}

/// The handler: activities and compliance events into the queue (system messages and
/// heartbeats are not published); a stopped publisher stops the stream.
fn handler(
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
struct Delivering {
    publisher: Publisher,
    subjects: Arc<BTreeMap<u32, Arc<str>>>,
    started: Instant,
}

impl Delivering {
    fn start(a: &StreamArgs, config: &ClientConfig, partitions: &[u32]) -> Result<Self, u8> {
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

    fn queue(&self) -> Option<PublishQueue> {
        self.publisher.queue()
    }

    /// Waits for the last acks; says how it ended; the exit status it makes (0 when the
    /// stream's own status is 0 and everything was acknowledged).
    fn finish(self, drain: Duration, stream_status: u8) -> u8 {
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
fn stats_line(
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
fn serve_metrics(
    a: &StreamArgs,
    monitor: &mut Monitor,
    product: &'static str,
    stats: Arc<dyn Fn() -> Vec<StatsSnapshot> + Send + Sync>,
    publish: PublishQueue,
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
        return run_leased(a, config, monitor);
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
    if let Err(code) = serve_metrics(a, &mut monitor, product, stats, queue.clone()) {
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
fn stream_status(reports: &[PartitionReport]) -> u8 {
    for r in reports {
        if let Some(e) = &r.error {
            if r.ending != gnip_stream::protocol::policy::Ending::Stopped {
                log::event("error", "partition_stopped")
                    .partition(r.partition)
                    .field("reason", r.ending.name())
                    .field("error", e.to_string())
                    .emit(&format!(
                        "gnip-stream: partition {} stopped ({}): {e}",
                        r.partition,
                        r.ending.name()
                    ));
            }
        }
    }
    exit_code(reports)
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// This host's id: `--host-id`, else the machine's host name (letters, digits, `-`, `_`).
fn host_id(given: Option<&str>) -> String {
    if let Some(h) = given {
        return h.to_owned();
    }
    let name = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| std::fs::read_to_string("/etc/hostname"))
        .unwrap_or_else(|_| "host".into());
    let clean: String = name
        .trim()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if clean.is_empty() {
        "host".into()
    } else {
        clean
    }
}

/// `stream --jetstream --leases BUCKET`: the partitions this host holds a lease on, each
/// started when gained (with the backfill the lease says) and stopped when lost.
fn run_leased(a: &StreamArgs, config: ClientConfig, mut monitor: Monitor) -> u8 {
    let js = &a.jetstream;
    let product = config.product().path_name();
    let label = UrlParts::split(config.base_url())
        .and_then(|u| StreamPath::parse(u.path))
        .map(|p| p.label)
        .unwrap_or_default();
    let partitions = config.partition_list();
    let host = host_id(js.host_id.as_deref());
    let nats = match js.nats() {
        Ok(n) => n,
        Err(e) => return fail(&e),
    };
    let (tx, rx) = mpsc::channel();
    let lease_config = LeaseConfig {
        bucket: js.leases.clone().unwrap_or_default(),
        product: product.to_owned(),
        label,
        host_id: host.clone(),
        ttl: js.lease_ttl,
        per_partition: js.hosts_per_partition,
        partitions: partitions.clone(),
        backfill_on_start: (a.backfill_on_start > 0).then_some(a.backfill_on_start),
    };
    let d = match Delivering::start(a, &config, &partitions) {
        Ok(d) => d,
        Err(code) => return code,
    };
    let leases = match Leases::start(nats, lease_config, tx) {
        Ok(l) => l,
        Err(e) => {
            let code = fail(&e);
            d.finish(js.drain_timeout, OK);
            return code;
        }
    };
    let Some(queue) = d.queue() else {
        leases.stop();
        return d.finish(js.drain_timeout, FATAL);
    };
    log::event("info", "leases_started")
        .field("host_id", host.clone())
        .field("partitions", partitions.clone())
        .emit(&format!(
            "gnip-stream: host {host} waiting for leases on partitions {partitions:?}"
        ));
    let running: Arc<Mutex<BTreeMap<u32, Running>>> = Arc::default();
    let r = Arc::clone(&running);
    let stats = Arc::new(move || {
        r.lock()
            .map(|m| m.values().flat_map(Running::stats).collect())
            .unwrap_or_default()
    });
    if let Err(code) = serve_metrics(a, &mut monitor, product, stats, queue.clone()) {
        leases.stop();
        drop(queue);
        return d.finish(js.drain_timeout, code);
    }
    let mut reports: Vec<PartitionReport> = Vec::new();
    let mut code = OK;
    let mut last_tick = Instant::now();
    let started = Instant::now();
    let interval = a.stats_interval.unwrap_or(Duration::ZERO);
    let mut next_stats = interval;
    loop {
        if super::signal::received() || d.publisher.failure().is_some() {
            break;
        }
        match rx.recv_timeout(Duration::from_millis(50)) {
            Ok(LeaseEvent::Gained(g)) => {
                let backfill = g.backfill_minutes.unwrap_or(0).min(MAX_BACKFILL_MINUTES);
                log::event("info", "lease_gained")
                    .partition(g.partition)
                    .field("backfill_minutes", backfill)
                    .emit(&format!(
                        "gnip-stream: partition {}: lease gained, starting (backfill {backfill} min)",
                        g.partition
                    ));
                let c = config
                    .clone()
                    .partitions(&[g.partition])
                    .backfill_on_start(backfill);
                match Client::start_observed(
                    c,
                    handler(queue.clone(), Arc::clone(&d.subjects)),
                    Some(Arc::new(print_event)),
                ) {
                    Ok(r) => {
                        lock(&running).insert(g.partition, r);
                    }
                    Err(e) => {
                        code = start_error(&e);
                        break;
                    }
                }
            }
            Ok(LeaseEvent::Lost(p)) => {
                log::event("warn", "lease_lost")
                    .partition(p)
                    .emit(&format!("gnip-stream: partition {p}: lease lost, stopping"));
                let r = lock(&running).remove(&p);
                if let Some(r) = r {
                    reports.extend(r.stop_and_join());
                }
            }
            Ok(LeaseEvent::Failed(e)) => {
                code = fail(&e);
                break;
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
        }
        // A partition that ended by itself (credentials refused, …) ends the host.
        let ended: Vec<u32> = lock(&running)
            .iter()
            .filter(|(_, r)| r.is_finished())
            .map(|(p, _)| *p)
            .collect();
        for p in ended {
            if let Some(r) = lock(&running).remove(&p) {
                let rs = r.join();
                code = code.max(stream_status(&rs));
                reports.extend(rs);
            }
        }
        if code != OK {
            break;
        }
        if last_tick.elapsed() >= Duration::from_secs(1) {
            last_tick = Instant::now();
            let stats: Vec<StatsSnapshot> =
                lock(&running).values().flat_map(Running::stats).collect();
            monitor.check(&stats);
        }
        if !interval.is_zero() && started.elapsed() >= next_stats {
            next_stats += interval;
            let stats: Vec<StatsSnapshot> =
                lock(&running).values().flat_map(Running::stats).collect();
            let (event, text) = stats_line(started.elapsed(), &stats, &d.publisher.snapshot());
            event.emit(&text);
        }
    }
    leases.stop();
    let all: Vec<Running> = std::mem::take(&mut *lock(&running)).into_values().collect();
    for r in all {
        reports.extend(r.stop_and_join());
    }
    drop(queue);
    let stream = stream_status(&reports);
    d.finish(js.drain_timeout, code.max(stream))
}

/// `jetstream-init` and `publish`.
#[derive(Debug, Clone)]
pub enum JsCommand {
    Init {
        urls: String,
        ca_file: Option<PathBuf>,
        stream: String,
        subjects: String,
        replicas: u32,
        duplicate_window_ns: u64,
        lease: Option<(String, Duration)>,
    },
    Publish {
        urls: String,
        ca_file: Option<PathBuf>,
        subject: String,
        file: Option<PathBuf>,
        window: usize,
        ack_timeout: Duration,
        drain_timeout: Duration,
    },
}

/// Parses `jetstream-init` or `publish`.
pub fn parse(command: &'static str, args: &[String]) -> Result<Command, Usage> {
    let mut it = Args::new(command, args);
    let (mut urls, mut ca_file, mut stream, mut subjects, mut subject, mut file) =
        (None, None, None, None, None, None);
    let (mut replicas, mut window_ns) = (3u32, 600_000_000_000u64);
    let (mut bucket, mut ttl) = (None, None);
    let mut window = DEFAULT_PUBLISH_WINDOW;
    let (mut ack_timeout, mut drain_timeout) = (DEFAULT_ACK_TIMEOUT, DEFAULT_DRAIN_TIMEOUT);
    let init = command == "jetstream-init";
    while let Some(arg) = it.next()? {
        let Arg::Flag(f) = arg else {
            return Err(it.unknown(arg));
        };
        match f {
            "-h" | "--help" => return Ok(Command::Help(command)),
            "--jetstream" => urls = Some(it.value(f)?.to_owned()),
            "--nats-ca-file" => ca_file = Some(PathBuf::from(it.value(f)?)),
            "--stream" if init => stream = Some(it.value(f)?.to_owned()),
            "--subjects" if init => subjects = Some(it.value(f)?.to_owned()),
            "--replicas" if init => replicas = it.number_in(f, 1..=5)?,
            "--duplicate-window" if init => {
                let v = it.value(f)?;
                window_ns = parse_duration_ns(v).ok_or_else(|| {
                    usage(
                        command,
                        format!("--duplicate-window: '{v}' is not a duration (90s, 10m, 2h)"),
                    )
                })?;
            }
            "--lease-bucket" if init => bucket = Some(it.value(f)?.to_owned()),
            "--lease-ttl" if init => ttl = Some(it.seconds(f, false)?),
            "--subject" if !init => subject = Some(it.value(f)?.to_owned()),
            "--file" if !init => file = Some(PathBuf::from(it.value(f)?)),
            "--publish-window" if !init => window = it.number_in(f, 1..=1_000_000)?,
            "--ack-timeout" if !init => ack_timeout = it.seconds(f, false)?,
            "--drain-timeout" if !init => drain_timeout = it.seconds(f, true)?,
            _ => return Err(it.unknown(arg)),
        }
    }
    let urls = urls.ok_or_else(|| usage(command, "--jetstream URLS is required"))?;
    if init {
        let stream = stream.ok_or_else(|| usage(command, "--stream NAME is required"))?;
        let subjects = subjects.ok_or_else(|| usage(command, "--subjects PATTERN is required"))?;
        let lease = match (bucket, ttl) {
            (Some(b), Some(t)) => Some((b, t)),
            (None, None) => None,
            _ => {
                return Err(usage(command, "--lease-bucket and --lease-ttl go together"));
            }
        };
        Ok(Command::JetStream(JsCommand::Init {
            urls,
            ca_file,
            stream,
            subjects,
            replicas,
            duplicate_window_ns: window_ns,
            lease,
        }))
    } else {
        let subject = subject.ok_or_else(|| usage(command, "--subject S is required"))?;
        gnip_stream::nats::encode::check_subject(&subject)
            .map_err(|e| usage(command, format!("--subject: {e}")))?;
        Ok(Command::JetStream(JsCommand::Publish {
            urls,
            ca_file,
            subject,
            file,
            window,
            ack_timeout,
            drain_timeout,
        }))
    }
}

/// Runs `jetstream-init` or `publish`.
pub fn run(c: JsCommand) -> u8 {
    match c {
        JsCommand::Init {
            urls,
            ca_file,
            stream,
            subjects,
            replicas,
            duplicate_window_ns,
            lease,
        } => init(
            &urls,
            ca_file,
            &stream,
            &subjects,
            replicas,
            duplicate_window_ns,
            lease,
        ),
        JsCommand::Publish {
            urls,
            ca_file,
            subject,
            file,
            window,
            ack_timeout,
            drain_timeout,
        } => publish(
            &urls,
            ca_file,
            &subject,
            file,
            window,
            ack_timeout,
            drain_timeout,
        ),
    }
}

fn connect(urls: &str, ca_file: Option<PathBuf>) -> Result<(NatsOptions, NatsConnection), Error> {
    let mut o = NatsOptions::from_env(urls)?;
    o.ca_file = ca_file;
    let c = NatsConnection::connect(&o, 0)?;
    Ok((o, c))
}

fn init(
    urls: &str,
    ca_file: Option<PathBuf>,
    stream: &str,
    subjects: &str,
    replicas: u32,
    duplicate_window_ns: u64,
    lease: Option<(String, Duration)>,
) -> u8 {
    let (_, mut conn) = match connect(urls, ca_file) {
        Ok(c) => c,
        Err(e) => return fail(&e),
    };
    let patience = Duration::from_secs(10);
    let spec = StreamSpec::records(stream, subjects, replicas, duplicate_window_ns);
    let what = |e: Ensured| match e {
        Ensured::Created => "created",
        Ensured::Existed => "exists",
    };
    match ensure_stream(&mut conn, &spec, patience) {
        Ok(e) => println!(
            "stream {stream}: {} (subjects {subjects}, replicas {replicas}, duplicate window {} s)",
            what(e),
            duplicate_window_ns / 1_000_000_000
        ),
        Err(e) => return fail(&e),
    }
    if let Some((bucket, ttl)) = lease {
        let spec = match bucket_spec(&bucket, ttl, replicas) {
            Ok(s) => s,
            Err(e) => return fail(&e),
        };
        match ensure_stream(&mut conn, &spec, patience) {
            Ok(e) => println!(
                "lease bucket {bucket}: {} (stream {}, ttl {} s, replicas {replicas})",
                what(e),
                spec.name,
                ttl.as_secs_f64()
            ),
            Err(e) => return fail(&e),
        }
    }
    OK
}

fn publish(
    urls: &str,
    ca_file: Option<PathBuf>,
    subject: &str,
    file: Option<PathBuf>,
    window: usize,
    ack_timeout: Duration,
    drain_timeout: Duration,
) -> u8 {
    let input: Box<dyn BufRead> = match &file {
        Some(path) => match std::fs::File::open(path) {
            Ok(f) => Box::new(std::io::BufReader::new(f)),
            Err(e) => {
                eprintln!("gnip-stream: --file {}: {e}", path.display());
                return USAGE;
            }
        },
        None => Box::new(std::io::BufReader::new(std::io::stdin())),
    };
    let mut o = match NatsOptions::from_env(urls) {
        Ok(o) => o,
        Err(e) => return fail(&e),
    };
    o.ca_file = ca_file;
    let mut pc = PublisherConfig::new(o);
    pc.window = window;
    pc.ack_timeout = ack_timeout;
    let publisher = match Publisher::start(pc, &[subject.to_owned()]) {
        Ok(p) => p,
        Err(e) => return fail(&e),
    };
    let Some(queue) = publisher.queue() else {
        return FATAL;
    };
    let subject: Arc<str> = subject.into();
    let (skipped_system, malformed) = (AtomicU64::new(0), AtomicU64::new(0));
    let mut input = input;
    let mut line = Vec::new();
    let mut n = 0u64;
    let mut read_error = None;
    loop {
        line.clear();
        match input.read_until(b'\n', &mut line) {
            Ok(0) => break,
            Ok(_) => {}
            Err(e) => {
                read_error = Some(e);
                break;
            }
        }
        n += 1;
        let bytes = line
            .strip_suffix(b"\n")
            .map(|l| l.strip_suffix(b"\r").unwrap_or(l))
            .unwrap_or(&line);
        if bytes.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let record = Record::new(bytes);
        match record.kind() {
            RecordKind::Activity | RecordKind::Compliance(_) => {}
            RecordKind::System(_) => {
                skipped_system.fetch_add(1, Ordering::Relaxed);
                continue;
            }
            _ => {
                malformed.fetch_add(1, Ordering::Relaxed);
                log::event("warn", "malformed_line")
                    .field("line", n)
                    .emit(&format!(
                        "gnip-stream: line {n}: not a record (not a JSON object with an id): not published"
                    ));
                continue;
            }
        }
        if let Some(m) = Message::of_record(&subject, &record) {
            if queue.send(m).is_err() {
                break;
            }
        }
    }
    drop(queue);
    let code = if let Some(e) = read_error {
        eprintln!("gnip-stream: reading the input: {e}");
        FATAL
    } else {
        OK
    };
    let skipped = (
        skipped_system.load(Ordering::Relaxed),
        malformed.load(Ordering::Relaxed),
    );
    if skipped != (0, 0) {
        eprintln!(
            "gnip-stream: not published: {} system messages, {} malformed lines",
            skipped.0, skipped.1
        );
    }
    Delivering {
        publisher,
        subjects: Arc::default(),
        started: Instant::now(),
    }
    .finish(drain_timeout, code)
}
