//! `stream --archive DIR`: opens the archive (sealing what a crash left), plans each
//! partition's restart from its checkpoint (backfill sized to the gap, Recovery beside the
//! live stream, a warning for what neither reaches), runs the live client and the Recoveries
//! (two at a time, as the service allows per stream) into it, and seals every file at the end.

use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use gnip_stream::client::{Client, ClientConfig, ClientEvent, DedupeConfig, Running, StatsHandle};
use gnip_stream::sink::archive::{Archive, ArchiveConfig, DEFAULT_GZIP_LEVEL};
use gnip_stream::unversioned::metrics::render_archive;
use gnip_stream::unversioned::protocol::product::MAX_BACKFILL_MINUTES;
use gnip_stream::unversioned::protocol::restart::RestartPlan;
use gnip_stream::unversioned::protocol::time;

use super::archive_recovery::{Gaps, Recoveries, merge};
use super::monitor::Monitor;
use super::report::{exit_code, say_partition_errors, start_error, stats_report};
use super::stderr::{self, Event};
use super::stream_args::{StreamArgs, Target};
use super::supervise::{Supervised, supervise};
use super::{OK, USAGE};

/// `stream --archive DIR`.
pub fn run(a: &StreamArgs, config: ClientConfig, mut monitor: Monitor) -> u8 {
    let aa = &a.archive;
    let Some(dir) = aa.dir.clone() else {
        return USAGE;
    };
    stderr::log_library();
    let product = config.product().path_name();
    let partitions = config.partition_list();
    let archive_config = ArchiveConfig::new(&dir, product)
        .rotate_every(aa.rotate_every)
        .rotate_size(aa.rotate_size)
        .gzip(aa.gzip.then_some(DEFAULT_GZIP_LEVEL))
        .on_close(aa.on_close.clone())
        .dialect(config.dialect())
        .max_records(a.max_records);
    let archive_config = match a.dedupe_window {
        Some(n) => archive_config.dedupe_window(n),
        None => archive_config,
    };
    let archive = match Archive::open(archive_config, &partitions) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("gnip-stream: --archive {}: {e}", dir.display());
            return USAGE;
        }
    };
    // Each partition's restart, from its own checkpoint.
    let now = gnip_stream::unversioned::clock::now_secs();
    let mut starts = Vec::new();
    let mut recoveries = Vec::new();
    for &p in &partitions {
        let checkpoint = archive.checkpoint(p);
        let plan = RestartPlan::new(checkpoint, now, !aa.no_recover_gaps);
        if let Some(c) = checkpoint {
            starts.push((p, plan.backfill_minutes));
            stderr::event("info", "restart_plan")
                .field("partition", p)
                .field("checkpoint", time::iso8601_z(c))
                .field("gap_seconds", now - c)
                .field("backfill_minutes", plan.backfill_minutes)
                .emit(&format!(
                    "gnip-stream: partition {p}: latest record archived {} ({} s ago): backfill {} minutes{}",
                    time::iso8601_z(c),
                    now - c,
                    plan.backfill_minutes,
                    plan.recovery.map_or(String::new(), |(f, t)| format!(
                        ", Recovery {} to {}",
                        time::iso8601_z(f),
                        time::iso8601_z(t)
                    ))
                ));
        }
        // What an earlier run left pending and this gap, merged where they overlap.
        let mut ranges = archive.pending_recoveries(p);
        ranges.extend(plan.recovery);
        for range in merge(ranges) {
            // Pending before the live stream moves the checkpoint past it.
            if let Err(e) = archive.begin_recovery(p, range) {
                eprintln!("gnip-stream: --archive {}: {e}", dir.display());
                archive.close();
                return USAGE;
            }
            recoveries.push((p, range));
        }
        if let Some((from, to)) = plan.unrecoverable {
            archive.note_unrecoverable();
            warn_unrecoverable(a, product, p, from, to, aa.no_recover_gaps);
        }
    }
    // The archive recognises what comes twice (backfill, Recovery, redundant connections).
    let mut config = config
        .backfill_on_start_for(&starts)
        .dedupe(DedupeConfig::off());
    if a.backfill_minutes == 0 {
        // A reconnect asks for its gap too (up to 5 minutes): an archive loses nothing.
        config = config.backfill_minutes(MAX_BACKFILL_MINUTES);
    }
    let a2 = Arc::clone(&archive);
    monitor.extra = Some(Arc::new(move |out: &mut String| {
        render_archive(&a2.stats(), product, out);
    }));
    let live: Arc<OnceLock<StatsHandle>> = Arc::default();
    let l = Arc::clone(&live);
    let source = move || (l.get().map(StatsHandle::snapshot).unwrap_or_default(), None);
    if let Err(code) = monitor.serve(a.metrics_listen.as_deref(), product, Arc::new(source)) {
        archive.close();
        return code;
    }
    let asked: Vec<(u32, i64)> = recoveries.iter().map(|(p, (f, _))| (*p, *f)).collect();
    let recovering = Arc::new(Recoveries::start(&config, &archive, recoveries));
    let gaps = Gaps::new(
        Arc::clone(&archive),
        Arc::clone(&recovering),
        !aa.no_recover_gaps,
        &asked,
    );
    let handler = Arc::clone(&archive);
    let running = match Client::start_observed(
        config.clone(),
        move |d: &gnip_stream::client::Delivery<'_>| handler.deliver(d),
        Some(Arc::new(move |p, c, e: &ClientEvent| {
            gaps.on_event(p, c, e)
        })),
    ) {
        Ok(r) => r,
        Err(e) => {
            recovering.stop();
            recovering.join();
            archive.close();
            return start_error(&e);
        }
    };
    let _ = live.set(running.stats_handle());
    let started = Instant::now();
    let interval = a.stats_interval.unwrap_or(Duration::ZERO);
    let mut job = Job {
        running: &running,
        recovering: &recovering,
        archive: &archive,
        started,
        monitor: &mut monitor,
    };
    supervise(&mut job, None, interval, started, false);
    recovering.stop();
    let reports = running.join();
    recovering.join();
    let errors = archive.close();
    say_partition_errors(&reports);
    let s = archive.stats();
    let code = match exit_code(&reports) {
        OK if !errors.is_empty() => super::FATAL,
        c => c,
    };
    stderr::event(if code == 0 { "info" } else { "error" }, "summary")
        .field("records", s.records)
        .field("duplicates", s.duplicates)
        .field("files_sealed", s.files_sealed)
        .field("write_errors", s.write_errors)
        .field("exit_status", code)
        .emit(&format!(
            "gnip-stream: archive: {} records ({} duplicates dropped) in {} sealed files; exit status {code}",
            s.records, s.duplicates, s.files_sealed
        ));
    code
}

