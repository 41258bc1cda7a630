//! Running the commands: `stream`/`replay` through the library client, `demo` (simulator and
//! client in one process) and `simulate` (the simulator alone).

use std::io::{BufWriter, IsTerminal, Stdout, Write};
use std::net::ToSocketAddrs;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use gnip_stream::client::{
    Client, ClientConfig, ClientEvent, Delivery, Flow, PartitionReport, ReplayRange, Running,
    StatsSnapshot,
};
use gnip_stream::core::RecordKind;
use gnip_stream::policy::Ending;
use gnip_stream::simulator::{Rate, RecordSource, Simulator, SimulatorConfig};
use gnip_stream::{Error, Product};

use super::args::{StreamArgs, Target};
use super::signal;

/// Exit codes of the contract.
const OK: u8 = 0;
const USAGE: u8 = 2;
const AUTH: u8 = 3;
const FATAL: u8 = 4;

/// stdout: records as NDJSON through one buffer shared by every partition; flushed when the
/// stream goes idle and at exit.
struct Out {
    w: Mutex<BufWriter<Stdout>>,
    records: AtomicU64,
    max: Option<u64>,
    count_only: bool,
    dirty: AtomicBool,
    broken: AtomicBool,
    started: Instant,
    last_write_ms: AtomicU64,
}

impl Out {
    fn new(max: Option<u64>, count_only: bool) -> Out {
        Out {
            w: Mutex::new(BufWriter::with_capacity(64 * 1024, std::io::stdout())),
            records: AtomicU64::new(0),
            max,
            count_only,
            dirty: AtomicBool::new(false),
            broken: AtomicBool::new(false),
            started: Instant::now(),
            last_write_ms: AtomicU64::new(0),
        }
    }

    fn record(&self, bytes: &[u8]) -> Flow {
        let n = self.records.fetch_add(1, Ordering::SeqCst) + 1;
        if self.max.is_some_and(|m| n > m) {
            // Another partition got there first: this one is not written.
            self.records.fetch_sub(1, Ordering::SeqCst);
            return Flow::Stop;
        }
        if !self.count_only {
            let mut w = self.w.lock().unwrap_or_else(|e| e.into_inner());
            if w.write_all(bytes)
                .and_then(|()| w.write_all(b"\n"))
                .is_err()
            {
                // The reader went away (e.g. `| head`): stop quietly.
                self.broken.store(true, Ordering::SeqCst);
                return Flow::Stop;
            }
            self.dirty.store(true, Ordering::Release);
            self.last_write_ms
                .store(self.started.elapsed().as_millis() as u64, Ordering::Relaxed);
        }
        if self.max == Some(n) {
            Flow::Stop
        } else {
            Flow::Continue
        }
    }

    /// Flushes once nothing has been written for 100 ms (or always, when `force`).
    fn flush(&self, force: bool) {
        let idle = self.started.elapsed().as_millis() as u64
            >= self.last_write_ms.load(Ordering::Relaxed) + 100;
        if (force || idle) && self.dirty.swap(false, Ordering::AcqRel) {
            let mut w = self.w.lock().unwrap_or_else(|e| e.into_inner());
            if w.flush().is_err() {
                self.broken.store(true, Ordering::SeqCst);
            }
        }
    }

    fn count(&self) -> u64 {
        self.records.load(Ordering::SeqCst)
    }
}

fn print_event(p: u32, e: &ClientEvent) {
    let who = if p == 0 {
        String::new()
    } else {
        format!(" partition {p}:")
    };
    match e {
        ClientEvent::Connecting {
            url,
            backfill_minutes: Some(m),
        } => {
            eprintln!("gnip-stream:{who} connecting to {url} (backfill {m} min)")
        }
        ClientEvent::Connecting { url, .. } => eprintln!("gnip-stream:{who} connecting to {url}"),
        ClientEvent::Connected => eprintln!("gnip-stream:{who} connected"),
        ClientEvent::Disconnected {
            ending,
            error: Some(err),
        } => {
            eprintln!("gnip-stream:{who} disconnected ({}): {err}", ending.name())
        }
        ClientEvent::Disconnected {
            ending,
            error: None,
        } => eprintln!("gnip-stream:{who} disconnected ({})", ending.name()),
        ClientEvent::BackingOff { delay, kind } => {
            let why = match kind {
                Some(k) => format!("{k:?} backoff"),
                None => "connection-rate limit".to_owned(),
            };
            eprintln!(
                "gnip-stream:{who} waiting {:.1} s before reconnecting ({why})",
                delay.as_secs_f64()
            )
        }
        ClientEvent::SystemMessage { level, message } => {
            eprintln!(
                "gnip-stream:{who} system message ({}): {message}",
                level.name()
            )
        }
        _ => eprintln!("gnip-stream:{who} {e:?}"),
    }
}

