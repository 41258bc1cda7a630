//! `gnip-stream replay` (a `ReplayJob` over the range in `--window` requests) and `gnip-stream
//! recover` (Recovery, a connection per partition): records to stdout, progress on stderr,
//! what still failed listed at the end (exit 6).

use std::io::IsTerminal;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use gnip_stream::Error;
use gnip_stream::client::{
    Client, ClientConfig, Delivery, JobProgress, PartitionReport, ReplayJob, ReplayJobReport,
    StatsHandle, StatsSnapshot, StopHandle,
};
use gnip_stream::sink::NdjsonSink;
use gnip_stream::unversioned::metrics::JobKind;
use gnip_stream::unversioned::protocol::policy::Ending;
use gnip_stream::unversioned::protocol::time;

use super::monitor::Monitor;
use super::report::{exit_code, print_event, start_error};
use super::stderr::{self, Event};
use super::stream_args::StreamArgs;
use super::supervise::{Supervised, supervise, supervise_client};
use super::{AUTH, FATAL, INCOMPLETE, OK};

/// A minute as the progress line shows it: `2026-11-27T10:05`.
fn minute(t: i64) -> String {
    let iso = time::iso8601(t);
    iso[..16].to_owned()
}

/// The progress line: time reached of the range end, records, percent, elapsed, time left;
/// with its `progress` event.
pub fn progress_report(p: &JobProgress) -> (Event, String) {
    let event = stderr::event("info", "progress")
        .field("reached", time::iso8601_z(p.reached))
        .field("range_end", time::iso8601_z(p.range.1))
        .field("records", p.records)
        .field("fraction", p.fraction())
        .field("elapsed_seconds", p.elapsed.as_secs_f64())
        .field("left_seconds", p.estimate_left().map(|d| d.as_secs_f64()))
        .field("requests", p.requests);
    (event, progress_line(p))
}

/// The progress line's text.
pub fn progress_line(p: &JobProgress) -> String {
    let left = p.estimate_left().map_or_else(
        || "time left unknown".to_owned(),
        |d| format!("about {:.0} s left", d.as_secs_f64()),
    );
    format!(
        "gnip-stream: reached {} of {} | records {} | {:.0}% | {:.1} s elapsed, {left} | request {}",
        minute(p.reached),
        minute(p.range.1),
        p.records,
        p.fraction() * 100.0,
        p.elapsed.as_secs_f64(),
        p.requests
    )
}

/// A `ReplayJob` running on its own thread, as the supervising loop sees it.
struct ReplayRun<'a> {
    thread: &'a JoinHandle<Result<ReplayJobReport, Error>>,
    stop: StopHandle,
    latest: &'a Mutex<Option<JobProgress>>,
    monitor: &'a mut Monitor,
    tty: bool,
}

impl ReplayRun<'_> {
    fn latest(&self) -> Option<JobProgress> {
        self.latest.lock().ok().and_then(|p| p.clone())
    }
}

impl Supervised for ReplayRun<'_> {
    fn is_finished(&self) -> bool {
        self.thread.is_finished()
    }

    fn stop(&mut self) {
        self.stop.stop();
    }

    fn line(&self) -> Option<(Event, String)> {
        let p = self.latest()?;
        Some(if self.tty {
            (stderr::event("info", "progress"), progress_line(&p))
        } else {
            progress_report(&p)
        })
    }

    fn each_second(&mut self) {
        if let Some(p) = self.latest() {
            self.monitor.check(&p.stats);
        }
    }
}