/// Says which span of `partition`'s gap nothing will fetch, and the Replay that would.
fn warn_unrecoverable(a: &StreamArgs, product: &str, p: u32, from: i64, to: i64, off: bool) {
    let minute = |t: i64| time::replay_date(t - t.rem_euclid(60));
    let (f, t) = (minute(from), minute(to + 59));
    let target = match &a.target {
        Target::Named { account, label, .. } => {
            format!("--product {product} --account {account} --label {label}")
        }
        Target::Url(_) => format!("--product {product} --account ACCOUNT --label LABEL"),
    };
    let why = if off {
        "Recovery is off (--no-recover-gaps)"
    } else {
        "it is older than Recovery's 24 hours"
    };
    stderr::event("warn", "gap_not_recoverable")
        .field("partition", p)
        .field("from", time::iso8601_z(from))
        .field("to", time::iso8601_z(to))
        .emit(&format!(
            "gnip-stream: partition {p}: the gap from {} to {} will not be fetched: {why}; Replay can: gnip-stream replay {target} --from {f} --to {t}",
            time::iso8601_z(from),
            time::iso8601_z(to)
        ));
}

/// The live client and the Recoveries, supervised as one job.
struct Job<'a> {
    running: &'a Running,
    recovering: &'a Recoveries,
    archive: &'a Archive,
    started: Instant,
    monitor: &'a mut Monitor,
}

impl Supervised for Job<'_> {
    fn is_finished(&self) -> bool {
        // The live stream ends only when stopped (or on a fatal ending, or the record limit):
        // then the Recoveries are stopped with it.
        if self.running.is_finished() {
            self.recovering.stop();
            return self.recovering.is_finished();
        }
        false
    }

    fn stop(&mut self) {
        self.running.stop_handle().stop();
        self.recovering.stop();
    }

    fn line(&self) -> Option<(Event, String)> {
        let (event, text) = stats_report(self.started.elapsed(), &self.running.stats());
        let s = self.archive.stats();
        Some((
            event,
            format!("{text}; archived {} in {} files", s.records, s.files_sealed),
        ))
    }

    fn each_second(&mut self) {
        self.monitor.check(&self.running.stats());
    }

    fn wait(&mut self, pace: Duration) {
        if self.running.is_finished() {
            // The Recoveries end within a few milliseconds of their stop.
            std::thread::sleep(pace.min(Duration::from_millis(5)));
        } else if self.running.wait_finished(pace) {
            // The threads are ending: `is_finished` follows within microseconds.
            std::thread::yield_now();
        }
    }

    fn waker(&self) -> Option<Box<dyn Fn() + Send>> {
        let live = self.running.stop_handle();
        let recoveries = self.recovering.stopper();
        Some(Box::new(move || {
            live.stop();
            recoveries();
        }))
    }
}