fn stats_line(elapsed: Duration, stats: &[StatsSnapshot]) -> String {
    let sum = |f: fn(&StatsSnapshot) -> u64| stats.iter().map(f).sum::<u64>();
    let records = sum(|s| s.activities + s.compliance);
    let secs = elapsed.as_secs_f64().max(0.001);
    let handler = stats.iter().map(|s| s.handler_share).fold(0.0, f64::max);
    let backoff = stats.iter().map(|s| s.backoff).max().unwrap_or_default();
    format!(
        "gnip-stream: {secs:.1} s | records {records} ({} activities, {} compliance, {}/s) | system {} | heartbeats {} | connects {} | {:.1} MB wire, {:.1} MB inflated | overlong {} | handler {:.0}% | backoff {:.1} s",
        sum(|s| s.activities),
        sum(|s| s.compliance),
        (records as f64 / secs).round(),
        sum(|s| s.system),
        sum(|s| s.heartbeats),
        sum(|s| s.connects),
        sum(|s| s.bytes_wire) as f64 / 1e6,
        sum(|s| s.bytes_inflated) as f64 / 1e6,
        sum(|s| s.overlong),
        handler * 100.0,
        backoff.as_secs_f64(),
    )
}

/// Exit status from what every partition did: 3 for a refused login, 4 for any other ending
/// that the policy stops on, else 0.
fn exit_code(reports: &[PartitionReport]) -> u8 {
    if reports.iter().any(|r| r.ending == Ending::Http(401)) {
        AUTH
    } else if reports
        .iter()
        .any(|r| matches!(r.ending, Ending::Http(_) | Ending::TlsFailure))
    {
        FATAL
    } else {
        OK
    }
}

fn start_error(e: &Error) -> u8 {
    eprintln!("gnip-stream: {e}");
    match e {
        Error::InvalidConfig { .. } | Error::BadInput { .. } => USAGE,
        _ => FATAL,
    }
}

fn config_for(a: &StreamArgs, user: &str, password: &str) -> Result<ClientConfig, (u8, String)> {
    let usage = |m: String| (USAGE, m);
    let mut c = match &a.target {
        Target::Url(url) => {
            let is_replay = url.contains("/replay/");
            if is_replay != a.range.is_some() {
                return Err(usage(if is_replay {
                    "that is a Replay URL: use 'gnip-stream replay … --from … --to …'".into()
                } else {
                    "'replay' needs a Replay URL (/replay/{product}/…)".into()
                }));
            }
            let c = ClientConfig::url(url).map_err(|e| usage(e.to_string()))?;
            match a.range {
                Some((from, to)) => c.replay_range(ReplayRange { from, to }),
                None => c,
            }
        }
        Target::Named {
            product,
            account,
            label,
            host,
        } => {
            let c = match a.range {
                Some((from, to)) => {
                    ClientConfig::replay(*product, account, label, ReplayRange { from, to })
                }
                None => ClientConfig::stream(*product, account, label),
            };
            match host {
                Some(h) => c.host(h),
                None => c,
            }
        }
    };
    c = c.credentials(user, password).stall_timeout(a.stall_timeout);
    if !a.partitions.is_empty() {
        c = c.partitions(&a.partitions);
    }
    if a.backfill_minutes > 0 {
        c = c.backfill_minutes(a.backfill_minutes);
    }
    if let Some(ca) = &a.ca_file {
        c = c.ca_file(ca);
    }
    Ok(c)
}