/// `replay`, planned and run by the library's `ReplayJob`.
pub fn run(a: &StreamArgs, config: ClientConfig, mut monitor: Monitor) -> u8 {
    let product = config.product().path_name();
    let job = match ReplayJob::new(config) {
        Ok(j) => j.window(Duration::from_secs(u64::from(a.window_minutes) * 60)),
        Err(e) => return start_error(&e),
    };
    let shared: Arc<Mutex<Option<JobProgress>>> = Arc::default();
    let l = Arc::clone(&shared);
    let source = move || {
        let p = l.lock().ok().and_then(|p| p.clone());
        match p {
            Some(p) => (p.stats.clone(), Some((JobKind::Replay, p))),
            None => (Vec::new(), None),
        }
    };
    if let Err(code) = monitor.serve(a.metrics_listen.as_deref(), product, Arc::new(source)) {
        return code;
    }
    let out = Arc::new(NdjsonSink::stdout(a.max_records, a.count));
    let o = Arc::clone(&out);
    let handler = move |d: &Delivery<'_>| o.deliver(d);
    let tty = std::io::stderr().is_terminal() && !stderr::is_json();
    let interval = a.stats_interval.unwrap_or(if tty {
        Duration::from_millis(500)
    } else {
        Duration::ZERO
    });
    // The job runs on its own thread; this one supervises it like every other run.
    let stop = job.stop_handle();
    let s = Arc::clone(&shared);
    let thread = match std::thread::Builder::new()
        .name("replay-job".into())
        .spawn(move || {
            job.run(handler, Some(Arc::new(print_event)), move |p| {
                if let Ok(mut latest) = s.lock() {
                    *latest = Some(p.clone());
                }
            })
        }) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("gnip-stream: cannot start the replay job: {e}");
            return FATAL;
        }
    };
    let mut running = ReplayRun {
        thread: &thread,
        stop,
        latest: &shared,
        monitor: &mut monitor,
        tty,
    };
    let drew = supervise(&mut running, Some(&out), interval, Instant::now(), tty);
    // A handler's panic is caught per partition by the client (Ending::Panicked, with its
    // message); the job's own thread panicking is a bug of ours, said as such.
    let result = thread.join().unwrap_or_else(|_| {
        Err(Error::Panicked {
            message: "the replay job's thread panicked".into(),
        })
    });
    // The last figures, always (the job may end between two lines).
    let latest = shared.lock().ok().and_then(|s| s.clone());
    if let Some(p) = latest.filter(|_| !interval.is_zero()) {
        if tty {
            eprintln!("\r{}", progress_line(&p));
        } else {
            let (event, text) = progress_report(&p);
            event.emit(&text);
        }
    } else if drew {
        eprintln!();
    }
    out.flush(true);
    let report = match result {
        Ok(r) => r,
        Err(e) => return start_error(&e),
    };
    if a.count {
        println!("records={}", out.count());
    }
    let requests = report.steps.len();
    let summary = |level, outcome: &'static str| {
        stderr::event(level, "summary")
            .field("job", "replay")
            .field("outcome", outcome)
            .field("records", report.records)
            .field("requests", requests)
            .field("re_requests", report.retried.len())
            .field("still_failed", report.still_failed.len())
    };
    if let Some(e) = &report.error {
        summary("error", "error")
            .field("error", e.to_string())
            .emit(&format!("gnip-stream: replay stopped: {e}"));
        return match e {
            Error::Http { status: 401, .. } => AUTH,
            _ => FATAL,
        };
    }
    if report.stopped {
        summary("info", "stopped").emit(&format!(
            "gnip-stream: replay stopped after {} records in {requests} requests",
            report.records
        ));
        return OK;
    }
    for (from, to) in &report.still_failed {
        stderr::event("error", "still_failed")
            .field("from", time::iso8601_z(*from))
            .field("to", time::iso8601_z(*to))
            .emit(&format!(
                "gnip-stream: still failed after a re-request: {} to {}",
                time::iso8601(*from),
                time::iso8601(*to)
            ));
    }
    if report.complete {
        summary("info", "complete").emit(&format!(
            "gnip-stream: replay complete: {} records in {requests} requests ({} re-requests)",
            report.records,
            report.retried.len()
        ));
        OK
    } else {
        summary("error", "incomplete").emit(&format!(
            "gnip-stream: replay incomplete: {} records in {requests} requests; {} ranges still failed",
            report.records,
            report.still_failed.len()
        ));
        INCOMPLETE
    }
}