/// Waits for the client, turning signals into a stop, flushing idle output, printing stats.
fn supervise(
    running: &Running,
    out: Option<&Out>,
    interval: Duration,
    started: Instant,
    mut each_second: impl FnMut(),
) {
    let mut next_stats = interval;
    let mut next_tick = Duration::from_secs(1);
    loop {
        if signal::received() || out.is_some_and(|o| o.broken.load(Ordering::SeqCst)) {
            running.stop_handle().stop();
        }
        if running.is_finished() {
            return;
        }
        if let Some(o) = out {
            o.flush(false);
        }
        let elapsed = started.elapsed();
        if !interval.is_zero() && elapsed >= next_stats {
            eprintln!("{}", stats_line(elapsed, &running.stats()));
            next_stats += interval;
        }
        if elapsed >= next_tick {
            each_second();
            next_tick += Duration::from_secs(1);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// `stream` and `replay`.
pub fn stream(a: StreamArgs) -> u8 {
    let (Ok(user), Ok(password)) = (
        std::env::var("GNIP_USERNAME"),
        std::env::var("GNIP_PASSWORD"),
    ) else {
        eprintln!(
            "gnip-stream: set GNIP_USERNAME and GNIP_PASSWORD in the environment (credentials are never flags)"
        );
        return USAGE;
    };
    let config = match config_for(&a, &user, &password) {
        Ok(c) => c,
        Err((code, m)) => {
            eprintln!("gnip-stream: {m}");
            return code;
        }
    };
    let out = Arc::new(Out::new(a.max_records, a.count));
    let o = Arc::clone(&out);
    let handler = move |d: &Delivery<'_>| match d.record().kind() {
        RecordKind::Activity | RecordKind::Compliance(_) => o.record(d.record().bytes()),
        // System messages reach stderr through the observer; malformed lines are counted only.
        RecordKind::System(_) | RecordKind::Malformed => Flow::Continue,
    };
    let running = match Client::start_observed(config, handler, Some(Arc::new(print_event))) {
        Ok(r) => r,
        Err(e) => return start_error(&e),
    };
    let interval = a
        .stats_interval
        .unwrap_or(if std::io::stderr().is_terminal() {
            Duration::from_secs(10)
        } else {
            Duration::ZERO
        });
    let started = Instant::now();
    supervise(&running, Some(&out), interval, started, || {});
    let reports = running.join();
    out.flush(true);
    if !interval.is_zero() {
        let stats: Vec<StatsSnapshot> = reports.iter().map(|r| r.stats.clone()).collect();
        eprintln!("{}", stats_line(started.elapsed(), &stats));
    }
    for r in &reports {
        if let Some(s) = &r.replay {
            eprintln!(
                "gnip-stream: {} (activity_count {:?})",
                s.message, s.activity_count
            );
            for m in &s.minutes_failed {
                eprintln!("gnip-stream: minute failed, request it again: {m}");
            }
            if let Some((from, to)) = &s.unprocessed_range {
                eprintln!("gnip-stream: unprocessed range, request it again: {from} to {to}");
            }
        }
        if let Some(e) = &r.error {
            if r.ending != Ending::Stopped {
                eprintln!(
                    "gnip-stream: partition {} stopped ({}): {e}",
                    r.partition,
                    r.ending.name()
                );
            }
        }
    }
    if a.count {
        println!("records={}", out.count());
    }
    exit_code(&reports)
}

/// `demo`: the simulator and the client in one process, offline.
pub fn demo(seconds: f64, rate: f64) -> u8 {
    let sim = match Simulator::start(SimulatorConfig::default().rate(Rate::PerSecond(rate))) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("gnip-stream: cannot start the simulator: {e}");
            return FATAL;
        }
    };
    println!(
        "demo: simulator at {} serving {}",
        sim.base_url(),
        sim.source().description()
    );
    println!(
        "demo: streaming Decahose (2 partitions) at {rate} records/s for {seconds} s: HTTP, gzip, the decoder, a thread per partition\n"
    );
    let config = ClientConfig::stream(Product::Decahose, "demo", "prod")
        .host(&sim.base_url())
        .credentials("demo", "demo")
        .stall_timeout(Duration::from_secs(5));
    let samples = Arc::new(Mutex::new(Vec::new()));
    let s = Arc::clone(&samples);
    let handler = move |d: &Delivery<'_>| {
        let r = d.record();
        if r.kind() == RecordKind::Activity {
            let mut s = s.lock().unwrap_or_else(|e| e.into_inner());
            if s.len() < 3 {
                let text: String = String::from_utf8_lossy(r.bytes())
                    .chars()
                    .take(110)
                    .collect();
                s.push(format!(
                    "partition {} id {}: {text}…",
                    d.partition(),
                    r.id().unwrap_or("?")
                ));
            }
        }
        Flow::Continue
    };
    let running = match Client::start_observed(config, handler, Some(Arc::new(print_event))) {
        Ok(r) => r,
        Err(e) => return start_error(&e),
    };
    let started = Instant::now();
    let tty = std::io::stderr().is_terminal();
    let stop = running.stop_handle();
    supervise(&running, None, Duration::ZERO, started, || {
        let line = stats_line(started.elapsed(), &running.stats());
        if tty {
            eprint!("\r{line}")
        } else {
            eprintln!("{line}")
        }
        if started.elapsed().as_secs_f64() >= seconds {
            stop.stop();
        }
    });
    if tty {
        eprintln!();
    }
    let reports = running.join();
    let requests = sim.requests().len();
    sim.shutdown();
    println!("sample records:");
    for s in samples.lock().unwrap_or_else(|e| e.into_inner()).iter() {
        println!("  {s}");
    }
    let elapsed = started.elapsed().as_secs_f64();
    let total: u64 = reports
        .iter()
        .map(|r| r.stats.activities + r.stats.compliance)
        .sum();
    println!(
        "\nsummary: {total} records in {elapsed:.1} s ({:.0}/s): {} activities, {} compliance, {} system messages",
        total as f64 / elapsed,
        reports.iter().map(|r| r.stats.activities).sum::<u64>(),
        reports.iter().map(|r| r.stats.compliance).sum::<u64>(),
        reports.iter().map(|r| r.stats.system).sum::<u64>(),
    );
    for r in &reports {
        println!(
            "  partition {}: {} records, {} connects, {:.2} MB on the wire, {:.2} MB inflated, ended: {}",
            r.partition,
            r.stats.activities + r.stats.compliance,
            r.stats.connects,
            r.stats.bytes_wire as f64 / 1e6,
            r.stats.bytes_inflated as f64 / 1e6,
            r.ending.name()
        );
    }
    println!("  the simulator answered {requests} requests");
    exit_code(&reports)
}

/// `simulate`: the simulator alone until SIGINT/SIGTERM.
pub fn simulate(
    listen: &str,
    rate: Option<f64>,
    corpus: Option<PathBuf>,
    user: &str,
    password: &str,
) -> u8 {
    let addr = match listen.to_socket_addrs().ok().and_then(|mut a| a.next()) {
        Some(a) => a,
        None => {
            eprintln!(
                "gnip-stream: --listen: '{listen}' is not an address; try 'gnip-stream simulate --help'"
            );
            return USAGE;
        }
    };
    let source = match corpus {
        Some(dir) => match RecordSource::corpus(&dir) {
            Ok(s) => s,
            Err(e) => {
                eprintln!("gnip-stream: --corpus {}: {e}", dir.display());
                return USAGE;
            }
        },
        None => RecordSource::auto(),
    };
    let rate = rate.map_or(Rate::Unlimited, Rate::PerSecond);
    let config = SimulatorConfig::default()
        .listen(addr)
        .credentials(user, password)
        .rate(rate)
        .source(source);
    let sim = match Simulator::start(config) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("gnip-stream: cannot listen on {addr}: {e}");
            return FATAL;
        }
    };
    println!(
        "simulator listening on {} (user {user}; {})",
        sim.base_url(),
        sim.source().description()
    );
    for product in Product::ALL {
        let url = sim.stream_url(product, "acme", "prod");
        let name = format!("{product:?}:");
        match product.partitions() {
            Some(n) => println!("  {name:<11} {url}?partition=1  (1..{n})"),
            None => println!("  {name:<11} {url}"),
        }
    }
    println!(
        "  Replay:     {}?fromDate=YYYYMMDDHHMM&toDate=YYYYMMDDHHMM",
        sim.replay_url(Product::PowerTrack, "acme", "prod")
    );
    println!(
        "try: curl --compressed -u {user}:PASSWORD '{}'",
        sim.stream_url(Product::PowerTrack, "acme", "prod")
    );
    println!("stop with Ctrl-C");
    let _ = std::io::stdout().flush();
    while !signal::received() {
        std::thread::sleep(Duration::from_millis(50));
    }
    eprintln!(
        "gnip-stream: stopping the simulator ({} requests served)",
        sim.requests().len()
    );
    sim.shutdown();
    OK
}