/// `recover`: one connection per partition, each ending on "Recovery Request Completed".
pub fn run_recovery(a: &StreamArgs, config: ClientConfig, mut monitor: Monitor) -> u8 {
    let range = a.range.unwrap_or_default();
    let product = config.product().path_name();
    let out = Arc::new(NdjsonSink::stdout(a.max_records, a.count));
    let (o, reached) = (Arc::clone(&out), Arc::new(AtomicI64::new(range.0)));
    let r = Arc::clone(&reached);
    let dialect = config.dialect();
    let handler = move |d: &Delivery<'_>| {
        let rec = d.record();
        if let Some(t) = dialect.record_key_and_time(rec).and_then(|(_, t)| t) {
            r.fetch_max(t, Ordering::Relaxed);
        }
        o.deliver(d)
    };
    let started = Instant::now();
    let progress = move |stats: Vec<StatsSnapshot>, reached: &AtomicI64| {
        JobProgress::new(
            range,
            reached.load(Ordering::Relaxed),
            stats.iter().map(|s| s.activities + s.compliance).sum(),
            stats.iter().map(|s| s.connects as u32).sum(),
            started.elapsed(),
        )
        .with_stats(stats)
    };
    let live: Arc<OnceLock<StatsHandle>> = Arc::default();
    let (l, r) = (Arc::clone(&live), Arc::clone(&reached));
    let source = move || {
        let stats = l.get().map(StatsHandle::snapshot).unwrap_or_default();
        let p = progress(stats.clone(), &r);
        (stats, Some((JobKind::Recovery, p)))
    };
    if let Err(code) = monitor.serve(a.metrics_listen.as_deref(), product, Arc::new(source)) {
        return code;
    }
    let running = match Client::start_observed(config, handler, Some(Arc::new(print_event))) {
        Ok(r) => r,
        Err(e) => return start_error(&e),
    };
    let _ = live.set(running.stats_handle());
    let tty = std::io::stderr().is_terminal() && !stderr::is_json();
    let interval = a.stats_interval.unwrap_or(if tty {
        Duration::from_millis(500)
    } else {
        Duration::ZERO
    });
    let drew = supervise_client(
        &running,
        Some(&out),
        interval,
        started,
        |r| progress_report(&progress(r.stats(), &reached)),
        tty,
        || monitor.check(&running.stats()),
    );
    let mut last_figures = progress(running.stats(), &reached);
    let reports = running.join();
    if reports.iter().all(|r| r.ending == Ending::ReplayCompleted) {
        // Every partition said its range is complete: all of it was reached.
        last_figures = JobProgress::new(
            range,
            range.1,
            reports
                .iter()
                .map(|r| r.stats.activities + r.stats.compliance)
                .sum(),
            last_figures.requests,
            started.elapsed(),
        );
    }
    let (final_event, final_line) = progress_report(&last_figures);
    out.flush(true);
    if !interval.is_zero() {
        if tty {
            eprintln!("\r{final_line}");
        } else {
            final_event.emit(&final_line);
        }
    } else if drew {
        eprintln!();
    }
    if a.count {
        println!("records={}", out.count());
    }
    // A partition refused after a connection of it was streaming (its resume refused) is an
    // incomplete Recovery (exit 6, named below), not a refused job.
    let refused_mid_job = |r: &PartitionReport| {
        matches!(r.ending, Ending::Http(_) | Ending::Refused(_))
            && r.ending != Ending::Http(401)
            && r.stats.bytes_wire > 0
    };
    let first: Vec<PartitionReport> = reports
        .iter()
        .filter(|r| !refused_mid_job(r))
        .cloned()
        .collect();
    let code = exit_code(&first);
    if code != OK {
        return code;
    }
    let stopped = reports.iter().any(|r| r.ending == Ending::Stopped);
    let incomplete: Vec<u32> = reports
        .iter()
        .filter(|r| {
            r.ending != Ending::ReplayCompleted
                || r.replay.as_ref().is_some_and(|s| !s.is_complete())
        })
        .map(|r| r.partition)
        .collect();
    let records: u64 = reports
        .iter()
        .map(|r| r.stats.activities + r.stats.compliance)
        .sum();
    let summary = |level, outcome: &'static str| {
        stderr::event(level, "summary")
            .field("job", "recovery")
            .field("outcome", outcome)
            .field("partitions", reports.len())
            .field("records", records)
            .field("incomplete_partitions", incomplete.clone())
    };
    if stopped {
        summary("info", "stopped").emit("gnip-stream: recovery stopped");
        return OK;
    }
    if incomplete.is_empty() {
        summary("info", "complete").emit(&format!(
            "gnip-stream: recovery complete: {} partitions, {records} records",
            reports.len(),
        ));
        OK
    } else {
        for p in &incomplete {
            stderr::event("error", "recovery_incomplete")
                .partition(*p)
                .emit(&format!(
                    "gnip-stream: recovery incomplete on partition {p}"
                ));
        }
        summary("error", "incomplete").emit_json_only(&format!(
            "recovery incomplete on {} partitions",
            incomplete.len()
        ));
        INCOMPLETE
    }
}
